//! The node's shared state and the three things every handler needs:
//! who is calling, a read that is as fresh as asked, and a write that is
//! committed and applied (or a clear reason why not).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use ledger::{Actor, Applied, Command, CommandKind, Ledger, Principal, Role};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::http::error::ApiError;
use crate::metrics::Metrics;
use crate::proposer::Proposer;
use crate::raft::network::CLUSTER_SECRET_HEADER;
use crate::raft::snapshots::Snapshots;
use crate::raft::state_machine::SharedLedger;
use crate::raft::types::Raft;

/// Everything the handlers share.
pub struct App {
    /// Configuration as loaded.
    pub config: Config,
    /// The Raft handle.
    pub raft: Raft,
    /// The ledger, read by handlers, written only by the state machine.
    pub ledger: SharedLedger,
    /// The snapshot files, where a restore stages the backup's snapshot.
    pub snapshots: Arc<Snapshots>,
    /// Group commit.
    pub proposer: Proposer,
    /// For forwarding to the leader.
    pub client: reqwest::Client,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// Held while a restore runs: one at a time.
    pub restoring: tokio::sync::Mutex<()>,
}

/// The state handlers receive.
pub type AppState = Arc<App>;

/// SHA-256 of an API key, as the ledger stores it.
pub fn hash_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// A short non-secret id for a key, shown in the audit trail.
pub fn key_id(key: &str) -> String {
    hex::encode(&hash_key(key)[..4])
}

/// How fresh a read must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Consistency {
    /// Read-index through the leader (the default).
    #[default]
    Linearizable,
    /// This node's state as it is, without asking the leader.
    Stale,
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The principal.
    pub principal: Principal,
    /// As recorded in the audit trail.
    pub actor: Actor,
}

impl Caller {
    /// Fails with 403 unless the caller's role is one of `roles`
    /// (`"branch"` matches any branch).
    pub fn require(&self, roles: &[&str], what: &str) -> Result<(), ApiError> {
        let name = match &self.principal.role {
            Role::Branch(_) => "branch",
            Role::Operator => "operator",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        };
        if roles.contains(&name) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "a principal with role {} may not {what}",
                self.principal.role
            )))
        }
    }

    /// Whether the caller may read data of `branch`.
    pub fn may_read_branch(&self, branch: &ledger::BranchCode) -> bool {
        match &self.principal.role {
            Role::Branch(own) => own == branch,
            _ => true,
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Caller, ApiError> {
        let unauthorized =
            |detail: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", detail);
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| unauthorized("send Authorization: Bearer <api key>"))?;
        let key = header
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|key| !key.is_empty())
            .ok_or_else(|| unauthorized("the Authorization header must be Bearer <api key>"))?;
        let principal = app
            .ledger()
            .principal_by_key(&hash_key(key))
            .cloned()
            .ok_or_else(|| unauthorized("unknown API key"))?;
        // Auditors are read-only everywhere: a write is refused before its
        // input is even read. Their one record, a review mark, changes
        // nothing in the books.
        let read = matches!(
            parts.method,
            axum::http::Method::GET | axum::http::Method::HEAD
        );
        if principal.role == Role::Auditor && !read && !parts.uri.path().ends_with("/review") {
            return Err(ApiError::forbidden("auditors are read-only"));
        }
        let client = app.client_address(parts);
        let actor = Actor {
            principal: principal.name.clone(),
            key_id: principal.key_id.clone(),
            client,
        };
        Ok(Caller { principal, actor })
    }
}

impl App {
    /// The ledger for a read. Hold the guard briefly: the state machine waits on it.
    /// Most reads find the lock free and take it at once; only a read that
    /// would wait for an apply tells the runtime first (handing the worker's
    /// other tasks to another thread costs more than the read itself).
    pub fn ledger(&self) -> std::sync::RwLockReadGuard<'_, Ledger> {
        match self.ledger.try_read() {
            Ok(guard) => Ok(guard),
            Err(std::sync::TryLockError::WouldBlock) => {
                crate::blocking::blocking(|| self.ledger.read())
            }
            Err(std::sync::TryLockError::Poisoned(poisoned)) => Err(poisoned),
        }
        .expect("a panic while applying stops the node")
    }

    /// The client's address: the peer, or the original client of a request a
    /// follower forwarded (trusted only with the cluster secret when one is set).
    pub fn client_address(&self, parts: &Parts) -> String {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|info| info.0.ip().to_string())
            .unwrap_or_default();
        let forwarded_for = parts
            .headers
            .get(crate::http::forward::FORWARDED_FOR_HEADER);
        let trusted = match &self.config.cluster_secret {
            Some(secret) => parts
                .headers
                .get(CLUSTER_SECRET_HEADER)
                .is_some_and(|value| value.as_bytes() == secret.as_bytes()),
            None => true,
        };
        match forwarded_for.and_then(|value| value.to_str().ok()) {
            Some(original) if trusted => format!("{original} via {peer}"),
            _ => peer,
        }
    }

    fn deadline(&self) -> Duration {
        Duration::from_millis(self.config.write.deadline_ms)
    }

    /// Waits until this node's state reflects everything committed before the
    /// call began (read-index through the leader), unless a stale read is
    /// asked for. Answers the read index (0 for a stale read).
    pub async fn linearize(&self, consistency: Consistency) -> Result<u64, ApiError> {
        if consistency == Consistency::Stale {
            return Ok(0);
        }
        #[cfg(feature = "fault-injection")]
        if crate::faults::is(crate::faults::Fault::SkipLinearizableRead) {
            return Ok(0);
        }
        match tokio::time::timeout(self.deadline(), self.raft.ensure_linearizable()).await {
            Ok(Ok(read)) => Ok(read.map_or(0, |id| id.index)),
            Ok(Err(error)) => Err(ApiError::unavailable(
                "not_leader",
                format!("cannot confirm leadership for a linearizable read: {error}"),
            )),
            Err(_) => Err(ApiError::unavailable(
                "no_quorum",
                "no quorum confirmed leadership in time; retry, or read with consistency=stale",
            )),
        }
    }

    /// Proposes a command as `caller` and waits for it to be committed and
    /// applied. Past the deadline the answer is `outcome_unknown`: the caller
    /// retries with the same ids to learn the truth.
    pub async fn propose(&self, caller: &Caller, kind: CommandKind) -> Result<Applied, ApiError> {
        // An auditor's one record is a review mark, which changes nothing in the books.
        let review = matches!(kind, CommandKind::ReviewEntry { .. });
        if caller.principal.role == Role::Auditor && !review {
            return Err(ApiError::forbidden("auditors are read-only"));
        }
        let command = Command {
            at: ledger::Timestamp::default(),
            actor: caller.actor.clone(),
            kind,
        };
        self.metrics.proposed();
        #[cfg(feature = "fault-injection")]
        let early = crate::faults::early_answer(self, &command);
        let outcome = self.proposer.propose(command)?;
        #[cfg(feature = "fault-injection")]
        if let Some(early) = early {
            return Ok(early);
        }
        match tokio::time::timeout(self.deadline(), outcome).await {
            Ok(Ok(result)) => result.map_err(ApiError::from),
            Ok(Err(_)) => Err(ApiError::unavailable(
                "outcome_unknown",
                "the node stopped waiting for this write; retry with the same id to learn its outcome",
            )),
            Err(_) => Err(ApiError::unavailable(
                "outcome_unknown",
                "the write was not confirmed before the deadline; retry with the same id to learn its outcome",
            )),
        }
    }
}
