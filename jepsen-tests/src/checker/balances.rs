//! Checkers 1 and 2: money is conserved in every snapshot, and accounts that
//! may not be overdrawn never are.

use serde_json::json;

use super::witness::{Replay, replay_overdrafts};
use super::{CheckResult, Findings, Parsed};
use crate::history::Bal;

/// Checker 1: every all-balances read sums to the initial total.
pub(crate) fn conservation(parsed: &Parsed) -> CheckResult {
    let mut findings = Findings::default();
    let Some(initial) = &parsed.initial else {
        findings.unknown("the history has no initial state");
        return findings.result("conservation", String::new());
    };
    let snapshots: Vec<_> = parsed.observations.iter().filter(|read| read.all).collect();
    for read in &snapshots {
        let missing: Vec<&String> = initial
            .accounts
            .keys()
            .filter(|account| !read.balances.contains_key(*account))
            .collect();
        let total: i64 = read.balances.values().map(Bal::net).sum();
        if !missing.is_empty() || total != initial.total {
            findings.anomaly(json!({
                "kind": "total_changed",
                "op": read.op,
                "f": read.f,
                "index": read.index,
                "total": total,
                "expected": initial.total,
                "missing_accounts": missing,
            }));
        }
    }
    findings.result(
        "conservation",
        format!(
            "{} snapshots all sum to the initial total {}",
            snapshots.len(),
            initial.total
        ),
    )
}

/// Checker 2: no flagged account below zero, in reads or in the replay.
pub(crate) fn no_overdraft(parsed: &Parsed, replay: &Replay) -> CheckResult {
    let mut findings = Findings::default();
    let Some(initial) = &parsed.initial else {
        findings.unknown("the history has no initial state");
        return findings.result("no_overdraft", String::new());
    };
    let flagged = |account: &String| initial.accounts.get(account).copied().unwrap_or(false);
    let mut checked = 0;
    for read in &parsed.observations {
        for (account, balance) in read.balances.iter().filter(|(account, _)| flagged(account)) {
            checked += 1;
            if balance.net() < 0 {
                findings.anomaly(json!({
                    "kind": "overdrawn_in_read",
                    "op": read.op,
                    "index": read.index,
                    "account": account,
                    "balance": balance.net(),
                }));
            }
        }
    }
    for (index, account, net) in replay_overdrafts(replay) {
        findings.anomaly(json!({ "kind": "overdrawn_in_journal", "index": index, "account": account, "balance": net }));
    }
    if let Some(why) = &replay.incomplete {
        findings.unknown(format!("the journal was not replayed: {why}"));
    }
    findings.result(
        "no_overdraft",
        format!("{checked} reads of flagged accounts and the replayed journal never go below zero"),
    )
}
