//! The state machine adapter: decodes committed log entries, hands their
//! commands to `ledger::Ledger::apply`, and writes what changed together with
//! the applied log id in one RocksDB WriteBatch. It holds no business rules.
//!
//! On start it loads the ledger's records from the `state` column family: a
//! restart resumes from the store and never replays the whole log.
//! Snapshots are files (see [`crate::raft::snapshots`]).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use ledger::{Ledger, Record};
use openraft::storage::{RaftStateMachine, Snapshot, SnapshotMeta};
use openraft::{
    AnyError, BasicNode, EntryPayload, RaftSnapshotBuilder, StorageIOError, StoredMembership,
};
use rocksdb::{DB, WriteBatch, WriteOptions};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::codec;
use crate::raft::snapshot_policy::SnapshotGauge;
use crate::raft::snapshots::{Snapshots, state_record};
use crate::raft::types::{
    BatchOutcome, LogId, NodeId, StorageError, TypeConfig, estimated_entry_bytes,
};
use crate::storage::{CF_SM, state_families, state_family, whole_family_read};

const KEY_APPLIED: &[u8] = b"applied";
const KEY_MEMBERSHIP: &[u8] = b"membership";

type Membership = StoredMembership<NodeId, BasicNode>;
type Meta = SnapshotMeta<NodeId, BasicNode>;

/// The ledger shared between the state machine (writer) and the HTTP reads.
pub type SharedLedger = Arc<RwLock<Ledger>>;

/// The Raft state machine over the ledger.
pub struct StateMachine {
    db: Arc<DB>,
    snapshots: Arc<Snapshots>,
    ledger: SharedLedger,
    last_applied: Option<LogId>,
    membership: Membership,
    gauge: Arc<SnapshotGauge>,
}

fn sm_read_error(error: impl std::fmt::Display) -> StorageError {
    StorageIOError::read_state_machine(AnyError::error(error.to_string())).into()
}

fn sm_write_error(error: impl std::fmt::Display) -> StorageError {
    StorageIOError::write_state_machine(AnyError::error(error.to_string())).into()
}

fn snapshot_read_error(meta: Option<&Meta>, error: impl std::fmt::Display) -> StorageError {
    let signature = meta.map(|meta| meta.signature());
    StorageIOError::read_snapshot(signature, AnyError::error(error.to_string())).into()
}

fn snapshot_write_error(meta: &Meta, error: impl std::fmt::Display) -> StorageError {
    StorageIOError::write_snapshot(Some(meta.signature()), AnyError::error(error.to_string()))
        .into()
}

/// Writes `prefix` then `bytes` into `out`, replacing what it held.
fn prefixed<'a>(out: &'a mut Vec<u8>, prefix: u8, bytes: &[u8]) -> &'a [u8] {
    out.clear();
    out.push(prefix);
    out.extend_from_slice(bytes);
    out
}

/// What a put takes in a RocksDB WriteBatch besides its key and value: a
/// tag, the column family's id and two lengths (varints), rounded up.
const BATCH_BYTES_PER_PUT: usize = 16;
/// A WriteBatch's header: sequence number and count.
const BATCH_HEADER_BYTES: usize = 12;

/// The bytes a WriteBatch of `ranges` one-byte range deletions, `records`
/// (each key and value with its one prefix byte) and `extra` will take, so
/// that it is allocated once instead of growing by doubling: every new page
/// costs a fault, and a batch of 8,000 transfers is several megabytes.
fn batch_bytes(ranges: usize, records: &[Record], extra: &[(&[u8], Vec<u8>)]) -> usize {
    let records: usize = records
        .iter()
        .map(|record| {
            let value = record.value.as_ref().map_or(0, |value| 1 + value.len());
            1 + record.key.len() + value + BATCH_BYTES_PER_PUT
        })
        .sum();
    let extra: usize = extra
        .iter()
        .map(|(key, value)| key.len() + value.len() + BATCH_BYTES_PER_PUT)
        .sum();
    BATCH_HEADER_BYTES + ranges * (2 + BATCH_BYTES_PER_PUT) + records + extra
}

/// How many records a loading reader hands over at a time.
const LOAD_BATCH: usize = 4096;
/// How many batches the readers may be ahead of the restore.
const LOAD_BATCHES_AHEAD: usize = 4;

/// How many threads read the ledger's families at a load.
const LOAD_READERS: usize = 2;

/// The ledger's families, the largest on disk first: the order in which the
/// readers of a load take them, each the next one left.
fn families_largest_first(db: &DB) -> Vec<&'static str> {
    let mut families: Vec<(u64, &'static str)> = state_families()
        .map(|family| {
            let cf = db.cf_handle(family).expect("created at open");
            let size = db
                .property_int_value_cf(cf, "rocksdb.total-sst-files-size")
                .ok()
                .flatten()
                .unwrap_or(0);
            (size, family)
        })
        .collect();
    families.sort_by(|(a, _), (b, _)| b.cmp(a));
    families.into_iter().map(|(_, family)| family).collect()
}

/// Reads every record of the families it takes from `families` (the next
/// one left, through `next`, until none is) and sends them in batches;
/// stops at the first error (which it sends) or when nobody receives.
fn read_state(
    db: &DB,
    families: &[&str],
    next: &AtomicUsize,
    sender: &std::sync::mpsc::SyncSender<Result<Vec<Record>, String>>,
) {
    let mut batch = Vec::with_capacity(LOAD_BATCH);
    while let Some(family) = families.get(next.fetch_add(1, Ordering::Relaxed)) {
        let cf = db.cf_handle(family).expect("created at open");
        let mut iter = db.raw_iterator_cf_opt(cf, whole_family_read());
        iter.seek_to_first();
        while let (Some(key), Some(value)) = (iter.key(), iter.value()) {
            match state_record(key, value) {
                Ok(record) => batch.push(record),
                Err(error) => {
                    let _ = sender.send(Err(error));
                    return;
                }
            }
            if batch.len() == LOAD_BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(LOAD_BATCH));
                if sender.send(Ok(full)).is_err() {
                    return;
                }
            }
            iter.next();
        }
        if let Err(error) = iter.status() {
            let _ = sender.send(Err(error.to_string()));
            return;
        }
    }
    let _ = sender.send(Ok(batch));
}

impl StateMachine {
    /// Loads the state machine from the node's database; its snapshot files
    /// are under `data_dir`.
    pub fn open(db: Arc<DB>, data_dir: &std::path::Path) -> Result<StateMachine, StorageError> {
        let snapshots = Snapshots::open(db.clone(), data_dir)
            .map_err(|error| snapshot_read_error(None, error))?;
        let started = std::time::Instant::now();
        let ledger = Self::load(&db)?;
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            entries = ledger.entry_count(),
            applied_index = ledger.applied_index(),
            "ledger loaded"
        );
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
        let snapshot_bytes = match snapshots.current() {
            Ok(Some((_, file))) => file.metadata().map_or(0, |metadata| metadata.len()),
            Ok(None) => 0,
            Err(error) => return Err(snapshot_read_error(None, error)),
        };
        Ok(StateMachine {
            db,
            snapshots,
            ledger: Arc::new(RwLock::new(ledger)),
            last_applied,
            membership,
            gauge: SnapshotGauge::new(snapshot_bytes),
        })
    }

    /// The ledger from its column families, decoded as they are read (never
    /// all of the records in memory at once); a fresh ledger if they are
    /// empty. Reading the families (seeks, decompression, copies) runs on
    /// [`LOAD_READERS`] threads of its own, which hand the records over a
    /// batch at a time, so that it overlaps the restore.
    fn load(db: &DB) -> Result<Ledger, StorageError> {
        let (sender, receiver) = std::sync::mpsc::sync_channel(LOAD_BATCHES_AHEAD);
        let families = families_largest_first(db);
        let next = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            // Reading is the larger part of a load: the families are read on
            // threads of their own beside the restore, which takes their
            // records as they come (the order within a family is kept, and
            // the restore needs no order across families). Largest first, so
            // that the readers finish close together.
            for _ in 0..LOAD_READERS {
                let sender = sender.clone();
                let (families, next) = (&families, &next);
                scope.spawn(move || read_state(db, families, next, &sender));
            }
            drop(sender);
            let failure = std::cell::RefCell::new(None);
            let mut records = receiver
                .into_iter()
                .map_while(|batch: Result<Vec<Record>, String>| {
                    batch
                        .map_err(|error| *failure.borrow_mut() = Some(error))
                        .ok()
                })
                .flatten()
                .peekable();
            // Whichever way it ends, the records (and the receiver with
            // them) are dropped here, so that the reader stops.
            let restored = match records.peek() {
                None => Ok(Ledger::with_change_tracking()),
                Some(_) => Ledger::from_records(records, true),
            };
            if let Some(error) = failure.borrow_mut().take() {
                return Err(sm_read_error(error));
            }
            restored.map_err(sm_read_error)
        })
    }

    /// The ledger, for reads.
    pub fn ledger(&self) -> SharedLedger {
        self.ledger.clone()
    }

    /// What the snapshot policy weighs: the log applied since the last
    /// snapshot and that snapshot's size.
    pub fn snapshot_gauge(&self) -> Arc<SnapshotGauge> {
        self.gauge.clone()
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
            self.gauge.applied(estimated_entry_bytes(&entry) as u64);
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

    /// The snapshot files, for a restore to stage its data in.
    pub fn snapshots(&self) -> Arc<Snapshots> {
        self.snapshots.clone()
    }

    /// Replaces the ledger with a snapshot's, in one synced WriteBatch, then
    /// keeps the snapshot as the current one.
    fn install(&mut self, meta: &Meta, data: Vec<u8>) -> Result<(), StorageError> {
        let restored = Ledger::from_snapshot(&data, true)
            .map_err(|error| snapshot_read_error(Some(meta), error))?;
        assert_eq!(
            restored.applied_index(),
            meta.last_log_id.map_or(0, |id| id.index),
            "a snapshot's ledger is at the snapshot's log id"
        );
        let extra = [
            (KEY_APPLIED, codec::encode(&meta.last_log_id)),
            (KEY_MEMBERSHIP, codec::encode(&meta.last_membership)),
        ];
        self.write_changes(restored.records(), &extra, true, true)?;
        *self
            .ledger
            .write()
            .expect("a panic while applying stops the node") = restored;
        self.last_applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        self.gauge.view_taken();
        self.snapshots
            .write_data(meta, &data)
            .map_err(|error| snapshot_write_error(meta, error))?;
        self.gauge.stored(data.len() as u64);
        Ok(())
    }

    fn write_changes(
        &self,
        records: Vec<Record>,
        extra: &[(&[u8], Vec<u8>)],
        replace_all: bool,
        sync: bool,
    ) -> Result<(), StorageError> {
        let batch = self.batch_of(&records, extra, replace_all);
        let mut options = WriteOptions::default();
        options.set_sync(sync);
        self.db.write_opt(batch, &options).map_err(sm_write_error)
    }

    /// The WriteBatch of `records` and `extra`; with `replace_all`, it
    /// deletes every state record first.
    fn batch_of(
        &self,
        records: &[Record],
        extra: &[(&[u8], Vec<u8>)],
        replace_all: bool,
    ) -> WriteBatch {
        let cf_sm = self.db.cf_handle(CF_SM).expect("created at open");
        // The handles once per batch, not a lookup by name per record.
        let families: Vec<_> = state_families()
            .map(|name| (name, self.db.cf_handle(name).expect("created at open")))
            .collect();
        let family = |tag| {
            let name = state_family(tag);
            &families
                .iter()
                .find(|(family, _)| *family == name)
                .expect("every table has a family")
                .1
        };
        let ranges = if replace_all { families.len() } else { 0 };
        let mut batch = WriteBatch::with_capacity_bytes(batch_bytes(ranges, records, extra));
        if replace_all {
            for (_, cf) in &families {
                batch.delete_range_cf(cf, [0u8].as_slice(), [0xffu8].as_slice());
            }
        }
        // A stored key is the table tag and the record's key; a stored value
        // is the format byte and the record's value.
        let (mut key, mut value) = (Vec::new(), Vec::new());
        for record in records {
            let cf = family(record.table);
            let key = prefixed(&mut key, record.table, &record.key);
            match &record.value {
                Some(bytes) => batch.put_cf(cf, key, prefixed(&mut value, codec::FORMAT, bytes)),
                None => batch.delete_cf(cf, key),
            }
        }
        for (key, value) in extra {
            batch.put_cf(cf_sm, key, value);
        }
        batch
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
        let meta = Meta {
            last_log_id: self.last_applied,
            last_membership: self.membership.clone(),
            snapshot_id: match self.last_applied {
                Some(id) => format!(
                    "{}-{}-{}",
                    id.leader_id.term, id.leader_id.node_id, id.index
                ),
                None => "empty".to_string(),
            },
        };
        // The view (the iterators) is taken here, between two applies, so it
        // is the ledger at `last_applied`; the file is written from it on its
        // own thread.
        let (taken, view_taken) = std::sync::mpsc::channel();
        let (written, done) = tokio::sync::oneshot::channel();
        let snapshots = self.snapshots.clone();
        let for_thread = meta.clone();
        let spawned = std::thread::Builder::new()
            .name("snapshot".into())
            .spawn(move || {
                let families = snapshots.iterators();
                let _ = taken.send(());
                yield_to_serving();
                let _ = written.send(snapshots.write_from(families, &for_thread));
            });
        let done = match spawned {
            Ok(_) => {
                // Milliseconds: the thread creates its iterators (copies of
                // the active memtables) before anything else.
                let _ = crate::blocking::blocking(|| view_taken.recv());
                self.gauge.view_taken();
                Ok(done)
            }
            Err(error) => Err(error.to_string()),
        };
        SnapshotBuilder {
            snapshots: self.snapshots.clone(),
            gauge: self.gauge.clone(),
            meta,
            done,
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<tokio::fs::File>, StorageError> {
        let file = crate::blocking::blocking(|| self.snapshots.scratch_file())
            .map_err(|error| snapshot_read_error(None, error))?;
        Ok(Box::new(tokio::fs::File::from_std(file)))
    }

    async fn install_snapshot(
        &mut self,
        meta: &Meta,
        mut snapshot: Box<tokio::fs::File>,
    ) -> Result<(), StorageError> {
        let mut data = Vec::new();
        snapshot
            .seek(std::io::SeekFrom::Start(0))
            .await
            .map_err(|error| snapshot_read_error(Some(meta), error))?;
        snapshot
            .read_to_end(&mut data)
            .await
            .map_err(|error| snapshot_read_error(Some(meta), error))?;
        drop(snapshot);
        crate::blocking::blocking(|| self.install(meta, data))
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let current = crate::blocking::blocking(|| self.snapshots.current())
            .map_err(|error| snapshot_read_error(None, error))?;
        Ok(current.map(|(meta, file)| Snapshot {
            meta,
            snapshot: Box::new(tokio::fs::File::from_std(file)),
        }))
    }
}

/// Lowers the calling thread to the lowest CPU priority. Writing a snapshot
/// of a large ledger takes seconds of CPU; at normal priority, on a small
/// machine, the snapshot threads of all three replicas (which reach the
/// snapshot index together) took the cores from applying and answering for
/// that long, and latency rose tenfold while they ran.
fn yield_to_serving() {
    let thread = rustix::thread::gettid();
    if let Err(error) = rustix::process::setpriority_process(Some(thread), 19) {
        tracing::debug!(%error, "the snapshot thread keeps its priority");
    }
}

/// Finishes a snapshot whose view the state machine took: waits for its
/// file and answers the current snapshot.
pub struct SnapshotBuilder {
    snapshots: Arc<Snapshots>,
    gauge: Arc<SnapshotGauge>,
    meta: Meta,
    done: Result<tokio::sync::oneshot::Receiver<Result<Meta, String>>, String>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let meta = &self.meta;
        let written = match std::mem::replace(&mut self.done, Err("already built".into())) {
            Ok(done) => done
                .await
                .unwrap_or_else(|_| Err("the snapshot thread stopped".into())),
            Err(error) => Err(error),
        };
        let current = written.map_err(|error| snapshot_write_error(meta, error))?;
        // A newer snapshot (one installed meanwhile) may be current instead.
        let (current_meta, file) = crate::blocking::blocking(|| self.snapshots.current())
            .map_err(|error| snapshot_read_error(Some(&current), error))?
            .ok_or_else(|| snapshot_read_error(Some(&current), "the snapshot went missing"))?;
        let bytes = file
            .metadata()
            .map_err(|error| snapshot_read_error(Some(&current_meta), error))?
            .len();
        self.gauge.stored(bytes);
        Ok(Snapshot {
            meta: current_meta,
            snapshot: Box::new(tokio::fs::File::from_std(file)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ledger of one branch with `accounts` customer accounts: more
    /// records than a few of the loader's batches.
    fn ledger_with_accounts(accounts: usize) -> Ledger {
        use ledger::{
            AccountClass, AccountFlags, AccountId, Actor, BranchCode, BranchKind, Command,
            CommandKind, Currency, NewAccount, NewBranch, Purpose, Timestamp,
        };
        let at = Timestamp::parse_rfc3339("2026-12-07T09:00:00Z").expect("valid time");
        let system = |kind| Command {
            at,
            actor: Actor::system(),
            kind,
        };
        let code = BranchCode::new("B01").expect("valid code");
        let mut commands = vec![system(CommandKind::CreateBranch(NewBranch {
            code: code.clone(),
            name: "branch 1".into(),
            parent: None,
            kind: BranchKind::Internal,
        }))];
        commands.extend((0..accounts).map(|n| {
            system(CommandKind::OpenAccount(NewAccount {
                id: AccountId::new(format!("acct-{n:06}")).expect("valid id"),
                branch: code.clone(),
                currency: Currency::new("CNY").expect("known currency"),
                class: AccountClass::Liability,
                purpose: Purpose::Customer,
                flags: AccountFlags::default(),
                name: None,
            }))
        }));
        let mut ledger = Ledger::with_change_tracking();
        for applied in ledger.apply(1, commands) {
            assert!(applied.outcome.is_ok(), "{applied:?}");
        }
        ledger
    }

    /// A restart reads every record back, across many of the loader's
    /// batches; a record it cannot read fails the open with an error (and
    /// the reader stops) instead of a panic or a hang.
    #[test]
    fn a_restart_loads_every_record_and_refuses_an_unreadable_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut ledger = ledger_with_accounts(3 * LOAD_BATCH);
        let records = ledger.take_changes();
        assert!(records.len() > 3 * LOAD_BATCH, "{} records", records.len());
        {
            let db = crate::storage::open(dir.path()).expect("opens");
            let machine = StateMachine::open(db, dir.path()).expect("opens");
            // As an apply writes it: the ledger with its applied log id.
            let applied: Option<LogId> =
                Some(LogId::new(openraft::CommittedLeaderId::new(1, 1), 1));
            machine
                .write_changes(
                    records,
                    &[(KEY_APPLIED, codec::encode(&applied))],
                    false,
                    true,
                )
                .expect("writes");
        }
        let db = crate::storage::open(dir.path()).expect("opens");
        let machine = StateMachine::open(db.clone(), dir.path()).expect("opens");
        assert_eq!(
            machine.ledger.read().expect("not poisoned").digest(),
            ledger.digest()
        );
        drop(machine);
        // One account record with a format byte this build does not read.
        let family = db.cf_handle(state_family(3)).expect("created at open");
        let (key, mut value) = db
            .iterator_cf(family, rocksdb::IteratorMode::Start)
            .nth(LOAD_BATCH + 7)
            .expect("enough records")
            .expect("reads");
        value[0] = 0xee;
        db.put_cf(family, key, value).expect("writes");
        let error = StateMachine::open(db, dir.path())
            .err()
            .expect("refused")
            .to_string();
        assert!(error.contains("format"), "{error}");
    }

    /// The estimate is never short of what the batch takes (so it never
    /// grows), nor far above it.
    #[test]
    fn a_change_batch_is_allocated_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = crate::storage::open(dir.path()).expect("opens");
        let machine = StateMachine::open(db, dir.path()).expect("opens");
        // Every kind of family, values around the one- and two-byte length
        // boundaries of a varint, and a deletion.
        let tags = [1, 4, 7, 9, 20];
        let records: Vec<Record> = [0, 1, 126, 127, 128, 16_383, 16_384, 70_000]
            .iter()
            .enumerate()
            .map(|(n, &len)| Record {
                table: tags[n % tags.len()],
                key: vec![n as u8; 1 + n * 20],
                value: Some(vec![7; len]),
            })
            .chain([Record {
                table: 4,
                key: vec![9; 8],
                value: None,
            }])
            .collect();
        let extra = [(KEY_APPLIED, vec![1; 40])];
        let families = state_families().count();
        for (replace_all, ranges) in [(false, 0), (true, families)] {
            let estimate = batch_bytes(ranges, &records, &extra);
            let taken = machine
                .batch_of(&records, &extra, replace_all)
                .size_in_bytes();
            assert!(taken <= estimate, "{taken} > {estimate}");
            let puts = ranges + records.len() + extra.len();
            assert!(estimate < taken + puts * BATCH_BYTES_PER_PUT);
        }
    }
}
