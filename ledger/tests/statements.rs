//! One test per rule of customer statements (对账单) and returns (对账回执)
//! that the scenario files (`scenarios/statement_*.ledger`) cannot show: the
//! verification code's secrecy and binding, the key entering through a
//! command, refusals changing nothing, statement lines adding up through
//! approvals, batches and reversals, expiry driving the node's tick, the
//! statement records surviving change tracking and snapshots, and disputed
//! and overdue returns raised as reconciliation breaks.

use ledger::audit::{GENESIS_HASH, verify_chain};
use ledger::recon::{
    BreakKind, BreakResolution, BreakStatus, ItemRef, ReconciliationBreak, Resolution,
};
use ledger::*;

const SEED: [u8; 32] = [7; 32];

fn cny() -> Currency {
    Currency::new("CNY").unwrap()
}

fn acct(id: &str) -> AccountId {
    AccountId::new(id).unwrap()
}

fn time(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

fn yuan(whole: i128) -> Amount {
    Amount::from_minor(whole * 100)
}

fn actor(name: &str) -> Actor {
    if name == Actor::SYSTEM {
        return Actor::system();
    }
    Actor {
        principal: PrincipalName::new(name).unwrap(),
        key_id: name.into(),
        client: "test".into(),
    }
}

/// A ledger with branches SH01 and BJ01, a teller for each, an operator, and
/// customer accounts alice, bob (SH01) and carol (BJ01) funded from each
/// branch's cash account.
struct World {
    ledger: Ledger,
    index: u64,
    at: Timestamp,
}

impl World {
    fn new() -> World {
        World::with(Ledger::new())
    }

    fn with(ledger: Ledger) -> World {
        let mut w = World {
            ledger,
            index: 0,
            at: time("2026-11-02T09:00:00Z"),
        };
        let branch = |code: &str| {
            CommandKind::CreateBranch(NewBranch {
                code: BranchCode::new(code).unwrap(),
                name: code.into(),
                parent: None,
                kind: BranchKind::Internal,
            })
        };
        let principal = |name: &str, role: Role| {
            CommandKind::CreatePrincipal(NewPrincipal {
                name: PrincipalName::new(name).unwrap(),
                role,
                authority: 1,
                key_hash: [name.len() as u8; 32],
                key_id: name.into(),
            })
        };
        let account = |id: &str, branch: &str, class, purpose| {
            CommandKind::OpenAccount(NewAccount {
                id: acct(id),
                branch: BranchCode::new(branch).unwrap(),
                currency: cny(),
                class,
                purpose,
                flags: AccountFlags::default(),
                name: None,
            })
        };
        let sh = BranchCode::new("SH01").unwrap();
        let bj = BranchCode::new("BJ01").unwrap();
        for kind in [
            branch("SH01"),
            branch("BJ01"),
            principal("teller-sh", Role::Branch(sh)),
            principal("teller-bj01", Role::Branch(bj)),
            principal("op", Role::Operator),
            principal("checker", Role::Operator),
            account("cash-sh", "SH01", AccountClass::Asset, Purpose::Suspense),
            account("cash-bj", "BJ01", AccountClass::Asset, Purpose::Suspense),
            account("alice", "SH01", AccountClass::Liability, Purpose::Customer),
            account("bob", "SH01", AccountClass::Liability, Purpose::Customer),
            account("carol", "BJ01", AccountClass::Liability, Purpose::Customer),
        ] {
            w.accept(Actor::SYSTEM, kind);
        }
        w.transfer("teller-sh", "fund-alice", "cash-sh", "alice", 1_000);
        w.transfer("teller-bj01", "fund-carol", "cash-bj", "carol", 300);
        w
    }

    fn apply(&mut self, who: &str, kind: CommandKind) -> Applied {
        self.index += 1;
        let command = Command {
            at: self.at,
            actor: actor(who),
            kind,
        };
        let applied = self.ledger.apply(self.index, vec![command]).pop().unwrap();
        self.ledger.check_invariants().unwrap();
        applied
    }

    fn accept(&mut self, who: &str, kind: CommandKind) -> Receipt {
        match self.apply(who, kind.clone()).outcome {
            Ok(receipt) => receipt,
            Err(rejection) => panic!("{kind:?} refused: {rejection:?}"),
        }
    }

    /// Applies a command that must be refused, and checks that it changed
    /// nothing: the digest equals a twin's that applied a no-op instead.
    fn refuse(&mut self, who: &str, kind: CommandKind) -> String {
        let mut twin = self.ledger.clone();
        let applied = self.apply(who, kind);
        let no_op = Command {
            at: self.at,
            actor: actor(Actor::SYSTEM),
            kind: CommandKind::Tick,
        };
        twin.apply(self.index, vec![no_op]);
        assert_eq!(
            twin.digest(),
            self.ledger.digest(),
            "a refusal changed state"
        );
        match applied.outcome {
            Err(rejection) => rejection.code(),
            Ok(receipt) => panic!("accepted: {receipt:?}"),
        }
    }

    fn transfer(&mut self, who: &str, id: &str, from: &str, to: &str, whole: i128) {
        let entry = NewEntry::transfer(
            EntryId::new(id).unwrap(),
            acct(from),
            acct(to),
            yuan(whole),
            cny(),
        );
        self.post(who, vec![entry]);
    }

    fn post(&mut self, who: &str, entries: Vec<NewEntry>) -> Vec<EntryOutcome> {
        let kind = CommandKind::PostEntries {
            entries,
            atomic: false,
        };
        match self.accept(who, kind) {
            Receipt::Entries(outcomes) => outcomes,
            receipt => panic!("not entries: {receipt:?}"),
        }
    }

    fn issue_command(accounts: &[&str], cutoff: &str, due: &str, seed: [u8; 32]) -> CommandKind {
        CommandKind::Statements(StatementCommand::Issue(IssueStatements {
            accounts: accounts.iter().map(|id| acct(id)).collect(),
            branch: None,
            cutoff: time(cutoff),
            due: Date::parse(due).unwrap(),
            key_seed: StatementKey(seed),
        }))
    }

    fn issue_with(&mut self, accounts: &[&str], cutoff: &str, seed: [u8; 32]) -> Vec<Statement> {
        // Due fifteen days after the cutoff.
        let due = Date(time(cutoff).date().0 + 15).to_string();
        match self.accept("op", World::issue_command(accounts, cutoff, &due, seed)) {
            Receipt::Statements(StatementReceipt::Issued(statements)) => statements,
            receipt => panic!("not statements: {receipt:?}"),
        }
    }

    fn issue(&mut self, accounts: &[&str], cutoff: &str) -> Vec<Statement> {
        self.issue_with(accounts, cutoff, SEED)
    }

    fn return_command(statement: &Statement, code: &str, stated: Option<Amount>) -> CommandKind {
        CommandKind::Statements(StatementCommand::Return(ReturnStatement {
            statement: statement.id.clone(),
            verification_code: code.to_string(),
            answer: if stated.is_some() {
                ReturnAnswer::Disputed
            } else {
                ReturnAnswer::Confirmed
            },
            stated_balance: stated,
        }))
    }
}

/// The lines of a statement, as signed changes on the account's normal side.
fn line_sum(ledger: &Ledger, statement: &Statement) -> Amount {
    let lines = ledger.statement_lines(&statement.id).unwrap();
    let grows = statement.class.normal_side();
    lines.iter().fold(Amount::ZERO, |sum, line| {
        if line.side == grows {
            sum + line.amount
        } else {
            sum - line.amount
        }
    })
}

#[test]
fn verification_code_is_bound_to_statement_account_and_balance() {
    let mut w = World::new();
    w.transfer("teller-sh", "fund-bob", "cash-sh", "bob", 1_000);
    w.at = time("2026-12-01T09:00:00Z");
    let statements = w.issue(&["alice", "bob"], "2026-11-30T23:59:59Z");
    let (alice, bob) = (&statements[0], &statements[1]);
    // Same account balance, different statements: different codes.
    assert_eq!(alice.closing_balance, bob.closing_balance);
    assert_ne!(alice.verification_code, bob.verification_code);
    assert_eq!(alice.verification_code.len(), 2 * VERIFICATION_CODE_BYTES);
    // Bob's code does not return Alice's statement, nor does a one-digit change.
    let bob_code = bob.verification_code.clone();
    let refusal = w.refuse("teller-sh", World::return_command(alice, &bob_code, None));
    assert_eq!(refusal, "verification_code_mismatch");
    let mut altered = alice.verification_code.clone().into_bytes();
    altered[0] = if altered[0] == b'0' { b'1' } else { b'0' };
    let altered = String::from_utf8(altered).unwrap();
    let refusal = w.refuse("teller-sh", World::return_command(alice, &altered, None));
    assert_eq!(refusal, "verification_code_mismatch");
    // The code is hex: upper case reads the same.
    let upper = alice.verification_code.to_uppercase();
    let receipt = w.accept("teller-sh", World::return_command(alice, &upper, None));
    let Receipt::Statements(StatementReceipt::Returned(returned)) = receipt else {
        panic!("not a return: {receipt:?}")
    };
    assert_eq!(returned.state, ReturnState::Reconciled);
}

#[test]
fn the_key_comes_from_the_first_issue_command_and_then_never_changes() {
    let mut a = World::new();
    let mut b = World::new();
    assert_eq!(a.ledger.statement_key_fingerprint(), None);
    a.at = time("2026-12-01T09:00:00Z");
    b.at = a.at;
    let with_seven = a.issue_with(&["alice"], "2026-11-30T23:59:59Z", [7; 32]);
    let with_eight = b.issue_with(&["alice"], "2026-11-30T23:59:59Z", [8; 32]);
    // Same statement, same balance, another key: another code.
    assert_eq!(with_seven[0].id, with_eight[0].id);
    assert_ne!(
        with_seven[0].verification_code,
        with_eight[0].verification_code
    );
    let fingerprint = a.ledger.statement_key_fingerprint().unwrap();
    assert_eq!(fingerprint, StatementKey([7; 32]).fingerprint());
    // A later command's seed does not replace the installed key.
    a.issue_with(&["bob"], "2026-11-30T23:59:59Z", [9; 32]);
    assert_eq!(a.ledger.statement_key_fingerprint().unwrap(), fingerprint);
    let code = with_seven[0].verification_code.clone();
    a.accept(
        "teller-sh",
        World::return_command(&with_seven[0], &code, None),
    );
}

#[test]
fn the_key_never_appears_in_receipts_or_the_audit_trail() {
    let mut w = World::new();
    w.at = time("2026-12-01T09:00:00Z");
    let secret = [0xAB; 32];
    let statements = w.issue_with(&["alice"], "2026-11-30T23:59:59Z", secret);
    let (seq, head) = w.ledger.chain_head();
    let audit: Vec<ChainedRecord> = w.ledger.audit_records(1, seq).collect();
    assert_eq!(verify_chain(GENESIS_HASH, 1, &audit), Ok(head));
    let texts = [
        format!("{audit:?}"),
        format!("{statements:?}"),
        format!("{:?}", StatementKey(secret)),
    ];
    let bytes = codec::encode(&audit);
    assert!(!bytes.windows(32).any(|window| window == secret));
    for text in texts {
        assert!(!text.contains(&hex::encode(secret)), "{text}");
        assert!(!text.contains("171, 171, 171"), "{text}");
    }
    assert!(audit.iter().any(|r| matches!(
        &r.record.event,
        AuditEvent::Statement(StatementEvent::KeyInstalled { fingerprint })
            if *fingerprint == StatementKey(secret).fingerprint()
    )));
}

#[test]
fn refused_statement_commands_change_nothing() {
    let mut w = World::new();
    w.at = time("2026-12-01T09:00:00Z");
    let alice = w.issue(&["alice"], "2026-11-30T23:59:59Z").remove(0);
    let code = alice.verification_code.clone();
    let cases = [
        ("teller-sh", World::return_command(&alice, "00", None)),
        ("teller-bj01", World::return_command(&alice, &code, None)),
        (
            "op",
            World::issue_command(&["alice"], "2026-12-02T00:00:00Z", "2026-12-15", SEED),
        ),
        (
            "teller-sh",
            World::issue_command(&["alice"], "2026-11-30T23:59:59Z", "2026-12-15", SEED),
        ),
        (
            "op",
            CommandKind::Statements(StatementCommand::SetPolicy(StatementPolicy::default())),
        ),
    ];
    let expected = [
        "verification_code_mismatch",
        "forbidden",
        "statement_cutoff_in_future",
        "forbidden",
        "forbidden",
    ];
    for ((who, kind), code) in cases.into_iter().zip(expected) {
        assert_eq!(w.refuse(who, kind), code);
    }
}

#[test]
fn lines_add_up_through_batches_approvals_and_reversals() {
    let mut w = World::new();
    let pay = |id: &str, from: &str, to: &str, whole| {
        NewEntry::transfer(
            EntryId::new(id).unwrap(),
            acct(from),
            acct(to),
            yuan(whole),
            cny(),
        )
    };
    // Two entries at one log position.
    w.post(
        "teller-sh",
        vec![pay("b1", "alice", "bob", 10), pay("b2", "bob", "alice", 3)],
    );
    // A pending entry booked in November, approved in December.
    let mut pending = pay("p1", "alice", "bob", 100);
    pending.pending = true;
    pending.timeout_seconds = Some(30 * 24 * 60 * 60);
    w.post("teller-sh", vec![pending]);
    w.at = time("2026-11-29T09:00:00Z");
    w.transfer("teller-sh", "wrong", "alice", "bob", 40);
    w.accept(
        "op",
        CommandKind::ReverseEntry {
            original: EntryId::new("wrong").unwrap(),
            id: EntryId::new("rev").unwrap(),
            reason: "wrong payee".into(),
        },
    );
    w.at = time("2026-12-01T09:00:00Z");
    let november = w.issue(&["alice"], "2026-11-30T23:59:59Z").remove(0);
    w.accept(
        "checker",
        CommandKind::ApproveEntry {
            entry: EntryId::new("p1").unwrap(),
            reason: None,
        },
    );
    w.at = time("2027-01-02T09:00:00Z");
    let december = w.issue(&["alice"], "2026-12-31T23:59:59Z").remove(0);

    let entries = |statement: &Statement| -> Vec<String> {
        w.ledger
            .statement_lines(&statement.id)
            .unwrap()
            .iter()
            .map(|line| line.entry.to_string())
            .collect()
    };
    assert_eq!(
        entries(&november),
        ["fund-alice", "b1", "b2", "wrong", "rev"]
    );
    assert_eq!(entries(&december), ["p1"]);
    for statement in [&november, &december] {
        assert_eq!(
            statement.opening_balance + line_sum(&w.ledger, statement),
            statement.closing_balance
        );
        let last = w.ledger.statement_lines(&statement.id).unwrap();
        assert_eq!(
            last.last().unwrap().balance_after,
            statement.closing_balance
        );
    }
    assert_eq!(november.closing_balance, yuan(1_000 - 10 + 3));
    assert_eq!(december.opening_balance, november.closing_balance);
    assert_eq!(december.closing_balance, yuan(1_000 - 10 + 3 - 100));
}

#[test]
fn a_cutoff_between_log_entries_takes_the_balance_before_the_later_one() {
    let mut w = World::new();
    w.at = time("2026-11-10T00:00:00Z");
    w.transfer("teller-sh", "early", "alice", "bob", 1);
    w.at = time("2026-11-10T00:00:02Z");
    w.transfer("teller-sh", "late", "alice", "bob", 2);
    w.at = time("2026-11-11T00:00:00Z");
    let statement = w.issue(&["alice"], "2026-11-10T00:00:01Z").remove(0);
    assert_eq!(statement.closing_balance, yuan(1_000 - 1));
    let lines = w.ledger.statement_lines(&statement.id).unwrap();
    assert_eq!(lines.last().unwrap().entry.as_str(), "early");
    // A cutoff at or after the last entry is the moment of issue.
    let now = w.issue(&["bob"], "2026-11-11T00:00:00Z").remove(0);
    assert_eq!(now.closing_balance, yuan(3));
}

#[test]
fn the_due_date_drives_the_nodes_tick_and_overdue_is_marked_at_the_deadline() {
    let mut w = World::new();
    assert_eq!(w.ledger.next_expiry(), None);
    w.at = time("2026-12-01T09:00:00Z");
    let statement = w.issue(&["carol"], "2026-11-30T23:59:59Z").remove(0);
    let deadline = time("2026-12-16T00:00:00Z");
    assert_eq!(w.ledger.next_expiry(), Some(deadline));
    w.at = time("2026-12-20T10:00:00Z");
    w.accept(Actor::SYSTEM, CommandKind::Tick);
    let overdue = w.ledger.statement(&statement.id).unwrap();
    assert_eq!(overdue.state, ReturnState::Overdue);
    assert_eq!(overdue.overdue_at, Some(deadline));
    assert_eq!(w.ledger.next_expiry(), None);
    let report = w.ledger.overdue_statements(w.at);
    assert_eq!(report.len(), 1);
    assert_eq!(report[0].age_days, 4);
    assert_eq!(report[0].bucket, AgeBucket::UpTo7Days);
}

#[test]
fn statements_survive_change_tracking_and_snapshots() {
    let mut w = World::with(Ledger::with_change_tracking());
    let mut store = std::collections::BTreeMap::new();
    let mut drain = |ledger: &mut Ledger| {
        for Record { table, key, value } in ledger.take_changes() {
            match value {
                Some(value) => store.insert((table, key), value),
                None => store.remove(&(table, key)),
            };
        }
    };
    drain(&mut w.ledger);
    w.at = time("2026-12-01T09:00:00Z");
    let statements = w.issue(&["alice", "carol"], "2026-11-30T23:59:59Z");
    let code = statements[0].verification_code.clone();
    w.accept(
        "teller-sh",
        World::return_command(&statements[0], &code, Some(yuan(999))),
    );
    drain(&mut w.ledger);
    let records: Vec<Record> = store
        .iter()
        .map(|((table, key), value)| Record {
            table: *table,
            key: key.clone(),
            value: Some(value.clone()),
        })
        .collect();
    let restored = Ledger::from_records(records, false).unwrap();
    assert_eq!(restored.digest(), w.ledger.digest());
    let from_snapshot = Ledger::from_snapshot(&w.ledger.to_snapshot(), false).unwrap();
    assert_eq!(from_snapshot.digest(), w.ledger.digest());
    // The restored ledger knows the open deadline and the key.
    assert_eq!(restored.next_expiry(), w.ledger.next_expiry());
    assert_eq!(
        restored.statement_key_fingerprint(),
        w.ledger.statement_key_fingerprint()
    );
    let mut replica = World {
        ledger: restored,
        index: w.index,
        at: time("2026-12-16T00:00:00Z"),
    };
    w.at = replica.at;
    w.accept(Actor::SYSTEM, CommandKind::Tick);
    replica.accept(Actor::SYSTEM, CommandKind::Tick);
    assert_eq!(replica.ledger.digest(), w.ledger.digest());
    let carol = replica.ledger.statement(&statements[1].id).unwrap();
    assert_eq!(carol.state, ReturnState::Overdue);
    // The dispute's break and the overdue break raised on the replica.
    let kinds: Vec<&str> = replica
        .ledger
        .reconciliation_breaks()
        .map(|b| b.kind.name())
        .collect();
    assert_eq!(kinds, ["disputed_statement", "overdue_return"]);
    let disputed = replica.ledger.disputed_statements(replica.at);
    assert_eq!(disputed.len(), 1);
    assert_eq!(
        disputed[0].statement.returned.as_ref().unwrap().difference,
        yuan(-1)
    );
}

#[test]
fn return_rate_rounds_down_to_a_basis_point() {
    let mut w = World::new();
    w.transfer("teller-sh", "fund-bob", "cash-sh", "bob", 5);
    w.at = time("2026-12-01T09:00:00Z");
    let statements = w.issue(&["alice", "bob", "carol"], "2026-11-30T23:59:59Z");
    let sh: Vec<&Statement> = statements
        .iter()
        .filter(|s| s.branch.as_str() == "SH01")
        .collect();
    let code = sh[0].verification_code.clone();
    w.accept("teller-sh", World::return_command(sh[0], &code, None));
    let rates = w.ledger.statement_return_rates(None, None);
    let codes: Vec<&str> = rates.iter().map(|r| r.branch.as_str()).collect();
    assert_eq!(codes, ["BJ01", "SH01"]);
    assert_eq!((rates[1].issued, rates[1].returned), (2, 1));
    assert_eq!(rates[1].rate_percent(), "50.00");
    assert_eq!(rates[0].rate_percent(), "0.00");
    let third = BranchReturnRate {
        branch: BranchCode::new("X").unwrap(),
        issued: 3,
        returned: 1,
        reconciled: 1,
        disputed: 0,
        overdue: 0,
        outstanding: 2,
        rate_basis_points: 3333,
    };
    assert_eq!(third.rate_percent(), "33.33");
}

fn break_of(ledger: &Ledger, id: u64) -> ReconciliationBreak {
    ledger
        .reconciliation_break(id)
        .cloned()
        .expect("the break exists")
}

fn resolve(id: u64, resolution: BreakResolution) -> CommandKind {
    CommandKind::ResolveBreak { id, resolution }
}

fn adjusting_entry(id: &str, debit: &str, credit: &str, whole: i128) -> BreakResolution {
    BreakResolution::AdjustingEntry {
        entry: NewEntry::transfer(
            EntryId::new(id).unwrap(),
            acct(debit),
            acct(credit),
            yuan(whole),
            cny(),
        ),
    }
}

#[test]
fn a_dispute_is_a_break_holding_the_difference_and_refusals_change_nothing() {
    let mut w = World::new();
    w.at = time("2026-12-01T09:00:00Z");
    let alice = w.issue(&["alice"], "2026-11-30T23:59:59Z").remove(0);
    let code = alice.verification_code.clone();
    w.at = time("2026-12-02T09:00:00Z");
    let receipt = w.accept(
        "teller-sh",
        World::return_command(&alice, &code, Some(yuan(1_025))),
    );
    let Receipt::Statements(StatementReceipt::Returned(returned)) = receipt else {
        panic!("not a return: {receipt:?}")
    };
    let [id] = returned.breaks[..] else {
        panic!("one break: {:?}", returned.breaks)
    };
    let record = break_of(&w.ledger, id);
    assert_eq!(
        record.kind,
        BreakKind::DisputedStatement {
            statement: alice.id.clone(),
            closing_balance: yuan(1_000),
            stated_balance: yuan(1_025),
        }
    );
    assert_eq!(record.amount, yuan(25), "the stated balance less ours");
    assert_eq!(
        (record.account.as_str(), record.branch.as_str()),
        ("alice", "SH01")
    );
    assert_eq!(record.status, BreakStatus::Open);
    assert_eq!(record.history[0].by.as_str(), "teller-sh");
    assert_eq!(record.history[0].action, "raised");
    // A manual match does not apply; a teller may not work breaks; an
    // adjusting entry off the account is refused. None of it changes state.
    let item = ItemRef::Ledger {
        entry: EntryId::new("fund-alice").unwrap(),
        posting: 1,
    };
    let manual = BreakResolution::ManualMatch { items: vec![item] };
    assert_eq!(
        w.refuse("op", resolve(id, manual)),
        "manual_match_not_applicable"
    );
    let explain = BreakResolution::Explanation {
        reason: "interest not yet credited".into(),
    };
    assert_eq!(
        w.refuse("teller-sh", resolve(id, explain.clone())),
        "forbidden"
    );
    let off = adjusting_entry("adj-off", "bob", "cash-sh", 25);
    assert_eq!(w.refuse("op", resolve(id, off)), "adjustment_off_account");
    // A retry of the return raises nothing more.
    w.accept(
        "teller-sh",
        World::return_command(&alice, &code, Some(yuan(1_025))),
    );
    assert_eq!(w.ledger.reconciliation_breaks().count(), 1);
    // An explanation resolves it, naming who gave it.
    w.accept("op", resolve(id, explain));
    let record = break_of(&w.ledger, id);
    assert!(matches!(
        record.status,
        BreakStatus::Resolved {
            resolution: Resolution::Explanation { .. }
        }
    ));
    let last = record.history.last().unwrap();
    assert_eq!(
        (last.by.as_str(), last.action.as_str()),
        ("op", "explained")
    );
}

#[test]
fn an_overdue_return_is_a_break_from_the_deadline_that_a_late_return_resolves() {
    let mut w = World::new();
    w.at = time("2026-12-01T09:00:00Z");
    let statements = w.issue(&["alice", "carol"], "2026-11-30T23:59:59Z");
    let deadline = time("2026-12-16T00:00:00Z");
    w.at = time("2026-12-18T07:00:00Z");
    w.accept(Actor::SYSTEM, CommandKind::Tick);
    let ids: Vec<u64> = statements
        .iter()
        .map(|s| {
            let stored = w.ledger.statement(&s.id).unwrap();
            assert_eq!(stored.state, ReturnState::Overdue);
            assert_eq!(stored.breaks.len(), 1, "{}", s.id);
            stored.breaks[0]
        })
        .collect();
    for (id, statement) in ids.iter().zip(&statements) {
        let record = break_of(&w.ledger, *id);
        assert_eq!(
            record.kind,
            BreakKind::OverdueReturn {
                statement: statement.id.clone(),
                due: statement.due,
            }
        );
        assert_eq!(record.amount, Amount::ZERO);
        assert_eq!(record.raised_at, deadline, "aged from the deadline");
        assert_eq!(record.age_days(w.at), 2);
        assert_eq!(record.history[0].by.as_str(), Actor::SYSTEM);
        assert_eq!(record.history[0].at, w.at, "noticed at the tick");
    }
    // Alice confirms late: her overdue break is resolved by the return.
    let code = statements[0].verification_code.clone();
    w.accept(
        "teller-sh",
        World::return_command(&statements[0], &code, None),
    );
    let record = break_of(&w.ledger, ids[0]);
    assert_eq!(
        record.status,
        BreakStatus::Resolved {
            resolution: Resolution::ReturnedLate {
                state: ReturnState::Reconciled
            }
        }
    );
    let last = record.history.last().unwrap();
    assert_eq!(
        (last.by.as_str(), last.action.as_str()),
        ("teller-sh", "returned_late")
    );
    assert_eq!(w.ledger.reconciliation_breaks().count(), 2, "nothing more");
    // Carol's break waits on an adjusting entry when her late dispute comes:
    // it keeps waiting (the return is in its history), the dispute is a new
    // break, and the entry's approval by another operator resolves the first.
    w.accept(
        "op",
        resolve(ids[1], adjusting_entry("adj-c", "cash-bj", "carol", 5)),
    );
    let code = statements[1].verification_code.clone();
    w.accept(
        "teller-bj01",
        World::return_command(&statements[1], &code, Some(yuan(305))),
    );
    let waiting = break_of(&w.ledger, ids[1]);
    assert_eq!(
        waiting.status,
        BreakStatus::AwaitingApproval {
            entry: EntryId::new("adj-c").unwrap()
        }
    );
    assert_eq!(waiting.history.last().unwrap().action, "returned_late");
    let carol = w.ledger.statement(&statements[1].id).unwrap().clone();
    assert_eq!(carol.state, ReturnState::Disputed);
    let dispute = break_of(&w.ledger, carol.breaks[1]);
    assert_eq!(carol.breaks[0], ids[1]);
    assert_eq!(dispute.amount, yuan(5));
    assert!(matches!(dispute.kind, BreakKind::DisputedStatement { .. }));
    let approve = CommandKind::ApproveEntry {
        entry: EntryId::new("adj-c").unwrap(),
        reason: None,
    };
    assert_eq!(w.refuse("op", approve.clone()), "approver_is_poster");
    w.accept("checker", approve);
    assert_eq!(
        break_of(&w.ledger, ids[1]).status,
        BreakStatus::Resolved {
            resolution: Resolution::AdjustingEntry {
                entry: EntryId::new("adj-c").unwrap()
            }
        }
    );
    assert!(break_of(&w.ledger, carol.breaks[1]).is_open());
}

mod properties {
    //! Random sequences of payments, time passing, statement issues, returns
    //! and ticks, against a small model of each statement's return state.

    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Step {
        Pay {
            from: usize,
            to: usize,
            whole: i128,
        },
        Advance {
            hours: u64,
        },
        Issue {
            mask: u8,
            back_hours: u64,
            due_days: i32,
        },
        Return {
            pick: usize,
            right_code: bool,
            disputed: bool,
            stated_delta: i128,
        },
        Tick,
    }

    const ACCOUNTS: [&str; 3] = ["alice", "bob", "carol"];

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            3 => (0..3usize, 0..3usize, 1..300i128)
                .prop_map(|(from, to, whole)| Step::Pay { from, to, whole }),
            2 => (1..400u64).prop_map(|hours| Step::Advance { hours }),
            2 => (1..8u8, 0..72u64, 0..20i32)
                .prop_map(|(mask, back_hours, due_days)| Step::Issue { mask, back_hours, due_days }),
            3 => (any::<usize>(), any::<bool>(), any::<bool>(), -1..2i128).prop_map(
                |(pick, right_code, disputed, stated_delta)| Step::Return {
                    pick, right_code, disputed, stated_delta,
                }
            ),
            1 => Just(Step::Tick),
        ]
    }

    /// What the model knows of a statement.
    #[derive(Debug, Clone)]
    struct Expected {
        closing: Amount,
        deadline: Timestamp,
        returned: Option<(ReturnAnswer, Option<Amount>)>,
        overdue: bool,
    }

    impl Expected {
        fn state(&self) -> ReturnState {
            match self.returned {
                None if self.overdue => ReturnState::Overdue,
                None => ReturnState::Issued,
                Some((ReturnAnswer::Confirmed, None)) => ReturnState::Reconciled,
                Some((ReturnAnswer::Confirmed, Some(stated))) if stated == self.closing => {
                    ReturnState::Reconciled
                }
                Some(_) => ReturnState::Disputed,
            }
        }
    }

    /// A statement's breaks follow its model: one overdue break once it
    /// went overdue, open until a return resolves it; one dispute break,
    /// holding the stated balance less ours, once it is disputed.
    fn check_breaks(
        ledger: &Ledger,
        statement: &Statement,
        expected: &Expected,
    ) -> Result<(), TestCaseError> {
        let breaks: Vec<&ReconciliationBreak> = statement
            .breaks
            .iter()
            .map(|id| {
                ledger
                    .reconciliation_break(*id)
                    .expect("listed breaks exist")
            })
            .collect();
        let overdue: Vec<_> = breaks
            .iter()
            .filter(|b| matches!(b.kind, BreakKind::OverdueReturn { .. }))
            .collect();
        let disputes: Vec<_> = breaks
            .iter()
            .filter(|b| matches!(b.kind, BreakKind::DisputedStatement { .. }))
            .collect();
        prop_assert_eq!(overdue.len() + disputes.len(), breaks.len());
        prop_assert_eq!(
            overdue.len(),
            usize::from(expected.overdue),
            "{}",
            statement.id
        );
        for record in &breaks {
            prop_assert_eq!(record.kind.customer_statement(), Some(&statement.id));
            prop_assert_eq!(&record.account, &statement.account);
        }
        if let Some(record) = overdue.first() {
            prop_assert_eq!(record.amount, Amount::ZERO);
            prop_assert_eq!(record.raised_at, statement.deadline());
            let wanted = match expected.state() {
                ReturnState::Overdue => BreakStatus::Open,
                state => BreakStatus::Resolved {
                    resolution: Resolution::ReturnedLate { state },
                },
            };
            prop_assert_eq!(&record.status, &wanted);
        }
        let disputed = expected.state() == ReturnState::Disputed;
        prop_assert_eq!(disputes.len(), usize::from(disputed), "{}", statement.id);
        if let (Some(record), Some((_, stated))) = (disputes.first(), expected.returned) {
            let stated = stated.unwrap_or(expected.closing);
            prop_assert_eq!(record.amount, stated - expected.closing);
            prop_assert!(record.is_open());
        }
        Ok(())
    }

    /// The commands applied, by log index.
    type Log = Vec<(u64, Vec<Command>)>;

    fn plus_hours(at: Timestamp, hours: u64) -> Timestamp {
        at.plus_seconds(hours * 3600)
    }

    fn run(steps: &[Step]) -> Result<(World, Log), TestCaseError> {
        let mut w = World::new();
        let mut log = Vec::new();
        let mut model: BTreeMap<StatementId, Expected> = BTreeMap::new();
        let mut serial = 0;
        for step in steps {
            let (who, kind) = match step {
                Step::Advance { hours } => {
                    w.at = plus_hours(w.at, *hours);
                    continue;
                }
                Step::Tick => (Actor::SYSTEM, CommandKind::Tick),
                Step::Pay { from, to, whole } => {
                    serial += 1;
                    let (from, to) = if from == to {
                        ("cash-sh", ACCOUNTS[*to])
                    } else {
                        (ACCOUNTS[*from], ACCOUNTS[*to])
                    };
                    let entry = NewEntry::transfer(
                        EntryId::new(format!("p{serial}")).unwrap(),
                        acct(from),
                        acct(to),
                        yuan(*whole),
                        cny(),
                    );
                    let kind = CommandKind::PostEntries {
                        entries: vec![entry],
                        atomic: false,
                    };
                    ("op", kind)
                }
                Step::Issue {
                    mask,
                    back_hours,
                    due_days,
                } => {
                    let accounts: Vec<&str> = ACCOUNTS
                        .iter()
                        .enumerate()
                        .filter(|(n, _)| mask & (1 << n) != 0)
                        .map(|(_, id)| *id)
                        .collect();
                    let cutoff = Timestamp(w.at.0 - (*back_hours as i64) * 3_600_000_000);
                    let due = Date(cutoff.date().0 + due_days);
                    let kind = World::issue_command(
                        &accounts,
                        &cutoff.to_string(),
                        &due.to_string(),
                        SEED,
                    );
                    ("op", kind)
                }
                Step::Return {
                    pick,
                    right_code,
                    disputed,
                    stated_delta,
                } => {
                    let Some(statement) = w
                        .ledger
                        .statements()
                        .nth(pick % model.len().max(1))
                        .cloned()
                    else {
                        continue;
                    };
                    let code = if *right_code {
                        statement.verification_code.clone()
                    } else {
                        "ffffffffffffffffffffffffffffffff".to_string()
                    };
                    let stated = (*disputed || *stated_delta != 0)
                        .then(|| statement.closing_balance + Amount::from_minor(*stated_delta));
                    let answer = if *disputed {
                        ReturnAnswer::Disputed
                    } else {
                        ReturnAnswer::Confirmed
                    };
                    let kind = CommandKind::Statements(StatementCommand::Return(ReturnStatement {
                        statement: statement.id.clone(),
                        verification_code: code,
                        answer,
                        stated_balance: stated,
                    }));
                    let who = if statement.branch.as_str() == "SH01" {
                        "teller-sh"
                    } else {
                        "teller-bj01"
                    };
                    (who, kind)
                }
            };
            let command = Command {
                at: w.at,
                actor: actor(who),
                kind: kind.clone(),
            };
            let applied = w.apply(who, kind);
            log.push((w.index, vec![command]));
            // Overdue is marked before the command runs.
            for expected in model.values_mut() {
                if expected.returned.is_none() && expected.deadline <= applied.at {
                    expected.overdue = true;
                }
            }
            match (step, &applied.outcome) {
                (Step::Issue { .. }, Ok(Receipt::Statements(StatementReceipt::Issued(issued)))) => {
                    for statement in issued {
                        let expected = model.entry(statement.id.clone()).or_insert(Expected {
                            closing: statement.closing_balance,
                            deadline: statement.deadline(),
                            returned: None,
                            overdue: statement.deadline() <= applied.at,
                        });
                        prop_assert_eq!(expected.closing, statement.closing_balance);
                    }
                }
                (
                    Step::Return {
                        right_code,
                        disputed,
                        ..
                    },
                    outcome,
                ) => {
                    let Some(CommandKind::Statements(StatementCommand::Return(answer))) =
                        log.last().map(|(_, c)| c[0].kind.clone())
                    else {
                        unreachable!("a return step logs a return")
                    };
                    let expected = model.get_mut(&answer.statement).expect("modelled");
                    let wanted = (answer.answer, answer.stated_balance);
                    let code = outcome.as_ref().err().map(Rejection::code);
                    match (right_code, expected.returned) {
                        (false, _) => {
                            prop_assert_eq!(code.as_deref(), Some("verification_code_mismatch"))
                        }
                        (true, Some(previous)) if previous == wanted => {
                            prop_assert!(outcome.is_ok())
                        }
                        (true, Some(_)) => {
                            prop_assert_eq!(code.as_deref(), Some("statement_already_returned"))
                        }
                        (true, None) => {
                            prop_assert!(outcome.is_ok(), "{:?} {:?}", outcome, disputed);
                            expected.returned = Some(wanted);
                        }
                    }
                }
                _ => {}
            }
            for (id, expected) in &model {
                let statement = w.ledger.statement(id).expect("issued statements stay");
                prop_assert_eq!(statement.state, expected.state(), "{}", id);
                prop_assert_eq!(
                    statement.opening_balance + line_sum(&w.ledger, statement),
                    statement.closing_balance
                );
                check_breaks(&w.ledger, statement, expected)?;
            }
            // Every break is about a statement and listed on it.
            let listed: usize = w.ledger.statements().map(|s| s.breaks.len()).sum();
            prop_assert_eq!(w.ledger.reconciliation_breaks().count(), listed);
        }
        // Consecutive statements of an account chain: each opens where the
        // previous one closed.
        for account in ACCOUNTS {
            let mut own: Vec<&Statement> = w
                .ledger
                .statements()
                .filter(|s| s.account.as_str() == account)
                .collect();
            own.sort_by_key(|s| s.cutoff);
            for pair in own.windows(2) {
                prop_assert_eq!(pair[1].opening_balance, pair[0].closing_balance);
                prop_assert_eq!(pair[1].opening, pair[0].closing);
            }
        }
        Ok((w, log))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        // Property: each statement's return state follows the model (wrong
        // codes refused, same answer idempotent, another answer refused,
        // overdue exactly when unreturned past the deadline), so do its
        // breaks (an overdue break once overdue, resolved by a late return;
        // a dispute break holding the difference once disputed), its lines add
        // up from the opening to the closing balance, an account's statements
        // chain, and a replay of the log and a snapshot give the same digest.
        #[test]
        fn statements_follow_the_model_and_replicate(steps in prop::collection::vec(step(), 1..60)) {
            let (w, log) = run(&steps)?;
            let mut replica = World::new().ledger;
            for (index, commands) in log {
                replica.apply(index, commands);
            }
            prop_assert_eq!(replica.digest(), w.ledger.digest());
            let restored = Ledger::from_snapshot(&w.ledger.to_snapshot(), false)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(restored.digest(), w.ledger.digest());
        }
    }
}
