//! Every bound the ledger enforces, in one place.
//!
//! Other layers derive their limits from these (the HTTP body limit from the
//! batch and posting limits, for one), so a bound is changed here or nowhere.

/// The longest id, in characters.
pub const ID_LENGTH_MAX: usize = 64;
/// The most postings one journal entry may carry.
pub const POSTINGS_PER_ENTRY_MAX: usize = 128;
/// The most journal entries in one batch command.
pub const ENTRIES_PER_BATCH_MAX: usize = 8_000;
/// The longest memo, reference or reason, in bytes.
pub const TEXT_LENGTH_MAX: usize = 512;
/// The largest amount of one posting, in minor units (10^20: far beyond any
/// real payment, and far below where i128 balances could overflow even after
/// a billion full batches of the largest postings).
pub const AMOUNT_MAX_MINOR: i128 = 100_000_000_000_000_000_000;
/// How long a pending entry waits for approval when the command does not say.
pub const PENDING_TIMEOUT_DEFAULT_SECONDS: u64 = 24 * 60 * 60;
/// The longest timeout a pending entry may ask for.
pub const PENDING_TIMEOUT_MAX_SECONDS: u64 = 30 * 24 * 60 * 60;
/// The most authority tiers in one approval policy.
pub const APPROVAL_TIERS_MAX: usize = 16;
/// The most lines one external statement may hold.
pub const STATEMENT_LINES_MAX: usize = 200_000;
/// The most matching rules of one reconciliation run.
pub const RULES_PER_RUN_MAX: usize = 16;

const _: () = assert!(ENTRIES_PER_BATCH_MAX * POSTINGS_PER_ENTRY_MAX < u32::MAX as usize);
const _: () = assert!(
    AMOUNT_MAX_MINOR
        .checked_mul(POSTINGS_PER_ENTRY_MAX as i128 * ENTRIES_PER_BATCH_MAX as i128 * 1_000_000_000)
        .is_some()
);
const _: () = assert!(PENDING_TIMEOUT_DEFAULT_SECONDS <= PENDING_TIMEOUT_MAX_SECONDS);
