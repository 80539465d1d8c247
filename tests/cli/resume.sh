#!/usr/bin/env bash
# rbc resume: a run killed with SIGKILL — in batch mode and in the console —
# at 20 different points each, then resumed to its end, has the JSON export
# of a run never killed (times, durations and what the crash itself added —
# the resume and the attempts it cut short, marked as such — aside); torn
# and garbage last lines resume, a damaged middle line is refused with its
# number; a changed runbook is refused unless --force; a finished run and a
# running one are refused; the journal goes on at the next seq.
. tests/lib.sh
. tests/tui.sh
F=$ROOT/tests/fixtures/resume/crash.json
export RBC_RUNS_DIR=$TMP/runs
mkdir -p "$TMP/tries"
TRIES=$TMP/tries
POINTS=20
# Under ASan every start is slow: fewer points there (the normal run measures 20).
sanitized && POINTS=6

snap() { ls "$RBC_RUNS_DIR" 2>/dev/null | sort >"$TMP/snap"; }
new_run() { ls "$RBC_RUNS_DIR" 2>/dev/null | sort | comm -13 "$TMP/snap" - | head -1; }
lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
# batch_until K ARGS...: starts rbc run --batch ARGS (pid in $pid) and
# returns once its journal has K lines (or it ended); its run id in $d.
batch_until() {
	local k=$1; shift
	snap
	"$RBC" run --batch "$@" >/dev/null 2>&1 &
	pid=$!
	d=""
	while kill -0 "$pid" 2>/dev/null; do
		[ -n "$d" ] || d=$(new_run)
		[ -n "$d" ] && [ "$(lines "$RBC_RUNS_DIR/$d/journal.jsonl")" -ge "$k" ] && break
		sleep 0.002
	done
	[ -n "$d" ] || d=$(new_run)
}
killed() { kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }

# norm A B: "equal", or the first lines of the difference of two exports
# with what differs between any two runs taken out.
cat >"$TMP/norm.py" <<'PY'
import json, sys, os, difflib
def norm(p):
    d = json.load(open(p))
    for k in ("run", "started", "finished", "resumes"):
        d.pop(k, None)
    for s in d["steps"]:
        for k in ("started", "finished", "duration_ms"):
            s.pop(k, None)
        if "output" in s:
            s["output"] = os.path.basename(s["output"])
        if isinstance(s.get("last_sample"), dict):
            s["last_sample"].pop("time", None)
        for r in s.get("retries", []):
            r.pop("t", None)
    # A step cut short by the kill is run again by the resume's decision
    # (--unfinished rerun), which the record keeps as a note: no part of
    # the uninterrupted run.
    again = lambda n: n.get("text", "").startswith("unfinished at the resume")
    d["notes"] = [{k: v for k, v in n.items() if k != "t"} for n in d["notes"] if not again(n)]
    d["timeline"] = [t for t in d["timeline"] if not (t["ev"] == "note" and again(t))]
    # Step by step, in the order the steps first show: the branches of a
    # parallel group interleave as they please.
    tl = {}
    for t in d["timeline"]:
        if not t.get("interrupted") and t["ev"] != "run_resumed":
            tl.setdefault(t.get("step", ""), []).append({k: v for k, v in t.items() if k not in ("t", "seq")})
    d["timeline"] = list(tl.items())
    return d
a, b = norm(sys.argv[1]), norm(sys.argv[2])
if a == b:
    print("equal")
else:
    print("\n".join(list(difflib.unified_diff(json.dumps(a, indent=1, ensure_ascii=False).split("\n"),
                                              json.dumps(b, indent=1, ensure_ascii=False).split("\n"),
                                              lineterm="", n=2))[:40]))
PY
norm() { python3 "$TMP/norm.py" "$1" "$2"; }

# --- batch: the uninterrupted run, then 20 kill points ------------------------------
snap
run "$RBC" run --batch --assume done --yes --var TRIES="$TRIES" "$F"
expect_eq "the uninterrupted batch run ends (FAIL: a step fails and goes on)" "$RC" 2
base=$RBC_RUNS_DIR/$(new_run)
"$RBC" export "$base" --format json >"$TMP/base.json"
N=$(lines "$base/journal.jsonl")

# Kill points: each k from the second line on, killing once the journal has
# k lines; a point counts once per distinct number of lines found at the
# kill (lines written together are one point). A second pass finds those
# the first one's timing passed over.
declare -A seen=()
points=0 equal=0 torn=0 diffs=""
for ((i = 0; i < 2 * N && points < POINTS; i++)); do
	k=$((2 + i % (N - 3)))
	batch_until "$k" --assume done --yes --var TRIES="$TRIES" "$F"
	killed
	J=$RBC_RUNS_DIR/$d/journal.jsonl
	at=$(lines "$J")
	if [ "$at" -ge "$N" ] || [ -n "${seen[$at]:-}" ]; then continue; fi
	seen[$at]=1
	points=$((points + 1))
	[ -n "$(tail -c 1 "$J")" ] && torn=$((torn + 1))
	run "$RBC" resume --batch --unfinished rerun "$d"
	if [ "$RC" != 2 ]; then diffs="$diffs
kill at $at lines: resume exit $RC: ${ERR:0:300}"; continue; fi
	"$RBC" export "$d" --format json >"$TMP/r.json"
	r=$(norm "$TMP/base.json" "$TMP/r.json")
	last=$d
	if [ "$r" = equal ]; then equal=$((equal + 1)); else diffs="$diffs
kill at $at lines of $N:
$r"; fi
done
echo "# batch: $points kill points ($torn in a torn line), $equal resumed exports equal to the uninterrupted one"
expect_eq "batch: $POINTS distinct kill points" "$points" "$POINTS"
if [ "$equal" = "$points" ] && [ "$points" -gt 0 ]; then
	ok "batch: after each kill, resume ends with the uninterrupted run's JSON export"
else fail "batch: after each kill, resume ends with the uninterrupted run's JSON export" "$diffs"; fi

# The last resumed run: its journal goes on at the next seq, says so, and validates.
J=$RBC_RUNS_DIR/${last:-none}/journal.jsonl
"$RBC" export "$RBC_RUNS_DIR/${last:-none}" --format json >"$TMP/r.json"
check=$(python3 - "$J" "$TMP/r.json" "$ROOT/docs/export.schema.json" <<'PY'
import json, sys, jsonschema
ev = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
res = [e for e in ev if e["ev"] == "run_resumed"]
doc = json.load(open(sys.argv[2]))
jsonschema.validate(doc, json.load(open(sys.argv[3])))
print("seq:%s resumed:%d fields:%s valid:True resumes:%d state:%s" % (
    [e["seq"] for e in ev] == list(range(len(ev))), len(res),
    all(k in res[0] for k in ("t", "pid", "host", "operator", "events", "argv")),
    len(doc["resumes"]), doc["state"]))
PY
)
expect_match "the resumed journal numbers its lines on without a gap" "$check" 'seq:True'
expect_match "… with one run_resumed line (time, pid, host, operator, events, argv)" "$check" 'resumed:1 fields:True'
expect_match "the export validates, lists the resume and says finished" "$check" 'valid:True resumes:1 state:finished'
"$RBC" export "$RBC_RUNS_DIR/${last:-none}" --format junit -o "$TMP/r.xml"
run xmllint --noout --schema "$ROOT/tests/junit.xsd" "$TMP/r.xml"
expect_eq "… its JUnit export validates against tests/junit.xsd" "$RC" 0
md=$("$RBC" export "$RBC_RUNS_DIR/${last:-none}" --format md)
expect_match "… its deployment log counts the interruption" "$md" '^- Interruptions: 1 — the run was resumed from its journal 1 time; nothing recorded was lost$'
expect_match "… and shows the resume in the timeline" "$md" '\| run_resumed \|  \| resumed from the journal at crash/'

# --- torn, garbage and damaged journals ---------------------------------------------
batch_until 12 --assume done --yes --var TRIES="$TRIES" "$F"
killed
J=$RBC_RUNS_DIR/$d/journal.jsonl
cp "$J" "$TMP/j.clean"
printf '{"seq":999,"t":"2026-12-04T00:00:00.000Z","ev":"step_fin' >>"$J"
run "$RBC" resume --batch --unfinished rerun "$d"
expect_eq "a journal with a torn last line resumes to the end" "$RC" 2
"$RBC" export "$d" --format json >"$TMP/r.json"
expect_eq "… with the uninterrupted run's export" "$(norm "$TMP/base.json" "$TMP/r.json")" equal
expect_nomatch "… and the torn bytes are gone from the journal" "$(cat "$J")" '"seq":999'

snap
cp -r "$RBC_RUNS_DIR/$d" "$TMP/copy"
for kind in garbage damaged; do
	g=$RBC_RUNS_DIR/$d-$kind
	rm -rf "$g"; cp -r "$TMP/copy" "$g"
	cp "$TMP/j.clean" "$g/journal.jsonl"
	# The copy's journal names the copy's directory, as a run's does.
	sed -i "1s/\"run\":\"$d\"/\"run\":\"$d-$kind\"/" "$g/journal.jsonl"
done
echo 'this is not json' >>"$RBC_RUNS_DIR/$d-garbage/journal.jsonl"
run "$RBC" resume --batch --unfinished rerun "$d-garbage"
expect_eq "a journal with a garbage last line resumes to the end" "$RC" 2
sed -i '5s/.*/{"seq":4, broken/' "$RBC_RUNS_DIR/$d-damaged/journal.jsonl"
run "$RBC" resume --batch --unfinished rerun "$d-damaged"
expect_eq "a journal damaged in the middle is refused (65)" "$RC" 65
expect_match "… naming the file and the line" "$ERR" "$d-damaged/journal.jsonl:5: not a JSON event"
expect_eq "… and nothing is appended to it" "$(lines "$RBC_RUNS_DIR/$d-damaged/journal.jsonl")" "$(lines "$TMP/j.clean")"

# --- refusals --------------------------------------------------------------------------
run "$RBC" resume --batch --unfinished rerun "$d"
expect_eq "a finished run is not resumed (64)" "$RC" 64
expect_match "… saying so" "$ERR" "finished: there is nothing to resume"

cp "$F" "$TMP/crash.json"
batch_until 10 --assume done --yes --var TRIES="$TRIES" "$TMP/crash.json"
run "$RBC" resume --batch --unfinished rerun "$d"
expect_eq "a run that is still running is not resumed (64)" "$RC" 64
expect_match "… its journal is held by the live rbc" "$ERR" "being written by another rbc: the run is still running"
killed
sed -i 's/"Last step"/"The last step"/' "$TMP/crash.json"
run "$RBC" resume --batch --unfinished rerun "$d"
expect_eq "a runbook changed since the start is refused (65)" "$RC" 65
expect_match "… with the reason and the way out" "$ERR" "crash.json: changed since the run started \(sha256 [0-9a-f]{12}… then, [0-9a-f]{12}… now\).*--force"
run "$RBC" resume --batch --unfinished rerun --force "$d"
expect_eq "--force resumes it anyway" "$RC" 2
expect_match "… warning about it" "$ERR" "warning: .*changed since the run started"
expect_match "… and the run ends with the new title" "$OUT" "PASS +last +The last step"
mv "$TMP/crash.json" "$TMP/gone.json"
run "$RBC" resume --batch --unfinished rerun "$RBC_RUNS_DIR/$d"
expect_eq "a run whose runbook file is gone is refused (66)" "$RC" 66
run "$RBC" resume --batch --unfinished rerun no-such-run
expect_eq "an unknown run is refused (66)" "$RC" 66
expect_match "… pointing at rbc runs" "$ERR" "no run no-such-run \(rbc runs lists them\)"

# --- a captured value holding a secret is never written: resume says so -----------------
secret="tok-$RANDOM-$RANDOM-resume"
export API_TOKEN=$secret
snap
"$RBC" run --batch --assume done --var NAP=1 "$ROOT/tests/fixtures/journal/steps.json" >/dev/null 2>&1 &
pid=$!
d=""
for _ in $(seq 500); do
	[ -n "$d" ] || d=$(new_run)
	[ -n "$d" ] && grep -q '"step_started","step":"journal/nap"' "$RBC_RUNS_DIR/$d/journal.jsonl" 2>/dev/null && break
	sleep 0.01
done
killed
run "$RBC" resume --batch --unfinished rerun "$d"
unset API_TOKEN
expect_eq "a run killed after capturing a secret resumes to its end" "$RC" 2
expect_match "… naming the capture the journal could not keep and the step to run again" "$ERR" \
	"the secret TOKEN_SEEN \(journal/secret\) was captured before and is never written: run that step again"
expect_match "… recorded in the journal's run_resumed line" "$(grep run_resumed "$RBC_RUNS_DIR/$d/journal.jsonl")" \
	'"lost_captures":\["TOKEN_SEEN \(journal/secret\)"\]'
if grep -qF "$secret" "$RBC_RUNS_DIR/$d/journal.jsonl"; then fail "… and the secret is still not in the journal"
else ok "… and the secret is still not in the journal"; fi

# --- the console: an uninterrupted run, then 20 kill points -----------------------------
# answer: one step of the operator's part — y to the confirmation, Space to
# the waiting sign-off — each once (the screen must change before the next).
answer() {
	SCREEN=$(screen)
	case $SCREEN in
	*"Deploy 2.4.1? [y/N]"*) keys y; wait_gone "[y/N]" ;;
	*"◆ WAITING"*) keys Space; wait_gone "◆ WAITING" ;;
	esac
}
wait_gone() {
	local deadline=$((SECONDS + TUI_TIMEOUT))
	while [ $SECONDS -lt $deadline ]; do
		case $(screen) in *"$1"*) sleep 0.01 ;; *) return 0 ;; esac
	done
}
# walk_console: answers until the run is finished, then quits; true when it ended.
walk_console() {
	local deadline=$((SECONDS + TUI_TIMEOUT * 2))
	while [ $SECONDS -lt $deadline ]; do
		answer
		case $SCREEN in *"■ finished"*) keys q; tui_exit; return 0 ;; esac
		sleep 0.01
	done
	return 1
}
rbc_pid() { pgrep -P "$(tmx list-panes -t t -F '#{pane_pid}' 2>/dev/null | head -1)" 2>/dev/null | head -1; }

snap
tui_start 100 30 run --operator tester --var TRIES="$TRIES" "$F"
wait_idle
keys a
if walk_console; then ok "console: the uninterrupted run walks to its end"
else fail "console: the uninterrupted run walks to its end" "$SCREEN"; fi
cbase=$RBC_RUNS_DIR/$(new_run)
"$RBC" export "$cbase" --format json >"$TMP/cbase.json"
CN=$(lines "$cbase/journal.jsonl")

seen=()
points=0 equal=0 diffs=""
for ((i = 0; i < 2 * CN && points < POINTS; i++)); do
	k=$((2 + i % (CN - 3)))
	snap
	tui_start 100 30 run --operator tester --var TRIES="$TRIES" "$F"
	wait_idle
	d=$(new_run) p=$(rbc_pid)
	[ -n "$d" ] && [ -n "$p" ] || continue
	# A watcher kills rbc the moment the journal has k lines, while this
	# shell answers the console.
	J=$RBC_RUNS_DIR/$d/journal.jsonl
	(while [ "$(lines "$J")" -lt "$k" ] && kill -0 "$p" 2>/dev/null; do sleep 0.002; done
	 kill -9 "$p" 2>/dev/null) &
	watcher=$!
	keys a
	deadline=$((SECONDS + TUI_TIMEOUT))
	while [ $SECONDS -lt $deadline ] && kill -0 "$p" 2>/dev/null; do
		answer
		sleep 0.01
	done
	kill -9 "$p" 2>/dev/null
	wait "$watcher" 2>/dev/null
	# the shell's "Killed" notice leaves the cursor mid-line: not tui_exit's ^
	wait_for "[exit 137]" || continue
	J=$RBC_RUNS_DIR/$d/journal.jsonl
	at=$(lines "$J")
	if [ "$at" -ge "$CN" ] || [ -n "${seen[$at]:-}" ]; then continue; fi
	seen[$at]=1
	points=$((points + 1))
	tui_start 100 30 resume "$d"
	if ! wait_re "resumed from the journal|Unfinished: "; then
		diffs="$diffs
kill at $at lines: the resumed console did not open: $SCREEN"; continue
	fi
	# A step cut short by the kill: the console asks; r runs it again.
	for _ in 1 2 3 4; do
		prompt=$(screen | grep -F "Unfinished: ") || break
		keys r
		wait_gone "$prompt"
	done
	keys a
	if ! walk_console; then diffs="$diffs
kill at $at lines: the resumed console did not walk to the end: $SCREEN"; continue; fi
	"$RBC" export "$d" --format json >"$TMP/r.json"
	r=$(norm "$TMP/cbase.json" "$TMP/r.json")
	if [ "$r" = equal ]; then equal=$((equal + 1)); else diffs="$diffs
kill at $at lines of $CN:
$r"; fi
done
echo "# console: $points kill points, $equal resumed exports equal to the uninterrupted one"
expect_eq "console: $POINTS distinct kill points" "$points" "$POINTS"
if [ "$equal" = "$points" ] && [ "$points" -gt 0 ]; then
	ok "console: after each kill, resume ends with the uninterrupted run's JSON export"
else fail "console: after each kill, resume ends with the uninterrupted run's JSON export" "$diffs"; fi

# --- the console: a quit mid-run is a stopped run, and resumes -----------------------------
snap
tui_start 100 30 run --operator tester --var TRIES="$TRIES" "$F"
wait_idle
keys a
wait_for "◆ WAITING"
keys q
wait_for "[y/N]" && keys y
tui_exit
d=$(new_run)
run "$RBC" runs
expect_match "a run quit before its end is listed as stopped" "$OUT" "$d +crash +[0-9T:Z-]+ +tester +stopped"
tui_start 100 30 resume "$d"
expect_screen "the stopped run resumes in the console at the step it waited at" "resumed from the journal: a goes on at 4 Sign-off"
keys a
if walk_console; then ok "… and walks to its end"; else fail "… and walks to its end" "$SCREEN"; fi
"$RBC" export "$RBC_RUNS_DIR/$d" --format json >"$TMP/r.json"
check=$(python3 - "$TMP/cbase.json" "$TMP/r.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
keep = lambda d: [(s["id"], s["state"], s["verdict"], s.get("by"), s.get("explanation")) for s in d["steps"]]
print("steps:%s counts:%s verdict:%s" % (keep(a) == keep(b), a["counts"] == b["counts"], b["verdict"]))
ev = [t["ev"] for t in b["timeline"]]
print("stop:%s resumed:%s" % (ev.count("run_finished") == 2, "run_resumed" in ev))
PY
)
expect_match "… with the steps, verdicts and counts of the uninterrupted run" "$check" 'steps:True counts:True verdict:FAIL'
expect_match "… and a timeline that keeps the stop and the resume" "$check" 'stop:True resumed:True'

# --- the console says what the record could not give back ---------------------------------
snap
TUI_ENV="API_TOKEN=$secret" tui_start 120 30 run --operator tester --var NAP=2 "$ROOT/tests/fixtures/journal/steps.json"
wait_idle
d=$(new_run) p=$(rbc_pid)
keys a
wait_for "◆ WAITING" && keys Space
for _ in $(seq 500); do
	grep -q '"step_started","step":"journal/nap"' "$RBC_RUNS_DIR/$d/journal.jsonl" 2>/dev/null && break
	sleep 0.01
done
[ -n "$p" ] && kill -9 "$p"
wait_for "[exit 137]"
TUI_ENV="API_TOKEN=$secret" tui_start 160 30 resume "$d"
expect_screen "the resumed console asks about the step the kill cut short" "Unfinished: 5 Naps started"
keys r
expect_screen "… r: it runs again, and the console names the secret capture to run again" \
	"not in the record (a secret): TOKEN_SEEN (journal/secret)"
keys q
tui_exit

t_done
