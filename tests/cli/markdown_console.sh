#!/usr/bin/env bash
# A Markdown runbook in the console at 80x24 (docs/markdown-runbooks.md):
# Japanese headings and task items align in the step tree, a shell block
# nobody annotated stops `a` with its confirmation, the detail pane says
# where in the Markdown the step comes from, and y runs it.
. tests/lib.sh
. tests/tui.sh
cd tests/fixtures/markdown || exit 1

# widths SCREEN: for each row, the display column of the tree pane's right
# border (wide characters count two); "bad" when a row is wider than 80.
widths() {
	python3 -c '
import sys, unicodedata
for row in sys.stdin.read().split("\n"):
    col, at = 0, -1
    for ch in row:
        if col < 40 and ch == "│" and at < 0 and col > 0:
            at = col
        col += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
    if col > 80:
        print("bad", col, row)
    elif at >= 0:
        print(at)
' <<<"$1"
}

tui_start 80 24 --operator alice good/ja-release.md
wait_idle
expect_screen "a Japanese heading is a group in the tree" "▾ ○ 1 ✅ 事前確認"
expect_screen "a Japanese task item is a step in the tree" "1.1.2 未コミットの"
w=$(widths "$SCREEN")
expect_eq "every row of the tree ends at the same column, none wider than 80" "$(sort -u <<<"$w" | paste -sd' ' -)" "31"

keys j j j
expect_screen "the detail pane shows the block's command" "git status --short"
expect_screen "… its implicit confirmation" "confirm Run this command from the document?"
expect_screen "… and where it comes from in the Markdown" "from good/ja-release.md:21"

keys a
expect_screen "a stops at the unannotated shell block and asks" "Run this command from the document? [y/N]"
expect_screen "… the step waits for the answer" "◆ CONFIRM?"
w=$(widths "$SCREEN")
expect_eq "rows still align while it asks" "$(sort -u <<<"$w" | grep -v '^$' | paste -sd' ' -)" "31"
keys y
expect_screen_re "y runs it" '✔ 1\.1\.1 作業ブランチ'
expect_screen "then a stops at the next manual step" "Space done · f failed · s skip · n note"
keys q
wait_for "[y/N]" 5 && keys y
tui_exit
