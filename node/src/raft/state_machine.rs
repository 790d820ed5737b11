//! The state machine adapter: decodes committed log entries, hands their
//! commands to `ledger::Ledger::apply`, and writes what changed together with
//! the applied log id in one RocksDB WriteBatch. It holds no business rules.
//!
//! On start it loads the ledger's records from the `state` column family: a
//! restart resumes from the store and never replays the whole log.

use std::io::Cursor;
use std::sync::{Arc, RwLock};

use ledger::{Ledger, Record};
use openraft::storage::{RaftStateMachine, Snapshot, SnapshotMeta};
use openraft::{
    AnyError, BasicNode, EntryPayload, RaftSnapshotBuilder, StorageIOError, StoredMembership,
};
use rocksdb::{DB, IteratorMode, WriteBatch, WriteOptions};

use crate::codec;
use crate::raft::types::{BatchOutcome, LogId, NodeId, StorageError, TypeConfig};
use crate::storage::{CF_SM, CF_STATE};

const KEY_APPLIED: &[u8] = b"applied";
const KEY_MEMBERSHIP: &[u8] = b"membership";
const KEY_SNAPSHOT: &[u8] = b"snapshot";

type Membership = StoredMembership<NodeId, BasicNode>;
type Meta = SnapshotMeta<NodeId, BasicNode>;

/// The ledger shared between the state machine (writer) and the HTTP reads.
pub type SharedLedger = Arc<RwLock<Ledger>>;

/// The Raft state machine over the ledger.
pub struct StateMachine {
    db: Arc<DB>,
    ledger: SharedLedger,
    last_applied: Option<LogId>,
    membership: Membership,
}

fn sm_read_error(error: impl std::fmt::Display) -> StorageError {
    StorageIOError::read_state_machine(AnyError::error(error.to_string())).into()
}

fn sm_write_error(error: impl std::fmt::Display) -> StorageError {
    StorageIOError::write_state_machine(AnyError::error(error.to_string())).into()
}

fn state_key(record: &Record) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + record.key.len());
    key.push(record.table);
    key.extend_from_slice(&record.key);
    key
}

fn state_value(value: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(1 + value.len());
    bytes.push(codec::FORMAT);
    bytes.extend_from_slice(value);
    bytes
}

impl StateMachine {
    /// Loads the state machine from the node's database.
    pub fn open(db: Arc<DB>) -> Result<StateMachine, StorageError> {
        let cf_state = db.cf_handle(CF_STATE).expect("created at open");
        let mut records = Vec::new();
        for item in db.iterator_cf(cf_state, IteratorMode::Start) {
            let (key, value) = item.map_err(sm_read_error)?;
            let (&table, key) = key
                .split_first()
                .ok_or_else(|| sm_read_error("empty state key"))?;
            let value = match value.split_first() {
                Some((&codec::FORMAT, rest)) => rest.to_vec(),
                Some((&found, _)) => {
                    return Err(sm_read_error(codec::CodecError::Format { found }));
                }
                None => return Err(sm_read_error("empty state value")),
            };
            records.push(Record {
                table,
                key: key.to_vec(),
                value: Some(value),
            });
        }
        let ledger = if records.is_empty() {
            Ledger::with_change_tracking()
        } else {
            Ledger::from_records(records, true).map_err(sm_read_error)?
        };
        let cf_sm = db.cf_handle(CF_SM).expect("created at open");
        let read = |key: &[u8]| db.get_cf(cf_sm, key).map_err(sm_read_error);
        let last_applied: Option<LogId> = match read(KEY_APPLIED)? {
            Some(bytes) => codec::decode(&bytes).map_err(sm_read_error)?,
            None => None,
        };
        let membership: Membership = match read(KEY_MEMBERSHIP)? {
            Some(bytes) => codec::decode(&bytes).map_err(sm_read_error)?,
            None => Membership::default(),
        };
        assert_eq!(
            last_applied.map_or(0, |id| id.index),
            ledger.applied_index(),
            "the ledger and its applied log id are written in one batch"
        );
        Ok(StateMachine {
            db,
            ledger: Arc::new(RwLock::new(ledger)),
            last_applied,
            membership,
        })
    }

    /// The ledger, for reads.
    pub fn ledger(&self) -> SharedLedger {
        self.ledger.clone()
    }

    /// Applies committed log entries: the ledger's commands, then what
    /// changed and the applied log id in one unsynced WriteBatch.
    fn apply_entries(
        &mut self,
        entries: impl IntoIterator<Item = openraft::Entry<TypeConfig>>,
    ) -> Result<Vec<BatchOutcome>, StorageError> {
        let mut outcomes = Vec::new();
        let mut ledger = self
            .ledger
            .write()
            .expect("a panic while applying stops the node");
        let mut membership_changed = false;
        for entry in entries {
            #[cfg(feature = "fault-injection")]
            let Some((entry, replayed)) = crate::faults::replay_into(ledger.applied_index(), entry)
            else {
                outcomes.push(BatchOutcome::default());
                continue;
            };
            let index = entry.log_id.index;
            let commands = match entry.payload {
                EntryPayload::Normal(batch) => batch.commands,
                EntryPayload::Blank => Vec::new(),
                EntryPayload::Membership(membership) => {
                    self.membership = StoredMembership::new(Some(entry.log_id), membership);
                    membership_changed = true;
                    Vec::new()
                }
            };
            // Index 0 is the initial membership: it carries no commands, and the
            // ledger counts log positions from 1.
            let applied = if index == 0 {
                Vec::new()
            } else {
                ledger.apply(index, commands)
            };
            #[cfg(feature = "fault-injection")]
            let applied = crate::faults::own_outcomes(applied, replayed);
            outcomes.push(BatchOutcome { applied });
            self.last_applied = Some(entry.log_id);
        }
        let records = ledger.take_changes();
        drop(ledger);
        let mut extra = vec![(KEY_APPLIED, codec::encode(&self.last_applied))];
        if membership_changed {
            extra.push((KEY_MEMBERSHIP, codec::encode(&self.membership)));
        }
        // Not synced: the log is the durable record until a synced log write
        // (append, vote or purge) persists this batch through the shared WAL.
        self.write_changes(records, &extra, false, false)?;
        Ok(outcomes)
    }

    /// Replaces the ledger with a snapshot's, stored with its meta in one
    /// synced WriteBatch.
    fn install(&mut self, meta: &Meta, data: Vec<u8>) -> Result<(), StorageError> {
        let restored = Ledger::from_snapshot(&data, true).map_err(|error| {
            StorageIOError::read_snapshot(
                Some(meta.signature()),
                AnyError::error(error.to_string()),
            )
        })?;
        assert_eq!(
            restored.applied_index(),
            meta.last_log_id.map_or(0, |id| id.index),
            "a snapshot's ledger is at the snapshot's log id"
        );
        let extra = [
            (KEY_APPLIED, codec::encode(&meta.last_log_id)),
            (KEY_MEMBERSHIP, codec::encode(&meta.last_membership)),
            (KEY_SNAPSHOT, codec::encode(&(meta.clone(), data))),
        ];
        self.write_changes(restored.records(), &extra, true, true)?;
        *self
            .ledger
            .write()
            .expect("a panic while applying stops the node") = restored;
        self.last_applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        Ok(())
    }

    fn write_changes(
        &self,
        records: Vec<Record>,
        extra: &[(&[u8], Vec<u8>)],
        replace_all: bool,
        sync: bool,
    ) -> Result<(), StorageError> {
        let cf_state = self.db.cf_handle(CF_STATE).expect("created at open");
        let cf_sm = self.db.cf_handle(CF_SM).expect("created at open");
        let mut batch = WriteBatch::default();
        if replace_all {
            batch.delete_range_cf(cf_state, [0u8].as_slice(), [0xffu8].as_slice());
        }
        for record in &records {
            match &record.value {
                Some(value) => batch.put_cf(cf_state, state_key(record), state_value(value)),
                None => batch.delete_cf(cf_state, state_key(record)),
            }
        }
        for (key, value) in extra {
            batch.put_cf(cf_sm, key, value);
        }
        let mut options = WriteOptions::default();
        options.set_sync(sync);
        self.db.write_opt(batch, &options).map_err(sm_write_error)
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, Membership), StorageError> {
        #[cfg(feature = "fault-injection")]
        if crate::faults::replay_on_start(self.last_applied.is_some()) {
            let snapshot = self
                .get_current_snapshot()
                .await?
                .and_then(|s| s.meta.last_log_id);
            return Ok((snapshot, self.membership.clone()));
        }
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<BatchOutcome>, StorageError>
    where
        I: IntoIterator<Item = openraft::Entry<TypeConfig>> + openraft::OptionalSend,
        I::IntoIter: openraft::OptionalSend,
    {
        crate::blocking::blocking(|| self.apply_entries(entries))
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        let data = crate::blocking::blocking(|| {
            self.ledger
                .read()
                .expect("a panic while applying stops the node")
                .to_snapshot()
        });
        SnapshotBuilder {
            db: self.db.clone(),
            data,
            last_applied: self.last_applied,
            membership: self.membership.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &Meta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        crate::blocking::blocking(|| self.install(meta, snapshot.into_inner()))
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let cf_sm = self.db.cf_handle(CF_SM).expect("created at open");
        let Some(bytes) = self.db.get_cf(cf_sm, KEY_SNAPSHOT).map_err(sm_read_error)? else {
            return Ok(None);
        };
        let (meta, data): (Meta, Vec<u8>) = codec::decode(&bytes).map_err(sm_read_error)?;
        Ok(Some(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        }))
    }
}

/// Builds a snapshot from the ledger as it stood when the builder was made
/// (taken under the state machine's lock, so it is one consistent view).
pub struct SnapshotBuilder {
    db: Arc<DB>,
    data: Vec<u8>,
    last_applied: Option<LogId>,
    membership: Membership,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let snapshot_id = match self.last_applied {
            Some(id) => format!("{}-{}-{}", id.leader_id.term, id.index, self.data.len()),
            None => "empty".to_string(),
        };
        let meta = Meta {
            last_log_id: self.last_applied,
            last_membership: self.membership.clone(),
            snapshot_id,
        };
        let data = std::mem::take(&mut self.data);
        let cf_sm = self.db.cf_handle(CF_SM).expect("created at open");
        let mut options = WriteOptions::default();
        options.set_sync(true);
        let stored = codec::encode(&(meta.clone(), &data));
        crate::blocking::blocking(|| self.db.put_cf_opt(cf_sm, KEY_SNAPSHOT, stored, &options))
            .map_err(|error| {
                StorageIOError::write_snapshot(
                    Some(meta.signature()),
                    AnyError::error(error.to_string()),
                )
            })?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}
