//! Branches (机构): the bank's org tree. The clearing center is a branch too.
//!
//! An external participant (another bank reached through an outside clearing
//! system) is a branch of kind [`BranchKind::External`]: it stands outside
//! the org tree, has no principals of its own, and takes part in clearing
//! windows like a branch. Its net position settles through the clearing
//! center's central bank reserve account and the participant's vostro
//! account, not through settlement reserves (see `clearing.rs`).

use serde::{Deserialize, Serialize};

use crate::id::{BranchCode, PrincipalName, SchemeCode};
use crate::ledger::Position;

/// Whether a branch is ours or another bank's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BranchKind {
    /// A branch of the bank's org tree (the clearing center among them).
    #[default]
    Internal,
    /// Another bank, reached through an outside clearing system.
    External {
        /// The outside clearing system (e.g. `CNAPS-HVPS`).
        scheme: SchemeCode,
    },
}

impl BranchKind {
    /// The kind as a lower-case word: `internal` or `external`.
    pub fn name(&self) -> &'static str {
        match self {
            BranchKind::Internal => "internal",
            BranchKind::External { .. } => "external",
        }
    }

    /// The outside clearing system of an external participant.
    pub fn scheme(&self) -> Option<&SchemeCode> {
        match self {
            BranchKind::Internal => None,
            BranchKind::External { scheme } => Some(scheme),
        }
    }

    /// Whether this is an external participant.
    pub fn is_external(&self) -> bool {
        matches!(self, BranchKind::External { .. })
    }
}

/// The request to create a branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewBranch {
    /// Branch code (机构号).
    pub code: BranchCode,
    /// Display name.
    pub name: String,
    /// Parent in the org tree; `None` for the root (and for every external
    /// participant, which stands outside the tree).
    pub parent: Option<BranchCode>,
    /// Ours, or an external participant.
    pub kind: BranchKind,
}

/// A branch in the org tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Branch {
    /// Branch code.
    pub code: BranchCode,
    /// Display name.
    pub name: String,
    /// Parent in the org tree.
    pub parent: Option<BranchCode>,
    /// Ours, or an external participant.
    pub kind: BranchKind,
    /// Where in the log it was created.
    pub created_at: Position,
    /// Who created it.
    pub created_by: PrincipalName,
}
