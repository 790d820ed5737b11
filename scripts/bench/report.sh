#!/usr/bin/env bash
# Writes docs/benchmarks.md (to stdout) from the results directory of
# scripts/bench.sh: the JSON of each `clearledger bench` run, of each pgbench
# shape and of the recovery run, with the machine's details. The settings
# come from the environment bench.sh passes.
set -euo pipefail
RESULTS=$1
cd "$(dirname "$0")/../.."

have() { [ -f "$RESULTS/$1.json" ]; }
get() { jq -r "$2" "$RESULTS/$1.json"; }
# Whole numbers with thousands separators.
int() { awk -v n="$1" 'BEGIN { n = sprintf("%.0f", n); s = ""; while (length(n) > 3) { s = "," substr(n, length(n) - 2) s; n = substr(n, 1, length(n) - 3) } print n s }'; }
ms() { if [ "$1" = null ]; then echo "–"; else printf '%.2f' "$1"; fi; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
verdict() { if [ "$1" = yes ]; then echo "met"; else echo "**not met**"; fi; }

full=yes
[ "$SECS" -ge 30 ] && [ "$WARMUP" -ge 5 ] && [ "$ACCOUNTS" -eq 10000 ] || full=no
[ "$LEDGER" = 1 ] && [ "$POSTGRES" = 1 ] && [ "$RECOVERY" = 1 ] || full=no
# A history capped to fit the machine's memory (MEMORY_NOTE) is still the
# standard run of that machine; the recovery section says what was capped.
{ [ "$RECOVERY_ENTRIES" -ge 10000000 ] || [ -n "${MEMORY_NOTE:-}" ]; } && [ "$PG_CLIENTS" -eq 64 ] || full=no

commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
[ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] || commit="$commit (with uncommitted changes)"
cpu=$(lscpu | awk -F: '/^Model name/ { sub(/^[ \t]+/, "", $2); print $2; exit }')
memory=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
source_fs=$(findmnt -no SOURCE,FSTYPE -T "$DATA_DIR" | head -n 1)
device=$(findmnt -no SOURCE -T "$DATA_DIR" | head -n 1)
disk=$(lsblk -dno NAME,MODEL,SIZE,ROTA "$device" 2>/dev/null | awk '{ rota = $NF; $NF = ""; print $0 "(the kernel says " (rota == 1 ? "rotational" : "non-rotational") ")" }' || true)

echo "# Benchmarks"
echo
if [ "$full" = yes ] && [ -n "${MEMORY_NOTE:-}" ]; then
  echo "> **The standard run, with the history capped to fit this machine:** $MEMORY_NOTE."
  echo
fi
if [ "$full" = no ]; then
  echo "> **Smoke run.** This run used settings shorter than the standard ones"
  recovered="no recovery run"
  have recovery && recovered="recovery with $(int "$(get recovery .entries)") entries"
  echo "> (${SECS} s measured after ${WARMUP} s of warm-up, $(int "$ACCOUNTS") accounts, a history of"
  echo "> $(int "$HISTORY_ENTRIES") entries, $recovered; parts run: ledger=$LEDGER postgres=$POSTGRES recovery=$RECOVERY)"
  echo "> on a machine that was not quiet. It proves that \`scripts/bench.sh\` runs end"
  echo "> to end; its figures say nothing about performance."
  echo
fi
echo "Written by \`scripts/bench.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), commit \`$commit\`."
echo "Every figure below was measured in that one run, on this machine:"
echo
echo "| | |"
echo "| --- | --- |"
echo "| CPU | ${cpu:-unknown} |"
echo "| cores | $(nproc) |"
echo "| memory | $memory |"
echo "| kernel | $(uname -srm) |"
echo "| disk (data dirs) | ${source_fs:-unknown}${disk:+, $disk} |"
echo "| load average at start | $LOAD_AT_START |"
echo "| Rust | $(rustc --version 2>/dev/null || echo unknown) |"
[ -z "$PG_VERSION" ] || echo "| PostgreSQL | $PG_VERSION |"
echo
echo "Both ledgers, their load generators and the three ClearLedger nodes share"
echo "this machine. Each run is ${SECS} s measured after ${WARMUP} s of warm-up, between"
echo "$(int "$ACCOUNTS") funded accounts, amounts 0.01–9.99."

# --- targets -----------------------------------------------------------------

best_batch=""
best_batch_name=""
for f in "$RESULTS"/batch-*.json; do
  [ -f "$f" ] || continue
  t=$(jq -r '.transfers_per_s' "$f")
  if [ -z "$best_batch" ] || ge "$t" "$best_batch"; then
    best_batch=$t
    best_batch_name=$(jq -r '"batches of \(.settings.batch_size), \(.settings.clients) clients"' "$f")
  fi
done
best_pg=""
best_pg_name=""
for f in "$RESULTS"/pg-*.json; do
  [ -f "$f" ] || continue
  t=$(jq -r '.transfers_per_s' "$f")
  if [ -z "$best_pg" ] || ge "$t" "$best_pg"; then
    best_pg=$t
    case $(jq -r '.name' "$f") in
      client-transaction) best_pg_name="(a) a client-side transaction per transfer" ;;
      function) best_pg_name="(b) a server-side function per transfer" ;;
      *) best_pg_name="(c) $(jq -r '.transfers_per_txn' "$f") transfers per transaction" ;;
    esac
  fi
done

targets() {
  if [ -n "$best_batch" ]; then
    ok=no && ge "$best_batch" 100000 && ok=yes
    echo "| transfers/s with batches (best: $best_batch_name) | ≥ 100,000 | $(int "$best_batch") | $(verdict $ok) |"
  fi
  if have single-64; then
    t=$(get single-64 .transfers_per_s)
    ok=no && ge "$t" 15000 && ok=yes
    echo "| transfers/s, one per request, 64 clients | ≥ 15,000 | $(int "$t") | $(verdict $ok) |"
  fi
  if have half-peak; then
    p=$(get half-peak .latency_ms.p99)
    ok=no && lt "$p" 20 && ok=yes
    echo "| p99 at half the 64-client peak ($(get half-peak .settings.rate) transfers/s, open loop) | < 20 ms | $(ms "$p") ms | $(verdict $ok) |"
  fi
  if have recovery; then
    r=$(get recovery .ready_s)
    e=$(get recovery .entries)
    ok=no && lt "$r" 10 && ge "$e" 10000000 && ok=yes
    echo "| restarted node serving again, 10,000,000 entries on disk | < 10 s | $(printf '%.2f' "$r") s with $(int "$e") entries | $(verdict $ok) |"
  fi
}
rows=$(targets)
if [ -n "$rows" ]; then
  echo
  echo "## Against the targets"
  echo
  echo "| figure | target | measured | |"
  echo "| --- | --- | --- | --- |"
  echo "$rows"
fi

# --- ClearLedger ---------------------------------------------------------------

if [ "$LEDGER" = 1 ]; then
  echo
  echo "## ClearLedger, 3 nodes"
  echo
  echo "A fresh cluster of three \`clearledger-node run\` processes on loopback ports,"
  echo "default node settings (fsync on every Raft append, group commit), data in a"
  echo "temp dir on the disk above. The runs one transfer per request, mixed and"
  echo "half-peak share one new cluster; each batched run starts on a fresh one (each"
  echo "books about a million entries and every replica holds the ledger in memory)."
  echo "Load from \`clearledger bench\` (closed loop unless a rate is given; latency"
  echo "per request, from an HDR histogram; clients spread over the three nodes; a"
  echo "follower gathers its clients' postings and sends them to the leader in one"
  echo "internal call per batch)."
  echo
  echo "| run | clients | transfers per request | transfers/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors | money |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  for name in single-1 single-16 single-64 $(for pair in $BATCHES; do echo "batch-${pair%%:*}"; done) mixed half-peak; do
    have "$name" || continue
    label=$name
    case $name in
      single-*) label="one per request" ;;
      batch-*) label="batch" ;;
      mixed) label="mixed (--mix)" ;;
      half-peak) label="open loop at $(get half-peak .settings.rate)/s" ;;
    esac
    errors=$(get "$name" '[(.errors.requests | to_entries[].value), (.errors.transfers | to_entries[].value)] | add // 0')
    money=$(get "$name" 'if .money.conserved then "conserved" else "**NOT conserved**" end')
    echo "| $label | $(get "$name" .settings.clients) | $(get "$name" .settings.batch_size) | $(int "$(get "$name" .transfers_per_s)") | $(ms "$(get "$name" .latency_ms.p50)") | $(ms "$(get "$name" .latency_ms.p90)") | $(ms "$(get "$name" .latency_ms.p99)") | $(ms "$(get "$name" '.latency_ms.p99_9')") | $(ms "$(get "$name" .latency_ms.max)") | $errors | $money |"
  done
  errors_seen=$(cat "$RESULTS"/single-*.json "$RESULTS"/batch-*.json "$RESULTS"/mixed.json "$RESULTS"/half-peak.json 2>/dev/null |
    jq -rs '[.[] | (.errors.requests + .errors.transfers) | to_entries[] | "\(.key) \(.value)"] | join(", ")')
  [ -z "$errors_seen" ] || {
    echo
    echo "Errors by code over these runs: $errors_seen."
  }
  if have mixed; then
    echo
    echo "### Mixed workload"
    echo
    echo "64 clients; $(get mixed .settings.mix.read_percent)% of client turns read a balance"
    echo "(\`GET /v1/accounts/{id}/balance\`, linearizable); of the transfers,"
    echo "$(get mixed .settings.mix.inter_branch_percent)% credit a customer of a second branch (inter-branch: clearing"
    echo "postings and window positions) and $(get mixed .settings.mix.pending_percent)% are posted pending and approved by a"
    echo "second operator at the client's next turn. In the window:"
    echo
    echo "| kind | count | per s | p50 ms | p99 ms | p99.9 ms | max ms |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    el=$(get mixed .elapsed_s)
    per() { awk -v n="$1" -v s="$el" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'; }
    echo "| transfers posted at once | $(int "$(get mixed .counts.transfers_posted)") | $(int "$(per "$(get mixed .counts.transfers_posted)")") | | | | |"
    echo "| transfers posted pending | $(int "$(get mixed .counts.transfers_pending)") | $(int "$(per "$(get mixed .counts.transfers_pending)")") | | | | |"
    echo "| of all transfers, inter-branch | $(int "$(get mixed .counts.inter_branch)") | $(int "$(per "$(get mixed .counts.inter_branch)")") | | | | |"
    echo "| transfer requests | $(int "$(get mixed .requests_answered)") | $(int "$(get mixed .requests_per_s)") | $(ms "$(get mixed .latency_ms.p50)") | $(ms "$(get mixed .latency_ms.p99)") | $(ms "$(get mixed .latency_ms.p99_9)") | $(ms "$(get mixed .latency_ms.max)") |"
    for kind in reads approvals; do
      echo "| $kind | $(int "$(get mixed ".$kind.ok")") | $(int "$(get mixed ".$kind.per_s")") | $(ms "$(get mixed ".$kind.latency_ms.p50 // null")") | $(ms "$(get mixed ".$kind.latency_ms.p99 // null")") | $(ms "$(get mixed ".$kind.latency_ms.p99_9 // null")") | $(ms "$(get mixed ".$kind.latency_ms.max // null")") |"
    done
    echo
    echo "$(get mixed .counts.approved_after_window) transfer(s) still pending when the window ended were approved after it (not counted)."
    kind_errors=$(get mixed '[(.reads.errors | to_entries[] | "read \(.key) \(.value)"), (.approvals.errors | to_entries[] | "approval \(.key) \(.value)")] | join(", ")')
    [ -z "$kind_errors" ] || echo "Reads and approvals without success, by code: $kind_errors."
  fi
fi

# --- PostgreSQL ----------------------------------------------------------------

if [ "$POSTGRES" = 1 ]; then
  echo
  echo "## PostgreSQL, the same transfers"
  echo
  echo "$PG_VERSION from Debian, a throwaway cluster (initdb in the temp dir, one"
  echo "loopback TCP port) with \`fsync\`, \`synchronous_commit\` and \`full_page_writes\`"
  echo "on; settings in [scripts/bench/postgresql.conf](../scripts/bench/postgresql.conf)."
  echo "Schema and functions: [scripts/bench/pg-schema.sql](../scripts/bench/pg-schema.sql)"
  echo "(accounts with posted debits and credits and a no-overdraft check, journal"
  echo "entries with a unique idempotency key, two postings per transfer, rows locked"
  echo "in account-id order). Driven by \`pgbench\` (prepared statements; shape (c) as"
  echo "query text, since its 300 values exceed a prepared statement's 255) with"
  echo "$(int "$ACCOUNTS") accounts; latency per transaction from pgbench's log."
  echo
  echo "| shape | clients | transfers per transaction | transfers/s | transactions/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | failed |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
  for name in client-transaction function batch-100; do
    have "pg-$name" || continue
    case $name in
      client-transaction) label="(a) client-side transaction per transfer ([script](../scripts/bench/pg-client-tx.pgbench))" ;;
      function) label="(b) server-side function per transfer ([script](../scripts/bench/pg-function.pgbench))" ;;
      batch-100) label="(c) 100 transfers per transaction ([generator](../scripts/bench/pg-batch.sh))" ;;
    esac
    f="pg-$name"
    echo "| $label | $(get "$f" .clients) | $(get "$f" .transfers_per_txn) | $(int "$(get "$f" .transfers_per_s)") | $(int "$(get "$f" .txn_per_s)") | $(ms "$(get "$f" .latency_ms.p50)") | $(ms "$(get "$f" .latency_ms.p90)") | $(ms "$(get "$f" .latency_ms.p99)") | $(ms "$(get "$f" .latency_ms.p99_9)") | $(ms "$(get "$f" .latency_ms.max)") | $(get "$f" .failed) |"
  done
  if [ -n "$best_pg" ]; then
    echo
    echo "After the runs the customer balances summed to what the cash account paid"
    echo "out. The best PostgreSQL shape here: $best_pg_name, $(int "$best_pg") transfers/s."
    if [ -n "$best_batch" ]; then
      echo "ClearLedger with batches ($best_batch_name) against it:"
      echo "**$(awk -v a="$best_batch" -v b="$best_pg" 'BEGIN { printf "%.2f", a / b }')×**."
    fi
    if have single-64; then
      echo "ClearLedger one transfer per request at 64 clients against it:"
      echo "**$(awk -v a="$(get single-64 .transfers_per_s)" -v b="$best_pg" 'BEGIN { printf "%.2f", a / b }')×**."
    fi
  fi
fi

# --- recovery ------------------------------------------------------------------

if have recovery; then
  echo
  echo "## Recovery"
  echo
  echo "After the runs above, node $(get recovery .node) (a follower) was killed with SIGKILL and"
  echo "started again at once. It held $(int "$(get recovery .entries)") journal entries (applied index"
  echo "$(int "$(get recovery .applied_index)"), $(awk -v b="$(get recovery .disk_bytes)" 'BEGIN { printf "%.0f", b / 1048576 }') MiB in its data dir). From the process start:"
  echo
  echo "| | seconds |"
  echo "| --- | --- |"
  echo "| HTTP answering (\`/readyz\`, any status) | $(printf '%.2f' "$(get recovery .answering_s)") |"
  echo "| \`/readyz\` ok and applied up to the leader's index | $(printf '%.2f' "$(get recovery .ready_s)") |"
  if ! ge "$(get recovery .entries)" 10000000; then
    echo
    echo "The target is stated for 10,000,000 entries; this run measured"
    echo "$(int "$(get recovery .entries)") (BENCH_RECOVERY_ENTRIES=$RECOVERY_ENTRIES)."
    if [ -n "${MEMORY_NOTE:-}" ]; then
      echo "Why: $MEMORY_NOTE."
    fi
  fi
fi

echo
echo "## Reproducing"
echo
echo "From a clean clone, as root or with sudo (it installs what is missing with"
echo "apt-get), on a quiet machine:"
echo
echo '```sh'
echo './scripts/bench.sh'
echo '```'
echo
echo "Settings are environment variables (BENCH_SECONDS, BENCH_WARMUP,"
echo "BENCH_ACCOUNTS, BENCH_BATCHES, BENCH_RECOVERY, BENCH_RECOVERY_ENTRIES,"
echo "BENCH_POSTGRES, BENCH_PG_CLIENTS, BENCH_LEDGER; see the head of the script). This run:"
echo "BENCH_SECONDS=$SECS BENCH_WARMUP=$WARMUP BENCH_ACCOUNTS=$ACCOUNTS"
echo "BENCH_BATCHES=\"$BATCHES\" BENCH_RECOVERY=$RECOVERY"
echo "BENCH_RECOVERY_ENTRIES=$RECOVERY_ENTRIES BENCH_POSTGRES=$POSTGRES BENCH_PG_CLIENTS=$PG_CLIENTS"
echo "BENCH_LEDGER=$LEDGER."
