//! The one place values become bytes: bincode 2 with its standard
//! configuration (little-endian, variable-length integers). Encoding is
//! deterministic, which the state digest and the hash chain rely on.
//!
//! Record keys are encoded apart, big-endian with fixed-width integers, so
//! that their bytes sort as their numbers do: a store that keeps records in
//! byte order then receives the append-only tables' new records at their
//! end, and never has to merge them into what it already holds.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Encodes a value. Encoding in-memory values cannot fail.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    bincode::serde::encode_to_vec(value, bincode::config::standard())
        .expect("in-memory values always encode")
}

/// Encodes a value at the end of `bytes` (which can be reused, unlike
/// [`encode`]'s new vector each time).
pub(crate) fn encode_into<T: Serialize>(value: &T, bytes: &mut Vec<u8>) {
    bincode::serde::encode_into_std_write(value, bytes, bincode::config::standard())
        .expect("in-memory values always encode");
}

// Hand encoders, for the records every posted entry writes: each appends
// what `encode` writes for the same value (bincode's standard
// configuration), several times faster than through serde. The callers'
// tests hold their hand encodings equal to serde's.

/// An unsigned integer of any width up to 64 bits (the encoding does not
/// depend on the type, except for `u8`, which is one raw byte): below 251
/// in one byte, else a marker byte and 2, 4 or 8 little-endian bytes.
pub(crate) fn put_varint(out: &mut Vec<u8>, n: u64) {
    if n <= 250 {
        out.push(n as u8);
    } else if n <= u64::from(u16::MAX) {
        out.push(251);
        out.extend_from_slice(&(n as u16).to_le_bytes());
    } else if n <= u64::from(u32::MAX) {
        out.push(252);
        out.extend_from_slice(&(n as u32).to_le_bytes());
    } else {
        out.push(253);
        out.extend_from_slice(&n.to_le_bytes());
    }
}

/// A signed integer of any width up to 128 bits: zig-zag mapped (the result
/// is the same for the narrower types), then as [`put_varint`], with a
/// further marker for the 128-bit range.
pub(crate) fn put_signed(out: &mut Vec<u8>, n: i128) {
    let zigzag = if n < 0 {
        !(n as u128) * 2 + 1
    } else {
        (n as u128) * 2
    };
    match u64::try_from(zigzag) {
        Ok(n) => put_varint(out, n),
        Err(_) => {
            out.push(254);
            out.extend_from_slice(&zigzag.to_le_bytes());
        }
    }
}

/// A string (as its UTF-8 bytes): its length, then its bytes.
pub(crate) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Keys: integers big-endian and fixed-width, so that byte order is number order.
fn key_config() -> impl bincode::config::Config {
    bincode::config::standard()
        .with_big_endian()
        .with_fixed_int_encoding()
}

/// Encodes a record key so that keys of numbers (and tuples of them) sort as
/// the numbers do.
pub(crate) fn encode_key<T: Serialize>(key: &T) -> Vec<u8> {
    bincode::serde::encode_to_vec(key, key_config()).expect("in-memory keys always encode")
}

/// Decodes a record key that must fill `bytes` exactly.
pub(crate) fn decode_key<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    decode_whole(bytes, key_config(), " in a key")
}

/// Decodes a value that must fill `bytes` exactly.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    decode_whole(bytes, bincode::config::standard(), "")
}

fn decode_whole<T: DeserializeOwned>(
    bytes: &[u8],
    config: impl bincode::config::Config,
    what: &str,
) -> Result<T, DecodeError> {
    let (value, read) = bincode::serde::decode_from_slice(bytes, config)
        .map_err(|error| DecodeError(error.to_string()))?;
    if read != bytes.len() {
        return Err(DecodeError(format!(
            "{} trailing bytes{what}",
            bytes.len() - read
        )));
    }
    Ok(value)
}

/// Decodes one value from the start of `bytes`, and says how many bytes it
/// took.
pub(crate) fn decode_prefix<T: DeserializeOwned>(bytes: &[u8]) -> Result<(T, usize), DecodeError> {
    bincode::serde::decode_from_slice(bytes, bincode::config::standard())
        .map_err(|error| DecodeError(error.to_string()))
}

/// The unsigned integer a value's encoding starts with (a struct whose first
/// field is one), read in place, and the bytes after it; `None` if `bytes`
/// cannot start so. bincode writes it as a variable-length integer: below
/// 251 in one byte, else a marker byte and 2, 4 or 8 little-endian bytes.
pub(crate) fn leading_u64(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let (&marker, rest) = bytes.split_first()?;
    Some(match marker {
        0..=250 => (u64::from(marker), rest),
        251 => {
            let (n, rest) = rest.split_first_chunk::<2>()?;
            (u64::from(u16::from_le_bytes(*n)), rest)
        }
        252 => {
            let (n, rest) = rest.split_first_chunk::<4>()?;
            (u64::from(u32::from_le_bytes(*n)), rest)
        }
        253 => {
            let (n, rest) = rest.split_first_chunk::<8>()?;
            (u64::from_le_bytes(*n), rest)
        }
        _ => return None,
    })
}

/// The bytes of the string a value's encoding starts with (a struct whose
/// first field is a string, or a newtype around one), read in place without
/// decoding the rest; `None` if `bytes` cannot start so. bincode writes a
/// string as its length (see [`leading_u64`]) and then its bytes.
pub(crate) fn leading_string(bytes: &[u8]) -> Option<&[u8]> {
    let (len, rest) = leading_u64(bytes)?;
    rest.get(..usize::try_from(len).ok()?)
}

/// Bytes that are not a valid encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot decode: {0}")]
pub struct DecodeError(pub String);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Position;

    /// Keys of numbers, and of tuples of them, sort as the numbers do,
    /// across every width the value encoding would give them; and decode
    /// back to themselves.
    #[test]
    fn keys_sort_as_their_numbers() {
        let numbers: [u64; 9] = [0, 1, 250, 251, 255, 256, 65_535, 65_536, u64::MAX];
        for pair in numbers.windows(2) {
            assert!(encode_key(&pair[0]) < encode_key(&pair[1]), "{pair:?}");
        }
        let positions = [
            (Position { index: 7, seq: 3 }, 9u32),
            (Position { index: 7, seq: 300 }, 1),
            (Position { index: 300, seq: 0 }, 0),
            (Position { index: 300, seq: 0 }, 70_000),
        ];
        for pair in positions.windows(2) {
            assert!(encode_key(&pair[0]) < encode_key(&pair[1]), "{pair:?}");
        }
        for key in positions {
            assert_eq!(decode_key::<(Position, u32)>(&encode_key(&key)), Ok(key));
        }
        assert!(decode_key::<u64>(&[0; 9]).is_err(), "a trailing byte");
    }

    /// The leading string is read in place at every width of its length.
    #[test]
    fn a_leading_string_is_read_without_decoding() {
        for len in [0, 1, 250, 251, 300, 65_535, 65_536, 70_000] {
            let text = "x".repeat(len);
            let bytes = encode(&(text.clone(), 7u32, "rest"));
            assert_eq!(leading_string(&bytes), Some(text.as_bytes()), "{len}");
            let header = bytes.len() - len - encode(&(7u32, "rest")).len();
            if len > 0 {
                let cut = &bytes[..header + len - 1];
                assert_eq!(leading_string(cut), None, "{len} cut short");
            }
        }
        assert_eq!(leading_string(&[]), None);
        assert_eq!(leading_string(&[5, b'a']), None, "cut short");
        assert_eq!(leading_string(&[254]), None, "not a string length");
    }
}
