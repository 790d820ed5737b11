//! `clearledger-node dev`: a local three-node cluster as three child
//! processes, bootstrapped on first start, loaded with demo data, stopped
//! together on Ctrl-C or SIGTERM.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tokio::signal::unix::{SignalKind, signal};

/// Flags of `clearledger-node dev`.
#[derive(clap::Args, Debug)]
pub struct DevArgs {
    /// Where the three nodes keep their data and logs.
    #[arg(long, default_value = "./data/dev")]
    pub data_dir: PathBuf,
    /// The bootstrap admin key.
    #[arg(long, env = "CLEARLEDGER_ADMIN_KEY", default_value = "dev-admin-key")]
    pub admin_key: String,
    /// The first node's port; the others take the next two.
    #[arg(long, default_value_t = 8081)]
    pub base_port: u16,
    /// Do not load demo data.
    #[arg(long)]
    pub no_demo: bool,
}

/// The demo principals and their dev keys: (name, role, authority, key).
pub const DEV_PRINCIPALS: [(&str, &str, u8, &str); 6] = [
    ("operator-1", "operator", 3, "dev-operator-key-1"),
    ("operator-2", "operator", 1, "dev-operator-key-2"),
    ("auditor-1", "auditor", 0, "dev-auditor-key-1"),
    ("teller-sh01", "branch:SH01", 0, "dev-branch-sh01-key"),
    ("teller-bj01", "branch:BJ01", 0, "dev-branch-bj01-key"),
    ("teller-gz01", "branch:GZ01", 0, "dev-branch-gz01-key"),
];

fn node_config(args: &DevArgs, id: u64, dir: &Path) -> String {
    let port = |n: u64| u64::from(args.base_port) + n - 1;
    let peers: String = (1..=3)
        .filter(|peer| *peer != id)
        .map(|peer| {
            format!(
                "[[peers]]\nid = {peer}\naddr = \"127.0.0.1:{}\"\n",
                port(peer)
            )
        })
        .collect();
    format!(
        "node_id = {id}\nlisten = \"127.0.0.1:{}\"\ndata_dir = {:?}\nadmin_key = {:?}\nbootstrap = {}\n{peers}",
        port(id),
        dir.display().to_string(),
        args.admin_key,
        id == 1,
    )
}

/// Runs the dev cluster until Ctrl-C or SIGTERM, or until a node exits.
pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    // Listened for before any node starts: Ctrl-C or SIGTERM stops all three
    // however far the start has come (while waiting for the cluster or
    // loading the demo too), instead of ending this process and leaving the
    // nodes running without it.
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let exe = std::env::current_exe().context("cannot find this program's path")?;
    let mut children: Vec<Child> = Vec::new();
    let mut addresses = Vec::new();
    for id in 1..=3u64 {
        let dir = args.data_dir.join(format!("node{id}"));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let dir = dir.canonicalize()?;
        let config_path = dir.join("node.toml");
        std::fs::write(&config_path, node_config(&args, id, &dir))?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("node.log"))?;
        let child = Command::new(&exe)
            .args(["run", "--config"])
            .arg(&config_path)
            .env_remove("CLEARLEDGER_ADMIN_KEY")
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start node {id}"))?;
        children.push(child);
        addresses.push(format!(
            "127.0.0.1:{}",
            u16::try_from(u64::from(args.base_port) + id - 1)?
        ));
    }
    let result = tokio::select! {
        result = serve(&args, &addresses, &mut children) => result,
        _ = interrupt.recv() => Ok(()),
        _ = terminate.recv() => Ok(()),
    };
    println!("stopping...");
    stop(&mut children).await;
    result
}

async fn serve(args: &DevArgs, addresses: &[String], children: &mut [Child]) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    wait_until_ready(&client, addresses, &args.admin_key, children).await?;
    if !args.no_demo {
        load_demo(&client, &addresses[0], &args.admin_key)
            .await
            .context("loading demo data")?;
    }
    println!(
        "ClearLedger dev cluster is up (data in {}).",
        args.data_dir.display()
    );
    for (n, address) in addresses.iter().enumerate() {
        println!(
            "  node {}: http://{address}   log: {}/node{}/node.log",
            n + 1,
            args.data_dir.display(),
            n + 1
        );
    }
    println!("Keys:");
    println!("  admin        {}", args.admin_key);
    if !args.no_demo {
        for (name, role, _, key) in DEV_PRINCIPALS {
            println!("  {name:<12} {key}   ({role})");
        }
    }
    println!(
        "Try: curl -s -H 'Authorization: Bearer {}' http://{}/v1/cluster",
        args.admin_key, addresses[0]
    );
    println!("Press Ctrl-C to stop all three nodes.");
    let exited = wait_any(children).await;
    bail!("a node exited unexpectedly ({exited}); see its node.log")
}

async fn wait_any(children: &mut [Child]) -> String {
    loop {
        for (n, child) in children.iter_mut().enumerate() {
            if let Ok(Some(status)) = child.try_wait() {
                return format!("node {}: {status}", n + 1);
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn wait_until_ready(
    client: &reqwest::Client,
    addresses: &[String],
    admin_key: &str,
    children: &mut [Child],
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut ready = true;
        for address in addresses {
            let ok = client
                .get(format!("http://{address}/v1/cluster"))
                .bearer_auth(admin_key)
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|response| response.status().is_success());
            let leader_known = client
                .get(format!("http://{address}/readyz"))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|response| response.status().is_success());
            ready &= ok && leader_known;
        }
        if ready {
            return Ok(());
        }
        for (n, child) in children.iter_mut().enumerate() {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "node {} exited during start-up ({status}); see its node.log",
                    n + 1
                );
            }
        }
        if Instant::now() > deadline {
            bail!("the cluster did not become ready within 60 s; see the node.log files");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn stop(children: &mut [Child]) {
    for child in children.iter() {
        if let Some(pid) = child.id() {
            let _ = std::process::Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
        }
    }
    for child in children.iter_mut() {
        if tokio::time::timeout(Duration::from_secs(10), child.wait())
            .await
            .is_err()
        {
            let _ = child.kill().await;
        }
    }
}

/// Sends one call of the demo script; existing objects answer the same, so
/// loading twice changes nothing.
async fn call(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    path: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let response = client
        .post(format!("http://{base}{path}"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("POST {path}"))?;
    let status = response.status();
    let value: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("POST {path} answered {status}: {value}");
    }
    Ok(value)
}

async fn load_demo(client: &reqwest::Client, base: &str, admin: &str) -> anyhow::Result<()> {
    let operator = DEV_PRINCIPALS[0].3;
    call(
        client,
        base,
        admin,
        "/v1/branches",
        json!({"code": "HQ", "name": "Clearing Center"}),
    )
    .await?;
    for (code, name) in [
        ("SH01", "Shanghai Branch"),
        ("BJ01", "Beijing Branch"),
        ("GZ01", "Guangzhou Branch"),
    ] {
        call(
            client,
            base,
            admin,
            "/v1/branches",
            json!({"code": code, "name": name, "parent": "HQ"}),
        )
        .await?;
    }
    for (name, role, authority, key) in DEV_PRINCIPALS {
        call(
            client,
            base,
            admin,
            "/v1/principals",
            json!({"name": name, "role": role, "authority": authority, "key": key}),
        )
        .await?;
    }
    for branch in ["HQ", "SH01", "BJ01", "GZ01"] {
        let accounts = [
            (
                format!("{branch}-CLR-CNY"),
                "liability",
                "clearing",
                json!({}),
            ),
            (
                format!("{branch}-RSV-CNY"),
                "asset",
                "settlement_reserve",
                json!({}),
            ),
            (format!("{branch}-CASH-CNY"), "asset", "internal", json!({})),
        ];
        for (id, class, purpose, flags) in accounts {
            call(client, base, operator, "/v1/accounts", json!({"id": id, "branch": branch, "currency": "CNY", "class": class, "purpose": purpose, "flags": flags})).await?;
        }
    }
    let no_overdraft = json!({"debits_must_not_exceed_credits": true});
    for (id, branch, name) in [
        ("SH01-C001", "SH01", "Shanghai Trading Co."),
        ("SH01-C002", "SH01", "Li Wei"),
        ("BJ01-C001", "BJ01", "Beijing Instruments Ltd."),
        ("BJ01-C002", "BJ01", "Wang Fang"),
        ("GZ01-C001", "GZ01", "Pearl River Foods"),
    ] {
        call(client, base, operator, "/v1/accounts", json!({"id": id, "branch": branch, "currency": "CNY", "class": "liability", "purpose": "customer", "flags": no_overdraft, "name": name})).await?;
    }
    // Opening deposits: cash in, customer credited (operator-posted cash entries).
    let deposits: Vec<Value> = [
        ("demo-dep-1", "SH01-CASH-CNY", "SH01-C001", "2500000.00"),
        ("demo-dep-2", "SH01-CASH-CNY", "SH01-C002", "80000.00"),
        ("demo-dep-3", "BJ01-CASH-CNY", "BJ01-C001", "1200000.00"),
        ("demo-dep-4", "BJ01-CASH-CNY", "BJ01-C002", "45000.00"),
        ("demo-dep-5", "GZ01-CASH-CNY", "GZ01-C001", "900000.00"),
    ]
    .into_iter()
    .map(|(id, debit, credit, amount)| json!({"id": id, "debit_account": debit, "credit_account": credit, "amount": amount, "currency": "CNY", "memo": "opening deposit"}))
    .collect();
    call(
        client,
        base,
        operator,
        "/v1/transfers",
        json!({"transfers": deposits, "atomic": true}),
    )
    .await?;
    // Large-value policy for SH01 (after the opening deposits, which are larger).
    call(client, base, admin, "/v1/policies", json!({"branch": "SH01", "currency": "CNY", "threshold": "500000.00", "tiers": [{"at_least": "0.00", "authority": 1}, {"at_least": "1000000.00", "authority": 3}]})).await?;
    let sh01 = DEV_PRINCIPALS[3].3;
    let bj01 = DEV_PRINCIPALS[4].3;
    for (key, id, debit, credit, amount, memo) in [
        (
            sh01,
            "demo-t-1",
            "SH01-C001",
            "SH01-C002",
            "1200.50",
            "invoice 2026-118",
        ),
        (
            sh01,
            "demo-t-2",
            "SH01-C001",
            "BJ01-C001",
            "35000.00",
            "inter-branch: equipment",
        ),
        (
            bj01,
            "demo-t-3",
            "BJ01-C001",
            "GZ01-C001",
            "12800.00",
            "inter-branch: supplies",
        ),
        (
            bj01,
            "demo-t-4",
            "BJ01-C002",
            "SH01-C002",
            "560.00",
            "inter-branch: rent share",
        ),
        (
            sh01,
            "demo-t-5",
            "SH01-C001",
            "GZ01-C001",
            "600000.00",
            "large: waits for approval",
        ),
    ] {
        call(client, base, key, "/v1/transfers", json!({"id": id, "debit_account": debit, "credit_account": credit, "amount": amount, "currency": "CNY", "memo": memo})).await?;
    }
    Ok(())
}
