#!/usr/bin/env bash
# Writes the pgbench script of shape (c) to stdout: N random transfers
# (default 100) drawn client-side, sent as three arrays to post_transfers(),
# one transaction per call. pgbench has no loops, hence a generated script.
set -euo pipefail
n="${1:-100}"
for i in $(seq 1 "$n"); do
  echo "\\set d$i random(1, :accounts)"
  echo "\\set c$i 1 + (:d$i + random(0, :accounts - 2)) % :accounts"
  echo "\\set a$i random(1, 999)"
done
list() { seq -s, -f ":$1%g" 1 "$n"; }
echo "SELECT post_transfers(ARRAY[$(list d)]::bigint[], ARRAY[$(list c)]::bigint[], ARRAY[$(list a)]::bigint[]);"
