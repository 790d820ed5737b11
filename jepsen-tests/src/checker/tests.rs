//! The checkers must be able to fail: small hand-made histories with one
//! known anomaly each are flagged by the checker meant for it, and a clean
//! history passes every checker.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{CheckResult, Verdict, check, parse};
use crate::history::{Bal, Event, F, Kind};

/// Builds a history line by line; time advances 1 ms per line.
struct Builder {
    events: Vec<Event>,
    next_op: u64,
    time_ns: u64,
}

fn bal(debits: i64, credits: i64) -> Value {
    json!(Bal { debits, credits })
}

impl Builder {
    /// Accounts A and B, both flagged, each credited 100 at index 10.
    fn new() -> Builder {
        let mut builder = Builder {
            events: Vec::new(),
            next_op: 0,
            time_ns: 0,
        };
        builder.line(
            None,
            Kind::Ok,
            F::Initial,
            json!({
                "index": 10, "total": 200,
                "accounts": { "A": true, "B": true },
                "balances": { "A": bal(0, 100), "B": bal(0, 100) },
            }),
        );
        builder
    }

    fn line(&mut self, op: Option<u64>, kind: Kind, f: F, value: Value) -> u64 {
        let op = op.unwrap_or_else(|| {
            self.next_op += 1;
            self.next_op
        });
        self.time_ns += 1_000_000;
        let process = "c1".to_string();
        self.events.push(Event {
            op,
            process,
            kind,
            f,
            time_ns: self.time_ns,
            node: Some(1),
            value,
            error: None,
        });
        op
    }

    fn transfer(&mut self, id: &str, from: &str, to: &str, amount: i64, attempt: u32) -> u64 {
        let value =
            json!({ "id": id, "from": from, "to": to, "amount": amount, "attempt": attempt });
        self.line(None, Kind::Invoke, F::Transfer, value)
    }

    fn ack(&mut self, op: u64, id: &str, index: u64) {
        self.line(
            Some(op),
            Kind::Ok,
            F::Transfer,
            json!({ "id": id, "index": index, "status": "posted" }),
        );
    }

    fn miss(&mut self, op: u64, kind: Kind, id: &str, code: &str) {
        self.line(
            Some(op),
            kind,
            F::Transfer,
            json!({ "id": id, "code": code }),
        );
    }

    fn read(&mut self, account: &str, index: u64, balance: Value) {
        let op = self.line(None, Kind::Invoke, F::Read, json!({ "account": account }));
        self.line(
            Some(op),
            Kind::Ok,
            F::Read,
            json!({ "account": account, "index": index, "balance": balance }),
        );
    }

    fn read_all(&mut self, index: u64, a: Value, b: Value) {
        let op = self.line(None, Kind::Invoke, F::ReadAll, json!({ "stale": false }));
        let value = json!({ "stale": false, "index": index, "balances": { "A": a, "B": b } });
        self.line(Some(op), Kind::Ok, F::ReadAll, value);
    }

    fn resolve(&mut self, id: &str, status: Option<&str>, booked_index: Option<u64>) {
        let value = json!({ "id": id, "found": status.is_some(), "status": status, "booked_index": booked_index });
        self.line(None, Kind::Ok, F::Resolve, value);
    }

    fn final_read(&mut self, index: u64, a: Value, b: Value) {
        let value = json!({ "stale": false, "index": index, "balances": { "A": a, "B": b } });
        self.line(None, Kind::Ok, F::FinalRead, value);
    }

    fn digests(&mut self, digests: &[(usize, u64, &str)]) {
        for (slot, index, digest) in digests {
            let value = json!({ "slot": slot, "node_id": slot, "index": index, "digest": digest, "chain_head": "h" });
            self.events.push(Event {
                op: 10_000 + *slot as u64,
                process: "harness".into(),
                kind: Kind::Ok,
                f: F::Digest,
                time_ns: self.time_ns,
                node: Some(*slot),
                value,
                error: None,
            });
        }
    }

    fn digest_failure(&mut self, slot: usize) {
        self.events.push(Event {
            op: 20_000 + slot as u64,
            process: "harness".into(),
            kind: Kind::Fail,
            f: F::Digest,
            time_ns: self.time_ns,
            node: Some(slot),
            value: json!({ "slot": slot }),
            error: Some("unreachable".into()),
        });
    }

    fn verdicts(&self) -> BTreeMap<&'static str, CheckResult> {
        let parsed = parse(&self.events).expect("a well-formed history");
        check(&parsed)
            .into_iter()
            .map(|result| (result.name, result))
            .collect()
    }
}

/// The clean history, up to (not including) its final read and digests:
/// t1 A→B 30 acknowledged at 11 (and resubmitted), t2 B→A 50 unknown but
/// posted at 12, t3 A→B 500 rejected for want of funds.
fn clean_prefix() -> Builder {
    let mut h = Builder::new();
    let t1 = h.transfer("t1", "A", "B", 30, 1);
    h.ack(t1, "t1", 11);
    h.read("A", 11, bal(30, 100));
    let t2 = h.transfer("t2", "B", "A", 50, 1);
    h.miss(t2, Kind::Info, "t2", "outcome_unknown");
    h.read_all(12, bal(30, 150), bal(50, 130));
    let t3 = h.transfer("t3", "A", "B", 500, 1);
    h.miss(t3, Kind::Fail, "t3", "debits_exceed_credits");
    let t1_again = h.transfer("t1", "A", "B", 30, 2);
    h.ack(t1_again, "t1", 11);
    h
}

fn clean_suffix(h: &mut Builder) {
    h.resolve("t1", Some("posted"), Some(11));
    h.resolve("t2", Some("posted"), Some(12));
    h.resolve("t3", Some("rejected"), Some(13));
    h.final_read(13, bal(30, 150), bal(50, 130));
    h.digests(&[(1, 13, "d"), (2, 13, "d"), (3, 13, "d")]);
}

fn assert_only_invalid(h: &Builder, invalid: &[&str]) {
    let verdicts = h.verdicts();
    for (name, result) in &verdicts {
        let expected = if invalid.contains(name) {
            Verdict::Invalid
        } else {
            Verdict::Valid
        };
        assert_eq!(result.verdict, expected, "{name}: {result:#?}");
    }
}

#[test]
fn a_clean_history_passes_every_checker() {
    let mut h = clean_prefix();
    clean_suffix(&mut h);
    assert_only_invalid(&h, &[]);
}

#[test]
fn a_lost_acknowledged_write_is_flagged() {
    let mut h = clean_prefix();
    h.resolve("t1", None, None);
    h.resolve("t2", Some("posted"), Some(12));
    h.resolve("t3", Some("rejected"), Some(13));
    h.final_read(13, bal(0, 150), bal(50, 100));
    h.digests(&[(1, 13, "d"), (2, 13, "d")]);
    let verdicts = h.verdicts();
    assert_eq!(verdicts["exactly_once"].verdict, Verdict::Invalid);
    assert!(
        verdicts["exactly_once"]
            .anomalies
            .iter()
            .any(|a| a["kind"] == "lost_write")
    );
    // The reads that saw t1 now disagree with the journal too.
    assert_eq!(verdicts["linearizable"].verdict, Verdict::Invalid);
}

#[test]
fn a_double_applied_retry_is_flagged() {
    let mut h = clean_prefix();
    h.resolve("t1", Some("posted"), Some(11));
    h.resolve("t2", Some("posted"), Some(12));
    h.resolve("t3", Some("rejected"), Some(13));
    // The resubmission moved the 30 a second time at index 13: money is
    // still conserved, so only the journal can tell.
    h.final_read(13, bal(60, 150), bal(50, 160));
    h.digests(&[(1, 13, "d"), (2, 13, "d")]);
    let verdicts = h.verdicts();
    assert_eq!(verdicts["conservation"].verdict, Verdict::Valid);
    assert_eq!(verdicts["exactly_once"].verdict, Verdict::Invalid);
    assert_eq!(verdicts["idempotent_retries"].verdict, Verdict::Invalid);
    assert!(
        verdicts["idempotent_retries"]
            .anomalies
            .iter()
            .any(|a| a["kind"] == "double_post_suspected")
    );
}

#[test]
fn a_retry_acknowledged_at_a_new_index_is_flagged() {
    let mut h = Builder::new();
    let first = h.transfer("t1", "A", "B", 30, 1);
    h.ack(first, "t1", 11);
    let again = h.transfer("t1", "A", "B", 30, 2);
    h.ack(again, "t1", 12);
    h.resolve("t1", Some("posted"), Some(11));
    h.final_read(12, bal(60, 100), bal(0, 160));
    h.digests(&[(1, 12, "d")]);
    let verdicts = h.verdicts();
    assert_eq!(verdicts["idempotent_retries"].verdict, Verdict::Invalid);
    assert_eq!(verdicts["linearizable"].verdict, Verdict::Invalid);
}

#[test]
fn a_stale_read_is_flagged() {
    let mut h = clean_prefix();
    // Invoked after t1 was acknowledged at 11, but taken at index 10: its
    // values match index 10, so only real-time order can tell.
    h.read("A", 10, bal(0, 100));
    clean_suffix(&mut h);
    let verdicts = h.verdicts();
    assert_eq!(verdicts["linearizable"].verdict, Verdict::Invalid);
    assert!(
        verdicts["linearizable"]
            .anomalies
            .iter()
            .any(|a| a["kind"] == "stale_read")
    );
    assert_only_invalid(&h, &["linearizable"]);
}

#[test]
fn a_read_that_lies_about_its_index_is_flagged() {
    let mut h = clean_prefix();
    h.read("A", 12, bal(30, 100));
    clean_suffix(&mut h);
    let verdicts = h.verdicts();
    assert!(
        verdicts["linearizable"]
            .anomalies
            .iter()
            .any(|a| a["kind"] == "read_differs_from_journal")
    );
    assert_only_invalid(&h, &["linearizable"]);
}

#[test]
fn a_read_that_breaks_conservation_is_flagged() {
    let mut h = clean_prefix();
    // A torn snapshot: t2's credit to A without its debit to B.
    h.read_all(12, bal(30, 150), bal(0, 130));
    clean_suffix(&mut h);
    let verdicts = h.verdicts();
    assert_eq!(verdicts["conservation"].verdict, Verdict::Invalid);
    assert_eq!(verdicts["linearizable"].verdict, Verdict::Invalid);
}

#[test]
fn an_overdrawn_flagged_account_is_flagged() {
    let mut h = Builder::new();
    let t1 = h.transfer("t1", "A", "B", 150, 1);
    h.ack(t1, "t1", 11);
    h.read("A", 11, bal(150, 100));
    h.resolve("t1", Some("posted"), Some(11));
    h.final_read(11, bal(150, 100), bal(0, 250));
    h.digests(&[(1, 11, "d")]);
    let verdicts = h.verdicts();
    assert_eq!(verdicts["no_overdraft"].verdict, Verdict::Invalid);
    let kinds: Vec<&Value> = verdicts["no_overdraft"]
        .anomalies
        .iter()
        .map(|a| &a["kind"])
        .collect();
    assert!(
        kinds.contains(&&json!("overdrawn_in_read"))
            && kinds.contains(&&json!("overdrawn_in_journal"))
    );
}

#[test]
fn a_certainly_failed_transfer_that_posted_is_flagged() {
    let mut h = Builder::new();
    let t1 = h.transfer("t1", "A", "B", 30, 1);
    h.miss(t1, Kind::Fail, "t1", "not_leader");
    h.resolve("t1", Some("posted"), Some(11));
    h.final_read(11, bal(30, 100), bal(0, 130));
    h.digests(&[(1, 11, "d")]);
    let verdicts = h.verdicts();
    assert!(
        verdicts["exactly_once"]
            .anomalies
            .iter()
            .any(|a| a["kind"] == "failed_but_posted")
    );
}

#[test]
fn diverged_or_silent_replicas_are_flagged() {
    let mut h = clean_prefix();
    h.resolve("t1", Some("posted"), Some(11));
    h.resolve("t2", Some("posted"), Some(12));
    h.resolve("t3", Some("rejected"), Some(13));
    h.final_read(13, bal(30, 150), bal(50, 130));
    h.digests(&[(1, 13, "d"), (2, 13, "e")]);
    assert_only_invalid(&h, &["replicas"]);
    let mut silent = clean_prefix();
    silent.resolve("t1", Some("posted"), Some(11));
    silent.resolve("t2", Some("posted"), Some(12));
    silent.resolve("t3", Some("rejected"), Some(13));
    silent.final_read(13, bal(30, 150), bal(50, 130));
    silent.digests(&[(1, 13, "d")]);
    silent.digest_failure(2);
    assert_only_invalid(&silent, &["replicas"]);
}

#[test]
fn an_unresolved_transfer_makes_the_verdict_unknown_not_valid() {
    let mut h = clean_prefix();
    h.resolve("t1", Some("posted"), Some(11));
    h.resolve("t3", Some("rejected"), Some(13));
    h.final_read(13, bal(30, 150), bal(50, 130));
    h.digests(&[(1, 13, "d")]);
    let verdicts = h.verdicts();
    assert_eq!(verdicts["exactly_once"].verdict, Verdict::Unknown);
    assert_eq!(verdicts["linearizable"].verdict, Verdict::Unknown);
}

#[test]
fn a_clock_running_backwards_is_flagged() {
    let mut h = Builder::new();
    let t1 = h.transfer("t1", "A", "B", 30, 1);
    h.ack(t1, "t1", 11);
    let t2 = h.transfer("t2", "B", "A", 10, 1);
    h.ack(t2, "t2", 12);
    for (id, index, at) in [
        ("t1", 11, "2026-11-22T10:00:05.000000Z"),
        ("t2", 12, "2026-11-22T10:00:04.999999Z"),
    ] {
        let value = json!({ "id": id, "found": true, "status": "posted", "booked_index": index, "booked_at": at });
        h.line(None, Kind::Ok, F::Resolve, value);
    }
    h.final_read(12, bal(30, 110), bal(10, 130));
    h.digests(&[(1, 12, "d")]);
    assert_only_invalid(&h, &["clock_monotonic"]);
}

#[test]
fn a_transfer_booked_before_its_invocation_is_flagged() {
    let mut h = Builder::new();
    h.read("A", 11, bal(0, 100));
    // Invoked after a read at 11 completed, yet booked at 11.
    let t1 = h.transfer("t1", "A", "B", 30, 1);
    h.miss(t1, Kind::Info, "t1", "timeout");
    h.resolve("t1", Some("posted"), Some(11));
    h.final_read(11, bal(30, 100), bal(0, 130));
    h.digests(&[(1, 11, "d")]);
    let verdicts = h.verdicts();
    assert!(
        verdicts["linearizable"]
            .anomalies
            .iter()
            .any(|a| a["kind"] == "write_ordered_before_completed_op"),
        "{:#?}",
        verdicts["linearizable"]
    );
}
