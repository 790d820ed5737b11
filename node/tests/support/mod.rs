//! Test support: real `clearledger-node` processes on ephemeral loopback
//! ports with data in temp dirs, stopped by pid when the test ends.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

mod poll;
pub use poll::poll;

/// The admin key every test cluster is bootstrapped with.
pub const ADMIN_KEY: &str = "test-admin-key-0001";

/// Polls `check` until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_for<T>(what: &str, timeout: Duration, check: impl FnMut() -> Option<T>) -> T {
    poll(timeout, check).unwrap_or_else(|| panic!("timed out after {timeout:?} waiting for {what}"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind :0")
        .local_addr()
        .expect("addr")
        .port()
}

/// Extra TOML appended to every node's configuration, and the PEM of the
/// authority to trust when the nodes serve HTTPS.
#[derive(Clone, Default)]
pub struct Settings {
    pub extra_toml: String,
    pub https_ca_pem: Option<Vec<u8>>,
}

pub struct Node {
    pub id: u64,
    pub port: u16,
    pub scheme: &'static str,
    pub dir: PathBuf,
    config: PathBuf,
    child: Option<Child>,
}

impl Node {
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}://127.0.0.1:{}{path}", self.scheme, self.port)
    }

    pub fn start(&mut self) {
        assert!(self.child.is_none(), "node {} is running", self.id);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("node.log"))
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_clearledger-node"))
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

pub struct Cluster {
    pub nodes: Vec<Node>,
    pub http: reqwest::blocking::Client,
    _root: tempfile::TempDir,
}

impl Cluster {
    /// Starts `size` nodes; node 1 bootstraps the cluster with all of them.
    pub fn start(size: u64, settings: Settings) -> Cluster {
        let root = tempfile::tempdir().expect("tempdir");
        let ports: Vec<u16> = (0..size).map(|_| free_port()).collect();
        let mut nodes = Vec::new();
        for id in 1..=size {
            let dir = root.path().join(format!("node{id}"));
            std::fs::create_dir_all(&dir).expect("dir");
            let peers: String = (1..=size)
                .filter(|peer| *peer != id)
                .map(|peer| {
                    format!(
                        "[[peers]]\nid = {peer}\naddr = \"127.0.0.1:{}\"\n",
                        ports[peer as usize - 1]
                    )
                })
                .collect();
            let config = format!(
                "node_id = {id}\nlisten = \"127.0.0.1:{}\"\ndata_dir = {:?}\nadmin_key = {ADMIN_KEY:?}\nbootstrap = {}\n{}\n{peers}",
                ports[id as usize - 1],
                dir.display().to_string(),
                id == 1,
                settings.extra_toml,
            );
            let config_path = dir.join("node.toml");
            std::fs::write(&config_path, config).expect("config");
            let scheme = if settings.https_ca_pem.is_some() {
                "https"
            } else {
                "http"
            };
            let mut node = Node {
                id,
                port: ports[id as usize - 1],
                scheme,
                dir,
                config: config_path,
                child: None,
            };
            node.start();
            nodes.push(node);
        }
        clearledger_node::install_crypto_provider();
        let mut builder = reqwest::blocking::Client::builder().timeout(Duration::from_secs(20));
        if let Some(pem) = &settings.https_ca_pem {
            let ca = reqwest::Certificate::from_pem(pem).expect("CA certificate");
            builder = builder.add_root_certificate(ca).use_rustls_tls();
        }
        let http = builder.build().expect("client");
        let cluster = Cluster {
            nodes,
            http,
            _root: root,
        };
        cluster.wait_for_admin();
        cluster
    }

    pub fn node(&self, id: u64) -> &Node {
        &self.nodes[id as usize - 1]
    }

    pub fn node_mut(&mut self, id: u64) -> &mut Node {
        &mut self.nodes[id as usize - 1]
    }

    /// Waits until every running node has a leader and the admin key works.
    pub fn wait_for_admin(&self) {
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
                    response.status().is_success().then_some(())
                },
            );
        }
    }

    /// The leader as some running node reports it.
    pub fn leader(&self) -> u64 {
        wait_for("a leader", Duration::from_secs(60), || {
            self.nodes
                .iter()
                .filter(|n| n.is_running())
                .find_map(|node| {
                    let status = self.get(node.id, "/v1/cluster", ADMIN_KEY).ok()?;
                    let leader = status["leader"].as_u64()?;
                    self.node(leader).is_running().then_some(leader)
                })
        })
    }

    pub fn follower(&self) -> u64 {
        let leader = self.leader();
        self.nodes
            .iter()
            .find(|n| n.id != leader && n.is_running())
            .expect("a follower")
            .id
    }

    /// GET returning (status, body) or a transport error.
    pub fn get_raw(&self, id: u64, path: &str, key: &str) -> Result<(u16, Value), reqwest::Error> {
        let response = self
            .http
            .get(self.node(id).url(path))
            .bearer_auth(key)
            .send()?;
        let status = response.status().as_u16();
        Ok((status, response.json().unwrap_or(Value::Null)))
    }

    pub fn get(&self, id: u64, path: &str, key: &str) -> Result<Value, String> {
        match self.get_raw(id, path, key) {
            Ok((200, body)) => Ok(body),
            Ok((status, body)) => Err(format!("{status}: {body}")),
            Err(error) => Err(error.to_string()),
        }
    }

    /// POST returning (status, body) or a transport error.
    pub fn post(
        &self,
        id: u64,
        path: &str,
        key: &str,
        body: &Value,
    ) -> Result<(u16, Value), reqwest::Error> {
        let response = self
            .http
            .post(self.node(id).url(path))
            .bearer_auth(key)
            .json(body)
            .send()?;
        let status = response.status().as_u16();
        Ok((status, response.json().unwrap_or(Value::Null)))
    }

    /// POST that must succeed.
    pub fn must_post(&self, id: u64, path: &str, key: &str, body: Value) -> Value {
        let (status, reply) = self.post(id, path, key, &body).expect("transport");
        assert_eq!(status, 200, "POST {path} {body} answered {reply}");
        reply
    }

    /// Digest of every running node once all have applied the same index.
    pub fn converged_digests(&self) -> Vec<(u64, String)> {
        wait_for("replicas to converge", Duration::from_secs(60), || {
            let digests: Vec<(u64, u64, String)> = self
                .nodes
                .iter()
                .filter(|n| n.is_running())
                .map(|node| {
                    let d = self.get(node.id, "/v1/cluster/digest", ADMIN_KEY).ok()?;
                    Some((
                        node.id,
                        d["index"].as_u64()?,
                        d["digest"].as_str()?.to_string(),
                    ))
                })
                .collect::<Option<_>>()?;
            let same = digests
                .windows(2)
                .all(|w| w[0].1 == w[1].1 && w[0].2 == w[1].2);
            same.then(|| {
                digests
                    .into_iter()
                    .map(|(id, _, digest)| (id, digest))
                    .collect()
            })
        })
    }

    /// A small world: branches HQ, SH01, BJ01 with clearing accounts, a funded
    /// customer per branch, an operator and a teller per branch.
    pub fn seed(&self) {
        let at = self.leader();
        self.must_post(
            at,
            "/v1/branches",
            ADMIN_KEY,
            serde_json::json!({"code": "HQ", "name": "HQ"}),
        );
        for code in ["SH01", "BJ01"] {
            self.must_post(
                at,
                "/v1/branches",
                ADMIN_KEY,
                serde_json::json!({"code": code, "name": code, "parent": "HQ"}),
            );
        }
        for (name, role, authority, key) in [
            ("op1", "operator", 3, "test-operator-key-1"),
            ("op2", "operator", 3, "test-operator-key-2"),
            ("aud", "auditor", 0, "test-auditor-key-01"),
            ("sh01", "branch:SH01", 0, "test-branch-sh01-key"),
            ("bj01", "branch:BJ01", 0, "test-branch-bj01-key"),
        ] {
            self.must_post(
                at,
                "/v1/principals",
                ADMIN_KEY,
                serde_json::json!({"name": name, "role": role, "authority": authority, "key": key}),
            );
        }
        for branch in ["SH01", "BJ01"] {
            for (suffix, class, purpose, flags) in [
                ("CLR", "liability", "clearing", serde_json::json!({})),
                ("CASH", "asset", "internal", serde_json::json!({})),
                (
                    "A",
                    "liability",
                    "customer",
                    serde_json::json!({"debits_must_not_exceed_credits": true}),
                ),
                (
                    "B",
                    "liability",
                    "customer",
                    serde_json::json!({"debits_must_not_exceed_credits": true}),
                ),
            ] {
                self.must_post(
                    at,
                    "/v1/accounts",
                    OPERATOR,
                    serde_json::json!({
                    "id": format!("{branch}-{suffix}"), "branch": branch, "currency": "CNY",
                    "class": class, "purpose": purpose, "flags": flags}),
                );
            }
            self.must_post(at, "/v1/transfers", OPERATOR, serde_json::json!({
                "id": format!("fund-{branch}"), "debit_account": format!("{branch}-CASH"),
                "credit_account": format!("{branch}-A"), "amount": "1000000.00", "currency": "CNY"}));
        }
    }
}

pub const OPERATOR: &str = "test-operator-key-1";
pub const OPERATOR_2: &str = "test-operator-key-2";
pub const AUDITOR: &str = "test-auditor-key-01";
pub const SH01: &str = "test-branch-sh01-key";
pub const BJ01: &str = "test-branch-bj01-key";

/// A transfer body.
pub fn transfer(id: &str, debit: &str, credit: &str, amount: &str) -> Value {
    serde_json::json!({"id": id, "debit_account": debit, "credit_account": credit, "amount": amount, "currency": "CNY"})
}
