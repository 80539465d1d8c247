#!/usr/bin/env bash
# Commands that need a terminal (docs/runbook-format.md, "Commands that need
# a terminal"): in the console a "tty" step's command gets the terminal (the
# console steps aside), reads what is typed, and the console comes back and
# judges its exit; in batch without a terminal the step is UNKNOWN "needs a
# terminal", with one (script) it runs on it; rbc check refuses tty on other
# steps, a non-boolean and tty with stdin. Console checks wait for text.
. tests/lib.sh
. tests/tui.sh
F=$ROOT/tests/fixtures/tty

# --- batch -----------------------------------------------------------------------
echo "# batch"
run env RBC_RUNS_DIR="$TMP/runs-batch" "$RBC" run --batch "$F/ask.json" </dev/null
expect_eq "batch without a terminal: the run is UNKNOWN (exit 3)" "$RC" 3
expect_match "… the tty step needs a terminal" "$OUT" '^UNKNOWN +ask +Switch over — needs a terminal'
expect_match "… the run goes on to the next step" "$OUT" '^PASS +after +After'
dir=$(ls -d "$TMP"/runs-batch/*-ask-* | tail -1)
expect_match "… the journal says so" "$(cat "$dir/journal.jsonl")" '"step":"ask/ask".*"verdict":"UNKNOWN".*needs a terminal'

if command -v script >/dev/null 2>&1; then
	printf 'yes\n\n' >"$TMP/answers"
	run script -qec "env RBC_RUNS_DIR='$TMP/runs2' '$RBC' run --batch '$F/ask.json'" /dev/null <"$TMP/answers"
	expect_match "batch on a terminal: the command runs on it and reads it" "$OUT" 'got yes'
	expect_match "… its exit 3 is judged" "$OUT" 'FAIL +ask +Switch over — exit = 3 != 0'
else
	fail "script(1) is installed" "util-linux provides it"
fi

# --- rbc check -------------------------------------------------------------------
echo "# rbc check"
run "$RBC" check "$F/ask.json"
expect_eq "a tty run step passes rbc check" "$RC" 0
run "$RBC" check docs/examples/tty.json
expect_eq "… the format guide's example too" "$RC" 0
run "$RBC" check tests/fixtures/bad/tty-bad.json
expect_eq "bad tty keys are refused" "$RC" 65
expect_match "… on an http step" "$ERR" 'tty-bad.json:5:63: steps\[0\]\.tty: "tty" applies only to a run step \(this one is "http"\)'
expect_match "… on a nagios step" "$ERR" 'steps\[1\]\.tty: "tty" applies only to a run step \(this one is "nagios"\)'
expect_match "… not a boolean" "$ERR" 'steps\[2\]\.tty: expected true or false, got a string'
expect_match "… with stdin" "$ERR" 'steps\[3\]\.stdin: a step with "tty": true reads the terminal'
expect_match "… misspelt" "$ERR" 'steps\[5\]\.ttty: unknown key "ttty" \(did you mean "tty"\?\)'

# --- the console -------------------------------------------------------------------
echo "# the console"
tui_start 100 30 --operator alice "$F/ask.json"
wait_idle
keys a
expect_screen "the console steps aside: the command asks on the terminal" "Proceed?"
expect_nomatch "… the console is not drawn meanwhile" "$SCREEN" 'Switch over'
type_text "yes"
keys Enter
expect_screen "… the command reads what is typed" "got yes"
keys Enter
expect_screen "the console comes back when it exits" "■ finished FAIL"
expect_match "… the tty step is judged on its exit" "$SCREEN" '✘ 1 Switch over'
expect_match "… the next step ran" "$SCREEN" '✔ 2 After'
keys k
expect_screen "the detail pane says why: exit 3" "FAIL  exit = 3 != 0"
expect_match "… and that its output went to the terminal" "$SCREEN" 'output not captured'
dir=$(ls -d "$TMP"/runs/*-ask-* | tail -1)
expect_match "the journal has the FAIL" "$(cat "$dir/journal.jsonl")" '"step":"ask/ask".*"verdict":"FAIL"'
keys q
tui_exit
expect_eq "the console exits with FAIL's status" "$TUI_RC" 2

# Another step runs on while the command holds the terminal: the loop goes on,
# its result is journaled meanwhile and shown once the console is back.
tui_start 100 30 --operator alice "$F/parallel.json"
wait_idle
keys a
expect_screen "a parallel tty step asks on the terminal" "Proceed?"
deadline=$((SECONDS + 20))
until grep -qs '"ev":"step_finished","step":"par/bg"' "$TMP"/runs/*-par-*/journal.jsonl || [ $SECONDS -ge $deadline ]; do
	sleep 0.05
done
line=$(grep -hs '"ev":"step_finished","step":"par/bg"' "$TMP"/runs/*-par-*/journal.jsonl)
expect_match "… the step beside it finishes and is journaled while the terminal is lent" "$line" '"verdict":"PASS"'
expect_match "… the console is still aside" "$(screen)" 'Proceed\?'
type_text "yes"
keys Enter
expect_screen "the console comes back with both results" "■ finished PASS"
expect_match "… the tty step passed" "$SCREEN" '✔ 1\.1 Ask'
expect_match "… the step beside it too" "$SCREEN" '✔ 1\.2 Background'
keys q
tui_exit
expect_eq "the console exits 0" "$TUI_RC" 0
# Two tty steps at once: the second waits for the terminal, then has it.
tui_start 100 30 --operator alice "$F/two.json"
wait_idle
keys a
expect_screen "two tty steps in parallel: the first has the terminal" "First?"
expect_nomatch "… the second waits" "$SCREEN" 'Second\?'
type_text "one"
keys Enter
expect_screen "… once it exits, the second has it" "Second?"
type_text "two"
keys Enter
expect_screen "… then the console is back" "■ finished PASS"
expect_match "… both passed" "$SCREEN" '✔ 1\.1 First'
expect_match "… both passed (2)" "$SCREEN" '✔ 1\.2 Second'
keys q
tui_exit
expect_eq "the console exits 0" "$TUI_RC" 0
t_done
