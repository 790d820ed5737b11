//! The `clearledger` binary driven as an operator would, against real
//! `clearledger-node` clusters on loopback (issue 4): every command's happy
//! path, rejections and their exit codes, failover to the next `--server`,
//! and an import that is killed partway and run again, posting each row
//! exactly once. Tests that need no node check usage errors, an unreachable
//! cluster, bad import files (nothing is sent), help and completions.

mod support;

use std::io::Write;
use std::time::Duration;

use support::*;

const OPERATOR: &str = "test-operator-key-1";
const OPERATOR_2: &str = "test-operator-key-2";
const TELLER_SH01: &str = "test-branch-sh01-key";
const AUDITOR: &str = "test-auditor-key-01";

/// Creates branches SH01 and BJ01 under HQ, an operator pair, a teller and an
/// auditor, clearing and cash accounts and two customers per branch, and funds
/// SH01-A with 1,000,000.00 CNY, all through the CLI.
fn seed(cluster: &Cluster) {
    seed_branches_and_principals(cluster);
    seed_accounts(cluster);
}

fn seed_branches_and_principals(cluster: &Cluster) {
    let create_branch = |code: &str, parent: Option<&str>| {
        let mut args = vec!["branches", "create", "--code", code, "--name", code];
        args.extend(
            parent
                .map(|parent| ["--parent", parent])
                .into_iter()
                .flatten(),
        );
        cluster.cli(ADMIN_KEY, &args).ok();
    };
    create_branch("HQ", None);
    create_branch("SH01", Some("HQ"));
    create_branch("BJ01", Some("HQ"));
    for (name, role, authority, key) in [
        ("op1", "operator", "3", OPERATOR),
        ("op2", "operator", "3", OPERATOR_2),
        ("teller-sh01", "branch:SH01", "0", TELLER_SH01),
        ("aud", "auditor", "0", AUDITOR),
    ] {
        let args = ["principals", "create", "--name", name, "--role", role];
        let args = [&args[..], &["--authority", authority, "--new-key", key]].concat();
        cluster
            .cli(ADMIN_KEY, &args)
            .ok()
            .stdout_has(key)
            .stdout_has("not shown again");
    }
}

fn seed_accounts(cluster: &Cluster) {
    for branch in ["SH01", "BJ01"] {
        for (suffix, class, purpose, extra) in [
            ("CLR", "liability", "clearing", None),
            ("CASH", "asset", "internal", None),
            ("A", "liability", "customer", Some("--no-overdraft")),
            ("B", "liability", "customer", Some("--no-overdraft")),
        ] {
            let id = format!("{branch}-{suffix}");
            let mut args = vec![
                "accounts",
                "open",
                "--id",
                &id,
                "--branch",
                branch,
                "--currency",
                "CNY",
            ];
            args.extend(["--class", class, "--purpose", purpose]);
            args.extend(extra);
            cluster.cli(OPERATOR, &args).ok();
        }
    }
    let fund = [
        "transfer",
        "post",
        "--id",
        "fund-SH01",
        "--debit",
        "SH01-CASH",
        "--credit",
        "SH01-A",
    ];
    let fund = [&fund[..], &["--amount", "1000000", "--currency", "CNY"]].concat();
    cluster.cli(OPERATOR, &fund).ok().stdout_has("posted");
}

fn posted_balance(cluster: &Cluster, account: &str) -> String {
    let (status, body) = cluster.get(&format!("/v1/accounts/{account}"), OPERATOR);
    assert_eq!(status, 200, "{body}");
    body["balance"]["posted"]
        .as_str()
        .expect("posted balance")
        .to_string()
}

/// Every command, in the order an operator would meet them, against a
/// three-node cluster (plus a spare node for membership changes).
#[test]
fn every_command_works_against_a_real_cluster() {
    let mut cluster = Cluster::start(3);
    cluster_reads(&cluster);
    seed(&cluster);
    setup_commands(&cluster);
    account_commands(&cluster);
    let window = transfers_and_approvals(&cluster);
    balances_entries_and_reversal(&cluster);
    window_commands(&cluster, &window);
    membership_changes(&mut cluster);
}

fn cluster_reads(cluster: &Cluster) {
    let status = cluster.cli(AUDITOR, &["cluster", "status"]);
    assert_eq!(
        status.code, 5,
        "the auditor key does not exist yet:\n{status}"
    );
    cluster
        .cli(ADMIN_KEY, &["cluster", "status"])
        .ok()
        .stdout_has("leader")
        .stdout_has("Members")
        .stdout_has("voter");
    let members = cluster
        .cli(ADMIN_KEY, &["-o", "csv", "cluster", "members"])
        .ok();
    assert_eq!(
        members.stdout.lines().count(),
        4,
        "a header and three members:\n{members}"
    );
    assert!(
        members.stdout.starts_with("id,address,role,leader\n"),
        "{members}"
    );
}

fn setup_commands(cluster: &Cluster) {
    let branches = cluster
        .cli(AUDITOR, &["branches", "list", "-o", "json"])
        .ok()
        .json();
    assert_eq!(
        branches["branches"].as_array().map(Vec::len),
        Some(3),
        "{branches}"
    );
    let create = [
        "-o",
        "json",
        "principals",
        "create",
        "--name",
        "aud2",
        "--role",
        "auditor",
    ];
    let generated = cluster.cli(ADMIN_KEY, &create).ok().json();
    assert!(
        generated["key"].as_str().is_some_and(|key| key.len() >= 16),
        "{generated}"
    );
    let policy = [
        "policy",
        "set",
        "--branch",
        "SH01",
        "--currency",
        "CNY",
        "--threshold",
        "500000.00",
    ];
    let policy = [&policy[..], &["--tier", "0.00:1", "--tier", "1000000.00:3"]].concat();
    cluster
        .cli(ADMIN_KEY, &policy)
        .ok()
        .stdout_has("500000.00")
        .stdout_has("1000000.00");
}

fn account_commands(cluster: &Cluster) {
    let shown = cluster
        .cli(AUDITOR, &["accounts", "show", "SH01-A", "-o", "json"])
        .ok()
        .json();
    assert_eq!(shown["balance"]["posted"], "1000000.00");
    cluster
        .cli(AUDITOR, &["accounts", "show", "SH01-A", "--stale"])
        .ok()
        .stdout_has("1000000.00")
        .stdout_has("no-overdraft");
    let listed = cluster
        .cli(
            AUDITOR,
            &["accounts", "list", "--branch", "SH01", "-o", "csv"],
        )
        .ok();
    assert_eq!(
        listed.stdout.lines().count(),
        5,
        "a header and four SH01 accounts:\n{listed}"
    );
    let paged = cluster
        .cli(AUDITOR, &["accounts", "list", "--limit", "3"])
        .ok()
        .stdout_has("--after");
    assert!(
        !paged.stdout.contains("SH01-B"),
        "only the first three by id:\n{paged}"
    );
    cluster
        .cli(OPERATOR, &["accounts", "freeze", "SH01-B"])
        .ok()
        .stdout_has("frozen");
    cluster
        .cli(OPERATOR, &["accounts", "unfreeze", "SH01-B"])
        .ok();
    cluster
        .cli(OPERATOR, &["accounts", "close", "SH01-B"])
        .ok()
        .stdout_has("closed");
}

/// Opens a window, posts an inter-branch transfer (twice: same outcome), a
/// large one that waits and is approved, and a held one that is rejected.
/// Answers the window's id.
fn transfers_and_approvals(cluster: &Cluster) -> String {
    let window = cluster
        .cli(OPERATOR, &["windows", "open", "-o", "json"])
        .ok()
        .json();
    let post = |id: &str, amount: &str, extra: &[&str]| {
        let args = [
            "transfer", "post", "--id", id, "--from", "SH01-A", "--to", "BJ01-A",
        ];
        let args = [&args[..], &["--amount", amount, "--currency", "CNY"], extra].concat();
        cluster.cli(TELLER_SH01, &args)
    };
    let first = post("t-1", "250.5", &["--memo", "invoice 118"])
        .ok()
        .stdout_has("posted");
    assert!(!first.stdout.contains("pending"), "{first}");
    post("t-1", "250.5", &["--memo", "invoice 118"])
        .ok()
        .stdout_has("posted");
    post("t-big", "600000.00", &[])
        .ok()
        .stdout_has("Waiting for approval: t-big");
    post("t-hold", "10.00", &["--pending"])
        .ok()
        .stdout_has("pending");
    let queue = cluster
        .cli(OPERATOR, &["approvals", "queue"])
        .ok()
        .stdout_has("600000.00")
        .stdout_has("oldest first");
    let big_at = queue.stdout.find("t-big").expect("t-big queued");
    let hold_at = queue.stdout.find("t-hold").expect("t-hold queued");
    assert!(big_at < hold_at, "oldest first:\n{queue}");
    let queued = cluster
        .cli(OPERATOR, &["approvals", "queue", "-o", "json"])
        .ok()
        .json();
    assert!(queued["pending"][0]["waiting_seconds"].is_u64(), "{queued}");
    let approve = [
        "approvals",
        "approve",
        "t-big",
        "--reason",
        "confirmed by phone",
    ];
    cluster
        .cli(OPERATOR, &approve)
        .ok()
        .stdout_has("posted")
        .stdout_has("confirmed by phone");
    let reject = ["approvals", "reject", "t-hold", "--reason", "wrong payee"];
    cluster.cli(OPERATOR_2, &reject).ok().stdout_has("voided");
    assert_eq!(posted_balance(cluster, "SH01-A"), "399749.50");
    window["id"].as_u64().expect("window id").to_string()
}

fn balances_entries_and_reversal(cluster: &Cluster) {
    let fund = cluster
        .cli(AUDITOR, &["entries", "show", "fund-SH01", "-o", "json"])
        .ok()
        .json();
    let fund_index = fund["booked_index"].as_u64().expect("index").to_string();
    let fund_at = fund["booked_at"].as_str().expect("booked_at").to_string();
    cluster
        .cli(AUDITOR, &["accounts", "balance", "SH01-A"])
        .ok()
        .stdout_has("399749.50");
    let balance = ["-o", "json", "accounts", "balance", "SH01-A"];
    let at_index = cluster
        .cli(AUDITOR, &[&balance[..], &["--index", &fund_index]].concat())
        .ok()
        .json();
    assert_eq!(at_index["balance"]["posted"], "1000000.00", "{at_index}");
    let as_of = cluster
        .cli(AUDITOR, &[&balance[..], &["--as-of", &fund_at]].concat())
        .ok()
        .json();
    assert_eq!(as_of["balance"]["posted"], "1000000.00", "{as_of}");
    cluster
        .cli(AUDITOR, &["entries", "show", "t-1"])
        .ok()
        .stdout_has("SH01-CLR")
        .stdout_has("250.50")
        .stdout_has("inter-branch");
    let entry = [
        "entries",
        "post",
        "--id",
        "je-1",
        "--currency",
        "CNY",
        "--debit",
        "BJ01-CASH=40.00",
    ];
    let entry = [
        &entry[..],
        &["--credit", "BJ01-A=15.00", "--credit", "BJ01-B=25.00"],
    ]
    .concat();
    cluster.cli(OPERATOR, &entry).ok().stdout_has("posted");
    let reverse = ["reverse", "t-1", "--reason", "duplicate of invoice 118"];
    cluster
        .cli(OPERATOR, &reverse)
        .ok()
        .stdout_has("rev-t-1")
        .stdout_has("reverses");
    assert_eq!(posted_balance(cluster, "SH01-A"), "400000.00");
}

fn window_commands(cluster: &Cluster, window: &str) {
    cluster
        .cli(OPERATOR, &["windows", "list"])
        .ok()
        .stdout_has(&format!("Window {window} is open"));
    cluster
        .cli(OPERATOR, &["windows", "show", window])
        .ok()
        .stdout_has("Net positions")
        .stdout_has("SH01");
    cluster
        .cli(OPERATOR, &["windows", "positions", window])
        .ok()
        .stdout_has("(sum)")
        .stdout_has("BJ01");
    let csv = ["-o", "csv", "windows", "positions", window];
    cluster
        .cli(OPERATOR, &csv)
        .ok()
        .stdout_has("kind,branch,counterparty");
}

/// A spare node joins as a learner, becomes a voter, and leaves.
fn membership_changes(cluster: &mut Cluster) {
    cluster
        .cli(AUDITOR, &["cluster", "digest"])
        .ok()
        .stdout_has("digest");
    let addr = cluster.start_spare(4);
    let add = ["cluster", "add-learner", "--id", "4", "--addr", &addr];
    cluster.cli(ADMIN_KEY, &add).ok().stdout_has("learner");
    cluster
        .cli(ADMIN_KEY, &["cluster", "promote", "--id", "4"])
        .ok()
        .stdout_has("now a voter");
    let members = cluster
        .cli(ADMIN_KEY, &["-o", "json", "cluster", "members"])
        .ok()
        .json();
    assert_eq!(
        members["members"].as_array().map(Vec::len),
        Some(4),
        "{members}"
    );
    cluster
        .cli(ADMIN_KEY, &["cluster", "remove", "--id", "4"])
        .ok()
        .stdout_has("removed");
    cluster.node_mut(4).kill();
    let members = cluster
        .cli(ADMIN_KEY, &["-o", "json", "cluster", "members"])
        .ok()
        .json();
    assert_eq!(
        members["members"].as_array().map(Vec::len),
        Some(3),
        "{members}"
    );
}

/// A ledger rejection exits 3 and prints the problem's code and detail;
/// an unknown key or a forbidden role exits 5; bad flags exit 2 and send nothing.
#[test]
fn rejections_print_their_code_and_detail_with_distinct_exit_codes() {
    let cluster = Cluster::start(1);
    seed(&cluster);
    let overdraft = [
        "transfer",
        "post",
        "--id",
        "t-over",
        "--debit",
        "BJ01-A",
        "--credit",
        "SH01-A",
        "--amount",
        "5.00",
        "--currency",
        "CNY",
    ];
    cluster
        .cli(OPERATOR, &overdraft)
        .code(3)
        .stderr_has("posting transfer t-over: the ledger rejected it")
        .stderr_has("code:   insufficient_funds")
        .stderr_has("detail: ")
        .no_debug_dump();
    cluster
        .cli(AUDITOR, &["accounts", "show", "NOPE-1"])
        .code(3)
        .stderr_has("account_not_found")
        .no_debug_dump();
    cluster
        .cli("not-a-key-at-all", &["accounts", "show", "SH01-A"])
        .code(5)
        .stderr_has("unauthorized")
        .no_debug_dump();
    cluster
        .cli(TELLER_SH01, &["windows", "open"])
        .code(5)
        .stderr_has("forbidden")
        .no_debug_dump();
    cluster
        .cli(
            OPERATOR,
            &[
                "transfer",
                "post",
                "--id",
                "t-x",
                "--debit",
                "SH01-A",
                "--credit",
                "BJ01-A",
                "--amount",
                "1.001",
                "--currency",
                "CNY",
            ],
        )
        .code(2)
        .stderr_has("decimals")
        .no_debug_dump();
    let (status, _) = cluster.get("/v1/entries/t-x", OPERATOR);
    assert_eq!(status, 404, "a usage error sends nothing");
    cluster
        .cli(OPERATOR, &["transfer", "post", "--id", "t-x"])
        .code(2)
        .stderr_has("--debit");
}

/// With the first `--server` down, every call goes to the next one, reads
/// and writes alike, and says so on stderr.
#[test]
fn fails_over_to_the_second_server_when_the_first_is_down() {
    let mut cluster = Cluster::start(3);
    seed(&cluster);
    let leader = cluster.leader();
    let down = (1..=3).find(|id| *id != leader).expect("a follower");
    let up = (1..=3)
        .find(|id| *id != leader && *id != down)
        .expect("another follower");
    let down_addr = cluster.node(down).addr();
    let up_addr = cluster.node(up).addr();
    cluster.node_mut(down).kill();
    let servers = ["--server", down_addr.as_str(), "--server", up_addr.as_str()];
    let run = |args: &[&str]| {
        let mut full: Vec<&str> = servers.to_vec();
        full.extend(args);
        clearledger(&full)
    };
    run(&["--key", AUDITOR, "accounts", "show", "SH01-A"])
        .ok()
        .stdout_has("1000000.00")
        .stderr_has(&down_addr)
        .stderr_has(&format!("trying http://{up_addr}"));
    run(&[
        "--key",
        TELLER_SH01,
        "transfer",
        "post",
        "--id",
        "t-failover",
        "--debit",
        "SH01-A",
        "--credit",
        "BJ01-A",
        "--amount",
        "7.00",
        "--currency",
        "CNY",
    ])
    .ok()
    .stdout_has("posted");
    run(&["--key", ADMIN_KEY, "--quiet", "cluster", "status"])
        .ok()
        .stdout_has("leader");
    assert_eq!(posted_balance(&cluster, "BJ01-A"), "7.00");
}

/// Writes `rows` transfers SH01-A → SH01-B as CSV; answers their total.
fn write_import_file(path: &std::path::Path, rows: u64) -> String {
    let mut total_cents = 0u64;
    let mut csv = String::from("id,debit_account,credit_account,amount,currency,memo\n");
    for n in 0..rows {
        let cents = 100 + n % 97 * 3 + 1;
        total_cents += cents;
        csv.push_str(&format!(
            "imp-{n},SH01-A,SH01-B,{}.{:02},CNY,row {n}\n",
            cents / 100,
            cents % 100
        ));
    }
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(csv.as_bytes()))
        .expect("write csv");
    format!("{}.{:02}", total_cents / 100, total_cents % 100)
}

/// Starts the import, and kill -9s it once some (but not all) rows are booked.
fn kill_import_partway(cluster: &Cluster, args: &[String], rows: u64) {
    let mut child = clearledger_command()
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    wait_for(
        "the import to book its first rows",
        Duration::from_secs(120),
        || (cluster.get("/v1/entries/imp-40", OPERATOR).0 == 200).then_some(()),
    );
    child.kill().expect("kill the import");
    child.wait().expect("reap");
    let last = format!("/v1/entries/imp-{}", rows - 1);
    assert_eq!(
        cluster.get(&last, OPERATOR).0,
        404,
        "the first run was interrupted before its end"
    );
}

/// An import killed partway (kill -9, mid-batch) and run again posts every
/// row exactly once: the second run counts the first run's rows as booked
/// before it, and the payee's balance is exactly the file's total.
#[test]
fn an_interrupted_import_run_again_posts_each_row_exactly_once() {
    let cluster = Cluster::start(3);
    seed(&cluster);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("transfers.csv");
    let rows = 3_000u64;
    let expected = write_import_file(&file, rows);
    let mut args: Vec<String> = Vec::new();
    for server in cluster.servers() {
        args.extend(["--server".to_string(), server]);
    }
    let file_arg = file.display().to_string();
    args.extend(
        [
            "--key",
            TELLER_SH01,
            "transfer",
            "import",
            &file_arg,
            "--batch-size",
            "5",
        ]
        .map(String::from),
    );

    kill_import_partway(&cluster, &args, rows);

    let json_args = [&args[..], &["-o".to_string(), "json".to_string()]].concat();
    let second = clearledger(&json_args).ok();
    let summary = second.json();
    assert_eq!(summary["posted"], rows, "{second}");
    let before = summary["booked_before_this_run"]["posted"]
        .as_u64()
        .expect("count");
    assert!(
        (40..rows).contains(&before),
        "the first run booked some rows: {second}"
    );
    assert_eq!(summary["rejected"], serde_json::json!({}), "{second}");
    assert_eq!(
        posted_balance(&cluster, "SH01-B"),
        expected,
        "each row booked exactly once"
    );

    let third = clearledger(&args).ok().stdout_has("books nothing twice");
    assert!(third.stdout.contains(&rows.to_string()), "{third}");
    assert_eq!(
        posted_balance(&cluster, "SH01-B"),
        expected,
        "a third run books nothing"
    );
    for n in [0, rows / 2, rows - 1] {
        let (status, entry) = cluster.get(&format!("/v1/entries/imp-{n}"), OPERATOR);
        assert_eq!(
            (status, entry["status"].as_str()),
            (200, Some("posted")),
            "{entry}"
        );
    }
}

/// With --continue-on-error the good rows go in and the bad and rejected
/// ones are written to the rejects file with their lines and codes; the
/// exit code says some were rejected.
#[test]
fn continue_on_error_imports_the_good_rows_and_writes_the_rest_to_a_file() {
    let cluster = Cluster::start(1);
    seed(&cluster);
    cluster
        .cli(
            ADMIN_KEY,
            &[
                "policy",
                "set",
                "--branch",
                "SH01",
                "--currency",
                "CNY",
                "--threshold",
                "500000.00",
                "--tier",
                "0.00:1",
            ],
        )
        .ok();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("day.jsonl");
    let lines = [
        r#"{"id":"j-1","debit_account":"SH01-A","credit_account":"BJ01-A","amount":"10.00","currency":"CNY"}"#,
        r#"{"id":"j-2","debit_account":"SH01-A","credit_account":"BJ01-A","amount":"10.001","currency":"CNY"}"#,
        r#"{"id":"j-3","debit_account":"SH01-B","credit_account":"SH01-A","amount":"99.00","currency":"CNY"}"#,
        r#"{"id":"j-4","debit_account":"SH01-A","credit_account":"BJ01-A","amount":"700000.00","currency":"CNY"}"#,
    ];
    std::fs::write(&file, lines.join("\n")).expect("write jsonl");
    let file_arg = file.display().to_string();
    cluster
        .cli(TELLER_SH01, &["transfer", "import", &file_arg])
        .code(2)
        .stderr_has("day.jsonl:2: amount_precision")
        .stderr_has("nothing was sent");
    assert_eq!(
        cluster.get("/v1/entries/j-1", OPERATOR).0,
        404,
        "nothing was sent"
    );
    let run = cluster
        .cli(
            TELLER_SH01,
            &["transfer", "import", &file_arg, "--continue-on-error"],
        )
        .code(3)
        .stdout_has("insufficient_funds")
        .stdout_has("amount_precision")
        .stdout_has("pending approval");
    let rejects =
        std::fs::read_to_string(dir.path().join("day.rejected.csv")).expect("rejects file");
    assert!(rejects.starts_with("line,id,code,detail,"), "{rejects}");
    assert!(rejects.contains("\n2,j-2,amount_precision,"), "{rejects}");
    assert!(
        rejects.contains("\n3,j-3,insufficient_funds,"),
        "{rejects}\n{run}"
    );
    assert_eq!(posted_balance(&cluster, "BJ01-A"), "10.00");
}

/// The sum of the posted balances of the bench branch's customer accounts,
/// and how many there are, read from the API (not from the bench's report).
fn bench_customer_money(cluster: &Cluster) -> (usize, i128) {
    branch_customer_money(cluster, "BENCH")
}

/// The same for any branch.
fn branch_customer_money(cluster: &Cluster, branch: &str) -> (usize, i128) {
    let path = format!("/v1/accounts?branch={branch}&limit=1000");
    let (status, body) = cluster.get(&path, ADMIN_KEY);
    assert_eq!(status, 200, "{body}");
    let cny = ledger::Currency::new("CNY").expect("CNY");
    let customers: Vec<&serde_json::Value> = body["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .filter(|account| account["purpose"] == "customer")
        .collect();
    let total = customers
        .iter()
        .map(|account| {
            let posted = account["balance"]["posted"].as_str().expect("posted");
            ledger::Amount::parse(posted, cny).expect("amount").minor()
        })
        .sum();
    (customers.len(), total)
}

/// `clearledger bench` (issue 9) against a real three-node cluster: it sets
/// up its branch, accounts and funding, reports a positive committed rate
/// with latency percentiles as JSON, and afterwards the bench accounts hold
/// exactly what they were funded with (transfers only move money between
/// them). A second, batched run reuses the same accounts and funding.
#[test]
fn bench_reports_its_rate_and_conserves_the_funded_money() {
    let cluster = Cluster::start(3);
    let funded_each: i128 = 100_000_000; // 1,000,000.00 CNY in fen
    let bench = |extra: &[&str]| {
        let args = ["-o", "json", "--quiet", "bench", "--accounts", "40"];
        cluster
            .cli(ADMIN_KEY, &[&args[..], extra].concat())
            .ok()
            .json()
    };
    let report = bench(&["--duration", "3", "--clients", "4"]);
    let rate = report["transfers_per_s"].as_f64().expect("transfers_per_s");
    assert!(rate > 0.0, "{report:#}");
    assert!(
        report["committed_transfers"].as_u64() > Some(0),
        "{report:#}"
    );
    for percentile in ["p50", "p90", "p99", "p99_9", "max"] {
        let ms = report["latency_ms"][percentile].as_f64();
        assert!(ms.is_some_and(|ms| ms > 0.0), "{percentile}: {report:#}");
    }
    assert_eq!(report["settings"]["clients"], 4);
    assert_eq!(report["settings"]["batch_size"], 1);
    assert!(report["machine"]["nproc"].as_u64() > Some(0), "{report:#}");
    assert_eq!(report["money"]["conserved"], true, "{report:#}");
    assert_eq!(bench_customer_money(&cluster), (40, 40 * funded_each));

    let batched = bench(&["--duration", "1", "--clients", "2", "--batch-size", "25"]);
    assert!(
        batched["committed_transfers"].as_u64() >= Some(25),
        "{batched:#}"
    );
    assert_eq!(batched["errors"]["transfers"], serde_json::json!({}));
    assert_eq!(bench_customer_money(&cluster), (40, 40 * funded_each));
}

/// `clearledger bench --mix` (issue 9): balance reads, inter-branch and
/// pending-then-approved transfers are each counted; every pending transfer
/// ends approved, so nothing waits in the queue; and the customers of the
/// bench branch and its payee branch hold together exactly what was funded.
#[test]
fn bench_mix_counts_each_kind_and_leaves_nothing_pending() {
    let cluster = Cluster::start(3);
    let funded_each: i128 = 100_000_000;
    let args = [
        "-o",
        "json",
        "--quiet",
        "bench",
        "--accounts",
        "40",
        "--clients",
        "4",
        "--duration",
        "3",
        "--mix",
        "--inter-branch-percent",
        "30",
        "--pending-percent",
        "20",
    ];
    let report = cluster.cli(ADMIN_KEY, &args).ok().json();
    for kind in [
        "transfers_posted",
        "transfers_pending",
        "inter_branch",
        "approvals",
        "reads",
    ] {
        assert!(
            report["counts"][kind].as_u64() > Some(0),
            "{kind}: {report:#}"
        );
    }
    assert_eq!(report["settings"]["mix"]["read_percent"], 20, "{report:#}");
    assert_eq!(
        report["approvals"]["errors"],
        serde_json::json!({}),
        "{report:#}"
    );
    assert_eq!(
        report["reads"]["errors"],
        serde_json::json!({}),
        "{report:#}"
    );
    assert!(
        report["reads"]["latency_ms"]["p99"].as_f64() > Some(0.0),
        "{report:#}"
    );
    assert_eq!(report["money"]["conserved"], true, "{report:#}");
    let (payer_accounts, payer_total) = bench_customer_money(&cluster);
    let (payee_accounts, payee_total) = branch_customer_money(&cluster, "BENCH-IB");
    assert_eq!((payer_accounts, payee_accounts), (40, 40));
    assert!(
        payee_total > 0,
        "inter-branch transfers credited the payees"
    );
    assert_eq!(payer_total + payee_total, 40 * funded_each);
    let (status, queue) = cluster.get("/v1/approvals", ADMIN_KEY);
    assert_eq!(status, 200, "{queue}");
    assert_eq!(queue["pending"], serde_json::json!([]), "{queue}");

    let refused = cluster.cli(ADMIN_KEY, &["bench", "--mix", "--rate", "100"]);
    refused.code(2).stderr_has("--rate is a rate of transfers");
}

/// With no node reachable the exit code is 4 and each server's reason is named.
#[test]
fn an_unreachable_cluster_exits_4() {
    let (a, b) = (free_port(), free_port());
    let (a, b) = (format!("127.0.0.1:{a}"), format!("127.0.0.1:{b}"));
    clearledger(&[
        "--server", &a, "--server", &b, "--key", "k", "--quiet", "cluster", "status",
    ])
    .code(4)
    .stderr_has("no node could be reached")
    .stderr_has(&a)
    .stderr_has(&b)
    .no_debug_dump();
}

/// A bad import file is refused whole, naming the line, before any server
/// is contacted (the server here does not exist, and the exit code is 2, not 4).
#[test]
fn a_bad_import_file_names_its_line_and_sends_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nowhere = format!("127.0.0.1:{}", free_port());
    let import = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        clearledger(&[
            "--server",
            nowhere.as_str(),
            "--key",
            "k",
            "transfer",
            "import",
            &path.display().to_string(),
        ])
    };
    let header = "id,debit_account,credit_account,amount,currency\n";
    import(
        "decimals.csv",
        &format!("{header}t-1,A,B,1.00,CNY\nt-2,A,B,1.005,CNY\n"),
    )
    .code(2)
    .stderr_has("decimals.csv:3: amount_precision")
    .stderr_has("nothing was sent")
    .no_debug_dump();
    import(
        "ragged.csv",
        &format!("{header}t-1,A,B,1.00,CNY\nt-2,A,B\n"),
    )
    .code(2)
    .stderr_has("ragged.csv:3: malformed_row");
    import(
        "column.csv",
        "id,debit_account,credit_account,amount,currency,colour\n",
    )
    .code(2)
    .stderr_has("column.csv:1: unknown column \"colour\"");
    import("rows.txt", header).code(2).stderr_has("--format");
}

/// Usage errors exit 2; help carries examples and the exit codes; completions print.
#[test]
fn usage_help_and_completions() {
    clearledger(&["--help"])
        .ok()
        .stdout_has("Examples")
        .stdout_has("Exit codes")
        .stdout_has("completions");
    clearledger(&["transfer", "import", "--help"])
        .ok()
        .stdout_has("--continue-on-error")
        .stdout_has("not booked twice");
    clearledger(&["completions", "bash"])
        .ok()
        .stdout_has("_clearledger");
    clearledger(&["accounts", "frobnicate"]).code(2);
    clearledger(&["cluster", "status"])
        .code(2)
        .stderr_has("no API key");
    clearledger(&["--output", "yaml", "cluster", "status"]).code(2);
}

/// A named profile in the configuration file supplies servers and the key.
#[test]
fn profiles_supply_servers_and_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nowhere = format!("127.0.0.1:{}", free_port());
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!("[profiles.ops]\nservers = [{nowhere:?}]\nkey = \"profile-key-123\"\n"),
    )
    .expect("config");
    let config_arg = config.display().to_string();
    clearledger(&[
        "--config",
        &config_arg,
        "--profile",
        "ops",
        "--quiet",
        "cluster",
        "status",
    ])
    .code(4)
    .stderr_has(&nowhere);
    clearledger(&[
        "--config",
        &config_arg,
        "--profile",
        "nope",
        "cluster",
        "status",
    ])
    .code(2)
    .stderr_has("ops");
    let flags_win = clearledger(&[
        "--config",
        &config_arg,
        "--profile",
        "ops",
        "--server",
        "127.0.0.1:1",
        "--quiet",
        "cluster",
        "status",
    ]);
    assert!(
        !flags_win.stderr.contains(&nowhere),
        "--server overrides the profile's servers:\n{flags_win}"
    );
    std::fs::write(
        &config,
        "default_profile = \"ops\"\n[profiles.ops]\nkye = \"typo\"\n",
    )
    .expect("config");
    clearledger(&["--config", &config_arg, "cluster", "status"])
        .code(2)
        .stderr_has("kye");
}

/// `clearledger-node dev` as a process group (the launcher and its three
/// nodes), stopped with Ctrl-C's signal, or killed, when dropped.
struct DevCluster {
    launcher: std::process::Child,
    base_port: u16,
    _data: tempfile::TempDir,
}

impl DevCluster {
    /// Starts the dev cluster with demo data on three consecutive free ports
    /// and waits until it says it is up.
    fn start() -> DevCluster {
        use std::io::BufRead;
        use std::os::unix::process::CommandExt;

        let base_port = wait_for(
            "three consecutive free ports",
            Duration::from_secs(10),
            || {
                let base = free_port();
                let free = (1..3u16).all(|n| {
                    base.checked_add(n).is_some_and(|port| {
                        std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
                    })
                });
                free.then_some(base)
            },
        );
        let data = tempfile::tempdir().expect("tempdir");
        let mut launcher = std::process::Command::new(node_binary())
            .args(["dev", "--base-port", &base_port.to_string(), "--data-dir"])
            .arg(data.path())
            .env_remove("CLEARLEDGER_ADMIN_KEY")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("start clearledger-node dev");
        let stdout = launcher.stdout.take().expect("piped stdout");
        let (lines, receive) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let dev = DevCluster {
            launcher,
            base_port,
            _data: data,
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match receive.recv_timeout(left) {
                Ok(line) if line.starts_with("Press Ctrl-C") => return dev,
                Ok(_) => {}
                Err(error) => panic!("the dev cluster did not come up within 120 s: {error}"),
            }
        }
    }

    fn signal_group(&self, signal: &str) {
        let group = format!("-{}", self.launcher.id());
        let _ = std::process::Command::new("kill")
            .args([signal, "--", &group])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

impl Drop for DevCluster {
    fn drop(&mut self) {
        self.signal_group("-INT");
        // Whether it exited in time or not, the group is killed below.
        let _ = support::poll(Duration::from_secs(20), || {
            self.launcher.try_wait().ok().flatten()
        });
        self.signal_group("-KILL");
        let _ = self.launcher.wait();
    }
}

/// The shell block under `## Operator walkthrough` in the README, with its
/// continuation lines joined.
fn readme_walkthrough() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("read README.md");
    let section = readme
        .split_once("## Operator walkthrough")
        .expect("the README has an operator walkthrough")
        .1;
    let block = section
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .expect("the walkthrough has a sh block")
        .0;
    block.replace("\\\n", " ")
}

/// Runs `script` with bash (`-euxo pipefail`: it stops at the first failing
/// command and traces each one) in the environment the CLI tests give
/// `clearledger`, plus `CARGO_TARGET_DIR` for the README's `PATH` line.
fn bash(script: &str) -> std::process::Output {
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_clearledger"));
    let release = binary.parent().expect("target/<profile>");
    assert!(
        release.ends_with("release"),
        "the README's PATH names the release build; run the tests with --release"
    );
    let mut shell = std::process::Command::new("bash");
    for name in [
        "CLEARLEDGER_KEY",
        "CLEARLEDGER_SERVER",
        "CLEARLEDGER_PROFILE",
        "CLEARLEDGER_CONFIG",
        "CLEARLEDGER_OUTPUT",
    ] {
        shell.env_remove(name);
    }
    let home = std::env::temp_dir().join("clearledger-cli-tests-home");
    shell
        .args(["-euxo", "pipefail", "-c", script])
        .env("CARGO_TARGET_DIR", release.parent().expect("target dir"))
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run bash")
}

/// The README's operator walkthrough works as written against
/// `clearledger-node dev` (issue 4): every command in it succeeds, and
/// re-posting its transfer with another amount is refused with exit code 3,
/// as the README says.
#[test]
fn the_readme_walkthrough_works_as_written() {
    let dev = DevCluster::start();
    let port = |n: u16| (dev.base_port + n).to_string();
    let script = readme_walkthrough()
        .replace("8081", &port(0))
        .replace("8082", &port(1))
        .replace("8083", &port(2));
    let output = bash(&script);
    assert!(
        output.status.success(),
        "the walkthrough failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let exports: String = script
        .lines()
        .filter(|line| line.starts_with("export "))
        .map(|line| format!("{line}\n"))
        .collect();
    let repost = format!(
        "{exports}clearledger --key dev-branch-sh01-key transfer post --id walk-1 \
         --debit SH01-C002 --credit BJ01-C002 --amount 260.00 --currency CNY"
    );
    let output = bash(&repost);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("exists_with_different_amount"), "{stderr}");
}

// --- Clearing (issue 6) --------------------------------------------------------
//
// `clearledger windows` and `clearledger caps` driven as a clearing operator
// would, against a real node: a cap that refuses a payment and warns,
// positions as a matrix, close, settle (twice), abort, and the exit codes of
// refusals.

/// HQ (the clearing center, the root) with SH01 and BJ01 under it; clearing
/// and settlement reserve accounts for all three; a funded customer in
/// SH01 and one in BJ01.
fn seed_clearing(cluster: &Cluster) {
    for (code, parent) in [("HQ", None), ("SH01", Some("HQ")), ("BJ01", Some("HQ"))] {
        let mut args = vec!["branches", "create", "--code", code, "--name", code];
        args.extend(parent.map(|p| ["--parent", p]).into_iter().flatten());
        cluster.cli(ADMIN_KEY, &args).ok();
    }
    let operator = [
        "principals",
        "create",
        "--name",
        "op1",
        "--role",
        "operator",
        "--authority",
        "3",
        "--new-key",
        OPERATOR,
    ];
    cluster.cli(ADMIN_KEY, &operator).ok();
    for branch in ["HQ", "SH01", "BJ01"] {
        for (suffix, class, purpose) in [
            ("CLR", "liability", "clearing"),
            ("RSV", "asset", "settlement_reserve"),
            ("CASH", "asset", "internal"),
            ("A", "liability", "customer"),
        ] {
            let id = format!("{branch}-{suffix}");
            let args = [
                "accounts",
                "open",
                "--id",
                &id,
                "--branch",
                branch,
                "--currency",
                "CNY",
                "--class",
                class,
                "--purpose",
                purpose,
            ];
            cluster.cli(OPERATOR, &args).ok();
        }
    }
    clearing_transfer(cluster, "fund-SH01", "SH01-CASH", "SH01-A", "10000.00")
        .ok()
        .stdout_has("posted");
}

fn clearing_transfer(cluster: &Cluster, id: &str, from: &str, to: &str, amount: &str) -> Run {
    let args = [
        "transfer",
        "post",
        "--id",
        id,
        "--from",
        from,
        "--to",
        to,
        "--amount",
        amount,
        "--currency",
        "CNY",
    ];
    cluster.cli(OPERATOR, &args)
}

#[test]
fn an_operator_caps_closes_settles_and_aborts_windows() {
    let cluster = Cluster::start(1);
    seed_clearing(&cluster);
    let cap = [
        "caps",
        "set",
        "--branch",
        "SH01",
        "--currency",
        "CNY",
        "--cap",
        "500.00",
        "--warning-percent",
        "50",
    ];
    cluster.cli(OPERATOR, &cap).code(5).stderr_has("forbidden");
    cluster.cli(ADMIN_KEY, &cap).ok().stdout_has("500.00");
    let negative = ["caps", "set", "--branch", "SH01", "--currency", "CNY"];
    let negative = [&negative[..], &["--cap", "-1.00"]].concat();
    cluster
        .cli(ADMIN_KEY, &negative)
        .code(2)
        .stderr_has("--cap");

    clearing_transfer(&cluster, "t-1", "SH01-A", "BJ01-A", "300.00")
        .ok()
        .stdout_has("posted");
    clearing_transfer(&cluster, "t-2", "SH01-A", "BJ01-A", "300.00")
        .code(3)
        .stderr_has("net_debit_cap_exceeded");
    clearing_transfer(&cluster, "t-3", "BJ01-CASH", "BJ01-A", "50.00").ok();
    clearing_transfer(&cluster, "t-4", "BJ01-A", "SH01-A", "20.00").ok();
    cluster
        .cli(OPERATOR, &["caps", "show"])
        .ok()
        .stdout_has("280.00")
        .stdout_has("50% !");

    let matrix = cluster
        .cli(OPERATOR, &["windows", "positions", "1", "--matrix"])
        .ok()
        .stdout_has("PAYER \\ PAYEE")
        .stdout_has("RECEIVED");
    let sh_row = matrix
        .stdout
        .lines()
        .find(|line| line.starts_with("SH01"))
        .expect("a row for SH01");
    assert!(
        sh_row.contains("300.00"),
        "SH01 paid BJ01 300.00:\n{matrix}"
    );

    cluster
        .cli(OPERATOR, &["windows", "close", "1"])
        .ok()
        .stdout_has("closed");
    cluster
        .cli(OPERATOR, &["windows", "close", "1"])
        .ok()
        .stdout_has("closed");
    let settled = cluster
        .cli(OPERATOR, &["windows", "settle", "1"])
        .ok()
        .stdout_has("settled")
        .stdout_has("stl:1:SH01:CNY")
        .stdout_has("280.00");
    let again = cluster.cli(OPERATOR, &["windows", "settle", "1"]).ok();
    assert_eq!(
        again.stdout, settled.stdout,
        "settling again answers the same"
    );
    let (_, reserve) = cluster.get("/v1/accounts/SH01-RSV", OPERATOR);
    assert_eq!(reserve["balance"]["posted"], "-280.00", "{reserve}");
    let (_, clearing) = cluster.get("/v1/accounts/SH01-CLR", OPERATOR);
    assert_eq!(clearing["balance"]["posted"], "0.00", "{clearing}");
    cluster
        .cli(OPERATOR, &["windows", "abort", "1"])
        .code(3)
        .stderr_has("window_state");

    clearing_transfer(&cluster, "t-5", "SH01-A", "BJ01-A", "40.00").ok();
    cluster.cli(OPERATOR, &["windows", "close", "2"]).ok();
    cluster
        .cli(OPERATOR, &["windows", "abort", "2"])
        .ok()
        .stdout_has("aborted");
    let open = cluster
        .cli(OPERATOR, &["windows", "show", "3", "-o", "json"])
        .ok()
        .json();
    assert_eq!(open["carried_from"], serde_json::json!([2]), "{open}");
    assert_eq!(open["positions"]["bilateral"][0]["amount"], "40.00");
    cluster
        .cli(OPERATOR, &["windows", "list"])
        .ok()
        .stdout_has("Window 3 is open");
}

/// `transfer post --queue-if-over-cap` and `windows queue` (issue 6): a
/// payment over the cap waits in SH01's queue instead of being refused, the
/// same id without the flag is refused by name, and the payment back from
/// BJ01 that makes room releases it: the queue empties and `entries show`
/// tells where it left the queue.
#[test]
fn a_payment_over_the_cap_waits_in_the_queue_until_room_opens() {
    let cluster = Cluster::start(1);
    seed_clearing(&cluster);
    let cap = ["caps", "set", "--branch", "SH01", "--currency", "CNY"];
    let cap = [&cap[..], &["--cap", "500.00"]].concat();
    cluster.cli(ADMIN_KEY, &cap).ok();
    clearing_transfer(&cluster, "t-1", "SH01-A", "BJ01-A", "300.00")
        .ok()
        .stdout_has("posted");
    let queue_flag = ["--queue-if-over-cap"];
    fn queue_args(id: &str) -> Vec<&str> {
        let args = [
            "transfer", "post", "--id", id, "--from", "SH01-A", "--to", "BJ01-A",
        ];
        [&args[..], &["--amount", "300.00", "--currency", "CNY"]].concat()
    }
    let args = [&queue_args("q-1")[..], &queue_flag[..]].concat();
    cluster
        .cli(OPERATOR, &args)
        .ok()
        .stdout_has("queued")
        .stdout_has("clearledger windows queue");
    let listed = cluster
        .cli(OPERATOR, &["windows", "queue"])
        .ok()
        .stdout_has("1 queued; released as room opens, or resolved when window 1 closes.");
    let row = listed
        .stdout
        .lines()
        .find(|line| line.contains("q-1"))
        .expect("a row for q-1");
    let columns: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(columns[..4], ["SH01", "CNY", "q-1", "300.00"], "{listed}");
    let json = cluster
        .cli(OPERATOR, &["windows", "queue", "-o", "json"])
        .ok()
        .json();
    assert_eq!(json["queued"][0]["status"], "queued", "{json}");
    cluster
        .cli(OPERATOR, &queue_args("q-1"))
        .code(3)
        .stderr_has("exists_with_different_queue_if_over_cap");
    let (_, account) = cluster.get("/v1/accounts/SH01-A", OPERATOR);
    assert_eq!(account["balance"]["posted"], "9700.00", "nothing reserved");

    clearing_transfer(&cluster, "t-2", "BJ01-CASH", "BJ01-A", "200.00").ok();
    let room = clearing_transfer(&cluster, "t-3", "BJ01-A", "SH01-A", "150.00")
        .ok()
        .stdout_has("posted");
    let index = room
        .stdout
        .lines()
        .find(|line| line.starts_with("t-3"))
        .and_then(|line| line.split_whitespace().nth(2))
        .expect("t-3's index")
        .to_string();
    cluster
        .cli(OPERATOR, &["windows", "queue"])
        .ok()
        .stdout_has("The liquidity queue is empty.");
    cluster
        .cli(OPERATOR, &["entries", "show", "q-1"])
        .ok()
        .stdout_has("posted")
        .stdout_has(&format!("waited in SH01's queue until index {index}"));
    let (_, account) = cluster.get("/v1/accounts/SH01-A", OPERATOR);
    assert_eq!(account["balance"]["posted"], "9550.00", "{account}");
}

/// `statements issue|returns|report|list|show` as an operator and a branch
/// use them (issue 7 A): the code comes with the issue and is hidden from the
/// branch, a wrong code exits 3 with its code, a dispute without the stated
/// balance is a usage error that sends nothing, and reports export as CSV.
#[test]
fn statements_are_issued_returned_and_reported() {
    let cluster = Cluster::start(1);
    seed(&cluster);
    let fund = cluster
        .cli(AUDITOR, &["entries", "show", "fund-SH01", "-o", "json"])
        .ok()
        .json();
    let cutoff = fund["booked_at"].as_str().expect("booked_at").to_string();
    let due = cutoff[..10].to_string();
    let issue = [
        "statements",
        "issue",
        "--account",
        "SH01-A",
        "--account",
        "SH01-B",
        "--cutoff",
        &cutoff,
        "--due",
        &due,
    ];
    let issued = cluster
        .cli(OPERATOR, &[&issue[..], &["-o", "json"]].concat())
        .ok()
        .json();
    let statements = issued["statements"].as_array().expect("statements");
    assert_eq!(statements.len(), 2, "{issued}");
    let a_id = statements[0]["id"].as_str().unwrap();
    let b_id = statements[1]["id"].as_str().unwrap();
    let a_code = statements[0]["verification_code"].as_str().unwrap();
    let b_code = statements[1]["verification_code"].as_str().unwrap();
    cluster
        .cli(OPERATOR, &issue)
        .ok()
        .stdout_has(a_id)
        .stdout_has("1000000.00")
        .stdout_has("2 statement(s).");
    cluster
        .cli(OPERATOR, &["statements", "issue", "--cutoff", &cutoff])
        .code(2)
        .stderr_has("--due");

    let teller_view = cluster
        .cli(TELLER_SH01, &["statements", "show", a_id, "-o", "json"])
        .ok()
        .json();
    assert_eq!(teller_view["verification_code"], serde_json::Value::Null);
    cluster
        .cli(AUDITOR, &["statements", "show", a_id])
        .ok()
        .stdout_has(a_code)
        .stdout_has("fund-SH01");

    let returns = |id: &str, code: &str, extra: &[&str]| {
        let args = ["statements", "returns", id, "--code", code];
        cluster.cli(TELLER_SH01, &[&args[..], extra].concat())
    };
    returns(a_id, b_code, &["--status", "confirmed"])
        .code(3)
        .stderr_has("verification_code_mismatch")
        .no_debug_dump();
    returns(b_id, b_code, &["--status", "disputed"])
        .code(2)
        .stderr_has("--stated-balance");
    returns(a_id, a_code, &["--status", "confirmed"])
        .ok()
        .stdout_has("reconciled");
    returns(
        b_id,
        b_code,
        &["--status", "disputed", "--stated-balance", "5.00"],
    )
    .ok()
    .stdout_has("disputed")
    .stdout_has("5.00");

    cluster
        .cli(OPERATOR, &["statements", "report", "return-rates"])
        .ok()
        .stdout_has("SH01")
        .stdout_has("100.00");
    let csv = cluster
        .cli(OPERATOR, &["-o", "csv", "statements", "report", "disputes"])
        .ok();
    let rows: Vec<&str> = csv.stdout.lines().collect();
    assert_eq!(
        rows[0],
        "id,branch,account,ccy,closing,stated,difference,due,status,age_(days),bucket"
    );
    assert_eq!(
        rows[1],
        format!("{b_id},SH01,SH01-B,CNY,0.00,5.00,5.00,{due},disputed,0,0-7")
    );
    assert_eq!(rows.len(), 2, "{csv}");
    cluster
        .cli(
            OPERATOR,
            &["statements", "report", "overdue", "--from", "2026-01-01"],
        )
        .code(2)
        .stderr_has("return-rates");
    cluster
        .cli(OPERATOR, &["statements", "list", "--status", "disputed"])
        .ok()
        .stdout_has(b_id)
        .stdout_has("1 statement(s).");

    // Issue 7: the dispute is a break of its own kind, holding the
    // difference, and only that kind is listed.
    let disputes = cluster
        .cli(
            OPERATOR,
            &["breaks", "list", "--kind", "disputed_statement"],
        )
        .ok()
        .stdout_has("1 breaks as of");
    let row = disputes
        .stdout
        .lines()
        .find(|line| line.contains(b_id))
        .expect("a row for the disputed statement");
    let columns: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        columns[1..4],
        ["disputed_statement", "SH01-B", "5.00"],
        "{disputes}"
    );
    let id = columns[0];
    cluster
        .cli(OPERATOR, &["breaks", "list", "--kind", "overdue_return"])
        .ok()
        .stdout_has("0 breaks as of");
    cluster
        .cli(OPERATOR, &["breaks", "list", "--kind", "disputed"])
        .code(3)
        .stderr_has("invalid_query");
    cluster
        .cli(OPERATOR, &["breaks", "show", id])
        .ok()
        .stdout_has(b_id)
        .stdout_has("stated balance")
        .stdout_has("teller-sh01");
}

/// The auditors' commands against a real cluster (issue #8): a trial balance
/// as of a past index, an export that verifies offline and fails at exactly
/// the record whose byte was altered, the node's chain, the trail, period
/// close and the review list.
#[test]
fn audit_commands_against_a_real_cluster() {
    let cluster = Cluster::start(3);
    seed(&cluster);
    let fund = cluster
        .cli(AUDITOR, &["entries", "show", "fund-SH01", "-o", "json"])
        .ok()
        .json();
    let fund_index = fund["booked_index"].as_u64().expect("index").to_string();
    let transfer = [
        "transfer", "post", "--id", "au-1", "--debit", "SH01-A", "--credit", "SH01-B",
    ];
    let transfer = [&transfer[..], &["--amount", "25.00", "--currency", "CNY"]].concat();
    cluster
        .cli(TELLER_SH01, &transfer)
        .ok()
        .stdout_has("posted");

    // The trial balance at the funding index does not see the later transfer.
    let tb = [
        "-o",
        "json",
        "snapshot",
        "trial-balance",
        "--index",
        &fund_index,
    ];
    let then = cluster.cli(AUDITOR, &tb).ok().json();
    assert_eq!(
        then["index"].as_u64().map(|i| i.to_string()),
        Some(fund_index.clone())
    );
    let b = then["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .find(|line| line["account"] == "SH01-B")
        .expect("SH01-B")
        .clone();
    assert_eq!(b["credits_posted"], "0.00", "{then}");
    assert!(
        then["totals"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["balanced"] == true)
    );
    cluster
        .cli(AUDITOR, &["snapshot", "trial-balance", "--branch", "SH01"])
        .ok()
        .stdout_has("Totals per currency")
        .stdout_has("SH01-B");
    cluster
        .cli(
            AUDITOR,
            &["snapshot", "balance", "SH01-B", "--index", &fund_index],
        )
        .ok()
        .stdout_has("0.00");
    cluster
        .cli(
            AUDITOR,
            &["snapshot", "trial-balance", "--index", "999999999"],
        )
        .code(3)
        .stderr_has("point_in_the_future")
        .no_debug_dump();

    // Export, verify offline, alter one byte, verify again.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("journal.jsonl");
    let file_arg = file.display().to_string();
    cluster
        .cli(AUDITOR, &["journal", "export", "--out", &file_arg])
        .ok()
        .stdout_has("exported");
    let run = clearledger(&["audit", "verify", &file_arg]).ok();
    let text = std::fs::read_to_string(&file).expect("export");
    let lines: Vec<&str> = text.lines().collect();
    assert!(run.stdout.contains(&lines.len().to_string()), "{run}");
    let at = lines
        .iter()
        .position(|line| line.contains("\"au-1\""))
        .expect("the transfer's record");
    let altered = lines[at].replacen("\"amount\":2500", "\"amount\":2501", 1);
    assert_ne!(altered, lines[at]);
    let mut tampered = lines.clone();
    tampered[at] = &altered;
    let tampered_file = dir.path().join("tampered.jsonl");
    std::fs::write(&tampered_file, tampered.join("\n")).expect("write");
    let seq = serde_json::from_str::<serde_json::Value>(lines[at]).expect("record")["seq"].clone();
    clearledger(&["audit", "verify", &tampered_file.display().to_string()])
        .code(1)
        .stderr_has(&format!("line {} (record {seq})", at + 1))
        .stderr_has("altered")
        .no_debug_dump();
    let csv = dir.path().join("journal.csv");
    cluster
        .cli(
            AUDITOR,
            &[
                "journal",
                "export",
                "--format",
                "csv",
                "--out",
                &csv.display().to_string(),
            ],
        )
        .ok();
    clearledger(&["audit", "verify", &csv.display().to_string()])
        .ok()
        .stdout_has("the chain verifies");
    cluster
        .cli(AUDITOR, &["audit", "verify"])
        .ok()
        .stdout_has("the chain verifies");

    // Who did it, with which key, from where.
    cluster
        .cli(AUDITOR, &["audit", "trail", "--principal", "teller-sh01"])
        .ok()
        .stdout_has("teller-sh01")
        .stdout_has("EntryBooked");

    // Close the period: a same-day transfer is refused; the reversal posts.
    let today = fund["booked_at"].as_str().expect("booked_at")[..10].to_string();
    cluster
        .cli(
            AUDITOR,
            &["periods", "close", "--branch", "SH01", "--through", &today],
        )
        .code(5);
    cluster
        .cli(
            OPERATOR,
            &["periods", "close", "--branch", "SH01", "--through", &today],
        )
        .ok()
        .stdout_has(&today);
    let late = [&transfer[..3], &["au-2"], &transfer[4..]].concat();
    cluster
        .cli(TELLER_SH01, &late)
        .code(3)
        .stderr_has("period_closed");
    cluster
        .cli(OPERATOR, &["reverse", "au-1", "--reason", "wrong account"])
        .ok();

    // The reversal is flagged; the auditor reviews it; coverage follows.
    let list = cluster
        .cli(AUDITOR, &["-o", "json", "audit", "review", "list"])
        .ok()
        .json();
    assert_eq!(list["entries"][0]["entry"], "rev-au-1", "{list}");
    assert_eq!(list["coverage_percent"], "0.00", "{list}");
    cluster
        .cli(
            AUDITOR,
            &["audit", "review", "mark", "rev-au-1", "--note", "seen"],
        )
        .ok();
    cluster
        .cli(AUDITOR, &["audit", "review", "list"])
        .ok()
        .stdout_has("100.00%");
    cluster
        .cli(AUDITOR, &["audit", "review", "mark", "au-1"])
        .code(3)
        .stderr_has("entry_not_flagged");
}

// --- Reconciliation (issue 7) -------------------------------------------------

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

fn statement(day: &str) -> String {
    format!(
        ":20:CORR-{day}\n:25:CN-CORR-0001\n:28C:7/1\n:60F:C{day}CNY0,00\n:61:{day}C5000,00NTRFPAY-1\n:61:{day}D500,00NTRFNONREF\n:61:{day}D35,00NCHGNONREF\n:62F:C{day}CNY4465,00\n-\n"
    )
}

fn seed_reconciliation(cluster: &Cluster) {
    cluster
        .cli(
            ADMIN_KEY,
            &["branches", "create", "--code", "HQ", "--name", "HQ"],
        )
        .ok();
    for (name, key) in [("op1", OPERATOR), ("op2", OPERATOR_2)] {
        let args = ["principals", "create", "--name", name, "--role", "operator"];
        cluster
            .cli(
                ADMIN_KEY,
                &[&args[..], &["--authority", "3", "--new-key", key]].concat(),
            )
            .ok();
    }
    for (id, class, purpose) in [
        ("HQ-NOSTRO", "asset", "nostro"),
        ("HQ-CUST", "liability", "customer"),
        ("HQ-FEES", "expense", "internal"),
    ] {
        let args = [
            "accounts",
            "open",
            "--id",
            id,
            "--branch",
            "HQ",
            "--currency",
            "CNY",
        ];
        cluster
            .cli(
                OPERATOR,
                &[&args[..], &["--class", class, "--purpose", purpose]].concat(),
            )
            .ok();
    }
    for (id, debit, credit, amount, reference) in [
        ("in-1", "HQ-NOSTRO", "HQ-CUST", "5000.00", Some("PAY-1")),
        ("out-1", "HQ-CUST", "HQ-NOSTRO", "300.00", None),
        ("out-2", "HQ-CUST", "HQ-NOSTRO", "200.00", None),
        ("out-3", "HQ-CUST", "HQ-NOSTRO", "80.00", Some("CHQ-9")),
    ] {
        let mut args = vec![
            "transfer",
            "post",
            "--id",
            id,
            "--debit",
            debit,
            "--credit",
            credit,
            "--amount",
            amount,
            "--currency",
            "CNY",
        ];
        args.extend(reference.iter().flat_map(|r| ["--reference", r]));
        cluster.cli(OPERATOR, &args).ok().stdout_has("posted");
    }
}

/// `clearledger recon` and `clearledger breaks` driven as an operator would,
/// against a real three-node cluster (issue 7): import a correspondent's
/// MT950 (again: the same statement), reconcile it with rules, read the
/// run, and work both breaks — by explanation, and by an adjusting entry the
/// maker may not approve. A malformed statement names its line and sends
/// nothing, with no node at all.
#[test]
fn statements_are_reconciled_and_breaks_worked_through_the_cli() {
    let cluster = Cluster::start(3);
    seed_reconciliation(&cluster);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("corr.950");
    std::fs::write(&file, statement(&today_yymmdd())).expect("write");
    let file = file.display().to_string();

    let imported = cluster
        .cli(
            OPERATOR,
            &[
                "-o",
                "json",
                "recon",
                "import",
                "--account",
                "HQ-NOSTRO",
                &file,
            ],
        )
        .ok()
        .json();
    let id = imported["statements"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    assert_eq!(imported["statements"][0]["line_count"], 3);
    let again = cluster
        .cli(
            OPERATOR,
            &[
                "-o",
                "json",
                "recon",
                "import",
                "--account",
                "HQ-NOSTRO",
                &file,
            ],
        )
        .ok()
        .json();
    assert_eq!(
        again["statements"][0]["id"], imported["statements"][0]["id"],
        "the same statement"
    );
    cluster
        .cli(OPERATOR, &["recon", "statements"])
        .ok()
        .stdout_has(&id)
        .stdout_has("4465.00");

    let run = cluster
        .cli(
            OPERATOR,
            &[
                "-o",
                "json",
                "recon",
                "run",
                "--account",
                "HQ-NOSTRO",
                "--statement",
                &id,
                "--rule",
                "reference",
                "--rule",
                "one_to_many:days=1,max_items=3",
            ],
        )
        .ok()
        .json();
    let rules: Vec<&str> = run["matches"]
        .as_array()
        .expect("matches")
        .iter()
        .map(|m| m["rule"].as_str().expect("rule"))
        .collect();
    assert_eq!(rules, vec!["reference", "one_to_many"], "{run}");
    assert_eq!(run["balance"]["unexplained"], "0.00");
    let run_id = run["id"].to_string();
    cluster
        .cli(OPERATOR, &["recon", "show", &run_id])
        .ok()
        .stdout_has("one_to_many")
        .stdout_has("unmatched_external_line");
    cluster
        .cli(
            OPERATOR,
            &[
                "recon",
                "run",
                "--account",
                "HQ-NOSTRO",
                "--statement",
                &id,
                "--rule",
                "amount_date:weeks=1",
            ],
        )
        .code(2)
        .stderr_has("unknown parameter");

    let breaks = cluster
        .cli(OPERATOR, &["-o", "json", "breaks", "list"])
        .ok()
        .json();
    let find = |kind: &str| {
        breaks["breaks"]
            .as_array()
            .expect("breaks")
            .iter()
            .find(|b| b["kind"] == kind)
            .expect(kind)["id"]
            .to_string()
    };
    let (cheque, fee) = (
        find("unmatched_ledger_item"),
        find("unmatched_external_line"),
    );
    cluster
        .cli(
            OPERATOR,
            &["breaks", "list", "--kind", "unmatched_ledger_item"],
        )
        .ok()
        .stdout_has("ledger:out-3:1");
    cluster
        .cli(
            OPERATOR,
            &[
                "breaks",
                "resolve",
                &cheque,
                "--explain",
                "timing difference: cheque CHQ-9 presented tomorrow",
            ],
        )
        .ok()
        .stdout_has("resolved");
    cluster
        .cli(
            OPERATOR,
            &["breaks", "resolve", &cheque, "--explain", "again"],
        )
        .code(3)
        .stderr_has("break_not_open");

    let adjust = [
        "breaks",
        "resolve",
        &fee,
        "--adjust",
        "adj-fee",
        "--debit",
        "HQ-FEES",
        "--credit",
        "HQ-NOSTRO",
        "--amount",
        "35.00",
        "--currency",
        "CNY",
    ];
    cluster
        .cli(OPERATOR, &adjust)
        .ok()
        .stdout_has("awaiting_approval");
    cluster
        .cli(OPERATOR, &["approvals", "approve", "adj-fee"])
        .code(3)
        .stderr_has("approver_is_poster");
    cluster
        .cli(OPERATOR_2, &["approvals", "approve", "adj-fee"])
        .ok();
    cluster
        .cli(OPERATOR, &["breaks", "show", &fee])
        .ok()
        .stdout_has("adjustment_proposed")
        .stdout_has("adjustment_approved")
        .stdout_has("op2");
    let open = cluster
        .cli(OPERATOR, &["-o", "json", "breaks", "list"])
        .ok()
        .json();
    assert_eq!(open["breaks"], serde_json::json!([]), "no unresolved break");
}

#[test]
fn a_malformed_statement_names_its_line_and_sends_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nowhere = format!("127.0.0.1:{}", free_port());
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path.display().to_string()
    };
    let import = |path: &str| {
        clearledger(&[
            "--server",
            nowhere.as_str(),
            "--key",
            "k",
            "recon",
            "import",
            "--account",
            "HQ-NOSTRO",
            path,
        ])
    };
    let bad_amount = write(
        "amount.sta",
        &statement("261121").replace("C5000,00NTRF", "C5OOO,00NTRF"),
    );
    import(&bad_amount)
        .code(2)
        .stderr_has("line 5")
        .stderr_has("nothing was sent")
        .no_debug_dump();
    let unbalanced = write(
        "unbalanced.sta",
        &statement("261121").replace("CNY4465,00", "CNY4465,01"),
    );
    import(&unbalanced).code(2).stderr_has("does not add up");
    let camt = write(
        "broken.xml",
        "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08\"><BkToCstmrStmt/></Document>",
    );
    import(&camt)
        .code(2)
        .stderr_has("/Document/BkToCstmrStmt")
        .stderr_has("Stmt is missing");
    import(&write("statement.txt", "x"))
        .code(2)
        .stderr_has("--format");
}

/// `clearledger --server <node> --key <key> <args>`: one node only.
fn cli_on(node: &Node, key: &str, args: &[&str]) -> Run {
    let mut full = vec![
        "--server".to_string(),
        node.addr(),
        "--key".into(),
        key.into(),
    ];
    full.extend(args.iter().map(ToString::to_string));
    clearledger(&full)
}

/// The trial balance without the point it was taken at.
fn books(cluster: &Cluster) -> serde_json::Value {
    let (status, mut balance) = cluster.get("/v1/snapshots/trial-balance", AUDITOR);
    assert_eq!(status, 200, "{balance}");
    let object = balance.as_object_mut().expect("an object");
    object.retain(|key, _| !["index", "as_of", "at"].contains(&key.as_str()));
    assert!(
        object
            .get("accounts")
            .and_then(|a| a.as_array())
            .is_some_and(|a| !a.is_empty()),
        "{balance}"
    );
    balance
}

#[test]
fn a_backup_restores_into_a_new_cluster_with_the_same_books() {
    let source = Cluster::start(3);
    seed(&source);
    for (id, amount) in [("bk-1", "12.34"), ("bk-2", "0.01"), ("bk-3", "500")] {
        let args = [
            "transfer", "post", "--id", id, "--debit", "SH01-A", "--credit", "BJ01-A",
        ];
        let args = [&args[..], &["--amount", amount, "--currency", "CNY"]].concat();
        source.cli(OPERATOR, &args).ok().stdout_has("posted");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("cl.backup");
    let path = file.to_str().expect("utf-8 path");
    let header = source
        .cli(ADMIN_KEY, &["-o", "json", "backup", "--to", path])
        .ok()
        .json();
    let (_, digest) = source.get("/v1/cluster/digest", AUDITOR);
    assert_eq!(header["books_digest"], digest["books_digest"], "{header}");
    assert_eq!(
        header["bytes"].as_u64(),
        Some(std::fs::metadata(&file).expect("file").len())
    );
    let source_books = books(&source);
    // Only an admin takes a backup; an existing file is kept unless --force.
    let other = dir.path().join("other.backup");
    source
        .cli(OPERATOR, &["backup", "--to", other.to_str().expect("path")])
        .code(5);
    assert!(!other.exists());
    source
        .cli(ADMIN_KEY, &["backup", "--to", path])
        .code(2)
        .stderr_has("--force");

    let target = Cluster::start_empty(3);
    // A damaged or foreign file is refused by name and installs nothing.
    let mut bytes = std::fs::read(&file).expect("read backup");
    *bytes.last_mut().expect("not empty") ^= 1;
    let damaged = dir.path().join("damaged.backup");
    std::fs::write(&damaged, &bytes).expect("write");
    let damaged = damaged.to_str().expect("path");
    cli_on(target.node(1), ADMIN_KEY, &["restore", "--from", damaged])
        .code(3)
        .stderr_has("backup_damaged");
    let foreign = dir.path().join("notes.txt");
    std::fs::write(&foreign, "not a backup\n").expect("write");
    cli_on(
        target.node(1),
        ADMIN_KEY,
        &["restore", "--from", foreign.to_str().expect("path")],
    )
    .code(2)
    .stderr_has("not a ClearLedger backup");
    cli_on(target.node(1), "wrong-key", &["restore", "--from", path]).code(5);

    let restored = cli_on(
        target.node(1),
        ADMIN_KEY,
        &["-o", "json", "restore", "--from", path],
    )
    .ok()
    .json();
    assert_eq!(restored["index"], header["index"], "{restored}");
    assert_eq!(
        restored["books_digest"], header["books_digest"],
        "{restored}"
    );
    assert_eq!(restored["leader"], 1, "{restored}");
    assert_eq!(restored["bootstrap_key_known"], true, "{restored}");
    // A node that holds data takes no second restore.
    cli_on(target.node(1), ADMIN_KEY, &["restore", "--from", path])
        .code(3)
        .stderr_has("restore_target_not_empty");

    // Grown to three voters the usual way, every replica holds the books.
    for id in [2u64, 3] {
        let addr = target.node(id).addr();
        let id = id.to_string();
        let add = ["cluster", "add-learner", "--id", &id, "--addr", &addr];
        cli_on(target.node(1), ADMIN_KEY, &add).ok();
        cli_on(
            target.node(1),
            ADMIN_KEY,
            &["cluster", "promote", "--id", &id],
        )
        .ok();
    }
    target.wait_until_serving();
    let digests = wait_for(
        "the restored replicas to agree",
        Duration::from_secs(60),
        || {
            let digests: Vec<serde_json::Value> = (1..=3)
                .map(|id| {
                    cli_on(
                        target.node(id),
                        AUDITOR,
                        &["-o", "json", "cluster", "digest"],
                    )
                    .ok()
                    .json()
                })
                .collect();
            let agree = digests.windows(2).all(|pair| {
                pair[0]["digest"] == pair[1]["digest"] && pair[0]["index"] == pair[1]["index"]
            });
            agree.then_some(digests)
        },
    );
    for digest in &digests {
        assert_eq!(digest["books_digest"], header["books_digest"], "{digest}");
        assert_eq!(digest["chain_head"], header["chain_head"], "{digest}");
    }
    assert_eq!(books(&target), source_books);
    // The restored cluster takes writes with the source's keys; the source
    // is untouched by all of this.
    let args = [
        "transfer", "post", "--id", "bk-4", "--debit", "SH01-A", "--credit", "BJ01-A",
    ];
    let args = [&args[..], &["--amount", "1", "--currency", "CNY"]].concat();
    target.cli(OPERATOR, &args).ok().stdout_has("posted");
    assert_ne!(books(&target), source_books);
    assert_eq!(books(&source), source_books);
}

#[test]
fn a_rotated_key_replaces_the_old_and_a_revoked_one_stops_working() {
    let cluster = Cluster::start(3);
    seed(&cluster);
    let fresh = "test-branch-sh01-key-rotated";
    cluster
        .cli(
            ADMIN_KEY,
            &[
                "principals",
                "rotate-key",
                "--name",
                "teller-sh01",
                "--new-key",
                fresh,
            ],
        )
        .ok()
        .stdout_has(fresh)
        .stdout_has("not shown again");
    cluster.cli(TELLER_SH01, &["accounts", "list"]).code(5);
    cluster.cli(fresh, &["accounts", "list"]).ok();
    cluster
        .cli(
            ADMIN_KEY,
            &["principals", "revoke", "--name", "teller-sh01"],
        )
        .ok()
        .stdout_has("revoked");
    cluster
        .cli(fresh, &["accounts", "list"])
        .code(5)
        .stderr_has("unknown API key");
    let list = cluster
        .cli(AUDITOR, &["-o", "json", "principals", "list"])
        .ok()
        .json();
    let teller = list["principals"]
        .as_array()
        .and_then(|all| all.iter().find(|p| p["name"] == "teller-sh01"))
        .cloned()
        .expect("the revoked principal is kept");
    assert_eq!(teller["revoked"], true, "{teller}");
    cluster
        .cli(ADMIN_KEY, &["principals", "list"])
        .ok()
        .stdout_has("revoked");
    cluster
        .cli(
            ADMIN_KEY,
            &["principals", "rotate-key", "--name", "teller-sh01"],
        )
        .code(3)
        .stderr_has("principal_revoked");
    cluster
        .cli(ADMIN_KEY, &["principals", "revoke", "--name", "admin"])
        .code(3)
        .stderr_has("last_admin");
    cluster
        .cli(OPERATOR, &["principals", "revoke", "--name", "aud"])
        .code(5);
    cluster.cli(AUDITOR, &["accounts", "list"]).ok();
}
