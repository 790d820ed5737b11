//! Client-chosen identifiers.
//!
//! Every id in the ledger (accounts, journal entries, branches, principals) is
//! 1 to [`ID_LENGTH_MAX`] characters of `[A-Za-z0-9._:-]`. Validation happens
//! once, where the id is constructed, so everything past that point can rely on it.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::limits::ID_LENGTH_MAX;

/// Why a string is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The id is empty.
    #[error("id is empty")]
    Empty,
    /// The id is longer than the limit.
    #[error("id is {length} characters long; at most {ID_LENGTH_MAX} are allowed")]
    TooLong {
        /// The length that was given.
        length: usize,
    },
    /// The id has a character outside `[A-Za-z0-9._:-]`.
    #[error("id has the character {character:?}; only A-Z, a-z, 0-9 and . _ : - are allowed")]
    BadCharacter {
        /// The first offending character.
        character: char,
    },
}

/// Whether `bytes` are a valid id: 1 to [`ID_LENGTH_MAX`] bytes of
/// `[A-Za-z0-9._:-]` (so ASCII, one character a byte).
pub(crate) fn is_id(bytes: &[u8]) -> bool {
    !bytes.is_empty()
        && bytes.len() <= ID_LENGTH_MAX
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// Checks `text` against the id alphabet and length.
pub fn validate_id(text: &str) -> Result<(), IdError> {
    if is_id(text.as_bytes()) {
        return Ok(());
    }
    if text.is_empty() {
        return Err(IdError::Empty);
    }
    // The limit is in characters, as the error reports it.
    if text.len() > ID_LENGTH_MAX && text.chars().count() > ID_LENGTH_MAX {
        return Err(IdError::TooLong {
            length: text.chars().count(),
        });
    }
    match text
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-')))
    {
        Some(character) => Err(IdError::BadCharacter { character }),
        None => Ok(()),
    }
}

/// How many bytes of an id are held inline; a longer id is shared on the heap.
const INLINE: usize = 22;

/// An id's bytes: inline when short (no allocation to create, clone or
/// compare), else shared. The same size as a `String`.
#[derive(Clone)]
enum Text {
    Inline { len: u8, bytes: [u8; INLINE] },
    Shared(Arc<str>),
}

impl Text {
    /// `text` must be a validated id.
    fn new(text: String) -> Text {
        Text::inline(&text).unwrap_or_else(|| Text::Shared(Arc::from(text)))
    }

    /// `text` must be a validated id.
    fn from_str(text: &str) -> Text {
        Text::inline(text).unwrap_or_else(|| Text::Shared(Arc::from(text)))
    }

    fn inline(text: &str) -> Option<Text> {
        (text.len() <= INLINE).then(|| {
            let mut bytes = [0; INLINE];
            bytes[..text.len()].copy_from_slice(text.as_bytes());
            Text::Inline {
                len: text.len() as u8,
                bytes,
            }
        })
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Text::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Text::Shared(text) => text.as_bytes(),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            // Validated ids are ASCII.
            Text::Inline { .. } => std::str::from_utf8(self.as_bytes()).expect("ids are ASCII"),
            Text::Shared(text) => text,
        }
    }
}

/// Deserializes a value from a string through its `FromStr`, from the
/// decoder's own bytes where it can lend them (no `String` made first).
pub(crate) struct FromText<T>(std::marker::PhantomData<T>);

impl<T> FromText<T> {
    pub(crate) fn new() -> Self {
        FromText(std::marker::PhantomData)
    }
}

impl<T> serde::de::Visitor<'_> for FromText<T>
where
    T: std::str::FromStr,
    T::Err: fmt::Display,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<T, E> {
        text.parse().map_err(E::custom)
    }
}

macro_rules! define_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(Text);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_str(FromText::new())
            }
        }

        impl $name {
            /// Validates and wraps `text`.
            pub fn new(text: impl Into<String>) -> Result<Self, IdError> {
                let text = text.into();
                validate_id(&text)?;
                Ok(Self(Text::new(text)))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }

            /// The id's bytes (ASCII).
            pub(crate) fn as_bytes(&self) -> &[u8] {
                self.0.as_bytes()
            }
        }

        // Compared, ordered and hashed as the text, as a `String` would be.
        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.as_bytes() == other.as_bytes()
            }
        }

        impl Eq for $name {}

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        impl Ord for $name {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                self.as_bytes().cmp(other.as_bytes())
            }
        }

        impl std::hash::Hash for $name {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                self.as_str().hash(state)
            }
        }

        // Serialized as a string, as before.
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(text: String) -> Result<Self, IdError> {
                Self::new(text)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.as_str().to_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(text: &str) -> Result<Self, IdError> {
                validate_id(text)?;
                Ok(Self(Text::from_str(text)))
            }
        }
    };
}

define_id!(
    /// An account's id, chosen by the branch system that opens it.
    AccountId
);
define_id!(
    /// A journal entry's id, chosen by the client; the idempotency key.
    EntryId
);
define_id!(
    /// A branch's code (机构号). The clearing center is a branch too.
    BranchCode
);
define_id!(
    /// A principal's name: who acts, as recorded in the audit trail.
    PrincipalName
);
define_id!(
    /// A statement's id.
    StatementId
);
define_id!(
    /// The code of an outside clearing system through which external
    /// participants are reached (e.g. `CNAPS-HVPS`).
    SchemeCode
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_the_documented_alphabet() {
        assert!(AccountId::new("CN-0001.cust:42_a").is_ok());
        assert_eq!(AccountId::new(""), Err(IdError::Empty));
        assert_eq!(
            AccountId::new("a b"),
            Err(IdError::BadCharacter { character: ' ' })
        );
        assert_eq!(
            AccountId::new("x".repeat(65)),
            Err(IdError::TooLong { length: 65 })
        );
        assert!(AccountId::new("x".repeat(64)).is_ok());
    }

    /// The byte check that ids take first accepts exactly what the rule,
    /// read character by character, accepts.
    #[test]
    fn the_byte_check_is_the_rule() {
        let rule = |text: &str| {
            (1..=ID_LENGTH_MAX).contains(&text.chars().count())
                && text
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".:_-".contains(c))
        };
        let mut texts: Vec<String> = (0..=0x2ff_u32)
            .filter_map(char::from_u32)
            .flat_map(|c| [c.to_string(), format!("a{c}9"), c.to_string().repeat(64)])
            .collect();
        texts.extend(["", "é", "\u{4e2d}", "x".repeat(65).as_str()].map(String::from));
        for text in texts {
            assert_eq!(validate_id(&text).is_ok(), rule(&text), "{text:?}");
            assert_eq!(is_id(text.as_bytes()), rule(&text), "{text:?}");
        }
    }

    #[test]
    fn short_and_long_ids_compare_and_encode_as_their_text() {
        let texts = [
            "a".to_string(),
            "a.b".to_string(),
            "b".to_string(),
            "x".repeat(INLINE - 1),
            "x".repeat(INLINE),
            "x".repeat(INLINE + 1),
            "y".repeat(64),
        ];
        for a in &texts {
            let id = EntryId::new(a.clone()).unwrap();
            assert_eq!(id.as_str(), a);
            assert_eq!(id.to_string(), *a);
            assert_eq!(String::from(id.clone()), *a);
            assert_eq!(crate::codec::encode(&id), crate::codec::encode(a));
            let back: EntryId = crate::codec::decode(&crate::codec::encode(a)).unwrap();
            assert_eq!(back, id);
            for b in &texts {
                let other = EntryId::new(b.clone()).unwrap();
                assert_eq!(id.cmp(&other), a.cmp(b), "{a} vs {b}");
                assert_eq!(id == other, a == b);
            }
        }
        let bad: Result<EntryId, _> = crate::codec::decode(&crate::codec::encode(&"a b"));
        assert!(bad.is_err());
    }
}
