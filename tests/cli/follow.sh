#!/usr/bin/env bash
# rbc follow: a read-only console on a run from its journal. A driver
# console (a tmux server of its own) walks a runbook with steps that take a
# second and a manual step; a follower console on the run shows each verdict
# as it is journaled, FOLLOWING and who drives, refuses the keys that act,
# still moves, and quits at once. A finished run opens complete; a hostile
# line (escape sequences in a step's text) is shown as text; a damaged line
# stops the following with its number.
. tests/lib.sh
. tests/tui.sh
F=$ROOT/tests/fixtures/follow/slow.json
export RBC_RUNS_DIR=$TMP/runs
trap 'drv kill-server >/dev/null 2>&1; tmx kill-server >/dev/null 2>&1; rm -rf "$TMP"' EXIT

# --- a run in progress ------------------------------------------------------------
drv new-session -d -x 120 -y 30 -s d \
	"env TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 RBC_RUNS_DIR='$RBC_RUNS_DIR' '$RBC' run --operator alice '$F'; sleep 600"
drv set-option -t d status off >/dev/null
dwait "operator alice" && ok "the driver's console is up" || fail "the driver's console is up" "" "$(dscreen)"
ID=$(ls "$RBC_RUNS_DIR")
tui_start 120 30 follow "$ID"
expect_screen "the header says FOLLOWING and who drives (the run header's operator and host)" \
	"FOLLOWING alice@$(hostname)"
expect_screen "the follower shows the steps, nothing run yet" "○ 1 First sleep"
expect_match "the status row's hints say read-only, not Enter run" "$(printf '%s\n' "$SCREEN" | tail -1)" \
	'read-only  j/k move  Tab output  \? help  q quit'
expect_nomatch "… no Enter run" "$(printf '%s\n' "$SCREEN" | tail -1)" 'Enter run'
drv send-keys -t d a
expect_screen "the first verdict reaches the follower as it is journaled" "✔ 1 First sleep"
expect_screen "so does the second" "✔ 2 Second sleep"
expect_screen "and a failure" "✘ 3 Failing check"
expect_screen "the manual step waiting for the driver shows as waiting" "◆ 4 Operator confirms"
keys Space
expect_screen "an acting key (Space: done) is refused with its message" "following: read-only"
expect_match "… and the manual step still waits" "$(row_of 'Operator confirms')" "◆ 4 Operator confirms"
keys Enter
expect_screen "Enter (run) is refused too" "following: read-only"
keys n
wait_for "following: read-only"
absent_note=$(screen | grep -c 'note:' || true)
expect_eq "n (a note) opens no prompt" "0" "$absent_note"
keys g
expect_screen "navigation still works (g: the first line)" "runbook $F"
keys j
expect_screen "j moves to the first step, its detail shown" "exit = 0 == 0"
keys '?'
expect_screen "the help opens" "this help"
keys Escape
drv send-keys -t d Space
expect_screen "the driver's answer reaches the follower" "✔ 4 Operator confirms"
expect_screen "the run's end too" "■ finished FAIL"
expect_screen "every step has its verdict" "✔ 5 Last step"
keys q
expect_screen "q quits at once, nothing to stop" "[exit 0]"
drv send-keys -t d q
dwait "[exit" >/dev/null || true

# --- a finished run opens complete ------------------------------------------------
tui_start 120 30 follow "$RBC_RUNS_DIR/$ID"
expect_screen "a finished run (by its directory) opens complete" "■ finished FAIL"
expect_match "with every verdict" "$SCREEN" "✔ 1 First sleep"
expect_match "… the failure" "$SCREEN" "✘ 3 Failing check"
expect_match "… the manual step done" "$SCREEN" "✔ 4 Operator confirms"
keys g j j j
expect_screen "the failing step's output excerpt (its sample's line) is shown" "broken"
keys q
expect_screen "q quits" "[exit 0]"

# --- a hostile line is shown as text -------------------------------------------
H=$RBC_RUNS_DIR/20261206T000000Z-slow-0001
mkdir -p "$H/out"
chmod 700 "$H"
sed -e "s/\"run\":\"$ID\"/\"run\":\"20261206T000000Z-slow-0001\"/" \
    -e '/"step":"slow\/bad"/s/"text":"[^"]*"/"text":"\\u001b[31mHOSTILE\\u001b]0;pwned\\u0007 end"/' \
	"$RBC_RUNS_DIR/$ID/journal.jsonl" >"$H/journal.jsonl"
grep -q 'HOSTILE' "$H/journal.jsonl" && ok "the hostile line is in the journal" || fail "the hostile line is in the journal" ""
tui_start 120 30 follow 20261206T000000Z-slow-0001
expect_screen "the run opens" "■ finished FAIL"
keys g j j j
expect_screen "the hostile text is shown" "HOSTILE"
row=$(row_of HOSTILE)
expect_nomatch "its escape sequences are shown as text, never obeyed" "$(screen -e | grep HOSTILE)" $'\e\\[31mHOSTILE'
expect_match "the ESC is visible on the row" "$row" '[^[:cntrl:]]\[31mHOSTILE'
keys q
wait_for "[exit"

# --- a damaged line -------------------------------------------------------------
D=$RBC_RUNS_DIR/20261206T000000Z-slow-0002
mkdir -p "$D/out"
chmod 700 "$D"
sed -e "s/\"run\":\"$ID\"/\"run\":\"20261206T000000Z-slow-0002\"/" \
	"$RBC_RUNS_DIR/$ID/journal.jsonl" >"$D/journal.jsonl"
tui_start 120 30 follow 20261206T000000Z-slow-0002
expect_screen "a finished run copied opens" "■ finished FAIL"
n=$(wc -l <"$D/journal.jsonl")
printf '{"seq":%d,"t":"2026-12-06T00:00:00.000Z","ev":"step_st' "$n" >>"$D/journal.jsonl"
keys j
wait_idle >/dev/null
printf 'arted","step":"slow/last","number":"5","title":"Last step"}\n' >>"$D/journal.jsonl"
expect_screen "a line written in two parts is taken whole once its newline comes (the step runs again)" "● 5 Last step"
absent_stop=$(screen | grep -c 'following stopped' || true)
expect_eq "… and was never taken torn" 0 "$absent_stop"
n=$((n + 2))
printf '{"seq":999,"t":"2026-12-06T00:00:00.000Z","ev":"note","step":"slow/hand","text":"late"}\n' >>"$D/journal.jsonl"
expect_screen "a damaged line arriving stops the following, with its number" "following stopped: journal line $n"
expect_screen "the header says so" "· stopped"
keys q
wait_for "[exit"
sed -i '4s/"seq":3/"seq":9/' "$D/journal.jsonl"
tui_start 120 30 follow 20261206T000000Z-slow-0002
expect_screen "a journal damaged before its end is refused at the start with FILE:LINE (65)" "journal.jsonl:4: seq 9"
expect_match "… exit 65" "$SCREEN" '\[exit 65\]'

# --- a runbook changed since the run started -----------------------------------
cp "$F" "$TMP/changed.json"
"$RBC" run --batch "$TMP/changed.json" >/dev/null 2>&1
C=$(ls -t "$RBC_RUNS_DIR" | head -1)
sed -i 's/Last step/Final step/' "$TMP/changed.json"
tui_start 120 30 follow "$C"
expect_screen "a runbook changed since the run started is said" "changed.json changed since the run started"
keys q
wait_for "[exit"

# --- an incident: its header and timeline ------------------------------------
cat >"$TMP/inc.json" <<'JSON'
{ "runbook": "inc-follow", "title": "Incident followed", "kind": "incident",
  "roles": ["incident-commander"],
  "severities": [
    { "id": "SEV1", "name": "Outage", "restore": "1h" },
    { "id": "SEV2", "name": "Degraded", "restore": "4h" } ],
  "steps": [
    { "id": "health", "title": "Health answers", "run": "exit 1", "expect": "exit == 0", "on_fail": "continue" } ] }
JSON
"$RBC" run --batch --operator carol --severity SEV2 --title "Checkout down" "$TMP/inc.json" >/dev/null 2>&1
I=$(ls -t "$RBC_RUNS_DIR" | head -1)
tui_start 120 30 follow "$I"
expect_screen "an incident's header line is shown" "SEV2 Degraded · investigating"
expect_screen "… its title and roles" "Checkout down · unassigned: incident-commander"
expect_screen "… and its timeline" "declared SEV2 Degraded — Checkout down (carol)"
keys S
expect_screen "an incident key (S: severity) is refused" "following: read-only"
keys q
wait_for "[exit"

# --- usage -----------------------------------------------------------------------
"$RBC" follow </dev/null >/dev/null 2>"$TMP/err"; rc=$?
expect_eq "no run: usage (64)" 64 "$rc"
"$RBC" follow nosuchrun </dev/null >/dev/null 2>"$TMP/err"; rc=$?
expect_eq "no terminal: refused (64)" 64 "$rc"
"$RBC" --help | grep -q 'rbc follow' && ok "rbc --help lists follow" || fail "rbc --help lists follow" ""
t_done
