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
use crate::codec;
use crate::currency::Currency;
use crate::id::{AccountId, EntryId, PrincipalName};
use crate::journal_entry::{Posting, VoidReason};
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
        let mut hasher = Sha256::new();
        hasher.update(previous);
        hasher.update(codec::encode(self));
        hasher.finalize().into()
    }
}

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
pub fn verify_chain<'a>(
    previous: Hash,
    first_seq: u64,
    records: impl IntoIterator<Item = &'a ChainedRecord>,
) -> Result<Hash, ChainBreak> {
    let mut head = previous;
    for (expected_seq, chained) in (first_seq..).zip(records) {
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
