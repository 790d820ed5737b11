//! Reconciliation (对账) of the ledger against external statements.
//!
//! Importers read camt.053, MT940/MT950 and CSV files into
//! [`ParsedStatement`]s; every importer is a pure function of the file's
//! bytes, amounts are exact, and a statement whose opening balance plus its
//! lines is not its closing balance is refused. The matching engine
//! ([`match_items`]) is a pure function of ledger items, lines and rules;
//! a reconciliation run applies it inside one ledger command, so every
//! replica commits the same matches, breaks and balance check.

mod breaks;
mod camt;
mod commands;
pub mod csv;
pub mod matching;
mod mt940;
mod statement;

pub use breaks::{
    BalanceCheck, BreakAction, BreakKind, BreakResolution, BreakStatus, ClaimedBy,
    ExternalStatement, ExternalStatementId, ItemRef, ItemState, ReconciliationBreak,
    ReconciliationRun, Resolution, RunMatch,
};
pub use matching::{Candidate, Match, Rule, match_items};
pub use statement::{
    FaultLocation, ImportError, ParsedStatement, StatementBalance, StatementFormat, StatementLine,
    import,
};
