//! Clearing windows (清算场次), the positions (头寸) inter-branch entries build
//! in them, and net debit caps (净借记限额).
//!
//! A window's header lives in the `windows` table; its flows live in two
//! tables of their own, one record per (window, branch, currency) and per
//! (window, payer, payee, currency), so that posting an entry rewrites a few
//! small records rather than the whole window.

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::currency::Currency;
use crate::id::{BranchCode, EntryId};
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
    /// Abandoned before anything settled; its positions were carried into
    /// the open window.
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

    /// Adds `other`'s flows to these.
    pub(crate) fn absorb(&mut self, other: &BranchFlows) {
        self.paid += other.paid;
        self.received += other.received;
        self.count += other.count;
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

/// A clearing window: its state and its history. Its positions are read
/// with [`crate::Ledger::window_positions`].
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
    /// Where in the log it closed: every entry booked after this position
    /// belongs to a later window.
    pub closed: Option<Position>,
    /// How many inter-branch entries were booked into it.
    pub entries: u64,
    /// When it settled or was aborted.
    pub ended_at: Option<Timestamp>,
    /// Who closed, settled or aborted it last.
    pub ended_by: Option<crate::id::PrincipalName>,
    /// The settlement entries, once settled.
    pub settlement: Vec<EntryId>,
    /// The window an aborted window's positions were carried into.
    pub carried_to: Option<u64>,
    /// The aborted windows whose positions were carried into this one.
    pub carried_from: Vec<u64>,
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
            closed: None,
            entries: 0,
            ended_at: None,
            ended_by: None,
            settlement: Vec::new(),
            carried_to: None,
            carried_from: Vec::new(),
        }
    }
}

/// A window's positions: per branch and currency (multilateral, against the
/// clearing center) and per ordered pair and currency (bilateral).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowPositions {
    /// (branch, currency, flows), in branch then currency order.
    pub multilateral: Vec<(BranchCode, Currency, BranchFlows)>,
    /// (payer, payee, currency, flows), in key order.
    pub bilateral: Vec<(BranchCode, BranchCode, Currency, PairFlows)>,
}

impl WindowPositions {
    /// A branch's flows in `currency` (zero when it took no part).
    pub fn branch(&self, branch: &BranchCode, currency: Currency) -> BranchFlows {
        self.multilateral
            .iter()
            .find(|(b, c, _)| b == branch && *c == currency)
            .map(|(_, _, flows)| *flows)
            .unwrap_or_default()
    }

    /// What `payer` paid `payee` in `currency` (zero when nothing).
    pub fn pair(&self, payer: &BranchCode, payee: &BranchCode, currency: Currency) -> PairFlows {
        self.bilateral
            .iter()
            .find(|(p, q, c, _)| p == payer && q == payee && *c == currency)
            .map(|(_, _, _, flows)| *flows)
            .unwrap_or_default()
    }

    /// The sum of the net positions in `currency`: zero in every window.
    pub fn net_sum(&self, currency: Currency) -> Amount {
        self.multilateral
            .iter()
            .filter(|(_, c, _)| *c == currency)
            .fold(Amount::ZERO, |sum, (_, _, flows)| sum + flows.net())
    }
}

/// A branch's net debit cap in one currency: the most it may owe across
/// the unsettled windows, pending inter-branch entries included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetDebitCap {
    /// The branch.
    pub branch: BranchCode,
    /// The currency.
    pub currency: Currency,
    /// The cap (zero: the branch may not owe anything).
    pub cap: Amount,
    /// The share of the cap, in percent (1–100), from which the branch shows
    /// a warning.
    pub warning_percent: u8,
}

impl NetDebitCap {
    /// The exposure from which the branch shows a warning.
    pub fn warning_at(&self) -> Amount {
        Amount::from_minor(self.cap.minor() * i128::from(self.warning_percent) / 100)
    }
}

/// What a branch owes in one currency, as counted against its cap.
///
/// Closed windows may settle in any order, so money a branch is owed in one
/// closed window does not offset what it owes in another: each closed,
/// unsettled window counts with its net debit, or zero. Within the open
/// window receipts offset payments, as they will when it settles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exposure {
    /// The sum of the net debits (paid less received, when positive) of the
    /// closed windows that have not settled.
    pub closed: Amount,
    /// Paid less received in the open window (negative when the branch is
    /// owed money).
    pub open: Amount,
    /// What pending inter-branch entries would make it pay.
    pub pending: Amount,
}

impl Exposure {
    /// The net debit position counted against the cap: the most the branch
    /// could owe however its windows settle and its pending entries end.
    pub fn net_debit(&self) -> Amount {
        self.closed + self.open.max(Amount::ZERO) + self.pending
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
