#!/usr/bin/env bash
# The run history in PostgreSQL (--db URL): a real server on 127.0.0.1. Every
# journal line is stored (the tables made by rbc, schema version 3); rbc
# history lists runs and shows one; a secret never reaches the database; the
# server stopped mid-run and started again loses no event and slows no step;
# a database down for the whole run leaves the run alone and rbc history
# push stores it later; a resumed run's database record is complete.
. tests/lib.sh
. tests/pg.sh
trap 'pg_end; rm -rf "$TMP"' EXIT
export RBC_RUNS_DIR=$TMP/runs

pg_begin history
run_dir() { printf '%s\n' "$1" | sed -n 's/^run: [^ ]* (\(.*\))$/\1/p'; }
lines() { wc -l <"$1"; }
secret="pg-secret-$RANDOM$RANDOM"

# --- a run stored as it goes --------------------------------------------------------
cat >"$TMP/short.json" <<'JSON'
{ "runbook": "short", "title": "Short", "kind": "post-deploy",
  "secrets": ["API_TOKEN"],
  "steps": [
    { "id": "one", "title": "One", "run": "echo one" },
    { "id": "token", "title": "Uses the token", "run": "echo \"token=$API_TOKEN\"",
      "capture": { "SEEN": "match(stdout, /token=(.*)/)" } },
    { "id": "fails", "title": "Fails", "run": "exit 1", "on_fail": "continue" },
    { "id": "sign", "title": "Sign-off", "manual": "Sign." }
  ] }
JSON
API_TOKEN=$secret run "$RBC" run --batch --assume done --db "$DB" "$TMP/short.json"
expect_eq "a run with --db runs as without (FAIL: a step fails)" "$RC" 2
d=$(run_dir "$OUT"); id=$(basename "$d")
n=$(($(lines "$d/journal.jsonl") - 1))
expect_match "… and says its events are stored" "$ERR" "history: $((n + 1)) events stored in the database"
expect_eq "rbc made its tables, schema version 3" "$(sql 'SELECT max(version) FROM rbc_schema')" 3
expect_eq "every journal event is a row" "$(sql "SELECT count(*) FROM rbc_events WHERE run = '$id'")" "$n"
expect_eq "… with the journal's seq 1…N" "$(sql "SELECT min(seq) || '-' || max(seq) FROM rbc_events WHERE run = '$id'")" "1-$n"
expect_eq "the run's row: finished, FAIL, its runbook and operator" \
	"$(sql "SELECT state || ' ' || verdict || ' ' || runbooks FROM rbc_runs WHERE run = '$id'")" "finished FAIL short"
dump=$(psql -X -At "$DB" -c "SELECT header::text FROM rbc_runs; SELECT event::text FROM rbc_events" 2>&1)
if printf '%s' "$dump" | grep -qF "$secret"; then fail "the secret is not in the database" "$(printf '%s' "$dump" | grep -F "$secret" | head -2)"
else ok "the secret is not in the database"; fi
expect_match "… masked where it was" "$dump" 'token=••••'
RBC_DATABASE_URL=$DB run "$RBC" history
expect_match "rbc history (RBC_DATABASE_URL) lists the run: runbooks, operator, state, verdict, events" "$OUT" \
	"^$id +short +[0-9T:Z-]+ +[^ ]+ +finished +FAIL +$n\$"
run "$RBC" history --db "$DB" "$id"
expect_eq "rbc history RUN shows its $n events" "$(printf '%s\n' "$OUT" | wc -l)" "$n"
expect_match "… in order, with step, verdict and text" "$(printf '%s\n' "$OUT" | grep ' step_finished ')" 'short/fails +FAIL +exit = 1 != 0'
run "$RBC" history --db "$DB" --json "$id"
expect_eq "rbc history --json RUN: the header, then one JSON event per line" \
	"$(printf '%s\n' "$OUT" | python3 -c 'import json,sys; l=[json.loads(x) for x in sys.stdin]; print(l[0]["ev"], len(l) - 1, [e["seq"] for e in l[1:]] == list(range(1, len(l))))')" \
	"run_header $n True"
run "$RBC" history --db "$DB" no-such-run
expect_eq "an unknown run: exit 69" "$RC" 69
expect_match "… saying so" "$ERR" "no run no-such-run in the database"

# --- the server stopped mid-run and started again -------------------------------------
python3 - "$TMP/long.json" <<'PY'
import json, sys
steps = [{"id": "s%02d" % i, "title": "Step %d" % i, "run": "sleep 0.1; echo %d" % i} for i in range(40)]
json.dump({"runbook": "long", "title": "Long", "steps": steps}, open(sys.argv[1], "w"))
PY
"$RBC" run --batch --db "$DB" "$TMP/long.json" >"$TMP/long.out" 2>"$TMP/long.err" &
pid=$!
j=""
for _ in $(seq 200); do j=$(ls "$RBC_RUNS_DIR"/*-long-*/journal.jsonl 2>/dev/null | head -1); [ -n "$j" ] && [ "$(lines "$j")" -ge 20 ] && break; sleep 0.05; done
down_from=$(date +%s%3N)
pg_stop
stopped=$?
sleep 1.5
down_to=$(date +%s%3N)
pg_start
started=$?
wait "$pid"
rc=$?
expect_eq "the server was stopped and started again mid-run" "$stopped $started" "0 0"
expect_eq "the run went to its end" "$rc" 0
d=$(run_dir "$(cat "$TMP/long.out")"); id=$(basename "$d")
n=$(($(lines "$d/journal.jsonl") - 1))
expect_match "… and every event reached the database after all" "$(cat "$TMP/long.err")" "history: $((n + 1)) events stored"
expect_eq "no event lost in the history: the rows are seq 1…$n" \
	"$(sql "SELECT count(DISTINCT seq) || ' ' || min(seq) || ' ' || max(seq) FROM rbc_events WHERE run = '$id'")" "$n 1 $n"
expect_eq "… and the run's row says finished PASS" "$(sql "SELECT state || ' ' || verdict FROM rbc_runs WHERE run = '$id'")" "finished PASS"
# Steps that ran while the server was down took no longer than the others.
timing=$(python3 - "$d/journal.jsonl" "$down_from" "$down_to" <<'PY'
import json, sys, datetime, statistics
lo, hi = int(sys.argv[2]), int(sys.argv[3])
def ms(t): return datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp() * 1000
inside, outside = [], []
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["ev"] == "step_finished" and "/" in e.get("step", ""):
        end = ms(e["t"]); start = end - e["duration_ms"]
        (inside if start < hi and end > lo else outside).append(e["duration_ms"])
# medians: one step slowed by the machine's other work says nothing of rbc
print(len(inside), statistics.median(inside) if inside else 0, statistics.median(outside),
      "%.2f" % (statistics.median(inside) / statistics.median(outside) if inside else 0))
PY
)
read -r nin medin med ratio <<<"$timing"
echo "# outage: $nin steps ran while the server was down, median $medin ms; the others' median $med ms (ratio $ratio)"
if [ "$nin" -ge 5 ] && python3 -c "import sys; sys.exit(0 if float('$ratio') < 1.5 else 1)"; then
	ok "no step took longer while the database was down ($nin steps, median against the others' $ratio)"
else fail "no step took longer while the database was down" "$timing"; fi

# --- down for the whole run: the run goes on; push stores it later --------------------------
free=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
run "$RBC" run --batch --assume done --db "postgresql://rbc@127.0.0.1:$free/rbc_test" "$TMP/short.json"
expect_eq "with the database unreachable the run still ends as it would (FAIL)" "$RC" 2
d=$(run_dir "$OUT"); id=$(basename "$d")
expect_match "… and says what was not stored and how to store it" "$ERR" \
	"history: [0-9]+ events not stored in the database \(down: .*\); they are in the journal: rbc history push $id"
expect_match "… the database's trouble in libpq's words (connection refused)" "$ERR" \
	'history: [0-9]+ events not stored in the database \(down: [Cc]onnection refused'
run "$RBC" history push --db "$DB" "$id"
expect_eq "rbc history push stores it" "$RC" 0
expect_eq "… every line" "$(sql "SELECT count(*) FROM rbc_events WHERE run = '$id'")" "$(($(lines "$d/journal.jsonl") - 1))"
run "$RBC" history push --db "$DB" "$id"
expect_eq "… and pushing again changes nothing (idempotent)" \
	"$RC $(sql "SELECT count(*) FROM rbc_events WHERE run = '$id'")" "0 $(($(lines "$d/journal.jsonl") - 1))"
expect_match "the header's argv keeps no database password" "$(head -1 "$d/journal.jsonl")" '"--db","postgresql://rbc@127'
run "$RBC" run --batch --assume done --db "postgresql://rbc:hunter2pw@127.0.0.1:$free/rbc_test" "$TMP/short.json"
d=$(run_dir "$OUT")
expect_nomatch "… a password in the URL is masked there" "$(head -1 "$d/journal.jsonl")" 'hunter2pw'

# --- a killed run resumed with --db: the database gets all of it -----------------------------
"$RBC" run --batch --db "$DB" "$TMP/long.json" >/dev/null 2>&1 &
pid=$!
j=""
for _ in $(seq 200); do j=$(ls -t "$RBC_RUNS_DIR"/*-long-*/journal.jsonl 2>/dev/null | head -1); [ "$(lines "$j")" -ge 2 ] && ! grep -q run_finished "$j" && [ "$(lines "$j")" -ge 30 ] && break; sleep 0.05; done
kill -9 "$pid"; wait "$pid" 2>/dev/null
d=$(dirname "$j"); id=$(basename "$d")
# The killed driver's lease is still alive: this resume takes it over.
run "$RBC" resume --batch --unfinished rerun --take-over --db "$DB" "$id"
expect_eq "a killed run resumed with --db ends" "$RC" 0
expect_eq "… and the database holds every line, the resume's too" \
	"$(sql "SELECT count(*) || ' ' || max(seq) FROM rbc_events WHERE run = '$id'")" "$(($(lines "$d/journal.jsonl") - 1)) $(($(lines "$d/journal.jsonl") - 1))"
expect_eq "… its row finished" "$(sql "SELECT state FROM rbc_runs WHERE run = '$id'")" finished

# --- a newer schema is left alone ---------------------------------------------------------------
sql "INSERT INTO rbc_schema (version) VALUES (4)" >/dev/null
run "$RBC" run --batch --assume done --db "$DB" "$TMP/short.json"
expect_eq "with tables of a newer rbc the run still ends as it would" "$RC" 2
expect_match "… and says why nothing was stored" "$ERR" "schema version 4, newer than this rbc's 3"

t_done
