//! The statement directives of the scenario files (对账单 and 对账回执):
//!
//! ```text
//! issue-statements (account=ID [account=ID ...] | branch=CODE) cutoff=RFC3339 due=DATE
//!     => ST-ID [account= opening= closing= state= due=], ... | none | rejected CODE
//! return-statement ST-ID confirmed|disputed [stated=AMOUNT] [code=TEXT]
//!     (without code=, the code printed on the statement is used)
//!     => STATE [difference= late=] | rejected CODE
//! statement-policy { [branch=CODE] [purpose=P] [currency=CUR] [min_balance=AMOUNT]
//!     frequency=monthly|quarterly|half_yearly|yearly|never ; ... }   => ok | rejected CODE
//! statement ST-ID   => STATE [account= opening= closing= difference= late= lines= overdue_at=]
//! statement-lines ST-ID => ENTRY SIDE [amount= balance=], ... | none
//! return-rates [from=DATE] [to=DATE] => BRANCH [issued= returned= reconciled= disputed=
//!     overdue= outstanding= rate=], ... | none
//! overdue | disputes => ST-ID [age= bucket= difference=], ... | none   (as of the `at` time)
//! tick => ok     (as system: the node's tick, so that time passes without traffic)
//! breaks [status=open|awaiting_approval|resolved|all] [kind=KIND] [branch=CODE]
//!     => ID KIND [account= statement= amount= status= age= raised_by= resolution=], ... | none
//!     (unresolved ones unless status= says otherwise; age in days as of the `at` time)
//! resolve-break ID explain "reason" | match ledger:ENTRY:POSTING|line:STATEMENT:LINE ...
//!     | adjust ENTRY-ID CUR dr:ACCOUNT AMOUNT cr:ACCOUNT AMOUNT ...
//!     => open|awaiting_approval|resolved | rejected CODE
//! ```
//!
//! Every issue command carries the same key seed; the key is a replicated
//! secret, so the scenarios name codes only as "the one printed" or a wrong one.

use ledger::recon::{
    BreakResolution, BreakStatus, ExternalStatementId, ItemRef, ReconciliationBreak, Resolution,
};
use ledger::{
    AccountId, Amount, BranchCode, CommandKind, Currency, Date, Frequency, IssueStatements,
    Purpose, ReturnAnswer, ReturnStatement, Statement, StatementCommand, StatementId, StatementKey,
    StatementPolicy, StatementReceipt, StatementRule, Timestamp,
};

use super::{
    Args, Observation, Scenario, Token, parse_amount, parse_currency, parse_entry, parse_id,
    parse_number,
};

/// Runs a statement directive; `None` when `word` is not one.
pub(super) fn observe(
    scenario: &mut Scenario,
    index: u64,
    word: &str,
    args: &[Token],
) -> Option<Result<Vec<Observation>, String>> {
    let result = match word {
        "issue-statements" => issue(Args::new(args))
            .and_then(|kind| scenario.apply(index, CommandKind::Statements(kind))),
        "return-statement" => return_statement(scenario, Args::new(args))
            .and_then(|kind| scenario.apply(index, CommandKind::Statements(kind))),
        "statement-policy" => {
            policy(args).and_then(|kind| scenario.apply(index, CommandKind::Statements(kind)))
        }
        "tick" => Args::new(args)
            .finish()
            .and_then(|()| scenario.apply(index, CommandKind::Tick)),
        "statement" => statement(scenario, Args::new(args)).map(|o| vec![o]),
        "statement-lines" => lines(scenario, Args::new(args)),
        "return-rates" => return_rates(scenario, Args::new(args)),
        "overdue" | "disputes" => aged(scenario, word, Args::new(args)),
        "breaks" => breaks(scenario, Args::new(args)),
        "resolve-break" => {
            resolve_break(Args::new(args)).and_then(|kind| scenario.apply(index, kind))
        }
        _ => return None,
    };
    Some(result)
}

/// What a statement receipt shows.
pub(super) fn render(receipt: &StatementReceipt) -> Vec<Observation> {
    match receipt {
        StatementReceipt::Issued(statements) if statements.is_empty() => {
            vec![Observation::new(["none".to_string()])]
        }
        StatementReceipt::Issued(statements) => statements.iter().map(issued_facts).collect(),
        StatementReceipt::Returned(statement) => vec![facts(statement)],
        StatementReceipt::Policy(_) => vec![Observation::new(["ok".to_string()])],
    }
}

fn issued_facts(statement: &Statement) -> Observation {
    let currency = statement.currency;
    Observation::new([statement.id.to_string()])
        .text("account", &statement.account)
        .amount("opening", statement.opening_balance, currency)
        .amount("closing", statement.closing_balance, currency)
        .text("state", statement.state.name())
        .text("due", statement.due)
}

/// Everything `statement ST-ID` can be asked.
fn facts(statement: &Statement) -> Observation {
    let currency = statement.currency;
    let returned = statement.returned.as_ref();
    let observation = Observation::new([statement.state.name().to_string()])
        .text("account", &statement.account)
        .amount("opening", statement.opening_balance, currency)
        .amount("closing", statement.closing_balance, currency)
        .amount(
            "difference",
            returned.map_or(Amount::ZERO, |r| r.difference),
            currency,
        )
        .text(
            "late",
            if returned.is_some_and(|r| r.late) {
                "yes"
            } else {
                "no"
            },
        );
    match statement.overdue_at {
        Some(at) => observation.time("overdue_at", at),
        None => observation.text("overdue_at", "none"),
    }
}

fn statement_id(args: &mut Args) -> Result<StatementId, String> {
    parse_id(&args.word("a statement id")?, StatementId::new)
}

fn issue(mut args: Args) -> Result<StatementCommand, String> {
    let mut accounts = Vec::new();
    while let Some(id) = args.option("account") {
        accounts.push(parse_id(&id, AccountId::new)?);
    }
    let branch = args
        .option("branch")
        .map(|code| parse_id(&code, BranchCode::new))
        .transpose()?;
    let cutoff = args
        .option("cutoff")
        .ok_or("issue-statements needs cutoff=")?;
    let due = args.option("due").ok_or("issue-statements needs due=")?;
    args.finish()?;
    Ok(StatementCommand::Issue(IssueStatements {
        accounts,
        branch,
        cutoff: Timestamp::parse_rfc3339(&cutoff).map_err(|e| e.to_string())?,
        due: Date::parse(&due).map_err(|e| e.to_string())?,
        key_seed: StatementKey([42; 32]),
    }))
}

fn return_statement(scenario: &Scenario, mut args: Args) -> Result<StatementCommand, String> {
    let statement = statement_id(&mut args)?;
    let answer = match args.word("confirmed or disputed")?.as_str() {
        "confirmed" => ReturnAnswer::Confirmed,
        "disputed" => ReturnAnswer::Disputed,
        other => return Err(format!("unknown answer `{other}`")),
    };
    let issued = scenario.ledger.statement(&statement);
    // An unknown statement still gets a command, so that its rejection shows.
    let currency = issued.map_or(Currency::new("CNY").expect("known"), |s| s.currency);
    let stated_balance = args
        .option("stated")
        .map(|text| parse_amount(&text, currency))
        .transpose()?;
    let verification_code = match args.option("code") {
        Some(code) => code,
        None => issued.map_or_else(String::new, |s| s.verification_code.clone()),
    };
    args.finish()?;
    Ok(StatementCommand::Return(ReturnStatement {
        statement,
        verification_code,
        answer,
        stated_balance,
    }))
}

/// `statement-policy { rule ; rule ... }`.
fn policy(tokens: &[Token]) -> Result<StatementCommand, String> {
    let is = |token: &Token, text: &str| !token.quoted && token.text == text;
    let inner = match tokens {
        [open, inner @ .., close] if is(open, "{") && is(close, "}") => inner,
        _ => return Err("a policy is `statement-policy { rule ; rule ... }`".into()),
    };
    let mut rules = Vec::new();
    for item in inner.split(|token| is(token, ";")) {
        if item.is_empty() {
            continue;
        }
        let mut args = Args::new(item);
        let currency = args
            .option("currency")
            .map(|text| parse_currency(&text))
            .transpose()?;
        let min_balance = args
            .option("min_balance")
            .map(|text| parse_amount(&text, currency.ok_or("min_balance needs currency=")?))
            .transpose()?;
        let purpose = args
            .option("purpose")
            .map(|text| parse_purpose(&text))
            .transpose()?;
        let frequency = match args.option("frequency").as_deref() {
            Some("monthly") => Frequency::Monthly,
            Some("quarterly") => Frequency::Quarterly,
            Some("half_yearly") => Frequency::HalfYearly,
            Some("yearly") => Frequency::Yearly,
            Some("never") => Frequency::Never,
            other => return Err(format!("a rule needs frequency=..., found {other:?}")),
        };
        let branch = args
            .option("branch")
            .map(|code| parse_id(&code, BranchCode::new))
            .transpose()?;
        args.finish()?;
        rules.push(StatementRule {
            branch,
            purpose,
            currency,
            min_balance,
            frequency,
        });
    }
    Ok(StatementCommand::SetPolicy(StatementPolicy { rules }))
}

/// A purpose by its snake_case name.
fn parse_purpose(text: &str) -> Result<Purpose, String> {
    [
        ("customer", Purpose::Customer),
        ("internal", Purpose::Internal),
        ("clearing", Purpose::Clearing),
        ("settlement_reserve", Purpose::SettlementReserve),
        ("nostro", Purpose::Nostro),
        ("vostro", Purpose::Vostro),
        ("suspense", Purpose::Suspense),
    ]
    .into_iter()
    .find(|(name, _)| *name == text)
    .map(|(_, purpose)| purpose)
    .ok_or_else(|| format!("unknown purpose `{text}`"))
}

fn statement(scenario: &Scenario, mut args: Args) -> Result<Observation, String> {
    let id = statement_id(&mut args)?;
    args.finish()?;
    let Some(statement) = scenario.ledger.statement(&id) else {
        return Ok(Observation::new(["statement_not_found".to_string()]));
    };
    let lines = scenario.ledger.statement_lines(&id).expect("exists").len();
    Ok(facts(statement).text("lines", lines))
}

fn lines(scenario: &Scenario, mut args: Args) -> Result<Vec<Observation>, String> {
    let id = statement_id(&mut args)?;
    args.finish()?;
    let Some(statement) = scenario.ledger.statement(&id) else {
        return Ok(vec![Observation::new(["statement_not_found".to_string()])]);
    };
    let lines = scenario.ledger.statement_lines(&id).expect("exists");
    if lines.is_empty() {
        return Ok(vec![Observation::new(["none".to_string()])]);
    }
    let currency = statement.currency;
    Ok(lines
        .iter()
        .map(|line| {
            let side = match line.side {
                ledger::Side::Debit => "debit",
                ledger::Side::Credit => "credit",
            };
            Observation::new([line.entry.to_string(), side.to_string()])
                .amount("amount", line.amount, currency)
                .amount("balance", line.balance_after, currency)
        })
        .collect())
}

fn date_option(args: &mut Args, key: &str) -> Result<Option<Date>, String> {
    args.option(key)
        .map(|text| Date::parse(&text).map_err(|e| e.to_string()))
        .transpose()
}

fn return_rates(scenario: &Scenario, mut args: Args) -> Result<Vec<Observation>, String> {
    let from = date_option(&mut args, "from")?;
    let to = date_option(&mut args, "to")?;
    args.finish()?;
    let rates = scenario.ledger.statement_return_rates(from, to);
    if rates.is_empty() {
        return Ok(vec![Observation::new(["none".to_string()])]);
    }
    Ok(rates
        .iter()
        .map(|rate| {
            Observation::new([rate.branch.to_string()])
                .text("issued", rate.issued)
                .text("returned", rate.returned)
                .text("reconciled", rate.reconciled)
                .text("disputed", rate.disputed)
                .text("overdue", rate.overdue)
                .text("outstanding", rate.outstanding)
                .text("rate", rate.rate_percent())
        })
        .collect())
}

fn aged(scenario: &Scenario, word: &str, args: Args) -> Result<Vec<Observation>, String> {
    args.finish()?;
    let as_of = scenario.at.ok_or("no `at` line before the first report")?;
    let aged = if word == "overdue" {
        scenario.ledger.overdue_statements(as_of)
    } else {
        scenario.ledger.disputed_statements(as_of)
    };
    if aged.is_empty() {
        return Ok(vec![Observation::new(["none".to_string()])]);
    }
    Ok(aged
        .iter()
        .map(|item| {
            let statement = &item.statement;
            let difference = statement
                .returned
                .as_ref()
                .map_or(Amount::ZERO, |r| r.difference);
            Observation::new([statement.id.to_string()])
                .text("age", item.age_days)
                .text("bucket", item.bucket.name())
                .amount("difference", difference, statement.currency)
        })
        .collect())
}

fn breaks(scenario: &Scenario, mut args: Args) -> Result<Vec<Observation>, String> {
    let status = args.option("status");
    let kind = args.option("kind");
    let branch = args.option("branch");
    args.finish()?;
    let as_of = scenario.at.ok_or("no `at` line before the first report")?;
    let listed: Vec<&ReconciliationBreak> = scenario
        .ledger
        .reconciliation_breaks()
        .filter(|b| match status.as_deref() {
            None => b.is_open(),
            Some("all") => true,
            Some(status) => b.status.name() == status,
        })
        .filter(|b| kind.as_deref().is_none_or(|k| b.kind.name() == k))
        .filter(|b| branch.as_deref().is_none_or(|c| b.branch.as_str() == c))
        .collect();
    if listed.is_empty() {
        return Ok(vec![Observation::new(["none".to_string()])]);
    }
    Ok(listed
        .into_iter()
        .map(|record| {
            let resolution = match &record.status {
                BreakStatus::Resolved { resolution } => match resolution {
                    Resolution::ManualMatch { .. } => "manual_match".to_string(),
                    Resolution::AdjustingEntry { entry } => format!("adjusting_entry:{entry}"),
                    Resolution::Explanation { .. } => "explanation".to_string(),
                    Resolution::MatchedInRun { run } => format!("matched_in_run:{run}"),
                    Resolution::Superseded { run } => format!("superseded:{run}"),
                    Resolution::ReturnedLate { state } => format!("returned_late:{}", state.name()),
                },
                _ => "none".to_string(),
            };
            let statement = record
                .kind
                .customer_statement()
                .map_or_else(|| "none".to_string(), ToString::to_string);
            Observation::new([record.id.to_string(), record.kind.name().to_string()])
                .text("account", &record.account)
                .text("statement", statement)
                .amount("amount", record.amount, record.currency)
                .text("status", record.status.name())
                .text("age", record.age_days(as_of))
                .text("raised_by", &record.history[0].by)
                .text("resolution", resolution)
        })
        .collect())
}

fn resolve_break(mut args: Args) -> Result<CommandKind, String> {
    let id = parse_number(&args.word("a break id")?)?;
    let resolution = match args.word("explain, match or adjust")?.as_str() {
        "explain" => BreakResolution::Explanation {
            reason: args.text().ok_or("explain needs a quoted reason")?,
        },
        "match" => {
            let mut items = Vec::new();
            while args.peek().is_some() {
                items.push(parse_item(&args.word("an item")?)?);
            }
            BreakResolution::ManualMatch { items }
        }
        "adjust" => BreakResolution::AdjustingEntry {
            entry: parse_entry("entry", &mut args)?,
        },
        other => return Err(format!("unknown resolution `{other}`")),
    };
    args.finish()?;
    Ok(CommandKind::ResolveBreak { id, resolution })
}

/// `ledger:ENTRY:POSTING` or `line:STATEMENT:LINE`.
fn parse_item(text: &str) -> Result<ItemRef, String> {
    let bad = || format!("`{text}` is not ledger:ENTRY:POSTING or line:STATEMENT:LINE");
    let (kind, rest) = text.split_once(':').ok_or_else(bad)?;
    let (name, number) = rest.rsplit_once(':').ok_or_else(bad)?;
    let number: u32 = parse_number(number)?;
    match kind {
        "ledger" => Ok(ItemRef::Ledger {
            entry: parse_id(name, ledger::EntryId::new)?,
            posting: number,
        }),
        "line" => Ok(ItemRef::Line {
            statement: ExternalStatementId(name.to_string()),
            line: number,
        }),
        _ => Err(bad()),
    }
}
