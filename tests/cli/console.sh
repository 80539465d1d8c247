#!/usr/bin/env bash
# The console in tmux at fixed sizes, one scenario per console started:
# walking a runbook to the end, manual steps with notes, skips and failures,
# confirmations refused and accepted, a failure and its explanation, the
# detail pane (variables, secrets, captures, retries), folding groups,
# searching and scrolling the output, the help, quitting while a step runs,
# resizing, Japanese titles, themes and NO_COLOR, and keys that still move
# while a step prints 100 MB. Every check waits for text on the screen;
# nothing sleeps a fixed time.
. tests/lib.sh
. tests/tui.sh
F=$ROOT/tests/fixtures/console
export TUI_ENV="RBC_TEST_NOW=2026-11-23T02:00:00Z"
SCENARIOS=0
# scenario NAME COLS ROWS ARGS...: a console of its own for each scenario.
scenario() {
	SCENARIOS=$((SCENARIOS + 1))
	echo "# scenario $SCENARIOS: $1"
	shift
	tui_start "$@"
}
# absent NAME TEXT: the screen (as last read) does not contain TEXT.
absent() {
	if printf '%s' "$SCREEN" | grep -qF -- "$2"; then fail "$1" "still shows: $2" "$SCREEN"
	else ok "$1"; fi
}
quit() { keys q; tui_exit; }

# --- opening ------------------------------------------------------------------
scenario "opening" 100 30 --operator tester "$F/walk.json"
expect_screen "the header names the runbook, the environment and the operator" \
	" rbc · walk · env staging · operator tester"
expect_screen_re "the status bar says idle when nothing runs" ' idle *$'
expect_match "the tree lists every step with its state glyph and number" "$SCREEN" '○ 1\.1 Lint passes'
expect_match "a group shows its done/total count" "$(row_of '1 Checks')" '1 Checks +0/2│'
expect_match "the detail pane says the state in words" "$SCREEN" '○ PENDING'
expect_match "the fixed clock shows no time passing" "$(row_of ' rbc · walk')" 'ready · 00:00:00'
expect_match "the status bar has the progress bar and the key hints" "$(printf '%s\n' "$SCREEN" | tail -1)" \
	'^ ░+ 0/6 +Enter run  a all  Space done  n note  \? help  q quit idle$'
quit

# --- walking it to the end: a, a manual step with a note, a confirmation ---------
scenario "walk to the end" 100 30 --operator tester "$F/walk.json"
wait_idle
keys a
expect_screen "a runs until the manual step, which is selected and says what to do" "Ask the product owner for the go."
expect_match "… with the keys that answer it" "$SCREEN" 'Space done · f failed · s skip · n note'
expect_match "… and its state in words" "$SCREEN" '◆ WAITING'
expect_match "… and the header says it is the operator's turn" "$(row_of ' rbc · walk')" '◆ your turn'
keys n; type_text "go given in #releases"; keys Enter
keys Space
expect_screen "the confirmation is asked before the step runs, no by default" "Switch production traffic? [y/N]"
keys y
expect_screen "the run goes to its end" "■ finished"
expect_match "the finished run counts its failure" "$(screen | tail -1)" '6/6 · 1 failed'
keys k k k
expect_screen "the manual step keeps the operator and the note" "done by tester: go given in #releases"
keys e
expect_screen_re "e exports the run's record into its directory" 'exported deployment-log\.md \+ export\.json'
exported=$(ls "$TMP"/runs/*-walk-*/export.json 2>/dev/null | tail -1)
if [ -n "$exported" ] && python3 - "$ROOT/docs/export.schema.json" "$exported" <<'PY'
import json, sys, jsonschema
d = json.load(open(sys.argv[2]))
jsonschema.validate(d, json.load(open(sys.argv[1])))
notes = [s.get("note") for s in d["steps"] if s["id"] == "walk/sign-off"]
sys.exit(0 if d["verdict"] == "FAIL" and notes == ["go given in #releases"] else 1)
PY
then ok "… a valid export, with the verdict and the manual step's note"
	md=$(dirname "$exported")/deployment-log.md
	expect_match "… and the deployment log beside it, with the note" "$(cat "$md" 2>/dev/null)" '2 Product owner signs off — done by tester: go given in #releases'
else fail "… a valid export, with the verdict and the manual step's note" "${exported:-no export.json}"; fi
quit
expect_eq "quitting a finished run exits with its verdict (FAIL: 2)" "$TUI_RC" 2
expect_match "… and prints where the run is kept" "$SCREEN" 'rbc: FAIL — 6 of 6 steps finished — run [0-9]{8}T[0-9]{6}Z-walk-'

# --- a failing step, run alone ---------------------------------------------------
scenario "a failing step and its explanation" 100 30 --operator tester "$F/walk.json"
wait_idle
keys G k
expect_screen "G and k reach the smoke test" "4 Smoke test ─"
keys Enter
expect_screen_re "the failed step's explanation is in the detail pane" '✘ FAIL +exit = 1 != 0'
expect_match "its stderr is in the output pane" "$SCREEN" 'GET /health -> 503'
expect_match "the tree shows ✘" "$SCREEN" '│ +✘ 4 Smoke test'
expect_match "the status bar counts it" "$(screen | tail -1)" '1/6 · 1 failed'
expect_match "the header says the run is paused, not finished" "$(row_of ' rbc · walk')" '‖ paused'
quit

# --- skipping with a reason -------------------------------------------------------
scenario "skip with a reason" 100 30 --operator tester "$F/walk.json"
wait_idle
keys j j j j
expect_screen "j moves down the tree" "2 Product owner signs off ─"
keys s
expect_screen "s asks for the reason" "Skip reason:"
type_text "product owner on holiday"; keys Enter
expect_screen "skip keeps the reason and who skipped" "skipped by tester: product owner on holiday"
expect_match "a skipped step shows ⏭" "$SCREEN" '│ +⏭ 2 Product owner signs off'
quit

# --- a manual step marked failed ---------------------------------------------------
scenario "a manual step marked failed" 100 30 --operator tester "$F/walk.json"
wait_idle
keys j j j j f
expect_screen "f asks why it failed" "Why did it fail?"
type_text "no answer"; keys Enter
expect_screen "the step is failed by the operator, with the note" "failed by tester: no answer"
expect_match "… ✘ in the tree" "$SCREEN" '│ +✘ 2 Product owner signs off'
quit

# --- a confirmation refused ----------------------------------------------------------
scenario "confirm refused" 100 30 --operator tester "$F/walk.json"
wait_idle
keys j j j j s; type_text "later"; keys Enter
wait_for "skipped by tester"
keys a
expect_screen "the confirmation comes" "Switch production traffic? [y/N]"
keys n
expect_screen "refused, the step does not run and says who refused" "declined by tester"
expect_screen "… skipped, and the run goes on after it" "■ finished"
expect_match "… the refused step is skipped" "$(row_of 'Switch traffic')" '⏭ 3 Switch traffic'
quit

# --- a confirmation: Enter is no, y is yes ----------------------------------------------
scenario "confirm: Enter refuses, y accepts" 100 30 --operator tester "$F/walk.json"
wait_idle
keys j j j j j
expect_screen "the confirm step is selected" "3 Switch traffic ─"
keys Enter
expect_screen "Enter runs it: the question first" "Switch production traffic? [y/N]"
keys Enter
expect_screen "Enter answers the default: no" "declined by tester"
keys Enter
expect_screen "asked again" "Switch production traffic? [y/N]"
keys y
expect_screen "y runs it" "│ switched"
expect_screen_re "… and it passes (shown once its end is on disk)" '│ +✔ 3 Switch traffic'
quit

# --- folding ------------------------------------------------------------------------------
scenario "collapse and expand" 100 30 --operator tester "$F/walk.json"
wait_idle
keys j j Enter
wait_for "1.1 Lint passes ─"
expect_screen_re "Enter ran 1.1 to its end" '│ +✔ 1\.1 Lint passes'
keys h
expect_screen "h on a step goes to its group" "1 Checks ─"
keys h
expect_screen_re "h folds a group: ▸ and its steps hidden" '▸ [^ ]+ 1 Checks'
absent "… its steps are hidden" "Lint passes"
expect_match "… its count still shows" "$(row_of '1 Checks  ')" '1/2│'
keys l
expect_screen "l unfolds it" "1.1 Lint passes"
quit

# --- searching the output -------------------------------------------------------------------
scenario "search in the output" 100 30 --operator tester "$F/walk.json"
wait_idle
keys j j j Enter
wait_for "line 320"
keys / ; type_text "needle"; keys Enter
expect_screen "search moves the output to the match and names the pattern" "/needle"
expect_match "… the matching line is shown" "$SCREEN" 'needle in the log'
expect_match "… scrolled back from the newest line" "$SCREEN" 'output · 20 lines back'
keys / Enter
expect_screen "/ and Enter looks for the next match" "no more match for /needle"
keys / ; type_text "haystack"; keys Enter
expect_screen "a pattern with no match says so" "no match for /haystack"
quit

# --- scrolling the output --------------------------------------------------------------------
scenario "Tab and scrolling the output" 100 30 --operator tester "$F/walk.json"
wait_idle
keys j j j Enter
wait_for "line 320"
keys Tab k
expect_screen "Tab gives the output the keys: k scrolls one line back" "output · 1 line back"
keys g
expect_screen "g goes to the oldest line kept" "line 1 of the log"
keys G
expect_screen "G follows the newest line again" "┌ output ─"
expect_match "… and the newest line is shown" "$SCREEN" 'line 320'
keys Tab j
expect_screen "Tab again: j moves the selection" "2 Product owner signs off ─"
quit

# --- the help ----------------------------------------------------------------------------------
scenario "help overlay" 100 30 --operator tester "$F/walk.json"
wait_idle
keys '?'
expect_screen "? opens the help, generated from the key table" "run every remaining step"
for k in 'j ↓' 'PgDn' 'g Home' 'Enter' 'Space' 'Tab' 'Ctrl-L' 'q Ctrl-C' 'S' 'R'; do
	expect_match "… it lists $k" "$SCREEN" "(│|[a-z)] ) +$k +[a-z]"
done
keys x
if wait_re ' idle *$' && ! screen | grep -q 'run every remaining step'; then ok "any key closes the help"
else fail "any key closes the help" "$(screen)"; fi
keys C-l
expect_screen "Ctrl-L redraws the screen" "┌ Steps"
quit

# --- quitting while something runs ----------------------------------------------------------------
mark="rbc-console-$$-$RANDOM"
scenario "quit while running" 100 30 --var MARK="$mark" "$F/long.json"
wait_idle
keys j Enter
expect_screen "Enter runs the selected step" "▶ running 1"
keys q
expect_screen "q asks while a step runs" "Steps are running. Quit and stop them? [y/N]"
keys n
expect_screen "n keeps running" "▶ running 1"
keys C-c
expect_screen "Ctrl-C asks the same" "Quit and stop them? [y/N]"
keys y
if tui_exit; then ok "y quits"; else fail "y quits" "$SCREEN"; fi
left=$(pgrep -f "sleep 300; : $mark" | wc -l)
expect_eq "quitting stops the running command: no process left" "$left" 0
expect_match "… and says the run did not finish, and what was cancelled" "$SCREEN" 'rbc: NOT FINISHED — 0 of 3 steps finished, 1 cancelled \(so far: [A-Z]+\)'
expect_eq "… exiting 3, never 0: an unfinished run does not pass" "$TUI_RC" 3

# --- resizing ------------------------------------------------------------------------------------------
scenario "resize to 80×24 and back" 120 40 --operator tester "$F/walk.json"
wait_idle
tmx resize-window -t t -x 80 -y 24
expect_screen_re "at 80×24 the screen redraws to fit" '^└─+┘└─+┘$'
[ "$(screen | wc -l)" -le 24 ] && ok "… 24 rows" || fail "… 24 rows" "$(screen)"
expect_match "… with the idle marker and key hints still shown" "$(screen | tail -1)" 'q quit idle$'
tmx resize-window -t t -x 120 -y 40
expect_screen_re "and back to 120×40: the panes fill the width again" '^└─{46}┘└─{70}┘$'
expect_match "… and the height" "$(screen | sed -n 39p)" '^└─{46}┘└─{70}┘$'
quit

# --- starting at 80×24 -------------------------------------------------------------------------------------
scenario "80×24 from the start" 80 24 --operator tester "$F/walk.json"
expect_screen "the whole tree fits" "5 Announce"
keys a
expect_screen "the manual step's instruction is readable" "Ask the product owner for the go."
keys Space
wait_for "[y/N]"; keys y
expect_screen "the run finishes at 80×24" "■ finished"
keys '?'
expect_screen "the help fits 80×24 in two columns: the first key" "next step / scroll down"
expect_match "… and the last" "$SCREEN" 'quit \(asks if running\)'
keys x
quit

# --- Japanese titles line up ---------------------------------------------------------------------------
scenario "Japanese alignment" 100 40 --operator tester "$ROOT/runbooks/ja/post-deploy.json"
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
quit

# --- each theme's colours ------------------------------------------------------------------------------
declare -A seen
for th in default light high-contrast monochrome; do
	scenario "theme $th" 100 30 --theme "$th" "$F/walk.json"
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
	quit
done
n_distinct=$(printf '%s\n' "${seen[@]}" | sort -u | wc -l)
expect_eq "the four themes draw differently" "$n_distinct" 4

# --- NO_COLOR ----------------------------------------------------------------------------------------------
TUI_ENV="$TUI_ENV NO_COLOR=1" scenario "NO_COLOR" 100 30 "$F/walk.json"
wait_idle
if screen -e | grep -Eq $'\e\\[([0-9;]*;)?(3[0-7]|38;5;[0-9]+|4[0-7]|48;5;[0-9]+)(;[0-9;]*)?m'; then fail "NO_COLOR: no colour at all" "$(screen -e | head -3 | cat -v)"
else ok "NO_COLOR: no colour at all"; fi
expect_match "NO_COLOR: the state is still in glyphs and words" "$SCREEN" '○ PENDING'
keys G k Enter
expect_screen_re "NO_COLOR: a failure is a glyph and a word" '✘ FAIL +exit = 1'
quit

# --- production is said by the runbook, never guessed from a name -----------------------------------------------
cat >"$TMP/guess.json" <<'JSON'
{ "runbook": "guess", "title": "Named production, not declared",
  "vars": { "ENVIRONMENT": "production", "ENV": "prod" },
  "steps": [ { "id": "a", "title": "A", "run": "true" } ] }
JSON
scenario "no log: no environment and no alert" 100 30 --operator tester "$TMP/guess.json"
wait_idle
expect_match "a variable named ENVIRONMENT is not taken for the header" "$(screen | head -1)" '^ rbc · guess · operator tester '
expect_nomatch "… nor does its value turn it to header.alert" "$(screen -e | head -1)" $'\e\\[[0-9;]*41[;m]'
quit

# --- a theme file of one's own, and a broken one -----------------------------------------------------------
scenario "a theme by path" 100 30 --theme "$F/red-header.theme" "$F/walk.json"
wait_idle
expect_match "the file's header colours are used (red background)" "$(screen -e | head -1)" $'\e\\[[0-9;]*41[;m]'
quit
scenario "a broken theme file" 100 30 --theme "$F/bad.theme" "$F/walk.json"
if tui_exit; then
	expect_eq "a broken theme is a usage error (64)" "$TUI_RC" 64
	expect_match "… named file:line: message" "$SCREEN" 'bad\.theme:3:[0-9]+: unknown element "header\.blink"'
else fail "a broken theme ends rbc" "$SCREEN"; fi

# --- the detail pane: variables, secrets, errors ----------------------------------------------------------------
secret="s3cr3t-$RANDOM-tok"
TUI_ENV="$TUI_ENV API_TOKEN=$secret" scenario "detail: variables and a masked secret" 100 30 --operator tester "$F/detail.json"
wait_idle
keys j
expect_screen "the action has its variables expanded and the secret masked" "GET http://127.0.0.1:9/health?token=••••"
expect_match "… with the threshold" "$SCREEN" 'expect status == 200'
expect_match "a production environment is named in the header" "$SCREEN" 'env production'
expect_match "… which turns to header.alert (the default theme: red)" "$(screen -e | head -1)" $'\e\\[[0-9;]*41[;m]'
keys Enter
expect_screen_re "a refused connection is an ERROR with its reason" '! ERROR +connection refused'
keys a
wait_for "DBA approves ─"
SCREEN=$(screen)
absent "the secret is never on screen" "$secret"

# --- captures and the output of a secret ---------------------------------------------------------------------------
keys g j j
expect_screen "a capture is in the detail pane" "capture VERSION = v2.4.1"
expect_match "the output masks the secret" "$SCREEN" 'token is ••••'
expect_match "… and so do the command's variables" "$SCREEN" 'with API_TOKEN=••••'
keys j
expect_screen "a later title uses the captured value" "3 Deploying v2.4.1 ─"
expect_match "… and its command's output" "$SCREEN" 'deploying v2.4.1'

# --- retries and warnings ---------------------------------------------------------------------------------------------
keys j
expect_screen "a retried step says how many attempts it took" "attempt 3 of 3"
keys j
expect_screen "a warning shows ⚠ WARN" "⚠ WARN "
expect_match "… and why" "$SCREEN" '= 1500 > 1000'
expect_match "the status bar counts warnings, failures and errors" "$(screen | tail -1)" '1 warn · 1 failed · 1 error'

# --- output that tries to drive the terminal ------------------------------------------------------------------------------
keys j
expect_screen "escapes in a command's output are shown, never obeyed" "plain �[31mred�[0m �]0;title� end"
quit

# --- paging through a long tree ------------------------------------------------------------------------------------------
TUI_ENV="$TUI_ENV API_TOKEN=x" scenario "paging" 100 30 "$F/detail.json"
wait_idle
keys G
expect_screen "G goes to the last step, scrolling the tree" "30 The last step ─"
absent "… the first steps scrolled away" "1 Health with a token"
keys PPage
expect_screen "PgUp goes a page (25 rows) up" "┌ 5 Latency warning ─"
keys g
expect_screen "g goes back to the top" "┌ detail Detail pane ─"
keys NPage
expect_screen "PgDn goes a page down" "┌ 25 Step twenty-five ─"
quit

# --- r runs a step again -------------------------------------------------------------------------------------------------
scenario "r runs a step again" 100 30 --var COUNT_FILE="$TMP/count" "$F/rerun.json"
wait_idle
keys j Enter
expect_screen "a command's variables are shown with their values" "with COUNT_FILE=$TMP/count"
expect_screen "the first run" "runs: 1"
keys r
expect_screen "r runs it again, with fresh output" "runs: 2"
absent "… the old output is gone from the pane" "runs: 1"
quit

# --- the operator is the login name by default ----------------------------------------------------------------------------
scenario "operator defaults to the login name" 100 30 "$F/walk.json"
expect_screen "the header names the login" "operator $(id -un)"
quit

# --- keys move while a step prints 100 MB ------------------------------------------------------------------------------------
scenario "100 MB of output" 100 30 "$F/long.json"
wait_idle
keys j j Enter
expect_screen "the flood starts" "▶ running 1"
keys k
expect_screen_re "the selection moves while it prints" '^│ +○ 1 Sleeps'
keys j
expect_screen "… and back" "▶ running 1"
expect_screen_re "the output pane follows the flood, bounded: the rest is on disk" '│ …[0-9]+ lines earlier on disk'
if wait_re '│ +✔ 2 Prints 100 MB' 120; then ok "the 100 MB step finishes"
else fail "the 100 MB step finishes" "$SCREEN"; fi
expect_screen "… all 1,000,000 lines counted: 2,000 kept, the rest named" "…998000 lines earlier on disk"
quit

# --- the screen in docs/console.md is the real one ---------------------------------------------------------------
scenario "the documentation's screen" 100 24 --operator alice "$ROOT/docs/examples/console.json"
wait_idle
keys a; wait_for "Ask the product owner"
keys n; type_text "go given by Dana at 01:58"; keys Enter Space
wait_for "[y/N]"; keys y
wait_for "■ finished"
keys k
wait_for "┌ 4 Smoke test ─"
want=$(awk '/^<!-- screen: 100x24 /{f=1; next} f && /^```text/{next} f && /^```/{exit} f' "$ROOT/docs/console.md")
expect_eq "docs/console.md shows the screen the console really draws" "$(screen)" "$want"
quit

# --- and without a terminal ------------------------------------------------------------------------------------------------------
run "$RBC" "$F/walk.json" </dev/null
expect_eq "without a terminal the console refuses, pointing to --batch (64)" "$RC" 64
expect_match "… saying why" "$ERR" 'needs a terminal.*--batch'

if [ "$SCENARIOS" -ge 25 ]; then ok "$SCENARIOS console scenarios ran"
else fail "at least 25 console scenarios" "only $SCENARIOS"; fi
t_done
