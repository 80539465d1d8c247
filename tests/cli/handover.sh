#!/usr/bin/env bash
# Handover (docs/team.md): another machine — another RBC_RUNS_DIR here —
# takes a run over through PostgreSQL with rbc resume RUN --db URL. The
# lease decides (exit 75 while another's is alive, unless --take-over); the
# run's directory is rebuilt from rbc_events; the database's seqs go on
# contiguous; a driver taken over stops, its console follows, a batch
# driver exits 76, and what it did after never reaches the database. A
# step cut short is decided — run again, mark done, skip — never silently
# (Esc on the question decides nothing). A takeover while the database is
# down says so in one line (69) and leaves nothing behind.
. tests/lib.sh
. tests/pg.sh
. tests/tui.sh
DN=0
DSOCK=$TMP/driver.0.sock
trap 'drv kill-server >/dev/null 2>&1; tmx kill-server >/dev/null 2>&1; pg_end; rm -rf "$TMP"' EXIT
export RBC_LEASE_INTERVAL_MS=200
pg_begin handover
HOST=$(hostname)
# poll SQL WANT: polls (10 s at most) until SQL gives WANT; echoes what it gave last.
poll() { local i got; for i in $(seq 200); do got=$(sql "$1"); [ "$got" = "$2" ] && break; sleep 0.05; done; printf '%s' "$got"; }
# driver ARGS...: rbc ARGS in the driver's console (machine A's runs directory).
driver() {
	drv kill-server >/dev/null 2>&1
	DN=$((DN + 1))
	DSOCK=$TMP/driver.$DN.sock # a server of its own (as tests/tui.sh does)
	local cmd="env TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 RBC_LEASE_INTERVAL_MS=200 GO='$TMP/go' RBC_RUNS_DIR='$TMP/A'"
	local a
	for a in "$RBC" "$@"; do cmd="$cmd '$a'"; done
	drv new-session -d -x 140 -y 30 -s d "$cmd; echo \"[exit \$?]\"; sleep 600"
	drv set-option -t d status off >/dev/null
}
cat >"$TMP/ho.json" <<'JSON'
{ "runbook": "ho", "title": "Handover", "steps": [
    { "id": "one", "title": "First", "run": "echo one" },
    { "id": "two", "title": "Waits for go", "run": "while [ ! -e \"$GO\" ] && kill -0 $PPID 2>/dev/null; do sleep 0.05; done; echo two" },
    { "id": "three", "title": "Third", "run": "echo three" } ] }
JSON
# the run started last, as the database has it
# newer_than RUN: the run alice's driver holds a lease on, once it is another than RUN (10 s at most)
newer_than() {
	local i n
	for i in $(seq 200); do
		n=$(sql "SELECT run FROM rbc_leases WHERE holder = 'alice@$HOST' ORDER BY beat DESC LIMIT 1")
		[ -n "$n" ] && [ "$n" != "$1" ] && break
		sleep 0.05
	done
	printf '%s' "$n"
}
# the seqs of RUN in the database: "count distinct max" (contiguous: all three equal)
seqs() { sql "SELECT count(*) || ' ' || count(DISTINCT seq) || ' ' || max(seq) FROM rbc_events WHERE run = '$1'"; }

# --- a console driver killed at step 2; another machine takes the run ----------------------
driver run --operator alice --db "$DB" "$TMP/ho.json"
dwait "operator alice" || fail "the driver's console is up" "$(dscreen)"
drv send-keys -t d n
drv send-keys -t d -l "a note"
drv send-keys -t d Enter
dwait "note added" || fail "the driver adds a note" "$(dscreen)"
drv send-keys -t d a
dwait "● 2 Waits for go" && ok "the driver is at step 2" || fail "the driver is at step 2" "$(dscreen)"
ID=$(ls "$TMP/A")
pid=$(poll "SELECT count(*) FROM rbc_events WHERE run = '$ID' AND ev = 'step_started' AND step = 'ho/two'" 1 >/dev/null; sql "SELECT pid FROM rbc_leases WHERE run = '$ID'")
kill -9 "$pid"
dwait "[exit 137]" || fail "the driver is killed" "$(dscreen)"
export RBC_RUNS_DIR=$TMP/B GO=$TMP/go
run timeout 30 "$RBC" resume --batch --operator bob --db "$DB" "$ID"
expect_eq "rbc resume --db on another machine while the lease is alive: refused, exit 75" "$RC" 75
expect_match "… naming the holder, its pid, its last beat and when it expires" "$ERR" \
	"run $ID is driven by alice@$HOST, pid $pid: its lease is alive \(last beat [0-9T:.Z-]+, [0-9.]+ s ago; it expires at [0-9T:.Z-]+ unless renewed\)"
expect_match "… and saying what --take-over does" "$ERR" "take the run over with --take-over"
[ ! -e "$TMP/B/$ID" ] && ok "… nothing of the run is left on that machine" || fail "… nothing of the run is left on that machine" "$(ls "$TMP/B")"
expect_eq "the lease expires (3 beats of 200 ms)" "$(poll "SELECT expires < now() FROM rbc_leases WHERE run = '$ID'" t)" t
run timeout 30 "$RBC" resume --batch --operator bob --db "$DB" "$ID"
expect_eq "expired: taken, but batch mode refuses an unfinished step without --unfinished (64)" "$RC" 64
expect_match "… naming the step" "$ERR" "started, their end not recorded: ho/two \(Waits for go\) — decide with --unfinished rerun\|done\|skip"
expect_match "… the run rebuilt from the database first" "$ERR" "$ID rebuilt from the database: [0-9]+ events, up to seq [0-9]+"
expect_match "… the lease taken from alice" "$ERR" "the lease is taken from alice@$HOST, pid $pid \(lease expired"
expect_eq "… and let go again (nothing drove)" "$(sql "SELECT count(*) FROM rbc_leases WHERE run = '$ID'")" 0
rm -rf "${TMP:?}/B"
before=$(sql "SELECT max(seq) FROM rbc_events WHERE run = '$ID'")
touch "$TMP/go"
run timeout 30 "$RBC" resume --batch --operator bob --unfinished rerun --db "$DB" "$ID"
expect_eq "rebuilt again and resumed with --unfinished rerun: the run goes on to its end" "$RC" 0
expect_match "… step 2 runs again" "$OUT" '^PASS +two +Waits for go'
S3=$(seqs "$ID")
last=$(sql "SELECT max(seq) FROM rbc_events WHERE run = '$ID'")
expect_eq "the database's seqs: contiguous, no duplicate" "$S3" "$last $last $last"
expect_eq "… the local journal goes on at the same seqs" "$(($(wc -l <"$TMP/B/$ID/journal.jsonl") - 1))" "$last"
expect_eq "… the first new row is the resume's, at the next seq" \
	"$(sql "SELECT ev FROM rbc_events WHERE run = '$ID' AND seq = $((before + 1))")" run_resumed
expect_eq "… the decision journaled with who decided" \
	"$(sql "SELECT event->>'by' FROM rbc_events WHERE run = '$ID' AND ev = 'note' AND event->>'text' LIKE 'unfinished at the resume%'")" bob
expect_eq "the journals are equal (as JSON) up to the takeover" "$(python3 - "$TMP/A/$ID/journal.jsonl" "$TMP/B/$ID/journal.jsonl" <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
b = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
print(a == b[:len(a)], len(a) > 5)
PY
)" "True True"
expect_rc "… the rebuilt journal checks (rbc export)" 0 "$RBC" export "$ID" --format json -o "$TMP/b.json"

# --- a gap in the database: refused with the seqs, unless --force -----------------------------
rm -f "$TMP/go"
driver run --operator alice --db "$DB" "$TMP/ho.json"
dwait "operator alice" && drv send-keys -t d a
dwait "● 2 Waits for go" || fail "a second driver is at step 2" "$(dscreen)"
ID2=$(newer_than "$ID")
poll "SELECT count(*) FROM rbc_events WHERE run = '$ID2' AND ev = 'step_started' AND step = 'ho/two'" 1 >/dev/null
kill -9 "$(sql "SELECT pid FROM rbc_leases WHERE run = '$ID2'")"
dwait "[exit 137]"
sql "DELETE FROM rbc_events WHERE run = '$ID2' AND seq IN (3, 4)" >/dev/null
run timeout 30 "$RBC" resume --batch --operator bob --take-over --unfinished rerun --db "$DB" "$ID2"
expect_eq "missing seqs: refused (65)" "$RC" 65
expect_match "… naming them" "$ERR" "incomplete: 2 events are missing \(seq 3-4\)"
expect_match "… and what --force loses" "$ERR" "--force resumes it anyway: each missing event is lost"
touch "$TMP/go"
run timeout 30 "$RBC" resume --batch --operator bob --take-over --force --unfinished rerun --db "$DB" "$ID2"
expect_eq "--force: resumed, the gap said" "$RC $(printf '%s' "$ERR" | grep -c 'missing from the database (seq 3-4): lost')" "0 1"

# --- --take-over while the old console still drives: it stops and follows --------------------
rm -f "$TMP/go"
driver run --operator alice --db "$DB" "$TMP/ho.json"
dwait "operator alice" && drv send-keys -t d a
dwait "● 2 Waits for go" || fail "a third driver is at step 2" "$(dscreen)"
ID3=$(newer_than "$ID2")
poll "SELECT count(*) FROM rbc_events WHERE run = '$ID3' AND ev = 'step_started' AND step = 'ho/two'" 1 >/dev/null
oldpid=$(sql "SELECT pid FROM rbc_leases WHERE run = '$ID3'")
TUI_ENV="RBC_RUNS_DIR=$TMP/C GO=$TMP/go RBC_LEASE_INTERVAL_MS=200" tui_start 140 30 resume --operator bob --take-over --db "$DB" "$ID3"
expect_screen "the new driver's console asks about the unfinished step" "Unfinished: 2 Waits for go started"
dwait "taken over by bob@$HOST: following now" && ok "the old console says it was taken over, and follows" \
	|| fail "the old console says it was taken over, and follows" "$(dscreen)"
dwait "read-only" && ok "… as a read-only follower" || fail "… as a read-only follower" "$(dscreen)"
old_lines=$(wc -l <"$TMP/A/$ID3/journal.jsonl")
keys r
expect_screen "r: the step runs again (the decision said)" "2 Waits for go: runs again by bob"
keys a
touch "$TMP/go"
expect_screen "the new driver finishes" "■ finished"
dwait "✔ 3 Third" && ok "the old console, following, shows the new driver's later verdicts" \
	|| fail "the old console, following, shows the new driver's later verdicts" "$(dscreen)"
expect_eq "the old driver no longer drives (its process follows now)" "$(ps -o args= -p "$oldpid" | grep -c -- ' run ' || true)" 0
expect_eq "… its journal stopped at the takeover" "$(wc -l <"$TMP/A/$ID3/journal.jsonl")" "$old_lines"
S3=$(seqs "$ID3")
last=$(sql "SELECT max(seq) FROM rbc_events WHERE run = '$ID3'")
expect_eq "the database's seqs: contiguous, no duplicate" "$S3" "$last $last $last"
keys q
tui_exit
drv send-keys -t d q

# --- a batch driver taken over: exit 76, its later events never stored -------------------------
rm -f "$TMP/go"
RBC_RUNS_DIR=$TMP/A "$RBC" run --batch --operator alice --db "$DB" "$TMP/ho.json" >"$TMP/old.out" 2>"$TMP/old.err" &
bpid=$!
ID4=$(newer_than "$ID3")
for _ in $(seq 200); do [ "$(sql "SELECT count(*) FROM rbc_events WHERE run = '$ID4' AND step = 'ho/two'")" = 1 ] && break; sleep 0.05; done
n4=$(sql "SELECT max(seq) FROM rbc_events WHERE run = '$ID4'")
# Another driver's claim, as a takeover makes it (the holder changes).
sql "UPDATE rbc_leases SET holder = 'carol@elsewhere', pid = 1, beat = now(), expires = now() + interval '1 hour' WHERE run = '$ID4'" >/dev/null
touch "$TMP/go"
wait "$bpid"
expect_eq "a batch driver taken over exits 76" "$?" 76
expect_match "… saying so" "$(cat "$TMP/old.err")" "taken over by carol@elsewhere: this driver stops; what it did after is only in its local journal \(exit 76\)"
expect_eq "… none of its events after the takeover reached the database" "$(sql "SELECT max(seq) FROM rbc_events WHERE run = '$ID4'")" "$n4"

# --- the unfinished-step prompt: mark done, skip with a reason; batch done and skip --------------
cut_run() { # a run killed at step 2, locally: its id
	rm -f "$TMP/go"
	local before p id
	before=$(ls "$TMP/A")
	RBC_RUNS_DIR=$TMP/A "$RBC" run --batch --operator alice "$TMP/ho.json" >/dev/null 2>&1 &
	p=$!
	for _ in $(seq 200); do
		id=$(ls "$TMP/A" | grep -vxF "$before" | head -1)
		[ -n "$id" ] && grep -Eq '"ev": ?"step_started", ?"step": ?"ho/two"' "$TMP/A/$id/journal.jsonl" 2>/dev/null && break
		sleep 0.05
	done
	kill -9 "$p"; wait "$p" 2>/dev/null
	printf '%s' "$id"
}
export RBC_RUNS_DIR=$TMP/A
c1=$(cut_run)
TUI_ENV="RBC_RUNS_DIR=$TMP/A" tui_start 140 30 resume --operator bob "$c1"
expect_screen "the console asks about the unfinished step" "r run again · d mark done · s skip"
keys d
expect_screen "d: marked done, by the driver" "2 Waits for go: marked done by bob"
expect_screen "… the tree shows it done" "✔ 2 Waits for go"
keys a
expect_screen "a goes on after it" "■ finished"
keys q
tui_exit
expect_match "… the record says who marked it done" "$(grep '"ho/two"' "$TMP/A/$c1/journal.jsonl" | tail -1)" '"by": ?"bob"'
c2=$(cut_run)
TUI_ENV="RBC_RUNS_DIR=$TMP/A" tui_start 140 30 resume --operator bob "$c2"
expect_screen "the console asks again" "r run again · d mark done · s skip"
keys s
expect_screen "s asks why" "Skip 2 Waits for go, why?"
keys Enter
expect_screen "… a skip needs a reason" "a skip needs a reason"
type_text "done by hand"
keys Enter
expect_screen "… skipped with the reason" "2 Waits for go: skipped by bob"
keys a
expect_screen "… and the run goes on" "■ finished"
keys q
tui_exit
expect_match "… the reason is in the record" "$(grep '"ho/two"' "$TMP/A/$c2/journal.jsonl" | tail -1)" 'done by hand'
# Esc leaves the prompt undecided: nothing runs or is skipped meanwhile (Enter
# and a ask again), q quits with the step still unfinished, and the next
# resume asks about it again.
c5=$(cut_run)
n5=$(wc -l <"$TMP/A/$c5/journal.jsonl")
TUI_ENV="RBC_RUNS_DIR=$TMP/A" tui_start 140 30 resume --operator bob "$c5"
expect_screen "the console asks about the unfinished step" "r run again · d mark done · s skip"
keys Escape
expect_screen "Esc closes the prompt undecided, saying what is left" "unfinished steps wait for a decision: a asks again"
keys Enter
expect_screen "Enter on the unfinished step asks again: it does not run undecided" "Unfinished: 2 Waits for go started"
keys Escape
keys Up
keys Enter
expect_screen "… Enter on another step too: nothing runs before the decision" "Unfinished: 2 Waits for go started"
keys Escape
keys a
expect_screen "… and a" "Unfinished: 2 Waits for go started"
keys Escape
keys q
if tui_exit; then ok "q quits with the step undecided"; else fail "q quits with the step undecided" "" "$SCREEN"; fi
expect_match "… the run not finished" "$SCREEN" "rbc: NOT FINISHED"
after5=$(tail -n +"$((n5 + 1))" "$TMP/A/$c5/journal.jsonl")
expect_nomatch "… nothing ran meanwhile (no step started after the resume)" "$after5" '"ev": ?"step_started"'
expect_nomatch "… nothing was settled or decided" "$after5" '"step_finished"|unfinished at the resume|at the resume \(started'
TUI_ENV="RBC_RUNS_DIR=$TMP/A" tui_start 140 30 resume --operator bob "$c5"
expect_screen "the next resume asks about the same step" "Unfinished: 2 Waits for go started"
keys d
expect_screen "… where it is decided" "2 Waits for go: marked done by bob"
keys q
tui_exit
c3=$(cut_run)
run timeout 30 "$RBC" resume --batch --operator bob --unfinished done "$c3"
expect_match "batch --unfinished done: marked done" "$OUT" '^SETTLED +two .*marked done'
expect_nomatch "… not run again" "$OUT" '^PASS +two .*exit'
c4=$(cut_run)
run timeout 30 "$RBC" resume --batch --operator bob --unfinished skip "$c4"
expect_match "batch --unfinished skip: skipped" "$OUT" '^SKIPPED +two .*skipped by bob at the resume'
run timeout 30 "$RBC" resume --batch --unfinished later "$c4"
expect_eq "--unfinished takes rerun, done or skip" "$RC $(printf '%s' "$ERR" | grep -c "not 'later'")" "64 1"

# --- the database down during a takeover: one line, exit 69, nothing left here -----------------
rm -f "$TMP/go"
RBC_RUNS_DIR=$TMP/A "$RBC" run --batch --operator alice --db "$DB" "$TMP/ho.json" >/dev/null 2>&1 &
bpid=$!
ID6=$(newer_than "$ID4")
poll "SELECT count(*) FROM rbc_events WHERE run = '$ID6' AND ev = 'step_started' AND step = 'ho/two'" 1 >/dev/null
kill -9 "$bpid"; wait "$bpid" 2>/dev/null
pg_stop
run timeout 30 env RBC_RUNS_DIR="$TMP/E" "$RBC" resume --batch --operator bob --take-over --unfinished rerun --db "$DB" "$ID6"
expect_eq "a takeover while the database is down: exit 69" "$RC" 69
expect_eq "… said in one line" "$(printf '%s\n' "$ERR" | grep -c .)" 1
expect_match "… naming the run, what it means and the database's why" "$ERR" \
	"^rbc: resume: $ID6 is not on this machine and cannot be taken over now \\(nothing was written here\\): the database: .*refused"

[ ! -e "$TMP/E/$ID6" ] && ok "… nothing of the run is written on this machine" || fail "… nothing of the run is written on this machine" "$(ls -laR "$TMP/E")"
run timeout 30 env RBC_RUNS_DIR="$TMP/E" "$RBC" resume --batch --operator bob --db "$DB" "$ID6"
expect_eq "… tried again while it is still down: the same (not a half-made run found here)" "$RC $(printf '%s\n' "$ERR" | grep -c .)" "69 1"
pg_start || fail "PostgreSQL starts again" "$(tail -5 "$TMP/pg_ctl.log")"
touch "$TMP/go"
run timeout 30 env RBC_RUNS_DIR="$TMP/E" "$RBC" resume --batch --operator bob --take-over --unfinished rerun --db "$DB" "$ID6"
expect_eq "the database back: the same takeover drives the run to its end" "$RC" 0
expect_match "… rebuilt from the database" "$ERR" "$ID6 rebuilt from the database"
expect_match "… step 2 run again" "$OUT" "^PASS +two +Waits for go"
[ -z "$(sql "SELECT run FROM rbc_leases WHERE run = '$ID6'")" ] && ok "… and its lease let go at the end" || fail "… and its lease let go at the end" "$(sql "SELECT * FROM rbc_leases WHERE run = '$ID6'")"

# The run rebuilt, and the lease not claimed (a role that may only read):
# the rebuilt directory goes too.
SUPER="postgresql://postgres@127.0.0.1:$PGPORT/rbc_test"
psql -X -q -v ON_ERROR_STOP=1 "$SUPER" -c "CREATE ROLE dave LOGIN; GRANT USAGE ON SCHEMA public TO dave;
	GRANT SELECT ON rbc_runs, rbc_events, rbc_leases TO dave;" >/dev/null 2>&1
run timeout 30 env RBC_RUNS_DIR="$TMP/F" "$RBC" resume --batch --operator bob --take-over --unfinished rerun \
	--db "postgresql://dave@127.0.0.1:$PGPORT/rbc_test" "$ID6"
expect_eq "rebuilt, then the lease refused: exit 69" "$RC" 69
expect_match "… saying why" "$ERR" "rbc: resume: the database: .*permission denied"
[ ! -e "$TMP/F/$ID6" ] && ok "… and the rebuilt directory is removed" || fail "… and the rebuilt directory is removed" "$(ls -laR "$TMP/F")"

# --- hostile text from the database, sanitized on the new driver's screen ------------------------
rm -rf "${TMP:?}/A/$ID"
sql "UPDATE rbc_events SET event = jsonb_set(event, '{text}', to_jsonb(E'an \\x1b[2J\\x1b[31mevil\\x07 verdict'::text)) WHERE run = '$ID' AND ev = 'step_finished' AND step = 'ho/one'" >/dev/null
sql "DELETE FROM rbc_events WHERE run = '$ID' AND seq > $before" >/dev/null
sql "DELETE FROM rbc_leases WHERE run = '$ID'" >/dev/null
sql "INSERT INTO rbc_leases VALUES ('$ID', E'mallory\\x1b[2J@evil', 4242, now(), now() + interval '1 hour')" >/dev/null
run timeout 30 "$RBC" resume --batch --db "$DB" "$ID"
expect_eq "a hostile holder: refused (75)" "$RC" 75
expect_nomatch "… its escape never raw on stderr" "$ERR" $'\x1b'
expect_match "… shown cleaned" "$ERR" 'mallory\?\[2J@evil'
TUI_ENV="RBC_RUNS_DIR=$TMP/D GO=$TMP/go" tui_start 140 30 resume --take-over --db "$DB" "$ID"
expect_screen "the new driver's console opens the run rebuilt from the database" "Unfinished: 2 Waits for go"
keys Escape
keys Up
expect_screen "step 1's explanation from the database is shown, its control characters as U+FFFD, never raw" \
	"an �[2J�[31mevil� verdict"
keys q
t_done
