//! Counters for `/metrics`, kept as atomics; gauges are read at scrape time.

use std::sync::atomic::{AtomicU64, Ordering};

/// The node's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    proposed: AtomicU64,
    responses: [AtomicU64; 5],
}

impl Metrics {
    /// One command handed to group commit.
    pub fn proposed(&self) {
        self.proposed.fetch_add(1, Ordering::Relaxed);
    }

    /// One HTTP response with `status`.
    pub fn responded(&self, status: u16) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.responses[class].fetch_add(1, Ordering::Relaxed);
    }

    /// The counters in Prometheus text format.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write;
        let _ = writeln!(
            out,
            "# HELP clearledger_commands_proposed_total Commands handed to group commit."
        );
        let _ = writeln!(out, "# TYPE clearledger_commands_proposed_total counter");
        let _ = writeln!(
            out,
            "clearledger_commands_proposed_total {}",
            self.proposed.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP clearledger_http_responses_total HTTP responses by status class."
        );
        let _ = writeln!(out, "# TYPE clearledger_http_responses_total counter");
        for (class, count) in self.responses.iter().enumerate() {
            let _ = writeln!(
                out,
                "clearledger_http_responses_total{{class=\"{}xx\"}} {}",
                class + 1,
                count.load(Ordering::Relaxed)
            );
        }
    }
}
