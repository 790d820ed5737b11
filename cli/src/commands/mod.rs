//! One module per group of commands. Each holds its clap flags, the calls it
//! makes, and the pure functions that turn the node's JSON into a [`View`]
//! (snapshot-tested from fixed JSON, no cluster needed).

pub mod account;
pub mod approval;
pub mod audit;
pub mod backup;
pub mod bench;
pub mod branch;
pub mod cap;
pub mod cluster;
pub mod entry;
pub mod import;
pub mod principal;
pub mod recon;
pub mod statement;
pub mod transfer;
pub mod window;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::args::{Command, OutputFormat};
use crate::client::Client;
use crate::exit::usage;
use crate::output::View;

/// What every command may use.
pub struct Context {
    /// The client, when a key was found.
    client: Option<Client>,
    /// The output format.
    pub output: OutputFormat,
    /// No notes or progress on stderr.
    pub quiet: bool,
    /// Set by Ctrl-C; long commands check it between steps.
    pub interrupted: Arc<AtomicBool>,
}

impl Context {
    /// A context.
    pub fn new(
        client: Option<Client>,
        output: OutputFormat,
        quiet: bool,
        interrupted: Arc<AtomicBool>,
    ) -> Context {
        Context {
            client,
            output,
            quiet,
            interrupted,
        }
    }

    /// The client, or a usage error saying how to give a key.
    pub fn client(&self) -> anyhow::Result<&Client> {
        self.client.as_ref().ok_or_else(|| {
            usage(
                "no API key: pass --key KEY, set CLEARLEDGER_KEY, or use a profile with a key \
                 (~/.config/clearledger/config.toml; see clearledger --help)",
            )
        })
    }
}

/// Runs `command` (all but `completions`, which needs no node).
pub fn run(context: &Context, command: &Command) -> anyhow::Result<View> {
    match command {
        Command::Cluster(command) => cluster::run(context, command),
        Command::Branches(command) => branch::run(context, command),
        Command::Accounts(command) => account::run(context, command),
        Command::Transfer(command) => transfer::run(context, command),
        Command::Entries(command) => entry::run(context, command),
        Command::Approvals(command) => approval::run(context, command),
        Command::Reverse(args) => entry::reverse(context, args),
        Command::Principals(command) => principal::run(context, command),
        Command::Policy(command) => principal::run_policy(context, command),
        Command::Windows(command) => window::run(context, command),
        Command::Caps(command) => cap::run(context, command),
        Command::Statements(command) => statement::run(context, command),
        Command::Bench(args) => bench::run(context, args),
        Command::Backup(args) => backup::backup(context, args),
        Command::Restore(args) => backup::restore(context, args),
        Command::Snapshot(command) => audit::run_snapshot(context, command),
        Command::Journal(command) => audit::run_journal(context, command),
        Command::Periods(command) => audit::run_periods(context, command),
        Command::Audit(command) => audit::run_audit(context, command),
        Command::Recon(command) => recon::run(context, command),
        Command::Breaks(command) => recon::run_breaks(context, command),
        Command::Completions { .. } => Err(anyhow::anyhow!(
            "completions are printed before any command runs"
        )),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::args::OutputFormat;
    use crate::output::{View, render};

    /// A view as an 80-column table, as snapshot tests compare it.
    pub fn table(view: &View) -> String {
        render(view, OutputFormat::Table, Some(80))
    }
}
