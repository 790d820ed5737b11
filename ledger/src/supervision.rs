//! Post-hoc supervision (事后监督): every posted entry that needed an
//! approval, moved money out of an internal account, was above a threshold,
//! or reverses another is flagged for review. An auditor marks each one
//! reviewed; the coverage (reviewed of flagged) is the headline figure.
//!
//! A review changes no balance, entry or account: it is a record next to the
//! books, in the audit chain like everything else. Only auditors review, and
//! an auditor can neither post nor approve, so the reviewer is never the
//! entry's maker or checker.

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::audit::AuditEvent;
use crate::command::Receipt;
use crate::currency::Currency;
use crate::id::{BranchCode, EntryId, PrincipalName};
use crate::journal_entry::{ApprovalReason, EntryStatus, JournalEntry};
use crate::ledger::{Context, Ledger, Position};
use crate::posting::debit_total;
use crate::rejection::Rejection;
use crate::setup::check_text;
use crate::time::Timestamp;

/// Why an entry is on the review list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewFlag {
    /// An outbound posting from an internal account (内部账户).
    InternalAccountOutbound,
    /// At or above the branch's approval threshold (大额).
    AboveThreshold,
    /// A reversal (冲正) of another entry.
    Reversal,
    /// Posted after an approver's decision (授权).
    Approval,
}

/// An auditor's mark on a flagged entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    /// The entry.
    pub entry: EntryId,
    /// Who reviewed it.
    pub reviewed_by: PrincipalName,
    /// When.
    pub reviewed_at: Timestamp,
    /// Where in the log.
    pub position: Position,
    /// The reviewer's note.
    pub note: Option<String>,
}

/// One entry of the review list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlaggedEntry {
    /// The entry.
    pub entry: EntryId,
    /// Why it is flagged.
    pub flags: Vec<ReviewFlag>,
    /// Its currency.
    pub currency: Currency,
    /// The sum of its debit postings.
    pub amount: Amount,
    /// The branches whose accounts it touches, in code order.
    pub branches: Vec<BranchCode>,
    /// Who posted it.
    pub posted_by: PrincipalName,
    /// Who approved it, if anyone did.
    pub approved_by: Option<PrincipalName>,
    /// When it was booked.
    pub booked_at: Timestamp,
    /// The review, once there is one.
    pub review: Option<Review>,
}

/// The review list of a selection, with its coverage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewList {
    /// Flagged entries in the selection.
    pub flagged: u64,
    /// Of those, how many are reviewed.
    pub reviewed: u64,
    /// The listed entries, in booking order (at most the limit asked for).
    pub entries: Vec<FlaggedEntry>,
}

impl ReviewList {
    /// Reviewed of flagged, in percent with two decimals ("100.00" when
    /// nothing is flagged: there is nothing left to review).
    pub fn coverage_percent(&self) -> String {
        if self.flagged == 0 {
            return "100.00".into();
        }
        let basis_points = u128::from(self.reviewed) * 10_000 / u128::from(self.flagged);
        format!("{}.{:02}", basis_points / 100, basis_points % 100)
    }
}

/// Why a posted entry is flagged (empty: it is not).
fn flags_of(entry: &JournalEntry) -> Vec<ReviewFlag> {
    let mut flags = Vec::new();
    if entry.status != EntryStatus::Posted {
        return flags;
    }
    for reason in &entry.approval_reasons {
        match reason {
            ApprovalReason::InternalAccountOutbound => {
                flags.push(ReviewFlag::InternalAccountOutbound)
            }
            ApprovalReason::AboveThreshold => flags.push(ReviewFlag::AboveThreshold),
            ApprovalReason::Requested => {}
        }
    }
    if entry.reverses.is_some() {
        flags.push(ReviewFlag::Reversal);
    }
    if entry.decision.is_some() {
        flags.push(ReviewFlag::Approval);
    }
    flags.sort_unstable();
    flags
}

impl Ledger {
    pub(crate) fn review_entry(
        &mut self,
        context: &Context,
        id: EntryId,
        note: Option<String>,
    ) -> Result<Receipt, Rejection> {
        Self::require(&context.role, &["auditor"], "review entries")?;
        check_text("note", note.as_deref())?;
        let entry = self
            .entries
            .get(&id)
            .ok_or_else(|| Rejection::EntryNotFound { entry: id.clone() })?;
        if flags_of(&entry).is_empty() {
            return Err(Rejection::EntryNotFlagged { entry: id });
        }
        let reviewer = &context.actor.principal;
        if let Some(existing) = self.reviews.get(&id) {
            // A retry answers the same; one review per entry.
            return if existing.reviewed_by == *reviewer && existing.note == note {
                Ok(Receipt::Reviewed(existing.clone()))
            } else {
                Err(Rejection::EntryAlreadyReviewed {
                    entry: id,
                    reviewed_by: existing.reviewed_by.clone(),
                })
            };
        }
        // From here on, reviewing cannot fail.
        let review = Review {
            entry: id.clone(),
            reviewed_by: reviewer.clone(),
            reviewed_at: context.at,
            position: context.position,
            note,
        };
        self.reviews.insert(id.clone(), review.clone());
        self.record(context, AuditEvent::EntryReviewed { id });
        Ok(Receipt::Reviewed(review))
    }

    /// The review list: flagged entries (of `branch`, if given), counted in
    /// full, and the first `limit` of them in booking order (only those not
    /// yet reviewed when `unreviewed_only`).
    pub fn review_list(
        &self,
        branch: Option<&BranchCode>,
        unreviewed_only: bool,
        limit: usize,
    ) -> Result<ReviewList, Rejection> {
        if let Some(branch) = branch
            && !self.branches.contains_key(branch)
        {
            return Err(Rejection::BranchNotFound {
                branch: branch.clone(),
            });
        }
        let mut list = ReviewList {
            flagged: 0,
            reviewed: 0,
            entries: Vec::new(),
        };
        for entry in self.entries.notable() {
            let flags = flags_of(&entry);
            if flags.is_empty() {
                continue;
            }
            let mut branches: Vec<BranchCode> = entry
                .postings
                .iter()
                .filter_map(|posting| self.accounts.get(&posting.account))
                .map(|account| account.branch.clone())
                .collect();
            branches.sort_unstable();
            branches.dedup();
            if branch.is_some_and(|branch| !branches.contains(branch)) {
                continue;
            }
            let review = self.reviews.get(entry.id()).cloned();
            list.flagged += 1;
            list.reviewed += u64::from(review.is_some());
            if list.entries.len() < limit && !(unreviewed_only && review.is_some()) {
                list.entries.push(FlaggedEntry {
                    entry: entry.id().clone(),
                    flags,
                    currency: entry.request.currency,
                    amount: debit_total(&entry.request.postings),
                    branches,
                    posted_by: entry.posted_by.clone(),
                    approved_by: entry.decision.as_ref().map(|decision| decision.by.clone()),
                    booked_at: entry.booked_at,
                    review,
                });
            }
        }
        Ok(list)
    }
}
