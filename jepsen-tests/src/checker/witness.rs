//! The journal-witness linearizability checker.
//!
//! Every write and every read of this API names a Raft log index, and the
//! ledger's state at an index is a function of the transfers booked at or
//! below it. So instead of searching for a linearization (NP-hard in
//! general), the checker takes the one the cluster claims and verifies it:
//!
//! - replaying the posted transfers in index order from the initial balances
//!   reproduces every read exactly, at the index the read reports;
//! - every acknowledgement names the index its transfer was booked at;
//! - indexes respect real-time order: if A completed before B was invoked,
//!   A's index ≤ B's (and < B's when B is a transfer, which cannot be in a
//!   state read before it existed).
//!
//! A transfer's interval runs from its id's first invocation to its first
//! acknowledgement; a transfer whose outcome stayed unknown but turned out
//! posted has no end, so it can only be the later operation of a pair.

use std::collections::BTreeMap;

use serde_json::json;

use super::{CheckResult, F, Findings, Parsed};
use crate::history::{Bal, Balances};

/// A posted transfer, as the client asked for it.
#[derive(Debug, Clone)]
pub(crate) struct Posted {
    pub(crate) index: u64,
    pub(crate) id: String,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) amount: i64,
}

/// The posted transfers in index order, from the initial balances.
pub(crate) struct Replay {
    pub(crate) initial_index: u64,
    pub(crate) initial: Balances,
    pub(crate) flagged: Vec<String>,
    pub(crate) posted: Vec<Posted>,
    /// Why the replay cannot be trusted, if it cannot (missing initial state,
    /// unresolved ids).
    pub(crate) incomplete: Option<String>,
}

impl Replay {
    pub(crate) fn build(parsed: &Parsed) -> Replay {
        let mut posted: Vec<Posted> = parsed
            .transfers
            .values()
            .filter(|transfer| transfer.posted())
            .filter_map(|transfer| {
                let index = transfer.resolved.as_ref()?.booked_index?;
                Some(Posted {
                    index,
                    id: transfer.args.id.clone(),
                    from: transfer.args.from.clone(),
                    to: transfer.args.to.clone(),
                    amount: transfer.args.amount,
                })
            })
            .collect();
        posted.sort_by(|a, b| (a.index, &a.id).cmp(&(b.index, &b.id)));
        let unresolved = parsed
            .transfers
            .values()
            .filter(|transfer| transfer.resolved.is_none())
            .count();
        let no_index = parsed
            .transfers
            .values()
            .filter(|t| {
                t.posted()
                    && t.resolved
                        .as_ref()
                        .is_some_and(|r| r.booked_index.is_none())
            })
            .count();
        let incomplete = match &parsed.initial {
            None => Some("the history has no initial state".to_string()),
            Some(_) if unresolved > 0 => {
                Some(format!("{unresolved} transfer ids were never resolved"))
            }
            Some(_) if no_index > 0 => {
                Some(format!("{no_index} posted transfers have no booked index"))
            }
            Some(_) => None,
        };
        let (initial_index, initial, flagged) = match &parsed.initial {
            Some(initial) => (
                initial.index,
                initial.balances.clone(),
                initial
                    .accounts
                    .iter()
                    .filter(|(_, flagged)| **flagged)
                    .map(|(id, _)| id.clone())
                    .collect(),
            ),
            None => (0, Balances::new(), Vec::new()),
        };
        Replay {
            initial_index,
            initial,
            flagged,
            posted,
            incomplete,
        }
    }

    /// A cursor at the initial state.
    pub(crate) fn cursor(&self) -> Cursor<'_> {
        Cursor {
            replay: self,
            next: 0,
            state: self.initial.clone(),
        }
    }
}

/// Walks the replay forward, index by index.
pub(crate) struct Cursor<'a> {
    replay: &'a Replay,
    next: usize,
    state: Balances,
}

impl Cursor<'_> {
    /// The state after every transfer booked at or below `index` (indexes
    /// must not decrease between calls).
    pub(crate) fn at(&mut self, index: u64) -> &Balances {
        while let Some(posted) = self
            .replay
            .posted
            .get(self.next)
            .filter(|p| p.index <= index)
        {
            apply(&mut self.state, posted);
            self.next += 1;
        }
        &self.state
    }

    /// The index of the next transfer to apply, if any.
    pub(crate) fn next_index(&self) -> Option<u64> {
        self.replay.posted.get(self.next).map(|posted| posted.index)
    }
}

fn apply(state: &mut Balances, posted: &Posted) {
    state.entry(posted.from.clone()).or_default().debits += posted.amount;
    state.entry(posted.to.clone()).or_default().credits += posted.amount;
}

/// Compares what a read saw with the replayed state; one anomaly per account.
pub(crate) fn compare(
    findings: &mut Findings,
    kind: &str,
    what: serde_json::Value,
    seen: &Balances,
    expected: &Balances,
) {
    for (account, saw) in seen {
        let want = expected.get(account).copied();
        if want != Some(*saw) {
            findings.anomaly(json!({
                "kind": kind,
                "read": what,
                "account": account,
                "saw": saw,
                "journal_says": want,
                "net_difference": want.map(|want: Bal| saw.net() - want.net()),
            }));
        }
    }
}

/// Checker 4: the journal witness.
pub(crate) fn linearizable(parsed: &Parsed, replay: &Replay) -> CheckResult {
    let mut findings = Findings::default();
    match &replay.incomplete {
        Some(why) => findings.unknown(format!("reads not compared with the journal: {why}")),
        None => reads_match_journal(parsed, replay, &mut findings),
    }
    acks_name_booked_index(parsed, &mut findings);
    real_time_order(parsed, &mut findings);
    let reads = parsed.observations.len();
    let acks: usize = parsed.transfers.values().map(|t| t.acks().count()).sum();
    findings.result(
        "linearizable",
        format!(
            "{reads} reads equal the journal replayed to their index; {acks} acknowledgements name their booked index; real-time order holds"
        ),
    )
}

fn reads_match_journal(parsed: &Parsed, replay: &Replay, findings: &mut Findings) {
    for posted in replay
        .posted
        .iter()
        .filter(|posted| posted.index <= replay.initial_index)
    {
        findings.anomaly(json!({
            "kind": "booked_before_start",
            "id": posted.id,
            "booked_index": posted.index,
            "initial_index": replay.initial_index,
        }));
    }
    let mut reads: Vec<_> = parsed.observations.iter().collect();
    reads.sort_by_key(|read| (read.index, read.op));
    let mut cursor = replay.cursor();
    for read in reads {
        if read.index < replay.initial_index {
            if !read.stale {
                findings.anomaly(json!({
                    "kind": "read_before_start",
                    "op": read.op,
                    "index": read.index,
                    "initial_index": replay.initial_index,
                }));
            }
            continue;
        }
        let what = json!({ "op": read.op, "f": read.f, "index": read.index, "stale": read.stale });
        compare(
            findings,
            "read_differs_from_journal",
            what,
            &read.balances,
            cursor.at(read.index),
        );
    }
}

fn acks_name_booked_index(parsed: &Parsed, findings: &mut Findings) {
    for transfer in parsed.transfers.values() {
        let Some(booked) = transfer
            .resolved
            .as_ref()
            .filter(|_| transfer.posted())
            .and_then(|r| r.booked_index)
        else {
            continue;
        };
        for (attempt, ack) in transfer.acks() {
            if ack.index != booked || ack.status != "posted" {
                findings.anomaly(json!({
                    "kind": "ack_differs_from_journal",
                    "id": transfer.args.id,
                    "op": attempt.op,
                    "acked_index": ack.index,
                    "acked_status": ack.status,
                    "booked_index": booked,
                }));
            }
        }
    }
}

/// An operation for the real-time check.
struct Timed {
    label: serde_json::Value,
    invoke_ns: u64,
    complete_ns: Option<u64>,
    index: u64,
    write: bool,
}

fn timed_ops(parsed: &Parsed) -> Vec<Timed> {
    let mut ops: Vec<Timed> = parsed
        .observations
        .iter()
        .filter(|read| !read.stale)
        .map(|read| Timed {
            label: json!({ "op": read.op, "f": read.f, "index": read.index }),
            invoke_ns: read.invoke_ns,
            complete_ns: Some(read.complete_ns),
            index: read.index,
            write: false,
        })
        .collect();
    for transfer in parsed.transfers.values().filter(|t| t.posted()) {
        let Some(index) = transfer.resolved.as_ref().and_then(|r| r.booked_index) else {
            continue;
        };
        let invoke_ns = transfer
            .attempts
            .iter()
            .map(|a| a.invoke_ns)
            .min()
            .expect("one attempt at least");
        let complete_ns = transfer
            .acks()
            .filter_map(|(attempt, _)| attempt.complete_ns)
            .min();
        ops.push(Timed {
            label: json!({ "f": F::Transfer, "id": transfer.args.id, "index": index }),
            invoke_ns,
            complete_ns,
            index,
            write: true,
        });
    }
    ops
}

fn real_time_order(parsed: &Parsed, findings: &mut Findings) {
    let ops = timed_ops(parsed);
    let mut completed: Vec<&Timed> = ops.iter().filter(|op| op.complete_ns.is_some()).collect();
    completed.sort_by_key(|op| op.complete_ns);
    let mut invoked: Vec<&Timed> = ops.iter().collect();
    invoked.sort_by_key(|op| op.invoke_ns);
    let mut done = 0;
    let mut latest: Option<&Timed> = None;
    for later in invoked {
        while let Some(earlier) = completed
            .get(done)
            .filter(|op| op.complete_ns < Some(later.invoke_ns))
        {
            if latest.is_none_or(|best| earlier.index > best.index) {
                latest = Some(earlier);
            }
            done += 1;
        }
        let Some(earlier) = latest else { continue };
        let broken = if later.write {
            later.index <= earlier.index
        } else {
            later.index < earlier.index
        };
        if broken {
            findings.anomaly(json!({
                "kind": if later.write { "write_ordered_before_completed_op" } else { "stale_read" },
                "earlier": earlier.label,
                "earlier_completed_ms": earlier.complete_ns.map(|ns| ns / 1_000_000),
                "later": later.label,
                "later_invoked_ms": later.invoke_ns / 1_000_000,
            }));
        }
    }
}

/// Flagged accounts below zero at some index of the replayed journal.
pub(crate) fn replay_overdrafts(replay: &Replay) -> Vec<(u64, String, i64)> {
    let mut overdrafts = Vec::new();
    if replay.incomplete.is_some() {
        return overdrafts;
    }
    let mut cursor = replay.cursor();
    let mut negative: BTreeMap<String, bool> = BTreeMap::new();
    while let Some(index) = cursor.next_index() {
        let state = cursor.at(index);
        for account in &replay.flagged {
            let net = state.get(account).map_or(0, Bal::net);
            let was_negative = negative.insert(account.clone(), net < 0).unwrap_or(false);
            if net < 0 && !was_negative {
                overdrafts.push((index, account.clone(), net));
            }
        }
    }
    overdrafts
}
