//! The bench's report: committed transfers per second, request latency
//! percentiles from the merged HDR histogram, errors by code, the money
//! check, the settings and the machine, as a table or as JSON.

use serde_json::{Value, json};

use crate::commands::bench::BenchArgs;
use crate::commands::bench::load::{Measured, Mix, Plan, Requests};
use crate::commands::bench::setup::{CURRENCY, Money};
use crate::output::{Align, Block, Listing, View};

/// The percentiles reported: (name, quantile).
const PERCENTILES: [(&str, f64); 4] = [
    ("p50", 0.50),
    ("p90", 0.90),
    ("p99", 0.99),
    ("p99_9", 0.999),
];

/// The machine the load generator ran on (the cluster is assumed beside it).
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    /// Cores available to this process.
    pub nproc: usize,
    /// `model name` from /proc/cpuinfo.
    pub cpu_model: Option<String>,
    /// `MemTotal` from /proc/meminfo, in KiB.
    pub memory_kib: Option<u64>,
    /// The 1, 5 and 15 minute load averages when the run began.
    pub load_average: Option<[f64; 3]>,
}

impl Machine {
    /// Reads /proc (missing files leave fields empty).
    pub fn read() -> Machine {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        Machine {
            nproc: std::thread::available_parallelism().map_or(1, usize::from),
            cpu_model: cpu_model(&read("/proc/cpuinfo")),
            memory_kib: memory_kib(&read("/proc/meminfo")),
            load_average: load_average(&read("/proc/loadavg")),
        }
    }

    fn json(&self) -> Value {
        json!({
            "nproc": self.nproc,
            "cpu_model": self.cpu_model,
            "memory_mib": self.memory_kib.map(|kib| kib / 1024),
            "load_average_at_start": self.load_average,
        })
    }

    fn describe(&self) -> String {
        let mut text = format!(
            "{} core(s), {}",
            self.nproc,
            self.cpu_model.as_deref().unwrap_or("unknown CPU")
        );
        if let Some(kib) = self.memory_kib {
            text.push_str(&format!(", {} MiB", kib / 1024));
        }
        if let Some([one, five, fifteen]) = self.load_average {
            text.push_str(&format!(", load {one:.2} {five:.2} {fifteen:.2} at start"));
        }
        text
    }
}

fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(key, _)| key.trim() == "model name")
        .map(|(_, value)| value.trim().to_string())
}

fn memory_kib(meminfo: &str) -> Option<u64> {
    meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

fn load_average(loadavg: &str) -> Option<[f64; 3]> {
    let mut fields = loadavg.split_whitespace().map(str::parse::<f64>);
    Some([
        fields.next()?.ok()?,
        fields.next()?.ok()?,
        fields.next()?.ok()?,
    ])
}

/// The settings a run used.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingsUsed {
    /// Concurrent clients.
    pub clients: usize,
    /// Transfers per request.
    pub batch_size: usize,
    /// Measured seconds.
    pub duration_s: u64,
    /// Warm-up seconds.
    pub warmup_s: u64,
    /// Open-loop rate, transfers/s.
    pub rate: Option<u64>,
    /// Bench accounts.
    pub accounts: usize,
    /// The bench branch.
    pub branch: String,
    /// Where the clients went.
    pub servers: Vec<String>,
    /// The shares of the mixed workload.
    pub mix: Mix,
}

impl SettingsUsed {
    /// The settings of `args` as `plan` carries them out.
    pub fn of(args: &BenchArgs, plan: &Plan) -> SettingsUsed {
        SettingsUsed {
            clients: plan.clients,
            batch_size: plan.batch_size,
            duration_s: args.duration,
            warmup_s: args.warmup,
            rate: plan.rate,
            accounts: plan.accounts.len(),
            branch: args.branch.clone(),
            servers: plan.servers.clone(),
            mix: plan.mix,
        }
    }

    fn mode(&self) -> String {
        match self.rate {
            None => "closed loop".to_string(),
            Some(rate) => format!("open loop at {rate} transfers/s"),
        }
    }
}

/// Everything a run reports.
#[derive(Debug, Clone)]
pub struct Report {
    /// The run's id (prefix of its transfer ids).
    pub run_id: String,
    /// Its settings.
    pub settings: SettingsUsed,
    /// The machine.
    pub machine: Machine,
    /// What was measured.
    pub measured: Measured,
    /// The money check after the run.
    pub money: Money,
    /// The principal that posted.
    pub principal: String,
}

/// Latency percentiles and max of a histogram, in ms: (name, value).
fn percentiles_ms(histogram: &hdrhistogram::Histogram<u64>) -> Vec<(&'static str, f64)> {
    if histogram.is_empty() {
        return Vec::new();
    }
    let mut figures: Vec<(&'static str, f64)> = PERCENTILES
        .iter()
        .map(|(name, quantile)| (*name, ms(histogram.value_at_quantile(*quantile))))
        .collect();
    figures.push(("max", ms(histogram.max())));
    figures.push(("mean", round(histogram.mean() / 1000.0, 3)));
    figures
}

fn latency_json(histogram: &hdrhistogram::Histogram<u64>) -> Value {
    let figures: serde_json::Map<String, Value> = percentiles_ms(histogram)
        .into_iter()
        .map(|(name, value)| (name.to_string(), json!(value)))
        .collect();
    Value::Object(figures)
}

/// Milliseconds with microsecond precision, from µs.
fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// Rounds for printing and JSON (statistics only, never money).
fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

impl Report {
    /// Latency percentiles and max, in ms: (name, value).
    fn latency_ms(&self) -> Vec<(&'static str, f64)> {
        percentiles_ms(&self.measured.tally.latency_us)
    }

    fn requests_json(&self, kind: &Requests) -> Value {
        json!({
            "per_s": round(self.measured.per_s(kind.ok), 1),
            "ok": kind.ok,
            "sent": kind.sent(),
            "latency_ms": latency_json(&kind.latency_us),
            "errors": kind.errors,
        })
    }

    /// The report as JSON.
    pub fn json(&self) -> Value {
        let measured = &self.measured;
        let tally = &measured.tally;
        let latency = latency_json(&tally.latency_us);
        let settings = &self.settings;
        let currency = ledger::Currency::new(CURRENCY).expect("the bench currency");
        json!({
            "run_id": self.run_id,
            "transfers_per_s": round(measured.transfers_per_s(), 1),
            "requests_per_s": round(measured.requests_per_s(), 1),
            "latency_ms": latency,
            "committed_transfers": tally.committed,
            "transfers_sent": tally.transfers_sent,
            "requests": tally.requests(),
            "requests_answered": tally.answered,
            "elapsed_s": round(measured.elapsed.as_secs_f64(), 3),
            "interrupted": measured.interrupted,
            "errors": {
                "requests": tally.request_errors,
                "transfers": tally.rejected,
            },
            "counts": {
                "transfers_posted": tally.committed - tally.pending,
                "transfers_pending": tally.pending,
                "inter_branch": tally.inter_branch,
                "approvals": tally.approvals.ok,
                "reads": tally.reads.ok,
                "approved_after_window": tally.approved_after_window,
            },
            "by_second": {
                "window_start_unix_ms": measured
                    .window_start
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |since| since.as_millis()),
                "answered": tally.by_second.iter().map(|second| second.answered).collect::<Vec<_>>(),
                "max_ms": tally.by_second.iter().map(|second| ms(second.max_us)).collect::<Vec<_>>(),
            },
            "reads": self.requests_json(&tally.reads),
            "approvals": self.requests_json(&tally.approvals),
            "money": {
                "currency": CURRENCY,
                "customer_accounts": self.money.accounts,
                "customer_total": self.money.customer_total.to_decimal_string(currency),
                "funded": self.money.funded.to_decimal_string(currency),
                "conserved": self.money.conserved(),
            },
            "settings": {
                "mode": if settings.rate.is_some() { "open" } else { "closed" },
                "clients": settings.clients,
                "batch_size": settings.batch_size,
                "duration_s": settings.duration_s,
                "warmup_s": settings.warmup_s,
                "rate": settings.rate,
                "accounts": settings.accounts,
                "branch": settings.branch,
                "servers": settings.servers,
                "principal": self.principal,
                "mix": {
                    "read_percent": settings.mix.read_percent,
                    "inter_branch_percent": settings.mix.inter_branch_percent,
                    "pending_percent": settings.mix.pending_percent,
                },
            },
            "load_generator": {
                "cpu_s": measured.generator_cpu.map(|cpu| round(cpu.as_secs_f64(), 3)),
                "wall_s": round(measured.wall.as_secs_f64(), 3),
            },
            "machine": self.machine.json(),
        })
    }

    /// The report as a view: fields, a latency table, an errors table.
    pub fn view(&self) -> View {
        let measured = &self.measured;
        let tally = &measured.tally;
        let settings = &self.settings;
        let currency = ledger::Currency::new(CURRENCY).expect("the bench currency");
        let mut fields = vec![
            ("mode".to_string(), settings.mode()),
            (
                "load".to_string(),
                format!(
                    "{} client(s) over {} server(s), {} transfer(s) per request, {} account(s)",
                    settings.clients,
                    settings.servers.len(),
                    settings.batch_size,
                    settings.accounts
                ),
            ),
            (
                "window".to_string(),
                format!(
                    "{:.3} s measured after {} s of warm-up{}",
                    measured.elapsed.as_secs_f64(),
                    settings.warmup_s,
                    if measured.interrupted {
                        " (interrupted)"
                    } else {
                        ""
                    }
                ),
            ),
            (
                "committed".to_string(),
                format!(
                    "{:.1} transfers/s ({} of {} sent)",
                    measured.transfers_per_s(),
                    tally.committed,
                    tally.transfers_sent
                ),
            ),
            (
                "requests".to_string(),
                format!(
                    "{:.1} requests/s ({} answered, {} without an answer)",
                    measured.requests_per_s(),
                    tally.answered,
                    tally.requests() - tally.answered
                ),
            ),
            (
                "money".to_string(),
                format!(
                    "{}: {} customer account(s) hold {} {CURRENCY}, {} funded",
                    if self.money.conserved() {
                        "conserved"
                    } else {
                        "NOT CONSERVED"
                    },
                    self.money.accounts,
                    self.money.customer_total.to_decimal_string(currency),
                    self.money.funded.to_decimal_string(currency)
                ),
            ),
            ("machine".to_string(), self.machine.describe()),
        ];
        let mix = settings.mix;
        if mix.is_mixed() {
            let kinds = vec![
                (
                    "mix".to_string(),
                    format!(
                        "{}% of turns read a balance; {}% of transfers inter-branch, {}% pending then approved",
                        mix.read_percent, mix.inter_branch_percent, mix.pending_percent
                    ),
                ),
                (
                    "kinds".to_string(),
                    format!(
                        "{} posted, {} pending, {} inter-branch; {} approval(s) in the window, {} after it; {} balance read(s)",
                        tally.committed - tally.pending,
                        tally.pending,
                        tally.inter_branch,
                        tally.approvals.ok,
                        tally.approved_after_window,
                        tally.reads.ok
                    ),
                ),
            ];
            fields.splice(5..5, kinds);
        }
        if let Some(cpu) = measured.generator_cpu {
            fields.push((
                "bench cpu".to_string(),
                format!(
                    "{:.1} s of CPU in {:.1} s ({:.2} cores) used by this load generator",
                    cpu.as_secs_f64(),
                    measured.wall.as_secs_f64(),
                    cpu.as_secs_f64() / measured.wall.as_secs_f64().max(f64::EPSILON)
                ),
            ));
        }
        fields.push((
            "run".to_string(),
            format!("{} (principal {})", self.run_id, self.principal),
        ));
        let mut latency = Listing::new(&[
            ("P50", Align::Right),
            ("P90", Align::Right),
            ("P99", Align::Right),
            ("P99.9", Align::Right),
            ("MAX", Align::Right),
            ("MEAN", Align::Right),
        ]);
        let figures = self.latency_ms();
        if !figures.is_empty() {
            latency.push(
                figures
                    .iter()
                    .map(|(_, value)| format!("{value:.3}"))
                    .collect(),
            );
        }
        let mut by_kind = Listing::new(&[
            ("KIND", Align::Left),
            ("OK", Align::Right),
            ("PER_S", Align::Right),
            ("P50", Align::Right),
            ("P90", Align::Right),
            ("P99", Align::Right),
            ("P99.9", Align::Right),
            ("MAX", Align::Right),
        ]);
        let kinds = [
            ("transfer requests", tally.answered, &tally.latency_us),
            ("balance reads", tally.reads.ok, &tally.reads.latency_us),
            ("approvals", tally.approvals.ok, &tally.approvals.latency_us),
        ];
        for (kind, ok, histogram) in kinds {
            let mut row = vec![
                kind.to_string(),
                ok.to_string(),
                format!("{:.1}", measured.per_s(ok)),
            ];
            row.extend(
                percentiles_ms(histogram)
                    .iter()
                    .take(5)
                    .map(|(_, value)| format!("{value:.3}")),
            );
            row.resize(8, String::new());
            by_kind.push(row);
        }
        let mut errors = Listing::new(&[
            ("KIND", Align::Left),
            ("CODE", Align::Left),
            ("COUNT", Align::Right),
        ]);
        for (code, count) in &tally.request_errors {
            errors.push(vec!["request".into(), code.clone(), count.to_string()]);
        }
        for (code, count) in &tally.rejected {
            errors.push(vec!["transfer".into(), code.clone(), count.to_string()]);
        }
        for (code, count) in &tally.reads.errors {
            errors.push(vec!["read".into(), code.clone(), count.to_string()]);
        }
        for (code, count) in &tally.approvals.errors {
            errors.push(vec!["approval".into(), code.clone(), count.to_string()]);
        }
        let mut summary = Listing::new(&[
            ("transfers_per_s", Align::Right),
            ("p50_ms", Align::Right),
            ("p90_ms", Align::Right),
            ("p99_ms", Align::Right),
            ("p99_9_ms", Align::Right),
            ("max_ms", Align::Right),
        ]);
        let mut row = vec![format!("{:.1}", measured.transfers_per_s())];
        row.extend(
            figures
                .iter()
                .take(5)
                .map(|(_, value)| format!("{value:.3}")),
        );
        row.resize(6, String::new());
        summary.push(row);
        let mut blocks = vec![
            Block::Fields(fields),
            Block::Table {
                caption: Some("Request latency (ms)".into()),
                listing: latency,
            },
        ];
        if mix.is_mixed() {
            blocks.push(Block::Table {
                caption: Some("By kind (latency in ms)".into()),
                listing: by_kind,
            });
        }
        blocks.push(Block::Table {
            caption: Some("Errors by code".into()),
            listing: errors,
        });
        let mut view = View::new(self.json(), blocks);
        view.csv = Some(summary);
        view
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::args::OutputFormat;
    use crate::commands::bench::load::{Second, Tally};
    use crate::commands::tests::table;
    use crate::output::render;

    #[test]
    fn proc_files_give_the_machine() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n";
        assert_eq!(cpu_model(cpuinfo).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(
            memory_kib("MemTotal:       24684544 kB\nMemFree: 1 kB\n"),
            Some(24_684_544)
        );
        assert_eq!(
            load_average("0.52 0.61 1.07 2/345 6789\n"),
            Some([0.52, 0.61, 1.07])
        );
        assert_eq!(load_average(""), None);
    }

    fn report() -> Report {
        let mut latency_us = hdrhistogram::Histogram::<u64>::new(3).expect("histogram");
        for micros in 1..=1000u64 {
            latency_us.record(micros * 10).expect("record");
        }
        let mut tally = Tally::default();
        tally.latency_us = latency_us;
        tally.answered = 1000;
        tally.transfers_sent = 1010;
        tally.committed = 999;
        tally.rejected = BTreeMap::from([("insufficient_funds".to_string(), 1)]);
        tally.request_errors = BTreeMap::from([("overloaded".to_string(), 10)]);
        tally.by_second = vec![
            Second {
                answered: 600,
                max_us: 9_000,
            },
            Second {
                answered: 400,
                max_us: 10_007,
            },
        ];
        let plan = Plan {
            clients: 4,
            batch_size: 1,
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(2),
            rate: None,
            accounts: Arc::new(vec!["BENCH-C000000".into(), "BENCH-C000001".into()]),
            servers: vec!["http://127.0.0.1:8081".into()],
            key: "k".into(),
            timeout: Duration::from_secs(30),
            run_id: "18a5f0c3e2b1c".into(),
            mix: Mix::default(),
            payees: Arc::new(Vec::new()),
            approver_key: None,
        };
        Report {
            run_id: "18a5f0c3e2b1c".into(),
            settings: SettingsUsed {
                clients: 4,
                batch_size: 1,
                duration_s: 10,
                warmup_s: 2,
                rate: None,
                accounts: 2,
                branch: "BENCH".into(),
                servers: plan.servers.clone(),
                mix: plan.mix,
            },
            machine: Machine {
                nproc: 2,
                cpu_model: Some("AMD EPYC".into()),
                memory_kib: Some(24_684_544),
                load_average: Some([0.52, 0.61, 1.07]),
            },
            measured: Measured {
                tally,
                elapsed: Duration::from_secs(10),
                interrupted: false,
                generator_cpu: Some(Duration::from_millis(1500)),
                wall: Duration::from_secs(12),
                window_start: std::time::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            },
            money: Money {
                accounts: 2,
                customer_total: ledger::Amount::from_minor(200_000_000),
                funded: ledger::Amount::from_minor(200_000_000),
            },
            principal: "bench-18a5f0c3e2b1c".into(),
        }
    }

    #[test]
    fn report_table_json_and_csv() {
        let report = report();
        let json = report.json();
        assert_eq!(json["transfers_per_s"], 99.9);
        assert_eq!(json["latency_ms"]["p50"], 5.003);
        assert_eq!(json["latency_ms"]["p99"], 9.903);
        assert_eq!(json["latency_ms"]["max"], 10.007);
        assert_eq!(json["errors"]["requests"]["overloaded"], 10);
        assert_eq!(json["errors"]["transfers"]["insufficient_funds"], 1);
        assert_eq!(json["money"]["conserved"], true);
        assert_eq!(json["money"]["customer_total"], "2000000.00");
        assert_eq!(json["machine"]["nproc"], 2);
        assert_eq!(json["settings"]["mode"], "closed");
        assert_eq!(json["by_second"]["answered"], json!([600, 400]));
        assert_eq!(json["by_second"]["max_ms"], json!([9.0, 10.007]));
        assert_eq!(
            json["by_second"]["window_start_unix_ms"],
            1_800_000_000_000u64
        );
        insta::assert_snapshot!(table(&report.view()));
        assert_eq!(
            render(&report.view(), OutputFormat::Csv, None),
            "transfers_per_s,p50_ms,p90_ms,p99_ms,p99_9_ms,max_ms\n99.9,5.003,9.007,9.903,9.991,10.007\n"
        );
    }

    #[test]
    fn a_mixed_report_counts_each_kind_with_its_own_latency() {
        let mut report = report();
        report.settings.mix = Mix {
            read_percent: 20,
            inter_branch_percent: 10,
            pending_percent: 5,
        };
        let tally = &mut report.measured.tally;
        tally.pending = 50;
        tally.inter_branch = 100;
        tally.approved_after_window = 2;
        for micros in [1_000u64, 2_000, 3_000] {
            tally.reads.latency_us.record(micros).expect("record");
            tally
                .approvals
                .latency_us
                .record(micros * 2)
                .expect("record");
        }
        tally.reads.ok = 3;
        tally.approvals.ok = 3;
        tally.approvals.errors = BTreeMap::from([("entry_not_pending".to_string(), 1)]);
        let json = report.json();
        assert_eq!(json["counts"]["transfers_posted"], 949);
        assert_eq!(json["counts"]["transfers_pending"], 50);
        assert_eq!(json["counts"]["inter_branch"], 100);
        assert_eq!(json["counts"]["approvals"], 3);
        assert_eq!(json["counts"]["reads"], 3);
        assert_eq!(json["reads"]["latency_ms"]["max"], 3.001);
        assert_eq!(json["approvals"]["latency_ms"]["p50"], 4.001);
        assert_eq!(json["approvals"]["sent"], 4);
        assert_eq!(json["reads"]["per_s"], 0.3);
        assert_eq!(json["settings"]["mix"]["pending_percent"], 5);
        let text = table(&report.view());
        assert!(text.contains("By kind (latency in ms)"), "{text}");
        assert!(
            text.contains("949 posted, 50 pending, 100 inter-branch; 3 approval(s) in the window, 2 after it; 3 balance read(s)"),
            "{text}"
        );
        assert!(text.contains("approval  entry_not_pending"), "{text}");
    }
}
