#!/usr/bin/env bash
# Sets up and runs ClearLedger: a local 3-node cluster on 127.0.0.1:8081-8083
# with demo data (data under ./data/dev). Extra flags go to `clearledger-node dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/clearledger/target}"
bash scripts/setup.sh
cargo build --release --locked --workspace --all-targets
exec "$CARGO_TARGET_DIR/release/clearledger-node" dev "$@"
