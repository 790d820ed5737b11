//! Checker 5: after healing, every replica reports the same state digest at
//! the same applied index. Checker 7: no node exited on its own.

use serde_json::json;

use super::{CheckResult, Findings, Parsed};

/// Checker 5.
pub(crate) fn same_digest(parsed: &Parsed) -> CheckResult {
    let mut findings = Findings::default();
    if parsed.digests.is_empty() {
        findings.unknown("the history has no digests");
        return findings.result("replicas", String::new());
    }
    for (slot, digest) in &parsed.digests {
        if digest.is_none() {
            findings.anomaly(json!({ "kind": "replica_did_not_report", "slot": slot }));
        }
    }
    let reported: Vec<_> = parsed.digests.values().flatten().collect();
    if let Some(first) = reported.first() {
        for other in &reported[1..] {
            if (other.index, &other.digest) != (first.index, &first.digest) {
                let kind = if other.index == first.index {
                    "digest_differs"
                } else {
                    "index_differs"
                };
                findings.anomaly(json!({
                    "kind": kind,
                    "replicas": [first, other],
                }));
            }
        }
    }
    let summary = match reported.first() {
        Some(first) => format!(
            "{} replicas report digest {} at index {}",
            reported.len(),
            first.digest,
            first.index
        ),
        None => String::new(),
    };
    findings.result("replicas", summary)
}

/// Checker 7.
pub(crate) fn stayed_up(parsed: &Parsed) -> CheckResult {
    let mut findings = Findings::default();
    for exit in &parsed.exits {
        let mut anomaly = exit.clone();
        anomaly["kind"] = json!("node_exited");
        findings.anomaly(anomaly);
    }
    findings.result(
        "nodes_stayed_up",
        "no node exited unless the nemesis killed it".to_string(),
    )
}
