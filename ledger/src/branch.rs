//! Branches (机构): the bank's org tree. The clearing center is a branch too.

use serde::{Deserialize, Serialize};

use crate::id::{BranchCode, PrincipalName};
use crate::ledger::Position;

/// The request to create a branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewBranch {
    /// Branch code (机构号).
    pub code: BranchCode,
    /// Display name.
    pub name: String,
    /// Parent in the org tree; `None` for the root.
    pub parent: Option<BranchCode>,
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
    /// Where in the log it was created.
    pub created_at: Position,
    /// Who created it.
    pub created_by: PrincipalName,
}
