#!/usr/bin/env bash
# rbc run --batch without network services: order, groups, on_fail, exit
# codes, operator steps, repeats and retries, captures as data, secrets
# masked everywhere, timeouts that kill a whole process group, no fd or
# process leak over 1,000 steps, and a signal that stops the run.
. tests/lib.sh
F=$ROOT/tests/fixtures/run
export RBC_RUNS_DIR=$TMP/runs

# batch ARGS...: rbc run --batch ARGS, output in $OUT/$ERR, status $RC.
batch() { run "$RBC" run --batch "$@"; }
# line ID: the output line of step ID ("VERDICT  ID  title — explanation").
line() { printf '%s\n' "$OUT" | grep -E "^[A-Z]+ +$1  " | tail -1; }
verdict_of() { line "$1" | awk '{print $1}'; }

# --- order, groups, on_fail --------------------------------------------
: >"$TMP/order"
batch --var MODE=pass --var OUT="$TMP/order" "$F/flow.json"
expect_eq "passing flow exits 0" "$RC" 0
expect_eq "steps run in document order, on-demand ones passed by" \
	"$(tr '\n' ' ' <"$TMP/order")" "first inner-ok inner-mode inner-after warned last "
expect_match "one line per step with verdict, id, title, explanation" "$(line inner-mode)" \
	'^PASS +inner-mode  Inner pass — exit = 0 == 0$'
expect_match "a group's line counts its children" "$(line grp)" '^PASS +grp  Group — 3 steps: 3 passed$'
expect_match "the summary counts the steps" "$OUT" 'summary: PASS — 6 steps: 6 passed — '
expect_match "the summary names the run directory" "$OUT" "run: [0-9]{8}T[0-9]{6}Z-flow-[0-9a-f]{4} \\($RBC_RUNS_DIR/"

: >"$TMP/order"
batch --var MODE=warn --var OUT="$TMP/order" "$F/flow.json"
expect_eq "a warning exits 1" "$RC" 1
expect_match "the warn verdict is explained" "$(line warned)" 'WARN +warned .*warn: vars.MODE = "warn" == "warn"'

: >"$TMP/order"
batch --var MODE=fail --var OUT="$TMP/order" "$F/flow.json"
expect_eq "a failure exits 2" "$RC" 2
expect_eq "a failed step stops its group, whose goto runs the on-demand procedure, then the run ends" \
	"$(tr '\n' ' ' <"$TMP/order")" "first inner-ok inner-mode recover "
expect_match "the group fails with its failed child" "$(line grp)" '^FAIL +grp  Group — 2 steps: 1 passed, 1 failed, 1 not run$'
expect_match "the jump is shown with its reason" "$OUT" 'JUMP +grp → recover  on_fail of grp'
expect_match "steps after the failure are counted as not run" "$OUT" 'summary: FAIL — 7 steps: 3 passed, 1 failed, 3 not run'

printf '{"runbook":"s","title":"S","steps":[{"id":"a","title":"A","run":"exit 1"},{"id":"b","title":"B","run":"touch \\"$DIR/b\\""}]}' >"$TMP/stop.json"
batch --var DIR="$TMP" "$TMP/stop.json"
if [ "$RC" = 2 ] && [ ! -e "$TMP/b" ] && [ -z "$(line b)" ]; then ok "on_fail stop (the default) runs nothing after the failure"
else fail "on_fail stop (the default) runs nothing after the failure" "rc $RC" "$OUT"; fi
expect_match "a command without expect must exit 0" "$(line a)" '^FAIL +a  A — exit = 1 != 0$'

printf '{"runbook":"c","title":"C","steps":[{"id":"a","title":"A","run":"exit 1","on_fail":"continue"},{"id":"b","title":"B","run":"touch \\"$DIR/c\\""}]}' >"$TMP/cont.json"
batch --var DIR="$TMP" "$TMP/cont.json"
if [ "$RC" = 2 ] && [ -e "$TMP/c" ]; then ok "on_fail continue goes on, and the failure still counts"
else fail "on_fail continue goes on, and the failure still counts" "rc $RC" "$OUT"; fi

# --- parallel groups ----------------------------------------------------
# Each branch waits for a file the other one writes: only parallel branches finish.
cat >"$TMP/par.json" <<'JSON'
{"runbook":"p","title":"P","vars":{"DIR":"/tmp"},"steps":[
 {"id":"both","title":"Both at once","parallel":true,"steps":[
  {"id":"left","title":"Left","timeout":"20s","run":"touch \"$DIR/l\"; while [ ! -e \"$DIR/r\" ]; do sleep 0.01; done"},
  {"id":"right","title":"Right","timeout":"20s","run":"touch \"$DIR/r\"; while [ ! -e \"$DIR/l\" ]; do sleep 0.01; done"}]},
 {"id":"after","title":"After","run":"true"}]}
JSON
batch --var DIR="$TMP" "$TMP/par.json"
expect_eq "a parallel group runs its children at once" "$RC" 0
expect_match "the parallel group's verdict is the worst child's" "$(line both)" '^PASS +both  Both at once — 2 steps: 2 passed$'

# --- operator steps -----------------------------------------------------
: >"$TMP/sw"
batch --var OUT="$TMP/sw" "$F/operator.json"
expect_eq "manual and confirm steps without answers exit 3" "$RC" 3
expect_match "a manual step without --assume needs the operator" "$(line sign-off)" \
	'^UNKNOWN +sign-off  Sign-off — needs operator: Product owner signs off\. \(--assume done\|skip answers manual steps\)$'
expect_match "a confirm step without --yes needs the operator" "$(line switch)" \
	'^UNKNOWN +switch  Switch — needs operator: confirm "Switch production traffic\?" \(--yes confirms\)$'
expect_eq "an unconfirmed step does not run" "$(cat "$TMP/sw")" ""
batch --var OUT="$TMP/sw" --assume done --yes --operator alice "$F/operator.json"
expect_eq "--assume done and --yes answer them" "$RC" 0
expect_eq "a confirmed step runs" "$(cat "$TMP/sw")" "switched"
expect_match "the assumed answer is said" "$(line sign-off)" 'PASS +sign-off  Sign-off — assumed done \(--assume done\)'
batch --var OUT="$TMP/sw" --assume skip --yes "$F/operator.json"
expect_match "--assume skip skips manual steps" "$(line sign-off)" '^SKIPPED +sign-off'

# --- repeat and retry ---------------------------------------------------
mkdir -p "$TMP/rep"
batch --var DIR="$TMP/rep" "$F/repeat.json"
expect_eq "retry: two failed attempts, then a pass" \
	"$(printf '%s\n' "$OUT" | grep -cE '^RETRY +retry ') $(verdict_of retry) $(wc -l <"$TMP/rep/retry")" "2 PASS 3"
expect_match "count: five samples, judged over all of them" "$(line count)" '^PASS +count .*\(5 samples\)$'
expect_eq "count: exactly five runs" "$(wc -l <"$TMP/rep/count")" 5
expect_match "until: stops polling at the first true sample" "$(line until)" 'PASS +until .* after 4 samples'
expect_eq "until: four polls" "$(wc -l <"$TMP/rep/until")" 4
expect_match "consecutive: passes at the first run of three" "$(line consecutive)" 'PASS +consecutive .*3 in a row after 5 samples'
expect_match "for: samples for the whole duration" "$(line for)" 'PASS +for '
expect_match "until without success fails when within runs out" "$(line until-never)" \
	'FAIL +until-never .*until exit == 0 not true within 100ms'

# --- when ---------------------------------------------------------------
printf '{"runbook":"w","title":"W","vars":{"ENV":"prod"},"steps":[{"id":"a","title":"A","when":"vars.ENV == \\"staging\\"","run":"false"},{"id":"b","title":"B","run":"true"}]}' >"$TMP/when.json"
batch "$TMP/when.json"
expect_match "when false skips the step, saying why" "$(line a)" '^SKIPPED +a  A — when vars.ENV == "staging" is false'
batch --var ENV=staging "$TMP/when.json"
expect_eq "--var changes what when sees" "$(verdict_of a)" FAIL

# --- captures are data, secrets are masked -------------------------------
mkdir -p "$TMP/victim"
EVIL="\$(touch $TMP/pwned); rm -rf $TMP/victim"
API_TOKEN=tok-5ecret-9f3 batch --var DIR="$TMP" --var "EVIL_TEXT=$EVIL" "$F/capture.json"
if [ ! -e "$TMP/pwned" ] && [ -d "$TMP/victim" ]; then ok "a captured shell fragment is never run"
else fail "a captured shell fragment is never run" "$OUT"; fi
expect_eq "the captured value reaches the command as data, byte for byte" "$(cat "$TMP/value.txt")" "$EVIL"
expect_match "a capture is shown" "$OUT" "CAPTURE +evil  VALUE = "
if printf '%s' "$OUT$ERR" | grep -q 'tok-5ecret-9f3'; then fail "a secret never appears in batch output" "$OUT"
else ok "a secret never appears in batch output"; fi
expect_match "the secret shows masked" "$(line show)" '••••'
run_dir=$(printf '%s\n' "$OUT" | sed -n 's/^run: .* (\(.*\))$/\1/p')
if [ -n "$run_dir" ] && [ -s "$run_dir/out/capture.token.out" ]; then ok "a command's output is spooled in the run directory"
else fail "a command's output is spooled in the run directory" "$run_dir"; fi
if grep -rq 'tok-5ecret-9f3' "$RBC_RUNS_DIR"; then fail "a secret is in no file under the run directory" "$(grep -rl 'tok-5ecret-9f3' "$RBC_RUNS_DIR")"
else ok "a secret is in no file under the run directory"; fi
expect_match "the spooled output has the mask instead" "$(cat "$run_dir/out/capture.token.out")" 'token is ••••'
expect_rc "a secret cannot be given with --var" 64 "$RBC" run --batch --var API_TOKEN=x "$F/capture.json"
expect_match "… and the refusal says where to give it" "$ERR" 'API_TOKEN is a secret: give it in the environment'

# --- timeouts kill the whole group ---------------------------------------
mark="rbc-gc-$$-$RANDOM"
batch --var MARK="$mark" "$F/grandchild.json"
expect_match "a timed-out command is an ERROR naming the timeout" "$(line hang)" '^ERROR +hang .*tim'
left=$(pgrep -f "$mark" | wc -l)
expect_eq "no process of the timed-out command is left (grandchild included)" "$left" 0

# --- 1,000 steps: no fd or process leak ----------------------------------
batch --var DIR="$TMP" "$F/thousand.json"
expect_eq "1,000 steps pass" "$RC" 0
expect_eq "the open fds of rbc are the same after 1,000 steps" "$(cat "$TMP/fd-last" 2>/dev/null)" "$(cat "$TMP/fd-first" 2>/dev/null)"
expect_eq "rbc has one child at the end: the running step's shell" "$(tr -d ' ' <"$TMP/children" 2>/dev/null)" 1

# --- a signal stops the run ----------------------------------------------
"$RBC" run --batch --var DIR="$TMP" "$F/interrupt.json" >"$TMP/int.out" 2>"$TMP/int.err" &
pid=$!
for _ in $(seq 1 500); do [ -e "$TMP/started" ] && break; sleep 0.01; done
kill -INT "$pid"
wait "$pid"
rc=$?
expect_eq "SIGINT stops the run with exit 130" "$rc" 130
expect_match "the running step is cancelled, saying why" "$(cat "$TMP/int.out")" '^CANCELLED +long  Long — interrupted by SIGINT$'
expect_match "… and the summary still comes" "$(cat "$TMP/int.out")" 'summary: UNKNOWN — stopped: interrupted by SIGINT — 1 step: 1 cancelled'

# --- output shown safely --------------------------------------------------------
printf '%s' '{"runbook":"bin","title":"Binary","steps":[{"id":"a","title":"A","run":"printf \"ok \\033[31mred\\302\\233 \\377\\376 日本\\n\"; exit 1"}]}' >"$TMP/bin.json"
batch "$TMP/bin.json"
expect_eq "a failed command's output is shown escaped: no escape sequence, no invalid UTF-8" \
	"$(printf '%s\n' "$OUT" | grep 'stdout|')" '          stdout| ok \x1b[31mred\u009b \xff\xfe 日本'
if printf '%s' "$OUT" | LC_ALL=C grep -q "$(printf '\033')"; then fail "no raw ESC reaches the terminal" "$OUT"
else ok "no raw ESC reaches the terminal"; fi

# --- flow corner cases ------------------------------------------------------
FL=$F/flow
batch "$FL/watch-sync.json"
expect_eq "a watch that cannot even start fires at once, and the run stops" "$RC" 2
expect_match "… saying why" "$OUT" 'FIRED +w  .*variable NOT_SET is not set'
expect_match "… and the step it interrupted is cancelled" "$(line a)" '^CANCELLED +a '

batch --var DIR="$TMP" "$FL/par-goto.json"
expect_eq "a goto inside a parallel branch stays in its branch" "$(verdict_of b2) $(verdict_of B)" "PASS FAIL"
expect_match "the parallel group waits for every branch; the worst verdict counts" "$(line P)" \
	'^FAIL +P  Pre-checks — 2 steps: 2 failed$'
if [ ! -e "$TMP/deployed" ] && [ "$RC" = 2 ]; then ok "nothing after a failed parallel group runs"
else fail "nothing after a failed parallel group runs" "$OUT"; fi

: >"$TMP/restarts"; rm -f "$TMP/restarts"
batch --var DIR="$TMP" "$FL/goto-back.json"
expect_eq "a goto back runs the target and the failed step again, once; the new result stands" \
	"$(wc -l <"$TMP/restarts") $(verdict_of check) $RC" "2 PASS 0"
expect_eq "… the step after them runs" "$(verdict_of after)" PASS

batch --var DIR="$TMP" "$FL/group-retry.json"
expect_eq "a group's goto to its own first step runs it once more, not a thousand times" \
	"$(wc -l <"$TMP/g1") $(verdict_of z)" "2 PASS"

batch "$FL/loop.json"
expect_eq "gotos that loop stop the run with ERROR (exit 3)" "$RC" 3
expect_match "… saying so" "$OUT" '^STOPPED +more than 1000 jumps: the on_fail gotos loop$'

batch --var DIR="$TMP" "$FL/into-procedure.json"
if [ "$(verdict_of r2)" = PASS ] && [ ! -e "$TMP/c-ran" ] && [ -z "$(line r1)" ]; then
	ok "a goto into a procedure runs from there and ends the run after the procedure"
else fail "a goto into a procedure runs from there and ends the run after the procedure" "$OUT"; fi

batch "$FL/group-confirm.json"
expect_eq "a group waiting for a confirmation nobody gave makes the run UNKNOWN" "$RC" 3
expect_match "… and nothing in it runs" "$(line g)" '^UNKNOWN +g  Danger — needs operator: confirm "Really\?"'

batch "$FL/watch-unknown.json"
expect_match "a watch that judged nothing is UNKNOWN, not PASS" "$(line w)" '^UNKNOWN +w  .*none judged as holding'
expect_eq "… and the run too" "$RC" 3

t0=$(date +%s)
batch "$FL/blowup.json"
t1=$(date +%s)
expect_match "variables that expand without end fail the step, saying why" "$(line a)" '^ERROR +a .*expands to more than'
[ $((t1 - t0)) -lt 10 ] && ok "… quickly ($((t1 - t0)) s)" || fail "… quickly" "$((t1 - t0)) s"

expect_rc "a secret of an included runbook cannot be given with --var either" 64 \
	"$RBC" run --batch --var CHILD_TOKEN=x "$FL/include-secret.json"

# --- started with its standard descriptors closed ----------------------------
"$RBC" run --batch --var MODE=pass --var OUT="$TMP/closed" "$F/flow.json" <&- 2>&- >"$TMP/closed.out"
rc=$?
expect_eq "rbc runs with stdin and stderr closed" "$rc $(grep -c '^PASS' "$TMP/closed.out")" "0 8"

# --- usage and invalid input ----------------------------------------------
expect_rc "no runbook is a usage error" 64 "$RBC" run --batch
expect_rc "an unknown option is a usage error" 64 "$RBC" run --batch --frobnicate "$F/flow.json"
expect_rc "--var without = is a usage error" 64 "$RBC" run --batch --var NAME "$F/flow.json"
expect_rc "--assume takes done or skip" 64 "$RBC" run --batch --assume maybe "$F/flow.json"
expect_rc "a missing runbook is unreadable" 66 "$RBC" run --batch "$TMP/nope.json"
printf '{"runbook":"bad","title":"B","steps":[{"id":"a","title":"A","run":"true","expect":"exit =="}]}' >"$TMP/bad.json"
expect_rc "an invalid runbook exits 65 and runs nothing" 65 "$RBC" run --batch "$TMP/bad.json"
expect_match "… naming file:line:col and the JSON path" "$ERR" "bad.json:1:[0-9]+: steps\\[0\\]\\.expect: "
printf '{"MODE":"warn","OUT":"%s"}' "$TMP/o2" >"$TMP/vars.json"
batch --vars "$TMP/vars.json" "$F/flow.json"
expect_eq "--vars reads a JSON object" "$RC" 1
printf '# vars\nMODE=fail\nOUT="%s"\n' "$TMP/o3" >"$TMP/vars.env"
batch --vars "$TMP/vars.env" "$F/flow.json"
expect_eq "--vars reads NAME=VALUE lines" "$RC" 2
printf 'MODE\n' >"$TMP/bad.env"
expect_rc "a bad --vars line is reported with its line" 65 "$RBC" run --batch --vars "$TMP/bad.env" "$F/flow.json"
expect_match "… as file:line" "$ERR" 'bad.env:1: expected NAME=VALUE'

t_done
