//! The test network: one network namespace per node and a hub namespace
//! holding a bridge and the harness itself, all named after a random run id
//! so that leftovers of a crashed run never collide with a new one.
//!
//! ```text
//!   jt-<run>-hub: br0 10.99.0.1 ── v1 ═ eth0 10.99.0.11  jt-<run>-n1
//!                              ├─ v2 ═ eth0 10.99.0.12  jt-<run>-n2
//!                              └─ v3 ═ eth0 10.99.0.13  jt-<run>-n3
//! ```
//!
//! Every address lives inside a namespace the run created; the host's own
//! network is never touched. A DNAT rule in each node namespace sends the
//! node's connections to its peers through the harness's [`proxy`] in the
//! hub (delays and drops). Partitions are iptables rules inside the node
//! namespaces that drop a node's traffic to the proxy ports of the peers it
//! is cut from, so the harness (in the hub) always reaches every node.
//! `/run/jepsen-tests/<run>` holds the supervising process's pid, so that
//! `jepsen-tests cleanup` can tell a live run from a leftover.

use std::path::PathBuf;

use anyhow::Context;

use crate::{cmd, proxy};

/// Every namespace of this harness starts with this.
pub const PREFIX: &str = "jt-";
/// The harness's address in the hub.
pub const HUB_IP: &str = "10.99.0.1";
/// The port every node listens on (each in its own namespace).
pub const NODE_PORT: u16 = 8080;

/// The address of the node in `slot` (1-based).
pub fn node_ip(slot: usize) -> String {
    format!("10.99.0.{}", 10 + slot)
}

/// The hub namespace of run `run_id`.
pub fn hub_name(run_id: &str) -> String {
    format!("{PREFIX}{run_id}-hub")
}

/// The namespace of `slot` in run `run_id`.
pub fn node_name(run_id: &str, slot: usize) -> String {
    format!("{PREFIX}{run_id}-n{slot}")
}

fn state_dir() -> PathBuf {
    PathBuf::from("/run/jepsen-tests")
}

/// Fails with a clear message unless namespaces and iptables can be used.
pub fn check_available() -> anyhow::Result<()> {
    let probe = format!("{PREFIX}probe-{}", std::process::id());
    cmd::run("ip", &["netns", "add", &probe]).context(
        "network namespaces are unavailable: the harness needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN) \
         and iproute2's `ip netns`",
    )?;
    let iptables = cmd::run(
        "ip",
        &["netns", "exec", &probe, "iptables", "-L", "INPUT", "-n"],
    );
    cmd::run("ip", &["netns", "del", &probe]).context("cannot delete the probe namespace")?;
    iptables.context("iptables does not work inside a network namespace; partitions need it")?;
    Ok(())
}

/// The namespaces of one run.
pub struct Net {
    /// The run id.
    pub run_id: String,
    /// How many node namespaces.
    pub slots: usize,
}

impl Net {
    /// Creates the hub, `slots` node namespaces and the links between them.
    /// On failure, whatever was created is removed again.
    pub fn create(run_id: &str, slots: usize) -> anyhow::Result<Net> {
        let net = Net {
            run_id: run_id.to_string(),
            slots,
        };
        std::fs::create_dir_all(state_dir()).context("cannot create /run/jepsen-tests")?;
        std::fs::write(state_dir().join(run_id), std::process::id().to_string())
            .context("cannot write the run's state file")?;
        if let Err(error) = net.build() {
            net.teardown();
            return Err(error);
        }
        Ok(net)
    }

    fn build(&self) -> anyhow::Result<()> {
        let hub = hub_name(&self.run_id);
        cmd::run("ip", &["netns", "add", &hub])?;
        let in_hub = |args: &[&str]| {
            let mut full = vec!["-n", hub.as_str()];
            full.extend_from_slice(args);
            cmd::run("ip", &full)
        };
        in_hub(&["link", "set", "lo", "up"])?;
        in_hub(&["link", "add", "br0", "type", "bridge"])?;
        in_hub(&["addr", "add", &format!("{HUB_IP}/24"), "dev", "br0"])?;
        in_hub(&["link", "set", "br0", "up"])?;
        for slot in 1..=self.slots {
            let ns = node_name(&self.run_id, slot);
            let veth = format!("v{slot}");
            cmd::run("ip", &["netns", "add", &ns])?;
            cmd::run(
                "ip",
                &[
                    "link", "add", "name", &veth, "netns", &hub, "type", "veth", "peer", "name",
                    "eth0", "netns", &ns,
                ],
            )?;
            in_hub(&["link", "set", &veth, "master", "br0", "up"])?;
            let address = format!("{}/24", node_ip(slot));
            cmd::run("ip", &["-n", &ns, "link", "set", "lo", "up"])?;
            cmd::run("ip", &["-n", &ns, "addr", "add", &address, "dev", "eth0"])?;
            cmd::run("ip", &["-n", &ns, "link", "set", "eth0", "up"])?;
        }
        for from in 1..=self.slots {
            let ns = node_name(&self.run_id, from);
            for to in (1..=self.slots).filter(|to| *to != from) {
                // Node `from`'s connections to node `to` go through the proxy.
                let proxy = format!("{HUB_IP}:{}", proxy::port(from, to));
                let port = NODE_PORT.to_string();
                cmd::run(
                    "ip",
                    &[
                        "netns",
                        "exec",
                        &ns,
                        "iptables",
                        "-t",
                        "nat",
                        "-A",
                        "OUTPUT",
                        "-p",
                        "tcp",
                        "-d",
                        &node_ip(to),
                        "--dport",
                        &port,
                        "-j",
                        "DNAT",
                        "--to-destination",
                        &proxy,
                    ],
                )?;
            }
        }
        Ok(())
    }

    /// Kills whatever still runs inside the run's namespaces (by pid) and
    /// deletes them; the links and the bridge go with them. Best effort: it
    /// reports what it could not remove on stderr.
    pub fn teardown(&self) {
        let mut names: Vec<String> = (1..=self.slots)
            .map(|slot| node_name(&self.run_id, slot))
            .collect();
        names.push(hub_name(&self.run_id));
        remove_namespaces(&names);
        let _ = std::fs::remove_file(state_dir().join(&self.run_id));
    }
}

fn remove_namespaces(names: &[String]) {
    let existing = list_namespaces().unwrap_or_default();
    for name in names.iter().filter(|name| existing.contains(name)) {
        if let Ok(pids) = cmd::run("ip", &["netns", "pids", name]) {
            for pid in pids.split_whitespace() {
                let _ = cmd::run("kill", &["-KILL", pid]);
            }
        }
        if let Err(error) = cmd::run("ip", &["netns", "del", name]) {
            eprintln!("jepsen-tests: {error:#}");
        }
    }
}

fn list_namespaces() -> anyhow::Result<Vec<String>> {
    let listing = cmd::run("ip", &["netns", "list"])?;
    Ok(listing
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect())
}

fn supervisor_alive(run_id: &str) -> bool {
    let Ok(pid) = std::fs::read_to_string(state_dir().join(run_id)) else {
        return false;
    };
    // `/proc/<pid>/stat` is "pid (comm) state ...": alive if the command is
    // ours and it is not a zombie.
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).unwrap_or_default();
    match stat.rsplit_once(") ") {
        Some((head, tail)) => head.ends_with("(jepsen-tests") && !tail.starts_with('Z'),
        None => false,
    }
}

/// Removes the namespaces of every run whose supervisor is gone (or of
/// every run, with `force`). Returns the run ids removed.
pub fn cleanup(force: bool) -> anyhow::Result<Vec<String>> {
    let namespaces = list_namespaces()?;
    let mut runs: Vec<String> = namespaces
        .iter()
        .filter_map(|name| name.strip_prefix(PREFIX))
        .filter_map(|rest| rest.rsplit_once('-').map(|(run, _)| run.to_string()))
        .collect();
    runs.sort();
    runs.dedup();
    let mut removed = Vec::new();
    for run in runs {
        if !force && supervisor_alive(&run) {
            eprintln!(
                "jepsen-tests: run {run} is still running; leaving it (use --force to remove it anyway)"
            );
            continue;
        }
        let names: Vec<String> = namespaces
            .iter()
            .filter(|name| name.starts_with(&format!("{PREFIX}{run}-")))
            .cloned()
            .collect();
        remove_namespaces(&names);
        let _ = std::fs::remove_file(state_dir().join(&run));
        removed.push(run);
    }
    Ok(removed)
}

/// How many runs left namespaces behind without a live supervisor.
pub fn leftovers() -> usize {
    let Ok(namespaces) = list_namespaces() else {
        return 0;
    };
    let mut runs: Vec<&str> = namespaces
        .iter()
        .filter_map(|name| name.strip_prefix(PREFIX))
        .filter_map(|rest| rest.rsplit_once('-').map(|(run, _)| run))
        .filter(|run| !supervisor_alive(run))
        .collect();
    runs.sort_unstable();
    runs.dedup();
    runs.len()
}
