#!/usr/bin/env bash
# The wait action (docs/runbook-format.md, "Waiting"): in batch a 1 s wait
# waits its second and passes, ${PAUSE} read when it runs, a fixed clock
# does not speed it; bad durations are refused by rbc check at their line
# and column, a variable that holds none makes the step an ERROR; a wait
# cut short by a crash runs again on resume; in the console it counts down
# in the detail pane and on the status line, and s with a reason ends it
# early: DONE PASS, who and why on screen, in the journal and the export.
# The console checks wait for text on the screen; nothing sleeps a fixed time.
. tests/lib.sh
. tests/tui.sh
F=$ROOT/tests/fixtures/wait

# --- batch ---------------------------------------------------------------------
echo "# batch"
t0=$(date +%s%N)
run env RBC_RUNS_DIR="$TMP/runs" "$RBC" run --batch "$F/soak.json"
t1=$(date +%s%N)
expect_eq "a 1s wait: the run passes" "$RC" 0
expect_match "… the wait PASSes, saying how long it waited" "$OUT" '^PASS +soak +Soak — waited 1s$'
expect_match "… the step after it runs" "$OUT" '^PASS +after +After'
dir=$(ls -d "$TMP"/runs/*-soak-* | tail -1)
line=$(grep '"ev":"step_finished","step":"soak/soak"' "$dir/journal.jsonl")
ms=$(printf '%s' "$line" | sed -n 's/.*"duration_ms":\([0-9]*\).*/\1/p')
[ "${ms:-0}" -ge 1000 ] && ok "… its duration_ms is at least 1000 ($ms)" || fail "… its duration_ms is at least 1000" "$line"
expect_match "… the journal says done PASS" "$line" '"verdict":"PASS","state":"done"'
[ $(((t1 - t0) / 1000000)) -ge 1000 ] && ok "… the run took at least a second" || fail "… the run took at least a second" "$(((t1 - t0) / 1000000)) ms"

t0=$(date +%s%N)
run env RBC_RUNS_DIR="$TMP/runs" RBC_TEST_NOW=2026-11-23T02:00:00Z "$RBC" run --batch "$F/soak.json"
t1=$(date +%s%N)
expect_eq "with RBC_TEST_NOW: the run passes" "$RC" 0
[ $(((t1 - t0) / 1000000)) -ge 1000 ] && ok "… a fixed clock does not speed the wait" || fail "… a fixed clock does not speed the wait" "$(((t1 - t0) / 1000000)) ms"

run env RBC_RUNS_DIR="$TMP/runs" "$RBC" run --batch --var PAUSE=soon "$F/soak.json"
expect_eq "a variable that holds no duration: the run ends ERROR" "$RC" 3
expect_match "… the wait is an ERROR naming the value and where it came from" "$OUT" \
	'^ERROR +soak +Soak — wait: bad duration "soon" \(from "\$\{PAUSE\}"\)'

# --- rbc check -----------------------------------------------------------------
echo "# rbc check"
run "$RBC" check "$F/soak.json"
expect_eq "a valid wait passes rbc check" "$RC" 0
run "$RBC" check docs/examples/wait.json
expect_eq "… the format guide's example too" "$RC" 0
run "$RBC" check tests/fixtures/bad/wait-duration.json
expect_eq "bad durations are refused" "$RC" 65
expect_match "… an unknown unit, at its line and column" "$ERR" 'wait-duration.json:5:54: steps\[0\]\.wait: bad duration "10 parsecs": unknown unit'
expect_match "… a number" "$ERR" 'wait-duration.json:6:52: steps\[1\]\.wait: expected a duration such as "10m" or "\$\{PAUSE\}"'
expect_match "… zero" "$ERR" 'wait-duration.json:7:49: steps\[2\]\.wait: duration must be greater than 0'
expect_match "… an unclosed \${" "$ERR" 'wait-duration.json:8:50: steps\[3\]\.wait: unclosed "\$\{"'

# --- resume ----------------------------------------------------------------------
echo "# resume"
rm -rf "$TMP/runs-crash"
RBC_RUNS_DIR="$TMP/runs-crash" "$RBC" run --batch --var PAUSE=2s "$F/soak.json" >/dev/null 2>&1 &
pid=$!
deadline=$((SECONDS + 20))
until grep -qs '"ev":"step_started","step":"soak/soak"' "$TMP"/runs-crash/*/journal.jsonl || [ $SECONDS -ge $deadline ]; do
	sleep 0.02
done
kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
dir=$(ls -d "$TMP"/runs-crash/* | tail -1)
run env RBC_RUNS_DIR="$TMP/runs-crash" "$RBC" resume --batch --unfinished rerun "$dir"
expect_eq "a run killed during a wait resumes to its end" "$RC" 0
expect_match "… the wait cut short runs again" "$OUT" '^AGAIN +soak +Soak'
expect_match "… in full, and passes" "$OUT" '^PASS +soak +Soak — waited 2s$'
expect_match "… then the step after it" "$OUT" '^PASS +after +After'

# --- the console -------------------------------------------------------------------
echo "# the console"
tui_start 120 30 --operator alice --var PAUSE=10m "$F/soak.json"
wait_idle
keys a
expect_screen_re "the detail pane counts the wait down" 'wait 9m5[0-9]s left · s ends it early'
expect_screen_re "… and the status line" '2 Soak: 9m5[0-9]s left \(s ends it\)'
first=$(printf '%s\n' "$SCREEN" | grep -o 'wait 9m5[0-9]s left' | head -1)
now=$first
deadline=$((SECONDS + 5))
while [ "$now" = "$first" ] && [ $SECONDS -lt $deadline ]; do
	sleep 0.05
	now=$(screen | grep -o 'wait 9m5[0-9]s left' | head -1)
done
[ -n "$now" ] && [ "$now" != "$first" ] && ok "… the time left goes down ($first, then $now)" \
	|| fail "… the time left goes down" "still: $first" "$(screen)"
keys s
expect_screen "s on a running wait asks why" "End the wait early, why?"
type_text "metrics are flat"
keys Enter
expect_screen "… the run goes on to its end" "■ finished PASS"
expect_match "… the wait is done" "$SCREEN" '│ +✔ 2 Soak'
keys k
expect_screen "the detail pane says who ended it and why" "✔ PASS  ended early by alice: metrics are flat"
keys e
expect_screen_re "the run is exported" 'exported deployment-log\.md \+ export\.json'
dir=$(ls -d "$TMP"/runs/*-soak-* | tail -1)
line=$(grep '"ev":"step_finished","step":"soak/soak"' "$dir/journal.jsonl")
expect_match "the journal: done PASS, who (by) and why (note)" "$line" \
	'"verdict":"PASS","state":"done".*"note":"metrics are flat","text":"ended early by alice: metrics are flat","by":"alice"'
md=$(cat "$dir/deployment-log.md" 2>/dev/null)
expect_match "the deployment log's table says who and why" "$md" '^\| 2 \| Soak \| ✅ PASS \| ended early by alice: metrics are flat \| alice \|'
expect_match "… its manual steps and notes too" "$md" '^- 2 Soak — done by alice: metrics are flat$'
keys q
tui_exit
expect_eq "the console exits 0" "$TUI_RC" 0

# s on a step that is no wait and no manual step says what it does.
tui_start 120 30 --operator alice "$F/soak.json"
wait_idle
keys j
keys s
expect_screen "s elsewhere says what it is for" "s skips a manual step or ends a wait early"
keys q
tui_exit
t_done
