//! The ledger as records: what changed after an apply (for the node's
//! WriteBatch), every record (for snapshots), the state digest, and restore.
//!
//! A record is a table tag, the encoded key and the encoded value. The meta
//! record (applied index, chain head, ...) is written with every change set,
//! so the applied position and the state it describes always travel together.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::account::Purpose;
use crate::audit::Hash;
use crate::codec::{self, DecodeError};
use crate::journal_entry::EntryStatus;
use crate::ledger::{Derived, Ledger, Meta};
use crate::posting::debit_total;
use crate::table::Table;

/// The snapshot format version: the first byte of every snapshot.
pub const SNAPSHOT_FORMAT: u8 = 1;

/// One stored record. `value: None` means the key was deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Which table.
    pub table: u8,
    /// The encoded key.
    pub key: Vec<u8>,
    /// The encoded value.
    pub value: Option<Vec<u8>>,
}

/// Why records could not be turned back into a ledger.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    /// A record or the snapshot does not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The snapshot's format byte is not one this build reads.
    #[error("snapshot format {found} is not supported (this build reads format {SNAPSHOT_FORMAT})")]
    Format {
        /// The byte found.
        found: u8,
    },
    /// A record names a table that does not exist.
    #[error("unknown table tag {0}")]
    UnknownTable(u8),
    /// No meta record.
    #[error("the records hold no meta record")]
    MissingMeta,
    /// The restored ledger breaks an invariant.
    #[error("restored state is inconsistent: {0}")]
    Inconsistent(String),
}

const META: u8 = 0;

/// Calls `$visit!(tag, field)` for every table, in tag order.
macro_rules! for_each_table {
    ($visit:ident) => {
        $visit!(1, principals);
        $visit!(2, branches);
        $visit!(3, accounts);
        $visit!(4, entries);
        $visit!(5, policies);
        $visit!(6, windows);
        $visit!(7, history);
        $visit!(8, index_times);
        $visit!(9, audit);
    };
}

fn changed_records<K, V>(tag: u8, table: &mut Table<K, V>, out: &mut Vec<Record>)
where
    K: Ord + Clone + Serialize,
    V: Serialize,
{
    for key in table.take_changed() {
        let value = table.get(&key).map(codec::encode);
        out.push(Record {
            table: tag,
            key: codec::encode(&key),
            value,
        });
    }
}

fn all_records<K, V>(tag: u8, table: &Table<K, V>, out: &mut Vec<Record>)
where
    K: Ord + Clone + Serialize,
    V: Serialize,
{
    for (key, value) in table.iter() {
        out.push(Record {
            table: tag,
            key: codec::encode(key),
            value: Some(codec::encode(value)),
        });
    }
}

fn restore_record<K, V>(table: &mut Table<K, V>, record: &Record) -> Result<(), RestoreError>
where
    K: Ord + Clone + serde::de::DeserializeOwned,
    V: serde::de::DeserializeOwned,
{
    let value = record
        .value
        .as_ref()
        .ok_or(RestoreError::Decode(DecodeError(
            "a restored record has no value".into(),
        )))?;
    table.restore(codec::decode(&record.key)?, codec::decode(value)?);
    Ok(())
}

impl Ledger {
    /// The records changed since the last call, with the meta record last.
    /// The node writes them and the applied log id in one WriteBatch.
    pub fn take_changes(&mut self) -> Vec<Record> {
        let mut out = Vec::new();
        macro_rules! visit {
            ($tag:expr, $field:ident) => {
                changed_records($tag, &mut self.$field, &mut out)
            };
        }
        for_each_table!(visit);
        out.push(self.meta_record());
        out
    }

    fn meta_record(&self) -> Record {
        Record {
            table: META,
            key: Vec::new(),
            value: Some(codec::encode(&self.meta)),
        }
    }

    /// Every record, meta first, then each table in key order.
    pub fn records(&self) -> Vec<Record> {
        let mut out = vec![self.meta_record()];
        macro_rules! visit {
            ($tag:expr, $field:ident) => {
                all_records($tag, &self.$field, &mut out)
            };
        }
        for_each_table!(visit);
        out
    }

    /// SHA-256 over every record in order: equal on every replica that has
    /// applied the same log, chain head included.
    pub fn digest(&self) -> Hash {
        let mut hasher = Sha256::new();
        for record in self.records() {
            hasher.update([record.table]);
            hasher.update((record.key.len() as u64).to_le_bytes());
            hasher.update(&record.key);
            let value = record.value.as_deref().unwrap_or_default();
            hasher.update((value.len() as u64).to_le_bytes());
            hasher.update(value);
        }
        hasher.finalize().into()
    }

    /// The whole ledger as one snapshot: the format byte, then the records.
    pub fn to_snapshot(&self) -> Vec<u8> {
        let mut bytes = vec![SNAPSHOT_FORMAT];
        bytes.extend(codec::encode(&self.records()));
        bytes
    }

    /// Restores a ledger from [`Ledger::to_snapshot`] bytes.
    pub fn from_snapshot(bytes: &[u8], tracking: bool) -> Result<Ledger, RestoreError> {
        match bytes.first() {
            Some(&SNAPSHOT_FORMAT) => {}
            Some(&found) => return Err(RestoreError::Format { found }),
            None => return Err(RestoreError::Format { found: 0 }),
        }
        let records: Vec<Record> = codec::decode(&bytes[1..])?;
        Ledger::from_records(records, tracking)
    }

    /// Restores a ledger from its records (in any order), rebuilds the derived
    /// indexes and checks every invariant.
    pub fn from_records(
        records: impl IntoIterator<Item = Record>,
        tracking: bool,
    ) -> Result<Ledger, RestoreError> {
        let mut ledger = Ledger::with_tracking(tracking);
        let mut meta: Option<Meta> = None;
        for record in records {
            macro_rules! visit {
                ($tag:expr, $field:ident) => {
                    if record.table == $tag {
                        restore_record(&mut ledger.$field, &record)?;
                        continue;
                    }
                };
            }
            if record.table == META {
                let value = record.value.as_deref().ok_or(RestoreError::MissingMeta)?;
                meta = Some(codec::decode(value)?);
                continue;
            }
            for_each_table!(visit);
            return Err(RestoreError::UnknownTable(record.table));
        }
        ledger.meta = meta.ok_or(RestoreError::MissingMeta)?;
        ledger.derived = ledger.derive();
        ledger
            .check_invariants()
            .map_err(RestoreError::Inconsistent)?;
        Ok(ledger)
    }

    fn derive(&self) -> Derived {
        let mut derived = Derived::default();
        for principal in self.principals.values() {
            derived
                .key_index
                .insert(principal.key_hash, principal.name.clone());
        }
        for account in self.accounts.values() {
            if matches!(
                account.purpose,
                Purpose::Clearing | Purpose::SettlementReserve
            ) {
                derived.special_accounts.insert(
                    (account.branch.clone(), account.currency, account.purpose),
                    account.id.clone(),
                );
            }
            let totals = derived.totals.entry(account.currency).or_default();
            totals.debits_posted += account.balance.debits_posted;
            totals.credits_posted += account.balance.credits_posted;
            totals.debits_pending += account.balance.debits_pending;
            totals.credits_pending += account.balance.credits_pending;
        }
        for entry in self.entries.values() {
            if entry.status == EntryStatus::Pending {
                let expires_at = entry.expires_at.expect("pending entries expire");
                derived
                    .pending_expiry
                    .insert((expires_at, entry.request.id.clone()));
                *derived
                    .pending_sum
                    .entry(entry.request.currency)
                    .or_default() += debit_total(&entry.postings);
            }
        }
        for (index, at) in self.index_times.iter() {
            derived.time_index.insert(*at, *index);
        }
        derived
    }
}
