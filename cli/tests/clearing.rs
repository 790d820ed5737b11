//! `clearledger windows` and `clearledger caps` driven as a clearing operator
//! would, against a real node (issue 6): a cap that refuses a payment and
//! warns, positions as a matrix, close, settle (twice), abort, and the exit
//! codes of refusals.

mod support;

use support::*;

const OPERATOR: &str = "test-operator-key-1";

/// HQ (the clearing center, the root) with SH01 and BJ01 under it; clearing
/// and settlement reserve accounts for all three; a funded customer in
/// SH01 and one in BJ01.
fn seed(cluster: &Cluster) {
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
    transfer(cluster, "fund-SH01", "SH01-CASH", "SH01-A", "10000.00")
        .ok()
        .stdout_has("posted");
}

fn transfer(cluster: &Cluster, id: &str, from: &str, to: &str, amount: &str) -> Run {
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
    seed(&cluster);
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

    transfer(&cluster, "t-1", "SH01-A", "BJ01-A", "300.00")
        .ok()
        .stdout_has("posted");
    transfer(&cluster, "t-2", "SH01-A", "BJ01-A", "300.00")
        .code(3)
        .stderr_has("net_debit_cap_exceeded");
    transfer(&cluster, "t-3", "BJ01-CASH", "BJ01-A", "50.00").ok();
    transfer(&cluster, "t-4", "BJ01-A", "SH01-A", "20.00").ok();
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

    transfer(&cluster, "t-5", "SH01-A", "BJ01-A", "40.00").ok();
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
