//! The node processes: one `clearledger-node` per slot, each started inside
//! its slot's network namespace (`ip netns exec` replaces itself with the
//! node, so the child's pid is the node's), killed with SIGKILL, paused with
//! SIGSTOP, and — for membership changes — wiped and given a new node id.
//! Node ids are never reused: a wiped node comes back as a new member.
//!
//! For the `lose-unsynced` nemesis each node's data directory is a
//! [`lossyfs`] mount, made by the harness (in its own mount namespace, which
//! every `ip netns exec` it runs copies, so the node sees it) before the
//! node first starts there, and unmounted when the node is stopped for good
//! or wiped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use anyhow::Context;

use crate::cmd;
use crate::lossyfs::{self, Lost};
use crate::netns::{self, NODE_PORT};

/// The bootstrap admin key every run's cluster is created with.
pub const ADMIN_KEY: &str = "jepsen-admin-key-0001";

/// How the nodes are started.
#[derive(Debug, Clone)]
pub struct NodeSettings {
    /// The `clearledger-node` binary.
    pub node_bin: PathBuf,
    /// `CLEARLEDGER_FAULT` for nodes built with `fault-injection`.
    pub fault: Option<String>,
    /// Where node directories go.
    pub root: PathBuf,
    /// The run id (names the namespaces).
    pub run_id: String,
    /// libfaketime, preloaded into every node when the clock nemesis runs.
    pub faketime: Option<PathBuf>,
    /// Data directories on [`lossyfs`] mounts (the `lose-unsynced` nemesis).
    pub lossy: bool,
    /// `raft.logs_to_keep` of every node.
    pub logs_to_keep: u64,
}

/// Where Debian-like systems keep libfaketime (package `libfaketime`).
const FAKETIME_PATHS: [&str; 3] = [
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
];

/// libfaketime, if installed.
pub fn faketime_library() -> Option<PathBuf> {
    FAKETIME_PATHS
        .iter()
        .map(PathBuf::from)
        .find(|path| path.exists())
}

/// One slot: a namespace, an address, and the node currently living there.
#[derive(Debug)]
pub struct Slot {
    /// 1-based.
    pub slot: usize,
    /// The node id of the node living here now.
    pub node_id: u64,
    child: Option<Child>,
    /// Whether it is SIGSTOPped.
    pub paused: bool,
}

/// Every slot, and the next node id to hand out.
#[derive(Debug)]
pub struct Cluster {
    settings: NodeSettings,
    /// The slots, slot `n` at index `n - 1`.
    pub slots: Vec<Slot>,
    next_node_id: u64,
    /// Each slot's lossy data directory, while mounted.
    mounts: Vec<Option<lossyfs::Mount>>,
}

/// `host:port` of `slot`'s node.
pub fn addr(slot: usize) -> String {
    format!("{}:{NODE_PORT}", netns::node_ip(slot))
}

impl Cluster {
    /// `size` slots; slot `n` starts with node id `n`, and slot 1 bootstraps
    /// the cluster with all of them. Nothing is started yet.
    pub fn new(settings: NodeSettings, size: usize) -> anyhow::Result<Cluster> {
        let slots = (1..=size)
            .map(|slot| Slot {
                slot,
                node_id: slot as u64,
                child: None,
                paused: false,
            })
            .collect();
        let cluster = Cluster {
            settings,
            slots,
            next_node_id: size as u64 + 1,
            mounts: (0..size).map(|_| None).collect(),
        };
        for slot in 1..=size {
            let peers: Vec<(u64, String)> = if slot == 1 {
                (2..=size).map(|peer| (peer as u64, addr(peer))).collect()
            } else {
                Vec::new()
            };
            cluster.write_config(slot, slot == 1, &peers)?;
        }
        Ok(cluster)
    }

    /// The run id (names the namespaces).
    pub fn run_id(&self) -> &str {
        &self.settings.run_id
    }

    fn slot(&self, slot: usize) -> &Slot {
        &self.slots[slot - 1]
    }

    fn slot_mut(&mut self, slot: usize) -> &mut Slot {
        &mut self.slots[slot - 1]
    }

    /// The directory of the node living in `slot` now.
    pub fn node_dir(&self, slot: usize) -> PathBuf {
        self.settings
            .root
            .join(format!("s{slot}-id{}", self.slot(slot).node_id))
    }

    /// The slot whose node has `node_id`, if any.
    pub fn slot_of(&self, node_id: u64) -> Option<usize> {
        self.slots
            .iter()
            .find(|s| s.node_id == node_id)
            .map(|s| s.slot)
    }

    /// Whether `slot`'s process is running (possibly paused).
    pub fn is_running(&self, slot: usize) -> bool {
        self.slot(slot).child.is_some()
    }

    fn write_config(
        &self,
        slot: usize,
        bootstrap: bool,
        peers: &[(u64, String)],
    ) -> anyhow::Result<()> {
        let dir = self.node_dir(slot);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let peers: String = peers
            .iter()
            .map(|(id, addr)| format!("\n[[peers]]\nid = {id}\naddr = {addr:?}\n"))
            .collect();
        // Short write deadlines make unknown outcomes show up within a
        // fault window; frequent snapshots (and by default few entries kept
        // behind them) make lagging and new members catch up by snapshot,
        // not only by log.
        let config = format!(
            "node_id = {id}\nlisten = {addr:?}\nadvertise = {addr:?}\ndata_dir = {data:?}\nadmin_key = {ADMIN_KEY:?}\n\
             bootstrap = {bootstrap}\n\n[raft]\nheartbeat_interval_ms = 100\nelection_timeout_min_ms = 500\n\
             election_timeout_max_ms = 1000\nsnapshot_logs_since_last = 300\nsnapshot_log_percent = 0\nlogs_to_keep = {keep}\n\n\
             [write]\ndeadline_ms = 3000\n\n[log]\nlevel = \"info,openraft=warn\"\n{peers}",
            id = self.slot(slot).node_id,
            addr = addr(slot),
            keep = self.settings.logs_to_keep,
            data = dir.join("data").display().to_string(),
        );
        std::fs::write(dir.join("node.toml"), config).context("cannot write a node configuration")
    }

    /// The data directory of the node living in `slot` now.
    fn data_dir(&self, slot: usize) -> PathBuf {
        self.node_dir(slot).join("data")
    }

    /// Mounts `slot`'s lossy data directory if it is not mounted yet, or
    /// lets it serve again after a crash.
    fn prepare_data(&mut self, slot: usize) -> anyhow::Result<()> {
        if !self.settings.lossy {
            return Ok(());
        }
        let data = self.data_dir(slot);
        match &self.mounts[slot - 1] {
            Some(mount) if mount.path() == data => mount.resume(),
            _ => {
                self.mounts[slot - 1] = None;
                std::fs::create_dir_all(&data)
                    .with_context(|| format!("cannot create {}", data.display()))?;
                // The bytes go to unnamed files beside it, on the disk.
                let backing = self.node_dir(slot);
                self.mounts[slot - 1] = Some(lossyfs::Mount::new(&data, &backing)?);
            }
        }
        Ok(())
    }

    /// Checks that `slot`'s running node sees its lossy data directory
    /// (from inside its namespace); does nothing without lossy data.
    pub fn check_data_mount(&self, slot: usize) -> anyhow::Result<()> {
        if !self.settings.lossy {
            return Ok(());
        }
        let pid = self
            .slot(slot)
            .child
            .as_ref()
            .map(Child::id)
            .with_context(|| format!("slot {slot} is not running"))?;
        let data = self.data_dir(slot);
        let seen = lossyfs::mounted_for(pid)?.contains(&data);
        anyhow::ensure!(
            seen,
            "slot {slot}'s node does not see its lossy data directory {}",
            data.display()
        );
        Ok(())
    }

    /// The crash of `slot`'s data directory: every write not yet fsynced
    /// is forgotten. Its node must be down.
    pub fn lose_unsynced(&mut self, slot: usize) -> anyhow::Result<Lost> {
        anyhow::ensure!(
            !self.is_running(slot),
            "slot {slot}'s node must be down to lose its unsynced writes"
        );
        let mount = self.mounts[slot - 1]
            .as_ref()
            .with_context(|| format!("slot {slot} has no lossy data directory"))?;
        mount.lose_unsynced()
    }

    /// Starts `slot`'s node (it must not be running).
    pub fn start(&mut self, slot: usize) -> anyhow::Result<()> {
        anyhow::ensure!(!self.is_running(slot), "slot {slot} is running already");
        self.prepare_data(slot)?;
        let dir = self.node_dir(slot);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("node.log"))
            .context("cannot open the node's log")?;
        let mut command = Command::new("ip");
        command
            .args([
                "netns",
                "exec",
                &netns::node_name(&self.settings.run_id, slot),
            ])
            .arg(&self.settings.node_bin)
            .args(["run", "--config"])
            .arg(dir.join("node.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("cannot share the node's log")?)
            .stderr(log);
        for name in [
            "CLEARLEDGER_ADMIN_KEY",
            "CLEARLEDGER_CLUSTER_SECRET",
            "CLEARLEDGER_DATA_DIR",
            "CLEARLEDGER_LISTEN",
        ] {
            command.env_remove(name);
        }
        command.env("CLEARLEDGER_LOG", "info,openraft=warn");
        match &self.settings.fault {
            Some(fault) => command.env("CLEARLEDGER_FAULT", fault),
            None => command.env_remove("CLEARLEDGER_FAULT"),
        };
        if let Some(library) = &self.settings.faketime {
            // Only the wall clock is skewed (Raft's timers use the monotonic
            // one); the offset file is re-read at most once a second.
            let offset = dir.join("faketime");
            if !offset.exists() {
                std::fs::write(&offset, "+0").context("cannot write the clock offset")?;
            }
            command
                .env("LD_PRELOAD", library)
                .env("FAKETIME_TIMESTAMP_FILE", offset)
                .env("FAKETIME_CACHE_DURATION", "1")
                .env("DONT_FAKE_MONOTONIC", "1");
        }
        // Its own process group: a Ctrl-C at the terminal reaches the
        // harness, which stops the nodes itself.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().context("cannot start clearledger-node")?;
        let entry = self.slot_mut(slot);
        entry.child = Some(child);
        entry.paused = false;
        Ok(())
    }

    /// kill -9 `slot`'s node and reaps it.
    pub fn kill(&mut self, slot: usize) {
        self.kill_together(&[slot]);
    }

    /// kill -9 the nodes of `slots`, all before reaping any (a power loss).
    pub fn kill_together(&mut self, slots: &[usize]) {
        let mut children = Vec::new();
        for slot in slots {
            if let Some(mut child) = self.slot_mut(*slot).child.take() {
                let _ = child.kill();
                children.push(child);
            }
            self.slot_mut(*slot).paused = false;
        }
        for mut child in children {
            let _ = child.wait();
        }
    }

    /// Whether the process died on its own (and reaps it if so).
    pub fn exited(&mut self, slot: usize) -> Option<std::process::ExitStatus> {
        let entry = self.slot_mut(slot);
        let status = entry
            .child
            .as_mut()
            .and_then(|child| child.try_wait().ok().flatten());
        if status.is_some() {
            entry.child = None;
            entry.paused = false;
        }
        status
    }

    /// SIGSTOP (`pause = true`) or SIGCONT `slot`'s node.
    pub async fn set_paused(&mut self, slot: usize, pause: bool) -> anyhow::Result<()> {
        let Some(pid) = self.slot(slot).child.as_ref().map(Child::id) else {
            return Ok(());
        };
        cmd::signal(pid, if pause { "STOP" } else { "CONT" }).await?;
        self.slot_mut(slot).paused = pause;
        Ok(())
    }

    /// Whether the nodes run under libfaketime (their clocks can be skewed).
    pub fn skews_clocks(&self) -> bool {
        self.settings.faketime.is_some()
    }

    /// Sets `slot`'s wall clock `offset_s` seconds off (0: true time again).
    pub fn set_clock(&self, slot: usize, offset_s: i64) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.settings.faketime.is_some(),
            "the nodes run without libfaketime"
        );
        std::fs::write(
            self.node_dir(slot).join("faketime"),
            format!("{offset_s:+}"),
        )
        .context("cannot write the clock offset")
    }

    /// Kills `slot`'s node, deletes its data, and gives the slot a new node
    /// id with a fresh configuration (not bootstrapping). Returns the new id.
    pub fn wipe_and_renumber(&mut self, slot: usize) -> anyhow::Result<u64> {
        self.kill(slot);
        self.mounts[slot - 1] = None;
        let data = self.data_dir(slot);
        if data.exists() {
            std::fs::remove_dir_all(&data)
                .with_context(|| format!("cannot wipe {}", data.display()))?;
        }
        let id = self.next_node_id;
        self.next_node_id += 1;
        self.slot_mut(slot).node_id = id;
        self.write_config(slot, false, &[])?;
        Ok(id)
    }

    /// Stops every node (SIGCONT first if paused, then SIGKILL), by pid,
    /// and unmounts the lossy data directories (their contents go).
    pub fn stop_all(&mut self) {
        for slot in 1..=self.slots.len() {
            if let Some(pid) = self.slot(slot).child.as_ref().map(Child::id) {
                let _ = cmd::run("kill", &["-CONT", &pid.to_string()]);
            }
            self.kill(slot);
        }
        for mount in &mut self.mounts {
            *mount = None;
        }
    }

    /// Deletes every node's data directory, keeping configurations and logs.
    pub fn remove_data(&self) {
        let Ok(entries) = std::fs::read_dir(&self.settings.root) else {
            return;
        };
        for entry in entries.flatten() {
            let _ = std::fs::remove_dir_all(entry.path().join("data"));
        }
    }

    /// `slot`'s node log.
    pub fn log(&self, slot: usize) -> String {
        std::fs::read_to_string(self.node_dir(slot).join("node.log")).unwrap_or_default()
    }

    /// The last lines of `slot`'s node log, for error messages.
    pub fn log_tail(&self, slot: usize) -> String {
        let text = self.log(slot);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(5)..].join("\n")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop_all();
    }
}
