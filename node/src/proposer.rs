//! Group commit: concurrent requests are coalesced into one Raft entry.
//!
//! openraft 0.9 appends one client write at a time, so throughput comes from
//! making each Raft entry carry many ledger commands. Requests queue on a
//! channel; a loop takes everything queued (up to the count and byte bounds)
//! as soon as an in-flight slot frees up, stamps it with the leader's clock,
//! and proposes it as one entry. Batch calls from one request stay one
//! command, so they stay in one entry.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ledger::{Applied, Command, CommandKind, Timestamp};
use openraft::error::{ClientWriteError, RaftError};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::config::WriteSettings;
use crate::raft::types::{Batch, NodeId, Raft};

/// Why a proposal has no outcome.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProposeError {
    /// This node is not the leader; nothing was proposed.
    #[error("this node is not the leader")]
    NotLeader {
        /// The leader, if known.
        leader: Option<NodeId>,
    },
    /// The proposal was made but its fate is not known.
    #[error("outcome unknown: {0}")]
    Unknown(String),
    /// Too many requests are queued.
    #[error("the write queue is full")]
    Overloaded,
}

struct Proposal {
    command: Command,
    reply: oneshot::Sender<Result<Applied, ProposeError>>,
}

/// The handle requests use to propose commands.
#[derive(Clone)]
pub struct Proposer {
    queue: mpsc::Sender<Proposal>,
}

/// The leader's clock, read once per Raft entry.
pub fn now() -> Timestamp {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    Timestamp(i64::try_from(micros).unwrap_or(i64::MAX))
}

/// A cheap estimate of a command's weight in entries and bytes.
fn weight(command: &Command) -> (usize, usize) {
    match &command.kind {
        CommandKind::PostEntries { entries, .. } => {
            let bytes = entries
                .iter()
                .map(|entry| {
                    96 + entry.postings.len() * 48
                        + entry.memo.as_ref().map_or(0, String::len)
                        + entry.reference.as_ref().map_or(0, String::len)
                })
                .sum();
            (entries.len(), bytes)
        }
        _ => (1, 256),
    }
}

impl Proposer {
    /// Starts the group-commit loop for `raft`.
    pub fn start(raft: Raft, settings: WriteSettings) -> Proposer {
        let (queue, receiver) = mpsc::channel(settings.queue_max);
        tokio::spawn(run(raft, settings, receiver));
        Proposer { queue }
    }

    /// Queues `command` and returns where its outcome will arrive.
    pub fn propose(
        &self,
        command: Command,
    ) -> Result<oneshot::Receiver<Result<Applied, ProposeError>>, ProposeError> {
        let (reply, outcome) = oneshot::channel();
        self.queue
            .try_send(Proposal { command, reply })
            .map_err(|_| ProposeError::Overloaded)?;
        Ok(outcome)
    }
}

async fn run(raft: Raft, settings: WriteSettings, mut receiver: mpsc::Receiver<Proposal>) {
    let slots = Arc::new(Semaphore::new(settings.in_flight_max));
    let mut carried: Option<Proposal> = None;
    loop {
        let slot = slots
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let first = match carried.take() {
            Some(proposal) => proposal,
            None => match receiver.recv().await {
                Some(proposal) => proposal,
                None => return,
            },
        };
        let (mut entries, mut bytes) = weight(&first.command);
        let mut batch = vec![first];
        while entries < settings.batch_entries_max && bytes < settings.batch_bytes_max {
            let Ok(next) = receiver.try_recv() else { break };
            let (more_entries, more_bytes) = weight(&next.command);
            if entries + more_entries > settings.batch_entries_max {
                carried = Some(next);
                break;
            }
            entries += more_entries;
            bytes += more_bytes;
            batch.push(next);
        }
        let raft = raft.clone();
        tokio::spawn(async move {
            write(raft, batch).await;
            drop(slot);
        });
    }
}

async fn write(raft: Raft, batch: Vec<Proposal>) {
    let at = now();
    let (commands, replies): (Vec<Command>, Vec<_>) = batch
        .into_iter()
        .map(|proposal| {
            (
                Command {
                    at,
                    ..proposal.command
                },
                proposal.reply,
            )
        })
        .unzip();
    match raft.client_write(Batch { commands }).await {
        Ok(response) => {
            assert_eq!(
                response.data.applied.len(),
                replies.len(),
                "one outcome per command"
            );
            for (reply, applied) in replies.into_iter().zip(response.data.applied) {
                // The requester may have given up at its deadline; that is fine.
                let _ = reply.send(Ok(applied));
            }
        }
        Err(error) => {
            let outcome = match &error {
                RaftError::APIError(ClientWriteError::ForwardToLeader(forward)) => {
                    ProposeError::NotLeader {
                        leader: forward.leader_id,
                    }
                }
                other => ProposeError::Unknown(other.to_string()),
            };
            for reply in replies {
                let _ = reply.send(Err(outcome.clone()));
            }
        }
    }
}
