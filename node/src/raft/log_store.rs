//! The Raft log on RocksDB.
//!
//! Unlike openraft's 0.9 example, every append is one WriteBatch written with
//! sync before the flush callback fires, and votes, truncations and purges
//! are synced too: an entry openraft counts as persisted is on disk.
//!
//! Reads of entries not yet applied are answered from memory
//! ([`LogCache`]).

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{AnyError, OptionalSend, RaftLogReader, StorageIOError, Vote};
use rocksdb::{DB, Direction, IteratorMode, WriteBatch, WriteOptions};

use crate::codec;
use crate::raft::log_cache::LogCache;
use crate::raft::types::{LogId, NodeId, StorageError, TypeConfig};
use crate::storage::{CF_LOG, CF_RAFT};

const KEY_VOTE: &[u8] = b"vote";
const KEY_COMMITTED: &[u8] = b"committed";
const KEY_LAST_PURGED: &[u8] = b"last_purged";

/// How much of the log, by estimated size, the cache keeps unapplied.
const CACHE_BYTES_MAX: usize = 64 << 20;

/// The Raft log store.
#[derive(Clone)]
pub struct LogStore {
    db: Arc<DB>,
    cache: Arc<LogCache>,
    /// Whether reads take entries out of the cache: the store itself, whose
    /// reads are the Raft core's (to apply), does; the readers it hands to
    /// replication streams copy.
    takes: bool,
}

fn synced() -> WriteOptions {
    let mut options = WriteOptions::default();
    options.set_sync(true);
    #[cfg(feature = "fault-injection")]
    crate::faults::skip_fsync(&mut options);
    options
}

fn read_error(error: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::read_logs(AnyError::new(&error)).into()
}

fn write_error(error: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::write_logs(AnyError::new(&error)).into()
}

impl LogStore {
    /// The log store over the node's database.
    pub fn new(db: Arc<DB>) -> LogStore {
        LogStore {
            db,
            cache: Arc::new(LogCache::new(CACHE_BYTES_MAX)),
            takes: true,
        }
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("column families are created at open")
    }

    fn get_meta<T: serde::de::DeserializeOwned>(
        &self,
        key: &[u8],
    ) -> Result<Option<T>, StorageError> {
        match self.db.get_cf(self.cf(CF_RAFT), key).map_err(read_error)? {
            Some(bytes) => codec::decode(&bytes).map(Some).map_err(read_error),
            None => Ok(None),
        }
    }

    fn put_meta<T: serde::Serialize>(
        &self,
        key: &[u8],
        value: &T,
        sync: bool,
    ) -> Result<(), StorageError> {
        let options = if sync {
            synced()
        } else {
            WriteOptions::default()
        };
        let value = codec::encode(value);
        crate::blocking::blocking(|| {
            self.db
                .put_cf_opt(self.cf(CF_RAFT), key, value, &options)
                .map_err(write_error)
        })
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<openraft::Entry<TypeConfig>>, StorageError> {
        let start = match range.start_bound() {
            Bound::Included(index) => *index,
            Bound::Excluded(index) => index.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(index) => index.saturating_add(1),
            Bound::Excluded(index) => *index,
            Bound::Unbounded => u64::MAX,
        };
        if let Some(entries) = self.cache.read(start, end, self.takes) {
            return Ok(entries);
        }
        let mut entries = Vec::new();
        let iterator = self.db.iterator_cf(
            self.cf(CF_LOG),
            IteratorMode::From(&start.to_be_bytes(), Direction::Forward),
        );
        for item in iterator {
            let (key, value) = item.map_err(read_error)?;
            let index = u64::from_be_bytes(
                key.as_ref()
                    .try_into()
                    .map_err(|_| read_error(std::io::Error::other("log key is not 8 bytes")))?,
            );
            if !range.contains(&index) {
                break;
            }
            entries.push(codec::decode(&value).map_err(read_error)?);
        }
        Ok(entries)
    }
}

/// A vote as a restarted node must hold it: for the same node in the same
/// term, but not won. openraft 0.9 restarts a node whose stored vote is a
/// won vote for itself as leader of that term at once, without an election,
/// and such a leader's read index is the larger of its committed index and
/// the first entry of its term. The committed index is saved without sync
/// (below), so after a power loss it can stand before an entry the leader
/// had acknowledged, and a linearizable read would miss that entry. Held as
/// not won, the vote makes the node stand for election in the next term and
/// commit a new first entry, past everything acknowledged, before it serves
/// a read. Safety does not rest on the flag: the node still voted in that
/// term, for the same candidate.
fn not_won(mut vote: Vote<NodeId>) -> Vote<NodeId> {
    vote.committed = false;
    vote
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged_log_id: Option<LogId> = self.get_meta(KEY_LAST_PURGED)?;
        let last = self
            .db
            .iterator_cf(self.cf(CF_LOG), IteratorMode::End)
            .next();
        let last_log_id = match last {
            Some(item) => {
                let (_, value) = item.map_err(read_error)?;
                let entry: openraft::Entry<TypeConfig> =
                    codec::decode(&value).map_err(read_error)?;
                Some(entry.log_id)
            }
            None => last_purged_log_id,
        };
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        LogStore {
            takes: false,
            ..self.clone()
        }
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError> {
        self.put_meta(KEY_VOTE, vote, true)
            .map_err(|error| StorageIOError::write_vote(AnyError::new(&error)).into())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError> {
        Ok(self.get_meta::<Vote<NodeId>>(KEY_VOTE)?.map(not_won))
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        // Not synced: a lost committed id is recomputed from a quorum.
        self.put_meta(KEY_COMMITTED, &committed, false)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self.get_meta::<Option<LogId>>(KEY_COMMITTED)?.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = openraft::Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut batch = WriteBatch::default();
        let cf = self.cf(CF_LOG);
        let entries: Vec<_> = entries.into_iter().collect();
        for entry in &entries {
            batch.put_cf(cf, entry.log_id.index.to_be_bytes(), codec::encode(entry));
        }
        let result = crate::blocking::blocking(|| self.db.write_opt(batch, &synced()));
        match result {
            Ok(()) => {
                self.cache.appended(entries);
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(error) => {
                callback.log_io_completed(Err(std::io::Error::other(error.to_string())));
                Err(write_error(error))
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.cache.truncated(log_id.index);
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(
            self.cf(CF_LOG),
            log_id.index.to_be_bytes(),
            u64::MAX.to_be_bytes(),
        );
        batch.delete_cf(self.cf(CF_LOG), u64::MAX.to_be_bytes());
        crate::blocking::blocking(|| self.db.write_opt(batch, &synced())).map_err(write_error)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.cache.purged(log_id.index);
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_RAFT), KEY_LAST_PURGED, codec::encode(&log_id));
        batch.delete_range_cf(
            self.cf(CF_LOG),
            0u64.to_be_bytes(),
            (log_id.index + 1).to_be_bytes(),
        );
        crate::blocking::blocking(|| self.db.write_opt(batch, &synced())).map_err(write_error)
    }
}
