//! The bank workload: a fixed set of deposit accounts in one branch, funded
//! once; concurrent clients move money between them with client-chosen
//! transfer ids (a retry after an unknown outcome keeps the id), read one
//! account, or read all of them in one snapshot — each against a random
//! node, which forwards to the leader as it must.
//!
//! Most accounts may not be overdrawn (`debits_must_not_exceed_credits`),
//! and transfers are large enough that some are refused for want of funds.
//! Some clients resubmit a transfer that was already acknowledged, exactly
//! as a client that lost the answer would: it must answer the original
//! outcome and index and move no money.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::api::{Api, Outcome, TELLER_KEY};
use crate::history::{F, Initial, Kind, Recorder, TransferArgs};
use crate::money;
use crate::node::ADMIN_KEY;

/// The branch every workload account belongs to.
const BRANCH: &str = "JT01";
/// The account the deposits are funded from (an asset, not in the workload).
const SOURCE: &str = "JT01-NOSTRO";
/// How many deposit accounts; the last `UNFLAGGED` may be overdrawn.
const ACCOUNTS: usize = 8;
const UNFLAGGED: usize = 2;
/// Each account's opening deposit, minor units (1,000.00).
const OPENING_MINOR: i64 = 100_000;
/// Largest transfer, minor units (400.00): big enough to be refused at times.
const TRANSFER_MAX_MINOR: i64 = 40_000;
/// Attempts per transfer id while the workload runs.
pub const ATTEMPTS_MAX: u32 = 3;

/// The workload's accounts.
#[derive(Debug, Clone)]
pub struct Bank {
    /// Account ids.
    pub accounts: Vec<String>,
    /// Whether each may not be overdrawn.
    pub flagged: BTreeMap<String, bool>,
}

impl Bank {
    /// The fixed set of accounts.
    pub fn new() -> Bank {
        let accounts: Vec<String> = (0..ACCOUNTS).map(|n| format!("{BRANCH}-C{n}")).collect();
        let flagged = accounts
            .iter()
            .enumerate()
            .map(|(n, id)| (id.clone(), n < ACCOUNTS - UNFLAGGED))
            .collect();
        Bank { accounts, flagged }
    }
}

/// Posts `body` until it is accepted or `what` is already there, for up to a minute.
async fn setup_post(
    api: &Api,
    path: &str,
    key: &str,
    body: Value,
    what: &str,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut slot = 1;
    loop {
        match api.post(slot, path, key, &body).await {
            Outcome::Ok(_) => return Ok(()),
            Outcome::Fail { code, .. } if code.contains("exists") => return Ok(()),
            Outcome::Fail { code, detail }
                if !["not_leader", "connect", "overloaded"].contains(&code.as_str()) =>
            {
                bail!("cannot set up {what}: {code}: {detail}")
            }
            outcome => {
                if tokio::time::Instant::now() > deadline {
                    bail!("cannot set up {what}: still {outcome:?} after a minute");
                }
            }
        }
        slot = slot % 3 + 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Creates the branch, the teller, the accounts and the opening deposits,
/// then reads the starting balances (recorded as the history's `initial`).
pub async fn setup(api: &Api, bank: &Bank, recorder: &Recorder) -> anyhow::Result<Initial> {
    setup_post(
        api,
        "/v1/branches",
        ADMIN_KEY,
        json!({"code": BRANCH, "name": "Jepsen branch"}),
        "the branch",
    )
    .await?;
    let teller =
        json!({"name": "jepsen-teller", "role": format!("branch:{BRANCH}"), "key": TELLER_KEY});
    setup_post(api, "/v1/principals", ADMIN_KEY, teller, "the teller").await?;
    let source = json!({"id": SOURCE, "branch": BRANCH, "currency": "CNY", "class": "asset", "purpose": "nostro"});
    setup_post(
        api,
        "/v1/accounts",
        ADMIN_KEY,
        source,
        "the funding account",
    )
    .await?;
    for id in &bank.accounts {
        let flags = json!({ "debits_must_not_exceed_credits": bank.flagged[id] });
        let account = json!({"id": id, "branch": BRANCH, "currency": "CNY", "class": "liability", "flags": flags});
        setup_post(api, "/v1/accounts", ADMIN_KEY, account, id).await?;
        let deposit = json!({
            "id": format!("open-{id}"), "debit_account": SOURCE, "credit_account": id,
            "amount": money::format_minor(OPENING_MINOR), "currency": "CNY",
        });
        setup_post(
            api,
            "/v1/transfers",
            TELLER_KEY,
            deposit,
            "an opening deposit",
        )
        .await?;
    }
    let (index, balances) = api
        .accounts(1, &bank.accounts, false)
        .await
        .context("cannot read the opening balances")?;
    let total = balances.values().map(|b| b.net()).sum();
    let initial = Initial {
        index,
        total,
        accounts: bank.flagged.clone(),
        balances,
    };
    recorder.note(
        "harness",
        Kind::Ok,
        F::Initial,
        Some(1),
        serde_json::to_value(&initial)?,
    );
    Ok(initial)
}

/// Every transfer id sent so far: its arguments, how many attempts it had,
/// and whether one was acknowledged.
#[derive(Default)]
pub struct Ledgerbook {
    sent: BTreeMap<String, Sent>,
    acked: Vec<String>,
}

/// One transfer id in the book.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The arguments of its latest attempt.
    pub args: TransferArgs,
    /// Whether an attempt was acknowledged.
    pub acked: bool,
}

/// Shared by the clients and the resolver.
pub type SharedBook = Arc<Mutex<Ledgerbook>>;

impl Ledgerbook {
    /// The arguments of the next attempt to send `id` (the same transfer, one attempt later).
    pub fn next_attempt(&mut self, id: &str, from: &str, to: &str, amount: i64) -> TransferArgs {
        let sent = self.sent.entry(id.to_string()).or_insert_with(|| Sent {
            args: TransferArgs {
                id: id.to_string(),
                from: from.to_string(),
                to: to.to_string(),
                amount,
                attempt: 0,
            },
            acked: false,
        });
        sent.args.attempt += 1;
        sent.args.clone()
    }

    /// Notes that `id` was acknowledged.
    pub fn acknowledge(&mut self, id: &str) {
        if let Some(sent) = self.sent.get_mut(id).filter(|sent| !sent.acked) {
            sent.acked = true;
            self.acked.push(id.to_string());
        }
    }

    /// Every id sent so far.
    pub fn sent(&self) -> Vec<Sent> {
        self.sent.values().cloned().collect()
    }
}

/// One client's context.
pub struct Client {
    /// `c<N>`.
    pub name: String,
    /// Its random source (seeded from the run's seed).
    pub rng: StdRng,
    /// The API.
    pub api: Api,
    /// The history.
    pub recorder: Arc<Recorder>,
    /// The accounts.
    pub bank: Arc<Bank>,
    /// Acknowledged transfers and attempt counts.
    pub book: SharedBook,
    /// How many slots.
    pub slots: usize,
}

impl Client {
    fn node(&mut self) -> usize {
        self.rng.random_range(1..=self.slots)
    }

    fn account(&mut self) -> String {
        let n = self.rng.random_range(0..self.bank.accounts.len());
        self.bank.accounts[n].clone()
    }

    /// Runs operations until `stop` turns true.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut seq = 0_u64;
        while !*stop.borrow() {
            let roll = self.rng.random_range(0..100);
            match roll {
                0..45 => {
                    seq += 1;
                    let id = format!("t-{}-{seq}", self.name);
                    let from = self.account();
                    let mut to = self.account();
                    while to == from {
                        to = self.account();
                    }
                    let amount = self.rng.random_range(1..=TRANSFER_MAX_MINOR);
                    self.transfer(&id, &from, &to, amount, &stop).await;
                }
                45..55 => self.resubmit().await,
                55..80 => self.read().await,
                80..95 => self.read_all(false).await,
                _ => self.read_all(true).await,
            }
            // Think time: keeps the load steady rather than flat out.
            let pause = Duration::from_millis(self.rng.random_range(0..20));
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// One attempt: records invoke and completion; returns the outcome.
    pub async fn attempt(&mut self, args: &TransferArgs, node: usize) -> Outcome<(u64, String)> {
        let pending = self
            .recorder
            .invoke(&self.name, F::Transfer, Some(node), json!(args));
        let outcome = self
            .api
            .transfer(node, &args.id, &args.from, &args.to, args.amount)
            .await;
        let (kind, value, error) = match &outcome {
            Outcome::Ok((index, status)) => (
                Kind::Ok,
                json!({"id": args.id, "index": index, "status": status}),
                None,
            ),
            Outcome::Fail { code, detail } => (
                Kind::Fail,
                json!({"id": args.id, "code": code}),
                Some(detail.clone()),
            ),
            Outcome::Info { code, detail } => (
                Kind::Info,
                json!({"id": args.id, "code": code}),
                Some(detail.clone()),
            ),
        };
        self.recorder.complete(&pending, kind, value, error);
        if matches!(outcome, Outcome::Ok(_)) {
            self.book
                .lock()
                .expect("no panics holding the book")
                .acknowledge(&args.id);
        }
        outcome
    }

    /// A transfer, retried with the same id (on another random node) after
    /// an unknown outcome or a refusal that says nothing was proposed.
    async fn transfer(
        &mut self,
        id: &str,
        from: &str,
        to: &str,
        amount: i64,
        stop: &watch::Receiver<bool>,
    ) {
        loop {
            let args = self
                .book
                .lock()
                .expect("no panics holding the book")
                .next_attempt(id, from, to, amount);
            let attempt = args.attempt;
            let node = self.node();
            let retry = match self.attempt(&args, node).await {
                Outcome::Ok(_) => false,
                Outcome::Fail { code, .. } => {
                    ["not_leader", "connect", "overloaded"].contains(&code.as_str())
                }
                Outcome::Info { .. } => true,
            };
            if !retry || attempt >= ATTEMPTS_MAX || *stop.borrow() {
                return;
            }
            let backoff = Duration::from_millis(self.rng.random_range(50..250));
            tokio::time::sleep(backoff).await;
        }
    }

    /// Sends an acknowledged transfer again, as a client that lost the answer would.
    async fn resubmit(&mut self) {
        let args = {
            let mut book = self.book.lock().expect("no panics holding the book");
            if book.acked.is_empty() {
                return;
            }
            let id = book.acked[self.rng.random_range(0..book.acked.len())].clone();
            let first = book.sent[&id].args.clone();
            book.next_attempt(&id, &first.from, &first.to, first.amount)
        };
        let node = self.node();
        self.attempt(&args, node).await;
    }

    async fn read(&mut self) {
        let account = self.account();
        let node = self.node();
        let pending = self.recorder.invoke(
            &self.name,
            F::Read,
            Some(node),
            json!({ "account": account }),
        );
        match self.api.account(node, &account, false).await {
            Ok((index, balance)) => {
                let value = json!({ "account": account, "index": index, "balance": balance });
                self.recorder.complete(&pending, Kind::Ok, value, None);
            }
            Err(error) => {
                let value = json!({ "account": account });
                self.recorder
                    .complete(&pending, Kind::Fail, value, Some(format!("{error:#}")));
            }
        }
    }

    async fn read_all(&mut self, stale: bool) {
        let node = self.node();
        let pending = self.recorder.invoke(
            &self.name,
            F::ReadAll,
            Some(node),
            json!({ "stale": stale }),
        );
        match self.api.accounts(node, &self.bank.accounts, stale).await {
            Ok((index, balances)) => {
                let value = json!({ "stale": stale, "index": index, "balances": balances });
                self.recorder.complete(&pending, Kind::Ok, value, None);
            }
            Err(error) => {
                let value = json!({ "stale": stale });
                self.recorder
                    .complete(&pending, Kind::Fail, value, Some(format!("{error:#}")));
            }
        }
    }
}

/// The clients of a run, seeded from `seed`.
pub fn clients(
    count: usize,
    seed: u64,
    api: &Api,
    recorder: &Arc<Recorder>,
    bank: &Arc<Bank>,
    book: &SharedBook,
    slots: usize,
) -> Vec<Client> {
    (0..count)
        .map(|n| Client {
            name: format!("c{n}"),
            rng: StdRng::seed_from_u64(seed.wrapping_mul(1_000_003).wrapping_add(n as u64)),
            api: api.clone(),
            recorder: recorder.clone(),
            bank: bank.clone(),
            book: book.clone(),
            slots,
        })
        .collect()
}
