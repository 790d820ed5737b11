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
  clearledger --key dev-admin-key bench --clients 64 --mix --duration 30 --warmup 5

The key must be the admin key (it creates the bench branch and a principal,
`bench-<run>` with the operator role, that posts the transfers); without any
key, dev-admin-key is used. Accounts BENCH-C000000... are opened and funded
once with idempotent ids, so later runs reuse them. Clients are spread over
every --server. Without --rate each client sends its next request when the
last one answered (closed loop); with --rate requests start on a fixed
schedule and latency counts from the scheduled start, so a stalled cluster
shows as latency instead of hiding as fewer requests (coordinated omission).
Only transfers answered posted or pending count as committed.

--mix is the mixed workload: each client turn is a balance read
(GET /v1/accounts/{id}/balance, --read-percent of turns, default 20) or a
transfer request; a transfer credits an account of a second branch,
<branch>-IB (--inter-branch-percent of transfers, default 10), and asks to be
held pending (--pending-percent, default 5). A client approves each transfer
answered pending at its next turn, as a second principal,
`bench-<run>-approver`; what is still pending when the window ends is approved
afterwards, uncounted. The report counts each kind and gives reads and
approvals their own latency. Each percentage may also be given without --mix.
The mixed workload runs closed loop only.")]
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
    /// The mixed workload: reads, inter-branch and pending-then-approve
    /// transfers at the default percentages.
    #[arg(long)]
    pub mix: bool,
    /// Client turns that read a balance instead of posting [default: 20 with --mix, else 0].
    #[arg(long, value_name = "PERCENT")]
    pub read_percent: Option<u8>,
    /// Transfers that credit the second branch [default: 10 with --mix, else 0].
    #[arg(long, value_name = "PERCENT")]
    pub inter_branch_percent: Option<u8>,
    /// Transfers held pending, then approved [default: 5 with --mix, else 0].
    #[arg(long, value_name = "PERCENT")]
    pub pending_percent: Option<u8>,
}

impl BenchArgs {
    /// The workload's shares, each flag or its default.
    pub fn mix(&self) -> load::Mix {
        let or_default =
            |given: Option<u8>, with_mix: u8| given.unwrap_or(if self.mix { with_mix } else { 0 });
        load::Mix {
            read_percent: or_default(self.read_percent, 20),
            inter_branch_percent: or_default(self.inter_branch_percent, 10),
            pending_percent: or_default(self.pending_percent, 5),
        }
    }

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
        for (flag, percent) in [
            ("--read-percent", self.read_percent),
            ("--inter-branch-percent", self.inter_branch_percent),
            ("--pending-percent", self.pending_percent),
        ] {
            if percent.is_some_and(|percent| percent > 100) {
                return Err(usage(format!("{flag} must be from 0 to 100")));
            }
        }
        let mix = self.mix();
        if mix.read_percent == 100 {
            return Err(usage(
                "--read-percent must be below 100: the bench measures transfers",
            ));
        }
        if mix.sends_other_requests() && self.rate.is_some() {
            return Err(usage(
                "--rate is a rate of transfers: it cannot be combined with reads or pending transfers (--mix, --read-percent, --pending-percent)",
            ));
        }
        ledger::BranchCode::new(self.branch.as_str())
            .map_err(|error| usage(format!("--branch {:?}: {error}", self.branch)))?;
        // The longest id the bench makes must still be an id.
        let longest =
            setup::account_id(&setup::payee_branch(&self.branch), setup::ACCOUNTS_MAX - 1);
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
    let mix = args.mix();
    let needs = setup::Needs {
        accounts: args.accounts,
        payees: mix.inter_branch_percent > 0,
        approver: mix.pending_percent > 0,
    };
    let prepared = setup::prepare(&api, &args.branch, needs, &run_id, &note).await?;
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
        mix,
        payees: prepared.payees.clone(),
        approver_key: prepared.approver_key.clone(),
    });
    if mix.is_mixed() {
        note(&format!(
            "mixed: {}% of turns read a balance; {}% of transfers inter-branch, {}% pending then approved",
            mix.read_percent, mix.inter_branch_percent, mix.pending_percent
        ));
    }
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
