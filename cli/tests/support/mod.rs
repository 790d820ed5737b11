//! Test support: real `clearledger-node` processes on ephemeral loopback
//! ports with data in temp dirs (stopped by pid when the test ends), and the
//! `clearledger` binary run with a clean environment.
//!
//! The node binary is found beside this test's own build (`target/<profile>/
//! clearledger-node`, which `cargo test --workspace` builds before running
//! any test), or at `CLEARLEDGER_NODE_BIN`; if it is missing it is built once
//! with `cargo build -p clearledger-node` into the same target dir.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

#[path = "../../../node/tests/support/poll.rs"]
mod poll;
pub use poll::poll;

/// The admin key every test cluster is bootstrapped with.
pub const ADMIN_KEY: &str = "test-admin-key-0001";

/// Polls `check` until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, check: impl FnMut() -> Option<T>) -> T {
    poll(timeout, check).unwrap_or_else(|| panic!("timed out after {timeout:?} waiting for {what}"))
}

/// A loopback port nothing listens on (right now).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind :0")
        .local_addr()
        .expect("addr")
        .port()
}

/// The `clearledger-node` binary, built if this target dir lacks it.
pub fn node_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        if let Some(path) = std::env::var_os("CLEARLEDGER_NODE_BIN") {
            return PathBuf::from(path);
        }
        let exe = std::env::current_exe().expect("test executable path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>/deps/<test>");
        let binary = profile_dir.join("clearledger-node");
        if !binary.exists() {
            let target_dir = profile_dir.parent().expect("target dir");
            let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("workspace root");
            let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
            build
                .current_dir(workspace)
                .env("CARGO_TARGET_DIR", target_dir)
                .args(["build", "-p", "clearledger-node"]);
            if profile_dir
                .file_name()
                .is_some_and(|name| name == "release")
            {
                build.arg("--release");
            }
            let status = build.status().expect("run cargo build -p clearledger-node");
            assert!(status.success(), "cargo build -p clearledger-node failed");
        }
        binary
    })
}

/// One node process.
pub struct Node {
    pub id: u64,
    pub port: u16,
    dir: PathBuf,
    config: PathBuf,
    child: Option<Child>,
}

impl Node {
    fn new(root: &Path, id: u64, port: u16, toml: &str) -> Node {
        let dir = root.join(format!("node{id}"));
        std::fs::create_dir_all(&dir).expect("node dir");
        let config = dir.join("node.toml");
        let data = format!("data_dir = {:?}\n", dir.display().to_string());
        std::fs::write(&config, format!("{data}{toml}")).expect("node config");
        let mut node = Node {
            id,
            port,
            dir,
            config,
            child: None,
        };
        node.start();
        node
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:port{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("node.log"))
            .expect("log");
        let child = Command::new(node_binary())
            .args(["run", "--config"])
            .arg(&self.config)
            .env_remove("CLEARLEDGER_ADMIN_KEY")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start clearledger-node");
        self.child = Some(child);
    }

    /// kill -9.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill");
            child.wait().expect("reap");
        }
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A cluster of real nodes.
pub struct Cluster {
    pub nodes: Vec<Node>,
    pub http: reqwest::blocking::Client,
    root: tempfile::TempDir,
}

impl Cluster {
    /// Starts `size` nodes; node 1 bootstraps the cluster with all of them.
    pub fn start(size: u64) -> Cluster {
        let root = tempfile::tempdir().expect("tempdir");
        let ports: Vec<u16> = (0..size).map(|_| free_port()).collect();
        let mut nodes = Vec::new();
        for id in 1..=size {
            let peers: String = (1..=size)
                .filter(|peer| *peer != id)
                .map(|peer| {
                    format!(
                        "[[peers]]\nid = {peer}\naddr = \"127.0.0.1:{}\"\n",
                        ports[peer as usize - 1]
                    )
                })
                .collect();
            let toml = format!(
                "node_id = {id}\nlisten = \"127.0.0.1:{}\"\nadmin_key = {ADMIN_KEY:?}\nbootstrap = {}\n{peers}",
                ports[id as usize - 1],
                id == 1,
            );
            nodes.push(Node::new(root.path(), id, ports[id as usize - 1], &toml));
        }
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client");
        let cluster = Cluster { nodes, http, root };
        cluster.wait_until_serving();
        cluster
    }

    /// Starts `size` nodes that have never joined a cluster (no peers, no
    /// bootstrap) but know the admin key: the target of a restore.
    pub fn start_empty(size: u64) -> Cluster {
        let root = tempfile::tempdir().expect("tempdir");
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client");
        let nodes: Vec<Node> = (1..=size)
            .map(|id| {
                let port = free_port();
                let toml = format!(
                    "node_id = {id}\nlisten = \"127.0.0.1:{port}\"\nadmin_key = {ADMIN_KEY:?}\nbootstrap = false\n"
                );
                Node::new(root.path(), id, port, &toml)
            })
            .collect();
        for node in &nodes {
            wait_for(
                &format!("empty node {} to listen", node.id),
                Duration::from_secs(60),
                || {
                    http.get(node.url("/healthz"))
                        .send()
                        .ok()
                        .filter(|r| r.status().is_success())
                },
            );
        }
        Cluster { nodes, http, root }
    }

    /// Starts a node that is not (yet) a member: for `cluster add-learner`.
    pub fn start_spare(&mut self, id: u64) -> String {
        let port = free_port();
        let toml = format!("node_id = {id}\nlisten = \"127.0.0.1:{port}\"\nbootstrap = false\n");
        let node = Node::new(self.root.path(), id, port, &toml);
        let addr = node.addr();
        wait_for(
            &format!("spare node {id} to listen"),
            Duration::from_secs(60),
            || {
                self.http
                    .get(node.url("/healthz"))
                    .send()
                    .ok()
                    .filter(|r| r.status().is_success())
            },
        );
        self.nodes.push(node);
        addr
    }

    pub fn node(&self, id: u64) -> &Node {
        self.nodes
            .iter()
            .find(|node| node.id == id)
            .expect("a node with that id")
    }

    pub fn node_mut(&mut self, id: u64) -> &mut Node {
        self.nodes
            .iter_mut()
            .find(|node| node.id == id)
            .expect("a node with that id")
    }

    /// Waits until every running member has a leader and the admin key works.
    pub fn wait_until_serving(&self) {
        for node in self.nodes.iter().filter(|n| n.is_running()) {
            wait_for(
                &format!("node {} to serve the admin", node.id),
                Duration::from_secs(60),
                || {
                    let response = self
                        .http
                        .get(node.url("/v1/cluster"))
                        .bearer_auth(ADMIN_KEY)
                        .send()
                        .ok()?;
                    let status: Value = response
                        .status()
                        .is_success()
                        .then(|| response.json().ok())??;
                    status["leader"].as_u64().map(|_| ())
                },
            );
        }
    }

    /// The leader, as a running node reports it.
    pub fn leader(&self) -> u64 {
        wait_for("a leader", Duration::from_secs(60), || {
            self.nodes
                .iter()
                .filter(|n| n.is_running())
                .find_map(|node| {
                    let response = self
                        .http
                        .get(node.url("/v1/cluster"))
                        .bearer_auth(ADMIN_KEY)
                        .send()
                        .ok()?;
                    let status: Value = response.json().ok()?;
                    status["leader"].as_u64()
                })
        })
    }

    /// `--server` for every running node, in id order.
    pub fn servers(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|n| n.is_running())
            .map(Node::addr)
            .collect()
    }

    /// GET with a key: (status, body).
    pub fn get(&self, path: &str, key: &str) -> (u16, Value) {
        let node = self
            .nodes
            .iter()
            .find(|n| n.is_running())
            .expect("a running node");
        let response = self
            .http
            .get(node.url(path))
            .bearer_auth(key)
            .send()
            .expect("GET");
        let status = response.status().as_u16();
        (status, response.json().unwrap_or(Value::Null))
    }

    /// Runs `clearledger --server <each running node> --key <key> <args>`.
    pub fn cli(&self, key: &str, args: &[&str]) -> Run {
        let mut full: Vec<String> = Vec::new();
        for server in self.servers() {
            full.push("--server".into());
            full.push(server);
        }
        full.extend(["--key".to_string(), key.to_string()]);
        full.extend(args.iter().map(ToString::to_string));
        clearledger(&full)
    }
}

/// What a `clearledger` run did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts exit code 0 and returns the run.
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "expected success:\n{self}");
        self
    }

    /// Asserts `code` and returns the run.
    pub fn code(self, code: i32) -> Run {
        assert_eq!(self.code, code, "expected exit code {code}:\n{self}");
        self
    }

    /// Stdout as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("stdout is not JSON ({error}):\n{self}"))
    }

    /// Asserts stdout contains `text`.
    pub fn stdout_has(self, text: &str) -> Run {
        assert!(self.stdout.contains(text), "stdout lacks {text:?}:\n{self}");
        self
    }

    /// Asserts stderr contains `text`.
    pub fn stderr_has(self, text: &str) -> Run {
        assert!(self.stderr.contains(text), "stderr lacks {text:?}:\n{self}");
        self
    }

    /// Asserts nothing printed looks like a Rust debug dump or panic.
    pub fn no_debug_dump(self) -> Run {
        for text in [&self.stdout, &self.stderr] {
            for marker in [
                "panicked",
                "RUST_BACKTRACE",
                "Error {",
                "Os {",
                "kind: ",
                "reqwest::Error",
            ] {
                assert!(
                    !text.contains(marker),
                    "output has a debug dump ({marker:?}):\n{self}"
                );
            }
        }
        self
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit code {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// The `clearledger` binary with an environment that holds no key, server,
/// profile or home configuration of the machine running the tests.
pub fn clearledger_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_clearledger"));
    let home = std::env::temp_dir().join("clearledger-cli-tests-home");
    for name in [
        "CLEARLEDGER_KEY",
        "CLEARLEDGER_SERVER",
        "CLEARLEDGER_PROFILE",
        "CLEARLEDGER_CONFIG",
        "CLEARLEDGER_OUTPUT",
    ] {
        command.env_remove(name);
    }
    command
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .stdin(Stdio::null());
    command
}

/// Runs `clearledger args` to the end (at most three minutes).
pub fn clearledger<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    let mut command = clearledger_command();
    command.args(args);
    let output = assert_cmd::Command::from_std(command)
        .timeout(Duration::from_secs(180))
        .output()
        .expect("run clearledger");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
