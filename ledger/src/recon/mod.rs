//! Reconciliation (对账) of the ledger against external statements.
//!
//! Importers read camt.053, MT940/MT950 and CSV files into
//! [`ParsedStatement`]s; every importer is a pure function of the file's
//! bytes, amounts are exact, and a statement whose opening balance plus its
//! lines is not its closing balance is refused.

mod camt;
pub mod csv;
pub mod matching;
mod mt940;
mod statement;

pub use matching::{Candidate, Match, Rule, match_items};
pub use statement::{
    FaultLocation, ImportError, ParsedStatement, StatementBalance, StatementFormat, StatementLine,
    import,
};
