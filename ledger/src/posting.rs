//! Posting journal entries: shape checks, a plan that can still reject, and a
//! commit that cannot fail. Approvals, rejections, expiry and reversals move
//! entries between states through the same pieces.

use std::collections::BTreeMap;

use crate::account::{Balance, Purpose};
use crate::account_table::{AccountNo, BranchNo};
use crate::amount::Amount;
use crate::audit::{AuditEvent, Booked};
use crate::clearing::ExposureOverlay;
use crate::command::Receipt;
use crate::id::{BranchCode, EntryId};
use crate::journal_entry::{
    ApprovalReason, Decision, EntryField, EntryOutcome, EntryStatus, JournalEntry, NewEntry,
    Posting, Side, VoidReason,
};
use crate::ledger::{Context, Ledger, Position};
use crate::limits::{
    AMOUNT_MAX_MINOR, ENTRIES_PER_BATCH_MAX, PENDING_TIMEOUT_DEFAULT_SECONDS,
    PENDING_TIMEOUT_MAX_SECONDS, POSTINGS_PER_ENTRY_MAX,
};
use crate::principal::{Actor, Role};
use crate::rejection::Rejection;
use crate::setup::check_text;
use crate::small_vec::SmallVec;
use crate::time::Timestamp;
use crate::warm::WARM_ENTRIES;

/// Balances and exposures as earlier entries of a batch would leave them,
/// before anything is written.
#[derive(Default)]
pub(crate) struct Overlay {
    balances: BTreeMap<AccountNo, Balance>,
    pub(crate) exposures: ExposureOverlay,
}

impl Overlay {
    /// Adds what `plan` would change.
    pub(crate) fn add(&mut self, plan: &EntryPlan, currency: crate::currency::Currency) {
        self.balances
            .extend(plan.balances.as_slice().iter().copied());
        let pending = !plan.approval_reasons.is_empty();
        for (branch, net_out) in &plan.legs {
            let (open, held) = self
                .exposures
                .entry((branch.clone(), currency))
                .or_default();
            if !pending {
                *open += *net_out;
            } else if net_out.is_positive() {
                *held += *net_out;
            }
        }
    }
}

/// A posting with its account's number.
#[derive(Debug, Clone, Copy)]
struct Line {
    account: AccountNo,
    side: Side,
    amount: Amount,
}

impl Default for Line {
    fn default() -> Self {
        Line {
            account: AccountNo::default(),
            side: Side::Debit,
            amount: Amount::ZERO,
        }
    }
}

/// Lines, or balances, of an entry: a transfer with clearing legs has four.
type Lines = SmallVec<Line, 4>;
type Balances = SmallVec<(AccountNo, Balance), 4>;

/// Everything a commit needs; computing it is where an entry can be rejected.
pub(crate) struct EntryPlan {
    /// The clearing postings the ledger adds to the request's (none unless
    /// the entry crosses branches).
    pub(crate) clearing: Vec<Posting>,
    /// Per branch, net paid out (positive) or received (negative); empty
    /// unless the entry crosses branches.
    pub(crate) legs: Vec<(BranchCode, Amount)>,
    /// Why the entry must wait for approval (empty: it posts now).
    pub(crate) approval_reasons: Vec<ApprovalReason>,
    pub(crate) required_authority: u8,
    /// Account balances after the entry.
    pub(crate) balances: Balances,
}

impl EntryPlan {
    /// Whether the entry will wait for approval.
    pub(crate) fn pending(&self) -> bool {
        !self.approval_reasons.is_empty()
    }

    /// The branch whose liquidity-saving queue the entry joins: its first
    /// payer in branch-code order (`None`: it crosses no branches).
    pub(crate) fn queue_branch(&self) -> Option<&BranchCode> {
        self.legs
            .iter()
            .find(|(_, net_out)| net_out.is_positive())
            .map(|(branch, _)| branch)
    }
}

/// Whether [`Ledger::plan_entry`] checks net debit caps: the liquidity
/// queue checks them itself, for one entry or a whole set.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caps {
    Check,
    Defer,
}

/// Adds `posting` to `balance`, as pending or posted. `None` on overflow.
fn add_posting(balance: &mut Balance, side: Side, amount: Amount, pending: bool) -> Option<()> {
    let total = match (side, pending) {
        (Side::Debit, false) => &mut balance.debits_posted,
        (Side::Credit, false) => &mut balance.credits_posted,
        (Side::Debit, true) => &mut balance.debits_pending,
        (Side::Credit, true) => &mut balance.credits_pending,
    };
    *total = total.checked_add(amount)?;
    Some(())
}

/// Checks what can be checked from the request alone.
fn check_shape(entry: &NewEntry) -> Result<(), Rejection> {
    if entry.postings.len() < 2 {
        return Err(Rejection::PostingsTooFew);
    }
    if entry.postings.len() > POSTINGS_PER_ENTRY_MAX {
        return Err(Rejection::PostingsTooMany {
            max: POSTINGS_PER_ENTRY_MAX,
        });
    }
    check_text("memo", entry.memo.as_deref())?;
    check_text("reference", entry.reference.as_deref())?;
    if entry
        .timeout_seconds
        .is_some_and(|seconds| seconds > PENDING_TIMEOUT_MAX_SECONDS)
    {
        return Err(Rejection::TimeoutTooLong {
            max_seconds: PENDING_TIMEOUT_MAX_SECONDS,
        });
    }
    let (mut debits, mut credits) = (Amount::ZERO, Amount::ZERO);
    for posting in &entry.postings {
        if !posting.amount.is_positive() {
            return Err(Rejection::AmountNotPositive);
        }
        if posting.amount.minor() > AMOUNT_MAX_MINOR {
            return Err(Rejection::AmountTooLarge);
        }
        match posting.side {
            Side::Debit => debits += posting.amount,
            Side::Credit => credits += posting.amount,
        }
    }
    if debits != credits {
        return Err(Rejection::EntryUnbalanced { debits, credits });
    }
    let two_sided_transfer =
        entry.postings.len() == 2 && entry.postings[0].side != entry.postings[1].side;
    if two_sided_transfer && entry.postings[0].account == entry.postings[1].account {
        return Err(Rejection::AccountsMustBeDifferent);
    }
    Ok(())
}

impl Ledger {
    pub(crate) fn post_entries(
        &mut self,
        context: &Context,
        entries: Vec<NewEntry>,
        atomic: bool,
    ) -> Result<Receipt, Rejection> {
        Self::require(&context.role, &["operator", "branch"], "post entries")?;
        if entries.is_empty() {
            return Err(Rejection::BatchEmpty);
        }
        if entries.len() > ENTRIES_PER_BATCH_MAX {
            return Err(Rejection::BatchTooLarge {
                max: ENTRIES_PER_BATCH_MAX,
            });
        }
        let outcomes = if atomic {
            self.post_atomic(context, entries)
        } else {
            let mut outcomes = Vec::with_capacity(entries.len());
            let mut rest = entries.into_iter();
            while rest.len() > 0 {
                let ahead = WARM_ENTRIES.min(rest.len());
                if ahead > 1 {
                    self.warm_entries(rest.as_slice()[..ahead].iter());
                }
                for entry in rest.by_ref().take(ahead) {
                    outcomes.push(self.post_one(context, entry));
                }
            }
            outcomes
        };
        Ok(Receipt::Entries(outcomes))
    }

    /// The stored answer for a retried id, or the rejection for a reused one.
    fn existing_outcome(&self, entry: &NewEntry) -> Option<Result<EntryOutcome, Rejection>> {
        let existing = self.entries.get(&entry.id)?;
        let field = existing.request.first_difference(entry);
        Some(match field {
            None => Ok(EntryOutcome::of(&existing)),
            Some(field) => Err(Rejection::ExistsWithDifferent {
                entry: entry.id.clone(),
                field,
            }),
        })
    }

    fn rejected_outcome(context: &Context, id: EntryId, rejection: Rejection) -> EntryOutcome {
        EntryOutcome {
            id,
            status: EntryStatus::Rejected { rejection },
            position: context.position,
            booked_at: context.at,
        }
    }

    fn post_one(&mut self, context: &Context, entry: NewEntry) -> EntryOutcome {
        match self.existing_outcome(&entry) {
            Some(Ok(outcome)) => return outcome,
            Some(Err(rejection)) => return Self::rejected_outcome(context, entry.id, rejection),
            None => {}
        }
        // A request that is malformed on its face answers the same every time,
        // so it is not remembered; one refused because of the ledger's state is,
        // so that its id always answers the same.
        if let Err(rejection) = check_shape(&entry) {
            return Self::rejected_outcome(context, entry.id, rejection);
        }
        if entry.queue_if_over_cap {
            return self.post_or_queue(context, entry);
        }
        match self.plan_entry(context, &entry, &Overlay::default(), false, Caps::Check) {
            Ok(plan) => self.commit_entry(context, entry, plan, None),
            Err(rejection) if is_bad_input(&rejection) => {
                Self::rejected_outcome(context, entry.id, rejection)
            }
            Err(rejection) => self.remember_rejection(context, entry, rejection),
        }
    }

    /// Posts an entry flagged `queue_if_over_cap`, or queues it: when it
    /// would take its payer past its cap, or when earlier entries wait in
    /// its payer's queue (the queue is first in, first out).
    fn post_or_queue(&mut self, context: &Context, entry: NewEntry) -> EntryOutcome {
        let plan = match self.plan_entry(context, &entry, &Overlay::default(), false, Caps::Defer) {
            Ok(plan) => plan,
            Err(rejection) if is_bad_input(&rejection) => {
                return Self::rejected_outcome(context, entry.id, rejection);
            }
            Err(rejection) => return self.remember_rejection(context, entry, rejection),
        };
        let Some(branch) = plan.queue_branch().cloned() else {
            return self.commit_entry(context, entry, plan, None);
        };
        let currency = entry.currency;
        if !self.queue_waiting(&branch, currency)
            && self
                .check_caps(
                    currency,
                    &plan.legs,
                    plan.pending(),
                    &ExposureOverlay::new(),
                )
                .is_ok()
        {
            return self.commit_entry(context, entry, plan, None);
        }
        self.enqueue(context, entry, plan, branch)
    }

    fn post_atomic(&mut self, context: &Context, entries: Vec<NewEntry>) -> Vec<EntryOutcome> {
        if let Some(flagged) = entries.iter().find(|entry| entry.queue_if_over_cap) {
            let rejection = Rejection::QueueInAtomicBatch {
                entry: flagged.id.clone(),
            };
            let failed = flagged.id.clone();
            return entries
                .into_iter()
                .map(|entry| {
                    let rejection = if entry.id == failed {
                        rejection.clone()
                    } else {
                        Rejection::AtomicBatchFailed {
                            failed: failed.clone(),
                        }
                    };
                    Self::rejected_outcome(context, entry.id, rejection)
                })
                .collect();
        }
        let mut overlay = Overlay::default();
        let mut plans: Vec<Option<EntryPlan>> = Vec::with_capacity(entries.len());
        let mut in_batch: BTreeMap<&EntryId, &NewEntry> = BTreeMap::new();
        let mut failure: Option<(usize, Rejection)> = None;
        for (at, entry) in entries.iter().enumerate() {
            let planned = match (self.existing_outcome(entry), in_batch.get(&entry.id)) {
                // An id refused before keeps its refusal, so the batch fails:
                // an atomic batch never answers "posted" next to "rejected".
                (Some(Ok(stored)), _) => match stored.status {
                    EntryStatus::Rejected { rejection } => Err(rejection),
                    _ => Ok(None),
                },
                (Some(Err(rejection)), _) => Err(rejection),
                (None, Some(first)) => match first.first_difference(entry) {
                    None => Ok(None),
                    Some(field) => Err(Rejection::ExistsWithDifferent {
                        entry: entry.id.clone(),
                        field,
                    }),
                },
                (None, None) => check_shape(entry)
                    .and_then(|()| self.plan_entry(context, entry, &overlay, false, Caps::Check))
                    .map(Some),
            };
            match planned {
                Ok(plan) => {
                    if let Some(plan) = &plan {
                        overlay.add(plan, entry.currency);
                    }
                    in_batch.entry(&entry.id).or_insert(entry);
                    plans.push(plan);
                }
                Err(rejection) => {
                    failure = Some((at, rejection));
                    break;
                }
            }
        }
        if let Some((failed_at, rejection)) = failure {
            let failed = entries[failed_at].id.clone();
            return entries
                .into_iter()
                .enumerate()
                .map(|(at, entry)| {
                    if at != failed_at {
                        let failed = failed.clone();
                        let rejection = Rejection::AtomicBatchFailed { failed };
                        return Self::rejected_outcome(context, entry.id, rejection);
                    }
                    // A remembered refusal answers as it did the first time.
                    match self.existing_outcome(&entry) {
                        Some(Ok(stored)) => stored,
                        _ => Self::rejected_outcome(context, entry.id, rejection.clone()),
                    }
                })
                .collect();
        }
        // From here on, posting cannot fail.
        entries
            .into_iter()
            .zip(plans)
            .map(|(entry, plan)| match plan {
                Some(plan) => self.commit_entry(context, entry, plan, None),
                None => EntryOutcome::of(&self.entries.get(&entry.id).expect("posted earlier")),
            })
            .collect()
    }

    /// Everything that can reject an entry because of the ledger's state.
    /// `overlay` holds balances as earlier entries of an atomic batch leave them.
    pub(crate) fn plan_entry(
        &self,
        context: &Context,
        entry: &NewEntry,
        overlay: &Overlay,
        skip_approval: bool,
        caps: Caps,
    ) -> Result<EntryPlan, Rejection> {
        let currency = entry.currency;
        // Each account is looked up by id once; its number is used from here on.
        let mut lines = Lines::new();
        // Per branch, in order of first appearance.
        let mut nets: SmallVec<(BranchNo, Amount), 4> = SmallVec::new();
        let mut approval_reasons = Vec::new();
        if entry.pending {
            approval_reasons.push(ApprovalReason::Requested);
        }
        for posting in &entry.postings {
            let no = self.accounts.number(&posting.account).ok_or_else(|| {
                Rejection::AccountNotFound {
                    account: posting.account.clone(),
                }
            })?;
            let account = self.accounts.at(no);
            let branch = self.accounts.branch_of(no);
            if account.currency != currency {
                return Err(Rejection::AccountCurrencyMismatch {
                    account: account.id.clone(),
                    account_currency: account.currency,
                    currency,
                });
            }
            if let Role::Branch(own) = &context.role
                && context.own_branch != Some(branch)
                && !self.may_credit_foreign(posting.side, account)
            {
                return Err(Rejection::Forbidden {
                    reason: format!(
                        "branch {own} may only credit customer accounts of branch {}",
                        account.branch
                    ),
                });
            }
            if account.purpose == Purpose::Internal
                && account.is_outbound(posting.side)
                && !approval_reasons.contains(&ApprovalReason::InternalAccountOutbound)
            {
                approval_reasons.push(ApprovalReason::InternalAccountOutbound);
            }
            let signed = match posting.side {
                Side::Debit => posting.amount,
                Side::Credit => posting.amount.negated(),
            };
            match nets.as_mut_slice().iter_mut().find(|(b, _)| *b == branch) {
                Some((_, net)) => *net += signed,
                None => nets.push((branch, signed)),
            }
            lines.push(Line {
                account: no,
                side: posting.side,
                amount: posting.amount,
            });
        }
        self.check_period_open(
            nets.as_slice().iter().map(|(branch, _)| *branch),
            entry.value_date,
            context.at,
        )?;
        let mut required_authority = crate::approval::AUTHORITY_DEFAULT;
        if !self.derived.policy_index.is_empty() {
            let amount = entry.debit_total();
            for (branch, _) in nets.as_slice() {
                if let Some(policy) = self.derived.policy_index.get(&(*branch, currency)) {
                    if policy.requires_approval(amount)
                        && !approval_reasons.contains(&ApprovalReason::AboveThreshold)
                    {
                        approval_reasons.push(ApprovalReason::AboveThreshold);
                    }
                    required_authority = required_authority.max(policy.authority_for(amount));
                }
            }
        }
        if skip_approval {
            approval_reasons.clear();
        }
        approval_reasons.sort_unstable();
        // The legs, in branch-code order.
        let codes = &self.derived.branch_codes;
        let mut nonzero = nets;
        nonzero.retain(|(_, net)| !net.is_zero());
        let nonzero = nonzero.as_mut_slice();
        nonzero.sort_unstable_by(|(a, _), (b, _)| codes[a.index()].cmp(&codes[b.index()]));
        let mut legs = Vec::with_capacity(nonzero.len());
        let mut clearing = Vec::with_capacity(nonzero.len());
        for &mut (branch, net_out) in nonzero {
            let code = &codes[branch.index()];
            let no = *self
                .derived
                .special_accounts
                .get(&(branch, currency, Purpose::Clearing))
                .ok_or_else(|| Rejection::ClearingAccountMissing {
                    branch: code.clone(),
                    currency,
                })?;
            // The payer branch owes the center: credit its clearing account.
            let side = if net_out.is_positive() {
                Side::Credit
            } else {
                Side::Debit
            };
            let amount = if net_out.is_positive() {
                net_out
            } else {
                net_out.negated()
            };
            lines.push(Line {
                account: no,
                side,
                amount,
            });
            clearing.push(Posting {
                account: self.accounts.at(no).id.clone(),
                side,
                amount,
            });
            legs.push((code.clone(), net_out));
        }
        let pending = !approval_reasons.is_empty();
        if caps == Caps::Check {
            self.check_caps(currency, &legs, pending, &overlay.exposures)?;
        }
        let balances = self.plan_balances(lines.as_slice(), overlay, |balance, side, amount| {
            add_posting(balance, side, amount, pending)
        })?;
        Ok(EntryPlan {
            clearing,
            legs,
            approval_reasons,
            required_authority,
            balances,
        })
    }

    /// Whether a branch may post `side` to another branch's `account`: it
    /// may credit a customer account (a payment to that customer), or an
    /// external participant's vostro account (a payment out to the other
    /// bank, which settles through the central bank).
    fn may_credit_foreign(&self, side: Side, account: &crate::account::Account) -> bool {
        side == Side::Credit
            && match account.purpose {
                Purpose::Customer => true,
                Purpose::Vostro => self.is_special_purpose(&account.branch, Purpose::Vostro),
                _ => false,
            }
    }

    /// The lines of booked postings, whose accounts exist.
    fn lines_of(&self, postings: &[Posting]) -> Lines {
        postings
            .iter()
            .map(|posting| Line {
                account: self
                    .accounts
                    .number(&posting.account)
                    .expect("booked accounts exist"),
                side: posting.side,
                amount: posting.amount,
            })
            .collect()
    }

    /// Applies `change` for every line to the accounts' balances (as
    /// `overlay` has them) and checks flags and limits on the result.
    fn plan_balances(
        &self,
        lines: &[Line],
        overlay: &Overlay,
        change: impl Fn(&mut Balance, Side, Amount) -> Option<()>,
    ) -> Result<Balances, Rejection> {
        let mut balances = Balances::new();
        for line in lines {
            let account = self.accounts.at(line.account);
            if account.flags.closed {
                return Err(Rejection::AccountClosed {
                    account: account.id.clone(),
                });
            }
            if account.flags.frozen {
                return Err(Rejection::AccountFrozen {
                    account: account.id.clone(),
                });
            }
            let at = match balances
                .as_slice()
                .iter()
                .position(|(no, _)| *no == line.account)
            {
                Some(at) => at,
                None => {
                    let current = overlay
                        .balances
                        .get(&line.account)
                        .copied()
                        .unwrap_or(account.balance);
                    balances.push((line.account, current));
                    balances.as_slice().len() - 1
                }
            };
            change(&mut balances.as_mut_slice()[at].1, line.side, line.amount).ok_or_else(
                || Rejection::BalanceOverflow {
                    account: account.id.clone(),
                },
            )?;
        }
        for (no, balance) in balances.as_slice() {
            let account = self.accounts.at(*no);
            let flags = &account.flags;
            if flags.debits_must_not_exceed_credits
                && balance.debits_posted + balance.debits_pending > balance.credits_posted
            {
                return Err(Rejection::InsufficientFunds {
                    account: account.id.clone(),
                });
            }
            if flags.credits_must_not_exceed_debits
                && balance.credits_posted + balance.credits_pending > balance.debits_posted
            {
                return Err(Rejection::CreditsExceedDebits {
                    account: account.id.clone(),
                });
            }
        }
        Ok(balances)
    }

    /// Books a planned entry. Cannot fail.
    fn commit_entry(
        &mut self,
        context: &Context,
        request: NewEntry,
        plan: EntryPlan,
        reverses: Option<(EntryId, String)>,
    ) -> EntryOutcome {
        let mut postings = Vec::with_capacity(request.postings.len() + plan.clearing.len());
        postings.extend_from_slice(&request.postings);
        postings.extend_from_slice(&plan.clearing);
        let pending = plan.pending();
        let currency = request.currency;
        let expires_at = pending.then(|| {
            let timeout = request
                .timeout_seconds
                .unwrap_or(PENDING_TIMEOUT_DEFAULT_SECONDS);
            context.at.plus_seconds(timeout)
        });
        let window = self.book_plan(context, &request.id, currency, &plan, &postings, expires_at);
        let status = if pending {
            EntryStatus::Pending
        } else {
            EntryStatus::Posted
        };
        self.record_booked(
            context,
            &Booked {
                id: &request.id,
                currency,
                postings: &postings,
                status: if pending { "pending" } else { "posted" },
                reverses: reverses.as_ref().map(|(original, _)| original),
            },
        );
        let (reverses, reversal_reason) = match reverses {
            Some((original, reason)) => (Some(original), Some(reason)),
            None => (None, None),
        };
        let entry = JournalEntry {
            postings,
            status,
            booked: context.position,
            booked_at: context.at,
            posted_by: context.actor.principal.clone(),
            approval_reasons: plan.approval_reasons,
            required_authority: plan.required_authority,
            expires_at,
            decision: None,
            reverses,
            reversal_reason,
            reversed_by: None,
            window,
            queue: None,
            request,
        };
        let outcome = EntryOutcome::of(&entry);
        self.entries.insert(entry);
        outcome
    }

    /// Writes a plan's balances and its clearing effect: a pending entry's
    /// reservations, expiring at `expires_at`, or a posted entry's flows in
    /// the open window, whose id it returns. Cannot fail.
    pub(crate) fn book_plan(
        &mut self,
        context: &Context,
        id: &EntryId,
        currency: crate::currency::Currency,
        plan: &EntryPlan,
        postings: &[Posting],
        expires_at: Option<Timestamp>,
    ) -> Option<u64> {
        for (no, balance) in plan.balances.as_slice() {
            self.set_balance(context, *no, *balance);
        }
        if let Some(expires_at) = expires_at {
            self.derived.pending_expiry.insert((expires_at, id.clone()));
            *self.derived.pending_sum.entry(currency).or_default() += debit_total(postings);
            self.reserve_exposure(currency, &plan.legs, true);
            None
        } else if plan.legs.is_empty() {
            None
        } else {
            Some(self.add_to_window(context, currency, &plan.legs))
        }
    }

    fn remember_rejection(
        &mut self,
        context: &Context,
        request: NewEntry,
        rejection: Rejection,
    ) -> EntryOutcome {
        self.record_booked(
            context,
            &Booked {
                id: &request.id,
                currency: request.currency,
                postings: &[],
                status: &rejection.code(),
                reverses: None,
            },
        );
        let entry = JournalEntry::plain(
            request,
            Vec::new(),
            EntryStatus::Rejected { rejection },
            context.position,
            context.at,
            context.actor.principal.clone(),
        );
        let outcome = EntryOutcome::of(&entry);
        self.entries.insert(entry);
        outcome
    }

    fn pending_entry(&self, id: &EntryId) -> Result<&JournalEntry, Rejection> {
        // Pending entries are kept decoded: an entry that is not is settled.
        match self.entries.get_open(id) {
            Some(entry) if entry.status == EntryStatus::Pending => Ok(entry),
            Some(_) => Err(Rejection::EntryNotPending { entry: id.clone() }),
            None if self.entries.number_of(id).is_some() => {
                Err(Rejection::EntryNotPending { entry: id.clone() })
            }
            None => Err(Rejection::EntryNotFound { entry: id.clone() }),
        }
    }

    /// Whether `entry` was already decided by `actor` with this `status`: a
    /// retried approval or rejection answers the same.
    fn already_decided(
        &self,
        id: &EntryId,
        actor: &Actor,
        status: &EntryStatus,
    ) -> Option<Receipt> {
        let entry = self.entries.get(id)?;
        let decided_by_actor = entry
            .decision
            .as_ref()
            .is_some_and(|d| d.by == actor.principal);
        (decided_by_actor && entry.status == *status)
            .then(|| Receipt::Entry(Box::new(entry.into_owned())))
    }

    pub(crate) fn approve(
        &mut self,
        context: &Context,
        id: EntryId,
        reason: Option<String>,
    ) -> Result<Receipt, Rejection> {
        Self::require(&context.role, &["operator"], "approve entries")?;
        check_text("reason", reason.as_deref())?;
        if let Some(receipt) = self.already_decided(&id, &context.actor, &EntryStatus::Posted) {
            return Ok(receipt);
        }
        let entry = self.pending_entry(&id)?;
        if entry.posted_by == context.actor.principal {
            return Err(Rejection::ApproverIsPoster {
                approver: context.actor.principal.clone(),
            });
        }
        let held = self
            .principals
            .get(&context.actor.principal)
            .map_or(0, |p| p.authority);
        if held < entry.required_authority {
            return Err(Rejection::InsufficientAuthority {
                approver: context.actor.principal.clone(),
                required: entry.required_authority,
                held,
            });
        }
        let lines = self.lines_of(&entry.postings);
        self.check_period_open(
            lines
                .as_slice()
                .iter()
                .map(|line| self.accounts.branch_of(line.account)),
            entry.request.value_date,
            context.at,
        )?;
        let balances = self.plan_balances(
            lines.as_slice(),
            &Overlay::default(),
            |balance, side, amount| {
                // Moving a reservation to posted keeps every limit sum unchanged.
                match side {
                    Side::Debit => {
                        balance.debits_pending = balance.debits_pending.checked_sub(amount)?
                    }
                    Side::Credit => {
                        balance.credits_pending = balance.credits_pending.checked_sub(amount)?
                    }
                }
                add_posting(balance, side, amount, false)
            },
        )?;
        // From here on, approving cannot fail.
        let legs = self.legs_of(&id);
        let window = (!legs.is_empty()).then(|| {
            self.add_to_window(
                context,
                self.entries.get(&id).expect("exists").request.currency,
                &legs,
            )
        });
        self.decide(
            context,
            &id,
            balances.as_slice(),
            EntryStatus::Posted,
            reason,
            window,
        );
        self.record(context, AuditEvent::EntryApproved { id: id.clone() });
        Ok(Receipt::Entry(Box::new(
            self.entries.get(&id).expect("exists").into_owned(),
        )))
    }

    pub(crate) fn reject(
        &mut self,
        context: &Context,
        id: EntryId,
        reason: Option<String>,
    ) -> Result<Receipt, Rejection> {
        Self::require(&context.role, &["operator", "branch"], "reject entries")?;
        check_text("reason", reason.as_deref())?;
        let voided = EntryStatus::Voided {
            reason: VoidReason::RejectedByApprover,
        };
        if let Some(receipt) = self.already_decided(&id, &context.actor, &voided) {
            return Ok(receipt);
        }
        if let Some(queued) = self
            .entries
            .get(&id)
            .filter(|e| e.status == EntryStatus::Queued)
        {
            if matches!(context.role, Role::Branch(_))
                && queued.posted_by != context.actor.principal
            {
                return Err(Rejection::Forbidden {
                    reason: "a branch may only withdraw its own queued entries".into(),
                });
            }
            self.void_queued(context, &id, VoidReason::RejectedByApprover, reason);
            return Ok(Receipt::Entry(Box::new(
                self.entries.get(&id).expect("exists").into_owned(),
            )));
        }
        let entry = self.pending_entry(&id)?;
        if matches!(context.role, Role::Branch(_)) && entry.posted_by != context.actor.principal {
            return Err(Rejection::Forbidden {
                reason: "a branch may only withdraw its own pending entries".into(),
            });
        }
        let balances = self.release_balances(&id);
        self.decide(context, &id, &balances, voided, reason, None);
        self.record(
            context,
            AuditEvent::EntryVoided {
                id: id.clone(),
                reason: VoidReason::RejectedByApprover,
            },
        );
        Ok(Receipt::Entry(Box::new(
            self.entries.get(&id).expect("exists").into_owned(),
        )))
    }

    /// Voids every pending entry whose timeout has passed at `at`.
    pub(crate) fn expire_pending(&mut self, position: Position, at: Timestamp) {
        while let Some((expires_at, id)) = self.derived.pending_expiry.first().cloned() {
            if expires_at > at {
                break;
            }
            let context = Context {
                position,
                at,
                actor: Actor::system(),
                role: Role::Admin,
                own_branch: None,
            };
            let balances = self.release_balances(&id);
            let expired = EntryStatus::Voided {
                reason: VoidReason::Expired,
            };
            self.decide(&context, &id, &balances, expired, None, None);
            self.record(
                &context,
                AuditEvent::EntryVoided {
                    id,
                    reason: VoidReason::Expired,
                },
            );
        }
    }

    /// Balances with a pending entry's reservations released.
    fn release_balances(&self, id: &EntryId) -> Vec<(AccountNo, Balance)> {
        let entry = self.entries.get(id).expect("pending entries exist");
        let mut balances: Vec<(AccountNo, Balance)> = Vec::new();
        for line in self.lines_of(&entry.postings).as_slice() {
            let at = match balances.iter().position(|(no, _)| *no == line.account) {
                Some(at) => at,
                None => {
                    let balance = self.accounts.at(line.account).balance;
                    balances.push((line.account, balance));
                    balances.len() - 1
                }
            };
            let balance = &mut balances[at].1;
            match line.side {
                Side::Debit => balance.debits_pending -= line.amount,
                Side::Credit => balance.credits_pending -= line.amount,
            }
        }
        balances
    }

    /// Per-branch nets of a booked entry, recovered from its clearing postings.
    pub(crate) fn legs_of(&self, id: &EntryId) -> Vec<(BranchCode, Amount)> {
        let entry = self.entries.get(id).expect("exists");
        entry.postings[entry.request.postings.len()..]
            .iter()
            .map(|posting| {
                let branch = self
                    .accounts
                    .get(&posting.account)
                    .expect("exists")
                    .branch
                    .clone();
                let net_out = match posting.side {
                    Side::Credit => posting.amount,
                    Side::Debit => posting.amount.negated(),
                };
                (branch, net_out)
            })
            .collect()
    }

    /// Ends a pending entry: new balances, status, decision, and the pending
    /// indexes updated.
    fn decide(
        &mut self,
        context: &Context,
        id: &EntryId,
        balances: &[(AccountNo, Balance)],
        status: EntryStatus,
        reason: Option<String>,
        window: Option<u64>,
    ) {
        for (no, balance) in balances {
            self.set_balance(context, *no, *balance);
        }
        let legs = self.legs_of(id);
        if !legs.is_empty() {
            let currency = self.entries.get(id).expect("exists").request.currency;
            self.reserve_exposure(currency, &legs, false);
        }
        let entry = self.entries.get_mut(id).expect("pending entries exist");
        let expires_at = entry.expires_at.expect("pending entries expire");
        let total = debit_total(&entry.postings);
        entry.status = status;
        entry.window = window;
        entry.decision = Some(Box::new(Decision {
            by: context.actor.principal.clone(),
            at: context.at,
            position: context.position,
            reason,
        }));
        let currency = entry.request.currency;
        let removed = self
            .derived
            .pending_expiry
            .remove(&(expires_at, id.clone()));
        assert!(removed, "a pending entry is in the expiry index");
        *self
            .derived
            .pending_sum
            .get_mut(&currency)
            .expect("pending sum exists") -= total;
    }

    pub(crate) fn reverse(
        &mut self,
        context: &Context,
        original: EntryId,
        id: EntryId,
        reason: String,
    ) -> Result<Receipt, Rejection> {
        Self::require(&context.role, &["operator"], "reverse entries")?;
        if reason.trim().is_empty() {
            return Err(Rejection::ReasonRequired);
        }
        check_text("reason", Some(&reason))?;
        if let Some(existing) = self.entries.get(&id) {
            let field = if existing.reverses.as_ref() != Some(&original) {
                Some(EntryField::Reverses)
            } else if existing.reversal_reason.as_ref() != Some(&reason) {
                Some(EntryField::Reason)
            } else {
                None
            };
            return match field {
                None => Ok(Receipt::Entry(Box::new(existing.into_owned()))),
                Some(field) => Err(Rejection::ExistsWithDifferent { entry: id, field }),
            };
        }
        let entry = self
            .entries
            .get(&original)
            .ok_or_else(|| Rejection::EntryNotFound {
                entry: original.clone(),
            })?;
        if entry.status != EntryStatus::Posted {
            return Err(Rejection::EntryNotPosted { entry: original });
        }
        if self.is_settlement_entry(&original) {
            return Err(Rejection::SettlementEntryIrreversible { entry: original });
        }
        if let Some(reversed_by) = &entry.reversed_by {
            return Err(Rejection::EntryAlreadyReversed {
                entry: original,
                reversed_by: reversed_by.clone(),
            });
        }
        // A correction of a closed period posts into the open one.
        let value_date = self.correction_value_date(
            self.lines_of(&entry.postings)
                .as_slice()
                .iter()
                .map(|line| self.accounts.branch_of(line.account)),
            context.at,
        );
        let request = NewEntry {
            id: id.clone(),
            currency: entry.request.currency,
            postings: entry
                .request
                .postings
                .iter()
                .map(|posting| Posting {
                    side: posting.side.opposite(),
                    ..posting.clone()
                })
                .collect(),
            pending: false,
            timeout_seconds: None,
            memo: Some(format!("reversal of {original}")),
            reference: entry.request.reference.clone(),
            value_date,
            queue_if_over_cap: false,
        };
        let plan = self.plan_entry(context, &request, &Overlay::default(), true, Caps::Check)?;
        // From here on, reversing cannot fail.
        self.commit_entry(context, request, plan, Some((original.clone(), reason)));
        self.entries.get_mut(&original).expect("exists").reversed_by = Some(id.clone());
        Ok(Receipt::Entry(Box::new(
            self.entries.get(&id).expect("just booked").into_owned(),
        )))
    }
}

impl Ledger {
    /// Plans entries the ledger books itself (settlement), all or none:
    /// the first refusal refuses them all.
    pub(crate) fn plan_system_entries(
        &self,
        context: &Context,
        requests: &[NewEntry],
    ) -> Result<Vec<EntryPlan>, Rejection> {
        let mut overlay = Overlay::default();
        let mut plans = Vec::with_capacity(requests.len());
        for request in requests {
            check_shape(request)?;
            let plan = self.plan_entry(context, request, &overlay, true, Caps::Check)?;
            overlay.add(&plan, request.currency);
            plans.push(plan);
        }
        Ok(plans)
    }

    /// Books entries planned by [`Ledger::plan_system_entries`]. Cannot fail.
    pub(crate) fn commit_system_entries(
        &mut self,
        context: &Context,
        requests: Vec<NewEntry>,
        plans: Vec<EntryPlan>,
    ) {
        for (request, plan) in requests.into_iter().zip(plans) {
            self.commit_entry(context, request, plan, None);
        }
    }
}

/// Whether a rejection comes from bad input (an account that does not exist,
/// in another currency, or outside the caller's reach) rather than from the
/// ledger's balances and flags. Bad input changes nothing, not even the id's
/// answer; a refusal because of the ledger's state is remembered, so that a
/// retry of the id answers the same even after the state has changed.
pub(crate) fn is_bad_input(rejection: &Rejection) -> bool {
    matches!(
        rejection,
        Rejection::AccountNotFound { .. }
            | Rejection::AccountCurrencyMismatch { .. }
            | Rejection::Forbidden { .. }
    )
}

/// The sum of the debit postings.
pub(crate) fn debit_total(postings: &[Posting]) -> Amount {
    postings
        .iter()
        .filter(|p| p.side == Side::Debit)
        .fold(Amount::ZERO, |sum, p| sum + p.amount)
}
