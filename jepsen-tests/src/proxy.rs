//! A small TCP proxy between every pair of nodes, for delays and drops
//! (this kernel has no `tc netem`).
//!
//! In each node namespace, a DNAT rule (see [`netns`]) sends node `a`'s
//! connections to node `b`'s port to the hub, at [`port`]`(a, b)`, where
//! this proxy (running inside the harness, in the hub) relays them to `b`.
//! Every byte between nodes — Raft RPCs and forwarded client requests —
//! passes through one [`Link`] per ordered pair, which the nemesis can
//! slow down (each chunk held back by a delay with jitter, order kept) or
//! make lossy (each chunk, and each new connection, cut with some
//! probability). Client traffic from the harness goes to the nodes directly.
//!
//! [`netns`]: crate::netns

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use crate::netns::{self, HUB_IP, NODE_PORT};

/// The hub port that carries traffic from node `from` to node `to` (slots).
pub fn port(from: usize, to: usize) -> u16 {
    let pair = u16::try_from(from * 10 + to).expect("slots are single digits");
    7000 + pair
}

/// What a link does to the bytes it carries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Relays at once.
    Pass,
    /// Holds each chunk back by `base_ms` plus up to `jitter_ms`.
    Delay {
        /// The least delay.
        base_ms: u64,
        /// The most added at random.
        jitter_ms: u64,
    },
    /// Cuts a connection, at each chunk and at each new connection, with
    /// probability `per_mille` / 1000.
    Drop {
        /// Chance of a cut, per mille.
        per_mille: u32,
    },
}

/// One direction between two nodes.
pub struct Link {
    mode: Mutex<Mode>,
}

impl Link {
    fn mode(&self) -> Mode {
        *self
            .mode
            .lock()
            .expect("no panics while holding a link's mode")
    }

    /// Whether to cut the connection now.
    fn cuts(&self) -> bool {
        match self.mode() {
            Mode::Drop { per_mille } => rand::rng().random_range(0..1000) < per_mille,
            _ => false,
        }
    }

    /// How long to hold back the next chunk.
    fn delay(&self) -> Duration {
        match self.mode() {
            Mode::Delay { base_ms, jitter_ms } => {
                Duration::from_millis(base_ms + rand::rng().random_range(0..=jitter_ms))
            }
            _ => Duration::ZERO,
        }
    }
}

/// Every link of a run, keyed by `(from, to)` slots.
pub struct Proxy {
    links: BTreeMap<(usize, usize), Arc<Link>>,
    tasks: tokio::task::JoinSet<()>,
}

impl Proxy {
    /// Listens on the hub for every ordered pair of `slots` nodes.
    pub async fn start(slots: usize) -> anyhow::Result<Proxy> {
        let mut proxy = Proxy {
            links: BTreeMap::new(),
            tasks: tokio::task::JoinSet::new(),
        };
        for from in 1..=slots {
            for to in (1..=slots).filter(|to| *to != from) {
                let link = Arc::new(Link {
                    mode: Mutex::new(Mode::Pass),
                });
                let listen = format!("{HUB_IP}:{}", port(from, to));
                let listener = TcpListener::bind(&listen)
                    .await
                    .with_context(|| format!("the proxy cannot listen on {listen}"))?;
                let upstream = format!("{}:{NODE_PORT}", netns::node_ip(to));
                proxy
                    .tasks
                    .spawn(accept(listener, upstream, Arc::clone(&link)));
                proxy.links.insert((from, to), link);
            }
        }
        Ok(proxy)
    }

    /// Sets the mode of the link from `from` to `to`.
    pub fn set(&self, from: usize, to: usize, mode: Mode) {
        if let Some(link) = self.links.get(&(from, to)) {
            *link
                .mode
                .lock()
                .expect("no panics while holding a link's mode") = mode;
        }
    }

    /// Every link back to [`Mode::Pass`].
    pub fn heal(&self) {
        for link in self.links.values() {
            *link
                .mode
                .lock()
                .expect("no panics while holding a link's mode") = Mode::Pass;
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.tasks.abort_all();
    }
}

async fn accept(listener: TcpListener, upstream: String, link: Arc<Link>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((downstream, _)) = listener.accept().await else {
            // Out of descriptors, say: try again shortly rather than spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        while connections.try_join_next().is_some() {}
        connections.spawn(relay(downstream, upstream.clone(), Arc::clone(&link)));
    }
}

/// Relays one connection both ways until both sides finish or the link cuts it.
async fn relay(downstream: TcpStream, upstream: String, link: Arc<Link>) {
    if link.cuts() {
        return;
    }
    let connect = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(&upstream));
    let Ok(Ok(upstream)) = connect.await else {
        return;
    };
    let _ = downstream.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (down_read, down_write) = downstream.into_split();
    let (up_read, up_write) = upstream.into_split();
    let cut = Notify::new();
    tokio::select! {
        () = async {
            tokio::join!(
                pipe(down_read, up_write, &link, &cut),
                pipe(up_read, down_write, &link, &cut),
            );
        } => {}
        () = cut.notified() => {}
    }
}

/// Copies one direction, each chunk delivered after the link's delay, in
/// order; a cut ends the whole connection.
async fn pipe(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, link: &Link, cut: &Notify) {
    let (chunks, mut due) = mpsc::channel::<(Instant, Vec<u8>)>(256);
    let read = async move {
        let mut buffer = vec![0_u8; 64 * 1024];
        loop {
            let n = match from.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if link.cuts() {
                cut.notify_one();
                return;
            }
            let at = Instant::now() + link.delay();
            if chunks.send((at, buffer[..n].to_vec())).await.is_err() {
                return;
            }
        }
    };
    let write = async move {
        while let Some((at, chunk)) = due.recv().await {
            tokio::time::sleep_until(at).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(read, write);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server on an ephemeral loopback port, and a link in front of it.
    async fn echo_behind_link(mode: Mode) -> (std::net::SocketAddr, tokio::task::JoinSet<()>) {
        let mut tasks = tokio::task::JoinSet::new();
        let echo = TcpListener::bind("127.0.0.1:0").await.expect("bind echo");
        let upstream = echo.local_addr().expect("echo address").to_string();
        tasks.spawn(async move {
            loop {
                let Ok((mut stream, _)) = echo.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let (mut read, mut write) = stream.split();
                    let _ = tokio::io::copy(&mut read, &mut write).await;
                });
            }
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let address = listener.local_addr().expect("proxy address");
        let link = Arc::new(Link {
            mode: Mutex::new(mode),
        });
        tasks.spawn(accept(listener, upstream, link));
        (address, tasks)
    }

    /// Sends `chunks` one write at a time, then reads everything echoed back.
    async fn round_trip(address: std::net::SocketAddr, chunks: &[Vec<u8>]) -> Vec<u8> {
        let mut stream = TcpStream::connect(address).await.expect("connect");
        for chunk in chunks {
            if stream.write_all(chunk).await.is_err() {
                break;
            }
            tokio::task::yield_now().await;
        }
        let _ = stream.shutdown().await;
        let mut echoed = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut echoed));
        let _ = read.await.expect("the proxy ends the connection");
        echoed
    }

    fn numbered_chunks() -> Vec<Vec<u8>> {
        (0..200_u32).map(|n| n.to_be_bytes().repeat(8)).collect()
    }

    #[tokio::test]
    async fn a_passing_link_relays_every_byte_in_order() {
        let (address, _tasks) = echo_behind_link(Mode::Pass).await;
        let chunks = numbered_chunks();
        assert_eq!(round_trip(address, &chunks).await, chunks.concat());
    }

    #[tokio::test]
    async fn a_delaying_link_keeps_every_byte_in_order_despite_jitter() {
        let mode = Mode::Delay {
            base_ms: 1,
            jitter_ms: 5,
        };
        let (address, _tasks) = echo_behind_link(mode).await;
        let chunks = numbered_chunks();
        assert_eq!(round_trip(address, &chunks).await, chunks.concat());
    }

    #[tokio::test]
    async fn a_link_that_always_drops_cuts_every_connection() {
        let (address, _tasks) = echo_behind_link(Mode::Drop { per_mille: 1000 }).await;
        let chunks = numbered_chunks();
        assert!(round_trip(address, &chunks).await.is_empty());
    }

    #[test]
    fn every_ordered_pair_has_its_own_port() {
        let mut ports: Vec<u16> = (1..=5)
            .flat_map(|a| (1..=5).filter(move |b| *b != a).map(move |b| port(a, b)))
            .collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 20);
    }
}
