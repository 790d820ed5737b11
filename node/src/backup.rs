//! The backup file: one Raft snapshot of the ledger, with a header a person
//! (and `clearledger`) can read without decoding it.
//!
//! ```text
//! CLEARLEDGER-BACKUP 1\n
//! {"index":…,"digest":"…",…}\n      the header: one line of JSON
//! <payload>                          codec::encode(&(snapshot meta, snapshot bytes))
//! ```
//!
//! A backup is taken from a snapshot, so it is one consistent view: the
//! ledger exactly as it stood after applying log index `index`. The header
//! carries the payload's length and SHA-256, and the digests of the ledger
//! the payload restores to; [`read`] checks all of them, so a truncated,
//! altered or foreign file is refused by name before anything is installed.

use ledger::Ledger;
use openraft::SnapshotMeta;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::codec;
use crate::raft::types::NodeId;

/// The first line of every backup file, without its version.
pub const MAGIC: &str = "CLEARLEDGER-BACKUP";
/// The version of the file layout this build writes and reads.
pub const VERSION: u32 = 1;

type Meta = SnapshotMeta<NodeId, openraft::BasicNode>;

/// What a backup holds, readable without decoding the payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// The node codec format of the payload (`codec::FORMAT`).
    pub node_format: u8,
    /// The ledger snapshot format inside it (`ledger::SNAPSHOT_FORMAT`).
    pub snapshot_format: u8,
    /// The log index the ledger was applied to.
    pub index: u64,
    /// The Raft term of that log entry.
    pub term: u64,
    /// [`Ledger::digest`], hex: what `/v1/cluster/digest` showed at `index`.
    pub digest: String,
    /// [`Ledger::books_digest`], hex: what a restored cluster keeps.
    pub books_digest: String,
    /// The audit chain's sequence number and head, hex.
    pub chain_seq: u64,
    /// The audit chain head, hex.
    pub chain_head: String,
    /// Journal entries in the ledger.
    pub entries: u64,
    /// Accounts in the ledger.
    pub accounts: u64,
    /// The node that wrote the backup.
    pub taken_by: NodeId,
    /// When, by that node's clock (RFC 3339; informational only).
    pub taken_at: String,
    /// The payload's length in bytes.
    pub payload_bytes: u64,
    /// The payload's SHA-256, hex.
    pub payload_sha256: String,
}

/// Why a file cannot be restored.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// Not a ClearLedger backup at all.
    #[error("not a ClearLedger backup: the file does not start with {MAGIC:?}")]
    NotABackup,
    /// A backup of a layout this build does not read.
    #[error("backup file version {found} is not supported; this build reads version {VERSION}")]
    Version {
        /// What the file says.
        found: String,
    },
    /// Written by a build of another data format.
    #[error("{0}")]
    Incompatible(String),
    /// Damaged: truncated, altered, or inconsistent with its header.
    #[error("the backup is damaged: {0}")]
    Damaged(String),
}

impl BackupError {
    /// The stable code the API answers with.
    pub fn code(&self) -> &'static str {
        match self {
            BackupError::NotABackup => "not_a_backup",
            BackupError::Version { .. } | BackupError::Incompatible(_) => "backup_incompatible",
            BackupError::Damaged(_) => "backup_damaged",
        }
    }
}

/// A backup that passed every check, ready to install.
pub struct Checked {
    /// Its header.
    pub header: Header,
    /// The snapshot's meta as the source cluster wrote it.
    pub meta: Meta,
    /// The ledger snapshot.
    pub data: Vec<u8>,
}

fn hex_digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Writes the backup file for the snapshot `meta` describes and `data`
/// holds, taken by node `taken_by` at `taken_at`. Decodes the snapshot once,
/// so that a backup that could not be restored is never written.
pub fn write(
    meta: &Meta,
    data: &[u8],
    taken_by: NodeId,
    taken_at: String,
) -> Result<(Header, Vec<u8>), BackupError> {
    let log_id = meta
        .last_log_id
        .ok_or_else(|| BackupError::Damaged("the snapshot holds no applied entry".into()))?;
    let ledger = Ledger::from_snapshot(data, false)
        .map_err(|error| BackupError::Damaged(format!("the snapshot does not restore: {error}")))?;
    let payload = codec::encode(&(meta, data));
    let (chain_seq, chain_head) = ledger.chain_head();
    let header = Header {
        node_format: codec::FORMAT,
        snapshot_format: ledger::SNAPSHOT_FORMAT,
        index: log_id.index,
        term: log_id.leader_id.term,
        digest: hex::encode(ledger.digest()),
        books_digest: hex::encode(ledger.books_digest()),
        chain_seq,
        chain_head: hex::encode(chain_head),
        entries: ledger.entry_count() as u64,
        accounts: ledger.accounts().count() as u64,
        taken_by,
        taken_at,
        payload_bytes: payload.len() as u64,
        payload_sha256: hex_digest(&payload),
    };
    let mut file = format!(
        "{MAGIC} {VERSION}\n{}\n",
        serde_json::to_string(&header).expect("a header serializes")
    )
    .into_bytes();
    file.extend_from_slice(&payload);
    Ok((header, file))
}

/// Splits off the text up to the next newline.
fn line(bytes: &[u8]) -> Option<(&str, &[u8])> {
    let end = bytes.iter().position(|&b| b == b'\n')?;
    let text = std::str::from_utf8(&bytes[..end]).ok()?;
    Some((text, &bytes[end + 1..]))
}

/// Reads and checks a backup file: its layout version, its payload against
/// the header's length and hash, its data formats, and the ledger it
/// restores to against the header's digests.
pub fn read(file: &[u8]) -> Result<Checked, BackupError> {
    if !file.starts_with(MAGIC.as_bytes()) {
        return Err(BackupError::NotABackup);
    }
    let (first, rest) = line(file).ok_or(BackupError::NotABackup)?;
    let version = first[MAGIC.len()..].trim();
    if version != VERSION.to_string() {
        return Err(BackupError::Version {
            found: version.chars().take(20).collect(),
        });
    }
    let (header, payload) =
        line(rest).ok_or_else(|| BackupError::Damaged("the header line is cut off".into()))?;
    let header: Header = serde_json::from_str(header)
        .map_err(|error| BackupError::Damaged(format!("the header does not parse: {error}")))?;
    if header.node_format != codec::FORMAT {
        return Err(BackupError::Incompatible(format!(
            "the backup was written with data format {}; this build reads format {}",
            header.node_format,
            codec::FORMAT
        )));
    }
    if header.snapshot_format != ledger::SNAPSHOT_FORMAT {
        return Err(BackupError::Incompatible(format!(
            "the backup holds ledger snapshot format {}; this build reads format {}",
            header.snapshot_format,
            ledger::SNAPSHOT_FORMAT
        )));
    }
    if payload.len() as u64 != header.payload_bytes {
        return Err(BackupError::Damaged(format!(
            "the payload is {} bytes; the header says {}",
            payload.len(),
            header.payload_bytes
        )));
    }
    if hex_digest(payload) != header.payload_sha256 {
        return Err(BackupError::Damaged(
            "the payload's SHA-256 is not the one in the header".into(),
        ));
    }
    let (meta, data): (Meta, Vec<u8>) = codec::decode(payload)
        .map_err(|error| BackupError::Damaged(format!("the payload does not decode: {error}")))?;
    let index = meta.last_log_id.map(|id| id.index);
    if index != Some(header.index) {
        return Err(BackupError::Damaged(format!(
            "the snapshot is at index {index:?}; the header says {}",
            header.index
        )));
    }
    let ledger = Ledger::from_snapshot(&data, false)
        .map_err(|error| BackupError::Damaged(format!("the ledger does not restore: {error}")))?;
    if hex::encode(ledger.digest()) != header.digest
        || hex::encode(ledger.books_digest()) != header.books_digest
    {
        return Err(BackupError::Damaged(
            "the restored ledger's digest is not the one in the header".into(),
        ));
    }
    Ok(Checked { header, meta, data })
}

#[cfg(test)]
mod tests {
    use ledger::{Actor, Command, CommandKind, NewBranch, Timestamp};
    use openraft::{CommittedLeaderId, LogId, StoredMembership};

    use super::*;

    fn snapshot_of(ledger: &Ledger) -> (Meta, Vec<u8>) {
        let data = ledger.to_snapshot();
        let log_id = LogId::new(CommittedLeaderId::new(3, 1), ledger.applied_index());
        let meta = Meta {
            last_log_id: Some(log_id),
            last_membership: StoredMembership::default(),
            snapshot_id: "test".into(),
        };
        (meta, data)
    }

    fn ledger() -> Ledger {
        let mut ledger = Ledger::new();
        let command = Command {
            at: Timestamp(1_000_000),
            actor: Actor::system(),
            kind: CommandKind::CreateBranch(NewBranch {
                code: "HQ".parse().expect("code"),
                name: "Head office".into(),
                parent: None,
                kind: ledger::BranchKind::Internal,
            }),
        };
        let applied = ledger.apply(7, vec![command]);
        assert!(applied[0].outcome.is_ok());
        ledger
    }

    fn backup() -> (Header, Vec<u8>) {
        let ledger = ledger();
        let (meta, data) = snapshot_of(&ledger);
        write(&meta, &data, 2, "2026-12-02T00:00:00.000000Z".into()).expect("writes")
    }

    /// `file` with its header changed by `change` and its payload kept.
    fn with_header(file: &[u8], change: impl FnOnce(&mut Header)) -> Vec<u8> {
        let (first, rest) = line(file).expect("magic line");
        let (header, payload) = line(rest).expect("header line");
        let mut header: Header = serde_json::from_str(header).expect("header");
        change(&mut header);
        let mut out =
            format!("{first}\n{}\n", serde_json::to_string(&header).unwrap()).into_bytes();
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn a_backup_reads_back_with_its_header_and_snapshot() {
        let source = ledger();
        let (header, file) = backup();
        assert_eq!(header.index, 7);
        assert_eq!(header.term, 3);
        assert_eq!(header.digest, hex::encode(source.digest()));
        let checked = read(&file).expect("reads");
        assert_eq!(checked.header, header);
        assert_eq!(checked.data, source.to_snapshot());
        assert_eq!(checked.meta.last_log_id.map(|id| id.index), Some(7));
    }

    #[test]
    fn every_damage_is_refused_by_name() {
        let (header, file) = backup();
        let code = |bytes: &[u8]| read(bytes).err().map(|error| error.code());
        assert_eq!(code(b"PK\x03\x04 a zip file"), Some("not_a_backup"));
        assert_eq!(code(b""), Some("not_a_backup"));
        let mut newer = file.clone();
        newer[MAGIC.len() + 1] = b'9';
        assert_eq!(code(&newer), Some("backup_incompatible"));
        assert_eq!(code(&file[..file.len() - 1]), Some("backup_damaged"));
        let mut flipped = file.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(code(&flipped), Some("backup_damaged"));
        // A header that lies about the books, or about the data format,
        // beside a payload that matches its hash.
        let lied = with_header(&file, |h| h.books_digest = "0".repeat(64));
        let error = read(&lied).err().expect("refused");
        assert_eq!(error.code(), "backup_damaged");
        assert!(error.to_string().contains("digest"), "{error}");
        let other = with_header(&file, |h| h.node_format = codec::FORMAT + 1);
        let error = read(&other).err().expect("refused");
        assert_eq!(error.code(), "backup_incompatible");
        assert!(error.to_string().contains("data format"), "{error}");
        assert!(read(&with_header(&file, |h| h.taken_by = header.taken_by)).is_ok());
        let cut = &file[..MAGIC.len() + 10];
        assert_eq!(code(cut), Some("backup_damaged"));
    }
}
