//! Blocking work inside async tasks.
//!
//! Applying a group-commit batch, an fsynced RocksDB write and serializing a
//! snapshot each hold a runtime worker for milliseconds to hundreds of
//! milliseconds, and a read that waits for the ledger lock blocks its worker
//! for as long as an apply holds it. On a small machine the runtime has as
//! few workers as cores, so left alone that work stalls every other task on
//! the worker — among them the answers to the leader's append and heartbeat
//! RPCs, which openraft times out after one heartbeat interval. Under load
//! that starved followers into elections. [`blocking`] tells the runtime
//! first, so it moves the worker's other tasks to a fresh thread.

use tokio::runtime::{Handle, RuntimeFlavor};

/// Below about this many bytes, encoding or decoding a value takes
/// microseconds: less than handing the worker's other tasks to another
/// thread costs, so such work runs in place.
pub const IN_PLACE_BYTES: usize = 64 * 1024;

/// Runs `work` in place when it handles fewer than [`IN_PLACE_BYTES`]
/// bytes, else as [`blocking`].
pub fn blocking_over<R>(bytes: usize, work: impl FnOnce() -> R) -> R {
    if bytes < IN_PLACE_BYTES {
        work()
    } else {
        blocking(work)
    }
}

/// Runs `work`, which may block, without stalling the runtime's other tasks.
/// On a current-thread runtime (openraft's storage suite) there is nowhere
/// to move them, so `work` simply runs.
pub fn blocking<R>(work: impl FnOnce() -> R) -> R {
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::blocking;

    /// With one worker, a task waiting inside `blocking` for another task
    /// must not stop that task from running: the worker's tasks move on.
    /// Without the hand-off the wait below times out.
    #[test]
    fn a_blocked_worker_hands_its_other_tasks_on() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let received = runtime.block_on(async {
            let (sender, receiver) = mpsc::channel();
            let (started, waiting) = tokio::sync::oneshot::channel();
            let waiter = tokio::spawn(async move {
                blocking(move || {
                    started.send(()).expect("the test listens");
                    receiver.recv_timeout(Duration::from_secs(10))
                })
            });
            // The only worker is now blocked inside `blocking`.
            waiting.await.expect("the waiter started");
            tokio::spawn(async move { sender.send(42).expect("the waiter listens") });
            waiter.await.expect("the waiter finishes")
        });
        assert_eq!(received, Ok(42));
    }

    /// On a current-thread runtime the work simply runs.
    #[test]
    fn current_thread_runtimes_run_the_work_in_place() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        assert_eq!(runtime.block_on(async { blocking(|| 7) }), 7);
    }
}
