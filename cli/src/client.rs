//! The HTTP client: every call goes to one of the configured servers, failing
//! over to the next when a server cannot be reached or says that nothing was
//! proposed. Transport and outcome stay apart, as openraft's client keeps
//! them: a call answers `Result<Result<Value, Problem>, TransportError>`, where
//! the outer error means no node gave an answer and the inner one is the
//! ledger's (or node's) problem response.

use std::cell::Cell;
use std::fmt;
use std::time::Duration;

use reqwest::Method;
use reqwest::blocking::{RequestBuilder, Response};
use serde_json::Value;

use crate::exit::Failure;

/// A node's `application/problem+json` answer.
#[derive(Debug, Clone)]
pub struct Problem {
    /// HTTP status.
    pub status: u16,
    /// The stable snake_case code (`insufficient_funds`, ...).
    pub code: String,
    /// The HTTP reason phrase the node gave.
    pub title: String,
    /// What went wrong, for a person.
    pub detail: String,
    /// The whole problem object (some carry `results` or `leader`).
    pub body: Value,
}

impl Problem {
    /// Reads a problem from an error response's status and body.
    pub fn from_response(status: u16, text: &str) -> Problem {
        let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        let field = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_string);
        match field("code") {
            Some(code) => Problem {
                status,
                code,
                title: field("title").unwrap_or_default(),
                detail: field("detail").unwrap_or_default(),
                body,
            },
            None => Problem {
                status,
                code: format!("http_{status}"),
                title: String::new(),
                detail: text.trim().chars().take(300).collect(),
                body,
            },
        }
    }

    /// Whether the node said that nothing was proposed, so another node may
    /// be asked (`not_leader`, `leader_unavailable`, `overloaded`).
    fn nothing_proposed(&self) -> bool {
        self.status == 503
            && matches!(
                self.code.as_str(),
                "not_leader" | "leader_unavailable" | "overloaded"
            )
    }

    /// The failure this problem is, for the exit code; 5xx other than 503
    /// are plain errors (exit code 1).
    pub fn into_error(self) -> anyhow::Error {
        match self.status {
            401 | 403 => Failure::Unauthorized(self).into(),
            503 => Failure::Unavailable(format!(
                "the cluster cannot answer: {} ({})",
                self.code, self.detail
            ))
            .into(),
            500..=599 => anyhow::anyhow!(
                "the node failed: {} {} ({})",
                self.status,
                self.code,
                self.detail
            ),
            _ => Failure::Rejected(self).into(),
        }
    }
}

/// No node gave an answer.
#[derive(Debug, Clone)]
pub enum TransportError {
    /// Every server was tried; why each failed, last attempt first.
    Unreachable {
        /// (server, reason) for each failed attempt.
        attempts: Vec<(String, String)>,
    },
    /// A write went out but no answer came back: it may or may not be applied.
    OutcomeUnknown {
        /// Where it went.
        server: String,
        /// Why no answer came.
        reason: String,
    },
    /// A server answered with something that is not the ClearLedger API.
    BadAnswer {
        /// Who answered.
        server: String,
        /// What was wrong with it.
        reason: String,
    },
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::Unreachable { attempts } => {
                write!(f, "no node could be reached")?;
                let mut seen: Vec<&(String, String)> = Vec::new();
                for attempt in attempts {
                    if !seen.contains(&attempt) {
                        seen.push(attempt);
                    }
                }
                for (server, reason) in seen {
                    write!(f, "; {server}: {reason}")?;
                }
                Ok(())
            }
            TransportError::OutcomeUnknown { server, reason } => write!(
                f,
                "{server} did not answer ({reason}); the write may or may not have been applied: \
                 re-run the same command to learn its outcome"
            ),
            TransportError::BadAnswer { server, reason } => {
                write!(
                    f,
                    "{server} answered something that is not the ClearLedger API: {reason}"
                )
            }
        }
    }
}

impl std::error::Error for TransportError {}

impl TransportError {
    /// The failure this is, for the exit code.
    pub fn into_error(self) -> anyhow::Error {
        match self {
            TransportError::BadAnswer { .. } => anyhow::Error::new(self),
            other => Failure::Unavailable(other.to_string()).into(),
        }
    }
}

/// What one call answers.
pub type Answer = Result<Result<Value, Problem>, TransportError>;

/// Turns an answer into a value, or an error that carries its exit code.
pub fn expect_ok(answer: Answer) -> anyhow::Result<Value> {
    match answer {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(problem)) => Err(problem.into_error()),
        Err(transport) => Err(transport.into_error()),
    }
}

/// When a call may be sent again, to the same or another server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// A read: any failure may be retried anywhere.
    Read,
    /// A write: retried only where it surely never arrived.
    Write,
    /// A write made idempotent by client-chosen ids: retried like a read,
    /// including after `outcome_unknown`.
    Idempotent,
}

/// A request body.
#[derive(Clone, Copy)]
enum Body<'a> {
    /// JSON.
    Json(&'a Value),
    /// Bytes of a content type.
    Raw(&'a [u8], &'static str),
}

/// Full passes over the server list before giving up.
const ROUNDS: u32 = 4;
/// Pause after the first pass that found no answer; doubled after each pass.
const ROUND_PAUSE_MS: u64 = 250;

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Base URLs, tried in order: `http://host:port`.
    pub servers: Vec<String>,
    /// The bearer API key.
    pub key: String,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Do not print failover notes.
    pub quiet: bool,
}

/// A client of the ClearLedger HTTP API.
pub struct Client {
    settings: Settings,
    http: reqwest::blocking::Client,
    /// The server that answered last; calls start there.
    preferred: Cell<usize>,
}

impl Client {
    /// A client for `settings`.
    pub fn new(settings: Settings) -> anyhow::Result<Client> {
        anyhow::ensure!(!settings.servers.is_empty(), "no server to talk to");
        let http = reqwest::blocking::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(Duration::from_secs(3).min(settings.timeout))
            .user_agent(concat!("clearledger/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Client {
            settings,
            http,
            preferred: Cell::new(0),
        })
    }

    /// The same client waiting at least `timeout` for each answer (for
    /// calls that move a whole backup).
    pub fn patient(&self, timeout: Duration) -> anyhow::Result<Client> {
        let mut settings = self.settings.clone();
        settings.timeout = settings.timeout.max(timeout);
        Client::new(settings)
    }

    /// Where and how this client connects.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// `GET path?query`.
    pub fn get(&self, path: &str, query: &[(&str, String)]) -> Answer {
        self.call(Method::GET, path, query, None, Retry::Read)
    }

    /// `POST path` with a JSON body.
    pub fn post(&self, path: &str, body: &Value, retry: Retry) -> Answer {
        self.call(Method::POST, path, &[], Some(Body::Json(body)), retry)
    }

    /// `GET path?query` answered as a stream (an export): the first server
    /// that answers, with its response still to be read.
    pub fn get_stream(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Result<Response, Problem>, TransportError> {
        let mut attempts = Vec::new();
        for step in 0..self.settings.servers.len() {
            let at = (self.preferred.get() + step) % self.settings.servers.len();
            let server = &self.settings.servers[at];
            match self.request(server, &Method::GET, path, query, None).send() {
                Err(error) => attempts.push((server.clone(), describe(&error))),
                Ok(response) if response.status().is_success() => return Ok(Ok(response)),
                Ok(response) => {
                    let status = response.status().as_u16();
                    let text = response.text().unwrap_or_default();
                    let problem = Problem::from_response(status, &text);
                    if !problem.nothing_proposed() && status != 503 {
                        return Ok(Err(problem));
                    }
                    attempts.push((
                        server.clone(),
                        format!("{} ({})", problem.code, problem.detail),
                    ));
                }
            }
        }
        Err(TransportError::Unreachable { attempts })
    }

    /// `DELETE path`.
    pub fn delete(&self, path: &str) -> Answer {
        self.call(Method::DELETE, path, &[], None, Retry::Write)
    }

    /// `POST path?query` with a raw body of `content_type` (a statement file).
    pub fn post_raw(
        &self,
        path: &str,
        query: &[(&str, String)],
        body: &[u8],
        content_type: &'static str,
        retry: Retry,
    ) -> Answer {
        self.call(
            Method::POST,
            path,
            query,
            Some(Body::Raw(body, content_type)),
            retry,
        )
    }

    fn request(
        &self,
        server: &str,
        method: &Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Body<'_>>,
    ) -> RequestBuilder {
        let mut request = self
            .http
            .request(method.clone(), format!("{server}{path}"))
            .bearer_auth(&self.settings.key)
            .header(
                reqwest::header::ACCEPT,
                "application/json, application/problem+json",
            );
        if !query.is_empty() {
            request = request.query(query);
        }
        match body {
            Some(Body::Json(body)) => request = request.json(body),
            Some(Body::Raw(bytes, content_type)) => {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, content_type)
                    .body(bytes.to_vec());
            }
            None => {}
        }
        request
    }

    /// Sends the call to the preferred server, then the others in order, for
    /// up to [`ROUNDS`] passes, as far as `retry` allows.
    fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Body<'_>>,
        retry: Retry,
    ) -> Answer {
        let servers = &self.settings.servers;
        let mut attempts: Vec<(String, String)> = Vec::new();
        let mut last_problem: Option<Problem> = None;
        for round in 0..ROUNDS {
            if round > 0 {
                std::thread::sleep(Duration::from_millis(ROUND_PAUSE_MS << (round - 1)));
            }
            for step in 0..servers.len() {
                let at = (self.preferred.get() + step) % servers.len();
                let server = &servers[at];
                let next = &servers[(at + 1) % servers.len()];
                match self.request(server, &method, path, query, body).send() {
                    Err(error) => {
                        let reason = describe(&error);
                        let arrived = !error.is_connect();
                        if arrived && retry == Retry::Write {
                            return Err(TransportError::OutcomeUnknown {
                                server: server.clone(),
                                reason,
                            });
                        }
                        self.note_failover(server, &reason, next);
                        attempts.push((server.clone(), reason));
                    }
                    Ok(response) => match read(server, response)? {
                        Ok(value) => {
                            self.preferred.set(at);
                            return Ok(Ok(value));
                        }
                        Err(problem) => {
                            let retry_elsewhere = problem.nothing_proposed()
                                || (problem.status == 503 && retry != Retry::Write);
                            if !retry_elsewhere {
                                self.preferred.set(at);
                                return Ok(Err(problem));
                            }
                            self.note_failover(
                                server,
                                &format!("{} ({})", problem.code, problem.detail),
                                next,
                            );
                            last_problem = Some(problem);
                        }
                    },
                }
            }
        }
        match last_problem {
            Some(problem) => Ok(Err(problem)),
            None => Err(TransportError::Unreachable { attempts }),
        }
    }

    fn note_failover(&self, server: &str, reason: &str, next: &str) {
        if !self.settings.quiet {
            if self.settings.servers.len() > 1 {
                eprintln!("clearledger: note: {server}: {reason}; trying {next}");
            } else {
                eprintln!("clearledger: note: {server}: {reason}; retrying");
            }
        }
    }
}

/// Reads a response: a JSON value on success, a problem otherwise.
fn read(server: &str, response: Response) -> Result<Result<Value, Problem>, TransportError> {
    let status = response.status();
    let text = response.text().map_err(|error| TransportError::BadAnswer {
        server: server.to_string(),
        reason: format!("the answer was cut off: {}", describe(&error)),
    })?;
    if status.is_success() {
        serde_json::from_str(&text)
            .map(Ok)
            .map_err(|error| TransportError::BadAnswer {
                server: server.to_string(),
                reason: format!("{status} with a body that is not JSON ({error})"),
            })
    } else {
        Ok(Err(Problem::from_response(status.as_u16(), &text)))
    }
}

/// A short reason for a transport error: its innermost cause.
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "timed out".to_string();
    }
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    let text = cause.to_string();
    if error.is_connect() && !text.to_lowercase().contains("refused") {
        format!("cannot connect ({text})")
    } else {
        text
    }
}

/// Normalizes a `--server` value to a base URL: `host:port` gains `http://`,
/// a trailing `/` goes. Only plain HTTP is spoken.
pub fn base_url(server: &str) -> Result<String, String> {
    let server = server.trim().trim_end_matches('/');
    if server.is_empty() {
        return Err("a server address is empty".to_string());
    }
    if server.starts_with("https://") {
        return Err(format!(
            "{server}: this build of clearledger speaks plain HTTP only"
        ));
    }
    let url = if server.contains("://") {
        server.to_string()
    } else {
        format!("http://{server}")
    };
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{server}: only http:// addresses are supported"))?;
    if rest.is_empty() || rest.contains('/') {
        return Err(format!("{server}: give host:port, without a path"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_addresses_become_base_urls() {
        assert_eq!(
            base_url("127.0.0.1:8081").as_deref(),
            Ok("http://127.0.0.1:8081")
        );
        assert_eq!(
            base_url("http://node-1:8081/").as_deref(),
            Ok("http://node-1:8081")
        );
        assert!(base_url("https://node-1:8443").is_err());
        assert!(base_url("http://node-1:8081/v1").is_err());
        assert!(base_url(" ").is_err());
    }

    #[test]
    fn problem_bodies_keep_their_code_and_detail() {
        let body = r#"{"type":"x","title":"Conflict","status":409,"code":"insufficient_funds","detail":"not enough"}"#;
        let problem = Problem::from_response(409, body);
        assert_eq!(problem.code, "insufficient_funds");
        assert_eq!(problem.detail, "not enough");
        let odd = Problem::from_response(502, "Bad Gateway");
        assert_eq!(odd.code, "http_502");
        assert_eq!(odd.detail, "Bad Gateway");
    }

    #[test]
    fn only_503_nothing_proposed_codes_allow_another_node() {
        let answer =
            |status, code: &str| Problem::from_response(status, &format!(r#"{{"code":"{code}"}}"#));
        assert!(answer(503, "not_leader").nothing_proposed());
        assert!(answer(503, "overloaded").nothing_proposed());
        assert!(!answer(503, "outcome_unknown").nothing_proposed());
        assert!(!answer(409, "not_leader").nothing_proposed());
    }
}
