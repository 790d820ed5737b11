//! A `BTreeMap` that remembers which keys changed since it was last asked.
//!
//! Every piece of ledger state lives in one of these. The node takes the
//! changed records after each apply and writes them with the applied log id in
//! one RocksDB WriteBatch; snapshots and the state digest walk the same
//! records in key order. One mechanism serves all three.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::ops::RangeBounds;

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

    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> {
        self.map.iter()
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.map.values()
    }

    pub(crate) fn range<R: RangeBounds<K>>(
        &self,
        range: R,
    ) -> impl DoubleEndedIterator<Item = (&K, &V)> {
        self.map.range(range)
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
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
    fn untracked_tables_remember_nothing() {
        let mut table = Table::new(false);
        table.insert(1, "a");
        assert!(table.take_changed().is_empty());
        assert_eq!(table.get(&1), Some(&"a"));
    }
}
