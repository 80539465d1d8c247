#!/usr/bin/env bash
# rbc follow --db: a driver `rbc run --db URL` and a follower on another
# runs directory (standing for another machine) reading PostgreSQL: the
# history's insert notifies rbc_events; the follower sees each verdict; the
# server restarted under it, it says so in its header, catches up, and
# every step is shown once, in order (no gap, no duplicate).
. tests/lib.sh
. tests/pg.sh
. tests/tui.sh
trap 'drv kill-server >/dev/null 2>&1; tmx kill-server >/dev/null 2>&1; pg_end; rm -rf "$TMP"' EXIT
pg_begin follow

# --- the history's insert notifies ----------------------------------------------
cat >"$TMP/one.json" <<'JSON'
{ "runbook": "one", "title": "One", "steps": [ { "id": "a", "title": "A", "run": "true" } ] }
JSON
( echo "LISTEN rbc_events;"; while [ ! -e "$TMP/pre.done" ]; do sleep 0.05; done; echo "SELECT 1;" ) |
	psql -X -q -At "$DB" >"$TMP/notes" 2>&1 &
lpid=$!
for i in $(seq 200); do
	[ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN rbc_events%'")" = 1 ] && break
	sleep 0.05
done
RBC_RUNS_DIR=$TMP/pre "$RBC" run --batch --db "$DB" "$TMP/one.json" >"$TMP/pre.out" 2>&1
touch "$TMP/pre.done"
wait "$lpid"
pre=$(ls "$TMP/pre")
last=$(($(wc -l <"$TMP/pre/$pre/journal.jsonl") - 1))
expect_eq "the run is stored" "$(sql "SELECT max(seq) FROM rbc_events WHERE run = '$pre'")" "$last"
expect_match "the history's insert notifies rbc_events: the run and its highest seq" "$(cat "$TMP/notes")" \
	"notification \"rbc_events\" with payload \"$pre $last\""

# --- a driver with --db and a follower elsewhere ---------------------------------
export RBC_RUNS_DIR=$TMP/far
F=$ROOT/tests/fixtures/follow/slow.json
drv new-session -d -x 120 -y 30 -s d \
	"env TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 RBC_RUNS_DIR='$TMP/near' '$RBC' run --operator bob --db '$DB' '$F'; sleep 600"
drv set-option -t d status off >/dev/null
dwait "operator bob" && ok "the driver's console is up" || fail "the driver's console is up" "" "$(dscreen)"
ID=$(ls "$TMP/near")
for i in $(seq 200); do [ "$(sql "SELECT count(*) FROM rbc_runs WHERE run = '$ID'")" = 1 ] && break; sleep 0.05; done
tui_start 120 30 follow "$ID" --db "$DB"
expect_screen "the follower (another runs directory) shows FOLLOWING and the driver" "FOLLOWING bob@$(hostname)"
expect_screen "… the steps" "○ 1 First sleep"
drv send-keys -t d a
expect_screen "the first verdict arrives through PostgreSQL" "✔ 1 First sleep"
expect_screen "the manual step waits" "◆ 4 Operator confirms"
pg_stop
expect_screen "the server gone: the header says so" "db lost, retrying"
drv send-keys -t d Space
dwait "■ finished" || fail "the driver finishes while the server is down" "" "$(dscreen)"
pg_start || fail "PostgreSQL starts again" "$(tail -5 "$TMP/pg_ctl.log")"
expect_screen "after the restart the follower catches up to the end" "■ finished FAIL"
expect_screen "… every step's verdict" "✔ 4 Operator confirms"
expect_screen "… the last step" "✔ 5 Last step"
absent=$(printf '%s\n' "$SCREEN" | grep -c 'db lost' || true)
expect_eq "… and the mark is gone" 0 "$absent"
for s in "First sleep" "Second sleep" "Failing check" "Operator confirms" "Last step"; do
	expect_eq "$s is shown once" 1 "$(printf '%s\n' "$SCREEN" | grep -c "[0-9] $s")"
done
keys Space
expect_screen "an acting key is refused" "following: read-only"
keys e
expect_screen "e (export) needs the run directory, which a database follower has not" \
	"rbc export needs the run directory"
keys q
expect_screen "q quits" "[exit 0]"
[ ! -e "$TMP/far/$ID" ] && ok "the follower made no run directory" || fail "the follower made no run directory" ""
drv send-keys -t d q

# --- a host name: resolved with uv_getaddrinfo, off the loop thread ------------
tui_start 120 30 follow "$ID" --db "postgresql://rbc@localhost:$PGPORT/rbc_test"
expect_screen "by host name, the finished run opens complete" "✔ 5 Last step"
keys q
wait_for "[exit"

# --- a header in the database not as rbc writes it --------------------------------
sql "INSERT INTO rbc_runs (run, header) VALUES ('20261206T000000Z-bad-0001',
	'{\"seq\": 0, \"ev\": \"run_header\", \"run\": \"20261206T000000Z-bad-0001\", \"runbooks\": [{\"file\": \"/etc/passwd\"}]}')" >/dev/null
tui_start 120 30 follow 20261206T000000Z-bad-0001 --db "$DB"
expect_screen "a header the journal's checker refuses is not used (65)" "the run's header in the database:"
expect_match "… exit 65" "$SCREEN" '\[exit 65\]'
tui_start 120 30 follow 20261206T000000Z-none-0001 --db "$DB"
expect_screen "a run not in the database (66)" "is not in the database"
expect_match "… exit 66" "$SCREEN" '\[exit 66\]'
t_done
