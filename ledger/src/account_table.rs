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
//! (appending never moves a row), and each account keeps the places of its
//! rows in the log (eight bytes each; the position is read from the row).
//! Posting learns whether an account's last row is at the position being
//! applied from the row's place alone (the log remembers where that
//! position's rows begin), without reading the row.
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
    /// The places of the account's history rows in the log, in position
    /// order (one row per position).
    history: Vec<u64>,
    /// The last of them, kept beside the account as well: every posting
    /// reads it (is the row at the position being applied?), and the end
    /// of the list is elsewhere in memory, one more wait.
    last_row: Option<u64>,
}

impl Slot {
    fn new(account: Account, branch: BranchNo) -> Slot {
        Slot {
            account,
            branch,
            history: Vec::new(),
            last_row: None,
        }
    }

    fn push_row(&mut self, place: u64) {
        self.history.push(place);
        self.last_row = Some(place);
    }
}

/// One balance-history row: an account's balance after a change at a
/// position. Every posting adds one and every row stays in memory, so it is
/// 48 bytes (where it was 56, with 24 more in the account's list): the
/// position, the account and the four sums as 64-bit integers. A sum outside
/// `0..=i64::MAX` (no real account has one: 2^63 minor units is 92
/// quadrillion yuan) marks the row wide, and its balance is kept whole
/// beside the log, so every balance is exact.
#[derive(Debug, Clone, Copy)]
struct Row {
    index: u64,
    seq: u32,
    account: AccountNo,
    sums: [i64; 4],
}

/// The first sum of a row whose balance is kept whole beside the log.
const WIDE: i64 = -1;

impl Row {
    fn position(&self) -> Position {
        Position {
            index: self.index,
            seq: self.seq,
        }
    }
}

/// The balance history's rows in the order they were written (appending
/// never moves one), with the wide ones' balances. The log is in position
/// order: rows are written as the log is applied, and a restore takes them
/// in key order (position, then account).
#[derive(Debug, Clone)]
struct RowLog {
    rows: DenseTable<Row>,
    wide: BTreeMap<u64, Balance>,
    /// The position of the last row written, and the place of the first
    /// row written at it: whether an account's last row is at the position
    /// being applied shows from its place alone, without reading the row.
    latest: Option<(Position, u64)>,
}

impl RowLog {
    fn new() -> RowLog {
        RowLog {
            rows: DenseTable::new(0, false),
            wide: BTreeMap::new(),
            latest: None,
        }
    }

    /// The sums of a row for `balance` at `place`, keeping it whole when it
    /// does not fit (a place holds no whole balance before).
    fn sums(&mut self, place: u64, balance: Balance) -> [i64; 4] {
        let sums = [
            balance.debits_posted,
            balance.credits_posted,
            balance.debits_pending,
            balance.credits_pending,
        ]
        .map(|sum| i64::try_from(sum.minor()).ok().filter(|sum| *sum >= 0));
        match sums {
            [Some(a), Some(b), Some(c), Some(d)] => [a, b, c, d],
            _ => {
                self.wide.insert(place, balance);
                [WIDE, 0, 0, 0]
            }
        }
    }

    /// Appends a row and returns its place.
    fn push(&mut self, account: AccountNo, position: Position, balance: Balance) -> u64 {
        let place = self.rows.next_key();
        match self.latest {
            Some((latest, _)) if latest == position => {}
            latest => {
                assert!(
                    latest.is_none_or(|(latest, _)| latest < position),
                    "balance history is written in position order"
                );
                self.latest = Some((position, place));
            }
        }
        let sums = self.sums(place, balance);
        self.rows.insert(
            place,
            Row {
                index: position.index,
                seq: position.seq,
                account,
                sums,
            },
        );
        place
    }

    /// The place after the last row written at or before `end`: every row
    /// before it was, none from it on.
    fn boundary(&self, end: Position) -> u64 {
        let (mut low, mut high) = (0, self.rows.next_key());
        while low < high {
            let mid = low + (high - low) / 2;
            if self.position(mid) <= end {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        low
    }

    /// Whether the row at `place` was written at `position`, the position
    /// of the last row written (rows are written in position order).
    fn written_at_latest(&self, place: u64, position: Position) -> bool {
        self.latest
            .is_some_and(|(latest, first)| latest == position && place >= first)
    }

    /// Replaces the balance of the row at `place`.
    fn set(&mut self, place: u64, balance: Balance) {
        self.wide.remove(&place);
        let sums = self.sums(place, balance);
        self.rows.get_mut(&place).expect("rows exist").sums = sums;
    }

    fn row(&self, place: u64) -> &Row {
        self.rows.get(&place).expect("rows exist")
    }

    fn position(&self, place: u64) -> Position {
        self.row(place).position()
    }

    fn balance(&self, place: u64) -> Balance {
        let sums = self.row(place).sums;
        if sums[0] == WIDE {
            return self.wide[&place];
        }
        let [a, b, c, d] = sums.map(|sum| Amount::from_minor(i128::from(sum)));
        Balance {
            debits_posted: a,
            credits_posted: b,
            debits_pending: c,
            credits_pending: d,
        }
    }
}

/// Where the balance history stands after a position: the place of the
/// first row written after it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HistoryBoundary(u64);

/// Every account, by number, with an index by id.
#[derive(Debug, Clone)]
pub(crate) struct AccountTable {
    slots: Vec<Slot>,
    /// For iterating by id.
    by_id: BTreeMap<AccountId, AccountNo>,
    /// For looking up by id.
    index: IdIndex<AccountNo>,
    /// Every history row, in the order written.
    rows: RowLog,
    changed: Vec<AccountNo>,
    /// Rows written since the last call: account and place in the log.
    history_changed: Vec<(AccountNo, u64)>,
    tracking: bool,
}

impl AccountTable {
    /// An empty table; `tracking` says whether changes are remembered.
    pub(crate) fn new(tracking: bool) -> Self {
        AccountTable {
            slots: Vec::new(),
            by_id: BTreeMap::new(),
            index: IdIndex::default(),
            rows: RowLog::new(),
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

    /// Reads where lookups of `ids` start (see `crate::warm`).
    pub(crate) fn warm_index<'a>(&self, ids: impl Iterator<Item = &'a AccountId>) -> u64 {
        self.index.warm(ids.map(AccountId::as_bytes))
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
        slot.history.last().copied().unwrap_or_default()
    }

    /// The account `id`.
    pub(crate) fn get(&self, id: &AccountId) -> Option<&Account> {
        self.number(id).map(|no| self.at(no))
    }

    /// The account numbered `no`.
    pub(crate) fn at(&self, no: AccountNo) -> &Account {
        &self.slots[no.index()].account
    }

    /// Account `no` as its record stores it: with a zero balance, because
    /// the balance is the account's last history row (which a restore reads
    /// it from). So posting writes history rows alone, not the account's
    /// record two more times per transfer.
    pub(crate) fn stored(&self, no: AccountNo) -> Account {
        Account {
            balance: Balance::default(),
            ..self.at(no).clone()
        }
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
        self.slots.push(Slot::new(account, branch));
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
        let place = match slot.last_row {
            Some(place) if self.rows.written_at_latest(place, position) => {
                self.rows.set(place, balance);
                place
            }
            _ => {
                let place = self.rows.push(no, position, balance);
                slot.push_row(place);
                place
            }
        };
        // The account's record is not rewritten: a stored record leaves the
        // balance out, and a restore takes it from this row.
        if self.tracking {
            self.history_changed.push((no, place));
        }
        (slot.account.currency, old)
    }

    /// The balance of account `no` after the last change at or before `end`.
    pub(crate) fn balance_at(&self, no: AccountNo, end: Position) -> Option<Balance> {
        self.balance_before(no, self.history_boundary(end))
    }

    /// Where the balance history stands after `end`, for
    /// [`AccountTable::balance_before`]: one search of the whole history,
    /// made once for any number of accounts.
    pub(crate) fn history_boundary(&self, end: Position) -> HistoryBoundary {
        HistoryBoundary(self.rows.boundary(end))
    }

    /// The balance of account `no` after its last change before `boundary`.
    pub(crate) fn balance_before(
        &self,
        no: AccountNo,
        boundary: HistoryBoundary,
    ) -> Option<Balance> {
        let history = &self.slots[no.index()].history;
        let after = history.partition_point(|&place| place < boundary.0);
        let place = *history[..after].last()?;
        Some(self.rows.balance(place))
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
        let boundary = self.rows.boundary(end);
        let mut balances = Vec::with_capacity(self.slots.len());
        let mut places = Vec::with_capacity(RUN);
        for run in self.slots.chunks(RUN) {
            // Read every cache line of each history first: the loads do not
            // depend on each other, so they overlap; the searches then hit.
            let mut sink = 0u64;
            for slot in run {
                for place in slot.history.iter().step_by(8) {
                    sink ^= place;
                }
            }
            std::hint::black_box(sink);
            places.clear();
            places.extend(run.iter().map(|slot| {
                let after = slot.history.partition_point(|&place| place < boundary);
                after.checked_sub(1).map(|at| slot.history[at])
            }));
            balances.extend(
                places
                    .iter()
                    .map(|place| place.map(|place| self.rows.balance(place))),
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

    /// Every balance-history row, in key order: position, then account.
    pub(crate) fn history(&self) -> impl Iterator<Item = ((AccountNo, Position), Balance)> {
        let end = self.rows.rows.next_key();
        let mut next = 0;
        // The rows of one position (one command), in account order, last first.
        let mut run: Vec<(AccountNo, u64)> = Vec::new();
        std::iter::from_fn(move || {
            if run.is_empty() && next < end {
                let position = self.rows.position(next);
                while next < end && self.rows.position(next) == position {
                    run.push((self.rows.row(next).account, next));
                    next += 1;
                }
                run.sort_unstable_by(|a, b| b.cmp(a));
            }
            let (no, place) = run.pop()?;
            Some(((no, self.rows.position(place)), self.rows.balance(place)))
        })
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
        // An account's rows are placed in position order, so this is key order.
        changed.sort_unstable();
        changed.dedup();
        changed
            .into_iter()
            .map(|(no, place)| ((no, self.rows.position(place)), self.rows.balance(place)))
            .collect()
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
            table.slots.push(Slot::new(account, branch_no));
            let AccountTable { slots, index, .. } = &mut table;
            let id = &slots[no.index()].account.id;
            index.insert(id.as_bytes(), no, |no| {
                slots[no.index()].account.id.as_bytes()
            });
        }
        // Each account's list of rows is allocated once, at its length.
        let mut counts = vec![0usize; table.slots.len()];
        for row in history.rows.rows.iter().map(|(_, row)| row) {
            *counts.get_mut(row.account.index()).ok_or_else(|| {
                format!("balance history names a missing account {}", row.account.0)
            })? += 1;
        }
        for (slot, count) in table.slots.iter_mut().zip(counts) {
            slot.history.reserve_exact(count);
        }
        // The rows came in key order, so each account's in position order.
        table.rows = history.rows;
        let AccountTable { slots, rows, .. } = &mut table;
        for (place, row) in rows.rows.iter() {
            slots[row.account.index()].push_row(place);
        }
        // Each balance is the account's last row. A record written before
        // records left balances out holds that same balance.
        for slot in slots.iter_mut() {
            let balance = slot
                .history
                .last()
                .map_or_else(Balance::default, |&place| rows.balance(place));
            let stored = std::mem::replace(&mut slot.account.balance, balance);
            if stored != Balance::default() && stored != balance {
                return Err(format!(
                    "account {}: its record's balance is not its last history row's",
                    slot.account.id
                ));
            }
        }
        Ok(table)
    }
}

/// The balance history's rows as they are restored. They must come in key
/// order (position, then account), as a store and [`crate::Ledger::records`]
/// give them, so that the log is in position order; any other order is
/// collected and sorted first (see [`crate::table::Sequenced`]).
pub(crate) struct HistoryRows {
    rows: RowLog,
    /// The last key so far.
    last: Option<(Position, AccountNo)>,
}

impl HistoryRows {
    pub(crate) fn new() -> HistoryRows {
        HistoryRows {
            rows: RowLog::new(),
            last: None,
        }
    }
}

impl Rebuild for HistoryRows {
    type Key = (Position, AccountNo);
    type Value = Balance;

    fn check_next(&self, &(position, no): &(Position, AccountNo)) -> Result<(), String> {
        match self.last {
            Some(last) if last >= (position, no) => Err(format!(
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
        self.last = Some((position, no));
        self.rows.push(no, position, balance);
        Ok(())
    }

    fn into_records(self) -> Vec<((Position, AccountNo), Balance)> {
        self.rows
            .rows
            .iter()
            .map(|(place, row)| ((row.position(), row.account), self.rows.balance(place)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Sequenced;

    #[test]
    fn a_history_row_keeps_any_balance_exactly() {
        let wide = i128::from(i64::MAX) + 1;
        let sums = [0, 1, 250, -1, i128::from(i64::MAX), wide, -wide, i128::MAX];
        let balance_of = |n: usize| Balance {
            debits_posted: Amount::from_minor(sums[n % sums.len()]),
            credits_posted: Amount::from_minor(sums[(n + 1) % sums.len()]),
            debits_pending: Amount::from_minor(7),
            credits_pending: Amount::from_minor(sums[n % sums.len()] / 3),
        };
        let mut log = RowLog::new();
        for n in 0..sums.len() {
            // The highest positions, in order.
            let position = Position {
                index: u64::MAX - (sums.len() - n) as u64,
                seq: u32::MAX - (sums.len() - n) as u32,
            };
            let place = log.push(AccountNo(n as u32), position, balance_of(n));
            assert_eq!(log.balance(place), balance_of(n));
            assert_eq!(log.position(place), position);
            assert_eq!(log.row(place).account, AccountNo(n as u32));
        }
        // Replacing a row's balance, narrow by wide and wide by narrow, keeps
        // it exact and keeps only the wide ones whole.
        for place in 0..sums.len() as u64 {
            let n = place as usize + 3;
            log.set(place, balance_of(n));
            assert_eq!(log.balance(place), balance_of(n));
        }
        let wide_rows = (0..sums.len() as u64)
            .filter(|&place| log.row(place).sums[0] == WIDE)
            .count();
        assert_eq!(log.wide.len(), wide_rows);
        assert!(wide_rows > 0 && wide_rows < sums.len());
        assert!(
            std::mem::size_of::<Row>() <= 48,
            "a history row stays small"
        );
    }

    #[test]
    fn only_a_row_of_the_latest_position_counts_as_written_at_it() {
        let at = |index: u64| Position { index, seq: 0 };
        let mut log = RowLog::new();
        let a_first = log.push(AccountNo(0), at(1), Balance::default());
        let b = log.push(AccountNo(1), at(2), Balance::default());
        // Account 0's row is at position 1, before the latest.
        assert!(!log.written_at_latest(a_first, at(2)));
        assert!(!log.written_at_latest(a_first, at(1)));
        assert!(log.written_at_latest(b, at(2)));
        let a_second = log.push(AccountNo(0), at(2), Balance::default());
        assert!(log.written_at_latest(a_second, at(2)));
        // A later position has no rows yet.
        assert!(!log.written_at_latest(b, at(3)));
    }

    #[test]
    #[should_panic(expected = "balance history is written in position order")]
    fn a_row_before_the_latest_position_is_refused() {
        let at = |index: u64| Position { index, seq: 0 };
        let mut log = RowLog::new();
        log.push(AccountNo(0), at(2), Balance::default());
        log.push(AccountNo(1), at(1), Balance::default());
    }

    #[test]
    fn a_restored_balance_is_the_last_history_row_and_a_stored_one_must_agree() {
        use crate::account::{AccountClass, AccountFlags, Purpose};
        use crate::id::{BranchCode, PrincipalName};
        let at = |index: u64| Position { index, seq: 0 };
        let credited = |n: i128| Balance {
            credits_posted: Amount::from_minor(n),
            ..Balance::default()
        };
        let account = |id: &str, balance: Balance| Account {
            id: AccountId::new(id).unwrap(),
            branch: BranchCode::new("SH01").unwrap(),
            currency: Currency::new("CNY").unwrap(),
            class: AccountClass::Liability,
            purpose: Purpose::Customer,
            flags: AccountFlags::default(),
            name: None,
            balance,
            opened_at: at(1),
            opened_by: PrincipalName::new("operator-1").unwrap(),
        };
        let mut live = AccountTable::new(true);
        let a = live.open(account("A", Balance::default()), BranchNo(0));
        let b = live.open(account("B", Balance::default()), BranchNo(0));
        assert_eq!(live.take_changed(), vec![a, b]);
        live.set_balance(a, at(2), credited(500));
        live.set_balance(a, at(3), credited(700));
        // Posting writes history rows, not the accounts' records, and a
        // record leaves the balance out.
        assert!(live.take_changed().is_empty());
        assert_eq!(live.take_history_changed().len(), 2);
        assert_eq!(live.stored(a).balance, Balance::default());
        assert_eq!(live.at(a).balance, credited(700));
        let restore = |stored: [Balance; 2]| {
            let mut rows = HistoryRows::new();
            for (key, balance) in live.history() {
                rows.append((key.1, key.0), balance).unwrap();
            }
            let accounts = [(a, account("A", stored[0])), (b, account("B", stored[1]))];
            AccountTable::restore(accounts, rows, |_| Some(BranchNo(0)), false)
        };
        let restored = restore([Balance::default(); 2]).unwrap();
        assert_eq!(restored.at(a).balance, credited(700));
        assert_eq!(restored.at(b).balance, Balance::default());
        // A record from before balances were left out holds the same balance.
        let older = restore([credited(700), Balance::default()]).unwrap();
        assert_eq!(older.at(a).balance, credited(700));
        let error = restore([credited(500), Balance::default()]).unwrap_err();
        assert!(error.contains("account A"), "{error}");
        assert!(restore([Balance::default(), credited(1)]).is_err());
    }

    #[test]
    fn history_rows_restore_in_key_order_whatever_order_they_come_in() {
        let balance = |n: i128| Balance {
            credits_posted: Amount::from_minor(n),
            ..Balance::default()
        };
        let at = |index: u64| Position { index, seq: 0 };
        let keys: Vec<(Position, AccountNo)> = (1..=3)
            .flat_map(|index| (0..2).map(move |no| (at(index), AccountNo(no))))
            .collect();
        let mut rows = HistoryRows::new();
        for &(position, no) in &keys {
            rows.check_next(&(position, no)).unwrap();
            rows.append((position, no), balance(position.index as i128))
                .unwrap();
        }
        // A repeat, and a key before the last, are not next.
        assert!(rows.check_next(&(at(3), AccountNo(1))).is_err());
        assert!(rows.check_next(&(at(3), AccountNo(0))).is_err());
        assert!(rows.check_next(&(at(2), AccountNo(5))).is_err());
        assert!(rows.check_next(&(at(3), AccountNo(2))).is_ok());
        let records = rows.into_records();
        let restored: Vec<_> = records.iter().map(|&(key, _)| key).collect();
        assert_eq!(restored, keys);
        assert!(
            records
                .iter()
                .all(|((position, _), b)| *b == balance(position.index as i128))
        );
        // Account by account (as an older snapshot lists them), the rows are
        // collected and put in key order.
        let mut by_account = keys.clone();
        by_account.sort_by_key(|&(position, no)| (no, position));
        let mut sequenced = Sequenced::new(HistoryRows::new);
        for &(position, no) in &by_account {
            sequenced
                .push((position, no), balance(position.index as i128))
                .unwrap();
        }
        let rows = sequenced.finish().unwrap();
        let restored: Vec<_> = rows
            .into_records()
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        assert_eq!(restored, keys);
        // The log is in position order, so a boundary splits it there.
        let mut log = RowLog::new();
        for &(position, no) in &keys {
            log.push(no, position, balance(0));
        }
        assert_eq!(log.boundary(at(0)), 0);
        assert_eq!(log.boundary(Position::end_of(1)), 2);
        assert_eq!(log.boundary(at(2)), 4);
        assert_eq!(log.boundary(Position::end_of(9)), 6);
    }
}
