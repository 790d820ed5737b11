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
        let db = storage::open(dir.path()).expect("open rocksdb");
        let state_machine = StateMachine::open(db.clone())?;
        Ok((dir, LogStore::new(db), state_machine))
    }
}

#[test]
fn rocksdb_stores_pass_the_openraft_suite() {
    Suite::test_all(RocksBuilder).expect("storage suite");
}
