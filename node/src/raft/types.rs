//! The Raft type configuration: what a log entry carries and what applying it answers.

use serde::{Deserialize, Serialize};

/// A Raft node id.
pub type NodeId = u64;

/// The payload of one Raft log entry: the ledger commands group commit
/// coalesced into it, applied in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    /// The commands, in order.
    pub commands: Vec<ledger::Command>,
}

/// What applying one log entry answered, one result per command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct BatchOutcome {
    /// One result per command of the batch.
    pub applied: Vec<ledger::Applied>,
}

openraft::declare_raft_types!(
    /// ClearLedger's Raft types.
    pub TypeConfig:
        D = Batch,
        R = BatchOutcome,
        NodeId = NodeId,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = tokio::fs::File,
        AsyncRuntime = openraft::TokioRuntime,
);

/// A cheap estimate of `entry`'s encoded size, in bytes.
pub fn estimated_entry_bytes(entry: &openraft::Entry<TypeConfig>) -> usize {
    match &entry.payload {
        openraft::EntryPayload::Normal(batch) => {
            64 + crate::proposer::estimated_bytes(&batch.commands)
        }
        _ => 64,
    }
}

/// A log id in this configuration.
pub type LogId = openraft::LogId<NodeId>;
/// A storage error in this configuration.
pub type StorageError = openraft::StorageError<NodeId>;
/// The Raft handle.
pub type Raft = openraft::Raft<TypeConfig>;
