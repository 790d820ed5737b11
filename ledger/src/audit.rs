//! The audit trail: a SHA-256 hash chain over every change the ledger accepts.
//!
//! Each record names the log position, time and actor (principal, key id,
//! client address) with what changed. Its hash covers the previous record's
//! hash and the record's canonical encoding, so altering, dropping or
//! reordering any record breaks every hash after it.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::account::NewAccount;
use crate::approval::ApprovalPolicy;
use crate::branch::NewBranch;
use crate::codec::{self, put_bytes, put_signed, put_varint};
use crate::currency::Currency;
use crate::id::{AccountId, EntryId, PrincipalName};
use crate::journal_entry::{Posting, VoidReason, put_postings};
use crate::ledger::Position;
use crate::principal::{Actor, Role};
use crate::time::Timestamp;

/// A 32-byte SHA-256 hash.
pub type Hash = [u8; 32];

/// The hash before the first record.
pub const GENESIS_HASH: Hash = [0; 32];

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuditEvent {
    /// A principal was registered.
    PrincipalCreated {
        /// Its name.
        name: PrincipalName,
        /// Its role.
        role: Role,
        /// Its authority level.
        authority: u8,
        /// Its key id.
        key_id: String,
    },
    /// A branch was created.
    BranchCreated(NewBranch),
    /// An account was opened.
    AccountOpened(NewAccount),
    /// An account was frozen or unfrozen.
    AccountFrozen {
        /// The account.
        account: AccountId,
        /// Frozen or not.
        frozen: bool,
    },
    /// An account was closed.
    AccountClosed {
        /// The account.
        account: AccountId,
    },
    /// An entry was booked (posted, pending) or refused (its id is now used).
    EntryBooked {
        /// The entry.
        id: EntryId,
        /// Its currency.
        currency: Currency,
        /// The postings as booked (empty when refused).
        postings: Vec<Posting>,
        /// `posted`, `pending`, or the rejection code.
        status: String,
        /// The entry it reverses.
        reverses: Option<EntryId>,
    },
    /// A pending entry was approved and posted.
    EntryApproved {
        /// The entry.
        id: EntryId,
    },
    /// A pending entry was voided.
    EntryVoided {
        /// The entry.
        id: EntryId,
        /// Why.
        reason: VoidReason,
    },
    /// An approval policy was set.
    PolicySet(ApprovalPolicy),
    /// A clearing window was opened.
    WindowOpened {
        /// The window.
        window: u64,
    },
    /// A clearing window was closed (and the next one opened).
    WindowClosed {
        /// The window.
        window: u64,
    },
    /// A clearing window was settled.
    WindowSettled {
        /// The window.
        window: u64,
        /// Its settlement entries.
        entries: Vec<EntryId>,
    },
    /// A closed window was aborted and its positions carried forward.
    WindowAborted {
        /// The window.
        window: u64,
        /// The window its positions went to.
        carried_to: u64,
    },
    /// A net debit cap was set.
    NetDebitCapSet(crate::clearing_window::NetDebitCap),
    /// A customer statement event.
    Statement(crate::statement::StatementEvent),
    /// A branch's books were closed through a date.
    PeriodClosed {
        /// The branch.
        branch: crate::id::BranchCode,
        /// The last day closed.
        closed_through: crate::time::Date,
    },
    /// A flagged entry was reviewed.
    EntryReviewed {
        /// The entry.
        id: EntryId,
    },
    /// An entry over its payer's net debit cap joined the liquidity-saving
    /// queue. It is booked (an `EntryBooked` record) when it leaves it.
    EntryQueued {
        /// The entry.
        id: EntryId,
        /// Its currency.
        currency: Currency,
        /// The payer branch whose queue it joined.
        branch: crate::id::BranchCode,
    },
    /// A principal's API key was replaced.
    PrincipalKeyRotated {
        /// Its name.
        name: PrincipalName,
        /// The new key's id.
        key_id: String,
    },
    /// A principal was revoked.
    PrincipalRevoked {
        /// Its name.
        name: PrincipalName,
    },
}

/// One link of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Sequence number, from 1, without gaps.
    pub seq: u64,
    /// Where in the log.
    pub position: Position,
    /// When.
    pub at: Timestamp,
    /// Who.
    pub actor: Actor,
    /// What.
    pub event: AuditEvent,
}

impl AuditRecord {
    /// The chain hash of this record after `previous`.
    pub fn chain_hash(&self, previous: &Hash) -> Hash {
        self.chain_hash_with(previous, &mut Vec::new())
    }

    /// [`AuditRecord::chain_hash`], encoding into `buffer` (cleared first),
    /// which the caller keeps for the next record.
    pub(crate) fn chain_hash_with(&self, previous: &Hash, buffer: &mut Vec<u8>) -> Hash {
        buffer.clear();
        encode_record(self, buffer);
        chain_hash_of(previous, buffer)
    }
}

/// The chain hash of a record, from its encoding: `sha256(previous || encoded)`.
pub(crate) fn chain_hash_of(previous: &Hash, encoded: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(previous);
    hasher.update(encoded);
    hasher.finalize().into()
}

/// Appends `record` exactly as [`codec::encode`] encodes it (bincode's
/// standard configuration: little-endian, variable-length integers). The
/// record every posted entry writes is encoded by hand, which is several
/// times faster than through serde; the rest go through serde.
/// `tests::hand_encoding_equals_bincode` holds the two equal.
fn encode_record(record: &AuditRecord, out: &mut Vec<u8>) {
    let AuditEvent::EntryBooked {
        id,
        currency,
        postings,
        status,
        reverses,
    } = &record.event
    else {
        return codec::encode_into(record, out);
    };
    let booked = Booked {
        id,
        currency: *currency,
        postings,
        status,
        reverses: reverses.as_ref(),
    };
    encode_booked(
        record.seq,
        record.position,
        record.at,
        &record.actor,
        &booked,
        out,
    );
}

/// An [`AuditEvent::EntryBooked`] that borrows its parts: the ledger hashes
/// and stores the record of each booked entry from it, without copying the
/// entry's postings or the actor first.
pub(crate) struct Booked<'a> {
    pub(crate) id: &'a EntryId,
    pub(crate) currency: Currency,
    pub(crate) postings: &'a [Posting],
    pub(crate) status: &'a str,
    pub(crate) reverses: Option<&'a EntryId>,
}

/// Appends the encoding of the [`AuditRecord`] numbered `seq` whose event
/// is `booked`, as [`codec::encode`] would encode the owned record.
pub(crate) fn encode_booked(
    seq: u64,
    position: Position,
    at: Timestamp,
    actor: &Actor,
    booked: &Booked<'_>,
    out: &mut Vec<u8>,
) {
    put_varint(out, seq);
    put_varint(out, position.index);
    put_varint(out, u64::from(position.seq));
    put_signed(out, i128::from(at.0));
    put_bytes(out, actor.principal.as_bytes());
    put_bytes(out, actor.key_id.as_bytes());
    put_bytes(out, actor.client.as_bytes());
    put_varint(out, ENTRY_BOOKED);
    put_bytes(out, booked.id.as_bytes());
    put_bytes(out, booked.currency.as_bytes());
    put_postings(out, booked.postings);
    put_bytes(out, booked.status.as_bytes());
    match booked.reverses {
        None => out.push(0),
        Some(original) => {
            out.push(1);
            put_bytes(out, original.as_bytes());
        }
    }
}

/// The variant index of [`AuditEvent::EntryBooked`].
const ENTRY_BOOKED: u64 = 5;

/// A record with its chain hash, as stored and exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainedRecord {
    /// The record.
    pub record: AuditRecord,
    /// `sha256(previous hash || encode(record))`.
    pub hash: Hash,
}

/// Where a chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    /// A record's hash does not match its content and predecessor.
    #[error("record {seq} does not match its hash")]
    HashMismatch {
        /// The first bad record.
        seq: u64,
    },
    /// Sequence numbers skip or repeat.
    #[error("record {found} follows record {previous}; a record is missing or out of order")]
    Gap {
        /// The previous record's number.
        previous: u64,
        /// The number found.
        found: u64,
    },
}

/// Verifies a run of records that follows `previous` (the hash before the
/// first of them, [`GENESIS_HASH`] for the start). Returns the head hash.
pub fn verify_chain(
    previous: Hash,
    first_seq: u64,
    records: impl IntoIterator<Item = impl std::borrow::Borrow<ChainedRecord>>,
) -> Result<Hash, ChainBreak> {
    let mut head = previous;
    for (expected_seq, chained) in (first_seq..).zip(records) {
        let chained = chained.borrow();
        if chained.record.seq != expected_seq {
            return Err(ChainBreak::Gap {
                previous: expected_seq - 1,
                found: chained.record.seq,
            });
        }
        if chained.record.chain_hash(&head) != chained.hash {
            return Err(ChainBreak::HashMismatch {
                seq: chained.record.seq,
            });
        }
        head = chained.hash;
    }
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::amount::Amount;
    use crate::journal_entry::Side;

    fn booked(postings: Vec<Posting>, reverses: Option<&str>, text_len: usize) -> AuditRecord {
        AuditRecord {
            seq: 1 << (text_len % 60),
            position: Position {
                index: 300 * text_len as u64,
                seq: 70_000_u32.wrapping_mul(text_len as u32),
            },
            at: crate::time::Timestamp(-5 * text_len as i64 * 1_000_000_007),
            actor: Actor {
                principal: PrincipalName::new("p".repeat(1 + text_len % 64)).unwrap(),
                key_id: "k".repeat(text_len),
                client: "c".repeat(3 * text_len),
            },
            event: AuditEvent::EntryBooked {
                id: EntryId::new("e".repeat(1 + text_len % 64)).unwrap(),
                currency: Currency::new("JPY").unwrap(),
                postings,
                status: "s".repeat(text_len),
                reverses: reverses.map(|id| EntryId::new(id).unwrap()),
            },
        }
    }

    #[test]
    fn hand_encoding_equals_bincode() {
        let posting = |n: usize, minor: i128| Posting {
            account: AccountId::new(format!("a{}", "x".repeat(n % 64))).unwrap(),
            side: if n.is_multiple_of(2) {
                Side::Debit
            } else {
                Side::Credit
            },
            amount: Amount::from_minor(minor),
        };
        let amounts = [
            1,
            -1,
            125,
            126,
            -126,
            32_767,
            32_768,
            1 << 40,
            -(1 << 40),
            i128::from(i64::MAX) + 1,
            crate::limits::AMOUNT_MAX_MINOR,
            i128::MAX,
            i128::MIN,
        ];
        for text_len in [0, 1, 63, 64, 250, 251, 300, 70_000] {
            for reverses in [None, Some("orig"), Some("o".repeat(64).as_str())] {
                let postings = amounts
                    .iter()
                    .enumerate()
                    .map(|(n, minor)| posting(n + text_len, *minor))
                    .collect();
                let records = [
                    booked(postings, reverses, text_len),
                    booked(Vec::new(), reverses, text_len),
                    booked((0..300).map(|n| posting(n, 1)).collect(), reverses, 1),
                ];
                for record in records {
                    let mut fast = Vec::new();
                    encode_record(&record, &mut fast);
                    assert_eq!(fast, codec::encode(&record));
                }
            }
        }
        // Other events go through serde.
        let mut record = booked(Vec::new(), None, 3);
        record.event = AuditEvent::WindowOpened { window: 7 };
        let mut out = Vec::new();
        encode_record(&record, &mut out);
        assert_eq!(out, codec::encode(&record));
    }
}
