//! The audit chain in memory: each record kept as the bytes it is stored as.
//!
//! Every posted entry appends a record, so the chain grows as fast as the
//! journal. As structs, a record of a booked transfer took about 400 bytes
//! (the record, a copy of the postings, the actor's key id and client
//! address, the status) in five allocations. The record is encoded anyway,
//! to hash it; here that encoding and the hash are appended to a chunk of
//! bytes, about 130 bytes and no allocation of its own, and a record is
//! decoded only when it is read (audit queries, exports, verification).
//! Memory is what a growing ledger pays for first: every new page is a
//! fault and a page of zeroes.
//!
//! The bytes are exactly [`codec::encode`] of the [`ChainedRecord`] (the
//! record's encoding, then the 32 bytes of its hash), so the records a
//! node stores and a snapshot carries are the same as before, and so is the
//! state digest.

use crate::audit::{ChainedRecord, Hash};
use crate::chunks::{Chunks, Span};
use crate::codec::{self, DecodeError};
use crate::table::{DenseTable, Rebuild};

/// The chain's records by sequence number (from 1, without gaps), with the
/// change tracking of [`DenseTable`].
#[derive(Debug, Clone)]
pub(crate) struct AuditChain {
    spans: DenseTable<Span>,
    chunks: Chunks,
}

impl AuditChain {
    /// An empty chain; `tracking` says whether appends are remembered.
    pub(crate) fn new(tracking: bool) -> AuditChain {
        AuditChain {
            spans: DenseTable::new(1, tracking),
            chunks: Chunks::default(),
        }
    }

    /// Appends record `seq`, the next one, from its encoding and hash.
    pub(crate) fn append_encoded(&mut self, seq: u64, encoded: &[u8], hash: &Hash) {
        let span = self.chunks.push(&[encoded, hash]);
        self.spans.insert(seq, span);
    }

    /// Record `seq` as stored: [`codec::encode`] of its [`ChainedRecord`].
    pub(crate) fn bytes(&self, seq: u64) -> Option<&[u8]> {
        Some(self.chunks.get(*self.spans.get(&seq)?))
    }

    /// Record `seq`'s chain hash, without decoding the record.
    pub(crate) fn hash(&self, seq: u64) -> Option<Hash> {
        let bytes = self.bytes(seq)?;
        let hash = &bytes[bytes.len() - std::mem::size_of::<Hash>()..];
        Some(hash.try_into().expect("32 bytes"))
    }

    /// Record `seq`, decoded.
    pub(crate) fn get(&self, seq: u64) -> Option<ChainedRecord> {
        self.bytes(seq).map(decode)
    }

    /// The records with sequence numbers in `from..=to`, decoded.
    pub(crate) fn range(&self, from: u64, to: u64) -> impl Iterator<Item = ChainedRecord> {
        self.spans
            .range(from, to)
            .map(|(seq, _)| self.get(seq).expect("records in range exist"))
    }

    /// Every record as stored, by sequence number.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, &[u8])> {
        self.spans
            .iter()
            .map(|(seq, _)| (seq, self.bytes(seq).expect("listed records exist")))
    }

    /// The sequence numbers appended since the last call, in order.
    pub(crate) fn take_changed(&mut self) -> Vec<u64> {
        self.spans.take_changed()
    }

    /// Sets whether appends are remembered from now on (a restored chain is
    /// built untracked: its records are not changes).
    pub(crate) fn set_tracking(&mut self, tracking: bool) {
        self.spans.set_tracking(tracking);
    }

    /// Checks that every record decodes and is the record its place says:
    /// a restored chain's records are appended as they come and checked
    /// here, which needs nothing else of the ledger and so can run beside
    /// the rest of a restore.
    pub(crate) fn check_records(&self) -> Result<(), String> {
        for (seq, bytes) in self.iter() {
            let chained: ChainedRecord = codec::decode(bytes)
                .map_err(|DecodeError(error)| format!("record {seq}: {error}"))?;
            if chained.record.seq != seq {
                return Err(format!(
                    "record {seq} says it is record {}",
                    chained.record.seq
                ));
            }
        }
        Ok(())
    }
}

/// A chain is restored from its records as stored, in sequence order from 1
/// without gaps; [`AuditChain::check_records`] then checks that each decodes.
impl Rebuild for AuditChain {
    type Key = u64;
    type Value = Vec<u8>;

    fn check_next(&self, seq: &u64) -> Result<(), String> {
        self.spans.check_next(seq)
    }

    fn append(&mut self, seq: u64, bytes: Vec<u8>) -> Result<(), String> {
        let Some(split) = bytes.len().checked_sub(std::mem::size_of::<Hash>()) else {
            return Err(format!("record {seq}: shorter than its hash"));
        };
        let (encoded, hash) = bytes.split_at(split);
        self.append_encoded(seq, encoded, hash.try_into().expect("32 bytes"));
        Ok(())
    }

    fn into_records(self) -> Vec<(u64, Vec<u8>)> {
        self.iter()
            .map(|(seq, bytes)| (seq, bytes.to_vec()))
            .collect()
    }
}

/// Decodes bytes this chain wrote (or a restore checked).
fn decode(bytes: &[u8]) -> ChainedRecord {
    codec::decode(bytes).expect("the chain holds records it encoded or checked")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AuditEvent, AuditRecord, GENESIS_HASH};
    use crate::id::PrincipalName;
    use crate::ledger::Position;
    use crate::principal::Actor;
    use crate::table::Sequenced;
    use crate::time::Timestamp;

    fn record(seq: u64, window: u64) -> AuditRecord {
        AuditRecord {
            seq,
            position: Position { index: seq, seq: 0 },
            at: Timestamp(1_700_000_000_000 + seq as i64),
            actor: Actor {
                principal: PrincipalName::new("op1").unwrap(),
                key_id: "key-op1".into(),
                client: "10.0.0.1".into(),
            },
            event: AuditEvent::WindowOpened { window },
        }
    }

    /// Appends records 1..=count (record 7 large enough to need a chunk of
    /// its own) and returns them as structs too.
    fn chain_of(count: u64, tracking: bool) -> (AuditChain, Vec<ChainedRecord>) {
        let mut chain = AuditChain::new(tracking);
        let mut head = GENESIS_HASH;
        let mut expected = Vec::new();
        for seq in 1..=count {
            let mut record = record(seq, seq * 3);
            if seq == 7 {
                record.actor.client = "c".repeat(crate::chunks::CHUNK_BYTES + 10);
            }
            let hash = record.chain_hash(&head);
            chain.append_encoded(seq, &codec::encode(&record), &hash);
            head = hash;
            expected.push(ChainedRecord { record, hash });
        }
        (chain, expected)
    }

    /// A chain restored from `records` (through [`Sequenced`], as a ledger
    /// restores it).
    fn restore(records: Vec<(u64, Vec<u8>)>, tracking: bool) -> Result<AuditChain, String> {
        let mut chain = Sequenced::new(|| AuditChain::new(false));
        for (seq, bytes) in records {
            chain.push(seq, bytes)?;
        }
        let mut chain = chain.finish()?;
        chain.check_records()?;
        chain.set_tracking(tracking);
        Ok(chain)
    }

    #[test]
    fn stored_bytes_are_the_encoded_chained_record() {
        // Enough records to fill several chunks.
        let (chain, expected) = chain_of(5_000, false);
        for chained in &expected {
            let seq = chained.record.seq;
            assert_eq!(chain.bytes(seq).unwrap(), codec::encode(chained).as_slice());
            assert_eq!(chain.get(seq).as_ref(), Some(chained));
            assert_eq!(chain.hash(seq), Some(chained.hash));
        }
        assert!(chain.chunks.len() > 2, "the records span several chunks");
        assert_eq!(chain.get(0), None);
        assert_eq!(chain.get(5_001), None);
        let run: Vec<_> = chain.range(4_990, 9_999).collect();
        assert_eq!(run, expected[4_989..].to_vec());
    }

    #[test]
    fn appends_are_reported_once_and_restore_round_trips() {
        let (mut chain, _) = chain_of(20, true);
        assert_eq!(chain.take_changed(), (1..=20).collect::<Vec<_>>());
        assert!(chain.take_changed().is_empty());
        let stored: Vec<(u64, Vec<u8>)> = chain.iter().map(|(s, b)| (s, b.to_vec())).collect();
        let restored = restore(stored.clone(), true).unwrap();
        let again: Vec<(u64, Vec<u8>)> = restored.iter().map(|(s, b)| (s, b.to_vec())).collect();
        assert_eq!(again, stored);
        assert!(
            restored.clone().take_changed().is_empty(),
            "restoring is not a change"
        );
        let mut shuffled = stored.clone();
        shuffled.swap(3, 11);
        let from_shuffled = restore(shuffled, false).unwrap();
        assert_eq!(from_shuffled.into_records(), stored);
    }

    #[test]
    fn restore_refuses_gaps_and_undecodable_records() {
        let (chain, _) = chain_of(3, false);
        let stored: Vec<(u64, Vec<u8>)> = chain.iter().map(|(s, b)| (s, b.to_vec())).collect();
        let gap = vec![stored[0].clone(), stored[2].clone()];
        let error = restore(gap, false).unwrap_err();
        assert!(error.contains("out of sequence"), "{error}");
        let mut cut = stored.clone();
        cut[1].1.truncate(10);
        let error = restore(cut, false).unwrap_err();
        assert_eq!(error, "record 2: shorter than its hash");
        // Long enough to hold a hash, but not a record before it.
        let mut short = stored.clone();
        let len = short[1].1.len();
        short[1].1.truncate(len - 5);
        let error = restore(short, false).unwrap_err();
        assert!(error.starts_with("record 2: "), "{error}");
        assert!(!error.contains("shorter than its hash"), "{error}");
        let renumbered = vec![(1, stored[1].1.clone())];
        let error = restore(renumbered, false).unwrap_err();
        assert!(error.contains("says it is record 2"), "{error}");
    }
}
