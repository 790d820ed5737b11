//! Group commit: concurrent requests are coalesced into one Raft entry.
//!
//! openraft 0.9 appends one client write at a time, so throughput comes from
//! making each Raft entry carry many ledger commands. Requests queue on a
//! channel; a loop takes everything queued (up to the count and byte bounds)
//! as soon as an in-flight slot frees up, stamps it with the leader's clock,
//! and proposes it as one entry. Batch calls from one request stay one
//! command, so they stay in one entry.
//!
//! On a follower the same loop gathers its clients' commands, and each
//! gathered batch goes to the leader in one internal call
//! (`/internal/propose`); the leader queues it whole with its own clients'
//! commands, so it rides in one entry with them: a follower's
//! clients cost the leader one request per batch instead of one each. The
//! follower has authenticated and parsed them; the ledger checks the
//! principal again when it applies each command, on every replica.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ledger::{Applied, Command, CommandKind, Timestamp};
use openraft::error::{ClientWriteError, RaftError};
use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::codec;
use crate::config::WriteSettings;
use crate::raft::network::CLUSTER_SECRET_HEADER;
use crate::raft::types::{Batch, NodeId, Raft};

/// The internal route a follower sends its gathered commands to.
pub const PROPOSE_PATH: &str = "/internal/propose";

/// Why a proposal has no outcome.
#[derive(Debug, Clone, thiserror::Error, Serialize, Deserialize)]
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

/// Queued for group commit: one command of this node's clients, or the
/// gathered commands of a follower's, which stay together in one entry.
struct Proposal {
    commands: Vec<Command>,
    reply: Reply,
}

/// Where a proposal's outcomes go.
enum Reply {
    One(oneshot::Sender<Result<Applied, ProposeError>>),
    Forwarded(oneshot::Sender<Result<Vec<Applied>, ProposeError>>),
}

impl Proposal {
    fn weight(&self) -> (usize, usize) {
        self.commands
            .iter()
            .map(weight)
            .fold((0, 0), |(entries, bytes), (e, b)| (entries + e, bytes + b))
    }
}

impl Reply {
    /// Sends the outcomes of the proposal's commands. The requester may
    /// have given up at its deadline; that is fine.
    fn send(self, outcome: Result<Vec<Applied>, ProposeError>) {
        match self {
            Reply::One(reply) => {
                let _ = reply.send(
                    outcome.map(|mut applied| applied.pop().expect("one outcome per command")),
                );
            }
            Reply::Forwarded(reply) => {
                let _ = reply.send(outcome);
            }
        }
    }
}

/// The handle requests use to propose commands.
#[derive(Clone)]
pub struct Proposer {
    queue: mpsc::Sender<Proposal>,
}

/// How a follower reaches the leader with its gathered commands.
#[derive(Clone)]
pub struct Forwarding {
    /// This node.
    pub node_id: NodeId,
    /// The client for peers (TLS as configured).
    pub client: reqwest::Client,
    /// `http` or `https`.
    pub scheme: &'static str,
    /// Sent on every internal call when set.
    pub secret: Option<String>,
    /// How long the leader may take to answer.
    pub timeout: Duration,
}

/// The leader's clock, read once per Raft entry.
pub fn now() -> Timestamp {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    Timestamp(i64::try_from(micros).unwrap_or(i64::MAX))
}

/// A cheap estimate of the encoded size of `commands`, in bytes.
pub fn estimated_bytes(commands: &[Command]) -> usize {
    commands.iter().map(|command| weight(command).1).sum()
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
    pub fn start(raft: Raft, settings: WriteSettings, forwarding: Forwarding) -> Proposer {
        let (queue, receiver) = mpsc::channel(settings.queue_max);
        tokio::spawn(run(raft, settings, forwarding, receiver));
        Proposer { queue }
    }

    /// Queues `command` and returns where its outcome will arrive.
    pub fn propose(
        &self,
        command: Command,
    ) -> Result<oneshot::Receiver<Result<Applied, ProposeError>>, ProposeError> {
        let (reply, outcome) = oneshot::channel();
        self.queue
            .try_send(Proposal {
                commands: vec![command],
                reply: Reply::One(reply),
            })
            .map_err(|_| ProposeError::Overloaded)?;
        Ok(outcome)
    }

    /// Queues a follower's gathered `commands`, to be proposed here (never
    /// sent on) in one entry, and returns where their outcomes will arrive.
    pub fn propose_forwarded(
        &self,
        commands: Vec<Command>,
    ) -> Result<oneshot::Receiver<Result<Vec<Applied>, ProposeError>>, ProposeError> {
        let (reply, outcome) = oneshot::channel();
        self.queue
            .try_send(Proposal {
                commands,
                reply: Reply::Forwarded(reply),
            })
            .map_err(|_| ProposeError::Overloaded)?;
        Ok(outcome)
    }
}

async fn run(
    raft: Raft,
    settings: WriteSettings,
    forwarding: Forwarding,
    mut receiver: mpsc::Receiver<Proposal>,
) {
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
        let (mut entries, mut bytes) = first.weight();
        let mut batch = vec![first];
        while entries < settings.batch_entries_max && bytes < settings.batch_bytes_max {
            let Ok(next) = receiver.try_recv() else { break };
            let (more_entries, more_bytes) = next.weight();
            if entries + more_entries > settings.batch_entries_max {
                carried = Some(next);
                break;
            }
            entries += more_entries;
            bytes += more_bytes;
            batch.push(next);
        }
        let raft = raft.clone();
        let forwarding = forwarding.clone();
        tokio::spawn(async move {
            write(raft, forwarding, batch).await;
            drop(slot);
        });
    }
}

async fn write(raft: Raft, forwarding: Forwarding, batch: Vec<Proposal>) {
    let mut commands = Vec::with_capacity(batch.len());
    let mut replies = Vec::with_capacity(batch.len());
    let mut from_a_follower = false;
    for proposal in batch {
        from_a_follower |= matches!(proposal.reply, Reply::Forwarded(_));
        replies.push((proposal.commands.len(), proposal.reply));
        commands.extend(proposal.commands);
    }
    // A follower's commands are proposed here or not at all: never sent on.
    let leader = if from_a_follower {
        None
    } else {
        let metrics = raft.metrics();
        let metrics = metrics.borrow();
        metrics
            .current_leader
            .filter(|&leader| leader != forwarding.node_id)
            .and_then(|leader| {
                let node = metrics.membership_config.membership().get_node(&leader)?;
                Some((leader, node.addr.clone()))
            })
    };
    let outcome = match leader {
        Some((leader, addr)) => forward(&forwarding, leader, &addr, commands).await,
        None => propose_here(&raft, commands).await,
    };
    match outcome {
        Ok(applied) => {
            let mut applied = applied.into_iter();
            for (count, reply) in replies {
                let theirs: Vec<Applied> = applied.by_ref().take(count).collect();
                assert_eq!(theirs.len(), count, "one outcome per command");
                reply.send(Ok(theirs));
            }
            assert!(applied.next().is_none(), "one outcome per command");
        }
        Err(error) => {
            for (_, reply) in replies {
                reply.send(Err(error.clone()));
            }
        }
    }
}

/// Proposes `commands` as one Raft entry on this node, stamped with its
/// clock, and answers their outcomes in order.
pub async fn propose_here(
    raft: &Raft,
    commands: Vec<Command>,
) -> Result<Vec<Applied>, ProposeError> {
    let at = now();
    let commands = commands
        .into_iter()
        .map(|command| Command { at, ..command })
        .collect();
    match raft.client_write(Batch { commands }).await {
        Ok(response) => Ok(response.data.applied),
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(forward))) => {
            Err(ProposeError::NotLeader {
                leader: forward.leader_id,
            })
        }
        Err(other) => Err(ProposeError::Unknown(other.to_string())),
    }
}

/// Sends `commands` to the leader's [`PROPOSE_PATH`] and answers what it
/// answered. A leader that could not be reached was proposed nothing; one
/// that did not answer may have proposed them.
async fn forward(
    forwarding: &Forwarding,
    leader: NodeId,
    addr: &str,
    commands: Vec<Command>,
) -> Result<Vec<Applied>, ProposeError> {
    let sent = commands.len();
    let body =
        crate::blocking::blocking_over(estimated_bytes(&commands), || codec::encode(&commands));
    let mut request = forwarding
        .client
        .post(format!("{}://{addr}{PROPOSE_PATH}", forwarding.scheme))
        .timeout(forwarding.timeout)
        .body(body);
    if let Some(secret) = &forwarding.secret {
        request = request.header(CLUSTER_SECRET_HEADER, secret);
    }
    let unknown = |what: String| ProposeError::Unknown(format!("leader {leader} {what}"));
    let response = request.send().await.map_err(|error| {
        if error.is_connect() {
            ProposeError::NotLeader {
                leader: Some(leader),
            }
        } else {
            unknown(format!("did not answer: {error}"))
        }
    })?;
    if !response.status().is_success() {
        return Err(unknown(format!("answered {}", response.status())));
    }
    let bytes = response
        .bytes()
        .await
        .map_err(|error| unknown(format!("cut its answer off: {error}")))?;
    let answer: Result<Vec<Applied>, ProposeError> =
        crate::blocking::blocking_over(bytes.len(), || codec::decode(&bytes)).map_err(|error| {
            unknown(format!("answered in a form this node cannot read: {error}"))
        })?;
    match answer {
        Ok(applied) if applied.len() != sent => Err(unknown(format!(
            "answered {} outcomes for {sent} commands",
            applied.len()
        ))),
        answer => answer,
    }
}
