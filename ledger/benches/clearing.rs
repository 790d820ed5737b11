//! Closing and settling a clearing window of 1,000 branches and 1,000,000
//! inter-branch entries.
//!
//! The ledger holds a clearing center (HQ, the root of the org tree) and
//! 1,000 branches under it, each with a clearing account, a settlement
//! reserve, a suspense account and a customer. One window collects
//! 1,000,000 transfers between the customers of two different random
//! branches (in batches of 8,000, as branch systems send them), so nearly
//! every ordered pair of branches has flows. Then, timed together: the
//! close (one command) and the settlement (one command posting one entry of
//! four postings per branch). Each sample starts from a copy of the ledger
//! with the window still open; making the copy is not timed.
//!
//! ```text
//! cargo bench -p ledger --bench clearing
//! LEDGER_BENCH_CLEARING_ENTRIES=100000 cargo bench -p ledger --bench clearing   # smaller
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use ledger::limits::ENTRIES_PER_BATCH_MAX;
use ledger::{
    AccountClass, AccountFlags, AccountId, Actor, Amount, BranchCode, BranchKind, Command,
    CommandKind, Currency, EntryId, Ledger, NewAccount, NewBranch, NewEntry, NewPrincipal,
    PrincipalName, Purpose, Receipt, Timestamp, WindowStatus,
};

const BRANCHES: usize = 1_000;
const ENTRIES_DEFAULT: usize = 1_000_000;

/// A small deterministic generator (xorshift64*): the same transfers every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        usize::try_from(self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n as u64).expect("fits")
    }
}

fn cny() -> Currency {
    Currency::new("CNY").expect("known currency")
}

fn branch(n: usize) -> BranchCode {
    BranchCode::new(format!("B{n:04}")).expect("valid code")
}

fn account(n: usize, kind: &str) -> AccountId {
    AccountId::new(format!("B{n:04}-{kind}")).expect("valid id")
}

fn operator() -> Actor {
    Actor {
        principal: PrincipalName::new("op1").expect("valid name"),
        key_id: "key-op1".into(),
        client: "10.0.0.1".into(),
    }
}

fn start() -> Timestamp {
    Timestamp::parse_rfc3339("2026-11-22T09:00:00Z").expect("valid time")
}

/// A ledger with one open window holding `entries` inter-branch transfers.
fn ledger_with_open_window(entries: usize) -> (Ledger, u64) {
    let mut ledger = Ledger::new();
    let at = start();
    let system = |kind| Command {
        at,
        actor: Actor::system(),
        kind,
    };
    let mut setup = vec![
        system(CommandKind::CreatePrincipal(NewPrincipal {
            name: PrincipalName::new("op1").expect("valid name"),
            role: ledger::Role::Operator,
            authority: 1,
            key_hash: [1; 32],
            key_id: "key-op1".into(),
        })),
        system(CommandKind::CreateBranch(NewBranch {
            code: BranchCode::new("HQ").expect("valid code"),
            name: "Clearing center".into(),
            parent: None,
            kind: BranchKind::Internal,
        })),
    ];
    let open = |id: AccountId, branch: BranchCode, class, purpose| {
        system(CommandKind::OpenAccount(NewAccount {
            id,
            branch,
            currency: cny(),
            class,
            purpose,
            flags: AccountFlags::default(),
            name: None,
        }))
    };
    let hq = BranchCode::new("HQ").expect("valid code");
    for (kind, class, purpose) in [
        ("CLR", AccountClass::Liability, Purpose::Clearing),
        ("RSV", AccountClass::Asset, Purpose::SettlementReserve),
    ] {
        setup.push(open(
            AccountId::new(format!("HQ-{kind}")).expect("valid id"),
            hq.clone(),
            class,
            purpose,
        ));
    }
    for n in 0..BRANCHES {
        setup.push(system(CommandKind::CreateBranch(NewBranch {
            code: branch(n),
            name: format!("Branch {n}"),
            parent: Some(hq.clone()),
            kind: BranchKind::Internal,
        })));
        for (kind, class, purpose) in [
            ("CLR", AccountClass::Liability, Purpose::Clearing),
            ("RSV", AccountClass::Asset, Purpose::SettlementReserve),
            ("C1", AccountClass::Liability, Purpose::Customer),
        ] {
            setup.push(open(account(n, kind), branch(n), class, purpose));
        }
    }
    let mut index = 1;
    for applied in ledger.apply(index, setup) {
        assert!(applied.outcome.is_ok(), "setup: {:?}", applied.outcome);
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut posted = 0;
    while posted < entries {
        let batch: Vec<NewEntry> = (posted..entries.min(posted + ENTRIES_PER_BATCH_MAX))
            .map(|k| {
                let payer = rng.below(BRANCHES);
                let payee = (payer + 1 + rng.below(BRANCHES - 1)) % BRANCHES;
                NewEntry::transfer(
                    EntryId::new(format!("t{k}")).expect("valid id"),
                    account(payer, "C1"),
                    account(payee, "C1"),
                    Amount::from_minor(1 + rng.below(1_000_000) as i128),
                    cny(),
                )
            })
            .collect();
        posted += batch.len();
        index += 1;
        let command = Command {
            at,
            actor: operator(),
            kind: CommandKind::PostEntries {
                entries: batch,
                atomic: false,
            },
        };
        let applied = ledger.apply(index, vec![command]);
        let Ok(Receipt::Entries(outcomes)) = &applied[0].outcome else {
            panic!("a batch answers per entry: {:?}", applied[0].outcome);
        };
        assert!(
            outcomes
                .iter()
                .all(|o| o.status == ledger::EntryStatus::Posted),
            "every transfer posts"
        );
    }
    (ledger, index)
}

/// Closes and settles window 1 at log indexes after `index`.
fn close_and_settle(ledger: &mut Ledger, index: u64) {
    let at = start().plus_seconds(3600);
    let command = |kind| Command {
        at,
        actor: operator(),
        kind,
    };
    let applied = ledger.apply(
        index + 1,
        vec![command(CommandKind::CloseWindow { window: 1 })],
    );
    assert!(
        applied[0].outcome.is_ok(),
        "close: {:?}",
        applied[0].outcome
    );
    let applied = ledger.apply(
        index + 2,
        vec![command(CommandKind::SettleWindow { window: 1 })],
    );
    assert!(
        applied[0].outcome.is_ok(),
        "settle: {:?}",
        applied[0].outcome
    );
    black_box(applied);
}

fn close_and_settle_a_window(c: &mut Criterion) {
    let entries = std::env::var("LEDGER_BENCH_CLEARING_ENTRIES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(ENTRIES_DEFAULT);
    let built = Instant::now();
    let (base, index) = ledger_with_open_window(entries);
    let positions = base.window_positions(1);
    eprintln!(
        "window 1: {entries} entries, {} branch positions, {} bilateral pairs (built in {:.1?})",
        positions.multilateral.len(),
        positions.bilateral.len(),
        built.elapsed()
    );
    // One checked run: the window settles and every clearing account is clear.
    let mut check = base.clone();
    close_and_settle(&mut check, index);
    assert_eq!(
        check.window(1).map(|w| w.status),
        Some(WindowStatus::Settled)
    );
    assert_eq!(check.window(1).map(|w| w.settlement.len()), Some(BRANCHES));
    assert!(
        check
            .accounts()
            .filter(|a| a.purpose == Purpose::Clearing)
            .all(|a| a.balance.debits_posted == a.balance.credits_posted)
    );
    drop(check);

    let mut group = c.benchmark_group("clearing");
    // Each iteration copies the ledger first (untimed): as few as criterion allows.
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1));
    group.bench_function("close_and_settle_1000_branches", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let mut ledger = base.clone();
                let started = Instant::now();
                close_and_settle(&mut ledger, index);
                total += started.elapsed();
                drop(ledger);
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, close_and_settle_a_window);
criterion_main!(benches);
