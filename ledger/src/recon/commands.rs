//! The reconciliation commands on the ledger: import external statements,
//! run a reconciliation (matches, breaks and the balance check committed as
//! one command), resolve breaks; and the reads.

use sha2::{Digest, Sha256};

use super::breaks::{
    BalanceCheck, BreakAction, BreakKind, BreakResolution, BreakStatus, ClaimedBy,
    ExternalStatement, ExternalStatementId, ItemRef, ItemState, ReconciliationBreak,
    ReconciliationRun, Resolution, RunMatch,
};
use super::matching::{Candidate, Rule, match_items};
use super::statement::ParsedStatement;
use crate::account::Account;
use crate::amount::Amount;
use crate::codec;
use crate::command::Receipt;
use crate::id::{AccountId, EntryId};
use crate::journal_entry::EntryStatus;
use crate::ledger::{Context, Ledger, Position};
use crate::limits::{RULES_PER_RUN_MAX, STATEMENT_LINES_MAX};
use crate::queries::PointInTimeError;
use crate::rejection::Rejection;
use crate::setup::check_text;
use crate::time::{Date, Timestamp};

fn hex16(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..8])
}

/// An unmatched item of a run, with what the balance check needs.
struct Item {
    item: ItemRef,
    candidate: Candidate,
    /// The day a break about it counts from.
    date: Date,
}

impl Ledger {
    fn statement_id(account: &AccountId, parsed: &ParsedStatement) -> ExternalStatementId {
        let identity = (
            account,
            &parsed.external_account,
            &parsed.reference,
            &parsed.sequence,
            parsed.opening.date,
        );
        ExternalStatementId(format!("xs-{}", hex16(&codec::encode(&identity))))
    }

    fn statement_invalid(reason: impl Into<String>) -> Rejection {
        Rejection::StatementInvalid {
            reason: reason.into(),
        }
    }

    /// Stores the statements of one file, all or none. A statement stored
    /// before with the same content answers as stored.
    pub(crate) fn import_statements(
        &mut self,
        context: &Context,
        account: AccountId,
        statements: Vec<ParsedStatement>,
    ) -> Result<Receipt, Rejection> {
        Self::require(&context.role, &["operator", "admin"], "import statements")?;
        let currency = self.reconciled_account(&account)?.currency;
        if statements.is_empty() {
            return Err(Self::statement_invalid("the file holds no statement"));
        }
        let mut stored = Vec::with_capacity(statements.len());
        let mut new = Vec::new();
        for parsed in statements {
            if parsed.currency != currency {
                return Err(Self::statement_invalid(format!(
                    "statement {} is in {}, account {account} in {currency}",
                    parsed.reference, parsed.currency
                )));
            }
            if parsed.lines.len() > STATEMENT_LINES_MAX {
                return Err(Self::statement_invalid(format!(
                    "a statement may have at most {STATEMENT_LINES_MAX} lines"
                )));
            }
            parsed
                .check_balance()
                .map_err(|error| Self::statement_invalid(error.to_string()))?;
            let id = Self::statement_id(&account, &parsed);
            let content_hash = hex::encode(Sha256::digest(codec::encode(&parsed)));
            if let Some(existing) = self.external_statements.get(&id) {
                if existing.content_hash != content_hash {
                    return Err(Rejection::ExternalStatementExistsWithDifferentContent {
                        statement: id.0,
                    });
                }
                stored.push(existing.clone());
                continue;
            }
            let statement = ExternalStatement {
                id,
                account: account.clone(),
                format: parsed.format,
                reference: parsed.reference,
                sequence: parsed.sequence,
                external_account: parsed.external_account,
                currency,
                opening: parsed.opening,
                closing: parsed.closing,
                lines: parsed.lines,
                content_hash,
                imported_by: context.actor.principal.clone(),
                imported_at: context.at,
                position: context.position,
            };
            if !new.iter().any(|s: &ExternalStatement| s.id == statement.id) {
                new.push(statement.clone());
            }
            stored.push(statement);
        }
        // From here on, importing cannot fail.
        for statement in new {
            self.external_statements
                .insert(statement.id.clone(), statement);
        }
        Ok(Receipt::ExternalStatements(stored))
    }

    fn reconciled_account(&self, account: &AccountId) -> Result<&Account, Rejection> {
        self.accounts
            .get(account)
            .ok_or_else(|| Rejection::AccountNotFound {
                account: account.clone(),
            })
    }

    /// The account's posted balance (normal side positive) at the end of `date`.
    fn balance_at_end_of(&self, account: &Account, date: Date) -> Amount {
        let cutoff = Timestamp(date.next().start().0 - 1);
        match self.index_at_time(cutoff) {
            Ok(index) => self
                .balance_at(&account.id, index)
                .map_or(Amount::ZERO, |balance| balance.posted(account.class)),
            Err(PointInTimeError::TimeInTheFuture { .. }) => account.balance.posted(account.class),
            Err(_) => Amount::ZERO,
        }
    }

    /// Posted, unclaimed postings on `account` booked before `cutoff`, in
    /// booking order, signed as the statement shows them.
    fn ledger_items(&self, account: &Account, cutoff: Timestamp) -> Vec<Item> {
        let normal = account.class.normal_side();
        let mut items = Vec::new();
        let id = crate::codec::encode(&account.id);
        for entry in self.entries.values_holding(&id) {
            if entry.status != EntryStatus::Posted {
                continue;
            }
            let posted_at = entry.decision.as_ref().map_or(entry.booked_at, |d| d.at);
            if posted_at >= cutoff {
                continue;
            }
            for (at, posting) in entry.postings.iter().enumerate() {
                if posting.account != account.id {
                    continue;
                }
                let item = ItemRef::Ledger {
                    entry: entry.id().clone(),
                    posting: u32::try_from(at).expect("postings per entry fit u32"),
                };
                if self.claimed(&item) {
                    continue;
                }
                let mut references: Vec<String> = entry.request.reference.iter().cloned().collect();
                references.push(entry.id().to_string());
                let date = entry.request.value_date.unwrap_or(posted_at.date());
                items.push(Item {
                    item,
                    candidate: Candidate {
                        amount: if posting.side == normal {
                            posting.amount
                        } else {
                            posting.amount.negated()
                        },
                        date,
                        references,
                    },
                    date: posted_at.date(),
                });
            }
        }
        items
    }

    /// Unclaimed lines of the account's statements that close by `cutoff`,
    /// by closing date, statement and line.
    fn external_items(&self, account: &AccountId, cutoff: Date) -> Vec<Item> {
        let mut statements: Vec<&ExternalStatement> = self
            .external_statements
            .values()
            .filter(|s| &s.account == account && s.closing.date <= cutoff)
            .collect();
        statements.sort_by(|a, b| (a.closing.date, &a.id).cmp(&(b.closing.date, &b.id)));
        let mut items = Vec::new();
        for statement in statements {
            for (at, line) in statement.lines.iter().enumerate() {
                let item = ItemRef::Line {
                    statement: statement.id.clone(),
                    line: u32::try_from(at).expect("lines are limited"),
                };
                if self.claimed(&item) {
                    continue;
                }
                let references = [&line.reference, &line.bank_reference]
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect();
                items.push(Item {
                    item,
                    candidate: Candidate {
                        amount: line.signed(),
                        date: line.value_date,
                        references,
                    },
                    date: statement.closing.date,
                });
            }
        }
        items
    }

    fn claimed(&self, item: &ItemRef) -> bool {
        self.recon_items
            .get(item)
            .is_some_and(|state| state.claimed.is_some())
    }

    fn next_break_id(&self) -> u64 {
        self.breaks.iter().next_back().map_or(1, |(id, _)| id + 1)
    }

    /// An action on a break by the command's actor.
    pub(crate) fn action(context: &Context, action: &str, detail: Option<String>) -> BreakAction {
        BreakAction {
            by: context.actor.principal.clone(),
            at: context.at,
            position: context.position,
            action: action.to_string(),
            detail,
        }
    }

    fn raise(
        &mut self,
        context: &Context,
        account: &Account,
        kind: BreakKind,
        amount: Amount,
        date: Date,
        run: u64,
    ) -> u64 {
        self.file_break(ReconciliationBreak {
            id: 0,
            kind,
            account: account.id.clone(),
            branch: account.branch.clone(),
            currency: account.currency,
            amount,
            date,
            status: BreakStatus::Open,
            raised_at: context.at,
            history: vec![Self::action(context, "raised", Some(format!("run {run}")))],
        })
    }

    /// Files a new break under the next id (whatever `record.id` says) and
    /// indexes its item, if it is about one.
    pub(crate) fn file_break(&mut self, record: ReconciliationBreak) -> u64 {
        let id = self.next_break_id();
        let item = record.kind.item().cloned();
        self.breaks.insert(id, ReconciliationBreak { id, ..record });
        if let Some(item) = item {
            let mut state = self.recon_items.get(&item).cloned().unwrap_or_default();
            state.open_break = Some(id);
            self.recon_items.insert(item, state);
        }
        id
    }

    /// Marks a break resolved, recording the action.
    pub(crate) fn resolve(
        &mut self,
        context: &Context,
        id: u64,
        resolution: Resolution,
        action: &str,
        detail: Option<String>,
    ) {
        let record = self.breaks.get_mut(&id).expect("the break exists");
        record.status = BreakStatus::Resolved { resolution };
        record.history.push(Self::action(context, action, detail));
    }

    /// Runs the rules over the account's unclaimed postings and the
    /// statement's (and earlier statements') unclaimed lines, commits the
    /// matches, raises breaks for what stays unmatched, and checks the
    /// balance at the statement's closing date.
    pub(crate) fn run_reconciliation(
        &mut self,
        context: &Context,
        account: AccountId,
        statement: ExternalStatementId,
        rules: Vec<Rule>,
    ) -> Result<Receipt, Rejection> {
        Self::require(&context.role, &["operator", "admin"], "run reconciliations")?;
        let rules = if rules.is_empty() {
            Rule::defaults()
        } else {
            rules
        };
        if rules.len() > RULES_PER_RUN_MAX {
            return Err(Rejection::RulesInvalid {
                reason: format!("a run may have at most {RULES_PER_RUN_MAX} rules"),
            });
        }
        if let Some(reason) = rules.iter().find_map(Rule::invalid) {
            return Err(Rejection::RulesInvalid { reason });
        }
        let account = self.reconciled_account(&account)?.clone();
        let stated = self
            .external_statements
            .get(&statement)
            .filter(|s| s.account == account.id)
            .ok_or_else(|| Rejection::ExternalStatementNotFound {
                statement: statement.0.clone(),
            })?;
        let cutoff = stated.closing.date;
        let statement_balance = stated.closing.amount;
        let ledger = self.ledger_items(&account, cutoff.next().start());
        let external = self.external_items(&account.id, cutoff);
        let ledger_candidates: Vec<Candidate> =
            ledger.iter().map(|i| i.candidate.clone()).collect();
        let external_candidates: Vec<Candidate> =
            external.iter().map(|i| i.candidate.clone()).collect();
        let found = match_items(&ledger_candidates, &external_candidates, &rules);
        // From here on, the run cannot fail.
        let run = self
            .reconciliations
            .iter()
            .next_back()
            .map_or(1, |(id, _)| id + 1);
        let mut matches = Vec::with_capacity(found.len());
        let mut raised = Vec::new();
        let mut resolved = Vec::new();
        let mut ledger_claimed = vec![false; ledger.len()];
        let mut external_claimed = vec![false; external.len()];
        for (number, found) in found.iter().enumerate() {
            let number = u32::try_from(number).expect("matches are limited by lines");
            let items: Vec<ItemRef> = found
                .ledger
                .iter()
                .map(|&at| ledger[at].item.clone())
                .chain(found.external.iter().map(|&at| external[at].item.clone()))
                .collect();
            for &at in &found.ledger {
                ledger_claimed[at] = true;
            }
            for &at in &found.external {
                external_claimed[at] = true;
            }
            for item in &items {
                let mut state = self.recon_items.get(item).cloned().unwrap_or_default();
                state.claimed = Some(ClaimedBy::Run { run, number });
                if let Some(open) = state.open_break.filter(|id| {
                    self.breaks
                        .get(id)
                        .is_some_and(ReconciliationBreak::is_open)
                }) {
                    self.resolve(
                        context,
                        open,
                        Resolution::MatchedInRun { run },
                        "matched_in_run",
                        Some(format!("run {run}")),
                    );
                    resolved.push(open);
                }
                self.recon_items.insert(item.clone(), state);
            }
            let split = found.ledger.len();
            matches.push(RunMatch {
                rule: rules[found.rule].name().to_string(),
                ledger: items[..split].to_vec(),
                external: items[split..].to_vec(),
                difference: found.difference,
            });
            if !found.difference.is_zero() {
                let date = found
                    .external
                    .iter()
                    .map(|&at| external[at].date)
                    .max()
                    .unwrap_or(cutoff);
                raised.push(self.raise(
                    context,
                    &account,
                    BreakKind::AmountDifference { run, number },
                    found.difference,
                    date,
                    run,
                ));
            }
        }
        let mut explained = Amount::ZERO;
        for (item, _) in ledger
            .iter()
            .zip(&ledger_claimed)
            .filter(|(_, claimed)| !**claimed)
        {
            explained -= item.candidate.amount;
            if self
                .recon_items
                .get(&item.item)
                .and_then(|s| s.open_break)
                .is_none()
            {
                let kind = BreakKind::UnmatchedLedgerItem {
                    item: item.item.clone(),
                };
                raised.push(self.raise(
                    context,
                    &account,
                    kind,
                    item.candidate.amount.negated(),
                    item.date,
                    run,
                ));
            }
        }
        for (item, _) in external
            .iter()
            .zip(&external_claimed)
            .filter(|(_, claimed)| !**claimed)
        {
            explained += item.candidate.amount;
            if self
                .recon_items
                .get(&item.item)
                .and_then(|s| s.open_break)
                .is_none()
            {
                let kind = BreakKind::UnmatchedExternalLine {
                    item: item.item.clone(),
                };
                raised.push(self.raise(
                    context,
                    &account,
                    kind,
                    item.candidate.amount,
                    item.date,
                    run,
                ));
            }
        }
        explained += self.match_differences(&account.id, cutoff)
            + matches
                .iter()
                .fold(Amount::ZERO, |sum, m| sum + m.difference);
        let ledger_balance = self.balance_at_end_of(&account, cutoff);
        let unexplained = statement_balance - ledger_balance - explained;
        let superseded: Vec<u64> = self
            .breaks
            .values()
            .filter(|b| b.is_open() && matches!(&b.kind, BreakKind::BalanceDifference { statement: s, .. } if *s == statement))
            .map(|b| b.id)
            .collect();
        for id in superseded {
            self.resolve(
                context,
                id,
                Resolution::Superseded { run },
                "superseded",
                Some(format!("run {run}")),
            );
            resolved.push(id);
        }
        if !unexplained.is_zero() {
            let kind = BreakKind::BalanceDifference {
                statement: statement.clone(),
                ledger_balance,
                statement_balance,
            };
            raised.push(self.raise(context, &account, kind, unexplained, cutoff, run));
        }
        let record = ReconciliationRun {
            id: run,
            account: account.id.clone(),
            statement,
            rules,
            matches,
            balance: BalanceCheck {
                cutoff,
                ledger_balance,
                statement_balance,
                explained,
                unexplained,
            },
            breaks_raised: raised,
            breaks_resolved: resolved,
            run_by: context.actor.principal.clone(),
            at: context.at,
            position: context.position,
        };
        self.reconciliations.insert(run, record.clone());
        Ok(Receipt::Reconciliation(Box::new(record)))
    }

    /// The differences of the account's earlier runs' matches whose
    /// statements close by `cutoff`.
    fn match_differences(&self, account: &AccountId, cutoff: Date) -> Amount {
        self.reconciliations
            .values()
            .filter(|run| &run.account == account)
            .filter(|run| {
                self.external_statements
                    .get(&run.statement)
                    .is_some_and(|s| s.closing.date <= cutoff)
            })
            .flat_map(|run| run.matches.iter())
            .fold(Amount::ZERO, |sum, m| sum + m.difference)
    }

    /// Resolves an open break by manual match, adjusting entry or explanation.
    pub(crate) fn resolve_break(
        &mut self,
        context: &Context,
        id: u64,
        resolution: BreakResolution,
    ) -> Result<Receipt, Rejection> {
        Self::require(&context.role, &["operator"], "resolve breaks")?;
        let record = self
            .breaks
            .get(&id)
            .ok_or(Rejection::BreakNotFound { id })?;
        if record.status != BreakStatus::Open {
            return Err(Rejection::BreakNotOpen {
                id,
                status: record.status.name().to_string(),
            });
        }
        match resolution {
            BreakResolution::Explanation { reason } => {
                if reason.trim().is_empty() {
                    return Err(Rejection::ReasonRequired);
                }
                check_text("reason", Some(&reason))?;
                self.resolve(
                    context,
                    id,
                    Resolution::Explanation {
                        reason: reason.clone(),
                    },
                    "explained",
                    Some(reason),
                );
            }
            BreakResolution::ManualMatch { items } => self.manual_match(context, id, items)?,
            BreakResolution::AdjustingEntry { entry } => {
                let account = record.account.clone();
                if !entry.postings.iter().any(|p| p.account == account) {
                    return Err(Rejection::AdjustmentOffAccount { account });
                }
                let entry_id = entry.id.clone();
                let entry = crate::journal_entry::NewEntry {
                    pending: true,
                    ..entry
                };
                let Receipt::Entries(outcomes) = self.post_entries(context, vec![entry], false)?
                else {
                    unreachable!("posting entries answers with their outcomes")
                };
                match &outcomes[0].status {
                    EntryStatus::Pending => {}
                    EntryStatus::Rejected { rejection } => return Err(rejection.clone()),
                    _ => return Err(Rejection::EntryNotPending { entry: entry_id }),
                }
                let record = self.breaks.get_mut(&id).expect("exists");
                record.status = BreakStatus::AwaitingApproval {
                    entry: entry_id.clone(),
                };
                record.history.push(Self::action(
                    context,
                    "adjustment_proposed",
                    Some(entry_id.to_string()),
                ));
                self.adjustments.insert(entry_id, id);
            }
        }
        Ok(Receipt::Break(Box::new(
            self.breaks.get(&id).expect("exists").clone(),
        )))
    }

    fn manual_match(
        &mut self,
        context: &Context,
        id: u64,
        items: Vec<ItemRef>,
    ) -> Result<(), Rejection> {
        let record = self.breaks.get(&id).expect("checked");
        let Some(own) = record.kind.item().cloned() else {
            return Err(Rejection::ManualMatchNotApplicable {
                id,
                kind: record.kind.name().to_string(),
            });
        };
        if !items.contains(&own) {
            return Err(Rejection::ItemNotMatchable {
                item: format!("break {id}"),
                reason: "the manual match must include the break's own item".into(),
            });
        }
        let account = self.reconciled_account(&record.account)?.clone();
        let mut ledger_sum = Amount::ZERO;
        let mut line_sum = Amount::ZERO;
        let mut sides = (0, 0);
        let mut sorted = items.clone();
        sorted.sort();
        sorted.dedup();
        if sorted.len() != items.len() {
            return Err(Rejection::ItemNotMatchable {
                item: format!("break {id}"),
                reason: "an item is named twice".into(),
            });
        }
        for item in &items {
            let not = |reason: &str| Rejection::ItemNotMatchable {
                item: format!("{item:?}"),
                reason: reason.to_string(),
            };
            if self.claimed(item) {
                return Err(not("it is matched already"));
            }
            match item {
                ItemRef::Ledger { entry, posting } => {
                    let booked = self
                        .entries
                        .get(entry)
                        .filter(|e| e.status == EntryStatus::Posted)
                        .ok_or_else(|| not("no such posted entry"))?;
                    let posting = booked
                        .postings
                        .get(*posting as usize)
                        .filter(|p| p.account == account.id)
                        .ok_or_else(|| not("no such posting on the break's account"))?;
                    ledger_sum += if posting.side == account.class.normal_side() {
                        posting.amount
                    } else {
                        posting.amount.negated()
                    };
                    sides.0 += 1;
                }
                ItemRef::Line { statement, line } => {
                    let stated = self
                        .external_statements
                        .get(statement)
                        .filter(|s| s.account == account.id)
                        .ok_or_else(|| not("no such statement of the break's account"))?;
                    line_sum += stated
                        .lines
                        .get(*line as usize)
                        .ok_or_else(|| not("no such line"))?
                        .signed();
                    sides.1 += 1;
                }
            }
        }
        if sides.0 == 0 || sides.1 == 0 {
            return Err(Rejection::ItemNotMatchable {
                item: format!("break {id}"),
                reason: "a manual match needs postings and lines".into(),
            });
        }
        if ledger_sum != line_sum {
            return Err(Rejection::ManualMatchUnbalanced {
                postings: ledger_sum.to_decimal_string(account.currency),
                lines: line_sum.to_decimal_string(account.currency),
            });
        }
        // From here on, the manual match cannot fail.
        let detail = Some(format!("{} items", items.len()));
        for item in &items {
            let mut state = self.recon_items.get(item).cloned().unwrap_or_default();
            state.claimed = Some(ClaimedBy::Manual { id });
            if let Some(open) = state.open_break.filter(|b| {
                self.breaks
                    .get(b)
                    .is_some_and(|b| b.status == BreakStatus::Open)
            }) {
                self.resolve(
                    context,
                    open,
                    Resolution::ManualMatch {
                        items: items.clone(),
                    },
                    "manual_match",
                    detail.clone(),
                );
            }
            self.recon_items.insert(item.clone(), state);
        }
        if self
            .breaks
            .get(&id)
            .is_some_and(ReconciliationBreak::is_open)
        {
            self.resolve(
                context,
                id,
                Resolution::ManualMatch { items },
                "manual_match",
                detail,
            );
        }
        Ok(())
    }

    /// Follows up adjusting entries that were decided: approved resolves
    /// their break, voided (rejected or expired) reopens it. Called after
    /// every command; does nothing when no adjustment waits.
    pub(crate) fn settle_adjustments(&mut self, position: Position, at: Timestamp) {
        if self.adjustments.iter().next().is_none() {
            return;
        }
        let waiting: Vec<(EntryId, u64)> = self
            .adjustments
            .iter()
            .map(|(e, b)| (e.clone(), *b))
            .collect();
        for (entry_id, id) in waiting {
            let Some(entry) = self.entries.get(&entry_id) else {
                continue;
            };
            let (status, decision) = (entry.status.clone(), entry.decision.clone());
            let Some(decision) = decision.filter(|_| status != EntryStatus::Pending) else {
                continue;
            };
            let action = BreakAction {
                by: decision.by,
                at,
                position,
                action: String::new(),
                detail: Some(entry_id.to_string()),
            };
            let record = self.breaks.get_mut(&id).expect("adjusted breaks exist");
            if status == EntryStatus::Posted {
                record.status = BreakStatus::Resolved {
                    resolution: Resolution::AdjustingEntry {
                        entry: entry_id.clone(),
                    },
                };
                record.history.push(BreakAction {
                    action: "adjustment_approved".into(),
                    ..action
                });
            } else {
                record.status = BreakStatus::Open;
                record.history.push(BreakAction {
                    action: "adjustment_voided".into(),
                    ..action
                });
            }
            self.adjustments.remove(&entry_id);
        }
    }

    /// A stored external statement.
    pub fn external_statement(&self, id: &ExternalStatementId) -> Option<&ExternalStatement> {
        self.external_statements.get(id)
    }

    /// Every stored external statement, by id.
    pub fn external_statements(&self) -> impl Iterator<Item = &ExternalStatement> {
        self.external_statements.values()
    }

    /// A reconciliation run.
    pub fn reconciliation(&self, id: u64) -> Option<&ReconciliationRun> {
        self.reconciliations.get(&id)
    }

    /// Every reconciliation run, oldest first.
    pub fn reconciliations(&self) -> impl Iterator<Item = &ReconciliationRun> {
        self.reconciliations.values()
    }

    /// A break.
    pub fn reconciliation_break(&self, id: u64) -> Option<&ReconciliationBreak> {
        self.breaks.get(&id)
    }

    /// Every break, oldest first.
    pub fn reconciliation_breaks(&self) -> impl Iterator<Item = &ReconciliationBreak> {
        self.breaks.values()
    }

    /// What the reconciliation knows of an item: its claim and its break.
    pub fn reconciliation_item(&self, item: &ItemRef) -> Option<&ItemState> {
        self.recon_items.get(item)
    }
}
