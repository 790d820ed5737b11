//! The results of a run: `summary.json` (per-checker verdicts with their
//! anomalies, counts, latencies, fault windows) and `latency.svg`, plus a
//! few lines on stderr for a person.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde_json::{Value, json};

use crate::checker::{self, Verdict};
use crate::history::{Event, F, Kind};
use crate::svg;

/// A fault window, from the nemesis's start and stop lines.
#[derive(Debug, Clone)]
pub struct Window {
    /// When it began.
    pub start_ns: u64,
    /// When it was healed (the history's end if never).
    pub stop_ns: u64,
    /// The fault's name (and shape, for partitions).
    pub label: String,
}

/// A client operation that completed, with its latency.
#[derive(Debug, Clone)]
pub struct Completed {
    /// What.
    pub f: F,
    /// How it completed.
    pub kind: Kind,
    /// When it completed.
    pub complete_ns: u64,
    /// How long it took.
    pub latency_ns: u64,
}

/// Pairs the nemesis's start and stop lines (one fault at a time).
pub fn windows(events: &[Event]) -> Vec<Window> {
    let end = events.iter().map(|event| event.time_ns).max().unwrap_or(0);
    let mut windows = Vec::new();
    let mut open: Option<(u64, String)> = None;
    for event in events {
        match event.f {
            F::FaultStart => {
                let mut label = event.value["fault"].as_str().unwrap_or("fault").to_string();
                if let Some(shape) = event.value["shape"].as_str() {
                    label = format!("{label}: {shape}");
                }
                if let Some((start_ns, label)) = open.replace((event.time_ns, label)) {
                    windows.push(Window {
                        start_ns,
                        stop_ns: event.time_ns,
                        label,
                    });
                }
            }
            F::FaultStop => {
                if let Some((start_ns, label)) = open.take() {
                    windows.push(Window {
                        start_ns,
                        stop_ns: event.time_ns,
                        label,
                    });
                }
            }
            _ => {}
        }
    }
    if let Some((start_ns, label)) = open {
        windows.push(Window {
            start_ns,
            stop_ns: end,
            label,
        });
    }
    windows
}

/// Every client operation that completed (transfers and reads).
pub fn completed(events: &[Event]) -> Vec<Completed> {
    let mut invoked: BTreeMap<u64, u64> = BTreeMap::new();
    let mut done = Vec::new();
    for event in events
        .iter()
        .filter(|e| matches!(e.f, F::Transfer | F::Read | F::ReadAll))
    {
        if event.kind == Kind::Invoke {
            invoked.insert(event.op, event.time_ns);
        } else if let Some(start) = invoked.remove(&event.op) {
            done.push(Completed {
                f: event.f,
                kind: event.kind,
                complete_ns: event.time_ns,
                latency_ns: event.time_ns.saturating_sub(start),
            });
        }
    }
    done
}

fn percentile(sorted: &[u64], per_mille: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[(sorted.len() - 1) * per_mille / 1000]
}

/// Latency in microseconds per operation and completion kind.
fn latencies(done: &[Completed]) -> Value {
    let mut groups: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for op in done {
        let key = format!("{}:{}", op.f.name(), op.kind.name());
        groups.entry(key).or_default().push(op.latency_ns / 1_000);
    }
    let mut out = serde_json::Map::new();
    for (key, mut micros) in groups {
        micros.sort_unstable();
        out.insert(
            key,
            json!({
                "count": micros.len(),
                "p50_us": percentile(&micros, 500),
                "p99_us": percentile(&micros, 990),
                "max_us": micros.last().copied().unwrap_or(0),
            }),
        );
    }
    Value::Object(out)
}

/// Checks `events`, writes `summary.json` and `latency.svg` into `out`,
/// prints the verdicts; returns whether every checker passed.
pub fn write(out: &Path, events: &[Event], run: &Value) -> anyhow::Result<bool> {
    let parsed = checker::parse(events)?;
    let results = checker::check(&parsed);
    let valid = results
        .iter()
        .all(|result| result.verdict == Verdict::Valid);
    let windows = windows(events);
    let done = completed(events);
    let mut summary = checker::summary(&parsed, &results);
    summary["run"] = run.clone();
    summary["duration_s"] =
        json!(events.iter().map(|e| e.time_ns).max().unwrap_or(0) / 1_000_000_000);
    summary["latency"] = latencies(&done);
    summary["faults"] = windows
        .iter()
        .map(|w| json!({ "fault": w.label, "start_ms": w.start_ns / 1_000_000, "stop_ms": w.stop_ns / 1_000_000 }))
        .collect();
    let text = serde_json::to_string_pretty(&summary).expect("the summary serializes");
    std::fs::write(out.join("summary.json"), text).context("cannot write summary.json")?;
    std::fs::write(out.join("latency.svg"), svg::render(&done, &windows))
        .context("cannot write latency.svg")?;
    for result in &results {
        let word = match result.verdict {
            Verdict::Valid => "valid  ",
            Verdict::Invalid => "INVALID",
            Verdict::Unknown => "UNKNOWN",
        };
        eprintln!("  {word} {:<20} {}", result.name, result.summary);
        for anomaly in result.anomalies.iter().take(3) {
            eprintln!("          {anomaly}");
        }
    }
    eprintln!(
        "jepsen-tests: {} — results in {}",
        if valid { "valid" } else { "INVALID" },
        out.display()
    );
    Ok(valid)
}
