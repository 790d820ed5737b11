//! Clearing rules that the scenario files cannot state as plainly: one test
//! per rule, through the public API. (The scenario files
//! `clearing_windows.ledger` and `net_debit_caps.ledger` hold the others.)

use ledger::*;

fn cny() -> Currency {
    Currency::new("CNY").unwrap()
}

fn at(seconds: u64) -> Timestamp {
    Timestamp::parse_rfc3339("2026-11-22T09:00:00Z")
        .unwrap()
        .plus_seconds(seconds)
}

fn code(text: &str) -> BranchCode {
    BranchCode::new(text).unwrap()
}

/// Policy and setup come from the system (admin); the rest from an operator.
fn command(kind: CommandKind) -> Command {
    let admin = matches!(
        kind,
        CommandKind::CreateBranch(_)
            | CommandKind::CreatePrincipal(_)
            | CommandKind::SetNetDebitCap(_)
    );
    let actor = if admin {
        Actor::system()
    } else {
        Actor {
            principal: PrincipalName::new("op").unwrap(),
            key_id: "k".into(),
            client: "test".into(),
        }
    };
    Command {
        at: at(0),
        actor,
        kind,
    }
}

fn transfer(id: &str, debit: &str, credit: &str, minor: i128) -> CommandKind {
    CommandKind::PostEntries {
        entries: vec![NewEntry::transfer(
            EntryId::new(id).unwrap(),
            AccountId::new(debit).unwrap(),
            AccountId::new(credit).unwrap(),
            Amount::from_minor(minor),
            cny(),
        )],
        atomic: false,
    }
}

fn account(id: &str, branch: &str, class: AccountClass, purpose: Purpose) -> CommandKind {
    CommandKind::OpenAccount(NewAccount {
        id: AccountId::new(id).unwrap(),
        branch: code(branch),
        currency: cny(),
        class,
        purpose,
        flags: AccountFlags::default(),
        name: None,
    })
}

/// HQ (the root) with SH01 and BJ01 under it, each with clearing and
/// reserve accounts and a funded customer. `roots` adds branches without a
/// parent.
struct World {
    ledger: Ledger,
    index: u64,
}

impl World {
    fn new(extra_roots: &[&str]) -> World {
        let mut world = World {
            ledger: Ledger::new(),
            index: 0,
        };
        let mut setup = vec![CommandKind::CreatePrincipal(NewPrincipal {
            name: PrincipalName::new("op").unwrap(),
            role: Role::Operator,
            authority: 1,
            key_hash: [1; 32],
            key_id: "k".into(),
        })];
        for (branch, parent) in [("HQ", None), ("SH01", Some("HQ")), ("BJ01", Some("HQ"))] {
            setup.push(CommandKind::CreateBranch(NewBranch {
                code: code(branch),
                name: branch.into(),
                parent: parent.map(code),
                kind: BranchKind::Internal,
            }));
        }
        for root in extra_roots {
            setup.push(CommandKind::CreateBranch(NewBranch {
                code: code(root),
                name: root.to_string(),
                parent: None,
                kind: BranchKind::Internal,
            }));
        }
        for branch in ["HQ", "SH01", "BJ01"] {
            setup.push(account(
                &format!("{branch}-CLR"),
                branch,
                AccountClass::Liability,
                Purpose::Clearing,
            ));
            setup.push(account(
                &format!("{branch}-RSV"),
                branch,
                AccountClass::Asset,
                Purpose::SettlementReserve,
            ));
            setup.push(account(
                &format!("{branch}-CASH"),
                branch,
                AccountClass::Asset,
                Purpose::Suspense,
            ));
            setup.push(account(
                &format!("{branch}-C1"),
                branch,
                AccountClass::Liability,
                Purpose::Customer,
            ));
            setup.push(transfer(
                &format!("fund-{branch}"),
                &format!("{branch}-CASH"),
                &format!("{branch}-C1"),
                1_000_000,
            ));
        }
        for kind in setup {
            world.apply(kind).expect("setup");
        }
        world
    }

    fn apply_all(&mut self, kinds: Vec<CommandKind>) -> Vec<Applied> {
        self.index += 1;
        let commands = kinds.into_iter().map(command).collect();
        let applied = self.ledger.apply(self.index, commands);
        self.ledger.check_invariants().expect("invariants hold");
        applied
    }

    fn apply(&mut self, kind: CommandKind) -> Result<Receipt, Rejection> {
        self.apply_all(vec![kind]).pop().unwrap().outcome
    }

    fn balances(&self) -> Vec<(AccountId, Balance)> {
        self.ledger
            .accounts()
            .map(|a| (a.id.clone(), a.balance))
            .collect()
    }
}

#[test]
fn an_entry_after_the_close_in_the_same_log_entry_goes_to_the_next_window() {
    let mut w = World::new(&[]);
    let applied = w.apply_all(vec![
        transfer("x1", "SH01-C1", "BJ01-C1", 100),
        CommandKind::CloseWindow { window: 1 },
        transfer("x2", "SH01-C1", "BJ01-C1", 200),
    ]);
    assert!(applied.iter().all(|a| a.outcome.is_ok()), "{applied:?}");
    let window_of = |id: &str| w.ledger.entry(&EntryId::new(id).unwrap()).unwrap().window;
    assert_eq!(window_of("x1"), Some(1));
    assert_eq!(window_of("x2"), Some(2));
    let closed = w.ledger.window(1).unwrap();
    assert_eq!(closed.status, WindowStatus::Closed);
    assert_eq!(closed.closed, Some(applied[1].position));
    assert_eq!(w.ledger.window(2).unwrap().opened, applied[1].position);
    let sh = |window| {
        w.ledger
            .window_positions(window)
            .branch(&code("SH01"), cny())
    };
    assert_eq!(sh(1).paid, Amount::from_minor(100));
    assert_eq!(sh(2).paid, Amount::from_minor(200));
}

#[test]
fn settlement_needs_exactly_one_root_branch_as_the_clearing_center() {
    let mut w = World::new(&["OTHER"]);
    // An empty window needs no center.
    w.apply(CommandKind::OpenWindow).unwrap();
    w.apply(CommandKind::CloseWindow { window: 1 }).unwrap();
    w.apply(CommandKind::SettleWindow { window: 1 }).unwrap();
    w.apply(transfer("x1", "SH01-C1", "BJ01-C1", 100)).unwrap();
    w.apply(CommandKind::CloseWindow { window: 2 }).unwrap();
    let before = w.balances();
    assert_eq!(
        w.apply(CommandKind::SettleWindow { window: 2 }),
        Err(Rejection::ClearingCenterUndefined { roots: 2 })
    );
    assert_eq!(w.balances(), before, "nothing was posted");
    assert_eq!(w.ledger.window(2).unwrap().status, WindowStatus::Closed);
}

#[test]
fn a_settlement_id_taken_by_a_client_entry_refuses_the_settlement() {
    let mut w = World::new(&[]);
    w.apply(transfer("stl:1:SH01:CNY", "SH01-CASH", "SH01-C1", 1))
        .unwrap();
    w.apply(transfer("x1", "SH01-C1", "BJ01-C1", 100)).unwrap();
    w.apply(CommandKind::CloseWindow { window: 1 }).unwrap();
    let before = w.balances();
    let refused = w.apply(CommandKind::SettleWindow { window: 1 });
    assert_eq!(
        refused.unwrap_err().code(),
        "settlement_entry_exists",
        "a settlement never reuses an id"
    );
    assert_eq!(w.balances(), before);
}

#[test]
fn a_settlement_that_one_reserve_cannot_pay_posts_nothing() {
    let mut w = World::new(&[]);
    w.apply(transfer("x1", "SH01-C1", "BJ01-C1", 100)).unwrap();
    w.apply(CommandKind::SetAccountFrozen {
        account: AccountId::new("BJ01-RSV").unwrap(),
        frozen: true,
    })
    .unwrap();
    w.apply(CommandKind::CloseWindow { window: 1 }).unwrap();
    let before = w.balances();
    let refused = w.apply(CommandKind::SettleWindow { window: 1 });
    assert_eq!(refused.unwrap_err().code(), "account_frozen");
    assert_eq!(w.balances(), before, "no branch settled alone");
    assert!(w.ledger.window(1).unwrap().settlement.is_empty());
}

#[test]
fn the_center_taking_part_itself_is_settled_through_the_other_branches() {
    let mut w = World::new(&[]);
    w.apply(transfer("x1", "HQ-C1", "SH01-C1", 700)).unwrap();
    w.apply(transfer("x2", "BJ01-C1", "HQ-C1", 200)).unwrap();
    w.apply(CommandKind::CloseWindow { window: 1 }).unwrap();
    let Receipt::Window(window) = w.apply(CommandKind::SettleWindow { window: 1 }).unwrap() else {
        panic!("a window")
    };
    // HQ is the center: only SH01 and BJ01 get settlement entries.
    let ids: Vec<&str> = window.settlement.iter().map(EntryId::as_str).collect();
    assert_eq!(ids, ["stl:1:BJ01:CNY", "stl:1:SH01:CNY"]);
    let net = |id: &str| {
        let b = w
            .ledger
            .account(&AccountId::new(id).unwrap())
            .unwrap()
            .balance;
        (b.debits_posted - b.credits_posted).minor()
    };
    for branch in ["HQ", "SH01", "BJ01"] {
        assert_eq!(
            net(&format!("{branch}-CLR")),
            0,
            "{branch} clearing is clear"
        );
    }
    // HQ paid a net 500, SH01 received 700, BJ01 paid 200.
    assert_eq!(net("HQ-RSV"), -500);
    assert_eq!(net("SH01-RSV"), 700);
    assert_eq!(net("BJ01-RSV"), -200);
}

#[test]
fn caps_at_or_above_their_warning_threshold_are_listed() {
    let mut w = World::new(&[]);
    for (branch, cap) in [("SH01", 1_000), ("BJ01", 1_000)] {
        w.apply(CommandKind::SetNetDebitCap(NetDebitCap {
            branch: code(branch),
            currency: cny(),
            cap: Amount::from_minor(cap),
            warning_percent: 80,
        }))
        .unwrap();
    }
    w.apply(transfer("x1", "SH01-C1", "HQ-C1", 799)).unwrap();
    w.apply(transfer("x2", "BJ01-C1", "HQ-C1", 800)).unwrap();
    let warned: Vec<(String, i128)> = w
        .ledger
        .cap_warnings()
        .iter()
        .map(|(cap, exposure)| (cap.branch.to_string(), exposure.net_debit().minor()))
        .collect();
    assert_eq!(warned, [("BJ01".to_string(), 800)]);
    assert_eq!(w.ledger.caps().len(), 2);
}

/// Adds the external participant BANKX (reached through CNAPS-HVPS) with a
/// clearing account, and, when asked, its vostro account and the clearing
/// center's central bank reserve account.
fn add_participant(w: &mut World, vostro: bool, central_bank_reserve: bool) {
    w.apply(CommandKind::CreateBranch(NewBranch {
        code: code("BANKX"),
        name: "Bank X".into(),
        parent: None,
        kind: BranchKind::External {
            scheme: SchemeCode::new("CNAPS-HVPS").unwrap(),
        },
    }))
    .unwrap();
    w.apply(account(
        "BANKX-CLR",
        "BANKX",
        AccountClass::Liability,
        Purpose::Clearing,
    ))
    .unwrap();
    if vostro {
        w.apply(account(
            "BANKX-VOS",
            "BANKX",
            AccountClass::Liability,
            Purpose::Vostro,
        ))
        .unwrap();
    }
    if central_bank_reserve {
        w.apply(account(
            "HQ-CBR",
            "HQ",
            AccountClass::Asset,
            Purpose::CentralBankReserve,
        ))
        .unwrap();
    }
}

/// Debits less credits, in minor units.
fn debit_net(w: &World, id: &str) -> i128 {
    let b = w
        .ledger
        .account(&AccountId::new(id).unwrap())
        .unwrap()
        .balance;
    (b.debits_posted - b.credits_posted).minor()
}

#[test]
fn an_external_participant_stands_outside_the_org_tree() {
    // Issue #6: an external participant has no parent, so it is not a
    // second root: the clearing center is still the one internal root.
    let mut w = World::new(&["OTHER"]);
    add_participant(&mut w, true, true);
    w.apply(transfer("x1", "SH01-C1", "BANKX-VOS", 100))
        .unwrap();
    w.apply(CommandKind::CloseWindow { window: 1 }).unwrap();
    assert_eq!(
        w.apply(CommandKind::SettleWindow { window: 1 }),
        Err(Rejection::ClearingCenterUndefined { roots: 2 }),
        "HQ and OTHER are roots; BANKX is not counted"
    );
    let mut w = World::new(&[]);
    add_participant(&mut w, true, true);
    w.apply(transfer("x1", "SH01-C1", "BANKX-VOS", 100))
        .unwrap();
    w.apply(CommandKind::CloseWindow { window: 1 }).unwrap();
    assert!(w.apply(CommandKind::SettleWindow { window: 1 }).is_ok());
    let external = w.ledger.branch(&code("BANKX")).unwrap();
    assert_eq!(external.kind.name(), "external");
    assert_eq!(external.kind.scheme().unwrap().as_str(), "CNAPS-HVPS");
    assert_eq!(
        w.ledger.branch(&code("SH01")).unwrap().kind,
        BranchKind::Internal
    );
}

#[test]
fn a_participant_settles_between_its_vostro_and_the_central_bank_reserve() {
    // Issue #6: a participant's net settles through the central bank
    // reserve account; branches still settle through their reserves.
    let mut w = World::new(&[]);
    add_participant(&mut w, true, true);
    w.apply(transfer("x1", "SH01-C1", "BANKX-VOS", 700))
        .unwrap();
    w.apply(transfer("x2", "BANKX-VOS", "BJ01-C1", 200))
        .unwrap();
    let positions = w.ledger.window_positions(1);
    assert_eq!(positions.branch(&code("BANKX"), cny()).net().minor(), 500);
    assert_eq!(positions.net_sum(cny()), Amount::ZERO);
    assert_eq!(
        positions.pair(&code("SH01"), &code("BANKX"), cny()).amount,
        Amount::from_minor(700)
    );
    w.apply(CommandKind::CloseWindow { window: 1 }).unwrap();
    let Receipt::Window(window) = w.apply(CommandKind::SettleWindow { window: 1 }).unwrap() else {
        panic!("a window")
    };
    let ids: Vec<&str> = window.settlement.iter().map(EntryId::as_str).collect();
    assert_eq!(ids, ["stl:1:BANKX:CNY", "stl:1:BJ01:CNY", "stl:1:SH01:CNY"]);
    let entry = w.ledger.entry(&window.settlement[0]).unwrap();
    let postings: Vec<(&str, Side, i128)> = entry
        .postings
        .iter()
        .map(|p| (p.account.as_str(), p.side, p.amount.minor()))
        .collect();
    // Bank X is owed 500: its clearing account is credited back, its vostro
    // debited (we paid it), and the money leaves our central bank reserve.
    assert_eq!(
        postings,
        [
            ("BANKX-CLR", Side::Credit, 500),
            ("BANKX-VOS", Side::Debit, 500),
            ("HQ-CBR", Side::Credit, 500),
            ("HQ-CLR", Side::Debit, 500),
        ]
    );
    for id in ["HQ-CLR", "SH01-CLR", "BJ01-CLR", "BANKX-CLR", "BANKX-VOS"] {
        assert_eq!(debit_net(&w, id), 0, "{id} is cleared");
    }
    assert_eq!(debit_net(&w, "HQ-CBR"), -500);
    assert_eq!(debit_net(&w, "SH01-RSV"), -700);
    assert_eq!(debit_net(&w, "BJ01-RSV"), 200);
    // The center's settlement reserve takes only the branches' side.
    assert_eq!(debit_net(&w, "HQ-RSV"), 500);
}

#[test]
fn a_settlement_missing_a_participant_account_names_it_and_posts_nothing() {
    // Issue #6: every refusal is named and changes nothing; the window
    // stays closed and settles once the account is opened.
    let mut w = World::new(&[]);
    add_participant(&mut w, false, false);
    let open_vostro = account(
        "BANKX-VOS",
        "BANKX",
        AccountClass::Liability,
        Purpose::Vostro,
    );
    w.apply(open_vostro).unwrap();
    w.apply(transfer("x1", "SH01-C1", "BANKX-VOS", 300))
        .unwrap();
    w.apply(CommandKind::CloseWindow { window: 1 }).unwrap();
    let before = w.balances();
    assert_eq!(
        w.apply(CommandKind::SettleWindow { window: 1 }),
        Err(Rejection::SettlementAccountMissing {
            branch: code("HQ"),
            currency: cny(),
            purpose: "central_bank_reserve".into(),
        })
    );
    assert_eq!(w.balances(), before);
    w.apply(account(
        "HQ-CBR",
        "HQ",
        AccountClass::Asset,
        Purpose::CentralBankReserve,
    ))
    .unwrap();
    // Bank X's vostro is frozen: the whole settlement is refused.
    w.apply(CommandKind::SetAccountFrozen {
        account: AccountId::new("BANKX-VOS").unwrap(),
        frozen: true,
    })
    .unwrap();
    let before = w.balances();
    let refused = w.apply(CommandKind::SettleWindow { window: 1 });
    assert_eq!(refused.unwrap_err().code(), "account_frozen");
    assert_eq!(w.balances(), before, "SH01 did not settle alone");
    assert_eq!(w.ledger.window(1).unwrap().status, WindowStatus::Closed);
    w.apply(CommandKind::SetAccountFrozen {
        account: AccountId::new("BANKX-VOS").unwrap(),
        frozen: false,
    })
    .unwrap();
    w.apply(CommandKind::SettleWindow { window: 1 }).unwrap();
    assert_eq!(w.ledger.window(1).unwrap().status, WindowStatus::Settled);
    assert_eq!(debit_net(&w, "BANKX-CLR"), 0);
}

#[test]
fn a_participant_without_its_vostro_cannot_settle() {
    let mut w = World::new(&[]);
    add_participant(&mut w, false, true);
    // What Bank X pays was booked to another of its accounts.
    w.apply(account(
        "BANKX-SUS",
        "BANKX",
        AccountClass::Liability,
        Purpose::Suspense,
    ))
    .unwrap();
    w.apply(transfer("x1", "BANKX-SUS", "SH01-C1", 300))
        .unwrap();
    w.apply(CommandKind::CloseWindow { window: 1 }).unwrap();
    let before = w.balances();
    assert_eq!(
        w.apply(CommandKind::SettleWindow { window: 1 }),
        Err(Rejection::SettlementAccountMissing {
            branch: code("BANKX"),
            currency: cny(),
            purpose: "vostro".into(),
        })
    );
    assert_eq!(w.balances(), before);
}

#[test]
fn external_participants_and_their_accounts_survive_a_snapshot() {
    // A restored ledger knows the participant's kind and that its vostro is
    // its one settlement account, and settles it the same way.
    let mut w = World::new(&[]);
    add_participant(&mut w, true, true);
    w.apply(transfer("x1", "BANKX-VOS", "SH01-C1", 250))
        .unwrap();
    w.apply(CommandKind::CloseWindow { window: 1 }).unwrap();
    let snapshot = w.ledger.to_snapshot();
    assert_eq!(snapshot[0], ledger::SNAPSHOT_FORMAT);
    let restored = Ledger::from_snapshot(&snapshot, false).expect("restores");
    assert_eq!(restored.digest(), w.ledger.digest());
    assert_eq!(restored.to_snapshot(), snapshot);
    let mut old = snapshot.clone();
    old[0] = 5;
    assert!(matches!(
        Ledger::from_snapshot(&old, false),
        Err(RestoreError::Format { found: 5 })
    ));
    let mut restored = World {
        ledger: restored,
        index: w.index,
    };
    assert_eq!(
        restored.ledger.branch(&code("BANKX")).unwrap().kind,
        w.ledger.branch(&code("BANKX")).unwrap().kind
    );
    let second = account(
        "BANKX-VOS2",
        "BANKX",
        AccountClass::Liability,
        Purpose::Vostro,
    );
    assert_eq!(
        restored.apply(second.clone()).unwrap_err().code(),
        "clearing_account_exists"
    );
    assert_eq!(
        w.apply(second).unwrap_err().code(),
        "clearing_account_exists"
    );
    let original = w.apply(CommandKind::SettleWindow { window: 1 });
    let replayed = restored.apply(CommandKind::SettleWindow { window: 1 });
    assert_eq!(original, replayed);
    assert!(original.is_ok());
    assert_eq!(restored.ledger.digest(), w.ledger.digest());
    assert_eq!(debit_net(&restored, "HQ-CBR"), 250);
}

#[test]
fn the_books_digest_leaves_out_the_log_position_and_nothing_else() {
    // A restored cluster goes on from a backup's index with entries that
    // carry no commands: its digest moves on, its books digest must not; any
    // change to the books must change it.
    let mut w = World::new(&[]);
    add_participant(&mut w, true, true);
    w.apply(transfer("b1", "BANKX-VOS", "SH01-C1", 250))
        .unwrap();
    let restored = Ledger::from_snapshot(&w.ledger.to_snapshot(), false).expect("restores");
    let mut restored = World {
        ledger: restored,
        index: w.index,
    };
    assert_eq!(restored.ledger.books_digest(), w.ledger.books_digest());
    assert!(restored.apply_all(Vec::new()).is_empty());
    assert!(restored.apply_all(Vec::new()).is_empty());
    assert_ne!(restored.ledger.digest(), w.ledger.digest());
    assert_eq!(restored.ledger.books_digest(), w.ledger.books_digest());
    assert_ne!(w.ledger.books_digest(), w.ledger.digest());
    let before = restored.ledger.books_digest();
    restored
        .apply(transfer("b2", "BANKX-VOS", "SH01-C1", 1))
        .unwrap();
    assert_ne!(restored.ledger.books_digest(), before);
}

#[test]
fn an_internal_branch_may_hold_several_vostro_accounts() {
    // Only an external participant's vostro is its settlement account, one
    // per currency; our branches keep as many correspondents' vostros as
    // they like.
    let mut w = World::new(&[]);
    for id in ["SH01-VOS-A", "SH01-VOS-B"] {
        let opened = w.apply(account(
            id,
            "SH01",
            AccountClass::Liability,
            Purpose::Vostro,
        ));
        assert!(
            matches!(opened, Ok(Receipt::Account(_))),
            "{id}: {opened:?}"
        );
    }
}
