//! Apply throughput of the ledger in memory, in transfers per second.
//!
//! The ledger holds 100,000 customer accounts in 10 branches (every fourth
//! with the no-overdraft flag), each funded so that transfers post, plus a
//! history of earlier transfers. Then:
//!
//! - `single`: one log index carrying one command with one transfer;
//! - `group_commit`: one log index carrying 1,000 single-transfer commands
//!   (the node's group commit);
//! - `batch`: one log index carrying one `PostEntries` command of 1,000
//!   transfers (a branch system's batch).
//!
//! - `restore`: the whole ledger rebuilt from its records, as a node does
//!   when it starts (the records already in memory, so the figure is the
//!   ledger's part of a restart), in entries per second.
//!
//! Before measuring, it prints how much resident memory the ledger took per
//! entry. About a tenth of the transfers cross branches. Building the commands is
//! outside the timed part. Every iteration posts new entry ids, so the
//! ledger keeps growing as it would in service.
//!
//! ```text
//! cargo bench -p ledger --bench apply                  # full run
//! cargo bench -p ledger --bench apply -- --quick       # a quick look
//! LEDGER_BENCH_HISTORY=1000000 cargo bench -p ledger --bench apply -- batch
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ledger::{
    AccountClass, AccountFlags, AccountId, Actor, Amount, BranchCode, BranchKind, Command,
    CommandKind, Currency, EntryId, EntryStatus, Ledger, NewAccount, NewBranch, NewEntry,
    NewPrincipal, PrincipalName, Purpose, Receipt, Timestamp,
};

// The node's allocator, so that the figures are the node's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ACCOUNTS: usize = 100_000;
const BRANCHES: usize = 10;
const BATCH: usize = 1_000;
/// Earlier transfers applied before measuring, unless `LEDGER_BENCH_HISTORY` says otherwise.
const HISTORY_DEFAULT: usize = 200_000;
/// What each account is funded with, in minor units: far more than the
/// transfers of a run can take out.
const FUNDING: i128 = 1_000_000_000;

/// A small deterministic generator (xorshift64*): the same transfers every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).expect("fits")
    }
}

fn cny() -> Currency {
    Currency::new("CNY").expect("known currency")
}

fn branch(n: usize) -> BranchCode {
    BranchCode::new(format!("B{n:02}")).expect("valid code")
}

/// Customer account `n` belongs to branch `n % BRANCHES`.
fn customer(n: usize) -> AccountId {
    AccountId::new(format!("acct-{n:06}")).expect("valid id")
}

fn operator() -> Actor {
    Actor {
        principal: PrincipalName::new("op1").expect("valid name"),
        key_id: "key-op1".into(),
        client: "10.0.0.1".into(),
    }
}

/// Makes commands: entry ids, log indexes, random transfers.
struct Maker {
    index: u64,
    next_id: u64,
    rng: Rng,
    at: Timestamp,
}

impl Maker {
    fn entry(&mut self, debit: AccountId, credit: AccountId, minor: i128) -> NewEntry {
        self.next_id += 1;
        let id = EntryId::new(format!("t{}", self.next_id)).expect("valid id");
        NewEntry::transfer(id, debit, credit, Amount::from_minor(minor), cny())
    }

    /// `count` transfers between random accounts: nine in ten within one
    /// branch, the rest across branches.
    fn transfers(&mut self, count: usize) -> Vec<NewEntry> {
        (0..count)
            .map(|_| {
                let from = self.rng.below(ACCOUNTS);
                let to = if self.rng.below(10) == 0 {
                    (from + 1 + self.rng.below(ACCOUNTS - 1)) % ACCOUNTS
                } else {
                    // Same branch: step by a non-zero multiple of BRANCHES.
                    let steps = 1 + self.rng.below(ACCOUNTS / BRANCHES - 1);
                    (from + steps * BRANCHES) % ACCOUNTS
                };
                let amount = 1 + i128::try_from(self.rng.below(1_000)).expect("small");
                self.entry(customer(from), customer(to), amount)
            })
            .collect()
    }

    fn command(&self, kind: CommandKind) -> Command {
        Command {
            at: self.at,
            actor: operator(),
            kind,
        }
    }

    fn post(&self, entries: Vec<NewEntry>) -> Command {
        self.command(CommandKind::PostEntries {
            entries,
            atomic: false,
        })
    }

    fn next_index(&mut self) -> u64 {
        self.index += 1;
        self.index
    }

    /// One log entry's worth of commands.
    fn commands(&mut self, shape: Shape) -> Vec<Command> {
        match shape {
            Shape::Single => {
                let entries = self.transfers(1);
                vec![self.post(entries)]
            }
            Shape::GroupCommit => self
                .transfers(BATCH)
                .into_iter()
                .map(|entry| self.post(vec![entry]))
                .collect(),
            Shape::Batch => {
                let entries = self.transfers(BATCH);
                vec![self.post(entries)]
            }
        }
    }

    /// One log entry: its index and commands.
    fn input(&mut self, shape: Shape) -> (u64, Vec<Command>) {
        let index = self.next_index();
        (index, self.commands(shape))
    }
}

/// A ledger with the world and its history, and the maker to go on with.
struct Bench {
    ledger: Ledger,
    maker: Maker,
}

impl Bench {
    fn new(history: usize) -> Bench {
        let at = Timestamp::parse_rfc3339("2026-11-22T09:00:00Z").expect("valid time");
        let mut bench = Bench {
            ledger: Ledger::new(),
            maker: Maker {
                index: 0,
                next_id: 0,
                rng: Rng(0x9e37_79b9_7f4a_7c15),
                at,
            },
        };
        let system = |kind| Command {
            at,
            actor: Actor::system(),
            kind,
        };
        let open = |id: AccountId, n: usize, class, purpose, flags| {
            system(CommandKind::OpenAccount(NewAccount {
                id,
                branch: branch(n),
                currency: cny(),
                class,
                purpose,
                flags,
                name: None,
            }))
        };
        let mut setup = vec![system(CommandKind::CreatePrincipal(NewPrincipal {
            name: PrincipalName::new("op1").expect("valid name"),
            role: ledger::Role::Operator,
            authority: 3,
            key_hash: [1; 32],
            key_id: "key-op1".into(),
        }))];
        for n in 0..BRANCHES {
            setup.push(system(CommandKind::CreateBranch(NewBranch {
                code: branch(n),
                name: format!("branch {n}"),
                parent: None,
                kind: BranchKind::Internal,
            })));
            let none = AccountFlags::default();
            let (clearing, nostro) = (clearing(n), nostro(n));
            setup.push(open(
                clearing,
                n,
                AccountClass::Asset,
                Purpose::Clearing,
                none,
            ));
            setup.push(open(nostro, n, AccountClass::Asset, Purpose::Nostro, none));
        }
        bench.apply_all(setup);
        for chunk in (0..ACCOUNTS).collect::<Vec<_>>().chunks(10_000) {
            let commands = chunk
                .iter()
                .map(|&n| {
                    let flags = AccountFlags {
                        debits_must_not_exceed_credits: n % 4 == 0,
                        ..AccountFlags::default()
                    };
                    let purpose = Purpose::Customer;
                    open(
                        customer(n),
                        n % BRANCHES,
                        AccountClass::Liability,
                        purpose,
                        flags,
                    )
                })
                .collect();
            bench.apply_all(commands);
        }
        // Fund every account from its branch's nostro.
        for chunk in (0..ACCOUNTS).collect::<Vec<_>>().chunks(BATCH) {
            let entries = chunk
                .iter()
                .map(|&n| {
                    bench
                        .maker
                        .entry(nostro(n % BRANCHES), customer(n), FUNDING)
                })
                .collect();
            let command = bench.maker.post(entries);
            bench.apply_checked(vec![command]);
        }
        for _ in 0..history / BATCH {
            let commands = bench.maker.commands(Shape::Batch);
            bench.apply_checked(commands);
        }
        bench
    }

    fn apply_all(&mut self, commands: Vec<Command>) {
        let index = self.maker.next_index();
        for applied in self.ledger.apply(index, commands) {
            assert!(applied.outcome.is_ok(), "setup failed: {applied:?}");
        }
    }

    /// Applies posts and checks that every entry posted.
    fn apply_checked(&mut self, commands: Vec<Command>) {
        let index = self.maker.next_index();
        for applied in self.ledger.apply(index, commands) {
            let Ok(Receipt::Entries(outcomes)) = &applied.outcome else {
                panic!("post refused: {applied:?}");
            };
            for outcome in outcomes {
                assert_eq!(outcome.status, EntryStatus::Posted, "{outcome:?}");
            }
        }
    }
}

/// The process's resident memory in bytes (Linux; `None` elsewhere).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn clearing(n: usize) -> AccountId {
    AccountId::new(format!("B{n:02}-clearing")).expect("valid id")
}

fn nostro(n: usize) -> AccountId {
    AccountId::new(format!("B{n:02}-nostro")).expect("valid id")
}

#[derive(Clone, Copy)]
enum Shape {
    Single,
    GroupCommit,
    Batch,
}

fn apply_throughput(c: &mut Criterion) {
    let history = std::env::var("LEDGER_BENCH_HISTORY")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(HISTORY_DEFAULT);
    let resident_before = resident_bytes();
    let mut bench = Bench::new(history);
    // What the ledger holds per entry: every entry is kept in memory, and on
    // this kind of machine each new page of it costs a fault.
    if let (Some(before), Some(after)) = (resident_before, resident_bytes()) {
        let entries = bench.ledger.entry_count();
        eprintln!(
            "ledger in memory: {entries} entries, {ACCOUNTS} accounts, {} MiB resident \
             ({} bytes per entry, accounts included)",
            (after - before) >> 20,
            (after - before) / entries as u64,
        );
    }
    // The measured shapes post (none is refused) before they are timed.
    for shape in [Shape::Single, Shape::GroupCommit, Shape::Batch] {
        let commands = bench.maker.commands(shape);
        bench.apply_checked(commands);
    }

    let mut group = c.benchmark_group("apply");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    let Bench { ledger, maker } = &mut bench;
    for (name, shape, transfers) in [
        ("single", Shape::Single, 1),
        ("group_commit", Shape::GroupCommit, BATCH),
        ("batch", Shape::Batch, BATCH),
    ] {
        group.throughput(Throughput::Elements(transfers as u64));
        group.bench_function(name, |b| {
            b.iter_batched(
                || maker.input(shape),
                |(index, commands)| black_box(ledger.apply(index, commands)),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();

    let records = bench.ledger.records();
    let entries = bench.ledger.entry_count();
    let mut group = c.benchmark_group("restore");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(entries as u64));
    group.bench_function("from_records", |b| {
        b.iter_batched(
            || records.clone(),
            |records| black_box(Ledger::from_records(records, false).expect("restores")),
            BatchSize::LargeInput,
        )
    });
    group.finish();
    eprintln!(
        "ledger after the run: {} entry ids, {} log indexes",
        bench.ledger.entry_count(),
        bench.ledger.applied_index()
    );
}

criterion_group!(benches, apply_throughput);
criterion_main!(benches);
