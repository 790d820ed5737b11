//! `clearledger principals create|list|rotate-key|revoke` (admin: principals
//! and their API keys, each key shown once) and `clearledger policy set`
//! (admin: approval thresholds and tiers).

use anyhow::Context as _;
use clap::Subcommand;
use serde_json::{Map, Value, json};

use crate::amounts;
use crate::client::{Retry, expect_ok};
use crate::commands::Context;
use crate::exit::usage;
use crate::output::{Align, Block, Listing, View, field};

/// Principal commands.
#[derive(Debug, Subcommand)]
pub enum PrincipalCommand {
    /// Create a principal; its API key is printed once (generated unless --key).
    #[command(
        after_help = "Example:\n  clearledger --key dev-admin-key principals create --name operator-3 --role operator --authority 2"
    )]
    Create {
        /// Its name.
        #[arg(long)]
        name: String,
        /// branch:<code>, operator, auditor or admin.
        #[arg(long)]
        role: String,
        /// Its approval authority level (0 approves nothing).
        #[arg(long, default_value_t = 0)]
        authority: u8,
        /// Use this key (at least 16 characters) instead of a generated one.
        #[arg(long = "new-key", value_name = "KEY")]
        new_key: Option<String>,
    },
    /// Every principal: role, authority, key id, and whether it is revoked (admin, auditor).
    List,
    /// Give a principal a new API key; the old one stops working at once.
    #[command(
        after_help = "Example:\n  clearledger --key dev-admin-key principals rotate-key --name operator-3"
    )]
    RotateKey {
        /// Its name.
        #[arg(long)]
        name: String,
        /// Use this key (at least 16 characters) instead of a generated one.
        #[arg(long = "new-key", value_name = "KEY")]
        new_key: Option<String>,
    },
    /// Revoke a principal: its key stops working at once; it is kept, marked revoked.
    #[command(
        after_help = "Example:\n  clearledger --key dev-admin-key principals revoke --name teller-hz01"
    )]
    Revoke {
        /// Its name.
        #[arg(long)]
        name: String,
    },
}

/// Policy commands.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Set a branch's approval policy for one currency.
    #[command(
        after_help = "Example:\n  clearledger --key dev-admin-key policy set --branch SH01 --currency CNY --threshold 500000.00 \\\n    --tier 0.00:1 --tier 1000000.00:3"
    )]
    Set {
        /// The branch code.
        #[arg(long)]
        branch: String,
        /// ISO 4217 currency code.
        #[arg(long)]
        currency: String,
        /// Transfers at or above this amount wait for approval.
        #[arg(long)]
        threshold: Option<String>,
        /// AT_LEAST:AUTHORITY — entries of at least this amount need this authority; repeat.
        #[arg(long, value_name = "AT_LEAST:AUTHORITY")]
        tier: Vec<String>,
    },
}

/// Runs a principal command.
pub fn run(context: &Context, command: &PrincipalCommand) -> anyhow::Result<View> {
    let client = context.client()?;
    let (name, role, authority, new_key) = match command {
        PrincipalCommand::Create {
            name,
            role,
            authority,
            new_key,
        } => (name, role, authority, new_key),
        PrincipalCommand::List => {
            return Ok(list_view(&expect_ok(client.get("/v1/principals", &[]))?));
        }
        PrincipalCommand::RotateKey { name, new_key } => {
            let body = match new_key {
                Some(key) => json!({ "key": key }),
                None => json!({}),
            };
            let path = format!("/v1/principals/{name}/rotate-key");
            let value = expect_ok(client.post(&path, &body, Retry::Write))
                .with_context(|| format!("rotating the key of {name}"))?;
            return Ok(principal_view(&value));
        }
        PrincipalCommand::Revoke { name } => {
            let path = format!("/v1/principals/{name}/revoke");
            let value = expect_ok(client.post(&path, &json!({}), Retry::Idempotent))
                .with_context(|| format!("revoking {name}"))?;
            let line = format!(
                "{name} is revoked: its key no longer works (log index {})",
                field(&value, "index")
            );
            return Ok(View::new(value, vec![Block::Line(line)]));
        }
    };
    let mut body = Map::new();
    body.insert("name".into(), json!(name));
    body.insert("role".into(), json!(role));
    body.insert("authority".into(), json!(authority));
    if let Some(key) = new_key {
        body.insert("key".into(), json!(key));
    }
    let answer = client.post("/v1/principals", &Value::Object(body), Retry::Write);
    let value = expect_ok(answer).with_context(|| format!("creating principal {name}"))?;
    Ok(principal_view(&value))
}

/// `principals list`.
pub fn list_view(list: &Value) -> View {
    let mut listing = Listing::new(&[
        ("NAME", Align::Left),
        ("ROLE", Align::Left),
        ("AUTHORITY", Align::Right),
        ("KEY ID", Align::Left),
        ("STATUS", Align::Left),
    ]);
    for principal in list["principals"].as_array().into_iter().flatten() {
        let revoked = principal["revoked"].as_bool().unwrap_or(false);
        listing.push(vec![
            field(principal, "name"),
            field(principal, "role"),
            field(principal, "authority"),
            field(principal, "key_id"),
            (if revoked { "revoked" } else { "active" }).to_string(),
        ]);
    }
    View::new(
        list.clone(),
        vec![Block::Table {
            caption: None,
            listing,
        }],
    )
}

/// The new principal and its key, with the warning that it is shown once.
pub fn principal_view(principal: &Value) -> View {
    let fields = vec![
        ("name".to_string(), field(principal, "name")),
        ("role".to_string(), field(principal, "role")),
        ("authority".to_string(), field(principal, "authority")),
        ("key id".to_string(), field(principal, "key_id")),
        ("api key".to_string(), field(principal, "key")),
    ];
    View::new(
        principal.clone(),
        vec![
            Block::Fields(fields),
            Block::Line("Store the API key now: it is not shown again.".to_string()),
        ],
    )
}

/// Runs a policy command.
pub fn run_policy(context: &Context, command: &PolicyCommand) -> anyhow::Result<View> {
    let PolicyCommand::Set {
        branch,
        currency,
        threshold,
        tier,
    } = command;
    if let Some(threshold) = threshold {
        amounts::check_positive(threshold, currency)
            .map_err(|error| usage(format!("--threshold: {error}")))?;
    }
    let mut tiers = Vec::new();
    for spec in tier {
        let (at_least, authority) = spec.split_once(':').ok_or_else(|| {
            usage(format!(
                "--tier {spec:?}: write AT_LEAST:AUTHORITY, e.g. 1000000.00:3"
            ))
        })?;
        amounts::check_signed(at_least, currency)
            .map_err(|error| usage(format!("--tier {spec:?}: {error}")))?;
        let authority: u8 = authority.parse().map_err(|_| {
            usage(format!(
                "--tier {spec:?}: the authority must be a number from 0 to 255"
            ))
        })?;
        tiers.push(json!({ "at_least": at_least, "authority": authority }));
    }
    let body =
        json!({ "branch": branch, "currency": currency, "threshold": threshold, "tiers": tiers });
    let value = expect_ok(context.client()?.post("/v1/policies", &body, Retry::Write))
        .with_context(|| format!("setting the approval policy of {branch} {currency}"))?;
    Ok(policy_view(&value))
}

/// A branch's approval policy for one currency.
pub fn policy_view(policy: &Value) -> View {
    let currency = field(policy, "currency");
    let threshold = match field(policy, "threshold") {
        text if text.is_empty() => "none: nothing waits for approval by amount".to_string(),
        text => amounts::display(&text, &currency),
    };
    let fields = vec![
        ("branch".to_string(), field(policy, "branch")),
        ("currency".to_string(), currency.clone()),
        ("threshold".to_string(), threshold),
        ("applied at index".to_string(), field(policy, "index")),
    ];
    let mut tiers = Listing::new(&[
        ("AT LEAST", Align::Right),
        ("AUTHORITY NEEDED", Align::Right),
    ]);
    for tier in policy
        .get("tiers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        tiers.push(vec![
            amounts::display(&field(tier, "at_least"), &currency),
            field(tier, "authority"),
        ]);
    }
    View::new(
        policy.clone(),
        vec![
            Block::Fields(fields),
            Block::Table {
                caption: Some("Authority tiers".into()),
                listing: tiers,
            },
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::tests::table;

    #[test]
    fn policy_table() {
        let policy = json!({"branch": "SH01", "currency": "CNY", "threshold": "500000.00", "index": 17,
            "booked_at": "2026-11-22T09:00:00.000000Z",
            "tiers": [{"at_least": "0.00", "authority": 1}, {"at_least": "1000000", "authority": 3}]});
        insta::assert_snapshot!(table(&policy_view(&policy)));
    }
}
