//! The matching engine on a statement of 100,000 lines against 100,000
//! ledger items (target: under 2 s). The lines are what a correspondent's
//! statement looks like: most carry our reference, some only the amount
//! with a value date a day or two off, some a fee taken off the amount, and
//! some are unknown to us; a few of ours were booked by the servicer as one
//! batch line.
//!
//! `match` times the pure matching function; `run` times the whole
//! `RunReconciliation` command on a ledger holding the 100,000 postings and
//! the imported statement: finding the candidates, matching, claiming,
//! raising breaks and the balance check.
//!
//! ```text
//! cargo bench -p ledger --bench recon
//! ```

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use ledger::recon::{
    Candidate, ParsedStatement, Rule, StatementBalance, StatementFormat, StatementLine, match_items,
};
use ledger::{
    AccountClass, AccountFlags, AccountId, Actor, Amount, BranchCode, BranchKind, Command,
    CommandKind, Currency, Date, EntryId, Ledger, NewAccount, NewBranch, NewEntry, NewPrincipal,
    PrincipalName, Purpose, Receipt, Role, Side, Timestamp,
};

const ITEMS: usize = 100_000;

/// A small deterministic generator (no clock, no seed from outside).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

fn statement() -> (Vec<Candidate>, Vec<Candidate>) {
    let mut random = Lcg(7);
    let mut ledger = Vec::with_capacity(ITEMS);
    let mut external = Vec::with_capacity(ITEMS);
    let start = Date::parse("2026-11-01").unwrap().0;
    let mut i: i32 = 0;
    while ledger.len() < ITEMS {
        let day = start + i / 5_000;
        let sign = if random.next().is_multiple_of(2) {
            1
        } else {
            -1
        };
        let minor = sign * (1 + (random.next() % 1_000_000_000) as i128);
        let kind = random.next() % 100;
        if kind < 2 && ledger.len() + 3 <= ITEMS {
            // A batch of three of ours, one line on the statement.
            let parts = [minor / 2, minor / 3, minor - minor / 2 - minor / 3];
            for (n, part) in parts.iter().enumerate() {
                ledger.push(Candidate {
                    amount: Amount::from_minor(*part),
                    date: Date(day),
                    references: vec![format!("E{i}-{n}")],
                });
            }
            external.push(Candidate {
                amount: Amount::from_minor(minor),
                date: Date(day),
                references: vec![format!("BATCH{i}")],
            });
            i += 1;
            continue;
        }
        ledger.push(Candidate {
            amount: Amount::from_minor(minor),
            date: Date(day),
            references: vec![format!("E{i}"), format!("entry-{i}")],
        });
        let (amount, date, references) = match kind {
            0..=69 => (minor, day, vec![format!("E{i}")]),
            70..=89 => (minor, day + (random.next() % 3) as i32, vec![]),
            90..=94 => (minor - sign * (random.next() % 50) as i128, day, vec![]),
            _ => (
                sign * (1 + (random.next() % 1_000_000_000) as i128),
                day,
                vec![],
            ),
        };
        external.push(Candidate {
            amount: Amount::from_minor(amount),
            date: Date(date),
            references,
        });
        i += 1;
    }
    while external.len() < ITEMS {
        external.push(Candidate {
            amount: Amount::from_minor(1 + (random.next() % 1_000) as i128),
            date: Date(start),
            references: vec![],
        });
    }
    (ledger, external)
}

fn rules() -> Vec<Rule> {
    vec![
        Rule::Reference,
        Rule::AmountDate { days: 3 },
        Rule::Tolerance {
            tolerance: Amount::from_minor(50),
            days: 1,
        },
        Rule::OneToMany {
            days: 1,
            max_items: 5,
            tolerance: Amount::ZERO,
        },
        Rule::ManyToOne {
            days: 1,
            max_items: 5,
            tolerance: Amount::ZERO,
        },
    ]
}

fn bench(c: &mut Criterion) {
    let (ledger, external) = statement();
    let rules = rules();
    let matches = match_items(&ledger, &external, &rules);
    let mut per_rule = vec![0usize; rules.len()];
    for m in &matches {
        per_rule[m.rule] += 1;
    }
    let summary: Vec<String> = rules
        .iter()
        .zip(&per_rule)
        .map(|(rule, n)| format!("{} {n}", rule.name()))
        .collect();
    println!(
        "{} ledger items, {} lines: {} matches ({})",
        ledger.len(),
        external.len(),
        matches.len(),
        summary.join(", ")
    );
    let mut group = c.benchmark_group("recon");
    group.sample_size(10);
    group.bench_function("match_100k_lines_vs_100k_postings", |b| {
        b.iter(|| match_items(&ledger, &external, &rules))
    });
    group.finish();
}

fn command(at: Timestamp, actor: &Actor, kind: CommandKind) -> Command {
    Command {
        at,
        actor: actor.clone(),
        kind,
    }
}

/// A ledger whose nostro account holds the ledger items as postings (value
/// dates and references as generated), and the statement of the lines.
fn ledger_with_statement(ledger_items: &[Candidate], lines: &[Candidate]) -> (Ledger, CommandKind) {
    let cny = Currency::new("CNY").unwrap();
    let at = Timestamp::parse_rfc3339("2026-11-01T09:00:00Z").unwrap();
    let system = Actor::system();
    let operator = Actor {
        principal: PrincipalName::new("op").unwrap(),
        key_id: "k".into(),
        client: "bench".into(),
    };
    let hq = BranchCode::new("HQ").unwrap();
    let account = |id: &str, class, purpose| {
        CommandKind::OpenAccount(NewAccount {
            id: AccountId::new(id).unwrap(),
            branch: hq.clone(),
            currency: cny,
            class,
            purpose,
            flags: AccountFlags::default(),
            name: None,
        })
    };
    let mut ledger = Ledger::new();
    ledger.apply(
        1,
        vec![
            command(
                at,
                &system,
                CommandKind::CreateBranch(NewBranch {
                    code: hq.clone(),
                    name: "HQ".into(),
                    parent: None,
                    kind: BranchKind::Internal,
                }),
            ),
            command(
                at,
                &system,
                CommandKind::CreatePrincipal(NewPrincipal {
                    name: operator.principal.clone(),
                    role: Role::Operator,
                    authority: 9,
                    key_hash: [1; 32],
                    key_id: "k".into(),
                }),
            ),
            command(
                at,
                &system,
                account("NOSTRO", AccountClass::Asset, Purpose::Nostro),
            ),
            command(
                at,
                &system,
                account("CUSTOMER", AccountClass::Liability, Purpose::Customer),
            ),
        ],
    );
    let nostro = AccountId::new("NOSTRO").unwrap();
    let customer = AccountId::new("CUSTOMER").unwrap();
    let mut index = 2;
    for chunk in ledger_items.chunks(5_000) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(n, item)| {
                let (debit, credit) = if item.amount.is_positive() {
                    (&nostro, &customer)
                } else {
                    (&customer, &nostro)
                };
                let amount = Amount::from_minor(item.amount.minor().abs());
                NewEntry {
                    reference: Some(item.references[0].clone()),
                    value_date: Some(item.date),
                    ..NewEntry::transfer(
                        EntryId::new(format!("e{index}-{n}")).unwrap(),
                        debit.clone(),
                        credit.clone(),
                        amount,
                        cny,
                    )
                }
            })
            .collect();
        let applied = ledger.apply(
            index,
            vec![command(
                at,
                &operator,
                CommandKind::PostEntries {
                    entries,
                    atomic: false,
                },
            )],
        );
        assert!(matches!(applied[0].outcome, Ok(Receipt::Entries(_))));
        index += 1;
    }
    let day = |d: Date| d;
    let closing_date = lines.iter().map(|l| l.date).max().unwrap();
    let statement_lines: Vec<StatementLine> = lines
        .iter()
        .map(|line| StatementLine {
            amount: Amount::from_minor(line.amount.minor().abs()),
            side: if line.amount.is_positive() {
                Side::Credit
            } else {
                Side::Debit
            },
            booking_date: day(line.date),
            value_date: line.date,
            reference: line.references.first().cloned(),
            bank_reference: None,
            description: None,
        })
        .collect();
    let closing = statement_lines
        .iter()
        .fold(Amount::ZERO, |sum, l| sum + l.signed());
    let statement = ParsedStatement {
        format: StatementFormat::Camt053V08,
        reference: "BENCH".into(),
        sequence: None,
        external_account: "CN00BENCH".into(),
        currency: cny,
        opening: StatementBalance {
            amount: Amount::ZERO,
            date: Date(closing_date.0 - 30),
        },
        closing: StatementBalance {
            amount: closing,
            date: closing_date,
        },
        lines: statement_lines,
    };
    let applied = ledger.apply(
        index,
        vec![command(
            at,
            &operator,
            CommandKind::ImportExternalStatements {
                account: nostro.clone(),
                statements: vec![statement],
            },
        )],
    );
    let Ok(Receipt::ExternalStatements(stored)) = &applied[0].outcome else {
        panic!("{:?}", applied[0].outcome)
    };
    let run = CommandKind::RunReconciliation {
        account: nostro,
        statement: stored[0].id.clone(),
        rules: rules(),
    };
    (ledger, command(at, &operator, run).kind)
}

fn bench_run(c: &mut Criterion) {
    let (ledger_items, lines) = statement();
    let (ledger, run) = ledger_with_statement(&ledger_items, &lines);
    let operator = Actor {
        principal: PrincipalName::new("op").unwrap(),
        key_id: "k".into(),
        client: "bench".into(),
    };
    let at = Timestamp::parse_rfc3339("2026-12-01T10:00:00Z").unwrap();
    let next = ledger.applied_index() + 1;
    {
        let mut once = ledger.clone();
        let applied = once.apply(next, vec![command(at, &operator, run.clone())]);
        let Ok(Receipt::Reconciliation(result)) = &applied[0].outcome else {
            panic!("{:?}", applied[0].outcome)
        };
        println!(
            "run: {} matches, {} breaks raised, balance unexplained {:?}",
            result.matches.len(),
            result.breaks_raised.len(),
            result.balance.unexplained
        );
    }
    let mut group = c.benchmark_group("recon");
    group.sample_size(10);
    group.bench_function("run_100k_lines_vs_100k_postings", |b| {
        b.iter_batched(
            || ledger.clone(),
            |mut ledger| ledger.apply(next, vec![command(at, &operator, run.clone())]),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench, bench_run);
criterion_main!(benches);
