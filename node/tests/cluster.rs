//! Three real `clearledger-node` processes on loopback: replication,
//! forwarding, linearizable reads, leader failure, snapshot catch-up,
//! idempotent retries across leader changes, bad input, clearing windows
//! and caps, customer statements, reconciliation, and the auditors' views.

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use support::*;

fn balance(cluster: &Cluster, node: u64, account: &str) -> String {
    let body = cluster
        .get(node, &format!("/v1/accounts/{account}"), OPERATOR)
        .expect("account");
    body["balance"]["posted"]
        .as_str()
        .expect("posted")
        .to_string()
}

/// A write sent to a follower is forwarded to the leader, acknowledged only
/// once applied, and a linearizable read on another node sees it (design.md:
/// "any node accepts any request"; reads are read-index through the leader).
#[test]
fn write_through_follower_is_readable_linearizably_elsewhere() {
    let cluster = Cluster::start(3, Settings::default());
    cluster.seed();
    let leader = cluster.leader();
    let followers: Vec<u64> = (1..=3).filter(|id| *id != leader).collect();
    let reply = cluster.must_post(
        followers[0],
        "/v1/transfers",
        SH01,
        transfer("t-follower", "SH01-A", "SH01-B", "12.34"),
    );
    assert_eq!(reply["results"][0]["status"], "posted", "{reply}");
    assert!(reply["index"].as_u64().unwrap() > 0);
    assert_eq!(balance(&cluster, followers[1], "SH01-B"), "12.34");
    assert_eq!(balance(&cluster, leader, "SH01-A"), "999987.66");
    let digests = cluster.converged_digests();
    assert_eq!(digests.len(), 3);
}

/// Killing the leader elects a new one, and no acknowledged write is lost;
/// the restarted node rejoins and converges to the same digest.
#[test]
fn killing_the_leader_loses_no_acknowledged_write() {
    let mut cluster = Cluster::start(3, Settings::default());
    cluster.seed();
    let mut acknowledged = Vec::new();
    for n in 0..20 {
        let id = format!("t-before-{n}");
        let reply = cluster.must_post(
            cluster.follower(),
            "/v1/transfers",
            SH01,
            transfer(&id, "SH01-A", "SH01-B", "1.00"),
        );
        assert_eq!(reply["results"][0]["status"], "posted");
        acknowledged.push(id);
    }
    let old_leader = cluster.leader();
    cluster.node_mut(old_leader).kill();
    let new_leader = wait_for("a new leader", Duration::from_secs(60), || {
        let leader = cluster.leader();
        (leader != old_leader).then_some(leader)
    });
    for n in 0..10 {
        let id = format!("t-after-{n}");
        let reply = cluster.must_post(
            new_leader,
            "/v1/transfers",
            SH01,
            transfer(&id, "SH01-A", "SH01-B", "1.00"),
        );
        assert_eq!(reply["results"][0]["status"], "posted");
        acknowledged.push(id);
    }
    for id in &acknowledged {
        let entry = cluster
            .get(new_leader, &format!("/v1/entries/{id}"), OPERATOR)
            .expect("entry survives");
        assert_eq!(entry["status"], "posted", "{id}");
    }
    assert_eq!(balance(&cluster, new_leader, "SH01-B"), "30.00");
    cluster.node_mut(old_leader).start();
    cluster.wait_for_admin();
    assert_eq!(cluster.converged_digests().len(), 3);
    assert_eq!(balance(&cluster, old_leader, "SH01-B"), "30.00");
}

/// A follower that was down while the log was compacted past its position
/// catches up by installing a snapshot, and ends with the same state.
#[test]
fn node_restarted_after_purge_catches_up_by_snapshot() {
    let settings = Settings {
        extra_toml:
            "[raft]\nsnapshot_logs_since_last = 20\nsnapshot_log_percent = 0\nlogs_to_keep = 0\n"
                .into(),
        https_ca_pem: None,
    };
    let mut cluster = Cluster::start(3, settings);
    cluster.seed();
    let lagging = cluster.follower();
    cluster.node_mut(lagging).kill();
    let writer = cluster.leader();
    for n in 0..80 {
        cluster.must_post(
            writer,
            "/v1/transfers",
            SH01,
            transfer(&format!("t-purge-{n}"), "SH01-A", "SH01-B", "0.01"),
        );
    }
    wait_for(
        "the leader to purge its log",
        Duration::from_secs(60),
        || {
            let status = cluster.get(writer, "/v1/cluster", ADMIN_KEY).ok()?;
            (status["purged"].as_u64()? > 20).then_some(())
        },
    );
    cluster.node_mut(lagging).start();
    cluster.wait_for_admin();
    let digests = cluster.converged_digests();
    assert_eq!(digests.len(), 3);
    let status = cluster
        .get(lagging, "/v1/cluster", ADMIN_KEY)
        .expect("status");
    assert!(
        status["snapshot"].as_u64().is_some(),
        "the restarted node installed a snapshot: {status}"
    );
    let stale = cluster
        .get(lagging, "/v1/accounts/SH01-B?consistency=stale", OPERATOR)
        .expect("stale read");
    assert_eq!(stale["balance"]["posted"], "0.80");
}

/// Retrying an id across a leader change posts it once: the retry answers the
/// original outcome and index (design.md, "Ids and idempotency").
#[test]
fn idempotent_retry_across_leader_change_posts_once() {
    let mut cluster = Cluster::start(3, Settings::default());
    cluster.seed();
    let first = cluster.must_post(
        cluster.leader(),
        "/v1/transfers",
        SH01,
        transfer("t-retry", "SH01-A", "BJ01-A", "100.00"),
    );
    let index = first["results"][0]["index"].as_u64().unwrap();
    let old_leader = cluster.leader();
    cluster.node_mut(old_leader).kill();
    let survivor = cluster.leader();
    let retry = cluster.must_post(
        survivor,
        "/v1/transfers",
        SH01,
        transfer("t-retry", "SH01-A", "BJ01-A", "100.00"),
    );
    assert_eq!(retry["results"][0]["status"], "posted");
    assert_eq!(
        retry["results"][0]["index"].as_u64().unwrap(),
        index,
        "the original index"
    );
    assert_eq!(balance(&cluster, survivor, "BJ01-A"), "1000100.00");
    let (status, different) = cluster
        .post(
            survivor,
            "/v1/transfers",
            SH01,
            &transfer("t-retry", "SH01-A", "BJ01-A", "101.00"),
        )
        .unwrap();
    assert_eq!(status, 409);
    assert_eq!(different["code"], "exists_with_different_amount");
    assert_eq!(balance(&cluster, survivor, "BJ01-A"), "1000100.00");
}

/// Declares a 20 MiB body and sends only the headers: the node must refuse
/// it from the declared length, before reading any of it.
fn oversized_upload(cluster: &Cluster) -> (u16, Value) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(cluster.node(1).addr()).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    write!(
        stream,
        "POST /v1/transfers HTTP/1.1\r\nHost: node\r\nAuthorization: Bearer {SH01}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        20 << 20
    )
    .expect("send headers");
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("status line");
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn expect_problem(reply: (u16, Value), status: u16, code: &str) {
    let (got_status, body) = reply;
    assert_eq!(
        (got_status, body["code"].as_str()),
        (status, Some(code)),
        "{body}"
    );
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    assert_eq!(body["status"], status);
}

/// Every kind of bad input gets a 4xx problem with a stable code and changes
/// nothing (the digest is unchanged afterwards).
#[test]
fn bad_input_gets_a_specific_problem_and_changes_nothing() {
    let cluster = Cluster::start(1, Settings::default());
    cluster.seed();
    // A refusal because of the ledger's state is remembered (the id keeps its
    // answer), so it is made before the digest is taken.
    expect_problem(
        cluster
            .post(
                1,
                "/v1/transfers",
                SH01,
                &transfer("x8", "SH01-A", "SH01-B", "99999999.00"),
            )
            .unwrap(),
        409,
        "insufficient_funds",
    );
    let chain_seq = || {
        cluster.get(1, "/v1/cluster/digest", ADMIN_KEY).unwrap()["chain_seq"]
            .as_u64()
            .unwrap()
    };
    let before = chain_seq();
    let raw = |path: &str, body: &str, key: &str| -> (u16, Value) {
        let response = cluster
            .http
            .post(cluster.node(1).url(path))
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .unwrap();
        (
            response.status().as_u16(),
            response.json().unwrap_or(Value::Null),
        )
    };
    let post = |body: Value| cluster.post(1, "/v1/transfers", SH01, &body).unwrap();
    expect_problem(
        raw("/v1/transfers", "{not json", SH01),
        400,
        "malformed_json",
    );
    expect_problem(
        post(
            json!({"id": "x1", "debit_account": "SH01-A", "credit_account": "SH01-B", "amount": "1.00", "currency": "CNY", "colour": "red"}),
        ),
        400,
        "invalid_body",
    );
    expect_problem(
        post(transfer("x2", "SH01-A", "SH01-B", "-5.00")),
        422,
        "amount_not_positive",
    );
    expect_problem(
        post(transfer("x3", "SH01-A", "SH01-B", "0")),
        422,
        "amount_not_positive",
    );
    expect_problem(
        post(transfer("x4", "SH01-A", "SH01-B", "ten")),
        422,
        "invalid_amount",
    );
    expect_problem(
        post(transfer("x5", "SH01-A", "SH01-B", "1.001")),
        422,
        "amount_precision",
    );
    expect_problem(
        post(transfer("x6", "SH01-A", "SH01-NOPE", "1.00")),
        404,
        "account_not_found",
    );
    expect_problem(
        post(
            json!({"id": "x7", "debit_account": "SH01-A", "credit_account": "SH01-B", "amount": "1.00", "currency": "XXY"}),
        ),
        422,
        "unknown_currency",
    );
    expect_problem(
        post(transfer("bad id!", "SH01-A", "SH01-B", "1.00")),
        422,
        "invalid_id",
    );
    let big: Vec<Value> = (0..8001)
        .map(|n| transfer(&format!("b{n}"), "SH01-A", "SH01-B", "1.00"))
        .collect();
    expect_problem(post(json!({"transfers": big})), 422, "batch_too_large");
    expect_problem(oversized_upload(&cluster), 413, "body_too_large");
    expect_problem(
        raw("/v1/transfers", "{}", "wrong-key-000000000"),
        401,
        "unauthorized",
    );
    expect_problem(
        post(transfer("x10", "BJ01-A", "SH01-B", "1.00")),
        403,
        "forbidden",
    );
    expect_problem(
        cluster
            .post(
                1,
                "/v1/transfers",
                AUDITOR,
                &transfer("x11", "SH01-A", "SH01-B", "1.00"),
            )
            .unwrap(),
        403,
        "forbidden",
    );
    expect_problem(
        cluster
            .get_raw(1, "/v1/accounts/SH01-A/balance?index=999999", OPERATOR)
            .unwrap(),
        422,
        "point_in_time_unavailable",
    );
    expect_problem(
        cluster.get_raw(1, "/v1/nowhere", OPERATOR).unwrap(),
        404,
        "no_such_route",
    );
    // A batch reports each item on its own and never fails as a whole.
    let reply = cluster.must_post(
        1,
        "/v1/transfers",
        SH01,
        json!({"transfers": [
            transfer("x12", "SH01-A", "SH01-B", "1.005"),
            transfer("x13", "SH01-A", "SH01-NOPE", "1.00"),
        ]}),
    );
    assert_eq!(reply["results"][0]["code"], "amount_precision");
    assert_eq!(reply["results"][1]["code"], "account_not_found");
    assert_eq!(before, chain_seq(), "bad input added to the audit chain");
    for id in [
        "x1", "x2", "x5", "x6", "x7", "x9", "x10", "x11", "x12", "x13",
    ] {
        let (status, _) = cluster
            .get_raw(1, &format!("/v1/entries/{id}"), OPERATOR)
            .unwrap();
        assert_eq!(status, 404, "bad input left entry {id} behind");
    }
    for account in ["SH01-A", "SH01-B"] {
        assert_eq!(
            cluster
                .get(1, &format!("/v1/accounts/{account}"), OPERATOR)
                .unwrap()["balance"]["posted"],
            if account == "SH01-A" {
                "1000000.00"
            } else {
                "0.00"
            }
        );
    }
}

/// A pending transfer waits in the approval queue, reserves its amount, and
/// posts only when a principal other than its maker approves it
/// (design.md: maker-checker, 岗位分离).
#[test]
fn pending_transfer_needs_a_second_person_to_approve() {
    let cluster = Cluster::start(1, Settings::default());
    cluster.seed();
    let mut body = transfer("t-pending", "BJ01-A", "SH01-B", "5000.00");
    body["pending"] = json!(true);
    let reply = cluster.must_post(1, "/v1/transfers", BJ01, body);
    assert_eq!(reply["results"][0]["status"], "pending");
    let account = cluster.get(1, "/v1/accounts/BJ01-A", OPERATOR).unwrap();
    assert_eq!(account["balance"]["posted"], "1000000.00");
    assert_eq!(account["balance"]["available"], "995000.00");
    let queue = cluster.get(1, "/v1/approvals", OPERATOR).unwrap();
    assert_eq!(queue["pending"][0]["id"], "t-pending");
    let (status, own) = cluster
        .post(1, "/v1/entries/t-pending/approve", BJ01, &json!({}))
        .unwrap();
    assert_eq!(
        (status, own["code"].as_str()),
        (403, Some("forbidden")),
        "{own}"
    );
    let approved = cluster.must_post(
        1,
        "/v1/entries/t-pending/approve",
        OPERATOR_2,
        json!({"reason": "checked"}),
    );
    assert_eq!(approved["status"], "posted");
    assert_eq!(approved["decision"]["by"], "op2");
    assert_eq!(
        cluster.get(1, "/v1/accounts/SH01-B", OPERATOR).unwrap()["balance"]["posted"],
        "5000.00"
    );
    let window = approved["window"]
        .as_u64()
        .expect("an inter-branch entry lands in a window");
    let positions = cluster
        .get(1, &format!("/v1/windows/{window}/positions"), OPERATOR)
        .unwrap();
    assert_eq!(positions["bilateral"][0]["payer"], "BJ01");
    assert_eq!(positions["bilateral"][0]["amount"], "5000.00");
}

/// A pending entry expires on an idle ledger: the leader proposes a tick once
/// its timeout has passed, the reservation is released and the entry voided.
#[test]
fn pending_entry_expires_without_other_traffic() {
    let cluster = Cluster::start(1, Settings::default());
    cluster.seed();
    let mut body = transfer("t-expiring", "SH01-A", "SH01-B", "7.00");
    body["pending"] = json!(true);
    body["timeout_seconds"] = json!(1);
    cluster.must_post(1, "/v1/transfers", SH01, body);
    let entry = wait_for(
        "the pending entry to expire",
        Duration::from_secs(30),
        || {
            let entry = cluster.get(1, "/v1/entries/t-expiring", OPERATOR).ok()?;
            (entry["status"] == "voided").then_some(entry)
        },
    );
    assert_eq!(entry["code"], "expired");
    let account = cluster.get(1, "/v1/accounts/SH01-A", OPERATOR).unwrap();
    assert_eq!(account["balance"]["available"], "1000000.00");
}

/// Makes a throw-away authority and a certificate for 127.0.0.1 with openssl.
fn make_certificates(dir: &std::path::Path) -> Vec<u8> {
    let run = |args: &[&str]| {
        let status = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl runs");
        assert!(status.success(), "openssl {args:?}");
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=ClearLedger test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "node.key",
        "-out",
        "node.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "node.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "node.pem",
        "-days",
        "1",
        "-extfile",
        "ext.cnf",
    ]);
    std::fs::read(dir.join("ca.pem")).unwrap()
}

/// With `[tls]` set, clients and peers speak HTTPS (rustls): the cluster
/// elects a leader, replicates and forwards over TLS, and plain HTTP is refused.
#[test]
fn tls_switch_serves_clients_and_peers_over_https() {
    let certificates = tempfile::tempdir().unwrap();
    let ca = make_certificates(certificates.path());
    let path = |name: &str| certificates.path().join(name).display().to_string();
    let settings = Settings {
        extra_toml: format!(
            "[tls]\ncert_file = {:?}\nkey_file = {:?}\nca_file = {:?}\n",
            path("node.pem"),
            path("node.key"),
            path("ca.pem")
        ),
        https_ca_pem: Some(ca),
    };
    let cluster = Cluster::start(3, settings);
    cluster.seed();
    let reply = cluster.must_post(
        cluster.follower(),
        "/v1/transfers",
        SH01,
        transfer("t-tls", "SH01-A", "SH01-B", "3.00"),
    );
    assert_eq!(reply["results"][0]["status"], "posted");
    assert_eq!(cluster.converged_digests().len(), 3);
    let plain = reqwest::blocking::get(format!("http://{}/healthz", cluster.node(1).addr()));
    assert!(
        plain.is_err() || !plain.unwrap().status().is_success(),
        "plain HTTP must not be served"
    );
}

/// The documented example configuration parses and validates: the docs and
/// the code name the same settings.
#[test]
fn example_configuration_is_valid() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/config/node.example.toml");
    let config = clearledger_node::config::Config::from_file(&path).expect("example parses");
    config.validate().expect("example validates");
    assert_eq!(config.write.deadline_ms, 10_000);
}

// --- Clearing (issue 6): windows closed while branches post, settlement, caps ---

/// Settlement reserve accounts for every branch and the center's clearing
/// account, on top of `Cluster::seed`.
fn seed_clearing(cluster: &Cluster) {
    let at = cluster.leader();
    cluster.must_post(
        at,
        "/v1/accounts",
        OPERATOR,
        json!({"id": "HQ-CLR", "branch": "HQ", "currency": "CNY", "class": "liability", "purpose": "clearing"}),
    );
    for branch in ["HQ", "SH01", "BJ01"] {
        cluster.must_post(
            at,
            "/v1/accounts",
            OPERATOR,
            json!({"id": format!("{branch}-RSV"), "branch": branch, "currency": "CNY", "class": "asset", "purpose": "settlement_reserve"}),
        );
    }
}

/// Posts transfers from `payer`'s customer A to the other branch's customer B
/// until `stop`, round-robin over the nodes; returns the acknowledged ids
/// with their amounts in minor units.
fn post_until(
    cluster: &Cluster,
    key: &str,
    payer: &str,
    payee: &str,
    stop: &AtomicBool,
) -> Vec<(String, i64)> {
    let mut acknowledged = Vec::new();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) || acknowledged.len() < 20 {
        n += 1;
        let id = format!("{payer}-to-{payee}-{n}");
        let minor = 100 + i64::try_from(n % 7).unwrap() * 10;
        let amount = format!("{}.{:02}", minor / 100, minor % 100);
        let body = transfer(&id, &format!("{payer}-A"), &format!("{payee}-B"), &amount);
        let node = 1 + n % 3;
        let (status, reply) = cluster
            .post(node, "/v1/transfers", key, &body)
            .expect("transport");
        assert_eq!(status, 200, "{reply}");
        assert_eq!(reply["results"][0]["status"], "posted", "{reply}");
        acknowledged.push((id, minor));
    }
    acknowledged
}

fn minor(text: &str) -> i64 {
    let (units, cents) = text.split_once('.').expect("two decimals");
    let sign = if units.starts_with('-') { -1 } else { 1 };
    sign * (units.trim_start_matches('-').parse::<i64>().unwrap() * 100
        + cents.parse::<i64>().unwrap())
}

/// Closing a window is one replicated command and the next window opens at
/// the close, so while two branches post through all three nodes and an
/// operator closes windows through a follower, every acknowledged entry
/// lands in exactly one window: each window counts exactly the entries that
/// name it, and its bilateral amounts add up to exactly theirs. Settling the
/// closed windows leaves the clearing accounts holding only the open
/// window's nets, and the replicas converge (issue 6).
#[test]
fn closing_while_branches_post_puts_every_entry_in_exactly_one_window() {
    let cluster = Cluster::start(3, Settings::default());
    cluster.seed();
    seed_clearing(&cluster);
    let opened = cluster.must_post(cluster.leader(), "/v1/windows", OPERATOR, json!({}));
    let first = opened["id"].as_u64().expect("window id");
    let stop = AtomicBool::new(false);
    let (closed, sh, bj) = std::thread::scope(|scope| {
        let sh = scope.spawn(|| post_until(&cluster, SH01, "SH01", "BJ01", &stop));
        let bj = scope.spawn(|| post_until(&cluster, BJ01, "BJ01", "SH01", &stop));
        let mut closed = Vec::new();
        for window in first..first + 4 {
            // Let some entries land, then close through a follower.
            wait_for(
                "entries in the open window",
                Duration::from_secs(60),
                || {
                    let view = cluster
                        .get(1, &format!("/v1/windows/{window}"), OPERATOR)
                        .ok()?;
                    (view["entries"].as_u64()? >= 5).then_some(())
                },
            );
            let reply = cluster.must_post(
                cluster.follower(),
                &format!("/v1/windows/{window}/close"),
                OPERATOR,
                json!({}),
            );
            assert_eq!(reply["status"], "closed", "{reply}");
            closed.push(window);
        }
        stop.store(true, Ordering::Relaxed);
        (
            closed,
            sh.join().expect("SH01 poster"),
            bj.join().expect("BJ01 poster"),
        )
    });
    let mut landed: BTreeMap<u64, (u64, i64)> = BTreeMap::new();
    for (id, amount) in sh.iter().chain(&bj) {
        let entry = cluster
            .get(cluster.leader(), &format!("/v1/entries/{id}"), OPERATOR)
            .expect("entry");
        let window = entry["window"]
            .as_u64()
            .unwrap_or_else(|| panic!("{id} is in no window: {entry}"));
        let tally = landed.entry(window).or_default();
        tally.0 += 1;
        tally.1 += amount;
    }
    let open = first + 4;
    assert!(
        landed.keys().all(|window| (first..=open).contains(window)),
        "{landed:?}"
    );
    for window in first..=open {
        let view = cluster
            .get(cluster.leader(), &format!("/v1/windows/{window}"), OPERATOR)
            .expect("window");
        let (count, amount) = landed.get(&window).copied().unwrap_or_default();
        assert_eq!(
            view["entries"].as_u64(),
            Some(count),
            "window {window} counts exactly its entries"
        );
        let bilateral: i64 = view["positions"]["bilateral"]
            .as_array()
            .unwrap()
            .iter()
            .map(|pair| minor(pair["amount"].as_str().unwrap()))
            .sum();
        assert_eq!(
            bilateral, amount,
            "window {window} holds exactly its entries' amounts"
        );
        let nets: i64 = view["positions"]["multilateral"]
            .as_array()
            .unwrap()
            .iter()
            .map(|position| minor(position["net"].as_str().unwrap()))
            .sum();
        assert_eq!(nets, 0, "window {window} nets sum to zero");
    }
    for window in &closed {
        let settled = cluster.must_post(
            cluster.follower(),
            &format!("/v1/windows/{window}/settle"),
            OPERATOR,
            json!({}),
        );
        assert_eq!(settled["window"]["status"], "settled", "{settled}");
        // Settling again answers the same and posts nothing.
        let again = cluster.must_post(
            cluster.leader(),
            &format!("/v1/windows/{window}/settle"),
            OPERATOR,
            json!({}),
        );
        assert_eq!(again["entries"], settled["entries"]);
    }
    let open_view = cluster
        .get(cluster.leader(), &format!("/v1/windows/{open}"), OPERATOR)
        .expect("open window");
    for position in open_view["positions"]["multilateral"].as_array().unwrap() {
        let branch = position["branch"].as_str().unwrap();
        let account = cluster
            .get(
                cluster.leader(),
                &format!("/v1/accounts/{branch}-CLR"),
                OPERATOR,
            )
            .expect("clearing");
        // The clearing accounts are liabilities: what the branch is owed shows negative.
        assert_eq!(
            -minor(account["balance"]["posted"].as_str().unwrap()),
            minor(position["net"].as_str().unwrap()),
            "{branch}'s clearing account holds only the open window"
        );
    }
    assert_eq!(cluster.converged_digests().len(), 3);
}

/// Issue #6 (external participants): another bank reached through an
/// outside clearing system is a branch of kind `external`. Created over
/// HTTP (bad kinds refused by name, changing nothing), it takes part in the
/// window like a branch — a payment out to its vostro is booked through both
/// clearing accounts and the nets still sum to zero — and settling the window
/// moves its net through the clearing center's central bank reserve account,
/// leaving every clearing account cleared.
#[test]
fn an_external_participant_settles_through_the_central_bank_reserve() {
    let cluster = Cluster::start(3, Settings::default());
    cluster.seed();
    seed_clearing(&cluster);
    let at = cluster.follower();
    for (body, status, code) in [
        (
            json!({"code": "BANKY", "name": "Bank Y", "kind": "external"}),
            422,
            "invalid_branch_kind",
        ),
        (
            json!({"code": "BANKY", "name": "Bank Y", "kind": "foreign", "scheme": "CNAPS-HVPS"}),
            422,
            "invalid_branch_kind",
        ),
        (
            json!({"code": "BANKY", "name": "Bank Y", "scheme": "CNAPS-HVPS"}),
            422,
            "invalid_branch_kind",
        ),
        (
            json!({"code": "BANKY", "name": "Bank Y", "parent": "HQ", "kind": "external", "scheme": "CNAPS-HVPS"}),
            422,
            "external_participant_invalid",
        ),
    ] {
        let reply = cluster.post(at, "/v1/branches", ADMIN_KEY, &body).unwrap();
        expect_problem(reply, status, code);
    }
    let bank = cluster.must_post(
        at,
        "/v1/branches",
        ADMIN_KEY,
        json!({"code": "BANKX", "name": "Bank X", "kind": "external", "scheme": "CNAPS-HVPS"}),
    );
    assert_eq!(
        (bank["kind"].as_str(), bank["scheme"].as_str()),
        (Some("external"), Some("CNAPS-HVPS")),
        "{bank}"
    );
    let branches = cluster.get(at, "/v1/branches", ADMIN_KEY).unwrap();
    let codes: Vec<&str> = branches["branches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|branch| branch["code"].as_str().unwrap())
        .collect();
    assert!(
        !codes.contains(&"BANKY"),
        "refused bodies created nothing: {codes:?}"
    );
    for (id, branch, class, purpose) in [
        ("HQ-CBR", "HQ", "asset", "central_bank_reserve"),
        ("BANKX-CLR", "BANKX", "liability", "clearing"),
        ("BANKX-VOS", "BANKX", "liability", "vostro"),
    ] {
        cluster.must_post(
            at,
            "/v1/accounts",
            OPERATOR,
            json!({"id": id, "branch": branch, "currency": "CNY", "class": class, "purpose": purpose}),
        );
    }
    let opened = cluster.must_post(at, "/v1/windows", OPERATOR, json!({}));
    let window = opened["id"].as_u64().expect("window id");
    let paid = cluster.must_post(
        at,
        "/v1/transfers",
        SH01,
        transfer("out-1", "SH01-A", "BANKX-VOS", "300.00"),
    );
    assert_eq!(paid["results"][0]["status"], "posted", "{paid}");
    let positions = cluster
        .get(at, &format!("/v1/windows/{window}/positions"), OPERATOR)
        .unwrap();
    let nets: BTreeMap<String, i64> = positions["multilateral"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["branch"].as_str().unwrap().to_string(),
                minor(p["net"].as_str().unwrap()),
            )
        })
        .collect();
    assert_eq!(nets.get("BANKX").copied(), Some(30_000), "{positions}");
    assert_eq!(nets.values().sum::<i64>(), 0, "{positions}");
    cluster.must_post(
        at,
        &format!("/v1/windows/{window}/close"),
        OPERATOR,
        json!({}),
    );
    let settled = cluster.must_post(
        at,
        &format!("/v1/windows/{window}/settle"),
        OPERATOR,
        json!({}),
    );
    assert_eq!(settled["window"]["status"], "settled", "{settled}");
    let ids: Vec<&str> = settled["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&format!("stl:{window}:BANKX:CNY").as_str()),
        "{ids:?}"
    );
    let posted = |account: &str| balance(&cluster, cluster.leader(), account);
    // Bank X was owed 300.00: the center's reserve at the central bank pays it.
    assert_eq!(posted("HQ-CBR"), "-300.00");
    assert_eq!(posted("BANKX-VOS"), "0.00");
    for clearing in ["HQ-CLR", "SH01-CLR", "BANKX-CLR"] {
        assert_eq!(
            posted(clearing),
            "0.00",
            "{clearing} is cleared by settlement"
        );
    }
    assert_eq!(cluster.converged_digests().len(), 3);
}

/// A net debit cap set over HTTP refuses the entry that would pass it with
/// `net_debit_cap_exceeded` (409) and changes no balance; the caps view shows
/// the exposure and the warning.
#[test]
fn cap_refuses_the_entry_that_would_pass_it() {
    let cluster = Cluster::start(1, Settings::default());
    cluster.seed();
    let cap = cluster.must_post(
        1,
        "/v1/caps",
        ADMIN_KEY,
        json!({"branch": "SH01", "currency": "CNY", "cap": "100.00", "warning_percent": 50}),
    );
    assert_eq!(
        (cap["cap"].as_str(), cap["headroom"].as_str()),
        (Some("100.00"), Some("100.00")),
        "{cap}"
    );
    let (status, refused) = cluster
        .post(
            1,
            "/v1/caps",
            OPERATOR,
            &json!({"branch": "SH01", "currency": "CNY", "cap": "1.00"}),
        )
        .unwrap();
    assert_eq!((status, refused["code"].as_str()), (403, Some("forbidden")));
    let (status, refused) = cluster
        .post(
            1,
            "/v1/caps",
            ADMIN_KEY,
            &json!({"branch": "SH01", "currency": "CNY", "cap": "-1.00"}),
        )
        .unwrap();
    assert_eq!(
        (status, refused["code"].as_str()),
        (422, Some("cap_invalid"))
    );
    let reply = cluster.must_post(
        1,
        "/v1/transfers",
        SH01,
        transfer("c1", "SH01-A", "BJ01-B", "60.00"),
    );
    assert_eq!(reply["results"][0]["status"], "posted");
    let (status, refused) = cluster
        .post(
            1,
            "/v1/transfers",
            SH01,
            &transfer("c2", "SH01-A", "BJ01-B", "50.00"),
        )
        .unwrap();
    assert_eq!(
        (status, refused["code"].as_str()),
        (409, Some("net_debit_cap_exceeded")),
        "{refused}"
    );
    let account = cluster.get(1, "/v1/accounts/SH01-A", OPERATOR).unwrap();
    assert_eq!(account["balance"]["posted"], "999940.00");
    let caps = cluster.get(1, "/v1/caps", AUDITOR).unwrap();
    let sh: &Value = &caps["caps"][0];
    assert_eq!(
        (
            sh["exposure"]["net_debit"].as_str(),
            sh["warning"].as_bool()
        ),
        (Some("60.00"), Some(true)),
        "{caps}"
    );
    let window = cluster.get(1, "/v1/windows/1", OPERATOR).unwrap();
    assert_eq!(window["cap_warnings"][0]["branch"], "SH01", "{window}");
}

/// Issue #6 (the liquidity-saving queue): a transfer sent with
/// `queue_if_over_cap` that would take its payer past the net debit cap is
/// `queued` — listed by `GET /v1/queue` on every node, reserving nothing and
/// counting against no cap — and the offsetting payment that makes room
/// releases it in the same command (posted, into the open window). Bad input
/// for the new field gets its code and changes nothing.
#[test]
fn a_queued_transfer_waits_for_room_under_the_cap_and_is_released_by_the_payment_that_makes_it() {
    let cluster = Cluster::start(3, Settings::default());
    cluster.seed();
    let follower = cluster.follower();
    cluster.must_post(
        follower,
        "/v1/caps",
        ADMIN_KEY,
        json!({"branch": "SH01", "currency": "CNY", "cap": "100.00"}),
    );
    let first = cluster.must_post(
        follower,
        "/v1/transfers",
        SH01,
        transfer("q-0", "SH01-A", "BJ01-B", "60.00"),
    );
    assert_eq!(first["results"][0]["status"], "posted", "{first}");
    let mut over = transfer("q-1", "SH01-A", "BJ01-B", "50.00");
    over["queue_if_over_cap"] = json!(true);
    let queued = cluster.must_post(follower, "/v1/transfers", SH01, over.clone());
    assert_eq!(queued["results"][0]["status"], "queued", "{queued}");
    let queued_index = queued["index"].as_u64().expect("index");

    // Every node lists it; it reserves nothing and counts against no cap.
    for node in 1..=3 {
        let queue = cluster.get(node, "/v1/queue", OPERATOR).unwrap();
        let listed: Vec<(&str, &str, &str, &str)> = queue["queued"]
            .as_array()
            .expect("queued")
            .iter()
            .map(|entry| {
                (
                    entry["id"].as_str().unwrap_or_default(),
                    entry["status"].as_str().unwrap_or_default(),
                    entry["amount"].as_str().unwrap_or_default(),
                    entry["queue"]["branch"].as_str().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(listed, [("q-1", "queued", "50.00", "SH01")], "{queue}");
        assert_eq!(queue["queued"][0]["queue"]["left_index"], Value::Null);
        assert!(queue["queued"][0]["waiting_seconds"].is_u64(), "{queue}");
        assert_eq!(queue["window"], json!(1), "{queue}");
    }
    assert_eq!(balance(&cluster, follower, "SH01-A"), "999940.00");
    let net_debit = |cluster: &Cluster| {
        let caps = cluster.get(1, "/v1/caps", AUDITOR).unwrap();
        caps["caps"][0]["exposure"]["net_debit"]
            .as_str()
            .map(str::to_string)
    };
    assert_eq!(net_debit(&cluster).as_deref(), Some("60.00"));

    // A retry answers `queued` again; the same id without the flag, the
    // flag in an atomic batch or the flag as a string are refused by name.
    let retried = cluster.must_post(cluster.leader(), "/v1/transfers", SH01, over);
    assert_eq!(
        (&retried["results"][0]["status"], &retried["index"]),
        (&json!("queued"), &json!(queued_index)),
        "{retried}"
    );
    let unflagged = cluster
        .post(
            follower,
            "/v1/transfers",
            SH01,
            &transfer("q-1", "SH01-A", "BJ01-B", "50.00"),
        )
        .unwrap();
    assert_eq!(
        problem_code(&unflagged),
        (409, "exists_with_different_queue_if_over_cap"),
        "{unflagged:?}"
    );
    let mut flagged = transfer("q-2", "SH01-A", "BJ01-B", "1.00");
    flagged["queue_if_over_cap"] = json!(true);
    let batch = json!({"transfers": [transfer("q-3", "BJ01-A", "SH01-B", "1.00"), flagged], "atomic": true});
    let refused = cluster.must_post(follower, "/v1/transfers", OPERATOR, batch);
    let codes: Vec<&str> = refused["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|result| result["code"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        codes,
        ["atomic_batch_failed", "queue_in_atomic_batch"],
        "{refused}"
    );
    let mut stringly = transfer("q-4", "SH01-A", "BJ01-B", "1.00");
    stringly["queue_if_over_cap"] = json!("yes");
    let malformed = cluster
        .post(follower, "/v1/transfers", SH01, &stringly)
        .unwrap();
    assert_eq!(problem_code(&malformed), (400, "invalid_body"));
    let entry = json!({"id": "q-5", "currency": "CNY", "queue_if_over_cap": 1, "postings": [
        {"account": "SH01-A", "side": "debit", "amount": "1.00"},
        {"account": "BJ01-B", "side": "credit", "amount": "1.00"}]});
    let malformed = cluster.post(follower, "/v1/entries", SH01, &entry).unwrap();
    assert_eq!(problem_code(&malformed), (400, "invalid_body"));
    for id in ["q-2", "q-3", "q-4", "q-5"] {
        let (status, _) = cluster
            .get_raw(follower, &format!("/v1/entries/{id}"), OPERATOR)
            .unwrap();
        assert_eq!(status, 404, "{id} was not booked");
    }
    let queue = cluster.get(follower, "/v1/queue", OPERATOR).unwrap();
    assert_eq!(queue["queued"].as_array().map(Vec::len), Some(1), "{queue}");
    let unknown = cluster
        .get_raw(follower, "/v1/queue?consistency=eventual", OPERATOR)
        .unwrap();
    assert_eq!(problem_code(&unknown), (400, "invalid_query"));
    assert_eq!(balance(&cluster, follower, "SH01-A"), "999940.00");
    assert_eq!(balance(&cluster, follower, "BJ01-B"), "60.00");
    assert_eq!(net_debit(&cluster).as_deref(), Some("60.00"));

    // BJ01 pays SH01 20.00: SH01 would owe 40.00 + 50.00, within its cap,
    // so that same command releases the queued transfer.
    let room = cluster.must_post(
        follower,
        "/v1/transfers",
        BJ01,
        transfer("q-room", "BJ01-A", "SH01-B", "20.00"),
    );
    assert_eq!(room["results"][0]["status"], "posted", "{room}");
    let room_index = room["index"].as_u64().expect("index");
    let released = cluster
        .get(cluster.leader(), "/v1/entries/q-1", OPERATOR)
        .unwrap();
    assert_eq!(
        (
            &released["status"],
            &released["window"],
            &released["queue"]["branch"],
            &released["queue"]["left_index"]
        ),
        (
            &json!("posted"),
            &json!(1),
            &json!("SH01"),
            &json!(room_index)
        ),
        "{released}"
    );
    let queue = cluster.get(follower, "/v1/queue", OPERATOR).unwrap();
    assert_eq!(queue["queued"], json!([]), "{queue}");
    assert_eq!(balance(&cluster, follower, "SH01-A"), "999890.00");
    assert_eq!(balance(&cluster, follower, "BJ01-B"), "110.00");
    assert_eq!(net_debit(&cluster).as_deref(), Some("90.00"));
    assert_eq!(cluster.converged_digests().len(), 3);
}

// --- Customer statements (对账单) and returns (对账回执) ---------------------

/// GET answering text (CSV), with its status and content type.
fn get_text(cluster: &Cluster, node: u64, path: &str, key: &str) -> (u16, String, String) {
    let response = cluster
        .http
        .get(cluster.node(node).url(path))
        .bearer_auth(key)
        .send()
        .expect("transport");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, content_type, response.text().expect("body"))
}

fn problem_code(reply: &(u16, Value)) -> (u16, &str) {
    (reply.0, reply.1["code"].as_str().unwrap_or_default())
}

/// design.md: statements carry a verification code, returns are posted by
/// branch systems, and the return rate per branch (回收率) and disputes are
/// the headline figures; issue #7 A: a wrong code is refused, a branch returns
/// only its own statements, reports export as CSV.
#[test]
fn statements_are_issued_returned_and_reported_through_any_node() {
    let cluster = Cluster::start(3, Settings::default());
    cluster.seed();
    let follower = cluster.follower();
    let paid = cluster.must_post(
        follower,
        "/v1/transfers",
        SH01,
        transfer("t-stmt", "SH01-A", "SH01-B", "100.00"),
    );
    let cutoff = paid["results"][0]["booked_at"]
        .as_str()
        .unwrap()
        .to_string();
    let due = cutoff[..10].to_string();

    let request = json!({"accounts": ["SH01-B", "SH01-A"], "cutoff": cutoff, "due": due});
    let refused = cluster
        .post(follower, "/v1/statements", AUDITOR, &request)
        .unwrap();
    assert_eq!(problem_code(&refused), (403, "forbidden"));
    let issued = cluster.must_post(follower, "/v1/statements", OPERATOR, request.clone());
    let statements = issued["statements"].as_array().expect("statements");
    assert_eq!(statements.len(), 2, "{issued}");
    let (a, b) = (&statements[0], &statements[1]);
    assert_eq!(
        (a["account"].as_str(), a["closing_balance"].as_str()),
        (Some("SH01-A"), Some("999900.00"))
    );
    assert_eq!(
        (b["account"].as_str(), b["closing_balance"].as_str()),
        (Some("SH01-B"), Some("100.00"))
    );
    for statement in statements {
        let code = statement["verification_code"].as_str().expect("a code");
        assert_eq!(code.len(), 32);
        assert!(code.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(statement["status"], "issued");
    }
    assert!(issued["index"].as_u64().is_some() && issued["booked_at"].is_string());
    // Issuing again answers the same statements.
    let again = cluster.must_post(cluster.leader(), "/v1/statements", OPERATOR, request);
    assert_eq!(again["statements"], issued["statements"]);

    let a_id = a["id"].as_str().unwrap();
    let b_id = b["id"].as_str().unwrap();
    let a_code = a["verification_code"].as_str().unwrap();
    let b_code = b["verification_code"].as_str().unwrap();

    // The owning branch reads the statement and its lines, without the code.
    let read = cluster
        .get(follower, &format!("/v1/statements/{a_id}"), SH01)
        .unwrap();
    assert_eq!(read["verification_code"], Value::Null);
    let lines: Vec<(&str, &str, &str)> = read["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["entry"].as_str().unwrap(),
                l["side"].as_str().unwrap(),
                l["balance_after"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("fund-SH01", "credit", "1000000.00"),
            ("t-stmt", "debit", "999900.00")
        ]
    );
    let hidden = cluster
        .get_raw(follower, &format!("/v1/statements/{a_id}"), BJ01)
        .unwrap();
    assert_eq!(problem_code(&hidden), (404, "statement_not_found"));

    // Returns: only the owning branch, only with the statement's own code.
    let path = format!("/v1/statements/{a_id}/return");
    let confirm = json!({"verification_code": a_code, "status": "confirmed"});
    let other_branch = cluster.post(follower, &path, BJ01, &confirm).unwrap();
    assert_eq!(problem_code(&other_branch), (403, "forbidden"));
    let wrong = json!({"verification_code": b_code, "status": "confirmed"});
    let wrong = cluster.post(follower, &path, SH01, &wrong).unwrap();
    assert_eq!(problem_code(&wrong), (422, "verification_code_mismatch"));
    let reconciled = cluster.must_post(follower, &path, SH01, confirm.clone());
    assert_eq!(reconciled["status"], "reconciled");
    assert_eq!(reconciled["difference"], "0.00");
    let retried = cluster.must_post(cluster.leader(), &path, SH01, confirm);
    assert_eq!(retried["returned"], reconciled["returned"]);
    let dispute = json!({"verification_code": b_code.to_uppercase(), "status": "disputed"});
    let missing = cluster
        .post(
            follower,
            &format!("/v1/statements/{b_id}/return"),
            SH01,
            &dispute,
        )
        .unwrap();
    assert_eq!(problem_code(&missing), (422, "stated_balance_required"));
    let dispute =
        json!({"verification_code": b_code, "status": "disputed", "stated_balance": "90.00"});
    let disputed = cluster.must_post(
        follower,
        &format!("/v1/statements/{b_id}/return"),
        SH01,
        dispute,
    );
    assert_eq!(
        (
            &disputed["status"],
            &disputed["stated_balance"],
            &disputed["difference"]
        ),
        (&json!("disputed"), &json!("90.00"), &json!("-10.00"))
    );

    // Issue #7 A and C: the dispute is a break holding the difference,
    // listed by kind and branch; a manual match does not apply to it, an
    // explanation resolves it.
    let raised = disputed["breaks"]
        .as_array()
        .expect("the statement's breaks");
    assert_eq!(raised.len(), 1, "{disputed}");
    let listed = cluster
        .get(
            follower,
            "/v1/breaks?kind=disputed_statement&branch=SH01",
            OPERATOR,
        )
        .unwrap();
    let record = &listed["breaks"][0];
    assert_eq!(
        listed["breaks"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
    assert_eq!(record["id"], raised[0]);
    let facts = [
        "kind",
        "statement",
        "account",
        "amount",
        "closing_balance",
        "stated_balance",
        "status",
    ]
    .map(|name| record[name].as_str().unwrap_or_default());
    assert_eq!(
        facts,
        [
            "disputed_statement",
            b_id,
            "SH01-B",
            "-10.00",
            "100.00",
            "90.00",
            "open"
        ]
    );
    let elsewhere = cluster
        .get(
            follower,
            "/v1/breaks?kind=disputed_statement&branch=BJ01",
            OPERATOR,
        )
        .unwrap();
    assert_eq!(elsewhere["breaks"], json!([]));
    let unknown = cluster
        .get_raw(follower, "/v1/breaks?kind=disputed", OPERATOR)
        .unwrap();
    assert_eq!(problem_code(&unknown), (400, "invalid_query"));
    let resolve = format!("/v1/breaks/{}/resolve", raised[0]);
    let by_match = json!({"by": "manual_match", "items": [{"type": "ledger", "entry": "t-stmt", "posting": 1}]});
    let refused = cluster
        .post(follower, &resolve, OPERATOR, &by_match)
        .unwrap();
    assert_eq!(problem_code(&refused), (422, "manual_match_not_applicable"));
    let explanation =
        json!({"by": "explanation", "reason": "a card payment the customer left out"});
    let explained = cluster.must_post(follower, &resolve, OPERATOR, explanation);
    assert_eq!(
        (&explained["status"], &explained["resolution"]["by"]),
        (&json!("resolved"), &json!("explanation"))
    );
    let history: Vec<(&str, &str)> = explained["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["action"].as_str().unwrap(), a["by"].as_str().unwrap()))
        .collect();
    assert_eq!(history[1].0, "explained");
    assert_eq!(history[0].0, "raised");
    assert_ne!(
        history[0].1, history[1].1,
        "the branch raised it, an operator explained it"
    );

    // A whole branch by the default policy: its customer accounts only.
    let branch = json!({"branch": "BJ01", "cutoff": cutoff, "due": due});
    let bj = cluster.must_post(follower, "/v1/statements", OPERATOR, branch);
    let accounts: Vec<&str> = bj["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["account"].as_str().unwrap())
        .collect();
    assert_eq!(accounts, ["BJ01-A", "BJ01-B"]);

    // Reports: JSON and CSV, a branch sees only its own.
    let rates = cluster
        .get(follower, "/v1/statement-reports/return-rates", OPERATOR)
        .unwrap();
    let figures: Vec<(String, u64, u64, String)> = rates["branches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["branch"].as_str().unwrap().to_string(),
                r["issued"].as_u64().unwrap(),
                r["returned"].as_u64().unwrap(),
                r["return_rate_percent"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        figures,
        [
            ("BJ01".to_string(), 2, 0, "0.00".to_string()),
            ("SH01".to_string(), 2, 2, "100.00".to_string())
        ]
    );
    let (status, content_type, csv) = get_text(
        &cluster,
        follower,
        "/v1/statement-reports/return-rates?format=csv",
        SH01,
    );
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    assert_eq!(
        csv,
        "branch,issued,returned,reconciled,disputed,overdue,outstanding,return_rate_percent\r\n\
         SH01,2,2,1,1,0,0,100.00\r\n"
    );
    let (status, _, disputes) = get_text(
        &cluster,
        follower,
        "/v1/statement-reports/disputes?format=csv",
        OPERATOR,
    );
    assert_eq!(status, 200);
    let rows: Vec<&str> = disputes.lines().collect();
    assert_eq!(rows.len(), 2, "{disputes}");
    assert!(
        rows[1].starts_with(&format!("{b_id},SH01,SH01-B,CNY,"))
            && rows[1].ends_with(",100.00,90.00,-10.00,disputed,0,0-7"),
        "{}",
        rows[1]
    );
    let foreign = cluster
        .get_raw(follower, "/v1/statement-reports/overdue?branch=BJ01", SH01)
        .unwrap();
    assert_eq!(problem_code(&foreign), (403, "forbidden"));

    // Every replica holds the same statements, returns and digest.
    assert_eq!(cluster.converged_digests().len(), 3);
    for node in 1..=3 {
        let stale = cluster
            .get(
                node,
                &format!("/v1/statements/{b_id}?consistency=stale"),
                OPERATOR,
            )
            .unwrap();
        assert_eq!(stale["status"], "disputed", "node {node}");
        assert_eq!(stale["verification_code"], b["verification_code"]);
    }
    wait_for(
        "the statement list on the leader",
        Duration::from_secs(10),
        || {
            let list = cluster
                .get(cluster.leader(), "/v1/statements?status=disputed", AUDITOR)
                .ok()?;
            (list["statements"].as_array()?.len() == 1).then_some(())
        },
    );
}

/// The differentiated policy is replicated configuration: only an admin sets
/// it, and a whole-branch issue follows it.
#[test]
fn the_statement_policy_is_set_by_an_admin_and_followed() {
    let cluster = Cluster::start(3, Settings::default());
    cluster.seed();
    let policy = json!({"rules": [
        {"purpose": "customer", "currency": "CNY", "min_balance": "500000.00", "frequency": "monthly"},
        {"purpose": "customer", "frequency": "never"}
    ]});
    let refused = cluster
        .post(
            cluster.follower(),
            "/v1/statement-policy",
            OPERATOR,
            &policy,
        )
        .unwrap();
    assert_eq!(problem_code(&refused), (403, "forbidden"));
    let bad = json!({"rules": [{"min_balance": "1.00", "frequency": "monthly"}]});
    let bad = cluster
        .post(cluster.follower(), "/v1/statement-policy", ADMIN_KEY, &bad)
        .unwrap();
    assert_eq!(problem_code(&bad), (422, "statement_policy_invalid"));
    let stored = cluster.must_post(
        cluster.follower(),
        "/v1/statement-policy",
        ADMIN_KEY,
        policy,
    );
    assert_eq!(stored["rules"][0]["min_balance"], "500000.00");
    let read = cluster
        .get(cluster.follower(), "/v1/statement-policy", AUDITOR)
        .unwrap();
    assert_eq!(read["rules"], stored["rules"]);
    let paid = cluster.must_post(
        cluster.leader(),
        "/v1/transfers",
        SH01,
        transfer("t-policy", "SH01-A", "SH01-B", "1.00"),
    );
    let cutoff = paid["results"][0]["booked_at"].as_str().unwrap();
    let issued = cluster.must_post(
        cluster.follower(),
        "/v1/statements",
        OPERATOR,
        json!({"branch": "SH01", "cutoff": cutoff, "due": &cutoff[..10]}),
    );
    let accounts: Vec<&str> = issued["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["account"].as_str().unwrap())
        .collect();
    assert_eq!(accounts, ["SH01-A"], "{issued}");
}

// --- Auditors ---------------------------------------------------------------

/// Every write route of the API (every operation of `openapi.json` that is
/// not a GET, which `tests/openapi.rs` holds equal to the router) refuses an
/// auditor with 403 `forbidden` and changes nothing, on the leader and on a
/// follower; the one exception is the auditor's own review mark.
#[test]
fn an_auditor_is_refused_every_write_route() {
    let cluster = Cluster::start(3, Settings::default());
    cluster.seed();
    let doc: Value = serde_json::from_str(include_str!("../openapi.json")).expect("openapi.json");
    let mut writes = Vec::new();
    for (template, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            if method == "get" || !template.starts_with("/v1/") {
                continue;
            }
            let mut path = template.clone();
            for param in operation["parameters"].as_array().into_iter().flatten() {
                let param = match param["$ref"].as_str() {
                    Some(reference) => doc
                        .pointer(reference.trim_start_matches('#'))
                        .expect("parameter"),
                    None => param,
                };
                if param["in"] == "path" {
                    let example = match &param["example"] {
                        Value::String(text) => text.clone(),
                        other => other.to_string(),
                    };
                    path = path.replace(
                        &format!("{{{}}}", param["name"].as_str().unwrap()),
                        &example,
                    );
                }
            }
            let media = &operation["requestBody"]["content"]["application/json"];
            let body = media
                .get("example")
                .or_else(|| {
                    media
                        .get("examples")
                        .and_then(Value::as_object)
                        .and_then(|examples| examples.values().next())
                        .and_then(|example| example.get("value"))
                })
                .cloned()
                .unwrap_or_else(|| json!({}));
            writes.push((method.clone(), template.clone(), path, body));
        }
    }
    assert!(
        writes.len() >= 20,
        "found only {} write routes",
        writes.len()
    );
    let before = cluster.converged_digests();
    let follower = cluster.follower();
    for (method, template, path, body) in &writes {
        // The auditor's one record, a review mark, is a write of its own
        // (period_close_and_post_hoc_review_over_http); it is proposed, so it
        // would move the digest even when the ledger refuses it.
        if template == "/v1/entries/{id}/review" {
            continue;
        }
        for node in [cluster.leader(), follower] {
            let request = match method.as_str() {
                "post" => cluster.http.post(cluster.node(node).url(path)),
                "delete" => cluster.http.delete(cluster.node(node).url(path)),
                "put" => cluster.http.put(cluster.node(node).url(path)),
                other => panic!("unexpected method {other}"),
            };
            let response = request
                .bearer_auth(AUDITOR)
                .json(body)
                .send()
                .expect("transport");
            let status = response.status().as_u16();
            let answer: Value = response.json().unwrap_or(Value::Null);
            assert_eq!(
                (status, answer["code"].as_str()),
                (403, Some("forbidden")),
                "{method} {path} as auditor on node {node}: {answer}"
            );
        }
    }
    assert_eq!(
        cluster.converged_digests(),
        before,
        "an auditor changed the state"
    );
}

/// Figures as of a past index equal those read then, errors are named, and
/// the export verifies offline record by record (issue #8).
#[test]
fn trial_balance_as_of_a_past_index_and_a_verifiable_export() {
    let cluster = Cluster::start(3, Settings::default());
    cluster.seed();
    let leader = cluster.leader();
    let first = cluster.must_post(
        leader,
        "/v1/transfers",
        SH01,
        transfer("tb-1", "SH01-A", "BJ01-A", "100.00"),
    );
    let then = first["results"][0]["index"].as_u64().expect("index");
    let account_then = cluster
        .get(leader, "/v1/accounts/BJ01-A", AUDITOR)
        .expect("account");
    cluster.must_post(
        leader,
        "/v1/transfers",
        SH01,
        transfer("tb-2", "SH01-A", "SH01-B", "7.00"),
    );

    let follower = cluster.follower();
    let snapshot = cluster
        .get(
            follower,
            &format!("/v1/snapshots/trial-balance?index={then}"),
            AUDITOR,
        )
        .expect("trial balance");
    assert_eq!(snapshot["index"], then);
    let line = |snapshot: &Value, id: &str| -> Value {
        snapshot["accounts"]
            .as_array()
            .expect("accounts")
            .iter()
            .find(|line| line["account"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} missing"))
    };
    assert_eq!(
        line(&snapshot, "BJ01-A")["credits_posted"],
        account_then["balance"]["credits_posted"]
    );
    assert_eq!(
        line(&snapshot, "SH01-B")["credits_posted"],
        "0.00",
        "tb-2 came later"
    );
    let totals = &snapshot["totals"][0];
    assert_eq!(
        (totals["currency"].as_str(), totals["balanced"].as_bool()),
        (Some("CNY"), Some(true))
    );
    assert_eq!(totals["debits_posted"], totals["credits_posted"]);
    for branch in snapshot["branches"].as_array().expect("branches") {
        assert_eq!(branch["balanced"], true, "{branch}");
    }
    // A branch reads its own trial balance only.
    let own = cluster
        .get(leader, "/v1/snapshots/trial-balance?branch=SH01", SH01)
        .expect("own");
    assert!(
        own["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["branch"] == "SH01")
    );
    for (path, key, status, code) in [
        (
            "/v1/snapshots/trial-balance?branch=BJ01",
            SH01,
            403,
            "forbidden",
        ),
        ("/v1/snapshots/trial-balance", SH01, 403, "forbidden"),
        (
            "/v1/snapshots/trial-balance?index=999999999",
            AUDITOR,
            422,
            "point_in_the_future",
        ),
        (
            "/v1/snapshots/trial-balance?index=0",
            AUDITOR,
            422,
            "before_first_entry",
        ),
        (
            "/v1/snapshots/trial-balance?as_of=2000-01-01T00:00:00Z",
            AUDITOR,
            422,
            "before_first_entry",
        ),
        (
            "/v1/snapshots/trial-balance?as_of=2999-01-01T00:00:00Z",
            AUDITOR,
            422,
            "point_in_the_future",
        ),
        (
            "/v1/snapshots/trial-balance?branch=NOPE",
            AUDITOR,
            404,
            "branch_not_found",
        ),
        (
            "/v1/snapshots/trial-balance?index=1&as_of=2000-01-01T00:00:00Z",
            AUDITOR,
            400,
            "invalid_query",
        ),
        ("/v1/audit/trail", SH01, 403, "forbidden"),
        (
            "/v1/journal/export?format=xml",
            AUDITOR,
            400,
            "invalid_query",
        ),
        (
            "/v1/journal/export?from_index=5&to_index=4",
            AUDITOR,
            400,
            "invalid_range",
        ),
    ] {
        let (got, answer) = cluster.get_raw(leader, path, key).expect("transport");
        assert_eq!(
            (got, answer["code"].as_str()),
            (status, Some(code)),
            "{path}: {answer}"
        );
    }

    // The trail names who did it, with which key and from where.
    let trail = cluster
        .get(leader, "/v1/audit/trail?principal=sh01&limit=1000", AUDITOR)
        .expect("trail");
    let records = trail["records"].as_array().expect("records");
    // The two entries, and the clearing window the first inter-branch one
    // opened.
    assert_eq!(records.len(), 3, "{trail}");
    assert!(
        records
            .iter()
            .all(|r| r["key_id"].as_str().is_some_and(|k| !k.is_empty()))
    );
    assert!(records.iter().all(|r| {
        r["client"]
            .as_str()
            .is_some_and(|c| c.contains("127.0.0.1"))
    }));

    // The export from a follower verifies record by record up to the head
    // the node reports.
    let export = cluster
        .http
        .get(cluster.node(follower).url("/v1/journal/export"))
        .bearer_auth(AUDITOR)
        .send()
        .expect("export")
        .text()
        .expect("body");
    let mut previous = hex::encode([0u8; 32]);
    let mut count = 0;
    for line in export.lines() {
        let value: Value = serde_json::from_str(line).expect("a JSON line");
        assert_eq!(value["previous_hash"].as_str(), Some(previous.as_str()));
        let record = ledger::AuditRecord {
            seq: value["seq"].as_u64().unwrap(),
            position: ledger::Position {
                index: value["index"].as_u64().unwrap(),
                seq: u32::try_from(value["command"].as_u64().unwrap()).unwrap(),
            },
            at: ledger::Timestamp::parse_rfc3339(value["at"].as_str().unwrap()).unwrap(),
            actor: ledger::Actor {
                principal: ledger::PrincipalName::new(value["principal"].as_str().unwrap())
                    .unwrap(),
                key_id: value["key_id"].as_str().unwrap().to_string(),
                client: value["client"].as_str().unwrap().to_string(),
            },
            event: serde_json::from_value(value["event"].clone()).expect("event"),
        };
        let previous_hash: [u8; 32] = hex::decode(&previous).unwrap().try_into().unwrap();
        assert_eq!(
            hex::encode(record.chain_hash(&previous_hash)),
            value["hash"].as_str().unwrap()
        );
        previous = value["hash"].as_str().unwrap().to_string();
        count += 1;
    }
    let check = cluster
        .get(follower, "/v1/audit/verify", AUDITOR)
        .expect("verify");
    assert_eq!(check["valid"], true, "{check}");
    assert_eq!(check["chain_seq"], count);
    assert_eq!(check["chain_head"].as_str(), Some(previous.as_str()));
    let csv = cluster
        .http
        .get(
            cluster
                .node(leader)
                .url(&format!("/v1/journal/export?format=csv&from_index={then}")),
        )
        .bearer_auth(AUDITOR)
        .send()
        .expect("csv export")
        .text()
        .expect("body");
    assert!(
        csv.starts_with("seq,index,command,at,principal,key_id,client,event,previous_hash,hash\n")
    );
    assert!(csv.lines().count() >= 3, "{csv}");
}

/// A closed period refuses entries valued in it; the correction posts into
/// the open period; the reversal is flagged and an auditor reviews it.
#[test]
fn period_close_and_post_hoc_review_over_http() {
    let cluster = Cluster::start(3, Settings::default());
    cluster.seed();
    let leader = cluster.leader();
    cluster.must_post(
        leader,
        "/v1/transfers",
        SH01,
        transfer("pc-1", "SH01-A", "SH01-B", "10.00"),
    );
    let today = cluster
        .get(leader, "/v1/entries/pc-1", OPERATOR)
        .expect("entry")["booked_at"]
        .as_str()
        .expect("booked_at")[..10]
        .to_string();
    let close = json!({"branch": "SH01", "through": today});
    let (status, answer) = cluster
        .post(leader, "/v1/periods", SH01, &close)
        .expect("transport");
    assert_eq!((status, answer["code"].as_str()), (403, Some("forbidden")));
    let closed = cluster.must_post(cluster.follower(), "/v1/periods", OPERATOR, close);
    assert_eq!(closed["closed_through"], today.as_str());
    let (status, answer) = cluster
        .post(
            leader,
            "/v1/transfers",
            SH01,
            &transfer("pc-2", "SH01-A", "SH01-B", "1.00"),
        )
        .expect("transport");
    assert_eq!(
        (status, answer["code"].as_str()),
        (409, Some("period_closed")),
        "{answer}"
    );
    let reversal = cluster.must_post(
        leader,
        "/v1/entries/pc-1/reverse",
        OPERATOR,
        json!({"id": "pc-1-rev", "reason": "wrong payee"}),
    );
    assert_eq!(reversal["status"], "posted", "{reversal}");
    let periods = cluster
        .get(leader, "/v1/periods", AUDITOR)
        .expect("periods");
    assert_eq!(periods["periods"][0]["branch"], "SH01");

    let list = cluster
        .get(leader, "/v1/audit/reviews", AUDITOR)
        .expect("reviews");
    assert_eq!(
        (list["flagged"].as_u64(), list["reviewed"].as_u64()),
        (Some(1), Some(0)),
        "{list}"
    );
    assert_eq!(list["entries"][0]["entry"], "pc-1-rev");
    assert_eq!(list["entries"][0]["flags"], json!(["reversal"]));
    let (status, answer) = cluster
        .post(leader, "/v1/entries/pc-1-rev/review", OPERATOR, &json!({}))
        .expect("transport");
    assert_eq!(
        (status, answer["code"].as_str()),
        (403, Some("forbidden")),
        "{answer}"
    );
    let mark = cluster.must_post(
        cluster.follower(),
        "/v1/entries/pc-1-rev/review",
        AUDITOR,
        json!({"note": "reason seen"}),
    );
    assert_eq!(mark["reviewed_by"], "aud");
    let list = cluster
        .get(leader, "/v1/audit/reviews", AUDITOR)
        .expect("reviews");
    assert_eq!(list["coverage_percent"], "100.00");
    let (status, answer) = cluster
        .post(leader, "/v1/entries/pc-1/review", AUDITOR, &json!({}))
        .expect("transport");
    assert_eq!(
        (status, answer["code"].as_str()),
        (409, Some("entry_not_flagged"))
    );
}

// --- Reconciliation (issue 7) -------------------------------------------------

/// Posts a statement file as `text/plain` (MT940).
fn import_statement(cluster: &Cluster, node: u64, account: &str, text: &str) -> (u16, Value) {
    let response = cluster
        .http
        .post(cluster.node(node).url("/v1/external-statements"))
        .query(&[("account", account)])
        .bearer_auth(OPERATOR)
        .header("content-type", "text/plain")
        .body(text.to_string())
        .send()
        .expect("transport");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

/// Today's date as MT940 writes it (YYMMDD): the ledger books with the
/// leader's clock, so the statement must close today to cover its postings.
fn today_yymmdd() -> String {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_micros();
    let date = ledger::Timestamp(i64::try_from(micros).expect("fits"))
        .date()
        .to_string();
    format!("{}{}{}", &date[2..4], &date[5..7], &date[8..10])
}

/// Reconciliation through HTTP on three real nodes: a correspondent's MT940
/// statement is imported through one follower (again: idempotent; malformed:
/// refused with the line of the fault), reconciled through another, and the
/// break it raises is worked through the third — an adjusting entry that the
/// maker may not approve and a second operator does. Every node ends with
/// the same state digest (issue 7: "a run's outcome is committed through
/// Raft as one command, so every replica sees the same matches and breaks").
#[test]
fn a_statement_is_imported_reconciled_and_its_break_resolved_through_http() {
    let cluster = Cluster::start(3, Settings::default());
    cluster.seed();
    let leader = cluster.leader();
    let followers: Vec<u64> = (1..=3).filter(|id| *id != leader).collect();
    for (id, class, purpose) in [
        ("HQ-NOSTRO", "asset", "nostro"),
        ("HQ-CUST", "liability", "customer"),
        ("HQ-FEES", "expense", "internal"),
    ] {
        cluster.must_post(leader, "/v1/accounts", OPERATOR,
            json!({"id": id, "branch": "HQ", "currency": "CNY", "class": class, "purpose": purpose}));
    }
    let payment = |id: &str, debit: &str, credit: &str, amount: &str, reference: &str| {
        let mut body = transfer(id, debit, credit, amount);
        body["reference"] = json!(reference);
        body
    };
    cluster.must_post(
        leader,
        "/v1/transfers",
        OPERATOR,
        payment("in-1", "HQ-NOSTRO", "HQ-CUST", "1000.00", "PAY-1"),
    );
    cluster.must_post(
        leader,
        "/v1/transfers",
        OPERATOR,
        payment("out-1", "HQ-CUST", "HQ-NOSTRO", "250.00", "PAY-2"),
    );

    let day = today_yymmdd();
    let statement = format!(
        ":20:NOSTRO-{day}\n:25:CN-CORR-0001\n:28C:1/1\n:60F:C{day}CNY0,00\n:61:{day}C1000,00NTRFPAY-1\n:61:{day}D250,00NTRFPAY-2\n:61:{day}D15,00NCHGNONREF\n:86:account fee\n:62F:C{day}CNY735,00\n-\n"
    );
    let (status, stored) = import_statement(&cluster, followers[0], "HQ-NOSTRO", &statement);
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["lines"].as_array().map(Vec::len), Some(3));
    assert_eq!(stored["closing"]["amount"], "735.00");
    let id = stored["id"].as_str().expect("id").to_string();
    let (status, again) = import_statement(&cluster, followers[1], "HQ-NOSTRO", &statement);
    assert_eq!(
        (status, &again["id"]),
        (200, &json!(id)),
        "importing again finds it"
    );
    let broken = statement.replace("D250,00NTRF", "D25O,00NTRF");
    let (status, refused) = import_statement(&cluster, followers[0], "HQ-NOSTRO", &broken);
    assert_eq!(
        (status, refused["code"].as_str()),
        (422, Some("statement_malformed")),
        "{refused}"
    );
    assert_eq!(refused["location"], "line 6");
    let (status, refused) = import_statement(
        &cluster,
        followers[0],
        "HQ-NOSTRO",
        &statement.replace("CNY735,00", "CNY735,01"),
    );
    assert_eq!(
        (status, refused["code"].as_str()),
        (422, Some("statement_unbalanced")),
        "{refused}"
    );
    let listed = cluster
        .get(leader, "/v1/external-statements", AUDITOR)
        .expect("list");
    assert_eq!(
        listed["statements"].as_array().map(Vec::len),
        Some(1),
        "nothing of a refused file is stored"
    );

    let run = cluster.must_post(
        followers[1],
        "/v1/reconciliations",
        OPERATOR,
        json!({"account": "HQ-NOSTRO", "external_statement": id}),
    );
    let rules: Vec<&str> = run["matches"]
        .as_array()
        .expect("matches")
        .iter()
        .map(|m| m["rule"].as_str().expect("rule"))
        .collect();
    assert_eq!(rules, vec!["reference", "reference"], "{run}");
    assert_eq!(run["balance"]["ledger_balance"], "750.00");
    assert_eq!(
        run["balance"]["unexplained"], "0.00",
        "the fee explains the difference"
    );
    let breaks = run["breaks"].as_array().expect("breaks");
    assert_eq!(breaks.len(), 1, "{run}");
    assert_eq!(
        (breaks[0]["kind"].as_str(), breaks[0]["amount"].as_str()),
        (Some("unmatched_external_line"), Some("-15.00"))
    );
    let break_id = breaks[0]["id"].as_u64().expect("break id");

    let third = leader;
    let open = cluster
        .get(
            third,
            "/v1/breaks?status=open&kind=unmatched_external_line",
            AUDITOR,
        )
        .expect("breaks");
    assert_eq!(open["breaks"][0]["id"], json!(break_id));
    assert_eq!(open["breaks"][0]["age_days"], 0);
    let (status, refused) = cluster
        .post(
            third,
            &format!("/v1/breaks/{break_id}/resolve"),
            AUDITOR,
            &json!({"by": "explanation", "reason": "fee"}),
        )
        .expect("transport");
    assert_eq!((status, refused["code"].as_str()), (403, Some("forbidden")));

    let adjustment = json!({"by": "adjusting_entry", "entry": {"id": "adj-fee", "currency": "CNY", "memo": "correspondent's fee",
        "postings": [{"account": "HQ-FEES", "side": "debit", "amount": "15.00"}, {"account": "HQ-NOSTRO", "side": "credit", "amount": "15.00"}]}});
    let waiting = cluster.must_post(
        third,
        &format!("/v1/breaks/{break_id}/resolve"),
        OPERATOR,
        adjustment,
    );
    assert_eq!(
        (
            waiting["status"].as_str(),
            waiting["adjusting_entry"].as_str()
        ),
        (Some("awaiting_approval"), Some("adj-fee"))
    );
    let (status, refused) = cluster
        .post(third, "/v1/entries/adj-fee/approve", OPERATOR, &json!({}))
        .expect("transport");
    assert_eq!(
        (status, refused["code"].as_str()),
        (409, Some("approver_is_poster")),
        "maker may not check"
    );
    cluster.must_post(
        followers[0],
        "/v1/entries/adj-fee/approve",
        OPERATOR_2,
        json!({}),
    );
    let done = cluster
        .get(followers[1], &format!("/v1/breaks/{break_id}"), AUDITOR)
        .expect("break");
    assert_eq!(done["status"], "resolved", "{done}");
    assert_eq!(
        done["resolution"],
        json!({"by": "adjusting_entry", "entry": "adj-fee"})
    );
    let who: Vec<(&str, &str)> = done["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|a| {
            (
                a["action"].as_str().expect("action"),
                a["by"].as_str().expect("by"),
            )
        })
        .collect();
    assert_eq!(
        who,
        vec![
            ("raised", "op1"),
            ("adjustment_proposed", "op1"),
            ("adjustment_approved", "op2")
        ]
    );
    let remaining = cluster
        .get(followers[0], "/v1/breaks", OPERATOR)
        .expect("breaks");
    assert_eq!(remaining["breaks"], json!([]), "no unresolved break");
    let shown = cluster
        .get(
            followers[0],
            &format!("/v1/reconciliations/{}", run["id"]),
            AUDITOR,
        )
        .expect("run");
    assert_eq!(shown["matches"], run["matches"]);

    let digests = cluster.converged_digests();
    assert_eq!(digests.len(), 3);
}
