//! Backup and restore (admin). A backup is the newest Raft snapshot at or
//! past a linearizable read index, so it holds every write acknowledged
//! before the call. A restore installs one on a node that has never joined a
//! cluster; the node then leads a one-voter cluster holding the backup's
//! ledger at the backup's log index, and grows by the usual add-learner and
//! promote calls.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Seek, SeekFrom, Write};
use std::time::Duration;

use axum::Json;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use openraft::storage::Snapshot;
use openraft::{BasicNode, Membership, SnapshotMeta, StoredMembership, Vote};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

use crate::app::{AppState, Caller, Consistency, hash_key};
use crate::backup;
use crate::blocking::blocking;
use crate::http::error::ApiError;

/// How long a backup waits for a snapshot that covers its read index.
pub const SNAPSHOT_WAIT: Duration = Duration::from_secs(300);
/// How long a restore waits for the node to lead its one-voter cluster.
const LEAD_WAIT: Duration = Duration::from_secs(30);
/// The largest backup file a restore takes.
pub const RESTORE_BYTES_MAX: usize = 16 << 30;

fn failed(code: &str, error: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, code, error.to_string())
}

/// `GET /v1/admin/backup`: the backup file.
pub async fn backup(State(app): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.require(&["admin"], "take a backup")?;
    let read_index = app.linearize(Consistency::Linearizable).await?;
    let covers = move |m: &openraft::RaftMetrics<u64, BasicNode>| {
        m.snapshot.is_some_and(|id| id.index >= read_index)
    };
    if !covers(&app.raft.metrics().borrow()) {
        app.raft
            .trigger()
            .snapshot()
            .await
            .map_err(|error| failed("backup_failed", error))?;
    }
    app.raft
        .wait(Some(SNAPSHOT_WAIT))
        .metrics(covers, "a snapshot at or past the read index")
        .await
        .map_err(|error| {
            ApiError::unavailable(
                "backup_timeout",
                format!("no snapshot covered index {read_index} in time ({error}); retry"),
            )
        })?;
    let snapshot = app
        .raft
        .get_snapshot()
        .await
        .map_err(|error| failed("backup_failed", error))?
        .filter(|s| s.meta.last_log_id.is_some_and(|id| id.index >= read_index))
        .ok_or_else(|| {
            ApiError::unavailable(
                "backup_timeout",
                "the snapshot was replaced while it was read; retry",
            )
        })?;
    let mut file = snapshot.snapshot;
    let mut data = Vec::new();
    file.read_to_end(&mut data)
        .await
        .map_err(|error| failed("backup_failed", error))?;
    let taken_at = crate::proposer::now().to_string();
    let (header, file) =
        blocking(|| backup::write(&snapshot.meta, &data, app.config.node_id, taken_at))
            .map_err(|error| failed("backup_failed", error))?;
    tracing::info!(index = header.index, bytes = file.len(), "backup taken");
    let mut response = (StatusCode::OK, file).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    let disposition = format!(
        "attachment; filename=\"clearledger-{}.backup\"",
        header.index
    );
    for (name, value) in [
        (header::CONTENT_DISPOSITION.as_str(), disposition),
        ("x-clearledger-backup-index", header.index.to_string()),
        ("x-clearledger-backup-digest", header.digest.clone()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    Ok(response)
}

/// Lets in an admin principal, or, on a node that has never joined a cluster
/// (whose ledger knows no principal), its bootstrap admin key.
async fn authorize(app: &AppState, parts: &mut axum::http::request::Parts) -> Result<(), ApiError> {
    match Caller::from_request_parts(parts, app).await {
        Ok(caller) => caller.require(&["admin"], "restore a backup"),
        Err(unknown) => {
            let bootstrap = app.config.admin_key.as_deref().map(hash_key);
            let presented = parts
                .headers
                .get(header::AUTHORIZATION)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.strip_prefix("Bearer "))
                .map(|key| hash_key(key.trim()));
            if bootstrap.is_some() && presented == bootstrap {
                Ok(())
            } else {
                Err(unknown)
            }
        }
    }
}

/// `POST /v1/admin/restore`: installs a backup file on this node.
pub async fn restore(
    State(app): State<AppState>,
    request: Request,
) -> Result<Json<Value>, ApiError> {
    let (mut parts, body) = request.into_parts();
    authorize(&app, &mut parts).await?;
    let Ok(_one_at_a_time) = app.restoring.try_lock() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "restore_in_progress",
            "a restore is already running on this node",
        ));
    };
    let initialized = app
        .raft
        .is_initialized()
        .await
        .map_err(|error| failed("restore_failed", error))?;
    if initialized || app.ledger().applied_index() > 0 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "restore_target_not_empty",
            "this node already belongs to a cluster or holds data; restore onto a new node \
             started with bootstrap = false, no peers and an empty data_dir",
        ));
    }
    let bytes = axum::body::to_bytes(body, RESTORE_BYTES_MAX)
        .await
        .map_err(|error| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the backup could not be read whole (at most {RESTORE_BYTES_MAX} bytes): {error}"),
            )
        })?;
    let checked = blocking(|| backup::read(&bytes))
        .map_err(|error| ApiError::invalid(error.code(), error.to_string()))?;
    drop(bytes);
    let log_id = checked.meta.last_log_id.expect("read() checked the index");
    let me = app.config.node_id;
    let nodes = BTreeMap::from([(
        me,
        BasicNode {
            addr: app.config.advertised(),
        },
    )]);
    let meta = SnapshotMeta {
        last_log_id: Some(log_id),
        last_membership: StoredMembership::new(
            Some(log_id),
            Membership::new(vec![BTreeSet::from([me])], nodes),
        ),
        snapshot_id: format!("restored-{}-{}", log_id.leader_id.term, log_id.index),
    };
    // A vote for itself in the term after the backup's, not granted: after
    // its election timeout this node elects itself in a later term still,
    // and its first entry as leader follows the backup's index.
    let vote = Vote::new(log_id.leader_id.term + 1, me);
    let staged = blocking(|| {
        let mut file = app.snapshots.scratch_file()?;
        file.write_all(&checked.data)?;
        file.seek(SeekFrom::Start(0))?;
        Ok::<_, std::io::Error>(file)
    })
    .map_err(|error| failed("restore_failed", error))?;
    drop(checked.data);
    let snapshot = Snapshot {
        meta,
        snapshot: Box::new(tokio::fs::File::from_std(staged)),
    };
    app.raft
        .install_full_snapshot(vote, snapshot)
        .await
        .map_err(|error| failed("restore_failed", error))?;
    tracing::info!(index = log_id.index, "backup restored");
    let leads = app
        .raft
        .wait(Some(LEAD_WAIT))
        .metrics(
            |m| m.current_leader == Some(me) && m.last_applied.is_some_and(|id| id >= log_id),
            "leading the restored cluster",
        )
        .await
        .is_ok();
    let ledger = app.ledger();
    let (chain_seq, chain_head) = ledger.chain_head();
    let bootstrap_key_known = app
        .config
        .admin_key
        .as_deref()
        .is_some_and(|key| ledger.principal_by_key(&hash_key(key)).is_some());
    Ok(Json(json!({
        "node_id": me,
        "index": log_id.index,
        "leader": leads.then_some(me),
        "digest": checked.header.digest,
        "books_digest": hex::encode(ledger.books_digest()),
        "chain_seq": chain_seq,
        "chain_head": hex::encode(chain_head),
        "entries": ledger.entry_count(),
        "accounts": checked.header.accounts,
        "taken_at": checked.header.taken_at,
        "bootstrap_key_known": bootstrap_key_known,
    })))
}
