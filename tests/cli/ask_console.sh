#!/usr/bin/env bash
# The ask action in the console: a waiting ask opens a box with the
# question, the rule and the choices; a key picks a choice (and follows its
# goto), text is typed for the others, y or n answers a yesno, a secret is
# typed without echo, a refused answer shows the rule and keeps the box
# open, Esc leaves the step waiting. The required variables without a value
# open a form before anything runs. rbc resume replays an answer given in
# the console.
. tests/lib.sh
. tests/tui.sh
F=$ROOT/tests/fixtures/ask
quit() { keys q; wait_for "Quit and stop them?" 3 && keys y; tui_exit; }
run_dir() { ls -td "$TMP"/runs/*-"$1"-* 2>/dev/null | head -1; }
journal_of() { cat "$(run_dir "$1")/journal.jsonl" 2>/dev/null; }

echo "# choose by key, and its goto"
tui_start 100 30 --operator alice "$F/choices.json"
wait_idle
keys a
expect_screen "the waiting ask opens its question" "Cause of the incident"
expect_match "… with its rule" "$SCREEN" 'CAUSE: text, one of deploy, database, third-party, unknown'
expect_match "… and its choices by key, label and goto" "$SCREEN" '1  deploy — The last release → rollback'
expect_match "… the others" "$SCREEN" '4  unknown'
keys 1
expect_screen "the key chooses: the run jumps to the choice's target and ends" "■ finished"
expect_match "… the target ran" "$SCREEN" '✔ 4 Roll back the release'
expect_nomatch "… the step between did not" "$SCREEN" '✔ 2 Investigate'
j=$(journal_of ask-choices)
expect_match "the journal has who answered what" "$j" \
	'"ev":"capture","step":"ask-choices/cause","number":"1","name":"CAUSE","value":"deploy","text":"Cause of the incident","by":"alice","automatic":false'
expect_match "… the step's end says so" "$j" '"text":"answered deploy \(The last release\) by alice"'
expect_match "… and the jump" "$j" '"ev":"jump","step":"ask-choices/cause","number":"1","target":"ask-choices/rollback"'
keys q
tui_exit

echo "# free text, a refused answer, yes or no, a secret, Esc"
printf '%s\n' '{ "runbook": "ask-typed", "title": "Typed answers", "steps": [
  { "id": "pr", "title": "Pull request", "ask": { "var": "PR", "type": "number", "min": 1 } },
  { "id": "token", "title": "Token", "ask": { "var": "TOKEN", "secret": true, "pattern": "^tok-" } },
  { "id": "go", "title": "Go on?", "ask": { "var": "GO", "type": "yesno", "prompt": "Go on with \u001b[31mred\u001b[0m?" } },
  { "id": "show", "title": "PR ${PR} go ${GO}", "run": "echo pr=$PR token=$TOKEN go=$GO" } ] }' >"$TMP/typed.json"
tui_start 100 30 --operator bob "$TMP/typed.json"
wait_idle
keys a
expect_screen "a number's question shows its rule" "PR: a number, at least 1"
type_text 0
keys Enter
expect_screen "a refused answer shows the rule in the box" "refused: 0 is less than the minimum 1"
expect_match "… which stays open" "$SCREEN" 'Pull request'
keys Escape
expect_screen "Esc closes it: the step keeps waiting" "still waits for an answer"
expect_match "… shown waiting in the tree" "$SCREEN" '◆ 1 Pull request'
keys Enter
expect_screen "Enter on the step asks again" "PR: a number, at least 1"
keys BSpace
type_text 42
keys Enter
expect_screen "accepted: the next question (a secret)" "Question (secret)"
type_text tok-s3cr3t-7
expect_screen "a secret is typed without echo: one dot per character" "> ••••••••••••"
expect_nomatch "… never its text" "$SCREEN" 's3cr3t'
keys Enter
expect_screen "yes or no: its question" "y yes · n no"
expect_nomatch "the runbook's text is data: no escape reaches the terminal" "$(screen -e)" $'\e\\[31mred'
keys y
expect_screen "y answers: the run ends" "■ finished PASS"
expect_screen "the answers are the variables of later steps" "✔ 4 PR 42 go true"
j=$(journal_of ask-typed)
expect_eq "the secret is nowhere in the journal" "$(printf '%s' "$j" | grep -c s3cr3t)" 0
expect_match "… which says who answered, masked" "$j" '"name":"TOKEN","value":"••••","text":"Token","by":"bob"'
expect_eq "… nor in the step's output" "$(cat "$(run_dir ask-typed)"/out/* | grep -c s3cr3t)" 0
keys q
tui_exit

echo "# asks of parallel branches, one after the other"
printf '%s\n' '{ "runbook": "ask-par", "title": "Parallel asks", "steps": [
  { "id": "both", "title": "Both", "parallel": true, "steps": [
    { "id": "a", "title": "First", "ask": { "var": "A", "choices": ["x", "y"] } },
    { "id": "b", "title": "Second", "ask": { "var": "B", "choices": ["p", "q"] } } ] },
  { "id": "show", "title": "A ${A} B ${B}", "run": "true" } ] }' >"$TMP/par.json"
tui_start 100 30 --operator erin "$TMP/par.json"
wait_idle
keys a
expect_screen "the first branch's ask opens" "A: text, one of x, y"
keys 2
expect_screen "answered, the other branch's ask opens by itself" "B: text, one of p, q"
keys 1
expect_screen "both answered: the run goes on with both" "■ finished PASS"
expect_match "… each the variable it set" "$SCREEN" '✔ 2 A y B p'
keys q
tui_exit

echo "# an ask that comes while a confirmation is asked opens once it is answered"
printf '%s\n' '{ "runbook": "ask-after-confirm", "title": "Ask after a confirmation", "steps": [
  { "id": "both", "title": "Both", "parallel": true, "steps": [
    { "id": "go", "title": "Switch", "confirm": "Switch the traffic?", "run": "true" },
    { "id": "why", "title": "Reason", "ask": { "var": "WHY", "choices": ["planned", "incident"] } } ] },
  { "id": "show", "title": "Why ${WHY}", "run": "true" } ] }' >"$TMP/conf.json"
tui_start 100 30 --operator erin "$TMP/conf.json"
wait_idle
keys a
expect_screen "the confirmation is asked first" "Switch the traffic? [y/N]"
keys y
expect_screen "answered, the ask that came meanwhile opens by itself" "WHY: text, one of planned, incident"
keys 1
expect_screen "answered too: the run goes on" "■ finished PASS"
expect_match "… with the answer" "$SCREEN" '✔ 2 Why planned'
keys q
tui_exit

echo "# resume replays an answer given in the console"
export GATE=$TMP/gate
tui_start 100 30 --operator carol "$F/resume.json"
wait_idle
keys a
expect_screen "the ask" "CAUSE: text, one of deploy, database"
keys 2
expect_screen "answered, the next step runs" "● 2 Hold"
d=$(run_dir ask-resume)
# A crash: the process dies at once (its pid is in the journal's header).
pid=$(head -1 "$d/journal.jsonl" | sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
kill -9 "$pid"
tui_exit
touch "$GATE"
run "$RBC" resume --batch --unfinished rerun "$d"
expect_eq "the run resumes to PASS" "$RC" 0
expect_nomatch "… not asking again" "$OUT" 'needs operator'
expect_match "… the answer given in the console is the variable again" "$OUT" 'PASS +say +Cause database'

echo "# the form for required variables"
printf '%s\n' '{ "runbook": "ask-required", "title": "Required", "vars": {
  "VERSION": { "required": true, "pattern": "^v?[0-9]+\\.[0-9]+\\.[0-9]+$", "description": "The release to ship" },
  "STRATEGY": { "required": true, "choices": ["blue-green", "canary"], "description": "How it goes out" },
  "REPLICAS": { "type": "number", "default": 3 } },
  "steps": [ { "id": "ship", "title": "Ship ${VERSION} by ${STRATEGY}", "run": "echo $VERSION $STRATEGY" } ] }' >"$TMP/required.json"
tui_start 100 30 --operator dan "$TMP/required.json"
expect_screen "the console opens on the form" "Required variables"
expect_match "… listing each variable without a value, its rule and description" "$SCREEN" \
	'text, matching \^v\?\[0-9\]\+.*The release to ship'
expect_match "… the other" "$SCREEN" 'STRATEGY  = \(no value\)'
expect_nomatch "… not the ones with a default" "$SCREEN" 'REPLICAS'
expect_eq "… and nothing has run: no run directory" "$(ls "$TMP"/runs 2>/dev/null | grep -c ask-required)" 0
type_text 1.2
keys Enter
expect_screen "a value breaking the rule is refused with it" 'VERSION: "1.2" does not match the pattern'
keys BSpace BSpace BSpace
type_text v1.2.3
keys Enter
expect_screen "accepted: the next variable, its choices by key" "2  canary"
keys 2
expect_screen "every value given: the run's console opens with them" "Ship v1.2.3 by canary"
keys a
expect_screen "… and runs with them" "■ finished PASS"
expect_match "the run's header records the values" "$(journal_of ask-required | head -1)" \
	'"vars":\{"VERSION":"v1\.2\.3","STRATEGY":"canary"\}'
keys q
tui_exit
tui_start 100 30 --operator dan "$TMP/required.json"
expect_screen "the form again" "Required variables"
keys Escape
tui_exit
expect_eq "Esc leaves the form without running: exit 64" "$TUI_RC" 64
expect_match "… naming what had no value" "$SCREEN" 'quit at the form for required variables \(VERSION, STRATEGY without a value\); nothing'
expect_eq "… and no run exists but the first" "$(ls "$TMP"/runs | grep -c ask-required)" 1
tui_start 140 30 --operator dan --var STRATEGY=bluegreen "$TMP/required.json"
tui_exit
expect_eq "a bad value given is refused at once, no form (64)" "$TUI_RC" 64
expect_match "… with its rule" "$SCREEN" 'STRATEGY \(given\): "bluegreen" is not one of the choices'
run "$RBC" run --batch "$TMP/required.json"
expect_eq "batch keeps refusing a required variable without a value (64)" "$RC" 64
expect_match "… naming it" "$ERR" 'VERSION is required and has no value'
t_done
