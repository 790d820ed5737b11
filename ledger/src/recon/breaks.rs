//! Reconciliation state: stored external statements, runs with their
//! matches, and breaks (未达账项/差异) with their workflow.
//!
//! A break has a kind (what is wrong), a status (open, awaiting approval of
//! an adjusting entry, resolved) and a history of actions, each with who did
//! it and when. New kinds of break are new [`BreakKind`] variants; the
//! status, age and history work the same for all of them.
//!
//! Runs raise the kinds about external statements (unmatched items, amount
//! and balance differences). The statement book raises the two kinds about
//! customer statements (对账单): a disputed return, holding the customer's
//! balance less ours, and an overdue return, raised when the due date ends
//! with nothing back. A late return resolves the overdue break (and, if it
//! is a dispute, raises a disputed-statement break of its own).

use serde::{Deserialize, Serialize};

use super::matching::Rule;
use super::statement::{StatementBalance, StatementFormat, StatementLine};
use crate::amount::Amount;
use crate::currency::Currency;
use crate::id::{AccountId, BranchCode, EntryId, PrincipalName, StatementId};
use crate::ledger::Position;
use crate::statement::ReturnState;
use crate::time::{Date, Timestamp};

/// An external statement's id: `xs-` and 16 hex digits of the SHA-256 of its
/// identity (ledger account, servicer's account, reference, sequence number,
/// opening date), so that importing the same statement again finds it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExternalStatementId(pub String);

impl std::fmt::Display for ExternalStatementId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A stored external statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalStatement {
    /// Its id.
    pub id: ExternalStatementId,
    /// The ledger account it states.
    pub account: AccountId,
    /// The format it was read from.
    pub format: StatementFormat,
    /// The servicer's statement reference.
    pub reference: String,
    /// The servicer's sequence number.
    pub sequence: Option<String>,
    /// The account as the servicer names it.
    pub external_account: String,
    /// The currency.
    pub currency: Currency,
    /// The opening balance (credit positive).
    pub opening: StatementBalance,
    /// The closing balance (credit positive).
    pub closing: StatementBalance,
    /// The lines, numbered from 0 in this order.
    pub lines: Vec<StatementLine>,
    /// SHA-256 of the content, hex: the same identity with other content is refused.
    pub content_hash: String,
    /// Who imported it.
    pub imported_by: PrincipalName,
    /// When.
    pub imported_at: Timestamp,
    /// Where in the log.
    pub position: Position,
}

/// One side of a match: a posting of a ledger entry or a statement line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemRef {
    /// The `posting`-th posting (from 0) of `entry`.
    Ledger {
        /// The entry.
        entry: EntryId,
        /// The posting's position in the entry's booked postings.
        posting: u32,
    },
    /// The `line`-th line (from 0) of `statement`.
    Line {
        /// The statement.
        statement: ExternalStatementId,
        /// The line's position.
        line: u32,
    },
}

/// What claimed an item: a run's match or a manual match on a break.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimedBy {
    /// The `number`-th match (from 0) of reconciliation run `run`.
    Run {
        /// The run.
        run: u64,
        /// The match.
        number: u32,
    },
    /// A manual match that resolved break `id`.
    Manual {
        /// The break.
        id: u64,
    },
}

/// What the reconciliation knows of one item.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemState {
    /// The match that claimed it, exclusively.
    pub claimed: Option<ClaimedBy>,
    /// The break raised for it while it was unmatched.
    pub open_break: Option<u64>,
}

/// One match of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunMatch {
    /// The rule's name.
    pub rule: String,
    /// The ledger postings.
    pub ledger: Vec<ItemRef>,
    /// The statement lines.
    pub external: Vec<ItemRef>,
    /// The lines' sum minus the postings' sum (statement signs).
    pub difference: Amount,
}

/// The balance-level check of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceCheck {
    /// The statement's closing date: the ledger balance is taken at its end.
    pub cutoff: Date,
    /// The ledger's balance then, in statement signs (normal side positive).
    pub ledger_balance: Amount,
    /// The statement's closing balance.
    pub statement_balance: Amount,
    /// What unmatched items and match differences explain of the difference.
    pub explained: Amount,
    /// The rest: a balance-difference break when not zero.
    pub unexplained: Amount,
}

/// A reconciliation run as committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconciliationRun {
    /// Its number, from 1.
    pub id: u64,
    /// The ledger account.
    pub account: AccountId,
    /// The statement.
    pub statement: ExternalStatementId,
    /// The rules, in the order they ran.
    pub rules: Vec<Rule>,
    /// The matches.
    pub matches: Vec<RunMatch>,
    /// The balance check.
    pub balance: BalanceCheck,
    /// Breaks raised by this run.
    pub breaks_raised: Vec<u64>,
    /// Earlier breaks this run's matches resolved.
    pub breaks_resolved: Vec<u64>,
    /// Who ran it.
    pub run_by: PrincipalName,
    /// When.
    pub at: Timestamp,
    /// Where in the log.
    pub position: Position,
}

/// What is wrong. Each kind names what it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakKind {
    /// A posting of ours that no statement line matched (we booked, they did not).
    UnmatchedLedgerItem {
        /// The posting.
        item: ItemRef,
    },
    /// A statement line that no posting matched (they booked, we did not).
    UnmatchedExternalLine {
        /// The line.
        item: ItemRef,
    },
    /// A match whose sides differ (within its rule's tolerance).
    AmountDifference {
        /// The run.
        run: u64,
        /// The match's number in the run.
        number: u32,
    },
    /// The ledger balance at the cutoff differs from the statement's closing
    /// balance by more than the unmatched items explain.
    BalanceDifference {
        /// The statement.
        statement: ExternalStatementId,
        /// The ledger balance at the cutoff.
        ledger_balance: Amount,
        /// The statement's closing balance.
        statement_balance: Amount,
    },
    /// The customer returned a statement disputing its balance (对账不符).
    DisputedStatement {
        /// The customer statement.
        statement: StatementId,
        /// Our closing balance at the statement's cutoff.
        closing_balance: Amount,
        /// The balance the customer states.
        stated_balance: Amount,
    },
    /// A customer statement was not returned by the end of its due date.
    OverdueReturn {
        /// The customer statement.
        statement: StatementId,
        /// The due date it missed.
        due: Date,
    },
}

impl BreakKind {
    /// The kind's snake_case name, for filters.
    pub fn name(&self) -> &'static str {
        match self {
            BreakKind::UnmatchedLedgerItem { .. } => "unmatched_ledger_item",
            BreakKind::UnmatchedExternalLine { .. } => "unmatched_external_line",
            BreakKind::AmountDifference { .. } => "amount_difference",
            BreakKind::BalanceDifference { .. } => "balance_difference",
            BreakKind::DisputedStatement { .. } => "disputed_statement",
            BreakKind::OverdueReturn { .. } => "overdue_return",
        }
    }

    /// Every kind's name, in declaration order.
    pub const NAMES: [&'static str; 6] = [
        "unmatched_ledger_item",
        "unmatched_external_line",
        "amount_difference",
        "balance_difference",
        "disputed_statement",
        "overdue_return",
    ];

    /// The item a manual match must include, for the kinds about one item.
    pub fn item(&self) -> Option<&ItemRef> {
        match self {
            BreakKind::UnmatchedLedgerItem { item } | BreakKind::UnmatchedExternalLine { item } => {
                Some(item)
            }
            _ => None,
        }
    }

    /// The customer statement, for the kinds about one.
    pub fn customer_statement(&self) -> Option<&StatementId> {
        match self {
            BreakKind::DisputedStatement { statement, .. }
            | BreakKind::OverdueReturn { statement, .. } => Some(statement),
            _ => None,
        }
    }
}

/// How a break was resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// An operator matched its item with others by hand.
    ManualMatch {
        /// Every item of the manual match.
        items: Vec<ItemRef>,
    },
    /// An adjusting entry was approved by a second person.
    AdjustingEntry {
        /// The entry.
        entry: EntryId,
    },
    /// An operator recorded why the difference stands (e.g. a timing difference).
    Explanation {
        /// The explanation.
        reason: String,
    },
    /// A later run matched its item.
    MatchedInRun {
        /// The run.
        run: u64,
    },
    /// A later balance check of the same statement replaced it.
    Superseded {
        /// The run.
        run: u64,
    },
    /// The overdue statement was returned after all, late; a late dispute
    /// raises a disputed-statement break of its own.
    ReturnedLate {
        /// The state the return moved the statement to.
        state: ReturnState,
    },
}

/// Where a break stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakStatus {
    /// Waiting for someone to work it.
    Open,
    /// An adjusting entry waits for approval by someone other than its maker.
    AwaitingApproval {
        /// The pending entry.
        entry: EntryId,
    },
    /// Done.
    Resolved {
        /// How.
        resolution: Resolution,
    },
}

impl BreakStatus {
    /// `open`, `awaiting_approval` or `resolved`.
    pub fn name(&self) -> &'static str {
        match self {
            BreakStatus::Open => "open",
            BreakStatus::AwaitingApproval { .. } => "awaiting_approval",
            BreakStatus::Resolved { .. } => "resolved",
        }
    }
}

/// One thing that happened to a break, and who did it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakAction {
    /// Who.
    pub by: PrincipalName,
    /// When.
    pub at: Timestamp,
    /// Where in the log.
    pub position: Position,
    /// What: `raised`, `manual_match`, `adjustment_proposed`,
    /// `adjustment_approved`, `adjustment_voided`, `explained`,
    /// `matched_in_run`, `superseded`, `returned_late`.
    pub action: String,
    /// The entry, run, or explanation it concerns.
    pub detail: Option<String>,
}

/// A mismatch between the ledger and an external record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconciliationBreak {
    /// Its number, from 1.
    pub id: u64,
    /// What is wrong.
    pub kind: BreakKind,
    /// The ledger account.
    pub account: AccountId,
    /// The account's branch.
    pub branch: BranchCode,
    /// The currency.
    pub currency: Currency,
    /// The break's effect on statement minus ledger (statement signs).
    pub amount: Amount,
    /// The day its item counts from.
    pub date: Date,
    /// Where it stands.
    pub status: BreakStatus,
    /// When it arose: when a run or a return raised it, or, for an overdue
    /// return, the deadline the statement missed (its age counts from there,
    /// as in the overdue report, however late the ledger noticed).
    pub raised_at: Timestamp,
    /// Everything done to it, oldest first; the first action raised it.
    pub history: Vec<BreakAction>,
}

impl ReconciliationBreak {
    /// Whole days from when it was raised to `now`.
    pub fn age_days(&self, now: Timestamp) -> u64 {
        now.micros_since(self.raised_at) / 86_400_000_000
    }

    /// Whether it still needs work.
    pub fn is_open(&self) -> bool {
        !matches!(self.status, BreakStatus::Resolved { .. })
    }
}

/// How an operator resolves a break.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakResolution {
    /// Match the break's item with others by hand; the items (the break's
    /// own among them) must all be unclaimed, of the break's account, with
    /// both postings and lines, and the sums equal.
    ManualMatch {
        /// The items.
        items: Vec<ItemRef>,
    },
    /// Post an adjusting entry on the break's account; it waits for approval
    /// by someone other than the maker, and its approval resolves the break.
    AdjustingEntry {
        /// The entry (booked as pending whatever it asks).
        entry: crate::journal_entry::NewEntry,
    },
    /// Record why the difference stands.
    Explanation {
        /// The explanation.
        reason: String,
    },
}
