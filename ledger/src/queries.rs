//! Reads: accounts, entries, balances at any past point, the approval queue,
//! windows and the audit trail. Reads never change the ledger.

use std::borrow::Cow;

use crate::account::{Account, Balance};
use crate::approval::ApprovalPolicy;
use crate::audit::{ChainedRecord, Hash};
use crate::branch::Branch;
use crate::clearing_window::ClearingWindow;
use crate::currency::Currency;
use crate::id::{AccountId, BranchCode, EntryId, PrincipalName};
use crate::journal_entry::JournalEntry;
use crate::ledger::{Ledger, Position};
use crate::principal::{KeyHash, Principal};
use crate::time::Timestamp;

/// Why a point-in-time read has no answer. Never an empty answer instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PointInTimeError {
    /// The account does not exist (now).
    #[error("account {0} does not exist")]
    AccountNotFound(AccountId),
    /// The account was opened after the point asked for.
    #[error("account {account} was opened at log index {opened}, after index {asked}")]
    NotYetOpened {
        /// The account.
        account: AccountId,
        /// Where it was opened.
        opened: u64,
        /// The index asked for.
        asked: u64,
    },
    /// The point is beyond what this replica has applied.
    #[error("log index {asked} is beyond the last applied index {applied}")]
    InTheFuture {
        /// The index asked for.
        asked: u64,
        /// The last applied index.
        applied: u64,
    },
    /// The time is before anything was applied.
    #[error("{0} is before the first entry of the ledger")]
    BeforeFirstEntry(Timestamp),
    /// The log index is before the first one that applied anything.
    #[error("log index {asked} is before the first entry of the ledger (index {first})")]
    IndexBeforeFirstEntry {
        /// The index asked for.
        asked: u64,
        /// The first index that applied anything (0: nothing was applied).
        first: u64,
    },
    /// No such branch (at the point asked for).
    #[error("branch {0} does not exist")]
    BranchNotFound(BranchCode),
    /// An end-of-day range that is backwards or too long.
    #[error("{from} to {to} is not a range of at most {max_days} days")]
    DaySpan {
        /// The first day.
        from: crate::time::Date,
        /// The last day.
        to: crate::time::Date,
        /// The longest span.
        max_days: i32,
    },
    /// The day has not ended yet: it has no end-of-day balance.
    #[error("{0} has not ended yet")]
    DayNotEnded(crate::time::Date),
    /// The time is after the last applied command.
    #[error("{asked} is after the last applied time {applied}")]
    TimeInTheFuture {
        /// The time asked for.
        asked: Timestamp,
        /// The last applied time.
        applied: Timestamp,
    },
}

impl PointInTimeError {
    /// The stable snake_case code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            PointInTimeError::AccountNotFound(_) => "account_not_found",
            PointInTimeError::NotYetOpened { .. } => "not_yet_opened",
            PointInTimeError::InTheFuture { .. } | PointInTimeError::TimeInTheFuture { .. } => {
                "point_in_the_future"
            }
            PointInTimeError::BeforeFirstEntry(_)
            | PointInTimeError::IndexBeforeFirstEntry { .. } => "before_first_entry",
            PointInTimeError::BranchNotFound(_) => "branch_not_found",
            PointInTimeError::DaySpan { .. } => "day_span_invalid",
            PointInTimeError::DayNotEnded(_) => "day_not_ended",
        }
    }
}

impl Ledger {
    /// The last applied log index.
    pub fn applied_index(&self) -> u64 {
        self.meta.applied_index
    }

    /// The time of the last applied command.
    pub fn applied_at(&self) -> Timestamp {
        self.meta.applied_at
    }

    /// The audit chain's head: sequence number and hash.
    pub fn chain_head(&self) -> (u64, Hash) {
        (self.meta.audit_seq, self.meta.chain_head)
    }

    /// An account.
    pub fn account(&self, id: &AccountId) -> Option<&Account> {
        self.accounts.get(id)
    }

    /// All accounts, by id.
    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.values()
    }

    /// A journal entry (including remembered rejections).
    pub fn entry(&self, id: &EntryId) -> Option<Cow<'_, JournalEntry>> {
        self.entries.get(id)
    }

    /// How many entry ids are in use.
    pub fn entry_count(&self) -> usize {
        self.entries.len()
    }

    /// A branch.
    pub fn branch(&self, code: &BranchCode) -> Option<&Branch> {
        self.branches.get(code)
    }

    /// All branches, by code.
    pub fn branches(&self) -> impl Iterator<Item = &Branch> {
        self.branches.values()
    }

    /// Every principal, revoked ones included, by name.
    pub fn principals(&self) -> impl Iterator<Item = &Principal> {
        self.principals.values()
    }

    /// A principal by name.
    pub fn principal(&self, name: &PrincipalName) -> Option<&Principal> {
        self.principals.get(name)
    }

    /// The principal an API key hash belongs to.
    pub fn principal_by_key(&self, key_hash: &KeyHash) -> Option<&Principal> {
        self.derived
            .key_index
            .get(key_hash)
            .and_then(|name| self.principals.get(name))
    }

    /// The approval policy of a branch and currency.
    pub fn policy(&self, branch: &BranchCode, currency: Currency) -> Option<&ApprovalPolicy> {
        self.policies.get(&(branch.clone(), currency))
    }

    /// The approval queue: pending entries, oldest first.
    pub fn pending_entries(&self) -> Vec<&JournalEntry> {
        let mut pending: Vec<&JournalEntry> = self
            .derived
            .pending_expiry
            .iter()
            .filter_map(|(_, id)| self.entries.get_open(id))
            .collect();
        pending.sort_by_key(|entry| entry.booked);
        pending
    }

    /// When the next pending or queued entry expires or the next statement
    /// becomes overdue, if any is waiting.
    pub fn next_expiry(&self) -> Option<Timestamp> {
        let pending = self.derived.pending_expiry.first().map(|(at, _)| *at);
        let queued = self.derived.queue_expiry.first().map(|(at, _)| *at);
        let statement = self.derived.statements.next_deadline();
        pending.into_iter().chain(queued).chain(statement).min()
    }

    /// A clearing window.
    pub fn window(&self, id: u64) -> Option<&ClearingWindow> {
        self.windows.get(&id)
    }

    /// The open clearing window, if any.
    pub fn open_window_id(&self) -> Option<u64> {
        self.meta.open_window
    }

    /// All clearing windows, oldest first.
    pub fn windows(&self) -> impl Iterator<Item = &ClearingWindow> {
        self.windows.values()
    }

    /// Audit records with sequence numbers in `from..=to`.
    pub fn audit_records(&self, from: u64, to: u64) -> impl Iterator<Item = ChainedRecord> {
        self.audit.range(from, to.max(from))
    }

    /// The balance of `id` as of the end of log index `index`.
    pub fn balance_at(&self, id: &AccountId, index: u64) -> Result<Balance, PointInTimeError> {
        let no = self
            .accounts
            .number(id)
            .ok_or_else(|| PointInTimeError::AccountNotFound(id.clone()))?;
        let account = self.accounts.at(no);
        if index > self.meta.applied_index {
            return Err(PointInTimeError::InTheFuture {
                asked: index,
                applied: self.meta.applied_index,
            });
        }
        if account.opened_at.index > index {
            return Err(PointInTimeError::NotYetOpened {
                account: id.clone(),
                opened: account.opened_at.index,
                asked: index,
            });
        }
        Ok(self
            .accounts
            .balance_at(no, Position::end_of(index))
            .unwrap_or_default())
    }

    /// The last log index applied at or before `at`.
    pub fn index_at_time(&self, at: Timestamp) -> Result<u64, PointInTimeError> {
        if at > self.meta.applied_at {
            return Err(PointInTimeError::TimeInTheFuture {
                asked: at,
                applied: self.meta.applied_at,
            });
        }
        self.derived
            .time_index
            .range(..=at)
            .next_back()
            .map(|(_, index)| *index)
            .ok_or(PointInTimeError::BeforeFirstEntry(at))
    }
}
