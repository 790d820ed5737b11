//! Clearing (清算): booking inter-branch flows into the open window, net
//! debit caps, and closing, settling and aborting windows.
//!
//! Exactly one window is open once the first inter-branch entry (or an
//! `OpenWindow` command) has opened one. Closing a window is one command that
//! opens the next window at the same position, so an entry applied after the
//! close belongs to the next window and no entry can fall between two.
//!
//! Settling a closed window posts, for each branch with a nonzero net
//! position but the clearing center (the root of the org tree), one entry of
//! four postings:
//!
//! ```text
//! branch owes N (net -N):      Dr branch clearing N   Cr branch reserve N
//!                              Dr center reserve N    Cr center clearing N
//! branch is owed N (net +N):   Cr branch clearing N   Dr branch reserve N
//!                              Cr center reserve N    Dr center clearing N
//! ```
//!
//! An external participant (another bank, reached through an outside
//! clearing system) settles the same way, but through other accounts: its
//! vostro account (its settlement account with us) instead of a branch
//! reserve, and the center's central bank reserve account instead of the
//! center's settlement reserve, since the money moves between the banks'
//! accounts at the central bank, not within the bank's own reserves.
//!
//! Each entry balances within each branch, so it carries no clearing legs of
//! its own. The branch's clearing account loses exactly what the window put
//! on it; the center's clearing account takes the opposite of every other
//! branch's net, which is the center's own net (the nets sum to zero), so it
//! is cleared too; and money moves between the reserves.
//!
//! A branch's exposure against its net debit cap (see [`Exposure`]) is the
//! net debit of each closed, unsettled window, plus what it paid less what it
//! received in the open window (when positive), plus what its pending
//! inter-branch entries would make it pay. Only a new entry can raise it:
//! closing, settling, aborting, approving and withdrawing never do, so a cap
//! holds however the windows settle. Settling a window takes it out of the
//! sum; aborting one carries its positions into the open window, so they
//! stay counted until they settle.

use std::collections::BTreeMap;

use crate::account::Purpose;
use crate::amount::Amount;
use crate::audit::AuditEvent;
use crate::clearing_window::{
    BranchFlows, ClearingWindow, Exposure, NetDebitCap, PairFlows, WindowPositions, WindowStatus,
    allocate_pairs,
};
use crate::command::Receipt;
use crate::currency::Currency;
use crate::id::{BranchCode, EntryId};
use crate::journal_entry::{NewEntry, Posting, Side};
use crate::ledger::{Context, Ledger};
use crate::rejection::Rejection;

/// The key of a branch's flows in a window; `None` sorts before every
/// branch, so `(window, None)..(window + 1, None)` spans one window.
pub(crate) type FlowKey = (u64, Option<(BranchCode, Currency)>);
/// The key of a payer→payee pair's flows in a window, spanned the same way.
pub(crate) type PairKey = (u64, Option<(BranchCode, BranchCode, Currency)>);
/// What earlier entries of an atomic batch add to branches' exposures:
/// (to the open window, to pending).
pub(crate) type ExposureOverlay = BTreeMap<(BranchCode, Currency), (Amount, Amount)>;

impl Ledger {
    /// Adds an inter-branch entry's flows to the open clearing window,
    /// opening one if none is open; returns the window's id. `legs` are
    /// (branch, net paid out: positive; or received: negative).
    pub(crate) fn add_to_window(
        &mut self,
        context: &Context,
        currency: Currency,
        legs: &[(BranchCode, Amount)],
    ) -> u64 {
        let id = match self.meta.open_window {
            Some(id) => id,
            None => self.open_window(context),
        };
        for (branch, net_out) in legs {
            let mut flows = BranchFlows::default();
            if net_out.is_positive() {
                flows.paid = *net_out;
            } else {
                flows.received = net_out.negated();
            }
            flows.count = 1;
            self.add_branch_flows(id, branch, currency, &flows);
            self.exposure_mut(branch, currency).open += *net_out;
        }
        for (payer, payee, amount) in allocate_pairs(legs) {
            let flows = PairFlows { amount, count: 1 };
            self.add_pair_flows((id, Some((payer, payee, currency))), &flows);
        }
        self.windows
            .get_mut(&id)
            .expect("the open window exists")
            .entries += 1;
        id
    }

    fn add_branch_flows(
        &mut self,
        window: u64,
        branch: &BranchCode,
        currency: Currency,
        add: &BranchFlows,
    ) {
        let key = (window, Some((branch.clone(), currency)));
        let mut flows = self.window_branches.get(&key).copied().unwrap_or_default();
        flows.absorb(add);
        self.window_branches.insert(key, flows);
    }

    fn add_pair_flows(&mut self, key: PairKey, add: &PairFlows) {
        let mut flows = self.window_pairs.get(&key).copied().unwrap_or_default();
        flows.amount += add.amount;
        flows.count += add.count;
        self.window_pairs.insert(key, flows);
    }

    fn exposure_mut(&mut self, branch: &BranchCode, currency: Currency) -> &mut Exposure {
        self.derived
            .exposures
            .entry((branch.clone(), currency))
            .or_default()
    }

    /// Counts (or, when `!reserve`, stops counting) what a pending
    /// inter-branch entry's payers would pay against their caps.
    pub(crate) fn reserve_exposure(
        &mut self,
        currency: Currency,
        legs: &[(BranchCode, Amount)],
        reserve: bool,
    ) {
        for (branch, net_out) in legs.iter().filter(|(_, net)| net.is_positive()) {
            let exposure = self.exposure_mut(branch, currency);
            if reserve {
                exposure.pending += *net_out;
            } else {
                exposure.pending -= *net_out;
            }
        }
    }

    /// Rejects an entry (`pending` or to be posted now) that would take a
    /// payer past its net debit cap. `overlay` holds what earlier entries of
    /// an atomic batch add.
    pub(crate) fn check_caps(
        &self,
        currency: Currency,
        legs: &[(BranchCode, Amount)],
        pending: bool,
        overlay: &ExposureOverlay,
    ) -> Result<(), Rejection> {
        if self.caps.is_empty() {
            return Ok(());
        }
        for (branch, net_out) in legs.iter().filter(|(_, net)| net.is_positive()) {
            let key = (branch.clone(), currency);
            let Some(cap) = self.caps.get(&key) else {
                continue;
            };
            let mut after = self.exposure(branch, currency);
            let (open, held) = overlay.get(&key).copied().unwrap_or_default();
            after.open += open;
            after.pending += held;
            if pending {
                after.pending += *net_out;
            } else {
                after.open += *net_out;
            }
            let after = after.net_debit();
            if after > cap.cap {
                return Err(Rejection::NetDebitCapExceeded {
                    branch: branch.clone(),
                    currency,
                    cap: cap.cap,
                    position: after,
                });
            }
        }
        Ok(())
    }

    pub(crate) fn close_window(
        &mut self,
        context: &Context,
        id: u64,
    ) -> Result<Receipt, Rejection> {
        Self::require(
            &context.role,
            &["admin", "operator"],
            "close clearing windows",
        )?;
        let window = self.existing_window(id)?;
        match window.status {
            WindowStatus::Open => {}
            // A retried close answers the same.
            WindowStatus::Closed | WindowStatus::Settled => {
                return Ok(Receipt::Window(Box::new(window.clone())));
            }
            WindowStatus::Aborted => return Err(wrong_state(window, "open")),
        }
        // From here on, closing cannot fail. What waits in the liquidity
        // queue is released into this window, or rejected, first.
        self.resolve_gridlock(context, id);
        let window = self.windows.get_mut(&id).expect("exists");
        window.status = WindowStatus::Closed;
        window.closed_at = Some(context.at);
        window.closed = Some(context.position);
        window.ended_by = Some(context.actor.principal.clone());
        let closed = window.clone();
        for (branch, currency, flows) in self.multilateral(id) {
            let owed = flows.net().negated();
            let exposure = self.exposure_mut(&branch, currency);
            exposure.open -= owed;
            exposure.closed += owed.max(Amount::ZERO);
        }
        self.meta.open_window = None;
        self.record(context, AuditEvent::WindowClosed { window: id });
        self.open_window(context);
        Ok(Receipt::Window(Box::new(closed)))
    }

    pub(crate) fn settle_window(
        &mut self,
        context: &Context,
        id: u64,
    ) -> Result<Receipt, Rejection> {
        Self::require(
            &context.role,
            &["admin", "operator"],
            "settle clearing windows",
        )?;
        let window = self.existing_window(id)?;
        match window.status {
            WindowStatus::Closed => {}
            // Settling again answers the same and changes nothing.
            WindowStatus::Settled => return Ok(Receipt::Window(Box::new(window.clone()))),
            WindowStatus::Open | WindowStatus::Aborted => {
                return Err(wrong_state(window, "closed"));
            }
        }
        let multilateral = self.multilateral(id);
        let requests = self.settlement_requests(id, &multilateral)?;
        let plans = self.plan_system_entries(context, &requests)?;
        // From here on, settling cannot fail.
        let ids: Vec<EntryId> = requests.iter().map(|request| request.id.clone()).collect();
        self.commit_system_entries(context, requests, plans);
        for (branch, currency, flows) in &multilateral {
            let owed = flows.net().negated();
            self.exposure_mut(branch, *currency).closed -= owed.max(Amount::ZERO);
        }
        let window = self.windows.get_mut(&id).expect("exists");
        window.status = WindowStatus::Settled;
        window.ended_at = Some(context.at);
        window.ended_by = Some(context.actor.principal.clone());
        window.settlement = ids;
        let settled = window.clone();
        self.record(
            context,
            AuditEvent::WindowSettled {
                window: id,
                entries: settled.settlement.clone(),
            },
        );
        Ok(Receipt::Window(Box::new(settled)))
    }

    pub(crate) fn abort_window(
        &mut self,
        context: &Context,
        id: u64,
    ) -> Result<Receipt, Rejection> {
        Self::require(
            &context.role,
            &["admin", "operator"],
            "abort clearing windows",
        )?;
        let window = self.existing_window(id)?;
        match window.status {
            WindowStatus::Closed => {}
            WindowStatus::Aborted => return Ok(Receipt::Window(Box::new(window.clone()))),
            WindowStatus::Open | WindowStatus::Settled => {
                return Err(wrong_state(window, "closed"));
            }
        }
        // From here on, aborting cannot fail.
        let open = self
            .meta
            .open_window
            .expect("a closed window's successor opened at its close");
        let positions = self.window_positions(id);
        for (branch, currency, flows) in &positions.multilateral {
            self.add_branch_flows(open, branch, *currency, flows);
            let owed = flows.net().negated();
            let exposure = self.exposure_mut(branch, *currency);
            exposure.closed -= owed.max(Amount::ZERO);
            exposure.open += owed;
        }
        for (payer, payee, currency, flows) in positions.bilateral {
            self.add_pair_flows((open, Some((payer, payee, currency))), &flows);
        }
        self.windows
            .get_mut(&open)
            .expect("the open window exists")
            .carried_from
            .push(id);
        let window = self.windows.get_mut(&id).expect("exists");
        window.status = WindowStatus::Aborted;
        window.ended_at = Some(context.at);
        window.ended_by = Some(context.actor.principal.clone());
        window.carried_to = Some(open);
        let aborted = window.clone();
        self.record(
            context,
            AuditEvent::WindowAborted {
                window: id,
                carried_to: open,
            },
        );
        Ok(Receipt::Window(Box::new(aborted)))
    }

    pub(crate) fn set_cap(
        &mut self,
        context: &Context,
        cap: NetDebitCap,
    ) -> Result<Receipt, Rejection> {
        Self::require(&context.role, &["admin"], "set net debit caps")?;
        if cap.cap.minor() < 0 {
            return Err(Rejection::CapInvalid {
                reason: "the cap may not be negative".into(),
            });
        }
        if cap.cap.minor() > crate::limits::AMOUNT_MAX_MINOR {
            return Err(Rejection::CapInvalid {
                reason: "the cap is above the ledger's limit".into(),
            });
        }
        if !(1..=100).contains(&cap.warning_percent) {
            return Err(Rejection::CapInvalid {
                reason: "the warning threshold is a percentage from 1 to 100".into(),
            });
        }
        if !self.branches.contains_key(&cap.branch) {
            return Err(Rejection::BranchNotFound { branch: cap.branch });
        }
        self.caps
            .insert((cap.branch.clone(), cap.currency), cap.clone());
        self.record(context, AuditEvent::NetDebitCapSet(cap.clone()));
        Ok(Receipt::Cap(cap))
    }

    fn existing_window(&self, id: u64) -> Result<&ClearingWindow, Rejection> {
        self.windows
            .get(&id)
            .ok_or(Rejection::WindowNotFound { window: id })
    }

    /// The clearing center: the one branch at the root of the org tree.
    /// External participants have no parent either, but stand outside it.
    fn clearing_center(&self) -> Result<BranchCode, Rejection> {
        let is_root = |b: &&crate::branch::Branch| b.parent.is_none() && !b.kind.is_external();
        let mut roots = self.branches.values().filter(is_root);
        match (roots.next(), roots.next()) {
            (Some(root), None) => Ok(root.code.clone()),
            _ => Err(Rejection::ClearingCenterUndefined {
                roots: self.branches.values().filter(is_root).count() as u64,
            }),
        }
    }

    /// The account of `branch` for `purpose` in `currency`.
    fn settlement_account(
        &self,
        branch: &BranchCode,
        currency: Currency,
        purpose: Purpose,
    ) -> Result<crate::id::AccountId, Rejection> {
        let missing = || Rejection::SettlementAccountMissing {
            branch: branch.clone(),
            currency,
            purpose: purpose.name().into(),
        };
        let no = self
            .derived
            .branch_numbers
            .get(branch)
            .ok_or_else(missing)?;
        let account = self
            .derived
            .special_accounts
            .get(&(*no, currency, purpose))
            .ok_or_else(missing)?;
        Ok(self.accounts.at(*account).id.clone())
    }

    /// The settlement entries of window `id`: one per branch or external
    /// participant (but the center) and currency with a nonzero net position.
    fn settlement_requests(
        &self,
        id: u64,
        multilateral: &[(BranchCode, Currency, BranchFlows)],
    ) -> Result<Vec<NewEntry>, Rejection> {
        let nets: Vec<(&BranchCode, Currency, Amount)> = multilateral
            .iter()
            .filter(|(_, _, flows)| !flows.net().is_zero())
            .map(|(branch, currency, flows)| (branch, *currency, flows.net()))
            .collect();
        if nets.is_empty() {
            return Ok(Vec::new());
        }
        let center = self.clearing_center()?;
        // The center's accounts, looked up once per currency and purpose.
        let mut center_accounts = BTreeMap::new();
        let mut center_account = |currency, purpose| -> Result<crate::id::AccountId, Rejection> {
            if let Some(account) = center_accounts.get(&(currency, purpose)) {
                return Ok(Clone::clone(account));
            }
            let account = self.settlement_account(&center, currency, purpose)?;
            center_accounts.insert((currency, purpose), account.clone());
            Ok(account)
        };
        let mut requests = Vec::with_capacity(nets.len());
        for (ordinal, (branch, currency, net)) in nets.into_iter().enumerate() {
            if *branch == center {
                continue;
            }
            // A branch settles from its reserve with the center's; an
            // external participant from its vostro account with the
            // center's account at the central bank.
            let external = self
                .branches
                .get(branch)
                .is_some_and(|b| b.kind.is_external());
            let (own, central) = if external {
                (Purpose::Vostro, Purpose::CentralBankReserve)
            } else {
                (Purpose::SettlementReserve, Purpose::SettlementReserve)
            };
            let center_clearing = center_account(currency, Purpose::Clearing)?;
            let center_reserve = center_account(currency, central)?;
            let clearing = self.settlement_account(branch, currency, Purpose::Clearing)?;
            let reserve = self.settlement_account(branch, currency, own)?;
            // Owed money (net > 0): the branch's clearing account is credited
            // back and its reserve debited; owing, the other way round.
            let (to_branch, amount) = if net.is_positive() {
                (Side::Credit, net)
            } else {
                (Side::Debit, net.negated())
            };
            let posting = |account, side| Posting {
                account,
                side,
                amount,
            };
            let entry_id = settlement_entry_id(id, branch, currency, ordinal);
            if self.entries.get(&entry_id).is_some() {
                return Err(Rejection::SettlementEntryExists { entry: entry_id });
            }
            requests.push(NewEntry {
                id: entry_id,
                currency,
                postings: vec![
                    posting(clearing, to_branch),
                    posting(reserve, to_branch.opposite()),
                    posting(center_reserve, to_branch),
                    posting(center_clearing, to_branch.opposite()),
                ],
                pending: false,
                timeout_seconds: None,
                memo: Some(format!("settlement of clearing window {id}: {branch}")),
                reference: None,
                value_date: None,
                queue_if_over_cap: false,
            });
        }
        Ok(requests)
    }

    /// Whether `id` is a settlement entry of a settled window: those are
    /// never reversed, since a settled window never changes.
    pub(crate) fn is_settlement_entry(&self, id: &EntryId) -> bool {
        let window = id
            .as_str()
            .strip_prefix("stl:")
            .and_then(|rest| rest.split(':').next())
            .and_then(|window| window.parse::<u64>().ok());
        window
            .and_then(|window| self.windows.get(&window))
            .is_some_and(|window| window.settlement.contains(id))
    }

    /// A branch's exposure against its cap in `currency`.
    pub fn exposure(&self, branch: &BranchCode, currency: Currency) -> Exposure {
        self.derived
            .exposures
            .get(&(branch.clone(), currency))
            .copied()
            .unwrap_or_default()
    }

    /// The net debit cap of a branch and currency.
    pub fn cap(&self, branch: &BranchCode, currency: Currency) -> Option<&NetDebitCap> {
        self.caps.get(&(branch.clone(), currency))
    }

    /// Every net debit cap, by branch and currency, with the branch's exposure.
    pub fn caps(&self) -> Vec<(&NetDebitCap, Exposure)> {
        self.caps
            .values()
            .map(|cap| (cap, self.exposure(&cap.branch, cap.currency)))
            .collect()
    }

    /// The caps whose branch's exposure has reached the warning threshold.
    pub fn cap_warnings(&self) -> Vec<(&NetDebitCap, Exposure)> {
        self.caps()
            .into_iter()
            .filter(|(cap, exposure)| exposure.net_debit() >= cap.warning_at())
            .collect()
    }

    /// A window's multilateral positions (without the bilateral ones, which
    /// may be many more).
    fn multilateral(&self, id: u64) -> Vec<(BranchCode, Currency, BranchFlows)> {
        self.window_branches
            .range(&(id, None), &(id + 1, None))
            .filter_map(|((_, key), flows)| {
                key.as_ref()
                    .map(|(branch, currency)| (branch.clone(), *currency, *flows))
            })
            .collect()
    }

    /// A window's positions, multilateral and bilateral.
    pub fn window_positions(&self, id: u64) -> WindowPositions {
        let multilateral = self.multilateral(id);
        let bilateral = self
            .window_pairs
            .range(&(id, None), &(id + 1, None))
            .filter_map(|((_, key), flows)| {
                key.as_ref().map(|(payer, payee, currency)| {
                    (payer.clone(), payee.clone(), *currency, *flows)
                })
            })
            .collect();
        WindowPositions {
            multilateral,
            bilateral,
        }
    }

    /// Every branch's exposure, recomputed from the windows and the pending
    /// entries (after a restore, and to check the running ones).
    pub(crate) fn derive_exposures(&self) -> BTreeMap<(BranchCode, Currency), Exposure> {
        let mut exposures: BTreeMap<(BranchCode, Currency), Exposure> = BTreeMap::new();
        for ((window, key), flows) in self.window_branches.iter() {
            let status = self.windows.get(window).map(|w| w.status);
            let Some((branch, currency)) = key else {
                continue;
            };
            let owed = flows.net().negated();
            let exposure = exposures.entry((branch.clone(), *currency)).or_default();
            match status {
                Some(WindowStatus::Open) => exposure.open += owed,
                Some(WindowStatus::Closed) => exposure.closed += owed.max(Amount::ZERO),
                _ => {}
            }
        }
        for entry in self.pending_entries() {
            for (branch, net_out) in self.legs_of(entry.id()) {
                if net_out.is_positive() {
                    exposures
                        .entry((branch, entry.request.currency))
                        .or_default()
                        .pending += net_out;
                }
            }
        }
        exposures
    }

    /// Every window's nets sum to zero per currency, and the running
    /// exposures equal a recomputation.
    pub(crate) fn check_clearing(&self) -> Result<(), String> {
        let mut sums: BTreeMap<(u64, Currency), Amount> = BTreeMap::new();
        for ((window, key), flows) in self.window_branches.iter() {
            if let Some((_, currency)) = key {
                *sums.entry((*window, *currency)).or_default() += flows.net();
            }
        }
        if let Some(((window, currency), sum)) = sums.iter().find(|(_, sum)| !sum.is_zero()) {
            return Err(format!(
                "window {window} {currency} nets sum to {} minor units",
                sum.minor()
            ));
        }
        let nonzero = |map: BTreeMap<(BranchCode, Currency), Exposure>| {
            map.into_iter()
                .filter(|(_, e)| *e != Exposure::default())
                .collect::<BTreeMap<_, _>>()
        };
        if nonzero(self.derive_exposures()) != nonzero(self.derived.exposures.clone()) {
            return Err("running exposures differ from the windows and pending entries".into());
        }
        Ok(())
    }
}

fn wrong_state(window: &ClearingWindow, expected: &str) -> Rejection {
    Rejection::WindowState {
        window: window.id,
        status: window.status.name().to_string(),
        expected: expected.to_string(),
    }
}

/// `stl:WINDOW:BRANCH:CURRENCY`, or with the branch's ordinal in the
/// settlement when a long branch code would make the id too long.
fn settlement_entry_id(
    window: u64,
    branch: &BranchCode,
    currency: Currency,
    ordinal: usize,
) -> EntryId {
    EntryId::new(format!("stl:{window}:{branch}:{currency}")).unwrap_or_else(|_| {
        EntryId::new(format!("stl:{window}:{ordinal}:{currency}")).expect("a short id is valid")
    })
}
