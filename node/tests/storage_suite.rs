//! openraft's own storage test suite against the RocksDB log store and the
//! ledger state machine (style.md §5.4): vote, log state, append, truncate,
//! purge, applied state and snapshots as openraft expects them.

use clearledger_node::raft::log_store::LogStore;
use clearledger_node::raft::state_machine::StateMachine;
use clearledger_node::raft::types::{StorageError, TypeConfig};
use clearledger_node::storage;
use openraft::testing::{StoreBuilder, Suite};

struct RocksBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for RocksBuilder {
    async fn build(&self) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = storage::open(&dir.path().join("db")).expect("open rocksdb");
        let state_machine = StateMachine::open(db.clone(), dir.path())?;
        Ok((dir, LogStore::new(db), state_machine))
    }
}

#[test]
fn rocksdb_stores_pass_the_openraft_suite() {
    Suite::test_all(RocksBuilder).expect("storage suite");
}

/// A won vote is read back as not won, in the same term for the same node:
/// a restarted leader stands for election instead of resuming a term whose
/// committed index a power loss may have set back (see `log_store::not_won`).
#[test]
fn a_won_vote_is_read_back_as_not_won() {
    use openraft::Vote;
    use openraft::storage::RaftLogStorage;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = storage::open(dir.path()).expect("open rocksdb");
        let mut store = LogStore::new(db);
        store
            .save_vote(&Vote::new_committed(7, 2))
            .await
            .expect("save");
        assert_eq!(
            store.read_vote().await.expect("read"),
            Some(Vote::new(7, 2))
        );
        store.save_vote(&Vote::new(8, 3)).await.expect("save");
        assert_eq!(
            store.read_vote().await.expect("read"),
            Some(Vote::new(8, 3))
        );
    });
}
