//! Journal entries by dense internal number, with an index by id.
//!
//! Entries are numbered in booking order; the number is the entry record's
//! key. Looking an id up (every post does, to answer retries) compares
//! integers in a tree and one string, and booking appends to a chunk.

use crate::id::EntryId;
use crate::id_index::IdIndex;
use crate::journal_entry::JournalEntry;
use crate::table::DenseTable;

/// Every entry id in use, with its entry (or remembered rejection).
#[derive(Debug, Clone)]
pub(crate) struct EntryTable {
    entries: DenseTable<JournalEntry>,
    index: IdIndex<EntryId, u64>,
}

impl EntryTable {
    /// An empty table; `tracking` says whether changes are remembered.
    pub(crate) fn new(tracking: bool) -> Self {
        EntryTable {
            entries: DenseTable::new(0, tracking),
            index: IdIndex::default(),
        }
    }

    fn number(&self, id: &EntryId) -> Option<u64> {
        self.index.get(id, |no| {
            self.entries.get(&no).expect("indexed entries exist").id()
        })
    }

    /// The number of the entry with `id`: its place in booking order.
    pub(crate) fn number_of(&self, id: &EntryId) -> Option<u64> {
        self.number(id)
    }

    /// Reads where a lookup of `id` starts (see `crate::warm`).
    pub(crate) fn warm_index(&self, id: &EntryId) -> u64 {
        self.index.warm(id)
    }

    pub(crate) fn get(&self, id: &EntryId) -> Option<&JournalEntry> {
        self.entries.get(&self.number(id)?)
    }

    /// A mutable reference; the entry counts as changed.
    pub(crate) fn get_mut(&mut self, id: &EntryId) -> Option<&mut JournalEntry> {
        let no = self.number(id)?;
        self.entries.get_mut(&no)
    }

    /// Books `entry`, whose id is not in use.
    pub(crate) fn insert(&mut self, entry: JournalEntry) {
        debug_assert!(self.number(entry.id()).is_none(), "an id is booked once");
        let no = self.entries.next_key();
        self.entries.insert(no, entry);
        let EntryTable { entries, index } = self;
        let id = entries.get(&no).expect("just booked").id();
        index.insert(id, no, |no| {
            entries.get(&no).expect("indexed entries exist").id()
        });
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Every entry, by number.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, &JournalEntry)> {
        self.entries.iter()
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &JournalEntry> {
        self.entries.values()
    }

    /// The numbers changed since the last call, sorted and without repeats.
    pub(crate) fn take_changed(&mut self) -> Vec<u64> {
        self.entries.take_changed()
    }

    /// The entry numbered `no`.
    pub(crate) fn at(&self, no: u64) -> Option<&JournalEntry> {
        self.entries.get(&no)
    }

    /// The table of restored `entries` (numbered from 0 without gaps), with
    /// its index by id; an id must not repeat.
    pub(crate) fn restore(
        mut entries: DenseTable<JournalEntry>,
        tracking: bool,
    ) -> Result<EntryTable, String> {
        entries.set_tracking(tracking);
        let mut table = EntryTable {
            index: IdIndex::with_capacity(entries.len()),
            entries,
        };
        for no in 0..table.entries.next_key() {
            let id = table.entries.get(&no).expect("restored").id();
            if table.number(id).is_some() {
                return Err(format!("entry {id} is booked twice"));
            }
            let EntryTable { entries, index } = &mut table;
            let id = entries.get(&no).expect("restored").id();
            index.insert(id, no, |no| {
                entries.get(&no).expect("indexed entries exist").id()
            });
        }
        Ok(table)
    }
}
