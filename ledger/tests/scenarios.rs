//! Golden scenario files (style.md §5.2): every `tests/scenarios/*.ledger`
//! file lists one command and the outcome a bookkeeper expects per line, like
//! TigerBeetle's tables and raft-rs's datadriven files. Each file runs against
//! a fresh [`Ledger`]; the first line whose outcome differs fails the test
//! with the file, line number, line, expected and actual outcome. A line the
//! runner does not understand fails too: a runner that skips lines proves
//! nothing.
//!
//! The syntax, one line each (words are separated by spaces; `"..."` is text):
//!
//! ```text
//! # a comment (a file opens with one saying which rule it demonstrates)
//! at 2026-11-22T09:00:00Z          time of the following commands
//! as teller-sh                     actor of the following commands (`as system`: the node)
//! principal NAME role=ROLE [authority=N] [key=TEXT]      => ok | rejected CODE
//! branch CODE "Name" [parent=CODE] [external=SCHEME]      => ok | rejected CODE
//!     external=SCHEME: an external participant reached through clearing scheme SCHEME
//! account ID BRANCH CUR CLASS PURPOSE [FLAG ...]          => ok | rejected CODE
//!     CLASS: asset, liability, equity, income, expense
//!     PURPOSE: customer, internal, clearing, settlement_reserve, nostro, vostro, suspense,
//!              central_bank_reserve
//!     FLAG: no-overdraft (= debits_must_not_exceed_credits), credits_must_not_exceed_debits,
//!           frozen, closed
//! freeze ID | unfreeze ID | close ID                      => ok | rejected CODE
//! policy BRANCH CUR [threshold=AMOUNT] [tier=AMOUNT:AUTHORITY ...] => ok | rejected CODE
//! open-window                                             => ok | rejected CODE
//! close-window N | settle-window N | abort-window N        => ok | rejected CODE
//! cap BRANCH CUR AMOUNT [warn=PERCENT]                    => ok | rejected CODE
//! transfer ID DEBIT -> CREDIT AMOUNT CUR [pending] [queue] [timeout=SECONDS] => STATUS
//! entry ID CUR dr:ACCOUNT AMOUNT cr:ACCOUNT AMOUNT ... [pending] [queue] [timeout=SECONDS] => STATUS
//!     queue: queue_if_over_cap (wait in the liquidity-saving queue rather than be refused)
//! batch [atomic] { transfer ... ; entry ... }             => STATUS, STATUS, ...
//! approve ID ["note"] | reject ID ["reason"]              => STATUS
//! reverse ORIGINAL as ID "reason"                         => STATUS
//! balance ACCOUNT [at-index N]  => posted=A available=A debits_posted=A credits_posted=A
//!                                  debits_pending=A credits_pending=A (any of them)
//! status ID                     => STATUS [index=N posted_by= approval= authority= reason=
//!                                  decided_by= reverses= reversed_by= window= postings= expires=
//!                                  queue=BRANCH|none left_queue=N|none]
//! window N CUR                  => open|closed|settled|aborted [BRANCH:paid=A BRANCH:received=A
//!                                  BRANCH:net=A BRANCH:count=N PAYER->PAYEE=A]
//!                                  entries=N settlement=ID+ID|none carried_to=N|none]
//! exposure BRANCH CUR           => closed=A open=A pending=A net_debit=A (any of them)
//! queue                         => ENTRY-ID ... | none     (pending entries, oldest first)
//! liquidity-queue               => ENTRY-ID ... | none     (queued entries, by payer, first in first)
//! ```
//!
//! The statement directives (issue-statements, return-statement, ...) are
//! described in `scenarios/statements.rs`.
//!
//! STATUS is `posted`, `pending`, `queued`, `voided` or `rejected CODE` (`Rejection::code`),
//! optionally followed by `index=N`, the log index the entry was booked at.
//! The log index of a command is its line number, so `at-index 12` reads as
//! "after line 12"; reads take no log index. A read that finds nothing
//! answers a code: `not_found` (status), `account_not_found`,
//! `not_yet_opened`, `in_the_future` (balance), `window_not_found`.
//!
//! After `=>`, words before any `key=value` must match exactly; each
//! `key=value` given is checked and the others are not asked for. Amounts are
//! parsed with `Amount::parse` in the account's or entry's currency, so `100`
//! and `100.00` are the same CNY amount. After every line the ledger's
//! invariants are rechecked from scratch, and at the end of each file a
//! snapshot must restore a ledger with the same digest.

use std::collections::{BTreeMap, VecDeque};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use ledger::{
    AccountClass, AccountFlags, AccountId, Actor, Amount, ApprovalPolicy, ApprovalReason,
    AuthorityTier, BranchCode, BranchKind, Command, CommandKind, Currency, EntryId, EntryStatus,
    JournalEntry, Ledger, NetDebitCap, NewAccount, NewBranch, NewEntry, NewPrincipal, Posting,
    PrincipalName, Purpose, Receipt, Role, SchemeCode, Side, Timestamp, VoidReason,
};
use sha2::{Digest, Sha256};

#[path = "scenarios/statements.rs"]
mod statements;

/// Every scenario file holds, line by line.
#[test]
fn scenario_files_hold() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "ledger"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scenario files in {}", dir.display());
    let failures: Vec<String> = files.iter().filter_map(|f| run_file(f).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} scenario files failed:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

/// Runs one file; the error names the first failing line.
fn run_file(path: &Path) -> Result<(), String> {
    let name = path.file_name().expect("a file").to_string_lossy();
    let text = std::fs::read_to_string(path).map_err(|error| format!("{name}: {error}"))?;
    if !text.starts_with('#') {
        return Err(format!(
            "{name}: a scenario opens with a comment saying the rule it demonstrates"
        ));
    }
    let mut scenario = Scenario::default();
    let mut checked = 0;
    for (number, line) in text.lines().enumerate() {
        let number = number + 1;
        let fail = |problem: String| format!("{name}:{number}: {}\n{problem}", line.trim());
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        // A broken ledger invariant panics; name the line that caused it.
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            scenario.run_line(number as u64, trimmed)
        }))
        .map_err(|_| fail("  the ledger panicked (message above)".into()))?;
        match outcome {
            Ok(was_checked) => checked += usize::from(was_checked),
            Err(LineError::Malformed(problem)) => {
                return Err(fail(format!("  malformed: {problem}")));
            }
            Err(LineError::Mismatch { expected, actual }) => {
                return Err(fail(format!(
                    "  expected: {expected}\n  actual:   {actual}"
                )));
            }
        }
        scenario
            .ledger
            .check_invariants()
            .map_err(|broken| fail(format!("  invariant broken: {broken}")))?;
    }
    if checked == 0 {
        return Err(format!("{name}: no line checks an outcome"));
    }
    let restored = Ledger::from_snapshot(&scenario.ledger.to_snapshot(), false)
        .map_err(|error| format!("{name}: snapshot does not restore: {error}"))?;
    if restored.digest() != scenario.ledger.digest() {
        return Err(format!("{name}: the restored snapshot has another digest"));
    }
    Ok(())
}

/// Why a line failed.
#[derive(Debug)]
enum LineError {
    /// The line is not valid scenario syntax (or names an unknown key).
    Malformed(String),
    /// The ledger answered something else.
    Mismatch { expected: String, actual: String },
}

impl From<String> for LineError {
    fn from(problem: String) -> LineError {
        LineError::Malformed(problem)
    }
}

/// One word of a line; quoted text keeps its spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    text: String,
    quoted: bool,
}

/// Splits a line into words, `"quoted text"`, and the punctuation `{ } ; ,`.
fn tokenize(line: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut rest = line.trim_start();
    while let Some(first) = rest.chars().next() {
        let (token, after) = if first == '"' {
            let end = rest[1..].find('"').ok_or("unterminated quote")? + 1;
            ((&rest[1..end], true), &rest[end + 1..])
        } else if "{};,".contains(first) {
            ((&rest[..1], false), &rest[1..])
        } else {
            let end = rest
                .find(|c: char| c.is_whitespace() || "\"{};,".contains(c))
                .unwrap_or(rest.len());
            ((&rest[..end], false), &rest[end..])
        };
        tokens.push(Token {
            text: token.0.to_string(),
            quoted: token.1,
        });
        rest = after.trim_start();
    }
    Ok(tokens)
}

/// A ledger and the time and actor that the following commands carry.
#[derive(Default)]
struct Scenario {
    ledger: Ledger,
    at: Option<Timestamp>,
    actor: Option<Actor>,
}

impl Scenario {
    /// Runs one line; answers whether it checked an outcome.
    fn run_line(&mut self, index: u64, line: &str) -> Result<bool, LineError> {
        let tokens = tokenize(line)?;
        let arrow = tokens.iter().position(|t| !t.quoted && t.text == "=>");
        let (command, expected) = match arrow {
            Some(at) => (&tokens[..at], Some(&tokens[at + 1..])),
            None => (&tokens[..], None),
        };
        let (word, args) = command
            .split_first()
            .ok_or_else(|| "a line starts with a directive".to_string())?;
        if word.quoted {
            return Err(format!("a directive is a word, not \"{}\"", word.text).into());
        }
        match (word.text.as_str(), expected) {
            ("at", None) => self.set_time(args)?,
            ("as", None) => self.set_actor(args)?,
            ("at" | "as", Some(_)) => Err(format!("`{}` takes no `=>`", word.text))?,
            (_, None) => Err(format!("`{}` needs `=> expected outcome`", word.text))?,
            (word, Some(expected)) => {
                let expected = parse_expected(expected)?;
                let actual = self.observe(index, word, args)?;
                compare(&expected, &actual)?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn set_time(&mut self, args: &[Token]) -> Result<(), String> {
        let mut args = Args::new(args);
        let text = args.word("an RFC 3339 time")?;
        args.finish()?;
        self.at = Some(Timestamp::parse_rfc3339(&text).map_err(|e| e.to_string())?);
        Ok(())
    }

    fn set_actor(&mut self, args: &[Token]) -> Result<(), String> {
        let mut args = Args::new(args);
        let name = args.word("a principal name")?;
        args.finish()?;
        self.actor = Some(if name == Actor::SYSTEM {
            Actor::system()
        } else {
            Actor {
                principal: parse_id(&name, PrincipalName::new)?,
                key_id: name,
                client: "scenario".into(),
            }
        });
        Ok(())
    }

    /// What the ledger says to a command or a query.
    fn observe(
        &mut self,
        index: u64,
        word: &str,
        args: &[Token],
    ) -> Result<Vec<Observation>, String> {
        if let Some(observed) = statements::observe(self, index, word, args) {
            return observed;
        }
        let query = match word {
            "balance" => self.balance(Args::new(args))?,
            "status" => self.status(Args::new(args))?,
            "window" => self.window(Args::new(args))?,
            "exposure" => self.exposure(Args::new(args))?,
            "queue" => self.queue(Args::new(args))?,
            "liquidity-queue" => self.liquidity_queue(Args::new(args))?,
            _ => return self.apply(index, parse_command(word, args)?),
        };
        Ok(vec![query])
    }

    fn apply(&mut self, index: u64, kind: CommandKind) -> Result<Vec<Observation>, String> {
        let command = Command {
            at: self.at.ok_or("no `at` line before the first command")?,
            actor: self
                .actor
                .clone()
                .ok_or("no `as` line before the first command")?,
            kind,
        };
        let mut applied = self.ledger.apply(index, vec![command]);
        let applied = applied.pop().expect("one answer per command");
        Ok(match applied.outcome {
            Err(rejection) => vec![Observation::new(["rejected".into(), rejection.code()])],
            Ok(Receipt::Entries(outcomes)) => outcomes
                .iter()
                .map(|o| Observation::new(status_words(&o.status)).text("index", o.position.index))
                .collect(),
            Ok(Receipt::Entry(entry)) => vec![
                Observation::new(status_words(&entry.status)).text("index", entry.booked.index),
            ],
            Ok(Receipt::Statements(receipt)) => statements::render(&receipt),
            Ok(Receipt::Break(record)) => {
                vec![Observation::new([record.status.name().to_string()])]
            }
            Ok(_) => vec![Observation::new(["ok".to_string()])],
        })
    }

    fn balance(&self, mut args: Args) -> Result<Observation, String> {
        let id = parse_id(&args.word("an account")?, AccountId::new)?;
        let at_index = match args.peek() {
            Some("at-index") => {
                args.word("at-index")?;
                Some(parse_number::<u64>(&args.word("a log index")?)?)
            }
            _ => None,
        };
        args.finish()?;
        let Some(account) = self.ledger.account(&id) else {
            return Ok(Observation::new(["account_not_found".to_string()]));
        };
        let balance = match at_index {
            None => account.balance,
            Some(index) => match self.ledger.balance_at(&id, index) {
                Ok(balance) => balance,
                Err(error) => return Ok(Observation::new([point_in_time_code(&error)])),
            },
        };
        let (class, currency) = (account.class, account.currency);
        Ok(Observation::default()
            .amount("posted", balance.posted(class), currency)
            .amount("available", balance.available(class), currency)
            .amount("debits_posted", balance.debits_posted, currency)
            .amount("credits_posted", balance.credits_posted, currency)
            .amount("debits_pending", balance.debits_pending, currency)
            .amount("credits_pending", balance.credits_pending, currency))
    }

    fn status(&self, mut args: Args) -> Result<Observation, String> {
        let id = parse_id(&args.word("an entry id")?, EntryId::new)?;
        args.finish()?;
        Ok(match self.ledger.entry(&id) {
            None => Observation::new(["not_found".to_string()]),
            Some(entry) => entry_facts(&entry),
        })
    }

    fn window(&self, mut args: Args) -> Result<Observation, String> {
        let id = parse_number::<u64>(&args.word("a window number")?)?;
        let currency = parse_currency(&args.word("a currency")?)?;
        args.finish()?;
        let Some(window) = self.ledger.window(id) else {
            return Ok(Observation::new(["window_not_found".to_string()]));
        };
        let or_none = |value: Option<String>| value.unwrap_or_else(|| "none".into());
        let settlement: Vec<String> = window.settlement.iter().map(|id| id.to_string()).collect();
        let mut observation = Observation::new([window.status.name().to_string()])
            .text("entries", window.entries)
            .text(
                "carried_to",
                or_none(window.carried_to.map(|w| w.to_string())),
            )
            .text(
                "settlement",
                or_none((!settlement.is_empty()).then(|| settlement.join("+"))),
            );
        let positions = self.ledger.window_positions(id);
        let codes: Vec<&BranchCode> = self.ledger.branches().map(|b| &b.code).collect();
        for &code in &codes {
            let flows = positions.branch(code, currency);
            observation = observation
                .amount(&format!("{code}:paid"), flows.paid, currency)
                .amount(&format!("{code}:received"), flows.received, currency)
                .amount(&format!("{code}:net"), flows.net(), currency)
                .text(&format!("{code}:count"), flows.count);
            for &payee in codes.iter().filter(|&&payee| payee != code) {
                let pair = positions.pair(code, payee, currency);
                observation =
                    observation.amount(&format!("{code}->{payee}"), pair.amount, currency);
            }
        }
        Ok(observation)
    }

    fn exposure(&self, mut args: Args) -> Result<Observation, String> {
        let branch = parse_id(&args.word("a branch code")?, BranchCode::new)?;
        let currency = parse_currency(&args.word("a currency")?)?;
        args.finish()?;
        let exposure = self.ledger.exposure(&branch, currency);
        Ok(Observation::default()
            .amount("closed", exposure.closed, currency)
            .amount("open", exposure.open, currency)
            .amount("pending", exposure.pending, currency)
            .amount("net_debit", exposure.net_debit(), currency))
    }

    fn queue(&self, args: Args) -> Result<Observation, String> {
        args.finish()?;
        let ids: Vec<String> = self
            .ledger
            .pending_entries()
            .iter()
            .map(|entry| entry.id().to_string())
            .collect();
        if ids.is_empty() {
            return Ok(Observation::new(["none".to_string()]));
        }
        Ok(Observation::new(ids))
    }
}

impl Scenario {
    fn liquidity_queue(&self, args: Args) -> Result<Observation, String> {
        args.finish()?;
        let ids: Vec<String> = self
            .ledger
            .queued_entries()
            .iter()
            .map(|entry| entry.id().to_string())
            .collect();
        if ids.is_empty() {
            return Ok(Observation::new(["none".to_string()]));
        }
        Ok(Observation::new(ids))
    }
}

fn status_words(status: &EntryStatus) -> Vec<String> {
    match status {
        EntryStatus::Posted => vec!["posted".into()],
        EntryStatus::Pending => vec!["pending".into()],
        EntryStatus::Queued => vec!["queued".into()],
        EntryStatus::Voided { .. } => vec!["voided".into()],
        EntryStatus::Rejected { rejection } => vec!["rejected".into(), rejection.code()],
    }
}

fn point_in_time_code(error: &ledger::PointInTimeError) -> String {
    use ledger::PointInTimeError as E;
    match error {
        E::AccountNotFound(_) => "account_not_found",
        E::NotYetOpened { .. } => "not_yet_opened",
        E::InTheFuture { .. } => "in_the_future",
        E::BeforeFirstEntry(_) => "before_first_entry",
        E::TimeInTheFuture { .. } => "time_in_the_future",
        E::IndexBeforeFirstEntry { .. } => "index_before_first_entry",
        E::BranchNotFound(_) => "branch_not_found",
        E::DaySpan { .. } => "day_span",
        E::DayNotEnded(_) => "day_not_ended",
    }
    .to_string()
}

/// Everything `status ID` can be asked about an entry.
fn entry_facts(entry: &JournalEntry) -> Observation {
    let or_none = |value: Option<String>| value.unwrap_or_else(|| "none".into());
    let reasons: Vec<&str> = entry
        .approval_reasons
        .iter()
        .map(|reason| match reason {
            ApprovalReason::Requested => "requested",
            ApprovalReason::AboveThreshold => "above_threshold",
            ApprovalReason::InternalAccountOutbound => "internal_account_outbound",
        })
        .collect();
    let void_reason = match entry.status {
        EntryStatus::Voided {
            reason: VoidReason::Expired,
        } => Some("expired".to_string()),
        EntryStatus::Voided {
            reason: VoidReason::RejectedByApprover,
        } => Some("rejected_by_approver".to_string()),
        _ => None,
    };
    let observation = Observation::new(status_words(&entry.status))
        .text("index", entry.booked.index)
        .text("posted_by", &entry.posted_by)
        .text(
            "approval",
            or_none((!reasons.is_empty()).then(|| reasons.join("+"))),
        )
        .text("authority", entry.required_authority)
        .text("reason", or_none(void_reason))
        .text(
            "decided_by",
            or_none(entry.decision.as_ref().map(|d| d.by.to_string())),
        )
        .text(
            "reverses",
            or_none(entry.reverses.as_ref().map(ToString::to_string)),
        )
        .text(
            "reversed_by",
            or_none(entry.reversed_by.as_ref().map(ToString::to_string)),
        )
        .text("window", or_none(entry.window.map(|w| w.to_string())))
        .text("postings", entry.postings.len())
        .text(
            "queue",
            or_none(entry.queue.as_ref().map(|stay| stay.branch.to_string())),
        )
        .text(
            "left_queue",
            or_none(
                entry
                    .queue
                    .as_ref()
                    .and_then(|stay| stay.left)
                    .map(|left| left.index.to_string()),
            ),
        );
    match entry.expires_at {
        Some(at) => observation.time("expires", at),
        None => observation.text("expires", "none"),
    }
}

/// The words of a command after its name, taken off as they are read so that
/// nothing is silently ignored: positional words in order, and `key=value`
/// options in any order.
struct Args {
    words: VecDeque<Token>,
    options: Vec<(String, String)>,
}

impl Args {
    fn new(tokens: &[Token]) -> Args {
        let mut args = Args {
            words: VecDeque::new(),
            options: Vec::new(),
        };
        for token in tokens {
            match token.text.split_once('=') {
                Some((key, value)) if !token.quoted => {
                    args.options.push((key.to_string(), value.to_string()));
                }
                _ => args.words.push_back(token.clone()),
            }
        }
        args
    }

    fn peek(&self) -> Option<&str> {
        self.words
            .front()
            .filter(|token| !token.quoted)
            .map(|token| token.text.as_str())
    }

    fn word(&mut self, what: &str) -> Result<String, String> {
        match self.words.pop_front() {
            Some(token) if !token.quoted => Ok(token.text),
            Some(token) => Err(format!("expected {what}, found \"{}\"", token.text)),
            None => Err(format!("missing {what}")),
        }
    }

    fn keyword(&mut self, keyword: &str) -> Result<(), String> {
        match self.word(&format!("`{keyword}`"))? {
            word if word == keyword => Ok(()),
            word => Err(format!("expected `{keyword}`, found `{word}`")),
        }
    }

    /// The next word if it is quoted text.
    fn text(&mut self) -> Option<String> {
        match self.words.front() {
            Some(token) if token.quoted => self.words.pop_front().map(|token| token.text),
            _ => None,
        }
    }

    fn option(&mut self, key: &str) -> Option<String> {
        let at = self.options.iter().position(|(k, _)| k == key)?;
        Some(self.options.remove(at).1)
    }

    /// The remaining words, each of which must be one of `allowed`.
    fn flags(&mut self, allowed: &[&str]) -> Result<Vec<String>, String> {
        let mut flags = Vec::new();
        while let Some(word) = self.peek().map(str::to_string) {
            if !allowed.contains(&word.as_str()) {
                return Err(format!(
                    "unknown flag `{word}`; expected one of {allowed:?}"
                ));
            }
            self.words.pop_front();
            flags.push(word);
        }
        Ok(flags)
    }

    fn finish(self) -> Result<(), String> {
        if let Some(token) = self.words.front() {
            return Err(format!("unexpected `{}`", token.text));
        }
        if let Some((key, _)) = self.options.first() {
            return Err(format!("unknown option `{key}=`"));
        }
        Ok(())
    }
}

fn parse_id<T, E: std::fmt::Display>(
    text: &str,
    new: impl FnOnce(String) -> Result<T, E>,
) -> Result<T, String> {
    new(text.to_string()).map_err(|error| format!("{text:?}: {error}"))
}

fn parse_number<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not a number"))
}

fn parse_currency(text: &str) -> Result<Currency, String> {
    Currency::new(text).map_err(|error| error.to_string())
}

fn parse_amount(text: &str, currency: Currency) -> Result<Amount, String> {
    Amount::parse(text, currency).map_err(|error| error.to_string())
}

/// Builds the command a line names.
fn parse_command(word: &str, tokens: &[Token]) -> Result<CommandKind, String> {
    if word == "batch" {
        return parse_batch(tokens);
    }
    let mut args = Args::new(tokens);
    let kind = match word {
        "principal" => CommandKind::CreatePrincipal(parse_principal(&mut args)?),
        "branch" => CommandKind::CreateBranch(NewBranch {
            code: parse_id(&args.word("a branch code")?, BranchCode::new)?,
            name: args.text().ok_or("a branch needs a \"name\"")?,
            parent: args
                .option("parent")
                .map(|code| parse_id(&code, BranchCode::new))
                .transpose()?,
            kind: match args.option("external") {
                Some(scheme) => BranchKind::External {
                    scheme: parse_id(&scheme, SchemeCode::new)?,
                },
                None => BranchKind::Internal,
            },
        }),
        "account" => CommandKind::OpenAccount(parse_account(&mut args)?),
        "freeze" | "unfreeze" => CommandKind::SetAccountFrozen {
            account: parse_id(&args.word("an account")?, AccountId::new)?,
            frozen: word == "freeze",
        },
        "close" => CommandKind::CloseAccount {
            account: parse_id(&args.word("an account")?, AccountId::new)?,
        },
        "transfer" | "entry" => CommandKind::PostEntries {
            entries: vec![parse_entry(word, &mut args)?],
            atomic: false,
        },
        "approve" => CommandKind::ApproveEntry {
            entry: parse_id(&args.word("an entry id")?, EntryId::new)?,
            reason: args.text(),
        },
        "reject" => CommandKind::RejectEntry {
            entry: parse_id(&args.word("an entry id")?, EntryId::new)?,
            reason: args.text(),
        },
        "reverse" => parse_reversal(&mut args)?,
        "policy" => CommandKind::SetApprovalPolicy(parse_policy(&mut args)?),
        "open-window" => CommandKind::OpenWindow,
        "close-window" => CommandKind::CloseWindow {
            window: parse_number(&args.word("a window number")?)?,
        },
        "settle-window" => CommandKind::SettleWindow {
            window: parse_number(&args.word("a window number")?)?,
        },
        "abort-window" => CommandKind::AbortWindow {
            window: parse_number(&args.word("a window number")?)?,
        },
        "cap" => {
            let branch = parse_id(&args.word("a branch code")?, BranchCode::new)?;
            let currency = parse_currency(&args.word("a currency")?)?;
            let cap = Amount::parse(&args.word("a cap")?, currency).map_err(|e| e.to_string())?;
            let warning_percent = match args.option("warn") {
                Some(text) => parse_number(&text)?,
                None => 80,
            };
            CommandKind::SetNetDebitCap(NetDebitCap {
                branch,
                currency,
                cap,
                warning_percent,
            })
        }
        _ => return Err(format!("unknown directive `{word}`")),
    };
    args.finish()?;
    Ok(kind)
}

fn parse_principal(args: &mut Args) -> Result<NewPrincipal, String> {
    let name = args.word("a principal name")?;
    let role: Role = args
        .option("role")
        .ok_or("a principal needs role=")?
        .parse()
        .map_err(|error: ledger::UnknownRole| error.to_string())?;
    let authority = args
        .option("authority")
        .map_or(Ok(0), |text| parse_number(&text))?;
    let key = args.option("key").unwrap_or_else(|| name.clone());
    Ok(NewPrincipal {
        name: parse_id(&name, PrincipalName::new)?,
        role,
        authority,
        key_hash: Sha256::digest(key.as_bytes()).into(),
        key_id: key,
    })
}

fn parse_account(args: &mut Args) -> Result<NewAccount, String> {
    let id = parse_id(&args.word("an account id")?, AccountId::new)?;
    let branch = parse_id(&args.word("a branch")?, BranchCode::new)?;
    let currency = parse_currency(&args.word("a currency")?)?;
    let class = match args.word("a class")?.as_str() {
        "asset" => AccountClass::Asset,
        "liability" => AccountClass::Liability,
        "equity" => AccountClass::Equity,
        "income" => AccountClass::Income,
        "expense" => AccountClass::Expense,
        other => return Err(format!("unknown class `{other}`")),
    };
    let purpose = match args.word("a purpose")?.as_str() {
        "customer" => Purpose::Customer,
        "internal" => Purpose::Internal,
        "clearing" => Purpose::Clearing,
        "settlement_reserve" => Purpose::SettlementReserve,
        "nostro" => Purpose::Nostro,
        "vostro" => Purpose::Vostro,
        "suspense" => Purpose::Suspense,
        "central_bank_reserve" => Purpose::CentralBankReserve,
        other => return Err(format!("unknown purpose `{other}`")),
    };
    let mut flags = AccountFlags::default();
    let allowed = [
        "no-overdraft",
        "credits_must_not_exceed_debits",
        "frozen",
        "closed",
    ];
    for flag in args.flags(&allowed)? {
        match flag.as_str() {
            "no-overdraft" => flags.debits_must_not_exceed_credits = true,
            "credits_must_not_exceed_debits" => flags.credits_must_not_exceed_debits = true,
            "frozen" => flags.frozen = true,
            _ => flags.closed = true,
        }
    }
    Ok(NewAccount {
        id,
        branch,
        currency,
        class,
        purpose,
        flags,
        name: None,
    })
}

/// `transfer ID DEBIT -> CREDIT AMOUNT CUR ...` or
/// `entry ID CUR dr:ACCOUNT AMOUNT cr:ACCOUNT AMOUNT ...`, then the options.
fn parse_entry(word: &str, args: &mut Args) -> Result<NewEntry, String> {
    let id = parse_id(&args.word("an entry id")?, EntryId::new)?;
    let (currency, postings) = if word == "transfer" {
        let debit = parse_id(&args.word("a debit account")?, AccountId::new)?;
        args.keyword("->")?;
        let credit = parse_id(&args.word("a credit account")?, AccountId::new)?;
        let amount = args.word("an amount")?;
        let currency = parse_currency(&args.word("a currency")?)?;
        let amount = parse_amount(&amount, currency)?;
        let posting = |account, side| Posting {
            account,
            side,
            amount,
        };
        let postings = vec![posting(debit, Side::Debit), posting(credit, Side::Credit)];
        (currency, postings)
    } else {
        let currency = parse_currency(&args.word("a currency")?)?;
        (currency, parse_postings(args, currency)?)
    };
    let flags = args.flags(&["pending", "queue"])?;
    Ok(NewEntry {
        id,
        currency,
        postings,
        pending: flags.iter().any(|flag| flag == "pending"),
        timeout_seconds: args
            .option("timeout")
            .map(|text| parse_number(&text))
            .transpose()?,
        memo: None,
        reference: None,
        value_date: None,
        queue_if_over_cap: flags.iter().any(|flag| flag == "queue"),
    })
}

fn parse_postings(args: &mut Args, currency: Currency) -> Result<Vec<Posting>, String> {
    let mut postings = Vec::new();
    while let Some(word) = args.peek().map(str::to_string) {
        let (side, account) = match word.split_once(':') {
            Some(("dr", account)) => (Side::Debit, account),
            Some(("cr", account)) => (Side::Credit, account),
            _ => break,
        };
        args.word("a posting")?;
        postings.push(Posting {
            account: parse_id(account, AccountId::new)?,
            side,
            amount: parse_amount(&args.word("an amount")?, currency)?,
        });
    }
    Ok(postings)
}

/// `batch [atomic] { transfer ... ; entry ... }`.
fn parse_batch(tokens: &[Token]) -> Result<CommandKind, String> {
    let is = |token: &Token, text: &str| !token.quoted && token.text == text;
    let (atomic, rest) = match tokens.split_first() {
        Some((first, rest)) if is(first, "atomic") => (true, rest),
        _ => (false, tokens),
    };
    let inner = match rest {
        [open, inner @ .., close] if is(open, "{") && is(close, "}") => inner,
        _ => return Err("a batch is `batch [atomic] { ... ; ... }`".into()),
    };
    let mut entries = Vec::new();
    for item in inner.split(|token| is(token, ";")) {
        let Some((word, item)) = item.split_first() else {
            continue;
        };
        if !matches!(word.text.as_str(), "transfer" | "entry") || word.quoted {
            return Err(format!(
                "a batch holds `transfer` and `entry` items, not `{}`",
                word.text
            ));
        }
        let mut args = Args::new(item);
        entries.push(parse_entry(&word.text, &mut args)?);
        args.finish()?;
    }
    Ok(CommandKind::PostEntries { entries, atomic })
}

/// `reverse ORIGINAL as ID "reason"`.
fn parse_reversal(args: &mut Args) -> Result<CommandKind, String> {
    let original = parse_id(&args.word("the original entry")?, EntryId::new)?;
    args.keyword("as")?;
    let id = parse_id(&args.word("the reversal's id")?, EntryId::new)?;
    let reason = args.text().ok_or("a reversal needs a \"reason\"")?;
    Ok(CommandKind::ReverseEntry {
        original,
        id,
        reason,
    })
}

/// `policy BRANCH CUR [threshold=AMOUNT] [tier=AMOUNT:AUTHORITY ...]`.
fn parse_policy(args: &mut Args) -> Result<ApprovalPolicy, String> {
    let branch = parse_id(&args.word("a branch")?, BranchCode::new)?;
    let currency = parse_currency(&args.word("a currency")?)?;
    let threshold = args
        .option("threshold")
        .map(|text| parse_amount(&text, currency))
        .transpose()?;
    let mut tiers = Vec::new();
    while let Some(tier) = args.option("tier") {
        let (at_least, authority) = tier
            .split_once(':')
            .ok_or("a tier is tier=AMOUNT:AUTHORITY")?;
        tiers.push(AuthorityTier {
            at_least: parse_amount(at_least, currency)?,
            authority: parse_number(authority)?,
        });
    }
    Ok(ApprovalPolicy {
        branch,
        currency,
        threshold,
        tiers,
    })
}

/// A value the ledger reports, compared by meaning: amounts by
/// `Amount::parse` in their currency, times as RFC 3339, the rest as text.
#[derive(Debug, Clone)]
enum Fact {
    Amount(Amount, Currency),
    Time(Timestamp),
    Text(String),
}

impl Fact {
    fn render(&self) -> String {
        match self {
            Fact::Amount(amount, currency) => amount.to_decimal_string(*currency),
            Fact::Time(at) => at.to_string(),
            Fact::Text(text) => text.clone(),
        }
    }

    fn matches(&self, expected: &str) -> Result<bool, String> {
        Ok(match self {
            Fact::Amount(amount, currency) => parse_amount(expected, *currency)? == *amount,
            Fact::Time(at) => Timestamp::parse_rfc3339(expected).map_err(|e| e.to_string())? == *at,
            Fact::Text(text) => text == expected,
        })
    }
}

/// What the ledger answered to one line (or one entry of a batch): leading
/// words, and facts that the expected outcome may ask about by key.
#[derive(Debug, Clone, Default)]
struct Observation {
    head: Vec<String>,
    facts: BTreeMap<String, Fact>,
}

impl Observation {
    fn new(head: impl IntoIterator<Item = String>) -> Observation {
        Observation {
            head: head.into_iter().collect(),
            facts: BTreeMap::new(),
        }
    }

    fn amount(mut self, key: &str, amount: Amount, currency: Currency) -> Observation {
        self.facts
            .insert(key.to_string(), Fact::Amount(amount, currency));
        self
    }

    fn time(mut self, key: &str, at: Timestamp) -> Observation {
        self.facts.insert(key.to_string(), Fact::Time(at));
        self
    }

    fn text(mut self, key: &str, value: impl ToString) -> Observation {
        self.facts
            .insert(key.to_string(), Fact::Text(value.to_string()));
        self
    }
}

/// One comma-separated part of an expected outcome.
#[derive(Debug)]
struct Expected {
    head: Vec<String>,
    facts: Vec<(String, String)>,
}

fn parse_expected(tokens: &[Token]) -> Result<Vec<Expected>, String> {
    let mut parts = Vec::new();
    for part in tokens.split(|t| !t.quoted && t.text == ",") {
        if part.is_empty() {
            return Err("an empty expected outcome".into());
        }
        let mut expected = Expected {
            head: Vec::new(),
            facts: Vec::new(),
        };
        for token in part {
            match token.text.split_once('=') {
                Some((key, value)) if !token.quoted => {
                    expected.facts.push((key.to_string(), value.to_string()));
                }
                _ => expected.head.push(token.text.clone()),
            }
        }
        parts.push(expected);
    }
    Ok(parts)
}

/// Checks every expected part against what the ledger answered.
fn compare(expected: &[Expected], actual: &[Observation]) -> Result<(), LineError> {
    let mut same = expected.len() == actual.len();
    for (expected, actual) in expected.iter().zip(actual) {
        same &= expected.head == actual.head;
        for (key, value) in &expected.facts {
            let fact = actual.facts.get(key).ok_or_else(|| {
                let known: Vec<&String> = actual.facts.keys().collect();
                format!("no fact `{key}` here; known: {known:?}")
            })?;
            same &= fact.matches(value)?;
        }
    }
    if same {
        return Ok(());
    }
    let render = |parts: Vec<String>| parts.join(", ");
    let expected_text = expected
        .iter()
        .map(|e| join_words(&e.head, e.facts.iter().map(|(k, v)| format!("{k}={v}"))))
        .collect();
    let actual_text = actual
        .iter()
        .enumerate()
        .map(|(at, observation)| {
            // Show the facts the expectation asked about, or all of them.
            let asked: Vec<&String> = match expected.get(at) {
                Some(e) => e.facts.iter().map(|(key, _)| key).collect(),
                None => observation.facts.keys().collect(),
            };
            let facts = asked.into_iter().filter_map(|key| {
                let fact = observation.facts.get(key)?;
                Some(format!("{key}={}", fact.render()))
            });
            join_words(&observation.head, facts)
        })
        .collect();
    Err(LineError::Mismatch {
        expected: render(expected_text),
        actual: render(actual_text),
    })
}

fn join_words(head: &[String], facts: impl Iterator<Item = String>) -> String {
    head.iter()
        .cloned()
        .chain(facts)
        .collect::<Vec<_>>()
        .join(" ")
}
