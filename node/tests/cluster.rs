//! Three real `clearledger-node` processes on loopback: replication,
//! forwarding, linearizable reads, leader failure, snapshot catch-up,
//! idempotent retries across leader changes, and bad input.

mod support;

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
        extra_toml: "[raft]\nsnapshot_logs_since_last = 20\nlogs_to_keep = 0\n".into(),
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
