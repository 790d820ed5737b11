//! `clearledger-node run --config FILE` runs one node; `clearledger-node dev`
//! runs a local three-node cluster with demo data.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use clearledger_node::config::Config;

// The node allocates and frees many small buffers per request and per
// applied entry (JSON, bincode, RocksDB batches); mimalloc's thread-local
// free lists cost less there than the system allocator's arenas.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "clearledger-node",
    version,
    about = "ClearLedger replicated ledger node"
)]
struct Cli {
    #[command(subcommand)]
    command: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Run one node.
    Run {
        /// A TOML configuration file (see deploy/config/node.example.toml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Override node_id.
        #[arg(long)]
        node_id: Option<u64>,
        /// Override listen (host:port).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Override data_dir.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Run a local three-node cluster on 127.0.0.1:8081-8083 with demo data.
    Dev(clearledger_node::dev::DevArgs),
}

fn main() -> ExitCode {
    // A broken invariant anywhere (an assertion in the ledger, say) stops the
    // whole node: a replica that stops is better than one that diverges.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        std::process::abort();
    }));
    let cli = Cli::parse();
    clearledger_node::install_crypto_provider();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("clearledger-node: cannot start the runtime: {error}");
            return ExitCode::from(1);
        }
    };
    let result = match cli.command {
        Mode::Run {
            config,
            node_id,
            listen,
            data_dir,
        } => runtime.block_on(async move {
            let mut config = match &config {
                Some(path) => Config::from_file(path)?,
                None => Config::default(),
            };
            config.apply_env()?;
            if let Some(id) = node_id {
                config.node_id = id;
            }
            if let Some(listen) = listen {
                config.listen = listen;
            }
            if let Some(dir) = data_dir {
                config.data_dir = dir;
            }
            clearledger_node::init_logging(&config);
            clearledger_node::run(config, shutdown_signal()).await
        }),
        Mode::Dev(args) => runtime.block_on(clearledger_node::dev::run(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("clearledger-node: {error:#}");
            ExitCode::from(1)
        }
    }
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
