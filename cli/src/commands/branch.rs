//! `clearledger branches`: the bank's org tree.

use anyhow::Context as _;
use clap::Subcommand;
use serde_json::{Value, json};

use crate::client::{Retry, expect_ok};
use crate::commands::Context;
use crate::output::{Align, Block, Listing, View, field};

/// Branch commands.
#[derive(Debug, Subcommand)]
pub enum BranchCommand {
    /// The branches the key may see.
    List,
    /// Create a branch (admin).
    #[command(
        after_help = "Examples:\n  clearledger --key dev-admin-key branches create --code HZ01 --name 'Hangzhou Branch' --parent HQ\n  clearledger --key dev-admin-key branches create --code BANKX --name 'Bank X' --scheme CNAPS-HVPS"
    )]
    Create {
        /// Its code (1-64 of A-Z a-z 0-9 . _ : -).
        #[arg(long)]
        code: String,
        /// Its name.
        #[arg(long)]
        name: String,
        /// The parent branch's code.
        #[arg(long, conflicts_with = "scheme")]
        parent: Option<String>,
        /// Create an external participant (another bank) reached through
        /// this outside clearing system, e.g. CNAPS-HVPS.
        #[arg(long)]
        scheme: Option<String>,
    },
}

/// Runs a branch command.
pub fn run(context: &Context, command: &BranchCommand) -> anyhow::Result<View> {
    let client = context.client()?;
    match command {
        BranchCommand::List => Ok(branches_view(&expect_ok(client.get("/v1/branches", &[]))?)),
        BranchCommand::Create {
            code,
            name,
            parent,
            scheme,
        } => {
            let kind = if scheme.is_some() {
                "external"
            } else {
                "internal"
            };
            let body = json!({
                "code": code, "name": name, "parent": parent, "kind": kind, "scheme": scheme,
            });
            let value = expect_ok(client.post("/v1/branches", &body, Retry::Write))
                .with_context(|| format!("creating branch {code}"))?;
            let mut listing = branch_listing();
            push_branch(&mut listing, &value);
            Ok(View::new(
                value,
                vec![Block::Table {
                    caption: None,
                    listing,
                }],
            ))
        }
    }
}

fn branch_listing() -> Listing {
    Listing::new(&[
        ("CODE", Align::Left),
        ("NAME", Align::Text),
        ("PARENT", Align::Left),
        ("KIND", Align::Left),
        ("CREATED AT INDEX", Align::Right),
    ])
}

fn push_branch(listing: &mut Listing, branch: &Value) {
    listing.push(vec![
        field(branch, "code"),
        field(branch, "name"),
        field(branch, "parent"),
        kind(branch),
        field(branch, "created_index"),
    ]);
}

/// `internal`, or `external via SCHEME` for another bank.
fn kind(branch: &Value) -> String {
    match branch.get("scheme").and_then(Value::as_str) {
        Some(scheme) => format!("external via {scheme}"),
        None => field(branch, "kind"),
    }
}

/// `branches list`.
pub fn branches_view(answer: &Value) -> View {
    let mut listing = branch_listing();
    for branch in answer
        .get("branches")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        push_branch(&mut listing, branch);
    }
    View::new(
        answer.clone(),
        vec![Block::Table {
            caption: None,
            listing,
        }],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::tests::table;

    #[test]
    fn branches_table() {
        let answer = json!({"index": 12, "branches": [
            {"code": "HQ", "name": "Clearing Center", "parent": null, "kind": "internal", "scheme": null, "created_index": 2},
            {"code": "SH01", "name": "Shanghai Branch", "parent": "HQ", "kind": "internal", "scheme": null, "created_index": 3},
            {"code": "BANKX", "name": "Bank X", "parent": null, "kind": "external", "scheme": "CNAPS-HVPS", "created_index": 4}
        ]});
        insta::assert_snapshot!(table(&branches_view(&answer)));
    }
}
