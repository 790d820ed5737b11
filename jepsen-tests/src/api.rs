//! The node's HTTP API as the harness uses it, with every answer sorted into
//! what it means for the history: it took effect, it certainly did not, or
//! nobody knows.

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use serde_json::{Value, json};

use crate::history::{Bal, Balances, Resolved};
use crate::money;
use crate::node::{self, ADMIN_KEY};

/// The key of the teller principal the workload posts and reads with.
pub const TELLER_KEY: &str = "jepsen-teller-key-0001";

/// How long the harness waits for any answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Problem codes that say for certain that nothing was proposed.
const NOTHING_PROPOSED: [&str; 3] = ["not_leader", "overloaded", "unauthorized"];

/// What an attempt to write came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<T> {
    /// It took effect.
    Ok(T),
    /// It certainly did not (or was refused by the ledger).
    Fail {
        /// The problem code, or `connect` when no connection was made.
        code: String,
        /// For a person.
        detail: String,
    },
    /// It may or may not have taken effect.
    Info {
        /// The problem code, or `timeout` / `transport`.
        code: String,
        /// For a person.
        detail: String,
    },
}

/// A client of every slot's node.
#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
}

/// A problem answer's code and detail.
fn problem(body: &Value) -> (String, String) {
    let code = body["code"].as_str().unwrap_or("no_code").to_string();
    let detail = body["detail"].as_str().unwrap_or_default().to_string();
    (code, detail)
}

fn url(slot: usize, path: &str) -> String {
    format!("http://{}{path}", node::addr(slot))
}

fn balance(value: &Value) -> anyhow::Result<Bal> {
    let text = |field: &str| {
        value[field]
            .as_str()
            .with_context(|| format!("no {field} in {value}"))
    };
    Ok(Bal {
        debits: money::parse_minor(text("debits_posted")?)?,
        credits: money::parse_minor(text("credits_posted")?)?,
    })
}

fn index_of(body: &Value) -> anyhow::Result<u64> {
    body["index"]
        .as_u64()
        .with_context(|| format!("no index in {body}"))
}

impl Api {
    /// A client with the harness's timeouts.
    pub fn new() -> anyhow::Result<Api> {
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(1))
            .pool_idle_timeout(Duration::from_secs(5))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Api { client })
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<(u16, Value), reqwest::Error> {
        let response = request.send().await?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    /// GET with `key`; any error as text.
    pub async fn get(&self, slot: usize, path: &str, key: &str) -> anyhow::Result<(u16, Value)> {
        self.send(self.client.get(url(slot, path)).bearer_auth(key))
            .await
            .map_err(|error| anyhow!("GET {path} on slot {slot}: {error}"))
    }

    /// GET that must answer 200.
    pub async fn get_ok(&self, slot: usize, path: &str, key: &str) -> anyhow::Result<Value> {
        match self.get(slot, path, key).await? {
            (200, body) => Ok(body),
            (status, body) => bail!("GET {path} on slot {slot}: {status} {body}"),
        }
    }

    /// POST a JSON body with `key`, classifying the answer.
    pub async fn post(&self, slot: usize, path: &str, key: &str, body: &Value) -> Outcome<Value> {
        let request = self
            .client
            .post(url(slot, path))
            .bearer_auth(key)
            .json(body);
        classify(self.send(request).await)
    }

    /// DELETE with the admin key, classifying the answer.
    pub async fn delete(&self, slot: usize, path: &str) -> Outcome<Value> {
        classify(
            self.send(self.client.delete(url(slot, path)).bearer_auth(ADMIN_KEY))
                .await,
        )
    }

    /// Posts one transfer; the acknowledgement is `(index, status)`.
    pub async fn transfer(
        &self,
        slot: usize,
        id: &str,
        from: &str,
        to: &str,
        amount: i64,
    ) -> Outcome<(u64, String)> {
        let body = json!({
            "id": id,
            "debit_account": from,
            "credit_account": to,
            "amount": money::format_minor(amount),
            "currency": "CNY",
        });
        match self.post(slot, "/v1/transfers", TELLER_KEY, &body).await {
            Outcome::Ok(reply) => {
                let result = &reply["results"][0];
                match (result["index"].as_u64(), result["status"].as_str()) {
                    (Some(index), Some(status)) => Outcome::Ok((index, status.to_string())),
                    _ => Outcome::Info {
                        code: "unreadable".into(),
                        detail: format!("unexpected answer {reply}"),
                    },
                }
            }
            Outcome::Fail { code, detail } => Outcome::Fail { code, detail },
            Outcome::Info { code, detail } => Outcome::Info { code, detail },
        }
    }

    /// Reads one account: `(index, balance)`.
    pub async fn account(
        &self,
        slot: usize,
        account: &str,
        stale: bool,
    ) -> anyhow::Result<(u64, Bal)> {
        let consistency = if stale { "stale" } else { "linearizable" };
        let body = self
            .get_ok(
                slot,
                &format!("/v1/accounts/{account}?consistency={consistency}"),
                TELLER_KEY,
            )
            .await?;
        Ok((index_of(&body)?, balance(&body["balance"])?))
    }

    /// Reads every account of `accounts` in one snapshot: `(index, balances)`.
    pub async fn accounts(
        &self,
        slot: usize,
        accounts: &[String],
        stale: bool,
    ) -> anyhow::Result<(u64, Balances)> {
        let consistency = if stale { "stale" } else { "linearizable" };
        let path = format!("/v1/accounts?limit=1000&consistency={consistency}");
        let body = self.get_ok(slot, &path, TELLER_KEY).await?;
        if !body["next_after"].is_null() {
            bail!("the account list has more than one page");
        }
        let mut balances = Balances::new();
        for item in body["accounts"]
            .as_array()
            .context("no accounts in the list")?
        {
            let id = item["id"].as_str().context("an account without an id")?;
            if accounts.iter().any(|account| account == id) {
                balances.insert(id.to_string(), balance(&item["balance"])?);
            }
        }
        Ok((index_of(&body)?, balances))
    }

    /// A transfer's fate as the ledger knows it now, asked with the bootstrap
    /// admin key: it sees every entry, and it is the one credential a ledger
    /// that lost its whole state (the teller's key with the rest) still
    /// knows, so such a ledger answers "not found" rather than "unauthorized".
    pub async fn entry(&self, slot: usize, id: &str) -> anyhow::Result<Resolved> {
        match self
            .get(slot, &format!("/v1/entries/{id}"), ADMIN_KEY)
            .await?
        {
            (200, body) => {
                let text = |field: &str| body[field].as_str().map(str::to_string);
                Ok(Resolved {
                    id: id.to_string(),
                    found: true,
                    status: Some(text("status").context("an entry without a status")?),
                    booked_index: Some(
                        body["booked_index"]
                            .as_u64()
                            .context("an entry without booked_index")?,
                    ),
                    booked_at: text("booked_at"),
                })
            }
            (404, body) if body["code"] == "entry_not_found" => Ok(Resolved {
                id: id.to_string(),
                found: false,
                status: None,
                booked_index: None,
                booked_at: None,
            }),
            (status, body) => bail!("GET /v1/entries/{id} on slot {slot}: {status} {body}"),
        }
    }

    /// What `slot`'s node knows of the cluster (never forwarded).
    pub async fn cluster(&self, slot: usize) -> anyhow::Result<Value> {
        self.get_ok(slot, "/v1/cluster", ADMIN_KEY).await
    }
}

fn classify(result: Result<(u16, Value), reqwest::Error>) -> Outcome<Value> {
    match result {
        Ok((200, body)) => Outcome::Ok(body),
        Ok((status, body)) => {
            let (code, detail) = problem(&body);
            let certain = status < 500 || NOTHING_PROPOSED.contains(&code.as_str());
            let detail = format!("{status}: {detail}");
            if certain {
                Outcome::Fail { code, detail }
            } else {
                Outcome::Info { code, detail }
            }
        }
        // No connection, so nothing was sent.
        Err(error) if error.is_connect() => Outcome::Fail {
            code: "connect".into(),
            detail: error.to_string(),
        },
        Err(error) if error.is_timeout() => Outcome::Info {
            code: "timeout".into(),
            detail: error.to_string(),
        },
        Err(error) => Outcome::Info {
            code: "transport".into(),
            detail: error.to_string(),
        },
    }
}
