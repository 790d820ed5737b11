//! Snapshot files. A snapshot is a file of the ledger's records in the
//! ledger's snapshot format (`ledger::SnapshotEncoder`), under the node's
//! `snapshots/` directory; the state machine's column family names the
//! current one by its meta.
//!
//! A snapshot is written from iterators over the ledger's column families,
//! created between two applies, on a thread of its own: applying goes on while
//! it is written, and it never passes through the write-ahead log the Raft
//! log's appends are synced through (a snapshot of a large ledger written as
//! one value there held every append behind it for seconds, long enough for
//! the leader to time its followers out).
//!
//! The iterators are the view: each reads its family as it was when it was
//! created, and nothing writes to those families while they are created. A
//! RocksDB snapshot would give the same view, but once a snapshot held for
//! the seconds a large file takes is released, RocksDB rewrites every table
//! file written meanwhile (a `BottommostFiles` compaction of the journal,
//! history and audit families, over a million records), on every replica at
//! the same moment.
//!
//! A file is written under a temporary name, synced, renamed to its snapshot
//! id and the directory synced before the meta that names it is written
//! (synced). A crash at any point leaves the meta naming a whole file; files
//! it does not name are removed when the node starts.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ledger::{Record, SnapshotEncoder};
use openraft::{BasicNode, SnapshotMeta};
use rocksdb::{DB, DBRawIteratorWithThreadMode, WriteOptions};

use crate::codec;
use crate::raft::types::NodeId;
use crate::storage::{CF_SM, state_families, whole_family_read};

/// The meta of the current snapshot, in the state machine's column family.
const KEY_SNAPSHOT_META: &[u8] = b"snapshot_meta";
const SUFFIX: &str = ".snap";
const TEMPORARY: &str = ".tmp";
/// Bytes gathered before they go to the file.
const CHUNK: usize = 1 << 20;
/// Bytes written between two syncs of a snapshot file.
const SYNC_EVERY: usize = 4 << 20;

/// A snapshot file being written, synced every [`SYNC_EVERY`] bytes: the
/// disk takes a large snapshot a few megabytes at a time between the log's
/// synced appends, instead of in one flush of hundreds of megabytes at the
/// end that the appends' syncs would queue behind.
struct Paced {
    file: File,
    unsynced: usize,
}

impl Write for Paced {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let written = self.file.write(bytes)?;
        self.unsynced += written;
        if self.unsynced >= SYNC_EVERY {
            self.file.sync_data()?;
            self.unsynced = 0;
        }
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

type Meta = SnapshotMeta<NodeId, BasicNode>;

/// A stored record of a ledger column family as a ledger record: the table
/// tag and key, the value behind its format byte.
pub fn state_record(key: &[u8], value: &[u8]) -> Result<Record, String> {
    let (&table, key) = key.split_first().ok_or("empty state key")?;
    let value = match value.split_first() {
        Some((&codec::FORMAT, rest)) => rest.to_vec(),
        Some((&found, _)) => return Err(codec::CodecError::Format { found }.to_string()),
        None => return Err("empty state value".into()),
    };
    Ok(Record {
        table,
        key: key.to_vec(),
        value: Some(value),
    })
}

/// The node's snapshot files.
pub struct Snapshots {
    db: Arc<DB>,
    dir: PathBuf,
    /// Held while a snapshot is made current, so that an older one never
    /// replaces a newer.
    publishing: Mutex<()>,
    next_temporary: AtomicU64,
}

impl Snapshots {
    /// Opens the snapshot directory under `data_dir` and removes any file
    /// the current meta does not name.
    pub fn open(db: Arc<DB>, data_dir: &Path) -> std::io::Result<Arc<Snapshots>> {
        let dir = data_dir.join("snapshots");
        std::fs::create_dir_all(&dir)?;
        let snapshots = Snapshots {
            db,
            dir,
            publishing: Mutex::new(()),
            next_temporary: AtomicU64::new(0),
        };
        let keep = snapshots
            .current_meta()
            .map_err(std::io::Error::other)?
            .map(|meta| snapshots.path_of(&meta));
        for entry in std::fs::read_dir(&snapshots.dir)? {
            let path = entry?.path();
            if Some(&path) != keep.as_ref() {
                std::fs::remove_file(&path)?;
            }
        }
        Ok(Arc::new(snapshots))
    }

    /// Named by the last log id, not the snapshot id a peer chose: two
    /// snapshots at one log id hold the same state.
    fn path_of(&self, meta: &Meta) -> PathBuf {
        let name = match meta.last_log_id {
            Some(id) => format!(
                "{}-{}-{}",
                id.leader_id.term, id.leader_id.node_id, id.index
            ),
            None => "empty".to_string(),
        };
        self.dir.join(format!("{name}{SUFFIX}"))
    }

    /// A file of its own in the snapshot directory, already unlinked: it
    /// lives as long as its handle (a snapshot being received, or restored
    /// from a backup).
    pub fn scratch_file(&self) -> std::io::Result<File> {
        let path = self.temporary_path();
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        std::fs::remove_file(&path)?;
        Ok(file)
    }

    fn temporary_path(&self) -> PathBuf {
        let n = self.next_temporary.fetch_add(1, Ordering::Relaxed);
        self.dir
            .join(format!("{}-{n}{TEMPORARY}", std::process::id()))
    }

    /// The meta of the current snapshot, if there is one.
    pub fn current_meta(&self) -> Result<Option<Meta>, String> {
        let cf_sm = self.db.cf_handle(CF_SM).expect("created at open");
        match self
            .db
            .get_cf(cf_sm, KEY_SNAPSHOT_META)
            .map_err(|error| error.to_string())?
        {
            Some(bytes) => codec::decode(&bytes).map(Some).map_err(|e| e.to_string()),
            None => Ok(None),
        }
    }

    /// The current snapshot: its meta and its file, opened to read.
    pub fn current(&self) -> Result<Option<(Meta, File)>, String> {
        let Some(meta) = self.current_meta()? else {
            return Ok(None);
        };
        let path = self.path_of(&meta);
        let file = File::open(&path)
            .map_err(|error| format!("cannot open snapshot {}: {error}", path.display()))?;
        Ok(Some((meta, file)))
    }

    /// Iterators over the ledger's column families as they are now, in
    /// [`state_families`] order, not yet positioned: each reads its family
    /// as it was when it was created. The state machine has them created
    /// while it applies nothing, so together they are the ledger at one log
    /// index; and creating one copies its family's active memtable under a
    /// lock every write to that family takes, so no write waits behind a
    /// copy made by a thread that runs at the lowest priority. Positioning
    /// one sorts its copy, which the snapshot thread does later, at that
    /// priority.
    pub fn iterators(&self) -> Vec<DBRawIteratorWithThreadMode<'_, DB>> {
        state_families()
            .map(|family| {
                let cf = self.db.cf_handle(family).expect("created at open");
                self.db.raw_iterator_cf_opt(&cf, whole_family_read())
            })
            .collect()
    }

    /// Writes the ledger's column families, read through `families` (from
    /// [`Snapshots::iterators`]), as the snapshot `meta` describes, and
    /// makes it current unless a newer one already is. Answers the current
    /// snapshot's meta either way.
    pub fn write_from(
        &self,
        families: Vec<DBRawIteratorWithThreadMode<'_, DB>>,
        meta: &Meta,
    ) -> Result<Meta, String> {
        self.write(meta, |out| {
            let mut bytes = Vec::with_capacity(CHUNK * 2);
            let mut encoder = SnapshotEncoder::start(&mut bytes);
            for mut family in families {
                family.seek_to_first();
                while let Some((key, value)) = family.item() {
                    encoder.push(&state_record(key, value)?, &mut bytes);
                    if bytes.len() >= CHUNK {
                        out.write_all(&bytes).map_err(|error| error.to_string())?;
                        bytes.clear();
                    }
                    family.next();
                }
                family.status().map_err(|error| error.to_string())?;
            }
            encoder.finish(&mut bytes);
            out.write_all(&bytes).map_err(|error| error.to_string())
        })
    }

    /// Stores `data` (a snapshot received or restored) as the snapshot
    /// `meta` describes, and makes it current unless a newer one already is.
    pub fn write_data(&self, meta: &Meta, data: &[u8]) -> Result<Meta, String> {
        self.write(meta, |out| {
            out.write_all(data).map_err(|error| error.to_string())
        })
    }

    fn write(
        &self,
        meta: &Meta,
        fill: impl FnOnce(&mut BufWriter<Paced>) -> Result<(), String>,
    ) -> Result<Meta, String> {
        let temporary = self.temporary_path();
        let written = (|| {
            let file = File::create_new(&temporary).map_err(|error| error.to_string())?;
            let paced = Paced { file, unsynced: 0 };
            let mut out = BufWriter::with_capacity(CHUNK, paced);
            fill(&mut out)?;
            let paced = out.into_inner().map_err(|error| error.to_string())?;
            paced.file.sync_all().map_err(|error| error.to_string())
        })();
        if let Err(error) = written {
            let _ = std::fs::remove_file(&temporary);
            return Err(format!(
                "cannot write snapshot {}: {error}",
                meta.snapshot_id
            ));
        }
        let _publishing = self.publishing.lock().expect("publishing does not panic");
        let current = self.current_meta()?;
        if let Some(current) = current.filter(|current| current.last_log_id >= meta.last_log_id) {
            let _ = std::fs::remove_file(&temporary);
            return Ok(current);
        }
        let path = self.path_of(meta);
        std::fs::rename(&temporary, &path)
            .and_then(|()| File::open(&self.dir)?.sync_all())
            .map_err(|error| format!("cannot store snapshot {}: {error}", path.display()))?;
        let cf_sm = self.db.cf_handle(CF_SM).expect("created at open");
        let mut options = WriteOptions::default();
        options.set_sync(true);
        self.db
            .put_cf_opt(cf_sm, KEY_SNAPSHOT_META, codec::encode(meta), &options)
            .map_err(|error| error.to_string())?;
        for entry in std::fs::read_dir(&self.dir).map_err(|error| error.to_string())? {
            let old = entry.map_err(|error| error.to_string())?.path();
            let is_snapshot = old.extension().is_some_and(|ext| ext == &SUFFIX[1..]);
            if is_snapshot && old != path {
                // An open handle (a follower being sent it) keeps reading.
                let _ = std::fs::remove_file(&old);
            }
        }
        Ok(meta.clone())
    }
}

#[cfg(test)]
mod tests {
    use ledger::Ledger;
    use openraft::{CommittedLeaderId, LogId, StoredMembership};

    use super::*;
    use crate::storage;

    fn meta_at(index: u64) -> Meta {
        Meta {
            last_log_id: Some(LogId::new(CommittedLeaderId::new(2, 1), index)),
            last_membership: StoredMembership::default(),
            snapshot_id: format!("2-1-{index}"),
        }
    }

    fn snapshot_files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir.join("snapshots"))
            .expect("the directory exists")
            .map(|entry| {
                entry
                    .expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        names
    }

    /// A snapshot written from iterators holds the ledger's column families
    /// as they were when the iterators were created, not as they are when
    /// the file is written, and restores to that ledger; no RocksDB snapshot
    /// is held meanwhile (its release would rewrite the tables).
    #[test]
    fn a_snapshot_holds_the_state_as_its_iterators_saw_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = storage::open(&dir.path().join("db")).expect("db");
        let mut ledger = Ledger::with_change_tracking();
        let put = |records: Vec<Record>| {
            for record in records {
                let cf = db
                    .cf_handle(storage::state_family(record.table))
                    .expect("family");
                let mut key = vec![record.table];
                key.extend_from_slice(&record.key);
                let mut value = vec![codec::FORMAT];
                value.extend_from_slice(record.value.as_deref().expect("a value"));
                db.put_cf(cf, key, value).expect("put");
            }
        };
        put(ledger.take_changes());
        let snapshots = Snapshots::open(db.clone(), dir.path()).expect("open");
        let families = snapshots.iterators();
        let expected = ledger.digest();
        // Written after the iterators were created: not in the snapshot.
        let mut later = ledger.records();
        later.push(Record {
            table: 250,
            key: vec![1],
            value: Some(vec![2]),
        });
        put(later);
        assert_eq!(
            db.property_int_value("rocksdb.num-snapshots"),
            Ok(Some(0)),
            "no RocksDB snapshot is taken"
        );
        let meta = meta_at(0);
        assert_eq!(snapshots.write_from(families, &meta), Ok(meta.clone()));
        let (current, mut file) = snapshots.current().expect("reads").expect("a snapshot");
        assert_eq!(current, meta);
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut file, &mut data).expect("reads");
        let restored = Ledger::from_snapshot(&data, false).expect("restores");
        assert_eq!(restored.digest(), expected);
    }

    /// A newer snapshot replaces an older one and its file; an older one
    /// never replaces a newer; files the meta does not name are gone after
    /// a restart.
    #[test]
    fn only_a_newer_snapshot_becomes_current() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = storage::open(&dir.path().join("db")).expect("db");
        let snapshots = Snapshots::open(db.clone(), dir.path()).expect("open");
        assert_eq!(snapshots.current_meta(), Ok(None));
        let data = Ledger::new().to_snapshot();
        assert_eq!(snapshots.write_data(&meta_at(5), &data), Ok(meta_at(5)));
        assert_eq!(snapshots.write_data(&meta_at(9), &data), Ok(meta_at(9)));
        assert_eq!(snapshot_files(dir.path()), ["2-1-9.snap"]);
        assert_eq!(snapshots.write_data(&meta_at(7), &data), Ok(meta_at(9)));
        assert_eq!(snapshots.current_meta(), Ok(Some(meta_at(9))));
        assert_eq!(snapshot_files(dir.path()), ["2-1-9.snap"]);
        // A scratch file is unlinked at once; a crash's leftovers go at open.
        let _scratch = snapshots.scratch_file().expect("scratch");
        assert_eq!(snapshot_files(dir.path()), ["2-1-9.snap"]);
        std::fs::write(dir.path().join("snapshots/1-7.tmp"), b"torn").expect("write");
        std::fs::write(dir.path().join("snapshots/2-1-3.snap"), b"old").expect("write");
        drop(snapshots);
        let reopened = Snapshots::open(db, dir.path()).expect("open");
        assert_eq!(snapshot_files(dir.path()), ["2-1-9.snap"]);
        assert_eq!(reopened.current_meta(), Ok(Some(meta_at(9))));
    }
}
