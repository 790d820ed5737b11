#!/usr/bin/env bash
# The compose cluster, end to end, on this machine's Docker engine:
#
#   1. builds the image clearledger:dev (deploy/build-image.sh; --no-build skips it)
#   2. `up -d` of deploy/docker-compose.yml, then polls until every node
#      agrees on a leader and answers /readyz
#   3. creates branches, principals and accounts and posts transfers through the API
#   4. round 1: `docker kill` of a follower; round 2: of the leader. Each
#      round posts a transfer while the node is down, checks the balance on
#      the survivors, starts the node again and polls until every node has
#      the same last applied index and the same state digest
#      (GET /v1/cluster, GET /v1/cluster/digest) and the same balances
#   5. `down -v`, always (also on failure or Ctrl-C)
#
# Usage: deploy/compose-test.sh [--no-build]
# Ports: CLEARLEDGER_PORT_1..3 (default 18081-18083), on 127.0.0.1 only.
# Exit status 0 only if every check passed.
set -euo pipefail
cd "$(dirname "$0")"

build=1
case "${1:-}" in
    --no-build) build=0 ;;
    "") ;;
    *) echo "compose-test.sh: unknown argument $1 (usage: compose-test.sh [--no-build])" >&2; exit 2 ;;
esac

if docker compose version >/dev/null 2>&1; then
    compose_cmd=(docker compose)
elif command -v docker-compose >/dev/null; then
    compose_cmd=(docker-compose)
else
    echo "compose-test.sh: neither 'docker compose' nor docker-compose is installed" >&2
    exit 1
fi
for tool in curl jq; do
    command -v "$tool" >/dev/null || { echo "compose-test.sh: $tool is needed" >&2; exit 1; }
done

export COMPOSE_PROJECT_NAME="${COMPOSE_PROJECT_NAME:-clearledger-compose-test}"
export CLEARLEDGER_PORT_1="${CLEARLEDGER_PORT_1:-18081}"
export CLEARLEDGER_PORT_2="${CLEARLEDGER_PORT_2:-18082}"
export CLEARLEDGER_PORT_3="${CLEARLEDGER_PORT_3:-18083}"
CLEARLEDGER_ADMIN_KEY="compose-test-admin-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
CLEARLEDGER_CLUSTER_SECRET="compose-test-secret-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
export CLEARLEDGER_ADMIN_KEY CLEARLEDGER_CLUSTER_SECRET
admin="$CLEARLEDGER_ADMIN_KEY"
operator=compose-test-operator-key
teller=compose-test-teller-sh01-key

compose() { "${compose_cmd[@]}" -f docker-compose.yml "$@"; }
work="$(mktemp -d)"
started=$SECONDS
passed=0
summary=()

log() { printf '[%4ss] %s\n' "$((SECONDS - started))" "$*"; }
check() { passed=$((passed + 1)); summary+=("ok: $*"); log "ok: $*"; }
fail() {
    log "FAILED: $*"
    exit 1
}

cleanup() {
    status=$?
    if [ "$status" != 0 ]; then
        echo "---- node logs (last 40 lines each) ----"
        compose logs --no-color --tail 40 2>&1 || true
    fi
    log "docker compose down -v"
    compose down -v --remove-orphans >/dev/null 2>&1 || true
    rm -rf "$work"
    echo "==== summary"
    for line in "${summary[@]}"; do echo "  $line"; done
    if [ "$status" = 0 ]; then
        echo "compose test: $passed passed, 0 failed ($((SECONDS - started)) s)"
    else
        echo "compose test: $passed passed, 1 failed ($((SECONDS - started)) s)"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_of() { local var="CLEARLEDGER_PORT_$1"; echo "${!var}"; }

# api METHOD NODE PATH KEY [BODY]: prints the HTTP status ("000" when the
# node could not be reached); the body is left in $work/body.
api() {
    local method=$1 node=$2 path=$3 key=$4 body=${5:-}
    local args=(-sS -m 15 -o "$work/body" -w '%{http_code}' -X "$method"
        -H "Authorization: Bearer $key" "http://127.0.0.1:$(port_of "$node")$path")
    if [ -n "$body" ]; then
        args+=(-H 'Content-Type: application/json' -d "$body")
    fi
    curl "${args[@]}" 2>/dev/null || { : >"$work/body"; echo 000; }
}

# must METHOD NODE PATH KEY BODY: a setup call that has to succeed (200).
must() {
    local status
    status=$(api "$@")
    [ "$status" = 200 ] || fail "$1 $3 on node $2 answered $status: $(cat "$work/body")"
}

# wait_until SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.5 s
# until it succeeds, or fails the test at the deadline.
wait_until() {
    local seconds=$1 what=$2
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || fail "$what: not within $seconds s"
        sleep 0.5
    done
}

# Container ids, looked up once after `up` (docker start keeps them).
declare -A containers=()
container_of() { echo "${containers[$1]}"; }

# The leader every node of "$@" reports, with all of them ready; fails (1)
# while they disagree, have none, or one does not answer.
agreed_leader() {
    local node leader="" seen
    for node in "$@"; do
        [ "$(api GET "$node" /readyz "$admin")" = 200 ] || return 1
        [ "$(api GET "$node" /v1/cluster "$admin")" = 200 ] || return 1
        seen=$(jq -r '.leader // empty' "$work/body")
        [ -n "$seen" ] || return 1
        if [ -z "$leader" ]; then leader=$seen; elif [ "$leader" != "$seen" ]; then return 1; fi
    done
    echo "$leader" >"$work/leader"
}

# leader_other_than ID NODES...: the nodes agree on a leader, and it is not ID.
leader_other_than() {
    local excluded=$1
    shift
    agreed_leader "$@" && [ "$(cat "$work/leader")" != "$excluded" ]
}

# Every node of "$@" at the same last applied index with the same state
# digest and entry count; that index goes to $work/converged.
converged() {
    local node first="" this applied
    for node in "$@"; do
        [ "$(api GET "$node" /v1/cluster "$admin")" = 200 ] || return 1
        applied=$(jq -r '.last_applied' "$work/body")
        [ "$(api GET "$node" /v1/cluster/digest "$admin")" = 200 ] || return 1
        this="$applied $(jq -r '"\(.index) \(.digest) \(.entries)"' "$work/body")"
        if [ -z "$first" ]; then first=$this; elif [ "$first" != "$this" ]; then return 1; fi
    done
    echo "$first" >"$work/converged"
}

# post_transfer NODE ID FROM TO AMOUNT: posts one transfer, retrying the
# same body on 503 or a lost answer (ids make that safe) until it is posted.
post_transfer() {
    local node=$1 id=$2 body status attempts=0 since=$SECONDS deadline=$((SECONDS + 60))
    body=$(jq -nc --arg id "$2" --arg from "$3" --arg to "$4" --arg amount "$5" \
        '{id: $id, debit_account: $from, credit_account: $to, amount: $amount, currency: "CNY"}')
    while :; do
        status=$(api POST "$node" /v1/transfers "$teller" "$body")
        attempts=$((attempts + 1))
        case "$status" in
            200) break ;;
            000|503) [ "$SECONDS" -lt "$deadline" ] || fail "transfer $id: still $status after 60 s"; sleep 0.5 ;;
            *) fail "transfer $id on node $node answered $status: $(cat "$work/body")" ;;
        esac
    done
    [ "$(jq -r '.results[0].status' "$work/body")" = posted ] ||
        fail "transfer $id was not posted: $(cat "$work/body")"
    log "transfer $id posted through node $node: $attempts attempt(s), $((SECONDS - since)) s"
}

# balance NODE ACCOUNT [stale]: the account's posted balance as NODE answers it.
balance() {
    local query=""
    [ "${3:-}" = stale ] && query="?consistency=stale"
    [ "$(api GET "$1" "/v1/accounts/$2$query" "$operator")" = 200 ] || return 1
    jq -r '.balance.posted' "$work/body"
}

# Expected balances are kept in minor units (fen), so the arithmetic is exact.
cents() { printf '%d.%02d' "$(($1 / 100))" "$(($1 % 100))"; }
set_expectations() {
    expect_c001=$(cents "$expect_c001_cents")
    expect_c002=$(cents "$expect_c002_cents")
}

# Every node of "$@" shows the expected balances (stale reads: its own state).
balances_everywhere() {
    local node
    for node in "$@"; do
        [ "$(balance "$node" SH01-C001 stale)" = "$expect_c001" ] || return 1
        [ "$(balance "$node" SH01-C002 stale)" = "$expect_c002" ] || return 1
    done
}

if [ "$build" = 1 ]; then
    log "building the image (deploy/build-image.sh)"
    bash ./build-image.sh
fi
docker image inspect "${CLEARLEDGER_IMAGE:-clearledger:dev}" >/dev/null 2>&1 ||
    fail "no image ${CLEARLEDGER_IMAGE:-clearledger:dev}: run deploy/build-image.sh"

log "docker compose up -d (project $COMPOSE_PROJECT_NAME, ports $CLEARLEDGER_PORT_1-$CLEARLEDGER_PORT_3)"
compose down -v --remove-orphans >/dev/null 2>&1 || true
compose up -d
for node in 1 2 3; do
    containers[$node]=$(compose ps -q "node$node")
    [ -n "${containers[$node]}" ] || fail "no container for node$node"
done
wait_until 120 "a leader agreed by all three nodes" agreed_leader 1 2 3
check "cluster up: node $(cat "$work/leader") leads, all three ready"

for node in 1 2 3; do
    wait_until 90 "docker health of node $node" \
        bash -c "[ \"\$(docker inspect -f '{{.State.Health.Status}}' $(container_of "$node"))\" = healthy ]"
done
check "docker HEALTHCHECK (/healthz through busybox wget) healthy on all three"

# The bootstrap admin key is registered by the leader shortly after it is elected.
wait_until 30 "the admin key to be registered" \
    bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $admin' http://127.0.0.1:$CLEARLEDGER_PORT_2/v1/branches)\" = 200 ]"
must POST 2 /v1/branches "$admin" '{"code":"HQ","name":"Clearing Center"}'
must POST 3 /v1/branches "$admin" '{"code":"SH01","name":"Shanghai Branch","parent":"HQ"}'
must POST 1 /v1/principals "$admin" "{\"name\":\"operator-1\",\"role\":\"operator\",\"authority\":3,\"key\":\"$operator\"}"
must POST 1 /v1/principals "$admin" "{\"name\":\"teller-sh01\",\"role\":\"branch:SH01\",\"key\":\"$teller\"}"
must POST 2 /v1/accounts "$operator" '{"id":"SH01-CASH-CNY","branch":"SH01","currency":"CNY","class":"asset","purpose":"internal"}'
for account in SH01-C001 SH01-C002; do
    must POST 3 /v1/accounts "$operator" "{\"id\":\"$account\",\"branch\":\"SH01\",\"currency\":\"CNY\",\"class\":\"liability\",\"purpose\":\"customer\",\"flags\":{\"debits_must_not_exceed_credits\":true}}"
done
must POST 1 /v1/transfers "$operator" '{"id":"ct-deposit","debit_account":"SH01-CASH-CNY","credit_account":"SH01-C001","amount":"100000.00","currency":"CNY"}'
[ "$(jq -r '.results[0].status' "$work/body")" = posted ] || fail "the deposit was not posted: $(cat "$work/body")"
post_transfer 2 ct-0 SH01-C001 SH01-C002 250.00
expect_c001_cents=9975000
expect_c002_cents=25000
set_expectations
[ "$(balance 3 SH01-C002)" = "$expect_c002" ] || fail "SH01-C002 on node 3: $(cat "$work/body")"
check "branches, principals, accounts; deposit and transfer ct-0 posted through followers; SH01-C002 = $expect_c002"

status=$(api POST 1 /v1/transfers "$teller" '{"id":"ct-0","debit_account":"SH01-C001","credit_account":"SH01-C002","amount":"999.00","currency":"CNY"}')
if [ "$status" != 409 ] || [ "$(jq -r .code "$work/body")" != exists_with_different_amount ]; then
    fail "ct-0 again with another amount answered $status: $(cat "$work/body")"
fi
check "ct-0 again with another amount: 409 exists_with_different_amount"

wait_until 60 "all three nodes converged" converged 1 2 3
check "converged before the faults: applied index, digest, entries = $(cat "$work/converged")"

# kill_round ROLE N CENTS: kills the leader or a follower, posts transfer
# ct-N while it is down, restarts it and waits for it to catch up.
kill_round() {
    local role=$1 round=$2 amount_cents=$3 amount leader victim node survivors=()
    agreed_leader 1 2 3 || fail "round $round: no agreed leader before the kill"
    leader=$(cat "$work/leader")
    if [ "$role" = leader ]; then
        victim=$leader
    else
        for node in 1 2 3; do [ "$node" != "$leader" ] && { victim=$node; break; }; done
    fi
    for node in 1 2 3; do [ "$node" != "$victim" ] && survivors+=("$node"); done
    amount=$(cents "$amount_cents")
    log "round $round: docker kill node $victim (the $role; node $leader leads)"
    local killed_at=$SECONDS
    docker kill "$(container_of "$victim")" >/dev/null
    [ "$(docker inspect -f '{{.State.Running}}' "$(container_of "$victim")")" = false ] ||
        fail "node $victim still runs after docker kill"
    if [ "$role" = leader ]; then
        # Until their election timeout passes, the survivors still name the old leader.
        wait_until 60 "a new leader among nodes ${survivors[*]}" leader_other_than "$victim" "${survivors[@]}"
        check "round $round: leader node $victim killed; node $(cat "$work/leader") leads the remaining two ($((SECONDS - killed_at)) s after the kill)"
    fi
    post_transfer "${survivors[1]}" "ct-$round" SH01-C001 SH01-C002 "$amount"
    expect_c001_cents=$((expect_c001_cents - amount_cents))
    expect_c002_cents=$((expect_c002_cents + amount_cents))
    set_expectations
    [ "$(balance "${survivors[0]}" SH01-C002)" = "$expect_c002" ] ||
        fail "SH01-C002 on node ${survivors[0]} with node $victim down: $(cat "$work/body")"
    check "round $round: transfer ct-$round posted with node $victim down; SH01-C002 = $expect_c002"
    log "round $round: docker start node $victim"
    local started_at=$SECONDS
    docker start "$(container_of "$victim")" >/dev/null
    wait_until 120 "node $victim to rejoin and catch up" converged 1 2 3
    wait_until 30 "the same balances on every node" balances_everywhere 1 2 3
    agreed_leader 1 2 3 || wait_until 30 "an agreed leader after the rejoin" agreed_leader 1 2 3
    check "round $round: node $victim rejoined within $((SECONDS - started_at)) s: applied index, digest, entries = $(cat "$work/converged") on all three; balances equal"
}

kill_round follower 1 10000
kill_round leader 2 3550

status=$(api GET 1 /v1/audit/verify "$admin")
[ "$status" = 200 ] || fail "audit verify answered $status: $(cat "$work/body")"
check "audit chain verifies: $(jq -c . "$work/body" | cut -c1-120)"
