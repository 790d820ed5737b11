//! `clearledger cluster`: status, members, and membership changes (admin).

use anyhow::Context as _;
use clap::Subcommand;
use serde_json::{Value, json};

use crate::client::{Retry, expect_ok};
use crate::commands::Context;
use crate::output::{Align, Block, Listing, View, field, key_values};

/// Cluster commands.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// What the answering node knows: leader, term, log and applied index, members.
    Status,
    /// The members: voters and learners, and which one leads.
    Members,
    /// Add a node as a learner (admin); it catches up before it can be promoted.
    #[command(
        after_help = "Example:\n  clearledger --key dev-admin-key cluster add-learner --id 4 --addr 127.0.0.1:8084"
    )]
    AddLearner {
        /// The new node's id (never reuse a wiped node's id).
        #[arg(long)]
        id: u64,
        /// Its address as peers reach it (host:port).
        #[arg(long)]
        addr: String,
    },
    /// Make a learner a voter (admin).
    Promote {
        /// The learner's node id.
        #[arg(long)]
        id: u64,
    },
    /// Remove a node from the cluster (admin); wipe it only after this commits.
    Remove {
        /// The node id.
        #[arg(long)]
        id: u64,
    },
    /// The answering node's state digest and audit chain head, to compare replicas.
    Digest,
}

/// Runs a cluster command.
pub fn run(context: &Context, command: &ClusterCommand) -> anyhow::Result<View> {
    let client = context.client()?;
    match command {
        ClusterCommand::Status => Ok(status_view(&expect_ok(client.get("/v1/cluster", &[]))?)),
        ClusterCommand::Members => Ok(members_view(&expect_ok(client.get("/v1/cluster", &[]))?)),
        ClusterCommand::AddLearner { id, addr } => {
            let answer = client.post(
                "/v1/cluster/learners",
                &json!({ "id": id, "addr": addr }),
                Retry::Write,
            );
            let value =
                expect_ok(answer).with_context(|| format!("adding node {id} as a learner"))?;
            Ok(change_view(
                &value,
                &format!("node {id} ({addr}) added as a learner"),
            ))
        }
        ClusterCommand::Promote { id } => {
            let answer = client.post("/v1/cluster/voters", &json!({ "id": id }), Retry::Write);
            let value = expect_ok(answer).with_context(|| format!("promoting node {id}"))?;
            Ok(change_view(&value, &format!("node {id} is now a voter")))
        }
        ClusterCommand::Remove { id } => {
            let answer = client.delete(&format!("/v1/cluster/members/{id}"));
            let value = expect_ok(answer).with_context(|| format!("removing node {id}"))?;
            Ok(change_view(
                &value,
                &format!("node {id} removed from the cluster"),
            ))
        }
        ClusterCommand::Digest => Ok(digest_view(&expect_ok(
            client.get("/v1/cluster/digest", &[]),
        )?)),
    }
}

/// The members table of a cluster status.
pub fn members_listing(status: &Value) -> Listing {
    let leader = status.get("leader").and_then(Value::as_u64);
    let mut listing = Listing::new(&[
        ("ID", Align::Right),
        ("ADDRESS", Align::Left),
        ("ROLE", Align::Left),
        ("LEADER", Align::Left),
    ]);
    for member in status
        .get("members")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let voter = member
            .get("voter")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let is_leader = member
            .get("id")
            .and_then(Value::as_u64)
            .is_some_and(|id| Some(id) == leader);
        listing.push(vec![
            field(member, "id"),
            field(member, "addr"),
            (if voter { "voter" } else { "learner" }).to_string(),
            (if is_leader { "*" } else { "" }).to_string(),
        ]);
    }
    listing
}

/// `cluster status`.
pub fn status_view(status: &Value) -> View {
    let leader = match status.get("leader") {
        Some(Value::Null) | None => "none known".to_string(),
        Some(_) => field(status, "leader"),
    };
    let fields = vec![
        ("node".to_string(), field(status, "node_id")),
        ("state".to_string(), field(status, "state").to_lowercase()),
        ("leader".to_string(), leader),
        ("term".to_string(), field(status, "term")),
        (
            "last log index".to_string(),
            field(status, "last_log_index"),
        ),
        ("last applied".to_string(), field(status, "last_applied")),
        ("snapshot".to_string(), field(status, "snapshot")),
        ("purged".to_string(), field(status, "purged")),
    ];
    View::new(
        status.clone(),
        vec![
            Block::Fields(fields),
            Block::Table {
                caption: Some("Members".into()),
                listing: members_listing(status),
            },
        ],
    )
}

/// `cluster members`.
pub fn members_view(status: &Value) -> View {
    View::new(
        status.clone(),
        vec![Block::Table {
            caption: None,
            listing: members_listing(status),
        }],
    )
}

/// A membership change: what happened, at which index, and the members now.
pub fn change_view(answer: &Value, what: &str) -> View {
    let cluster = answer.get("cluster").cloned().unwrap_or(Value::Null);
    View::new(
        answer.clone(),
        vec![
            Block::Line(format!("{what} (log index {}).", field(answer, "index"))),
            Block::Table {
                caption: None,
                listing: members_listing(&cluster),
            },
        ],
    )
}

/// `cluster digest`.
pub fn digest_view(digest: &Value) -> View {
    let fields = key_values(
        digest,
        &[
            ("node", "node_id"),
            ("index", "index"),
            ("digest", "digest"),
            ("books digest", "books_digest"),
            ("chain seq", "chain_seq"),
            ("chain head", "chain_head"),
            ("entries", "entries"),
        ],
    );
    View::new(digest.clone(), vec![fields])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::tests::table;

    fn status() -> Value {
        json!({
            "node_id": 2, "state": "Follower", "leader": 1, "term": 3, "last_log_index": 57,
            "last_applied": 57, "snapshot": null, "purged": null,
            "members": [
                {"id": 1, "addr": "127.0.0.1:8081", "voter": true},
                {"id": 2, "addr": "127.0.0.1:8082", "voter": true},
                {"id": 3, "addr": "127.0.0.1:8083", "voter": true},
                {"id": 4, "addr": "127.0.0.1:8084", "voter": false}
            ]
        })
    }

    #[test]
    fn status_table() {
        insta::assert_snapshot!(table(&status_view(&status())));
    }

    #[test]
    fn members_table_marks_the_leader_and_learners() {
        insta::assert_snapshot!(table(&members_view(&status())));
    }
}
