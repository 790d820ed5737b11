//! Reading the audit trail: who did what, when, with which key and from
//! which address, by log index or time range and by principal, with each
//! record's chain hash and the hash before it so that any run of records can
//! be verified on its own.

use crate::audit::{ChainedRecord, GENESIS_HASH, Hash};
use crate::id::PrincipalName;
use crate::ledger::Ledger;
use crate::time::Timestamp;

/// Which audit records to read. Bounds are inclusive; a record must meet
/// every bound given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrailQuery {
    /// The first log index.
    pub from_index: Option<u64>,
    /// The last log index.
    pub to_index: Option<u64>,
    /// The earliest time.
    pub from_time: Option<Timestamp>,
    /// The latest time.
    pub to_time: Option<Timestamp>,
    /// Only this principal's records.
    pub principal: Option<PrincipalName>,
    /// Only records after this sequence number (to page on).
    pub after_seq: u64,
}

impl Ledger {
    /// The hash before record `seq`: the previous record's, or the genesis
    /// hash before the first.
    pub fn hash_before(&self, seq: u64) -> Hash {
        seq.checked_sub(1)
            .and_then(|previous| self.audit.get(&previous))
            .map_or(GENESIS_HASH, |chained| chained.hash)
    }

    /// Records that match `query`, in sequence order, until `visit` returns
    /// false. Index and time only grow along the chain, so the start is
    /// found by bisection and the walk stops at the first record past the
    /// upper bounds.
    pub fn audit_trail(&self, query: &TrailQuery, mut visit: impl FnMut(&ChainedRecord) -> bool) {
        let before_start = |chained: &ChainedRecord| {
            chained.record.seq <= query.after_seq
                || query
                    .from_index
                    .is_some_and(|from| chained.record.position.index < from)
                || query.from_time.is_some_and(|from| chained.record.at < from)
        };
        let (mut low, mut high) = (1, self.meta.audit_seq + 1);
        while low < high {
            let middle = low + (high - low) / 2;
            let chained = self.audit.get(&middle).expect("records run from 1");
            if before_start(chained) {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        for (_, chained) in self.audit.range(low, self.meta.audit_seq) {
            let record = &chained.record;
            let past_end = query.to_index.is_some_and(|to| record.position.index > to)
                || query.to_time.is_some_and(|to| record.at > to);
            if past_end {
                break;
            }
            let matches = query
                .principal
                .as_ref()
                .is_none_or(|principal| record.actor.principal == *principal);
            if matches && !visit(chained) {
                break;
            }
        }
    }
}
