#!/usr/bin/env bash
# A group's defaults (docs/runbook-format.md, "Group defaults"): on_fail,
# timeout, retry and owner given once on a group apply to every step below
# it that does not set its own. rbc check refuses an unknown key (with did
# you mean) and defaults on a step that is not a group.
. tests/lib.sh
. tests/tui.sh
F=$ROOT/tests/fixtures/budgets
export RBC_RUNS_DIR=$TMP/runs
dir_of() { ls -td "$TMP"/runs/*-"$1"-* 2>/dev/null | head -1; }

echo "# batch"
run timeout 60 "$RBC" run --batch "$F/defaults.json"
expect_match "retry from the defaults: two attempts" "$OUT" '^RETRY +flaky +Fails twice — attempt 1 of 2: FAIL'
expect_match "on_fail continue from the defaults: the next step runs after a failure" "$OUT" '^RETRY +slow '
expect_match "timeout from the defaults: 1s" "$OUT" '^ERROR +slow +Times out — timed out after 1s$'
expect_match "a step's own on_fail wins: it stops the group" "$OUT" '^FAIL +own +Stops on its own failure'
expect_nomatch "… nothing after it runs" "$OUT" '(never|after) +(After the stop|After the group)'
expect_nomatch "a step's own retry wins: one attempt" "$OUT" 'RETRY +own '
d=$(dir_of defaults)
j=$("$RBC" export "$d" --format json | python3 -c '
import json, sys
for s in json.load(sys.stdin)["steps"]:
    print(s["id"], s.get("owner", "-"))')
expect_match "owner from the defaults" "$j" '^defaults/flaky dba$'
expect_match "… a step's own owner wins" "$j" '^defaults/own sre$'
expect_match "… the group keeps its own (defaults are for what is below it)" "$j" '^defaults/checks sre$'
run timeout 60 "$RBC" run --batch --var DELAY=1500ms "$F/defaults.json"
secs=$(printf '%s\n' "$OUT" | sed -n 's/^summary: .* — \([0-9.]*\) s$/\1/p')
expect_match "a retry delay written \${DELAY} in the defaults follows --var (two 1.5 s delays)" \
	"$(python3 -c "print('slow' if float('${secs:-0}') >= 4.0 else 'fast')")" '^slow$'

echo "# console"
export TUI_ENV="RBC_TEST_NOW=2026-11-23T02:00:00Z"
tui_start 110 30 --operator tester "$F/defaults.json"
wait_idle
expect_match "the tree tags a step with the owner of its group's defaults" "$(row_of 'Fails twice')" 'Fails twice +@dba'
expect_match "… and a step with its own" "$(row_of 'Stops on its own failure')" 'Stops on its own failure +@sre'
keys Down Down
expect_screen "the detail pane of a step shows the owner it takes" "owner dba"
keys q
tui_exit

echo "# rbc check"
bad() { # bad NAME JSON MESSAGE-REGEX
	printf '%s\n' "$2" >"$TMP/$1.json"
	run "$RBC" check "$TMP/$1.json"
	expect_eq "$1: refused (65)" "$RC" 65
	expect_match "… $1: says why, where" "$ERR" "$3"
}
G='{ "id": "t", "title": "T", "run": "true" }'
bad key '{ "runbook": "b", "title": "B", "steps": [ { "id": "g", "title": "G", "defaults": { "timout": "5s" }, "steps": ['"$G"'] } ] }' \
	'key\.json:1:[0-9]+: steps\[0\]\.defaults\.timout: unknown key "timout" \(did you mean "timeout"\?\)'
bad onstep '{ "runbook": "b", "title": "B", "steps": [ { "id": "s", "title": "S", "run": "true", "defaults": { "on_fail": "continue" } } ] }' \
	'steps\[0\]\.defaults: "defaults" applies only to a group'
bad value '{ "runbook": "b", "title": "B", "steps": [ { "id": "g", "title": "G", "defaults": { "on_fail": "keep going" }, "steps": ['"$G"'] } ] }' \
	'steps\[0\]\.defaults\.on_fail: expected "stop", "continue"'
bad owner '{ "runbook": "b", "title": "B", "roles": ["dba"], "steps": [ { "id": "g", "title": "G", "defaults": { "owner": "dab" }, "steps": ['"$G"'] } ] }' \
	'steps\[0\]\.defaults\.owner: owner "dab" is not one of the runbook.s roles \(did you mean "dba"\?\)'
bad object '{ "runbook": "b", "title": "B", "steps": [ { "id": "g", "title": "G", "defaults": "continue", "steps": ['"$G"'] } ] }' \
	'steps\[0\]\.defaults: expected an object'
t_done
