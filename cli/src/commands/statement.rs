//! `clearledger statements`: customer statements (对账单), their returns
//! (对账回执), and the reports — return rate per branch (回收率), overdue
//! statements, disputes by age. `-o csv` exports any listing.

use anyhow::Context as _;
use clap::{Subcommand, ValueEnum};
use serde_json::{Value, json};

use crate::amounts;
use crate::client::{Retry, expect_ok};
use crate::commands::Context;
use crate::exit::usage;
use crate::output::{Align, Block, Listing, View, field};

/// The customer's answer on a return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Answer {
    /// The customer confirms the balance (相符).
    Confirmed,
    /// The customer disputes it (不符); give --stated-balance.
    Disputed,
}

/// Which report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Report {
    /// Per branch: issued, returned, reconciled, disputed, overdue, return rate (回收率).
    ReturnRates,
    /// Statements not returned by the end of their due date, oldest first.
    Overdue,
    /// Disputed statements with the difference, oldest dispute first.
    Disputes,
}

/// Statement commands.
#[derive(Debug, Subcommand)]
pub enum StatementCommand {
    /// Issue statements for accounts, or for a branch by the statement policy (operator).
    #[command(
        after_help = "Examples:\n  clearledger --key dev-operator-key-1 statements issue --account SH01-C001 --account SH01-C002 \\\n    --cutoff 2026-10-31 --due 2026-11-15\n  clearledger --key dev-operator-key-1 statements issue --branch SH01 --cutoff 2026-10-31 --due 2026-11-15"
    )]
    Issue {
        /// An account; repeat for more (not with --branch).
        #[arg(long = "account", value_name = "ID", conflicts_with = "branch")]
        accounts: Vec<String>,
        /// Every account of this branch that the statement policy selects.
        #[arg(long, required_unless_present = "accounts")]
        branch: Option<String>,
        /// Balance as of this instant: RFC 3339, or a date (the end of that day, UTC).
        #[arg(long)]
        cutoff: String,
        /// Returns are due by the end of this date (YYYY-MM-DD).
        #[arg(long)]
        due: String,
    },
    /// Post a customer's return (对账回执) of a statement (the owning branch, or an operator).
    #[command(
        after_help = "Examples:\n  clearledger --key dev-branch-sh01-key statements returns ST00000001 --code 9c1f6b2e0d4a7f3851c2e6a9b0d47e13 --status confirmed\n  clearledger --key dev-branch-sh01-key statements returns ST00000002 --code 0be1... --status disputed --stated-balance 1200.00"
    )]
    Returns {
        /// The statement id.
        id: String,
        /// The verification code printed on the statement.
        #[arg(long)]
        code: String,
        /// The customer's answer.
        #[arg(long, value_enum)]
        status: Answer,
        /// The balance the customer states (required when disputed).
        #[arg(long, value_name = "AMOUNT")]
        stated_balance: Option<String>,
    },
    /// A report: return-rates, overdue or disputes.
    #[command(
        after_help = "Examples:\n  clearledger --key dev-operator-key-1 statements report return-rates --from 2026-10-01\n  clearledger --key dev-operator-key-1 -o csv statements report disputes > disputes.csv"
    )]
    Report {
        /// Which report.
        #[arg(value_enum)]
        report: Report,
        /// Only this branch.
        #[arg(long)]
        branch: Option<String>,
        /// return-rates: only statements with a cutoff on or after this date.
        #[arg(long)]
        from: Option<String>,
        /// return-rates: only statements with a cutoff on or before this date.
        #[arg(long)]
        to: Option<String>,
    },
    /// Statements with their return state.
    List {
        /// Only this branch.
        #[arg(long)]
        branch: Option<String>,
        /// Only this account.
        #[arg(long)]
        account: Option<String>,
        /// Only statements in this state: issued, reconciled, disputed or overdue.
        #[arg(long)]
        status: Option<String>,
    },
    /// One statement with the postings of its period.
    Show {
        /// The statement id.
        id: String,
    },
}

/// Runs a statement command.
pub fn run(context: &Context, command: &StatementCommand) -> anyhow::Result<View> {
    match command {
        StatementCommand::Issue {
            accounts,
            branch,
            cutoff,
            due,
        } => {
            let mut body = json!({ "cutoff": cutoff, "due": due });
            if accounts.is_empty() {
                body["branch"] = json!(branch);
            } else {
                body["accounts"] = json!(accounts);
            }
            // Issuing the same accounts and cutoff again answers the same
            // statements, so a retry is safe.
            let answer = context
                .client()?
                .post("/v1/statements", &body, Retry::Idempotent);
            let value = expect_ok(answer).context("issuing statements")?;
            Ok(statements_view(&value))
        }
        StatementCommand::Returns {
            id,
            code,
            status,
            stated_balance,
        } => {
            if *status == Answer::Disputed && stated_balance.is_none() {
                return Err(usage(
                    "a disputed return needs --stated-balance (the balance the customer states)",
                ));
            }
            let mut body = json!({
                "verification_code": code,
                "status": match status {
                    Answer::Confirmed => "confirmed",
                    Answer::Disputed => "disputed",
                },
            });
            if let Some(stated) = stated_balance {
                body["stated_balance"] = json!(stated);
            }
            // The same answer again answers the same, so a retry is safe.
            let answer = context.client()?.post(
                &format!("/v1/statements/{id}/return"),
                &body,
                Retry::Idempotent,
            );
            let value = expect_ok(answer).with_context(|| format!("returning statement {id}"))?;
            Ok(statement_view(&value))
        }
        StatementCommand::Report {
            report,
            branch,
            from,
            to,
        } => {
            if *report != Report::ReturnRates && (from.is_some() || to.is_some()) {
                return Err(usage(
                    "--from and --to apply to the return-rates report only",
                ));
            }
            let mut query: Vec<(&str, String)> = Vec::new();
            let options = [("branch", branch), ("from", from), ("to", to)];
            for (name, value) in options {
                if let Some(value) = value {
                    query.push((name, value.clone()));
                }
            }
            let path = match report {
                Report::ReturnRates => "/v1/statement-reports/return-rates",
                Report::Overdue => "/v1/statement-reports/overdue",
                Report::Disputes => "/v1/statement-reports/disputes",
            };
            let value = expect_ok(context.client()?.get(path, &query))
                .context("reading the statement report")?;
            Ok(match report {
                Report::ReturnRates => return_rates_view(&value),
                Report::Overdue | Report::Disputes => aged_view(&value),
            })
        }
        StatementCommand::List {
            branch,
            account,
            status,
        } => {
            let mut query: Vec<(&str, String)> = Vec::new();
            let options = [("branch", branch), ("account", account), ("status", status)];
            for (name, value) in options {
                if let Some(value) = value {
                    query.push((name, value.clone()));
                }
            }
            let value = expect_ok(context.client()?.get("/v1/statements", &query))
                .context("listing statements")?;
            Ok(statements_view(&value))
        }
        StatementCommand::Show { id } => {
            let value = expect_ok(context.client()?.get(&format!("/v1/statements/{id}"), &[]))
                .with_context(|| format!("reading statement {id}"))?;
            Ok(statement_view(&value))
        }
    }
}

fn items(answer: &Value, key: &str) -> Vec<Value> {
    answer
        .get(key)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn money(value: &Value, key: &str) -> String {
    amounts::display(&field(value, key), &field(value, "currency"))
}

/// `statements issue` and `statements list`: one row per statement.
pub fn statements_view(answer: &Value) -> View {
    let mut listing = Listing::new(&[
        ("ID", Align::Left),
        ("ACCOUNT", Align::Left),
        ("BRANCH", Align::Left),
        ("CCY", Align::Left),
        ("CLOSING", Align::Right),
        ("CUTOFF", Align::Left),
        ("DUE", Align::Left),
        ("STATUS", Align::Left),
        ("DIFFERENCE", Align::Right),
        ("CODE", Align::Left),
    ]);
    for statement in items(answer, "statements") {
        listing.push(vec![
            field(&statement, "id"),
            field(&statement, "account"),
            field(&statement, "branch"),
            field(&statement, "currency"),
            money(&statement, "closing_balance"),
            field(&statement, "cutoff"),
            field(&statement, "due"),
            field(&statement, "status"),
            money(&statement, "difference"),
            field(&statement, "verification_code"),
        ]);
    }
    let count = listing.rows.len();
    View::new(
        answer.clone(),
        vec![
            Block::Table {
                caption: None,
                listing,
            },
            Block::Line(format!("{count} statement(s).")),
        ],
    )
}

/// The break ids raised about a statement, comma-separated (`breaks show ID`).
fn ids(breaks: &Value) -> String {
    breaks
        .as_array()
        .into_iter()
        .flatten()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// One statement: its facts, then its lines (`show`, `returns`).
pub fn statement_view(statement: &Value) -> View {
    let returned = &statement["returned"];
    let fields = vec![
        ("statement".to_string(), field(statement, "id")),
        ("account".to_string(), field(statement, "account")),
        ("branch".to_string(), field(statement, "branch")),
        ("currency".to_string(), field(statement, "currency")),
        ("cutoff".to_string(), field(statement, "cutoff")),
        ("due".to_string(), field(statement, "due")),
        (
            "opening balance".to_string(),
            money(statement, "opening_balance"),
        ),
        (
            "closing balance".to_string(),
            money(statement, "closing_balance"),
        ),
        (
            "verification code".to_string(),
            field(statement, "verification_code"),
        ),
        ("status".to_string(), field(statement, "status")),
        (
            "stated balance".to_string(),
            money(statement, "stated_balance"),
        ),
        ("difference".to_string(), money(statement, "difference")),
        ("returned by".to_string(), field(returned, "by")),
        ("returned at".to_string(), field(returned, "at")),
        ("late".to_string(), field(returned, "late")),
        ("overdue at".to_string(), field(statement, "overdue_at")),
        ("breaks".to_string(), ids(&statement["breaks"])),
    ];
    let mut blocks = vec![Block::Fields(fields)];
    let mut csv = None;
    if let Some(lines) = statement.get("lines").and_then(Value::as_array) {
        let currency = field(statement, "currency");
        let mut listing = Listing::new(&[
            ("INDEX", Align::Right),
            ("AT", Align::Left),
            ("ENTRY", Align::Left),
            ("DEBIT", Align::Right),
            ("CREDIT", Align::Right),
            ("BALANCE", Align::Right),
            ("MEMO", Align::Text),
        ]);
        for line in lines {
            let amount = amounts::display(&field(line, "amount"), &currency);
            let (debit, credit) = match line["side"].as_str() {
                Some("debit") => (amount, String::new()),
                _ => (String::new(), amount),
            };
            listing.push(vec![
                field(line, "index"),
                field(line, "at"),
                field(line, "entry"),
                debit,
                credit,
                amounts::display(&field(line, "balance_after"), &currency),
                field(line, "memo"),
            ]);
        }
        csv = Some(listing.clone());
        blocks.push(Block::Table {
            caption: Some("Postings of the period".into()),
            listing,
        });
    }
    let mut view = View::new(statement.clone(), blocks);
    view.csv = csv;
    view
}

/// `statements report return-rates`.
pub fn return_rates_view(answer: &Value) -> View {
    let mut listing = Listing::new(&[
        ("BRANCH", Align::Left),
        ("ISSUED", Align::Right),
        ("RETURNED", Align::Right),
        ("RECONCILED", Align::Right),
        ("DISPUTED", Align::Right),
        ("OVERDUE", Align::Right),
        ("OUTSTANDING", Align::Right),
        ("RETURN RATE %", Align::Right),
    ]);
    for rate in items(answer, "branches") {
        listing.push(
            [
                "branch",
                "issued",
                "returned",
                "reconciled",
                "disputed",
                "overdue",
                "outstanding",
                "return_rate_percent",
            ]
            .iter()
            .map(|key| field(&rate, key))
            .collect(),
        );
    }
    View::new(
        answer.clone(),
        vec![Block::Table {
            caption: None,
            listing,
        }],
    )
}

/// `statements report overdue` and `disputes`.
pub fn aged_view(answer: &Value) -> View {
    let mut listing = Listing::new(&[
        ("ID", Align::Left),
        ("BRANCH", Align::Left),
        ("ACCOUNT", Align::Left),
        ("CCY", Align::Left),
        ("CLOSING", Align::Right),
        ("STATED", Align::Right),
        ("DIFFERENCE", Align::Right),
        ("DUE", Align::Left),
        ("STATUS", Align::Left),
        ("AGE (DAYS)", Align::Right),
        ("BUCKET", Align::Left),
    ]);
    for statement in items(answer, "statements") {
        listing.push(vec![
            field(&statement, "id"),
            field(&statement, "branch"),
            field(&statement, "account"),
            field(&statement, "currency"),
            money(&statement, "closing_balance"),
            money(&statement, "stated_balance"),
            money(&statement, "difference"),
            field(&statement, "due"),
            field(&statement, "status"),
            field(&statement, "age_days"),
            field(&statement, "age_bucket"),
        ]);
    }
    let count = listing.rows.len();
    View::new(
        answer.clone(),
        vec![
            Block::Table {
                caption: None,
                listing,
            },
            Block::Line(format!(
                "{count} statement(s) as of {}.",
                field(answer, "as_of")
            )),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::OutputFormat;
    use crate::commands::tests::table;
    use crate::output::render;

    fn statement() -> Value {
        json!({"id": "ST00000002", "account": "SH01-C002", "branch": "SH01", "currency": "CNY",
            "cutoff": "2026-10-31T23:59:59.999999Z", "due": "2026-11-15",
            "opening_index": 0, "opening_balance": "0.00", "closing_index": 40, "closing_balance": "5000.00",
            "status": "disputed", "verification_code": "0be1c0ffee0be1c0ffee0be1c0ffee00",
            "issued_at": "2026-11-01T09:00:00.000000Z", "issued_by": "operator-1", "issued_index": 41,
            "overdue_at": null, "stated_balance": "4950.00", "difference": "-50.00",
            "returned": {"answer": "disputed", "by": "teller-sh01", "at": "2026-11-03T10:00:00.000000Z", "index": 50, "late": false},
            "breaks": [3],
            "lines": [
                {"entry": "demo-d-2", "index": 12, "at": "2026-10-02T09:00:00.000000Z", "side": "credit", "amount": "6000.00", "balance_after": "6000.00", "memo": "opening deposit", "reference": null},
                {"entry": "demo-t-3", "index": 30, "at": "2026-10-20T09:00:00.000000Z", "side": "debit", "amount": "1000.00", "balance_after": "5000.00", "memo": null, "reference": null}
            ],
            "index": 60})
    }

    #[test]
    fn a_statement_shows_its_return_and_lines() {
        insta::assert_snapshot!(table(&statement_view(&statement())));
    }

    #[test]
    fn a_statement_exports_its_lines_as_csv() {
        insta::assert_snapshot!(render(
            &statement_view(&statement()),
            OutputFormat::Csv,
            None
        ));
    }

    #[test]
    fn return_rates_table() {
        let answer = json!({"index": 60, "branches": [
            {"branch": "BJ01", "issued": 3, "returned": 1, "reconciled": 1, "disputed": 0, "overdue": 2, "outstanding": 0, "return_rate_percent": "33.33"},
            {"branch": "SH01", "issued": 2, "returned": 2, "reconciled": 1, "disputed": 1, "overdue": 0, "outstanding": 0, "return_rate_percent": "100.00"}
        ]});
        insta::assert_snapshot!(table(&return_rates_view(&answer)));
    }

    #[test]
    fn disputes_export_as_csv() {
        let mut disputed = statement();
        disputed["age_days"] = json!(12);
        disputed["age_bucket"] = json!("8-30");
        let answer =
            json!({"statements": [disputed], "as_of": "2026-11-15T09:00:00.000000Z", "index": 60});
        insta::assert_snapshot!(render(&aged_view(&answer), OutputFormat::Csv, None));
    }
}
