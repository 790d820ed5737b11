//! Node configuration: a TOML file, then environment variables, then flags.
//! Every setting has a sane default; `deploy/config/node.example.toml`
//! documents each one.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::raft::types::NodeId;

/// The whole node configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// This node's Raft id (unique in the cluster, never reused for a wiped node).
    pub node_id: NodeId,
    /// Where the HTTP API and the internal Raft routes listen.
    pub listen: SocketAddr,
    /// The address peers and forwarded requests use to reach this node.
    pub advertise: Option<String>,
    /// Where RocksDB keeps the log and the state.
    pub data_dir: PathBuf,
    /// The bootstrap admin API key (or `CLEARLEDGER_ADMIN_KEY`), registered
    /// when this node initializes the cluster.
    pub admin_key: Option<String>,
    /// Shared secret required on internal Raft routes when set.
    pub cluster_secret: Option<String>,
    /// Initialize a new cluster of this node and `peers` if the log is empty.
    pub bootstrap: bool,
    /// The other voters at bootstrap.
    pub peers: Vec<Peer>,
    /// Raft timing and log compaction.
    pub raft: RaftSettings,
    /// Write path: deadlines and group commit.
    pub write: WriteSettings,
    /// Logging.
    pub log: LogSettings,
    /// Serve HTTPS (and talk HTTPS to peers) when set.
    pub tls: Option<TlsSettings>,
}

/// TLS via rustls. The same certificate serves clients and peers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM certificate chain of this node.
    pub cert_file: PathBuf,
    /// PEM private key of this node.
    pub key_file: PathBuf,
    /// PEM certificate(s) of the authority that signed the peers' certificates.
    pub ca_file: PathBuf,
}

/// A peer at bootstrap.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Peer {
    /// Its node id.
    pub id: NodeId,
    /// Its advertised address (host:port).
    pub addr: String,
}

/// Raft timing and compaction.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RaftSettings {
    /// Leader heartbeat period. openraft also gives each append RPC (and
    /// each round of a linearizable read) this long to be answered, so it
    /// must cover a follower's fsync of the largest group-commit entries
    /// under load, not only a network round trip.
    pub heartbeat_interval_ms: u64,
    /// Lower bound of the randomized election timeout.
    pub election_timeout_min_ms: u64,
    /// Upper bound of the randomized election timeout.
    pub election_timeout_max_ms: u64,
    /// Build a snapshot once at least this many log entries were applied
    /// since the last one...
    pub snapshot_logs_since_last: u64,
    /// ...and at least this share, in percent, of the last snapshot's size
    /// was logged since (0: the entries alone decide). See
    /// `raft::snapshot_policy`.
    pub snapshot_log_percent: u64,
    /// Keep this many log entries behind the snapshot for slow followers.
    pub logs_to_keep: u64,
}

impl Default for RaftSettings {
    fn default() -> Self {
        RaftSettings {
            heartbeat_interval_ms: 250,
            election_timeout_min_ms: 1500,
            election_timeout_max_ms: 3000,
            snapshot_logs_since_last: 20_000,
            snapshot_log_percent: 100,
            logs_to_keep: 5_000,
        }
    }
}

/// The write path.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WriteSettings {
    /// How long a write may take before it answers `outcome_unknown`.
    pub deadline_ms: u64,
    /// Most journal entries group commit puts in one Raft entry.
    pub batch_entries_max: usize,
    /// Most bytes (estimated) group commit puts in one Raft entry.
    pub batch_bytes_max: usize,
    /// Raft entries proposed but not yet applied, at most; on a follower,
    /// gathered batches sent to the leader and not yet answered. Fewer in
    /// flight make each Raft entry carry more: 2 did about 14% more one per
    /// request at 64 clients than 4 (docs/ARCHITECTURE.md, group commit).
    pub in_flight_max: usize,
    /// Queued commands waiting for group commit, at most (then 503).
    pub queue_max: usize,
}

impl Default for WriteSettings {
    fn default() -> Self {
        WriteSettings {
            deadline_ms: 10_000,
            batch_entries_max: 16_000,
            batch_bytes_max: 8 << 20,
            in_flight_max: 2,
            queue_max: 100_000,
        }
    }
}

/// Logging.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// `text` or `json`.
    pub format: String,
    /// A tracing filter, e.g. `info` or `clearledger_node=debug,openraft=warn`.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            format: "text".into(),
            level: "info,openraft=warn".into(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            node_id: 1,
            listen: "127.0.0.1:8081".parse().expect("valid address"),
            advertise: None,
            data_dir: PathBuf::from("./data/node1"),
            admin_key: None,
            cluster_secret: None,
            bootstrap: false,
            peers: Vec::new(),
            raft: RaftSettings::default(),
            write: WriteSettings::default(),
            log: LogSettings::default(),
            tls: None,
        }
    }
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this configuration.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: toml::de::Error,
    },
    /// An environment variable has a bad value.
    #[error("environment variable {name}: {reason}")]
    Env {
        /// The variable.
        name: &'static str,
        /// Why.
        reason: String,
    },
    /// Settings that contradict each other.
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Reads a TOML file.
    pub fn from_file(path: &std::path::Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Applies `CLEARLEDGER_*` environment variables over the file's values.
    pub fn apply_env(&mut self) -> Result<(), ConfigError> {
        if let Ok(key) = std::env::var("CLEARLEDGER_ADMIN_KEY") {
            self.admin_key = Some(key);
        }
        if let Ok(secret) = std::env::var("CLEARLEDGER_CLUSTER_SECRET") {
            self.cluster_secret = Some(secret);
        }
        if let Ok(dir) = std::env::var("CLEARLEDGER_DATA_DIR") {
            self.data_dir = PathBuf::from(dir);
        }
        if let Ok(listen) = std::env::var("CLEARLEDGER_LISTEN") {
            self.listen = listen.parse().map_err(|error| ConfigError::Env {
                name: "CLEARLEDGER_LISTEN",
                reason: format!("{listen:?}: {error}"),
            })?;
        }
        if let Ok(level) = std::env::var("CLEARLEDGER_LOG") {
            self.log.level = level;
        }
        Ok(())
    }

    /// Checks settings that must agree.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |reason: &str| Err(ConfigError::Invalid(reason.to_string()));
        if self.raft.election_timeout_min_ms <= self.raft.heartbeat_interval_ms {
            return invalid("raft.election_timeout_min_ms must exceed raft.heartbeat_interval_ms");
        }
        if self.raft.election_timeout_max_ms <= self.raft.election_timeout_min_ms {
            return invalid(
                "raft.election_timeout_max_ms must exceed raft.election_timeout_min_ms",
            );
        }
        if !(1..=ledger::limits::ENTRIES_PER_BATCH_MAX * 16).contains(&self.write.batch_entries_max)
        {
            return invalid("write.batch_entries_max is out of range");
        }
        if self.write.in_flight_max == 0 || self.write.queue_max == 0 {
            return invalid("write.in_flight_max and write.queue_max must be at least 1");
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return invalid("log.format must be \"text\" or \"json\"");
        }
        if self.admin_key.as_deref().is_some_and(|key| key.len() < 8) {
            return invalid("the admin key must be at least 8 characters");
        }
        if let Some(tls) = &self.tls {
            for file in [&tls.cert_file, &tls.key_file, &tls.ca_file] {
                if !file.is_file() {
                    return Err(ConfigError::Invalid(format!(
                        "tls: {} is not a readable file",
                        file.display()
                    )));
                }
            }
        }
        if self.peers.iter().any(|peer| peer.id == self.node_id) {
            return invalid("peers must not include this node's own id");
        }
        Ok(())
    }

    /// `https` when TLS is on, else `http`: the scheme for peers and forwarding.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// The address peers use for this node.
    pub fn advertised(&self) -> String {
        self.advertise
            .clone()
            .unwrap_or_else(|| self.listen.to_string())
    }
}
