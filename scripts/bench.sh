#!/usr/bin/env bash
# Benchmarks ClearLedger and, on the same machine in the same run, a
# PostgreSQL double-entry ledger; writes the figures with the machine's
# details to docs/benchmarks.md.
#
#   1. setup.sh, one release build of the workspace (CARGO_TARGET_DIR as in
#      scripts/test.sh);
#   2. a fresh 3-node cluster (fsync on) in a temp dir on free loopback ports;
#   3. the matrix with `clearledger bench`: one transfer per request at 1, 16
#      and 64 clients; the mixed workload (--mix); an open-loop run at half
#      the 64-client peak; then batches of 100, 1,000 and 8,000, each on a
#      fresh cluster (each books about a million entries, and every replica
#      holds the ledger in memory);
#   4. history, on a fresh cluster: BENCH_RECOVERY_ENTRIES journal entries
#      loaded in batches of 8,000 (fewer if they would not fit in memory);
#   5. recovery: kill -9 of a follower, restart, time until /readyz is ok and
#      the node has applied everything the leader had;
#   6. the cluster is stopped (by pid; also on failure), then PostgreSQL: a
#      throwaway cluster (initdb in the temp dir, loopback port, fsync and
#      synchronous_commit on) driven by pgbench at 64 clients in three shapes:
#      (a) a client-side transaction per transfer, (b) a server-side function
#      per transfer, (c) 100 transfers per transaction (scripts/bench/).
#
# Settings (environment):
#   BENCH_SECONDS=30            measured seconds of each run
#   BENCH_WARMUP=5              warm-up seconds before each
#   BENCH_ACCOUNTS=10000        accounts (both ledgers)
#   BENCH_BATCHES="100:64 1000:16 8000:4"   batch size:clients of the batched runs
#   BENCH_RECOVERY=1            0 skips the history load and the recovery run
#   BENCH_RECOVERY_ENTRIES=10000000   journal entries on disk before the restart
#                               (fewer when three in-memory replicas of them
#                               would not fit: see BENCH_BYTES_PER_ENTRY)
#   BENCH_BYTES_PER_ENTRY=1000  memory one node holds per journal entry
#                               (measured: a follower at 3.0 GB RSS with
#                               3.9 million entries under batched load,
#                               0.77 KB each, RocksDB's memtables and caches
#                               included, and 0.52 KB each just after a
#                               restart; with a margin)
#   BENCH_POSTGRES=1            0 skips PostgreSQL
#   BENCH_PG_CLIENTS=64         pgbench clients of each shape
#   BENCH_LEDGER=1              0 skips the ClearLedger matrix
#   BENCH_TMPDIR=/tmp           where the temp dir (node and PostgreSQL data) goes
#   BENCH_OUT=docs/benchmarks.md
#   BENCH_KEEP=0                1 keeps the temp dir (data, logs, raw results)
# A run with shorter settings than the defaults is marked as a smoke run in
# the report.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/clearledger/target}"
export CARGO_TERM_COLOR=never
unset CLEARLEDGER_SERVER CLEARLEDGER_KEY CLEARLEDGER_PROFILE CLEARLEDGER_OUTPUT CLEARLEDGER_CONFIG

SECS=${BENCH_SECONDS:-30}
WARMUP=${BENCH_WARMUP:-5}
ACCOUNTS=${BENCH_ACCOUNTS:-10000}
BATCHES=${BENCH_BATCHES:-100:64 1000:16 8000:4}
RECOVERY=${BENCH_RECOVERY:-1}
RECOVERY_ENTRIES=${BENCH_RECOVERY_ENTRIES:-10000000}
POSTGRES=${BENCH_POSTGRES:-1}
LEDGER=${BENCH_LEDGER:-1}
OUT=${BENCH_OUT:-docs/benchmarks.md}
KEEP=${BENCH_KEEP:-0}
PG_CLIENTS=${BENCH_PG_CLIENTS:-64}
PG_BATCH=100
ADMIN_KEY="bench-admin-$(date +%s)-$$"
HISTORY_BATCH=8000
HISTORY_CLIENTS=4

say() { echo "bench: $*" >&2; }
die() {
  echo "bench: $*" >&2
  exit 1
}
for pair in "BENCH_SECONDS=$SECS" "BENCH_WARMUP=$WARMUP" "BENCH_ACCOUNTS=$ACCOUNTS" \
  "BENCH_RECOVERY=$RECOVERY" "BENCH_RECOVERY_ENTRIES=$RECOVERY_ENTRIES" \
  "BENCH_POSTGRES=$POSTGRES" "BENCH_PG_CLIENTS=$PG_CLIENTS" "BENCH_LEDGER=$LEDGER" \
  "BENCH_KEEP=$KEEP"; do
  [[ ${pair#*=} =~ ^[0-9]+$ ]] || die "${pair%%=*} must be a whole number, not '${pair#*=}'"
done
[ "$SECS" -ge 1 ] || die "BENCH_SECONDS must be at least 1"
[ "$ACCOUNTS" -ge 2 ] || die "BENCH_ACCOUNTS must be at least 2"
[ "$PG_CLIENTS" -ge 1 ] || die "BENCH_PG_CLIENTS must be at least 1"
for pair in $BATCHES; do
  [[ $pair =~ ^[0-9]+:[0-9]+$ ]] || die "BENCH_BATCHES: '$pair' is not size:clients"
done

# --- setup and build ---------------------------------------------------------

bash scripts/setup.sh
apt_install() {
  local sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  say "installing $*"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "$@" >/dev/null
}
missing=()
command -v jq >/dev/null 2>&1 || missing+=(jq)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v lscpu >/dev/null 2>&1 || missing+=(util-linux)
if [ "$POSTGRES" = 1 ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql postgresql-contrib)
fi
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"

CLUSTER=0
{ [ "$LEDGER" = 1 ] || [ "$RECOVERY" = 1 ]; } && CLUSTER=1
BIN="$CARGO_TARGET_DIR/release"
if [ "$CLUSTER" = 1 ]; then
  say "building (release)"
  cargo build --release --locked --workspace --all-targets
fi

# --- temp dir, cleanup -------------------------------------------------------

WORK=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/clearledger-bench.XXXXXX")
chmod 755 "$WORK"
RESULTS="$WORK/results"
mkdir -p "$RESULTS"
declare -A NODE_PID=()
PG_STARTED=0

stop_node() {
  local id=$1 pid=${NODE_PID[$1]:-}
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 15))
  while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "NODE_PID[$id]"
}
stop_cluster() {
  local id
  for id in "${!NODE_PID[@]}"; do stop_node "$id"; done
}
# fresh_cluster: the three nodes stopped, their data wiped, started again
# and bootstrapped anew on the same ports.
fresh_cluster() {
  local id
  say "a fresh cluster: stopping the nodes and wiping their data"
  stop_cluster
  for id in 1 2 3; do
    rm -rf "$WORK/node$id/db" "$WORK/node$id/snapshots"
    start_node "$id"
  done
  wait_ready
  say "cluster ready (leader: node $(leader_id))"
}
cleanup() {
  local status=$?
  stop_cluster
  if [ "$PG_STARTED" = 1 ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [ "$status" -ne 0 ]; then
    for log in "$WORK"/node*/node.log "$WORK"/pg/server.log; do
      [ -f "$log" ] || continue
      echo "--- last lines of $log" >&2
      tail -n 20 "$log" >&2
    done
  fi
  if [ "$KEEP" = 1 ]; then
    say "kept $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Node ports come from below the kernel's ephemeral range: a port from inside
# it can be taken, while its node is down for the recovery run, by an outgoing
# connection of another node, and the restarted node then cannot listen.
EPHEMERAL_LOW=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
[ "$EPHEMERAL_LOW" -gt 11000 ] || die "the ephemeral port range starts at $EPHEMERAL_LOW: no room below it for the nodes"
CHOSEN_PORTS=" "
# Sets PORT to a loopback port nothing listens on and no earlier call chose.
free_port() {
  local port
  for _ in $(seq 1 200); do
    port=$((10000 + RANDOM % (EPHEMERAL_LOW - 10000)))
    case "$CHOSEN_PORTS" in *" $port "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      CHOSEN_PORTS="$CHOSEN_PORTS$port "
      PORT=$port
      return 0
    fi
  done
  die "found no free loopback port"
}

now_ns() { date +%s%N; }

# --- the ClearLedger cluster -------------------------------------------------

declare -A NODE_ADDR=()
node_config() {
  local id=$1 peer
  echo "node_id = $id"
  echo "listen = \"${NODE_ADDR[$id]}\""
  echo "data_dir = \"$WORK/node$id\""
  echo "admin_key = \"$ADMIN_KEY\""
  if [ "$id" = 1 ]; then echo "bootstrap = true"; else echo "bootstrap = false"; fi
  for peer in 1 2 3; do
    [ "$peer" = "$id" ] && continue
    printf '[[peers]]\nid = %s\naddr = "%s"\n' "$peer" "${NODE_ADDR[$peer]}"
  done
}
start_node() {
  local id=$1
  mkdir -p "$WORK/node$id"
  [ -f "$WORK/node$id/node.toml" ] || node_config "$id" >"$WORK/node$id/node.toml"
  "$BIN/clearledger-node" run --config "$WORK/node$id/node.toml" >>"$WORK/node$id/node.log" 2>&1 &
  NODE_PID[$id]=$!
}
readyz() { curl -fsS --max-time 2 "http://${NODE_ADDR[$1]}/readyz" 2>/dev/null; }
alive_or_die() {
  local id
  for id in "${!NODE_PID[@]}"; do
    kill -0 "${NODE_PID[$id]}" 2>/dev/null || die "node $id exited; see its log below"
  done
}
wait_ready() {
  local deadline=$((SECONDS + 90)) id ready
  while :; do
    ready=1
    for id in 1 2 3; do
      readyz "$id" >/dev/null || ready=0
      curl -fsS --max-time 2 -H "Authorization: Bearer $ADMIN_KEY" \
        "http://${NODE_ADDR[$id]}/v1/cluster" >/dev/null 2>&1 || ready=0
    done
    [ "$ready" = 1 ] && return 0
    alive_or_die
    [ $SECONDS -lt $deadline ] || die "the cluster was not ready within 90 s"
    sleep 0.2
  done
}
leader_id() { readyz 1 | jq -r '.leader'; }
metric() {
  curl -fsS --max-time 5 "http://${NODE_ADDR[$1]}/metrics" | awk -v name="$2" '$1 == name { print $2 }'
}

cli() {
  "$BIN/clearledger" --key "$ADMIN_KEY" -s "${NODE_ADDR[1]}" -s "${NODE_ADDR[2]}" \
    -s "${NODE_ADDR[3]}" --timeout 60 "$@"
}
# run_bench NAME ARGS...: one `clearledger bench` run, its JSON in results/NAME.json.
run_bench() {
  local name=$1
  shift
  wait_ready
  say "$name: bench $*"
  cli -o json --quiet bench --accounts "$ACCOUNTS" "$@" >"$RESULTS/$name.json" 2>"$RESULTS/$name.err" ||
    die "$name failed: $(cat "$RESULTS/$name.err")"
  jq -r '"bench: \(.settings.clients) client(s) x \(.settings.batch_size): \(.transfers_per_s) transfers/s, p50 \(.latency_ms.p50) ms, p99 \(.latency_ms.p99) ms"' \
    "$RESULTS/$name.json" >&2
}
tps_of() { jq -r '.transfers_per_s' "$RESULTS/$1.json"; }

# The ledger holds every entry in memory on each of the three nodes: cap the
# history at what fits in 70% of the memory available, and say so.
MEMORY_NOTE=""
fit_history() {
  local per=${BENCH_BYTES_PER_ENTRY:-1000} avail fits
  avail=$(awk '/^MemAvailable:/ { printf "%.0f", $2 * 1024 }' /proc/meminfo)
  fits=$(awk -v a="$avail" -v p="$per" 'BEGIN { printf "%d", a * 0.7 / (3 * p) }')
  if [ "$RECOVERY_ENTRIES" -gt "$fits" ]; then
    MEMORY_NOTE="$RECOVERY_ENTRIES entries would need about $((RECOVERY_ENTRIES * 3 * per / 1073741824)) GiB for three in-memory replicas ($per bytes per entry each); this machine had $((avail / 1073741824)) GiB available, so the history was capped at $fits entries"
    say "history: $MEMORY_NOTE"
    RECOVERY_ENTRIES=$fits
  fi
}

load_history() {
  local target=$RECOVERY_ENTRIES have rate chunk=10 n=0 remaining
  have=$(metric "$(leader_id)" clearledger_entry_ids)
  say "history: $have entries on the ledger, loading up to $target in batches of $HISTORY_BATCH"
  while [ "$have" -lt "$target" ]; do
    n=$((n + 1))
    run_bench "history-$n" --clients "$HISTORY_CLIENTS" --batch-size "$HISTORY_BATCH" --duration "$chunk"
    have=$(metric "$(leader_id)" clearledger_entry_ids)
    rate=$(tps_of "history-$n")
    awk -v r="$rate" 'BEGIN { exit !(r > 0) }' || die "history load committed nothing"
    remaining=$((target - have))
    [ "$remaining" -gt 0 ] || break
    # The next chunk: what is left at this rate, at most two minutes.
    chunk=$(awk -v left="$remaining" -v r="$rate" 'BEGIN { s = int(left / r) + 1; print (s > 120 ? 120 : s) }')
    say "history: $have entries, $rate/s: about $(awk -v left="$remaining" -v r="$rate" 'BEGIN { printf "%.0f", left / r }') s more"
  done
  HISTORY_ENTRIES=$have
}

# Kills a follower with SIGKILL, restarts it and measures until it serves.
measure_recovery() {
  local leader follower target entries bytes start_ns first_ns="" ready_ns body applied
  leader=$(leader_id)
  for follower in 1 2 3; do [ "$follower" != "$leader" ] && break; done
  target=$(readyz "$leader" | jq -r '.last_applied')
  entries=$(metric "$leader" clearledger_entry_ids)
  bytes=$(du -sb "$WORK/node$follower" | cut -f1)
  say "recovery: kill -9 of node $follower (leader $leader, applied index $target, $entries entries, $((bytes / 1048576)) MiB on disk)"
  kill -KILL "${NODE_PID[$follower]}"
  wait "${NODE_PID[$follower]}" 2>/dev/null || true
  unset "NODE_PID[$follower]"
  start_ns=$(now_ns)
  start_node "$follower"
  local deadline=$((SECONDS + ${BENCH_RECOVERY_DEADLINE:-900}))
  while :; do
    body=$(curl -sS --max-time 2 "http://${NODE_ADDR[$follower]}/readyz" 2>/dev/null || true)
    if [ -n "$body" ] && [ -z "$first_ns" ]; then first_ns=$(now_ns); fi
    [ -n "$body" ] || body='{}'
    applied=$(jq -r '.last_applied // 0' <<<"$body" 2>/dev/null || echo 0)
    if [ "$(jq -r '.ready // false' <<<"$body" 2>/dev/null)" = true ] && [ "$applied" -ge "$target" ]; then
      ready_ns=$(now_ns)
      break
    fi
    kill -0 "${NODE_PID[$follower]}" 2>/dev/null || die "the restarted node $follower exited"
    [ $SECONDS -lt $deadline ] || die "node $follower did not serve again within the deadline"
    sleep 0.05
  done
  jq -n --argjson node "$follower" --argjson entries "$entries" --argjson index "$target" \
    --argjson bytes "$bytes" --argjson start "$start_ns" --argjson first "$first_ns" \
    --argjson ready "$ready_ns" \
    '{node: $node, entries: $entries, applied_index: $index, disk_bytes: $bytes,
      answering_s: (($first - $start) / 1e9), ready_s: (($ready - $start) / 1e9)}' \
    >"$RESULTS/recovery.json"
  say "recovery: answering after $(jq -r '.answering_s' "$RESULTS/recovery.json") s, ready and caught up after $(jq -r '.ready_s' "$RESULTS/recovery.json") s"
}

LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
HISTORY_ENTRIES=0
if [ "$CLUSTER" = 1 ]; then
  for id in 1 2 3; do
    free_port
    NODE_ADDR[$id]="127.0.0.1:$PORT"
  done
  say "starting a 3-node cluster in $WORK on ${NODE_ADDR[1]}, ${NODE_ADDR[2]}, ${NODE_ADDR[3]}"
  for id in 1 2 3; do start_node "$id"; done
  wait_ready
  say "cluster ready (leader: node $(leader_id))"
  if [ "$LEDGER" = 1 ]; then
    for clients in 1 16 64; do
      run_bench "single-$clients" --clients "$clients" --duration "$SECS" --warmup "$WARMUP"
    done
    run_bench mixed --clients 64 --mix --duration "$SECS" --warmup "$WARMUP"
    half=$(awk -v t="$(tps_of single-64)" 'BEGIN { h = int(t / 2); print (h < 1 ? 1 : h) }')
    run_bench half-peak --clients 64 --rate "$half" --duration "$SECS" --warmup "$WARMUP"
    # Each batched run books about a million entries, which every replica
    # holds in memory: each starts on a fresh cluster so that the runs
    # together do not outgrow the machine.
    for pair in $BATCHES; do
      fresh_cluster
      run_bench "batch-${pair%%:*}" --clients "${pair#*:}" --batch-size "${pair%%:*}" \
        --duration "$SECS" --warmup "$WARMUP"
    done
  fi
  if [ "$RECOVERY" = 1 ]; then
    fresh_cluster
    fit_history && load_history
    measure_recovery
  fi
  say "stopping the cluster"
  stop_cluster
fi

# --- PostgreSQL --------------------------------------------------------------

PG_BIN=""
PGDATA="$WORK/pg/data"
PG_USER_OS=""
as_pg() {
  if [ -n "$PG_USER_OS" ]; then
    runuser -u "$PG_USER_OS" -- "$@"
  else
    "$@"
  fi
}

# pg_percentiles LOG_PREFIX: p50 p90 p99 p99.9 max in ms of pgbench's
# per-transaction log (the third field is the latency in µs).
pg_percentiles() {
  cat "$1".* | awk '{ print $3 }' | sort -n | awk '
    { v[NR] = $1 }
    END {
      if (NR == 0) { print "null null null null null"; exit }
      split("0.5 0.9 0.99 0.999", q, " ")
      for (i = 1; i <= 4; i++) { k = int(q[i] * NR + 0.999999); if (k < 1) k = 1; printf "%.3f ", v[k] / 1000 }
      printf "%.3f\n", v[NR] / 1000
    }'
}

# run_pgbench NAME TRANSFERS_PER_TXN QUERY_MODE SCRIPT: warm-up, then the
# measured run.
run_pgbench() {
  local name=$1 per_txn=$2 mode=$3 script=$4 out="$WORK/pg/$1"
  local common=(-n -M "$mode" -c "$PG_CLIENTS" -j "$(nproc)" -h 127.0.0.1 -p "$PG_PORT" -U bench
    -D "accounts=$ACCOUNTS" -f "$script" bench)
  say "postgres $name: pgbench -c $PG_CLIENTS -f $(basename "$script")"
  if [ "$WARMUP" -gt 0 ]; then
    "$PG_BIN/pgbench" "${common[@]}" -T "$WARMUP" >"$out.warmup" 2>&1 || die "pgbench $name (warm-up) failed: $(tail -5 "$out.warmup")"
  fi
  "$PG_BIN/pgbench" "${common[@]}" -T "$SECS" -l --log-prefix="$out.log" >"$out.txt" 2>&1 ||
    die "pgbench $name failed: $(tail -5 "$out.txt")"
  local tps failed p
  tps=$(awk '/^tps = / { print $3; exit }' "$out.txt")
  failed=$(awk '/^number of failed transactions:/ { print $5; exit }' "$out.txt")
  read -r -a p <<<"$(pg_percentiles "$out.log")"
  jq -n --arg name "$name" --arg mode "$mode" --argjson per "$per_txn" --argjson tps "$tps" \
    --argjson failed "${failed:-0}" --argjson clients "$PG_CLIENTS" \
    --argjson p50 "${p[0]}" --argjson p90 "${p[1]}" --argjson p99 "${p[2]}" \
    --argjson p999 "${p[3]}" --argjson max "${p[4]}" \
    '{name: $name, mode: $mode, clients: $clients, transfers_per_txn: $per, txn_per_s: $tps,
      transfers_per_s: ($tps * $per), failed: $failed,
      latency_ms: {p50: $p50, p90: $p90, p99: $p99, p99_9: $p999, max: $max}}' \
    >"$RESULTS/pg-$name.json"
  jq -r '"bench: postgres \(.name): \(.transfers_per_s | floor) transfers/s, p99 \(.latency_ms.p99) ms"' "$RESULTS/pg-$name.json" >&2
  rm -f "$out.log".*
}

if [ "$POSTGRES" = 1 ]; then
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  [ -x "$PG_BIN/initdb" ] || die "no PostgreSQL server binaries under /usr/lib/postgresql"
  mkdir -p "$WORK/pg"
  if [ "$(id -u)" -eq 0 ]; then
    # PostgreSQL refuses to run as root: its files belong to a system user.
    if id postgres >/dev/null 2>&1; then PG_USER_OS=postgres; else PG_USER_OS=nobody; fi
    chown "$PG_USER_OS" "$WORK/pg"
  fi
  free_port
  PG_PORT=$PORT
  say "postgres: initdb in $PGDATA, port $PG_PORT ($("$PG_BIN/postgres" --version))"
  as_pg "$PG_BIN/initdb" -D "$PGDATA" -U bench --auth=trust -E UTF8 --locale=C >"$WORK/pg/initdb.log" 2>&1 ||
    die "initdb failed: $(tail -5 "$WORK/pg/initdb.log")"
  {
    cat scripts/bench/postgresql.conf
    echo "listen_addresses = '127.0.0.1'"
    echo "port = $PG_PORT"
    echo "unix_socket_directories = '$WORK/pg'"
  } | as_pg tee -a "$PGDATA/postgresql.conf" >/dev/null
  as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$WORK/pg/server.log" -w -t 120 start >/dev/null ||
    die "PostgreSQL did not start"
  PG_STARTED=1
  "$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U bench -d postgres -c "CREATE DATABASE bench" >/dev/null
  "$PG_BIN/psql" -q -X -v ON_ERROR_STOP=1 -v accounts="$ACCOUNTS" -h 127.0.0.1 -p "$PG_PORT" -U bench \
    -d bench -f scripts/bench/pg-schema.sql >"$WORK/pg/schema.log" 2>&1 ||
    die "the schema failed: $(tail -5 "$WORK/pg/schema.log")"
  bash scripts/bench/pg-batch.sh "$PG_BATCH" >"$WORK/pg/batch.pgbench"
  run_pgbench client-transaction 1 prepared scripts/bench/pg-client-tx.pgbench
  run_pgbench function 1 prepared scripts/bench/pg-function.pgbench
  # 300 values exceed pgbench's 255 parameters of a prepared statement: the
  # batch goes as query text.
  run_pgbench batch-100 "$PG_BATCH" simple "$WORK/pg/batch.pgbench"
  # Money check: the customer accounts hold what the cash account paid out.
  pg_money=$("$PG_BIN/psql" -X -At -h 127.0.0.1 -p "$PG_PORT" -U bench -d bench -c \
    "SELECT (SELECT sum(credits_posted - debits_posted) FROM accounts WHERE id > 0) = (SELECT debits_posted FROM accounts WHERE id = 0)")
  [ "$pg_money" = t ] || die "PostgreSQL: the customer balances do not add up to the funding"
  PG_VERSION=$("$PG_BIN/postgres" --version)
  as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
  PG_STARTED=0
fi

# --- the report --------------------------------------------------------------

say "writing $OUT"
SECS="$SECS" WARMUP="$WARMUP" ACCOUNTS="$ACCOUNTS" BATCHES="$BATCHES" \
  RECOVERY_ENTRIES="$RECOVERY_ENTRIES" HISTORY_ENTRIES="$HISTORY_ENTRIES" \
  LOAD_AT_START="$LOAD_AT_START" PG_VERSION="${PG_VERSION:-}" DATA_DIR="$WORK" \
  LEDGER="$LEDGER" RECOVERY="$RECOVERY" POSTGRES="$POSTGRES" PG_CLIENTS="$PG_CLIENTS" \
  MEMORY_NOTE="$MEMORY_NOTE" bash scripts/bench/report.sh "$RESULTS" >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
say "done: $OUT"
