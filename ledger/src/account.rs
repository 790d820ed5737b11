//! Accounts (账户): one currency, one owning branch, a class that fixes the
//! normal side, a purpose, flags, and posted/pending balances.

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::currency::Currency;
use crate::id::{AccountId, BranchCode, PrincipalName};
use crate::journal_entry::Side;
use crate::ledger::Position;

/// The accounting class, which fixes the side on which a balance grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountClass {
    /// 资产: grows on the debit side.
    Asset,
    /// 负债 (customer deposits are liabilities of the bank): grows on the credit side.
    Liability,
    /// 所有者权益: grows on the credit side.
    Equity,
    /// 收入: grows on the credit side.
    Income,
    /// 费用: grows on the debit side.
    Expense,
}

impl AccountClass {
    /// The side on which this class's balance grows.
    pub fn normal_side(self) -> Side {
        match self {
            AccountClass::Asset | AccountClass::Expense => Side::Debit,
            AccountClass::Liability | AccountClass::Equity | AccountClass::Income => Side::Credit,
        }
    }
}

/// What the account is for. Clearing and settlement-reserve accounts are used
/// by the ledger itself for inter-branch bookings.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// A customer's account.
    #[default]
    Customer,
    /// 内部账户: every outbound posting needs approval and post-hoc review.
    Internal,
    /// The branch's clearing account with the clearing center (系统内往来), one per currency.
    Clearing,
    /// 备付金: the branch's settlement reserve, one per currency.
    SettlementReserve,
    /// Our account at another bank (存放同业).
    Nostro,
    /// Another bank's account with us (同业存放).
    Vostro,
    /// 挂账/暂收暂付: items waiting to be cleared.
    Suspense,
    /// 存放中央银行款项: the clearing center's reserve account at the central
    /// bank, one per currency, through which external participants settle.
    CentralBankReserve,
}

impl Purpose {
    /// The purpose as its snake_case word, as the API spells it.
    pub fn name(self) -> &'static str {
        match self {
            Purpose::Customer => "customer",
            Purpose::Internal => "internal",
            Purpose::Clearing => "clearing",
            Purpose::SettlementReserve => "settlement_reserve",
            Purpose::Nostro => "nostro",
            Purpose::Vostro => "vostro",
            Purpose::Suspense => "suspense",
            Purpose::CentralBankReserve => "central_bank_reserve",
        }
    }
}

/// Account flags. The two limit flags are TigerBeetle's: they count pending
/// amounts against the limit so that a reservation can never overdraw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountFlags {
    /// Debits (posted and pending) may not exceed posted credits: a deposit
    /// account that cannot be overdrawn.
    pub debits_must_not_exceed_credits: bool,
    /// Credits (posted and pending) may not exceed posted debits.
    pub credits_must_not_exceed_debits: bool,
    /// No posting may touch the account while it is frozen (冻结).
    pub frozen: bool,
    /// Closed (销户): no posting ever again.
    pub closed: bool,
}

/// The four running totals of an account, in minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Balance {
    /// Sum of posted debits.
    pub debits_posted: Amount,
    /// Sum of posted credits.
    pub credits_posted: Amount,
    /// Sum of debits reserved by pending entries.
    pub debits_pending: Amount,
    /// Sum of credits reserved by pending entries.
    pub credits_pending: Amount,
}

impl Balance {
    /// The posted balance on the class's normal side (negative when the
    /// account stands on the other side).
    pub fn posted(&self, class: AccountClass) -> Amount {
        match class.normal_side() {
            Side::Debit => self.debits_posted - self.credits_posted,
            Side::Credit => self.credits_posted - self.debits_posted,
        }
    }

    /// The posted balance less what pending entries have reserved against it.
    pub fn available(&self, class: AccountClass) -> Amount {
        match class.normal_side() {
            Side::Debit => self.posted(class) - self.credits_pending,
            Side::Credit => self.posted(class) - self.debits_pending,
        }
    }

    /// Whether the limit flags hold for this balance.
    pub fn within_limits(&self, flags: &AccountFlags) -> bool {
        let debits_ok = !flags.debits_must_not_exceed_credits
            || self.debits_posted + self.debits_pending <= self.credits_posted;
        let credits_ok = !flags.credits_must_not_exceed_debits
            || self.credits_posted + self.credits_pending <= self.debits_posted;
        debits_ok && credits_ok
    }

    /// Whether all four totals net to nothing outstanding (for closing).
    pub fn is_settled(&self) -> bool {
        self.debits_posted == self.credits_posted
            && self.debits_pending.is_zero()
            && self.credits_pending.is_zero()
    }
}

/// The request to open an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAccount {
    /// Client-chosen id.
    pub id: AccountId,
    /// The owning branch.
    pub branch: BranchCode,
    /// The account's one currency.
    pub currency: Currency,
    /// Accounting class.
    pub class: AccountClass,
    /// What it is for.
    pub purpose: Purpose,
    /// Initial flags (`closed` may not be set).
    pub flags: AccountFlags,
    /// A human-readable name.
    pub name: Option<String>,
}

/// An open (or closed) account with its balances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Client-chosen id.
    pub id: AccountId,
    /// The owning branch.
    pub branch: BranchCode,
    /// The account's one currency.
    pub currency: Currency,
    /// Accounting class.
    pub class: AccountClass,
    /// What it is for.
    pub purpose: Purpose,
    /// Current flags.
    pub flags: AccountFlags,
    /// A human-readable name.
    pub name: Option<String>,
    /// Running totals.
    pub balance: Balance,
    /// Where in the log it was opened.
    pub opened_at: Position,
    /// Who opened it.
    pub opened_by: PrincipalName,
}

impl Account {
    /// Whether a posting on `side` moves money out of the account (against its
    /// normal side): the postings that internal accounts must have approved.
    pub fn is_outbound(&self, side: Side) -> bool {
        side != self.class.normal_side()
    }
}
