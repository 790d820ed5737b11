//! Principals: who may do what. API keys are stored only as SHA-256 hashes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::id::{BranchCode, PrincipalName};

/// A principal's role.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Role {
    /// A branch system: posts and reads for its own branch.
    Branch(BranchCode),
    /// Clearing-center operator: approvals, windows, statements, reconciliation.
    Operator,
    /// Read-only, everything.
    Auditor,
    /// Cluster membership, principals, policy.
    Admin,
}

/// A role string that is not one of the four forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a role; use branch:<code>, operator, auditor or admin")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(text: &str) -> Result<Role, UnknownRole> {
        match text {
            "operator" => Ok(Role::Operator),
            "auditor" => Ok(Role::Auditor),
            "admin" => Ok(Role::Admin),
            _ => text
                .strip_prefix("branch:")
                .and_then(|code| BranchCode::new(code).ok())
                .map(Role::Branch)
                .ok_or_else(|| UnknownRole(text.to_string())),
        }
    }
}

impl TryFrom<String> for Role {
    type Error = UnknownRole;
    fn try_from(text: String) -> Result<Role, UnknownRole> {
        text.parse()
    }
}

impl From<Role> for String {
    fn from(role: Role) -> String {
        role.to_string()
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Role::Branch(code) => write!(f, "branch:{code}"),
            Role::Operator => f.write_str("operator"),
            Role::Auditor => f.write_str("auditor"),
            Role::Admin => f.write_str("admin"),
        }
    }
}

impl fmt::Debug for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The SHA-256 of an API key. Keys are random and long, so a plain hash is
/// enough to make a stolen state file useless for logging in.
pub type KeyHash = [u8; 32];

/// The request to create a principal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPrincipal {
    /// Unique name.
    pub name: PrincipalName,
    /// Role.
    pub role: Role,
    /// Approval authority level (0 = may not approve).
    pub authority: u8,
    /// Hash of the API key.
    pub key_hash: KeyHash,
    /// A short, non-secret key id shown in the audit trail.
    pub key_id: String,
}

/// A principal as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// Unique name.
    pub name: PrincipalName,
    /// Role.
    pub role: Role,
    /// Approval authority level.
    pub authority: u8,
    /// Hash of the API key.
    pub key_hash: KeyHash,
    /// Non-secret key id.
    pub key_id: String,
    /// Revoked: its key no longer authenticates and its commands are refused.
    /// The principal stays, so that the history it made keeps its name.
    pub revoked: bool,
}

/// Who sent a command: recorded in the audit trail with every change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The authenticated principal, or [`Actor::SYSTEM`].
    pub principal: PrincipalName,
    /// The key id used.
    pub key_id: String,
    /// The client's address as the node saw it.
    pub client: String,
}

impl Actor {
    /// The principal name the node uses for its own commands (bootstrap,
    /// expiry). Clients can never act as it: the node fills in the actor.
    pub const SYSTEM: &'static str = "system";

    /// The node itself.
    pub fn system() -> Actor {
        Actor {
            principal: PrincipalName::new(Self::SYSTEM).expect("valid id"),
            key_id: String::new(),
            client: String::new(),
        }
    }

    /// Whether this is the node itself.
    pub fn is_system(&self) -> bool {
        self.principal.as_bytes() == Self::SYSTEM.as_bytes()
    }
}
