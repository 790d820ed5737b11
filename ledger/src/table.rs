//! A `BTreeMap` that remembers which keys changed since it was last asked,
//! and [`DenseTable`], the same for append-only tables keyed 0, 1, 2, ...
//!
//! Every piece of ledger state lives in one of these, or (accounts with their
//! balance history, journal entries) in a table of its own that tracks
//! changes the same way. The node takes the changed records after each
//! apply and writes them with the applied log id in one RocksDB WriteBatch;
//! snapshots and the state digest walk the same records in key order. One
//! mechanism serves all three.

use std::borrow::Borrow;
use std::collections::BTreeMap;

/// An ordered map with change tracking.
#[derive(Debug, Clone)]
pub(crate) struct Table<K, V> {
    map: BTreeMap<K, V>,
    changed: Vec<K>,
    tracking: bool,
}

impl<K: Ord + Clone, V> Table<K, V> {
    /// An empty table; `tracking` says whether changes are remembered.
    pub(crate) fn new(tracking: bool) -> Self {
        Table {
            map: BTreeMap::new(),
            changed: Vec::new(),
            tracking,
        }
    }

    pub(crate) fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.map.get(key)
    }

    pub(crate) fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.map.contains_key(key)
    }

    /// A mutable reference; the key counts as changed.
    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let value = self.map.get_mut(key);
        if self.tracking && value.is_some() {
            self.changed.push(key.clone());
        }
        value
    }

    /// Inserts or replaces; the key counts as changed.
    pub(crate) fn insert(&mut self, key: K, value: V) {
        if self.tracking {
            self.changed.push(key.clone());
        }
        self.map.insert(key, value);
    }

    /// Removes a key; the key counts as changed (a deleted record).
    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        if self.tracking {
            self.changed.push(key.clone());
        }
        self.map.remove(key)
    }

    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> {
        self.map.iter()
    }

    /// The last record with a key at or before `key`.
    pub(crate) fn last_up_to(&self, key: &K) -> Option<(&K, &V)> {
        self.map.range(..=key).next_back()
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.map.values()
    }

    /// Whether the table holds no record.
    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The records with keys in `from..to`, in key order.
    pub(crate) fn range(&self, from: &K, to: &K) -> impl DoubleEndedIterator<Item = (&K, &V)> {
        self.map.range(from..to)
    }

    /// The keys changed since the last call, sorted and without repeats.
    pub(crate) fn take_changed(&mut self) -> Vec<K> {
        let mut changed = std::mem::take(&mut self.changed);
        changed.sort_unstable();
        changed.dedup();
        changed
    }

    /// Inserts a restored record without counting it as a change.
    pub(crate) fn restore(&mut self, key: K, value: V) {
        self.map.insert(key, value);
    }
}

/// How many values a [`DenseTable`] chunk holds: appending never moves more.
const CHUNK: usize = 4096;

/// An append-only table keyed by consecutive numbers from `first`, with the
/// change tracking of [`Table`]. Values live in fixed-size chunks, so an
/// append costs no search and never moves the values before it.
#[derive(Debug, Clone)]
pub(crate) struct DenseTable<V> {
    first: u64,
    chunks: Vec<Vec<V>>,
    len: usize,
    changed: Vec<u64>,
    tracking: bool,
}

impl<V> DenseTable<V> {
    /// An empty table whose first key will be `first`.
    pub(crate) fn new(first: u64, tracking: bool) -> Self {
        DenseTable {
            first,
            chunks: Vec::new(),
            len: 0,
            changed: Vec::new(),
            tracking,
        }
    }

    /// Where `key` is, if it is in the table.
    fn place(&self, key: u64) -> Option<(usize, usize)> {
        let at = usize::try_from(key.checked_sub(self.first)?).ok()?;
        (at < self.len).then_some((at / CHUNK, at % CHUNK))
    }

    /// The key the next value will get.
    pub(crate) fn next_key(&self) -> u64 {
        self.first + self.len as u64
    }

    pub(crate) fn get(&self, key: &u64) -> Option<&V> {
        let (chunk, at) = self.place(*key)?;
        Some(&self.chunks[chunk][at])
    }

    /// A mutable reference; the key counts as changed.
    pub(crate) fn get_mut(&mut self, key: &u64) -> Option<&mut V> {
        let (chunk, at) = self.place(*key)?;
        if self.tracking {
            self.changed.push(*key);
        }
        Some(&mut self.chunks[chunk][at])
    }

    /// Replaces the value at `key`, which is in the table, without counting
    /// a change.
    pub(crate) fn replace_untracked(&mut self, key: u64, value: V) {
        let (chunk, at) = self.place(key).expect("replaced keys exist");
        self.chunks[chunk][at] = value;
    }

    /// Appends `value` at `key`, which must be [`DenseTable::next_key`].
    pub(crate) fn insert(&mut self, key: u64, value: V) {
        assert_eq!(key, self.next_key(), "a dense table only grows at its end");
        if self.tracking {
            self.changed.push(key);
        }
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < CHUNK => chunk.push(value),
            _ => {
                let mut chunk = Vec::with_capacity(CHUNK);
                chunk.push(value);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, &V)> {
        let first = self.first;
        self.chunks
            .iter()
            .flatten()
            .enumerate()
            .map(move |(at, value)| (first + at as u64, value))
    }

    /// The values with keys in `from..=to`.
    pub(crate) fn range(&self, from: u64, to: u64) -> impl Iterator<Item = (u64, &V)> {
        (from.max(self.first)..=to.min(self.next_key().saturating_sub(1)))
            .filter_map(move |key| self.get(&key).map(|value| (key, value)))
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The keys changed since the last call, sorted and without repeats.
    pub(crate) fn take_changed(&mut self) -> Vec<u64> {
        let mut changed = std::mem::take(&mut self.changed);
        changed.sort_unstable();
        changed.dedup();
        changed
    }

    /// Sets whether changes are remembered from now on (a restored table is
    /// built untracked: its records are not changes).
    pub(crate) fn set_tracking(&mut self, tracking: bool) {
        self.tracking = tracking;
    }
}

impl<V> Rebuild for DenseTable<V> {
    type Key = u64;
    type Value = V;

    fn check_next(&self, key: &u64) -> Result<(), String> {
        if *key == self.next_key() {
            Ok(())
        } else {
            Err(format!(
                "record {key} is out of sequence (expected {})",
                self.next_key()
            ))
        }
    }

    fn append(&mut self, key: u64, value: V) -> Result<(), String> {
        self.insert(key, value);
        Ok(())
    }

    fn into_records(self) -> Vec<(u64, V)> {
        let first = self.first;
        self.chunks
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(at, value)| (first + at as u64, value))
            .collect()
    }
}

/// A table rebuilt from restored records, one at a time in key order.
pub(crate) trait Rebuild {
    type Key: Ord;
    type Value;

    /// Whether a record at `key` would come next; if not, why.
    fn check_next(&self, key: &Self::Key) -> Result<(), String>;

    /// Adds the record at `key`, which [`Rebuild::check_next`] accepted.
    fn append(&mut self, key: Self::Key, value: Self::Value) -> Result<(), String>;

    /// The records so far, in key order, to be appended again.
    fn into_records(self) -> Vec<(Self::Key, Self::Value)>;
}

/// A table being restored from records that almost always arrive in key
/// order: a store gives them so, and so does a snapshot. While they do, each
/// record goes straight into the table and nothing is held twice. Collecting
/// them in a list first (which grows by doubling) and then moving them into
/// their table touched two to three times the memory the table ends up
/// with, and new memory is what a restore pays for most. From the first
/// record out of order on, the records are collected instead, and sorted
/// and appended at the end, so any order still restores.
pub(crate) struct Sequenced<T: Rebuild> {
    table: T,
    empty: fn() -> T,
    /// Every record so far, once one arrived out of order.
    collected: Option<Vec<(T::Key, T::Value)>>,
}

impl<T: Rebuild> Sequenced<T> {
    /// Starts from `empty()`, the table without records.
    pub(crate) fn new(empty: fn() -> T) -> Self {
        Sequenced {
            table: empty(),
            empty,
            collected: None,
        }
    }

    /// Adds one restored record.
    pub(crate) fn push(&mut self, key: T::Key, value: T::Value) -> Result<(), String> {
        if let Some(records) = &mut self.collected {
            records.push((key, value));
            return Ok(());
        }
        if self.table.check_next(&key).is_ok() {
            return self.table.append(key, value);
        }
        let table = std::mem::replace(&mut self.table, (self.empty)());
        let mut records = table.into_records();
        records.push((key, value));
        self.collected = Some(records);
        Ok(())
    }

    /// The table; a record missing from or repeated in the sequence is refused.
    pub(crate) fn finish(self) -> Result<T, String> {
        let Some(mut records) = self.collected else {
            return Ok(self.table);
        };
        records.sort_by(|a, b| a.0.cmp(&b.0));
        let mut table = self.table;
        for (key, value) in records {
            table.check_next(&key)?;
            table.append(key, value)?;
        }
        Ok(table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_reported_once_in_key_order() {
        let mut table = Table::new(true);
        table.insert(2, "b");
        table.insert(1, "a");
        *table.get_mut(&2).unwrap() = "B";
        assert!(table.get_mut(&3).is_none(), "a missing key is not a change");
        assert_eq!(table.take_changed(), vec![1, 2]);
        assert!(table.take_changed().is_empty());
        table.restore(5, "e");
        assert!(table.take_changed().is_empty(), "restoring is not a change");
    }

    #[test]
    fn dense_tables_grow_at_the_end_across_chunks() {
        let mut table = DenseTable::new(1, true);
        let count = 2 * CHUNK as u64 + 3;
        for key in 1..=count {
            table.insert(key, key * 10);
        }
        assert_eq!(table.len() as u64, count);
        assert_eq!(table.get(&0), None);
        assert_eq!(table.get(&1), Some(&10));
        assert_eq!(table.get(&count), Some(&(count * 10)));
        assert_eq!(table.get(&(count + 1)), None);
        *table.get_mut(&5).unwrap() = 5;
        let changed = table.take_changed();
        assert_eq!(changed.len() as u64, count, "each key once");
        assert!(table.take_changed().is_empty());
        let keys: Vec<u64> = table.range(count - 1, count + 5).map(|(k, _)| k).collect();
        assert_eq!(keys, vec![count - 1, count]);
        assert_eq!(table.range(0, 2).count(), 2);
        assert!(
            table
                .iter()
                .all(|(key, value)| (key == 5 && *value == 5) || *value == key * 10)
        );
    }

    fn restored(records: &[(u64, u64)]) -> Result<Vec<(u64, u64)>, String> {
        let mut table = Sequenced::new(|| DenseTable::new(1, false));
        for &(key, value) in records {
            table.push(key, value)?;
        }
        let table = table.finish()?;
        Ok(table.iter().map(|(key, value)| (key, *value)).collect())
    }

    #[test]
    fn a_restore_takes_records_in_any_order_and_refuses_gaps_and_repeats() {
        let count = CHUNK as u64 + 5;
        let in_order: Vec<(u64, u64)> = (1..=count).map(|key| (key, key * 10)).collect();
        assert_eq!(restored(&in_order).unwrap(), in_order);
        // Out of order late, after a chunk was built in place; and from the start.
        let mut late = in_order.clone();
        late.swap(CHUNK + 1, CHUNK + 3);
        assert_eq!(restored(&late).unwrap(), in_order);
        let reversed: Vec<_> = in_order.iter().rev().copied().collect();
        assert_eq!(restored(&reversed).unwrap(), in_order);

        let gap = [(1, 0), (3, 0)];
        assert_eq!(
            restored(&gap).unwrap_err(),
            "record 3 is out of sequence (expected 2)"
        );
        let repeated = [(1, 0), (2, 0), (2, 1), (3, 0)];
        assert_eq!(
            restored(&repeated).unwrap_err(),
            "record 2 is out of sequence (expected 3)"
        );
        assert!(restored(&[(2, 0)]).is_err(), "the first key is fixed");
    }

    #[test]
    fn untracked_tables_remember_nothing() {
        let mut table = Table::new(false);
        table.insert(1, "a");
        assert!(table.take_changed().is_empty());
        assert_eq!(table.get(&1), Some(&"a"));
    }
}
