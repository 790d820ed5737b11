//! One run, inside the hub namespace: start the nodes, set up the bank, run
//! the clients and the nemesis for the time limit, heal everything, resolve
//! every transfer whose outcome is unknown, take the final reads and
//! digests, check the history and write the results.

use std::path::PathBuf;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::sync::{Mutex, watch};

use crate::api::{Api, Outcome};
use crate::history::{DigestOk, F, Kind, Recorder, Resolved};
use crate::nemesis::{self, Fault, Nemesis, SharedCluster};
use crate::node::{ADMIN_KEY, Cluster, NodeSettings};
use crate::proxy::Proxy;
use crate::report;
use crate::workload::{self, ATTEMPTS_MAX, Bank, Client, Ledgerbook, SharedBook};

/// What a run does.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// 3 or 5.
    pub nodes: usize,
    /// How long the clients and the nemesis run.
    pub time_limit: Duration,
    /// The faults the nemesis may choose.
    pub faults: Vec<Fault>,
    /// Seeds the nemesis's schedule and the clients' choices.
    pub seed: u64,
    /// The results directory.
    pub out: PathBuf,
    /// The `clearledger-node` binary.
    pub node_bin: PathBuf,
    /// `CLEARLEDGER_FAULT` for the nodes (a build with `fault-injection`).
    pub fault: Option<String>,
    /// Concurrent clients.
    pub concurrency: usize,
    /// The nodes' `raft.logs_to_keep`.
    pub logs_to_keep: u64,
    /// Keep the nodes' data directories afterwards.
    pub keep_data: bool,
    /// The run id (names the namespaces).
    pub run_id: String,
    /// libfaketime, when the clock nemesis runs.
    pub faketime: Option<PathBuf>,
}

/// How a run ended.
pub enum Verdict {
    /// Every checker passed.
    Valid,
    /// Some checker did not.
    Invalid,
    /// Ctrl-C or SIGTERM.
    Interrupted,
}

/// How long healing, resolving and the final reads may take, each.
const SETTLE_LIMIT: Duration = Duration::from_secs(90);

/// A node exited on its own while the harness waited on the cluster: polling
/// stops at once, and the exit is already in the history.
#[derive(Debug)]
struct Fatal(String);

impl std::fmt::Display for Fatal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Fatal {}

/// Polls `check` every 200 ms until it succeeds, for up to `limit` (a
/// [`Fatal`] error ends it at once).
async fn poll<T, Fut>(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> Fut,
) -> anyhow::Result<T>
where
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let error = match check().await {
            Ok(value) => return Ok(value),
            Err(error) if error.downcast_ref::<Fatal>().is_some() => {
                return Err(error.context(what.to_string()));
            }
            Err(error) => error,
        };
        if tokio::time::Instant::now() > deadline {
            return Err(error.context(format!("{what}: still failing after {limit:?}")));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Resolves when Ctrl-C or SIGTERM arrives.
async fn interrupted() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

/// Runs one test; the nodes are stopped (by pid) whatever happens.
pub async fn run(config: RunConfig) -> anyhow::Result<Verdict> {
    let started = Instant::now();
    std::fs::create_dir_all(config.out.join("nodes"))
        .context("cannot create the results directory")?;
    let recorder = Arc::new(Recorder::create(
        &config.out.join("history.jsonl"),
        started,
    )?);
    let settings = NodeSettings {
        node_bin: config.node_bin.clone(),
        fault: config.fault.clone(),
        root: config.out.join("nodes"),
        run_id: config.run_id.clone(),
        faketime: config.faketime.clone(),
        lossy: config.faults.contains(&Fault::LoseUnsynced),
        logs_to_keep: config.logs_to_keep,
    };
    let cluster: SharedCluster = Arc::new(Mutex::new(Cluster::new(settings, config.nodes)?));
    let outcome = tokio::select! {
        outcome = test(&config, &cluster, &recorder) => outcome,
        () = interrupted() => Ok(Verdict::Interrupted),
    };
    let mut nodes = cluster.lock().await;
    nodes.stop_all();
    if !config.keep_data {
        nodes.remove_data();
    }
    recorder.flush()?;
    let verdict = outcome?;
    if matches!(verdict, Verdict::Interrupted) {
        eprintln!(
            "jepsen-tests: interrupted; the partial history is in {}",
            config.out.display()
        );
    }
    Ok(verdict)
}

async fn test(
    config: &RunConfig,
    cluster: &SharedCluster,
    recorder: &Arc<Recorder>,
) -> anyhow::Result<Verdict> {
    let api = Api::new()?;
    let proxy = Arc::new(Proxy::start(config.nodes).await?);
    start_cluster(config, cluster, recorder, &api).await?;
    let bank = Arc::new(Bank::new());
    workload::setup(&api, &bank, recorder).await?;
    eprintln!(
        "jepsen-tests: cluster up, bank set up; running for {:?}",
        config.time_limit
    );
    let book: SharedBook = Arc::new(StdMutex::new(Ledgerbook::default()));
    run_workload(config, cluster, recorder, &api, &bank, &book, &proxy).await?;
    eprintln!("jepsen-tests: workload stopped; healing");
    match heal(&api, cluster, recorder, &proxy, config.nodes).await {
        Ok(()) => {}
        // A node that exits on its own while the cluster heals (a replica
        // that cannot restart on what it kept, say) is a finding for
        // `nodes_stayed_up`, not a failure of the harness: the others are
        // still asked for every outcome, the final balances and digests.
        Err(error) if error.downcast_ref::<Fatal>().is_some() => {
            eprintln!("jepsen-tests: {error:#}\njepsen-tests: checking the history as it stands");
        }
        Err(error) => return Err(error),
    }
    resolve(&api, &book, recorder, &bank, config.nodes).await;
    final_reads(&api, &bank, recorder, config.nodes).await;
    digests(&api, cluster, recorder, config.nodes).await;
    record_exits(cluster, recorder).await;
    recorder.flush()?;
    let valid = report::write(&config.out, &recorder.events(), &run_info(config))?;
    Ok(if valid {
        Verdict::Valid
    } else {
        Verdict::Invalid
    })
}

/// Starts every node and waits for a leader; checks that an injected bug
/// is really there.
async fn start_cluster(
    config: &RunConfig,
    cluster: &SharedCluster,
    recorder: &Recorder,
    api: &Api,
) -> anyhow::Result<()> {
    {
        let mut nodes = cluster.lock().await;
        for slot in 1..=config.nodes {
            nodes.start(slot)?;
        }
    }
    wait_for_cluster(api, cluster, recorder, config.nodes).await?;
    {
        let nodes = cluster.lock().await;
        for slot in 1..=config.nodes {
            nodes.check_data_mount(slot)?;
        }
    }
    if let Some(fault) = &config.fault {
        let nodes = cluster.lock().await;
        for slot in 1..=config.nodes {
            if !nodes.log(slot).contains("FAULT INJECTION ACTIVE") {
                bail!(
                    "the node in slot {slot} does not inject {fault}: build it with --features fault-injection"
                );
            }
        }
    }
    Ok(())
}

/// The clients, the nemesis and the exit watcher, for the time limit.
async fn run_workload(
    config: &RunConfig,
    cluster: &SharedCluster,
    recorder: &Arc<Recorder>,
    api: &Api,
    bank: &Arc<Bank>,
    book: &SharedBook,
    proxy: &Arc<Proxy>,
) -> anyhow::Result<()> {
    let (stop, stopped) = watch::channel(false);
    let mut clients = tokio::task::JoinSet::new();
    for client in workload::clients(
        config.concurrency,
        config.seed,
        api,
        recorder,
        bank,
        book,
        config.nodes,
    ) {
        clients.spawn(client.run(stopped.clone()));
    }
    let faults = config.faults.clone();
    let nemesis = Nemesis::new(
        cluster.clone(),
        api.clone(),
        recorder.clone(),
        config.seed,
        faults,
        config.nodes,
        proxy.clone(),
    );
    let nemesis = tokio::spawn(nemesis.run(stopped.clone()));
    let watcher = tokio::spawn(nemesis::watch_for_exits(
        cluster.clone(),
        recorder.clone(),
        stopped.clone(),
    ));
    tokio::time::sleep(config.time_limit).await;
    stop.send_replace(true);
    let drained = async { while clients.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(30), drained)
        .await
        .is_err()
    {
        // Whatever is still in flight stays an invocation without completion: unknown.
        clients.abort_all();
    }
    tokio::time::timeout(Duration::from_secs(120), nemesis)
        .await
        .context("the nemesis did not stop")??;
    watcher.await?;
    Ok(())
}

fn run_info(config: &RunConfig) -> Value {
    let faults: Vec<&str> = config.faults.iter().map(|fault| fault.name()).collect();
    json!({
        "run_id": config.run_id,
        "nodes": config.nodes,
        "time_limit_s": config.time_limit.as_secs(),
        "nemesis": faults,
        "seed": config.seed,
        "concurrency": config.concurrency,
        "logs_to_keep": config.logs_to_keep,
        "node_bin": config.node_bin.display().to_string(),
        "injected_fault": config.fault,
        "faketime": config.faketime.as_ref().map(|path| path.display().to_string()),
        "lossy_data_dirs": config.faults.contains(&Fault::LoseUnsynced),
    })
}

/// Waits until every slot answers and agrees on a leader that is one of them.
async fn wait_for_cluster(
    api: &Api,
    cluster: &SharedCluster,
    recorder: &Recorder,
    slots: usize,
) -> anyhow::Result<()> {
    poll(
        "waiting for every node to agree on a leader",
        SETTLE_LIMIT,
        || async {
            let mut leaders = Vec::new();
            for slot in 1..=slots {
                {
                    let mut nodes = cluster.lock().await;
                    if let Some(status) = nodes.exited(slot) {
                        nemesis::note_exit(recorder, &nodes, slot, status);
                        let log = nodes.log_tail(slot);
                        return Err(Fatal(format!(
                            "the node in slot {slot} exited ({status}):\n{log}"
                        ))
                        .into());
                    }
                }
                let view = api.cluster(slot).await?;
                leaders.push(
                    view["leader"]
                        .as_u64()
                        .with_context(|| format!("slot {slot} knows no leader"))?,
                );
            }
            leaders.dedup();
            let nodes = cluster.lock().await;
            match leaders.as_slice() {
                [leader] if nodes.slot_of(*leader).is_some() => Ok(()),
                _ => bail!("the nodes name different leaders: {leaders:?}"),
            }
        },
    )
    .await
}

/// Heals every fault, then repairs the membership.
async fn heal(
    api: &Api,
    cluster: &SharedCluster,
    recorder: &Recorder,
    proxy: &Proxy,
    slots: usize,
) -> anyhow::Result<()> {
    proxy.heal();
    nemesis::heal_network(cluster).await?;
    record_exits(cluster, recorder).await;
    {
        let mut nodes = cluster.lock().await;
        for slot in 1..=slots {
            if nodes.skews_clocks() {
                nodes.set_clock(slot, 0)?;
            }
            nodes.set_paused(slot, false).await?;
            if !nodes.is_running(slot) {
                nodes.start(slot)?;
            }
        }
    }
    // The leader's own view: a leader the others still name may be one
    // that just restarted and does not answer yet.
    let (leader, view) = poll("finding the leader after healing", SETTLE_LIMIT, || async {
        let leader = nemesis::leader_slot(api, cluster)
            .await
            .context("no leader yet")?;
        let view = api.cluster(leader).await?;
        anyhow::ensure!(
            view["leader"].as_u64() == Some(cluster.lock().await.slots[leader - 1].node_id),
            "slot {leader} no longer leads"
        );
        Ok((leader, view))
    })
    .await?;
    let actions = repair_membership(api, cluster, leader, &view, slots).await?;
    if !actions.is_empty() {
        let start = json!({ "fault": "repair", "actions": actions });
        recorder.note("nemesis", Kind::Info, F::FaultStart, None, start);
        recorder.note(
            "nemesis",
            Kind::Info,
            F::FaultStop,
            None,
            json!({ "fault": "repair" }),
        );
    }
    wait_for_cluster(api, cluster, recorder, slots).await
}

/// Makes every slot's node a voter and removes members that are no slot's
/// node; returns what it did. A slot whose node is not a member is wiped and
/// re-added under a new id.
async fn repair_membership(
    api: &Api,
    cluster: &SharedCluster,
    leader: usize,
    view: &Value,
    slots: usize,
) -> anyhow::Result<Vec<Value>> {
    let members: Vec<(u64, bool)> = view["members"]
        .as_array()
        .context("no members in the cluster view")?
        .iter()
        .filter_map(|member| Some((member["id"].as_u64()?, member["voter"].as_bool()?)))
        .collect();
    let mut actions = Vec::new();
    for slot in 1..=slots {
        let node_id = cluster.lock().await.slots[slot - 1].node_id;
        match members.iter().find(|(id, _)| *id == node_id) {
            Some((_, true)) => {}
            Some((_, false)) => {
                let body = json!({ "id": node_id });
                match api
                    .post(leader, "/v1/cluster/voters", ADMIN_KEY, &body)
                    .await
                {
                    Outcome::Ok(_) => actions.push(json!({ "promoted": node_id })),
                    other => bail!("cannot promote learner {node_id}: {other:?}"),
                }
            }
            None => {
                let new_id = {
                    let mut nodes = cluster.lock().await;
                    let new_id = nodes.wipe_and_renumber(slot)?;
                    nodes.start(slot)?;
                    new_id
                };
                nemesis::add_member(api, leader, slot, new_id).await?;
                actions.push(json!({ "slot": slot, "wiped": node_id, "added": new_id }));
            }
        }
    }
    for (id, _) in &members {
        if cluster.lock().await.slot_of(*id).is_none() {
            nemesis::remove_member(api, leader, *id).await?;
            actions.push(json!({ "removed_stray_member": id }));
        }
    }
    Ok(actions)
}

/// Learns every transfer's fate. Ids whose outcome is unknown and that the
/// ledger does not know are sent again (same id) before giving up.
async fn resolve(
    api: &Api,
    book: &SharedBook,
    recorder: &Arc<Recorder>,
    bank: &Arc<Bank>,
    slots: usize,
) {
    let sent = book.lock().expect("no panics holding the book").sent();
    let workers = 16;
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..workers {
        let mine: Vec<_> = sent.iter().skip(worker).step_by(workers).cloned().collect();
        let mut client = workload::clients(1, 0, api, recorder, bank, book, slots).remove(0);
        client.name = format!("resolver{worker}");
        tasks.spawn(async move {
            for item in mine {
                resolve_one(&mut client, &item, slots).await;
            }
        });
    }
    let finished = tokio::time::timeout(SETTLE_LIMIT * 2, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        // What was not resolved by now stays unresolved in the history, and
        // the checkers say what they cannot judge without it.
        eprintln!(
            "jepsen-tests: resolving transfers took over {:?}; {} of {} resolvers left unfinished",
            SETTLE_LIMIT * 2,
            tasks.len(),
            workers
        );
        tasks.shutdown().await;
    }
}

/// A transfer's fate, through whichever slot answers first.
async fn read_fate(api: &Api, id: &str, slots: usize) -> anyhow::Result<Resolved> {
    poll(
        &format!("reading transfer {id}"),
        Duration::from_secs(20),
        || async {
            let mut last = None;
            for slot in 1..=slots {
                match api.entry(slot, id).await {
                    Ok(fate) => return Ok(fate),
                    Err(error) => last = Some(error),
                }
            }
            Err(last.expect("at least one slot"))
        },
    )
    .await
}

async fn resolve_one(client: &mut Client, sent: &workload::Sent, slots: usize) {
    let id = &sent.args.id;
    let mut fate = read_fate(&client.api, id, slots).await;
    let mut retries = 0;
    while !sent.acked && fate.as_ref().is_ok_and(|fate| !fate.found) && retries < ATTEMPTS_MAX {
        retries += 1;
        let args = client
            .book
            .lock()
            .expect("no panics holding the book")
            .next_attempt(id, &sent.args.from, &sent.args.to, sent.args.amount);
        let node = (retries as usize - 1) % slots + 1;
        client.attempt(&args, node).await;
        fate = read_fate(&client.api, id, slots).await;
    }
    match fate {
        Ok(fate) => {
            let value = serde_json::to_value(&fate).expect("fates serialize");
            client
                .recorder
                .note("harness", Kind::Ok, F::Resolve, None, value);
        }
        Err(error) => {
            let value = json!({ "id": id, "error": format!("{error:#}") });
            client
                .recorder
                .note("harness", Kind::Fail, F::Resolve, None, value);
        }
    }
}

/// One linearizable all-balances read through every slot.
async fn final_reads(api: &Api, bank: &Bank, recorder: &Recorder, slots: usize) {
    for slot in 1..=slots {
        let read = poll("the final read", Duration::from_secs(30), || {
            api.accounts(slot, &bank.accounts, false)
        })
        .await;
        match read {
            Ok((index, balances)) => {
                let value = json!({ "stale": false, "index": index, "balances": balances });
                recorder.note("harness", Kind::Ok, F::FinalRead, Some(slot), value);
            }
            Err(error) => {
                eprintln!("jepsen-tests: no final read through slot {slot}: {error:#}");
            }
        }
    }
}

/// Waits for every replica to reach the same applied index, then records
/// each one's digest (or that it could not be asked).
async fn digests(api: &Api, cluster: &SharedCluster, recorder: &Recorder, slots: usize) {
    let ask = || async {
        let mut answers = Vec::new();
        for slot in 1..=slots {
            let answer = async {
                let body = api.get_ok(slot, "/v1/cluster/digest", ADMIN_KEY).await?;
                let text = |field: &str| {
                    body[field]
                        .as_str()
                        .map(str::to_string)
                        .context("a digest field is missing")
                };
                anyhow::Ok(DigestOk {
                    slot,
                    node_id: body["node_id"].as_u64().context("no node_id")?,
                    index: body["index"].as_u64().context("no index")?,
                    digest: text("digest")?,
                    chain_head: text("chain_head")?,
                })
            };
            answers.push((slot, answer.await));
        }
        answers
    };
    let converged = poll(
        "replicas reaching the same index",
        Duration::from_secs(60),
        || async {
            let answers = ask().await;
            let indexes: Vec<Option<u64>> = answers
                .iter()
                .map(|(_, a)| a.as_ref().ok().map(|d| d.index))
                .collect();
            if indexes
                .iter()
                .all(|index| index.is_some() && *index == indexes[0])
            {
                Ok(answers)
            } else {
                bail!("applied indexes differ: {indexes:?}")
            }
        },
    )
    .await;
    let answers = match converged {
        Ok(answers) => answers,
        Err(error) => {
            eprintln!("jepsen-tests: {error:#}");
            ask().await
        }
    };
    for (slot, answer) in answers {
        match answer {
            Ok(digest) => {
                let value = serde_json::to_value(&digest).expect("digests serialize");
                recorder.note("harness", Kind::Ok, F::Digest, Some(slot), value);
            }
            Err(error) => {
                let log = cluster.lock().await.log_tail(slot);
                let value = json!({ "slot": slot, "error": format!("{error:#}"), "log_tail": log });
                recorder.note("harness", Kind::Fail, F::Digest, Some(slot), value);
            }
        }
    }
}

/// Records nodes that exited after the watcher stopped looking.
async fn record_exits(cluster: &SharedCluster, recorder: &Recorder) {
    let mut nodes = cluster.lock().await;
    for slot in 1..=nodes.slots.len() {
        if let Some(status) = nodes.exited(slot) {
            nemesis::note_exit(recorder, &nodes, slot, status);
        }
    }
}
