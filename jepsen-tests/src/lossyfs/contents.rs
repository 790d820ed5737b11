//! One file's bytes (kept in a backing file on the machine's disk), and the
//! undo log of what happened to them since the file was last synced:
//! everything the [`lossyfs`](super) filesystem needs to put a file back to
//! its last durable state. No FUSE here.
//!
//! Each change that is not yet durable (a write, a truncate, a zeroed range)
//! leaves one [`Undo`]: the length before it, and the bytes it overwrote
//! inside that length (kept in memory; appends overwrite nothing, so a log
//! that only grows costs one entry). Replaying the log backwards restores the
//! file exactly as it was at the last sync; a sync empties the log.

use std::fs::File;
use std::os::unix::fs::FileExt;

/// The largest file the filesystem holds.
pub const MAX_FILE: u64 = 16 << 30;

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

/// Why a change could not be made.
#[derive(Debug)]
pub enum Refused {
    /// Past [`MAX_FILE`].
    TooLarge,
    /// The backing file failed.
    Io(std::io::Error),
}

impl From<std::io::Error> for Refused {
    fn from(error: std::io::Error) -> Refused {
        Refused::Io(error)
    }
}

/// A file: its backing file, its length and the changes since its last sync.
#[derive(Debug)]
pub struct Contents {
    file: File,
    len: u64,
    undo: Vec<Undo>,
    unsynced_bytes: u64,
}

fn end_of(offset: u64, len: usize) -> Result<u64, Refused> {
    let end = offset.checked_add(len as u64).ok_or(Refused::TooLarge)?;
    if end > MAX_FILE {
        return Err(Refused::TooLarge);
    }
    Ok(end)
}

impl Contents {
    /// An empty file kept in `file` (opened for reading and writing, empty).
    pub fn new(file: File) -> Contents {
        Contents {
            file,
            len: 0,
            undo: Vec::new(),
            unsynced_bytes: 0,
        }
    }

    /// The current length.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether any change is not yet synced.
    pub fn is_dirty(&self) -> bool {
        !self.undo.is_empty()
    }

    /// `[from, to)` of the backing file (`to` at most the length).
    fn bytes(&self, from: u64, to: u64) -> std::io::Result<Vec<u8>> {
        let size = usize::try_from(to.saturating_sub(from)).map_err(std::io::Error::other)?;
        let mut bytes = vec![0; size];
        self.file.read_exact_at(&mut bytes, from)?;
        Ok(bytes)
    }

    /// Up to `size` bytes from `offset` (fewer at the end of the file).
    pub fn read(&self, offset: u64, size: u32) -> std::io::Result<Vec<u8>> {
        if offset >= self.len {
            return Ok(Vec::new());
        }
        let end = offset.saturating_add(u64::from(size)).min(self.len);
        self.bytes(offset, end)
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
    pub fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), Refused> {
        let end = end_of(offset, data.len())?;
        if data.is_empty() {
            return Ok(());
        }
        let old = self.bytes(offset.min(self.len), end.min(self.len))?;
        // Recorded first: a write that fails halfway is taken back too.
        self.record(Undo {
            offset,
            old,
            old_len: self.len,
        });
        self.file.write_all_at(data, offset)?;
        self.len = self.len.max(end);
        self.unsynced_bytes += data.len() as u64;
        Ok(())
    }

    /// Sets the length (zeros when it grows).
    pub fn set_len(&mut self, len: u64) -> Result<(), Refused> {
        end_of(len, 0)?;
        if len == self.len {
            return Ok(());
        }
        let old = self.bytes(len.min(self.len), self.len)?;
        self.file.set_len(len)?;
        self.record(Undo {
            offset: len,
            old,
            old_len: self.len,
        });
        self.len = len;
        Ok(())
    }

    /// Zeros `len` bytes from `offset`, within the current length (a hole
    /// punched with the length kept).
    pub fn zero(&mut self, offset: u64, len: u64) -> Result<(), Refused> {
        if offset >= self.len || len == 0 {
            return Ok(());
        }
        let end = offset.saturating_add(len).min(self.len);
        let old = self.bytes(offset, end)?;
        let zeros = vec![0; old.len()];
        self.record(Undo {
            offset,
            old,
            old_len: self.len,
        });
        self.file.write_all_at(&zeros, offset)?;
        Ok(())
    }

    /// Makes every change so far durable.
    pub fn sync(&mut self) {
        self.undo.clear();
        self.unsynced_bytes = 0;
    }

    /// Takes back every change since the last sync.
    pub fn revert(&mut self) -> std::io::Result<Reverted> {
        let reverted = Reverted {
            changes: self.undo.len() as u64,
            bytes: self.unsynced_bytes,
        };
        while let Some(undo) = self.undo.pop() {
            self.file.write_all_at(&undo.old, undo.offset)?;
            self.file.set_len(undo.old_len)?;
            self.len = undo.old_len;
        }
        self.unsynced_bytes = 0;
        Ok(reverted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty() -> Contents {
        Contents::new(tempfile::tempfile().unwrap())
    }

    fn file(bytes: &[u8]) -> Contents {
        let mut contents = empty();
        contents.write(0, bytes).unwrap();
        contents.sync();
        contents
    }

    impl Contents {
        fn all(&self) -> Vec<u8> {
            let on_disk = self.file.metadata().unwrap().len();
            assert_eq!(on_disk, self.len, "the backing file's length");
            self.bytes(0, self.len).unwrap()
        }
    }

    #[test]
    fn a_revert_drops_unsynced_appends_and_keeps_synced_ones() {
        let mut contents = file(b"synced");
        contents.write(6, b"-more").unwrap();
        contents.sync();
        contents.write(11, b"-lost").unwrap();
        contents.write(16, b"-lost-too").unwrap();
        assert!(contents.is_dirty());
        assert_eq!(contents.all(), b"synced-more-lost-lost-too");
        let reverted = contents.revert().unwrap();
        assert_eq!(contents.all(), b"synced-more");
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
        contents.revert().unwrap();
        assert_eq!(contents.all(), b"x");
    }

    #[test]
    fn overwrites_truncates_and_holes_are_taken_back_in_reverse() {
        let mut contents = file(b"0123456789");
        contents.write(2, b"ab").unwrap();
        contents.set_len(4).unwrap();
        contents.write(8, b"zz").unwrap(); // beyond the end: a gap of zeros
        assert_eq!(contents.all(), b"01ab\0\0\0\0zz");
        contents.zero(1, 2).unwrap();
        contents.set_len(20).unwrap();
        contents.write(3, b"QQQQQQQ").unwrap();
        contents.set_len(1).unwrap();
        assert_eq!(contents.all(), b"0");
        contents.revert().unwrap();
        assert_eq!(contents.all(), b"0123456789");
    }

    #[test]
    fn only_changes_after_the_last_sync_are_reverted() {
        let mut contents = file(b"aaaa");
        contents.write(0, b"bb").unwrap();
        contents.set_len(3).unwrap();
        contents.sync();
        contents.write(1, b"cccc").unwrap();
        contents.set_len(0).unwrap();
        contents.revert().unwrap();
        assert_eq!(contents.all(), b"bba");
        // A second crash with nothing new changes nothing.
        assert_eq!(contents.revert().unwrap(), Reverted::default());
        assert_eq!(contents.all(), b"bba");
    }

    #[test]
    fn a_new_file_never_synced_reverts_to_empty() {
        let mut contents = empty();
        contents.write(0, b"hello").unwrap();
        contents.write(100, b"world").unwrap();
        contents.revert().unwrap();
        assert_eq!(contents.len(), 0);
    }

    #[test]
    fn reads_stop_at_the_end_and_huge_offsets_are_refused() {
        let contents = file(b"hello");
        assert_eq!(contents.read(1, 3).unwrap(), b"ell");
        assert_eq!(contents.read(3, 100).unwrap(), b"lo");
        assert_eq!(contents.read(5, 1).unwrap(), b"");
        assert_eq!(contents.read(u64::MAX, 1).unwrap(), b"");
        let mut contents = file(b"x");
        assert!(matches!(
            contents.write(u64::MAX, b"y"),
            Err(Refused::TooLarge)
        ));
        assert!(matches!(
            contents.write(MAX_FILE, b"y"),
            Err(Refused::TooLarge)
        ));
        assert!(matches!(
            contents.set_len(MAX_FILE + 1),
            Err(Refused::TooLarge)
        ));
        assert!(!contents.is_dirty());
        assert_eq!(contents.all(), b"x");
    }

    #[test]
    fn random_histories_revert_to_the_last_synced_state() {
        // A deterministic mix of operations against a plain model of the
        // durable state.
        let mut contents = empty();
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
                3 => contents.zero(next(64), next(20)).unwrap(),
                4 => {
                    contents.sync();
                    durable = contents.all();
                }
                _ => {
                    contents.revert().unwrap();
                    assert_eq!(contents.all(), durable.as_slice(), "round {round}");
                }
            }
        }
    }
}
