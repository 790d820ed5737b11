//! Checkers: pure functions from a history to verdicts.
//!
//! [`parse`] pairs every invocation with its completion and gathers what the
//! harness learned after healing; [`check`] runs the six checkers over that:
//!
//! 1. `conservation`: every all-balances read sums to the initial total.
//! 2. `no_overdraft`: no account flagged "debits must not exceed credits" is
//!    ever seen below zero, in a read or in the replayed journal.
//! 3. `exactly_once`: every acknowledged transfer is posted, no transfer that
//!    certainly failed is, and the final balances equal the initial ones plus
//!    every posted transfer applied exactly once.
//! 4. `linearizable`: the journal witness — replaying the posted transfers in
//!    index order reproduces every read at the index it reports, every
//!    acknowledgement names the index its transfer was booked at, and indexes
//!    respect real-time order.
//! 5. `replicas`: every replica reports the same digest at the same index.
//! 6. `idempotent_retries`: every attempt of one id that was acknowledged
//!    names the same index, the one the transfer was booked at, and no
//!    retried transfer's amount shows up twice in the final balances.
//! 7. `nodes_stayed_up`: no node process exited unless the nemesis killed it
//!    (a crash under test is a finding even when the data survive it).
//! 8. `clock_monotonic`: posted transfers in index order were booked at
//!    non-decreasing times, whatever the leaders' clocks said.

mod balances;
mod clock;
mod replicas;
mod transfers;
mod witness;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::{Value, json};

use crate::history::{
    Balances, DigestOk, Event, F, Initial, Kind, ReadAllOk, ReadOk, Resolved, TransferAck,
    TransferArgs, TransferMiss,
};

/// Most anomalies a checker lists in full (the count is always exact).
const ANOMALIES_LISTED_MAX: usize = 50;

/// A checker's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The property holds.
    Valid,
    /// The history shows it does not.
    Invalid,
    /// The history does not say (something needed was never learned).
    Unknown,
}

/// One checker's result.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    /// The checker.
    pub name: &'static str,
    /// Its verdict.
    pub verdict: Verdict,
    /// One sentence for a person.
    pub summary: String,
    /// How many anomalies it found.
    pub anomaly_count: usize,
    /// The first anomalies, each a JSON object with a `kind`.
    pub anomalies: Vec<Value>,
}

/// Collects anomalies for one checker.
#[derive(Default)]
pub(crate) struct Findings {
    count: usize,
    listed: Vec<Value>,
    unknown: Vec<String>,
}

impl Findings {
    pub(crate) fn anomaly(&mut self, anomaly: Value) {
        self.count += 1;
        if self.listed.len() < ANOMALIES_LISTED_MAX {
            self.listed.push(anomaly);
        }
    }

    /// Notes something the checker could not decide.
    pub(crate) fn unknown(&mut self, why: impl Into<String>) {
        self.unknown.push(why.into());
    }

    pub(crate) fn result(self, name: &'static str, valid_summary: String) -> CheckResult {
        let (verdict, summary) = if self.count > 0 {
            (Verdict::Invalid, format!("{} anomalies", self.count))
        } else if !self.unknown.is_empty() {
            (Verdict::Unknown, self.unknown.join("; "))
        } else {
            (Verdict::Valid, valid_summary)
        };
        CheckResult {
            name,
            verdict,
            summary,
            anomaly_count: self.count,
            anomalies: self.listed,
        }
    }
}

/// One attempt to post a transfer.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// Its op number.
    pub op: u64,
    /// What was sent.
    pub args: TransferArgs,
    /// When it was invoked.
    pub invoke_ns: u64,
    /// When it completed, if it did.
    pub complete_ns: Option<u64>,
    /// How it completed (`None`: never, e.g. the run was interrupted).
    pub kind: Option<Kind>,
    /// The acknowledgement, for `ok`.
    pub ack: Option<TransferAck>,
    /// The problem code, for `fail` and `info`.
    pub code: Option<String>,
}

/// Everything known about one transfer id.
#[derive(Debug, Clone)]
pub struct Transfer {
    /// The first attempt's arguments (every retry must send the same).
    pub args: TransferArgs,
    /// Every attempt, in invocation order.
    pub attempts: Vec<Attempt>,
    /// Its fate after healing.
    pub resolved: Option<Resolved>,
}

impl Transfer {
    /// The acknowledged attempts.
    pub fn acks(&self) -> impl Iterator<Item = (&Attempt, &TransferAck)> {
        self.attempts
            .iter()
            .filter_map(|attempt| attempt.ack.as_ref().map(|ack| (attempt, ack)))
    }

    /// Whether every attempt certainly failed.
    pub fn certainly_failed(&self) -> bool {
        self.attempts
            .iter()
            .all(|attempt| attempt.kind == Some(Kind::Fail))
    }

    /// Whether the ledger holds it as posted.
    pub fn posted(&self) -> bool {
        self.resolved
            .as_ref()
            .is_some_and(|r| r.found && r.status.as_deref() == Some("posted"))
    }
}

/// A read that answered.
#[derive(Debug, Clone)]
pub struct Observation {
    /// Its op number.
    pub op: u64,
    /// What it was (`read`, `read_all`, `final_read`).
    pub f: F,
    /// Whether it was a stale read (exempt from real-time order).
    pub stale: bool,
    /// When it was invoked.
    pub invoke_ns: u64,
    /// When it answered.
    pub complete_ns: u64,
    /// The index it reports.
    pub index: u64,
    /// What it saw.
    pub balances: Balances,
    /// Whether it is meant to hold every workload account.
    pub all: bool,
}

/// A history, digested for the checkers.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    /// The starting point.
    pub initial: Option<Initial>,
    /// Transfers by id.
    pub transfers: BTreeMap<String, Transfer>,
    /// Reads that answered.
    pub observations: Vec<Observation>,
    /// Final digests by slot (a slot that could not be asked has `None`).
    pub digests: BTreeMap<usize, Option<DigestOk>>,
    /// Node processes that exited without the nemesis killing them.
    pub exits: Vec<Value>,
    /// Counts of (f, kind), for the summary.
    pub counts: BTreeMap<String, u64>,
}

fn decode<T: serde::de::DeserializeOwned>(event: &Event) -> anyhow::Result<T> {
    serde_json::from_value(event.value.clone()).with_context(|| {
        format!(
            "op {} ({:?} {:?}): unexpected value {}",
            event.op, event.f, event.kind, event.value
        )
    })
}

/// Digests a history for the checkers.
pub fn parse(events: &[Event]) -> anyhow::Result<Parsed> {
    let mut parser = Parser::default();
    for event in events {
        let key = format!("{}:{}", event.f.name(), event.kind.name());
        *parser.parsed.counts.entry(key).or_default() += 1;
        if event.kind == Kind::Invoke {
            parser.invoke(event)?;
        } else {
            parser.complete(event)?;
        }
    }
    Ok(parser.parsed)
}

/// [`parse`]'s state: what it has so far, and where each invocation went.
#[derive(Default)]
struct Parser {
    parsed: Parsed,
    invoked_ns: BTreeMap<u64, u64>,
    attempt_of: BTreeMap<u64, (String, usize)>,
}

impl Parser {
    fn invoke(&mut self, event: &Event) -> anyhow::Result<()> {
        if self.invoked_ns.insert(event.op, event.time_ns).is_some() {
            bail!("op {} is invoked twice", event.op);
        }
        if event.f != F::Transfer {
            return Ok(());
        }
        let args: TransferArgs = decode(event)?;
        let attempt = Attempt {
            op: event.op,
            args: args.clone(),
            invoke_ns: event.time_ns,
            complete_ns: None,
            kind: None,
            ack: None,
            code: None,
        };
        let id = args.id.clone();
        let transfer = self
            .parsed
            .transfers
            .entry(id.clone())
            .or_insert_with(|| Transfer {
                args,
                attempts: Vec::new(),
                resolved: None,
            });
        self.attempt_of
            .insert(event.op, (id, transfer.attempts.len()));
        transfer.attempts.push(attempt);
        Ok(())
    }

    fn invoked_ns(&self, event: &Event) -> anyhow::Result<u64> {
        self.invoked_ns
            .get(&event.op)
            .copied()
            .with_context(|| format!("op {} completes without an invocation", event.op))
    }

    fn complete(&mut self, event: &Event) -> anyhow::Result<()> {
        let parsed = &mut self.parsed;
        match event.f {
            F::Transfer => {
                let (id, at) = self.attempt_of.get(&event.op).with_context(|| {
                    format!(
                        "op {} completes a transfer that was never invoked",
                        event.op
                    )
                })?;
                let transfer = parsed
                    .transfers
                    .get_mut(id)
                    .expect("recorded at its invocation");
                complete_transfer(&mut transfer.attempts[*at], event)?;
            }
            F::Read | F::ReadAll => {
                let invoke_ns = self.invoked_ns(event)?;
                if event.kind == Kind::Ok {
                    self.parsed
                        .observations
                        .push(observation(event, invoke_ns)?);
                }
            }
            F::FinalRead if event.kind == Kind::Ok => {
                parsed.observations.push(observation(event, event.time_ns)?);
            }
            F::Initial if event.kind == Kind::Ok => parsed.initial = Some(decode(event)?),
            F::Resolve if event.kind == Kind::Ok => {
                let resolved: Resolved = decode(event)?;
                let Some(transfer) = parsed.transfers.get_mut(&resolved.id) else {
                    bail!(
                        "op {}: resolves {} which was never invoked",
                        event.op,
                        resolved.id
                    );
                };
                transfer.resolved = Some(resolved);
            }
            F::NodeExit => parsed.exits.push(event.value.clone()),
            F::Digest => {
                let slot = event
                    .node
                    .with_context(|| format!("op {}: a digest without a node", event.op))?;
                let digest = if event.kind == Kind::Ok {
                    Some(decode(event)?)
                } else {
                    None
                };
                parsed.digests.insert(slot, digest);
            }
            _ => {}
        }
        Ok(())
    }
}

fn complete_transfer(attempt: &mut Attempt, event: &Event) -> anyhow::Result<()> {
    if attempt.kind.is_some() {
        bail!("op {} completes twice", event.op);
    }
    attempt.complete_ns = Some(event.time_ns);
    attempt.kind = Some(event.kind);
    match event.kind {
        Kind::Ok => {
            let ack: TransferAck = decode(event)?;
            if ack.id != attempt.args.id {
                bail!(
                    "op {}: acknowledges {} but invoked {}",
                    event.op,
                    ack.id,
                    attempt.args.id
                );
            }
            attempt.ack = Some(ack);
        }
        _ => {
            let miss: TransferMiss = decode(event)?;
            attempt.code = miss.code;
        }
    }
    Ok(())
}

fn observation(event: &Event, invoke_ns: u64) -> anyhow::Result<Observation> {
    let (stale, index, balances, all) = if event.f == F::Read {
        let read: ReadOk = decode(event)?;
        (
            false,
            read.index,
            Balances::from([(read.account, read.balance)]),
            false,
        )
    } else {
        let read: ReadAllOk = decode(event)?;
        (read.stale, read.index, read.balances, true)
    };
    Ok(Observation {
        op: event.op,
        f: event.f,
        stale,
        invoke_ns,
        complete_ns: event.time_ns,
        index,
        balances,
        all,
    })
}

/// Runs every checker.
pub fn check(parsed: &Parsed) -> Vec<CheckResult> {
    let replay = witness::Replay::build(parsed);
    vec![
        balances::conservation(parsed),
        balances::no_overdraft(parsed, &replay),
        transfers::exactly_once(parsed, &replay),
        witness::linearizable(parsed, &replay),
        replicas::same_digest(parsed),
        transfers::idempotent_retries(parsed, &replay),
        replicas::stayed_up(parsed),
        clock::booked_in_time_order(parsed),
    ]
}

/// Counts and verdicts as one JSON value.
pub fn summary(parsed: &Parsed, results: &[CheckResult]) -> Value {
    let valid = results
        .iter()
        .all(|result| result.verdict == Verdict::Valid);
    let acked = parsed
        .transfers
        .values()
        .filter(|t| t.acks().next().is_some())
        .count();
    let unknown = parsed
        .transfers
        .values()
        .filter(|t| t.acks().next().is_none() && !t.certainly_failed())
        .count();
    json!({
        "valid": valid,
        "checkers": results,
        "transfers": {
            "ids": parsed.transfers.len(),
            "acknowledged": acked,
            "unknown_outcome": unknown,
            "posted": parsed.transfers.values().filter(|t| t.posted()).count(),
            "retried": parsed.transfers.values().filter(|t| t.attempts.len() > 1).count(),
        },
        "reads_ok": parsed.observations.len(),
        "counts": parsed.counts,
    })
}
