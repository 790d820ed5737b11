//! The matching engine: a pure, deterministic function from ledger items,
//! external lines and rules in priority order to matches.
//!
//! Rules run one after another; each sees only the items no earlier match
//! claimed, and a claim is exclusive: no item is in two matches. Within a
//! rule, the driving side is walked in input order and every choice between
//! candidates is broken by a total order (closeness, then date, then input
//! position), so the same inputs always give the same matches. Each match
//! records the rule that made it.
//!
//! Amounts are signed as the statement shows them: a credit (money in, for
//! the account holder) is positive. Matching on the signed amount is
//! matching on amount and direction at once.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::amount::Amount;
use crate::time::Date;

/// Something to match: a ledger posting or an external line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Signed: credit positive, debit negative. Never zero.
    pub amount: Amount,
    /// The value date.
    pub date: Date,
    /// Its references (entry reference and id; line reference and servicer's
    /// reference). Empty strings never match.
    pub references: Vec<String>,
}

/// The most items one grouping rule may put on its many side.
pub const GROUP_ITEMS_MAX: u8 = 8;
/// How many candidates a grouping rule considers for one item: the subset
/// search is exponential in this, so it is small and fixed.
pub const GROUP_CANDIDATES_MAX: usize = 16;
/// How many items within the date window a grouping rule looks at to find
/// its candidates.
const GROUP_SCAN_MAX: usize = 4_096;
/// How many steps the subset search of one item may take: a bound on the
/// work per item that does not depend on the data.
const GROUP_SEARCH_STEPS_MAX: u32 = 20_000;
/// The widest date window a rule may ask for.
pub const RULE_DAYS_MAX: u32 = 366;

/// One matching rule. Rules run in the order given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// One ledger item and one line with a reference in common and the same
    /// amount and direction.
    Reference,
    /// One ledger item and one line with the same amount and direction and
    /// value dates at most `days` apart.
    AmountDate {
        /// The largest value-date difference.
        days: u32,
    },
    /// One ledger item and one line in the same direction whose amounts differ
    /// by at most `tolerance`, value dates at most `days` apart.
    Tolerance {
        /// The largest amount difference, in minor units.
        tolerance: Amount,
        /// The largest value-date difference.
        days: u32,
    },
    /// One line and several ledger items (the servicer booked a batch as one
    /// line) whose sum is within `tolerance` of it.
    OneToMany {
        /// The largest value-date difference from the line.
        days: u32,
        /// The most ledger items in the group (2 to [`GROUP_ITEMS_MAX`]).
        max_items: u8,
        /// The largest difference of the sums.
        tolerance: Amount,
    },
    /// Several lines and one ledger item (the servicer split it).
    ManyToOne {
        /// The largest value-date difference from the ledger item.
        days: u32,
        /// The most lines in the group (2 to [`GROUP_ITEMS_MAX`]).
        max_items: u8,
        /// The largest difference of the sums.
        tolerance: Amount,
    },
}

impl Rule {
    /// The rule's snake_case name.
    pub fn name(&self) -> &'static str {
        match self {
            Rule::Reference => "reference",
            Rule::AmountDate { .. } => "amount_date",
            Rule::Tolerance { .. } => "tolerance",
            Rule::OneToMany { .. } => "one_to_many",
            Rule::ManyToOne { .. } => "many_to_one",
        }
    }

    /// The largest difference a match of this rule may have.
    pub fn tolerance(&self) -> Amount {
        match self {
            Rule::Reference | Rule::AmountDate { .. } => Amount::ZERO,
            Rule::Tolerance { tolerance, .. }
            | Rule::OneToMany { tolerance, .. }
            | Rule::ManyToOne { tolerance, .. } => *tolerance,
        }
    }

    /// The widest value-date difference within a match, if the rule has one.
    pub fn days(&self) -> Option<u32> {
        match self {
            Rule::Reference => None,
            Rule::AmountDate { days }
            | Rule::Tolerance { days, .. }
            | Rule::OneToMany { days, .. }
            | Rule::ManyToOne { days, .. } => Some(*days),
        }
    }

    /// Why the rule cannot run, if it cannot.
    pub fn invalid(&self) -> Option<String> {
        if self.days().is_some_and(|days| days > RULE_DAYS_MAX) {
            return Some(format!(
                "{}: days may be at most {RULE_DAYS_MAX}",
                self.name()
            ));
        }
        if self.tolerance().minor() < 0 {
            return Some(format!(
                "{}: the tolerance must not be negative",
                self.name()
            ));
        }
        match self {
            Rule::OneToMany { max_items, .. } | Rule::ManyToOne { max_items, .. }
                if !(2..=GROUP_ITEMS_MAX).contains(max_items) =>
            {
                Some(format!(
                    "{}: max_items must be 2 to {GROUP_ITEMS_MAX}",
                    self.name()
                ))
            }
            _ => None,
        }
    }

    /// The rules used when a run names none: reference, then amount and
    /// date within 3 days, then batches and splits of up to 5 items.
    pub fn defaults() -> Vec<Rule> {
        vec![
            Rule::Reference,
            Rule::AmountDate { days: 3 },
            Rule::OneToMany {
                days: 3,
                max_items: 5,
                tolerance: Amount::ZERO,
            },
            Rule::ManyToOne {
                days: 3,
                max_items: 5,
                tolerance: Amount::ZERO,
            },
        ]
    }
}

/// A group of ledger items and lines that one rule matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Match {
    /// The position of the rule in the rules given.
    pub rule: usize,
    /// Positions in the ledger items given, ascending.
    pub ledger: Vec<usize>,
    /// Positions in the lines given, ascending.
    pub external: Vec<usize>,
    /// The lines' sum minus the ledger items' sum; zero but for tolerance.
    pub difference: Amount,
}

/// What has been claimed so far.
struct Claims {
    ledger: Vec<bool>,
    external: Vec<bool>,
}

/// Matches `ledger` items against `external` lines with `rules` in order.
/// Deterministic; no item appears in two matches; every match's difference
/// is within its rule's tolerance. Rules that are [`Rule::invalid`] must be
/// refused before.
pub fn match_items(ledger: &[Candidate], external: &[Candidate], rules: &[Rule]) -> Vec<Match> {
    let mut claims = Claims {
        ledger: vec![false; ledger.len()],
        external: vec![false; external.len()],
    };
    let mut matches = Vec::new();
    for (position, rule) in rules.iter().enumerate() {
        assert!(rule.invalid().is_none(), "rules are validated before a run");
        let found = match rule {
            Rule::Reference => by_reference(ledger, external, &claims),
            Rule::AmountDate { days } => one_to_one(ledger, external, &claims, Amount::ZERO, *days),
            Rule::Tolerance { tolerance, days } => {
                one_to_one(ledger, external, &claims, *tolerance, *days)
            }
            Rule::OneToMany {
                days,
                max_items,
                tolerance,
            } => groups(
                external,
                &claims.external,
                ledger,
                &claims.ledger,
                *days,
                *max_items,
                *tolerance,
            )
            .into_iter()
            .map(|(line, items)| (items, vec![line]))
            .collect(),
            Rule::ManyToOne {
                days,
                max_items,
                tolerance,
            } => groups(
                ledger,
                &claims.ledger,
                external,
                &claims.external,
                *days,
                *max_items,
                *tolerance,
            )
            .into_iter()
            .map(|(item, lines)| (vec![item], lines))
            .collect(),
        };
        for (mut ledger_side, mut external_side) in found {
            ledger_side.sort_unstable();
            external_side.sort_unstable();
            let sum = |items: &[Candidate], positions: &[usize]| {
                positions
                    .iter()
                    .fold(Amount::ZERO, |sum, &at| sum + items[at].amount)
            };
            for &at in &ledger_side {
                assert!(!claims.ledger[at], "a ledger item is claimed once");
                claims.ledger[at] = true;
            }
            for &at in &external_side {
                assert!(!claims.external[at], "a line is claimed once");
                claims.external[at] = true;
            }
            matches.push(Match {
                rule: position,
                difference: sum(external, &external_side) - sum(ledger, &ledger_side),
                ledger: ledger_side,
                external: external_side,
            });
        }
    }
    matches
}

fn date_distance(a: Date, b: Date) -> u32 {
    (a.0 - b.0).unsigned_abs()
}

/// Exact reference, amount and direction: for each line in order, the first
/// unclaimed ledger item (in input order) that shares a reference and the amount.
fn by_reference(
    ledger: &[Candidate],
    external: &[Candidate],
    claims: &Claims,
) -> Vec<(Vec<usize>, Vec<usize>)> {
    // (reference, amount, position), sorted: a lookup is a binary search.
    let mut index: Vec<(&str, Amount, usize)> = ledger
        .iter()
        .enumerate()
        .filter(|(at, _)| !claims.ledger[*at])
        .flat_map(|(at, item)| {
            item.references
                .iter()
                .filter(|r| !r.is_empty())
                .map(move |r| (r.as_str(), item.amount, at))
        })
        .collect();
    index.sort_unstable();
    let mut taken = vec![false; ledger.len()];
    let mut found = Vec::new();
    for (line_at, line) in external
        .iter()
        .enumerate()
        .filter(|(at, _)| !claims.external[*at])
    {
        let best = line
            .references
            .iter()
            .filter(|r| !r.is_empty())
            .filter_map(|reference| {
                let key = (reference.as_str(), line.amount);
                let from = index.partition_point(|(r, a, _)| (*r, *a) < key);
                index[from..]
                    .iter()
                    .take_while(|(r, a, _)| (*r, *a) == key)
                    .map(|(_, _, at)| *at)
                    .find(|at| !taken[*at])
            })
            .min();
        if let Some(item) = best {
            taken[item] = true;
            found.push((vec![item], vec![line_at]));
        }
    }
    found
}

/// One line to one ledger item in the same direction, amounts at most
/// `tolerance` apart and dates at most `days` apart. The closest amount wins,
/// then the closest date, then the earlier date, then input order.
fn one_to_one(
    ledger: &[Candidate],
    external: &[Candidate],
    claims: &Claims,
    tolerance: Amount,
    days: u32,
) -> Vec<(Vec<usize>, Vec<usize>)> {
    let mut index: BTreeMap<Amount, BTreeSet<(Date, usize)>> = BTreeMap::new();
    for (at, item) in ledger
        .iter()
        .enumerate()
        .filter(|(at, _)| !claims.ledger[*at])
    {
        index
            .entry(item.amount)
            .or_default()
            .insert((item.date, at));
    }
    let days = i32::try_from(days).expect("days are validated");
    let mut found = Vec::new();
    for (line_at, line) in external
        .iter()
        .enumerate()
        .filter(|(at, _)| !claims.external[*at])
    {
        let (low, high) = if line.amount.is_positive() {
            (
                (line.amount - tolerance).max(Amount::from_minor(1)),
                line.amount + tolerance,
            )
        } else {
            (
                line.amount - tolerance,
                (line.amount + tolerance).min(Amount::from_minor(-1)),
            )
        };
        // (amount distance, date distance, date, position)
        let mut best: Option<(Amount, u32, Date, usize, Amount)> = None;
        for (amount, dates) in index.range(low..=high) {
            let distance = (*amount - line.amount).max(line.amount - *amount);
            if best.is_some_and(|b| b.0 < distance) {
                continue;
            }
            if let Some((date, at)) = closest(dates, line.date, days) {
                let key = (distance, date_distance(date, line.date), date, at, *amount);
                if best.is_none_or(|b| (key.0, key.1, key.2, key.3) < (b.0, b.1, b.2, b.3)) {
                    best = Some(key);
                }
            }
        }
        if let Some((_, _, date, at, amount)) = best {
            let dates = index.get_mut(&amount).expect("found in the index");
            dates.remove(&(date, at));
            if dates.is_empty() {
                index.remove(&amount);
            }
            found.push((vec![at], vec![line_at]));
        }
    }
    found
}

/// The entry of `dates` closest to `date` within `days`: the closest date,
/// the earlier of two equally close, the first position on that date.
fn closest(dates: &BTreeSet<(Date, usize)>, date: Date, days: i32) -> Option<(Date, usize)> {
    let after = dates
        .range((date, 0)..=(Date(date.0 + days), usize::MAX))
        .next()
        .copied();
    let before = dates
        .range((Date(date.0 - days), 0)..(date, 0))
        .next_back()
        .and_then(|(day, _)| dates.range((*day, 0)..).next())
        .copied();
    match (before, after) {
        (Some(b), Some(a)) => {
            if date_distance(b.0, date) <= date_distance(a.0, date) {
                Some(b)
            } else {
                Some(a)
            }
        }
        (b, a) => b.or(a),
    }
}

/// For each unclaimed `one` in order, a set of 2 to `max_items` unclaimed
/// `many` in the same direction, dated at most `days` from it, whose sum is
/// within `tolerance` of it. Candidates are the nearest by date (at most
/// [`GROUP_CANDIDATES_MAX`]); the subset search tries larger amounts first.
fn groups(
    ones: &[Candidate],
    ones_claimed: &[bool],
    many: &[Candidate],
    many_claimed: &[bool],
    days: u32,
    max_items: u8,
    tolerance: Amount,
) -> Vec<(usize, Vec<usize>)> {
    let mut index: BTreeSet<(Date, usize)> = many
        .iter()
        .enumerate()
        .filter(|(at, _)| !many_claimed[*at])
        .map(|(at, item)| (item.date, at))
        .collect();
    let days = i32::try_from(days).expect("days are validated");
    let mut found = Vec::new();
    for (one_at, one) in ones.iter().enumerate().filter(|(at, _)| !ones_claimed[*at]) {
        let target = one.amount;
        let magnitude = |amount: Amount| amount.minor().abs();
        let fits = |at: usize| {
            let amount = many[at].amount;
            amount.is_positive() == target.is_positive()
                && magnitude(amount) <= magnitude(target) + tolerance.minor()
        };
        // The nearest by date first: the same day, then a day before, a day
        // after, and so on; within a day by position. Stop once enough are
        // found, or after a bounded number of items looked at.
        let mut candidates: Vec<(u32, Date, usize)> = Vec::with_capacity(GROUP_CANDIDATES_MAX);
        let mut looked = 0;
        'days: for distance in 0..=days {
            let sides = if distance == 0 {
                vec![one.date]
            } else {
                vec![Date(one.date.0 - distance), Date(one.date.0 + distance)]
            };
            for day in sides {
                for &(date, at) in index.range((day, 0)..=(day, usize::MAX)) {
                    looked += 1;
                    if fits(at) {
                        candidates.push((date_distance(date, one.date), date, at));
                        if candidates.len() == GROUP_CANDIDATES_MAX {
                            break 'days;
                        }
                    }
                    if looked == GROUP_SCAN_MAX {
                        break 'days;
                    }
                }
            }
        }
        // Larger amounts first prunes the search soonest.
        candidates.sort_unstable_by_key(|(_, _, at)| {
            (std::cmp::Reverse(magnitude(many[*at].amount)), *at)
        });
        let amounts: Vec<i128> = candidates
            .iter()
            .map(|(_, _, at)| magnitude(many[*at].amount))
            .collect();
        let mut chosen = Vec::new();
        let mut search = Search {
            amounts: &amounts,
            tolerance: tolerance.minor(),
            steps: GROUP_SEARCH_STEPS_MAX,
        };
        if search.subset(0, magnitude(target), usize::from(max_items), &mut chosen)
            && chosen.len() >= 2
        {
            let group: Vec<usize> = chosen.iter().map(|&c| candidates[c].2).collect();
            for &at in &group {
                index.remove(&(many[at].date, at));
            }
            found.push((one_at, group));
        }
    }
    found
}

/// A bounded depth-first subset search over `amounts` (all positive,
/// descending).
struct Search<'a> {
    amounts: &'a [i128],
    tolerance: i128,
    steps: u32,
}

impl Search<'_> {
    /// Indexes from `from` on, at most `left` of them, whose amounts sum to
    /// within the tolerance of `target`; groups of one are left to the
    /// one-to-one rules. Gives up when its steps run out.
    fn subset(&mut self, from: usize, target: i128, left: usize, chosen: &mut Vec<usize>) -> bool {
        if chosen.len() >= 2 && target.abs() <= self.tolerance {
            return true;
        }
        if left == 0 || self.steps == 0 {
            return false;
        }
        self.steps -= 1;
        // The rest, at most `left` of the largest ones, cannot reach the target.
        let reach: i128 = self.amounts[from..].iter().take(left).sum();
        if reach < target - self.tolerance {
            return false;
        }
        for at in from..self.amounts.len() {
            if self.amounts[at] > target + self.tolerance {
                continue;
            }
            chosen.push(at);
            if self.subset(at + 1, target - self.amounts[at], left - 1, chosen) {
                return true;
            }
            chosen.pop();
        }
        false
    }
}
