#!/usr/bin/env bash
# Sets up and runs every ClearLedger test: formatting, lints, all tests of the
# workspace, then the fault-injection stage (jepsen-tests/ci.sh: checker
# self-tests, injected bugs that must be caught, a short real run). Everything
# is built in the release profile and reused by every stage (and by the
# benchmarks and the service).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/clearledger/target}"
export CARGO_TERM_COLOR=never

bash scripts/setup.sh

echo "== rustfmt"
cargo fmt --all -- --check
echo "== api reference"
python3 scripts/api-reference.py --check
echo "== clippy"
cargo clippy --release --workspace --all-targets --locked -- -D warnings
echo "== tests"
cargo test --release --workspace --locked --no-fail-fast
echo "== fault-injection tests (jepsen-tests, needs root)"
JEPSEN_SELF_TESTS=skip bash jepsen-tests/ci.sh
