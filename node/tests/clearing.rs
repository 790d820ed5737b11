//! Clearing on three real nodes: windows closed while branches post
//! concurrently, settlement, net debit caps over HTTP.

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use support::*;

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
