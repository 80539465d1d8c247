#!/usr/bin/env bash
# A command fed its input (docs/runbook-format.md, "Feeding a command its
# input"): "stdin" text, ${NAME} expanded, reaches a run or nagios step's
# standard input, then EOF; without it stdin is /dev/null; a secret fed on
# stdin works and is never journaled, exported or spooled in clear; 1 MiB
# fed to a command that prints 4 MB before it reads does not deadlock (the
# loop writes while it reads); rbc check refuses stdin elsewhere; the
# console shows what is fed, as written.
. tests/lib.sh
. tests/tui.sh
F=$ROOT/tests/fixtures/stdin

# --- batch -----------------------------------------------------------------------
echo "# batch"
run env PASSPHRASE=open-sesame-42 RBC_RUNS_DIR="$TMP/runs" "$RBC" run --batch "$F/feed.json" </dev/null
expect_eq "every step fed its input passes" "$RC" 0
expect_match "… the text reaches stdin, variables expanded" "$OUT" '^PASS +hello +Hello — stdout = "hello world\\nsecond line\\n"'
expect_match "… a secret fed on stdin is read by the command" "$OUT" '^PASS +secret +Secret on stdin'
expect_match "… without stdin the command reads /dev/null" "$OUT" '^PASS +none +No stdin'
expect_match "… an empty stdin is EOF at once" "$OUT" '^PASS +empty +Empty stdin'
expect_match "… a nagios plugin is fed too" "$OUT" '^PASS +plugin +A plugin fed its input'
dir=$(ls -d "$TMP"/runs/*-feed-* | tail -1)

run env PASSPHRASE=open-sesame-42 RBC_RUNS_DIR="$TMP/runs" "$RBC" run --batch "$F/echo-secret.json" </dev/null
expect_eq "a command that prints the secret it was fed passes" "$RC" 0
edir=$(ls -d "$TMP"/runs/*-echo-secret-* | tail -1)
expect_nomatch "… the secret is never in the journal" "$(cat "$dir/journal.jsonl" "$edir/journal.jsonl")" 'open-sesame-42'
expect_match "… it is masked there" "$(cat "$edir/journal.jsonl")" 'you said ••••'
expect_nomatch "… nor in the spooled output" "$(cat "$edir"/out/* 2>/dev/null)" 'open-sesame-42'
run "$RBC" export "$edir" --format md
expect_nomatch "… nor in the export" "$OUT" 'open-sesame-42'
expect_nomatch "… nor on batch output" "$(env PASSPHRASE=open-sesame-42 RBC_RUNS_DIR="$TMP/runs" "$RBC" run --batch "$F/echo-secret.json" 2>&1)" 'open-sesame-42'

# 1 MiB fed to a command that first prints 4 MB: a blocking write would wait
# for a reader that waits for its output to be read.
python3 - "$TMP/big.json" <<'PY'
import json, sys
big = "y" * (1 << 20)
json.dump({"runbook": "big", "title": "Big input", "steps": [
    {"id": "big", "title": "1 MiB in after 4 MB out", "timeout": "60s",
     "run": "head -c 4000000 /dev/zero | tr '\\0' x; wc -c", "stdin": big,
     "expect": "stdout =~ /1048576/ && stdout_bytes > 4000000"}]}, open(sys.argv[1], "w"))
PY
t0=$(date +%s%N)
run env RBC_RUNS_DIR="$TMP/runs" "$RBC" run --batch "$TMP/big.json" </dev/null
t1=$(date +%s%N)
expect_eq "1 MiB fed after 4 MB printed: no deadlock, the step passes" "$RC" 0
expect_match "… every byte fed was read" "$OUT" '^PASS +big +1 MiB in after 4 MB out'
echo "# 1 MiB in after 4 MB out: $(((t1 - t0) / 1000000)) ms"

# A command that exits without reading what it is fed: no hang, no error.
printf '%s' '{"runbook":"noread","title":"T","steps":[{"id":"x","title":"Ignores stdin","run":"exit 0","stdin":"'"$(head -c 300000 /dev/zero | tr '\0' z)"'"}]}' >"$TMP/noread.json"
run env RBC_RUNS_DIR="$TMP/runs" "$RBC" run --batch "$TMP/noread.json" </dev/null
expect_eq "a command that never reads its input still passes" "$RC" 0

# --- rbc check -------------------------------------------------------------------
echo "# rbc check"
run "$RBC" check docs/examples/stdin.json
expect_eq "the format guide's example passes rbc check" "$RC" 0
run "$RBC" check tests/fixtures/bad/stdin-bad.json
expect_eq "bad stdin keys are refused" "$RC" 65
expect_match "… on an http step" "$ERR" 'stdin-bad.json:5:63: steps\[0\]\.stdin: "stdin" applies only to a run or nagios step \(this one is "http"\)'
expect_match "… not text" "$ERR" 'steps\[1\]\.stdin: expected a string, got an array'
expect_match "… an unclosed \${" "$ERR" 'steps\[2\]\.stdin: unclosed "\$\{"'
expect_match "… misspelt" "$ERR" 'steps\[3\]\.stdn: unknown key "stdn" \(did you mean "stdin"\?\)'

# --- the console -------------------------------------------------------------------
echo "# the console"
TUI_ENV="PASSPHRASE=open-sesame-42" tui_start 120 30 --operator alice "$F/feed.json"
wait_idle
keys j
expect_screen "the detail pane shows what is fed, as written" 'stdin: hello ${WHO}'
keys j
expect_screen "… a secret's name, never its value" 'stdin: ${PASSPHRASE}'
keys a
expect_screen "the run passes in the console" "■ finished PASS"
expect_nomatch "… the secret never on screen" "$SCREEN" 'open-sesame-42'
keys q
tui_exit
expect_eq "the console exits 0" "$TUI_RC" 0
t_done
