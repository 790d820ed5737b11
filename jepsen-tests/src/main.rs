//! `jepsen-tests`: a black-box fault-injection harness for ClearLedger.
//!
//! `jepsen-tests run` creates a network namespace per node plus a hub
//! namespace (see [`netns`]), then re-executes itself inside the hub as
//! `jepsen-tests worker`, which starts real `clearledger-node` processes,
//! runs the bank [`workload`] against them while the [`nemesis`] injects
//! faults, heals, resolves unknown outcomes, and hands the [`history`] to the
//! [`checker`]s. The supervising process only creates and always removes the
//! namespaces, also when the worker fails or on Ctrl-C.
//!
//! Exit status: 0 valid, 1 a checker did not pass, 2 the harness failed,
//! 130 interrupted.

mod api;
mod checker;
mod cmd;
mod history;
mod lossyfs;
mod money;
mod nemesis;
mod netns;
mod node;
mod proxy;
mod report;
mod run;
mod svg;
mod workload;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};

/// Exit status when a checker did not pass.
const EXIT_INVALID: u8 = 1;
/// Exit status when the harness itself failed.
const EXIT_ERROR: u8 = 2;
/// Exit status after Ctrl-C or SIGTERM.
const EXIT_INTERRUPTED: u8 = 130;

#[derive(Parser)]
#[command(
    name = "jepsen-tests",
    version,
    about = "Fault-injection tests of a real ClearLedger cluster"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a test: nodes in network namespaces, the bank workload, a nemesis, the checkers.
    Run(RunArgs),
    /// Remove namespaces (and the processes in them) and lossy mounts left behind by runs that died.
    Cleanup {
        /// Also remove the namespaces of runs whose supervisor is still alive.
        #[arg(long)]
        force: bool,
    },
    /// Check an existing history again.
    Check {
        /// A history.jsonl.
        #[arg(long)]
        history: PathBuf,
        /// Write summary.json and latency.svg here too.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The part of `run` that lives inside the hub namespace.
    #[command(hide = true)]
    Worker {
        /// The namespaces' run id.
        #[arg(long)]
        run_id: String,
        #[command(flatten)]
        args: RunArgs,
    },
}

#[derive(Args, Clone, Debug)]
struct RunArgs {
    /// How many nodes (3 or 5).
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Seconds of workload and faults (healing and checking come after).
    #[arg(long, default_value_t = 60)]
    time_limit: u64,
    /// Faults: partition, kill, pause, member, clock, delay, drop, lose-unsynced
    /// (comma-separated), all (every one but lose-unsynced), or none.
    #[arg(long, default_value = "partition,kill")]
    nemesis: String,
    /// Seeds the nemesis schedule and the clients' choices (random if absent).
    #[arg(long)]
    seed: Option<u64>,
    /// The results directory (created; must not hold a history already).
    #[arg(long)]
    out: PathBuf,
    /// The clearledger-node binary (default: next to this one).
    #[arg(long)]
    node_bin: Option<PathBuf>,
    /// Sets CLEARLEDGER_FAULT for the nodes (needs a node built with
    /// `--features fault-injection`): skip_linearizable_read, skip_dedup,
    /// ack_before_commit, reapply_on_restart, skip_fsync.
    #[arg(long)]
    fault: Option<String>,
    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Log entries each node keeps behind its snapshot (the nodes snapshot
    /// every 300). A node that falls further behind catches up by the
    /// leader's snapshot, which replaces its state; a large value makes it
    /// catch up by log, so a replica's wrong state lasts to the end.
    #[arg(long, default_value_t = 100)]
    logs_to_keep: u64,
    /// Keep the nodes' RocksDB directories (logs and configs are always kept;
    /// not with lose-unsynced, whose data directories are lossyfs mounts).
    #[arg(long)]
    keep_data: bool,
}

impl RunArgs {
    fn node_bin(&self) -> anyhow::Result<PathBuf> {
        let path = match &self.node_bin {
            Some(path) => path.clone(),
            None => std::env::current_exe()
                .context("cannot locate this executable")?
                .with_file_name("clearledger-node"),
        };
        let path = std::fs::canonicalize(&path).with_context(|| {
            format!(
                "no clearledger-node binary at {} (see --node-bin)",
                path.display()
            )
        })?;
        Ok(path)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if ![3, 5].contains(&self.nodes) {
            bail!("--nodes must be 3 or 5");
        }
        if self.concurrency == 0 {
            bail!("--concurrency must be at least 1");
        }
        let (faults, _) = self.faults()?;
        if faults.contains(&nemesis::Fault::LoseUnsynced) {
            if self.keep_data {
                bail!(
                    "--keep-data cannot keep the data directories of lose-unsynced: they are lossyfs mounts, gone when the run unmounts them"
                );
            }
            if !std::path::Path::new("/dev/fuse").exists() {
                bail!(
                    "the lose-unsynced nemesis needs FUSE: /dev/fuse is missing (modprobe fuse; apt-get install fuse3)"
                );
            }
        }
        Ok(())
    }

    /// The faults asked for, and libfaketime if the clock nemesis is among
    /// them (`all` leaves the clock out when libfaketime is not installed).
    fn faults(&self) -> anyhow::Result<(Vec<nemesis::Fault>, Option<PathBuf>)> {
        let mut faults = nemesis::parse_faults(&self.nemesis)?;
        if !faults.contains(&nemesis::Fault::Clock) {
            return Ok((faults, None));
        }
        if let Some(library) = node::faketime_library() {
            return Ok((faults, Some(library)));
        }
        if self.nemesis.split(',').any(|word| word.trim() == "clock") {
            bail!("the clock nemesis needs libfaketime (apt-get install libfaketime)");
        }
        faults.retain(|fault| *fault != nemesis::Fault::Clock);
        Ok((faults, None))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => supervise(&args),
        Command::Worker { run_id, args } => worker(run_id, args),
        Command::Cleanup { force } => cleanup(force),
        Command::Check { history, out } => check(&history, out.as_deref()),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("jepsen-tests: {error:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// The supervisor: creates the namespaces, runs the worker inside the hub,
/// and removes the namespaces whatever happens.
fn supervise(args: &RunArgs) -> anyhow::Result<u8> {
    args.validate()?;
    let node_bin = args.node_bin()?;
    netns::check_available()?;
    let leftovers = netns::leftovers();
    if leftovers > 0 {
        eprintln!(
            "jepsen-tests: {leftovers} earlier run(s) left namespaces behind; `jepsen-tests cleanup` removes them"
        );
    }
    if args.out.join("history.jsonl").exists() {
        bail!(
            "{} holds a history already; choose a new --out",
            args.out.display()
        );
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let out = std::fs::canonicalize(&args.out).context("cannot resolve --out")?;
    let run_id = format!("{:06x}", rand::random::<u32>() & 0x00ff_ffff);
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .context("cannot handle Ctrl-C")?;
    let net = netns::Net::create(&run_id, args.nodes)?;
    eprintln!(
        "jepsen-tests: run {run_id}: {} nodes in namespaces {}n1..",
        args.nodes,
        netns::hub_name(&run_id).trim_end_matches("hub")
    );
    let code = run_worker(args, &run_id, &node_bin, &out, &stop);
    net.teardown();
    code
}

fn run_worker(
    args: &RunArgs,
    run_id: &str,
    node_bin: &std::path::Path,
    out: &std::path::Path,
    stop: &AtomicBool,
) -> anyhow::Result<u8> {
    let me = std::env::current_exe().context("cannot locate this executable")?;
    let mut command = std::process::Command::new("ip");
    command
        .args(["netns", "exec", &netns::hub_name(run_id)])
        .arg(me)
        .args([
            "worker",
            "--run-id",
            run_id,
            "--nodes",
            &args.nodes.to_string(),
        ])
        .args([
            "--time-limit",
            &args.time_limit.to_string(),
            "--nemesis",
            &args.nemesis,
        ])
        .args(["--concurrency", &args.concurrency.to_string()])
        .args(["--logs-to-keep", &args.logs_to_keep.to_string()])
        .arg("--out")
        .arg(out)
        .arg("--node-bin")
        .arg(node_bin);
    let seed = args.seed.unwrap_or_else(rand::random);
    command.args(["--seed", &seed.to_string()]);
    if let Some(fault) = &args.fault {
        command.args(["--fault", fault]);
    }
    if args.keep_data {
        command.arg("--keep-data");
    }
    let mut child = command
        .spawn()
        .context("cannot start the worker in the hub namespace")?;
    let mut stopping: Option<Instant> = None;
    loop {
        if let Some(status) = child.try_wait().context("cannot wait for the worker")? {
            return Ok(status
                .code()
                .and_then(|code| u8::try_from(code).ok())
                .unwrap_or(EXIT_ERROR));
        }
        if stop.load(Ordering::SeqCst) {
            match stopping {
                None => {
                    // Ctrl-C reached the worker too; SIGTERM to us did not.
                    let _ = cmd::run("kill", &["-TERM", &child.id().to_string()]);
                    stopping = Some(Instant::now());
                }
                Some(since) if since.elapsed() > Duration::from_secs(60) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Ok(EXIT_INTERRUPTED);
                }
                Some(_) => {}
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn worker(run_id: String, args: RunArgs) -> anyhow::Result<u8> {
    args.validate()?;
    let (faults, faketime) = args.faults()?;
    let config = run::RunConfig {
        nodes: args.nodes,
        time_limit: Duration::from_secs(args.time_limit),
        faults,
        seed: args.seed.context("the supervisor passes a seed")?,
        out: args.out.clone(),
        node_bin: args.node_bin()?,
        fault: args.fault.clone(),
        concurrency: args.concurrency,
        logs_to_keep: args.logs_to_keep,
        keep_data: args.keep_data,
        run_id,
        faketime,
    };
    eprintln!(
        "jepsen-tests: seed {}, nemesis {:?}",
        config.seed, args.nemesis
    );
    // Only needed when cargo unified reqwest's features with the node's TLS
    // ones; harmless otherwise (the harness speaks plain HTTP).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the runtime")?;
    Ok(match runtime.block_on(run::run(config))? {
        run::Verdict::Valid => 0,
        run::Verdict::Invalid => EXIT_INVALID,
        run::Verdict::Interrupted => EXIT_INTERRUPTED,
    })
}

fn cleanup(force: bool) -> anyhow::Result<u8> {
    // A run's own mounts live in its mount namespace and go with it; these
    // are the ones made in this namespace (a mount test that was killed).
    for path in lossyfs::cleanup() {
        eprintln!("jepsen-tests: unmounted {}", path.display());
    }
    let removed = netns::cleanup(force)?;
    if removed.is_empty() {
        eprintln!("jepsen-tests: nothing to clean up");
    } else {
        eprintln!(
            "jepsen-tests: removed the namespaces of run(s) {}",
            removed.join(", ")
        );
    }
    Ok(0)
}

fn check(history: &std::path::Path, out: Option<&std::path::Path>) -> anyhow::Result<u8> {
    let events = history::read(history)?;
    let valid = match out {
        Some(out) => {
            std::fs::create_dir_all(out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            report::write(
                out,
                &events,
                &serde_json::json!({ "rechecked": history.display().to_string() }),
            )?
        }
        None => {
            let parsed = checker::parse(&events)?;
            let results = checker::check(&parsed);
            for result in &results {
                eprintln!(
                    "  {:?} {:<20} {}",
                    result.verdict, result.name, result.summary
                );
            }
            results
                .iter()
                .all(|result| result.verdict == checker::Verdict::Valid)
        }
    };
    Ok(if valid { 0 } else { EXIT_INVALID })
}
