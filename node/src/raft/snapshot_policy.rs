//! When a node builds a snapshot.
//!
//! openraft's own policy counts log entries only. A snapshot is the whole
//! ledger and grows with it, while a log entry carries anything from one
//! transfer to a group-commit batch of thousands: counted in entries alone,
//! a day of one-transfer requests writes the whole ledger again every
//! `raft.snapshot_logs_since_last` entries, more bytes each time, and all
//! replicas write theirs at the same index. So a snapshot here also waits
//! until the log applied since the last one is at least
//! `raft.snapshot_log_percent` percent of that snapshot's size: the bytes
//! written for snapshots stay in proportion to the bytes logged, however
//! large the ledger grows.
//!
//! The state machine keeps the [`SnapshotGauge`]: it adds the estimated size
//! of every entry it applies, starts again from zero when a snapshot's view
//! is taken (what is applied after it is for the next one) and records the
//! size of each snapshot it stores. [`run`] looks at the Raft metrics once a
//! second and asks openraft for a snapshot when one is due; openraft ignores
//! the request while one is being built.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::config::RaftSettings;
use crate::raft::types::Raft;

/// What the state machine tells the policy.
#[derive(Debug)]
pub struct SnapshotGauge {
    /// Estimated bytes of the log entries applied since the last view.
    applied_bytes: AtomicU64,
    /// Bytes of the current snapshot (0 before the first).
    snapshot_bytes: AtomicU64,
}

impl SnapshotGauge {
    /// A gauge for a node whose current snapshot is `snapshot_bytes` long.
    pub fn new(snapshot_bytes: u64) -> Arc<SnapshotGauge> {
        Arc::new(SnapshotGauge {
            applied_bytes: AtomicU64::new(0),
            snapshot_bytes: AtomicU64::new(snapshot_bytes),
        })
    }

    /// Log entries of about `bytes` were applied.
    pub fn applied(&self, bytes: u64) {
        self.applied_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// A snapshot's view was taken: what was applied is in it.
    pub fn view_taken(&self) {
        self.applied_bytes.store(0, Ordering::Relaxed);
    }

    /// A snapshot of `bytes` is now the current one.
    pub fn stored(&self, bytes: u64) {
        self.snapshot_bytes.store(bytes, Ordering::Relaxed);
    }

    /// Whether a snapshot is due, `entries_since` log entries after the
    /// current one.
    pub fn due(&self, entries_since: u64, settings: &RaftSettings) -> bool {
        due(
            entries_since,
            self.applied_bytes.load(Ordering::Relaxed),
            self.snapshot_bytes.load(Ordering::Relaxed),
            settings,
        )
    }
}

/// At least `snapshot_logs_since_last` entries (and at least one) since the
/// last snapshot, and at least `snapshot_log_percent` percent of its size
/// logged since.
fn due(entries_since: u64, bytes_since: u64, snapshot_bytes: u64, settings: &RaftSettings) -> bool {
    entries_since >= settings.snapshot_logs_since_last.max(1)
        && u128::from(bytes_since) * 100
            >= u128::from(snapshot_bytes) * u128::from(settings.snapshot_log_percent)
}

/// How often [`run`] looks whether a snapshot is due.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Asks `raft` for a snapshot whenever one is due, until Raft stops.
///
/// It looks once a second rather than at every metrics report: the Raft
/// core reports its metrics after each message it handles, a request for a
/// snapshot included, and while a snapshot was being built (still due, as
/// its size was not known yet) the two kept waking each other, a core's
/// worth of CPU for as long as the build ran.
pub async fn run(raft: Raft, gauge: Arc<SnapshotGauge>, settings: RaftSettings) {
    let metrics = raft.metrics();
    let mut ticks = tokio::time::interval(CHECK_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let entries_since = {
            let metrics = metrics.borrow();
            if metrics.running_state.is_err() {
                return;
            }
            let applied = metrics.last_applied.map_or(0, |id| id.index);
            let snapshot = metrics.snapshot.map_or(0, |id| id.index);
            applied.saturating_sub(snapshot)
        };
        if gauge.due(entries_since, &settings) && raft.trigger().snapshot().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(entries: u64, percent: u64) -> RaftSettings {
        RaftSettings {
            snapshot_logs_since_last: entries,
            snapshot_log_percent: percent,
            ..RaftSettings::default()
        }
    }

    #[test]
    fn a_snapshot_waits_for_both_the_entries_and_the_bytes() {
        let policy = settings(100, 50);
        // The first snapshot: no earlier size to weigh against.
        assert!(!due(99, 0, 0, &policy));
        assert!(due(100, 0, 0, &policy));
        // Half of a 1,000-byte snapshot must be logged since.
        assert!(!due(100, 499, 1_000, &policy));
        assert!(due(100, 500, 1_000, &policy));
        assert!(!due(99, 5_000, 1_000, &policy));
        // Sizes far beyond anything real do not overflow.
        assert!(!due(100, u64::MAX / 2, u64::MAX, &settings(1, 100)));
        assert!(due(100, u64::MAX, u64::MAX, &settings(1, 100)));
    }

    #[test]
    fn without_a_share_the_entries_alone_decide_but_never_at_the_same_index() {
        assert!(due(20, 0, 1 << 30, &settings(20, 0)));
        assert!(!due(19, 0, 1 << 30, &settings(20, 0)));
        assert!(!due(0, 0, 0, &settings(0, 0)));
        assert!(due(1, 0, 0, &settings(0, 0)));
    }

    #[test]
    fn the_gauge_counts_from_the_last_view() {
        let gauge = SnapshotGauge::new(1_000);
        let policy = settings(1, 100);
        gauge.applied(600);
        assert!(!gauge.due(10, &policy));
        gauge.applied(400);
        assert!(gauge.due(10, &policy));
        gauge.view_taken();
        assert!(!gauge.due(10, &policy));
        // A smaller snapshot (a ledger that shrank) needs less since.
        gauge.applied(100);
        gauge.stored(100);
        assert!(gauge.due(10, &policy));
    }
}
