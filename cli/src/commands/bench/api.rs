//! The bench's async HTTP calls for setting up and checking: like the
//! blocking [`Client`](crate::client::Client) it tries the next server when
//! one cannot be reached or says nothing was proposed, and it keeps the
//! node's problem answers apart from transport failures. Every call the bench
//! makes this way is idempotent, so a retry is always safe.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::client::{Problem, Settings};
use crate::exit::Failure;

/// Full passes over the servers before a call gives up: with the doubling
/// pauses, about 8 s, enough to ride out a leader election on a busy machine.
const ROUNDS: u32 = 6;
/// Pause after a pass that found no answer; doubled after each pass.
const ROUND_PAUSE_MS: u64 = 250;

/// An async client of the ClearLedger API with one key.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    servers: Vec<String>,
    key: String,
}

impl Api {
    /// A client for `settings`' servers and key.
    pub fn new(settings: &Settings) -> anyhow::Result<Api> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(Duration::from_secs(3).min(settings.timeout))
            .user_agent(concat!("clearledger-bench/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Api {
            http,
            servers: settings.servers.clone(),
            key: settings.key.clone(),
        })
    }

    /// The same servers with another key.
    pub fn with_key(&self, key: &str) -> Api {
        Api {
            key: key.to_string(),
            ..self.clone()
        }
    }

    /// The key it sends.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// `GET path?query`; a problem answer is an error.
    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<Value> {
        self.call(Method::GET, path, query, None)
            .await?
            .map_err(Problem::into_error)
    }

    /// `POST path` with a JSON body; the node's answer or its problem.
    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Result<Value, Problem>> {
        self.call(Method::POST, path, &[], Some(body)).await
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> anyhow::Result<Result<Value, Problem>> {
        let mut last = String::new();
        for round in 0..ROUNDS {
            if round > 0 {
                tokio::time::sleep(Duration::from_millis(ROUND_PAUSE_MS << (round - 1))).await;
            }
            for server in &self.servers {
                let mut request = self
                    .http
                    .request(method.clone(), format!("{server}{path}"))
                    .bearer_auth(&self.key);
                if !query.is_empty() {
                    request = request.query(query);
                }
                if let Some(body) = body {
                    request = request.json(body);
                }
                let response = match request.send().await {
                    Ok(response) => response,
                    Err(error) => {
                        last = format!("{server}: {error}");
                        continue;
                    }
                };
                let status = response.status();
                let text = match response.text().await {
                    Ok(text) => text,
                    Err(error) => {
                        last = format!("{server}: the answer was cut off ({error})");
                        continue;
                    }
                };
                if status.is_success() {
                    let value = serde_json::from_str(&text).map_err(|error| {
                        anyhow::anyhow!(
                            "{server} answered {status} with a body that is not JSON ({error})"
                        )
                    })?;
                    return Ok(Ok(value));
                }
                let problem = Problem::from_response(status.as_u16(), &text);
                if problem.status != 503 {
                    return Ok(Err(problem));
                }
                last = format!("{server}: {} ({})", problem.code, problem.detail);
            }
        }
        Err(Failure::Unavailable(format!("no node answered {method} {path}; last: {last}")).into())
    }
}
