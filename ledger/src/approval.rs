//! Approval policy (集中授权): which entries must wait for an approver, and
//! whose authority suffices.

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::currency::Currency;
use crate::id::BranchCode;
use crate::limits::APPROVAL_TIERS_MAX;
use crate::rejection::Rejection;

/// One tier: entries of at least `at_least` need an approver of at least `authority`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorityTier {
    /// The smallest entry amount the tier covers.
    pub at_least: Amount,
    /// The authority level it needs.
    pub authority: u8,
}

/// The policy for entries touching one branch in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalPolicy {
    /// The branch.
    pub branch: BranchCode,
    /// The currency.
    pub currency: Currency,
    /// Entries whose debit total is at least this wait for approval (大额).
    pub threshold: Option<Amount>,
    /// Authority tiers, by rising amount.
    pub tiers: Vec<AuthorityTier>,
}

/// The authority an approver needs when no tier applies.
pub const AUTHORITY_DEFAULT: u8 = 1;

impl ApprovalPolicy {
    /// Checks the policy's shape.
    pub fn validate(&self) -> Result<(), Rejection> {
        let invalid = |reason: &str| {
            Err(Rejection::PolicyInvalid {
                reason: reason.to_string(),
            })
        };
        if self.tiers.len() > APPROVAL_TIERS_MAX {
            return invalid("too many tiers");
        }
        if self
            .threshold
            .is_some_and(|threshold| !threshold.is_positive())
        {
            return invalid("the threshold must be greater than zero");
        }
        if self
            .tiers
            .iter()
            .any(|tier| tier.at_least.minor() < 0 || tier.authority == 0)
        {
            return invalid("tier amounts must not be negative and authority must be at least 1");
        }
        let rising = self.tiers.windows(2).all(|pair| {
            pair[0].at_least < pair[1].at_least && pair[0].authority <= pair[1].authority
        });
        if !rising {
            return invalid("tiers must rise in amount and not fall in authority");
        }
        Ok(())
    }

    /// Whether an entry of `amount` must wait for approval.
    pub fn requires_approval(&self, amount: Amount) -> bool {
        self.threshold.is_some_and(|threshold| amount >= threshold)
    }

    /// The authority an approver needs for an entry of `amount`.
    pub fn authority_for(&self, amount: Amount) -> u8 {
        self.tiers
            .iter()
            .filter(|tier| amount >= tier.at_least)
            .map(|tier| tier.authority)
            .max()
            .unwrap_or(AUTHORITY_DEFAULT)
    }
}
