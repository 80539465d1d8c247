#!/usr/bin/env bash
# Owners and approvals (docs/runbook-format.md, "Owners and approvals"):
# any runbook declares roles, any step names its owner (a tag in the tree,
# a line in the detail pane, in every export). A manual step with
# "approval" is answered only by an operator other than the run's driver:
# the console asks the approver's name and refuses the driver's own or
# none; batch leaves it UNKNOWN unless --approver names someone else.
. tests/lib.sh
. tests/tui.sh
F=$ROOT/tests/fixtures/budgets
export RBC_RUNS_DIR=$TMP/runs
dir_of() { ls -td "$TMP"/runs/*-"$1"-* 2>/dev/null | head -1; }

echo "# batch"
run "$RBC" run --batch --assume done --operator alice "$F/owners.json"
expect_eq "--assume done does not answer an approval: UNKNOWN (exit 3)" "$RC" 3
expect_match "… it says who must answer it" "$OUT" '^UNKNOWN +signoff +Sign off the release — needs approval by another operator \(--approver NAME answers it\)$'
expect_match "… the run goes on after it" "$OUT" '^PASS +announce '
run "$RBC" run --batch --assume skip --operator alice "$F/owners.json"
expect_match "--assume skip does not skip it either" "$OUT" '^UNKNOWN +signoff +Sign off the release — needs approval by another operator'
run "$RBC" run --batch --assume done --operator alice --approver alice "$F/owners.json"
expect_eq "--approver equal to --operator is refused (exit 64)" "$RC" 64
expect_match "… saying why" "$ERR" '--approver must name someone other than the operator \(alice\)'
run "$RBC" run --batch --assume done --operator alice --approver Alice "$F/owners.json"
expect_eq "… whatever its case" "$RC" 64
run "$RBC" run --batch --assume done --operator alice --approver bob "$F/owners.json"
expect_eq "--approver bob answers it: the run passes" "$RC" 0
expect_match "… approved by bob" "$OUT" '^PASS +signoff +Sign off the release — approved by bob \(--approver\)$'
d=$(dir_of owners)
expect_match "the journal keeps who approved" "$(grep '"step_finished","step":"owners/signoff"' "$d/journal.jsonl")" '"by":"bob"'
expect_match "… and the header the owners and the approval" "$(head -1 "$d/journal.jsonl")" \
	'"id":"owners/migrate","number":"1","title":"Migrate the schema","owner":"dba"\}.*"id":"owners/signoff".*"owner":"sre","approval":true'
run "$RBC" export "$d" --format json
expect_match "JSON export: the owner of each step" "$OUT" '"id":[[:space:]]*"owners/migrate"'
j=$(printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
for s in d["steps"]:
    print(s["id"], s.get("owner", "-"), s.get("approval", False), s.get("by", "-"))')
expect_match "… owner dba on the migration" "$j" '^owners/migrate dba False'
expect_match "… owner sre, approval, by bob on the sign-off" "$j" '^owners/signoff sre True bob$'
run "$RBC" export "$d" --format md
expect_match "Markdown: the section lists owners" "$OUT" '^- 1 Migrate the schema — owner dba$'
expect_match "… and who approved" "$OUT" '^- 2 Sign off the release — owner sre; approved by bob$'
expect_match "… the manual steps say approved by" "$OUT" '^- 2 Sign off the release — done — approved by bob$'
run "$RBC" export "$d" --format junit
expect_match "JUnit: the owner as a property" "$OUT" '<property name="owner owners/migrate" value="dba"/>'
expect_match "… and the approver" "$OUT" '<property name="approved_by owners/signoff" value="bob"/>'
printf '%s\n' "$OUT" >"$TMP/j.xml"
run xmllint --noout --schema "$ROOT/tests/junit.xsd" "$TMP/j.xml"
expect_eq "… valid against tests/junit.xsd" "$RC" 0

echo "# resume keeps the run's approver"
crash() { # starts the run with --approver bob, kills it while its first step runs; $CRASHED: its directory
	ls -d "$TMP"/runs/*-approve-resume-* 2>/dev/null | sort >"$TMP/before"
	"$RBC" run --batch --assume done --operator alice --approver bob "$F/approve-resume.json" >/dev/null 2>&1 &
	local pid=$!
	CRASHED=""
	for _ in $(seq 200); do
		CRASHED=$(ls -d "$TMP"/runs/*-approve-resume-* 2>/dev/null | sort | comm -13 "$TMP/before" - | head -1)
		[ -n "$CRASHED" ] && grep -q '"step_started","step":"approve-resume/long"' "$CRASHED/journal.jsonl" 2>/dev/null && break
		sleep 0.05
	done
	kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
}
crash
run timeout 60 "$RBC" resume --batch --unfinished rerun "$CRASHED"
expect_match "a resumed run's approval is answered by the approver it was given" "$OUT" '^PASS +signoff +Sign off — approved by bob \(--approver\)$'
crash
run timeout 60 "$RBC" resume --batch --unfinished rerun --operator bob "$CRASHED"
expect_match "… unless the approver now drives the run: then it needs another" "$OUT" '^UNKNOWN +signoff +Sign off — needs approval by another operator'

echo "# console"
export TUI_ENV="RBC_TEST_NOW=2026-11-23T02:00:00Z"
tui_start 110 30 --operator tester "$F/owners.json"
wait_idle
expect_match "the tree tags a step with its owner" "$(row_of 'Migrate the schema')" 'Migrate the schema +@dba'
keys a
expect_screen "the approval waits" "Check the migration and sign off"
expect_screen "the detail pane shows the owner, with the role's name" "owner sre"
expect_screen "… and that it needs another operator" "approval needs an operator other than tester"
keys s
expect_screen "s on an approval asks why" "Skip reason:"
type_text later
keys Enter
expect_screen "… and the driver's skip is refused" "refused: an approval is not skipped by the run's driver (f marks it failed)"
keys Space
expect_screen "Space asks the approver's name" "Approved by (an operator other than tester):"
type_text tester
keys Enter
expect_screen "the driver's own name is refused, with why" "refused: tester drives this run; another operator approves"
keys Space
expect_screen "asked again" "Approved by (an operator other than tester):"
keys Enter
expect_screen "an empty name is refused" "refused: an approval needs the approver's name"
keys Space
expect_screen "asked again" "Approved by (an operator other than tester):"
type_text bob
keys Enter
expect_screen "another name approves it: the run goes on to its end" "■ finished PASS"
keys Up
expect_screen "… the detail says who approved" "approval approved by bob"
d=$(dir_of owners)
expect_match "… the journal keeps the approver" "$(grep '"step_finished","step":"owners/signoff"' "$d/journal.jsonl")" '"text":"approved by bob","by":"bob"'
keys q
tui_exit
# A long role id is cut in the tree's tag, never the title: the detail names it.
cat >"$TMP/longrole.json" <<'EOF'
{ "runbook": "longrole", "title": "Long role",
  "roles": [ { "id": "incident-commander-on-duty", "name": "Incident commander" } ],
  "steps": [ { "id": "decide", "title": "Decide the recovery path", "owner": "incident-commander-on-duty", "manual": "Decide." } ] }
EOF
tui_start 120 30 --operator tester "$TMP/longrole.json"
expect_screen "the runbook with a long role id opens" "Decide the recovery path"
expect_match "a long owner tag is cut with …, the title kept" "$(row_of 'Decide the recovery path')" 'Decide the recovery path +@incid[a-z-]*…'
keys Down
expect_screen "… the detail pane names the owner in full" "owner incident-commander-on-duty"
keys q
tui_exit
t_done
