//! Balance snapshots as of a past point: the trial balance (试算平衡) of the
//! whole ledger or one branch, and end-of-day balances (日终余额) of an
//! account.
//!
//! Every figure of one answer is read at one log index, which the answer
//! names: each account's balance is the last row of its balance history at
//! or before the end of that index. A point the ledger cannot answer for (in
//! the future, before the first entry, an unknown branch) is a named error,
//! never an empty answer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::account::{AccountClass, Balance};
use crate::amount::Amount;
use crate::currency::Currency;
use crate::id::{AccountId, BranchCode};
use crate::ledger::{Ledger, Position};
use crate::queries::PointInTimeError;
use crate::time::{Date, Timestamp};

/// The most days one end-of-day query may span.
pub const END_OF_DAY_SPAN_MAX_DAYS: i32 = 366;

/// One account's line of a trial balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrialBalanceLine {
    /// The account.
    pub account: AccountId,
    /// Its branch.
    pub branch: BranchCode,
    /// Its currency.
    pub currency: Currency,
    /// Its class.
    pub class: AccountClass,
    /// Its balance at the snapshot's index.
    pub balance: Balance,
}

/// Debit and credit totals of a group of accounts. The debit balance of an
/// account is what its posted debits exceed its posted credits by, and the
/// other way round for a credit balance; the two sums agree exactly when
/// posted debits and credits do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Sum of posted debits.
    pub debits_posted: Amount,
    /// Sum of posted credits.
    pub credits_posted: Amount,
    /// Sum of the accounts' debit balances.
    pub debit_balances: Amount,
    /// Sum of the accounts' credit balances.
    pub credit_balances: Amount,
}

impl Totals {
    fn add(&mut self, balance: &Balance) {
        self.debits_posted += balance.debits_posted;
        self.credits_posted += balance.credits_posted;
        let net = balance.debits_posted - balance.credits_posted;
        if net.is_positive() {
            self.debit_balances += net;
        } else {
            self.credit_balances += net.negated();
        }
    }

    /// Whether debits and credits agree.
    pub fn balanced(&self) -> bool {
        self.debits_posted == self.credits_posted && self.debit_balances == self.credit_balances
    }
}

/// Totals of one branch, currency and account class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassTotals {
    /// The branch.
    pub branch: BranchCode,
    /// The currency.
    pub currency: Currency,
    /// The class.
    pub class: AccountClass,
    /// The totals.
    pub totals: Totals,
}

/// Totals of one branch and currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchTotals {
    /// The branch.
    pub branch: BranchCode,
    /// The currency.
    pub currency: Currency,
    /// The totals.
    pub totals: Totals,
}

/// Totals of one currency over every account in the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrencyTotals {
    /// The currency.
    pub currency: Currency,
    /// The totals.
    pub totals: Totals,
}

/// A trial balance at one log index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrialBalance {
    /// The log index every figure was read at.
    pub index: u64,
    /// The time of the last command applied at or before that index.
    pub at: Timestamp,
    /// The branch asked for; `None` for the whole ledger.
    pub branch: Option<BranchCode>,
    /// Every account open at the index, in the order they were opened.
    pub accounts: Vec<TrialBalanceLine>,
    /// Per branch, currency and class.
    pub classes: Vec<ClassTotals>,
    /// Per branch and currency.
    pub branches: Vec<BranchTotals>,
    /// Per currency.
    pub currencies: Vec<CurrencyTotals>,
}

/// An account's balance at the end of one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayBalance {
    /// The day.
    pub date: Date,
    /// The last log index applied before the day ended.
    pub index: u64,
    /// The balance then.
    pub balance: Balance,
}

impl Ledger {
    /// The first log index that applied anything.
    fn first_index(&self) -> Option<u64> {
        self.index_times.iter().next().map(|(index, _)| *index)
    }

    /// Checks that log index `index` is one this ledger can answer for.
    pub fn check_index(&self, index: u64) -> Result<(), PointInTimeError> {
        if index > self.meta.applied_index {
            return Err(PointInTimeError::InTheFuture {
                asked: index,
                applied: self.meta.applied_index,
            });
        }
        match self.first_index() {
            Some(first) if index >= first => Ok(()),
            first => Err(PointInTimeError::IndexBeforeFirstEntry {
                asked: index,
                first: first.unwrap_or(0),
            }),
        }
    }

    /// The trial balance (of `branch`, if given) at the end of log index
    /// `index`.
    pub fn trial_balance(
        &self,
        index: u64,
        branch: Option<&BranchCode>,
    ) -> Result<TrialBalance, PointInTimeError> {
        self.check_index(index)?;
        // A branch created after the index did not exist then.
        if let Some(branch) = branch
            && self
                .branches
                .get(branch)
                .is_none_or(|found| found.created_at.index > index)
        {
            return Err(PointInTimeError::BranchNotFound(branch.clone()));
        }
        let end = Position::end_of(index);
        // The whole ledger reads every account, fastest all at once; one
        // branch reads its own accounts only.
        let all = branch.is_none().then(|| self.accounts.balances_at(end));
        let boundary = self.accounts.history_boundary(end);
        let mut accounts = Vec::new();
        // Keyed by branch number while summing: no string compares per account.
        let mut by_number: BTreeMap<(u32, Currency, AccountClass), Totals> = BTreeMap::new();
        for (no, account) in self.accounts.numbered() {
            if account.opened_at.index > index || branch.is_some_and(|b| *b != account.branch) {
                continue;
            }
            let balance = match &all {
                Some(all) => all[no.get() as usize],
                None => self.accounts.balance_before(no, boundary),
            }
            .unwrap_or_default();
            let branch_no = self.accounts.branch_of(no).0;
            by_number
                .entry((branch_no, account.currency, account.class))
                .or_default()
                .add(&balance);
            accounts.push(TrialBalanceLine {
                account: account.id.clone(),
                branch: account.branch.clone(),
                currency: account.currency,
                class: account.class,
                balance,
            });
        }
        let codes = &self.derived.branch_codes;
        let classes: BTreeMap<(&BranchCode, Currency, AccountClass), Totals> = by_number
            .into_iter()
            .map(|((no, currency, class), totals)| ((&codes[no as usize], currency, class), totals))
            .collect();
        let mut branches: BTreeMap<(&BranchCode, Currency), Totals> = BTreeMap::new();
        let mut currencies: BTreeMap<Currency, Totals> = BTreeMap::new();
        for ((branch, currency, _), totals) in &classes {
            for sum in [
                branches.entry((branch, *currency)).or_default(),
                currencies.entry(*currency).or_default(),
            ] {
                sum.debits_posted += totals.debits_posted;
                sum.credits_posted += totals.credits_posted;
                sum.debit_balances += totals.debit_balances;
                sum.credit_balances += totals.credit_balances;
            }
        }
        if branch.is_none() {
            for (currency, totals) in &currencies {
                assert!(totals.balanced(), "{currency} unbalanced at index {index}");
            }
        }
        Ok(TrialBalance {
            index,
            at: self.time_of_index(index),
            branch: branch.cloned(),
            accounts,
            classes: classes
                .into_iter()
                .map(|((branch, currency, class), totals)| ClassTotals {
                    branch: branch.clone(),
                    currency,
                    class,
                    totals,
                })
                .collect(),
            branches: branches
                .into_iter()
                .map(|((branch, currency), totals)| BranchTotals {
                    branch: branch.clone(),
                    currency,
                    totals,
                })
                .collect(),
            currencies: currencies
                .into_iter()
                .map(|(currency, totals)| CurrencyTotals { currency, totals })
                .collect(),
        })
    }

    /// The time of the last command applied at or before `index`.
    fn time_of_index(&self, index: u64) -> Timestamp {
        self.index_times
            .last_up_to(&index)
            .map(|(_, at)| *at)
            .unwrap_or_default()
    }

    /// The balance of account `id` at the end of each day from `from` to
    /// `to`, read at the last log index applied before the day ended. `now`
    /// is the reader's clock: a day that has not ended by then has no
    /// end-of-day balance yet.
    pub fn end_of_day_balances(
        &self,
        id: &AccountId,
        from: Date,
        to: Date,
        now: Timestamp,
    ) -> Result<Vec<DayBalance>, PointInTimeError> {
        let no = self
            .accounts
            .number(id)
            .ok_or_else(|| PointInTimeError::AccountNotFound(id.clone()))?;
        if to < from || to.0 - from.0 >= END_OF_DAY_SPAN_MAX_DAYS {
            return Err(PointInTimeError::DaySpan {
                from,
                to,
                max_days: END_OF_DAY_SPAN_MAX_DAYS,
            });
        }
        if to.next().start() > now {
            return Err(PointInTimeError::DayNotEnded(to));
        }
        let opened = self.accounts.at(no).opened_at.index;
        let mut days = Vec::new();
        let mut date = from;
        while date <= to {
            let day_end = Timestamp(date.next().start().0 - 1);
            let index = if day_end >= self.meta.applied_at {
                self.meta.applied_index
            } else {
                self.index_at_time(day_end)?
            };
            if index < opened {
                return Err(PointInTimeError::NotYetOpened {
                    account: id.clone(),
                    opened,
                    asked: index,
                });
            }
            let balance = self
                .accounts
                .balance_at(no, Position::end_of(index))
                .unwrap_or_default();
            days.push(DayBalance {
                date,
                index,
                balance,
            });
            date = date.next();
        }
        Ok(days)
    }
}
