//! `clearledger`, the operators' and auditors' command-line tool. It talks
//! only HTTP to any node of a ClearLedger cluster, failing over between the
//! servers it is given.
//!
//! The shape follows ripgrep's `main → run`: [`main`] parses the command line,
//! [`run`] does the work and returns `anyhow::Result`, and [`exit::report`]
//! turns any error into a message and a stable exit code in one place.
//!
//! - [`args`]: the command line (clap derive); each command's flags sit with
//!   its code in [`commands`].
//! - [`config`]: servers, key and output format from flags, environment and
//!   profiles.
//! - [`client`]: the HTTP client, keeping transport errors and problem
//!   responses apart.
//! - [`output`]: views rendered as tables, CSV or JSON; [`amounts`]: exact
//!   decimal amounts through the `ledger` crate.

pub mod amounts;
pub mod args;
pub mod client;
pub mod commands;
pub mod config;
pub mod exit;
pub mod output;

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use clap::{CommandFactory, Parser};

use crate::args::{Cli, Command};
use crate::client::Client;
use crate::commands::Context;
use crate::output::{View, render};

/// Parses the command line, runs it, and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(ToString::to_string)
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".to_string());
        eprintln!(
            "clearledger: internal error ({message}); this is a bug: please report it with the command you ran"
        );
    }));
    // Only needed when cargo unified reqwest's features with the node's TLS
    // ones (a workspace build); harmless otherwise: the CLI speaks plain HTTP.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(exit::USAGE));
        }
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(cli))) {
        Ok(Ok(())) => ExitCode::from(exit::SUCCESS),
        Ok(Err(error)) => exit::report(&error),
        Err(_) => ExitCode::from(exit::FAILED),
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Completions { shell } = cli.command {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "clearledger", &mut out);
        write_stdout(&out);
        return Ok(());
    }
    let mut resolved = config::resolve(&cli.global)?;
    if resolved.settings.is_none() && matches!(cli.command, Command::Bench(_)) {
        // The bench's documented default: the dev cluster's admin key.
        let mut global = cli.global.clone();
        global.key = Some(commands::bench::DEV_ADMIN_KEY.to_string());
        resolved = config::resolve(&global)?;
    }
    let client = resolved.settings.map(Client::new).transpose()?;
    let context = Context::new(
        client,
        resolved.output,
        cli.global.quiet,
        Arc::new(AtomicBool::new(false)),
    );
    let view = commands::run(&context, &cli.command)?;
    context.print(&view);
    Ok(())
}

impl Context {
    /// Prints `view` on stdout in the chosen format.
    pub fn print(&self, view: &View) {
        write_stdout(render(view, self.output, None).as_bytes());
    }
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn write_stdout(bytes: &[u8]) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(bytes).and_then(|()| stdout.flush());
}
