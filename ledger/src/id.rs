//! Client-chosen identifiers.
//!
//! Every id in the ledger (accounts, journal entries, branches, principals) is
//! 1 to [`ID_LENGTH_MAX`] characters of `[A-Za-z0-9._:-]`. Validation happens
//! once, where the id is constructed, so everything past that point can rely on it.

use std::fmt;

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

/// Checks `text` against the id alphabet and length.
pub fn validate_id(text: &str) -> Result<(), IdError> {
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

macro_rules! define_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps `text`.
            pub fn new(text: impl Into<String>) -> Result<Self, IdError> {
                let text = text.into();
                validate_id(&text)?;
                Ok(Self(text))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
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
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(text: &str) -> Result<Self, IdError> {
                Self::new(text)
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
}
