//! The command line: global flags and the top-level commands. Each command's
//! own flags live next to its code in `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Deserialize;

use crate::commands::{
    account, approval, audit, backup, bench, branch, cap, cluster, entry, principal, recon,
    statement, transfer, window,
};

/// The help heading of the flags every command takes.
const GLOBAL: &str = "Global options";

const EXAMPLES: &str = "\
Examples (against `clearledger-node dev`):
  clearledger --key dev-operator-key-1 cluster status
  clearledger -s 127.0.0.1:8081 -s 127.0.0.1:8082 --key dev-auditor-key-1 accounts list --branch SH01
  clearledger --key dev-branch-sh01-key transfer post --id t-1001 --debit SH01-C002 --credit BJ01-C002 --amount 250.00 --currency CNY
  clearledger --key dev-branch-sh01-key transfer import transfers.csv
  clearledger --key dev-operator-key-1 approvals queue
  clearledger --key dev-operator-key-1 approvals approve demo-t-5 --reason 'checked by phone'
  clearledger --profile ops -o json accounts balance SH01-C001 --as-of 2026-11-22T09:30:00Z
  clearledger --key dev-admin-key bench --clients 64 --duration 30 --warmup 5
  clearledger completions bash > /etc/bash_completion.d/clearledger

Key and servers: --key, else CLEARLEDGER_KEY, else the profile's key in
~/.config/clearledger/config.toml (choose one with --profile or default_profile).

Exit codes: 0 done; 1 other error; 2 usage or bad input (nothing sent);
3 the ledger rejected it (its code and detail are printed); 4 no node reachable,
no leader or quorum, or outcome unknown (re-run: ids make it safe);
5 not authorized; 130 interrupted.";

/// clearledger: operate a ClearLedger cluster over its HTTP API.
#[derive(Debug, Parser)]
#[command(name = "clearledger", version, about, after_help = EXAMPLES, propagate_version = true)]
pub struct Cli {
    /// Flags every command takes.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes, anywhere on the line.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// A node's address (host:port or http://host:port). Repeat it, or separate
    /// addresses with commas: when one cannot answer, the next is tried.
    #[arg(short, long, global = true, help_heading = GLOBAL, env = "CLEARLEDGER_SERVER", value_delimiter = ',', value_name = "ADDR")]
    pub server: Vec<String>,
    /// The API key (sent as a bearer token).
    #[arg(long, global = true, help_heading = GLOBAL, env = "CLEARLEDGER_KEY", hide_env_values = true, value_name = "KEY")]
    pub key: Option<String>,
    /// A named profile of the configuration file.
    #[arg(long, global = true, help_heading = GLOBAL, env = "CLEARLEDGER_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,
    /// The configuration file [default: ~/.config/clearledger/config.toml].
    #[arg(long, global = true, help_heading = GLOBAL, env = "CLEARLEDGER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// How to print answers [default: table].
    #[arg(short, long, global = true, help_heading = GLOBAL, env = "CLEARLEDGER_OUTPUT", value_enum, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
    /// Seconds to wait for one node's answer [default: 30].
    #[arg(long, global = true, help_heading = GLOBAL, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Print no notes or progress on stderr (errors still go there).
    #[arg(short, long, global = true, help_heading = GLOBAL)]
    pub quiet: bool,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// Tables that fit the terminal, amounts right-aligned.
    Table,
    /// The node's JSON answer.
    Json,
    /// The main table as CSV with a header row.
    Csv,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Cluster status and membership.
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
    /// Branches (机构).
    #[command(subcommand, alias = "branch")]
    Branches(branch::BranchCommand),
    /// Accounts and their balances.
    #[command(subcommand, alias = "account")]
    Accounts(account::AccountCommand),
    /// Post transfers, one or a file of them.
    #[command(subcommand, alias = "transfers")]
    Transfer(transfer::TransferCommand),
    /// Journal entries with any number of postings.
    #[command(subcommand, alias = "entry")]
    Entries(entry::EntryCommand),
    /// The approval queue (集中授权): approve or reject pending entries.
    #[command(subcommand, alias = "approval")]
    Approvals(approval::ApprovalCommand),
    /// Reverse a posted entry (冲正) with a linked, opposite entry.
    Reverse(entry::ReverseArgs),
    /// Principals and their API keys.
    #[command(subcommand, alias = "principal")]
    Principals(principal::PrincipalCommand),
    /// Approval policy: thresholds and authority tiers.
    #[command(subcommand, alias = "policies")]
    Policy(principal::PolicyCommand),
    /// Clearing windows (清算场次) and their positions.
    #[command(subcommand, alias = "window")]
    Windows(window::WindowCommand),
    /// Net debit caps (净借记限额) and each branch's exposure against its cap.
    #[command(subcommand, alias = "cap")]
    Caps(cap::CapCommand),
    /// Customer statements (对账单), their returns (对账回执) and reports (回收率).
    #[command(subcommand, alias = "statement")]
    Statements(statement::StatementCommand),
    /// Reconciliation (对账): import external statements, run, show.
    #[command(subcommand)]
    Recon(recon::ReconCommand),
    /// Reconciliation breaks (未达账项): list, show, resolve.
    #[command(subcommand, alias = "break")]
    Breaks(recon::BreaksCommand),
    /// Measure the cluster: post transfers at a concurrency and batch size,
    /// report committed transfers/s and latency percentiles.
    Bench(bench::BenchArgs),
    /// Write a consistent backup of the cluster to a file (admin).
    Backup(backup::BackupArgs),
    /// Install a backup file on a new node, which then leads a one-voter
    /// cluster holding it (admin).
    Restore(backup::RestoreArgs),
    /// Balances and the trial balance (试算平衡) as of a past point.
    #[command(subcommand, alias = "snapshots")]
    Snapshot(audit::SnapshotCommand),
    /// The journal, exported with its chain hashes.
    #[command(subcommand)]
    Journal(audit::JournalCommand),
    /// Period close (关账) per branch.
    #[command(subcommand, alias = "period")]
    Periods(audit::PeriodCommand),
    /// The hash-chain check, the audit trail and post-hoc review (事后监督).
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Print a shell completion script.
    #[command(
        after_help = "Example:\n  clearledger completions bash > ~/.local/share/bash-completion/completions/clearledger"
    )]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}
