#!/usr/bin/env bash
# Time budgets (docs/runbook-format.md, "Time budgets"): a group's or a
# runbook's deadline, counted from its first step's start. on_deadline warn
# (the default) makes the group at least WARN, "took 2s, deadline 1s"; fail
# cancels what runs in it and FAILs it; goto:<id> interrupts the flow and
# goes there. The passing is journaled, read back, and a resume keeps the
# budget's original start. The console shows the time left in the tree and
# the header. rbc check refuses each misuse.
. tests/lib.sh
. tests/tui.sh
F=$ROOT/tests/fixtures/budgets
export RBC_RUNS_DIR=$TMP/runs
journal_of() { cat "$(ls -td "$TMP"/runs/*-"$1"-* 2>/dev/null | head -1)/journal.jsonl" 2>/dev/null; }
dir_of() { ls -td "$TMP"/runs/*-"$1"-* 2>/dev/null | head -1; }

echo "# batch: on_deadline warn (the default)"
run "$RBC" run --batch "$F/warn.json"
expect_eq "a group that ends past its deadline: the run is WARN (exit 1)" "$RC" 1
expect_match "a line says when the deadline passes" "$OUT" '^DEADLINE +slow +deadline 1s passed: on_deadline warn$'
expect_match "… the group is WARN, how long it took and its deadline" "$OUT" '^WARN +slow +Slow group — took 2s, deadline 1s \(1 step: 1 passed\)$'
expect_match "… its step ran to its end" "$OUT" '^PASS +a +Takes two seconds'
expect_match "… and the run went on after it" "$OUT" '^PASS +after +After it'
j=$(journal_of dl-warn)
expect_match "the journal has the deadline event: step, budget, start and what it does" "$j" \
	'"ev":"deadline","step":"dl-warn/slow","number":"1","deadline_ms":1000,"on_deadline":"warn","started":"[0-9T:.-]+Z","text":"deadline 1s passed"'
run "$RBC" export "$(dir_of dl-warn)" --format json
expect_eq "… which the journal's reader takes (export)" "$RC" 0
expect_match "… the JSON export: deadline, took, not met" "$(printf '%s' "$OUT" | python3 -c '
import json, sys
for s in json.load(sys.stdin)["steps"]:
    if s["id"] == "dl-warn/slow":
        print(s["deadline_ms"], s["duration_ms"] >= 2000, s["deadline_passed"], s["deadline_met"])')" '^1000 True True False$'
run "$RBC" export "$(dir_of dl-warn)" --format md
expect_match "… the deployment log: deadline, took, missed" "$OUT" '^- 1 Slow group — deadline 1s, took 2s, missed$'
run "$RBC" export "$(dir_of dl-warn)" --format junit
expect_match "… JUnit: a property of the suite" "$OUT" '<property name="deadline dl-warn/slow" value="deadline 1s, took 2s, missed"/>'
mkdir -p "$TMP/tampered"
cp -r "$(dir_of dl-warn)" "$TMP/tampered/"
t=$TMP/tampered/$(basename "$(dir_of dl-warn)")
sed -i 's/"on_deadline":"warn"/"on_deadline":"later"/' "$t/journal.jsonl"
run "$RBC" export "$t" --format json
expect_eq "a deadline line with an unknown on_deadline is refused when read back (65)" "$RC" 65
expect_match "… naming the line and why" "$ERR" 'journal\.jsonl:[0-9]+: .*a deadline with an unknown "on_deadline" "later"'

echo "# batch: on_deadline fail"
run timeout 30 "$RBC" run --batch "$F/fail.json"
expect_eq "the group FAILs at its deadline (exit 2), not after its minute-long step" "$RC" 2
expect_match "… its running step is cancelled at the deadline" "$OUT" '^CANCELLED a +Takes a minute — deadline 1s passed$'
expect_match "… the group FAILs with the explanation" "$OUT" '^FAIL +slow +Slow group — took 1s, deadline 1s'
expect_nomatch "… the step after it in the group never runs" "$OUT" 'PASS +b '
expect_nomatch "… nor does the step after the group (its on_fail is stop)" "$OUT" 'PASS +after '

echo "# batch: on_deadline goto"
run timeout 30 "$RBC" run --batch "$F/goto.json"
expect_match "the deadline sends the flow to the target" "$OUT" '^DEADLINE +slow → rollback +deadline 1s passed: on_deadline goto$'
expect_match "… what ran is cut short" "$OUT" '^CANCELLED a +Takes a minute'
expect_match "… the target runs" "$OUT" '^PASS +rollback +Roll back'
expect_nomatch "… the step between them does not" "$OUT" 'skipped +Jumped over'
j=$(journal_of dl-goto)
expect_match "the journal's deadline names the target" "$j" '"ev":"deadline","step":"dl-goto/slow".*"on_deadline":"goto".*"target":"dl-goto/rollback"'
expect_match "… and the procedure gets FAILED_REASON" "$j" '"name":"FAILED_REASON","value":"deadline 1s passed"'
run "$RBC" export "$(dir_of dl-goto)" --format md
expect_match "the deployment log's Rollback says a deadline sent the run there" "$OUT" \
	'^- [0-9:]+ UTC — dl-goto/slow → dl-goto/rollback: deadline 1s passed \(automatic: a deadline passed\)$'
"$RBC" export "$(dir_of dl-goto)" --format json >"$TMP/goto.json"
run python3 - "$ROOT/docs/export.schema.json" "$TMP/goto.json" <<'PY'
import json, sys, jsonschema
errs = list(jsonschema.Draft202012Validator(json.load(open(sys.argv[1]))).iter_errors(json.load(open(sys.argv[2]))))
for e in errs[:5]:
    print("%s: %s" % (e.json_path, e.message[:200]))
sys.exit(1 if errs else 0)
PY
expect_eq "its JSON export (the deadline in its timeline) validates against docs/export.schema.json" "$RC" 0

echo "# batch: the runbook's own deadline, a \${VAR}"
run timeout 30 "$RBC" run --batch "$F/runbook.json"
expect_eq "the runbook past its deadline FAILs (exit 2)" "$RC" 2
expect_match "… the deadline is the runbook's" "$OUT" '^DEADLINE +dl-top +deadline 1s passed: on_deadline fail$'
run timeout 30 "$RBC" run --batch --var BUDGET=2s "$F/runbook.json"
expect_match "--var sets the deadline written \${BUDGET}" "$OUT" '^DEADLINE +dl-top +deadline 2s passed'

echo "# resume keeps the budget's start"
"$RBC" run --batch "$F/resume.json" >"$TMP/resume.out" 2>&1 &
pid=$!
for _ in $(seq 200); do grep -q '"step_started","step":"dl-resume/b"' "$(dir_of dl-resume)/journal.jsonl" 2>/dev/null && break; sleep 0.05; done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
d=$(dir_of dl-resume)
start=$(grep -o '"ev":"step_started","step":"dl-resume/slow"[^}]*' "$d/journal.jsonl" | head -1)
run timeout 30 "$RBC" resume --batch --unfinished rerun "$d"
expect_match "the resumed run passes the deadline" "$OUT" '^DEADLINE +slow +deadline 4s passed: on_deadline fail$'
j=$(cat "$d/journal.jsonl")
first=$(printf '%s\n' "$j" | grep '"ev":"step_started","step":"dl-resume/slow"' | head -1 | sed 's/.*"t":"\([^"]*\)".*/\1/')
budget=$(printf '%s\n' "$j" | grep '"ev":"deadline"' | sed 's/.*"started":"\([^"]*\)".*/\1/')
expect_eq "… its budget counted from the group's first start, before the crash" "$budget" "$first"
fired=$(printf '%s\n' "$j" | grep '"ev":"deadline"' | sed 's/.*"t":"\([^"]*\)".*/\1/')
secs=$(python3 -c "
from datetime import datetime as D
f=lambda s: D.strptime(s, '%Y-%m-%dT%H:%M:%S.%fZ')
print(round((f('$fired') - f('$first')).total_seconds()))")
expect_eq "… and it passed 4 s after that start, not 4 s after the resume" "$secs" 4
[ -n "$start" ] || fail "the group had started before the kill"

echo "# console: the time left"
export TUI_ENV="RBC_TEST_NOW=2026-11-23T02:00:00Z"
tui_start 110 30 --operator tester "$F/console.json"
wait_idle
keys a
expect_screen "a manual step waits inside a group with a deadline" "Look at the error rate"
expect_match "the tree shows the group's time left" "$(row_of 'Roll out')" 'Roll out .* 30m left'
expect_match "the header shows the runbook's time left" "$(printf '%s\n' "$SCREEN" | head -1)" '⏱ 2h00m left · '
keys Up
expect_screen "the detail pane shows the group's deadline" "deadline 30m · on_deadline warn · 30m left"
keys q
tui_exit
unset TUI_ENV
tui_start 110 30 --operator tester "$F/console.json"
wait_idle
keys a
expect_screen "answering the first step" "Look at the error rate"
keys Space
expect_screen "a group past its deadline shows how far over, by the real clock" "over"
expect_screen "… the status line says the deadline passed" "2 Tight budget: deadline 1s passed"
expect_match "… in the tree: +Ns over" "$(row_of 'Tight budget')" 'Tight budget .*\+[0-9]+s over'
s=$(screen -e | grep 'Tight budget')
expect_match "… in the alert colour (red)" "$s" '\[(1;)?31m|\[38;5;(1|9|160|196)m|\[91m'
keys q y
tui_exit

echo "# rbc check"
bad() { # bad NAME JSON MESSAGE-REGEX
	printf '%s\n' "$2" >"$TMP/$1.json"
	run "$RBC" check "$TMP/$1.json"
	expect_eq "$1: refused (65)" "$RC" 65
	expect_match "… $1: says why, where" "$ERR" "$3"
}
G='{ "id": "t", "title": "T", "run": "true" }'
bad duration '{ "runbook": "b", "title": "B", "steps": [ { "id": "g", "title": "G", "deadline": "30 mins", "steps": ['"$G"'] } ] }' \
	'duration\.json:1:[0-9]+: steps\[0\]\.deadline: .*"30 mins"'
bad word '{ "runbook": "b", "title": "B", "steps": [ { "id": "g", "title": "G", "deadline": "1m", "on_deadline": "fial", "steps": ['"$G"'] } ] }' \
	'steps\[0\]\.on_deadline: expected "warn", "fail" or "goto:<step id>", got "fial" \(did you mean "fail"\?\)'
bad target '{ "runbook": "b", "title": "B", "steps": [ { "id": "g", "title": "G", "deadline": "1m", "on_deadline": "goto:tt", "steps": ['"$G"'] } ] }' \
	'steps\[0\]\.on_deadline: goto target "tt" does not exist \(did you mean "t"\?\)'
bad onstep '{ "runbook": "b", "title": "B", "steps": [ { "id": "s", "title": "S", "run": "true", "deadline": "1m" } ] }' \
	'steps\[0\]\.deadline: "deadline" applies only to a group'
bad alone '{ "runbook": "b", "title": "B", "steps": [ { "id": "g", "title": "G", "on_deadline": "fail", "steps": ['"$G"'] } ] }' \
	'steps\[0\]\.on_deadline: "on_deadline" needs a "deadline" on the same group'
bad top '{ "runbook": "b", "title": "B", "deadline": "1m", "on_deadline": "goto:nope", "steps": ['"$G"'] }' \
	'on_deadline: goto target "nope" does not exist'
t_done
