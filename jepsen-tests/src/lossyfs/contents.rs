//! One file's bytes, and the undo log of what happened to them since the
//! file was last synced: everything the [`lossyfs`](super) filesystem needs
//! to put a file back to its last durable state. Pure data, no FUSE.
//!
//! Each change that is not yet durable (a write, a truncate, a zeroed range)
//! leaves one [`Undo`]: the length before it, and the bytes it overwrote
//! inside that length. Replaying the log backwards restores the file exactly
//! as it was at the last sync; a sync empties the log.

/// The largest file the filesystem holds (the data lives in memory).
pub const MAX_FILE: u64 = 4 << 30;

/// How to take one un-synced change back.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Undo {
    /// Where the change began.
    offset: u64,
    /// The bytes it overwrote (those that lay below `old_len`).
    old: Vec<u8>,
    /// The file's length before it.
    old_len: u64,
}

impl Undo {
    /// A change that only made the file longer: it overwrote nothing.
    fn extends_only(&self) -> bool {
        self.old.is_empty()
    }
}

/// What a crash took away from one file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reverted {
    /// Un-synced changes undone.
    pub changes: u64,
    /// Bytes written since the last sync (each write counted in full).
    pub bytes: u64,
}

/// A file: its bytes and the changes since its last sync.
#[derive(Debug, Default)]
pub struct Contents {
    bytes: Vec<u8>,
    undo: Vec<Undo>,
    unsynced_bytes: u64,
}

/// A length that is too large for the filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge;

fn end_of(offset: u64, len: usize) -> Result<usize, TooLarge> {
    let end = offset.checked_add(len as u64).ok_or(TooLarge)?;
    if end > MAX_FILE {
        return Err(TooLarge);
    }
    usize::try_from(end).map_err(|_| TooLarge)
}

impl Contents {
    /// The current length.
    pub fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// Whether any change is not yet synced.
    pub fn is_dirty(&self) -> bool {
        !self.undo.is_empty()
    }

    /// Up to `size` bytes from `offset` (fewer at the end of the file).
    pub fn read(&self, offset: u64, size: u32) -> &[u8] {
        let Ok(start) = usize::try_from(offset) else {
            return &[];
        };
        if start >= self.bytes.len() {
            return &[];
        }
        let end = start.saturating_add(size as usize).min(self.bytes.len());
        &self.bytes[start..end]
    }

    fn record(&mut self, undo: Undo) {
        // Extensions in a row take back to the first one's length: only
        // the first needs keeping (appends to a log are all of this kind).
        let redundant = undo.extends_only() && self.undo.last().is_some_and(Undo::extends_only);
        if !redundant {
            self.undo.push(undo);
        }
    }

    /// Writes `data` at `offset`, growing the file (with zeros before
    /// `offset` if it lay beyond the end).
    pub fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), TooLarge> {
        let end = end_of(offset, data.len())?;
        if data.is_empty() {
            return Ok(());
        }
        let start = end - data.len();
        let old_len = self.bytes.len();
        let old = self.bytes[start.min(old_len)..end.min(old_len)].to_vec();
        self.record(Undo {
            offset,
            old,
            old_len: old_len as u64,
        });
        if end > old_len {
            self.bytes.resize(end, 0);
        }
        self.bytes[start..end].copy_from_slice(data);
        self.unsynced_bytes += data.len() as u64;
        Ok(())
    }

    /// Sets the length (zeros when it grows).
    pub fn set_len(&mut self, len: u64) -> Result<(), TooLarge> {
        let new_len = end_of(len, 0)?;
        let old_len = self.bytes.len();
        if new_len == old_len {
            return Ok(());
        }
        let old = self.bytes[new_len.min(old_len)..].to_vec();
        self.record(Undo {
            offset: len,
            old,
            old_len: old_len as u64,
        });
        self.bytes.resize(new_len, 0);
        Ok(())
    }

    /// Zeros `len` bytes from `offset`, within the current length (a hole
    /// punched with the length kept).
    pub fn zero(&mut self, offset: u64, len: u64) {
        let size = self.bytes.len();
        let Ok(start) = usize::try_from(offset) else {
            return;
        };
        if start >= size || len == 0 {
            return;
        }
        let end = usize::try_from(offset.saturating_add(len))
            .unwrap_or(usize::MAX)
            .min(size);
        let old = self.bytes[start..end].to_vec();
        self.record(Undo {
            offset,
            old,
            old_len: size as u64,
        });
        self.bytes[start..end].fill(0);
    }

    /// Makes every change so far durable.
    pub fn sync(&mut self) {
        self.undo.clear();
        self.unsynced_bytes = 0;
    }

    /// Takes back every change since the last sync.
    pub fn revert(&mut self) -> Reverted {
        let reverted = Reverted {
            changes: self.undo.len() as u64,
            bytes: self.unsynced_bytes,
        };
        while let Some(undo) = self.undo.pop() {
            // Every length here was checked against MAX_FILE when recorded.
            let start = undo.offset as usize;
            let end = start + undo.old.len();
            if self.bytes.len() < end {
                self.bytes.resize(end, 0);
            }
            self.bytes[start..end].copy_from_slice(&undo.old);
            self.bytes.resize(undo.old_len as usize, 0);
        }
        self.unsynced_bytes = 0;
        reverted
    }

    /// The bytes, for tests.
    #[cfg(test)]
    fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(bytes: &[u8]) -> Contents {
        let mut contents = Contents::default();
        contents.write(0, bytes).unwrap();
        contents.sync();
        contents
    }

    #[test]
    fn a_revert_drops_unsynced_appends_and_keeps_synced_ones() {
        let mut contents = file(b"synced");
        contents.write(6, b"-more").unwrap();
        contents.sync();
        contents.write(11, b"-lost").unwrap();
        contents.write(16, b"-lost-too").unwrap();
        assert!(contents.is_dirty());
        assert_eq!(contents.bytes(), b"synced-more-lost-lost-too");
        let reverted = contents.revert();
        assert_eq!(contents.bytes(), b"synced-more");
        assert_eq!(
            reverted,
            Reverted {
                changes: 1,
                bytes: 14
            }
        );
        assert!(!contents.is_dirty());
    }

    #[test]
    fn appends_in_a_row_keep_one_undo_entry() {
        let mut contents = file(b"x");
        for _ in 0..1000 {
            let len = contents.len();
            contents.write(len, b"abc").unwrap();
        }
        assert_eq!(contents.undo.len(), 1);
        contents.revert();
        assert_eq!(contents.bytes(), b"x");
    }

    #[test]
    fn overwrites_truncates_and_holes_are_taken_back_in_reverse() {
        let mut contents = file(b"0123456789");
        contents.write(2, b"ab").unwrap();
        contents.set_len(4).unwrap();
        contents.write(8, b"zz").unwrap(); // beyond the end: a gap of zeros
        assert_eq!(contents.bytes(), b"01ab\0\0\0\0zz");
        contents.zero(1, 2);
        contents.set_len(20).unwrap();
        contents.write(3, b"QQQQQQQ").unwrap();
        contents.set_len(1).unwrap();
        assert_eq!(contents.bytes(), b"0");
        contents.revert();
        assert_eq!(contents.bytes(), b"0123456789");
    }

    #[test]
    fn only_changes_after_the_last_sync_are_reverted() {
        let mut contents = file(b"aaaa");
        contents.write(0, b"bb").unwrap();
        contents.set_len(3).unwrap();
        contents.sync();
        contents.write(1, b"cccc").unwrap();
        contents.set_len(0).unwrap();
        contents.revert();
        assert_eq!(contents.bytes(), b"bba");
        // A second crash with nothing new changes nothing.
        assert_eq!(contents.revert(), Reverted::default());
        assert_eq!(contents.bytes(), b"bba");
    }

    #[test]
    fn a_new_file_never_synced_reverts_to_empty() {
        let mut contents = Contents::default();
        contents.write(0, b"hello").unwrap();
        contents.write(100, b"world").unwrap();
        contents.revert();
        assert_eq!(contents.len(), 0);
    }

    #[test]
    fn reads_stop_at_the_end_and_huge_offsets_are_refused() {
        let contents = file(b"hello");
        assert_eq!(contents.read(1, 3), b"ell");
        assert_eq!(contents.read(3, 100), b"lo");
        assert_eq!(contents.read(5, 1), b"");
        assert_eq!(contents.read(u64::MAX, 1), b"");
        let mut contents = file(b"x");
        assert_eq!(contents.write(u64::MAX, b"y"), Err(TooLarge));
        assert_eq!(contents.write(MAX_FILE, b"y"), Err(TooLarge));
        assert_eq!(contents.set_len(MAX_FILE + 1), Err(TooLarge));
        assert!(!contents.is_dirty());
        assert_eq!(contents.bytes(), b"x");
    }

    #[test]
    fn random_histories_revert_to_the_last_synced_state() {
        // A deterministic mix of operations against a plain model of the
        // durable state.
        let mut contents = Contents::default();
        let mut durable: Vec<u8> = Vec::new();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |bound: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % bound
        };
        for round in 0..2000 {
            match next(6) {
                0 | 1 => {
                    let offset = next(64);
                    let data: Vec<u8> = (0..next(16)).map(|i| (i as u8) ^ (round as u8)).collect();
                    contents.write(offset, &data).unwrap();
                }
                2 => contents.set_len(next(80)).unwrap(),
                3 => contents.zero(next(64), next(20)),
                4 => {
                    contents.sync();
                    durable = contents.bytes().to_vec();
                }
                _ => {
                    contents.revert();
                    assert_eq!(contents.bytes(), durable.as_slice(), "round {round}");
                }
            }
        }
    }
}
