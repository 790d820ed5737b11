//! Reading the audit trail: who did what, when, with which key and from
//! which address, by log index or time range and by principal, with each
//! record's chain hash and the hash before it so that any run of records can
//! be verified on its own.

use serde::{Deserialize, Serialize};

use crate::audit::{AuditEvent, AuditRecord, ChainedRecord, GENESIS_HASH, Hash};
use crate::id::PrincipalName;
use crate::ledger::{Ledger, Position};
use crate::principal::Actor;
use crate::time::Timestamp;

/// An audit record as exported, flat and self-contained: its place, time,
/// actor, event, the hash before it and its own, as hex. JSON Lines exports
/// hold one per line; anyone can rebuild the [`AuditRecord`] from it and
/// recompute `hash = SHA-256(previous_hash || bincode(record))`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportedRecord {
    /// Place in the chain, from 1.
    pub seq: u64,
    /// Raft log index.
    pub index: u64,
    /// The command's ordinal within the log entry.
    pub command: u32,
    /// When, RFC 3339 with microseconds.
    pub at: String,
    /// Who.
    pub principal: String,
    /// With which key.
    pub key_id: String,
    /// From which address.
    pub client: String,
    /// What changed.
    pub event: AuditEvent,
    /// The hash before this record, hex.
    pub previous_hash: String,
    /// This record's chain hash, hex.
    pub hash: String,
}

impl ExportedRecord {
    /// The export form of `chained`, which follows `previous`.
    pub fn of(chained: &ChainedRecord, previous: &Hash) -> ExportedRecord {
        let record = &chained.record;
        ExportedRecord {
            seq: record.seq,
            index: record.position.index,
            command: record.position.seq,
            at: record.at.to_string(),
            principal: record.actor.principal.to_string(),
            key_id: record.actor.key_id.clone(),
            client: record.actor.client.clone(),
            event: record.event.clone(),
            previous_hash: hex::encode(previous),
            hash: hex::encode(chained.hash),
        }
    }

    /// The record as the ledger hashes it, with the stated previous hash and
    /// hash; or what is malformed.
    pub fn parts(&self) -> Result<(AuditRecord, Hash, Hash), String> {
        let hash = |name: &str, text: &str| -> Result<Hash, String> {
            hex::decode(text)
                .ok()
                .and_then(|bytes| bytes.try_into().ok())
                .ok_or_else(|| format!("{name} is not 64 hex digits"))
        };
        let record = AuditRecord {
            seq: self.seq,
            position: Position {
                index: self.index,
                seq: self.command,
            },
            at: Timestamp::parse_rfc3339(&self.at).map_err(|error| error.to_string())?,
            actor: Actor {
                principal: PrincipalName::new(self.principal.clone())
                    .map_err(|error| format!("principal: {error}"))?,
                key_id: self.key_id.clone(),
                client: self.client.clone(),
            },
            event: self.event.clone(),
        };
        Ok((
            record,
            hash("previous_hash", &self.previous_hash)?,
            hash("hash", &self.hash)?,
        ))
    }
}

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
            .and_then(|previous| self.audit.hash(previous))
            .unwrap_or(GENESIS_HASH)
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
            let chained = self.audit.get(middle).expect("records run from 1");
            if before_start(&chained) {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        for chained in self.audit.range(low, self.meta.audit_seq) {
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
            if matches && !visit(&chained) {
                break;
            }
        }
    }
}
