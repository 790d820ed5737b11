#!/usr/bin/env bash
# The jepsen-tests CI stage:
#   1. the checkers' self-tests (hand-made histories with known anomalies);
#   2. one short run against each injected bug (a node built with
#      `--features fault-injection`); each must be reported INVALID, by the
#      checker meant to catch it;
#   3. one short real run (3 nodes, partitions, kills and power losses that
#      forget un-fsynced writes) that must be valid.
# Needs root (network namespaces, iptables). Results go to $JEPSEN_OUT
# (default: $CARGO_TARGET_DIR/jepsen-ci/<timestamp>).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/clearledger/target}"
export CARGO_TERM_COLOR=never
out="${JEPSEN_OUT:-$CARGO_TARGET_DIR/jepsen-ci/$(date +%Y%m%d-%H%M%S)}"
bug_seconds="${JEPSEN_BUG_SECONDS:-20}"
real_seconds="${JEPSEN_REAL_SECONDS:-100}"
mkdir -p "$out"

echo "== build: the fault-injection node first (kept aside), then the real one"
# Both builds select what `cargo test --workspace` builds, so cargo resolves
# the same features for every dependency and reuses the test stage's build:
# the feature changes only clearledger-node and what depends on it. The real
# build comes last, so target/release holds the normal node afterwards.
build=(cargo build --release --locked --workspace --all-targets)
"${build[@]}" --features clearledger-node/fault-injection
faulty="$CARGO_TARGET_DIR/jepsen/clearledger-node-fault-injection"
mkdir -p "$(dirname "$faulty")"
cp "$CARGO_TARGET_DIR/release/clearledger-node" "$faulty.tmp"
mv "$faulty.tmp" "$faulty"
"${build[@]}"
jepsen="$CARGO_TARGET_DIR/release/jepsen-tests"

# scripts/test.sh has run them with the rest of the workspace's tests.
if [[ "${JEPSEN_SELF_TESTS:-run}" != skip ]]; then
  echo "== checker self-tests"
  cargo test --release --locked --workspace -- checker
fi

# Whatever happens from here on, no namespace of ours outlives this script
# (each run removes its own; this catches a harness that was itself killed).
trap '"$jepsen" cleanup || true' EXIT
"$jepsen" cleanup

failures=0
# Each injected bug, the nemesis it needs, the checker that must flag it (an
# extended regular expression: a|b when either may, see docs/jepsen.md), its
# own time limit in seconds (- for $bug_seconds), and any further harness
# options.
while read -r bug nemesis checker seconds options; do
  echo "== injected bug: $bug (nemesis: $nemesis; must be caught by $checker)"
  log="$out/bug-$bug.log"
  if [[ "${seconds:--}" == - ]]; then seconds=$bug_seconds; fi
  read -ra options <<<"${options:-}"
  status=0
  "$jepsen" run --nodes 3 --time-limit "$seconds" --nemesis "$nemesis" --seed 7 \
    --out "$out/bug-$bug" --node-bin "$faulty" --fault "$bug" "${options[@]}" >"$log" 2>&1 || status=$?
  tail -n 12 "$log"
  if [[ "$status" != 1 ]] || ! grep -Eq "INVALID +($checker) " "$log"; then
    echo "!! $bug: expected exit 1 with $checker INVALID, got exit $status"
    failures=$((failures + 1))
  fi
done <<'EOF'
skip_linearizable_read none linearizable
skip_dedup none idempotent_retries
ack_before_commit none exactly_once
reapply_on_restart kill replicas - --logs-to-keep 1000000
skip_fsync lose-unsynced exactly_once|nodes_stayed_up 45
EOF

echo "== real run: 3 nodes, partitions, kills and lost un-fsynced writes, ${real_seconds}s"
status=0
"$jepsen" run --nodes 3 --time-limit "$real_seconds" --nemesis partition,kill,lose-unsynced --seed 11 \
  --out "$out/real" || status=$?
if [[ "$status" != 0 ]]; then
  echo "!! the real run was not valid (exit $status); see $out/real/summary.json"
  failures=$((failures + 1))
fi

echo "== jepsen-tests: results in $out"
if [[ "$failures" != 0 ]]; then
  echo "== jepsen-tests: $failures failure(s)"
  exit 1
fi
echo "== jepsen-tests: ok"
