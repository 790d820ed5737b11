//! Journal entries by dense internal number, with an index by id.
//!
//! Entries are numbered in booking order; the number is the entry record's
//! key. Looking an id up (every post does, to answer retries) compares
//! integers in a table of slots and one string, and booking appends.
//!
//! An entry that will not change again (posted, voided or rejected) is kept
//! as its record's bytes (see `crate::chunks`) and decoded when read. Open
//! entries (pending or queued), which approvals and the liquidity queue
//! read and change, are kept decoded; so is a settled entry from the moment
//! it is changed (a reversal marks its original) until the end of the apply,
//! when [`EntryTable::settle`] encodes it again (the bytes it had stay in
//! their chunk, unused, until the ledger is next restored: one copy per
//! reversal).
//! Which form an entry is in shows nowhere: its record, and so every
//! snapshot and the state digest, is the same bytes either way.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::chunks::{Chunks, Span};
use crate::codec;
use crate::id::EntryId;
use crate::id_index::IdIndex;
use crate::journal_entry::{EntryStatus, JournalEntry, PostedMarks, encode_entry, skim_posted};
use crate::table::{DenseTable, Rebuild};
use crate::warm::WARM_ENTRIES;

/// Where an entry is.
#[derive(Debug, Clone, Copy)]
enum Place {
    /// Encoded, in `Store::settled`.
    Settled(Span),
    /// Decoded, in `Store::open`.
    Open,
}

/// Whether an entry with `status` may still change.
fn is_open(status: &EntryStatus) -> bool {
    matches!(status, EntryStatus::Pending | EntryStatus::Queued)
}

/// Whether an entry is one an auditor's review may flag: open, decided,
/// needing approval, reversing or reversed. Posting alone does not make an
/// entry notable, so the review reads only these.
fn is_notable(entry: &JournalEntry) -> bool {
    is_open(&entry.status) || entry.decision.is_some() || PostedMarks::of(entry).any()
}

/// The entries in their two forms.
#[derive(Debug, Clone)]
struct Store {
    places: DenseTable<Place>,
    settled: Chunks,
    open: BTreeMap<u64, JournalEntry>,
}

impl Store {
    /// The id of entry `no` as bytes; `None` if there is no such entry or
    /// its record does not start with an id (only a restored record can
    /// fail so, and the restore refuses it).
    fn try_id_bytes(&self, no: u64) -> Option<&[u8]> {
        match self.places.get(&no)? {
            Place::Settled(span) => codec::leading_string(self.settled.get(*span)),
            Place::Open => Some(self.open[&no].id().as_bytes()),
        }
    }

    /// The id of entry `no`, which exists, as bytes.
    fn id_bytes(&self, no: u64) -> &[u8] {
        self.try_id_bytes(no)
            .expect("an indexed entry exists and starts with its id")
    }
}

/// Every entry id in use, with its entry (or remembered rejection).
#[derive(Debug, Clone)]
pub(crate) struct EntryTable {
    store: Store,
    index: IdIndex<u64>,
    /// Entries handed out to be changed since the last settle.
    changed: Vec<u64>,
    /// Every entry that is or was open, was changed, or reverses another:
    /// all that an auditor's review can flag (see [`is_notable`]).
    notable: BTreeSet<u64>,
    /// Reused to encode entries.
    scratch: Vec<u8>,
}

impl EntryTable {
    /// An empty table; `tracking` says whether changes are remembered.
    pub(crate) fn new(tracking: bool) -> Self {
        EntryTable {
            store: Store {
                places: DenseTable::new(0, tracking),
                settled: Chunks::default(),
                open: BTreeMap::new(),
            },
            index: IdIndex::default(),
            changed: Vec::new(),
            notable: BTreeSet::new(),
            scratch: Vec::new(),
        }
    }

    /// The number of the entry with `id`: its place in booking order.
    pub(crate) fn number_of(&self, id: &EntryId) -> Option<u64> {
        self.index.get(id.as_bytes(), |no| self.store.id_bytes(no))
    }

    /// Reads where lookups of `ids` start (see `crate::warm`).
    pub(crate) fn warm_index<'a>(&self, ids: impl Iterator<Item = &'a EntryId>) -> u64 {
        self.index.warm(ids.map(EntryId::as_bytes))
    }

    pub(crate) fn get(&self, id: &EntryId) -> Option<Cow<'_, JournalEntry>> {
        self.at(self.number_of(id)?)
    }

    /// A mutable reference; the entry counts as changed.
    pub(crate) fn get_mut(&mut self, id: &EntryId) -> Option<&mut JournalEntry> {
        let no = self.number_of(id)?;
        let Store {
            places,
            settled,
            open,
        } = &mut self.store;
        let place = places.get_mut(&no).expect("indexed entries exist");
        if let Place::Settled(span) = *place {
            *place = Place::Open;
            open.insert(no, decode(settled.get(span)));
        }
        self.changed.push(no);
        self.notable.insert(no);
        open.get_mut(&no)
    }

    /// Books `entry`, whose id is not in use.
    pub(crate) fn insert(&mut self, entry: JournalEntry) {
        debug_assert!(self.number_of(entry.id()).is_none(), "an id is booked once");
        let no = self.store.places.next_key();
        if is_notable(&entry) {
            self.notable.insert(no);
        }
        let place = if is_open(&entry.status) {
            self.store.open.insert(no, entry);
            Place::Open
        } else {
            self.scratch.clear();
            encode_entry(&entry, &mut self.scratch);
            Place::Settled(self.store.settled.push(&[&self.scratch]))
        };
        self.store.places.insert(no, place);
        self.index_number(no);
    }

    /// Adds entry `no`, just stored, to the index by id.
    fn index_number(&mut self, no: u64) {
        let store = &self.store;
        self.index
            .insert(store.id_bytes(no), no, |no| store.id_bytes(no));
    }

    /// Encodes again the entries changed since the last call that will not
    /// change any more. The ledger calls it at the end of each apply.
    pub(crate) fn settle(&mut self) {
        for no in std::mem::take(&mut self.changed) {
            let store = &mut self.store;
            let Some(entry) = store.open.get(&no) else {
                continue;
            };
            if is_open(&entry.status) {
                continue;
            }
            self.scratch.clear();
            encode_entry(entry, &mut self.scratch);
            let span = store.settled.push(&[&self.scratch]);
            store.open.remove(&no);
            // Not through `places.get_mut`: the change was counted when the
            // entry was handed out.
            store.places.replace_untracked(no, Place::Settled(span));
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.store.places.len()
    }

    /// The entry numbered `no`.
    pub(crate) fn at(&self, no: u64) -> Option<Cow<'_, JournalEntry>> {
        let store = &self.store;
        Some(match store.places.get(&no)? {
            Place::Settled(span) => Cow::Owned(decode(store.settled.get(*span))),
            Place::Open => Cow::Borrowed(&store.open[&no]),
        })
    }

    /// Entry `no` if it is kept decoded: every pending and queued entry is.
    pub(crate) fn open_at(&self, no: u64) -> Option<&JournalEntry> {
        self.store.open.get(&no)
    }

    /// The entry with `id` if it is kept decoded: every pending and queued
    /// entry is.
    pub(crate) fn get_open(&self, id: &EntryId) -> Option<&JournalEntry> {
        self.open_at(self.number_of(id)?)
    }

    /// The record of entry `no`: [`codec::encode`] of the entry.
    pub(crate) fn encoded(&self, no: u64) -> Option<Cow<'_, [u8]>> {
        let store = &self.store;
        Some(match store.places.get(&no)? {
            Place::Settled(span) => Cow::Borrowed(store.settled.get(*span)),
            Place::Open => Cow::Owned(codec::encode(&store.open[&no])),
        })
    }

    /// Every entry's record, by number.
    pub(crate) fn iter_encoded(&self) -> impl Iterator<Item = (u64, Cow<'_, [u8]>)> {
        (0..self.store.places.next_key())
            .map(|no| (no, self.encoded(no).expect("numbered entries exist")))
    }

    /// Every entry whose record holds `needle` (say, an account id as it is
    /// encoded), decoded, by number; and every open entry. A settled entry
    /// is decoded only if its bytes hold the needle, so that a search for
    /// one account's entries does not decode the whole journal. The caller
    /// still checks each entry: the needle may be anywhere in the record.
    pub(crate) fn values_holding<'a>(
        &'a self,
        needle: &'a [u8],
    ) -> impl Iterator<Item = Cow<'a, JournalEntry>> {
        let finder = memchr::memmem::Finder::new(needle);
        let store = &self.store;
        (0..store.places.next_key()).filter_map(move |no| {
            match store.places.get(&no).expect("numbered entries exist") {
                Place::Settled(span) => {
                    let bytes = store.settled.get(*span);
                    finder.find(bytes).map(|_| Cow::Owned(decode(bytes)))
                }
                Place::Open => Some(Cow::Borrowed(&store.open[&no])),
            }
        })
    }

    /// The notable entries (see [`is_notable`]), decoded, by number: a
    /// superset of those an auditor's review flags.
    pub(crate) fn notable(&self) -> impl Iterator<Item = Cow<'_, JournalEntry>> {
        self.notable
            .iter()
            .map(|no| self.at(*no).expect("notable entries exist"))
    }

    /// The entries that may still change (and those changed in this apply),
    /// by number.
    pub(crate) fn open(&self) -> impl Iterator<Item = (u64, &JournalEntry)> {
        self.store.open.iter().map(|(no, entry)| (*no, entry))
    }

    /// The numbers changed since the last call, sorted and without repeats.
    pub(crate) fn take_changed(&mut self) -> Vec<u64> {
        self.store.places.take_changed()
    }

    /// Sets whether changes are remembered from now on.
    pub(crate) fn set_tracking(&mut self, tracking: bool) {
        self.store.places.set_tracking(tracking);
    }
}

/// Decodes an entry this table encoded (or a restore checked).
fn decode(bytes: &[u8]) -> JournalEntry {
    codec::decode(bytes).expect("the table holds entries it encoded or checked")
}

/// A table is restored from its records as stored, by number from 0
/// without gaps, each kept as its bytes; the checks below then decode and
/// index them.
impl Rebuild for EntryTable {
    type Key = u64;
    type Value = Vec<u8>;

    fn check_next(&self, no: &u64) -> Result<(), String> {
        self.store.places.check_next(no)
    }

    fn append(&mut self, no: u64, bytes: Vec<u8>) -> Result<(), String> {
        let span = self.store.settled.push(&[&bytes]);
        self.store.places.insert(no, Place::Settled(span));
        Ok(())
    }

    fn into_records(self) -> Vec<(u64, Vec<u8>)> {
        self.iter_encoded()
            .map(|(no, bytes)| (no, bytes.into_owned()))
            .collect()
    }
}

/// What decoding restored entries found.
#[derive(Debug, Default)]
pub(crate) struct Decoded {
    /// The open entries, decoded, with their numbers.
    pub(crate) open: Vec<(u64, JournalEntry)>,
    /// The numbers of the notable entries.
    pub(crate) notable: Vec<u64>,
}

impl Decoded {
    /// Adds what another thread found.
    pub(crate) fn merge(&mut self, other: Decoded) {
        self.open.extend(other.open);
        self.notable.extend(other.notable);
        self.open.sort_unstable_by_key(|(no, _)| *no);
    }
}

/// A restore's checks, which need nothing else of the ledger and only read
/// the table, so that a restore runs them on two threads:
/// [`EntryTable::decode_restored`] (on both, in turns) and
/// [`EntryTable::index_restored`], whose results
/// [`EntryTable::open_restored`] then takes.
impl EntryTable {
    /// Checks that restored entries decode, and gives the open ones among
    /// them and the numbers of the notable ones, taking runs of entries from
    /// `next` (shared with other threads doing the same) until none is left.
    /// An error names the entry.
    pub(crate) fn decode_restored(&self, next: &AtomicU64) -> Result<Decoded, (u64, String)> {
        const RUN: u64 = 4096;
        let end = self.store.places.next_key();
        let mut decoded = Decoded::default();
        loop {
            let start = next.fetch_add(RUN, Ordering::Relaxed);
            if start >= end {
                return Ok(decoded);
            }
            for no in start..end.min(start + RUN) {
                let bytes = self.encoded(no).expect("numbered entries exist");
                if let Some(marks) = skim_posted(&bytes) {
                    if marks.any() {
                        decoded.notable.push(no);
                    }
                    continue;
                }
                let entry: JournalEntry =
                    codec::decode(&bytes).map_err(|error| (no, format!("entry {no}: {error}")))?;
                if is_notable(&entry) {
                    decoded.notable.push(no);
                }
                if is_open(&entry.status) {
                    decoded.open.push((no, entry));
                }
            }
        }
    }

    /// The index by id of the restored entries (sized once), or which id
    /// repeats.
    pub(crate) fn index_restored(&self) -> Result<IdIndex<u64>, String> {
        let mut index = IdIndex::with_capacity(self.len());
        let store = &self.store;
        let id_of = |no: u64| store.id_bytes(no);
        let end = store.places.next_key();
        let mut run = Vec::with_capacity(WARM_ENTRIES);
        for start in (0..end).step_by(WARM_ENTRIES) {
            run.clear();
            for no in start..end.min(start + WARM_ENTRIES as u64) {
                let id = store
                    .try_id_bytes(no)
                    .ok_or_else(|| format!("entry {no}: does not start with an id"))?;
                run.push((no, id));
            }
            // The slots are far larger than the caches: their reads for a
            // run overlap (see `crate::warm`).
            black_box(index.warm(run.iter().map(|(_, id)| *id)));
            for &(no, id) in &run {
                if index.get(id, id_of).is_some() {
                    let id = String::from_utf8_lossy(id);
                    return Err(format!("entry {id} is booked twice"));
                }
                index.insert(id, no, id_of);
            }
        }
        Ok(index)
    }

    /// Takes the index, and the open and notable entries, that the checks
    /// gave.
    pub(crate) fn open_restored(&mut self, index: IdIndex<u64>, decoded: Decoded) {
        self.index = index;
        self.notable.extend(decoded.notable);
        for (no, entry) in decoded.open {
            // Its bytes stay behind, unused: open entries are few.
            self.store.open.insert(no, entry);
            self.store.places.replace_untracked(no, Place::Open);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::amount::Amount;
    use crate::currency::Currency;
    use crate::id::{AccountId, PrincipalName};
    use crate::journal_entry::NewEntry;
    use crate::ledger::Position;
    use crate::table::Sequenced;
    use crate::time::Timestamp;

    fn entry(n: u64, status: EntryStatus) -> JournalEntry {
        let request = NewEntry::transfer(
            EntryId::new(format!("e-{n}-{}", "x".repeat(n as usize % 40))).unwrap(),
            AccountId::new("a").unwrap(),
            AccountId::new("b").unwrap(),
            Amount::from_minor(i128::from(n) + 1),
            Currency::new("CNY").unwrap(),
        );
        JournalEntry::plain(
            request.clone(),
            request.postings,
            status,
            Position { index: n, seq: 0 },
            Timestamp(1_700_000_000_000),
            PrincipalName::new("branch-a").unwrap(),
        )
    }

    /// Entry `n` is pending when `n` is a multiple of 5, else posted.
    fn status_of(n: u64) -> EntryStatus {
        if n.is_multiple_of(5) {
            EntryStatus::Pending
        } else {
            EntryStatus::Posted
        }
    }

    fn table_of(count: u64, tracking: bool) -> (EntryTable, Vec<JournalEntry>) {
        let mut table = EntryTable::new(tracking);
        let entries: Vec<_> = (0..count).map(|n| entry(n, status_of(n))).collect();
        for entry in &entries {
            table.insert(entry.clone());
        }
        table.settle();
        (table, entries)
    }

    fn records(table: &EntryTable) -> Vec<(u64, Vec<u8>)> {
        table
            .iter_encoded()
            .map(|(no, bytes)| (no, bytes.into_owned()))
            .collect()
    }

    #[test]
    fn both_forms_read_and_store_as_the_entry() {
        let (table, entries) = table_of(2_000, false);
        for (no, entry) in entries.iter().enumerate() {
            let no = no as u64;
            assert_eq!(table.number_of(entry.id()), Some(no));
            assert_eq!(table.get(entry.id()).as_deref(), Some(entry));
            assert_eq!(table.at(no).as_deref(), Some(entry));
            assert_eq!(
                table.encoded(no).as_deref(),
                Some(&codec::encode(entry)[..])
            );
            // Only pending entries are kept decoded.
            assert_eq!(table.open_at(no).is_some(), no.is_multiple_of(5), "{no}");
        }
        assert_eq!(table.open().count(), 400);
        assert_eq!(table.number_of(&EntryId::new("e-none").unwrap()), None);
        assert_eq!(table.at(2_000), None);
    }

    #[test]
    fn a_search_decodes_the_entries_holding_the_needle_and_the_open_ones() {
        let (table, entries) = table_of(100, false);
        // Entry 37's id, as encoded, is in entry 37's record only.
        let needle = codec::encode(entries[37].id());
        let found: Vec<_> = table.values_holding(&needle).collect();
        let expected: Vec<&JournalEntry> = entries
            .iter()
            .enumerate()
            .filter(|(no, _)| *no == 37 || no.is_multiple_of(5))
            .map(|(_, entry)| entry)
            .collect();
        assert_eq!(found.iter().map(|e| &**e).collect::<Vec<_>>(), expected);
        // Every posting names account "a": all of them.
        let account = codec::encode(&AccountId::new("a").unwrap());
        assert_eq!(table.values_holding(&account).count(), 100);
    }

    #[test]
    fn a_changed_entry_is_reported_and_settles_again_once_it_is_final() {
        let (mut table, mut entries) = table_of(20, true);
        assert_eq!(table.take_changed(), (0..20).collect::<Vec<_>>());
        // A posted entry marked as reversed, and a pending one approved.
        let reversal = EntryId::new("e-reversal").unwrap();
        table.get_mut(entries[3].id()).unwrap().reversed_by = Some(reversal.clone());
        entries[3].reversed_by = Some(reversal);
        table.get_mut(entries[10].id()).unwrap().status = EntryStatus::Posted;
        entries[10].status = EntryStatus::Posted;
        // Still pending after a change: stays decoded.
        table.get_mut(entries[15].id()).unwrap().required_authority = 2;
        entries[15].required_authority = 2;
        assert_eq!(table.open_at(3), Some(&entries[3]), "handed out decoded");
        table.settle();
        assert_eq!(table.take_changed(), vec![3, 10, 15]);
        let notable: Vec<u64> = table.notable().map(|entry| entry.booked.index).collect();
        assert_eq!(
            notable,
            vec![0, 3, 5, 10, 15],
            "the open ones and the changed one"
        );
        let open: Vec<u64> = table.open().map(|(no, _)| no).collect();
        assert_eq!(open, vec![0, 5, 15]);
        for (no, entry) in entries.iter().enumerate() {
            assert_eq!(table.at(no as u64).as_deref(), Some(entry));
            assert_eq!(table.encoded(no as u64).unwrap(), codec::encode(entry));
            assert_eq!(table.number_of(entry.id()), Some(no as u64));
        }
    }

    #[test]
    fn a_restore_keeps_each_form_and_refuses_a_repeated_id() {
        let (table, _) = table_of(500, true);
        let stored = records(&table);
        let mut restored = Sequenced::new(|| EntryTable::new(false));
        // Out of order on purpose: the rest are collected and sorted.
        let mut shuffled = stored.clone();
        shuffled.swap(7, 300);
        for (no, bytes) in shuffled {
            restored.push(no, bytes).unwrap();
        }
        let mut restored = restored.finish().unwrap();
        let open = restored.decode_restored(&AtomicU64::new(0)).unwrap();
        let index = restored.index_restored().unwrap();
        restored.open_restored(index, open);
        assert_eq!(records(&restored), stored);
        assert_eq!(restored.open().count(), 100);
        let notable: Vec<_> = restored.notable().map(|entry| entry.into_owned()).collect();
        let expected: Vec<_> = table.notable().map(|entry| entry.into_owned()).collect();
        assert_eq!(notable, expected, "the pending ones, found again");
        assert!(
            restored.take_changed().is_empty(),
            "restoring is not a change"
        );

        let restore = |records: &[&Vec<u8>]| {
            let mut table = EntryTable::new(false);
            for (no, bytes) in records.iter().enumerate() {
                table.append(no as u64, bytes.to_vec()).unwrap();
            }
            table
                .decode_restored(&AtomicU64::new(0))
                .map_err(|(_, error)| error)?;
            table.index_restored().map(|_| ())
        };
        assert_eq!(restore(&[&stored[0].1, &stored[1].1]), Ok(()));
        let error = restore(&[&stored[1].1, &stored[1].1]).unwrap_err();
        assert!(error.contains("booked twice"), "{error}");
        let error = restore(&[&stored[0].1, &vec![3, 1, 2]]).unwrap_err();
        assert!(error.starts_with("entry 1: "), "{error}");
        let mut cut = EntryTable::new(false);
        cut.append(0, vec![3, 1, 2]).unwrap();
        let error = cut.index_restored().map(|_| ()).unwrap_err();
        assert_eq!(error, "entry 0: does not start with an id");
    }
}
