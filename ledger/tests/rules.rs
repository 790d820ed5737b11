//! One test per business rule, named for the rule, through the public API only:
//! `Ledger::apply(index, commands)`, the reads, the audit chain and snapshots.
//!
//! Every test checks the outcome and that a refused command changed nothing.
//! A command always advances the applied index and time (both are part of the
//! digest), so "changed nothing" means: the ledger's digest equals that of a
//! twin that applied a command which does nothing at the same index and time.
//! Where the rule is that a refused entry id is remembered, the check is that
//! no balance and no clearing window changed. Invariants are checked after
//! every apply.

use std::collections::BTreeSet;

use ledger::audit::{GENESIS_HASH, verify_chain};
use ledger::codec;
use ledger::*;

const T0: &str = "2026-11-22T09:00:00Z";

const HQ: &str = "HQ";
const SH01: &str = "SH01";
const BJ01: &str = "BJ01";

const SH_CLEARING: &str = "SH01-CLR-CNY";
const BJ_CLEARING: &str = "BJ01-CLR-CNY";
const SH_NOSTRO: &str = "SH01-NOSTRO-CNY";
const BJ_NOSTRO: &str = "BJ01-NOSTRO-CNY";
/// SH01 customer, no overdraft, funded with 100,000.00.
const ALICE: &str = "SH01-ALICE";
/// SH01 customer, no overdraft, empty.
const BOB: &str = "SH01-BOB";
/// BJ01 customer, no overdraft, funded with 50,000.00.
const CAROL: &str = "BJ01-CAROL";
/// BJ01 customer, no overdraft, empty.
const DAVE: &str = "BJ01-DAVE";
/// SH01 internal liability account, funded with 1,000.00.
const SH_INTERNAL: &str = "SH01-INT-FEES";
/// SH01 loan (asset): credits may not exceed debits; empty.
const SH_LOAN: &str = "SH01-LOAN";
const ALICE_USD: &str = "SH01-ALICE-USD";
const CAROL_USD: &str = "BJ01-CAROL-USD";

const TELLER_SH: &str = "teller-sh01";
const TELLER_BJ: &str = "teller-bj01";
/// Operator with authority 1.
const OP_JUNIOR: &str = "op-junior";
/// Operator with authority 3.
const OP_SENIOR: &str = "op-senior";
const ADMIN: &str = "admin";
const AUDITOR: &str = "auditor";
const SYSTEM: &str = Actor::SYSTEM;

fn cny() -> Currency {
    Currency::new("CNY").unwrap()
}

fn usd() -> Currency {
    Currency::new("USD").unwrap()
}

fn acct(id: &str) -> AccountId {
    AccountId::new(id).unwrap()
}

fn eid(id: &str) -> EntryId {
    EntryId::new(id).unwrap()
}

fn code(branch: &str) -> BranchCode {
    BranchCode::new(branch).unwrap()
}

fn time(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

/// Whole yuan as minor units.
fn yuan(whole: i128) -> Amount {
    Amount::from_minor(whole * 100)
}

fn actor(name: &str) -> Actor {
    if name == SYSTEM {
        return Actor::system();
    }
    Actor {
        principal: PrincipalName::new(name).unwrap(),
        key_id: format!("key-{name}"),
        client: "10.1.2.3".into(),
    }
}

/// A CNY transfer: debit `debit`, credit `credit`.
fn transfer(id: &str, debit: &str, credit: &str, amount: Amount) -> NewEntry {
    NewEntry::transfer(eid(id), acct(debit), acct(credit), amount, cny())
}

/// A CNY transfer that asks to wait for approval.
fn pending(id: &str, debit: &str, credit: &str, amount: Amount) -> NewEntry {
    NewEntry {
        pending: true,
        ..transfer(id, debit, credit, amount)
    }
}

/// A CNY entry from (account, side, amount) lines.
fn entry(id: &str, lines: &[(&str, Side, Amount)]) -> NewEntry {
    NewEntry {
        postings: lines
            .iter()
            .map(|(account, side, amount)| Posting {
                account: acct(account),
                side: *side,
                amount: *amount,
            })
            .collect(),
        ..transfer(id, ALICE, BOB, Amount::ZERO)
    }
}

fn post(entries: Vec<NewEntry>, atomic: bool) -> CommandKind {
    CommandKind::PostEntries { entries, atomic }
}

fn approve(id: &str) -> CommandKind {
    CommandKind::ApproveEntry {
        entry: eid(id),
        reason: Some("checked".into()),
    }
}

fn reject(id: &str) -> CommandKind {
    CommandKind::RejectEntry {
        entry: eid(id),
        reason: Some("no".into()),
    }
}

fn reverse(original: &str, id: &str, reason: &str) -> CommandKind {
    CommandKind::ReverseEntry {
        original: eid(original),
        id: eid(id),
        reason: reason.into(),
    }
}

fn policy(branch: &str, threshold: Option<Amount>, tiers: &[(Amount, u8)]) -> CommandKind {
    CommandKind::SetApprovalPolicy(ApprovalPolicy {
        branch: code(branch),
        currency: cny(),
        threshold,
        tiers: tiers
            .iter()
            .map(|(at_least, authority)| AuthorityTier {
                at_least: *at_least,
                authority: *authority,
            })
            .collect(),
    })
}

fn new_branch(branch: &str, parent: Option<&str>) -> NewBranch {
    NewBranch {
        code: code(branch),
        name: format!("branch {branch}"),
        parent: parent.map(code),
        kind: BranchKind::Internal,
    }
}

/// A command that changes nothing: creating a branch that exists, identically.
fn no_op() -> CommandKind {
    CommandKind::CreateBranch(new_branch(HQ, None))
}

fn new_account(
    id: &str,
    branch: &str,
    currency: Currency,
    class: AccountClass,
    purpose: Purpose,
    flags: AccountFlags,
) -> NewAccount {
    NewAccount {
        id: acct(id),
        branch: code(branch),
        currency,
        class,
        purpose,
        flags,
        name: None,
    }
}

/// A customer deposit account that cannot be overdrawn.
fn deposit(id: &str, branch: &str, currency: Currency) -> CommandKind {
    let flags = AccountFlags {
        debits_must_not_exceed_credits: true,
        ..AccountFlags::default()
    };
    CommandKind::OpenAccount(new_account(
        id,
        branch,
        currency,
        AccountClass::Liability,
        Purpose::Customer,
        flags,
    ))
}

fn principal(name: &str, role: Role, authority: u8, key: u8) -> CommandKind {
    CommandKind::CreatePrincipal(NewPrincipal {
        name: PrincipalName::new(name).unwrap(),
        role,
        authority,
        key_hash: [key; 32],
        key_id: format!("key-{name}"),
    })
}

fn rotate_key(name: &str, key: u8) -> CommandKind {
    CommandKind::RotatePrincipalKey {
        name: PrincipalName::new(name).unwrap(),
        key_hash: [key; 32],
        key_id: format!("key-{name}-{key}"),
    }
}

fn revoke(name: &str) -> CommandKind {
    CommandKind::RevokePrincipal {
        name: PrincipalName::new(name).unwrap(),
    }
}

/// The code of a refused entry.
fn refusal(outcome: &EntryOutcome) -> String {
    match &outcome.status {
        EntryStatus::Rejected { rejection } => rejection.code(),
        status => panic!("entry {} was not refused: {status:?}", outcome.id),
    }
}

/// The code of a refused command.
fn command_refusal(applied: &Applied) -> String {
    match &applied.outcome {
        Err(rejection) => rejection.code(),
        Ok(receipt) => panic!("command was not refused: {receipt:?}"),
    }
}

/// The clearing center HQ with branches SH01 and BJ01, their clearing,
/// nostro, customer, internal and loan accounts, one teller per branch, two
/// operators (authority 1 and 3), an admin and an auditor; then funding.
struct World {
    ledger: Ledger,
    index: u64,
    at: Timestamp,
}

impl World {
    fn new() -> World {
        let mut world = World {
            ledger: Ledger::new(),
            index: 0,
            at: time(T0),
        };
        let open = |id, branch, class, purpose, flags| {
            CommandKind::OpenAccount(new_account(id, branch, cny(), class, purpose, flags))
        };
        let plain = AccountFlags::default();
        let no_overcredit = AccountFlags {
            credits_must_not_exceed_debits: true,
            ..AccountFlags::default()
        };
        let setup = vec![
            CommandKind::CreateBranch(new_branch(HQ, None)),
            CommandKind::CreateBranch(new_branch(SH01, Some(HQ))),
            CommandKind::CreateBranch(new_branch(BJ01, Some(HQ))),
            principal(TELLER_SH, Role::Branch(code(SH01)), 0, 1),
            principal(TELLER_BJ, Role::Branch(code(BJ01)), 0, 2),
            principal(OP_JUNIOR, Role::Operator, 1, 3),
            principal(OP_SENIOR, Role::Operator, 3, 4),
            principal(ADMIN, Role::Admin, 0, 5),
            principal(AUDITOR, Role::Auditor, 0, 6),
            open(
                SH_CLEARING,
                SH01,
                AccountClass::Asset,
                Purpose::Clearing,
                plain,
            ),
            open(
                BJ_CLEARING,
                BJ01,
                AccountClass::Asset,
                Purpose::Clearing,
                plain,
            ),
            open(SH_NOSTRO, SH01, AccountClass::Asset, Purpose::Nostro, plain),
            open(BJ_NOSTRO, BJ01, AccountClass::Asset, Purpose::Nostro, plain),
            deposit(ALICE, SH01, cny()),
            deposit(BOB, SH01, cny()),
            deposit(CAROL, BJ01, cny()),
            deposit(DAVE, BJ01, cny()),
            open(
                SH_INTERNAL,
                SH01,
                AccountClass::Liability,
                Purpose::Internal,
                plain,
            ),
            open(
                SH_LOAN,
                SH01,
                AccountClass::Asset,
                Purpose::Customer,
                no_overcredit,
            ),
            deposit(ALICE_USD, SH01, usd()),
            deposit(CAROL_USD, BJ01, usd()),
        ];
        world.index = 1;
        let commands = setup
            .into_iter()
            .map(|kind| Command {
                at: world.at,
                actor: Actor::system(),
                kind,
            })
            .collect();
        for applied in world.ledger.apply(world.index, commands) {
            assert!(applied.outcome.is_ok(), "setup: {applied:?}");
        }
        let funded = world.post(
            TELLER_SH,
            vec![
                transfer("fund-alice", SH_NOSTRO, ALICE, yuan(100_000)),
                transfer("fund-internal", SH_NOSTRO, SH_INTERNAL, yuan(1_000)),
            ],
            true,
        );
        let funded_bj = world.post_one(
            TELLER_BJ,
            transfer("fund-carol", BJ_NOSTRO, CAROL, yuan(50_000)),
        );
        for outcome in funded.iter().chain([&funded_bj]) {
            assert_eq!(outcome.status, EntryStatus::Posted, "{outcome:?}");
        }
        world
    }

    /// Applies one command at `at` as the next log index.
    fn apply_at(&mut self, at: Timestamp, who: &str, kind: CommandKind) -> Applied {
        self.index += 1;
        let command = Command {
            at,
            actor: actor(who),
            kind,
        };
        let applied = self
            .ledger
            .apply(self.index, vec![command])
            .pop()
            .expect("one answer per command");
        self.at = applied.at;
        self.ledger
            .check_invariants()
            .expect("invariants hold after every apply");
        applied
    }

    /// Applies one command one second after the last.
    fn apply(&mut self, who: &str, kind: CommandKind) -> Applied {
        self.apply_at(self.at.plus_seconds(1), who, kind)
    }

    /// Applies one command that must be accepted.
    fn accept(&mut self, who: &str, kind: CommandKind) -> Receipt {
        let applied = self.apply(who, kind);
        applied
            .outcome
            .unwrap_or_else(|rejection| panic!("refused: {rejection}"))
    }

    /// Applies one command that must be accepted and answer with an entry.
    fn accept_entry(&mut self, who: &str, kind: CommandKind) -> JournalEntry {
        match self.accept(who, kind) {
            Receipt::Entry(entry) => *entry,
            receipt => panic!("not an entry: {receipt:?}"),
        }
    }

    /// Applies `kind` at `at` and asserts the ledger ends up exactly as a
    /// twin that applied a command doing nothing at the same index and time.
    fn apply_unchanged_at(&mut self, at: Timestamp, who: &str, kind: CommandKind) -> Applied {
        let mut twin = self.ledger.clone();
        let command = Command {
            at,
            actor: Actor::system(),
            kind: no_op(),
        };
        let nothing = twin.apply(self.index + 1, vec![command]);
        assert!(nothing[0].outcome.is_ok(), "the no-op is accepted");
        let applied = self.apply_at(at, who, kind);
        assert_eq!(
            self.ledger.digest(),
            twin.digest(),
            "the command changed the ledger: {applied:?}"
        );
        applied
    }

    fn apply_unchanged(&mut self, who: &str, kind: CommandKind) -> Applied {
        self.apply_unchanged_at(self.at.plus_seconds(1), who, kind)
    }

    /// Applies a command that must be refused without changing anything;
    /// returns the rejection code.
    fn refuse(&mut self, who: &str, kind: CommandKind) -> String {
        command_refusal(&self.apply_unchanged(who, kind))
    }

    fn post(&mut self, who: &str, entries: Vec<NewEntry>, atomic: bool) -> Vec<EntryOutcome> {
        match self.accept(who, post(entries, atomic)) {
            Receipt::Entries(outcomes) => outcomes,
            receipt => panic!("not entry outcomes: {receipt:?}"),
        }
    }

    fn post_one(&mut self, who: &str, entry: NewEntry) -> EntryOutcome {
        self.post(who, vec![entry], false)
            .pop()
            .expect("one outcome")
    }

    /// Posts entries and asserts the ledger did not change at all.
    fn post_unchanged(
        &mut self,
        who: &str,
        entries: Vec<NewEntry>,
        atomic: bool,
    ) -> Vec<EntryOutcome> {
        match self.apply_unchanged(who, post(entries, atomic)).outcome {
            Ok(Receipt::Entries(outcomes)) => outcomes,
            outcome => panic!("not entry outcomes: {outcome:?}"),
        }
    }

    /// Posts one entry that must be refused on its face: nothing changes, the
    /// id stays free. Returns the rejection code.
    fn refuse_entry(&mut self, who: &str, entry: NewEntry) -> String {
        let id = entry.id.clone();
        let outcome = self.post_unchanged(who, vec![entry], false).pop().unwrap();
        assert!(self.ledger.entry(&id).is_none(), "{id} is not remembered");
        refusal(&outcome)
    }

    /// Posts one entry that must be refused because of the ledger's state:
    /// no balance and no window changes, and the id remembers the refusal.
    /// Returns the rejection code.
    fn refuse_entry_remembered(&mut self, who: &str, entry: NewEntry) -> String {
        let id = entry.id.clone();
        let (balances, windows) = (self.balances(), self.windows());
        let outcome = self.post_one(who, entry);
        assert_eq!(self.balances(), balances, "no balance changed");
        assert_eq!(self.windows(), windows, "no window changed");
        assert_eq!(self.entry(id.as_str()).status, outcome.status, "remembered");
        refusal(&outcome)
    }

    fn balances(&self) -> Vec<(AccountId, Balance)> {
        self.ledger
            .accounts()
            .map(|account| (account.id.clone(), account.balance))
            .collect()
    }

    fn nets(&self) -> Vec<(AccountId, Amount, Amount)> {
        self.ledger
            .accounts()
            .map(|a| {
                let (posted, available) = (a.balance.posted(a.class), a.balance.available(a.class));
                (a.id.clone(), posted, available)
            })
            .collect()
    }

    fn windows(&self) -> Vec<(ClearingWindow, WindowPositions)> {
        self.ledger
            .windows()
            .map(|window| (window.clone(), self.ledger.window_positions(window.id)))
            .collect()
    }

    fn account(&self, id: &str) -> &Account {
        self.ledger.account(&acct(id)).expect("account exists")
    }

    fn balance(&self, id: &str) -> Balance {
        self.account(id).balance
    }

    /// The posted balance on the account's normal side, in minor units.
    fn posted(&self, id: &str) -> Amount {
        let account = self.account(id);
        account.balance.posted(account.class)
    }

    fn available(&self, id: &str) -> Amount {
        let account = self.account(id);
        account.balance.available(account.class)
    }

    fn entry(&self, id: &str) -> JournalEntry {
        self.ledger
            .entry(&eid(id))
            .expect("entry exists")
            .into_owned()
    }

    fn status(&self, id: &str) -> EntryStatus {
        self.entry(id).status.clone()
    }
}

// --- Ids and amounts -------------------------------------------------------

#[test]
fn ids_are_validated() {
    assert_eq!(EntryId::new(""), Err(IdError::Empty));
    assert_eq!(
        EntryId::new("t 1"),
        Err(IdError::BadCharacter { character: ' ' })
    );
    assert_eq!(
        AccountId::new("a/b"),
        Err(IdError::BadCharacter { character: '/' })
    );
    assert_eq!(
        BranchCode::new("上海"),
        Err(IdError::BadCharacter { character: '上' })
    );
    assert_eq!(
        PrincipalName::new("x".repeat(65)),
        Err(IdError::TooLong { length: 65 })
    );
    assert_eq!(
        EntryId::new("é".repeat(40)),
        Err(IdError::BadCharacter { character: 'é' }),
        "40 characters are within the length limit, whatever their bytes"
    );
    assert!(EntryId::new("x".repeat(64)).is_ok());
    assert!(EntryId::new("Az09._:-").is_ok());
    // Ids that arrive encoded are validated too.
    assert!(codec::decode::<EntryId>(&codec::encode(&"t 1".to_string())).is_err());
    assert!(codec::decode::<AccountId>(&codec::encode(&String::new())).is_err());
    assert_eq!(
        codec::decode::<EntryId>(&codec::encode(&"t-1".to_string())),
        Ok(eid("t-1"))
    );
}

#[test]
fn amount_with_too_many_decimals_is_rejected_not_rounded() {
    let (jpy, kwd) = (Currency::new("JPY").unwrap(), Currency::new("KWD").unwrap());
    assert!(matches!(
        Amount::parse("1.001", cny()),
        Err(AmountError::TooManyDecimals {
            decimals: 3,
            allowed: 2,
            ..
        })
    ));
    assert!(matches!(
        Amount::parse_positive("0.005", cny()),
        Err(AmountError::TooManyDecimals { .. })
    ));
    assert!(matches!(
        Amount::parse("1.5", jpy),
        Err(AmountError::TooManyDecimals { allowed: 0, .. })
    ));
    assert!(matches!(
        Amount::parse("1.0001", kwd),
        Err(AmountError::TooManyDecimals { allowed: 3, .. })
    ));
    // Beyond rust_decimal's 28-digit precision, too: never rounded away.
    for text in [
        "1.000000000000000000000000000001",
        "0.0000000000000000000000000000001",
        "1.99999999999999999999999999999",
    ] {
        assert!(
            matches!(
                Amount::parse(text, cny()),
                Err(AmountError::TooManyDecimals { .. })
            ),
            "{text} -> {:?}",
            Amount::parse(text, cny())
        );
    }
    assert_eq!(Amount::parse("1.001", kwd), Ok(Amount::from_minor(1001)));
    assert_eq!(
        Amount::parse("1.230", cny()),
        Ok(Amount::from_minor(123)),
        "trailing zeros are not decimals"
    );
    assert_eq!(Amount::parse("500", jpy), Ok(Amount::from_minor(500)));
}

// --- Shape of an entry -----------------------------------------------------

#[test]
fn posting_amounts_must_be_positive() {
    let mut w = World::new();
    assert!(matches!(
        Amount::parse_positive("0.00", cny()),
        Err(AmountError::NotPositive(_))
    ));
    assert!(matches!(
        Amount::parse_positive("-1.00", cny()),
        Err(AmountError::NotPositive(_))
    ));
    let zero = transfer("zero", ALICE, BOB, Amount::ZERO);
    assert_eq!(w.refuse_entry(TELLER_SH, zero), "amount_not_positive");
    let negative = transfer("negative", ALICE, BOB, Amount::from_minor(-100));
    assert_eq!(w.refuse_entry(TELLER_SH, negative), "amount_not_positive");
    let mixed = entry(
        "mixed",
        &[
            (ALICE, Side::Debit, yuan(1)),
            (BOB, Side::Credit, yuan(2)),
            (BOB, Side::Debit, Amount::from_minor(-100)),
        ],
    );
    assert_eq!(w.refuse_entry(TELLER_SH, mixed), "amount_not_positive");
}

#[test]
fn entry_with_fewer_than_two_postings_is_rejected() {
    let mut w = World::new();
    let one = entry("one", &[(ALICE, Side::Debit, yuan(1))]);
    assert_eq!(w.refuse_entry(TELLER_SH, one), "postings_too_few");
    let none = entry("none", &[]);
    assert_eq!(w.refuse_entry(TELLER_SH, none), "postings_too_few");
}

#[test]
fn entry_with_too_many_postings_is_rejected() {
    let mut w = World::new();
    let max = limits::POSTINGS_PER_ENTRY_MAX;
    let fan_out = |id: &str, credits: usize| {
        let mut lines = vec![(
            ALICE,
            Side::Debit,
            Amount::from_minor(i128::try_from(credits).unwrap()),
        )];
        lines.extend((0..credits).map(|_| (BOB, Side::Credit, Amount::from_minor(1))));
        entry(id, &lines)
    };
    let too_many = fan_out("too-many", max);
    assert_eq!(too_many.postings.len(), max + 1);
    assert_eq!(w.refuse_entry(TELLER_SH, too_many), "postings_too_many");
    let at_limit = fan_out("at-limit", max - 1);
    assert_eq!(at_limit.postings.len(), max);
    assert_eq!(w.post_one(TELLER_SH, at_limit).status, EntryStatus::Posted);
    assert_eq!(w.posted(BOB).minor(), i128::try_from(max - 1).unwrap());
}

#[test]
fn unbalanced_entry_is_rejected() {
    let mut w = World::new();
    let unbalanced = entry(
        "unbalanced",
        &[
            (ALICE, Side::Debit, yuan(100)),
            (BOB, Side::Credit, Amount::from_minor(9_999)),
        ],
    );
    let outcome = w
        .post_unchanged(TELLER_SH, vec![unbalanced], false)
        .pop()
        .unwrap();
    assert_eq!(
        outcome.status,
        EntryStatus::Rejected {
            rejection: Rejection::EntryUnbalanced {
                debits: yuan(100),
                credits: Amount::from_minor(9_999),
            }
        }
    );
    let one_sided = entry(
        "one-sided",
        &[(ALICE, Side::Debit, yuan(1)), (BOB, Side::Debit, yuan(1))],
    );
    assert_eq!(w.refuse_entry(TELLER_SH, one_sided), "entry_unbalanced");
}

#[test]
fn transfer_to_the_same_account_is_rejected() {
    let mut w = World::new();
    let circular = transfer("circular", ALICE, ALICE, yuan(10));
    assert_eq!(
        w.refuse_entry(TELLER_SH, circular),
        "accounts_must_be_different"
    );
}

// --- Accounts an entry may touch -------------------------------------------

#[test]
fn account_in_another_currency_is_rejected() {
    let mut w = World::new();
    let cny_into_usd = transfer("cny-into-usd", ALICE, ALICE_USD, yuan(10));
    assert_eq!(
        w.refuse_entry(TELLER_SH, cny_into_usd),
        "account_currency_mismatch"
    );
    let usd_from_cny = NewEntry {
        currency: usd(),
        ..transfer("usd-from-cny", ALICE, ALICE_USD, yuan(10))
    };
    let outcome = w
        .post_unchanged(TELLER_SH, vec![usd_from_cny], false)
        .pop()
        .unwrap();
    assert_eq!(
        outcome.status,
        EntryStatus::Rejected {
            rejection: Rejection::AccountCurrencyMismatch {
                account: acct(ALICE),
                account_currency: cny(),
                currency: usd(),
            }
        }
    );
}

#[test]
fn unknown_account_is_rejected() {
    let mut w = World::new();
    let to_nowhere = transfer("to-nowhere", ALICE, "SH01-NOBODY", yuan(10));
    assert_eq!(w.refuse_entry(TELLER_SH, to_nowhere), "account_not_found");
}

#[test]
fn frozen_account_accepts_no_postings() {
    let mut w = World::new();
    let freeze = |frozen| CommandKind::SetAccountFrozen {
        account: acct(ALICE),
        frozen,
    };
    w.accept(TELLER_SH, freeze(true));
    assert!(w.account(ALICE).flags.frozen);
    let out = transfer("out-of-frozen", ALICE, BOB, yuan(1));
    assert_eq!(w.refuse_entry_remembered(TELLER_SH, out), "account_frozen");
    let into = transfer("into-frozen", SH_NOSTRO, ALICE, yuan(1));
    assert_eq!(w.refuse_entry_remembered(TELLER_SH, into), "account_frozen");
    w.accept(TELLER_SH, freeze(false));
    let after = transfer("after-unfreezing", ALICE, BOB, yuan(1));
    assert_eq!(w.post_one(TELLER_SH, after).status, EntryStatus::Posted);
}

#[test]
fn closed_account_accepts_no_postings() {
    let mut w = World::new();
    let close = CommandKind::CloseAccount { account: acct(BOB) };
    w.accept(TELLER_SH, close);
    assert!(w.account(BOB).flags.closed);
    let into = transfer("into-closed", ALICE, BOB, yuan(1));
    assert_eq!(w.refuse_entry_remembered(TELLER_SH, into), "account_closed");
    let freeze = CommandKind::SetAccountFrozen {
        account: acct(BOB),
        frozen: true,
    };
    assert_eq!(w.refuse(TELLER_SH, freeze), "account_closed");
}

#[test]
fn closing_an_account_with_a_balance_is_refused() {
    let mut w = World::new();
    let close = |id| CommandKind::CloseAccount { account: acct(id) };
    assert_eq!(
        w.refuse(TELLER_SH, close(ALICE)),
        "account_balance_not_zero"
    );
    // Pending amounts count too.
    let waiting = pending("waiting", ALICE, BOB, yuan(5));
    assert_eq!(w.post_one(TELLER_SH, waiting).status, EntryStatus::Pending);
    assert_eq!(w.posted(BOB), Amount::ZERO);
    assert_eq!(w.refuse(TELLER_SH, close(BOB)), "account_balance_not_zero");
    w.accept(TELLER_SH, reject("waiting"));
    assert!(!w.account(BOB).flags.closed);
    w.accept(TELLER_SH, close(BOB));
    assert!(w.account(BOB).flags.closed);
}

// --- Limits ------------------------------------------------------------------

#[test]
fn debits_must_not_exceed_credits_counts_pending_debits() {
    let mut w = World::new();
    let reserve = pending("reserve", ALICE, BOB, yuan(80_000));
    assert_eq!(w.post_one(TELLER_SH, reserve).status, EntryStatus::Pending);
    assert_eq!(w.posted(ALICE), yuan(100_000), "nothing posted yet");
    let too_much = transfer("too-much", ALICE, BOB, yuan(30_000));
    assert_eq!(
        w.refuse_entry_remembered(TELLER_SH, too_much),
        "insufficient_funds"
    );
    let fits = transfer("fits", ALICE, BOB, yuan(20_000));
    assert_eq!(w.post_one(TELLER_SH, fits).status, EntryStatus::Posted);
    assert_eq!(w.available(ALICE), Amount::ZERO);
    let one_fen = transfer("one-fen", ALICE, BOB, Amount::from_minor(1));
    assert_eq!(
        w.refuse_entry_remembered(TELLER_SH, one_fen),
        "insufficient_funds"
    );
}

#[test]
fn credits_must_not_exceed_debits() {
    let mut w = World::new();
    let overpay = transfer("overpay", ALICE, SH_LOAN, yuan(1));
    assert_eq!(
        w.refuse_entry_remembered(TELLER_SH, overpay),
        "credits_exceed_debits"
    );
    let disburse = transfer("disburse", SH_LOAN, ALICE, yuan(500));
    assert_eq!(w.post_one(TELLER_SH, disburse).status, EntryStatus::Posted);
    let repay = transfer("repay", ALICE, SH_LOAN, yuan(500));
    assert_eq!(w.post_one(TELLER_SH, repay).status, EntryStatus::Posted);
    let one_fen_more = transfer("one-fen-more", ALICE, SH_LOAN, Amount::from_minor(1));
    assert_eq!(
        w.refuse_entry_remembered(TELLER_SH, one_fen_more),
        "credits_exceed_debits"
    );
}

// --- Idempotency -------------------------------------------------------------

#[test]
fn idempotent_retry_returns_the_original_outcome_and_position() {
    let mut w = World::new();
    let original = w.post_one(TELLER_SH, transfer("t1", ALICE, BOB, yuan(100)));
    assert_eq!(original.status, EntryStatus::Posted);
    assert_eq!(original.position.index, w.index);
    let retried = w
        .post_unchanged(
            TELLER_SH,
            vec![transfer("t1", ALICE, BOB, yuan(100))],
            false,
        )
        .pop()
        .unwrap();
    assert_eq!(retried, original, "same status, position and time");
    // Inside an atomic batch with a new entry, too.
    let outcomes = w.post(
        TELLER_SH,
        vec![
            transfer("t1", ALICE, BOB, yuan(100)),
            transfer("t2", ALICE, BOB, yuan(1)),
        ],
        true,
    );
    assert_eq!(outcomes[0], original);
    assert_eq!(outcomes[1].status, EntryStatus::Posted);
    assert_eq!(w.posted(BOB), yuan(101), "t1 moved money once");
}

#[test]
fn same_id_with_different_content_is_rejected_naming_the_field() {
    let mut w = World::new();
    let memo = |memo: &str, entry: NewEntry| NewEntry {
        memo: Some(memo.into()),
        ..entry
    };
    let base = memo("rent", transfer("t1", ALICE, BOB, yuan(100)));
    assert_eq!(
        w.post_one(TELLER_SH, base.clone()).status,
        EntryStatus::Posted
    );
    let variants = [
        (
            memo("rent", transfer("t1", ALICE, BOB, yuan(101))),
            "exists_with_different_amount",
        ),
        (
            memo("rent", transfer("t1", SH_NOSTRO, BOB, yuan(100))),
            "exists_with_different_debit_account",
        ),
        (
            memo("rent", transfer("t1", ALICE, DAVE, yuan(100))),
            "exists_with_different_credit_account",
        ),
        (
            memo("rent!", transfer("t1", ALICE, BOB, yuan(100))),
            "exists_with_different_memo",
        ),
        (
            NewEntry {
                pending: true,
                ..base.clone()
            },
            "exists_with_different_pending",
        ),
    ];
    for (variant, expected) in variants {
        let outcome = w
            .post_unchanged(TELLER_SH, vec![variant], false)
            .pop()
            .unwrap();
        assert_eq!(refusal(&outcome), expected);
    }
    assert_eq!(w.entry("t1").request, base, "the original stands");
    assert_eq!(w.posted(BOB), yuan(100));
}

#[test]
fn rejected_id_answers_the_same_even_after_funds_arrive() {
    let mut w = World::new();
    let from_bob = || transfer("from-bob", BOB, ALICE, yuan(50));
    assert_eq!(
        w.refuse_entry_remembered(TELLER_SH, from_bob()),
        "insufficient_funds"
    );
    let first = EntryOutcome::of(&w.entry("from-bob"));
    let funding = transfer("fund-bob", ALICE, BOB, yuan(100));
    assert_eq!(w.post_one(TELLER_SH, funding).status, EntryStatus::Posted);
    let retried = w
        .post_unchanged(TELLER_SH, vec![from_bob()], false)
        .pop()
        .unwrap();
    assert_eq!(retried, first, "the same rejection from the same position");
    assert_eq!(w.posted(BOB), yuan(100));
}

// --- Batches -----------------------------------------------------------------

#[test]
fn atomic_batch_is_all_or_nothing() {
    let mut w = World::new();
    let batch = |second: Amount| {
        vec![
            transfer("a1", ALICE, BOB, yuan(100)),
            // Bob has only what a1 gives him.
            transfer("a2", BOB, ALICE, second),
            transfer("a3", ALICE, BOB, yuan(1)),
        ]
    };
    let failed = w.post_unchanged(TELLER_SH, batch(yuan(150)), true);
    let codes: Vec<String> = failed.iter().map(refusal).collect();
    assert_eq!(
        codes,
        [
            "atomic_batch_failed",
            "insufficient_funds",
            "atomic_batch_failed"
        ]
    );
    assert_eq!(
        failed[0].status,
        EntryStatus::Rejected {
            rejection: Rejection::AtomicBatchFailed { failed: eid("a2") }
        }
    );
    assert!(w.ledger.entry(&eid("a1")).is_none(), "nothing was booked");
    let posted = w.post(TELLER_SH, batch(yuan(100)), true);
    assert!(posted.iter().all(|o| o.status == EntryStatus::Posted));
    assert_eq!(w.posted(BOB), yuan(1));
    assert_eq!(w.posted(ALICE), yuan(100_000 - 1));
    // An id refused before keeps its refusal inside an atomic batch, so the
    // batch never answers "posted" next to "rejected".
    let refused = transfer("refused", BOB, ALICE, yuan(1_000));
    assert_eq!(
        w.refuse_entry_remembered(TELLER_SH, refused.clone()),
        "insufficient_funds"
    );
    let first = EntryOutcome::of(&w.entry("refused"));
    let with_refused = vec![transfer("a4", ALICE, BOB, yuan(1)), refused];
    let outcomes = w.post_unchanged(TELLER_SH, with_refused, true);
    assert_eq!(refusal(&outcomes[0]), "atomic_batch_failed");
    assert_eq!(outcomes[1], first, "answers as it did the first time");
}

#[test]
fn non_atomic_batch_items_are_independent() {
    let mut w = World::new();
    let outcomes = w.post(
        TELLER_SH,
        vec![
            transfer("n1", ALICE, BOB, yuan(100)),
            transfer("n2", BOB, ALICE, yuan(1_000)),
            transfer("n3", BOB, ALICE, yuan(40)),
        ],
        false,
    );
    assert_eq!(outcomes[0].status, EntryStatus::Posted);
    assert_eq!(refusal(&outcomes[1]), "insufficient_funds");
    assert_eq!(outcomes[2].status, EntryStatus::Posted);
    assert_eq!(w.posted(BOB), yuan(60));
    assert_eq!(
        w.status("n2"),
        outcomes[1].status,
        "the refusal is remembered"
    );
}

#[test]
fn duplicate_id_inside_one_batch() {
    let mut w = World::new();
    let twice = w.post(
        TELLER_SH,
        vec![
            transfer("d1", ALICE, BOB, yuan(100)),
            transfer("d1", ALICE, BOB, yuan(100)),
        ],
        true,
    );
    assert_eq!(twice[0].status, EntryStatus::Posted);
    assert_eq!(twice[1], twice[0], "the copy answers as the original");
    assert_eq!(w.posted(BOB), yuan(100), "posted once");

    let conflicting = vec![
        transfer("d2", ALICE, BOB, yuan(100)),
        transfer("d2", ALICE, BOB, yuan(200)),
    ];
    let failed = w.post_unchanged(TELLER_SH, conflicting.clone(), true);
    assert_eq!(refusal(&failed[0]), "atomic_batch_failed");
    assert_eq!(refusal(&failed[1]), "exists_with_different_amount");

    let independent = w.post(TELLER_SH, conflicting, false);
    assert_eq!(independent[0].status, EntryStatus::Posted);
    assert_eq!(refusal(&independent[1]), "exists_with_different_amount");
    assert_eq!(w.posted(BOB), yuan(200));
}

// --- Inter-branch transfers and clearing ---------------------------------------

#[test]
fn inter_branch_transfer_books_through_clearing_accounts_and_the_open_window() {
    let mut w = World::new();
    assert_eq!(w.ledger.open_window_id(), None);
    let outcome = w.post_one(TELLER_SH, transfer("x1", ALICE, CAROL, yuan(1_000)));
    assert_eq!(outcome.status, EntryStatus::Posted);
    let booked = w.entry("x1").clone();
    assert!(booked.is_inter_branch());
    let clearing: BTreeSet<(String, Side, Amount)> = booked.postings[2..]
        .iter()
        .map(|p| (p.account.to_string(), p.side, p.amount))
        .collect();
    assert_eq!(
        clearing,
        BTreeSet::from([
            (SH_CLEARING.to_string(), Side::Credit, yuan(1_000)),
            (BJ_CLEARING.to_string(), Side::Debit, yuan(1_000)),
        ])
    );
    // Each branch's side of the entry balances on its own.
    for branch in [SH01, BJ01] {
        let (mut debits, mut credits) = (Amount::ZERO, Amount::ZERO);
        for posting in &booked.postings {
            if w.account(posting.account.as_str()).branch == code(branch) {
                match posting.side {
                    Side::Debit => debits += posting.amount,
                    Side::Credit => credits += posting.amount,
                }
            }
        }
        assert_eq!(debits, credits, "{branch} balances");
        assert_eq!(debits, yuan(1_000));
    }
    assert_eq!(w.balance(SH_CLEARING).credits_posted, yuan(1_000));
    assert_eq!(w.balance(BJ_CLEARING).debits_posted, yuan(1_000));
    assert_eq!(w.posted(CAROL), yuan(51_000));

    let window_id = w.ledger.open_window_id().expect("a window opened");
    assert_eq!(booked.window, Some(window_id));
    let back = transfer("x2", CAROL, ALICE, yuan(300));
    assert_eq!(w.post_one(TELLER_BJ, back).status, EntryStatus::Posted);
    assert_eq!(w.entry("x2").window, Some(window_id), "same open window");

    let window = w.ledger.window(window_id).unwrap();
    assert_eq!(window.status, WindowStatus::Open);
    let positions = w.ledger.window_positions(window_id);
    let flows = |branch| positions.branch(&code(branch), cny());
    assert_eq!(
        flows(SH01),
        BranchFlows {
            paid: yuan(1_000),
            received: yuan(300),
            count: 2
        }
    );
    assert_eq!(
        flows(BJ01),
        BranchFlows {
            paid: yuan(300),
            received: yuan(1_000),
            count: 2
        }
    );
    assert_eq!(flows(SH01).net() + flows(BJ01).net(), Amount::ZERO);
    let pair = |payer, payee| positions.pair(&code(payer), &code(payee), cny());
    assert_eq!(
        pair(SH01, BJ01),
        PairFlows {
            amount: yuan(1_000),
            count: 1
        }
    );
    assert_eq!(
        pair(BJ01, SH01),
        PairFlows {
            amount: yuan(300),
            count: 1
        }
    );
    // An entry within one branch stays out of the window.
    let local = transfer("local", ALICE, BOB, yuan(5));
    assert_eq!(w.post_one(TELLER_SH, local).status, EntryStatus::Posted);
    assert_eq!(w.entry("local").window, None);
    assert_eq!(w.entry("local").postings.len(), 2);
}

#[test]
fn inter_branch_transfer_without_a_clearing_account_is_rejected() {
    let mut w = World::new();
    let usd_across = NewEntry {
        currency: usd(),
        ..transfer("usd-across", ALICE_USD, CAROL_USD, Amount::from_minor(100))
    };
    assert_eq!(
        w.refuse_entry_remembered(TELLER_SH, usd_across.clone()),
        "clearing_account_missing"
    );
    let EntryStatus::Rejected {
        rejection: Rejection::ClearingAccountMissing { currency, .. },
    } = w.status("usd-across")
    else {
        panic!("not clearing_account_missing");
    };
    assert_eq!(currency, usd());
    assert_eq!(w.ledger.open_window_id(), None, "no window for a refusal");
    // The id is remembered; a retry answers the same and changes nothing.
    let outcome = EntryOutcome::of(&w.entry("usd-across"));
    let retried = w
        .post_unchanged(TELLER_SH, vec![usd_across], false)
        .pop()
        .unwrap();
    assert_eq!(retried, outcome);
    // A clearing account that cannot be posted to refuses the entry, too.
    w.accept(
        SYSTEM,
        CommandKind::SetAccountFrozen {
            account: acct(BJ_CLEARING),
            frozen: true,
        },
    );
    let across = transfer("cny-across", ALICE, CAROL, yuan(1));
    assert_eq!(
        w.refuse_entry_remembered(TELLER_SH, across),
        "account_frozen"
    );
}

// --- Pending entries ---------------------------------------------------------

#[test]
fn pending_entry_reserves_amounts_without_posting() {
    let mut w = World::new();
    let outcome = w.post_one(TELLER_SH, pending("p1", ALICE, BOB, yuan(2_000)));
    assert_eq!(outcome.status, EntryStatus::Pending);
    assert_eq!(w.entry("p1").approval_reasons, [ApprovalReason::Requested]);
    assert_eq!(w.posted(ALICE), yuan(100_000), "posted unchanged");
    assert_eq!(w.available(ALICE), yuan(98_000), "available drops");
    assert_eq!(w.balance(ALICE).debits_pending, yuan(2_000));
    assert_eq!(w.posted(BOB), Amount::ZERO);
    assert_eq!(
        w.available(BOB),
        Amount::ZERO,
        "a pending credit is not available"
    );
    assert_eq!(w.balance(BOB).credits_pending, yuan(2_000));
    let queue: Vec<EntryId> = w
        .ledger
        .pending_entries()
        .into_iter()
        .map(|e| e.id().clone())
        .collect();
    assert_eq!(queue, [eid("p1")]);
}

#[test]
fn approving_a_pending_entry_posts_it() {
    let mut w = World::new();
    w.post_one(TELLER_SH, pending("p1", ALICE, BOB, yuan(2_000)));
    let approved = w.accept_entry(OP_JUNIOR, approve("p1"));
    assert_eq!(approved.status, EntryStatus::Posted);
    let decision = approved.decision.expect("decided");
    assert_eq!(decision.by.as_str(), OP_JUNIOR);
    assert_eq!(decision.reason.as_deref(), Some("checked"));
    assert_eq!(w.posted(ALICE), yuan(98_000));
    assert_eq!(w.posted(BOB), yuan(2_000));
    assert_eq!(w.balance(ALICE).debits_pending, Amount::ZERO);
    assert_eq!(w.balance(BOB).credits_pending, Amount::ZERO);
    assert!(w.ledger.pending_entries().is_empty());
    // A retried approval answers the same and changes nothing; anyone else's
    // finds the entry no longer pending.
    assert!(w.apply_unchanged(OP_JUNIOR, approve("p1")).outcome.is_ok());
    assert_eq!(w.refuse(OP_SENIOR, approve("p1")), "entry_not_pending");
}

#[test]
fn rejecting_a_pending_entry_voids_it_and_releases_the_reserve() {
    let mut w = World::new();
    let before = w.balances();
    w.post_one(TELLER_SH, pending("p2", ALICE, BOB, yuan(3_000)));
    assert_eq!(w.available(ALICE), yuan(97_000));
    let voided = w.accept_entry(OP_JUNIOR, reject("p2"));
    assert_eq!(
        voided.status,
        EntryStatus::Voided {
            reason: VoidReason::RejectedByApprover
        }
    );
    assert_eq!(w.balances(), before, "the reserve is released");
    assert_eq!(w.refuse(OP_SENIOR, approve("p2")), "entry_not_pending");
    // A branch may withdraw its own pending entry, but not another's.
    w.post_one(TELLER_BJ, pending("p3", CAROL, DAVE, yuan(1)));
    assert_eq!(w.refuse(TELLER_SH, reject("p3")), "forbidden");
    w.accept(TELLER_BJ, reject("p3"));
    assert_eq!(w.balances(), before);
}

#[test]
fn pending_entry_expires_in_command_time() {
    let mut w = World::new();
    let alice_before = w.balance(ALICE);
    let expiring = NewEntry {
        timeout_seconds: Some(60),
        ..pending("p-exp", ALICE, BOB, yuan(700))
    };
    w.post_one(TELLER_SH, expiring);
    let booked_at = w.entry("p-exp").booked_at;
    assert_eq!(
        w.entry("p-exp").expires_at,
        Some(booked_at.plus_seconds(60))
    );
    // Half-way, a later command leaves it waiting.
    let halfway = booked_at.plus_seconds(30);
    let still = transfer("still", BJ_NOSTRO, CAROL, yuan(1));
    let applied = w.apply_at(halfway, TELLER_BJ, post(vec![still], false));
    assert!(applied.outcome.is_ok());
    assert_eq!(w.status("p-exp"), EntryStatus::Pending);
    assert_eq!(w.available(ALICE), yuan(99_300));
    // The first command whose time is past the timeout voids it, whatever
    // that command is: here an approval, which then finds nothing to approve.
    let late = booked_at.plus_seconds(61);
    let applied = w.apply_at(late, OP_SENIOR, approve("p-exp"));
    assert_eq!(command_refusal(&applied), "entry_not_pending");
    let expired = w.entry("p-exp");
    assert_eq!(
        expired.status,
        EntryStatus::Voided {
            reason: VoidReason::Expired
        }
    );
    let decision = expired.decision.as_ref().unwrap();
    assert_eq!((decision.by.as_str(), decision.at), (SYSTEM, late));
    assert_eq!(w.balance(ALICE), alice_before);
    assert_eq!(w.available(ALICE), yuan(100_000), "the reserve is released");
    assert_eq!(w.balance(BOB), Balance::default());
    assert!(w.ledger.pending_entries().is_empty());
}

#[test]
fn time_never_goes_backwards() {
    let mut w = World::new();
    let now = w.at.plus_seconds(10);
    w.apply_at(
        now,
        TELLER_SH,
        post(vec![transfer("t1", ALICE, BOB, yuan(1))], false),
    );
    let lagging_clock = time("2026-11-22T08:00:00Z");
    assert!(lagging_clock < now);
    let applied = w.apply_at(
        lagging_clock,
        TELLER_SH,
        post(vec![transfer("t2", ALICE, BOB, yuan(1))], false),
    );
    assert_eq!(applied.at, now, "applied at the previous time");
    assert_eq!(w.entry("t2").booked_at, now);
    assert_eq!(w.ledger.applied_at(), now);
    assert_eq!(w.ledger.index_at_time(now), Ok(w.index));
}

// --- Approval ----------------------------------------------------------------

#[test]
fn poster_cannot_approve_own_entry() {
    let mut w = World::new();
    let own = pending("own", ALICE, BOB, yuan(10));
    assert_eq!(w.post_one(OP_JUNIOR, own).status, EntryStatus::Pending);
    assert_eq!(w.refuse(OP_JUNIOR, approve("own")), "approver_is_poster");
    // Only operators approve at all.
    assert_eq!(w.refuse(TELLER_SH, approve("own")), "forbidden");
    assert_eq!(w.refuse(ADMIN, approve("own")), "forbidden");
    assert_eq!(
        w.accept_entry(OP_SENIOR, approve("own")).status,
        EntryStatus::Posted
    );
}

#[test]
fn approver_needs_the_authority_of_the_entry_tier() {
    let mut w = World::new();
    w.accept(
        ADMIN,
        policy(
            SH01,
            Some(yuan(10_000)),
            &[(Amount::ZERO, 1), (yuan(50_000), 3)],
        ),
    );
    w.post_one(TELLER_SH, transfer("big", ALICE, BOB, yuan(60_000)));
    assert_eq!(w.status("big"), EntryStatus::Pending);
    assert_eq!(w.entry("big").required_authority, 3);
    let applied = w.apply_unchanged(OP_JUNIOR, approve("big"));
    assert_eq!(
        applied.outcome,
        Err(Rejection::InsufficientAuthority {
            approver: PrincipalName::new(OP_JUNIOR).unwrap(),
            required: 3,
            held: 1,
        })
    );
    assert_eq!(
        w.accept_entry(OP_SENIOR, approve("big")).status,
        EntryStatus::Posted
    );

    w.post_one(TELLER_SH, transfer("medium", ALICE, BOB, yuan(20_000)));
    assert_eq!(w.entry("medium").required_authority, 1);
    assert_eq!(
        w.accept_entry(OP_JUNIOR, approve("medium")).status,
        EntryStatus::Posted
    );
    assert_eq!(w.posted(BOB), yuan(80_000));
}

#[test]
fn entry_at_or_above_the_policy_threshold_waits_for_approval() {
    let mut w = World::new();
    let threshold = policy(SH01, Some(yuan(10_000)), &[]);
    assert_eq!(w.refuse(OP_SENIOR, threshold.clone()), "forbidden");
    w.accept(ADMIN, threshold);
    let below = transfer("below", ALICE, BOB, Amount::from_minor(999_999));
    assert_eq!(w.post_one(TELLER_SH, below).status, EntryStatus::Posted);
    let at = transfer("at", ALICE, BOB, yuan(10_000));
    assert_eq!(w.post_one(TELLER_SH, at).status, EntryStatus::Pending);
    assert_eq!(
        w.entry("at").approval_reasons,
        [ApprovalReason::AboveThreshold]
    );
    // The policy of every branch an entry touches applies.
    w.accept(ADMIN, policy(BJ01, Some(yuan(500)), &[]));
    let across = transfer("across", ALICE, CAROL, yuan(600));
    assert_eq!(w.post_one(TELLER_SH, across).status, EntryStatus::Pending);
    assert_eq!(
        w.ledger.open_window_id(),
        None,
        "positions wait for approval"
    );
    w.accept(OP_JUNIOR, approve("across"));
    let window = w.ledger.open_window_id().expect("approval opened a window");
    assert_eq!(w.entry("across").window, Some(window));
}

#[test]
fn outbound_posting_from_an_internal_account_waits_for_approval() {
    let mut w = World::new();
    let inbound = transfer("fee-in", ALICE, SH_INTERNAL, yuan(10));
    assert_eq!(w.post_one(TELLER_SH, inbound).status, EntryStatus::Posted);
    let outbound = transfer("fee-refund", SH_INTERNAL, ALICE, yuan(10));
    assert_eq!(w.post_one(TELLER_SH, outbound).status, EntryStatus::Pending);
    assert_eq!(
        w.entry("fee-refund").approval_reasons,
        [ApprovalReason::InternalAccountOutbound]
    );
    assert_eq!(w.posted(SH_INTERNAL), yuan(1_010));
    w.accept(OP_JUNIOR, approve("fee-refund"));
    assert_eq!(w.posted(SH_INTERNAL), yuan(1_000));
}

// --- Who may do what -----------------------------------------------------------

#[test]
fn branch_may_not_debit_another_branchs_account_but_may_credit_its_customers() {
    let mut w = World::new();
    let debit_foreign = transfer("debit-foreign", CAROL, ALICE, yuan(10));
    assert_eq!(w.refuse_entry(TELLER_SH, debit_foreign), "forbidden");
    let credit_foreign_nostro = transfer("credit-nostro", ALICE, BJ_NOSTRO, yuan(10));
    assert_eq!(
        w.refuse_entry(TELLER_SH, credit_foreign_nostro),
        "forbidden"
    );
    let credit_customer = transfer("credit-customer", ALICE, DAVE, yuan(10));
    assert_eq!(
        w.post_one(TELLER_SH, credit_customer).status,
        EntryStatus::Posted
    );
    assert_eq!(w.posted(DAVE), yuan(10));
    let freeze_foreign = CommandKind::SetAccountFrozen {
        account: acct(CAROL),
        frozen: true,
    };
    assert_eq!(w.refuse(TELLER_SH, freeze_foreign), "forbidden");
    assert_eq!(
        w.refuse(TELLER_SH, deposit("BJ01-EVE", BJ01, cny())),
        "forbidden"
    );
}

/// Which variant a command is, so that the auditor test names every one.
fn variant(kind: &CommandKind) -> usize {
    match kind {
        CommandKind::CreatePrincipal(_) => 0,
        CommandKind::CreateBranch(_) => 1,
        CommandKind::OpenAccount(_) => 2,
        CommandKind::SetAccountFrozen { .. } => 3,
        CommandKind::CloseAccount { .. } => 4,
        CommandKind::PostEntries { .. } => 5,
        CommandKind::ApproveEntry { .. } => 6,
        CommandKind::RejectEntry { .. } => 7,
        CommandKind::ReverseEntry { .. } => 8,
        CommandKind::SetApprovalPolicy(_) => 9,
        CommandKind::OpenWindow => 10,
        CommandKind::Tick => 11,
        CommandKind::CloseWindow { .. } => 12,
        CommandKind::SettleWindow { .. } => 13,
        CommandKind::AbortWindow { .. } => 14,
        CommandKind::SetNetDebitCap(_) => 15,
        CommandKind::ImportExternalStatements { .. } => 16,
        CommandKind::RunReconciliation { .. } => 17,
        CommandKind::ResolveBreak { .. } => 18,
        CommandKind::Statements(_) => 19,
        CommandKind::ClosePeriod { .. } => 20,
        // The auditor's own record, a review mark, which changes nothing in
        // the books (tests/audit.rs).
        CommandKind::ReviewEntry { .. } => 21,
        CommandKind::RotatePrincipalKey { .. } => 22,
        CommandKind::RevokePrincipal { .. } => 23,
    }
}

#[test]
fn auditor_cannot_write_anything() {
    let mut w = World::new();
    w.post_one(TELLER_SH, pending("waiting", ALICE, BOB, yuan(1)));
    let commands = vec![
        principal("eve", Role::Auditor, 0, 99),
        CommandKind::CreateBranch(new_branch("GZ01", Some(HQ))),
        deposit("SH01-EVE", SH01, cny()),
        CommandKind::SetAccountFrozen {
            account: acct(ALICE),
            frozen: true,
        },
        CommandKind::CloseAccount { account: acct(BOB) },
        post(vec![transfer("by-auditor", ALICE, BOB, yuan(1))], false),
        approve("waiting"),
        reject("waiting"),
        reverse("fund-alice", "rev-by-auditor", "audit finding"),
        policy(SH01, Some(yuan(1)), &[]),
        CommandKind::OpenWindow,
        CommandKind::Tick,
        CommandKind::CloseWindow { window: 1 },
        CommandKind::SettleWindow { window: 1 },
        CommandKind::AbortWindow { window: 1 },
        CommandKind::SetNetDebitCap(NetDebitCap {
            branch: code(SH01),
            currency: cny(),
            cap: yuan(1),
            warning_percent: 80,
        }),
        CommandKind::ImportExternalStatements {
            account: acct(ALICE),
            statements: vec![],
        },
        CommandKind::RunReconciliation {
            account: acct(ALICE),
            statement: ledger::recon::ExternalStatementId("xs-0".into()),
            rules: vec![],
        },
        CommandKind::ResolveBreak {
            id: 1,
            resolution: ledger::recon::BreakResolution::Explanation {
                reason: "timing".into(),
            },
        },
        CommandKind::Statements(ledger::StatementCommand::SetPolicy(
            ledger::StatementPolicy::default(),
        )),
        CommandKind::ClosePeriod {
            branch: code(SH01),
            through: time(T0).date(),
        },
        rotate_key(TELLER_SH, 98),
        revoke(TELLER_SH),
    ];
    let covered: BTreeSet<usize> = commands.iter().map(variant).collect();
    assert_eq!(covered.len(), 23, "every kind of command but a review mark");
    for kind in commands {
        assert_eq!(w.refuse(AUDITOR, kind.clone()), "forbidden", "{kind:?}");
    }
    // An unknown principal cannot act at all.
    assert_eq!(w.refuse("mallory", no_op()), "principal_not_found");
}

// --- Reversal ------------------------------------------------------------------

#[test]
fn reversal_posts_opposite_postings_linked_both_ways() {
    let mut w = World::new();
    let before = w.nets();
    w.post_one(TELLER_SH, transfer("wrong", ALICE, CAROL, yuan(500)));
    let reversal = w.accept_entry(OP_JUNIOR, reverse("wrong", "rev-1", "wrong payee"));
    assert_eq!(reversal.status, EntryStatus::Posted);
    assert_eq!(reversal.reverses, Some(eid("wrong")));
    assert_eq!(reversal.reversal_reason.as_deref(), Some("wrong payee"));
    assert_eq!(w.entry("wrong").reversed_by, Some(eid("rev-1")));
    let original = w.entry("wrong").request.postings.clone();
    let opposite: Vec<Posting> = original
        .iter()
        .map(|p| Posting {
            side: p.side.opposite(),
            ..p.clone()
        })
        .collect();
    assert_eq!(reversal.request.postings, opposite);
    // Every balance, clearing accounts included, is back where it was.
    assert_eq!(w.nets(), before);
    let positions = w
        .ledger
        .window_positions(reversal.window.expect("inter-branch"));
    for branch in [SH01, BJ01] {
        let flows = positions.branch(&code(branch), cny());
        assert_eq!(flows.net(), Amount::ZERO, "{branch} nets to nothing");
        assert_eq!(flows.count, 2);
    }
    // Retrying the same reversal answers the same and changes nothing.
    let retried = w.apply_unchanged(OP_JUNIOR, reverse("wrong", "rev-1", "wrong payee"));
    assert_eq!(retried.outcome, Ok(Receipt::Entry(Box::new(reversal))));
    assert_eq!(
        w.refuse(TELLER_SH, reverse("wrong", "rev-9", "by a branch")),
        "forbidden"
    );
}

#[test]
fn reversal_needs_a_reason() {
    let mut w = World::new();
    w.post_one(TELLER_SH, transfer("t1", ALICE, BOB, yuan(10)));
    assert_eq!(
        w.refuse(OP_JUNIOR, reverse("t1", "rev-1", "")),
        "reason_required"
    );
    assert_eq!(
        w.refuse(OP_JUNIOR, reverse("t1", "rev-1", "  ")),
        "reason_required"
    );
    assert!(w.entry("t1").reversed_by.is_none());
}

#[test]
fn entry_cannot_be_reversed_twice() {
    let mut w = World::new();
    w.post_one(TELLER_SH, transfer("t1", ALICE, BOB, yuan(10)));
    w.post_one(TELLER_SH, transfer("t2", ALICE, BOB, yuan(20)));
    w.accept(OP_JUNIOR, reverse("t1", "rev-1", "duplicate"));
    let applied = w.apply_unchanged(OP_SENIOR, reverse("t1", "rev-2", "duplicate again"));
    assert_eq!(
        applied.outcome,
        Err(Rejection::EntryAlreadyReversed {
            entry: eid("t1"),
            reversed_by: eid("rev-1"),
        })
    );
    assert_eq!(
        w.refuse(OP_JUNIOR, reverse("t2", "rev-1", "duplicate")),
        "exists_with_different_reverses"
    );
    assert_eq!(
        w.refuse(OP_JUNIOR, reverse("t1", "rev-1", "another reason")),
        "exists_with_different_reason"
    );
    assert_eq!(w.posted(BOB), yuan(20));
}

#[test]
fn pending_entry_cannot_be_reversed() {
    let mut w = World::new();
    w.post_one(TELLER_SH, pending("waiting", ALICE, BOB, yuan(10)));
    assert_eq!(
        w.refuse(OP_JUNIOR, reverse("waiting", "rev-1", "too early")),
        "entry_not_posted"
    );
    w.accept(OP_JUNIOR, reject("waiting"));
    assert_eq!(
        w.refuse(OP_JUNIOR, reverse("waiting", "rev-1", "voided")),
        "entry_not_posted"
    );
    let refused = transfer("refused", BOB, ALICE, yuan(10));
    assert_eq!(
        refusal(&w.post_one(TELLER_SH, refused)),
        "insufficient_funds"
    );
    assert_eq!(
        w.refuse(OP_JUNIOR, reverse("refused", "rev-1", "refused")),
        "entry_not_posted"
    );
    assert_eq!(
        w.refuse(OP_JUNIOR, reverse("never", "rev-1", "unknown")),
        "entry_not_found"
    );
}

// --- Point in time -------------------------------------------------------------

#[test]
fn balance_at_a_past_index_and_index_at_time() {
    let mut w = World::new();
    let funded_index = w.index;
    let alice = acct(ALICE);
    let posted_at = |w: &World, index| {
        w.ledger
            .balance_at(&alice, index)
            .unwrap()
            .posted(AccountClass::Liability)
    };
    assert_eq!(
        w.ledger.balance_at(&alice, 1),
        Ok(Balance::default()),
        "opened, empty"
    );
    assert_eq!(posted_at(&w, funded_index), yuan(100_000));

    w.post_one(TELLER_SH, transfer("t1", ALICE, BOB, yuan(1_000)));
    let (first, first_at) = (w.index, w.at);
    w.apply_at(first_at.plus_seconds(60), SYSTEM, no_op());
    w.post_one(TELLER_SH, transfer("t2", ALICE, BOB, yuan(2_000)));
    let (second, second_at) = (w.index, w.at);

    assert_eq!(posted_at(&w, first - 1), yuan(100_000));
    assert_eq!(posted_at(&w, first), yuan(99_000));
    assert_eq!(posted_at(&w, first + 1), yuan(99_000));
    assert_eq!(posted_at(&w, second), yuan(97_000));
    assert_eq!(w.ledger.index_at_time(first_at), Ok(first));
    assert_eq!(w.ledger.index_at_time(first_at.plus_seconds(30)), Ok(first));
    assert_eq!(w.ledger.index_at_time(second_at), Ok(second));
    let then = w.ledger.index_at_time(first_at.plus_seconds(1)).unwrap();
    assert_eq!(posted_at(&w, then), yuan(99_000));
}

#[test]
fn point_in_time_reads_refuse_what_they_cannot_answer() {
    let mut w = World::new();
    w.accept(TELLER_SH, deposit("SH01-LATE", SH01, cny()));
    let opened = w.index;
    let late = acct("SH01-LATE");
    assert_eq!(
        w.ledger.balance_at(&late, opened - 1),
        Err(PointInTimeError::NotYetOpened {
            account: late.clone(),
            opened,
            asked: opened - 1,
        })
    );
    assert_eq!(w.ledger.balance_at(&late, opened), Ok(Balance::default()));
    assert_eq!(
        w.ledger.balance_at(&acct(ALICE), opened + 1),
        Err(PointInTimeError::InTheFuture {
            asked: opened + 1,
            applied: opened,
        })
    );
    assert_eq!(
        w.ledger.balance_at(&acct("SH01-NOBODY"), 1),
        Err(PointInTimeError::AccountNotFound(acct("SH01-NOBODY")))
    );
    let before_first = time("2026-11-22T08:59:59Z");
    assert_eq!(
        w.ledger.index_at_time(before_first),
        Err(PointInTimeError::BeforeFirstEntry(before_first))
    );
    let after_last = w.at.plus_seconds(1);
    assert_eq!(
        w.ledger.index_at_time(after_last),
        Err(PointInTimeError::TimeInTheFuture {
            asked: after_last,
            applied: w.at,
        })
    );
}

// --- Audit chain, digest, snapshots ---------------------------------------------

/// A world with every kind of change in its history.
fn busy_world() -> World {
    let mut w = World::new();
    w.post_one(TELLER_SH, transfer("b1", ALICE, CAROL, yuan(100)));
    w.post_one(TELLER_SH, transfer("b2", BOB, ALICE, yuan(1)));
    w.post_one(TELLER_SH, pending("b3", ALICE, BOB, yuan(300)));
    w.accept(OP_JUNIOR, approve("b3"));
    w.post_one(TELLER_SH, pending("b4", ALICE, BOB, yuan(400)));
    w.accept(OP_JUNIOR, reject("b4"));
    w.accept(OP_JUNIOR, reverse("b1", "b1-rev", "wrong branch"));
    w.accept(
        ADMIN,
        policy(SH01, Some(yuan(50_000)), &[(Amount::ZERO, 1)]),
    );
    w.post_one(TELLER_SH, pending("b5", ALICE, DAVE, yuan(500)));
    w
}

#[test]
fn audit_chain_verifies_and_pinpoints_an_altered_record() {
    let mut w = busy_world();
    let (head_seq, head_hash) = w.ledger.chain_head();
    let records: Vec<ChainedRecord> = w.ledger.audit_records(1, head_seq).collect();
    assert_eq!(records.len() as u64, head_seq);
    assert_eq!(verify_chain(GENESIS_HASH, 1, &records), Ok(head_hash));
    // A suffix verifies from its predecessor's hash.
    assert_eq!(
        verify_chain(records[9].hash, 11, &records[10..]),
        Ok(head_hash)
    );

    let broken_at = |altered: Vec<ChainedRecord>| verify_chain(GENESIS_HASH, 1, &altered);
    for seq in [1, 12, head_seq] {
        let at = usize::try_from(seq - 1).unwrap();
        let mut moved = records.clone();
        moved[at].record.at = moved[at].record.at.plus_seconds(1);
        assert_eq!(broken_at(moved), Err(ChainBreak::HashMismatch { seq }));
        let mut other_client = records.clone();
        other_client[at].record.actor.client = "10.9.9.9".into();
        assert_eq!(
            broken_at(other_client),
            Err(ChainBreak::HashMismatch { seq })
        );
        let mut other_position = records.clone();
        other_position[at].record.position.seq += 1;
        assert_eq!(
            broken_at(other_position),
            Err(ChainBreak::HashMismatch { seq })
        );
    }
    let mut other_postings = records.clone();
    let booked = other_postings
        .iter_mut()
        .find_map(|r| match &mut r.record.event {
            AuditEvent::EntryBooked { postings, .. } if !postings.is_empty() => {
                Some((r.record.seq, postings))
            }
            _ => None,
        })
        .unwrap();
    let seq = booked.0;
    booked.1[0].amount = yuan(1);
    assert_eq!(
        broken_at(other_postings),
        Err(ChainBreak::HashMismatch { seq })
    );
    let mut dropped = records.clone();
    dropped.remove(4);
    assert_eq!(
        broken_at(dropped),
        Err(ChainBreak::Gap {
            previous: 4,
            found: 6
        })
    );

    // Each accepted change is a link naming its actor; refusals of a command add none.
    let approved = w.accept(OP_SENIOR, approve("b5"));
    assert!(matches!(approved, Receipt::Entry(_)));
    let (seq, _) = w.ledger.chain_head();
    let last = w.ledger.audit_records(seq, seq).next().unwrap();
    assert_eq!(last.record.actor, actor(OP_SENIOR));
    assert_eq!(
        last.record.event,
        AuditEvent::EntryApproved { id: eid("b5") }
    );
    assert_eq!(w.refuse(OP_SENIOR, approve("b5-nope")), "entry_not_found");
    assert_eq!(w.ledger.chain_head().0, seq);
    let all: Vec<ChainedRecord> = w.ledger.audit_records(1, seq).collect();
    assert_eq!(
        verify_chain(GENESIS_HASH, 1, &all),
        Ok(w.ledger.chain_head().1)
    );
}

#[test]
fn digest_is_equal_for_equal_commands_and_differs_otherwise() {
    let (mut a, mut b, mut c) = (busy_world(), busy_world(), busy_world());
    assert_eq!(a.ledger.digest(), b.ledger.digest());
    let next = |amount| post(vec![transfer("next", ALICE, BOB, amount)], false);
    a.apply(TELLER_SH, next(yuan(7)));
    b.apply(TELLER_SH, next(yuan(7)));
    c.apply(TELLER_SH, next(Amount::from_minor(701)));
    assert_eq!(a.ledger.digest(), b.ledger.digest());
    assert_ne!(a.ledger.digest(), c.ledger.digest());
    assert_eq!(a.ledger.records(), b.ledger.records());
    // The time a command was stamped with is part of the state, too.
    let mut d = busy_world();
    d.apply_at(d.at.plus_seconds(2), TELLER_SH, next(yuan(7)));
    assert_ne!(a.ledger.digest(), d.ledger.digest());
}

#[test]
fn snapshot_round_trips_to_an_equal_ledger() {
    let mut w = busy_world();
    let snapshot = w.ledger.to_snapshot();
    assert_eq!(snapshot[0], SNAPSHOT_FORMAT);
    let restored = Ledger::from_snapshot(&snapshot, false).expect("restores");
    assert_eq!(restored.digest(), w.ledger.digest());
    assert_eq!(restored.records(), w.ledger.records());
    assert_eq!(restored.to_snapshot(), snapshot);
    restored.check_invariants().unwrap();
    let mut restored = World {
        ledger: restored,
        index: w.index,
        at: w.at,
    };
    // The restored ledger carries on exactly as the original: the pending
    // entry expires, a retry is recognised, positions accumulate.
    let later =
        w.at.plus_seconds(limits::PENDING_TIMEOUT_DEFAULT_SECONDS + 1);
    let kind = post(
        vec![
            transfer("b1", ALICE, CAROL, yuan(100)),
            transfer("after", ALICE, DAVE, yuan(9)),
        ],
        false,
    );
    let original = w.apply_at(later, TELLER_SH, kind.clone());
    let replayed = restored.apply_at(later, TELLER_SH, kind);
    assert_eq!(original, replayed);
    assert_eq!(
        restored.status("b5"),
        EntryStatus::Voided {
            reason: VoidReason::Expired
        }
    );
    assert_eq!(restored.ledger.digest(), w.ledger.digest());
}

#[test]
fn snapshot_with_a_wrong_format_byte_is_refused() {
    let w = busy_world();
    let mut snapshot = w.ledger.to_snapshot();
    snapshot[0] = SNAPSHOT_FORMAT + 1;
    assert!(matches!(
        Ledger::from_snapshot(&snapshot, false),
        Err(RestoreError::Format { found }) if found == SNAPSHOT_FORMAT + 1
    ));
    assert!(matches!(
        Ledger::from_snapshot(&[], false),
        Err(RestoreError::Format { found: 0 })
    ));
    let mut truncated = w.ledger.to_snapshot();
    truncated.truncate(truncated.len() / 2);
    assert!(matches!(
        Ledger::from_snapshot(&truncated, false),
        Err(RestoreError::Decode(_))
    ));
    // Whole records, but fewer than the snapshot says it holds.
    let mut short = w.ledger.to_snapshot();
    let at = short.len() - 8;
    let count = u64::from_le_bytes(short[at..].try_into().unwrap());
    short[at..].copy_from_slice(&(count + 1).to_le_bytes());
    assert_eq!(
        Ledger::from_snapshot(&short, false)
            .unwrap_err()
            .to_string(),
        "cannot decode: the snapshot is cut short"
    );
}

#[test]
fn a_restore_refuses_an_audit_record_that_does_not_decode() {
    let w = busy_world();
    let audit = APPENDED_TABLES
        .iter()
        .find(|(_, name)| *name == "audit")
        .map(|(tag, _)| *tag)
        .unwrap();
    let mut records = w.ledger.records();
    let damaged = records
        .iter_mut()
        .filter(|r| r.table == audit)
        .nth(1)
        .unwrap();
    let value = damaged.value.as_mut().unwrap();
    value.truncate(value.len() - 5);
    match Ledger::from_records(records, false) {
        Err(RestoreError::Inconsistent(message)) => {
            assert!(message.starts_with("audit chain: record 2: "), "{message}")
        }
        other => panic!(
            "expected the audit chain refused, got {:?}",
            other.map(|_| ())
        ),
    }
}

// --- Key rotation and revocation -------------------------------------------------

#[test]
fn a_rotated_key_replaces_the_old_one_at_once() {
    let mut w = World::new();
    let old = w
        .ledger
        .principal(&PrincipalName::new(TELLER_SH).unwrap())
        .unwrap()
        .key_hash;
    assert!(w.ledger.principal_by_key(&old).is_some());
    w.accept(ADMIN, rotate_key(TELLER_SH, 77));
    assert!(
        w.ledger.principal_by_key(&old).is_none(),
        "the old key is dead"
    );
    let teller = w
        .ledger
        .principal_by_key(&[77; 32])
        .expect("the new key works");
    assert_eq!(teller.name.as_str(), TELLER_SH);
    assert_eq!(teller.key_id, format!("key-{TELLER_SH}-77"));
    // The principal keeps its name, role and history: it still posts.
    let entry = transfer("after-rotation", ALICE, BOB, yuan(1));
    assert_eq!(w.post_one(TELLER_SH, entry).status, EntryStatus::Posted);
    // A retry with the same key changes nothing; every refusal names itself.
    w.apply_unchanged(ADMIN, rotate_key(TELLER_SH, 77))
        .outcome
        .expect("a retry is answered");
    assert_eq!(w.refuse(ADMIN, rotate_key(TELLER_SH, 5)), "key_in_use");
    assert_eq!(
        w.refuse(ADMIN, rotate_key("nobody", 78)),
        "unknown_principal"
    );
    assert_eq!(w.refuse(OP_SENIOR, rotate_key(TELLER_SH, 79)), "forbidden");
    // A restored replica knows the new key and not the old one.
    let restored = Ledger::from_snapshot(&w.ledger.to_snapshot(), false).unwrap();
    assert!(restored.principal_by_key(&old).is_none());
    assert!(restored.principal_by_key(&[77; 32]).is_some());
    assert_eq!(restored.digest(), w.ledger.digest());
}

#[test]
fn a_revoked_principal_can_neither_sign_in_nor_act_and_is_kept() {
    let mut w = World::new();
    let name = PrincipalName::new(TELLER_SH).unwrap();
    let key = w.ledger.principal(&name).unwrap().key_hash;
    w.accept(ADMIN, revoke(TELLER_SH));
    assert!(w.ledger.principal_by_key(&key).is_none());
    assert!(w.ledger.principal(&name).unwrap().revoked, "kept, marked");
    // A command already on its way when the key was revoked is refused.
    let entry = transfer("by-revoked", ALICE, BOB, yuan(1));
    assert_eq!(
        w.refuse(TELLER_SH, post(vec![entry], false)),
        "principal_not_found"
    );
    // Revoking again is a retry; a revoked principal gets no new key, and
    // its name cannot be taken by a new principal.
    w.apply_unchanged(ADMIN, revoke(TELLER_SH))
        .outcome
        .expect("a retry is answered");
    assert_eq!(
        w.refuse(ADMIN, rotate_key(TELLER_SH, 80)),
        "principal_revoked"
    );
    assert_eq!(
        w.refuse(ADMIN, principal(TELLER_SH, Role::Branch(code(SH01)), 0, 81)),
        "principal_exists"
    );
    assert_eq!(w.refuse(ADMIN, revoke("nobody")), "unknown_principal");
    assert_eq!(w.refuse(OP_SENIOR, revoke(OP_JUNIOR)), "forbidden");
    let restored = Ledger::from_snapshot(&w.ledger.to_snapshot(), false).unwrap();
    assert!(restored.principal_by_key(&key).is_none());
    assert!(restored.principal(&name).unwrap().revoked);
}

#[test]
fn the_last_admin_standing_cannot_be_revoked() {
    let mut w = World::new();
    assert_eq!(w.refuse(ADMIN, revoke(ADMIN)), "last_admin");
    w.accept(ADMIN, principal("admin-2", Role::Admin, 0, 90));
    w.accept("admin-2", revoke(ADMIN));
    assert_eq!(w.refuse(ADMIN, no_op()), "principal_not_found");
    assert_eq!(w.refuse("admin-2", revoke("admin-2")), "last_admin");
}
