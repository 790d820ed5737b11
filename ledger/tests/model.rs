//! Property tests: random sequences of operations over a small fixed world of
//! branches, accounts and principals, checked against a small reference model.
//!
//! The model is deliberately independent of the ledger's code: it keeps its
//! own balances as plain `i128` sums, books the clearing legs of inter-branch
//! entries itself, expires pending entries by its own clock, and predicts for
//! every command whether it must be accepted, answered from an earlier
//! outcome, or refused (and for which reasons). After every log entry the
//! model's balances, entry statuses, pending queue and flags must equal the
//! ledger's, money must be conserved per currency, and no limit may be broken.
//!
//! The other properties (replay, snapshot, change tracking, idempotent
//! retries) reuse the command logs these runs produce.

use std::collections::{BTreeMap, BTreeSet};

use ledger::limits::{
    AMOUNT_MAX_MINOR, PENDING_TIMEOUT_DEFAULT_SECONDS, PENDING_TIMEOUT_MAX_SECONDS,
};
use ledger::{
    AccountClass, AccountFlags, AccountId, Actor, Amount, Applied, ApprovalPolicy, AuthorityTier,
    BranchCode, BranchKind, Command, CommandKind, Currency, EntryField, EntryId, EntryOutcome,
    EntryStatus, Ledger, NewAccount, NewBranch, NewEntry, NewPrincipal, Position, Posting,
    PrincipalName, Purpose, Receipt, Record, Rejection, Role, Side, Timestamp, VoidReason,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

// ---------------------------------------------------------------------------
// The world: three branches, clearing accounts in two currencies, customer
// accounts with and without limit flags, an internal account, two operators
// of different authority and two branch tellers.
// ---------------------------------------------------------------------------

const CURRENCIES: [&str; 2] = ["CNY", "USD"];

struct AccountSpec {
    id: &'static str,
    branch: &'static str,
    currency: &'static str,
    class: AccountClass,
    purpose: Purpose,
    /// `debits_must_not_exceed_credits`.
    no_overdraft: bool,
    /// `credits_must_not_exceed_debits`.
    no_overcredit: bool,
}

const fn account(
    id: &'static str,
    branch: &'static str,
    currency: &'static str,
    class: AccountClass,
    purpose: Purpose,
    no_overdraft: bool,
    no_overcredit: bool,
) -> AccountSpec {
    AccountSpec {
        id,
        branch,
        currency,
        class,
        purpose,
        no_overdraft,
        no_overcredit,
    }
}

use AccountClass::{Asset, Liability};
use Purpose::{Clearing, Customer, Internal};

const ACCOUNTS: &[AccountSpec] = &[
    account("HQ-clr-CNY", "HQ", "CNY", Asset, Clearing, false, false),
    account("B1-clr-CNY", "B1", "CNY", Asset, Clearing, false, false),
    account("B2-clr-CNY", "B2", "CNY", Asset, Clearing, false, false),
    account("HQ-clr-USD", "HQ", "USD", Asset, Clearing, false, false),
    account("B1-clr-USD", "B1", "USD", Asset, Clearing, false, false),
    account("B2-clr-USD", "B2", "USD", Asset, Clearing, false, false),
    account("alice", "B1", "CNY", Liability, Customer, true, false),
    account("bob", "B1", "CNY", Liability, Customer, false, false),
    account("carol", "B2", "CNY", Liability, Customer, true, false),
    account("dave", "B2", "USD", Liability, Customer, true, false),
    account("erin", "B1", "USD", Liability, Customer, false, false),
    account("frank", "HQ", "CNY", Liability, Customer, true, false),
    // A loan: its credits (repayments) may not exceed its debits (drawings).
    account("carol-loan", "B2", "CNY", Asset, Customer, false, true),
    // Every outbound (credit) posting of an internal account waits for approval.
    account("B1-suspense", "B1", "CNY", Asset, Internal, false, false),
];

/// (name, role, authority)
const PRINCIPALS: &[(&str, &str, u8)] = &[
    ("op1", "operator", 3),
    ("op2", "operator", 1),
    ("teller1", "branch:B1", 0),
    ("teller2", "branch:B2", 0),
];

/// (branch, currency, threshold, tiers as (at least, authority))
type PolicySpec = (&'static str, &'static str, i128, &'static [(i128, u8)]);
const POLICIES: &[PolicySpec] = &[
    ("B1", "CNY", 300_000, &[(1_000_000, 3)]),
    ("B2", "CNY", 500_000, &[(0, 1), (2_000_000, 2)]),
    ("B2", "USD", 100_000, &[]),
];

/// Opening balances, posted by op1 before any policy exists: (debit, credit, amount).
const FUNDING: &[(&str, &str, i128)] = &[
    ("bob", "alice", 2_000_000),
    ("bob", "frank", 1_000_000),
    ("bob", "carol", 1_000_000),
    ("carol-loan", "carol", 500_000),
    ("erin", "dave", 1_000_000),
];

fn account_id(id: &str) -> AccountId {
    AccountId::new(id).expect("valid account id")
}

fn branch_code(code: &str) -> BranchCode {
    BranchCode::new(code).expect("valid branch code")
}

fn currency(code: &str) -> Currency {
    Currency::new(code).expect("known currency")
}

fn entry_id(id: &str) -> EntryId {
    EntryId::new(id).expect("valid entry id")
}

fn actor(name: &str) -> Actor {
    Actor {
        principal: PrincipalName::new(name).expect("valid principal name"),
        key_id: format!("key-{name}"),
        client: "10.0.0.1".into(),
    }
}

fn start_time() -> Timestamp {
    Timestamp::parse_rfc3339("2026-11-22T09:00:00Z").expect("valid time")
}

fn transfer(id: &str, debit: &str, credit: &str, minor: i128, code: &str) -> NewEntry {
    NewEntry::transfer(
        entry_id(id),
        account_id(debit),
        account_id(credit),
        Amount::from_minor(minor),
        currency(code),
    )
}

// ---------------------------------------------------------------------------
// The reference model.
// ---------------------------------------------------------------------------

/// Four running sums of minor units, kept by the model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Sums {
    debits_posted: i128,
    credits_posted: i128,
    debits_pending: i128,
    credits_pending: i128,
}

impl Sums {
    fn add(&mut self, side: Side, amount: i128, pending: bool) {
        match (side, pending) {
            (Side::Debit, false) => self.debits_posted += amount,
            (Side::Credit, false) => self.credits_posted += amount,
            (Side::Debit, true) => self.debits_pending += amount,
            (Side::Credit, true) => self.credits_pending += amount,
        }
    }

    fn within(&self, no_overdraft: bool, no_overcredit: bool) -> bool {
        (!no_overdraft || self.debits_posted + self.debits_pending <= self.credits_posted)
            && (!no_overcredit || self.credits_posted + self.credits_pending <= self.debits_posted)
    }
}

#[derive(Debug, Clone)]
struct ModelAccount {
    branch: BranchCode,
    currency: Currency,
    class: AccountClass,
    purpose: Purpose,
    no_overdraft: bool,
    no_overcredit: bool,
    frozen: bool,
    sums: Sums,
}

/// One booked line as the model sees it.
type Line = (AccountId, Side, i128);

#[derive(Debug, Clone)]
struct ModelEntry {
    request: NewEntry,
    /// The request's lines plus the clearing lines (empty for a remembered rejection).
    booked: Vec<Line>,
    status: EntryStatus,
    position: Position,
    booked_at: Timestamp,
    posted_by: PrincipalName,
    required_authority: u8,
    expires_at: Option<Timestamp>,
    decided_by: Option<PrincipalName>,
    /// For a reversal: the original and the reason.
    reversal_of: Option<(EntryId, String)>,
    reversed_by: Option<EntryId>,
}

impl ModelEntry {
    fn outcome(&self) -> EntryOutcome {
        EntryOutcome {
            id: self.request.id.clone(),
            status: self.status.clone(),
            position: self.position,
            booked_at: self.booked_at,
        }
    }
}

/// Why the model expects an entry to be refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Reason {
    Shape,
    Different,
    UnknownAccount,
    CurrencyMismatch,
    Forbidden,
    Frozen,
    Limit,
}

fn reason_of(rejection: &Rejection) -> Option<Reason> {
    Some(match rejection {
        Rejection::PostingsTooFew
        | Rejection::PostingsTooMany { .. }
        | Rejection::TextTooLong { .. }
        | Rejection::TimeoutTooLong { .. }
        | Rejection::AmountNotPositive
        | Rejection::AmountTooLarge
        | Rejection::EntryUnbalanced { .. }
        | Rejection::AccountsMustBeDifferent => Reason::Shape,
        Rejection::ExistsWithDifferent { .. } => Reason::Different,
        Rejection::AccountNotFound { .. } => Reason::UnknownAccount,
        Rejection::AccountCurrencyMismatch { .. } => Reason::CurrencyMismatch,
        Rejection::Forbidden { .. } => Reason::Forbidden,
        Rejection::AccountFrozen { .. } => Reason::Frozen,
        Rejection::InsufficientFunds { .. } | Rejection::CreditsExceedDebits { .. } => {
            Reason::Limit
        }
        _ => return None,
    })
}

/// What the model expects of one entry of a post.
enum Prediction {
    /// The id is known with this content: the stored outcome, unchanged.
    Known(EntryOutcome),
    /// Refused at this position, for one of these reasons.
    Refused(BTreeSet<Reason>),
    /// Booked: these lines, pending or posted.
    Accepted {
        booked: Vec<Line>,
        pending: bool,
        required_authority: u8,
    },
}

/// What the model expects of an approval, rejection or reversal.
#[derive(Debug, PartialEq, Eq)]
enum Expect {
    /// Answered from the earlier decision; nothing changes.
    Same,
    /// Accepted; the model changes.
    Change,
    /// Refused, for one of these reasons (empty: for a reason the model does
    /// not track in detail, such as a wrong role or state).
    Refused(BTreeSet<Reason>),
}

macro_rules! check {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

#[derive(Debug, Clone, Default)]
struct Model {
    accounts: BTreeMap<AccountId, ModelAccount>,
    clearing: BTreeMap<(BranchCode, Currency), AccountId>,
    principals: BTreeMap<PrincipalName, (Role, u8)>,
    policies: BTreeMap<(BranchCode, Currency), ApprovalPolicy>,
    entries: BTreeMap<EntryId, ModelEntry>,
    last_at: Timestamp,
}

fn normal_side(class: AccountClass) -> Side {
    match class {
        AccountClass::Asset | AccountClass::Expense => Side::Debit,
        _ => Side::Credit,
    }
}

/// Who acted, where in the log and when (the effective time).
#[derive(Clone, Copy)]
struct Stamp<'a> {
    actor: &'a PrincipalName,
    position: Position,
    at: Timestamp,
}

/// What the ledger must refuse from the request alone.
fn shape_is_bad(entry: &NewEntry) -> bool {
    let postings = &entry.postings;
    let (mut debits, mut credits) = (0i128, 0i128);
    for posting in postings {
        let minor = posting.amount.minor();
        if minor <= 0 || minor > AMOUNT_MAX_MINOR {
            return true;
        }
        match posting.side {
            Side::Debit => debits += minor,
            Side::Credit => credits += minor,
        }
    }
    postings.len() < 2
        || postings.len() > ledger::limits::POSTINGS_PER_ENTRY_MAX
        || entry
            .timeout_seconds
            .is_some_and(|t| t > PENDING_TIMEOUT_MAX_SECONDS)
        || debits != credits
        || (postings.len() == 2
            && postings[0].side != postings[1].side
            && postings[0].account == postings[1].account)
}

fn is_system(name: &PrincipalName) -> bool {
    name.as_str() == Actor::SYSTEM
}

impl Model {
    fn role(&self, name: &PrincipalName) -> Option<Role> {
        if is_system(name) {
            return Some(Role::Admin);
        }
        self.principals.get(name).map(|(role, _)| role.clone())
    }

    fn authority(&self, name: &PrincipalName) -> u8 {
        self.principals.get(name).map_or(0, |(_, a)| *a)
    }

    fn is_operator(&self, name: &PrincipalName) -> bool {
        self.role(name) == Some(Role::Operator)
    }

    fn pending_ids(&self) -> Vec<EntryId> {
        self.entries
            .values()
            .filter(|e| e.status == EntryStatus::Pending)
            .map(|e| e.request.id.clone())
            .collect()
    }

    fn posted_ids(&self) -> Vec<EntryId> {
        self.entries
            .values()
            .filter(|e| e.status == EntryStatus::Posted)
            .map(|e| e.request.id.clone())
            .collect()
    }

    /// The request's lines plus one clearing line per branch whose net is
    /// not zero: the payer branch's clearing account is credited, the
    /// payee's debited. `None` if an account is unknown.
    fn book_lines(&self, entry: &NewEntry) -> Option<Vec<Line>> {
        let mut lines = Vec::new();
        let mut nets: BTreeMap<BranchCode, i128> = BTreeMap::new();
        for posting in &entry.postings {
            let account = self.accounts.get(&posting.account)?;
            let minor = posting.amount.minor();
            *nets.entry(account.branch.clone()).or_default() += match posting.side {
                Side::Debit => minor,
                Side::Credit => -minor,
            };
            lines.push((posting.account.clone(), posting.side, minor));
        }
        for (branch, net) in nets {
            if net != 0 {
                let clearing = self.clearing.get(&(branch, entry.currency))?;
                let side = if net > 0 { Side::Credit } else { Side::Debit };
                lines.push((clearing.clone(), side, net.abs()));
            }
        }
        Some(lines)
    }

    /// Whether the lines, booked as pending or posted, keep every limit.
    fn lines_keep_limits(&self, lines: &[Line], pending: bool) -> bool {
        let mut sums: BTreeMap<&AccountId, Sums> = BTreeMap::new();
        for (id, side, amount) in lines {
            sums.entry(id)
                .or_insert(self.accounts[id].sums)
                .add(*side, *amount, pending);
        }
        sums.iter().all(|(id, sums)| {
            let account = &self.accounts[*id];
            sums.within(account.no_overdraft, account.no_overcredit)
        })
    }

    fn touches_frozen(&self, lines: &[Line]) -> bool {
        lines.iter().any(|(id, _, _)| self.accounts[id].frozen)
    }

    /// Whether an entry must wait for approval, and the authority it needs.
    fn approval(&self, entry: &NewEntry) -> (bool, u8) {
        let amount: i128 = entry
            .postings
            .iter()
            .filter(|p| p.side == Side::Debit)
            .map(|p| p.amount.minor())
            .sum();
        let mut needed = entry.pending;
        let mut authority = 1;
        let mut branches = BTreeSet::new();
        for posting in &entry.postings {
            let account = &self.accounts[&posting.account];
            if account.purpose == Purpose::Internal && posting.side != normal_side(account.class) {
                needed = true;
            }
            branches.insert(account.branch.clone());
        }
        for branch in branches {
            if let Some(policy) = self.policies.get(&(branch, entry.currency)) {
                if policy.threshold.is_some_and(|t| amount >= t.minor()) {
                    needed = true;
                }
                for tier in &policy.tiers {
                    if amount >= tier.at_least.minor() {
                        authority = authority.max(tier.authority);
                    }
                }
            }
        }
        (needed, authority)
    }

    fn predict(&self, entry: &NewEntry, actor: &PrincipalName) -> Prediction {
        if let Some(existing) = self.entries.get(&entry.id) {
            return if existing.request == *entry {
                Prediction::Known(existing.outcome())
            } else {
                Prediction::Refused([Reason::Different].into())
            };
        }
        if shape_is_bad(entry) {
            return Prediction::Refused([Reason::Shape].into());
        }
        let mut reasons = BTreeSet::new();
        let teller_of = match self.role(actor) {
            Some(Role::Branch(branch)) => Some(branch),
            _ => None,
        };
        for posting in &entry.postings {
            let Some(account) = self.accounts.get(&posting.account) else {
                reasons.insert(Reason::UnknownAccount);
                continue;
            };
            if account.currency != entry.currency {
                reasons.insert(Reason::CurrencyMismatch);
            }
            if let Some(own) = &teller_of {
                let credit_to_customer =
                    posting.side == Side::Credit && account.purpose == Purpose::Customer;
                if account.branch != *own && !credit_to_customer {
                    reasons.insert(Reason::Forbidden);
                }
            }
        }
        if reasons.contains(&Reason::UnknownAccount) {
            return Prediction::Refused(reasons);
        }
        let booked = self.book_lines(entry).expect("accounts checked above");
        let (pending, required_authority) = self.approval(entry);
        if self.touches_frozen(&booked) {
            reasons.insert(Reason::Frozen);
        }
        if !self.lines_keep_limits(&booked, pending) {
            reasons.insert(Reason::Limit);
        }
        if reasons.is_empty() {
            Prediction::Accepted {
                booked,
                pending,
                required_authority,
            }
        } else {
            Prediction::Refused(reasons)
        }
    }

    fn apply_lines(&mut self, lines: &[Line], pending: bool) {
        for (id, side, amount) in lines {
            self.accounts
                .get_mut(id)
                .expect("booked accounts exist")
                .sums
                .add(*side, *amount, pending);
        }
    }

    /// Takes a pending entry's reservations off its accounts.
    fn release(&mut self, id: &EntryId) {
        let lines = self.entries[id].booked.clone();
        for (account, side, amount) in &lines {
            self.accounts
                .get_mut(account)
                .expect("booked accounts exist")
                .sums
                .add(*side, -amount, true);
        }
    }

    /// Books an accepted entry and returns the outcome the ledger must report.
    fn book(
        &mut self,
        request: NewEntry,
        (booked, pending, required_authority): (Vec<Line>, bool, u8),
        stamp: Stamp,
        reversal_of: Option<(EntryId, String)>,
    ) -> EntryOutcome {
        let Stamp {
            actor,
            position,
            at,
        } = stamp;
        self.apply_lines(&booked, pending);
        let expires_at = pending.then(|| {
            let seconds = request
                .timeout_seconds
                .unwrap_or(PENDING_TIMEOUT_DEFAULT_SECONDS);
            Timestamp(at.0 + i64::try_from(seconds).expect("small timeout") * 1_000_000)
        });
        let entry = ModelEntry {
            request,
            booked,
            status: if pending {
                EntryStatus::Pending
            } else {
                EntryStatus::Posted
            },
            position,
            booked_at: at,
            posted_by: actor.clone(),
            required_authority,
            expires_at,
            decided_by: None,
            reversal_of,
            reversed_by: None,
        };
        let outcome = entry.outcome();
        self.entries.insert(entry.request.id.clone(), entry);
        outcome
    }

    /// Voids every pending entry whose timeout has passed at `at`.
    fn expire(&mut self, at: Timestamp) {
        let expired: Vec<EntryId> = self
            .entries
            .values()
            .filter(|e| e.status == EntryStatus::Pending && e.expires_at.is_some_and(|x| x <= at))
            .map(|e| e.request.id.clone())
            .collect();
        for id in expired {
            self.release(&id);
            let entry = self.entries.get_mut(&id).expect("exists");
            entry.status = EntryStatus::Voided {
                reason: VoidReason::Expired,
            };
            entry.decided_by = Some(PrincipalName::new(Actor::SYSTEM).expect("valid"));
        }
    }

    /// Checks one applied command against the model and brings the model up to date.
    fn process(
        &mut self,
        command: &Command,
        applied: &Applied,
        position: Position,
    ) -> Result<(), String> {
        check!(
            applied.position == position,
            "applied at {:?}, expected {position:?}",
            applied.position
        );
        let at = command.at.max(self.last_at);
        check!(
            applied.at == at,
            "effective time {:?}, expected {at:?}",
            applied.at
        );
        self.last_at = at;
        self.expire(at);
        let actor = &command.actor.principal;
        let stamp = Stamp {
            actor,
            position,
            at,
        };
        let outcome = &applied.outcome;
        match &command.kind {
            CommandKind::CreateBranch(_) => {
                check!(outcome.is_ok(), "setup failed: {outcome:?}");
            }
            CommandKind::CreatePrincipal(new) => {
                check!(outcome.is_ok(), "setup failed: {outcome:?}");
                self.principals
                    .insert(new.name.clone(), (new.role.clone(), new.authority));
            }
            CommandKind::OpenAccount(new) => {
                check!(outcome.is_ok(), "setup failed: {outcome:?}");
                if new.purpose == Purpose::Clearing {
                    self.clearing
                        .insert((new.branch.clone(), new.currency), new.id.clone());
                }
                self.accounts.insert(
                    new.id.clone(),
                    ModelAccount {
                        branch: new.branch.clone(),
                        currency: new.currency,
                        class: new.class,
                        purpose: new.purpose,
                        no_overdraft: new.flags.debits_must_not_exceed_credits,
                        no_overcredit: new.flags.credits_must_not_exceed_debits,
                        frozen: new.flags.frozen,
                        sums: Sums::default(),
                    },
                );
            }
            CommandKind::SetApprovalPolicy(policy) => {
                check!(outcome.is_ok(), "setup failed: {outcome:?}");
                self.policies
                    .insert((policy.branch.clone(), policy.currency), policy.clone());
            }
            CommandKind::PostEntries { entries, atomic } => {
                let Ok(Receipt::Entries(outcomes)) = outcome else {
                    return Err(format!("a post answered {outcome:?}"));
                };
                check!(
                    outcomes.len() == entries.len(),
                    "{} outcomes for {} entries",
                    outcomes.len(),
                    entries.len()
                );
                if *atomic {
                    self.post_atomic(entries, outcomes, stamp)?;
                } else {
                    for (entry, outcome) in entries.iter().zip(outcomes) {
                        self.post_one(entry, outcome, stamp)?;
                    }
                }
            }
            CommandKind::ApproveEntry { entry, .. } => self.approve(entry, actor, outcome)?,
            CommandKind::RejectEntry { entry, .. } => self.reject(entry, actor, outcome)?,
            CommandKind::ReverseEntry {
                original,
                id,
                reason,
            } => self.reverse((original, id, reason), stamp, outcome)?,
            CommandKind::SetAccountFrozen { account, frozen } => {
                let owner = &self.accounts[account].branch;
                let allowed = match self.role(actor) {
                    Some(Role::Operator | Role::Admin) => true,
                    Some(Role::Branch(own)) => own == *owner,
                    _ => false,
                };
                check!(
                    allowed == outcome.is_ok(),
                    "freeze of {account} by {actor}: {outcome:?}"
                );
                if allowed {
                    self.accounts.get_mut(account).expect("exists").frozen = *frozen;
                }
            }
            other => return Err(format!("the generator makes no {other:?}")),
        }
        Ok(())
    }

    fn post_one(
        &mut self,
        entry: &NewEntry,
        outcome: &EntryOutcome,
        stamp: Stamp,
    ) -> Result<(), String> {
        let Stamp {
            actor,
            position,
            at,
        } = stamp;
        check!(
            outcome.id == entry.id,
            "outcome for {} in place of {}",
            outcome.id,
            entry.id
        );
        match self.predict(entry, actor) {
            Prediction::Known(expected) => {
                check!(
                    *outcome == expected,
                    "retry of {} answered {outcome:?}, expected the original {expected:?}",
                    entry.id
                );
            }
            Prediction::Refused(reasons) => {
                let EntryStatus::Rejected { rejection } = &outcome.status else {
                    return Err(format!(
                        "{} was booked ({outcome:?}) but the model refuses it for {reasons:?}",
                        entry.id
                    ));
                };
                check!(
                    outcome.position == position && outcome.booked_at == at,
                    "a fresh rejection of {} carries {outcome:?}",
                    entry.id
                );
                check!(
                    reason_of(rejection).is_some_and(|r| reasons.contains(&r)),
                    "{} refused with {rejection:?}, the model expected one of {reasons:?}",
                    entry.id
                );
                // A request refused because of balances or flags is remembered, so that
                // its id answers the same later; bad input (shape, unknown account,
                // currency, reach) and a reused id change nothing.
                if matches!(reason_of(rejection), Some(Reason::Frozen | Reason::Limit)) {
                    self.entries.insert(
                        entry.id.clone(),
                        ModelEntry {
                            request: entry.clone(),
                            booked: Vec::new(),
                            status: outcome.status.clone(),
                            position,
                            booked_at: at,
                            posted_by: actor.clone(),
                            required_authority: 0,
                            expires_at: None,
                            decided_by: None,
                            reversal_of: None,
                            reversed_by: None,
                        },
                    );
                }
            }
            Prediction::Accepted {
                booked,
                pending,
                required_authority,
            } => {
                let expected = self.book(
                    entry.clone(),
                    (booked, pending, required_authority),
                    stamp,
                    None,
                );
                check!(
                    *outcome == expected,
                    "{} answered {outcome:?}, the model expected {expected:?}",
                    entry.id
                );
            }
        }
        Ok(())
    }

    /// An atomic batch: the model plays it on a copy; it must post whole or
    /// be refused whole at the first entry the model refuses. An id refused
    /// before refuses the batch too, answering with its stored refusal: an
    /// atomic batch never answers "posted" next to "rejected".
    fn post_atomic(
        &mut self,
        entries: &[NewEntry],
        outcomes: &[EntryOutcome],
        stamp: Stamp,
    ) -> Result<(), String> {
        let Stamp {
            actor,
            position,
            at,
        } = stamp;
        let mut trial = self.clone();
        let mut expected = Vec::new();
        let mut failure = None;
        for (at_index, entry) in entries.iter().enumerate() {
            match trial.predict(entry, actor) {
                Prediction::Known(stored)
                    if matches!(stored.status, EntryStatus::Rejected { .. }) =>
                {
                    failure = Some((at_index, Err(stored)));
                    break;
                }
                Prediction::Known(stored) => expected.push(stored),
                Prediction::Refused(reasons) => {
                    failure = Some((at_index, Ok(reasons)));
                    break;
                }
                Prediction::Accepted {
                    booked,
                    pending,
                    required_authority,
                } => expected.push(trial.book(
                    entry.clone(),
                    (booked, pending, required_authority),
                    stamp,
                    None,
                )),
            }
        }
        let Some((failed, why)) = failure else {
            check!(
                outcomes == expected.as_slice(),
                "atomic batch answered {outcomes:?}, the model expected {expected:?}"
            );
            *self = trial;
            return Ok(());
        };
        for (at_index, outcome) in outcomes.iter().enumerate() {
            let EntryStatus::Rejected { rejection } = &outcome.status else {
                return Err(format!(
                    "atomic batch partly booked: {} is {outcome:?} though entry {failed} fails ({why:?})",
                    outcome.id
                ));
            };
            match &why {
                Err(stored) if at_index == failed => check!(
                    outcome == stored,
                    "atomic entry {} answered {outcome:?}, not its stored refusal {stored:?}",
                    outcome.id
                ),
                Ok(reasons) if at_index == failed => {
                    check!(
                        outcome.position == position && outcome.booked_at == at,
                        "a refused atomic batch answered {outcome:?}"
                    );
                    check!(
                        reason_of(rejection).is_some_and(|r| reasons.contains(&r)),
                        "atomic entry {} refused with {rejection:?}, the model expected one of {reasons:?}",
                        outcome.id
                    );
                }
                _ => {
                    let batch_failed = Rejection::AtomicBatchFailed {
                        failed: entries[failed].id.clone(),
                    };
                    check!(
                        outcome.position == position
                            && outcome.booked_at == at
                            && *rejection == batch_failed,
                        "atomic entry {} answered {outcome:?}",
                        outcome.id
                    );
                }
            }
        }
        Ok(())
    }

    fn approve(
        &mut self,
        id: &EntryId,
        actor: &PrincipalName,
        outcome: &Result<Receipt, Rejection>,
    ) -> Result<(), String> {
        let expect = match self.entries.get(id) {
            Some(e)
                if self.is_operator(actor)
                    && e.status == EntryStatus::Posted
                    && e.decided_by.as_ref() == Some(actor) =>
            {
                Expect::Same
            }
            Some(e)
                if self.is_operator(actor)
                    && e.status == EntryStatus::Pending
                    && e.posted_by != *actor
                    && self.authority(actor) >= e.required_authority =>
            {
                if self.touches_frozen(&e.booked) {
                    Expect::Refused([Reason::Frozen].into())
                } else {
                    Expect::Change
                }
            }
            _ => Expect::Refused(BTreeSet::new()),
        };
        self.decide(id, actor, outcome, expect, EntryStatus::Posted)
    }

    fn reject(
        &mut self,
        id: &EntryId,
        actor: &PrincipalName,
        outcome: &Result<Receipt, Rejection>,
    ) -> Result<(), String> {
        let voided = EntryStatus::Voided {
            reason: VoidReason::RejectedByApprover,
        };
        let role = self.role(actor);
        let expect = match self.entries.get(id) {
            Some(e) if e.status == voided && e.decided_by.as_ref() == Some(actor) => Expect::Same,
            Some(e)
                if e.status == EntryStatus::Pending
                    && (role == Some(Role::Operator)
                        || (matches!(role, Some(Role::Branch(_))) && e.posted_by == *actor)) =>
            {
                Expect::Change
            }
            _ => Expect::Refused(BTreeSet::new()),
        };
        self.decide(id, actor, outcome, expect, voided)
    }

    /// Checks an approval or rejection; on a change, moves the reservation to
    /// posted (`status` Posted) or releases it.
    fn decide(
        &mut self,
        id: &EntryId,
        actor: &PrincipalName,
        outcome: &Result<Receipt, Rejection>,
        expect: Expect,
        status: EntryStatus,
    ) -> Result<(), String> {
        match (&expect, outcome) {
            (Expect::Same | Expect::Change, Ok(Receipt::Entry(entry))) => {
                check!(
                    entry.status == status && entry.request.id == *id,
                    "decision on {id} answered {entry:?}"
                );
                check!(
                    entry.decision.as_ref().is_some_and(|d| d.by == *actor),
                    "decision on {id} names {:?}, not {actor}",
                    entry.decision
                );
            }
            (Expect::Refused(reasons), Err(rejection)) => {
                check!(
                    reasons.is_empty()
                        || reason_of(rejection).is_some_and(|r| reasons.contains(&r)),
                    "decision on {id} refused with {rejection:?}, the model expected {reasons:?}"
                );
                return Ok(());
            }
            _ => {
                return Err(format!(
                    "decision on {id} by {actor} answered {outcome:?}, the model expected {expect:?}"
                ));
            }
        }
        if expect == Expect::Change {
            self.release(id);
            if status == EntryStatus::Posted {
                let lines = self.entries[id].booked.clone();
                self.apply_lines(&lines, false);
            }
            let entry = self.entries.get_mut(id).expect("exists");
            entry.status = status;
            entry.decided_by = Some(actor.clone());
        }
        Ok(())
    }

    fn reverse(
        &mut self,
        (original, id, reason): (&EntryId, &EntryId, &str),
        stamp: Stamp,
        outcome: &Result<Receipt, Rejection>,
    ) -> Result<(), String> {
        let actor = stamp.actor;
        let mut accepted = None;
        let expect = if !self.is_operator(actor) || reason.trim().is_empty() {
            Expect::Refused(BTreeSet::new())
        } else if let Some(existing) = self.entries.get(id) {
            if existing.reversal_of == Some((original.clone(), reason.to_string())) {
                Expect::Same
            } else {
                Expect::Refused(BTreeSet::new())
            }
        } else {
            match self.entries.get(original) {
                Some(o) if o.status == EntryStatus::Posted && o.reversed_by.is_none() => {
                    let flipped = NewEntry {
                        postings: o
                            .request
                            .postings
                            .iter()
                            .map(|p| Posting {
                                side: p.side.opposite(),
                                ..p.clone()
                            })
                            .collect(),
                        ..o.request.clone()
                    };
                    let booked = self.book_lines(&flipped).expect("booked before");
                    let mut reasons = BTreeSet::new();
                    if self.touches_frozen(&booked) {
                        reasons.insert(Reason::Frozen);
                    }
                    if !self.lines_keep_limits(&booked, false) {
                        reasons.insert(Reason::Limit);
                    }
                    if reasons.is_empty() {
                        accepted = Some((flipped, booked));
                        Expect::Change
                    } else {
                        Expect::Refused(reasons)
                    }
                }
                _ => Expect::Refused(BTreeSet::new()),
            }
        };
        match (&expect, outcome) {
            (Expect::Same, Ok(Receipt::Entry(entry))) => {
                check!(
                    entry.request.id == *id && entry.reverses.as_ref() == Some(original),
                    "retried reversal {id} answered {entry:?}"
                );
            }
            (Expect::Change, Ok(Receipt::Entry(entry))) => {
                let (flipped, booked) = accepted.expect("set with Change");
                check!(
                    entry.request.id == *id
                        && entry.request.currency == flipped.currency
                        && entry.request.postings == flipped.postings
                        && entry.status == EntryStatus::Posted
                        && entry.reverses.as_ref() == Some(original),
                    "reversal {id} of {original} answered {entry:?}"
                );
                let expected = self.book(
                    entry.request.clone(),
                    (booked, false, entry.required_authority),
                    stamp,
                    Some((original.clone(), reason.to_string())),
                );
                check!(
                    EntryOutcome::of(entry) == expected,
                    "reversal {id} booked as {entry:?}, expected {expected:?}"
                );
                self.entries.get_mut(original).expect("exists").reversed_by = Some(id.clone());
            }
            (Expect::Refused(reasons), Err(rejection)) => {
                check!(
                    reasons.is_empty()
                        || reason_of(rejection).is_some_and(|r| reasons.contains(&r)),
                    "reversal {id} of {original} refused with {rejection:?}, the model expected {reasons:?}"
                );
            }
            _ => {
                return Err(format!(
                    "reversal {id} of {original} by {actor} answered {outcome:?}, the model expected {expect:?}"
                ));
            }
        }
        Ok(())
    }

    /// The model against the whole ledger, after a log entry.
    fn compare(&self, ledger: &Ledger) -> Result<(), String> {
        ledger.check_invariants()?;
        // Conservation, recomputed from the accounts.
        let mut per_currency: BTreeMap<Currency, Sums> = BTreeMap::new();
        let mut seen = 0;
        for account in ledger.accounts() {
            seen += 1;
            let balance = account.balance;
            let sums = per_currency.entry(account.currency).or_default();
            sums.debits_posted += balance.debits_posted.minor();
            sums.credits_posted += balance.credits_posted.minor();
            sums.debits_pending += balance.debits_pending.minor();
            sums.credits_pending += balance.credits_pending.minor();
            let flags = account.flags;
            let debits_ok = !flags.debits_must_not_exceed_credits
                || balance.debits_posted.minor() + balance.debits_pending.minor()
                    <= balance.credits_posted.minor();
            let credits_ok = !flags.credits_must_not_exceed_debits
                || balance.credits_posted.minor() + balance.credits_pending.minor()
                    <= balance.debits_posted.minor();
            check!(
                debits_ok && credits_ok,
                "account {} is beyond its limits: {balance:?}",
                account.id
            );
            let Some(model) = self.accounts.get(&account.id) else {
                return Err(format!("the ledger has an unknown account {}", account.id));
            };
            let actual = Sums {
                debits_posted: balance.debits_posted.minor(),
                credits_posted: balance.credits_posted.minor(),
                debits_pending: balance.debits_pending.minor(),
                credits_pending: balance.credits_pending.minor(),
            };
            check!(
                actual == model.sums,
                "account {}: ledger {actual:?}, model {:?}",
                account.id,
                model.sums
            );
            check!(
                account.flags.frozen == model.frozen,
                "account {} frozen: ledger {}, model {}",
                account.id,
                account.flags.frozen,
                model.frozen
            );
        }
        check!(seen == self.accounts.len(), "the ledger lost accounts");
        for (currency, sums) in &per_currency {
            check!(
                sums.debits_posted == sums.credits_posted,
                "{currency} posted debits {} != credits {}",
                sums.debits_posted,
                sums.credits_posted
            );
            check!(
                sums.debits_pending == sums.credits_pending,
                "{currency} pending debits {} != credits {}",
                sums.debits_pending,
                sums.credits_pending
            );
        }
        // Entries: the same ids, in the same states.
        check!(
            ledger.entry_count() == self.entries.len(),
            "the ledger holds {} entry ids, the model {}",
            ledger.entry_count(),
            self.entries.len()
        );
        for (id, model) in &self.entries {
            let Some(entry) = ledger.entry(id) else {
                return Err(format!("entry {id} is missing from the ledger"));
            };
            check!(
                entry.status == model.status,
                "entry {id}: ledger {:?}, model {:?}",
                entry.status,
                model.status
            );
            check!(
                entry.reversed_by == model.reversed_by,
                "entry {id} reversed by {:?}, model {:?}",
                entry.reversed_by,
                model.reversed_by
            );
        }
        let queue: BTreeSet<EntryId> = ledger
            .pending_entries()
            .iter()
            .map(|e| e.id().clone())
            .collect();
        let expected: BTreeSet<EntryId> = self.pending_ids().into_iter().collect();
        check!(
            queue == expected,
            "approval queue {queue:?}, model {expected:?}"
        );
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Operations and their generators.
// ---------------------------------------------------------------------------

/// Which account a posting names.
#[derive(Debug, Clone)]
enum Pick {
    /// A customer or internal account in the entry's currency.
    Customer(Index),
    /// Any account in the entry's currency (clearing accounts too).
    SameCurrency(Index),
    /// Any account at all (a currency mismatch, mostly).
    Any(Index),
}

#[derive(Debug, Clone)]
struct EntrySpec {
    currency: usize,
    debits: Vec<(Pick, i128)>,
    credits: Vec<Pick>,
    unbalanced: bool,
    pending: bool,
    timeout: Option<u64>,
    memo: bool,
}

/// Who sends a command.
#[derive(Debug, Clone)]
enum Who {
    /// The teller of the first debited account's branch (op1 for HQ).
    Owner,
    /// One of [`PRINCIPALS`].
    Fixed(usize),
}

#[derive(Debug, Clone)]
enum Change {
    Identical,
    Amount,
    Memo,
    Pending,
}

#[derive(Debug, Clone)]
enum Op {
    Post {
        entries: Vec<EntrySpec>,
        atomic: bool,
        who: Who,
    },
    Approve {
        pick: Index,
        any_entry: bool,
        who: usize,
    },
    Reject {
        pick: Index,
        any_entry: bool,
        who: usize,
    },
    Reverse {
        pick: Index,
        /// Reuse an earlier reversal's id: (which, keep its original, keep its reason).
        reuse: Option<(Index, bool, bool)>,
        empty_reason: bool,
        who: usize,
    },
    Retry {
        pick: Index,
        change: Change,
        atomic: bool,
        who: Who,
    },
    Freeze {
        account: Index,
        /// A clearing account (blocks every inter-branch entry of its branch
        /// and currency) rather than a customer or internal one.
        clearing: bool,
        frozen: bool,
        who: usize,
    },
    /// Moves the leader's clock (backwards too: a new leader's clock may lag).
    Clock { seconds: i64 },
}

/// `true` in `yes` of `yes + no` cases.
fn sometimes(yes: u32, no: u32) -> impl Strategy<Value = bool> {
    prop_oneof![yes => Just(true), no => Just(false)]
}

fn amount() -> impl Strategy<Value = i128> {
    prop_oneof![
        40 => 1i128..20_000,
        20 => 20_000i128..800_000,
        12 => 800_000i128..6_000_000,
        1 => Just(0i128),
        1 => Just(AMOUNT_MAX_MINOR + 1),
    ]
}

fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![
        16 => any::<Index>().prop_map(Pick::Customer),
        2 => any::<Index>().prop_map(Pick::SameCurrency),
        1 => any::<Index>().prop_map(Pick::Any),
    ]
}

fn timeout() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![
        30 => Just(None),
        30 => (30u64..900).prop_map(Some),
        1 => Just(Some(PENDING_TIMEOUT_MAX_SECONDS + 1)),
    ]
}

fn entry_spec() -> impl Strategy<Value = EntrySpec> {
    let transfer =
        (0..2usize, pick(), pick(), amount()).prop_map(|(currency, debit, credit, amount)| {
            (currency, vec![(debit, amount)], vec![credit])
        });
    let multi = (0..2usize, vec((pick(), amount()), 1..4), vec(pick(), 1..4));
    (
        prop_oneof![5 => transfer, 2 => multi],
        sometimes(1, 30),
        sometimes(1, 6),
        timeout(),
        sometimes(1, 4),
    )
        .prop_map(
            |((currency, debits, credits), unbalanced, pending, timeout, memo)| EntrySpec {
                currency,
                debits,
                credits,
                unbalanced,
                pending,
                timeout,
                memo,
            },
        )
}

fn who() -> impl Strategy<Value = usize> {
    prop_oneof![4 => Just(0usize), 2 => Just(1usize), 2 => Just(2usize), 1 => Just(3usize)]
}

fn poster() -> impl Strategy<Value = Who> {
    prop_oneof![10 => Just(Who::Owner), 1 => who().prop_map(Who::Fixed)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (entry_spec(), poster()).prop_map(|(entry, who)| Op::Post {
            entries: vec![entry],
            atomic: false,
            who,
        }),
        4 => (vec(entry_spec(), 2..6), any::<bool>(), poster()).prop_map(|(entries, atomic, who)| {
            Op::Post { entries, atomic, who }
        }),
        1 => (vec(entry_spec(), 10..30), any::<bool>(), poster()).prop_map(
            |(entries, atomic, who)| Op::Post { entries, atomic, who }
        ),
        5 => (any::<Index>(), sometimes(1, 5), who())
            .prop_map(|(pick, any_entry, who)| Op::Approve { pick, any_entry, who }),
        2 => (any::<Index>(), sometimes(1, 5), who())
            .prop_map(|(pick, any_entry, who)| Op::Reject { pick, any_entry, who }),
        3 => (
            any::<Index>(),
            prop_oneof![
                7 => Just(None),
                3 => (any::<Index>(), sometimes(2, 1), sometimes(2, 1)).prop_map(Some),
            ],
            sometimes(1, 10),
            who(),
        )
            .prop_map(|(pick, reuse, empty_reason, who)| Op::Reverse {
                pick,
                reuse,
                empty_reason,
                who,
            }),
        4 => (
            any::<Index>(),
            prop_oneof![
                4 => Just(Change::Identical),
                1 => Just(Change::Amount),
                1 => Just(Change::Memo),
                1 => Just(Change::Pending),
            ],
            sometimes(1, 4),
            poster(),
        )
            .prop_map(|(pick, change, atomic, who)| Op::Retry {
                pick,
                change,
                atomic,
                who,
            }),
        2 => (any::<Index>(), sometimes(1, 6), sometimes(1, 2), who()).prop_map(
            |(account, clearing, frozen, who)| Op::Freeze {
                account,
                clearing,
                frozen,
                who,
            }
        ),
        4 => prop_oneof![
            6 => 1i64..120,
            3 => 120i64..2_000,
            1 => 80_000i64..200_000,
            1 => -300i64..0,
        ]
        .prop_map(|seconds| Op::Clock { seconds }),
    ]
}

/// Log entries: mostly a few commands each, sometimes many.
fn steps() -> impl Strategy<Value = Vec<Vec<Op>>> {
    vec(
        prop_oneof![9 => vec(op(), 1..6), 1 => vec(op(), 20..50)],
        1..25,
    )
}

// ---------------------------------------------------------------------------
// The runner: turns operations into commands, applies them, and checks each
// answer against the model.
// ---------------------------------------------------------------------------

/// One applied log entry.
struct Step {
    index: u64,
    commands: Vec<Command>,
    applied: Vec<Applied>,
}

struct Runner {
    ledger: Ledger,
    model: Model,
    log: Vec<Step>,
    clock: Timestamp,
    next_id: u64,
    /// Every entry request sent, for retries.
    requests: Vec<NewEntry>,
    /// Every reversal asked for: (original, id, reason).
    reversals: Vec<(EntryId, EntryId, String)>,
}

impl Runner {
    /// A ledger with the world set up: branches, principals and accounts;
    /// opening balances; approval policies.
    fn new() -> Result<Runner, String> {
        let mut runner = Runner {
            ledger: Ledger::new(),
            model: Model::default(),
            log: Vec::new(),
            clock: start_time(),
            next_id: 0,
            requests: Vec::new(),
            reversals: Vec::new(),
        };
        let mut setup = Vec::new();
        for (code, parent) in [("HQ", None), ("B1", Some("HQ")), ("B2", Some("HQ"))] {
            setup.push(CommandKind::CreateBranch(NewBranch {
                code: branch_code(code),
                name: format!("branch {code}"),
                parent: parent.map(branch_code),
                kind: BranchKind::Internal,
            }));
        }
        for (n, (name, role, authority)) in PRINCIPALS.iter().enumerate() {
            setup.push(CommandKind::CreatePrincipal(NewPrincipal {
                name: PrincipalName::new(*name).expect("valid"),
                role: role.parse().expect("valid role"),
                authority: *authority,
                key_hash: [u8::try_from(n + 1).expect("few principals"); 32],
                key_id: format!("key-{name}"),
            }));
        }
        for spec in ACCOUNTS {
            setup.push(CommandKind::OpenAccount(NewAccount {
                id: account_id(spec.id),
                branch: branch_code(spec.branch),
                currency: currency(spec.currency),
                class: spec.class,
                purpose: spec.purpose,
                flags: AccountFlags {
                    debits_must_not_exceed_credits: spec.no_overdraft,
                    credits_must_not_exceed_debits: spec.no_overcredit,
                    ..Default::default()
                },
                name: None,
            }));
        }
        let at = runner.clock;
        let system = |kind| Command {
            at,
            actor: Actor::system(),
            kind,
        };
        runner.apply(setup.into_iter().map(system).collect())?;
        let funding = FUNDING
            .iter()
            .enumerate()
            .map(|(n, (debit, credit, amount))| {
                let code = &runner.model.accounts[&account_id(debit)].currency;
                transfer(&format!("fund-{n}"), debit, credit, *amount, code.code())
            })
            .collect();
        let applied = runner.apply(vec![Command {
            at,
            actor: actor("op1"),
            kind: CommandKind::PostEntries {
                entries: funding,
                atomic: true,
            },
        }])?;
        let Ok(Receipt::Entries(outcomes)) = &applied[0].outcome else {
            return Err(format!("funding failed: {applied:?}"));
        };
        check!(
            outcomes.iter().all(|o| o.status == EntryStatus::Posted),
            "funding failed: {outcomes:?}"
        );
        let policies = POLICIES
            .iter()
            .map(|(branch, code, threshold, tiers)| {
                system(CommandKind::SetApprovalPolicy(ApprovalPolicy {
                    branch: branch_code(branch),
                    currency: currency(code),
                    threshold: Some(Amount::from_minor(*threshold)),
                    tiers: tiers
                        .iter()
                        .map(|(at_least, authority)| AuthorityTier {
                            at_least: Amount::from_minor(*at_least),
                            authority: *authority,
                        })
                        .collect(),
                }))
            })
            .collect();
        runner.apply(policies)?;
        Ok(runner)
    }

    /// Applies one log entry, checks every answer and the whole state
    /// against the model.
    fn apply(&mut self, commands: Vec<Command>) -> Result<Vec<Applied>, String> {
        let index = self.ledger.applied_index() + 1;
        let applied = self.ledger.apply(index, commands.clone());
        check!(
            applied.len() == commands.len(),
            "{} answers for {} commands",
            applied.len(),
            commands.len()
        );
        for (seq, (command, answer)) in commands.iter().zip(&applied).enumerate() {
            let position = Position {
                index,
                seq: u32::try_from(seq).expect("few commands"),
            };
            self.model
                .process(command, answer, position)
                .map_err(|e| format!("log index {index}, command {seq} ({command:?}): {e}"))?;
        }
        self.model
            .compare(&self.ledger)
            .map_err(|e| format!("after log index {index}: {e}"))?;
        self.log.push(Step {
            index,
            commands,
            applied: applied.clone(),
        });
        Ok(applied)
    }

    fn fresh_id(&mut self, prefix: &str) -> EntryId {
        self.next_id += 1;
        entry_id(&format!("{prefix}{}", self.next_id))
    }

    fn branch_of(id: &AccountId) -> &'static str {
        ACCOUNTS
            .iter()
            .find(|a| a.id == id.as_str())
            .map_or("", |a| a.branch)
    }

    /// The account a pick names. A customer pick avoids `avoid` (a transfer
    /// from an account to itself is rare enough through the other picks) and
    /// keeps to `branch` where that branch has such an account.
    fn resolve(
        pick: &Pick,
        code: &str,
        avoid: Option<&AccountId>,
        branch: Option<&str>,
    ) -> AccountId {
        let customer = |a: &&AccountSpec| {
            a.currency == code
                && a.purpose != Purpose::Clearing
                && avoid.is_none_or(|avoid| avoid.as_str() != a.id)
        };
        let mut candidates: Vec<&AccountSpec> = ACCOUNTS
            .iter()
            .filter(|a| match pick {
                Pick::Customer(_) => customer(a) && branch.is_none_or(|b| a.branch == b),
                Pick::SameCurrency(_) => a.currency == code,
                Pick::Any(_) => true,
            })
            .collect();
        if candidates.is_empty() {
            candidates = ACCOUNTS.iter().filter(customer).collect();
        }
        let (Pick::Customer(index) | Pick::SameCurrency(index) | Pick::Any(index)) = pick;
        account_id(index.get(&candidates).id)
    }

    fn entry(&mut self, spec: &EntrySpec, debit_branch: Option<&str>) -> NewEntry {
        let code = CURRENCIES[spec.currency];
        let mut postings: Vec<Posting> = spec
            .debits
            .iter()
            .map(|(pick, amount)| Posting {
                account: Self::resolve(pick, code, None, debit_branch),
                side: Side::Debit,
                amount: Amount::from_minor(*amount),
            })
            .collect();
        let first_debit = postings[0].account.clone();
        let total: i128 = spec.debits.iter().map(|(_, amount)| amount).sum();
        let share = total / spec.credits.len() as i128;
        for (n, pick) in spec.credits.iter().enumerate() {
            let last = n + 1 == spec.credits.len();
            let mut amount = if last {
                total - share * (spec.credits.len() as i128 - 1)
            } else {
                share
            };
            if last && spec.unbalanced {
                amount += 1;
            }
            postings.push(Posting {
                account: Self::resolve(pick, code, Some(&first_debit), None),
                side: Side::Credit,
                amount: Amount::from_minor(amount),
            });
        }
        NewEntry {
            id: self.fresh_id("e"),
            currency: currency(code),
            postings,
            pending: spec.pending,
            timeout_seconds: spec.timeout,
            memo: spec.memo.then(|| "salary".to_string()),
            reference: None,
            value_date: None,
            queue_if_over_cap: false,
        }
    }

    fn poster(&self, who: &Who, entry: Option<&NewEntry>) -> Actor {
        match who {
            Who::Fixed(n) => actor(PRINCIPALS[*n].0),
            Who::Owner => {
                let branch = entry
                    .and_then(|e| e.postings.first())
                    .map(|p| ACCOUNTS.iter().find(|a| a.id == p.account.as_str()))
                    .and_then(|a| a.map(|a| a.branch));
                match branch {
                    Some("B1") => actor("teller1"),
                    Some("B2") => actor("teller2"),
                    _ => actor("op1"),
                }
            }
        }
    }

    /// An entry id to approve or reject: a pending one if any, else any known.
    fn decision_target(&self, pick: &Index, any_entry: bool) -> EntryId {
        let pending = self.model.pending_ids();
        if !any_entry && !pending.is_empty() {
            return pick.get(&pending).clone();
        }
        let all: Vec<&EntryId> = self.model.entries.keys().collect();
        if all.is_empty() {
            entry_id("no-such-entry")
        } else {
            (*pick.get(&all)).clone()
        }
    }

    /// The command for one operation, or none (a clock move, a retry with
    /// nothing to retry).
    fn command(&mut self, op: &Op) -> Option<Command> {
        let command = match op {
            Op::Clock { seconds } => {
                self.clock = Timestamp(self.clock.0 + seconds * 1_000_000);
                return None;
            }
            Op::Post {
                entries,
                atomic,
                who,
            } => {
                // A branch system posts a batch from its own accounts: the
                // later entries debit accounts of the first one's branch.
                let mut built: Vec<NewEntry> = Vec::with_capacity(entries.len());
                for spec in entries {
                    let branch = match (who, built.first()) {
                        (Who::Owner, Some(first)) => {
                            Some(Self::branch_of(&first.postings[0].account))
                        }
                        _ => None,
                    };
                    let entry = self.entry(spec, branch);
                    built.push(entry);
                }
                let entries = built;
                self.requests.extend(entries.iter().cloned());
                Command {
                    at: self.clock,
                    actor: self.poster(who, entries.first()),
                    kind: CommandKind::PostEntries {
                        entries,
                        atomic: *atomic,
                    },
                }
            }
            Op::Retry {
                pick,
                change,
                atomic,
                who,
            } => {
                if self.requests.is_empty() {
                    return None;
                }
                let mut entry = pick.get(&self.requests).clone();
                match change {
                    Change::Identical => {}
                    Change::Amount if entry.postings.len() == 2 => {
                        for posting in &mut entry.postings {
                            posting.amount = Amount::from_minor(posting.amount.minor() + 1);
                        }
                    }
                    Change::Amount | Change::Memo => entry.memo = Some("changed".into()),
                    Change::Pending => entry.pending = !entry.pending,
                }
                Command {
                    at: self.clock,
                    actor: self.poster(who, Some(&entry)),
                    kind: CommandKind::PostEntries {
                        entries: vec![entry],
                        atomic: *atomic,
                    },
                }
            }
            Op::Approve {
                pick,
                any_entry,
                who,
            } => {
                let entry = self.decision_target(pick, *any_entry);
                self.command_by(
                    *who,
                    CommandKind::ApproveEntry {
                        entry,
                        reason: None,
                    },
                )
            }
            Op::Reject {
                pick,
                any_entry,
                who,
            } => {
                let entry = self.decision_target(pick, *any_entry);
                let reason = Some("wrong beneficiary".into());
                self.command_by(*who, CommandKind::RejectEntry { entry, reason })
            }
            Op::Reverse {
                pick,
                reuse,
                empty_reason,
                who,
            } => {
                let posted = self.model.posted_ids();
                let original = if posted.is_empty() {
                    entry_id("no-such-entry")
                } else {
                    pick.get(&posted).clone()
                };
                let reason = if *empty_reason { " " } else { "keyed twice" }.to_string();
                let (original, id, reason) = match reuse {
                    // The same reversal again, or its id for another original
                    // or with another reason.
                    Some((earlier, keep_original, keep_reason)) if !self.reversals.is_empty() => {
                        let (o, id, r) = earlier.get(&self.reversals).clone();
                        let original = if *keep_original { o } else { original };
                        let reason = if *keep_reason {
                            r
                        } else {
                            format!("{r}, again")
                        };
                        (original, id, reason)
                    }
                    _ => (original, self.fresh_id("r"), reason),
                };
                self.reversals
                    .push((original.clone(), id.clone(), reason.clone()));
                let kind = CommandKind::ReverseEntry {
                    original,
                    id,
                    reason,
                };
                self.command_by(*who, kind)
            }
            Op::Freeze {
                account,
                clearing,
                frozen,
                who,
            } => {
                let candidates: Vec<&AccountSpec> = ACCOUNTS
                    .iter()
                    .filter(|a| (a.purpose == Purpose::Clearing) == *clearing)
                    .collect();
                let kind = CommandKind::SetAccountFrozen {
                    account: account_id(account.get(&candidates).id),
                    frozen: *frozen,
                };
                self.command_by(*who, kind)
            }
        };
        Some(command)
    }

    fn command_by(&self, who: usize, kind: CommandKind) -> Command {
        Command {
            at: self.clock,
            actor: actor(PRINCIPALS[who].0),
            kind,
        }
    }

    /// Runs every step: one log entry each.
    fn run(&mut self, steps: &[Vec<Op>]) -> Result<(), String> {
        for ops in steps {
            let commands: Vec<Command> = ops.iter().filter_map(|op| self.command(op)).collect();
            self.apply(commands)?;
        }
        Ok(())
    }
}

fn run(steps: &[Vec<Op>]) -> Result<Runner, TestCaseError> {
    let mut runner = Runner::new().map_err(TestCaseError::fail)?;
    runner.run(steps).map_err(TestCaseError::fail)?;
    Ok(runner)
}

/// Applies logged steps to `ledger`, checking every answer equals the
/// recorded one.
fn replay(ledger: &mut Ledger, log: &[Step]) -> Result<(), TestCaseError> {
    for step in log {
        let applied = ledger.apply(step.index, step.commands.clone());
        prop_assert_eq!(&applied, &step.applied, "log index {}", step.index);
    }
    Ok(())
}

fn balances(ledger: &Ledger) -> Vec<(AccountId, ledger::Balance)> {
    ledger
        .accounts()
        .map(|account| (account.id.clone(), account.balance))
        .collect()
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(768))]

    // Property: for any sequence of transfers, multi-posting and pending
    // entries, approvals, rejections, expiries, reversals, atomic and
    // non-atomic batches, retries and freezes, the ledger answers every
    // command as the reference model predicts; after every log entry each
    // account's four balances equal the model's (so no posted entry is applied
    // twice and no refused one is applied), every currency balances (posted
    // and pending), no account is beyond its limit flags, and
    // `check_invariants` holds.
    #[test]
    fn the_ledger_agrees_with_the_model_and_conserves_money(steps in steps()) {
        run(&steps)?;
    }
}

proptest! {
    #![proptest_config(config(128))]

    // Property: applying the same command log to a fresh ledger gives the same
    // answer to every command and the identical state digest (replicas
    // converge).
    #[test]
    fn replaying_the_log_gives_the_same_answers_and_digest(steps in steps()) {
        let runner = run(&steps)?;
        let mut replica = Ledger::new();
        replay(&mut replica, &runner.log)?;
        prop_assert_eq!(replica.digest(), runner.ledger.digest());
        prop_assert_eq!(replica.records(), runner.ledger.records());
    }

    // Property: a ledger restored from a snapshot taken at any log position
    // has the same digest, and applying the rest of the log to both the
    // original and the restored ledger keeps their answers and digests equal.
    #[test]
    fn a_snapshot_restores_a_ledger_that_stays_equal(steps in steps(), split in any::<Index>()) {
        let runner = run(&steps)?;
        let split = split.index(runner.log.len() + 1);
        let (before, after) = runner.log.split_at(split);
        let mut original = Ledger::new();
        replay(&mut original, before)?;
        let snapshot = original.to_snapshot();
        let mut restored = Ledger::from_snapshot(&snapshot, false)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(restored.digest(), original.digest());
        // A stored account leaves its balance to its history rows, so the
        // digest alone would not show a balance restored wrong.
        prop_assert_eq!(balances(&restored), balances(&original));
        prop_assert_eq!(restored.to_snapshot(), snapshot);
        for step in after {
            let expected = original.apply(step.index, step.commands.clone());
            let answered = restored.apply(step.index, step.commands.clone());
            prop_assert_eq!(&answered, &expected, "log index {}", step.index);
            prop_assert_eq!(restored.digest(), original.digest(), "log index {}", step.index);
        }
        prop_assert_eq!(original.digest(), runner.ledger.digest());
        prop_assert!(restored.check_invariants().is_ok());
    }

    // Property: the records a change-tracking ledger hands out after each
    // apply (`take_changes`), written to a key-value store as puts and
    // deletes, always equal the ledger's full record set, and a ledger
    // restored from that store (`from_records`) has the live ledger's digest.
    #[test]
    fn tracked_changes_rebuild_the_live_ledger(steps in steps()) {
        let runner = run(&steps)?;
        let mut live = Ledger::with_change_tracking();
        let mut store: BTreeMap<(u8, Vec<u8>), Vec<u8>> = BTreeMap::new();
        for (n, step) in runner.log.iter().enumerate() {
            live.apply(step.index, step.commands.clone());
            for Record { table, key, value } in live.take_changes() {
                match value {
                    Some(value) => store.insert((table, key), value),
                    None => store.remove(&(table, key)),
                };
            }
            if n % 4 == 3 || n + 1 == runner.log.len() {
                let full: BTreeMap<(u8, Vec<u8>), Vec<u8>> = live
                    .records()
                    .into_iter()
                    .map(|r| ((r.table, r.key), r.value.expect("full records have values")))
                    .collect();
                prop_assert!(
                    full == store,
                    "stored records differ from the ledger after log index {}",
                    step.index
                );
            }
        }
        let records: Vec<Record> = store
            .into_iter()
            .map(|((table, key), value)| Record { table, key, value: Some(value) })
            .collect();
        let restored = Ledger::from_records(records.clone(), false)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(restored.digest(), live.digest());
        prop_assert_eq!(balances(&restored), balances(&live));
        prop_assert_eq!(live.digest(), runner.ledger.digest());
        // Records in any order restore the same ledger (a store gives them
        // in key order, and a restore builds the tables as they arrive).
        let reversed = Ledger::from_records(records.into_iter().rev(), false)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(reversed.digest(), live.digest());
        prop_assert_eq!(balances(&reversed), balances(&live));
    }

    // Property: re-posting every id the ledger holds with identical content
    // (alone, all in one non-atomic batch, and the booked ones in one atomic
    // batch) answers the identical outcome with the original position and
    // changes no balance; re-posting with different content is refused as
    // `exists_with_different_memo` and changes nothing either.
    #[test]
    fn retrying_an_id_is_idempotent(steps in steps()) {
        let mut runner = run(&steps)?;
        let ids: Vec<EntryId> = runner.model.entries.keys().cloned().collect();
        let before = balances(&runner.ledger);
        let count = runner.ledger.entry_count();
        let stored: Vec<(NewEntry, EntryOutcome)> = ids
            .iter()
            .map(|id| {
                let entry = runner.ledger.entry(id).expect("known");
                (entry.request.clone(), EntryOutcome::of(&entry))
            })
            .collect();
        // An atomic batch with an id refused before is refused whole.
        let booked: Vec<&(NewEntry, EntryOutcome)> = stored
            .iter()
            .filter(|(_, outcome)| !matches!(outcome.status, EntryStatus::Rejected { .. }))
            .collect();
        // The time of the last command: nothing more expires.
        let at = runner.model.last_at;
        let post = |entries: Vec<NewEntry>, atomic: bool| Command {
            at,
            actor: actor("op1"),
            kind: CommandKind::PostEntries { entries, atomic },
        };
        let mut commands = Vec::new();
        let mut expected: Vec<Vec<EntryOutcome>> = Vec::new();
        for (request, outcome) in stored.iter().take(20) {
            commands.push(post(vec![request.clone()], false));
            expected.push(vec![outcome.clone()]);
        }
        if !stored.is_empty() {
            commands.push(post(stored.iter().map(|(r, _)| r.clone()).collect(), false));
            expected.push(stored.iter().map(|(_, o)| o.clone()).collect());
        }
        if !booked.is_empty() {
            commands.push(post(booked.iter().map(|(r, _)| r.clone()).collect(), true));
            expected.push(booked.iter().map(|(_, o)| o.clone()).collect());
        }
        let applied = runner.apply(commands).map_err(TestCaseError::fail)?;
        for (answer, expected) in applied.iter().zip(&expected) {
            let Ok(Receipt::Entries(outcomes)) = &answer.outcome else {
                return Err(TestCaseError::fail(format!("retry answered {answer:?}")));
            };
            prop_assert_eq!(outcomes, expected);
        }
        prop_assert_eq!(balances(&runner.ledger), before.clone());
        prop_assert_eq!(runner.ledger.entry_count(), count);

        let requests: Vec<&NewEntry> = stored.iter().map(|(r, _)| r).collect();
        let changed: Vec<NewEntry> = requests
            .iter()
            .map(|r| NewEntry { memo: Some("a different memo".into()), ..(*r).clone() })
            .collect();
        if !changed.is_empty() {
            let applied = runner.apply(vec![post(changed, false)]).map_err(TestCaseError::fail)?;
            let Ok(Receipt::Entries(outcomes)) = &applied[0].outcome else {
                return Err(TestCaseError::fail(format!("retry answered {applied:?}")));
            };
            for (outcome, id) in outcomes.iter().zip(&ids) {
                let different = EntryStatus::Rejected {
                    rejection: Rejection::ExistsWithDifferent {
                        entry: id.clone(),
                        field: EntryField::Memo,
                    },
                };
                prop_assert_eq!(&outcome.status, &different);
            }
        }
        prop_assert_eq!(balances(&runner.ledger), before);
        prop_assert_eq!(runner.ledger.entry_count(), count);
    }
}
