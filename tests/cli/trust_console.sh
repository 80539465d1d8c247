#!/usr/bin/env bash
# What the console says matches what the run is and what the record keeps:
# a runbook's description in the detail pane (wrapped by display width, its
# escapes shown, never obeyed).
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

t_done
