//! The one place values become bytes: bincode 2 with its standard
//! configuration (little-endian, variable-length integers). Encoding is
//! deterministic, which the state digest and the hash chain rely on.

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

/// Decodes a value that must fill `bytes` exactly.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    let (value, read) = bincode::serde::decode_from_slice(bytes, bincode::config::standard())
        .map_err(|error| DecodeError(error.to_string()))?;
    if read != bytes.len() {
        return Err(DecodeError(format!(
            "{} trailing bytes",
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

/// Bytes that are not a valid encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot decode: {0}")]
pub struct DecodeError(pub String);
