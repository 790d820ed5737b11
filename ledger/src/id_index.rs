//! An index from client-chosen ids to dense numbers: a table of slots in a
//! `Vec`, addressed by a fixed hash of the id.
//!
//! A `BTreeMap` keyed by the id string compares strings on every step down
//! the tree, and each comparison follows a pointer to the heap; even keyed by
//! a hash, every level of the tree is another wait for memory once the ledger
//! outgrows the caches. Here a lookup reads one slot (or a few neighbours),
//! and one string comparison confirms a match.
//!
//! Determinism: the hash is a fixed function of the id's bytes (no random
//! seed), the slots are filled in apply order, and the index is never
//! iterated, stored or shown — it only answers "which number has this id",
//! which has one right answer. So it cannot make two replicas differ, and a
//! restore may rebuild it in any order.
//!
//! Growth: at half full, the slots double. The old slots are moved a few per
//! insert rather than all at once, so no single apply pays for a whole
//! rehash. An id that finds no free slot near its home slot (a run of
//! colliding ids) goes to a `BTreeMap` keyed by the id itself, so crafted
//! collisions cost a tree lookup, never a long scan.

use std::collections::BTreeMap;

use crate::account_table::AccountNo;

/// A dense number that fits a slot.
pub(crate) trait Number: Copy {
    fn to_u64(self) -> u64;
    fn from_u64(n: u64) -> Self;
}

impl Number for u64 {
    fn to_u64(self) -> u64 {
        self
    }
    fn from_u64(n: u64) -> Self {
        n
    }
}

impl Number for AccountNo {
    fn to_u64(self) -> u64 {
        u64::from(self.get())
    }
    fn from_u64(n: u64) -> Self {
        AccountNo::new(u32::try_from(n).expect("account numbers fit 32 bits"))
    }
}

/// A fixed 64-bit hash of an id's bytes: eight bytes at a time, then
/// MurmurHash3's finalizer so that the low bits (the slot) depend on every byte.
pub(crate) fn id_hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut hash = (bytes.len() as u64).wrapping_mul(K);
    for chunk in bytes.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        hash = (hash.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
    }
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    hash ^ (hash >> 33)
}

/// How far from its home slot an id may be placed.
const PROBES_MAX: usize = 32;
/// The first table's size.
const SLOTS_MIN: usize = 16;
/// How many old slots each insert moves while the table grows.
const MOVES_PER_INSERT: usize = 4;

/// A slot: the id's hash and its number plus one, or all zero when free.
/// (All zero, so that a new table is allocated zeroed, page by page as it
/// is used, rather than written through when the index grows.)
type Slot = [u64; 2];

const FREE: Slot = [0, 0];

fn slot(hash: u64, no: u64) -> Slot {
    [hash, no + 1]
}

/// The number in a slot, unless it is free.
fn number(slot: Slot) -> Option<u64> {
    slot[1].checked_sub(1)
}

/// What looking a hash up in the slots found.
enum Probe {
    Found(u64),
    /// A free slot ends the search: the id is not in these slots.
    Absent,
    /// Every slot an id with this hash could be in holds another.
    Full,
}

/// Looks `hash` up in `slots`; `matches` confirms a candidate number.
fn find(slots: &[Slot], hash: u64, matches: impl Fn(u64) -> bool) -> Probe {
    if slots.is_empty() {
        return Probe::Absent;
    }
    let mask = slots.len() - 1;
    let mut at = hash as usize & mask;
    for _ in 0..PROBES_MAX.min(slots.len()) {
        let [slot_hash, _] = slots[at];
        let Some(no) = number(slots[at]) else {
            return Probe::Absent;
        };
        if slot_hash == hash && matches(no) {
            return Probe::Found(no);
        }
        at = (at + 1) & mask;
    }
    Probe::Full
}

/// Puts `(hash, no)` in a free slot near its home; false if there is none.
fn place(slots: &mut [Slot], hash: u64, no: u64) -> bool {
    let mask = slots.len() - 1;
    let mut at = hash as usize & mask;
    for _ in 0..PROBES_MAX.min(slots.len()) {
        if number(slots[at]).is_none() {
            slots[at] = slot(hash, no);
            return true;
        }
        at = (at + 1) & mask;
    }
    false
}

/// Ids (as their bytes) to numbers. The caller keeps the id of each number
/// and passes a way to read it back.
#[derive(Debug, Clone)]
pub(crate) struct IdIndex<No> {
    /// A power-of-two number of slots (or none yet).
    slots: Vec<Slot>,
    /// Occupied slots in `slots`.
    used: usize,
    /// The slots before the last growth; `old[..moved]` are in `slots` now.
    old: Vec<Slot>,
    moved: usize,
    /// Ids that found no slot near home (almost always empty). Every slot
    /// near an overflowed id's home stays taken until the slots double, when
    /// the overflowed ids are placed again; so a search that meets a free
    /// slot need not look here.
    overflow: BTreeMap<Box<[u8]>, No>,
}

impl<No> Default for IdIndex<No> {
    fn default() -> Self {
        IdIndex {
            slots: Vec::new(),
            used: 0,
            old: Vec::new(),
            moved: 0,
            overflow: BTreeMap::new(),
        }
    }
}

impl<No: Number> IdIndex<No> {
    /// An index with room for `count` ids: the slots that inserting them one
    /// by one would have grown to, allocated once (a restore knows how many
    /// it will insert).
    ///
    /// The slots are written through here, not allocated zeroed: the
    /// restore reads slots ahead before it writes them, and reading a page
    /// never written maps the shared zero page, which the first write then
    /// replaces, at the cost of a second fault and of flushing the other
    /// cores' address caches. Writing them in order first costs one fault
    /// a page.
    pub(crate) fn with_capacity(count: usize) -> Self {
        let size = (2 * count).next_power_of_two().max(SLOTS_MIN);
        let mut slots = Vec::with_capacity(size);
        // `black_box`: an allocation followed by zeros written may be
        // compiled into a zeroed allocation, which is what this avoids.
        slots.resize(size, std::hint::black_box(FREE));
        IdIndex {
            slots,
            ..IdIndex::default()
        }
    }

    /// The number of `id`; `id_of` gives the id of a number.
    pub(crate) fn get<'a>(&self, id: &[u8], id_of: impl Fn(No) -> &'a [u8]) -> Option<No> {
        let hash = id_hash(id);
        let matches = |no: u64| id_of(No::from_u64(no)) == id;
        let full = match find(&self.slots, hash, matches) {
            Probe::Found(no) => return Some(No::from_u64(no)),
            Probe::Absent => false,
            Probe::Full => true,
        };
        if self.moved < self.old.len()
            && let Probe::Found(no) = find(&self.old, hash, matches)
        {
            return Some(No::from_u64(no));
        }
        if full && !self.overflow.is_empty() {
            return self.overflow.get(id).copied();
        }
        None
    }

    /// Reads the slots where lookups of `ids` start, so that they are in
    /// the cache for the lookups (see `crate::warm`); the value means
    /// nothing. A run of ids is hashed first and its slots read after, in a
    /// loop that does little but load, so that the reads overlap: hashing
    /// between them would fill the processor's window with work that waits
    /// on the slowest read.
    pub(crate) fn warm<'a>(&self, ids: impl Iterator<Item = &'a [u8]>) -> u64 {
        const RUN: usize = 64;
        if self.slots.is_empty() {
            return 0;
        }
        // While the slots grow, a lookup reads the old ones too.
        let old = if self.moved < self.old.len() {
            self.old.as_slice()
        } else {
            &[]
        };
        let mut hashes = [0u64; RUN];
        let mut sink = 0;
        let mut ids = ids.peekable();
        while ids.peek().is_some() {
            let mut count = 0;
            for (hash, id) in hashes.iter_mut().zip(ids.by_ref()) {
                *hash = id_hash(id);
                count += 1;
            }
            for &hash in &hashes[..count] {
                sink ^= self.slots[hash as usize & (self.slots.len() - 1)][1];
            }
            if !old.is_empty() {
                for &hash in &hashes[..count] {
                    sink ^= old[hash as usize & (old.len() - 1)][1];
                }
            }
        }
        sink
    }

    /// The number a lookup of `id` would most likely answer, without
    /// confirming it against the id (see `crate::warm`): a guess.
    pub(crate) fn guess(&self, id: &[u8]) -> Option<No> {
        match find(&self.slots, id_hash(id), |_| true) {
            Probe::Found(no) => Some(No::from_u64(no)),
            Probe::Absent | Probe::Full => None,
        }
    }

    /// Adds `id`, which is not in the index yet, as number `no`.
    pub(crate) fn insert<'a>(&mut self, id: &[u8], no: No, id_of: impl Fn(No) -> &'a [u8]) {
        self.move_old(MOVES_PER_INSERT, &id_of);
        if 2 * (self.used + 1) > self.slots.len() {
            self.grow(&id_of);
        }
        self.add(id_hash(id), no.to_u64(), || id.into());
    }

    fn add(&mut self, hash: u64, no: u64, id: impl FnOnce() -> Box<[u8]>) {
        if place(&mut self.slots, hash, no) {
            self.used += 1;
        } else {
            let previous = self.overflow.insert(id(), No::from_u64(no));
            assert!(previous.is_none(), "an id is indexed once");
        }
    }

    /// Doubles the slots; the old ones move over the next inserts.
    fn grow<'a>(&mut self, id_of: &impl Fn(No) -> &'a [u8]) {
        self.move_old(usize::MAX, id_of);
        let size = (2 * self.slots.len()).max(SLOTS_MIN);
        self.old = std::mem::replace(&mut self.slots, vec![FREE; size]);
        self.moved = 0;
        self.used = 0;
        for (id, no) in std::mem::take(&mut self.overflow) {
            self.add(id_hash(&id), no.to_u64(), || id);
        }
    }

    /// Moves up to `count` old slots into the current ones.
    fn move_old<'a>(&mut self, count: usize, id_of: &impl Fn(No) -> &'a [u8]) {
        let end = self.old.len().min(self.moved.saturating_add(count));
        while self.moved < end {
            let [hash, _] = self.old[self.moved];
            let no = number(self.old[self.moved]);
            self.moved += 1;
            if let Some(no) = no {
                self.add(hash, no, || id_of(No::from_u64(no)).into());
            }
        }
        if self.moved == self.old.len() && !self.old.is_empty() {
            self.old = Vec::new();
            self.moved = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_found_by_number_while_the_index_grows() {
        let ids: Vec<String> = (0..5000).map(|n| format!("acct-{n:06}")).collect();
        let id_of = |no: u64| ids[no as usize].as_bytes();
        let mut index = IdIndex::default();
        for (no, id) in ids.iter().enumerate() {
            index.insert(id.as_bytes(), no as u64, id_of);
            // Everything inserted so far is found, mid-growth too.
            for probe in [0, no / 2, no] {
                assert_eq!(index.get(ids[probe].as_bytes(), id_of), Some(probe as u64));
            }
            assert_eq!(index.get(b"nope", id_of), None);
            // Reading ahead, over more ids than one run and mid-growth too,
            // reads only slots that exist.
            index.warm(ids[..=no].iter().rev().take(100).map(String::as_bytes));
        }
        for (no, id) in ids.iter().enumerate() {
            assert_eq!(index.get(id.as_bytes(), id_of), Some(no as u64));
        }
        assert!(2 * index.used <= index.slots.len());
    }

    #[test]
    fn an_index_sized_up_front_is_the_one_grown_to_and_never_grows_while_filled() {
        for count in [0, 1, 8, 9, 1000, 4096, 5000] {
            let ids: Vec<String> = (0..count).map(|n| format!("e-{n}")).collect();
            let id_of = |no: u64| ids[no as usize].as_bytes();
            let mut grown = IdIndex::default();
            let mut sized = IdIndex::with_capacity(count);
            let size = sized.slots.len();
            for (no, id) in ids.iter().enumerate() {
                grown.insert(id.as_bytes(), no as u64, id_of);
                sized.insert(id.as_bytes(), no as u64, id_of);
            }
            assert_eq!(sized.slots.len(), size, "{count} ids: no growth");
            assert!(sized.old.is_empty());
            if count > 0 {
                assert_eq!(grown.slots.len(), size, "{count} ids: the same size");
            }
            for (no, id) in ids.iter().enumerate() {
                assert_eq!(sized.get(id.as_bytes(), id_of), Some(no as u64));
            }
        }
    }

    #[test]
    fn ids_that_find_no_slot_go_to_the_overflow_map() {
        let ids: Vec<String> = (0..100).map(|n| format!("id-{n}")).collect();
        let id_of = |no: u64| ids[no as usize].as_bytes();
        // Every slot holds an unrelated id's hash, so that nothing fits.
        let mut index: IdIndex<u64> = IdIndex {
            slots: vec![slot(1, 0); 256],
            ..IdIndex::default()
        };
        for (no, id) in ids.iter().enumerate().skip(1) {
            index.add(id_hash(id.as_bytes()), no as u64, || id.as_bytes().into());
        }
        assert_eq!(index.overflow.len(), 99);
        for (no, id) in ids.iter().enumerate().skip(1) {
            assert_eq!(index.get(id.as_bytes(), id_of), Some(no as u64));
        }
        assert_eq!(index.get(b"id-100", id_of), None);
        // Doubling places the overflowed ids again.
        index.slots = vec![FREE; 256];
        index.grow(&id_of);
        assert!(index.overflow.is_empty());
        for (no, id) in ids.iter().enumerate().skip(1) {
            assert_eq!(index.get(id.as_bytes(), id_of), Some(no as u64));
        }
    }
}
