//! Clearing windows (清算场次) and the positions (头寸) inter-branch entries build in them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::currency::Currency;
use crate::id::BranchCode;
use crate::ledger::Position;
use crate::time::Timestamp;

/// Where a window stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WindowStatus {
    /// Collecting inter-branch entries.
    Open,
    /// No longer collecting; waiting to settle.
    Closed,
    /// Settled; it never changes again.
    Settled,
    /// Abandoned before anything settled.
    Aborted,
}

impl WindowStatus {
    /// The status as a lower-case word.
    pub fn name(self) -> &'static str {
        match self {
            WindowStatus::Open => "open",
            WindowStatus::Closed => "closed",
            WindowStatus::Settled => "settled",
            WindowStatus::Aborted => "aborted",
        }
    }
}

/// A branch's gross flows in one window and currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchFlows {
    /// What the branch paid out to other branches.
    pub paid: Amount,
    /// What it received from other branches.
    pub received: Amount,
    /// How many inter-branch entries it took part in.
    pub count: u64,
}

impl BranchFlows {
    /// The multilateral net position: positive when the branch is owed money,
    /// negative when it owes the clearing center.
    pub fn net(&self) -> Amount {
        self.received - self.paid
    }
}

/// The gross amount one branch paid another in one window and currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairFlows {
    /// Total paid from payer to payee.
    pub amount: Amount,
    /// How many entries.
    pub count: u64,
}

/// A clearing window and its positions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClearingWindow {
    /// Sequential id, from 1.
    pub id: u64,
    /// Where it stands.
    pub status: WindowStatus,
    /// When it opened.
    pub opened_at: Timestamp,
    /// Where in the log it opened.
    pub opened: Position,
    /// When it closed.
    pub closed_at: Option<Timestamp>,
    /// Per branch and currency: gross flows.
    pub branches: BTreeMap<(BranchCode, Currency), BranchFlows>,
    /// Per (payer, payee, currency): gross amounts.
    pub pairs: BTreeMap<(BranchCode, BranchCode, Currency), PairFlows>,
}

impl ClearingWindow {
    /// A new, empty, open window.
    pub fn open(id: u64, at: Timestamp, opened: Position) -> ClearingWindow {
        ClearingWindow {
            id,
            status: WindowStatus::Open,
            opened_at: at,
            opened,
            closed_at: None,
            branches: BTreeMap::new(),
            pairs: BTreeMap::new(),
        }
    }

    /// Adds one inter-branch entry's flows: `legs` are (branch, net amount
    /// paid out, positive; or received, negative), sorted by branch.
    pub fn add(&mut self, currency: Currency, legs: &[(BranchCode, Amount)]) {
        for (branch, net_out) in legs {
            let flows = self.branches.entry((branch.clone(), currency)).or_default();
            if net_out.is_positive() {
                flows.paid += *net_out;
            } else {
                flows.received += net_out.negated();
            }
            flows.count += 1;
        }
        for (payer, payee, amount) in allocate_pairs(legs) {
            let pair = self.pairs.entry((payer, payee, currency)).or_default();
            pair.amount += amount;
            pair.count += 1;
        }
    }
}

/// Splits an entry's per-branch nets into payer→payee amounts. Payers and
/// payees are matched greedily in branch-code order, which is deterministic and
/// exact for the common case of one payer and one payee.
pub fn allocate_pairs(legs: &[(BranchCode, Amount)]) -> Vec<(BranchCode, BranchCode, Amount)> {
    let mut payers: Vec<(BranchCode, Amount)> = legs
        .iter()
        .filter(|(_, net)| net.is_positive())
        .cloned()
        .collect();
    let mut payees: Vec<(BranchCode, Amount)> = legs
        .iter()
        .filter(|(_, net)| net.minor() < 0)
        .map(|(branch, net)| (branch.clone(), net.negated()))
        .collect();
    let mut pairs = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < payers.len() && j < payees.len() {
        let amount = payers[i].1.min(payees[j].1);
        pairs.push((payers[i].0.clone(), payees[j].0.clone(), amount));
        payers[i].1 -= amount;
        payees[j].1 -= amount;
        if payers[i].1.is_zero() {
            i += 1;
        }
        if payees[j].1.is_zero() {
            j += 1;
        }
    }
    pairs
}
