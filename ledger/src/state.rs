//! The ledger as records: what changed after an apply (for the node's
//! WriteBatch), every record (for snapshots), the state digest, and restore.
//!
//! A record is a table tag, the encoded key and the encoded value. The meta
//! record (applied index, chain head, ...) is written with every change set,
//! so the applied position and the state it describes always travel together.

use std::sync::atomic::AtomicU64;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::account::Account;
use crate::account_table::{AccountNo, AccountTable, HistoryRows};
use crate::audit::Hash;
use crate::audit_chain::AuditChain;
use crate::codec::{self, DecodeError};
use crate::entry_table::{Decoded, EntryTable};
use crate::journal_entry::EntryStatus;
use crate::ledger::{Derived, Ledger, Meta, Position};
use crate::posting::debit_total;
use crate::table::{Rebuild, Sequenced, Table};

/// The snapshot format version: the first byte of every snapshot. 7: the
/// records follow one after another to the end (a writer streams them
/// without knowing their number first), instead of as one counted list.
/// 8: record keys are big-endian with fixed-width integers (they sort as
/// their numbers), and the balance history is keyed by position first.
/// 9: an entry record keeps its booked postings as what they add to its
/// request's.
pub const SNAPSHOT_FORMAT: u8 = 9;

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

/// Writes snapshot bytes record by record: the format byte, each record, and
/// at the end the number of records as eight little-endian bytes, so that a
/// snapshot cut short anywhere is refused instead of restored in part. A node
/// streams a snapshot straight from its store this way, without the ledger
/// in hand; the caller may move the bytes out between records.
#[derive(Debug)]
pub struct SnapshotEncoder {
    count: u64,
}

impl SnapshotEncoder {
    /// Starts a snapshot at the end of `bytes`.
    pub fn start(bytes: &mut Vec<u8>) -> SnapshotEncoder {
        bytes.push(SNAPSHOT_FORMAT);
        SnapshotEncoder { count: 0 }
    }

    /// Appends one record.
    pub fn push(&mut self, record: &Record, bytes: &mut Vec<u8>) {
        codec::encode_into(record, bytes);
        self.count += 1;
    }

    /// Ends the snapshot.
    pub fn finish(self, bytes: &mut Vec<u8>) {
        bytes.extend_from_slice(&self.count.to_le_bytes());
    }
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
/// Accounts by number.
const ACCOUNTS: u8 = 3;
/// Entries by number.
const ENTRIES: u8 = 4;
/// Balance history by (position, account number): in the order it is
/// written, so that a store appends it.
const HISTORY: u8 = 7;
/// The audit chain by sequence number.
const AUDIT: u8 = 9;

/// The tables whose records are only ever added at the end of their key
/// order (entries by number, the balance history by position, the audit
/// chain by sequence), with a name for each. A store that keeps each of
/// them apart from the rest appends to it instead of merging; an entry's
/// later change (an approval, a reversal) is the one record that lands
/// before the end.
pub const APPENDED_TABLES: [(u8, &str); 3] =
    [(ENTRIES, "entries"), (HISTORY, "history"), (AUDIT, "audit")];

/// Calls `$visit!(tag, field)` for every `Table`, in tag order, and
/// `$other!(tag)` for the tables stored otherwise.
macro_rules! for_each_table {
    ($visit:ident, $other:ident) => {
        $visit!(1, principals);
        $visit!(2, branches);
        $other!(ACCOUNTS);
        $other!(ENTRIES);
        $visit!(5, policies);
        $visit!(6, windows);
        $other!(HISTORY);
        $visit!(8, index_times);
        $other!(AUDIT);
        $visit!(20, window_branches);
        $visit!(21, window_pairs);
        $visit!(22, caps);
        $visit!(40, external_statements);
        $visit!(41, reconciliations);
        $visit!(42, breaks);
        $visit!(43, recon_items);
        $visit!(44, adjustments);
        $visit!(50, statements);
        $visit!(51, statement_settings);
        $visit!(60, closed_periods);
        $visit!(61, reviews);
    };
}

fn record<K: Serialize, V: Serialize>(tag: u8, key: &K, value: &V) -> Record {
    Record {
        table: tag,
        key: codec::encode_key(key),
        value: Some(codec::encode(value)),
    }
}

/// A record whose value is already encoded.
fn encoded_record(tag: u8, no: &u64, value: Vec<u8>) -> Record {
    Record {
        table: tag,
        key: codec::encode_key(no),
        value: Some(value),
    }
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
            key: codec::encode_key(&key),
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
        out.push(record(tag, key, value));
    }
}

fn restore_record<K, V>(table: &mut Table<K, V>, record: &Record) -> Result<(), RestoreError>
where
    K: Ord + Clone + serde::de::DeserializeOwned,
    V: serde::de::DeserializeOwned,
{
    let (key, value) = decode_record(record)?;
    table.restore(key, value);
    Ok(())
}

fn decode_record<K, V>(record: &Record) -> Result<(K, V), RestoreError>
where
    K: serde::de::DeserializeOwned,
    V: serde::de::DeserializeOwned,
{
    let value = record.value.as_ref().ok_or_else(no_value)?;
    Ok((codec::decode_key(&record.key)?, codec::decode(value)?))
}

/// A restored record must have a value (only a change set deletes).
fn no_value() -> RestoreError {
    RestoreError::Decode(DecodeError("a restored record has no value".into()))
}

/// A balance history record's key: position first.
fn history_key(&(no, position): &(AccountNo, Position)) -> (Position, AccountNo) {
    (position, no)
}

/// The records of a table that is not a `Table`, as restored, before it is
/// rebuilt: a list, since records usually arrive in key order (a store's and
/// [`Ledger::records`]' order), and sorted only when they do not.
struct Rows<K, V>(Vec<(K, V)>);

impl<K: Ord + serde::de::DeserializeOwned, V: serde::de::DeserializeOwned> Rows<K, V> {
    fn new() -> Self {
        Rows(Vec::new())
    }

    fn push(&mut self, record: &Record) -> Result<(), RestoreError> {
        self.0.push(decode_record(record)?);
        Ok(())
    }

    /// The rows in key order; a key given twice is refused.
    fn into_sorted(mut self, table: u8) -> Result<Vec<(K, V)>, RestoreError> {
        if !self.0.is_sorted_by(|a, b| a.0 < b.0) {
            self.0.sort_by(|a, b| a.0.cmp(&b.0));
            if self.0.windows(2).any(|pair| pair[0].0 == pair[1].0) {
                return Err(RestoreError::Inconsistent(format!(
                    "a key of table {table} is given twice"
                )));
            }
        }
        Ok(self.0)
    }
}

/// The tables that are not a `Table`, as they are restored.
struct Restored {
    accounts: Rows<AccountNo, Account>,
    entries: Sequenced<EntryTable>,
    history: Sequenced<HistoryRows>,
    audit: Sequenced<AuditChain>,
}

/// Adds a restored record to `table`; `name` says which table in an error.
fn restore_sequenced<T>(
    table: &mut Sequenced<T>,
    record: &Record,
    name: &'static str,
) -> Result<(), RestoreError>
where
    T: Rebuild,
    T::Key: serde::de::DeserializeOwned,
    T::Value: serde::de::DeserializeOwned,
{
    let (key, value) = decode_record(record)?;
    table.push(key, value).map_err(inconsistent(name))
}

/// Adds a restored record to `table`, which keeps the value's bytes as
/// stored; `name` says which table in an error.
fn restore_encoded<T>(
    table: &mut Sequenced<T>,
    record: Record,
    name: &'static str,
) -> Result<(), RestoreError>
where
    T: Rebuild<Key = u64, Value = Vec<u8>>,
{
    let Record { key, value, .. } = record;
    let value = value.ok_or_else(no_value)?;
    table
        .push(codec::decode_key(&key)?, value)
        .map_err(inconsistent(name))
}

/// What is wrong in table `name` of the restored records.
fn inconsistent(name: &'static str) -> impl Fn(String) -> RestoreError {
    move |error| RestoreError::Inconsistent(format!("{name}: {error}"))
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
        macro_rules! other {
            (ACCOUNTS) => {
                for no in self.accounts.take_changed() {
                    out.push(record(ACCOUNTS, &no, &self.accounts.stored(no)));
                }
            };
            (ENTRIES) => {
                for no in self.entries.take_changed() {
                    let bytes = self.entries.encoded(no).expect("changed entries exist");
                    out.push(encoded_record(ENTRIES, &no, bytes.into_owned()));
                }
            };
            (HISTORY) => {
                for (key, balance) in self.accounts.take_history_changed() {
                    out.push(record(HISTORY, &history_key(&key), &balance));
                }
            };
            (AUDIT) => {
                for seq in self.audit.take_changed() {
                    let bytes = self.audit.bytes(seq).expect("changed records exist");
                    out.push(encoded_record(AUDIT, &seq, bytes.to_vec()));
                }
            };
        }
        for_each_table!(visit, other);
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
        macro_rules! other {
            (ACCOUNTS) => {
                for (no, _) in self.accounts.numbered() {
                    out.push(record(ACCOUNTS, &no, &self.accounts.stored(no)));
                }
            };
            (ENTRIES) => {
                for (no, bytes) in self.entries.iter_encoded() {
                    out.push(encoded_record(ENTRIES, &no, bytes.into_owned()));
                }
            };
            (HISTORY) => {
                for (key, balance) in self.accounts.history() {
                    out.push(record(HISTORY, &history_key(&key), &balance));
                }
            };
            (AUDIT) => {
                for (seq, bytes) in self.audit.iter() {
                    out.push(encoded_record(AUDIT, &seq, bytes.to_vec()));
                }
            };
        }
        for_each_table!(visit, other);
        out
    }

    /// SHA-256 over every record in order: equal on every replica that has
    /// applied the same log, chain head included.
    pub fn digest(&self) -> Hash {
        digest_of(self.records())
    }

    /// The digest of the books alone: [`Ledger::digest`] with the log
    /// position left out. Two ledgers with the same accounts, entries,
    /// history, windows, statements and audit chain have the same books
    /// digest even when they sit at different log indexes — a cluster
    /// restored from a backup, whose own log goes on from the backup's index
    /// with entries that carry no commands (a new leader's first entry, its
    /// membership changes), keeps the books digest of the backup.
    pub fn books_digest(&self) -> Hash {
        let mut records = self.records();
        let mut meta = self.meta.clone();
        meta.applied_index = 0;
        records[0].value = Some(codec::encode(&meta));
        digest_of(records)
    }

    /// The whole ledger as one snapshot (see [`SnapshotEncoder`]).
    pub fn to_snapshot(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut encoder = SnapshotEncoder::start(&mut bytes);
        for record in self.records() {
            encoder.push(&record, &mut bytes);
        }
        encoder.finish(&mut bytes);
        bytes
    }

    /// Restores a ledger from snapshot bytes: [`Ledger::to_snapshot`]'s, or
    /// any a [`SnapshotEncoder`] wrote, with the records in any order.
    pub fn from_snapshot(bytes: &[u8], tracking: bool) -> Result<Ledger, RestoreError> {
        match bytes.first() {
            Some(&SNAPSHOT_FORMAT) => {}
            Some(&found) => return Err(RestoreError::Format { found }),
            None => return Err(RestoreError::Format { found: 0 }),
        }
        let cut_short = || RestoreError::Decode(DecodeError("the snapshot is cut short".into()));
        let body_end = bytes
            .len()
            .checked_sub(8)
            .filter(|&end| end >= 1)
            .ok_or_else(cut_short)?;
        let count = u64::from_le_bytes(bytes[body_end..].try_into().expect("eight bytes"));
        // Records are decoded as the restore takes them, so that the
        // snapshot is not held a second time as a list of records.
        let mut rest = &bytes[1..body_end];
        let mut decoded = 0u64;
        let mut failure = None;
        let records = std::iter::from_fn(|| {
            if rest.is_empty() || failure.is_some() {
                return None;
            }
            match codec::decode_prefix::<Record>(rest) {
                Ok((record, read)) => {
                    rest = &rest[read..];
                    decoded += 1;
                    Some(record)
                }
                Err(error) => {
                    failure = Some(error);
                    None
                }
            }
        });
        let restored = Ledger::from_records(records, tracking);
        if let Some(error) = failure {
            return Err(error.into());
        }
        // A restore that stopped early refused a record; one that read them
        // all must have read as many as the snapshot says it holds.
        if rest.is_empty() && decoded != count {
            return Err(cut_short());
        }
        restored
    }

    /// Restores a ledger from its records (in any order), rebuilds the derived
    /// indexes and checks every invariant.
    pub fn from_records(
        records: impl IntoIterator<Item = Record>,
        tracking: bool,
    ) -> Result<Ledger, RestoreError> {
        let mut ledger = Ledger::with_tracking(tracking);
        let mut meta: Option<Meta> = None;
        let mut restored = Restored {
            accounts: Rows::new(),
            entries: Sequenced::new(|| EntryTable::new(false)),
            history: Sequenced::new(HistoryRows::new),
            audit: Sequenced::new(|| AuditChain::new(false)),
        };
        for record in records {
            macro_rules! visit {
                ($tag:expr, $field:ident) => {
                    if record.table == $tag {
                        restore_record(&mut ledger.$field, &record)?;
                        continue;
                    }
                };
            }
            macro_rules! other {
                (ACCOUNTS) => {
                    if record.table == ACCOUNTS {
                        restored.accounts.push(&record)?;
                        continue;
                    }
                };
                (ENTRIES) => {
                    if record.table == ENTRIES {
                        restore_encoded(&mut restored.entries, record, "journal entries")?;
                        continue;
                    }
                };
                (HISTORY) => {
                    if record.table == HISTORY {
                        restore_sequenced(&mut restored.history, &record, "balance history")?;
                        continue;
                    }
                };
                (AUDIT) => {
                    if record.table == AUDIT {
                        restore_encoded(&mut restored.audit, record, "audit chain")?;
                        continue;
                    }
                };
            }
            if record.table == META {
                let value = record.value.as_deref().ok_or(RestoreError::MissingMeta)?;
                meta = Some(codec::decode(value)?);
                continue;
            }
            for_each_table!(visit, other);
            return Err(RestoreError::UnknownTable(record.table));
        }
        ledger.meta = meta.ok_or(RestoreError::MissingMeta)?;
        let Restored {
            accounts,
            entries,
            history,
            audit,
        } = restored;
        let mut audit = audit.finish().map_err(inconsistent("audit chain"))?;
        let mut entries = entries.finish().map_err(inconsistent("journal entries"))?;
        // Checking the audit chain's hashes and decoding every journal entry
        // is half of a restart and needs nothing else of the ledger: it runs
        // on a second core beside the rest (the accounts with their balance
        // history, and the index of entry ids), and the two threads then
        // share out the entries.
        let next_entry = AtomicU64::new(0);
        let head = ledger.meta.chain_head;
        let (decoded, rebuilt) = std::thread::scope(|scope| {
            let decoded = scope.spawn(|| {
                audit
                    .check_records(&head)
                    .map_err(inconsistent("audit chain"))?;
                Ok(entries.decode_restored(&next_entry))
            });
            let rebuilt = ledger
                .rebuild_accounts(accounts, history, tracking)
                .and_then(|()| {
                    entries
                        .index_restored()
                        .map_err(inconsistent("journal entries"))
                });
            let here = entries.decode_restored(&next_entry);
            let there: Result<_, RestoreError> = decoded
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (there.map(|there| merge_decoded(here, there)), rebuilt)
        });
        let index = rebuilt?;
        entries.open_restored(index, decoded??);
        entries.set_tracking(tracking);
        ledger.entries = entries;
        audit.set_tracking(tracking);
        ledger.audit = audit;
        ledger.derive();
        ledger
            .check_invariants()
            .map_err(RestoreError::Inconsistent)?;
        Ok(ledger)
    }

    /// The restored accounts with their balance history, and the branch
    /// numbers they need.
    fn rebuild_accounts(
        &mut self,
        accounts: Rows<AccountNo, Account>,
        history: Sequenced<HistoryRows>,
        tracking: bool,
    ) -> Result<(), RestoreError> {
        self.derived = self.derive_branches();
        let branch_numbers = &self.derived.branch_numbers;
        self.accounts = AccountTable::restore(
            accounts.into_sorted(ACCOUNTS)?,
            history.finish().map_err(inconsistent("balance history"))?,
            |account| branch_numbers.get(&account.branch).copied(),
            tracking,
        )
        .map_err(RestoreError::Inconsistent)?;
        Ok(())
    }

    /// The branch numbers, by creation position as when the branches were
    /// created; the rest of [`Derived`] is left empty for [`Ledger::derive`].
    fn derive_branches(&self) -> Derived {
        let mut derived = Derived::default();
        let mut branches: Vec<_> = self.branches.values().collect();
        branches.sort_by_key(|branch| branch.created_at);
        for branch in branches {
            derived.add_branch(branch.code.clone());
        }
        derived
    }

    /// Fills in the rest of [`Derived`] from the tables.
    fn derive(&mut self) {
        let mut derived = std::mem::take(&mut self.derived);
        for principal in self.principals.values().filter(|p| !p.revoked) {
            derived
                .key_index
                .insert(principal.key_hash, principal.name.clone());
        }
        for ((branch, currency), policy) in self.policies.iter() {
            // A policy of a missing branch could apply to no account.
            if let Some(&no) = derived.branch_numbers.get(branch) {
                derived.policy_index.insert((no, *currency), policy.clone());
            }
        }
        for (no, account) in self.accounts.numbered() {
            if self.is_special_purpose(&account.branch, account.purpose) {
                derived.special_accounts.insert(
                    (
                        self.accounts.branch_of(no),
                        account.currency,
                        account.purpose,
                    ),
                    no,
                );
            }
            let totals = derived.totals.entry(account.currency).or_default();
            totals.debits_posted += account.balance.debits_posted;
            totals.credits_posted += account.balance.credits_posted;
            totals.debits_pending += account.balance.debits_pending;
            totals.credits_pending += account.balance.credits_pending;
        }
        // Every pending and queued entry is an open one.
        for (no, entry) in self.entries.open() {
            if entry.status == EntryStatus::Queued
                && let (Some(stay), Some(expires_at)) = (&entry.queue, entry.expires_at)
            {
                derived
                    .queue
                    .entry((stay.branch.clone(), entry.request.currency))
                    .or_default()
                    .insert(no);
                derived
                    .queue_expiry
                    .insert((expires_at, entry.request.id.clone()));
            }
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
        derived.statements = self.derive_statements();
        for (branch, close) in self.closed_periods.iter() {
            if let Some(&no) = derived.branch_numbers.get(branch) {
                derived.closed_through.insert(no, close.closed_through);
            }
        }
        self.derived = derived;
        self.derived.exposures = self.derive_exposures();
    }
}

/// What two threads decoded of the journal, or the error about the first
/// entry that did not decode.
fn merge_decoded(
    here: Result<Decoded, (u64, String)>,
    there: Result<Decoded, (u64, String)>,
) -> Result<Decoded, RestoreError> {
    let failed = |(_, error): (u64, String)| inconsistent("journal entries")(error);
    match (here, there) {
        (Ok(mut here), Ok(there)) => {
            here.merge(there);
            Ok(here)
        }
        (Err(error), Ok(_)) | (Ok(_), Err(error)) => Err(failed(error)),
        (Err(a), Err(b)) => Err(failed(a.min(b))),
    }
}

/// SHA-256 over `records` in order, each as its table, key and value with
/// their lengths.
fn digest_of(records: Vec<Record>) -> Hash {
    let mut hasher = Sha256::new();
    for record in records {
        hasher.update([record.table]);
        hasher.update((record.key.len() as u64).to_le_bytes());
        hasher.update(&record.key);
        let value = record.value.as_deref().unwrap_or_default();
        hasher.update((value.len() as u64).to_le_bytes());
        hasher.update(value);
    }
    hasher.finalize().into()
}
