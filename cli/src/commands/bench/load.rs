//! The load: `clients` tasks, each with its own connection and its own HDR
//! histogram, posting transfers between random bench accounts until the
//! measured window ends.
//!
//! Closed loop: a client sends its next request as soon as the last one is
//! answered. Open loop (`rate`): request `k` of client `c` is due at
//! `start + (c + k·clients)·interval/clients`; when a slow answer makes a
//! client miss that moment, its latency counts from the moment it was due,
//! so a stall shows as latency rather than as requests never sent
//! (coordinated omission). A client that is on time measures from when it
//! actually sent, so the timer's millisecond granularity adds nothing.
//!
//! The mixed workload ([`Mix`]): a turn of a client is a balance read, an
//! approval of the transfer it last saw answered pending, or a transfer
//! request whose transfers may credit the payee branch or ask to be held
//! pending. Reads and approvals have their own histograms.
//!
//! Requests that start (or are due) during the warm-up are sent but not
//! counted. Bodies are written by hand and answers read into two small
//! structs: the load generator shares the machine with the cluster, so its
//! own CPU time is kept low and reported.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde::Deserialize;

use crate::commands::bench::setup::CURRENCY;

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Concurrent clients.
    pub clients: usize,
    /// Transfers per request; 1 sends a single transfer, not a batch.
    pub batch_size: usize,
    /// The measured window.
    pub duration: Duration,
    /// Load before the measured window.
    pub warmup: Duration,
    /// Open loop at this many transfers per second, or closed loop.
    pub rate: Option<u64>,
    /// The bench accounts.
    pub accounts: Arc<Vec<String>>,
    /// Base URLs; client `c` talks to `servers[c % len]`.
    pub servers: Vec<String>,
    /// The posting key.
    pub key: String,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Prefixes transfer ids.
    pub run_id: String,
    /// The shares of reads, inter-branch and pending transfers.
    pub mix: Mix,
    /// The payee branch's accounts, credited by inter-branch transfers.
    pub payees: Arc<Vec<String>>,
    /// The key that approves pending transfers.
    pub approver_key: Option<String>,
}

/// The shares of the mixed workload, in percent (all 0: transfers only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mix {
    /// Client turns that read a balance instead of posting.
    pub read_percent: u8,
    /// Transfers that credit an account of the payee branch.
    pub inter_branch_percent: u8,
    /// Transfers posted with `pending: true`, approved at the client's next turn.
    pub pending_percent: u8,
}

impl Mix {
    /// Whether the clients send requests other than transfers.
    pub fn sends_other_requests(&self) -> bool {
        self.read_percent > 0 || self.pending_percent > 0
    }

    /// Whether any share is set.
    pub fn is_mixed(&self) -> bool {
        self.sends_other_requests() || self.inter_branch_percent > 0
    }
}

impl Plan {
    /// Open loop: the time between two requests of one client, in ns.
    fn interval_ns(&self) -> Option<u128> {
        let rate = u128::from(self.rate?);
        let per_client = (self.clients as u128) * (self.batch_size as u128) * 1_000_000_000;
        Some((per_client / rate).max(1))
    }
}

/// What the measured window saw.
#[derive(Debug, Clone)]
pub struct Tally {
    /// Latency of answered requests, in µs.
    pub latency_us: Histogram<u64>,
    /// Requests answered with one result per transfer.
    pub answered: u64,
    /// Transfers sent.
    pub transfers_sent: u64,
    /// Transfers answered posted or pending.
    pub committed: u64,
    /// Transfers answered rejected, by code.
    pub rejected: BTreeMap<String, u64>,
    /// Requests with no per-transfer answer (timeouts, `overloaded`, ...), by code.
    pub request_errors: BTreeMap<String, u64>,
    /// Committed transfers that were answered pending.
    pub pending: u64,
    /// Committed transfers that credited the payee branch.
    pub inter_branch: u64,
    /// Balance reads.
    pub reads: Requests,
    /// Approvals of pending transfers.
    pub approvals: Requests,
    /// Transfers still pending when the window ended, approved afterwards.
    pub approved_after_window: u64,
    /// Answered transfer requests by the second of the window they were
    /// due in: how many, and the slowest (shows when a stall happened).
    pub by_second: Vec<Second>,
    last_done: Option<Instant>,
}

/// Answered transfer requests due in one second of the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Second {
    /// How many.
    pub answered: u64,
    /// The slowest one's latency, in µs.
    pub max_us: u64,
}

impl Default for Tally {
    fn default() -> Tally {
        Tally {
            latency_us: histogram(),
            answered: 0,
            transfers_sent: 0,
            committed: 0,
            rejected: BTreeMap::new(),
            request_errors: BTreeMap::new(),
            pending: 0,
            inter_branch: 0,
            reads: Requests::default(),
            approvals: Requests::default(),
            approved_after_window: 0,
            by_second: Vec::new(),
            last_done: None,
        }
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new(3).expect("3 significant digits is a valid precision")
}

fn micros(latency: Duration) -> u64 {
    u64::try_from(latency.as_micros()).unwrap_or(u64::MAX)
}

fn record_latency(histogram: &mut Histogram<u64>, latency: Duration) {
    let micros = micros(latency);
    // An auto-resizing histogram grows to any value; clamping is only the
    // fallback (saturating_record would clamp first).
    if histogram.record(micros.max(1)).is_err() {
        histogram.saturating_record(micros);
    }
}

/// Requests of one kind other than transfers: latency and outcomes.
#[derive(Debug, Clone)]
pub struct Requests {
    /// Latency of the successful ones, in µs.
    pub latency_us: Histogram<u64>,
    /// Answered with success.
    pub ok: u64,
    /// The others, by code.
    pub errors: BTreeMap<String, u64>,
}

impl Default for Requests {
    fn default() -> Requests {
        Requests {
            latency_us: histogram(),
            ok: 0,
            errors: BTreeMap::new(),
        }
    }
}

impl Requests {
    fn record(&mut self, outcome: Result<(), String>, latency: Duration) {
        match outcome {
            Ok(()) => {
                self.ok += 1;
                record_latency(&mut self.latency_us, latency);
            }
            Err(code) => *self.errors.entry(code).or_default() += 1,
        }
    }

    fn merge(&mut self, other: Requests) {
        self.latency_us
            .add(&other.latency_us)
            .expect("auto-resizing histograms of the same precision add");
        self.ok += other.ok;
        for (code, count) in other.errors {
            *self.errors.entry(code).or_default() += count;
        }
    }

    /// Requests sent in the window.
    pub fn sent(&self) -> u64 {
        self.ok + self.errors.values().sum::<u64>()
    }
}

impl Tally {
    /// Counts one transfer request, due `second`s into the window;
    /// `inter_branch[n]` says whether its transfer `n` credited the payee
    /// branch.
    fn record(
        &mut self,
        outcome: &Outcome,
        inter_branch: &[bool],
        second: usize,
        latency: Duration,
        done: Instant,
    ) {
        self.transfers_sent += inter_branch.len() as u64;
        self.last_done = self.last_done.max(Some(done));
        match outcome {
            Outcome::Answered(results) => {
                self.answered += 1;
                record_latency(&mut self.latency_us, latency);
                if self.by_second.len() <= second {
                    self.by_second.resize(second + 1, Second::default());
                }
                let slot = &mut self.by_second[second];
                slot.answered += 1;
                slot.max_us = slot.max_us.max(micros(latency));
                for (n, result) in results.iter().enumerate() {
                    if matches!(result.status.as_str(), "posted" | "pending") {
                        self.committed += 1;
                        self.pending += u64::from(result.status == "pending");
                        self.inter_branch += u64::from(inter_branch.get(n) == Some(&true));
                    } else {
                        let code = result.code.clone().unwrap_or_else(|| result.status.clone());
                        *self.rejected.entry(code).or_default() += 1;
                    }
                }
            }
            Outcome::Failed(code) => *self.request_errors.entry(code.clone()).or_default() += 1,
        }
    }

    fn merge(&mut self, other: Tally) {
        self.latency_us
            .add(&other.latency_us)
            .expect("auto-resizing histograms of the same precision add");
        self.pending += other.pending;
        self.inter_branch += other.inter_branch;
        self.reads.merge(other.reads);
        self.approvals.merge(other.approvals);
        self.approved_after_window += other.approved_after_window;
        self.answered += other.answered;
        self.transfers_sent += other.transfers_sent;
        self.committed += other.committed;
        for (code, count) in other.rejected {
            *self.rejected.entry(code).or_default() += count;
        }
        for (code, count) in other.request_errors {
            *self.request_errors.entry(code).or_default() += count;
        }
        if self.by_second.len() < other.by_second.len() {
            self.by_second
                .resize(other.by_second.len(), Second::default());
        }
        for (mine, theirs) in self.by_second.iter_mut().zip(other.by_second) {
            mine.answered += theirs.answered;
            mine.max_us = mine.max_us.max(theirs.max_us);
        }
        self.last_done = self.last_done.max(other.last_done);
    }

    /// Requests sent in the window.
    pub fn requests(&self) -> u64 {
        self.answered + self.request_errors.values().sum::<u64>()
    }
}

/// A run's result.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Everything the clients counted.
    pub tally: Tally,
    /// The measured window: from the end of the warm-up until the last
    /// counted answer (at least the planned duration, unless interrupted).
    pub elapsed: Duration,
    /// Stopped by Ctrl-C.
    pub interrupted: bool,
    /// CPU time the load generator itself used during the run.
    pub generator_cpu: Option<Duration>,
    /// Wall time of the whole run, warm-up included.
    pub wall: Duration,
    /// When the measured window began, by the system clock (to line
    /// `Tally::by_second` up with the nodes' logs).
    pub window_start: SystemTime,
}

impl Measured {
    /// Committed transfers per second of the window.
    pub fn transfers_per_s(&self) -> f64 {
        per_second(self.tally.committed, self.elapsed)
    }

    /// Requests per second of the window.
    pub fn requests_per_s(&self) -> f64 {
        per_second(self.tally.requests(), self.elapsed)
    }

    /// `count` per second of the window.
    pub fn per_s(&self, count: u64) -> f64 {
        per_second(count, self.elapsed)
    }
}

fn per_second(count: u64, elapsed: Duration) -> f64 {
    if elapsed.is_zero() {
        0.0
    } else {
        count as f64 / elapsed.as_secs_f64()
    }
}

/// Runs the clients to the end of the window, or until `stop` is set.
pub async fn run(plan: Arc<Plan>, stop: Arc<AtomicBool>) -> anyhow::Result<Measured> {
    let cpu_before = process_cpu();
    let start = Instant::now();
    let window_start = SystemTime::now() + plan.warmup;
    let mut clients = tokio::task::JoinSet::new();
    for index in 0..plan.clients {
        let http = reqwest::Client::builder()
            .timeout(plan.timeout)
            .connect_timeout(Duration::from_secs(3).min(plan.timeout))
            .tcp_nodelay(true)
            .build()?;
        clients.spawn(client(plan.clone(), http, index, start, stop.clone()));
    }
    let mut tally = Tally::default();
    while let Some(joined) = clients.join_next().await {
        tally.merge(joined?);
    }
    let finished = Instant::now();
    let warm_end = start + plan.warmup;
    let end = warm_end + plan.duration;
    let until = end.max(tally.last_done.unwrap_or(end)).min(finished);
    let generator_cpu = cpu_before
        .zip(process_cpu())
        .map(|(before, after)| after.saturating_sub(before));
    Ok(Measured {
        elapsed: until.saturating_duration_since(warm_end),
        interrupted: stop.load(Ordering::SeqCst),
        generator_cpu,
        wall: finished - start,
        window_start,
        tally,
    })
}

/// What a client does at one turn.
enum Turn {
    /// Post a transfer request.
    Transfer,
    /// Read the balance of this bench account.
    Read(usize),
    /// Approve this pending transfer.
    Approve(String),
}

fn bearer(key: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("Bearer {key}")).unwrap_or(HeaderValue::from_static("Bearer -"))
}

/// One client: its own connection, random transfers, its own tally.
async fn client(
    plan: Arc<Plan>,
    http: reqwest::Client,
    index: usize,
    start: Instant,
    stop: Arc<AtomicBool>,
) -> Tally {
    let server = &plan.servers[index % plan.servers.len()];
    let url = format!("{server}/v1/transfers");
    let auth = bearer(&plan.key);
    let approver = bearer(plan.approver_key.as_deref().unwrap_or("-"));
    let mut waiting: VecDeque<String> = VecDeque::new();
    let mut inter_branch: Vec<bool> = Vec::with_capacity(plan.batch_size);
    let mut random = SplitMix64(seed(&plan.run_id, index));
    let warm_end = start + plan.warmup;
    let end = warm_end + plan.duration;
    let interval_ns = plan.interval_ns();
    let offset_ns = interval_ns.map_or(0, |interval| {
        interval * index as u128 / plan.clients as u128
    });
    let mut tally = Tally::default();
    let mut sequence: u64 = 0;
    for request in 0u128.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let due = match interval_ns {
            Some(interval) => start + nanos(offset_ns + interval * request),
            None => Instant::now(),
        };
        if due >= end {
            break;
        }
        // On time: wait for the due moment and measure from the actual send.
        // Late (the last answer came after it): measure from the due moment.
        let origin = if Instant::now() < due {
            tokio::time::sleep_until(due.into()).await;
            Instant::now()
        } else {
            due
        };
        let read_percent = usize::from(plan.mix.read_percent);
        let turn = if let Some(id) = waiting.pop_front() {
            Turn::Approve(id)
        } else if read_percent > 0 && random.below(100) < read_percent {
            Turn::Read(random.below(plan.accounts.len()))
        } else {
            Turn::Transfer
        };
        let counted = due >= warm_end;
        match turn {
            Turn::Transfer => {
                let body =
                    request_body(&plan, index, &mut sequence, &mut random, &mut inter_branch);
                let outcome = send(&http, &url, &auth, body).await;
                let done = Instant::now();
                if let Outcome::Answered(results) = &outcome {
                    waiting.extend(
                        results
                            .iter()
                            .filter(|result| result.status == "pending")
                            .map(|result| result.id.clone()),
                    );
                }
                if counted {
                    let second = (due - warm_end).as_secs() as usize;
                    tally.record(&outcome, &inter_branch, second, done - origin, done);
                }
            }
            Turn::Read(account) => {
                let url = format!("{server}/v1/accounts/{}/balance", plan.accounts[account]);
                let outcome = call(http.get(url).header(AUTHORIZATION, auth.clone())).await;
                if counted {
                    tally.reads.record(outcome, origin.elapsed());
                }
            }
            Turn::Approve(id) => {
                let outcome = approve(&http, server, &approver, &id).await;
                if counted {
                    tally.approvals.record(outcome, origin.elapsed());
                }
            }
        }
    }
    if !stop.load(Ordering::Relaxed) {
        for id in waiting {
            if approve(&http, server, &approver, &id).await.is_ok() {
                tally.approved_after_window += 1;
            }
        }
    }
    tally
}

async fn approve(
    http: &reqwest::Client,
    server: &str,
    approver: &HeaderValue,
    id: &str,
) -> Result<(), String> {
    let url = format!("{server}/v1/entries/{id}/approve");
    let request = http
        .post(url)
        .header(AUTHORIZATION, approver.clone())
        .header(CONTENT_TYPE, "application/json")
        .body("{}");
    call(request).await
}

/// Sends a read or an approval: success, or the answer's code.
async fn call(request: reqwest::RequestBuilder) -> Result<(), String> {
    let response = request
        .send()
        .await
        .map_err(|error| transport_code(&error))?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|error| transport_code(&error))?;
    if status.is_success() {
        return Ok(());
    }
    let code = serde_json::from_slice::<Answer>(&bytes)
        .ok()
        .and_then(|answer| answer.code);
    Err(code.unwrap_or_else(|| format!("http_{}", status.as_u16())))
}

fn nanos(ns: u128) -> Duration {
    Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
}

fn seed(run_id: &str, index: usize) -> u64 {
    run_id
        .bytes()
        .fold(index as u64 ^ 0x9E37_79B9_7F4A_7C15, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01B3)
        })
}

/// splitmix64: enough randomness to pick accounts and amounts, no dependency.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

/// One transfer (batch size 1) or `{"transfers":[...],"atomic":false}`;
/// `inter_branch` is left with one flag per transfer. Ids and amounts hold
/// no characters that need escaping in JSON.
fn request_body(
    plan: &Plan,
    client: usize,
    sequence: &mut u64,
    random: &mut SplitMix64,
    inter_branch: &mut Vec<bool>,
) -> String {
    inter_branch.clear();
    let mix = plan.mix;
    let mut body = String::with_capacity(48 + plan.batch_size * 150);
    let batched = plan.batch_size > 1;
    if batched {
        body.push_str("{\"transfers\":[");
    }
    for n in 0..plan.batch_size {
        if n > 0 {
            body.push(',');
        }
        let accounts = plan.accounts.len();
        let debit = random.below(accounts);
        let inter = mix.inter_branch_percent > 0
            && !plan.payees.is_empty()
            && random.below(100) < usize::from(mix.inter_branch_percent);
        let credit = if inter {
            &plan.payees[random.below(plan.payees.len())]
        } else {
            &plan.accounts[(debit + 1 + random.below(accounts - 1)) % accounts]
        };
        let pending =
            mix.pending_percent > 0 && random.below(100) < usize::from(mix.pending_percent);
        let minor = 1 + random.below(999);
        let _ = write!(
            body,
            "{{\"id\":\"bn-{}-{client}-{sequence}\",\"debit_account\":\"{}\",\"credit_account\":\"{credit}\",\"amount\":\"{}.{:02}\",\"currency\":\"{CURRENCY}\"{}}}",
            plan.run_id,
            plan.accounts[debit],
            minor / 100,
            minor % 100,
            if pending { ",\"pending\":true" } else { "" },
        );
        inter_branch.push(inter);
        *sequence += 1;
    }
    if batched {
        body.push_str("],\"atomic\":false}");
    }
    body
}

/// An answer, or the code of why there is none.
enum Outcome {
    /// One result per transfer (a single rejected transfer comes back as a
    /// problem that carries its result).
    Answered(Vec<TransferResult>),
    /// No per-transfer answer.
    Failed(String),
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    results: Vec<TransferResult>,
    code: Option<String>,
}

#[derive(Deserialize)]
struct TransferResult {
    #[serde(default)]
    id: String,
    status: String,
    code: Option<String>,
}

async fn send(http: &reqwest::Client, url: &str, auth: &HeaderValue, body: String) -> Outcome {
    let sent = http
        .post(url)
        .header(AUTHORIZATION, auth.clone())
        .header(CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(error) => return Outcome::Failed(transport_code(&error)),
    };
    let status = response.status();
    let bytes = match response.bytes().await {
        Ok(bytes) => bytes,
        Err(error) => return Outcome::Failed(transport_code(&error)),
    };
    match serde_json::from_slice::<Answer>(&bytes) {
        Ok(answer) if !answer.results.is_empty() => Outcome::Answered(answer.results),
        Ok(answer) => Outcome::Failed(
            answer
                .code
                .unwrap_or_else(|| format!("http_{}", status.as_u16())),
        ),
        Err(_) => Outcome::Failed(format!("http_{}", status.as_u16())),
    }
}

fn transport_code(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "client_timeout"
    } else if error.is_connect() {
        "connect_failed"
    } else {
        "transport_error"
    }
    .to_string()
}

/// CPU time of this process, all threads: the first field of each thread's
/// `/proc/self/task/*/schedstat`, in ns. `None` where there is no such file.
fn process_cpu() -> Option<Duration> {
    let mut total: u64 = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path().join("schedstat");
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        total += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(batch_size: usize, rate: Option<u64>) -> Plan {
        Plan {
            clients: 4,
            batch_size,
            duration: Duration::from_secs(1),
            warmup: Duration::ZERO,
            rate,
            accounts: Arc::new(vec!["A-1".into(), "A-2".into(), "A-3".into()]),
            servers: vec!["http://127.0.0.1:1".into()],
            key: "k".into(),
            timeout: Duration::from_secs(1),
            run_id: "r1".into(),
            mix: Mix::default(),
            payees: Arc::new(Vec::new()),
            approver_key: None,
        }
    }

    #[test]
    fn a_single_transfer_is_sent_bare_and_a_batch_wrapped() {
        let mut random = SplitMix64(1);
        let mut sequence = 0;
        let mut inter = Vec::new();
        let mut body = |plan: &Plan| {
            let text = request_body(plan, 2, &mut sequence, &mut random, &mut inter);
            serde_json::from_str::<serde_json::Value>(&text).expect("JSON")
        };
        let single = body(&plan(1, None));
        assert_eq!(single["id"], "bn-r1-2-0");
        assert_ne!(single["debit_account"], single["credit_account"]);
        assert_eq!(single["currency"], "CNY");
        let amount = single["amount"].as_str().expect("amount");
        assert!(
            ledger::Amount::parse_positive(amount, ledger::Currency::new("CNY").expect("CNY"))
                .is_ok()
        );
        assert_eq!(single.get("pending"), None);
        let batch = body(&plan(3, None));
        let transfers = batch["transfers"].as_array().expect("transfers");
        assert_eq!(transfers.len(), 3);
        assert_eq!(transfers[2]["id"], "bn-r1-2-3");
        assert_eq!(batch["atomic"], false);
    }

    #[test]
    fn the_mix_credits_payees_and_asks_for_pending_in_about_its_shares() {
        let mut mixed = plan(1_000, None);
        mixed.mix = Mix {
            read_percent: 0,
            inter_branch_percent: 10,
            pending_percent: 5,
        };
        mixed.payees = Arc::new(vec!["P-1".into(), "P-2".into()]);
        let mut random = SplitMix64(7);
        let mut inter = Vec::new();
        let mut sequence = 0;
        let text = request_body(&mixed, 0, &mut sequence, &mut random, &mut inter);
        let batch: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let transfers = batch["transfers"].as_array().expect("transfers");
        assert_eq!(inter.len(), 1_000);
        for (transfer, inter) in transfers.iter().zip(&inter) {
            let credit = transfer["credit_account"].as_str().expect("credit");
            assert_eq!(credit.starts_with("P-"), *inter, "{transfer}");
            assert!(
                transfer["debit_account"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("A-"))
            );
        }
        let payees = inter.iter().filter(|inter| **inter).count();
        let pending = transfers.iter().filter(|t| t["pending"] == true).count();
        // 10% and 5% of 1,000, give or take what chance allows.
        assert!((60..=140).contains(&payees), "{payees} inter-branch");
        assert!((20..=80).contains(&pending), "{pending} pending");
    }

    #[test]
    fn open_loop_spaces_each_clients_requests_by_clients_over_rate() {
        // 4 clients, 1 transfer each, 1,000/s overall: each client every 4 ms.
        assert_eq!(plan(1, Some(1_000)).interval_ns(), Some(4_000_000));
        // Batches of 10 at 1,000 transfers/s: 100 requests/s, each client every 40 ms.
        assert_eq!(plan(10, Some(1_000)).interval_ns(), Some(40_000_000));
        assert_eq!(plan(1, None).interval_ns(), None);
    }

    #[test]
    fn only_posted_and_pending_transfers_count_as_committed() {
        let mut tally = Tally::default();
        let result = |status: &str, code: Option<&str>| TransferResult {
            id: "t".into(),
            status: status.into(),
            code: code.map(Into::into),
        };
        let now = Instant::now();
        let answered = Outcome::Answered(vec![
            result("posted", None),
            result("pending", None),
            result("rejected", Some("insufficient_funds")),
        ]);
        tally.record(
            &answered,
            &[true, false, true],
            2,
            Duration::from_millis(2),
            now,
        );
        tally.record(
            &Outcome::Failed("overloaded".into()),
            &[false; 3],
            0,
            Duration::from_millis(1),
            now,
        );
        assert_eq!(tally.committed, 2);
        assert_eq!(tally.pending, 1);
        assert_eq!(
            tally.inter_branch, 1,
            "the rejected inter-branch one is not counted"
        );
        assert_eq!(tally.transfers_sent, 6);
        assert_eq!(tally.rejected["insufficient_funds"], 1);
        assert_eq!(tally.request_errors["overloaded"], 1);
        assert_eq!(tally.requests(), 2);
        assert_eq!(tally.latency_us.len(), 1, "failed requests have no latency");
        let max = tally.latency_us.max();
        assert!(
            (1_999..=2_001).contains(&max),
            "2 ms kept as µs, not clamped: {max}"
        );
        assert_eq!(
            tally.by_second,
            vec![
                Second::default(),
                Second::default(),
                Second {
                    answered: 1,
                    max_us: 2_000
                }
            ],
            "only answered requests, in the second they were due"
        );
        let mut other = Tally::default();
        other.record(
            &Outcome::Answered(vec![result("posted", None)]),
            &[false],
            0,
            Duration::from_millis(7),
            now,
        );
        tally.merge(other);
        assert_eq!(
            tally.by_second[0],
            Second {
                answered: 1,
                max_us: 7_000
            }
        );
        assert_eq!(tally.by_second[2].answered, 1, "merging keeps the longer");
    }
}
