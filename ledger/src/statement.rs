//! Customer statements (对账单) and their returns (对账回执): the commands,
//! the records, the differentiated policy (差异化对账) and the verification code.
//!
//! A statement is an account's closing balance as of a cutoff, with the
//! postings since the previous statement, and a verification code: an
//! HMAC-SHA256 over the statement's id, account, currency, cutoff and closing
//! balance under a key held in replicated state. The key enters the ledger
//! through a command (the node puts fresh random bytes in every issue
//! command; the first one installs them), never from a clock or RNG inside the
//! ledger, so every replica computes the same code and nobody without the key
//! can compute one.
//!
//! A statement's return state moves issued → reconciled (confirmed with our
//! balance), issued → disputed (the customer states another balance; the
//! difference is kept), or issued → overdue (nothing came back by the end of
//! the due date, measured in command time). A late return still moves an
//! overdue statement to reconciled or disputed, marked late.
//!
//! Disputes and overdue returns are also reconciliation breaks, worked like
//! any other (see [`crate::recon::BreakKind`]): a dispute raises a
//! `disputed_statement` break holding the difference; becoming overdue raises
//! an `overdue_return` break, which a late return resolves.

use std::fmt;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::account::{AccountClass, Purpose};
use crate::amount::Amount;
use crate::currency::Currency;
use crate::id::{AccountId, BranchCode, EntryId, PrincipalName, StatementId};
use crate::journal_entry::Side;
use crate::ledger::Position;
use crate::time::{Date, Timestamp};

/// How many bytes of the HMAC the verification code keeps (128 bits).
pub const VERIFICATION_CODE_BYTES: usize = 16;
/// The most accounts one issue command may name.
pub const STATEMENT_ACCOUNTS_MAX: usize = 8_000;
/// The most rules a statement policy may hold.
pub const STATEMENT_RULES_MAX: usize = 64;

/// The secret key of the verification codes. Its bytes never appear in
/// `Debug` output, receipts or the audit trail.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementKey(pub [u8; 32]);

impl fmt::Debug for StatementKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StatementKey(..)")
    }
}

impl StatementKey {
    fn mac(&self, statement: &StatementId, account: &AccountId, facts: &CodeFacts) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        for part in [
            b"clearledger statement v1".as_slice(),
            statement.as_bytes(),
            account.as_bytes(),
            facts.currency.code().as_bytes(),
            &facts.cutoff.0.to_be_bytes(),
            &facts.closing_balance.minor().to_be_bytes(),
        ] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac
    }

    /// The verification code of a statement: the first
    /// [`VERIFICATION_CODE_BYTES`] of the HMAC, as lowercase hex.
    pub(crate) fn code(
        &self,
        statement: &StatementId,
        account: &AccountId,
        facts: &CodeFacts,
    ) -> String {
        let tag = self.mac(statement, account, facts).finalize().into_bytes();
        hex::encode(&tag[..VERIFICATION_CODE_BYTES])
    }

    /// Whether `code` (hex, any case) is the statement's verification code,
    /// compared in constant time.
    pub(crate) fn verify(
        &self,
        statement: &StatementId,
        account: &AccountId,
        facts: &CodeFacts,
        code: &str,
    ) -> bool {
        let Ok(bytes) = hex::decode(code.trim()) else {
            return false;
        };
        bytes.len() == VERIFICATION_CODE_BYTES
            && self
                .mac(statement, account, facts)
                .verify_truncated_left(&bytes)
                .is_ok()
    }

    /// A fingerprint that names the key without revealing it.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        let digest = Sha256::digest([b"fingerprint".as_slice(), &self.0].concat());
        hex::encode(&digest[..8])
    }
}

/// What a verification code covers besides the statement and account ids.
pub(crate) struct CodeFacts {
    pub(crate) currency: Currency,
    pub(crate) cutoff: Timestamp,
    pub(crate) closing_balance: Amount,
}

/// How often an account gets a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    /// At most one statement per calendar month.
    Monthly,
    /// At most one per three calendar months.
    Quarterly,
    /// At most one per six calendar months.
    HalfYearly,
    /// At most one per twelve calendar months.
    Yearly,
    /// No statements.
    Never,
}

impl Frequency {
    /// Calendar months between statements (`None`: never).
    pub fn months(self) -> Option<i64> {
        match self {
            Frequency::Monthly => Some(1),
            Frequency::Quarterly => Some(3),
            Frequency::HalfYearly => Some(6),
            Frequency::Yearly => Some(12),
            Frequency::Never => None,
        }
    }
}

/// One rule of the policy: the accounts it matches, and how often they get
/// statements. Every condition given must hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementRule {
    /// Only accounts of this branch.
    pub branch: Option<BranchCode>,
    /// Only accounts of this purpose.
    pub purpose: Option<Purpose>,
    /// Only accounts in this currency (required with `min_balance`).
    pub currency: Option<Currency>,
    /// Only accounts whose closing balance, in absolute value, is at least this.
    pub min_balance: Option<Amount>,
    /// How often the matched accounts get statements.
    pub frequency: Frequency,
}

/// Differentiated statement policy (差异化对账): which accounts a whole-branch
/// issue includes, and how often. The first rule that matches an account
/// decides; an account no rule matches gets no statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementPolicy {
    /// The rules, in priority order.
    pub rules: Vec<StatementRule>,
}

impl Default for StatementPolicy {
    /// Until a policy is set: every customer account, monthly.
    fn default() -> Self {
        StatementPolicy {
            rules: vec![StatementRule {
                branch: None,
                purpose: Some(Purpose::Customer),
                currency: None,
                min_balance: None,
                frequency: Frequency::Monthly,
            }],
        }
    }
}

impl StatementPolicy {
    /// Checks the policy's shape.
    pub fn validate(&self) -> Result<(), StatementRejection> {
        let invalid = |reason: &str| {
            Err(StatementRejection::PolicyInvalid {
                reason: reason.to_string(),
            })
        };
        if self.rules.len() > STATEMENT_RULES_MAX {
            return invalid("too many rules");
        }
        for rule in &self.rules {
            if let Some(min) = rule.min_balance {
                if rule.currency.is_none() {
                    return invalid("a rule with min_balance needs a currency");
                }
                if min.minor() < 0 {
                    return invalid("min_balance must not be negative");
                }
            }
        }
        Ok(())
    }

    /// The frequency of the first rule that matches, if any.
    pub fn frequency_for(
        &self,
        branch: &BranchCode,
        purpose: Purpose,
        currency: Currency,
        closing_balance: Amount,
    ) -> Option<Frequency> {
        self.rules
            .iter()
            .find(|rule| {
                rule.branch.as_ref().is_none_or(|b| b == branch)
                    && rule.purpose.is_none_or(|p| p == purpose)
                    && rule.currency.is_none_or(|c| c == currency)
                    && rule
                        .min_balance
                        .is_none_or(|min| closing_balance.minor().abs() >= min.minor())
            })
            .map(|rule| rule.frequency)
    }
}

/// Issue statements: for the accounts named, or for the accounts of a branch
/// that the policy selects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueStatements {
    /// The accounts (exactly one of `accounts` and `branch` is given).
    pub accounts: Vec<AccountId>,
    /// The branch whose accounts the policy selects.
    pub branch: Option<BranchCode>,
    /// The balance is as of this instant.
    pub cutoff: Timestamp,
    /// The return is due by the end of this day (UTC).
    pub due: Date,
    /// Fresh random bytes from the node: they become the verification key if
    /// the ledger has none yet, and are ignored otherwise.
    pub key_seed: StatementKey,
}

/// The customer's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReturnAnswer {
    /// The customer confirms the balance (相符).
    Confirmed,
    /// The customer disputes it (不符).
    Disputed,
}

/// A statement return (对账回执) as a branch system posts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnStatement {
    /// The statement.
    pub statement: StatementId,
    /// The code printed on the statement.
    pub verification_code: String,
    /// Confirmed or disputed.
    pub answer: ReturnAnswer,
    /// The balance the customer states (required when disputed; when given
    /// with a confirmation, it must equal ours or the return is a dispute).
    pub stated_balance: Option<Amount>,
}

/// The statement commands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StatementCommand {
    /// Issue statements.
    Issue(IssueStatements),
    /// Record a customer's return.
    Return(ReturnStatement),
    /// Replace the differentiated policy.
    SetPolicy(StatementPolicy),
}

/// Where a statement's return stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReturnState {
    /// Sent, not yet returned, not yet due.
    Issued,
    /// Confirmed with our balance.
    Reconciled,
    /// The customer states another balance.
    Disputed,
    /// Not returned by the end of the due date.
    Overdue,
}

impl ReturnState {
    /// The state's snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            ReturnState::Issued => "issued",
            ReturnState::Reconciled => "reconciled",
            ReturnState::Disputed => "disputed",
            ReturnState::Overdue => "overdue",
        }
    }
}

/// A recorded return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementReturn {
    /// Confirmed or disputed, as the customer answered.
    pub answer: ReturnAnswer,
    /// The balance the customer stated.
    pub stated_balance: Option<Amount>,
    /// The customer's balance less ours (zero when reconciled).
    pub difference: Amount,
    /// Who posted the return.
    pub by: PrincipalName,
    /// When.
    pub at: Timestamp,
    /// Where in the log.
    pub position: Position,
    /// Posted after the statement became overdue.
    pub late: bool,
}

/// A statement (对账单) and its return state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    /// The id the ledger gave it (`ST` and a sequence number).
    pub id: StatementId,
    /// The account.
    pub account: AccountId,
    /// The account's branch.
    pub branch: BranchCode,
    /// The account's currency.
    pub currency: Currency,
    /// The account's class (which side its balance grows on).
    pub class: AccountClass,
    /// The period starts after this point: the previous statement's cutoff
    /// (or the beginning, for an account's first statement).
    pub opening: Position,
    /// The posted balance at the start of the period.
    pub opening_balance: Amount,
    /// The cutoff as asked.
    pub cutoff: Timestamp,
    /// The last point of the log the closing balance includes.
    pub closing: Position,
    /// The posted balance as of the cutoff.
    pub closing_balance: Amount,
    /// The return is due by the end of this day.
    pub due: Date,
    /// The code the customer's return must carry.
    pub verification_code: String,
    /// Who issued it.
    pub issued_by: PrincipalName,
    /// When.
    pub issued_at: Timestamp,
    /// Where in the log.
    pub issued: Position,
    /// Where its return stands.
    pub state: ReturnState,
    /// When it became overdue, if it did.
    pub overdue_at: Option<Timestamp>,
    /// The return, once posted.
    pub returned: Option<StatementReturn>,
    /// The reconciliation breaks raised about it, oldest first: its overdue
    /// return's, its dispute's.
    pub breaks: Vec<u64>,
}

impl Statement {
    /// The instant from which the statement is overdue: the start of the day
    /// after the due date.
    pub fn deadline(&self) -> Timestamp {
        self.due.next().start()
    }
}

/// One posting of a statement's period, with the balance after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementLine {
    /// The journal entry.
    pub entry: EntryId,
    /// Where the posting took effect (booking, or approval of a pending entry).
    pub position: Position,
    /// When.
    pub at: Timestamp,
    /// Debit or credit.
    pub side: Side,
    /// The amount (positive).
    pub amount: Amount,
    /// The account's posted balance after this line.
    pub balance_after: Amount,
    /// The entry's memo.
    pub memo: Option<String>,
    /// The entry's reference.
    pub reference: Option<String>,
}

/// What a statement command answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StatementReceipt {
    /// The statements issued (or found issued already for the same account
    /// and cutoff), in account order.
    Issued(Vec<Statement>),
    /// The statement after a return.
    Returned(Box<Statement>),
    /// The policy as stored.
    Policy(StatementPolicy),
}

/// Why a statement command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum StatementRejection {
    /// No such statement.
    #[error("statement {statement} does not exist")]
    NotFound {
        /// The statement.
        statement: StatementId,
    },
    /// The return's verification code is not the statement's.
    #[error("the verification code does not match statement {statement}")]
    VerificationCodeMismatch {
        /// The statement.
        statement: StatementId,
    },
    /// The statement was returned already with another answer.
    #[error("statement {statement} was returned already with another answer")]
    AlreadyReturned {
        /// The statement.
        statement: StatementId,
    },
    /// A dispute without the balance the customer states.
    #[error("a disputed return needs the customer's stated balance")]
    StatedBalanceRequired,
    /// The cutoff is later than the issuing command.
    #[error("the cutoff {cutoff} is in the future")]
    CutoffInFuture {
        /// The cutoff asked for.
        cutoff: Timestamp,
    },
    /// The due date is before the cutoff's date.
    #[error("the due date {due} is before the cutoff date")]
    DueBeforeCutoff {
        /// The due date.
        due: Date,
    },
    /// Neither or both of accounts and branch, or too many accounts.
    #[error("{reason}")]
    SelectionInvalid {
        /// What is wrong.
        reason: String,
    },
    /// A named account was opened after the cutoff.
    #[error("account {account} was opened after the cutoff")]
    AccountNotOpenAtCutoff {
        /// The account.
        account: AccountId,
    },
    /// The account has a statement with a later cutoff already.
    #[error("account {account} has a statement with a later cutoff ({latest})")]
    CutoffBeforeLatest {
        /// The account.
        account: AccountId,
        /// The later statement.
        latest: StatementId,
    },
    /// A statement for the account and cutoff exists with another due date.
    #[error("statement {statement} for this account and cutoff exists with a different due date")]
    ExistsWithDifferentDue {
        /// The existing statement.
        statement: StatementId,
    },
    /// The policy is malformed.
    #[error("statement policy is invalid: {reason}")]
    PolicyInvalid {
        /// What is wrong.
        reason: String,
    },
}

impl StatementRejection {
    /// The stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            StatementRejection::NotFound { .. } => "statement_not_found",
            StatementRejection::VerificationCodeMismatch { .. } => "verification_code_mismatch",
            StatementRejection::AlreadyReturned { .. } => "statement_already_returned",
            StatementRejection::StatedBalanceRequired => "stated_balance_required",
            StatementRejection::CutoffInFuture { .. } => "statement_cutoff_in_future",
            StatementRejection::DueBeforeCutoff { .. } => "statement_due_before_cutoff",
            StatementRejection::SelectionInvalid { .. } => "statement_selection_invalid",
            StatementRejection::AccountNotOpenAtCutoff { .. } => "account_not_open_at_cutoff",
            StatementRejection::CutoffBeforeLatest { .. } => "statement_cutoff_before_latest",
            StatementRejection::ExistsWithDifferentDue { .. } => {
                "statement_exists_with_different_due"
            }
            StatementRejection::PolicyInvalid { .. } => "statement_policy_invalid",
        }
    }
}

/// A statement event in the audit chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StatementEvent {
    /// The verification key was installed (named by its fingerprint only).
    KeyInstalled {
        /// The key's fingerprint.
        fingerprint: String,
    },
    /// A statement was issued.
    Issued {
        /// The statement.
        statement: StatementId,
        /// The account.
        account: AccountId,
        /// The closing balance.
        closing_balance: Amount,
    },
    /// A return was recorded.
    Returned {
        /// The statement.
        statement: StatementId,
        /// The state it moved to.
        state: ReturnState,
        /// The customer's stated balance.
        stated_balance: Option<Amount>,
    },
    /// A statement became overdue.
    Overdue {
        /// The statement.
        statement: StatementId,
    },
    /// The policy was replaced.
    PolicySet(StatementPolicy),
}

/// Return figures of one branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchReturnRate {
    /// The branch.
    pub branch: BranchCode,
    /// Statements issued.
    pub issued: u64,
    /// Returned: reconciled plus disputed.
    pub returned: u64,
    /// Confirmed with our balance.
    pub reconciled: u64,
    /// Disputed.
    pub disputed: u64,
    /// Past due without a return.
    pub overdue: u64,
    /// Not returned and not yet due.
    pub outstanding: u64,
    /// Returned per issued, in basis points (回收率; 10000 = 100%).
    pub rate_basis_points: u32,
}

impl BranchReturnRate {
    /// The rate as a percentage with two decimals: `"87.50"`.
    pub fn rate_percent(&self) -> String {
        format!(
            "{}.{:02}",
            self.rate_basis_points / 100,
            self.rate_basis_points % 100
        )
    }
}

/// How old a dispute or an overdue return is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgeBucket {
    /// Up to 7 days.
    UpTo7Days,
    /// 8 to 30 days.
    UpTo30Days,
    /// 31 to 90 days.
    UpTo90Days,
    /// More than 90 days.
    Over90Days,
}

impl AgeBucket {
    /// The bucket of an age in whole days.
    pub fn of_days(days: u64) -> AgeBucket {
        match days {
            0..=7 => AgeBucket::UpTo7Days,
            8..=30 => AgeBucket::UpTo30Days,
            31..=90 => AgeBucket::UpTo90Days,
            _ => AgeBucket::Over90Days,
        }
    }

    /// The bucket's label.
    pub fn name(self) -> &'static str {
        match self {
            AgeBucket::UpTo7Days => "0-7",
            AgeBucket::UpTo30Days => "8-30",
            AgeBucket::UpTo90Days => "31-90",
            AgeBucket::Over90Days => "90+",
        }
    }
}

/// A statement in a report, with its age in whole days as of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgedStatement {
    /// The statement.
    pub statement: Statement,
    /// Days since it became overdue, or since the dispute was returned.
    pub age_days: u64,
    /// The age's bucket.
    pub bucket: AgeBucket,
}
