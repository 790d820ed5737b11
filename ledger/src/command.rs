//! Commands: everything that changes the ledger, and what each one answers.
//!
//! A command carries its time (stamped by the leader) and its actor (filled in
//! by the node after authentication), so applying it reads no clock and trusts
//! no client for who it is.

use serde::{Deserialize, Serialize};

use crate::account::{Account, NewAccount};
use crate::approval::ApprovalPolicy;
use crate::branch::{Branch, NewBranch};
use crate::clearing_window::{ClearingWindow, NetDebitCap};
use crate::id::{AccountId, EntryId, PrincipalName};
use crate::journal_entry::{EntryOutcome, JournalEntry};
use crate::principal::{Actor, KeyHash, NewPrincipal, Principal};
use crate::statement::{StatementCommand, StatementReceipt};
use crate::time::Timestamp;

/// One command, as ordered by the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// The leader's clock when it proposed the command. The ledger never lets
    /// time go backwards: it uses the later of this and the last applied time.
    pub at: Timestamp,
    /// Who sent it.
    pub actor: Actor,
    /// What to do.
    pub kind: CommandKind,
}

/// What a command does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandKind {
    /// Register a principal and its key hash.
    CreatePrincipal(NewPrincipal),
    /// Replace a principal's API key: the old key stops working at once.
    RotatePrincipalKey {
        /// The principal.
        name: PrincipalName,
        /// Hash of the new key.
        key_hash: KeyHash,
        /// The new key's non-secret id.
        key_id: String,
    },
    /// Revoke a principal: its key stops working and its commands are
    /// refused from here on; it is never deleted.
    RevokePrincipal {
        /// The principal.
        name: PrincipalName,
    },
    /// Add a branch to the org tree.
    CreateBranch(NewBranch),
    /// Open an account.
    OpenAccount(NewAccount),
    /// Freeze (冻结) or unfreeze an account.
    SetAccountFrozen {
        /// The account.
        account: AccountId,
        /// Frozen or not.
        frozen: bool,
    },
    /// Close (销户) an account whose balance is zero.
    CloseAccount {
        /// The account.
        account: AccountId,
    },
    /// Post journal entries: each gets its own outcome, or, when `atomic`,
    /// all post or none does.
    PostEntries {
        /// The entries, in order.
        entries: Vec<crate::journal_entry::NewEntry>,
        /// All or nothing.
        atomic: bool,
    },
    /// Approve (post) a pending entry.
    ApproveEntry {
        /// The pending entry.
        entry: EntryId,
        /// The approver's note.
        reason: Option<String>,
    },
    /// Reject (void) a pending entry.
    RejectEntry {
        /// The pending entry.
        entry: EntryId,
        /// Why.
        reason: Option<String>,
    },
    /// Reverse (冲正) a posted entry with a new, linked entry.
    ReverseEntry {
        /// The posted entry.
        original: EntryId,
        /// The reversal's id.
        id: EntryId,
        /// Why (required).
        reason: String,
    },
    /// Set the approval policy of a branch and currency.
    SetApprovalPolicy(ApprovalPolicy),
    /// Open a clearing window when none is open.
    OpenWindow,
    /// Close the open clearing window; the next one opens at the same position.
    CloseWindow {
        /// The window.
        window: u64,
    },
    /// Settle a closed window: post each branch's settlement entry.
    SettleWindow {
        /// The window.
        window: u64,
    },
    /// Abort a closed window: carry its positions into the open window.
    AbortWindow {
        /// The window.
        window: u64,
    },
    /// Set the net debit cap of a branch and currency.
    SetNetDebitCap(NetDebitCap),
    /// Store the statements of one external statement file (all or none).
    ImportExternalStatements {
        /// The ledger account they state.
        account: AccountId,
        /// The statements as the importer read them.
        statements: Vec<crate::recon::ParsedStatement>,
    },
    /// Match an account against an external statement and commit the
    /// matches, breaks and balance check.
    RunReconciliation {
        /// The ledger account.
        account: AccountId,
        /// The statement.
        statement: crate::recon::ExternalStatementId,
        /// The rules in priority order (the defaults when empty).
        rules: Vec<crate::recon::Rule>,
    },
    /// Resolve an open reconciliation break.
    ResolveBreak {
        /// The break.
        id: u64,
        /// How.
        resolution: crate::recon::BreakResolution,
    },
    /// Let time pass: the leader sends it when a pending entry's timeout is
    /// due on an otherwise idle ledger, so that expiry never waits for traffic.
    Tick,
    /// Issue customer statements, record a return, or set the statement policy.
    Statements(StatementCommand),
    /// Close a branch's books through a date (关账).
    ClosePeriod {
        /// The branch.
        branch: crate::id::BranchCode,
        /// The last day closed.
        through: crate::time::Date,
    },
    /// Mark a flagged entry reviewed (事后监督).
    ReviewEntry {
        /// The entry.
        entry: EntryId,
        /// The reviewer's note.
        note: Option<String>,
    },
}

/// What an accepted command answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Receipt {
    /// The principal created (without its key).
    Principal(Principal),
    /// The branch.
    Branch(Branch),
    /// The account.
    Account(Box<Account>),
    /// One outcome per entry, in order.
    Entries(Vec<EntryOutcome>),
    /// The entry after an approval, rejection or reversal.
    Entry(Box<JournalEntry>),
    /// The policy as stored.
    Policy(ApprovalPolicy),
    /// A clearing window.
    Window(Box<ClearingWindow>),
    /// Time passed.
    Ticked,
    /// The net debit cap as stored.
    Cap(NetDebitCap),
    /// The stored external statements of a file.
    ExternalStatements(Vec<crate::recon::ExternalStatement>),
    /// A committed reconciliation run.
    Reconciliation(Box<crate::recon::ReconciliationRun>),
    /// A break after an action on it.
    Break(Box<crate::recon::ReconciliationBreak>),
    /// What a statement command answers.
    Statements(StatementReceipt),
    /// A branch's period close.
    PeriodClosed(crate::period::PeriodClose),
    /// A review of a flagged entry.
    Reviewed(crate::supervision::Review),
}
