//! Checker 8: the ledger's clock never runs backwards. Time comes from the
//! leader's wall clock, and a new or skewed leader's may lag, so the ledger
//! books each command at the later of its stamp and the last one applied:
//! posted transfers taken in index order have non-decreasing `booked_at`.

use serde_json::json;

use super::{CheckResult, Findings, Parsed};

/// Checker 8.
pub(crate) fn booked_in_time_order(parsed: &Parsed) -> CheckResult {
    let mut findings = Findings::default();
    let mut booked: Vec<(u64, &str, &str)> = parsed
        .transfers
        .values()
        .filter(|transfer| transfer.posted())
        .filter_map(|transfer| {
            let resolved = transfer.resolved.as_ref()?;
            Some((
                resolved.booked_index?,
                resolved.booked_at.as_deref()?,
                transfer.args.id.as_str(),
            ))
        })
        .collect();
    booked.sort_unstable();
    for pair in booked.windows(2) {
        let ((index_a, at_a, id_a), (index_b, at_b, id_b)) = (pair[0], pair[1]);
        // RFC 3339 UTC with a fixed number of digits compares as text.
        if at_a.len() != at_b.len() {
            findings.unknown(format!(
                "booked_at {at_a:?} and {at_b:?} have different formats"
            ));
        } else if at_b < at_a {
            findings.anomaly(json!({
                "kind": "booked_before_predecessor",
                "earlier": { "id": id_a, "index": index_a, "booked_at": at_a },
                "later": { "id": id_b, "index": index_b, "booked_at": at_b },
            }));
        }
    }
    findings.result(
        "clock_monotonic",
        format!("{} posted transfers are booked in time order", booked.len()),
    )
}
