//! `clearledger-node`: the imperative shell around the `ledger` core.
//!
//! openraft orders commands and replicates them; RocksDB keeps the log and
//! the state (one database, shared write-ahead log); axum admits clients.
//! [`run`] wires them together: storage → Raft → group commit → HTTP.

// openraft's storage traits return its `StorageError` (over 200 bytes) by
// value, and axum handlers return `Response`; boxing them would only move
// the cost around, so the size lint is off for this crate.
#![allow(clippy::result_large_err)]

pub mod app;
pub mod backup;
pub mod blocking;
pub mod codec;
pub mod config;
pub mod dev;
#[cfg(feature = "fault-injection")]
pub mod faults;
pub mod http;
pub mod metrics;
pub mod proposer;
pub mod raft {
    //! Raft: types, the RocksDB log store, the state machine adapter, the network.
    pub mod log_cache;
    pub mod log_store;
    pub mod network;
    pub mod snapshot_policy;
    pub mod snapshots;
    pub mod state_machine;
    pub mod types;
}
pub mod storage;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ledger::{Actor, Command, CommandKind, NewPrincipal, PrincipalName, Role, Timestamp};
use openraft::{BasicNode, SnapshotPolicy};

use crate::app::{App, hash_key, key_id};
use crate::config::Config;
use crate::proposer::{Forwarding, Proposer};
use crate::raft::log_store::LogStore;
use crate::raft::network::Network;
use crate::raft::state_machine::StateMachine;
use crate::raft::types::Raft;

/// The name under which the bootstrap admin key is registered.
pub const BOOTSTRAP_ADMIN: &str = "admin";

/// Installs rustls's ring provider for this process; every HTTP client needs
/// it. Installing twice is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Sets up logging as configured. Call once per process.
pub fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let _ = if config.log.format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

fn raft_config(config: &Config) -> anyhow::Result<openraft::Config> {
    let raft = openraft::Config {
        cluster_name: "clearledger".into(),
        heartbeat_interval: config.raft.heartbeat_interval_ms,
        election_timeout_min: config.raft.election_timeout_min_ms,
        election_timeout_max: config.raft.election_timeout_max_ms,
        // Snapshots are asked for by `raft::snapshot_policy`.
        snapshot_policy: SnapshotPolicy::Never,
        max_in_snapshot_log_to_keep: config.raft.logs_to_keep,
        // Entries carry up to a whole group-commit batch (megabytes): a few
        // per RPC keep each append answerable within one heartbeat interval.
        max_payload_entries: 4,
        ..Default::default()
    };
    raft.validate().context("invalid raft settings")
}

/// Runs one node until `shutdown` completes.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    config.validate()?;
    #[cfg(feature = "fault-injection")]
    faults::init()?;
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create data directory {}", config.data_dir.display()))?;
    let started = std::time::Instant::now();
    let db = storage::open(&config.data_dir.join("db"))
        .with_context(|| format!("cannot open the database in {}", config.data_dir.display()))?;
    // Opening replays the database's write-ahead log: part of what a restart costs.
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "database opened"
    );
    let log_store = LogStore::new(db.clone());
    let state_machine =
        StateMachine::open(db.clone(), &config.data_dir).context("cannot load the ledger state")?;
    let ledger = state_machine.ledger();
    let snapshots = state_machine.snapshots();
    let snapshot_gauge = state_machine.snapshot_gauge();
    let client = http_client(&config)?;
    let network = Network::new(
        client.clone(),
        config.scheme(),
        config.cluster_secret.clone(),
    );
    let raft = Raft::new(
        config.node_id,
        Arc::new(raft_config(&config)?),
        network,
        log_store,
        state_machine,
    )
    .await
    .context("cannot start Raft")?;
    tokio::spawn(crate::raft::snapshot_policy::run(
        raft.clone(),
        snapshot_gauge,
        config.raft.clone(),
    ));
    let forwarding = Forwarding {
        node_id: config.node_id,
        client: client.clone(),
        scheme: config.scheme(),
        secret: config.cluster_secret.clone(),
        timeout: Duration::from_millis(config.write.deadline_ms),
    };
    let proposer = Proposer::start(raft.clone(), config.write.clone(), forwarding);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let app = Arc::new(App {
        config,
        raft: raft.clone(),
        ledger,
        snapshots,
        proposer,
        client,
        metrics: Default::default(),
        restoring: Default::default(),
    });
    tracing::info!(node = app.config.node_id, listen = %app.config.listen, "node started");
    if app.config.bootstrap {
        initialize(&app).await?;
    }
    if app.config.admin_key.is_some() {
        tokio::spawn(register_admin(app.clone()));
    }
    tokio::spawn(expire_pending_entries(app.clone()));
    let service = http::router(app.clone()).into_make_service_with_connect_info::<SocketAddr>();
    match &app.config.tls {
        None => axum::serve(listener, service)
            .with_graceful_shutdown(shutdown)
            .await
            .context("HTTP server failed")?,
        Some(tls) => {
            let rustls =
                axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert_file, &tls.key_file)
                    .await
                    .context("cannot load the TLS certificate and key")?;
            let handle = axum_server::Handle::new();
            let stopping = handle.clone();
            tokio::spawn(async move {
                shutdown.await;
                stopping.graceful_shutdown(Some(Duration::from_secs(10)));
            });
            axum_server::from_tcp_rustls(listener.into_std()?, rustls)?
                .handle(handle)
                .serve(service)
                .await
                .context("HTTPS server failed")?;
        }
    }
    raft.shutdown().await.ok();
    tracing::info!(node = app.config.node_id, "node stopped");
    Ok(())
}

/// The client for peers and forwarding: HTTPS trusting only the configured
/// authority when TLS is on.
fn http_client(config: &Config) -> anyhow::Result<reqwest::Client> {
    install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(30))
        .tcp_nodelay(true);
    if let Some(tls) = &config.tls {
        let pem = std::fs::read(&tls.ca_file)
            .with_context(|| format!("cannot read {}", tls.ca_file.display()))?;
        for certificate in reqwest::Certificate::from_pem_bundle(&pem)
            .context("tls.ca_file holds no PEM certificate")?
        {
            builder = builder.add_root_certificate(certificate);
        }
        builder = builder.use_rustls_tls();
    }
    builder.build().context("cannot build the HTTP client")
}

/// Initializes a new cluster of this node and its peers, unless it has been already.
async fn initialize(app: &App) -> anyhow::Result<()> {
    if app.raft.is_initialized().await? {
        return Ok(());
    }
    let mut members = BTreeMap::new();
    members.insert(
        app.config.node_id,
        BasicNode {
            addr: app.config.advertised(),
        },
    );
    for peer in &app.config.peers {
        members.insert(
            peer.id,
            BasicNode {
                addr: peer.addr.clone(),
            },
        );
    }
    match app.raft.initialize(members).await {
        Ok(()) => tracing::info!("cluster initialized"),
        Err(error) => tracing::info!(%error, "cluster not initialized here"),
    }
    Ok(())
}

/// While this node leads, proposes a `Tick` whenever a pending entry's
/// timeout or a statement's due date has passed, so that expiry (and the
/// release of its reservation) and overdue marks never wait for other
/// traffic. The ledger itself decides what expires.
async fn expire_pending_entries(app: Arc<App>) {
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let is_leader = app.raft.metrics().borrow().current_leader == Some(app.config.node_id);
        let due = app
            .ledger()
            .next_expiry()
            .is_some_and(|at| at <= proposer::now());
        if is_leader && due {
            let tick = Command {
                at: Timestamp::default(),
                actor: Actor::system(),
                kind: CommandKind::Tick,
            };
            if let Ok(outcome) = app.proposer.propose(tick) {
                let _ = outcome.await;
            }
        }
    }
}

/// While this node leads, registers the bootstrap admin key if no principal holds it.
async fn register_admin(app: Arc<App>) {
    let key = app.config.admin_key.clone().expect("checked by the caller");
    let key_hash = hash_key(&key);
    let mut metrics = app.raft.metrics();
    loop {
        let is_leader = metrics.borrow().current_leader == Some(app.config.node_id);
        let registered = app.ledger().principal_by_key(&key_hash).is_some();
        if registered {
            return;
        }
        if is_leader {
            let command = Command {
                at: Timestamp::default(),
                actor: Actor::system(),
                kind: CommandKind::CreatePrincipal(NewPrincipal {
                    name: PrincipalName::new(BOOTSTRAP_ADMIN).expect("valid id"),
                    role: Role::Admin,
                    authority: 0,
                    key_hash,
                    key_id: key_id(&key),
                }),
            };
            if let Ok(outcome) = app.proposer.propose(command) {
                match outcome.await {
                    Ok(Ok(applied)) => match applied.outcome {
                        Ok(_) => tracing::info!("bootstrap admin key registered"),
                        Err(rejection) => {
                            tracing::warn!(%rejection, "the bootstrap admin key was not registered");
                            return;
                        }
                    },
                    Ok(Err(error)) => {
                        tracing::debug!(%error, "registering the admin key; will retry")
                    }
                    Err(_) => {}
                }
            }
        }
        if metrics.changed().await.is_err() {
            return;
        }
    }
}
