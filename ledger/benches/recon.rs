//! The matching engine on a statement of 100,000 lines against 100,000
//! ledger items (target: under 2 s). The lines are what a correspondent's
//! statement looks like: most carry our reference, some only the amount
//! with a value date a day or two off, some a fee taken off the amount, and
//! some are unknown to us; a few of ours were booked by the servicer as one
//! batch line.

use criterion::{Criterion, criterion_group, criterion_main};
use ledger::recon::{Candidate, Rule, match_items};
use ledger::{Amount, Date};

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

criterion_group!(benches, bench);
criterion_main!(benches);
