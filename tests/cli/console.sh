#!/usr/bin/env bash
# The console in tmux at fixed sizes: walking a runbook to the end, manual
# steps with notes and skips, confirmations refused and accepted, a failure
# and its explanation, folding groups, searching the output, the help, quitting
# while a step runs, resizing, Japanese titles, themes and NO_COLOR, and keys
# that still move while a step prints 100 MB. Every check waits for text on
# the screen; nothing sleeps a fixed time.
. tests/lib.sh
. tests/tui.sh
F=$ROOT/tests/fixtures/console
export TUI_ENV="RBC_TEST_NOW=2026-11-23T02:00:00Z"

# --- opening -------------------------------------------------------------------
tui_start 100 30 --operator tester "$F/walk.json"
expect_screen "the header names the runbook, the environment and the operator" \
	" rbc · walk · env staging · operator tester"
expect_screen_re "the status bar says idle when nothing runs" ' idle *$'
expect_match "the tree lists every step with its state glyph and number" "$SCREEN" '○ 1\.1 Lint passes'
expect_match "a group shows its done/total count" "$(row_of '1 Checks')" '1 Checks +0/2│'
expect_match "the detail pane says the state in words" "$SCREEN" '○ PENDING'
expect_match "the fixed clock shows no time passing" "$(row_of ' rbc · walk')" 'ready · 00:00:00'

# --- walking it: a, a manual step, a confirmation, a failure ---------------------
keys a
expect_screen "a runs until the manual step, which is selected and says what to do" "Ask the product owner for the go."
expect_match "… with the keys that answer it" "$SCREEN" 'Space done · f failed · s skip · n note'
expect_match "… and its state in words" "$SCREEN" '◆ WAITING'
keys n; type_text "go given in #releases"; keys Enter
keys Space
expect_screen "the confirmation is asked before the step runs, no by default" "Switch production traffic? [y/N]"
keys y
expect_screen "the run goes to its end" "■ finished"
expect_match "the finished run counts its failure" "$(screen | tail -1)" '6/6 · 1 failed'
keys k
expect_screen_re "the failed step's explanation is in the detail pane" '✘ FAIL  exit = 1 != 0'
expect_match "its stderr is in the output pane" "$SCREEN" 'GET /health -> 503'
keys k k
expect_screen "the manual step keeps the operator and the note" "done by tester: go given in #releases"
keys q
if tui_exit; then expect_eq "quitting a finished run exits with its verdict (FAIL: 2)" "$TUI_RC" 2
else fail "quitting a finished run exits" "$SCREEN"; fi
expect_match "… and prints where the run is kept" "$SCREEN" 'rbc: FAIL — 6 of 6 steps finished — run [0-9]{8}T[0-9]{6}Z-walk-'

# --- refusing a confirmation; skipping with a reason ------------------------------------
tui_start 100 30 --operator tester "$F/walk.json"
wait_idle
keys j j j j
expect_screen "j moves down the tree" "2 Product owner signs off ─"
keys s; type_text "product owner on holiday"; keys Enter
expect_screen "skip asks a reason and keeps it" "skipped by tester: product owner on holiday"
expect_match "a skipped step shows ⏭" "$SCREEN" '│ +⏭ 2 Product owner signs off'
keys a
expect_screen "the confirmation comes" "Switch production traffic? [y/N]"
keys n
expect_screen "refused, the step does not run and says who refused" "not confirmed by tester"
expect_match "… and the run pauses there" "$(row_of 'Smoke test')" '○ 4 Smoke test'
keys a
expect_screen "a goes on after the refused step" "■ finished"
keys q; tui_exit

# --- folding, search, help ----------------------------------------------------------------
tui_start 100 30 --operator tester "$F/walk.json"
wait_idle
keys a
wait_for "Ask the product owner"
keys Space
wait_for "[y/N]"; keys y
wait_for "■ finished"
keys g j
wait_for "1 Checks"
keys h
expect_screen "h folds a group: ▸ and its steps hidden" "▸ ✔ 1 Checks"
if printf '%s' "$SCREEN" | grep -q 'Lint passes'; then fail "… its steps are hidden" "$SCREEN"; else ok "… its steps are hidden"; fi
keys l
expect_screen "l unfolds it" "1.1 Lint passes"
keys j j
wait_for "1.2 Log lines"
keys / ; type_text "needle"; keys Enter
expect_screen "search moves the output to the match and names the pattern" "/needle"
expect_match "… the matching line is shown" "$SCREEN" 'needle in the log'
expect_match "… scrolled back from the newest line" "$SCREEN" 'output · 20 lines back'
keys '?'
expect_screen "? opens the help, generated from the key table" "run every remaining step"
expect_match "… every key is there" "$SCREEN" 'Ctrl-L'
keys x
if wait_re '^ .*idle *$' && ! screen | grep -q 'run every remaining step'; then ok "any key closes the help"
else fail "any key closes the help" "$(screen)"; fi
keys q; tui_exit

# --- quitting while something runs ---------------------------------------------------------
mark="rbc-console-$$-$RANDOM"
tui_start 100 30 --var MARK="$mark" "$F/long.json"
wait_idle
keys j Enter
expect_screen "Enter runs the selected step" "▶ running 1"
keys q
expect_screen "q asks while a step runs" "Steps are running. Quit and stop them? [y/N]"
keys n
expect_screen "n keeps running" "▶ running 1"
keys q y
if tui_exit; then ok "y quits"; else fail "y quits" "$SCREEN"; fi
left=$(pgrep -f "sleep 300; : $mark" | wc -l)
expect_eq "quitting stops the running command: no process left" "$left" 0

# --- resizing -------------------------------------------------------------------------------
tui_start 120 40 --operator tester "$F/walk.json"
wait_idle
tmx resize-window -t t -x 80 -y 24
expect_screen_re "at 80×24 the screen redraws to fit" '^└─+┘└─+┘$'
w=$(screen | awk '{ if (length($0) > m) m = length($0) } END { print m }')
[ "$(screen | wc -l)" -le 24 ] && ok "… 24 rows" || fail "… 24 rows" "$(screen)"
expect_match "… with the key hints still shown" "$(screen | tail -1)" 'idle'
tmx resize-window -t t -x 120 -y 40
expect_screen_re "and back to 120×40" "^ rbc · walk · env staging · operator tester {20,}"
keys q; tui_exit

# --- Japanese titles line up -------------------------------------------------------------------
tui_start 100 40 --operator tester "$ROOT/runbooks/ja/post-deploy.json"
wait_idle
SCREEN=$(screen)
cols=$(printf '%s\n' "$SCREEN" | sed -n '3,38p' | grep -E '[0-9]+/[0-9]+│' | python3 -c '
import sys, unicodedata
def w(s): return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 0 if unicodedata.combining(ch) else 1 for ch in s)
ends = set()
for line in sys.stdin:
    line = line.rstrip("\n")
    i = line.find("│", 1)
    ends.add(w(line[:i]))
print(" ".join(str(e) for e in sorted(ends)))')
expect_eq "group counts end in the same column whatever the width of the titles" "$cols" "$(printf '%s\n' "$SCREEN" | sed -n '2p' | python3 -c '
import sys, unicodedata
line = sys.stdin.read().rstrip("\n"); print(sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line[:line.find("┐")]))')"
if printf '%s\n' "$SCREEN" | grep -q 'デプロイ'; then ok "Japanese titles are shown"; else fail "Japanese titles are shown" "$SCREEN"; fi
expect_match "a title too long for the pane ends in … at a character boundary" "$SCREEN" '…│'
keys q; tui_exit

# --- themes and NO_COLOR -------------------------------------------------------------------------
declare -A seen
for th in default light high-contrast monochrome; do
	tui_start 100 30 --theme "$th" "$F/walk.json"
	wait_idle
	esc=$(screen -e)
	seen[$th]=$(printf '%s' "$esc" | grep -o $'\e\\[[0-9;]*m' | sort -u | tr -d '\n' | md5sum | cut -c1-8)
	if [ "$th" = monochrome ]; then
		if printf '%s' "$esc" | grep -Eq $'\e\\[([0-9;]*;)?(3[0-7]|38;5;[0-9]+|4[0-7]|48;5;[0-9]+|9[0-7])(;[0-9;]*)?m'; then
			fail "theme monochrome has no colour" "$(printf '%s' "$esc" | grep -o $'\e\\[[0-9;]*m' | sort -u | head)"
		else ok "theme monochrome has no colour"; fi
	else
		if printf '%s' "$esc" | grep -Eq $'\e\\[[0-9;]*(3[0-7]|38;5;[0-9]+|9[0-7])[;m]'; then ok "theme $th draws in colour"
		else fail "theme $th draws in colour" "$(printf '%s' "$esc" | head -3 | cat -v)"; fi
	fi
	keys q; tui_exit
done
n_distinct=$(printf '%s\n' "${seen[@]}" | sort -u | wc -l)
expect_eq "the four themes draw differently" "$n_distinct" 4
TUI_ENV="$TUI_ENV NO_COLOR=1" tui_start 100 30 "$F/walk.json"
wait_idle
if screen -e | grep -Eq $'\e\\[([0-9;]*;)?(3[0-7]|38;5;[0-9]+|4[0-7]|48;5;[0-9]+)(;[0-9;]*)?m'; then fail "NO_COLOR: no colour at all" "$(screen -e | head -3 | cat -v)"
else ok "NO_COLOR: no colour at all"; fi
expect_match "NO_COLOR: the state is still in glyphs and words" "$SCREEN" '○ PENDING'
keys q; tui_exit

# --- keys move while a step prints 100 MB ----------------------------------------------------------
tui_start 100 30 "$F/long.json"
wait_idle
keys j j Enter
expect_screen "the flood starts" "▶ running 1"
keys k
expect_screen_re "the selection moves while it prints" '^│ +○ 1 Sleeps'
keys j
expect_screen "… and back" "▶ running 1"
expect_screen_re "the output pane follows the flood, bounded" 'lines earlier'
if wait_re '│ +✔ 2 Prints 100 MB' 120; then ok "the 100 MB step finishes"
else fail "the 100 MB step finishes" "$SCREEN"; fi
keys q; tui_exit

t_done
