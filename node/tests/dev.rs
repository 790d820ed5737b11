//! `clearledger-node dev`: a signal to it stops its three nodes, whenever it
//! comes, so no node is left running without it.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

#[path = "support/poll.rs"]
mod poll;
use poll::poll;

/// A port with the next two free as well, for the three dev nodes.
fn three_free_ports() -> u16 {
    for _ in 0..100 {
        let first = TcpListener::bind("127.0.0.1:0").expect("bind :0");
        let base = first.local_addr().expect("addr").port();
        if base > u16::MAX - 2 {
            continue;
        }
        let rest: Vec<_> = (1..=2)
            .map(|n| TcpListener::bind(("127.0.0.1", base + n)))
            .collect();
        if rest.iter().all(Result::is_ok) {
            return base;
        }
    }
    panic!("found no three free consecutive ports");
}

/// The processes whose parent is `pid`.
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|child| {
            // The parent is the second field after the command's closing parenthesis.
            std::fs::read_to_string(format!("/proc/{child}/stat")).is_ok_and(|stat| {
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
                    == Some(pid)
            })
        })
        .collect()
}

fn is_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    })
}

fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([name, &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {name} {pid}");
}

#[test]
fn sigterm_while_the_cluster_starts_stops_all_three_nodes() {
    let root = tempfile::tempdir().expect("tempdir");
    let mut dev = Command::new(env!("CARGO_BIN_EXE_clearledger-node"))
        .args(["dev", "--no-demo", "--base-port"])
        .arg(three_free_ports().to_string())
        .arg("--data-dir")
        .arg(root.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start clearledger-node dev");
    let nodes = poll(Duration::from_secs(20), || {
        let nodes = children_of(dev.id());
        (nodes.len() == 3).then_some(nodes)
    });
    let Some(nodes) = nodes else {
        let _ = dev.kill();
        panic!("dev did not start three nodes within 20 s");
    };
    // At once: the cluster is still starting (bootstrapping, electing).
    signal(dev.id(), "-TERM");
    let exited = poll(Duration::from_secs(30), || dev.try_wait().ok().flatten());
    let left: Vec<u32> = poll(Duration::from_secs(30), || {
        nodes
            .iter()
            .all(|&node| !is_alive(node))
            .then_some(Vec::new())
    })
    .unwrap_or_else(|| {
        nodes
            .iter()
            .copied()
            .filter(|&node| is_alive(node))
            .collect()
    });
    for &node in &left {
        signal(node, "-KILL");
    }
    if exited.is_none() {
        let _ = dev.kill();
    }
    assert!(left.is_empty(), "nodes {left:?} outlived dev");
    assert!(
        exited.is_some_and(|status| status.success()),
        "dev did not exit cleanly on SIGTERM: {exited:?}"
    );
}
