//! Test-only fault switches: real bugs that the `jepsen-tests` harness must
//! catch, to prove its checkers can fail. Compiled only with the cargo
//! feature `fault-injection` (release builds leave it off) and chosen at
//! start by `CLEARLEDGER_FAULT`:
//!
//! - `skip_linearizable_read`: reads skip read-index and are served from
//!   whichever node gets them (a follower no longer forwards them).
//! - `skip_dedup`: a posted entry whose id the ledger already holds is
//!   proposed again under a fresh id, so a client's retry posts twice.
//! - `ack_before_commit`: a write is answered "posted" as soon as it is
//!   queued, at a guessed index, before it is committed or even validated.
//! - `reapply_on_restart`: on restart the state machine reports the last
//!   snapshot as its applied state, so openraft replays the log onto state
//!   that already holds it; the replayed entries are posted again (under
//!   fresh ids, since the ledger's own id check would absorb them).
//! - `skip_fsync`: the Raft log store writes its appends, votes,
//!   truncations and purges without sync, so an entry openraft counts as
//!   persisted (and a vote it counts as cast) may be lost by a power loss.
//!
//! Each hook elsewhere is one `#[cfg(feature = "fault-injection")]` call
//! into this module.

use std::sync::Mutex;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use ledger::{
    Applied, Command, CommandKind, EntryId, EntryOutcome, EntryStatus, NewEntry, Position, Receipt,
};
use openraft::EntryPayload;

use crate::app::App;
use crate::http::error::ApiError;
use crate::raft::types::{Batch, TypeConfig};

/// An injected bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Serve reads without read-index, locally.
    SkipLinearizableRead,
    /// Post a known id again under a fresh id.
    SkipDedup,
    /// Answer writes before they are committed.
    AckBeforeCommit,
    /// Replay the log since the last snapshot onto the state on restart.
    ReapplyOnRestart,
    /// Write the Raft log and the vote without fsync.
    SkipFsync,
}

static ACTIVE: OnceLock<Option<Fault>> = OnceLock::new();

/// Reads `CLEARLEDGER_FAULT`; an unknown name stops the node.
pub fn init() -> anyhow::Result<()> {
    let fault = match std::env::var("CLEARLEDGER_FAULT").ok().as_deref() {
        None | Some("") => None,
        Some("skip_linearizable_read") => Some(Fault::SkipLinearizableRead),
        Some("skip_dedup") => Some(Fault::SkipDedup),
        Some("ack_before_commit") => Some(Fault::AckBeforeCommit),
        Some("reapply_on_restart") => Some(Fault::ReapplyOnRestart),
        Some("skip_fsync") => Some(Fault::SkipFsync),
        Some(other) => anyhow::bail!("unknown CLEARLEDGER_FAULT {other:?}"),
    };
    if let Some(fault) = fault {
        tracing::warn!(
            ?fault,
            "FAULT INJECTION ACTIVE: this node is deliberately broken"
        );
    }
    let _ = ACTIVE.set(fault);
    Ok(())
}

/// Whether `fault` is the injected one.
pub fn is(fault: Fault) -> bool {
    ACTIVE.get().copied().flatten() == Some(fault)
}

/// `skip_dedup`: entries whose id the ledger holds get a fresh id.
pub fn forget_ids(
    app: &App,
    parsed: Vec<Result<NewEntry, ApiError>>,
) -> Vec<Result<NewEntry, ApiError>> {
    if !is(Fault::SkipDedup) {
        return parsed;
    }
    let ledger = app.ledger();
    parsed
        .into_iter()
        .map(|item| {
            item.map(|mut entry| {
                if ledger.entry(&entry.id).is_some() {
                    entry.id = fresh_id(&entry.id, "dup");
                }
                entry
            })
        })
        .collect()
}

static FRESH: AtomicU64 = AtomicU64::new(0);

fn fresh_id(id: &EntryId, tag: &str) -> EntryId {
    let suffix = format!(":{tag}{}", FRESH.fetch_add(1, Ordering::Relaxed));
    let keep = id.as_str().len().min(64 - suffix.len());
    EntryId::new(format!("{}{suffix}", &id.as_str()[..keep]))
        .expect("ids are ASCII; the suffix is valid")
}

/// `ack_before_commit`: the answer to give now for `command`, if any.
pub fn early_answer(app: &App, command: &Command) -> Option<Applied> {
    let CommandKind::PostEntries { entries, .. } = &command.kind else {
        return None;
    };
    if !is(Fault::AckBeforeCommit) {
        return None;
    }
    let guess = app.raft.metrics().borrow().last_log_index.unwrap_or(0) + 1;
    let position = Position {
        index: guess,
        seq: 0,
    };
    let at = app.ledger().applied_at();
    let outcomes = entries
        .iter()
        .map(|entry| EntryOutcome {
            id: entry.id.clone(),
            status: EntryStatus::Posted,
            position,
            booked_at: at,
        })
        .collect();
    Some(Applied {
        position,
        at,
        outcome: Ok(Receipt::Entries(outcomes)),
    })
}

/// `skip_fsync`: the log store's synced writes are written without sync.
pub fn skip_fsync(options: &mut rocksdb::WriteOptions) {
    if is(Fault::SkipFsync) {
        options.set_sync(false);
    }
}

static REPLAY_DONE: AtomicBool = AtomicBool::new(false);
static REPLAYED: Mutex<Vec<Command>> = Mutex::new(Vec::new());

/// `reapply_on_restart`: whether to report the snapshot, not the real
/// applied log id, this once (at the first start over existing state).
pub fn replay_on_start(has_state: bool) -> bool {
    is(Fault::ReapplyOnRestart) && has_state && !REPLAY_DONE.swap(true, Ordering::SeqCst)
}

/// `reapply_on_restart`: an entry the ledger already applied is kept aside
/// (`None`); the next new one carries the kept commands in front of its own,
/// and says how many so their outcomes can be dropped.
pub fn replay_into(
    applied_index: u64,
    mut entry: openraft::Entry<TypeConfig>,
) -> Option<(openraft::Entry<TypeConfig>, usize)> {
    if !is(Fault::ReapplyOnRestart) {
        return Some((entry, 0));
    }
    let mut kept = REPLAYED.lock().expect("no panics while holding the replay");
    if applied_index > 0 && entry.log_id.index <= applied_index {
        if let EntryPayload::Normal(batch) = entry.payload {
            kept.extend(batch.commands.into_iter().map(renamed));
        }
        return None;
    }
    let replayed = kept.len();
    entry.payload = match entry.payload {
        EntryPayload::Normal(batch) => {
            kept.extend(batch.commands);
            EntryPayload::Normal(Batch {
                commands: std::mem::take(&mut *kept),
            })
        }
        EntryPayload::Blank if replayed > 0 => EntryPayload::Normal(Batch {
            commands: std::mem::take(&mut *kept),
        }),
        other => {
            return Some((
                openraft::Entry {
                    log_id: entry.log_id,
                    payload: other,
                },
                0,
            ));
        }
    };
    Some((entry, replayed))
}

fn renamed(mut command: Command) -> Command {
    if let CommandKind::PostEntries { entries, .. } = &mut command.kind {
        for entry in entries {
            entry.id = fresh_id(&entry.id, "re");
        }
    }
    command
}

/// Drops the outcomes of replayed commands, keeping the entry's own.
pub fn own_outcomes(mut applied: Vec<Applied>, replayed: usize) -> Vec<Applied> {
    applied.split_off(replayed.min(applied.len()))
}
