//! The matching engine (ledger::recon::match_items): each rule finds what it
//! promises, and, over random inputs (proptest), matching is deterministic,
//! never claims an item twice, and every match keeps within its rule's
//! tolerance, direction and date window — Lerian Matcher's exclusive claims,
//! which Blnk's users found missing.

use std::collections::BTreeSet;

use ledger::recon::{Candidate, Match, Rule, match_items};
use ledger::{Amount, Date};
use proptest::prelude::*;

fn item(minor: i128, day: i32, references: &[&str]) -> Candidate {
    Candidate {
        amount: Amount::from_minor(minor),
        date: Date(20_000 + day),
        references: references.iter().map(|r| r.to_string()).collect(),
    }
}

fn pairs(matches: &[Match]) -> Vec<(usize, Vec<usize>, Vec<usize>, i128)> {
    matches
        .iter()
        .map(|m| {
            (
                m.rule,
                m.ledger.clone(),
                m.external.clone(),
                m.difference.minor(),
            )
        })
        .collect()
}

#[test]
fn reference_rule_needs_reference_amount_and_direction() {
    let ledger = [
        item(10_000, 0, &["PAY-1"]),
        item(-10_000, 0, &["PAY-2"]),
        item(5_000, 0, &["PAY-3"]),
    ];
    let external = [
        item(10_000, 5, &["", "PAY-1"]),
        item(10_000, 0, &["PAY-2"]), // wrong direction
        item(5_001, 0, &["PAY-3"]),  // wrong amount
    ];
    let matches = match_items(&ledger, &external, &[Rule::Reference]);
    assert_eq!(pairs(&matches), vec![(0, vec![0], vec![0], 0)]);
}

#[test]
fn amount_date_picks_the_closest_date_within_the_window() {
    let ledger = [item(700, 0, &[]), item(700, 3, &[]), item(700, 9, &[])];
    let external = [item(700, 4, &[]), item(700, 1, &[]), item(700, 20, &[])];
    let matches = match_items(&ledger, &external, &[Rule::AmountDate { days: 2 }]);
    assert_eq!(
        pairs(&matches),
        vec![(0, vec![1], vec![0], 0), (0, vec![0], vec![1], 0)],
        "day 4 takes day 3, day 1 takes day 0, day 20 is out of every window"
    );
}

#[test]
fn tolerance_prefers_the_closest_amount_and_records_the_difference() {
    let ledger = [
        item(-10_000, 0, &[]),
        item(-10_030, 0, &[]),
        item(10_010, 0, &[]),
    ];
    let external = [item(-10_020, 1, &[])];
    let rule = Rule::Tolerance {
        tolerance: Amount::from_minor(50),
        days: 1,
    };
    let matches = match_items(&ledger, &external, &[rule]);
    assert_eq!(pairs(&matches), vec![(0, vec![1], vec![0], 10)]);
}

#[test]
fn one_to_many_and_many_to_one_find_batches_and_splits() {
    let ledger = [
        item(300, 0, &[]),
        item(200, 0, &[]),
        item(500, 1, &[]),
        item(-1_000, 0, &[]),
        item(999, 0, &[]),
    ];
    let external = [item(1_000, 0, &[]), item(-400, 0, &[]), item(-600, 1, &[])];
    let rules = [
        Rule::OneToMany {
            days: 1,
            max_items: 3,
            tolerance: Amount::ZERO,
        },
        Rule::ManyToOne {
            days: 1,
            max_items: 3,
            tolerance: Amount::ZERO,
        },
    ];
    let matches = match_items(&ledger, &external, &rules);
    assert_eq!(
        pairs(&matches),
        vec![(0, vec![0, 1, 2], vec![0], 0), (1, vec![3], vec![1, 2], 0)],
        "999 + anything is not 1000; 300 + 200 + 500 is"
    );
    let too_few = [Rule::OneToMany {
        days: 1,
        max_items: 2,
        tolerance: Amount::ZERO,
    }];
    assert!(match_items(&ledger, &external, &too_few).is_empty());
}

#[test]
fn earlier_rules_claim_first() {
    let ledger = [item(100, 0, &["A"]), item(100, 0, &["B"])];
    let external = [item(100, 0, &["B"])];
    let rules = [Rule::AmountDate { days: 0 }, Rule::Reference];
    assert_eq!(
        pairs(&match_items(&ledger, &external, &rules)),
        vec![(0, vec![0], vec![0], 0)]
    );
    let rules = [Rule::Reference, Rule::AmountDate { days: 0 }];
    assert_eq!(
        pairs(&match_items(&ledger, &external, &rules)),
        vec![(0, vec![1], vec![0], 0)]
    );
}

#[test]
fn invalid_rules_are_named() {
    assert!(Rule::AmountDate { days: 400 }.invalid().is_some());
    assert!(
        Rule::OneToMany {
            days: 1,
            max_items: 1,
            tolerance: Amount::ZERO
        }
        .invalid()
        .is_some()
    );
    assert!(
        Rule::Tolerance {
            tolerance: Amount::from_minor(-1),
            days: 0
        }
        .invalid()
        .is_some()
    );
    assert!(Rule::defaults().iter().all(|rule| rule.invalid().is_none()));
}

fn candidate() -> impl Strategy<Value = Candidate> {
    (
        prop_oneof![-20i128..=-1, 1i128..=20, Just(1_000), Just(-1_000)],
        0i32..8,
        proptest::collection::vec(
            prop_oneof![Just("R1"), Just("R2"), Just("R3"), Just("")],
            0..3,
        ),
    )
        .prop_map(|(minor, day, references)| item(minor, day, &references))
}

fn rule() -> impl Strategy<Value = Rule> {
    prop_oneof![
        Just(Rule::Reference),
        (0u32..4).prop_map(|days| Rule::AmountDate { days }),
        (0i128..4, 0u32..4).prop_map(|(t, days)| Rule::Tolerance {
            tolerance: Amount::from_minor(t),
            days
        }),
        (0u32..3, 2u8..5, 0i128..3).prop_map(|(days, max_items, t)| Rule::OneToMany {
            days,
            max_items,
            tolerance: Amount::from_minor(t)
        }),
        (0u32..3, 2u8..5, 0i128..3).prop_map(|(days, max_items, t)| Rule::ManyToOne {
            days,
            max_items,
            tolerance: Amount::from_minor(t)
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn matching_is_deterministic_exclusive_and_within_each_rule(
        ledger in proptest::collection::vec(candidate(), 0..40),
        external in proptest::collection::vec(candidate(), 0..40),
        rules in proptest::collection::vec(rule(), 1..5),
    ) {
        let matches = match_items(&ledger, &external, &rules);
        prop_assert_eq!(&matches, &match_items(&ledger, &external, &rules), "deterministic");
        let mut ledger_claimed = BTreeSet::new();
        let mut external_claimed = BTreeSet::new();
        for m in &matches {
            let rule = &rules[m.rule];
            prop_assert!(!m.ledger.is_empty() && !m.external.is_empty());
            for at in &m.ledger {
                prop_assert!(ledger_claimed.insert(*at), "ledger item {} matched twice", at);
            }
            for at in &m.external {
                prop_assert!(external_claimed.insert(*at), "line {} matched twice", at);
            }
            let sum = |items: &[Candidate], at: &[usize]| at.iter().map(|i| items[*i].amount.minor()).sum::<i128>();
            let difference = sum(&external, &m.external) - sum(&ledger, &m.ledger);
            prop_assert_eq!(difference, m.difference.minor());
            prop_assert!(difference.abs() <= rule.tolerance().minor(), "{:?} off by {}", rule, difference);
            let members: Vec<&Candidate> = m.ledger.iter().map(|i| &ledger[*i]).chain(m.external.iter().map(|i| &external[*i])).collect();
            let credit = members[0].amount.is_positive();
            prop_assert!(members.iter().all(|c| c.amount.is_positive() == credit), "one direction");
            let (ones, many) = if m.ledger.len() == 1 { (&ledger[m.ledger[0]], m.external.iter().map(|i| &external[*i]).collect::<Vec<_>>()) } else { (&external[m.external[0]], m.ledger.iter().map(|i| &ledger[*i]).collect()) };
            match rule {
                Rule::Reference => {
                    prop_assert!(ones.references.iter().any(|r| !r.is_empty() && many[0].references.contains(r)));
                }
                Rule::OneToMany { max_items, .. } | Rule::ManyToOne { max_items, .. } => {
                    prop_assert!(many.len() >= 2 && many.len() <= usize::from(*max_items));
                }
                _ => prop_assert_eq!(many.len(), 1),
            }
            if let Some(days) = rule.days() {
                prop_assert!(many.iter().all(|c| (c.date.0 - ones.date.0).unsigned_abs() <= days));
            }
        }
    }

    /// A one-to-one rule leaves no pair it could have matched.
    #[test]
    fn amount_date_leaves_no_matchable_pair(
        ledger in proptest::collection::vec(candidate(), 0..40),
        external in proptest::collection::vec(candidate(), 0..40),
        days in 0u32..4,
    ) {
        let matches = match_items(&ledger, &external, &[Rule::AmountDate { days }]);
        let ledger_claimed: BTreeSet<usize> = matches.iter().flat_map(|m| m.ledger.clone()).collect();
        let external_claimed: BTreeSet<usize> = matches.iter().flat_map(|m| m.external.clone()).collect();
        for (l, item) in ledger.iter().enumerate().filter(|(l, _)| !ledger_claimed.contains(l)) {
            for (e, line) in external.iter().enumerate().filter(|(e, _)| !external_claimed.contains(e)) {
                prop_assert!(
                    item.amount != line.amount || (item.date.0 - line.date.0).unsigned_abs() > days,
                    "ledger {} and line {} were left unmatched", l, e
                );
            }
        }
    }
}
