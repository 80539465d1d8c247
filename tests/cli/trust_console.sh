#!/usr/bin/env bash
# What the console says matches what the run is and what the record keeps:
# a runbook's description in the detail pane (wrapped by display width, its
# escapes shown, never obeyed); a declined confirmation skipped, in the
# same words on screen, in the journal and in every export, the run going
# on; parallel branches asking at once keep the cursor on the first; the
# header names the phase the run is in; a skipped group's steps show their
# titles expanded as far as the variables known allow, secrets masked.
# Every check waits for text on the screen; nothing sleeps a fixed time.
. tests/lib.sh
. tests/tui.sh
F=$ROOT/tests/fixtures/trust_console
export TUI_ENV="RBC_TEST_NOW=2026-11-23T02:00:00Z"
quit() { keys q; tui_exit; }
# detail_rows: the detail pane's rows (between its frame), without the frame.
detail_rows() {
	printf '%s\n' "$SCREEN" | sed -n '3,12p' | python3 -c '
import sys
for line in sys.stdin:
    line = line.rstrip("\n")
    i = line.find("││")
    if i < 0:
        continue
    row = line[i + 2:]
    print(row[:-1].strip() if row.endswith("│") else row.strip())'
}

# --- the runbook's description ---------------------------------------------------
echo "# the runbook's description in the detail pane"
tui_start 100 30 --operator tester "$F/prose.json"
wait_idle
expect_screen "the runbook's row is selected at the start" "┌ prose Release with a description ─"
expect_screen "its description is in the detail pane" "Read this first: the release window is"
text=$(detail_rows | tr -d '\n ')
want="Readthisfirst:thereleasewindowis02:00-03:00UTCandtheswitchneedstwopeopleonthecall.本番環境への切り替えは必ず二人で行い、切り替えの前にバックアップを確認し、問題があればすぐにロールバックすること。�]2;pwned-by-prose�Endofthedescription."
expect_match "… all of it, in order, wrapped over the pane's rows" "$text" "$(printf '%s' "$want" | sed 's/[].[]/\\&/g')\$"
expect_match "… over several rows" "$(detail_rows | grep -c .)" '^[4-9]$'
widths=$(printf '%s\n' "$SCREEN" | sed -n '2,13p' | python3 -c '
import sys, unicodedata
def w(s): return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 0 if unicodedata.combining(ch) else 1 for ch in s)
print(" ".join(sorted({str(w(l.rstrip("\n"))) for l in sys.stdin})))')
expect_eq "… Japanese wrapped by display width: every row of the pane ends in the frame's column" "$widths" "100"
expect_match "… a Japanese row fills the pane (no room wasted by counting bytes)" "$(detail_rows | grep '本番')" '.{20,}'
title=$(tmx display-message -p -t t '#{pane_title}' 2>/dev/null)
expect_nomatch "… its escape sequence is shown, not obeyed (the terminal's title is unchanged)" "$title" 'pwned-by-prose'
keys j
expect_screen "a step's detail does not repeat the runbook's description" "┌ 1 First step ─"
absent=$(printf '%s' "$(screen)" | grep -c 'Read this first')
expect_eq "… it is the runbook's, shown on its row only" "$absent" 0
quit

# --- a declined confirmation: one truth on screen, in the journal, in the exports --
echo "# a declined confirmation"
mark="$TMP/switched"
tui_start 100 30 --operator tester --var MARK="$mark" "$F/confirm.json"
wait_idle
keys a
expect_screen "the confirmation is asked" "Switch production traffic? [y/N]"
keys n
expect_screen "declined: the status line says the step is skipped and who declined" \
	"2 Switch traffic SKIPPED: declined by tester"
expect_screen "… the run goes on after it, to its end, without another key" "■ finished PASS"
expect_match "… the tree shows it skipped" "$SCREEN" '│ +⏭ 2 Switch traffic'
expect_match "… the step after it ran" "$SCREEN" '│ +✔ 3 After the switch'
absent=$(printf '%s' "$SCREEN" | grep -c 'paused')
expect_eq "… nothing says the run paused" "$absent" 0
keys k
expect_screen "the detail pane says the same" "⏭ SKIPPED  declined by tester"
[ -e "$mark" ] && fail "the declined command did not run" "$mark exists" || ok "the declined command did not run"
keys e
expect_screen_re "the run is exported" 'exported deployment-log\.md \+ export\.json'
dir=$(ls -d "$TMP"/runs/*-decline-* 2>/dev/null | tail -1)
line=$(grep '"ev":"step_finished","step":"decline/switch"' "$dir/journal.jsonl" 2>/dev/null)
expect_match "the journal records it skipped, declined by the operator" "$line" '"state":"skipped".*"text":"declined by tester","by":"tester"'
md=$(cat "$dir/deployment-log.md" 2>/dev/null)
expect_match "the deployment log's table: skipped, declined by tester" "$md" '^\| 2 \| Switch traffic \| ⏭ skipped \| declined by tester \| tester \|'
expect_match "… its timeline: SKIPPED declined by tester" "$md" '\| step_finished \| decline/switch \| SKIPPED declined by tester \(by tester\) \|'
expect_match "… its manual steps and notes: skipped, declined by tester" "$md" '^- 2 Switch traffic — skipped: declined by tester$'
expect_nomatch "… never PASS for the skipped step" "$(printf '%s\n' "$md" | grep 'decline/switch')" 'PASS'
if python3 - "$ROOT/docs/export.schema.json" "$dir/export.json" <<'PY'
import json, sys, jsonschema
d = json.load(open(sys.argv[2]))
jsonschema.validate(d, json.load(open(sys.argv[1])))
s = [s for s in d["steps"] if s["id"] == "decline/switch"][0]
t = [t for t in d["timeline"] if t["ev"] == "step_finished" and t.get("step") == "decline/switch"][0]
ok = (s["state"], s["explanation"], s["by"], t["state"], t["text"]) == ("skipped", "declined by tester", "tester", "skipped", "declined by tester")
sys.exit(0 if ok and d["verdict"] == "PASS" else 1)
PY
then ok "the JSON record: skipped, declined by tester, in the step and the timeline (valid against the schema)"
else fail "the JSON record: skipped, declined by tester, in the step and the timeline (valid against the schema)" "$(cat "$dir/export.json" 2>/dev/null | head -c 1500)"; fi
run "$RBC" export "$dir" --format junit
expect_match "JUnit: the test case is skipped, declined by tester" "$OUT" '<skipped message="skipped: declined by tester"/>'
expect_match "… and its output says SKIPPED, not PASS" "$OUT" '<system-out>SKIPPED: declined by tester'
quit
expect_eq "the run passed: a declined step fails nothing (exit 0)" "$TUI_RC" 0
run "$RBC" run --batch --var MARK="$mark" "$F/confirm.json"
expect_match "batch without --yes: unchanged, the step needs an operator" "$OUT" '^UNKNOWN +switch +Switch traffic — needs operator: confirm "Switch production traffic\?" \(--yes confirms\)'
expect_match "… and the run goes on after it" "$OUT" '^PASS +after '

# --- parallel branches that ask at once ---------------------------------------------
echo "# parallel manual steps"
tui_start 100 30 --operator tester "$F/parallel.json"
wait_idle
keys a
expect_screen "the branches ask at once" "◆ your turn"
wait_idle
expect_match "the cursor is on the first branch that asks" "$SCREEN" '┌ 2\.1 Product owner signs off ─'
expect_match "… both branches wait" "$SCREEN" '◆ 2\.2 QA signs off'
expect_match "… the branch beside them ran without taking the cursor" "$SCREEN" '✔ 2\.3 Smoke test'
keys Space
expect_screen "answered, the cursor goes to the next branch that waits" "┌ 2.2 QA signs off ─"
expect_match "… the first is done" "$SCREEN" '✔ 2\.1 Product owner signs off'
keys Space
expect_screen "the last answer lets the run go on" "■ finished PASS"
quit
tui_start 100 30 --operator tester "$F/parallel-confirm.json"
wait_idle
keys a
expect_screen "a confirmation among waiting branches asks its question" "Switch traffic now?"
keys y
expect_screen "answered, the cursor goes to the first branch that waits" "┌ 1.1 Owner signs off ─"
keys Space
expect_screen "… then to the next" "┌ 1.3 QA signs off ─"
keys Space
expect_screen "… and the run goes on to its end" "■ finished PASS"
quit

# --- the header names the phase; a skipped group's titles --------------------------------
echo "# phases and skipped groups"
secret="tok-$RANDOM-$RANDOM"
TUI_ENV="$TUI_ENV API_TOKEN=$secret" tui_start 100 30 --operator tester \
	"$F/phase-pre.json" "$F/phase-deploy.json" "$F/phase-post.json"
wait_idle
expect_match "before the run, the header names the first phase" "$(row_of ' rbc · ')" '^ rbc · tc-pre · operator tester '
keys a
expect_screen "the run stops at the deploy phase's manual step" "Say in #releases that green is next."
expect_match "the header names the phase the run is in, with its environment" "$(row_of ' rbc · ')" '^ rbc · tc-deploy · env staging · operator tester .*◆ your turn'
expect_match "a skipped group's step: its title with the capture made before the skip" "$SCREEN" '⏭ 2\.1 Deploy green on ECS'
expect_match "… a secret in a title masked" "$SCREEN" '⏭ 2\.2 Token •••• rotated'
expect_match "… a variable never set left as written" "$SCREEN" '⏭ 2\.3 Run \$\{RUN_ID\} done'
expect_match "… the group's own title" "$SCREEN" '⏭ 2 ECS path for green'
if printf '%s' "$SCREEN" | grep -qF "$secret"; then fail "the secret is never on screen" "$SCREEN"; else ok "the secret is never on screen"; fi
keys Space
expect_screen "the run goes on to the last phase" "Watch them for 10 minutes."
expect_match "… and the header names it" "$(row_of ' rbc · ')" '^ rbc · tc-post · operator tester '
quit
dir=$(ls -d "$TMP"/runs/*-tc-pre-* 2>/dev/null | tail -1)
TUI_ENV="$TUI_ENV API_TOKEN=$secret" tui_start 100 30 resume "$dir"
expect_screen "resumed, the run is where it was" "resumed from the journal"
expect_match "… the header names the phase it goes on in" "$(row_of ' rbc · ')" '^ rbc · tc-post · '
expect_match "… the skipped group's titles as they were: expanded, masked" "$SCREEN" '⏭ 2\.1 Deploy green on ECS'
expect_match "… the secret masked" "$SCREEN" '⏭ 2\.2 Token •••• rotated'
if printf '%s' "$SCREEN" | grep -qF "$secret"; then fail "… the secret is never on screen" "$SCREEN"; else ok "… the secret is never on screen"; fi
quit
md=$(RBC_RUNS_DIR="$TMP/runs" "$RBC" export "$dir" --format md 2>&1)
expect_match "the deployment log titles the skipped group's steps as the console did" "$md" '\| 2\.1 \| Deploy green on ECS \|'
expect_match "… a secret in a title masked" "$md" '\| 2\.2 \| Token •••• rotated \|'
junit=$(RBC_RUNS_DIR="$TMP/runs" "$RBC" export "$dir" --format junit 2>&1)
expect_match "… and so does JUnit" "$junit" 'testcase name="2\.1 Deploy green on ECS"'
if printf '%s' "$md$junit" | grep -qF "$secret"; then fail "… the secret is in no export"; else ok "… the secret is in no export"; fi
t_done
