//! A trial balance (试算平衡) as of a past log index, over a ledger that
//! holds 1,000,000 accounts and 10,000,000 journal entries.
//!
//! The history is built by applying real commands: 1,000,000 accounts in
//! 100 branches (one in ten an asset, the rest liabilities), then the
//! entries as batches of 8,000 transfers, one batch per log index, about a
//! tenth of them across branches (so they carry clearing legs). Nothing is
//! built behind the ledger's back. Then:
//!
//! - `past_index`: the whole-ledger trial balance at the index halfway
//!   through the entries;
//! - `past_index_one_branch`: the same for one branch.
//!
//! Building takes minutes and most of the memory (about 1 KiB per entry);
//! the sizes can be lowered to look quickly:
//!
//! ```text
//! cargo bench -p ledger --bench trial_balance
//! LEDGER_BENCH_TB_ENTRIES=1000000 LEDGER_BENCH_TB_ACCOUNTS=100000 cargo bench -p ledger --bench trial_balance
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use ledger::limits::ENTRIES_PER_BATCH_MAX;
use ledger::{
    AccountClass, AccountFlags, AccountId, Actor, Amount, BranchCode, BranchKind, Command,
    CommandKind, Currency, EntryId, Ledger, NewAccount, NewBranch, NewEntry, NewPrincipal,
    PrincipalName, Purpose, Timestamp,
};

const BRANCHES: usize = 100;
const ACCOUNTS_DEFAULT: usize = 1_000_000;
const ENTRIES_DEFAULT: usize = 10_000_000;

fn size(variable: &str, default: usize) -> usize {
    std::env::var(variable)
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(default)
}

/// A small deterministic generator (xorshift64*): the same history every run.
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
    BranchCode::new(format!("B{n:03}")).expect("valid code")
}

fn customer(n: usize) -> AccountId {
    AccountId::new(format!("acct-{n:07}")).expect("valid id")
}

/// The ledger with its history, and the log index halfway through the entries.
fn build(accounts: usize, entries: usize) -> (Ledger, u64) {
    let mut at = Timestamp::parse_rfc3339("2026-01-01T09:00:00Z").expect("valid time");
    let mut ledger = Ledger::new();
    let mut index = 0;
    let mut apply = |ledger: &mut Ledger, at: Timestamp, actor: &Actor, kinds: Vec<CommandKind>| {
        index += 1;
        let commands = kinds
            .into_iter()
            .map(|kind| Command {
                at,
                actor: actor.clone(),
                kind,
            })
            .collect();
        for applied in ledger.apply(index, commands) {
            assert!(applied.outcome.is_ok(), "{:?}", applied.outcome);
        }
        index
    };
    let system = Actor::system();
    let mut setup = vec![CommandKind::CreatePrincipal(NewPrincipal {
        name: PrincipalName::new("op1").expect("valid name"),
        role: ledger::Role::Operator,
        authority: 3,
        key_hash: [1; 32],
        key_id: "key-op1".into(),
    })];
    for n in 0..BRANCHES {
        setup.push(CommandKind::CreateBranch(NewBranch {
            code: branch(n),
            name: format!("branch {n}"),
            parent: None,
            kind: BranchKind::Internal,
        }));
        setup.push(CommandKind::OpenAccount(NewAccount {
            id: AccountId::new(format!("{}-CLR", branch(n))).expect("valid id"),
            branch: branch(n),
            currency: cny(),
            class: AccountClass::Asset,
            purpose: Purpose::Clearing,
            flags: AccountFlags::default(),
            name: None,
        }));
    }
    apply(&mut ledger, at, &system, setup);
    for chunk in (0..accounts).collect::<Vec<_>>().chunks(10_000) {
        let opens = chunk
            .iter()
            .map(|&n| {
                CommandKind::OpenAccount(NewAccount {
                    id: customer(n),
                    branch: branch(n % BRANCHES),
                    currency: cny(),
                    class: if n % 10 == 0 {
                        AccountClass::Asset
                    } else {
                        AccountClass::Liability
                    },
                    purpose: Purpose::Customer,
                    flags: AccountFlags::default(),
                    name: None,
                })
            })
            .collect();
        apply(&mut ledger, at, &system, opens);
    }
    let operator = Actor {
        principal: PrincipalName::new("op1").expect("valid name"),
        key_id: "key-op1".into(),
        client: "10.0.0.1".into(),
    };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut halfway = 0;
    let mut posted = 0;
    while posted < entries {
        let count = ENTRIES_PER_BATCH_MAX.min(entries - posted);
        let batch = (posted..posted + count)
            .map(|id| {
                let from = rng.below(accounts);
                let to = if rng.below(10) == 0 {
                    (from + 1 + rng.below(accounts - 1)) % accounts
                } else {
                    let steps = 1 + rng.below(accounts / BRANCHES - 1);
                    (from + steps * BRANCHES) % accounts
                };
                let amount =
                    Amount::from_minor(1 + i128::try_from(rng.below(100_000)).expect("small"));
                NewEntry::transfer(
                    EntryId::new(format!("t{id}")).expect("valid id"),
                    customer(from),
                    customer(to),
                    amount,
                    cny(),
                )
            })
            .collect();
        // A second a batch: the index at a time is a real lookup.
        at = at.plus_seconds(1);
        let index = apply(
            &mut ledger,
            at,
            &operator,
            vec![CommandKind::PostEntries {
                entries: batch,
                atomic: false,
            }],
        );
        posted += count;
        if halfway == 0 && posted >= entries / 2 {
            halfway = index;
        }
    }
    (ledger, halfway)
}

/// Resident memory of this process, from the kernel, for the note.
fn resident_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .map(|line| line["VmRSS:".len()..].trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn trial_balance(c: &mut Criterion) {
    let accounts = size("LEDGER_BENCH_TB_ACCOUNTS", ACCOUNTS_DEFAULT);
    let entries = size("LEDGER_BENCH_TB_ENTRIES", ENTRIES_DEFAULT);
    let started = Instant::now();
    let (ledger, halfway) = build(accounts, entries);
    eprintln!(
        "built {accounts} accounts and {} entries in {:.1?} (resident memory {}); \
         trial balance at index {halfway} of {}",
        ledger.entry_count(),
        started.elapsed(),
        resident_memory(),
        ledger.applied_index()
    );
    let whole = ledger.trial_balance(halfway, None).expect("a past index");
    assert_eq!(whole.accounts.len(), accounts + BRANCHES);
    assert!(whole.currencies.iter().all(|c| c.totals.balanced()));
    let mut group = c.benchmark_group("trial_balance");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("past_index", |b| {
        b.iter(|| black_box(ledger.trial_balance(black_box(halfway), None)))
    });
    let one = branch(7);
    group.bench_function("past_index_one_branch", |b| {
        b.iter(|| black_box(ledger.trial_balance(black_box(halfway), Some(&one))))
    });
    group.finish();
}

criterion_group!(benches, trial_balance);
criterion_main!(benches);
