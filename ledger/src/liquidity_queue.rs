//! The liquidity-saving queue (流动性节约队列): inter-branch entries flagged
//! `queue_if_over_cap` that would take their payer past its net debit cap
//! wait here instead of being refused.
//!
//! Each payer branch has one queue per currency; an entry waits in the queue
//! of its first payer in branch-code order, behind every entry queued there
//! before it (a flagged entry joins a queue that is not empty even if it
//! would fit, so that a queue is first in, first out). A queued entry
//! reserves nothing and counts against no cap.
//!
//! After every command, each queue's head is planned again as if submitted
//! now (balances, flags, period, approval policy and caps): if it fits it is
//! released — posted into the open window, or pending if it needs approval —
//! and the next head is tried, until no head fits; a head that can no longer
//! post at all (its account closed, its funds gone) is rejected with the
//! reason. So a payment that makes room releases what it makes room for in
//! the same command.
//!
//! Closing a window first runs the gridlock resolution (Bech and Soramäki's
//! algorithm): plan every queued entry to settle together; while some payer
//! would end past its cap, drop the last queued entry (latest queued) in
//! which each such payer pays, and plan the rest again; then release the
//! rest at once into the closing window. What was dropped is rejected with
//! `queue_unresolved_at_close`: nothing stays queued across a close.
//!
//! A queued entry's timeout runs from when it was queued, as a pending
//! entry's does from when it was booked, and is not restarted if it is
//! released into the approval queue: at its timeout it is voided as
//! expired. The branch that queued it (or an operator) may withdraw it.

use crate::audit::{AuditEvent, Booked};
use crate::clearing::ExposureOverlay;
use crate::currency::Currency;
use crate::id::{BranchCode, EntryId};
use crate::journal_entry::{
    Decision, EntryOutcome, EntryStatus, JournalEntry, NewEntry, QueueStay, VoidReason,
};
use crate::ledger::{Context, Ledger, Position};
use crate::limits::PENDING_TIMEOUT_DEFAULT_SECONDS;
use crate::posting::{Caps, EntryPlan, Overlay};
use crate::principal::{Actor, Role};
use crate::rejection::Rejection;
use crate::time::Timestamp;

/// The ledger acting on its own (releases, expiry), at `position`.
fn system_context(position: Position, at: Timestamp) -> Context {
    Context {
        position,
        at,
        actor: Actor::system(),
        role: Role::Admin,
        own_branch: None,
    }
}

impl Ledger {
    /// Whether entries wait in `branch`'s queue in `currency`.
    pub(crate) fn queue_waiting(&self, branch: &BranchCode, currency: Currency) -> bool {
        self.derived.queue.contains_key(&(branch.clone(), currency))
    }

    /// Books `request` into `branch`'s queue. Nothing is reserved; the
    /// postings it would book are kept to show. Cannot fail.
    pub(crate) fn enqueue(
        &mut self,
        context: &Context,
        request: NewEntry,
        plan: EntryPlan,
        branch: BranchCode,
    ) -> EntryOutcome {
        // A queued entry waits in the open window and is resolved at its close.
        if self.meta.open_window.is_none() {
            self.open_window(context);
        }
        let currency = request.currency;
        let timeout = request
            .timeout_seconds
            .unwrap_or(PENDING_TIMEOUT_DEFAULT_SECONDS);
        let expires_at = context.at.plus_seconds(timeout);
        let mut postings = request.postings.clone();
        postings.extend(plan.clearing);
        let no = self.entries.len() as u64;
        self.derived
            .queue
            .entry((branch.clone(), currency))
            .or_default()
            .insert(no);
        self.derived
            .queue_expiry
            .insert((expires_at, request.id.clone()));
        self.record(
            context,
            AuditEvent::EntryQueued {
                id: request.id.clone(),
                currency,
                branch: branch.clone(),
            },
        );
        let entry = JournalEntry {
            postings,
            status: EntryStatus::Queued,
            booked: context.position,
            booked_at: context.at,
            posted_by: context.actor.principal.clone(),
            approval_reasons: plan.approval_reasons,
            required_authority: plan.required_authority,
            expires_at: Some(expires_at),
            decision: None,
            reverses: None,
            reversal_reason: None,
            reversed_by: None,
            window: None,
            queue: Some(Box::new(QueueStay {
                branch,
                left: None,
                left_at: None,
            })),
            request,
        };
        let outcome = EntryOutcome::of(&entry);
        self.entries.insert(entry);
        assert_eq!(
            self.entries.number_of(&outcome.id),
            Some(no),
            "a queued entry is numbered in booking order"
        );
        outcome
    }

    /// Releases every queue head that fits, until none does: releasing one
    /// payment can make room for another's. Runs at the end of every command.
    pub(crate) fn release_queued(&mut self, position: Position, at: Timestamp) {
        if self.derived.queue.is_empty() {
            return;
        }
        let context = system_context(position, at);
        loop {
            let heads: Vec<u64> = self
                .derived
                .queue
                .values()
                .map(|queue| *queue.first().expect("a queue is never empty"))
                .collect();
            let mut released = false;
            for no in heads {
                let entry = self.entries.open_at(no).expect("queued entries exist");
                let (id, request) = (entry.id().clone(), entry.request.clone());
                match self.plan_entry(&context, &request, &Overlay::default(), false, Caps::Defer) {
                    Err(rejection) => self.refuse_queued(&context, &id, rejection),
                    Ok(plan) => {
                        let fits = self
                            .check_caps(
                                request.currency,
                                &plan.legs,
                                plan.pending(),
                                &ExposureOverlay::new(),
                            )
                            .is_ok();
                        if !fits {
                            continue;
                        }
                        let reason = "released from the liquidity queue".to_string();
                        self.release(&context, &id, plan, reason);
                    }
                }
                released = true;
            }
            if !released {
                return;
            }
        }
    }

    /// The gridlock resolution at the close of `window`: releases the
    /// largest first-in set of queued entries that can settle together
    /// within every payer's cap, and rejects the rest.
    pub(crate) fn resolve_gridlock(&mut self, context: &Context, window: u64) {
        let mut set: Vec<u64> = self.derived.queue.values().flatten().copied().collect();
        set.sort_unstable();
        let system = system_context(context.position, context.at);
        let mut dropped: Vec<(u64, BranchCode)> = Vec::new();
        let plans = loop {
            let mut overlay = Overlay::default();
            let mut plans: Vec<EntryPlan> = Vec::with_capacity(set.len());
            let mut refused = None;
            for (at, no) in set.iter().enumerate() {
                let request = &self.entries.open_at(*no).expect("queued").request;
                match self.plan_entry(&system, request, &overlay, false, Caps::Defer) {
                    Ok(plan) => {
                        overlay.add(&plan, request.currency);
                        plans.push(plan);
                    }
                    Err(rejection) => {
                        refused = Some((at, rejection));
                        break;
                    }
                }
            }
            if let Some((at, rejection)) = refused {
                let no = set.remove(at);
                let id = self.entries.open_at(no).expect("queued").id().clone();
                self.refuse_queued(&system, &id, rejection);
                continue;
            }
            let short = self.short_payers(&set, &plans, &overlay.exposures);
            if short.is_empty() {
                break plans;
            }
            let before = set.len();
            for (branch, currency) in short {
                let pays = |at: &usize| {
                    self.entries
                        .open_at(set[*at])
                        .expect("queued")
                        .request
                        .currency
                        == currency
                        && plans[*at]
                            .legs
                            .iter()
                            .any(|(b, net_out)| *b == branch && net_out.is_positive())
                };
                if let Some(at) = (0..set.len()).rev().find(pays) {
                    dropped.push((set.remove(at), branch));
                    plans.remove(at);
                }
            }
            assert!(
                set.len() < before,
                "each round drops a payment of a short payer"
            );
        };
        // From here on, the resolution cannot fail.
        let reason = format!("released by the gridlock resolution at the close of window {window}");
        for (no, plan) in set.into_iter().zip(plans) {
            let id = self.entries.open_at(no).expect("queued").id().clone();
            self.release(&system, &id, plan, reason.clone());
        }
        for (no, branch) in dropped {
            let id = self.entries.open_at(no).expect("queued").id().clone();
            let rejection = Rejection::QueueUnresolvedAtClose { window, branch };
            self.refuse_queued(&system, &id, rejection);
        }
        assert!(
            self.derived.queue.is_empty(),
            "nothing stays queued across a close"
        );
    }

    /// The payers of the entries `set` (planned as `plans`, adding
    /// `overlay` together) that would end past their caps.
    fn short_payers(
        &self,
        set: &[u64],
        plans: &[EntryPlan],
        overlay: &ExposureOverlay,
    ) -> Vec<(BranchCode, Currency)> {
        let mut payers = std::collections::BTreeSet::new();
        for (no, plan) in set.iter().zip(plans) {
            let currency = self.entries.open_at(*no).expect("queued").request.currency;
            for (branch, net_out) in &plan.legs {
                if net_out.is_positive() {
                    payers.insert((branch.clone(), currency));
                }
            }
        }
        payers
            .into_iter()
            .filter(|(branch, currency)| {
                let Some(cap) = self.cap(branch, *currency) else {
                    return false;
                };
                let (open, held) = overlay
                    .get(&(branch.clone(), *currency))
                    .copied()
                    .unwrap_or_default();
                let mut after = self.exposure(branch, *currency);
                after.open += open;
                after.pending += held;
                after.net_debit() > cap.cap
            })
            .collect()
    }

    /// Takes entry `id` out of its queue at `context`'s position.
    fn leave_queue(&mut self, context: &Context, id: &EntryId) -> &mut JournalEntry {
        let no = self.entries.number_of(id).expect("queued entries exist");
        let entry = self.entries.open_at(no).expect("queued entries exist");
        assert_eq!(
            entry.status,
            EntryStatus::Queued,
            "only a queued entry leaves the queue"
        );
        let key = (
            entry
                .queue
                .as_ref()
                .expect("a queued entry has a queue")
                .branch
                .clone(),
            entry.request.currency,
        );
        let expires_at = entry.expires_at.expect("a queued entry expires");
        let queue = self.derived.queue.get_mut(&key).expect("its queue exists");
        assert!(queue.remove(&no), "a queued entry is in its queue");
        if queue.is_empty() {
            self.derived.queue.remove(&key);
        }
        let removed = self.derived.queue_expiry.remove(&(expires_at, id.clone()));
        assert!(removed, "a queued entry is in the expiry index");
        let entry = self.entries.get_mut(id).expect("exists");
        let stay = entry.queue.as_mut().expect("a queued entry has a queue");
        stay.left = Some(context.position);
        stay.left_at = Some(context.at);
        entry
    }

    /// Books a queued entry by `plan`: posted into the open window, or
    /// pending (keeping the timeout it was queued with).
    fn release(&mut self, context: &Context, id: &EntryId, plan: EntryPlan, reason: String) {
        let entry = self.entries.get_open(id).expect("queued entries exist");
        let currency = entry.request.currency;
        let mut postings = entry.request.postings.clone();
        postings.extend_from_slice(&plan.clearing);
        let pending = plan.pending();
        let expires_at = pending.then(|| entry.expires_at.expect("a queued entry expires"));
        let window = self.book_plan(context, id, currency, &plan, &postings, expires_at);
        self.record_booked(
            context,
            &Booked {
                id,
                currency,
                postings: &postings,
                status: if pending { "pending" } else { "posted" },
                reverses: None,
            },
        );
        let entry = self.leave_queue(context, id);
        entry.postings = postings;
        entry.approval_reasons = plan.approval_reasons;
        entry.required_authority = plan.required_authority;
        entry.window = window;
        entry.expires_at = expires_at;
        if pending {
            entry.status = EntryStatus::Pending;
        } else {
            // The ledger's decision to post it: statements and
            // reconciliation see it posted here, not when it was queued.
            entry.status = EntryStatus::Posted;
            entry.decision = Some(Box::new(Decision {
                by: context.actor.principal.clone(),
                at: context.at,
                position: context.position,
                reason: Some(reason),
            }));
        }
    }

    /// Rejects a queued entry that cannot be released.
    fn refuse_queued(&mut self, context: &Context, id: &EntryId, rejection: Rejection) {
        let currency = self.entries.get_open(id).expect("queued").request.currency;
        self.record_booked(
            context,
            &Booked {
                id,
                currency,
                postings: &[],
                status: &rejection.code(),
                reverses: None,
            },
        );
        let entry = self.leave_queue(context, id);
        entry.postings = Vec::new();
        entry.approval_reasons = Vec::new();
        entry.required_authority = 0;
        entry.expires_at = None;
        entry.status = EntryStatus::Rejected { rejection };
    }

    /// Voids a queued entry: withdrawn, or expired.
    pub(crate) fn void_queued(
        &mut self,
        context: &Context,
        id: &EntryId,
        reason: VoidReason,
        note: Option<String>,
    ) {
        self.record(
            context,
            AuditEvent::EntryVoided {
                id: id.clone(),
                reason,
            },
        );
        let entry = self.leave_queue(context, id);
        entry.status = EntryStatus::Voided { reason };
        entry.decision = Some(Box::new(Decision {
            by: context.actor.principal.clone(),
            at: context.at,
            position: context.position,
            reason: note,
        }));
    }

    /// Voids every queued entry whose timeout has passed at `at`.
    pub(crate) fn expire_queued(&mut self, position: Position, at: Timestamp) {
        while let Some((expires_at, id)) = self.derived.queue_expiry.first().cloned() {
            if expires_at > at {
                break;
            }
            let context = system_context(position, at);
            self.void_queued(&context, &id, VoidReason::Expired, None);
        }
    }

    /// The liquidity-saving queues: every queued entry, by payer branch and
    /// currency, first in first.
    pub fn queued_entries(&self) -> Vec<&JournalEntry> {
        self.derived
            .queue
            .values()
            .flatten()
            .map(|no| self.entries.open_at(*no).expect("queued entries exist"))
            .collect()
    }

    /// After every command: a queue holds only queued entries, every one of
    /// them in the expiry index, and only while a window is open.
    pub(crate) fn assert_queue(&self) {
        let mut queued = 0;
        for ((branch, currency), queue) in &self.derived.queue {
            assert!(!queue.is_empty(), "an empty queue is removed");
            let head = self
                .entries
                .at(*queue.first().expect("not empty"))
                .expect("exists");
            assert_eq!(head.status, EntryStatus::Queued, "a queue head is queued");
            assert_eq!(
                head.request.currency, *currency,
                "a queue holds one currency"
            );
            assert_eq!(
                head.queue.as_ref().map(|stay| &stay.branch),
                Some(branch),
                "a queue head waits in its own queue"
            );
            queued += queue.len();
        }
        assert_eq!(
            queued,
            self.derived.queue_expiry.len(),
            "every queued entry expires"
        );
        assert!(
            queued == 0 || self.meta.open_window.is_some(),
            "entries wait only in an open window"
        );
    }

    /// The queues equal a recomputation from the entries, and no queue head
    /// could be released now. O(entries): for tests and after a restore.
    pub(crate) fn check_queue(&self) -> Result<(), String> {
        let mut queues: std::collections::BTreeMap<_, std::collections::BTreeSet<u64>> =
            std::collections::BTreeMap::new();
        // Queued entries are open ones (see `entry_table.rs`).
        for (no, entry) in self.entries.open() {
            if entry.status != EntryStatus::Queued {
                continue;
            }
            let stay = entry.queue.as_ref().ok_or("a queued entry has no queue")?;
            if stay.left.is_some() {
                return Err(format!("queued entry {} has left its queue", entry.id()));
            }
            if entry.window.is_some() {
                return Err(format!("queued entry {} is in a window", entry.id()));
            }
            queues
                .entry((stay.branch.clone(), entry.request.currency))
                .or_default()
                .insert(no);
        }
        if queues != self.derived.queue {
            return Err("the queue index differs from the queued entries".into());
        }
        let context = system_context(
            Position::end_of(self.meta.applied_index),
            self.meta.applied_at,
        );
        for queue in self.derived.queue.values() {
            let head = self
                .entries
                .at(*queue.first().expect("not empty"))
                .expect("exists");
            let plan = self
                .plan_entry(
                    &context,
                    &head.request,
                    &Overlay::default(),
                    false,
                    Caps::Defer,
                )
                .map_err(|r| format!("queue head {} cannot post ({r}) but waits", head.id()))?;
            let fits = self
                .check_caps(
                    head.request.currency,
                    &plan.legs,
                    plan.pending(),
                    &ExposureOverlay::new(),
                )
                .is_ok();
            if fits {
                return Err(format!(
                    "queue head {} fits its payer's cap but waits",
                    head.id()
                ));
            }
        }
        Ok(())
    }
}
