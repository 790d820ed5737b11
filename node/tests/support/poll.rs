//! Polling for a condition with a deadline: the one wait between attempts
//! for every test crate of the workspace (the CLI's tests include this file).

use std::time::{Duration, Instant};

/// How long a poll waits between two attempts.
const INTERVAL: Duration = Duration::from_millis(50);

/// Calls `check` until it returns `Some`, or answers `None` once `timeout`
/// has passed.
pub fn poll<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        std::thread::sleep(INTERVAL.min(deadline - now));
    }
}
