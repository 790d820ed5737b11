//! `clearledger bench`: a load generator for a running cluster. It prepares
//! a bench branch (accounts opened and funded once, reused by later runs),
//! posts transfers at the given concurrency and batch size for the given
//! time, and reports committed transfers per second and request latency.
//!
//! - [`setup`]: the bench branch, its accounts, its posting principal and the
//!   money check afterwards, over the async HTTP helper [`api`].
//! - [`load`]: the clients, closed-loop or open-loop on a fixed schedule, each
//!   with its own HDR histogram.
//! - [`report`]: the figures, the settings and the machine, as a [`View`].
//!
//! The rest of the CLI is blocking; this command runs its own tokio runtime,
//! because thousands of requests per second from one thread per client would
//! measure the threads, not the cluster.

pub mod api;
pub mod load;
pub mod report;
pub mod setup;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::Args;

use crate::client::Settings;
use crate::commands::Context;
use crate::exit::usage;
use crate::output::View;

/// The key `clearledger-node dev` bootstraps with; the bench uses it when no
/// key is given.
pub const DEV_ADMIN_KEY: &str = "dev-admin-key";

/// `bench`.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples (against `clearledger-node dev --no-demo`):
  clearledger --key dev-admin-key -s 127.0.0.1:8081 -s 127.0.0.1:8082 -s 127.0.0.1:8083 bench --clients 64 --duration 30 --warmup 5
  clearledger --key dev-admin-key bench --clients 8 --batch-size 1000 --duration 30 --warmup 5
  clearledger --key dev-admin-key -o json bench --clients 64 --rate 7500 --duration 30 --warmup 5

The key must be the admin key (it creates the bench branch and a principal,
`bench-<run>` with the operator role, that posts the transfers); without any
key, dev-admin-key is used. Accounts BENCH-C000000... are opened and funded
once with idempotent ids, so later runs reuse them. Clients are spread over
every --server. Without --rate each client sends its next request when the
last one answered (closed loop); with --rate requests start on a fixed
schedule and latency counts from the scheduled start, so a stalled cluster
shows as latency instead of hiding as fewer requests (coordinated omission).
Only transfers answered posted or pending count as committed.")]
pub struct BenchArgs {
    /// Concurrent clients, each with its own connection.
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub clients: usize,
    /// Transfers per HTTP request (1 sends one transfer, not a batch).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub batch_size: usize,
    /// Seconds measured, after the warm-up.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub duration: u64,
    /// Open loop: transfers per second over all clients, on a fixed schedule.
    #[arg(long, value_name = "TRANSFERS_PER_S")]
    pub rate: Option<u64>,
    /// Bench accounts to open, fund and post between.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub accounts: usize,
    /// Seconds of load before measuring starts.
    #[arg(long, default_value_t = 0, value_name = "SECONDS")]
    pub warmup: u64,
    /// The bench branch's code.
    #[arg(long, default_value = "BENCH", value_name = "CODE")]
    pub branch: String,
    /// Threads of the load generator [default: the machine's cores].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

impl BenchArgs {
    /// Refuses settings that cannot run, before anything is sent.
    fn check(&self) -> anyhow::Result<()> {
        if self.clients == 0 {
            return Err(usage("--clients must be at least 1"));
        }
        let batch_max = ledger::limits::ENTRIES_PER_BATCH_MAX;
        if self.batch_size == 0 || self.batch_size > batch_max {
            return Err(usage(format!("--batch-size must be from 1 to {batch_max}")));
        }
        if self.duration == 0 {
            return Err(usage("--duration must be at least 1 second"));
        }
        if self.rate == Some(0) {
            return Err(usage("--rate must be at least 1 transfer per second"));
        }
        if self.accounts < 2 {
            return Err(usage("--accounts must be at least 2"));
        }
        if self.accounts > setup::ACCOUNTS_MAX {
            return Err(usage(format!(
                "--accounts must be at most {}",
                setup::ACCOUNTS_MAX
            )));
        }
        if self.threads == Some(0) {
            return Err(usage("--threads must be at least 1"));
        }
        ledger::BranchCode::new(self.branch.as_str())
            .map_err(|error| usage(format!("--branch {:?}: {error}", self.branch)))?;
        // The longest id the bench makes must still be an id.
        let longest = setup::account_id(&self.branch, setup::ACCOUNTS_MAX - 1);
        ledger::AccountId::new(longest.as_str())
            .map_err(|error| usage(format!("--branch {:?} is too long: {error}", self.branch)))?;
        Ok(())
    }
}

/// Runs `bench` on a runtime of its own.
pub fn run(context: &Context, args: &BenchArgs) -> anyhow::Result<View> {
    args.check()?;
    let settings = context.client()?.settings().clone();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.unwrap_or(cores))
        .enable_all()
        .build()?;
    let quiet = context.quiet;
    let interrupted = context.interrupted.clone();
    runtime.block_on(bench(args, settings, quiet, interrupted))
}

async fn bench(
    args: &BenchArgs,
    settings: Settings,
    quiet: bool,
    interrupted: Arc<AtomicBool>,
) -> anyhow::Result<View> {
    let note = |text: &str| {
        if !quiet {
            eprintln!("bench: {text}");
        }
    };
    let machine = report::Machine::read();
    let api = api::Api::new(&settings)?;
    let run_id = setup::run_id();
    let prepared = setup::prepare(&api, &args.branch, args.accounts, &run_id, &note).await?;
    let plan = Arc::new(load::Plan {
        clients: args.clients,
        batch_size: args.batch_size,
        duration: Duration::from_secs(args.duration),
        warmup: Duration::from_secs(args.warmup),
        rate: args.rate,
        accounts: prepared.accounts.clone(),
        servers: settings.servers.clone(),
        key: prepared.posting_key.clone(),
        timeout: settings.timeout,
        run_id: run_id.clone(),
    });
    note(&format!(
        "{} client(s), {} transfer(s) per request, {} for {} s after {} s of warm-up, over {} server(s)",
        plan.clients,
        plan.batch_size,
        plan.rate.map_or("closed loop".to_string(), |rate| format!(
            "open loop at {rate} transfers/s"
        )),
        args.duration,
        args.warmup,
        plan.servers.len()
    ));
    let stop = interrupted.clone();
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stop.store(true, Ordering::SeqCst);
        }
    });
    let measured = load::run(plan.clone(), interrupted.clone()).await;
    ctrl_c.abort();
    let measured = measured?;
    if measured.interrupted {
        note("interrupted: reporting what was measured so far");
    }
    note("checking that the bench accounts still hold the money they were funded with");
    let money = setup::count_money(&api, &args.branch).await?;
    let report = report::Report {
        run_id,
        settings: report::SettingsUsed::of(args, &plan),
        machine,
        measured,
        money,
        principal: prepared.principal,
    };
    Ok(report.view())
}
