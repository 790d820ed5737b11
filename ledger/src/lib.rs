//! The ClearLedger functional core: a deterministic double-entry state machine
//! for a bank's clearing center.
//!
//! [`Ledger::apply`] takes the commands of one log entry and answers each
//! with a [`Receipt`] or a [`Rejection`]. It reads no clock, no randomness and
//! no disk: time and actor arrive inside each [`Command`], and every piece of
//! state is an ordered map or a vector filled in apply order, so the same
//! commands in the same order give the same state — and the same
//! [`Ledger::digest`] — on every replica.
//!
//! The model, in the bank's words: branches (机构) own accounts (账户) in one
//! currency; journal entries (会计分录) of postings that balance are applied
//! whole or not at all; an entry that crosses branches is booked through each
//! branch's clearing account and adds to the open clearing window (清算场次);
//! large entries wait for approval (待授权) by someone other than their maker;
//! mistakes are corrected by linked reversals (冲正); every change is a link
//! in a SHA-256 audit chain.
//!
//! ```
//! use ledger::*;
//!
//! let at = Timestamp::parse_rfc3339("2026-11-22T09:00:00Z").unwrap();
//! let cny = Currency::new("CNY").unwrap();
//! let mut ledger = Ledger::new();
//! let system = |kind| Command { at, actor: Actor::system(), kind };
//! let branch = BranchCode::new("SH01").unwrap();
//! let account = |id: &str, flags| NewAccount {
//!     id: AccountId::new(id).unwrap(),
//!     branch: branch.clone(),
//!     currency: cny,
//!     class: AccountClass::Liability,
//!     purpose: Purpose::Customer,
//!     flags,
//!     name: None,
//! };
//! let no_overdraft = AccountFlags { debits_must_not_exceed_credits: true, ..Default::default() };
//! ledger.apply(1, vec![
//!     system(CommandKind::CreateBranch(NewBranch { code: branch.clone(), name: "Shanghai".into(), parent: None, kind: BranchKind::Internal })),
//!     system(CommandKind::CreatePrincipal(NewPrincipal {
//!         name: PrincipalName::new("teller").unwrap(),
//!         role: Role::Branch(branch.clone()),
//!         authority: 0,
//!         key_hash: [7; 32],
//!         key_id: "k1".into(),
//!     })),
//!     system(CommandKind::OpenAccount(account("alice", no_overdraft))),
//!     system(CommandKind::OpenAccount(account("bob", AccountFlags::default()))),
//! ]);
//! let teller = Actor { principal: PrincipalName::new("teller").unwrap(), key_id: "k1".into(), client: "10.0.0.1".into() };
//! let transfer = |id: &str, from: &str, to: &str, minor| Command {
//!     at,
//!     actor: teller.clone(),
//!     kind: CommandKind::PostEntries {
//!         entries: vec![NewEntry::transfer(
//!             EntryId::new(id).unwrap(),
//!             AccountId::new(from).unwrap(),
//!             AccountId::new(to).unwrap(),
//!             Amount::from_minor(minor),
//!             cny,
//!         )],
//!         atomic: false,
//!     },
//! };
//! let applied = ledger.apply(2, vec![transfer("t1", "bob", "alice", 10_000), transfer("t2", "alice", "bob", 20_000)]);
//! let Ok(Receipt::Entries(second)) = &applied[1].outcome else { panic!() };
//! assert!(matches!(&second[0].status, EntryStatus::Rejected { rejection: Rejection::InsufficientFunds { .. } }));
//! let alice = ledger.account(&AccountId::new("alice").unwrap()).unwrap();
//! assert_eq!(alice.balance.posted(AccountClass::Liability).to_decimal_string(cny), "100.00");
//! ```

#![deny(missing_docs)]

mod account;
mod account_table;
mod amount;
mod approval;
pub mod audit;
mod audit_chain;
mod branch;
mod chunks;
mod clearing;
mod clearing_window;
pub mod codec;
mod command;
mod currency;
mod entry_table;
mod id;
mod id_index;
mod journal_entry;
mod ledger;
pub mod limits;
mod liquidity_queue;
mod period;
mod posting;
mod principal;
mod queries;
pub mod recon;
mod rejection;
mod setup;
mod small_vec;
mod state;
mod statement;
mod statement_book;
mod supervision;
mod table;
mod time;
mod trail;
mod trial_balance;
mod warm;

pub use account::{Account, AccountClass, AccountFlags, Balance, NewAccount, Purpose};
pub use amount::{Amount, AmountError};
pub use approval::{ApprovalPolicy, AuthorityTier};
pub use audit::{AuditEvent, AuditRecord, ChainBreak, ChainedRecord, Hash};
pub use branch::{Branch, BranchKind, NewBranch};
pub use clearing_window::{
    BranchFlows, ClearingWindow, Exposure, NetDebitCap, PairFlows, WindowPositions, WindowStatus,
};
pub use command::{Command, CommandKind, Receipt};
pub use currency::{Currency, UnknownCurrency};
pub use id::{AccountId, BranchCode, EntryId, IdError, PrincipalName, SchemeCode, StatementId};
pub use journal_entry::{
    ApprovalReason, Decision, EntryField, EntryOutcome, EntryStatus, JournalEntry, NewEntry,
    Posting, QueueStay, Side, VoidReason,
};
pub use ledger::{Applied, Ledger, Position};
pub use period::PeriodClose;
pub use principal::{Actor, KeyHash, NewPrincipal, Principal, Role, UnknownRole};
pub use queries::PointInTimeError;
pub use rejection::Rejection;
pub use state::{APPENDED_TABLES, Record, RestoreError, SNAPSHOT_FORMAT, SnapshotEncoder};
pub use statement::{
    AgeBucket, AgedStatement, BranchReturnRate, Frequency, IssueStatements, ReturnAnswer,
    ReturnState, ReturnStatement, STATEMENT_ACCOUNTS_MAX, STATEMENT_RULES_MAX, Statement,
    StatementCommand, StatementEvent, StatementKey, StatementLine, StatementPolicy,
    StatementReceipt, StatementRejection, StatementReturn, StatementRule, VERIFICATION_CODE_BYTES,
};
pub use supervision::{FlaggedEntry, Review, ReviewFlag, ReviewList};
pub use time::{Date, TimeParseError, Timestamp};
pub use trail::{ExportedRecord, TrailQuery};
pub use trial_balance::{
    BranchTotals, ClassTotals, CurrencyTotals, DayBalance, END_OF_DAY_SPAN_MAX_DAYS, Totals,
    TrialBalance, TrialBalanceLine,
};
