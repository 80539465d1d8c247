#!/usr/bin/env bash
# rbc join: a driver's console and a joiner's console on two runs
# directories (two machines) meeting in PostgreSQL. The joiner marks a
# manual step done, answers an ask (an answer out of range refused, why on
# its screen), approves an approval step, adds a note; the driver's screen
# names who acted and its journal has the command events with who and
# from which host. Rows forged straight into rbc_commands (an unknown step,
# escapes, an answer out of range, a huge value, an approval in the
# driver's own name) are refused and journaled, the driver's screen free of
# raw escapes. A batch driver with --wait-for-joiners takes an answer, and
# so does a batch resume taking the run over with --wait-for-joiners.
. tests/lib.sh
. tests/pg.sh
. tests/tui.sh
trap 'tmux -S "$TMP/driver.sock" kill-server >/dev/null 2>&1; drv kill-server >/dev/null 2>&1; tmx kill-server >/dev/null 2>&1; pg_end; rm -rf "$TMP"' EXIT
pg_begin join
# forge RUN 'operator','host','kind','step','value','note': a row as psql makes it.
forge() { sql "WITH c AS (INSERT INTO rbc_commands (run, operator, host, kind, step, value, note)
	VALUES ('$1', $2) RETURNING run) SELECT pg_notify('rbc_commands', run) FROM c" >/dev/null; }
F=$ROOT/tests/fixtures/join/steps.json
H=$(hostname)

# --- usage ---------------------------------------------------------------------
run "$RBC" join --db "$DB" 20261206T000000Z-x-0001
expect_eq "--operator is required (64)" "$RC" 64
expect_match "… and says why" "$ERR" "--operator NAME is required"
run "$RBC" join --help
expect_match "rbc join --help says what only the driver does" "$OUT" "Only the driver"

# --- the driver's console and the joiner's -----------------------------------------
drv new-session -d -x 120 -y 30 -s d \
	"env TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 RBC_RUNS_DIR='$TMP/near' '$RBC' run --operator alice --db '$DB' '$F'; sleep 600"
drv set-option -t d status off >/dev/null
dwait "operator alice" && ok "the driver's console is up" || fail "the driver's console is up" "" "$(dscreen)"
ID=$(ls "$TMP/near")
for i in $(seq 200); do [ "$(sql "SELECT count(*) FROM rbc_runs WHERE run = '$ID'")" = 1 ] && break; sleep 0.05; done
tui_start 120 30 join "$ID" --db "$DB" --operator bob
expect_screen "the joiner's header: JOINED as bob, driven by alice" "JOINED as bob · driven by alice@$H"
expect_screen "… its key hints say what a joiner does" "joined  Space done  Enter answer  n note"
drv send-keys -t d a
expect_screen "the manual step waits on the joiner's screen" "◆ 1 Check the dashboard"
keys Down
keys Enter
expect_screen "Enter on a manual step: only the driver runs steps" "joined: only the driver runs steps"
keys Space
dwait "bob@$H answered 1: done" && ok "the driver's status row names who acted" ||
	fail "the driver's status row names who acted" "" "$(dscreen)"
dwait "✔ 1 Check the dashboard" && ok "… and the step is done on the driver's screen" ||
	fail "… and the step is done on the driver's screen" "" "$(dscreen)"
expect_screen "the joiner sees the step done through the record" "✔ 1 Check the dashboard"
expect_screen "the ask waits on the joiner's screen" "◆ 2 Pick a size"
keys Down
keys Enter
type_text 9
keys Enter
expect_screen "an answer out of range is refused: the why on the joiner's screen" "refused: 9 is more than the maximum 5"
keys Enter
type_text 3
keys Enter
dwait "bob@$H answered 2: 3" && ok "the ask answered by the joiner" || fail "the ask answered by the joiner" "" "$(dscreen)"
expect_screen "the approval waits on the joiner's screen" "◆ 3 Approve the switch"
forge "$ID" "'alice','$H','done','ok',NULL,NULL"
for i in $(seq 200); do grep -q "other than the run's driver" "$TMP/near/$ID/journal.jsonl" && break; sleep 0.05; done
expect_match "an approval in the driver's own name is refused and journaled" "$(grep '"ev":"command"' "$TMP/near/$ID/journal.jsonl")" \
	"an approval must come from an operator other than the run's driver"
keys Down
keys Space
dwait "bob@$H approved 3: done" && ok "the joiner approves" || fail "the joiner approves" "" "$(dscreen)"
dwait "■ finished PASS" && ok "the run goes on to its end" || fail "the run goes on to its end" "" "$(dscreen)"
keys n
type_text "error rate back to normal"
keys Enter
dwait "bob@$H added a note" && ok "the joiner's note reaches the driver" || fail "the joiner's note reaches the driver" "" "$(dscreen)"
keys a
expect_screen "a key that runs is refused on the joiner's console" "joined: only the driver runs steps"
J=$TMP/near/$ID/journal.jsonl
expect_eq "the journal has the command events, applied and refused" \
	"$(grep -c '"ev":"command"' "$J")" 6
expect_match "… with who and from which host" "$(grep '"command"' "$J" | head -1)" "\"host\":\"$H\".*\"by\":\"bob\""
expect_eq "rbc_commands says what became of each" \
	"$(sql "SELECT string_agg(state, ',' ORDER BY id) FROM rbc_commands WHERE run = '$ID'")" \
	"applied,refused,applied,refused,applied,applied"

"$RBC" export "$TMP/near/$ID" --format json >"$TMP/join.export.json" 2>"$TMP/export.err"
expect_eq "the JSON export takes the command events" "$?" 0
if python3 - "$ROOT/docs/export.schema.json" "$TMP/join.export.json" >"$TMP/v.out" 2>&1 <<'PY'
import json, sys, jsonschema
errs = list(jsonschema.Draft202012Validator(json.load(open(sys.argv[1]))).iter_errors(json.load(open(sys.argv[2]))))
for e in errs[:5]: print(e.message)
sys.exit(1 if errs else 0)
PY
then ok "… and it validates against docs/export.schema.json"; else fail "… and it validates against docs/export.schema.json" "$(cat "$TMP/v.out")"; fi
expect_eq "… each command with who, host and result" \
	"$(python3 -c 'import json,sys; print(",".join(t["by"]+"@"+t["host"]+":"+t["result"] for t in json.load(open(sys.argv[1]))["timeline"] if t["ev"]=="command"))' "$TMP/join.export.json")" \
	"bob@$H:applied,bob@$H:refused,bob@$H:applied,alice@$H:refused,bob@$H:applied,bob@$H:applied"
expect_match "the JUnit export names each command as a property" "$("$RBC" export "$TMP/near/$ID" --format junit)" \
	"<property name=\"command [0-9]+\" value=\"bob@$H answered 1: done\"/>"
"$RBC" export "$TMP/near/$ID" --format junit -o "$TMP/join.xml"
run xmllint --noout --schema "$ROOT/tests/junit.xsd" "$TMP/join.xml"
expect_eq "… and it validates against tests/junit.xsd (xmllint)" "$RC" 0
expect_match "the Markdown timeline shows who acted" "$("$RBC" export "$TMP/near/$ID" --format md)" "\| command \|  \| bob@$H answered 1: done \(by bob\)"

# The journal's checker judges a command event's fields.
for bad in 's/"result":"applied"/"result":"maybe"/' 's/"action":"done","on":"check"/"action":"reboot","on":"check"/' \
	's/"result":"refused","why":"[^"]*"/"result":"refused"/'; do
	rm -rf "$TMP/tamper" && mkdir -p "$TMP/tamper" && cp -r "$TMP/near/$ID" "$TMP/tamper/"
	sed -i "0,/\"ev\":\"command\"/{/\"ev\":\"command\"/$bad}" "$TMP/tamper/$ID/journal.jsonl"
	sed -i "$bad" "$TMP/tamper/$ID/journal.jsonl"
	run "$RBC" export "$TMP/tamper/$ID" --format json
	expect_match "a command event not as rbc writes it is refused ($bad)" "$RC $ERR" "^65 .*command"
done

# --- three consoles: the driver, a follower and a joiner ------------------------------
F3=$TMP/three.json
cat >"$F3" <<'JSON'
{ "runbook": "three", "title": "Three consoles", "steps": [
    { "id": "look", "title": "Look at the graphs", "manual": "Look." },
    { "id": "last", "title": "Last", "run": "true" } ] }
JSON
DSOCK=$TMP/driver3.sock
drv new-session -d -x 120 -y 30 -s d \
	"env TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 RBC_RUNS_DIR='$TMP/three' '$RBC' run --operator alice --db '$DB' '$F3'; sleep 600"
drv set-option -t d status off >/dev/null
dwait "operator alice" || fail "the third driver is up" "" "$(dscreen)"
ID4=$(ls "$TMP/three")
for i in $(seq 200); do [ "$(sql "SELECT count(*) FROM rbc_runs WHERE run = '$ID4'")" = 1 ] && break; sleep 0.05; done
FSOCK=$TMP/follower.sock
fol() { tmux -S "$FSOCK" -f /dev/null "$@"; }
fol new-session -d -x 120 -y 30 -s f \
	"env TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 RBC_RUNS_DIR='$TMP/fol' '$RBC' follow --db '$DB' '$ID4'; sleep 600"
tui_start 120 30 join "$ID4" --db "$DB" --operator bob
expect_screen "the joiner is up" "JOINED as bob"
drv send-keys -t d a
expect_screen "the step waits on the joiner's screen" "◆ 1 Look at the graphs"
keys Down
keys Space
expect_screen "the joiner's status row names who acted, as the record came back" "bob@$H answered 1: done"
dwait "■ finished PASS" && ok "three consoles: the driver applies the joiner's answer" ||
	fail "three consoles: the driver applies the joiner's answer" "" "$(dscreen)"
expect_screen "… the joiner sees it" "✔ 1 Look at the graphs"
for i in $(seq 200); do fol capture-pane -p -t f | grep -q "✔ 1 Look at the graphs" && break; sleep 0.05; done
expect_match "… and so does the follower" "$(fol capture-pane -p -t f)" "✔ 1 Look at the graphs"
fol kill-server
drv kill-server

# --- an incident: the joiner takes a role and adds a timeline entry ------------------------
DSOCK=$TMP/driver4.sock
drv new-session -d -x 120 -y 40 -s d \
	"env TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 RBC_RUNS_DIR='$TMP/inc' '$RBC' run --operator alice --db '$DB' --severity L1 --title 'Search slow' '$ROOT/runbooks/incident.json'; sleep 600"
drv set-option -t d status off >/dev/null
dwait "Search slow" || fail "the incident's driver is up" "" "$(dscreen)"
ID5=$(ls "$TMP/inc")
for i in $(seq 200); do [ "$(sql "SELECT count(*) FROM rbc_events WHERE run = '$ID5' AND ev = 'incident'")" -ge 1 ] && break; sleep 0.05; done
tui_start 120 40 join "$ID5" --db "$DB" --operator bob
expect_screen "the joiner sees the incident" "Search slow"
keys o
type_text "incident-commander"
keys Enter
dwait "Incident commander bob" && ok "the joiner takes a role: the driver's screen says who holds it" ||
	fail "the joiner takes a role: the driver's screen says who holds it" "" "$(dscreen)"
keys n
type_text "cache hit rate fell at 01:50"
keys Enter
for i in $(seq 200); do [ "$(grep -c '"ev":"command"' "$TMP"/inc/*/journal.jsonl)" = 2 ] && break; sleep 0.05; done
IJ=$(cat "$TMP"/inc/*/journal.jsonl)
expect_match "… the role in the driver's journal, by bob" "$IJ" '"what":"role","role":"incident-commander",[^}]*"to":"bob"[^}]*"by":"bob"'
expect_match "… the timeline note too" "$IJ" '"what":"note".*"text":"cache hit rate fell at 01:50","by":"bob"'
expect_eq "… each with its command event" "$(printf '%s\n' "$IJ" | grep -c '"ev":"command".*"action":"incident".*"result":"applied"')" 2
forge "$ID5" "'bob','$H','incident',NULL,NULL,NULL"
sql "WITH c AS (INSERT INTO rbc_commands (run, operator, host, kind, detail) VALUES ('$ID5', 'bob', 'h', 'incident', '{\"what\": \"resolved\"}') RETURNING run) SELECT pg_notify('rbc_commands', run) FROM c" >/dev/null
for i in $(seq 200); do [ "$(sql "SELECT count(*) FROM rbc_commands WHERE run = '$ID5' AND state = 'refused'")" = 2 ] && break; sleep 0.05; done
expect_match "resolving is the driver's: refused" "$(sql "SELECT why FROM rbc_commands WHERE run = '$ID5' AND detail IS NOT NULL AND state = 'refused'")" "resolving are the driver's"
drv kill-server

# --- hostile rows ------------------------------------------------------------------
drv kill-server
DSOCK=$TMP/driver2.sock # a server of its own: the last one may still be going away
drv new-session -d -x 120 -y 30 -s d \
	"env TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 RBC_RUNS_DIR='$TMP/far' '$RBC' run --operator alice --db '$DB' '$F'; sleep 600"
drv set-option -t d status off >/dev/null
dwait "operator alice" || fail "the second driver is up" "" "$(dscreen)"
ID2=$(ls "$TMP/far")
drv send-keys -t d a
dwait "◆ 1 Check" || fail "the second run waits" "" "$(dscreen)"
forge "$ID2" "'mallory','h','done','9.9.9',NULL,NULL"
forge "$ID2" "E'mal\\x1b]0;owned\\x07','h','done','check',NULL,NULL"
forge "$ID2" "'mallory','h','done','check',NULL,E'\\x1b[2J wiped'"
forge "$ID2" "'mallory','h','rm','check',NULL,NULL"
forge "$ID2" "'mallory','h','done','check',NULL,repeat('x', 100000)"
forge "$ID2" "'mallory','h','answer','size','7',NULL"
for i in $(seq 200); do [ "$(sql "SELECT count(*) FROM rbc_commands WHERE run = '$ID2' AND state = 'refused'")" = 6 ] && break; sleep 0.05; done
expect_eq "every hostile row is refused" "$(sql "SELECT string_agg(state, ',' ORDER BY id) FROM rbc_commands WHERE run = '$ID2'")" \
	"refused,refused,refused,refused,refused,refused"
J2=$TMP/far/$ID2/journal.jsonl
for i in $(seq 200); do [ "$(grep -c '"ev":"command"' "$J2")" = 6 ] && break; sleep 0.05; done
expect_eq "… and each journaled" "$(grep -c '"ev":"command"' "$J2")" 6
expect_match "… an unknown step" "$(cat "$J2")" 'no step \\"9.9.9\\" in this run'
expect_match "… escapes in a name" "$(cat "$J2")" "the operator's name: a control character in it"
expect_match "… escapes in a note" "$(cat "$J2")" "the note: a control character in it"
expect_match "… an unknown command" "$(cat "$J2")" 'no command \\"rm\\"'
expect_match "… a huge note" "$(cat "$J2")" "the note: too long"
expect_match "… an answer to a step not asking" "$(cat "$J2")" "is not waiting for an answer"
expect_nomatch "the journal holds no raw escape" "$(cat "$J2")" $'\x1b'
expect_nomatch "the driver's screen holds no raw escape" "$(drv capture-pane -p -e -t d | sed 's/\x1b\[[0-9;]*m//g')" $'\x1b'
expect_match "the journal's checker takes the command events" "$("$RBC" export "$TMP/far/$ID2" --format json 2>&1 | head -c 200)" '"'
drv kill-server

# --- a batch driver waits for a joiner -------------------------------------------------
( RBC_RUNS_DIR=$TMP/batch "$RBC" run --batch --wait-for-joiners --assume done --approver carol --operator alice --db "$DB" \
	"$ROOT/tests/fixtures/join/ask.json" >"$TMP/batch.out" 2>&1; echo "rc=$?" >>"$TMP/batch.out" ) &
bpid=$!
for i in $(seq 200); do ls "$TMP/batch" 2>/dev/null | grep -q . && grep -q '"for":"answer"' "$TMP"/batch/*/journal.jsonl 2>/dev/null && break; sleep 0.05; done
ID3=$(ls "$TMP/batch")
forge "$ID3" "'bob','$H','answer','size','4',NULL"
wait "$bpid"
expect_match "the batch driver took the joiner's answer" "$(cat "$TMP/batch.out")" "COMMAND   bob@$H answered 1: 4"
expect_match "… and finished" "$(cat "$TMP/batch.out")" "rc=0"

# --- a batch resume that takes the run over waits for a joiner too ------------------------
cat >"$TMP/rj.json" <<'JSON'
{ "runbook": "rj", "title": "Resumed and joined", "steps": [
    { "id": "one", "title": "Waits for go", "run": "while [ ! -e \"$GO\" ] && kill -0 $PPID 2>/dev/null; do sleep 0.05; done" },
    { "id": "two", "title": "Sign off", "manual": "Sign it off." },
    { "id": "three", "title": "After", "run": "true" } ] }
JSON
( RBC_RUNS_DIR=$TMP/rj1 GO=$TMP/rj.go exec "$RBC" run --batch --operator alice --db "$DB" "$TMP/rj.json" >/dev/null 2>&1 ) &
jpid=$!
for i in $(seq 200); do IDR=$(ls "$TMP/rj1" 2>/dev/null); [ -n "$IDR" ] &&
	[ "$(sql "SELECT count(*) FROM rbc_events WHERE run = '$IDR' AND ev = 'step_started' AND step = 'rj/one'")" = 1 ] && break; sleep 0.05; done
kill -KILL "$jpid"; wait "$jpid" 2>/dev/null
touch "$TMP/rj.go"
( RBC_RUNS_DIR=$TMP/rj2 GO=$TMP/rj.go "$RBC" resume --batch --wait-for-joiners --take-over --unfinished rerun --operator carol \
	--db "$DB" "$IDR" >"$TMP/rj.out" 2>&1; echo "rc=$?" >>"$TMP/rj.out" ) &
rjpid=$!
tui_start 120 30 join "$IDR" --db "$DB" --operator bob
expect_screen "rbc resume --batch --wait-for-joiners (a takeover): the manual step waits for the joiner" "◆ 2 Sign off"
keys Down
keys Down
keys Space
wait "$rjpid"
expect_match "… the joiner's answer is the resumed driver's to apply" "$(cat "$TMP/rj.out")" "COMMAND   bob@$H answered 2: done"
expect_match "… and the run ends passed" "$(cat "$TMP/rj.out")" "rc=0"
expect_match "… the step taken over ran again first" "$(cat "$TMP/rj.out")" "PASS +one +Waits for go"
expect_screen "the joiner sees the end" "■ finished PASS"
keys q
tui_exit

# --- what only the driver answers: a confirmation, a secret ------------------------------
( RBC_RUNS_DIR=$TMP/only exec "$RBC" run --batch --wait-for-joiners --operator alice --db "$DB" \
	"$ROOT/tests/fixtures/join/driver-only.json" >"$TMP/only.out" 2>&1 ) &
opid=$!
for i in $(seq 200); do [ "$(grep -cs '"ev":"waiting"' "$TMP"/only/*/journal.jsonl)" = 2 ] && break; sleep 0.05; done
ID6=$(ls "$TMP/only")
forge "$ID6" "'bob','$H','done','sw',NULL,NULL"
forge "$ID6" "'bob','$H','answer','token','tok-123',NULL"
for i in $(seq 200); do [ "$(grep -cs '"ev":"command"' "$TMP/only/$ID6/journal.jsonl")" = 2 ] && break; sleep 0.05; done
kill -TERM "$opid"; wait "$opid"
expect_match "a joiner's answer to a confirmation is refused" "$(cat "$TMP/only.out")" \
	"refused: a confirmation starts a command on the driver's machine: only the driver answers it"
expect_match "… and to a secret ask" "$(cat "$TMP/only.out")" \
	"refused: a secret is answered at the driver's console: its answer would sit in the database"
expect_nomatch "… whose value the record never holds" "$(cat "$TMP/only/$ID6/journal.jsonl")" "tok-123"
expect_eq "… nor the table, once refused" "$(sql "SELECT count(*) FROM rbc_commands WHERE value = 'tok-123'")" 0

# --- a run with command events resumed -----------------------------------------------------
( RBC_RUNS_DIR=$TMP/res exec "$RBC" run --batch --wait-for-joiners --operator alice --db "$DB" \
	"$ROOT/tests/fixtures/join/ask.json" >"$TMP/res.out" 2>&1 ) &
rpid=$!
for i in $(seq 200); do grep -qs '"for":"answer"' "$TMP"/res/*/journal.jsonl && break; sleep 0.05; done
ID7=$(ls "$TMP/res")
forge "$ID7" "'bob','$H','answer','size','9',NULL"
for i in $(seq 200); do grep -qs '"ev":"command"' "$TMP/res/$ID7/journal.jsonl" && break; sleep 0.05; done
kill -KILL "$rpid"; wait "$rpid" 2>/dev/null
echo '{"SIZE": 2}' >"$TMP/answers.json"
RBC_RUNS_DIR=$TMP/res run "$RBC" resume --batch --answers "$TMP/answers.json" "$ID7"
expect_eq "a killed run whose journal holds a command event resumes and ends" "$RC" 0
expect_match "… the command replayed, changing nothing" "$OUT" "RESUMED"
expect_eq "… and its journal still has it" "$(grep -c '"ev":"command"' "$TMP/res/$ID7/journal.jsonl")" 1
t_done
