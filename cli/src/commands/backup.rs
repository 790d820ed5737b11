//! `clearledger backup` and `clearledger restore` (admin): a consistent
//! backup of a running cluster, taken from a Raft snapshot, written to a
//! file; and that file installed on a new node, which then leads a
//! one-voter cluster holding it.
//!
//! The file starts with two text lines, `CLEARLEDGER-BACKUP <version>` and
//! a JSON header (index, digests, payload length and SHA-256); the node
//! checks all of it on restore. This side reads the header to report it and
//! to check that a download is whole.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use serde_json::Value;

use crate::client::{Retry, expect_ok};
use crate::commands::Context;
use crate::exit::usage;
use crate::output::{Block, View, key_values};

/// The first word of every backup file.
const MAGIC: &str = "CLEARLEDGER-BACKUP";
/// Backups and restores move the whole ledger: each waits at least this
/// long for a node's answer (more with `--timeout`).
const PATIENCE: Duration = Duration::from_secs(600);

/// `clearledger backup`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  clearledger --key \"$ADMIN_KEY\" backup --to /backups/clearledger-2026-12-02.backup"
)]
pub struct BackupArgs {
    /// The file to write (written whole, then renamed into place).
    #[arg(long, value_name = "FILE")]
    pub to: PathBuf,
    /// Replace FILE if it exists.
    #[arg(long)]
    pub force: bool,
}

/// `clearledger restore`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example (onto a new node started with bootstrap = false and its admin_key):\n  \
    clearledger --server 10.0.0.1:8080 --key \"$ADMIN_KEY\" restore --from /backups/clearledger-2026-12-02.backup\n  \
    clearledger --server 10.0.0.1:8080 --key \"$ADMIN_KEY\" cluster add-learner --id 2 --addr 10.0.0.2:8080\n  \
    clearledger --server 10.0.0.1:8080 --key \"$ADMIN_KEY\" cluster promote --id 2"
)]
pub struct RestoreArgs {
    /// The backup file.
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,
}

/// What a backup's header says, as the fields of a view.
const HEADER_FIELDS: [(&str, &str); 9] = [
    ("index", "index"),
    ("term", "term"),
    ("digest", "digest"),
    ("books digest", "books_digest"),
    ("chain seq", "chain_seq"),
    ("entries", "entries"),
    ("accounts", "accounts"),
    ("taken by node", "taken_by"),
    ("taken at", "taken_at"),
];

/// Reads the two header lines of a backup file: its version and its header.
fn read_header(reader: &mut impl BufRead, name: &Path) -> anyhow::Result<(String, Value)> {
    let mut first = String::new();
    reader
        .read_line(&mut first)
        .with_context(|| format!("cannot read {}", name.display()))?;
    if !first.starts_with(MAGIC) {
        return Err(usage(format!(
            "{} is not a ClearLedger backup (it does not start with {MAGIC})",
            name.display()
        )));
    }
    let mut header = String::new();
    reader
        .read_line(&mut header)
        .with_context(|| format!("cannot read {}", name.display()))?;
    let parsed: Value = serde_json::from_str(&header).map_err(|error| {
        usage(format!(
            "{} is damaged: its header does not parse ({error})",
            name.display()
        ))
    })?;
    Ok((first + &header, parsed))
}

/// `clearledger backup --to FILE`.
pub fn backup(context: &Context, args: &BackupArgs) -> anyhow::Result<View> {
    if args.to.exists() && !args.force {
        return Err(usage(format!(
            "{} exists; pass --force to replace it",
            args.to.display()
        )));
    }
    let client = context.client()?.patient(PATIENCE)?;
    let response = match client.get_stream("/v1/admin/backup", &[]) {
        Ok(Ok(response)) => response,
        Ok(Err(problem)) => return Err(problem.into_error()),
        Err(transport) => return Err(transport.into_error()),
    };
    let mut reader = BufReader::new(response);
    let (lines, header) = read_header(&mut reader, Path::new("the node's answer"))?;
    let partial = partial_path(&args.to);
    let written = write_whole(&partial, &lines, &mut reader).inspect_err(|_| {
        let _ = std::fs::remove_file(&partial);
    })?;
    let expected = header["payload_bytes"].as_u64().unwrap_or_default();
    if written != expected {
        let _ = std::fs::remove_file(&partial);
        anyhow::bail!(
            "the backup was cut off: {written} of {expected} payload bytes arrived; nothing was kept"
        );
    }
    std::fs::rename(&partial, &args.to)
        .with_context(|| format!("cannot move the backup to {}", args.to.display()))?;
    if let Some(dir) = args.to.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("cannot sync {}", dir.display()))?;
    }
    let bytes = lines.len() as u64 + written;
    let mut json = header.clone();
    json["file"] = args.to.display().to_string().into();
    json["bytes"] = bytes.into();
    let summary = Block::Line(format!(
        "backup of index {} written to {} ({bytes} bytes)",
        header["index"],
        args.to.display()
    ));
    Ok(View::new(
        json,
        vec![summary, key_values(&header, &HEADER_FIELDS)],
    ))
}

/// `FILE.partial`, beside FILE.
fn partial_path(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    file.with_file_name(name)
}

/// Writes `lines` then the rest of `reader` to `path`, synced; answers the
/// bytes that followed the lines.
fn write_whole(path: &Path, lines: &str, reader: &mut impl Read) -> anyhow::Result<u64> {
    let mut file =
        File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(lines.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    let written = std::io::copy(reader, &mut file).context("the backup was cut off")?;
    file.sync_all()
        .with_context(|| format!("cannot sync {}", path.display()))?;
    Ok(written)
}

/// `clearledger restore --from FILE`.
pub fn restore(context: &Context, args: &RestoreArgs) -> anyhow::Result<View> {
    let bytes = std::fs::read(&args.from)
        .with_context(|| format!("cannot read {}", args.from.display()))?;
    read_header(&mut bytes.as_slice(), &args.from)?;
    let client = context.client()?.patient(PATIENCE)?;
    let answer = expect_ok(client.post_raw(
        "/v1/admin/restore",
        &[],
        &bytes,
        "application/octet-stream",
        Retry::Write,
    ))
    .with_context(|| format!("restoring {}", args.from.display()))?;
    let node = &answer["node_id"];
    let mut blocks = vec![Block::Line(match answer["leader"].as_u64() {
        Some(_) => format!(
            "restored index {} on node {node}, which now leads a one-voter cluster; \
             add the other nodes with `cluster add-learner` and `cluster promote`",
            answer["index"]
        ),
        None => format!(
            "restored index {} on node {node}; it has not yet elected itself leader \
             (see `cluster status`)",
            answer["index"]
        ),
    })];
    blocks.push(key_values(
        &answer,
        &[
            ("node", "node_id"),
            ("index", "index"),
            ("digest", "digest"),
            ("books digest", "books_digest"),
            ("chain seq", "chain_seq"),
            ("entries", "entries"),
            ("accounts", "accounts"),
            ("taken at", "taken_at"),
            ("admin key known", "bootstrap_key_known"),
        ],
    ));
    if answer["bootstrap_key_known"] == Value::Bool(false) {
        blocks.push(Block::Line(
            "note: this node's admin_key is not among the restored principals; \
             use the backed-up cluster's keys"
                .into(),
        ));
    }
    Ok(View::new(answer, blocks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_read_and_foreign_files_are_refused() {
        let file = b"CLEARLEDGER-BACKUP 1\n{\"index\":42}\n\x00\x01payload";
        let (lines, header) = read_header(&mut file.as_slice(), Path::new("f")).expect("reads");
        assert_eq!(header["index"], 42);
        assert_eq!(lines.len(), 34);
        let foreign = read_header(&mut b"PK\x03\x04".as_slice(), Path::new("f.zip"));
        assert!(
            foreign
                .unwrap_err()
                .to_string()
                .contains("not a ClearLedger backup")
        );
        let damaged = read_header(
            &mut b"CLEARLEDGER-BACKUP 1\n{\"ind".as_slice(),
            Path::new("f"),
        );
        assert!(damaged.unwrap_err().to_string().contains("damaged"));
    }

    #[test]
    fn a_partial_file_sits_beside_its_target() {
        assert_eq!(
            partial_path(Path::new("/b/x.backup")),
            PathBuf::from("/b/x.backup.partial")
        );
        assert_eq!(partial_path(Path::new("x")), PathBuf::from("x.partial"));
    }
}
