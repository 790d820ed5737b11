//! The one codec for everything the node stores or sends to another node:
//! a format byte, then the value in bincode (via `ledger::codec`). A reader
//! that meets a format it does not know refuses it instead of guessing.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The current format of stored and transmitted values. It changes whenever
/// the shape of a value changes (the ledger's records, its commands inside
/// log entries, the Raft messages), so that a store or a peer of another
/// build is refused by name instead of misread. 3: principals can be
/// revoked and their keys rotated (ledger snapshot format 6). 4: record keys
/// sort as their numbers, and the append-only tables have column families
/// of their own (ledger snapshot format 8). 5: an entry record keeps its
/// booked postings as what they add to its request's (ledger snapshot
/// format 9).
pub const FORMAT: u8 = 5;

/// Encodes `value` behind the format byte.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = vec![FORMAT];
    bytes.extend(ledger::codec::encode(value));
    bytes
}

/// Decodes bytes written by [`encode`].
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    match bytes.split_first() {
        Some((&FORMAT, rest)) => ledger::codec::decode(rest).map_err(CodecError::Decode),
        Some((&found, _)) => Err(CodecError::Format { found }),
        None => Err(CodecError::Empty),
    }
}

/// Bytes that are not a value of this format.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// Nothing at all.
    #[error("empty value")]
    Empty,
    /// A format this build does not read (written by a newer or incompatible version).
    #[error("data format {found} is not supported; this build reads format {FORMAT}")]
    Format {
        /// The byte found.
        found: u8,
    },
    /// Corrupt or truncated.
    #[error(transparent)]
    Decode(ledger::codec::DecodeError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_foreign_formats_are_refused() {
        let bytes = encode(&("SH01", 42u64));
        assert_eq!(bytes[0], FORMAT);
        assert_eq!(
            decode::<(String, u64)>(&bytes).unwrap(),
            ("SH01".to_string(), 42)
        );
        let mut future = bytes.clone();
        future[0] = FORMAT + 1;
        assert!(matches!(
            decode::<(String, u64)>(&future),
            Err(CodecError::Format { .. })
        ));
        assert!(matches!(
            decode::<(String, u64)>(&bytes[..bytes.len() - 1]),
            Err(CodecError::Decode(_))
        ));
        assert!(matches!(decode::<u64>(&[]), Err(CodecError::Empty)));
    }
}
