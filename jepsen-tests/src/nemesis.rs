//! The nemesis: faults on a seeded schedule, one at a time — a quiet
//! interval, a fault, a hold, the heal — each window recorded in the history
//! as `fault_start` / `fault_stop`.
//!
//! - `partition`: iptables DROP rules inside the node namespaces, in one of
//!   three shapes: random halves, the leader isolated, or a majority ring
//!   (five nodes: each sees its two ring neighbours, a majority, but no two
//!   see the same majority; three nodes: one link cut, so one node bridges).
//! - `kill`: kill -9 (the leader half the time), restarted at the heal.
//! - `pause`: SIGSTOP, SIGCONT at the heal.
//! - `clock`: skew the wall clock of one node (the leader half the time)
//!   by up to ±300 s through libfaketime; the monotonic clock is left alone.
//! - `delay`: hold back the bytes between nodes in the harness's TCP
//!   [`proxy`](crate::proxy): every link by 20–200 ms (plus jitter), or the
//!   links of one node (the leader half the time) by 300–1500 ms.
//! - `drop`: cut connections between nodes in the proxy at random: every
//!   link 2–10 % of chunks and new connections, or one node's links 20–50 %.
//! - `member`: remove a voter (DELETE /v1/cluster/members/{id}), and once
//!   that is committed kill and wipe it, restart it under a new node id, add
//!   it as a learner and promote it. A wiped node never returns under its old id.
//! - `lose-unsynced`: a power loss. kill -9 all the nodes at once (the
//!   first time, and every other time after) or a majority of them (the
//!   leader among them half the time), make each one's [`lossyfs`](crate::lossyfs) data
//!   directory forget every write not yet fsynced while it is down, and
//!   restart them at the heal. Choosing it puts every data directory on
//!   lossyfs; `all` leaves it out (see docs/jepsen.md).
//!
//! A watcher restarts nodes that exit on their own and records each exit:
//! a node that crashes under test is a finding.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::sync::{Mutex, watch};

use crate::api::{Api, Outcome};
use crate::cmd;
use crate::history::{F, Kind, Recorder};
use crate::node::{self, ADMIN_KEY, Cluster};
use crate::proxy::{Mode, Proxy};
use crate::{netns, proxy};

/// A kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Network partitions.
    Partition,
    /// kill -9 and restart.
    Kill,
    /// SIGSTOP and SIGCONT.
    Pause,
    /// Remove, wipe, re-add under a new id, promote.
    Member,
    /// Skew wall clocks (libfaketime).
    Clock,
    /// Slow links in the proxy.
    Delay,
    /// Lossy links in the proxy.
    Drop,
    /// kill -9 a majority or all, forgetting their un-fsynced writes.
    LoseUnsynced,
}

impl Fault {
    /// Every fault.
    pub const ALL: [Fault; 7] = [
        Fault::Partition,
        Fault::Kill,
        Fault::Pause,
        Fault::Member,
        Fault::Clock,
        Fault::Delay,
        Fault::Drop,
    ];

    /// Every fault that can be named (`all` means [`Fault::ALL`]).
    pub const NAMED: [Fault; 8] = [
        Fault::Partition,
        Fault::Kill,
        Fault::Pause,
        Fault::Member,
        Fault::Clock,
        Fault::Delay,
        Fault::Drop,
        Fault::LoseUnsynced,
    ];

    /// Its name on the command line and in the history.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Partition => "partition",
            Fault::Kill => "kill",
            Fault::Pause => "pause",
            Fault::Member => "member",
            Fault::Clock => "clock",
            Fault::Delay => "delay",
            Fault::Drop => "drop",
            Fault::LoseUnsynced => "lose-unsynced",
        }
    }
}

/// Parses `partition,kill,...` (`all` for every fault, `none` for none).
pub fn parse_faults(list: &str) -> anyhow::Result<Vec<Fault>> {
    let mut faults = Vec::new();
    for word in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        match word {
            "all" => faults.extend(Fault::ALL),
            "none" => {}
            _ => match Fault::NAMED.iter().find(|fault| fault.name() == word) {
                Some(fault) => faults.push(*fault),
                None => bail!(
                    "unknown nemesis {word:?}; choose from partition, kill, pause, member, clock, delay, drop, lose-unsynced, all, none"
                ),
            },
        }
    }
    faults.dedup();
    Ok(faults)
}

/// The cluster as the nemesis, the watcher and the final phase share it.
pub type SharedCluster = Arc<Mutex<Cluster>>;

/// A fault in force, to be healed.
enum Active {
    Partitioned,
    /// The slots to restart, and what the fault did.
    Killed(Vec<usize>, Value),
    Paused(Vec<usize>),
    Skewed(Vec<usize>),
    Proxied,
    Done(Value),
}

/// The nemesis.
pub struct Nemesis {
    /// The nodes.
    pub cluster: SharedCluster,
    /// The API (admin calls, leader lookups).
    pub api: Api,
    /// The history.
    pub recorder: Arc<Recorder>,
    /// Its random source.
    pub rng: StdRng,
    /// The faults it may choose.
    pub faults: Vec<Fault>,
    /// How many slots.
    pub slots: usize,
    /// The links between the nodes.
    pub proxy: Arc<Proxy>,
    /// Power losses so far (they alternate between all nodes and a majority).
    pub power_losses: usize,
}

/// Waits `duration`, or less if `stop` turns true; returns whether it stopped.
async fn stopped_during(duration: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    if *stop.borrow() {
        return true;
    }
    let stopped = tokio::select! {
        () = tokio::time::sleep(duration) => false,
        _ = stop.wait_for(|stopped| *stopped) => true,
    };
    stopped || *stop.borrow()
}

impl Nemesis {
    /// A nemesis seeded from `seed`.
    pub fn new(
        cluster: SharedCluster,
        api: Api,
        recorder: Arc<Recorder>,
        seed: u64,
        faults: Vec<Fault>,
        slots: usize,
        proxy: Arc<Proxy>,
    ) -> Nemesis {
        Nemesis {
            cluster,
            api,
            recorder,
            rng: StdRng::seed_from_u64(seed ^ 0x006e_656d_6573_6973),
            faults,
            slots,
            proxy,
            power_losses: 0,
        }
    }

    /// Runs the schedule until `stop`, then heals whatever is in force.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        if self.faults.is_empty() {
            return;
        }
        loop {
            let quiet = Duration::from_millis(self.rng.random_range(2_000..6_000));
            if stopped_during(quiet, &mut stop).await {
                return;
            }
            let fault = self.faults[self.rng.random_range(0..self.faults.len())];
            let active = match self.start(fault).await {
                Ok(active) => active,
                Err(error) => {
                    // Whatever part of the fault took hold is undone.
                    self.proxy.heal();
                    let healed = heal_network(&self.cluster).await;
                    let detail = json!({
                        "fault": fault.name(),
                        "error": format!("{error:#}"),
                        "healed": healed.map_or_else(|error| format!("{error:#}"), |()| "ok".to_string()),
                    });
                    self.recorder
                        .note("nemesis", Kind::Info, F::FaultStop, None, detail);
                    continue;
                }
            };
            let hold = Duration::from_millis(self.rng.random_range(4_000..12_000));
            let interrupted =
                !matches!(active, Active::Done(_)) && stopped_during(hold, &mut stop).await;
            let result = match &active {
                Active::Done(result) | Active::Killed(_, result) => result.clone(),
                _ => Value::Null,
            };
            let healed = self.heal(active).await;
            let detail = json!({
                "fault": fault.name(),
                "result": result,
                "healed": healed.as_ref().map_or_else(|error| format!("{error:#}"), |()| "ok".to_string()),
            });
            self.recorder
                .note("nemesis", Kind::Info, F::FaultStop, None, detail);
            if interrupted || *stop.borrow() {
                return;
            }
        }
    }

    fn begin(&self, detail: Value) {
        self.recorder
            .note("nemesis", Kind::Info, F::FaultStart, None, detail);
    }

    async fn start(&mut self, fault: Fault) -> anyhow::Result<Active> {
        match fault {
            Fault::Partition => {
                let (shape, cuts) = self.partition_plan().await;
                self.begin(json!({ "fault": "partition", "shape": shape, "cuts": cuts }));
                apply_cuts(&self.cluster, &cuts).await?;
                Ok(Active::Partitioned)
            }
            Fault::Kill | Fault::Pause => {
                let targets = self.targets().await;
                let mut cluster = self.cluster.lock().await;
                let ids: Vec<u64> = targets
                    .iter()
                    .map(|slot| cluster.slots[slot - 1].node_id)
                    .collect();
                self.begin(json!({ "fault": fault.name(), "slots": targets, "node_ids": ids }));
                for slot in &targets {
                    if fault == Fault::Kill {
                        cluster.kill(*slot);
                    } else {
                        cluster.set_paused(*slot, true).await?;
                    }
                }
                Ok(if fault == Fault::Kill {
                    Active::Killed(targets, Value::Null)
                } else {
                    Active::Paused(targets)
                })
            }
            Fault::Clock => {
                let targets = self.targets().await;
                let offsets: Vec<i64> = targets
                    .iter()
                    .map(|_| {
                        let seconds = self.rng.random_range(1..=300);
                        if self.rng.random_bool(0.5) {
                            seconds
                        } else {
                            -seconds
                        }
                    })
                    .collect();
                self.begin(json!({ "fault": "clock", "slots": targets, "offsets_s": offsets }));
                let cluster = self.cluster.lock().await;
                for (slot, offset) in targets.iter().zip(&offsets) {
                    cluster.set_clock(*slot, *offset)?;
                }
                Ok(Active::Skewed(targets))
            }
            Fault::Delay | Fault::Drop => {
                let (shape, links, mode) = self.link_plan(fault).await;
                let detail = match mode {
                    Mode::Delay { base_ms, jitter_ms } => {
                        json!({ "base_ms": base_ms, "jitter_ms": jitter_ms })
                    }
                    Mode::Drop { per_mille } => json!({ "cut_per_mille": per_mille }),
                    Mode::Pass => Value::Null,
                };
                self.begin(json!({ "fault": fault.name(), "shape": shape, "links": links, "mode": detail }));
                for (from, to) in &links {
                    self.proxy.set(*from, *to, mode);
                }
                Ok(Active::Proxied)
            }
            Fault::Member => {
                self.begin(json!({ "fault": "member" }));
                Ok(Active::Done(self.member_cycle().await?))
            }
            Fault::LoseUnsynced => {
                let targets = self.power_loss_targets().await;
                let mut cluster = self.cluster.lock().await;
                let ids: Vec<u64> = targets
                    .iter()
                    .map(|slot| cluster.slots[slot - 1].node_id)
                    .collect();
                self.begin(json!({ "fault": "lose-unsynced", "slots": targets, "node_ids": ids }));
                cluster.kill_together(&targets);
                let mut lost = Vec::new();
                for slot in &targets {
                    let dropped = cluster.lose_unsynced(*slot)?;
                    lost.push(json!({ "slot": slot, "lost": dropped }));
                }
                Ok(Active::Killed(targets, json!({ "lost": lost })))
            }
        }
    }

    /// Every slot the first time, then a majority (the leader among them
    /// half the time), and so on alternately.
    async fn power_loss_targets(&mut self) -> Vec<usize> {
        let whole_cluster = self.power_losses.is_multiple_of(2);
        self.power_losses += 1;
        let leader = leader_slot(&self.api, &self.cluster).await;
        let mut slots: Vec<usize> = (1..=self.slots).collect();
        slots.shuffle(&mut self.rng);
        if let Some(leader) = leader.filter(|_| self.rng.random_bool(0.5)) {
            slots.retain(|slot| *slot != leader);
            slots.insert(0, leader);
        }
        if !whole_cluster {
            slots.truncate(self.slots / 2 + 1);
        }
        slots.sort_unstable();
        slots
    }

    async fn heal(&mut self, active: Active) -> anyhow::Result<()> {
        match active {
            Active::Partitioned => heal_network(&self.cluster).await,
            Active::Killed(slots, _) => {
                let mut cluster = self.cluster.lock().await;
                for slot in slots {
                    if !cluster.is_running(slot) {
                        cluster.start(slot)?;
                    }
                }
                Ok(())
            }
            Active::Paused(slots) => {
                let mut cluster = self.cluster.lock().await;
                for slot in slots {
                    cluster.set_paused(slot, false).await?;
                }
                Ok(())
            }
            Active::Skewed(slots) => {
                let cluster = self.cluster.lock().await;
                for slot in slots {
                    cluster.set_clock(slot, 0)?;
                }
                Ok(())
            }
            Active::Proxied => {
                self.proxy.heal();
                Ok(())
            }
            Active::Done(_) => Ok(()),
        }
    }

    /// Which links to slow down or make lossy, and how: every link mildly,
    /// or one node's links (the leader half the time) badly.
    async fn link_plan(&mut self, fault: Fault) -> (&'static str, Vec<(usize, usize)>, Mode) {
        let n = self.slots;
        let every_link = self.rng.random_bool(0.5);
        let (shape, links) = if every_link {
            let links = (1..=n)
                .flat_map(|a| (1..=n).filter(move |b| *b != a).map(move |b| (a, b)))
                .collect();
            ("all_links", links)
        } else {
            let target = self.targets().await[0];
            let links = (1..=n)
                .filter(|peer| *peer != target)
                .flat_map(|peer| [(target, peer), (peer, target)])
                .collect();
            ("one_node", links)
        };
        let mode = match (fault, every_link) {
            (Fault::Drop, true) => Mode::Drop {
                per_mille: self.rng.random_range(20..=100),
            },
            (Fault::Drop, false) => Mode::Drop {
                per_mille: self.rng.random_range(200..=500),
            },
            (_, true) => {
                let base_ms = self.rng.random_range(20..=200);
                Mode::Delay {
                    base_ms,
                    jitter_ms: base_ms / 2,
                }
            }
            (_, false) => Mode::Delay {
                base_ms: self.rng.random_range(300..=1_500),
                jitter_ms: 200,
            },
        };
        (shape, links, mode)
    }

    /// One node, or on five nodes sometimes two; the leader half the time.
    async fn targets(&mut self) -> Vec<usize> {
        let leader = leader_slot(&self.api, &self.cluster).await;
        let mut slots: Vec<usize> = (1..=self.slots).collect();
        slots.shuffle(&mut self.rng);
        if let Some(leader) = leader.filter(|_| self.rng.random_bool(0.5)) {
            slots.retain(|slot| *slot != leader);
            slots.insert(0, leader);
        }
        let count = if self.slots >= 5 && self.rng.random_bool(0.5) {
            2
        } else {
            1
        };
        slots.truncate(count);
        slots
    }

    async fn partition_plan(&mut self) -> (&'static str, Vec<(usize, usize)>) {
        let n = self.slots;
        let mut slots: Vec<usize> = (1..=n).collect();
        slots.shuffle(&mut self.rng);
        let mut cuts = Vec::new();
        match self.rng.random_range(0..3) {
            0 => {
                let (minority, majority) = slots.split_at(n / 2);
                for a in minority {
                    cuts.extend(majority.iter().map(|b| (*a, *b)));
                }
                ("halves", cuts)
            }
            1 => {
                let leader = leader_slot(&self.api, &self.cluster)
                    .await
                    .unwrap_or(slots[0]);
                cuts.extend((1..=n).filter(|b| *b != leader).map(|b| (leader, b)));
                ("isolate_leader", cuts)
            }
            _ if n >= 5 => {
                for (i, a) in slots.iter().enumerate() {
                    for (j, b) in slots.iter().enumerate().skip(i + 1) {
                        let distance = (j - i).min(n - (j - i));
                        if distance >= 2 {
                            cuts.push((*a, *b));
                        }
                    }
                }
                ("majority_ring", cuts)
            }
            _ => {
                cuts.push((slots[0], slots[1]));
                ("majority_ring", cuts)
            }
        }
    }

    /// Removes a voter, wipes it, and brings it back under a new id.
    async fn member_cycle(&mut self) -> anyhow::Result<Value> {
        let victim = self.rng.random_range(1..=self.slots);
        let old_id = self.cluster.lock().await.slots[victim - 1].node_id;
        let via = victim % self.slots + 1;
        remove_member(&self.api, via, old_id)
            .await
            .with_context(|| format!("removing node {old_id}"))?;
        let new_id = {
            let mut cluster = self.cluster.lock().await;
            let new_id = cluster.wipe_and_renumber(victim)?;
            cluster.start(victim)?;
            new_id
        };
        add_member(&self.api, via, victim, new_id)
            .await
            .with_context(|| format!("adding node {new_id}"))?;
        Ok(json!({ "slot": victim, "removed": old_id, "added": new_id }))
    }
}

/// Drops traffic both ways between each pair in `cuts`: each node of a
/// pair drops what it sends towards the other (through the proxy port of
/// that link) and whatever reaches it from the other's address directly.
pub async fn apply_cuts(cluster: &SharedCluster, cuts: &[(usize, usize)]) -> anyhow::Result<()> {
    let run_id = cluster.lock().await.run_id().to_string();
    for (a, b) in cuts {
        for (here, there) in [(*a, *b), (*b, *a)] {
            let ns = netns::node_name(&run_id, here);
            let port = proxy::port(here, there).to_string();
            let to_proxy = [
                "-A",
                "OUTPUT",
                "-p",
                "tcp",
                "-d",
                netns::HUB_IP,
                "--dport",
                &port,
                "-j",
                "DROP",
            ];
            cmd::in_netns(&ns, "iptables", &to_proxy).await?;
            let source = netns::node_ip(there);
            let direct = ["-A", "INPUT", "-s", &source, "-j", "DROP"];
            cmd::in_netns(&ns, "iptables", &direct).await?;
        }
    }
    Ok(())
}

/// Removes every partition.
pub async fn heal_network(cluster: &SharedCluster) -> anyhow::Result<()> {
    let (run_id, slots) = {
        let cluster = cluster.lock().await;
        (cluster.run_id().to_string(), cluster.slots.len())
    };
    for slot in 1..=slots {
        let ns = netns::node_name(&run_id, slot);
        cmd::in_netns(&ns, "iptables", &["-F", "INPUT"]).await?;
        cmd::in_netns(&ns, "iptables", &["-F", "OUTPUT"]).await?;
    }
    Ok(())
}

/// The slot of the leader most running nodes agree on, if any.
pub async fn leader_slot(api: &Api, cluster: &SharedCluster) -> Option<usize> {
    let slots = cluster.lock().await.slots.len();
    let mut asks = tokio::task::JoinSet::new();
    for slot in 1..=slots {
        let api = api.clone();
        asks.spawn(async move {
            let view = tokio::time::timeout(Duration::from_secs(1), api.cluster(slot))
                .await
                .ok()?
                .ok()?;
            view["leader"].as_u64()
        });
    }
    let mut votes: BTreeMap<u64, usize> = BTreeMap::new();
    while let Some(answer) = asks.join_next().await {
        if let Ok(Some(leader)) = answer {
            *votes.entry(leader).or_default() += 1;
        }
    }
    let (leader, _) = votes.into_iter().max_by_key(|(_, count)| *count)?;
    cluster.lock().await.slot_of(leader)
}

/// Retries `call` until it answers 200, for up to `limit`.
async fn until_ok<Fut>(
    what: &str,
    limit: Duration,
    mut call: impl FnMut() -> Fut,
) -> anyhow::Result<Value>
where
    Fut: std::future::Future<Output = Outcome<Value>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let last = match call().await {
            Outcome::Ok(body) => return Ok(body),
            Outcome::Fail { code, detail } | Outcome::Info { code, detail } => {
                format!("{code}: {detail}")
            }
        };
        if tokio::time::Instant::now() > deadline {
            bail!("{what}: no success within {limit:?}; last answer {last}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Removes `node_id` from the membership through `via`, and returns once
/// the change is committed (the call answers only then).
pub async fn remove_member(api: &Api, via: usize, node_id: u64) -> anyhow::Result<()> {
    let path = format!("/v1/cluster/members/{node_id}");
    until_ok("remove member", Duration::from_secs(30), || {
        api.delete(via, &path)
    })
    .await?;
    Ok(())
}

/// Adds `node_id` (living in `slot`) as a learner through `via`, waits for
/// it to catch up (the call blocks until then), and promotes it.
pub async fn add_member(api: &Api, via: usize, slot: usize, node_id: u64) -> anyhow::Result<()> {
    let learner = json!({ "id": node_id, "addr": node::addr(slot) });
    until_ok("add learner", Duration::from_secs(60), || {
        api.post(via, "/v1/cluster/learners", ADMIN_KEY, &learner)
    })
    .await?;
    let voter = json!({ "id": node_id });
    until_ok("promote", Duration::from_secs(30), || {
        api.post(via, "/v1/cluster/voters", ADMIN_KEY, &voter)
    })
    .await?;
    Ok(())
}

/// Records that `slot`'s node exited on its own (checker 7 reports it).
pub fn note_exit(
    recorder: &Recorder,
    cluster: &Cluster,
    slot: usize,
    status: std::process::ExitStatus,
) {
    let value = json!({
        "slot": slot,
        "node_id": cluster.slots[slot - 1].node_id,
        "status": status.to_string(),
        "log_tail": cluster.log_tail(slot),
    });
    recorder.note("harness", Kind::Info, F::NodeExit, Some(slot), value);
}

/// Restarts nodes that exit on their own, recording each exit, until `stop`.
pub async fn watch_for_exits(
    cluster: SharedCluster,
    recorder: Arc<Recorder>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if stopped_during(Duration::from_millis(500), &mut stop).await {
            return;
        }
        let mut cluster = cluster.lock().await;
        for slot in 1..=cluster.slots.len() {
            if let Some(status) = cluster.exited(slot) {
                note_exit(&recorder, &cluster, slot, status);
                if let Err(error) = cluster.start(slot) {
                    eprintln!("jepsen-tests: cannot restart slot {slot}: {error:#}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lose_unsynced_is_named_but_not_part_of_all() {
        let all = parse_faults("all").unwrap();
        assert_eq!(all, Fault::ALL);
        assert!(!all.contains(&Fault::LoseUnsynced));
        assert_eq!(
            parse_faults("partition, kill,lose-unsynced").unwrap(),
            [Fault::Partition, Fault::Kill, Fault::LoseUnsynced]
        );
        assert!(
            parse_faults("lose_unsynced")
                .unwrap_err()
                .to_string()
                .contains("lose-unsynced")
        );
        for fault in Fault::NAMED {
            assert_eq!(parse_faults(fault.name()).unwrap(), [fault]);
        }
    }
}
