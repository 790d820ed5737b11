//! Accounts by dense internal number, with each account's balance history.
//!
//! An account gets the next number when it is opened, so numbers follow open
//! order on every replica. The number is the account record's key and the
//! first half of each balance-history record's key, so a restore finds every
//! account at the number it had. Posting looks each account up by id once and
//! carries the number from there on: indexing a `Vec` instead of comparing
//! strings in a large map.
//!
//! The balance history is one log of rows in the order they were written
//! (appending never moves a row), and each account keeps the positions of
//! its rows with their place in the log.
//!
//! Change tracking works as in [`crate::table::Table`]: the numbers (and the
//! history keys) changed since the last call are handed out sorted and
//! without repeats.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::account::{Account, Balance};
use crate::amount::Amount;
use crate::currency::Currency;
use crate::id::AccountId;
use crate::id_index::IdIndex;
use crate::ledger::Position;
use crate::table::{DenseTable, Rebuild};

/// An account's dense internal number: its place in open order, from 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct AccountNo(u32);

/// A branch's dense internal number: its place in creation order, from 0.
/// Never stored: a restore numbers the branches again by creation position.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct BranchNo(pub(crate) u32);

impl AccountNo {
    pub(crate) fn new(n: u32) -> Self {
        AccountNo(n)
    }

    pub(crate) fn get(self) -> u32 {
        self.0
    }

    fn index(self) -> usize {
        self.0 as usize
    }
}

impl BranchNo {
    /// The number as an index into a `Vec` by branch number.
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

/// One account with what posting needs next to it.
#[derive(Debug, Clone)]
struct Slot {
    account: Account,
    branch: BranchNo,
    /// The account's history rows: position (ascending, one row per
    /// position) and place in the log.
    history: Vec<(Position, u64)>,
}

/// One balance-history row: an account's balance after a change at a position.
/// Every posting adds one, and every row stays in memory, so it is kept
/// small: 56 bytes instead of the 96 of the plain fields.
#[derive(Debug, Clone)]
struct Row {
    account: AccountNo,
    position_seq: u32,
    position_index: u64,
    balance: PackedBalance,
}

impl Row {
    fn new(account: AccountNo, position: Position, balance: Balance) -> Row {
        Row {
            account,
            position_seq: position.seq,
            position_index: position.index,
            balance: PackedBalance::new(balance),
        }
    }

    fn position(&self) -> Position {
        Position {
            index: self.position_index,
            seq: self.position_seq,
        }
    }
}

/// A balance's four sums as 64-bit integers when each fits (for any real
/// account they do: 2^63 minor units is 92 quadrillion yuan), else the
/// whole balance on the heap. Exact either way.
#[derive(Debug, Clone)]
enum PackedBalance {
    Narrow([i64; 4]),
    Wide(Box<Balance>),
}

impl PackedBalance {
    fn new(balance: Balance) -> PackedBalance {
        let sums = [
            balance.debits_posted,
            balance.credits_posted,
            balance.debits_pending,
            balance.credits_pending,
        ]
        .map(|sum| i64::try_from(sum.minor()));
        match sums {
            [Ok(a), Ok(b), Ok(c), Ok(d)] => PackedBalance::Narrow([a, b, c, d]),
            _ => PackedBalance::Wide(Box::new(balance)),
        }
    }

    fn get(&self) -> Balance {
        match self {
            PackedBalance::Narrow(sums) => {
                let [a, b, c, d] = sums.map(|sum| Amount::from_minor(i128::from(sum)));
                Balance {
                    debits_posted: a,
                    credits_posted: b,
                    debits_pending: c,
                    credits_pending: d,
                }
            }
            PackedBalance::Wide(balance) => **balance,
        }
    }
}

/// Every account, by number, with an index by id.
#[derive(Debug, Clone)]
pub(crate) struct AccountTable {
    slots: Vec<Slot>,
    /// For iterating by id.
    by_id: BTreeMap<AccountId, AccountNo>,
    /// For looking up by id.
    index: IdIndex<AccountNo>,
    /// Every history row, in the order written.
    rows: DenseTable<Row>,
    changed: Vec<AccountNo>,
    /// Rows written since the last call (by place in the log).
    history_changed: Vec<u64>,
    tracking: bool,
}

impl AccountTable {
    /// An empty table; `tracking` says whether changes are remembered.
    pub(crate) fn new(tracking: bool) -> Self {
        AccountTable {
            slots: Vec::new(),
            by_id: BTreeMap::new(),
            index: IdIndex::default(),
            rows: DenseTable::new(0, false),
            changed: Vec::new(),
            history_changed: Vec::new(),
            tracking,
        }
    }

    /// The number of the account `id`.
    pub(crate) fn number(&self, id: &AccountId) -> Option<AccountNo> {
        self.index
            .get(id.as_bytes(), |no| self.at(no).id.as_bytes())
    }

    /// Reads where a lookup of `id` starts (see `crate::warm`).
    pub(crate) fn warm_index(&self, id: &AccountId) -> u64 {
        self.index.warm(id.as_bytes())
    }

    /// The number a lookup of `id` would most likely answer (see `crate::warm`).
    pub(crate) fn guess(&self, id: &AccountId) -> Option<AccountNo> {
        self.index
            .guess(id.as_bytes())
            .filter(|no| no.index() < self.slots.len())
    }

    /// Reads what looking up and posting to account `no` reads first: its
    /// id, balance, flags and history's end (see `crate::warm`).
    pub(crate) fn warm(&self, no: AccountNo) -> u64 {
        let slot = &self.slots[no.index()];
        let balance = &slot.account.balance;
        (balance.debits_posted.minor() ^ balance.credits_pending.minor()) as u64
            ^ u64::from(slot.account.id.as_bytes()[0])
            ^ u64::from(slot.account.flags.closed)
            ^ slot.history.len() as u64
    }

    /// Reads the end of account `no`'s history (see `crate::warm`).
    pub(crate) fn warm_history(&self, no: AccountNo) -> u64 {
        let slot = &self.slots[no.index()];
        slot.history.last().map_or(0, |(_, row)| *row)
    }

    /// The account `id`.
    pub(crate) fn get(&self, id: &AccountId) -> Option<&Account> {
        self.number(id).map(|no| self.at(no))
    }

    /// The account numbered `no`.
    pub(crate) fn at(&self, no: AccountNo) -> &Account {
        &self.slots[no.index()].account
    }

    /// The owning branch of account `no`.
    pub(crate) fn branch_of(&self, no: AccountNo) -> BranchNo {
        self.slots[no.index()].branch
    }

    /// A mutable reference to account `no`, which counts as changed. Balances
    /// change through [`AccountTable::set_balance`] only.
    pub(crate) fn at_mut(&mut self, no: AccountNo) -> &mut Account {
        if self.tracking {
            self.changed.push(no);
        }
        &mut self.slots[no.index()].account
    }

    /// Adds a newly opened account (whose id is not in use) and returns its number.
    pub(crate) fn open(&mut self, account: Account, branch: BranchNo) -> AccountNo {
        let no = AccountNo(u32::try_from(self.slots.len()).expect("fewer than 2^32 accounts"));
        let previous = self.by_id.insert(account.id.clone(), no);
        assert!(previous.is_none(), "an account id is opened once");
        self.slots.push(Slot {
            account,
            branch,
            history: Vec::new(),
        });
        let AccountTable { slots, index, .. } = self;
        let id = &slots[no.index()].account.id;
        index.insert(id.as_bytes(), no, |no| {
            slots[no.index()].account.id.as_bytes()
        });
        if self.tracking {
            self.changed.push(no);
        }
        no
    }

    /// Replaces the balance of account `no` at `position`, recording it in the
    /// history; returns the account's currency and its previous balance.
    pub(crate) fn set_balance(
        &mut self,
        no: AccountNo,
        position: Position,
        balance: Balance,
    ) -> (Currency, Balance) {
        let slot = &mut self.slots[no.index()];
        let old = std::mem::replace(&mut slot.account.balance, balance);
        let row = match slot.history.last() {
            Some(&(last, row)) if last == position => {
                self.rows.get_mut(&row).expect("rows exist").balance = PackedBalance::new(balance);
                row
            }
            last => {
                assert!(
                    last.is_none_or(|(last, _)| *last < position),
                    "balance history only grows"
                );
                let row = self.rows.next_key();
                self.rows.insert(row, Row::new(no, position, balance));
                slot.history.push((position, row));
                row
            }
        };
        if self.tracking {
            self.changed.push(no);
            self.history_changed.push(row);
        }
        (slot.account.currency, old)
    }

    /// The balance of account `no` after the last change at or before `end`.
    pub(crate) fn balance_at(&self, no: AccountNo, end: Position) -> Option<Balance> {
        let history = &self.slots[no.index()].history;
        let after = history.partition_point(|(position, _)| *position <= end);
        let (_, row) = history[..after].last()?;
        Some(self.rows.get(row).expect("rows exist").balance.get())
    }

    /// All accounts, by id.
    pub(crate) fn values(&self) -> impl Iterator<Item = &Account> {
        self.by_id.values().map(|no| self.at(*no))
    }

    /// Every account's balance after the last change at or before `end`, by
    /// number. Done level by level for a run of accounts at a time — first
    /// where each one's row is, then the rows — so that the waits for memory
    /// of different accounts overlap (see `crate::warm`).
    pub(crate) fn balances_at(&self, end: Position) -> Vec<Option<Balance>> {
        const RUN: usize = 64;
        let mut balances = Vec::with_capacity(self.slots.len());
        let mut rows = Vec::with_capacity(RUN);
        for run in self.slots.chunks(RUN) {
            // Read every cache line of each history first: the loads do not
            // depend on each other, so they overlap; the searches then hit.
            let mut sink = 0u64;
            for slot in run {
                for (position, _) in slot.history.iter().step_by(2) {
                    sink ^= position.index;
                }
            }
            std::hint::black_box(sink);
            rows.clear();
            rows.extend(run.iter().map(|slot| {
                let after = slot
                    .history
                    .partition_point(|(position, _)| *position <= end);
                after.checked_sub(1).map(|at| slot.history[at].1)
            }));
            balances.extend(
                rows.iter().map(|row| {
                    row.map(|row| self.rows.get(&row).expect("rows exist").balance.get())
                }),
            );
        }
        balances
    }

    /// All accounts, by number.
    pub(crate) fn numbered(&self) -> impl Iterator<Item = (AccountNo, &Account)> {
        self.slots
            .iter()
            .enumerate()
            .map(|(n, slot)| (AccountNo(n as u32), &slot.account))
    }

    /// Every balance-history row, in key order.
    pub(crate) fn history(&self) -> impl Iterator<Item = ((AccountNo, Position), Balance)> {
        self.numbered_slots().flat_map(move |(no, slot)| {
            slot.history.iter().map(move |(position, row)| {
                let row = self.rows.get(row).expect("rows exist");
                ((no, *position), row.balance.get())
            })
        })
    }

    fn numbered_slots(&self) -> impl Iterator<Item = (AccountNo, &Slot)> {
        self.slots
            .iter()
            .enumerate()
            .map(|(n, slot)| (AccountNo(n as u32), slot))
    }

    /// The accounts changed since the last call, sorted and without repeats.
    pub(crate) fn take_changed(&mut self) -> Vec<AccountNo> {
        let mut changed = std::mem::take(&mut self.changed);
        changed.sort_unstable();
        changed.dedup();
        changed
    }

    /// The history rows added or replaced since the last call, with their
    /// balances, sorted by key and without repeats.
    pub(crate) fn take_history_changed(&mut self) -> Vec<((AccountNo, Position), Balance)> {
        let mut changed = std::mem::take(&mut self.history_changed);
        changed.sort_unstable();
        changed.dedup();
        let mut rows: Vec<_> = changed
            .into_iter()
            .map(|row| {
                let row = self.rows.get(&row).expect("rows exist");
                ((row.account, row.position()), row.balance.get())
            })
            .collect();
        rows.sort_unstable_by_key(|(key, _)| *key);
        rows
    }

    /// Rebuilds the table from restored records: accounts by number (which
    /// must run from 0 without gaps) and the balance history's rows. `branch`
    /// gives an account's branch number.
    pub(crate) fn restore(
        accounts: impl IntoIterator<Item = (AccountNo, Account)>,
        history: HistoryRows,
        branch: impl Fn(&Account) -> Option<BranchNo>,
        tracking: bool,
    ) -> Result<AccountTable, String> {
        let mut table = AccountTable::new(tracking);
        for (no, account) in accounts {
            if no.index() != table.slots.len() {
                return Err(format!("account number {} is out of sequence", no.0));
            }
            let Some(branch_no) = branch(&account) else {
                return Err(format!(
                    "account {} names a missing branch {}",
                    account.id, account.branch
                ));
            };
            if table.by_id.insert(account.id.clone(), no).is_some() {
                return Err(format!("account {} has two numbers", account.id));
            }
            table.slots.push(Slot {
                account,
                branch: branch_no,
                history: Vec::new(),
            });
            let AccountTable { slots, index, .. } = &mut table;
            let id = &slots[no.index()].account.id;
            index.insert(id.as_bytes(), no, |no| {
                slots[no.index()].account.id.as_bytes()
            });
        }
        // Each account's list of rows is allocated once, at its length.
        let mut counts = vec![0usize; table.slots.len()];
        for row in history.rows.values() {
            *counts.get_mut(row.account.index()).ok_or_else(|| {
                format!("balance history names a missing account {}", row.account.0)
            })? += 1;
        }
        for (slot, count) in table.slots.iter_mut().zip(counts) {
            slot.history.reserve_exact(count);
        }
        // Each account's rows came in position order.
        table.rows = history.rows;
        let AccountTable { slots, rows, .. } = &mut table;
        for (place, row) in rows.iter() {
            slots[row.account.index()]
                .history
                .push((row.position(), place));
        }
        Ok(table)
    }
}

/// The balance history's rows as they are restored, in the order they
/// arrive: a store gives them by key (position, then account number), a
/// snapshot account by account. Either way each account's rows come in
/// position order, which is all an account's list of rows needs; the rows'
/// own order is never read.
pub(crate) struct HistoryRows {
    rows: DenseTable<Row>,
    /// Each account's last position so far, by account number.
    last: Vec<Option<Position>>,
}

impl HistoryRows {
    pub(crate) fn new() -> HistoryRows {
        HistoryRows {
            rows: DenseTable::new(0, false),
            last: Vec::new(),
        }
    }
}

impl Rebuild for HistoryRows {
    type Key = (Position, AccountNo);
    type Value = Balance;

    fn check_next(&self, &(position, no): &(Position, AccountNo)) -> Result<(), String> {
        match self.last.get(no.index()).copied().flatten() {
            Some(last) if last >= position => Err(format!(
                "the balance of account {} at {}.{} is repeated or out of order",
                no.0, position.index, position.seq
            )),
            _ => Ok(()),
        }
    }

    fn append(
        &mut self,
        (position, no): (Position, AccountNo),
        balance: Balance,
    ) -> Result<(), String> {
        if self.last.len() <= no.index() {
            self.last.resize(no.index() + 1, None);
        }
        self.last[no.index()] = Some(position);
        let place = self.rows.next_key();
        self.rows.insert(place, Row::new(no, position, balance));
        Ok(())
    }

    fn into_records(self) -> Vec<((Position, AccountNo), Balance)> {
        self.rows
            .into_records()
            .into_iter()
            .map(|(_, row)| ((row.position(), row.account), row.balance.get()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_history_row_keeps_any_balance_exactly() {
        let wide = i128::from(i64::MAX) + 1;
        let sums = [0, 1, 250, i128::from(i64::MAX), wide, -wide, i128::MAX];
        for (n, &sum) in sums.iter().enumerate() {
            let balance = Balance {
                debits_posted: Amount::from_minor(sum),
                credits_posted: Amount::from_minor(sums[(n + 1) % sums.len()]),
                debits_pending: Amount::from_minor(7),
                credits_pending: Amount::from_minor(sum / 3),
            };
            let position = Position {
                index: u64::MAX - n as u64,
                seq: u32::MAX - n as u32,
            };
            let row = Row::new(AccountNo(n as u32), position, balance);
            assert_eq!(row.balance.get(), balance);
            assert_eq!(row.position(), position);
            assert_eq!(row.account, AccountNo(n as u32));
        }
        assert!(
            std::mem::size_of::<Row>() <= 56,
            "a history row stays small"
        );
    }

    #[test]
    fn history_rows_are_taken_in_key_order_and_account_by_account() {
        let balance = |n: i128| Balance {
            credits_posted: Amount::from_minor(n),
            ..Balance::default()
        };
        let at = |index: u64| Position { index, seq: 0 };
        let keys: Vec<(Position, AccountNo)> = (1..=3)
            .flat_map(|index| (0..2).map(move |no| (at(index), AccountNo(no))))
            .collect();
        let mut by_account = keys.clone();
        by_account.sort_by_key(|&(position, no)| (no, position));
        for order in [&keys, &by_account] {
            let mut rows = HistoryRows::new();
            for &(position, no) in order {
                rows.check_next(&(position, no)).unwrap();
                rows.append((position, no), balance(position.index as i128))
                    .unwrap();
            }
            // A repeat, and an account going back in time, are not next.
            assert!(rows.check_next(&(at(3), AccountNo(1))).is_err());
            assert!(rows.check_next(&(at(2), AccountNo(0))).is_err());
            assert!(
                rows.check_next(&(at(1), AccountNo(2))).is_ok(),
                "a new account"
            );
            let records = rows.into_records();
            let restored: Vec<_> = records.iter().map(|&(key, _)| key).collect();
            assert_eq!(&restored, order, "rows stay in the order they came");
            assert!(
                records
                    .iter()
                    .all(|((position, _), b)| *b == balance(position.index as i128))
            );
        }
    }
}
