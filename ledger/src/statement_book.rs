//! The ledger's statement book: issuing statements from the balance history,
//! recording returns, marking overdue ones in command time, and the reports
//! (return rate per branch, overdue list, disputes by age).
//!
//! Statements and the statement settings (verification key, policy, issue
//! counter) are two ordinary tables, so change tracking, snapshots and the
//! digest cover them; the indexes below are rebuilt from them on restore.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::account_table::AccountNo;
use crate::amount::Amount;
use crate::audit::AuditEvent;
use crate::command::Receipt;
use crate::id::{AccountId, StatementId};
use crate::journal_entry::EntryStatus;
use crate::ledger::{Context, Ledger, Position};
use crate::limits::PENDING_TIMEOUT_MAX_SECONDS;
use crate::principal::{Actor, Role};
use crate::recon::{BreakAction, BreakKind, BreakStatus, ReconciliationBreak, Resolution};
use crate::rejection::Rejection;
use crate::statement::{
    AgeBucket, AgedStatement, BranchReturnRate, CodeFacts, IssueStatements, ReturnAnswer,
    ReturnState, ReturnStatement, STATEMENT_ACCOUNTS_MAX, Statement, StatementCommand,
    StatementEvent, StatementKey, StatementLine, StatementPolicy, StatementReceipt,
    StatementRejection, StatementReturn,
};
use crate::time::{Date, Timestamp};

/// The one record of statement settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StatementSettings {
    /// The verification key, once the first issue command installed it.
    pub(crate) key: Option<StatementKey>,
    /// The differentiated policy.
    pub(crate) policy: StatementPolicy,
    /// Statements issued so far (the next id's number less one).
    pub(crate) issued: u64,
}

/// The key of the settings record.
pub(crate) const SETTINGS: u8 = 0;

/// Indexes over the statements table; never stored.
#[derive(Debug, Clone, Default)]
pub(crate) struct StatementIndex {
    /// Each account's statements by cutoff.
    by_cutoff: BTreeMap<(AccountId, Timestamp), StatementId>,
    /// Statements waiting for a return, by the instant they become overdue.
    deadlines: BTreeSet<(Timestamp, StatementId)>,
}

impl StatementIndex {
    /// Indexes a statement as it stands.
    pub(crate) fn add(&mut self, statement: &Statement) {
        self.by_cutoff.insert(
            (statement.account.clone(), statement.cutoff),
            statement.id.clone(),
        );
        if statement.state == ReturnState::Issued {
            self.deadlines
                .insert((statement.deadline(), statement.id.clone()));
        }
    }

    /// When the next statement becomes overdue.
    pub(crate) fn next_deadline(&self) -> Option<Timestamp> {
        self.deadlines.first().map(|(at, _)| *at)
    }
}

/// An account's statement for a cutoff: issued already, or to be issued.
enum Plan {
    Existing(Box<Statement>),
    New(Planned),
}

/// What issuing one account's statement needs, computed before anything changes.
struct Planned {
    account: AccountNo,
    opening: Position,
    opening_balance: Amount,
    closing_balance: Amount,
}

fn rejected(rejection: StatementRejection) -> Rejection {
    Rejection::Statement(rejection)
}

impl Ledger {
    /// Runs a statement command.
    pub(crate) fn statement_command(
        &mut self,
        context: &Context,
        command: StatementCommand,
    ) -> Result<Receipt, Rejection> {
        let receipt = match command {
            StatementCommand::Issue(issue) => self.issue_statements(context, issue)?,
            StatementCommand::Return(answer) => self.return_statement(context, answer)?,
            StatementCommand::SetPolicy(policy) => self.set_statement_policy(context, policy)?,
        };
        Ok(Receipt::Statements(receipt))
    }

    fn settings(&self) -> StatementSettings {
        self.statement_settings
            .get(&SETTINGS)
            .cloned()
            .unwrap_or_default()
    }

    fn issue_statements(
        &mut self,
        context: &Context,
        issue: IssueStatements,
    ) -> Result<StatementReceipt, Rejection> {
        Self::require(&context.role, &["operator"], "issue statements")?;
        let selection_invalid = |reason: &str| {
            rejected(StatementRejection::SelectionInvalid {
                reason: reason.to_string(),
            })
        };
        if issue.accounts.is_empty() == issue.branch.is_none() {
            return Err(selection_invalid("name either accounts or a branch"));
        }
        if issue.accounts.len() > STATEMENT_ACCOUNTS_MAX {
            return Err(selection_invalid(&format!(
                "at most {STATEMENT_ACCOUNTS_MAX} accounts per issue"
            )));
        }
        if issue.cutoff > context.at {
            return Err(rejected(StatementRejection::CutoffInFuture {
                cutoff: issue.cutoff,
            }));
        }
        if issue.due < issue.cutoff.date() {
            return Err(rejected(StatementRejection::DueBeforeCutoff {
                due: issue.due,
            }));
        }
        let closing = self.cutoff_position(context, issue.cutoff);
        let settings = self.settings();
        let mut existing = Vec::new();
        let mut planned = Vec::new();
        match &issue.branch {
            None => {
                let mut ids = issue.accounts.clone();
                ids.sort();
                ids.dedup();
                for id in ids {
                    let no =
                        self.accounts
                            .number(&id)
                            .ok_or_else(|| Rejection::AccountNotFound {
                                account: id.clone(),
                            })?;
                    if self.accounts.at(no).opened_at > closing {
                        return Err(rejected(StatementRejection::AccountNotOpenAtCutoff {
                            account: id,
                        }));
                    }
                    match self.plan_statement(no, &issue, closing)? {
                        Plan::Existing(statement) => existing.push(*statement),
                        Plan::New(plan) => planned.push(plan),
                    }
                }
            }
            Some(branch) => {
                let Some(&branch_no) = self.derived.branch_numbers.get(branch) else {
                    return Err(Rejection::BranchNotFound {
                        branch: branch.clone(),
                    });
                };
                for (no, account) in self.accounts.numbered() {
                    if self.accounts.branch_of(no) != branch_no
                        || account.opened_at > closing
                        || account.flags.closed
                    {
                        continue;
                    }
                    match self.plan_statement(no, &issue, closing) {
                        Ok(Plan::Existing(statement)) => existing.push(*statement),
                        Ok(Plan::New(plan)) => {
                            if self.policy_selects(&settings.policy, &plan, issue.cutoff) {
                                planned.push(plan);
                            }
                        }
                        // An account with a later statement is not due.
                        Err(Rejection::Statement(StatementRejection::CutoffBeforeLatest {
                            ..
                        })) => {}
                        Err(rejection) => return Err(rejection),
                    }
                }
            }
        }
        // From here on, issuing cannot fail.
        let issued = self.commit_statements(context, &issue, closing, planned);
        let mut statements = existing;
        statements.extend(issued);
        statements.sort_by(|a, b| a.account.cmp(&b.account));
        Ok(StatementReceipt::Issued(statements))
    }

    /// The last point of the log a cutoff covers. A cutoff at or after the
    /// time of the last completed log entry is the moment of issue.
    fn cutoff_position(&self, context: &Context, cutoff: Timestamp) -> Position {
        let last_completed = self.index_times.get(&self.meta.applied_index).copied();
        match last_completed {
            Some(at) if cutoff < at => match self.index_at_time(cutoff) {
                Ok(index) => Position::end_of(index),
                Err(_) => Position::default(),
            },
            _ => context.position,
        }
    }

    /// The existing statement for the account and cutoff, or the plan for a
    /// new one. Refused when the existing one has another due date, or when
    /// the account has a statement with a later cutoff.
    fn plan_statement(
        &self,
        no: AccountNo,
        issue: &IssueStatements,
        closing: Position,
    ) -> Result<Plan, Rejection> {
        let account = self.accounts.at(no);
        let index = &self.derived.statements.by_cutoff;
        if let Some(id) = index.get(&(account.id.clone(), issue.cutoff)) {
            let statement = self.statements.get(id).expect("indexed statements exist");
            if statement.due != issue.due {
                return Err(rejected(StatementRejection::ExistsWithDifferentDue {
                    statement: id.clone(),
                }));
            }
            return Ok(Plan::Existing(Box::new(statement.clone())));
        }
        let later = index
            .range((account.id.clone(), issue.cutoff)..)
            .next()
            .filter(|((id, _), _)| *id == account.id);
        if let Some((_, id)) = later {
            return Err(rejected(StatementRejection::CutoffBeforeLatest {
                account: account.id.clone(),
                latest: id.clone(),
            }));
        }
        let previous = index
            .range(..(account.id.clone(), issue.cutoff))
            .next_back()
            .filter(|((id, _), _)| *id == account.id)
            .map(|(_, id)| self.statements.get(id).expect("indexed statements exist"));
        let opening = previous.map_or(Position::default(), |s| s.closing);
        let posted = |at: Position| {
            self.accounts
                .balance_at(no, at)
                .unwrap_or_default()
                .posted(account.class)
        };
        Ok(Plan::New(Planned {
            account: no,
            opening,
            opening_balance: posted(opening),
            closing_balance: posted(closing),
        }))
    }

    /// Whether a whole-branch issue includes the account: the first matching
    /// rule's frequency, counted in calendar months from its last statement.
    fn policy_selects(&self, policy: &StatementPolicy, plan: &Planned, cutoff: Timestamp) -> bool {
        let account = self.accounts.at(plan.account);
        let Some(frequency) = policy.frequency_for(
            &account.branch,
            account.purpose,
            account.currency,
            plan.closing_balance,
        ) else {
            return false;
        };
        let Some(months) = frequency.months() else {
            return false;
        };
        let previous = self
            .derived
            .statements
            .by_cutoff
            .range(..(account.id.clone(), cutoff))
            .next_back()
            .filter(|((id, _), _)| *id == account.id);
        previous.is_none_or(|((_, previous), _)| {
            cutoff.date().month_number() - previous.date().month_number() >= months
        })
    }

    fn commit_statements(
        &mut self,
        context: &Context,
        issue: &IssueStatements,
        closing: Position,
        planned: Vec<Planned>,
    ) -> Vec<Statement> {
        if planned.is_empty() {
            return Vec::new();
        }
        let mut settings = self.settings();
        let key = match &settings.key {
            Some(key) => key.clone(),
            None => {
                let key = issue.key_seed.clone();
                self.record(
                    context,
                    AuditEvent::Statement(StatementEvent::KeyInstalled {
                        fingerprint: key.fingerprint(),
                    }),
                );
                settings.key = Some(key.clone());
                key
            }
        };
        let mut issued = Vec::with_capacity(planned.len());
        for plan in planned {
            settings.issued += 1;
            let account = self.accounts.at(plan.account);
            let id = StatementId::new(format!("ST{:08}", settings.issued))
                .expect("statement ids are valid");
            let facts = CodeFacts {
                currency: account.currency,
                cutoff: issue.cutoff,
                closing_balance: plan.closing_balance,
            };
            // A due date that has ended already makes the statement overdue at once.
            let deadline = issue.due.next().start();
            let overdue_at = (deadline <= context.at).then_some(deadline);
            let statement = Statement {
                verification_code: key.code(&id, &account.id, &facts),
                id: id.clone(),
                account: account.id.clone(),
                branch: account.branch.clone(),
                currency: account.currency,
                class: account.class,
                opening: plan.opening,
                opening_balance: plan.opening_balance,
                cutoff: issue.cutoff,
                closing,
                closing_balance: plan.closing_balance,
                due: issue.due,
                issued_by: context.actor.principal.clone(),
                issued_at: context.at,
                issued: context.position,
                state: if overdue_at.is_some() {
                    ReturnState::Overdue
                } else {
                    ReturnState::Issued
                },
                overdue_at,
                returned: None,
                breaks: Vec::new(),
            };
            let mut statement = statement;
            if overdue_at.is_some() {
                let action = Self::action(context, "raised", None);
                self.raise_overdue_break(action, &mut statement);
            }
            self.derived.statements.add(&statement);
            self.record(
                context,
                AuditEvent::Statement(StatementEvent::Issued {
                    statement: id.clone(),
                    account: statement.account.clone(),
                    closing_balance: statement.closing_balance,
                }),
            );
            if overdue_at.is_some() {
                self.record(
                    context,
                    AuditEvent::Statement(StatementEvent::Overdue {
                        statement: id.clone(),
                    }),
                );
            }
            self.statements.insert(id, statement.clone());
            issued.push(statement);
        }
        self.statement_settings.insert(SETTINGS, settings);
        issued
    }

    fn return_statement(
        &mut self,
        context: &Context,
        answer: ReturnStatement,
    ) -> Result<StatementReceipt, Rejection> {
        Self::require(&context.role, &["branch", "operator"], "return statements")?;
        let id = answer.statement.clone();
        let statement = self.statements.get(&id).ok_or_else(|| {
            rejected(StatementRejection::NotFound {
                statement: id.clone(),
            })
        })?;
        if let Role::Branch(own) = &context.role
            && *own != statement.branch
        {
            return Err(Rejection::Forbidden {
                reason: format!("statement {id} belongs to branch {}", statement.branch),
            });
        }
        let key = self
            .settings()
            .key
            .expect("a key is installed before any statement");
        let facts = CodeFacts {
            currency: statement.currency,
            cutoff: statement.cutoff,
            closing_balance: statement.closing_balance,
        };
        if !key.verify(&id, &statement.account, &facts, &answer.verification_code) {
            return Err(rejected(StatementRejection::VerificationCodeMismatch {
                statement: id,
            }));
        }
        if answer.answer == ReturnAnswer::Disputed && answer.stated_balance.is_none() {
            return Err(rejected(StatementRejection::StatedBalanceRequired));
        }
        if let Some(previous) = &statement.returned {
            if previous.answer == answer.answer && previous.stated_balance == answer.stated_balance
            {
                return Ok(StatementReceipt::Returned(Box::new(statement.clone())));
            }
            return Err(rejected(StatementRejection::AlreadyReturned {
                statement: id,
            }));
        }
        let stated = answer.stated_balance.unwrap_or(statement.closing_balance);
        let difference = stated
            .checked_sub(statement.closing_balance)
            .ok_or(Rejection::AmountTooLarge)?;
        let state = if answer.answer == ReturnAnswer::Confirmed && difference.is_zero() {
            ReturnState::Reconciled
        } else {
            ReturnState::Disputed
        };
        // From here on, recording the return cannot fail.
        let mut statement = statement.clone();
        let late = statement.state == ReturnState::Overdue;
        self.derived
            .statements
            .deadlines
            .remove(&(statement.deadline(), id.clone()));
        statement.state = state;
        statement.returned = Some(StatementReturn {
            answer: answer.answer,
            stated_balance: answer.stated_balance,
            difference,
            by: context.actor.principal.clone(),
            at: context.at,
            position: context.position,
            late,
        });
        if late {
            self.close_overdue_break(context, &statement);
        }
        if state == ReturnState::Disputed {
            let raised = self.file_break(ReconciliationBreak {
                id: 0,
                kind: BreakKind::DisputedStatement {
                    statement: id.clone(),
                    closing_balance: statement.closing_balance,
                    stated_balance: stated,
                },
                account: statement.account.clone(),
                branch: statement.branch.clone(),
                currency: statement.currency,
                amount: difference,
                date: statement.cutoff.date(),
                status: BreakStatus::Open,
                raised_at: context.at,
                history: vec![Self::action(
                    context,
                    "raised",
                    Some(format!("statement {id} disputed")),
                )],
            });
            statement.breaks.push(raised);
        }
        self.statements.insert(id.clone(), statement.clone());
        self.record(
            context,
            AuditEvent::Statement(StatementEvent::Returned {
                statement: id,
                state,
                stated_balance: answer.stated_balance,
            }),
        );
        Ok(StatementReceipt::Returned(Box::new(statement)))
    }

    /// Files the overdue-return break of a statement that has just become
    /// overdue, and notes it on the statement. Its age counts from the
    /// deadline.
    fn raise_overdue_break(&mut self, raised: BreakAction, statement: &mut Statement) {
        let detail = format!("statement {} due {}", statement.id, statement.due);
        let id = self.file_break(ReconciliationBreak {
            id: 0,
            kind: BreakKind::OverdueReturn {
                statement: statement.id.clone(),
                due: statement.due,
            },
            account: statement.account.clone(),
            branch: statement.branch.clone(),
            currency: statement.currency,
            amount: Amount::ZERO,
            date: statement.due,
            status: BreakStatus::Open,
            raised_at: statement.deadline(),
            history: vec![BreakAction {
                detail: Some(detail),
                ..raised
            }],
        });
        statement.breaks.push(id);
    }

    /// A late return answers the overdue break: an open one is resolved; one
    /// whose adjusting entry awaits approval keeps waiting, with the return
    /// in its history; one resolved already is left alone.
    fn close_overdue_break(&mut self, context: &Context, statement: &Statement) {
        let overdue = statement.breaks.iter().copied().find(|id| {
            self.breaks
                .get(id)
                .is_some_and(|b| matches!(b.kind, BreakKind::OverdueReturn { .. }))
        });
        let Some(id) = overdue else {
            return;
        };
        let detail = Some(statement.state.name().to_string());
        match self.breaks.get(&id).map(|b| &b.status) {
            Some(BreakStatus::Open) => self.resolve(
                context,
                id,
                Resolution::ReturnedLate {
                    state: statement.state,
                },
                "returned_late",
                detail,
            ),
            Some(BreakStatus::AwaitingApproval { .. }) => {
                let record = self.breaks.get_mut(&id).expect("exists");
                record
                    .history
                    .push(Self::action(context, "returned_late", detail));
            }
            _ => {}
        }
    }

    fn set_statement_policy(
        &mut self,
        context: &Context,
        policy: StatementPolicy,
    ) -> Result<StatementReceipt, Rejection> {
        Self::require(&context.role, &["admin"], "set statement policy")?;
        policy.validate().map_err(rejected)?;
        if let Some(branch) = policy
            .rules
            .iter()
            .filter_map(|rule| rule.branch.as_ref())
            .find(|branch| !self.branches.contains_key(*branch))
        {
            return Err(Rejection::BranchNotFound {
                branch: branch.clone(),
            });
        }
        let mut settings = self.settings();
        settings.policy = policy.clone();
        self.statement_settings.insert(SETTINGS, settings);
        self.record(
            context,
            AuditEvent::Statement(StatementEvent::PolicySet(policy.clone())),
        );
        Ok(StatementReceipt::Policy(policy))
    }

    /// Marks overdue every unreturned statement whose due date ended by `at`.
    pub(crate) fn expire_statements(&mut self, position: Position, at: Timestamp) {
        while let Some((deadline, id)) = self.derived.statements.deadlines.first().cloned() {
            if deadline > at {
                break;
            }
            self.derived.statements.deadlines.pop_first();
            let mut statement = self
                .statements
                .get(&id)
                .cloned()
                .expect("indexed statements exist");
            statement.state = ReturnState::Overdue;
            statement.overdue_at = Some(deadline);
            let raised = BreakAction {
                by: Actor::system().principal,
                at,
                position,
                action: "raised".into(),
                detail: None,
            };
            self.raise_overdue_break(raised, &mut statement);
            self.statements.insert(id.clone(), statement);
            self.record_as(
                position,
                at,
                Actor::system(),
                AuditEvent::Statement(StatementEvent::Overdue { statement: id }),
            );
        }
    }

    /// Rebuilds the statement indexes from the statements table.
    pub(crate) fn derive_statements(&self) -> StatementIndex {
        let mut index = StatementIndex::default();
        for statement in self.statements.values() {
            index.add(statement);
        }
        index
    }

    /// A statement.
    pub fn statement(&self, id: &StatementId) -> Option<&Statement> {
        self.statements.get(id)
    }

    /// All statements, by id (that is, in issue order).
    pub fn statements(&self) -> impl Iterator<Item = &Statement> {
        self.statements.values()
    }

    /// The statement policy in force.
    pub fn statement_policy(&self) -> StatementPolicy {
        self.settings().policy
    }

    /// The verification key's fingerprint, once a key is installed.
    pub fn statement_key_fingerprint(&self) -> Option<String> {
        self.settings().key.map(|key| key.fingerprint())
    }

    /// The postings of a statement's period, in log order, each with the
    /// balance after it: the opening balance plus the lines gives the
    /// closing balance.
    pub fn statement_lines(&self, id: &StatementId) -> Option<Vec<StatementLine>> {
        let statement = self.statements.get(id)?;
        // An entry approved in the period was booked at most the longest
        // pending timeout before the period began.
        let period_start = self
            .index_times
            .get(&statement.opening.index)
            .copied()
            .unwrap_or(Timestamp(i64::MIN));
        let earliest = Timestamp(
            period_start
                .0
                .saturating_sub(PENDING_TIMEOUT_MAX_SECONDS as i64 * 1_000_000),
        );
        let count = self.entries.len() as u64;
        let first = partition_point(count, |no| {
            self.entries.at(no).expect("numbered").booked_at < earliest
        });
        let mut lines = Vec::new();
        for no in first..count {
            let entry = self.entries.at(no).expect("numbered");
            if entry.booked > statement.closing {
                break;
            }
            if entry.status != EntryStatus::Posted {
                continue;
            }
            let (position, at) = match &entry.decision {
                Some(decision) => (decision.position, decision.at),
                None => (entry.booked, entry.booked_at),
            };
            if position <= statement.opening || position > statement.closing {
                continue;
            }
            for posting in entry
                .postings
                .iter()
                .filter(|p| p.account == statement.account)
            {
                lines.push((position, no, posting.side, posting.amount, at));
            }
        }
        lines.sort_by_key(|(position, no, ..)| (*position, *no));
        let mut balance = statement.opening_balance;
        let grows = statement.class.normal_side();
        Some(
            lines
                .into_iter()
                .map(|(position, no, side, amount, at)| {
                    let entry = self.entries.at(no).expect("numbered");
                    balance = if side == grows {
                        balance + amount
                    } else {
                        balance - amount
                    };
                    StatementLine {
                        entry: entry.id().clone(),
                        position,
                        at,
                        side,
                        amount,
                        balance_after: balance,
                        memo: entry.request.memo.clone(),
                        reference: entry.request.reference.clone(),
                    }
                })
                .collect(),
        )
    }

    /// Return figures per branch (回收率) for statements whose cutoff date is
    /// within `from..=to` (either end open), by branch code.
    pub fn statement_return_rates(
        &self,
        from: Option<Date>,
        to: Option<Date>,
    ) -> Vec<BranchReturnRate> {
        let mut rates: BTreeMap<_, BranchReturnRate> = BTreeMap::new();
        for statement in self.statements.values() {
            let date = statement.cutoff.date();
            if from.is_some_and(|from| date < from) || to.is_some_and(|to| date > to) {
                continue;
            }
            let rate = rates
                .entry(statement.branch.clone())
                .or_insert_with(|| BranchReturnRate {
                    branch: statement.branch.clone(),
                    issued: 0,
                    returned: 0,
                    reconciled: 0,
                    disputed: 0,
                    overdue: 0,
                    outstanding: 0,
                    rate_basis_points: 0,
                });
            rate.issued += 1;
            match statement.state {
                ReturnState::Issued => rate.outstanding += 1,
                ReturnState::Reconciled => rate.reconciled += 1,
                ReturnState::Disputed => rate.disputed += 1,
                ReturnState::Overdue => rate.overdue += 1,
            }
        }
        rates
            .into_values()
            .map(|mut rate| {
                rate.returned = rate.reconciled + rate.disputed;
                rate.rate_basis_points =
                    u32::try_from(rate.returned * 10_000 / rate.issued).expect("at most 10000");
                rate
            })
            .collect()
    }

    /// Overdue statements with their age as of `as_of`, oldest first.
    pub fn overdue_statements(&self, as_of: Timestamp) -> Vec<AgedStatement> {
        self.aged(as_of, ReturnState::Overdue, |s| s.overdue_at)
    }

    /// Disputed statements with the age of the dispute as of `as_of`,
    /// oldest first.
    pub fn disputed_statements(&self, as_of: Timestamp) -> Vec<AgedStatement> {
        self.aged(as_of, ReturnState::Disputed, |s| {
            s.returned.as_ref().map(|r| r.at)
        })
    }

    fn aged(
        &self,
        as_of: Timestamp,
        state: ReturnState,
        since: impl Fn(&Statement) -> Option<Timestamp>,
    ) -> Vec<AgedStatement> {
        let mut aged: Vec<AgedStatement> = self
            .statements
            .values()
            .filter(|s| s.state == state)
            .map(|s| {
                let since = since(s).expect("overdue and disputed statements say since when");
                let age_days = as_of.micros_since(since) / (86_400 * 1_000_000);
                AgedStatement {
                    statement: s.clone(),
                    age_days,
                    bucket: AgeBucket::of_days(age_days),
                }
            })
            .collect();
        aged.sort_by(|a, b| {
            b.age_days
                .cmp(&a.age_days)
                .then_with(|| a.statement.id.cmp(&b.statement.id))
        });
        aged
    }
}

/// The first `n` in `0..count` for which `before(n)` is false, where
/// `before` is true on a prefix.
fn partition_point(count: u64, before: impl Fn(u64) -> bool) -> u64 {
    let (mut low, mut high) = (0, count);
    while low < high {
        let middle = low + (high - low) / 2;
        if before(middle) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    low
}
