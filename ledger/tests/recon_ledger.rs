//! Reconciliation through the ledger's commands: importing statements
//! (idempotent by identity), a run committed as one command (matches,
//! breaks, the balance check), and the breaks workflow — manual match,
//! adjusting entry through maker-checker approval, recorded explanation —
//! with who did each action. Snapshots restore the reconciliation state.

use ledger::recon::{
    BreakKind, BreakResolution, BreakStatus, ClaimedBy, ExternalStatement, ItemRef,
    ReconciliationBreak, ReconciliationRun, Resolution, Rule, StatementFormat, import,
};
use ledger::*;

const NOSTRO: &str = "HQ-NOSTRO-CNY";
const CUSTOMER: &str = "HQ-CUST";
const FEES: &str = "HQ-FEES";
const MAKER: &str = "op-maker";
const CHECKER: &str = "op-checker";
const AUDITOR: &str = "auditor";

fn acct(id: &str) -> AccountId {
    AccountId::new(id).unwrap()
}

fn cny() -> Currency {
    Currency::new("CNY").unwrap()
}

fn yuan(text: &str) -> Amount {
    Amount::parse(text, cny()).unwrap()
}

fn actor(name: &str) -> Actor {
    if name == Actor::SYSTEM {
        return Actor::system();
    }
    Actor {
        principal: PrincipalName::new(name).unwrap(),
        key_id: format!("key-{name}"),
        client: "10.0.0.9".into(),
    }
}

struct World {
    ledger: Ledger,
    index: u64,
    at: Timestamp,
}

impl World {
    fn new() -> World {
        let mut world = World {
            ledger: Ledger::with_change_tracking(),
            index: 0,
            at: Timestamp::parse_rfc3339("2026-11-20T09:00:00Z").unwrap(),
        };
        let hq = BranchCode::new("HQ").unwrap();
        world.ok(
            Actor::SYSTEM,
            CommandKind::CreateBranch(NewBranch {
                code: hq.clone(),
                name: "Head office".into(),
                parent: None,
                kind: BranchKind::Internal,
            }),
        );
        for (n, (name, role)) in [
            (MAKER, Role::Operator),
            (CHECKER, Role::Operator),
            (AUDITOR, Role::Auditor),
        ]
        .into_iter()
        .enumerate()
        {
            world.ok(
                Actor::SYSTEM,
                CommandKind::CreatePrincipal(NewPrincipal {
                    name: PrincipalName::new(name).unwrap(),
                    role,
                    authority: 9,
                    key_hash: [n as u8 + 1; 32],
                    key_id: format!("key-{name}"),
                }),
            );
        }
        for (id, class, purpose) in [
            (NOSTRO, AccountClass::Asset, Purpose::Nostro),
            (CUSTOMER, AccountClass::Liability, Purpose::Customer),
            (FEES, AccountClass::Expense, Purpose::Internal),
        ] {
            world.ok(
                Actor::SYSTEM,
                CommandKind::OpenAccount(NewAccount {
                    id: acct(id),
                    branch: hq.clone(),
                    currency: cny(),
                    class,
                    purpose,
                    flags: AccountFlags::default(),
                    name: None,
                }),
            );
        }
        world
    }

    fn apply(&mut self, who: &str, kind: CommandKind) -> Result<Receipt, Rejection> {
        self.index += 1;
        self.at = self.at.plus_seconds(60);
        let applied = self.ledger.apply(
            self.index,
            vec![Command {
                at: self.at,
                actor: actor(who),
                kind,
            }],
        );
        self.ledger.check_invariants().unwrap();
        applied.into_iter().next().unwrap().outcome
    }

    fn ok(&mut self, who: &str, kind: CommandKind) -> Receipt {
        self.apply(who, kind)
            .unwrap_or_else(|rejection| panic!("{rejection:?}"))
    }

    fn refuse(&mut self, who: &str, kind: CommandKind) -> String {
        let before = (
            self.ledger
                .reconciliation_breaks()
                .cloned()
                .collect::<Vec<_>>(),
            self.ledger.reconciliations().count(),
            self.ledger.external_statements().count(),
        );
        let code = self.apply(who, kind).expect_err("refused").code();
        let after = (
            self.ledger
                .reconciliation_breaks()
                .cloned()
                .collect::<Vec<_>>(),
            self.ledger.reconciliations().count(),
            self.ledger.external_statements().count(),
        );
        assert_eq!(
            before, after,
            "a refused command changes no reconciliation state"
        );
        code
    }

    /// Posts `entry` at `day` (the ledger's time moves there).
    fn post(&mut self, day: &str, entry: NewEntry) {
        self.at = self
            .at
            .max(Timestamp::parse_rfc3339(&format!("{day}T10:00:00Z")).unwrap());
        let Receipt::Entries(outcomes) = self.ok(
            MAKER,
            CommandKind::PostEntries {
                entries: vec![entry],
                atomic: false,
            },
        ) else {
            panic!()
        };
        assert!(
            matches!(outcomes[0].status, EntryStatus::Posted),
            "{outcomes:?}"
        );
    }

    fn import(&mut self, text: &str) -> Result<Vec<ExternalStatement>, Rejection> {
        let statements = import(StatementFormat::Mt940, text.as_bytes(), None).unwrap();
        self.apply(
            MAKER,
            CommandKind::ImportExternalStatements {
                account: acct(NOSTRO),
                statements,
            },
        )
        .map(|receipt| {
            let Receipt::ExternalStatements(stored) = receipt else {
                panic!()
            };
            stored
        })
    }

    fn run(&mut self, statement: &ExternalStatement, rules: Vec<Rule>) -> ReconciliationRun {
        let Receipt::Reconciliation(run) = self.ok(
            MAKER,
            CommandKind::RunReconciliation {
                account: acct(NOSTRO),
                statement: statement.id.clone(),
                rules,
            },
        ) else {
            panic!()
        };
        *run
    }

    fn breaks_of(&self, kind: &str) -> Vec<ReconciliationBreak> {
        self.ledger
            .reconciliation_breaks()
            .filter(|b| b.kind.name() == kind)
            .cloned()
            .collect()
    }

    fn resolve(
        &mut self,
        who: &str,
        id: u64,
        resolution: BreakResolution,
    ) -> Result<Receipt, Rejection> {
        self.apply(who, CommandKind::ResolveBreak { id, resolution })
    }
}

/// Money in to our nostro is a debit on it (an asset) and a credit on the
/// correspondent's statement.
fn money_in(id: &str, amount: &str, reference: Option<&str>) -> NewEntry {
    NewEntry {
        reference: reference.map(str::to_string),
        ..NewEntry::transfer(
            EntryId::new(id).unwrap(),
            acct(NOSTRO),
            acct(CUSTOMER),
            yuan(amount),
            cny(),
        )
    }
}

fn money_out(id: &str, amount: &str, reference: Option<&str>) -> NewEntry {
    NewEntry {
        reference: reference.map(str::to_string),
        ..NewEntry::transfer(
            EntryId::new(id).unwrap(),
            acct(CUSTOMER),
            acct(NOSTRO),
            yuan(amount),
            cny(),
        )
    }
}

/// The correspondent's statement of 2026-11-20: our two referenced
/// payments, one without reference booked a day later, a batch line for two
/// of ours, and a fee we have not booked. Opening 0, closing 1235.00.
const STATEMENT: &str = ":20:NOSTRO-1120
:25:CN-CORR-0001
:28C:1/1
:60F:C261119CNY0,00
:61:261120C1000,00NTRFPAY-1
:61:261120D250,00NTRFPAY-2//BK-2
:61:261121C300,00NTRFNONREF
:61:261120C200,00NTRFBATCH-77
:61:261120D15,00NCHGNONREF
:86:account maintenance fee
:62F:C261120CNY1235,00
-
";

fn scenario() -> (World, ExternalStatement, ReconciliationRun) {
    let mut w = World::new();
    w.post("2026-11-20", money_in("e1", "1000.00", Some("PAY-1")));
    w.post("2026-11-20", money_out("e2", "250.00", Some("PAY-2")));
    w.post("2026-11-20", money_in("e3", "300.00", None));
    w.post("2026-11-20", money_in("e4", "120.00", None));
    w.post("2026-11-20", money_in("e5", "80.00", None));
    w.post("2026-11-20", money_out("e6", "50.00", Some("CHQ-9")));
    w.at = Timestamp::parse_rfc3339("2026-11-22T08:00:00Z").unwrap();
    w.post("2026-11-22", money_in("e7-after-cutoff", "300.00", None));
    let statement = w.import(STATEMENT).unwrap().remove(0);
    let run = w.run(&statement, vec![]);
    (w, statement, run)
}

fn ledger_item(entry: &str, posting: u32) -> ItemRef {
    ItemRef::Ledger {
        entry: EntryId::new(entry).unwrap(),
        posting,
    }
}

fn line(statement: &ExternalStatement, line: u32) -> ItemRef {
    ItemRef::Line {
        statement: statement.id.clone(),
        line,
    }
}

#[test]
fn a_run_matches_by_each_rule_and_raises_breaks_for_the_rest() {
    let (w, statement, run) = scenario();
    let summary: Vec<(String, Vec<ItemRef>, Vec<ItemRef>)> = run
        .matches
        .iter()
        .map(|m| (m.rule.clone(), m.ledger.clone(), m.external.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "reference".into(),
                vec![ledger_item("e1", 0)],
                vec![line(&statement, 0)]
            ),
            (
                "reference".into(),
                vec![ledger_item("e2", 1)],
                vec![line(&statement, 1)]
            ),
            (
                "amount_date".into(),
                vec![ledger_item("e3", 0)],
                vec![line(&statement, 2)]
            ),
            (
                "one_to_many".into(),
                vec![ledger_item("e4", 0), ledger_item("e5", 0)],
                vec![line(&statement, 3)]
            ),
        ],
        "e7 was booked after the cutoff and is no candidate"
    );
    let ours = w.breaks_of("unmatched_ledger_item");
    assert_eq!(ours.len(), 1);
    assert_eq!(
        ours[0].kind,
        BreakKind::UnmatchedLedgerItem {
            item: ledger_item("e6", 1)
        }
    );
    assert_eq!(
        ours[0].amount,
        yuan("50.00"),
        "our payment out not yet on their statement"
    );
    let theirs = w.breaks_of("unmatched_external_line");
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].amount, yuan("-15.00"));
    assert_eq!(theirs[0].history[0].by.as_str(), MAKER);
    assert_eq!(theirs[0].history[0].action, "raised");
    // Ledger 1200.00, statement 1235.00: the fee (-15) and our cheque (+50) explain it.
    assert_eq!(run.balance.ledger_balance, yuan("1200.00"));
    assert_eq!(run.balance.statement_balance, yuan("1235.00"));
    assert_eq!(run.balance.explained, yuan("35.00"));
    assert!(run.balance.unexplained.is_zero());
    assert!(w.breaks_of("balance_difference").is_empty());
    assert_eq!(
        w.ledger
            .reconciliation_item(&ledger_item("e1", 0))
            .unwrap()
            .claimed,
        Some(ClaimedBy::Run { run: 1, number: 0 })
    );
}

#[test]
fn a_rerun_claims_nothing_twice_and_raises_no_duplicate_breaks() {
    let (mut w, statement, _) = scenario();
    let breaks = w.ledger.reconciliation_breaks().count();
    let again = w.run(&statement, vec![]);
    assert!(again.matches.is_empty());
    assert!(again.breaks_raised.is_empty());
    assert_eq!(w.ledger.reconciliation_breaks().count(), breaks);
    assert!(again.balance.unexplained.is_zero());
}

#[test]
fn importing_is_idempotent_by_identity_and_refuses_changed_content() {
    let (mut w, statement, _) = scenario();
    let again = w.import(STATEMENT).unwrap();
    assert_eq!(
        again,
        vec![statement.clone()],
        "the stored statement, unchanged"
    );
    assert_eq!(w.ledger.external_statements().count(), 1);
    let changed = STATEMENT
        .replace("C200,00NTRFBATCH-77", "C199,00NTRFBATCH-77")
        .replace("CNY1235,00", "CNY1234,00");
    let statements = import(StatementFormat::Mt940, changed.as_bytes(), None).unwrap();
    assert_eq!(
        w.refuse(
            MAKER,
            CommandKind::ImportExternalStatements {
                account: acct(NOSTRO),
                statements
            }
        ),
        "external_statement_exists_with_different_content"
    );
    let mut unbalanced = import(StatementFormat::Mt940, STATEMENT.as_bytes(), None).unwrap();
    unbalanced[0].reference = "OTHER".into();
    unbalanced[0].closing.amount = yuan("1.00");
    assert_eq!(
        w.refuse(
            MAKER,
            CommandKind::ImportExternalStatements {
                account: acct(NOSTRO),
                statements: unbalanced
            }
        ),
        "statement_invalid"
    );
    let usd = STATEMENT.replace("CNY", "USD");
    let statements = import(StatementFormat::Mt940, usd.as_bytes(), None).unwrap();
    assert_eq!(
        w.refuse(
            MAKER,
            CommandKind::ImportExternalStatements {
                account: acct(NOSTRO),
                statements
            }
        ),
        "statement_invalid"
    );
    let statements = import(StatementFormat::Mt940, STATEMENT.as_bytes(), None).unwrap();
    assert_eq!(
        w.refuse(
            AUDITOR,
            CommandKind::ImportExternalStatements {
                account: acct(NOSTRO),
                statements
            }
        ),
        "forbidden"
    );
    assert_eq!(
        w.refuse(
            AUDITOR,
            CommandKind::RunReconciliation {
                account: acct(NOSTRO),
                statement: statement.id.clone(),
                rules: vec![]
            }
        ),
        "forbidden"
    );
    assert_eq!(
        w.refuse(
            MAKER,
            CommandKind::RunReconciliation {
                account: acct(CUSTOMER),
                statement: statement.id.clone(),
                rules: vec![]
            }
        ),
        "external_statement_not_found"
    );
    assert_eq!(
        w.refuse(
            MAKER,
            CommandKind::RunReconciliation {
                account: acct(NOSTRO),
                statement: statement.id,
                rules: vec![Rule::AmountDate { days: 1000 }]
            }
        ),
        "rules_invalid"
    );
}

#[test]
fn an_adjusting_entry_resolves_a_break_only_when_a_second_person_approves_it() {
    let (mut w, _, _) = scenario();
    let fee = w.breaks_of("unmatched_external_line").remove(0);
    let adjustment = |id: &str| BreakResolution::AdjustingEntry {
        entry: NewEntry::transfer(
            EntryId::new(id).unwrap(),
            acct(FEES),
            acct(NOSTRO),
            yuan("15.00"),
            cny(),
        ),
    };
    let off_account = BreakResolution::AdjustingEntry {
        entry: NewEntry::transfer(
            EntryId::new("adj-x").unwrap(),
            acct(FEES),
            acct(CUSTOMER),
            yuan("15.00"),
            cny(),
        ),
    };
    assert_eq!(
        w.refuse(
            MAKER,
            CommandKind::ResolveBreak {
                id: fee.id,
                resolution: off_account
            }
        ),
        "adjustment_off_account"
    );

    let Receipt::Break(waiting) = w.resolve(MAKER, fee.id, adjustment("adj-1")).unwrap() else {
        panic!()
    };
    assert_eq!(
        waiting.status,
        BreakStatus::AwaitingApproval {
            entry: EntryId::new("adj-1").unwrap()
        }
    );
    assert_eq!(
        w.ledger
            .entry(&EntryId::new("adj-1").unwrap())
            .unwrap()
            .status,
        EntryStatus::Pending,
        "booked as pending"
    );
    assert_eq!(
        w.refuse(
            CHECKER,
            CommandKind::ResolveBreak {
                id: fee.id,
                resolution: BreakResolution::Explanation { reason: "x".into() }
            }
        ),
        "break_not_open"
    );
    // The maker may not approve it; the break waits.
    assert_eq!(
        w.apply(
            MAKER,
            CommandKind::ApproveEntry {
                entry: EntryId::new("adj-1").unwrap(),
                reason: None
            }
        )
        .unwrap_err()
        .code(),
        "approver_is_poster"
    );
    assert!(matches!(
        w.ledger.reconciliation_break(fee.id).unwrap().status,
        BreakStatus::AwaitingApproval { .. }
    ));
    // The checker rejects it: the break is open again.
    w.ok(
        CHECKER,
        CommandKind::RejectEntry {
            entry: EntryId::new("adj-1").unwrap(),
            reason: Some("wrong fee account".into()),
        },
    );
    assert_eq!(
        w.ledger.reconciliation_break(fee.id).unwrap().status,
        BreakStatus::Open
    );
    // A second proposal, approved by the checker, resolves it.
    w.resolve(MAKER, fee.id, adjustment("adj-2")).unwrap();
    let balance_before = w
        .ledger
        .account(&acct(NOSTRO))
        .unwrap()
        .balance
        .posted(AccountClass::Asset);
    w.ok(
        CHECKER,
        CommandKind::ApproveEntry {
            entry: EntryId::new("adj-2").unwrap(),
            reason: None,
        },
    );
    let done = w.ledger.reconciliation_break(fee.id).unwrap().clone();
    assert_eq!(
        done.status,
        BreakStatus::Resolved {
            resolution: Resolution::AdjustingEntry {
                entry: EntryId::new("adj-2").unwrap()
            }
        }
    );
    assert_eq!(
        w.ledger
            .account(&acct(NOSTRO))
            .unwrap()
            .balance
            .posted(AccountClass::Asset),
        balance_before - yuan("15.00")
    );
    let history: Vec<(&str, &str)> = done
        .history
        .iter()
        .map(|a| (a.action.as_str(), a.by.as_str()))
        .collect();
    assert_eq!(
        history,
        vec![
            ("raised", MAKER),
            ("adjustment_proposed", MAKER),
            ("adjustment_voided", CHECKER),
            ("adjustment_proposed", MAKER),
            ("adjustment_approved", CHECKER)
        ]
    );
}

#[test]
fn an_explanation_resolves_a_break_and_names_who_gave_it() {
    let (mut w, _, _) = scenario();
    let cheque = w.breaks_of("unmatched_ledger_item").remove(0);
    assert_eq!(
        w.refuse(
            CHECKER,
            CommandKind::ResolveBreak {
                id: cheque.id,
                resolution: BreakResolution::Explanation {
                    reason: "  ".into()
                }
            }
        ),
        "reason_required"
    );
    assert_eq!(
        w.refuse(
            AUDITOR,
            CommandKind::ResolveBreak {
                id: cheque.id,
                resolution: BreakResolution::Explanation {
                    reason: "timing".into()
                }
            }
        ),
        "forbidden"
    );
    assert_eq!(
        w.refuse(
            CHECKER,
            CommandKind::ResolveBreak {
                id: 999,
                resolution: BreakResolution::Explanation {
                    reason: "timing".into()
                }
            }
        ),
        "break_not_found"
    );
    w.resolve(
        CHECKER,
        cheque.id,
        BreakResolution::Explanation {
            reason: "timing difference: cheque presented on the 23rd".into(),
        },
    )
    .unwrap();
    let done = w.ledger.reconciliation_break(cheque.id).unwrap();
    assert!(
        matches!(&done.status, BreakStatus::Resolved { resolution: Resolution::Explanation { reason } } if reason.starts_with("timing"))
    );
    assert_eq!(done.history.last().unwrap().by.as_str(), CHECKER);
    assert_eq!(
        done.age_days(Timestamp::parse_rfc3339("2026-11-25T08:00:00Z").unwrap()),
        2
    );
}

#[test]
fn a_manual_match_claims_both_sides_and_resolves_both_breaks() {
    let (mut w, statement, _) = scenario();
    // Book the fee ourselves, far outside any date window, and leave it unmatched.
    w.post(
        "2026-11-22",
        NewEntry::transfer(
            EntryId::new("fee-booked").unwrap(),
            acct(FEES),
            acct(NOSTRO),
            yuan("15.00"),
            cny(),
        ),
    );
    let fee = w.breaks_of("unmatched_external_line").remove(0);
    let cheque = w.breaks_of("unmatched_ledger_item").remove(0);
    let wrong = BreakResolution::ManualMatch {
        items: vec![line(&statement, 4), ledger_item("e6", 1)],
    };
    assert_eq!(
        w.refuse(
            MAKER,
            CommandKind::ResolveBreak {
                id: fee.id,
                resolution: wrong
            }
        ),
        "manual_match_unbalanced"
    );
    let claimed = BreakResolution::ManualMatch {
        items: vec![line(&statement, 4), ledger_item("e1", 0)],
    };
    assert_eq!(
        w.refuse(
            MAKER,
            CommandKind::ResolveBreak {
                id: fee.id,
                resolution: claimed
            }
        ),
        "item_not_matchable"
    );
    let right = BreakResolution::ManualMatch {
        items: vec![line(&statement, 4), ledger_item("fee-booked", 1)],
    };
    w.resolve(MAKER, fee.id, right).unwrap();
    assert!(!w.ledger.reconciliation_break(fee.id).unwrap().is_open());
    assert_eq!(
        w.ledger
            .reconciliation_item(&ledger_item("fee-booked", 1))
            .unwrap()
            .claimed,
        Some(ClaimedBy::Manual { id: fee.id })
    );
    assert!(
        w.ledger.reconciliation_break(cheque.id).unwrap().is_open(),
        "other breaks are untouched"
    );
}

/// A later statement whose line is our cheque resolves the earlier break,
/// and a statement whose opening disagrees with the ledger raises a balance
/// break that a re-run supersedes.
#[test]
fn later_runs_resolve_earlier_breaks_and_balance_differences_are_breaks() {
    let (mut w, _, _) = scenario();
    let cheque = w.breaks_of("unmatched_ledger_item").remove(0);
    let next = ":20:NOSTRO-1123\n:25:CN-CORR-0001\n:28C:2/1\n:60F:C261120CNY1235,00\n:61:261123D50,00NCHKCHQ-9\n:62F:C261123CNY1185,00\n-\n";
    let statement = w.import(next).unwrap().remove(0);
    let run = w.run(&statement, vec![Rule::Reference]);
    assert_eq!(run.breaks_resolved, vec![cheque.id]);
    assert_eq!(
        w.ledger.reconciliation_break(cheque.id).unwrap().status,
        BreakStatus::Resolved {
            resolution: Resolution::MatchedInRun { run: run.id }
        }
    );
    // Ledger at the end of the 23rd: 1200 + 300 (e7) = 1500; statement 1185. The
    // fee (-15) and e7 (unmatched, -300) explain all of it.
    assert_eq!(run.balance.ledger_balance, yuan("1500.00"));
    assert!(run.balance.unexplained.is_zero(), "{:?}", run.balance);

    // A statement that opens at 100.00 more than we ever had.
    let odd = ":20:NOSTRO-1124\n:25:CN-CORR-0001\n:28C:3/1\n:60F:C261123CNY1285,00\n:62F:C261124CNY1285,00\n-\n";
    let odd = w.import(odd).unwrap().remove(0);
    let first = w.run(&odd, vec![]);
    let balance_breaks = w.breaks_of("balance_difference");
    assert_eq!(balance_breaks.len(), 1);
    assert_eq!(balance_breaks[0].amount, yuan("100.00"));
    assert_eq!(first.balance.unexplained, yuan("100.00"));
    let second = w.run(&odd, vec![]);
    assert_eq!(
        second.breaks_resolved,
        vec![balance_breaks[0].id],
        "superseded"
    );
    assert_eq!(
        w.breaks_of("balance_difference")
            .iter()
            .filter(|b| b.is_open())
            .count(),
        1
    );
    // A balance difference has no item to match by hand; the refusal says
    // so and changes nothing.
    let open = w
        .breaks_of("balance_difference")
        .into_iter()
        .find(ReconciliationBreak::is_open)
        .unwrap();
    let by_hand = BreakResolution::ManualMatch {
        items: vec![line(&odd, 0)],
    };
    let refusal = w.refuse(
        MAKER,
        CommandKind::ResolveBreak {
            id: open.id,
            resolution: by_hand,
        },
    );
    assert_eq!(refusal, "manual_match_not_applicable");
}

#[test]
fn reconciliation_state_survives_a_snapshot_and_is_in_the_change_sets() {
    let (mut w, statement, _) = scenario();
    let changes = w.ledger.take_changes();
    assert!(
        [40u8, 41, 42, 43]
            .iter()
            .all(|tag| changes.iter().any(|r| r.table == *tag))
    );
    let restored = Ledger::from_snapshot(&w.ledger.to_snapshot(), false).unwrap();
    assert_eq!(restored.digest(), w.ledger.digest());
    assert_eq!(restored.external_statement(&statement.id), Some(&statement));
    assert_eq!(
        restored.reconciliation_breaks().count(),
        w.ledger.reconciliation_breaks().count()
    );
    // Replaying the same commands on a fresh ledger gives the same digest.
    let (again, _, _) = scenario();
    assert_eq!(again.ledger.digest(), w.ledger.digest(), "deterministic");
}
