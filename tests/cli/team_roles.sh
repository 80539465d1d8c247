#!/usr/bin/env bash
# The database roles of docs/team.md, their SQL taken from the document
# itself and run against a real PostgreSQL: the read-only role lists and
# exports runs and can change nothing (nor insert a command); the driver
# role runs with --db (history and lease) on tables made by their owner;
# the joining role joins a run (rbc join) and answers its manual step.
. tests/lib.sh
. tests/pg.sh
. tests/tui.sh
trap 'tmx kill-server >/dev/null 2>&1; pg_end; rm -rf "$TMP"' EXIT
export RBC_RUNS_DIR=$TMP/runs

pg_begin team-roles
SUPER="postgresql://postgres@127.0.0.1:$PGPORT/rbc_test"
# doc_sql NAME: the SQL block of docs/team.md under <!-- sql: NAME -->.
doc_sql() { awk -v want="<!-- sql: $1 -->" '$0 == want {f=1; next} f && /^```sql/ {g=1; next} g && /^```/ {exit} g' "$ROOT/docs/team.md"; }

cat >"$TMP/short.json" <<'JSON'
{ "runbook": "short", "title": "Short", "steps": [
    { "id": "one", "title": "One", "run": "echo one" },
    { "id": "sign", "title": "Sign-off", "manual": "Sign." } ] }
JSON
run "$RBC" run --batch --assume done --db "$DB" "$TMP/short.json"
expect_eq "a run as the owner makes the tables" "$RC" 0
id=$(basename "$(printf '%s\n' "$OUT" | sed -n 's/^run: [^ ]* (\(.*\))$/\1/p')")

# --- the read-only role -------------------------------------------------------------------
reader=$(doc_sql "read-only role")
expect_match "docs/team.md holds the read-only role's SQL" "$reader" '^GRANT SELECT ON rbc_runs, rbc_events, rbc_leases TO rbc_reader;$'
run psql -X -q -v ON_ERROR_STOP=1 "$SUPER" -c "$reader"
expect_eq "… and it runs as written" "$RC $ERR" "0 "
CAROL="postgresql://carol@127.0.0.1:$PGPORT/rbc_test"
RBC_RUNS_DIR=$TMP/elsewhere run "$RBC" export "$id" --db "$CAROL" --format json
expect_eq "as that role, rbc export --db succeeds" "$RC" 0
expect_eq "… the run's record" "$(printf '%s\n' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["run"], d["verdict"], d["from_database"]["complete"])')" "$id PASS True"
RBC_RUNS_DIR=$TMP/elsewhere run "$RBC" export "$id" --db "$CAROL" --format md
expect_eq "… in every format (md)" "$RC" 0
run "$RBC" history --db "$CAROL"
expect_match "… rbc history lists the runs" "$OUT" "^$id +short "
run psql -X -q "$CAROL" -c "INSERT INTO rbc_events (run, seq, ev, event) VALUES ('$id', 999, 'note', '{}')"
expect_match "an INSERT as that role is refused" "$RC $ERR" '^[1-9][0-9]* .*permission denied for table rbc_events'
run psql -X -q "$CAROL" -c "UPDATE rbc_runs SET verdict = 'PASS'"
expect_match "… so is an UPDATE" "$ERR" 'permission denied for table rbc_runs'
run psql -X -q "$CAROL" -c "DELETE FROM rbc_leases"
expect_match "… and a DELETE of a lease" "$ERR" 'permission denied for table rbc_leases'
run "$RBC" run --batch --assume done --db "$CAROL" "$TMP/short.json"
expect_match "a run as that role stores nothing (and says so)" "$ERR" 'history: [0-9]+ events not stored in the database'

# --- the driver role ----------------------------------------------------------------------
driver=$(doc_sql "driver role")
expect_match "docs/team.md holds the driver role's SQL" "$driver" '^CREATE ROLE rbc_driver NOLOGIN;$'
run psql -X -q -v ON_ERROR_STOP=1 "$SUPER" -c "$driver"
expect_eq "… and it runs as written" "$RC $ERR" "0 "
ALICE="postgresql://alice@127.0.0.1:$PGPORT/rbc_test"
run "$RBC" run --batch --assume done --operator alice --db "$ALICE" "$TMP/short.json"
expect_match "as that role, a run with --db stores every event" "$ERR" 'history: [0-9]+ events stored in the database'
id2=$(basename "$(printf '%s\n' "$OUT" | sed -n 's/^run: [^ ]* (\(.*\))$/\1/p')")
expect_eq "… its row finished" "$(psql -X -At "$DB" -c "SELECT state FROM rbc_runs WHERE run = '$id2'")" finished

# --- the joining role ---------------------------------------------------------------------
run psql -X -q "$CAROL" -c "INSERT INTO rbc_commands (run, operator, host, kind, step) VALUES ('$id2', 'carol', 'h', 'done', 'sign')"
expect_match "the read-only role cannot insert a command" "$ERR" 'permission denied for table rbc_commands'
joiner=$(doc_sql "joining role")
expect_match "docs/team.md holds the joining role's SQL" "$joiner" '^GRANT SELECT, INSERT ON rbc_commands TO rbc_joiner;$'
run psql -X -q -v ON_ERROR_STOP=1 "$SUPER" -c "$joiner"
expect_eq "… and it runs as written" "$RC $ERR" "0 "
BOB="postgresql://bob@127.0.0.1:$PGPORT/rbc_test"
( RBC_RUNS_DIR=$TMP/batch "$RBC" run --batch --wait-for-joiners --operator alice --db "$ALICE" "$TMP/short.json" \
	>"$TMP/batch.out" 2>&1; echo "rc=$?" >>"$TMP/batch.out" ) &
bpid=$!
for i in $(seq 200); do grep -qs '"for":"operator"' "$TMP"/batch/*/journal.jsonl && break; sleep 0.05; done
id3=$(ls "$TMP/batch")
for i in $(seq 200); do [ "$(psql -X -At "$DB" -c "SELECT count(*) FROM rbc_events WHERE run = '$id3' AND ev = 'waiting'")" = 1 ] && break; sleep 0.05; done
tui_start 120 30 join "$id3" --db "$BOB" --operator bob
expect_screen "as the joining role, rbc join opens the run" "JOINED as bob · driven by alice@"
expect_screen "… the manual step waits" "◆ 2 Sign-off"
keys Down
keys Down
keys Space
wait "$bpid"
expect_match "… and bob's answer reaches the driver, who applies it" "$(cat "$TMP/batch.out")" "COMMAND   bob@[^ ]+ answered 2: done"
expect_match "… the run ends" "$(cat "$TMP/batch.out")" "rc=0"
expect_eq "… the row's state is set by the driver role" \
	"$(psql -X -At "$DB" -c "SELECT operator || ' ' || state FROM rbc_commands WHERE run = '$id3'")" "bob applied"
t_done
