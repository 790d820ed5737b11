//! The ledger: all state, `apply`, and the invariants asserted after each command.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::account::{Balance, Purpose};
use crate::account_table::{AccountNo, AccountTable, BranchNo};
use crate::amount::Amount;
use crate::approval::ApprovalPolicy;
use crate::audit::{
    AuditEvent, AuditRecord, Booked, GENESIS_HASH, Hash, chain_hash_of, encode_booked,
};
use crate::audit_chain::AuditChain;
use crate::branch::Branch;
use crate::clearing::{FlowKey, PairKey};
use crate::clearing_window::BranchFlows;
use crate::clearing_window::{ClearingWindow, Exposure, NetDebitCap, PairFlows};
use crate::command::{Command, CommandKind, Receipt};
use crate::currency::Currency;
use crate::entry_table::EntryTable;
use crate::id::{BranchCode, EntryId, PrincipalName, StatementId};
use crate::principal::{Actor, KeyHash, Principal, Role};
use crate::recon::{
    ExternalStatement, ExternalStatementId, ItemRef, ItemState, ReconciliationBreak,
    ReconciliationRun,
};
use crate::rejection::Rejection;
use crate::statement::Statement;
use crate::statement_book::{StatementIndex, StatementSettings};
use crate::table::Table;
use crate::time::Timestamp;
use crate::warm::WARM_ENTRIES;

/// A place in the log: the Raft index and the command's ordinal within that
/// log entry (group commit puts many commands in one entry).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Position {
    /// Raft log index.
    pub index: u64,
    /// Ordinal of the command within the log entry.
    pub seq: u32,
}

impl Position {
    /// The last position within log entry `index`.
    pub fn end_of(index: u64) -> Position {
        Position {
            index,
            seq: u32::MAX,
        }
    }
}

/// The answer to one command, with where and when it was applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// Where in the log.
    pub position: Position,
    /// The command's effective time (never earlier than the previous one's).
    pub at: Timestamp,
    /// What it answered.
    pub outcome: Result<Receipt, Rejection>,
}

/// State that is not a table: one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Meta {
    pub(crate) applied_index: u64,
    pub(crate) applied_at: Timestamp,
    pub(crate) audit_seq: u64,
    pub(crate) chain_head: Hash,
    pub(crate) last_window: u64,
    pub(crate) open_window: Option<u64>,
}

/// Indexes rebuilt from the tables on restore; never stored.
#[derive(Debug, Clone, Default)]
pub(crate) struct Derived {
    pub(crate) key_index: BTreeMap<KeyHash, PrincipalName>,
    /// Branch numbers, in creation order.
    pub(crate) branch_numbers: BTreeMap<BranchCode, BranchNo>,
    /// Branch codes by number.
    pub(crate) branch_codes: Vec<BranchCode>,
    /// The policies table by branch number.
    pub(crate) policy_index: BTreeMap<(BranchNo, Currency), ApprovalPolicy>,
    pub(crate) special_accounts: BTreeMap<(BranchNo, Currency, Purpose), AccountNo>,
    pub(crate) pending_expiry: BTreeSet<(Timestamp, EntryId)>,
    /// The liquidity-saving queues: per (payer branch, currency), the
    /// numbers of the queued entries, first in first. No empty queue.
    pub(crate) queue: BTreeMap<(BranchCode, Currency), BTreeSet<u64>>,
    /// Queued entries by when they expire.
    pub(crate) queue_expiry: BTreeSet<(Timestamp, EntryId)>,
    pub(crate) totals: BTreeMap<Currency, Balance>,
    pub(crate) pending_sum: BTreeMap<Currency, Amount>,
    pub(crate) time_index: BTreeMap<Timestamp, u64>,
    /// Each branch's exposure against its net debit cap, per currency.
    pub(crate) exposures: BTreeMap<(BranchCode, Currency), Exposure>,
    pub(crate) statements: StatementIndex,
    /// The closed periods by branch number.
    pub(crate) closed_through: BTreeMap<BranchNo, crate::time::Date>,
}

impl Derived {
    /// Numbers a new branch.
    pub(crate) fn add_branch(&mut self, code: BranchCode) {
        let no =
            BranchNo(u32::try_from(self.branch_codes.len()).expect("fewer than 2^32 branches"));
        let previous = self.branch_numbers.insert(code.clone(), no);
        assert!(previous.is_none(), "a branch is created once");
        self.branch_codes.push(code);
    }
}

/// What the handlers of one command share.
pub(crate) struct Context {
    pub(crate) position: Position,
    pub(crate) at: Timestamp,
    pub(crate) actor: Actor,
    pub(crate) role: Role,
    /// The number of the branch a branch role acts for.
    pub(crate) own_branch: Option<BranchNo>,
}

/// The deterministic double-entry state machine.
///
/// The same commands in the same order give byte-identical state (and so the
/// same [`Ledger::digest`]) on every replica.
#[derive(Debug, Clone)]
pub struct Ledger {
    pub(crate) meta: Meta,
    pub(crate) principals: Table<PrincipalName, Principal>,
    pub(crate) branches: Table<BranchCode, Branch>,
    pub(crate) accounts: AccountTable,
    pub(crate) entries: EntryTable,
    pub(crate) policies: Table<(BranchCode, Currency), ApprovalPolicy>,
    pub(crate) windows: Table<u64, ClearingWindow>,
    pub(crate) index_times: Table<u64, Timestamp>,
    pub(crate) audit: AuditChain,
    pub(crate) window_branches: Table<FlowKey, BranchFlows>,
    pub(crate) window_pairs: Table<PairKey, PairFlows>,
    pub(crate) caps: Table<(BranchCode, Currency), NetDebitCap>,
    pub(crate) external_statements: Table<ExternalStatementId, ExternalStatement>,
    pub(crate) reconciliations: Table<u64, ReconciliationRun>,
    pub(crate) breaks: Table<u64, ReconciliationBreak>,
    pub(crate) recon_items: Table<ItemRef, ItemState>,
    /// Adjusting entries awaiting approval, with the break each resolves.
    pub(crate) adjustments: Table<EntryId, u64>,
    pub(crate) statements: Table<StatementId, Statement>,
    pub(crate) statement_settings: Table<u8, StatementSettings>,
    pub(crate) closed_periods: Table<BranchCode, crate::period::PeriodClose>,
    pub(crate) reviews: Table<EntryId, crate::supervision::Review>,
    pub(crate) derived: Derived,
    pub(crate) touched: Vec<AccountNo>,
    /// Reused for encoding each audit record to hash and keep it.
    pub(crate) scratch: Vec<u8>,
}

impl Default for Ledger {
    fn default() -> Self {
        Ledger::new()
    }
}

impl Ledger {
    /// An empty ledger that does not remember changes (tests, benchmarks).
    pub fn new() -> Ledger {
        Ledger::with_tracking(false)
    }

    /// An empty ledger that remembers what each apply changed, for
    /// [`Ledger::take_changes`].
    pub fn with_change_tracking() -> Ledger {
        Ledger::with_tracking(true)
    }

    pub(crate) fn with_tracking(tracking: bool) -> Ledger {
        Ledger {
            meta: Meta {
                applied_index: 0,
                applied_at: Timestamp::default(),
                audit_seq: 0,
                chain_head: GENESIS_HASH,
                last_window: 0,
                open_window: None,
            },
            principals: Table::new(tracking),
            branches: Table::new(tracking),
            accounts: AccountTable::new(tracking),
            entries: EntryTable::new(tracking),
            policies: Table::new(tracking),
            windows: Table::new(tracking),
            index_times: Table::new(tracking),
            audit: AuditChain::new(tracking),
            window_branches: Table::new(tracking),
            window_pairs: Table::new(tracking),
            caps: Table::new(tracking),
            external_statements: Table::new(tracking),
            reconciliations: Table::new(tracking),
            breaks: Table::new(tracking),
            recon_items: Table::new(tracking),
            adjustments: Table::new(tracking),
            statements: Table::new(tracking),
            statement_settings: Table::new(tracking),
            closed_periods: Table::new(tracking),
            reviews: Table::new(tracking),
            derived: Derived::default(),
            touched: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Applies the commands of log entry `index`, in order. Each command is
    /// accepted or rejected on its own; a rejected command changes nothing.
    pub fn apply(&mut self, index: u64, commands: Vec<Command>) -> Vec<Applied> {
        assert!(
            index > self.meta.applied_index,
            "log index {index} applied after {}: each index is applied once, in order",
            self.meta.applied_index
        );
        let mut applied = Vec::with_capacity(commands.len());
        let mut rest = commands.into_iter();
        let mut ordinal: usize = 0;
        while rest.len() > 0 {
            // Group commit: many commands of one entry each; read ahead for
            // a run of them (a command of many entries reads ahead itself).
            let ahead = WARM_ENTRIES.min(rest.len());
            if ahead > 1 {
                self.warm_commands(&rest.as_slice()[..ahead]);
            }
            for command in rest.by_ref().take(ahead) {
                let seq = u32::try_from(ordinal).expect("fewer than 2^32 commands per log entry");
                ordinal += 1;
                applied.push(self.apply_command(Position { index, seq }, command));
            }
        }
        self.entries.settle();
        self.meta.applied_index = index;
        if let Some(last) = applied.last() {
            self.index_times.insert(index, last.at);
            self.derived.time_index.insert(last.at, index);
        }
        applied
    }

    fn apply_command(&mut self, position: Position, command: Command) -> Applied {
        // A new leader's clock may lag the old one's: time never goes backwards.
        let at = command.at.max(self.meta.applied_at);
        self.meta.applied_at = at;
        self.expire_pending(position, at);
        self.expire_queued(position, at);
        self.expire_statements(position, at);
        let outcome = match self.role_of(&command.actor) {
            Ok(role) => {
                let own_branch = match &role {
                    Role::Branch(code) => self.derived.branch_numbers.get(code).copied(),
                    _ => None,
                };
                let context = Context {
                    position,
                    at,
                    actor: command.actor,
                    role,
                    own_branch,
                };
                self.dispatch(&context, command.kind)
            }
            Err(rejection) => Err(rejection),
        };
        self.settle_adjustments(position, at);
        self.release_queued(position, at);
        self.assert_invariants();
        Applied {
            position,
            at,
            outcome,
        }
    }

    fn role_of(&self, actor: &Actor) -> Result<Role, Rejection> {
        if actor.is_system() {
            return Ok(Role::Admin);
        }
        self.principals
            .get(&actor.principal)
            .filter(|principal| !principal.revoked)
            .map(|principal| principal.role.clone())
            .ok_or_else(|| Rejection::PrincipalNotFound {
                principal: actor.principal.clone(),
            })
    }

    fn dispatch(&mut self, context: &Context, kind: CommandKind) -> Result<Receipt, Rejection> {
        match kind {
            CommandKind::CreatePrincipal(new) => self.create_principal(context, new),
            CommandKind::RotatePrincipalKey {
                name,
                key_hash,
                key_id,
            } => self.rotate_principal_key(context, name, key_hash, key_id),
            CommandKind::RevokePrincipal { name } => self.revoke_principal(context, name),
            CommandKind::CreateBranch(new) => self.create_branch(context, new),
            CommandKind::OpenAccount(new) => self.open_account(context, new),
            CommandKind::SetAccountFrozen { account, frozen } => {
                self.set_account_frozen(context, account, frozen)
            }
            CommandKind::CloseAccount { account } => self.close_account(context, account),
            CommandKind::PostEntries { entries, atomic } => {
                self.post_entries(context, entries, atomic)
            }
            CommandKind::ApproveEntry { entry, reason } => self.approve(context, entry, reason),
            CommandKind::RejectEntry { entry, reason } => self.reject(context, entry, reason),
            CommandKind::ReverseEntry {
                original,
                id,
                reason,
            } => self.reverse(context, original, id, reason),
            CommandKind::SetApprovalPolicy(policy) => self.set_policy(context, policy),
            CommandKind::OpenWindow => self.open_window_command(context),
            CommandKind::CloseWindow { window } => self.close_window(context, window),
            CommandKind::SettleWindow { window } => self.settle_window(context, window),
            CommandKind::AbortWindow { window } => self.abort_window(context, window),
            CommandKind::SetNetDebitCap(cap) => self.set_cap(context, cap),
            CommandKind::ImportExternalStatements {
                account,
                statements,
            } => self.import_statements(context, account, statements),
            CommandKind::RunReconciliation {
                account,
                statement,
                rules,
            } => self.run_reconciliation(context, account, statement, rules),
            CommandKind::ResolveBreak { id, resolution } => {
                self.resolve_break(context, id, resolution)
            }
            CommandKind::Statements(command) => self.statement_command(context, command),
            CommandKind::Tick => {
                Self::require(&context.role, &["admin"], "send ticks")?;
                Ok(Receipt::Ticked)
            }
            CommandKind::ClosePeriod { branch, through } => {
                self.close_period(context, branch, through)
            }
            CommandKind::ReviewEntry { entry, note } => self.review_entry(context, entry, note),
        }
    }

    /// Appends a record to the audit hash chain.
    pub(crate) fn record(&mut self, context: &Context, event: AuditEvent) {
        self.record_as(context.position, context.at, context.actor.clone(), event);
    }

    pub(crate) fn record_as(
        &mut self,
        position: Position,
        at: Timestamp,
        actor: Actor,
        event: AuditEvent,
    ) {
        let seq = self.meta.audit_seq + 1;
        let record = AuditRecord {
            seq,
            position,
            at,
            actor,
            event,
        };
        let hash = record.chain_hash_with(&self.meta.chain_head, &mut self.scratch);
        self.chain_scratch(seq, hash);
    }

    /// Appends the record of a booked (or refused) entry to the audit hash
    /// chain: the same record as [`AuditEvent::EntryBooked`] through
    /// [`Ledger::record`], encoded from borrowed parts.
    pub(crate) fn record_booked(&mut self, context: &Context, booked: &Booked<'_>) {
        let seq = self.meta.audit_seq + 1;
        self.scratch.clear();
        encode_booked(
            seq,
            context.position,
            context.at,
            &context.actor,
            booked,
            &mut self.scratch,
        );
        let hash = chain_hash_of(&self.meta.chain_head, &self.scratch);
        self.chain_scratch(seq, hash);
    }

    /// Appends the record encoded in `scratch`, numbered `seq` and hashing
    /// to `hash`, and makes it the chain's head.
    fn chain_scratch(&mut self, seq: u64, hash: Hash) {
        self.audit.append_encoded(seq, &self.scratch, &hash);
        self.meta.audit_seq = seq;
        self.meta.chain_head = hash;
    }

    /// Replaces an account's balance, keeping the totals and the balance
    /// history in step. Every balance change goes through here.
    pub(crate) fn set_balance(&mut self, context: &Context, no: AccountNo, balance: Balance) {
        let (currency, old) = self.accounts.set_balance(no, context.position, balance);
        let totals = self.derived.totals.entry(currency).or_default();
        totals.debits_posted = totals.debits_posted - old.debits_posted + balance.debits_posted;
        totals.credits_posted = totals.credits_posted - old.credits_posted + balance.credits_posted;
        totals.debits_pending = totals.debits_pending - old.debits_pending + balance.debits_pending;
        totals.credits_pending =
            totals.credits_pending - old.credits_pending + balance.credits_pending;
        self.touched.push(no);
    }

    /// Per currency, debits equal credits (posted and pending), pending totals
    /// equal the open pending entries, no account touched by the command
    /// is beyond its limits, and the liquidity queues hold only queued
    /// entries, each with its expiry, and only while a window is open. A failure is a bug: the replica stops rather than
    /// diverge.
    fn assert_invariants(&mut self) {
        for (currency, totals) in &self.derived.totals {
            assert_eq!(
                totals.debits_posted, totals.credits_posted,
                "{currency} posted unbalanced"
            );
            assert_eq!(
                totals.debits_pending, totals.credits_pending,
                "{currency} pending unbalanced"
            );
            let pending = self
                .derived
                .pending_sum
                .get(currency)
                .copied()
                .unwrap_or_default();
            assert_eq!(
                totals.debits_pending, pending,
                "{currency} pending != open pending entries"
            );
        }
        for no in self.touched.drain(..) {
            let account = self.accounts.at(no);
            assert!(
                account.balance.within_limits(&account.flags),
                "account {} beyond its limits",
                account.id
            );
        }
        self.assert_queue();
    }

    /// Recomputes every derived total from scratch and checks it against the
    /// running ones, and every account against its limits. O(state): for
    /// tests and after a restore.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut totals: BTreeMap<Currency, Balance> = BTreeMap::new();
        for account in self.accounts.values() {
            let sum = totals.entry(account.currency).or_default();
            sum.debits_posted += account.balance.debits_posted;
            sum.credits_posted += account.balance.credits_posted;
            sum.debits_pending += account.balance.debits_pending;
            sum.credits_pending += account.balance.credits_pending;
            if !account.balance.within_limits(&account.flags) {
                return Err(format!("account {} is beyond its limits", account.id));
            }
        }
        let nonzero = |map: &BTreeMap<Currency, Balance>| -> BTreeMap<Currency, Balance> {
            map.iter()
                .filter(|(_, b)| **b != Balance::default())
                .map(|(c, b)| (*c, *b))
                .collect()
        };
        if nonzero(&totals) != nonzero(&self.derived.totals) {
            return Err("running totals differ from the accounts".into());
        }
        for (currency, sum) in &totals {
            if sum.debits_posted != sum.credits_posted || sum.debits_pending != sum.credits_pending
            {
                return Err(format!("{currency} does not balance"));
            }
        }
        let mut pending: BTreeMap<Currency, Amount> = BTreeMap::new();
        for (_, id) in &self.derived.pending_expiry {
            let entry = self
                .entries
                .get(id)
                .ok_or("pending index names a missing entry")?;
            *pending.entry(entry.request.currency).or_default() +=
                crate::posting::debit_total(&entry.postings);
        }
        let pending_nonzero = |map: &BTreeMap<Currency, Amount>| -> BTreeMap<Currency, Amount> {
            map.iter()
                .filter(|(_, a)| !a.is_zero())
                .map(|(c, a)| (*c, *a))
                .collect()
        };
        if pending_nonzero(&pending) != pending_nonzero(&self.derived.pending_sum) {
            return Err("pending totals differ from the open pending entries".into());
        }
        self.check_queue()?;
        self.check_clearing()
    }

    /// Whether `actor` may act in `role` at all for a writing command.
    pub(crate) fn require(role: &Role, allowed: &[&str], what: &str) -> Result<(), Rejection> {
        let name = match role {
            Role::Branch(_) => "branch",
            Role::Operator => "operator",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        };
        if allowed.contains(&name) {
            Ok(())
        } else {
            Err(Rejection::Forbidden {
                reason: format!("a {name} may not {what}"),
            })
        }
    }
}
