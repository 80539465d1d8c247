#!/usr/bin/env bash
# A declined confirmation follows the step's on_decline: skip (the default:
# the run goes on after it), stop (nothing after it runs; the run is not
# passed), or goto:<id> (the run goes on from that step). rbc check refuses
# a bad value, a target that does not exist and on_decline without confirm.
. tests/lib.sh
. tests/tui.sh
F=$ROOT/tests/fixtures/on_decline
export TUI_ENV="RBC_TEST_NOW=2026-11-23T02:00:00Z"
quit() { keys q; tui_exit; }
journal_of() { cat "$(ls -d "$TMP"/runs/*-"$1"-* 2>/dev/null | tail -1)/journal.jsonl" 2>/dev/null; }

echo "# on_decline: goto"
tui_start 100 30 --operator tester "$F/goto.json"
wait_idle
keys a
expect_screen "the confirmation is asked" "Switch production traffic? [y/N]"
keys n
expect_screen "declined: the run goes to the target and on to its end, not passed (a step was jumped over)" "■ finished UNKNOWN"
expect_match "… the declined step is skipped" "$SCREEN" '│ +⏭ 1 Switch traffic'
expect_match "… the target ran" "$SCREEN" '│ +✔ 3 Keep blue live'
expect_nomatch "… the step between them never ran" "$SCREEN" '✔ 2 Verify the switch'
j=$(journal_of decline-goto)
expect_match "the journal records the jump, with who declined" "$j" '"ev":"jump","step":"decline-goto/switch","number":"1","target":"decline-goto/keep".*"text":"on_decline of switch: declined by tester"'
expect_nomatch "… and no start of the step between" "$j" '"ev":"step_started","step":"decline-goto/verify"'
quit

echo "# on_decline: stop"
tui_start 100 30 --operator tester "$F/stop.json"
wait_idle
keys a
expect_screen "the confirmation is asked" "Switch production traffic? [y/N]"
keys n
expect_screen "declined: the run stops there, as a stop on failure does (FAIL)" "■ finished FAIL"
expect_match "… the declined step is skipped" "$SCREEN" '⏭ 1\.1 Switch traffic'
expect_match "… its group ended, stopped (not skipped)" "$SCREEN" '✘ 1 Go live'
expect_nomatch "… nothing after it ran" "$SCREEN" '✔ (1\.2 Verify the switch|2 Announce the release)'
j=$(journal_of decline-stop)
expect_nomatch "the journal has no start of a later step" "$j" '"ev":"step_started","step":"decline-stop/(go/verify|announce)"'
expect_nomatch "… and the run is not PASS" "$(printf '%s\n' "$j" | grep '"ev":"run_finished"')" '"verdict":"PASS"'
quit

echo "# rbc check"
bad() { # bad NAME JSON-STEP-KEYS MESSAGE-REGEX
	printf '{ "runbook": "b", "title": "B", "steps": [ { "id": "s", "title": "S", "run": "true"%s }, { "id": "t", "title": "T", "run": "true" } ] }\n' "$2" >"$TMP/$1.json"
	run "$RBC" check "$TMP/$1.json"
	expect_eq "$1: refused (65)" "$RC" 65
	expect_match "… $3" "$ERR" "$4"
}
bad value ', "confirm": "Go?", "on_decline": "later"' "names the choices" \
	'value\.json:1:[0-9]+: steps\[0\]\.on_decline.*expected "skip", "stop" or "goto:<step id>", got "later"'
bad target ', "confirm": "Go?", "on_decline": "goto:tt"' "says the target does not exist, with did you mean" \
	'goto target "tt" does not exist \(did you mean "t"\?\)'
bad noconfirm ', "on_decline": "stop"' "says it needs a confirm" \
	'"on_decline" applies only to a step with "confirm"'
printf '{ "runbook": "g", "title": "G", "steps": [ { "id": "s", "title": "S", "run": "true", "confirm": "Go?", "on_decline": "skip" } ] }\n' >"$TMP/good.json"
run "$RBC" check "$TMP/good.json"
expect_eq "on_decline: skip with a confirm is accepted" "$RC" 0
t_done
