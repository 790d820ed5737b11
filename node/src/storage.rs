//! The node's one RocksDB instance and its column families.
//!
//! One database holds both the Raft log and the ledger state, so they share a
//! write-ahead log: every synced write (a log append, a vote, a purge) also
//! makes durable every earlier unsynced write, including the state machine's.
//! That is what makes it safe to apply without fsync: the log is purged only
//! behind a snapshot, and the purge's synced write persists the state the
//! snapshot was taken from.

use std::path::Path;
use std::sync::Arc;

use rocksdb::{ColumnFamilyDescriptor, DB, Options};

/// Raft log entries, keyed by big-endian index.
pub const CF_LOG: &str = "log";
/// Raft metadata: vote, committed log id, last purged log id.
pub const CF_RAFT: &str = "raft";
/// Ledger records, keyed by table tag and encoded key: all but those of the
/// append-only tables, which have a family each (named as the ledger names
/// the table in [`ledger::APPENDED_TABLES`]).
pub const CF_STATE: &str = "state";
/// State machine metadata: last applied log id, membership, current snapshot.
pub const CF_SM: &str = "sm";

/// Every family that holds ledger records.
///
/// An append-only table in a family of its own is written in key order, so
/// each file RocksDB flushes from it covers keys after every older file's
/// and compaction moves it down a level without rewriting it. Kept in one
/// family with the tables that are rewritten in place (the accounts), every
/// flushed file spanned them all, and compaction rewrote the whole journal
/// again and again: with a million entries it took most of a core.
pub fn state_families() -> impl Iterator<Item = &'static str> {
    std::iter::once(CF_STATE).chain(ledger::APPENDED_TABLES.iter().map(|(_, name)| *name))
}

/// The family that holds the records of ledger table `tag`.
pub fn state_family(tag: u8) -> &'static str {
    ledger::APPENDED_TABLES
        .iter()
        .find(|(table, _)| *table == tag)
        .map_or(CF_STATE, |(_, name)| name)
}

/// How large the write-ahead log may grow before the families holding its
/// oldest file are flushed: what a restart after a crash replays at most.
const WAL_BYTES_MAX: u64 = 256 << 20;

/// Read options for reading a family whole, start to end (a restart's load,
/// a snapshot): not worth a place in the block cache, and read ahead in
/// pieces of 8 MiB. Flushes write with direct IO, so these files are seldom
/// in the page cache, and read a block at a time from the disk a restart
/// took longer: a follower of a dev cluster, killed and started alone, had
/// its ledger loaded 11.28 s after starting with 4.43 M entries (2.55 µs an
/// entry) reading a block at a time, and 9.18 s with 4.88 M (1.88 µs) with
/// this read-ahead.
pub fn whole_family_read() -> rocksdb::ReadOptions {
    let mut options = rocksdb::ReadOptions::default();
    options.fill_cache(false);
    options.set_readahead_size(8 << 20);
    options
}

/// Opens (or creates) the node's database under `dir`.
pub fn open(dir: &Path) -> Result<Arc<DB>, rocksdb::Error> {
    let mut options = Options::default();
    options.create_if_missing(true);
    options.create_missing_column_families(true);
    options.set_paranoid_checks(true);
    // A torn record at the tail of the write-ahead log (a crash mid-write) is
    // dropped on recovery; corruption before the tail fails the open.
    options.set_wal_recovery_mode(rocksdb::DBRecoveryMode::PointInTime);
    // A log file is deleted only once every family with writes in it has
    // flushed them, and the small families (the vote, the applied id) fill
    // their memtables slowly: without a cap the logs grew to 1.4 GiB beside
    // 330 MiB of table files after a minute of batched posting, and a
    // restart replayed all of it. Past the cap RocksDB flushes the families
    // that hold the oldest log back.
    options.set_max_total_wal_size(WAL_BYTES_MAX);
    options.set_compression_type(rocksdb::DBCompressionType::Lz4);
    // Flushes and compactions write their files with direct IO. Through the
    // page cache, each byte a flush wrote was copied once more by the kernel,
    // and that copy was a tenth of the machine's CPU under batched posting.
    // Dev cluster, 4 clients × 8,000 transfers per request, 20 s, two runs
    // each, alternating: 81,983 and 76,627 transfers/s at 22.7 and 24.3 µs
    // of node CPU per transfer, against 67,104 and 71,076 at 28.5 and 26.7.
    // A restart reads those files from the disk instead of the page cache:
    // a follower with 3.35 M entries, killed and started alone, had its
    // ledger loaded 8.72 s after starting (2.6 µs an entry), one with
    // 2.59 M entries before this change and the two below 8.03 s (3.1 µs).
    options.set_use_direct_io_for_flush_and_compaction(true);
    // Flushes and compactions run at the lowest CPU priority. The three
    // replicas fill their memtables together, so they flush together: a
    // flush of the state family sorted about a million records (when every
    // transfer still rewrote two account records), seconds of
    // CPU, and at normal priority the three of them took a small machine's
    // cores from applying and answering for that long. Measured again on 2
    // cores (a dev cluster, 64 clients at 3,700 transfers/s open loop for
    // 150 s, two runs each): p99 134 and 137 ms with flushes at the lowest
    // priority, 1,074 and 1,231 ms with flushes at normal priority. The
    // slow seconds that remain line up with flushes; memtables of 16 MiB
    // instead of 64 made them more frequent, not shorter.
    let mut env = rocksdb::Env::new()?;
    env.lower_high_priority_thread_pool_cpu_priority();
    env.lower_thread_pool_cpu_priority();
    options.set_env(&env);
    options.increase_parallelism(2);
    // The vector memtable of the state family below takes no concurrent
    // writes; the node writes from one thread at a time anyway.
    options.set_allow_concurrent_memtable_write(false);
    let state: Vec<&str> = state_families().collect();
    let families = [CF_LOG, CF_RAFT, CF_SM]
        .into_iter()
        .chain(state.iter().copied())
        .map(|name| {
            let mut family = Options::default();
            if name == CF_STATE {
                // The ledger's records are read only when the node starts
                // (the ledger serves reads from memory), and this family's
                // keys come in any order: a memtable that appends takes
                // them faster than a skip list, whose inserts were once the
                // apply path's largest cost.
                family.set_memtable_factory(rocksdb::MemtableFactory::Vector);
            } else if name != CF_RAFT && name != CF_SM {
                // The log and the append-only tables get their keys in
                // order. A skip list (the default) takes a key after the
                // last one at the cost of a few comparisons and hands a
                // flush its keys sorted; an appending memtable sorted them
                // at every flush, a third of the flush's CPU. Nor are these
                // families compressed: they are most of what a node writes,
                // and LZ4 took another sixth of each flush. On a dev cluster
                // (4 clients × 8,000 transfers per request, 20 s, two runs
                // each, alternating) the nodes used 26.6 and 24.1 µs of CPU
                // per transfer against 28.4 and 26.7 µs, and booked 70,902
                // and 78,852 transfers/s against 67,500 and 71,204.
                family.set_compression_type(rocksdb::DBCompressionType::None);
            }
            ColumnFamilyDescriptor::new(name, family)
        });
    DB::open_cf_descriptors(&options, dir, families).map(Arc::new)
}
