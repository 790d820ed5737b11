//! Encoded records kept side by side in large chunks of bytes.
//!
//! A ledger keeps every journal entry and audit record for good, and the
//! node stores each of them encoded anyway. As structs, one booked transfer
//! took about 700 bytes in a dozen allocations (the request, a copy of its
//! postings, each account id twice, the poster's name); its record is
//! about 85 bytes (`JournalEntry`'s encoding keeps each posting once).
//! Memory is what a growing ledger pays for first: every new page is a
//! fault and a page of zeroes. So records that will not change are kept as
//! their bytes, here, and decoded when they are read.

/// How many bytes a chunk holds. A record that does not fit in the rest of
/// the last chunk starts a new one; a larger record has a chunk of its own.
pub(crate) const CHUNK_BYTES: usize = 256 * 1024;

/// Where a record's bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    chunk: u32,
    start: u32,
    len: u32,
}

/// Records' bytes, appended and never moved (a full chunk is never
/// reallocated).
#[derive(Debug, Clone, Default)]
pub(crate) struct Chunks {
    chunks: Vec<Vec<u8>>,
}

impl Chunks {
    /// Appends a record made of `parts`, one after another.
    pub(crate) fn push(&mut self, parts: &[&[u8]]) -> Span {
        let len: usize = parts.iter().map(|part| part.len()).sum();
        let room = self
            .chunks
            .last()
            .is_some_and(|chunk| chunk.capacity() - chunk.len() >= len);
        if !room {
            self.chunks.push(Vec::with_capacity(CHUNK_BYTES.max(len)));
        }
        let chunk_no = self.chunks.len() - 1;
        let chunk = &mut self.chunks[chunk_no];
        let span = Span {
            chunk: u32::try_from(chunk_no).expect("fewer than 2^32 chunks"),
            start: u32::try_from(chunk.len()).expect("a chunk is under 4 GiB"),
            len: u32::try_from(len).expect("a record is under 4 GiB"),
        };
        for part in parts {
            chunk.extend_from_slice(part);
        }
        span
    }

    /// The bytes of the record at `span`.
    pub(crate) fn get(&self, span: Span) -> &[u8] {
        let start = span.start as usize;
        &self.chunks[span.chunk as usize][start..start + span.len as usize]
    }

    /// How many chunks are in use.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.chunks.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_back_whole_across_chunks() {
        let mut chunks = Chunks::default();
        let mut spans = Vec::new();
        for n in 0..10_000u32 {
            let head = n.to_le_bytes();
            // Every thousandth record is larger than a chunk.
            let body = vec![
                u8::try_from(n % 251).unwrap();
                if n % 1000 == 7 { CHUNK_BYTES + 3 } else { 40 }
            ];
            spans.push((n, body.len(), chunks.push(&[&head, &body])));
        }
        assert!(chunks.len() > 10, "the records span many chunks");
        for (n, body_len, span) in spans {
            let bytes = chunks.get(span);
            assert_eq!(bytes.len(), 4 + body_len);
            assert_eq!(bytes[..4], n.to_le_bytes());
            assert!(
                bytes[4..]
                    .iter()
                    .all(|&b| b == u8::try_from(n % 251).unwrap())
            );
        }
    }
}
