#!/usr/bin/env bash
# The driver's lease (docs/team.md): a run with --db claims a row of
# rbc_leases (holder operator@host, its pid), renews it every
# RBC_LEASE_INTERVAL_MS (here 200 ms: expiry after 3 missed beats, 600 ms),
# deletes it at its end; rbc history shows who holds a running run's lease
# and whether it is alive; a driver killed with SIGKILL stops beating and its
# lease expires after the interval, which rbc history says. The schema is
# version 2 and making it again changes nothing.
. tests/lib.sh
S=$ROOT/tests/services
DIR=$(mktemp -d "${TMPDIR:-/tmp}/rbc-lease.XXXXXX")
trap '[ -n "${pid:-}" ] && kill -9 "$pid" 2>/dev/null; "$S/stop" "$DIR" >/dev/null 2>&1; rm -rf "$DIR" "$TMP"' EXIT
export RBC_RUNS_DIR=$TMP/runs RBC_LEASE_INTERVAL_MS=200

if ! "$S/start" "$DIR" postgres >"$TMP/start.out" 2>&1; then
	fail "PostgreSQL starts" "$(tail -20 "$TMP/start.out")"
	t_done
fi
# shellcheck disable=SC1091
. "$DIR/env"
DB="postgresql://rbc@127.0.0.1:$PGPORT/rbc_test"
sql() { psql -X -q -At "$DB" -c "$1" 2>&1; }
# wait_for SQL WANT: polls (5 s at most) until SQL gives WANT; echoes what it gave last.
wait_for() { local i got; for i in $(seq 100); do got=$(sql "$1"); [ "$got" = "$2" ] && break; sleep 0.05; done; printf '%s' "$got"; }

cat >"$TMP/slow.json" <<'JSON'
{ "runbook": "slow", "title": "Slow", "steps": [
    { "id": "wait", "title": "Waits for a file", "run": "while [ ! -e \"$GO\" ] && kill -0 $PPID 2>/dev/null; do sleep 0.05; done" } ] }
JSON

# --- claimed, renewed, released ----------------------------------------------------------
GO=$TMP/go1 "$RBC" run --batch --operator alice --db "$DB" "$TMP/slow.json" >"$TMP/one.out" 2>"$TMP/one.err" &
pid=$!
expect_eq "a run with --db claims its lease: a row of rbc_leases" \
	"$(wait_for "SELECT count(*) FROM rbc_leases WHERE pid = $pid" 1)" 1
id=$(sql "SELECT run FROM rbc_leases WHERE pid = $pid")
expect_eq "… held by operator@host and the driver's pid" "$(sql "SELECT holder || ' ' || pid FROM rbc_leases WHERE run = '$id'")" \
	"alice@$(hostname) $pid"
expect_eq "… expiring 3 beats (600 ms) after its beat" "$(sql "SELECT expires - beat FROM rbc_leases WHERE run = '$id'")" "00:00:00.6"
expect_eq "the schema is version 3" "$(sql 'SELECT max(version) FROM rbc_schema')" 3
b1=$(sql "SELECT beat FROM rbc_leases WHERE run = '$id'")
expect_eq "the heartbeat renews it: the beat advances" \
	"$(wait_for "SELECT beat > '$b1' FROM rbc_leases WHERE run = '$id'" t)" t
beats=$(python3 - "$DB" "$id" <<'PY'
import subprocess, sys, time
seen = set()
end = time.time() + 1.1
while time.time() < end:
    seen.add(subprocess.run(["psql", "-X", "-At", sys.argv[1], "-c", "SELECT beat FROM rbc_leases WHERE run = '%s'" % sys.argv[2]], capture_output=True, text=True).stdout.strip())
    time.sleep(0.03)
print(len(seen))
PY
)
if [ "$beats" -ge 3 ] && [ "$beats" -le 8 ]; then ok "… every 200 ms ($beats beats seen in 1.1 s)"
else fail "… every 200 ms" "$beats beats seen in 1.1 s"; fi
run "$RBC" history --db "$DB"
expect_match "rbc history shows who holds the running run's lease, alive" "$OUT" \
	"^$id +slow .* running .* lease: alice@$(hostname) pid $pid alive \(beat [0-9]+s ago\)\$"
run "$RBC" history --db "$DB" --json
expect_eq "… and in JSON" "$(printf '%s\n' "$OUT" | python3 -c "
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    if r['run'] == '$id': print(r['lease']['holder'], r['lease']['pid'] == $pid, r['lease']['alive'])")" "alice@$(hostname) True True"
touch "$TMP/go1"
wait "$pid"
expect_eq "the run ends" "$?" 0
pid=
expect_eq "… and releases its lease" "$(sql "SELECT count(*) FROM rbc_leases WHERE run = '$id'")" 0
run "$RBC" history --db "$DB"
expect_match "… rbc history shows no lease for the finished run" "$OUT" "^$id +slow .* finished +PASS +[0-9]+\$"

# --- SIGKILL: the lease expires -----------------------------------------------------------
GO=$TMP/go2 "$RBC" run --batch --operator bob --db "$DB" "$TMP/slow.json" >/dev/null 2>&1 &
pid=$!
expect_eq "a second run claims its lease" "$(wait_for "SELECT count(*) FROM rbc_leases WHERE pid = $pid" 1)" 1
id=$(sql "SELECT run FROM rbc_leases WHERE pid = $pid")
b1=$(sql "SELECT beat FROM rbc_leases WHERE run = '$id'")
wait_for "SELECT beat > '$b1' FROM rbc_leases WHERE run = '$id'" t >/dev/null
kill -9 "$pid"
wait "$pid" 2>/dev/null
pid=
touch "$TMP/go2" # its step's shell ends too
killed=$(sql "SELECT now()")
expect_eq "killed with SIGKILL: its lease is still held at first" "$(sql "SELECT expires > '$killed' FROM rbc_leases WHERE run = '$id'")" t
expect_eq "… then expires after 3 missed beats" "$(wait_for "SELECT expires < now() FROM rbc_leases WHERE run = '$id'" t)" t
expect_eq "… within the interval: at most 600 ms after the kill (no beat since)" \
	"$(sql "SELECT expires <= '$killed'::timestamptz + interval '600 milliseconds' AND beat <= '$killed' FROM rbc_leases WHERE run = '$id'")" t
run "$RBC" history --db "$DB"
expect_match "rbc history says the lease is expired" "$OUT" \
	"^$id +slow .* running .* lease: bob@$(hostname) pid [0-9]+ EXPIRED at [0-9T:.Z-]+ \(last beat [0-9]+s ago\)\$"
run "$RBC" history --db "$DB" --json
expect_eq "… and in JSON: alive false" "$(printf '%s\n' "$OUT" | python3 -c "
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    if r['run'] == '$id': print(r['lease']['alive'])")" False

# --- the schema made again ----------------------------------------------------------------
before=$(sql "SELECT count(*) FROM rbc_schema")
GO=$TMP/go2 run "$RBC" run --batch --db "$DB" "$TMP/slow.json"
expect_eq "a run on tables already made changes no version (idempotent)" "$RC $(sql "SELECT count(*) FROM rbc_schema")" "0 $before"
t_done
