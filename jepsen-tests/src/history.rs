//! The history: every operation as an `invoke` line and one completion line
//! (`ok`, `fail` or `info`), plus the nemesis's fault windows and what the
//! harness learned after healing. One JSON object per line (`history.jsonl`).
//!
//! The checkers read nothing but a history, so a run can be re-checked later
//! with `jepsen-tests check --history FILE`, and the self-tests feed them
//! hand-made ones. `time_ns` is monotonic nanoseconds since the run began.
//!
//! Values by `f` (amounts are integer minor units):
//!
//! | f | invoke | ok | fail / info |
//! | --- | --- | --- | --- |
//! | `transfer` | `{id, from, to, amount, attempt}` | `{id, index, status}` | `{id, code?}` |
//! | `read` | `{account}` | `{account, index, balance}` | `{account}` |
//! | `read_all` | `{stale}` | `{stale, index, balances}` | `{stale}` |
//! | `initial` | — | `{index, total, accounts, balances}` | — |
//! | `resolve` | — | `{id, found, status?, booked_index?, booked_at?}` | `{id, error}` |
//! | `final_read` | — | like `read_all` | — |
//! | `digest` | — | `{slot, node_id, index, digest, chain_head}` | `{slot}` |
//! | `fault_start`, `fault_stop` | — | `{fault, ...}` (type `info`) | — |
//! | `node_exit` | — | `{slot, node_id, status, log_tail}` (type `info`) | — |

use std::collections::BTreeMap;
use std::io::{BufRead, BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The kind of a history line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The operation began.
    Invoke,
    /// It took effect, with this result.
    Ok,
    /// It certainly did not take effect.
    Fail,
    /// Its outcome is unknown (timeout, connection cut, `outcome_unknown`),
    /// or the line is a nemesis event.
    Info,
}

/// What an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum F {
    /// Post a transfer (a retry keeps the transfer's id).
    Transfer,
    /// Read one account.
    Read,
    /// Read every workload account in one snapshot.
    ReadAll,
    /// The balances the workload starts from.
    Initial,
    /// After healing: the fate of one transfer id.
    Resolve,
    /// After healing: the final balances.
    FinalRead,
    /// After healing: one replica's state digest.
    Digest,
    /// The nemesis began a fault.
    FaultStart,
    /// The nemesis healed a fault.
    FaultStop,
    /// A node process exited without the nemesis killing it.
    NodeExit,
}

/// One history line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Pairs an invoke with its completion.
    pub op: u64,
    /// Who: `c<N>` for clients, `nemesis`, `harness`.
    pub process: String,
    /// invoke / ok / fail / info.
    #[serde(rename = "type")]
    pub kind: Kind,
    /// What.
    pub f: F,
    /// Monotonic nanoseconds since the run began.
    pub time_ns: u64,
    /// The slot (1-based) of the node the request went to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<usize>,
    /// Arguments or results; see the module table.
    #[serde(default)]
    pub value: Value,
    /// Why it failed or is unknown, for a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Kind {
    /// Its name in the history.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Invoke => "invoke",
            Kind::Ok => "ok",
            Kind::Fail => "fail",
            Kind::Info => "info",
        }
    }
}

impl F {
    /// Its name in the history.
    pub fn name(self) -> &'static str {
        match self {
            F::Transfer => "transfer",
            F::Read => "read",
            F::ReadAll => "read_all",
            F::Initial => "initial",
            F::Resolve => "resolve",
            F::FinalRead => "final_read",
            F::Digest => "digest",
            F::FaultStart => "fault_start",
            F::FaultStop => "fault_stop",
            F::NodeExit => "node_exit",
        }
    }
}

/// Posted debits and credits of one account, minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bal {
    /// Posted debits.
    pub debits: i64,
    /// Posted credits.
    pub credits: i64,
}

impl Bal {
    /// Credits minus debits: the balance of a liability (deposit) account.
    pub fn net(&self) -> i64 {
        self.credits - self.debits
    }
}

/// Balances by account id.
pub type Balances = BTreeMap<String, Bal>;

/// A transfer's arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferArgs {
    /// The client-chosen id (kept by every retry).
    pub id: String,
    /// The debited account.
    pub from: String,
    /// The credited account.
    pub to: String,
    /// Minor units.
    pub amount: i64,
    /// 1 for the first attempt; retries and resubmissions count up.
    pub attempt: u32,
}

/// A transfer's acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferAck {
    /// The id.
    pub id: String,
    /// The Raft log index it was told it was applied at.
    pub index: u64,
    /// `posted` (anything else is an anomaly).
    pub status: String,
}

/// A transfer that failed or whose outcome is unknown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferMiss {
    /// The id.
    pub id: String,
    /// The problem's `code`, when the node answered one.
    #[serde(default)]
    pub code: Option<String>,
}

/// A single-account read's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadOk {
    /// The account.
    pub account: String,
    /// The index the read was taken at.
    pub index: u64,
    /// What it saw.
    pub balance: Bal,
}

/// An all-balances read's result (also the final read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadAllOk {
    /// Read with `consistency=stale` (exempt from real-time order, not from
    /// matching the state at its index).
    #[serde(default)]
    pub stale: bool,
    /// The index the snapshot was taken at.
    pub index: u64,
    /// Every workload account.
    pub balances: Balances,
}

/// The workload's starting point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Initial {
    /// The index the balances were read at; every transfer comes later.
    pub index: u64,
    /// Sum of the accounts' balances (credits − debits).
    pub total: i64,
    /// The accounts and whether each may not be overdrawn.
    pub accounts: BTreeMap<String, bool>,
    /// Their balances at `index`.
    pub balances: Balances,
}

/// The fate of a transfer id, read after healing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolved {
    /// The id.
    pub id: String,
    /// Whether the ledger knows the id at all.
    pub found: bool,
    /// Its status (`posted`, `rejected`, ...).
    #[serde(default)]
    pub status: Option<String>,
    /// The index it was booked at.
    #[serde(default)]
    pub booked_index: Option<u64>,
    /// When it was booked (RFC 3339 UTC, fixed width: compares as text).
    #[serde(default)]
    pub booked_at: Option<String>,
}

/// One replica's digest after healing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestOk {
    /// The slot.
    pub slot: usize,
    /// Its current node id.
    pub node_id: u64,
    /// Its applied index.
    pub index: u64,
    /// Its state digest.
    pub digest: String,
    /// Its audit chain head.
    pub chain_head: String,
}

/// Writes the history as it happens and keeps it for the checkers.
pub struct Recorder {
    start: Instant,
    next_op: AtomicU64,
    events: Mutex<Vec<Event>>,
    file: Mutex<BufWriter<std::fs::File>>,
}

/// An invoked operation waiting for its completion.
#[derive(Debug, Clone)]
pub struct Pending {
    op: u64,
    process: String,
    f: F,
    node: Option<usize>,
}

impl Recorder {
    /// A recorder writing to `path`.
    pub fn create(path: &Path, start: Instant) -> anyhow::Result<Recorder> {
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Recorder {
            start,
            next_op: AtomicU64::new(0),
            events: Mutex::new(Vec::new()),
            file: Mutex::new(BufWriter::new(file)),
        })
    }

    /// Monotonic nanoseconds since the run began.
    pub fn now_ns(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn push(&self, event: Event) {
        let line = serde_json::to_string(&event).expect("events serialize");
        {
            let mut file = self.file.lock().expect("no panics while writing");
            // A failed write leaves the in-memory history intact; the checkers use that.
            let _ = writeln!(file, "{line}");
        }
        self.events
            .lock()
            .expect("no panics while recording")
            .push(event);
    }

    /// Records an invocation.
    pub fn invoke(&self, process: &str, f: F, node: Option<usize>, value: Value) -> Pending {
        let op = self.next_op.fetch_add(1, Ordering::Relaxed);
        let time_ns = self.now_ns();
        self.push(Event {
            op,
            process: process.to_string(),
            kind: Kind::Invoke,
            f,
            time_ns,
            node,
            value,
            error: None,
        });
        Pending {
            op,
            process: process.to_string(),
            f,
            node,
        }
    }

    /// Records the completion of `pending`.
    pub fn complete(&self, pending: &Pending, kind: Kind, value: Value, error: Option<String>) {
        self.push(Event {
            op: pending.op,
            process: pending.process.clone(),
            kind,
            f: pending.f,
            time_ns: self.now_ns(),
            node: pending.node,
            value,
            error,
        });
    }

    /// Records a line that has no invocation (results learned after healing,
    /// nemesis events).
    pub fn note(&self, process: &str, kind: Kind, f: F, node: Option<usize>, value: Value) {
        let op = self.next_op.fetch_add(1, Ordering::Relaxed);
        let time_ns = self.now_ns();
        self.push(Event {
            op,
            process: process.to_string(),
            kind,
            f,
            time_ns,
            node,
            value,
            error: None,
        });
    }

    /// Flushes the file.
    pub fn flush(&self) -> anyhow::Result<()> {
        self.file
            .lock()
            .expect("no panics while writing")
            .flush()
            .context("cannot write the history")
    }

    /// Everything recorded so far.
    pub fn events(&self) -> Vec<Event> {
        self.events
            .lock()
            .expect("no panics while recording")
            .clone()
    }
}

/// Reads a `history.jsonl`.
pub fn read(path: &Path) -> anyhow::Result<Vec<Event>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut events = Vec::new();
    for (number, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let event = serde_json::from_str(&line)
            .with_context(|| format!("{}:{}: not a history event", path.display(), number + 1))?;
        events.push(event);
    }
    Ok(events)
}
