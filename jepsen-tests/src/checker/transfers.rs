//! Checkers 3 and 6: each acknowledged transfer is in the final state exactly
//! once, unknown outcomes at most once, certain failures never; retries of
//! one id never post it again.

use std::collections::BTreeMap;

use serde_json::json;

use super::witness::{Replay, compare};
use super::{CheckResult, F, Findings, Parsed};
use crate::history::{Bal, Balances};

/// Statuses a transfer of this workload may end in.
const FINAL_STATUSES: [&str; 2] = ["posted", "rejected"];

/// Checker 3: exactly once.
pub(crate) fn exactly_once(parsed: &Parsed, replay: &Replay) -> CheckResult {
    let mut findings = Findings::default();
    let mut unresolved = 0;
    for transfer in parsed.transfers.values() {
        let id = &transfer.args.id;
        if let Some(changed) = transfer.attempts.iter().find(|a| {
            (&a.args.from, &a.args.to, a.args.amount)
                != (&transfer.args.from, &transfer.args.to, transfer.args.amount)
        }) {
            findings
                .anomaly(json!({ "kind": "retry_changed_arguments", "id": id, "op": changed.op }));
        }
        let Some(resolved) = &transfer.resolved else {
            unresolved += 1;
            continue;
        };
        let acked: Vec<u64> = transfer.acks().map(|(_, ack)| ack.index).collect();
        if !acked.is_empty() && !transfer.posted() {
            findings.anomaly(json!({
                "kind": "lost_write",
                "id": id,
                "acked_indexes": acked,
                "found": resolved.found,
                "status": resolved.status,
            }));
        }
        if transfer.certainly_failed() && transfer.posted() {
            let codes: Vec<_> = transfer.attempts.iter().map(|a| a.code.clone()).collect();
            findings.anomaly(json!({
                "kind": "failed_but_posted",
                "id": id,
                "codes": codes,
                "booked_index": resolved.booked_index,
            }));
        }
        if let Some(status) = resolved
            .status
            .as_deref()
            .filter(|s| !FINAL_STATUSES.contains(s))
        {
            findings.anomaly(json!({ "kind": "unexpected_status", "id": id, "status": status }));
        }
    }
    if unresolved > 0 {
        findings.unknown(format!("{unresolved} transfer ids were never resolved"));
    }
    final_state(parsed, replay, &mut findings);
    let posted = replay.posted.len();
    findings.result(
        "exactly_once",
        format!("{posted} posted transfers account for the final balances exactly once; no acknowledged transfer lost"),
    )
}

/// The final reads against the journal: each posted transfer applied once.
fn final_state(parsed: &Parsed, replay: &Replay, findings: &mut Findings) {
    let finals: Vec<_> = parsed
        .observations
        .iter()
        .filter(|read| read.f == F::FinalRead)
        .collect();
    if finals.is_empty() {
        findings.unknown("the history has no final read");
        return;
    }
    if let Some(why) = &replay.incomplete {
        findings.unknown(format!("the final state was not compared: {why}"));
        return;
    }
    for read in finals {
        if let Some(late) = replay
            .posted
            .iter()
            .find(|posted| posted.index > read.index)
        {
            findings.anomaly(json!({
                "kind": "booked_after_final_read",
                "id": late.id,
                "booked_index": late.index,
                "final_index": read.index,
            }));
        }
        let mut cursor = replay.cursor();
        let what = json!({ "op": read.op, "index": read.index });
        compare(
            findings,
            "final_state_differs",
            what,
            &read.balances,
            cursor.at(read.index),
        );
    }
}

/// Checker 6: retries never double-post.
pub(crate) fn idempotent_retries(parsed: &Parsed, replay: &Replay) -> CheckResult {
    let mut findings = Findings::default();
    let retried: Vec<_> = parsed
        .transfers
        .values()
        .filter(|t| t.attempts.len() > 1)
        .collect();
    for transfer in &retried {
        let booked = transfer
            .resolved
            .as_ref()
            .filter(|_| transfer.posted())
            .and_then(|r| r.booked_index);
        let indexes: Vec<u64> = transfer.acks().map(|(_, ack)| ack.index).collect();
        let consistent = indexes.windows(2).all(|pair| pair[0] == pair[1]);
        let at_booked = booked.is_none_or(|booked| indexes.iter().all(|index| *index == booked));
        if !consistent || !at_booked {
            findings.anomaly(json!({
                "kind": "retry_acked_at_another_index",
                "id": transfer.args.id,
                "attempts": transfer.attempts.len(),
                "acked_indexes": indexes,
                "booked_index": booked,
            }));
        }
    }
    for suspect in double_post_suspects(parsed, replay, &retried) {
        findings.anomaly(suspect);
    }
    let resubmitted = retried.iter().filter(|t| t.acks().count() > 1).count();
    findings.result(
        "idempotent_retries",
        format!(
            "{} ids were sent more than once ({resubmitted} acknowledged more than once); none posted twice",
            retried.len()
        ),
    )
}

/// Retried transfers whose amount would explain an excess in the final
/// balances (the debtor debited and the creditor credited that much more
/// than the journal says): the signature of a double post.
fn double_post_suspects(
    parsed: &Parsed,
    replay: &Replay,
    retried: &[&super::Transfer],
) -> Vec<serde_json::Value> {
    let Some(read) = parsed
        .observations
        .iter()
        .rev()
        .find(|read| read.f == F::FinalRead)
    else {
        return Vec::new();
    };
    if replay.incomplete.is_some() {
        return Vec::new();
    }
    let mut cursor = replay.cursor();
    let expected: &Balances = cursor.at(read.index);
    let excess: BTreeMap<&String, Bal> = read
        .balances
        .iter()
        .map(|(account, saw)| {
            let want = expected.get(account).copied().unwrap_or_default();
            (
                account,
                Bal {
                    debits: saw.debits - want.debits,
                    credits: saw.credits - want.credits,
                },
            )
        })
        .collect();
    retried
        .iter()
        .filter(|transfer| transfer.posted())
        .filter(|transfer| {
            let args = &transfer.args;
            let debited = excess
                .get(&args.from)
                .is_some_and(|bal| bal.debits >= args.amount);
            let credited = excess
                .get(&args.to)
                .is_some_and(|bal| bal.credits >= args.amount);
            debited && credited
        })
        .map(|transfer| {
            json!({
                "kind": "double_post_suspected",
                "id": transfer.args.id,
                "amount": transfer.args.amount,
                "attempts": transfer.attempts.len(),
            })
        })
        .collect()
}
