//! Reading ahead: before a run of entries is posted, the memory their
//! lookups and postings will touch is read, level by level, so that the
//! waits for it overlap.
//!
//! Posting one entry follows pointers: the id's slot in an index gives an
//! account number, the number gives the account, the account gives the end
//! of its balance history. Each step waits for memory once the ledger
//! outgrows the caches, and one entry's steps cannot overlap. The steps of
//! different entries can: these functions take each step for a whole run of
//! entries before the next, so a run pays for about three waits instead of
//! three per account. They only read, and what they read is thrown away
//! (`black_box` keeps the reads from being optimised out); posting then finds
//! the same memory in the cache.

use std::hint::black_box;

use crate::command::{Command, CommandKind};
use crate::journal_entry::NewEntry;
use crate::ledger::Ledger;

/// How many entries are read ahead at a time: enough for the waits to
/// overlap, few enough for what they read to stay in the cache.
pub(crate) const WARM_ENTRIES: usize = 32;

impl Ledger {
    /// Reads ahead for posting `entries`.
    pub(crate) fn warm_entries<'a>(&self, entries: impl Iterator<Item = &'a NewEntry> + Clone) {
        let mut sink = self
            .entries
            .warm_index(entries.clone().map(|entry| &entry.id));
        sink ^= self.accounts.warm_index(
            entries
                .clone()
                .flat_map(|entry| entry.postings.iter().map(|posting| &posting.account)),
        );
        let mut accounts = Vec::with_capacity(2 * WARM_ENTRIES);
        for entry in entries {
            for posting in &entry.postings {
                accounts.extend(self.accounts.guess(&posting.account));
            }
        }
        for no in &accounts {
            sink ^= self.accounts.warm(*no);
        }
        for no in &accounts {
            sink ^= self.accounts.warm_history(*no);
        }
        black_box(sink);
    }

    /// Reads ahead for the entries that `commands` post.
    pub(crate) fn warm_commands(&self, commands: &[Command]) {
        let entries = commands.iter().flat_map(|command| match &command.kind {
            CommandKind::PostEntries { entries, .. } => entries.as_slice(),
            _ => &[],
        });
        self.warm_entries(entries.take(WARM_ENTRIES));
    }
}
