#!/usr/bin/env bash
# No leak and no memory error under valgrind in rbc check, rbc eval and
# rbc run --batch, on valid and invalid input alike (errors take other paths
# through the code), and through the engine's flows: groups, jumps, repeats,
# retries, watches, captures and secrets; and the console over scripted
# sessions in tmux. Commands' children are not judged.
. tests/lib.sh
if sanitized; then
	skip "valgrind" "the sanitizer build cannot run under valgrind"; t_done
fi
if ! command -v valgrind >/dev/null; then
	fail "valgrind is installed" "make deps installs it"; t_done
fi
vg() {
	local name=$1; shift
	RBC_RUNS_DIR=$TMP/runs valgrind -q --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all \
		--child-silent-after-fork=yes --error-exitcode=99 "$RBC" "$@" >"$TMP/vg.out" 2>"$TMP/vg.err"
	local rc=$?
	if [ "$rc" = 99 ] || grep -q '^==[0-9]*==' "$TMP/vg.err"; then
		fail "valgrind clean: $name" "$(grep '^==' "$TMP/vg.err" | head -30)"
	else
		ok "valgrind clean: $name (exit $rc)"
	fi
}
vg "check valid runbooks" check tests/fixtures/good/every-key.json tests/fixtures/good/incident.json runbooks/*.json
vg "check many-errors" check tests/fixtures/bad/many-errors.json tests/fixtures/bad/run-cycle.json
vg "check syntax errors" check tests/fixtures/bad/trailing-comma-array.json tests/fixtures/bad/too-deep.json tests/fixtures/bad/invalid-utf8.json
vg "check warnings" check --strict tests/fixtures/warn/undefined-var.json
vg "eval percentile" eval 'p95(time) < 500ms' time=120,340,612
vg "eval json and regex" eval 'json.items[0].id == 7 && body =~ /"id"\s*:\s*(\d+)/' --sample '{"json": {"items": [{"id": 7}]}, "body": "{\"id\": 7}"}'
vg "eval warn and functions" eval 'num(match(stdout, /(\d+) errors/)) == 0' --warn 'len(stdout) > 5' stdout='0 errors found'
vg "eval unknown" eval 'json.missing.path > 1' status=200
vg "eval syntax error" eval 'p95(time < 500ms'
F=tests/fixtures/run
vg "run flow with a goto into a procedure" run --batch --var MODE=fail "$F/flow.json"
vg "run repeats and retries" run --batch --var DIR="$TMP" "$F/repeat.json"
vg "run operator steps unanswered" run --batch "$F/operator.json"
vg "run captures and secrets" run --batch --var DIR="$TMP" --var 'EVIL_TEXT=$(x)' "$F/capture.json"
vg "run a watch that fires at once" run --batch "$F/flow/watch-sync.json"
vg "run parallel branches that jump" run --batch --var DIR="$TMP" "$F/flow/par-goto.json"
vg "run a goto loop" run --batch "$F/flow/loop.json"
vg "run the batch example" run --batch --assume done docs/examples/batch.json
vg "run loops: nested, a call in a loop, parallel" run --batch --var LOG="$TMP/loops.log" tests/fixtures/foreach/nested.json
vg "run a loop past max_failures" run --batch --var LOG="$TMP/loops.log" tests/fixtures/foreach/failures.json
vg "run a loop whose list is no list" run --batch --var NODES='[1, {"x": 2}]' tests/fixtures/foreach/vars.json
vg "run calls of a file and a group, exports and a secret" run --batch --var LOG="$TMP/calls.log" tests/fixtures/call/main.json
vg "check loops and calls refused" check tests/fixtures/bad/call-cycle-groups.json tests/fixtures/bad/call-export-unknown.json tests/fixtures/bad/call-with-unknown.json tests/fixtures/bad/foreach-bad-item.json tests/fixtures/bad/call-cycle-files.json
vg "run an invalid runbook" run --batch tests/fixtures/bad/many-errors.json
vg "run commands fed their input" run --batch tests/fixtures/stdin/feed.json
vg "run a tty step without a terminal" run --batch tests/fixtures/tty/ask.json
vg "run descriptions and links" run --batch tests/fixtures/links/links.json
vg "check bad links, tty and stdin" check tests/fixtures/bad/links-bad.json tests/fixtures/bad/tty-bad.json tests/fixtures/bad/stdin-bad.json
vg "runs: the runs listed above" runs
vg "runs --json" runs --json
vg "export a run as JSON" export "$(ls "$TMP/runs" | head -1)" --format json -o "$TMP/export.json"
vg "export a run as Markdown" export "$(ls "$TMP/runs" | head -1)" --format md -o "$TMP/export.md"
vg "export a run as JUnit" export "$(ls "$TMP/runs" | head -1)" --format junit -o "$TMP/export.xml"
vg "export: an unknown run" export 20000101T000000Z-none-0000 --format json
vg "check the asks' mistakes" check tests/fixtures/bad/ask-choice-bad.json tests/fixtures/bad/ask-rule-keys.json \
	tests/fixtures/bad/ask-no-var.json tests/fixtures/bad/ask-goto-missing.json tests/fixtures/bad/ask-choice-literal.json
printf '{ "TICKET": "CHG-1", "PR": 7, "PAGE": true, "HOSTS": ["db-01", "db-02"] }\n' >"$TMP/answers.json"
vg "run asks answered by --answers and --assume done" run --batch --assume done --answers "$TMP/answers.json" tests/fixtures/ask/types.json
vg "run an ask whose choice jumps" run --batch --var CAUSE=deploy tests/fixtures/ask/choices.json
vg "run a bad answer refused" run --batch --var PR=0 tests/fixtures/ask/types.json
vg "run asks unanswered" run --batch tests/fixtures/ask/types.json
# Resume: a run killed mid-way (its journal cut after a third of its lines,
# as a kill leaves it, with a torn last line), rebuilt and run to its end.
RBC_RUNS_DIR=$TMP/runs "$RBC" run --batch --assume done --yes tests/fixtures/resume/crash.json >/dev/null 2>&1
full=$(ls -t "$TMP/runs" | head -1)
cut=$TMP/runs/${full%-*}-cut0
mkdir -p "$cut/out"
n=$(wc -l <"$TMP/runs/$full/journal.jsonl")
head -n $((n / 3)) "$TMP/runs/$full/journal.jsonl" >"$cut/journal.jsonl"
printf '{"seq":99,"t":"2026-' >>"$cut/journal.jsonl"
vg "resume a killed run to its end" resume --batch --unfinished rerun "$cut"
vg "resume: a finished run is refused" resume --batch --unfinished rerun "$cut"
vg "history: no database to reach" history --db "postgresql://rbc@127.0.0.1:1/none"
vg "run with a database that is down" run --batch --db "postgresql://rbc@127.0.0.1:1/none" "$F/operator.json"

# The console over a scripted session in tmux: walking a runbook to its end
# with a note, a confirmation, a search, the help, folding, a resize and a
# quit; then quitting while a step runs. ncurses' own allocations, which its
# release build never frees, are suppressed (tests/valgrind/ncurses.supp).
. tests/tui.sh
TUI_TIMEOUT=90
REAL_RBC=$RBC
F=tests/fixtures/console
vg_console() {
	local name=$1 log=$2; shift 2
	RBC=valgrind tui_start 100 30 -q --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all \
		--child-silent-after-fork=yes --suppressions="$ROOT/tests/valgrind/ncurses.supp" \
		--log-file="$log" "$REAL_RBC" "$@"
}
vg_judge() {
	local name=$1 log=$2
	if ! tui_exit; then fail "valgrind clean: $name" "the console did not end" "$SCREEN"; return; fi
	if grep -q '^==[0-9]*==' "$log"; then fail "valgrind clean: $name" "$(grep '^==' "$log" | head -40)"
	else ok "valgrind clean: $name (exit $TUI_RC)"; fi
}
# vw TEXT / vw_re REGEX: the scripted session reaches this screen, or fails.
vw() { wait_for "$1" || fail "valgrind console session reaches: $1" "$SCREEN"; }
vw_re() { wait_re "$1" || fail "valgrind console session reaches: $1" "$SCREEN"; }
vg_console "console session" "$TMP/vgc1.log" --operator alice "$F/walk.json"
vw_re ' idle *$'
keys a; vw "Ask the product owner"
keys n; type_text "go given"; keys Enter Space
vw "[y/N]"; keys y
vw "■ finished"
keys g j j j; vw "1.2 Log lines ─"
keys / ; type_text "needle"; keys Enter; vw "/needle"
keys k; vw "21 lines back"
keys e; vw "exported deployment-log.md"
keys '?'; vw "run every remaining step"; keys x
keys Tab g j h; vw "▸"
tmx resize-window -t t -x 80 -y 24; vw_re '^└─+┘└─+┘$'
keys q
vg_judge "console session" "$TMP/vgc1.log"
mark="rbc-vg-$$-$RANDOM"
vg_console "console quit while running" "$TMP/vgc2.log" --var MARK="$mark" "$F/long.json"
vw_re ' idle *$'
keys j Enter; vw "▶ running 1"
keys q; vw "[y/N]"; keys y
vg_judge "console quit while running" "$TMP/vgc2.log"
# Incident mode: declared, escalated, a role, a note, a status update and the
# resolution, a watch firing its rollback, with notifications to a receiver
# that is not there (refused: retried, then given up).
TUI_ENV="RBC_TEST_NOW=2026-12-04T02:00:00Z SLACK_WEBHOOK_URL=http://127.0.0.1:1/hooks/slack" \
	vg_console "console incident" "$TMP/vgc3.log" --operator alice --severity SEV1 --title "Health failing" \
	"$F/incident-watch.json"
vw "SEV1 Outage · investigating"
keys S; type_text "SEV2"; keys Enter; type_text "smaller than feared"; keys Enter
vw "SEV2 Degraded"
keys o; type_text "incident-commander"; keys Enter
keys n; type_text "a note"; keys Enter
keys u; type_text "fixing"; keys Enter; type_text "rolling back"; keys Enter
vw "update — rolling back"
keys a; vw "trigger (automatic)"
keys R; type_text "done"; keys Enter
vw "resolved — done"
keys q
vg_judge "console incident" "$TMP/vgc3.log"
t_done
