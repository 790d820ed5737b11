//! The entries appended to the Raft log, kept in memory until they are
//! applied.
//!
//! openraft reads every entry back from the log after appending it: each
//! replication stream to send it, and the Raft core to apply it. From
//! RocksDB each of those reads is a seek and a decode of every command in
//! the entry, three times over on the leader of three nodes, and the core's
//! read runs in its own loop, so every other thing the core does (taking
//! client writes, counting acknowledgements) waits for it. The cache
//! answers those reads from memory: a replication stream gets a copy, and
//! the core's read for apply takes the entries out, since after that only a
//! stream that fell behind reads them, and it reads RocksDB.
//!
//! The cache answers a read only when it holds every entry from the read's
//! start to its end or the log's, under one lock, so a read sees one state
//! of the log, as RocksDB's iterator does; otherwise the whole read goes to
//! RocksDB. It never holds an entry the log does not: entries go in after
//! their synced write, and truncating or purging the log drops them first.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::raft::types::{TypeConfig, estimated_entry_bytes};

type Entry = openraft::Entry<TypeConfig>;

/// Appended entries not yet taken for apply, bounded by their estimated size.
#[derive(Debug)]
pub struct LogCache {
    inner: Mutex<Inner>,
    bytes_max: usize,
}

#[derive(Debug, Default)]
struct Inner {
    /// Each entry with its estimated size.
    entries: BTreeMap<u64, (Arc<Entry>, usize)>,
    bytes: usize,
    /// One past the log's last index, once an append or truncation has told
    /// it; until then the cache cannot know where the log ends.
    end: Option<u64>,
}

impl Inner {
    /// Counts the entries of `gone`, taken out of `entries`, as gone.
    fn forget(&mut self, gone: &BTreeMap<u64, (Arc<Entry>, usize)>) {
        self.bytes -= gone.values().map(|(_, bytes)| bytes).sum::<usize>();
    }
}

impl LogCache {
    /// An empty cache that holds at most `bytes_max` of estimated entry size.
    pub fn new(bytes_max: usize) -> LogCache {
        LogCache {
            inner: Mutex::new(Inner::default()),
            bytes_max,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .expect("no panics while holding the log cache")
    }

    /// Keeps `entries`, just written to the log in one synced write; the
    /// oldest go when the cache is full.
    pub fn appended(&self, entries: Vec<Entry>) {
        let mut inner = self.lock();
        for entry in entries {
            let index = entry.log_id.index;
            let bytes = estimated_entry_bytes(&entry);
            inner.end = Some(index + 1);
            if let Some((_, replaced)) = inner.entries.insert(index, (Arc::new(entry), bytes)) {
                inner.bytes -= replaced;
            }
            inner.bytes += bytes;
        }
        while inner.bytes > self.bytes_max {
            let Some((_, (_, bytes))) = inner.entries.pop_first() else {
                break;
            };
            inner.bytes -= bytes;
        }
    }

    /// The log lost its entries from `index` on.
    pub fn truncated(&self, index: u64) {
        let mut inner = self.lock();
        let gone = inner.entries.split_off(&index);
        inner.forget(&gone);
        inner.end = Some(index);
    }

    /// The log lost its entries up to and including `index`.
    pub fn purged(&self, index: u64) {
        let mut inner = self.lock();
        let kept = inner.entries.split_off(&index.saturating_add(1));
        let gone = std::mem::replace(&mut inner.entries, kept);
        inner.forget(&gone);
        if let Some(end) = inner.end.as_mut() {
            *end = (*end).max(index.saturating_add(1));
        }
    }

    /// The log's entries from `start` up to `end` (exclusive), if the cache
    /// holds all of them that the log does; with `take`, they leave it.
    pub fn read(&self, start: u64, end: u64, take: bool) -> Option<Vec<Entry>> {
        let shared: Vec<Arc<Entry>> = {
            let mut inner = self.lock();
            let end = end.min(inner.end?);
            if start >= end {
                return Some(Vec::new());
            }
            let held: Vec<Arc<Entry>> = inner
                .entries
                .range(start..end)
                .map(|(_, (entry, _))| entry.clone())
                .collect();
            if held.len() as u64 != end - start {
                return None;
            }
            if take {
                for index in start..end {
                    if let Some((_, bytes)) = inner.entries.remove(&index) {
                        inner.bytes -= bytes;
                    }
                }
            }
            held
        };
        // Copies are made outside the lock: an append waits for nothing.
        Some(
            shared
                .into_iter()
                .map(|entry| Arc::try_unwrap(entry).unwrap_or_else(|entry| Entry::clone(&entry)))
                .collect(),
        )
    }

    /// The estimated bytes held, for tests.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use openraft::{CommittedLeaderId, EntryPayload, LogId};

    use super::*;
    use crate::raft::types::Batch;

    fn entry(index: u64, term: u64) -> Entry {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(term, 1), index),
            payload: EntryPayload::Normal(Batch {
                commands: Vec::new(),
            }),
        }
    }

    fn entries(indexes: std::ops::Range<u64>, term: u64) -> Vec<Entry> {
        indexes.map(|index| entry(index, term)).collect()
    }

    fn indexes(read: Option<Vec<Entry>>) -> Option<Vec<(u64, u64)>> {
        read.map(|entries| {
            entries
                .iter()
                .map(|entry| (entry.log_id.index, entry.log_id.leader_id.term))
                .collect()
        })
    }

    #[test]
    fn nothing_is_answered_before_the_end_of_the_log_is_known() {
        let cache = LogCache::new(1 << 20);
        assert_eq!(indexes(cache.read(0, 10, false)), None);
        cache.purged(4);
        assert_eq!(indexes(cache.read(5, 10, false)), None);
    }

    #[test]
    fn a_read_is_answered_only_when_every_entry_up_to_the_end_is_held() {
        let cache = LogCache::new(1 << 20);
        cache.appended(entries(5..8, 1));
        assert_eq!(
            indexes(cache.read(5, 8, false)),
            Some(vec![(5, 1), (6, 1), (7, 1)])
        );
        // Past the end of the log: the entries there are, as RocksDB answers.
        assert_eq!(
            indexes(cache.read(6, u64::MAX, false)),
            Some(vec![(6, 1), (7, 1)])
        );
        assert_eq!(indexes(cache.read(8, 20, false)), Some(vec![]));
        // Before the first held entry: RocksDB may hold it.
        assert_eq!(indexes(cache.read(4, 8, false)), None);
    }

    #[test]
    fn taking_for_apply_leaves_later_reads_to_rocksdb() {
        let cache = LogCache::new(1 << 20);
        cache.appended(entries(1..5, 1));
        assert_eq!(indexes(cache.read(1, 3, true)), Some(vec![(1, 1), (2, 1)]));
        assert_eq!(indexes(cache.read(1, 3, false)), None);
        assert_eq!(indexes(cache.read(2, 5, false)), None);
        assert_eq!(indexes(cache.read(3, 5, false)), Some(vec![(3, 1), (4, 1)]));
        // A hole in the middle (a single entry read by the core) sends reads
        // across it to RocksDB.
        assert_eq!(indexes(cache.read(3, 4, true)), Some(vec![(3, 1)]));
        cache.appended(entries(5..6, 1));
        assert_eq!(indexes(cache.read(4, 6, false)), Some(vec![(4, 1), (5, 1)]));
    }

    #[test]
    fn truncation_drops_the_tail_and_moves_the_end() {
        let cache = LogCache::new(1 << 20);
        cache.appended(entries(1..6, 1));
        cache.truncated(3);
        assert_eq!(
            indexes(cache.read(1, 10, false)),
            Some(vec![(1, 1), (2, 1)])
        );
        cache.appended(entries(3..4, 2));
        assert_eq!(
            indexes(cache.read(1, 10, false)),
            Some(vec![(1, 1), (2, 1), (3, 2)])
        );
    }

    #[test]
    fn purging_drops_the_head_and_a_purge_past_the_end_moves_it() {
        let cache = LogCache::new(1 << 20);
        cache.appended(entries(1..6, 1));
        cache.purged(2);
        assert_eq!(indexes(cache.read(1, 10, false)), None);
        assert_eq!(
            indexes(cache.read(3, 10, false)),
            Some(vec![(3, 1), (4, 1), (5, 1)])
        );
        // A snapshot installed past the log purges all of it.
        cache.purged(9);
        assert_eq!(indexes(cache.read(3, 20, false)), None);
        assert_eq!(indexes(cache.read(10, 20, false)), Some(vec![]));
        assert_eq!(cache.bytes(), 0);
    }

    #[test]
    fn a_full_cache_lets_its_oldest_entries_go() {
        let one = estimated_entry_bytes(&entry(1, 1));
        let cache = LogCache::new(3 * one);
        cache.appended(entries(1..6, 1));
        assert_eq!(cache.bytes(), 3 * one);
        assert_eq!(indexes(cache.read(2, 6, false)), None);
        assert_eq!(
            indexes(cache.read(3, 6, false)),
            Some(vec![(3, 1), (4, 1), (5, 1)])
        );
    }

    #[test]
    fn a_copy_handed_out_leaves_the_entry_held() {
        let cache = LogCache::new(1 << 20);
        cache.appended(entries(1..2, 1));
        let copy = cache.read(1, 2, false).expect("held");
        let taken = cache.read(1, 2, true).expect("held");
        assert_eq!(copy, taken);
        assert_eq!(cache.bytes(), 0);
    }
}
