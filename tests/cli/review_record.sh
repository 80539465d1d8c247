#!/usr/bin/env bash
# The record holds what it promises, tried where a hostile review found it
# did not:
#  - a journal whose fdatasync fails (a library preloaded into rbc makes it
#    fail, as a failing disk does, while writes succeed) holds only lines
#    that were synced: what the failed sync left is cut off, no step starts
#    before its start is synced, the results shown after the loss say they
#    are not in the record, the summary too, and the run is interrupted,
#    resumable, its message naming the record's real last line; the
#    console, once the record is lost, says a note is not in it;
. tests/lib.sh
. tests/tui.sh
export RBC_RUNS_DIR=$TMP/runs
mkdir -p "$RBC_RUNS_DIR"

snap() { ls "$RBC_RUNS_DIR" 2>/dev/null | sort >"$TMP/snap"; }
new_run() { ls "$RBC_RUNS_DIR" 2>/dev/null | sort | comm -13 "$TMP/snap" - | head -1; }
# ev RUN PYEXPR: evaluates PYEXPR over the journal's events (a list of dicts, `e`).
ev() {
	python3 - "$RBC_RUNS_DIR/$1/journal.jsonl" "$2" <<'PY'
import json, sys
e = [json.loads(l) for l in open(sys.argv[1]) if l.endswith("\n")]
def fin(step):
    return [x for x in e if x["ev"] == "step_finished" and x.get("step") == step][-1]
print(eval(sys.argv[2]))
PY
}
# state_of RUN: the STATE and VERDICT columns `rbc runs` gives the run.
state_of() { "$RBC" runs 2>/dev/null | awk -v d="$1" '$1 == d { print $(NF-1), $NF }'; }

# --- a journal that cannot be synced -------------------------------------------------------------
# fdatasync fails with EIO on the journal once it holds INJ_SYNC_FAIL_AT
# bytes; every sync that succeeds logs the size it made durable.
cat >"$TMP/syncfail.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int journal_fd(int fd)
{
	char link[64], path[4096];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof path - 1);
	if (n < 0)
		return 0;
	path[n] = '\0';
	const char *base = strrchr(path, '/');
	return base && strcmp(base + 1, "journal.jsonl") == 0;
}

int fdatasync(int fd)
{
	static int (*real)(int);
	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	const char *at = getenv("INJ_SYNC_FAIL_AT"), *log = getenv("INJ_SYNC_LOG");
	struct stat st;
	if (!at || !journal_fd(fd) || fstat(fd, &st) != 0)
		return real(fd);
	if (st.st_size >= atoll(at)) {
		errno = EIO;
		return -1;
	}
	int r = real(fd);
	FILE *f = r == 0 && log ? fopen(log, "a") : NULL;
	if (f) {
		fprintf(f, "%lld\n", (long long)st.st_size);
		fclose(f);
	}
	return r;
}
C
if ! cc -shared -fPIC -o "$TMP/syncfail.so" "$TMP/syncfail.c" -ldl 2>"$TMP/cc.err"; then
	fail "the fdatasync injector builds" "$(cat "$TMP/cc.err")"
	t_done
fi
# An ASan build wants its runtime first; the injector only wraps one call.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0

python3 - "$TMP/twelve.json" <<'PY'
import json, sys
steps = [{"id": "s%02d" % i, "title": "Step %d" % i, "run": "echo %02d >> \"$DIR/ran-$TAG\"" % i}
         for i in range(1, 13)]
json.dump({"runbook": "twelve", "title": "Twelve steps", "steps": steps}, open(sys.argv[1], "w"))
PY
export DIR=$TMP
snap
TAG=probe "$RBC" run --batch "$TMP/twelve.json" >/dev/null 2>&1
total=$(wc -c <"$RBC_RUNS_DIR/$(new_run)/journal.jsonl")

# syncfail WHAT AT: runs the twelve steps with syncs failing from AT bytes on.
syncfail() {
	local what=$1 at=$2 J
	rm -f "$TMP/synced-$what"
	snap
	TAG=$what INJ_SYNC_FAIL_AT=$at INJ_SYNC_LOG=$TMP/synced-$what LD_PRELOAD=$TMP/syncfail.so \
		run "$RBC" run --batch "$TMP/twelve.json"
	d=$(new_run)
	J=$RBC_RUNS_DIR/$d/journal.jsonl
	expect_eq "sync fails at $what: exit 74" "$RC" 74
	expect_eq "… the journal holds only what a sync made durable (its size is the last synced size)" \
		"$(wc -c <"$J")" "$(tail -1 "$TMP/synced-$what")"
	expect_match "… RECORD LOST is said where it happens, on standard output, before the summary" \
		"$(printf '%s\n' "$OUT" | grep -E '^(RECORD LOST|summary:)' | cut -c1-11 | tr '\n' ' ')" \
		'^RECORD LOST summary: .*$'
	expect_match "… it names the record's last line, the journal's last" "$OUT" \
		"^RECORD LOST  the journal .* cannot be synced to disk \(Input/output error\): the record ends at line $(wc -l <"$J") "
	expect_match "… the summary says it is not in the record" "$OUT" '^summary: [A-Z]+ \(not in the record\) — '
	expect_eq "… every step that ran is recorded as started (a start is synced before the step runs)" \
		"$(python3 - "$J" "$TMP/ran-$what" <<'PY'
import json, sys
started = {json.loads(l)["step"].split("/s")[1] for l in open(sys.argv[1])
           if '"step_started"' in l and '"step":"twelve/s' in l}
ran = [l.strip() for l in open(sys.argv[2])] if __import__("os").path.exists(sys.argv[2]) else []
print(sorted(set(ran) - started))
PY
)" "[]"
	expect_eq "… rbc runs lists it as interrupted, not finished" "$(state_of "$d")" "interrupted —"
}
# Late: the run's last lines (its end) are in the sync that fails.
syncfail late $((total - 300))
late=$d
# Early: a step's start is in the sync that fails: it never runs.
syncfail early $((total / 3))
n=$(wc -l <"$TMP/ran-early")
if [ "$n" -lt 12 ]; then ok "a step whose start was not synced never runs ($n of 12 ran)"
else fail "a step whose start was not synced never runs ($n of 12 ran)"; fi

# The console: a note added once the record is lost is not in it, and says so.
snap
TUI_ENV="TAG=console DIR=$TMP LD_PRELOAD=$TMP/syncfail.so INJ_SYNC_FAIL_AT=$((total / 3)) ASAN_OPTIONS=$ASAN_OPTIONS" \
	tui_start 120 30 run --operator tester "$TMP/twelve.json"
wait_idle
keys a
if wait_for "RECORD LOST"; then
	wait_idle
	keys n
	type_text "after the loss"
	keys Enter
	expect_screen "console: a note after the record is lost is said not to be in the record" \
		"the note is not in the record"
	expect_nomatch "… never \"note added\"" "$SCREEN" 'note added'
	keys q
	wait_re '\[y/N\]|^\[exit [0-9]+\]' && case $SCREEN in *"[y/N]"*) keys y ;; esac
	tui_exit
	expect_eq "… and the journal has no note" "$(ev "$(new_run)" 'len([x for x in e if x["ev"] == "note"])')" 0
else
	fail "console: a note after the record is lost is said not to be in the record" "never lost: $SCREEN"
fi

TAG=late run "$RBC" resume --batch --unfinished rerun "$late"
expect_eq "the run the failed sync cut short resumes (it is not finished) and ends" "$RC" 0
expect_eq "… with every step run, the cut one again" "$(sort -u "$TMP/ran-late" | wc -l)" 12

# --- a step run by hand after the run's end ------------------------------------------------------------
# b counts its runs; with the flag it takes 30 s (it is cut short), with
# FAILFLAG it fails.
rbc_pid() { pgrep -P "$(tmx list-panes -t t -F '#{pane_pid}' 2>/dev/null | head -1)" 2>/dev/null | head -1; }
# gone PID: waits (up to 20 s) for a process to end.
gone() { local i; for i in $(seq 1 1000); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.02; done; return 1; }
# runs_of TAG: how many times b ran.
runs_of() { wc -l <"$TMP/b-ran-$1" 2>/dev/null || echo 0; }
# wait_runs TAG N: waits (up to 20 s) for b to have started N times.
wait_runs() { local i; for i in $(seq 1 1000); do [ "$(runs_of "$1")" -ge "$2" ] && return 0; sleep 0.02; done; return 1; }
# json_steps RUN: the JSON export's verdict, state, and each step's state and verdict.
json_steps() {
	"$RBC" export "$1" --format json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["state"], d["verdict"], " ".join("%s:%s:%s" % (s["id"], s["state"], s["verdict"]) for s in d["steps"] if "/" in s["id"]))'
}
cat >"$TMP/hand.json" <<JSON
{ "runbook": "hand", "title": "Hand rerun",
  "steps": [
    { "id": "a", "title": "A", "run": "true" },
    { "id": "b", "title": "B", "run": "echo ran >> \"$TMP/b-ran-\$TAG\"; if [ -e \"$TMP/fail-\$TAG\" ]; then exit 1; fi; if [ -e \"$TMP/flag-\$TAG\" ]; then sleep 30; fi" },
    { "id": "c", "title": "C", "run": "true" } ] }
JSON
# hand_rerun TAG: the console runs the runbook to its end, then b again by hand.
hand_rerun() {
	snap
	TUI_ENV="TAG=$1" tui_start 120 30 run --operator tester "$TMP/hand.json"
	wait_idle
	keys a
	wait_for "finished PASS" || return 1
	wait_idle
	d=$(new_run)
	keys Up
	wait_re '▸.* B' 5 || wait_re '> .*B' 2
	[ -n "${2:-}" ] && touch "$TMP/$2-$1"
	keys Enter
	wait_runs "$1" 2
}

# Quit while b runs again by hand: b is cancelled, and a resume runs it again.
if hand_rerun quit flag; then
	keys q
	wait_re '\[y/N\]|^\[exit [0-9]+\]' && case $SCREEN in *"[y/N]"*) keys y ;; esac
	tui_exit
	expect_eq "a step run by hand after the end, then a quit: the run ends stopped, UNKNOWN" \
		"$(ev "$d" '[(x["verdict"], x.get("stopped", False)) for x in e if x["ev"] == "run_finished"][-1]')" \
		"('UNKNOWN', True)"
	rm -f "$TMP/flag-quit"
	TAG=quit run "$RBC" resume --batch --unfinished rerun "$d"
	expect_eq "… a resume runs the cancelled step again" "$(runs_of quit)" 3
	expect_match "… and ends PASS only with every step passed" "$OUT" '^summary: PASS — 3 steps: 3 passed — '
	expect_eq "… rbc runs says finished PASS" "$(state_of "$d")" "finished PASS"
	expect_eq "… the JSON export: b done PASS" "$(json_steps "$d")" \
		"finished PASS hand/a:done:PASS hand/b:done:PASS hand/c:done:PASS"
else
	fail "a step run by hand after the end, then a quit" "b never ran by hand: $SCREEN"
fi

# SIGKILL while b runs again by hand: the run is not finished, and the
# resume that says b runs again runs it.
if hand_rerun kill flag; then
	p=$(rbc_pid)
	kill -9 "$p"
	gone "$p"
	for q in $(pgrep -f "$TMP/flag-kill"); do kill -9 -- "-$(ps -o pgid= -p "$q" | tr -d ' ')" 2>/dev/null; done
	tmx kill-server >/dev/null 2>&1
	expect_eq "a step run by hand after the end, then SIGKILL: rbc runs says interrupted, not finished" \
		"$(state_of "$d")" "interrupted —"
	expect_eq "… the JSON export too: b is running, with no verdict" "$(json_steps "$d")" \
		"interrupted None hand/a:done:PASS hand/b:running:None hand/c:done:PASS"
	rm -f "$TMP/flag-kill"
	TAG=kill run "$RBC" resume --batch --unfinished rerun "$d"
	expect_match "… the resume says b runs again" "$OUT" '^AGAIN +b .*it runs again'
	expect_eq "… and runs it" "$(runs_of kill)" 3
	expect_match "… and ends PASS with every step passed, none not run" "$OUT" '^summary: PASS — 3 steps: 3 passed — '
	expect_eq "… the JSON export: b done PASS" "$(json_steps "$d")" \
		"finished PASS hand/a:done:PASS hand/b:done:PASS hand/c:done:PASS"
else
	fail "a step run by hand after the end, then SIGKILL" "b never ran by hand: $SCREEN"
fi

# A step run by hand after the end that fails: the run ends again, FAIL.
if hand_rerun failed fail; then
	wait_for "finished FAIL"
	wait_idle
	keys q
	wait_re '\[y/N\]|^\[exit [0-9]+\]' && case $SCREEN in *"[y/N]"*) keys y ;; esac
	tui_exit
	expect_eq "a step run by hand after the end fails: the run's last end says FAIL" \
		"$(ev "$d" '[x["verdict"] for x in e if x["ev"] == "run_finished"][-1]')" FAIL
	expect_eq "… rbc runs says finished FAIL" "$(state_of "$d")" "finished FAIL"
else
	fail "a step run by hand after the end fails" "b never ran by hand: $SCREEN"
fi

# --- an incident whose level's procedure a SIGTERM cut short -------------------------------------------
cat >"$TMP/inc.json" <<JSON
{ "runbook": "inc", "title": "Incident", "kind": "incident",
  "roles": [ { "id": "ic", "name": "Incident commander" }, "comms" ],
  "severities": [
    { "id": "L1", "name": "Minor", "restore": "15m",
      "steps": [ { "id": "l1-fix", "title": "Fix", "run": "echo fixing >> \"$TMP/fix-ran\"; if [ -e \"$TMP/fix-flag\" ]; then sleep 30; fi" } ] },
    { "id": "L2", "name": "Major", "restore": "1h", "steps": [ { "id": "l2-fix", "title": "Fix2", "run": "true" } ] } ],
  "exit_criteria": [ "health ok" ],
  "steps": [
    { "id": "detect", "title": "Detect", "run": "echo detect" },
    { "id": "follow", "title": "Follow-up", "run": "true" } ] }
JSON
touch "$TMP/fix-flag"
snap
tui_start 120 30 run --operator alice --severity L1 --title "DB down" "$TMP/inc.json"
wait_idle
keys a
if wait_for "finished PASS" && wait_idle && keys Down Down && wait_for "┌ L1.1 Fix"; then
	d=$(new_run)
	keys Enter
	for _ in $(seq 1 1000); do [ -s "$TMP/fix-ran" ] && break; sleep 0.02; done
	p=$(rbc_pid)
	kill -TERM "$p"
	tui_exit
	expect_eq "an incident's procedure step run by hand, then SIGTERM: the run ends stopped, UNKNOWN" \
		"$(ev "$d" '[(x["verdict"], x.get("stopped", False)) for x in e if x["ev"] == "run_finished"][-1]')" \
		"('UNKNOWN', True)"
	"$RBC" export "$d" --format incident-md -o "$TMP/inc.md"
	"$RBC" export "$d" --format postmortem -o "$TMP/pm.md"
	"$RBC" export "$d" --format incident-json -o "$TMP/inc.jsonx"
	expect_match "… incident-md says the run stopped, and why" "$(cat "$TMP/inc.md")" \
		'^\*\*Run\*\*: ⏸ UNKNOWN — stopped before its end: interrupted by SIGTERM$'
	expect_match "… and names the procedure step it cut short" "$(cat "$TMP/inc.md")" \
		'^- L1\.1 Fix \(L1\): CANCELLED — interrupted by SIGTERM$'
	expect_match "… so does the postmortem" "$(grep -E '^\*\*Run\*\*|^- L1\.1' "$TMP/pm.md" | tr '\n' '|')" \
		'^\*\*Run\*\*: ⏸ UNKNOWN — stopped before its end: interrupted by SIGTERM\|- L1\.1 Fix \(L1\): CANCELLED'
	expect_eq "… and incident-json" \
		"$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["run_state"], d["run_verdict"], d["stopped_because"], [(p["step"], p["state"], p["verdict"]) for p in d["procedure_steps"]])' "$TMP/inc.jsonx")" \
		"stopped UNKNOWN interrupted by SIGTERM [('inc/l1-fix', 'cancelled', 'UNKNOWN')]"
	run python3 -m jsonschema -i "$TMP/inc.jsonx" "$ROOT/docs/incident.schema.json"
	expect_eq "… valid against docs/incident.schema.json" "$RC" 0
	rm -f "$TMP/fix-flag"
	run "$RBC" resume --batch --unfinished rerun "$d"
	expect_eq "… a resume runs the cut procedure step again" "$(wc -l <"$TMP/fix-ran")" 2
	expect_nomatch "… and never ends PASS beside a cancelled step" "$OUT" '^summary: PASS .*cancelled'
	expect_match "… it ends PASS once every step passed" "$OUT" '^summary: PASS — 3 steps: 3 passed — '
	"$RBC" export "$d" --format incident-json -o "$TMP/inc.jsonx"
	expect_eq "… and incident-json says so" \
		"$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["run_state"], d["run_verdict"], [(p["step"], p["state"], p["verdict"]) for p in d["procedure_steps"]])' "$TMP/inc.jsonx")" \
		"finished PASS [('inc/l1-fix', 'done', 'PASS')]"
else
	fail "an incident's procedure step run by hand, then SIGTERM" "$SCREEN"
fi

# --- a watch cut short by a stop ------------------------------------------------------------------------
cat >"$TMP/watch.json" <<JSON
{ "runbook": "wt", "title": "Watched",
  "steps": [
    { "id": "w", "title": "Health holds", "run": "true", "watch": true, "repeat": { "every": "50ms" } },
    { "id": "long", "title": "Long", "run": "touch \"$TMP/long-\$TAG\"; if [ -e \"$TMP/long-flag\" ]; then sleep 60; fi" },
    { "id": "after", "title": "After", "run": "true" } ] }
JSON
touch "$TMP/long-flag"
snap
TAG=term "$RBC" run --batch "$TMP/watch.json" >"$TMP/w.out" 2>&1 &
pid=$!
for _ in $(seq 1 1000); do [ -e "$TMP/long-term" ] && break; sleep 0.01; done
sleep 0.2
kill -TERM "$pid"
wait "$pid"
d=$(new_run)
expect_match "a watch SIGTERM cuts short is CANCELLED, not PASS" "$(cat "$TMP/w.out")" '^CANCELLED +w  Health holds — interrupted by SIGTERM'
expect_eq "… the journal: cancelled, UNKNOWN" "$(ev "$d" '(fin("wt/w")["state"], fin("wt/w")["verdict"])')" "('cancelled', 'UNKNOWN')"
"$RBC" export "$d" --format md -o "$TMP/w.md"
"$RBC" export "$d" --format junit -o "$TMP/w.xml"
expect_match "… the deployment log shows it cancelled, never ✅" "$(grep '^| 1 |' "$TMP/w.md")" '^\| 1 \| Health holds \| ⏸ cancelled \|'
expect_eq "… JUnit does not pass it" \
	"$(python3 -c 'import sys, xml.etree.ElementTree as ET; print([[x.tag for x in c if x.tag != "system-out"] for c in ET.parse(sys.argv[1]).getroot().iter("testcase") if c.get("name").endswith("Health holds")])' "$TMP/w.xml")" \
	"[['skipped']]"
rm -f "$TMP/long-flag"
TAG=term run "$RBC" resume --batch --unfinished rerun "$d"
expect_eq "… a resume samples it again, to the run's end" \
	"$(ev "$d" '(fin("wt/w")["state"], fin("wt/w")["verdict"], fin("wt/w")["text"].endswith("(the run ended)"))')" \
	"('done', 'PASS', True)"
expect_match "… and the run ends PASS, every step passed" "$OUT" '^summary: PASS — 3 steps: 3 passed — '

# --- the tree a resumed run goes on with ------------------------------------------------------------
# v1: a, b (sleeps), c; v2: a, x (sleeps), e. The run starts on v1, is
# killed in b, goes on with v2 (--force), is killed in x; the file is v1
# again.
tree_v1() {
	cat >"$TMP/back.json" <<JSON
{ "runbook": "back", "title": "Back",
  "steps": [
    { "id": "a", "title": "A v1", "run": "true" },
    { "id": "b", "title": "B v1", "run": "touch \"$TMP/in-\$TAG\"; sleep \$SLP" },
    { "id": "c", "title": "C v1", "run": "true" } ] }
JSON
}
tree_v2() {
	cat >"$TMP/back.json" <<JSON
{ "runbook": "back", "title": "Back",
  "steps": [
    { "id": "a", "title": "A v2", "run": "true" },
    { "id": "x", "title": "X v2", "run": "touch \"$TMP/in-\$TAG\"; sleep \$SLP" },
    { "id": "e", "title": "E v2", "run": "true" } ] }
JSON
}
# killed_in TAG CMD...: runs CMD (SLP=60) and SIGKILLs rbc once its step touched in-TAG.
killed_in() {
	local tag=$1 pid p
	shift
	rm -f "$TMP/in-$tag"
	TAG=$tag SLP=60 "$@" >/dev/null 2>&1 &
	pid=$!
	for _ in $(seq 1 1000); do [ -e "$TMP/in-$tag" ] && break; sleep 0.01; done
	kill -9 "$pid"; wait "$pid" 2>/dev/null
	for p in $(pgrep -f 'sleep 60'); do
		[ "$(cat "/proc/$p/environ" 2>/dev/null | tr '\0' '\n' | grep -c "^TAG=$tag$")" = 1 ] && kill -9 "$p"
	done
}
tree_v1
snap
killed_in t1 "$RBC" run --batch "$TMP/back.json"
d=$(new_run)
tree_v2
killed_in t2 "$RBC" resume --batch --unfinished rerun --force "$d"
tree_v1
before=$(sha256sum <"$RBC_RUNS_DIR/$d/journal.jsonl")
TAG=t3 SLP=0 run "$RBC" resume --batch --unfinished rerun "$d"
expect_eq "the file is the header's again but the run went on with another: resume without --force refuses it (65)" "$RC" 65
v2sha=$(ev "$d" '[x for x in e if x["ev"] == "run_resumed" and "runbooks" in x][-1]["runbooks"][0]["sha256"][:12]')
expect_match "… comparing it with the tree the run used last (v2's sha256), not the header's" "$ERR" \
	"back\.json: changed since the run started \(sha256 $v2sha… then, $(sha256sum "$TMP/back.json" | cut -c1-12)… now\)"
expect_eq "… and appends nothing" "$(sha256sum <"$RBC_RUNS_DIR/$d/journal.jsonl")" "$before"
TAG=t3 SLP=0 run "$RBC" resume --batch --unfinished rerun --force "$d"
expect_eq "with --force it goes on with the file as it is" "$RC" 0
"$RBC" export "$d" --format json -o "$TMP/back-x.json"
"$RBC" export "$d" --format md -o "$TMP/back-x.md"
expect_eq "… and the JSON export shows the tree it used: v1's steps, x (cut short, gone from it) cancelled, e gone" \
	"$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["state"], d["verdict"], " ".join("%s:%s" % (s["id"], s["state"]) for s in d["steps"] if "/" in s["id"]))' "$TMP/back-x.json")" \
	"finished PASS back/a:done back/b:done back/c:done back/x:cancelled"
expect_nomatch "… the deployment log shows no step running or not run, nor E v2" "$(grep '^| ' "$TMP/back-x.md")" '⏸ running|not run|E v2'

# --- one validation, every reader -------------------------------------------------------------------
# A base run cut short (its last lines gone, as a kill leaves them), and an
# incident run; each mutation is a copy of one of them under a run id of
# its own, its header naming it.
cat >"$TMP/small.json" <<'JSON'
{ "runbook": "small", "title": "Small",
  "steps": [
    { "id": "a", "title": "A", "run": "echo out" },
    { "id": "b", "title": "B", "run": "true" },
    { "id": "c", "title": "C", "run": "true" } ] }
JSON
snap
"$RBC" run --batch "$TMP/small.json" >/dev/null 2>&1
base=$RBC_RUNS_DIR/$(new_run)
snap
"$RBC" run --batch --assume done "$ROOT/tests/fixtures/good/incident.json" >/dev/null 2>&1
ibase=$RBC_RUNS_DIR/$(new_run)
# mutate NAME BASE PYTHON: a copy of BASE as run 20990101T000000Z-m-NAME (in $M)
# whose journal the Python rewrote, with raw (the lines' bytes), line(i)
# (parsed), put(i, obj), insert(i, obj) (the seqs after it renumbered),
# find(pred) (the first line pred holds for), declared(i) and inc(i, **fields)
# (an incident line inserted). The copy ends before the run's last two lines
# (its end): it is interrupted, and resumable.
mutate() {
	M=20990101T000000Z-m-$1
	rm -rf "${RBC_RUNS_DIR:?}/$M"
	cp -a "$2" "$RBC_RUNS_DIR/$M"
	python3 - "$RBC_RUNS_DIR/$M/journal.jsonl" "$M" "$3" <<'PY'
import json, sys
path, rid, code = sys.argv[1], sys.argv[2], sys.argv[3]
raw = open(path, "rb").read().splitlines(True)[:-2]
def dump(o): return (json.dumps(o, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
def line(i): return json.loads(raw[i])
def put(i, o): raw[i] = dump(o)
def find(pred): return next(i for i in range(len(raw)) if pred(line(i)))
def insert(i, o):
    raw.insert(i, dump(o))
    for k in range(i, len(raw)):
        e = line(k); e["seq"] = k; put(k, e)
def declared(i, to="L1"):
    insert(i, {"seq": 0, "t": "2026-12-04T02:00:00.000Z", "ev": "incident", "what": "declared",
               "id": "INC-1", "title": "Down", "to": to, "impact_start": "2026-12-04T01:55:00.000Z",
               "by": "alice", "automatic": False})
def inc(i, **kw):
    o = {"seq": 0, "t": "2026-12-04T02:01:00.000Z", "ev": "incident", "by": "alice", "automatic": False}
    o.update(kw); insert(i, o)
h = line(0); h["run"] = rid; put(0, h)
exec(code)
open(path, "wb").write(b"".join(raw))
PY
}
# refused WHAT LINE: every reader refuses run $M, naming LINE of its journal.
refused() {
	local what=$1 at=$2 fmt before
	run "$RBC" runs
	expect_match "$what: rbc runs lists the run as damaged" "$(printf '%s\n' "$OUT" | grep -F "$M")" "^$M +damaged"
	expect_match "… naming the line" "$ERR" "$M/journal\.jsonl:$at: "
	for fmt in json md junit; do
		run "$RBC" export "$M" --format "$fmt"
		expect_match "… export --format $fmt refuses it (65), naming the line" "$RC:$ERR" "^65:.*journal\.jsonl:$at: "
	done
	before=$(sha256sum <"$RBC_RUNS_DIR/$M/journal.jsonl")
	run "$RBC" resume --batch --unfinished rerun "$M"
	expect_match "… resume refuses it (65), naming the line" "$RC:$ERR" "^65:.*journal\.jsonl:$at: "
	expect_eq "… and appends nothing" "$(sha256sum <"$RBC_RUNS_DIR/$M/journal.jsonl")" "$before"
	run "$RBC" history push --db "postgresql://rbc@127.0.0.1:1/none?connect_timeout=2" "$M"
	expect_match "… history push refuses it before it reaches a database, naming the line" "$ERR" \
		"journal\.jsonl:$at: "
}

# The copies as they are, and with a valid incident, read everywhere.
mutate plain "$base" ''
run "$RBC" export "$M" --format json
expect_eq "a copy under a run id of its own, its header naming it, reads back" "$RC" 0
expect_eq "… and is interrupted" "$(state_of "$M")" "interrupted —"
run "$RBC" history push --db "postgresql://rbc@127.0.0.1:1/none?connect_timeout=2" "$M"
expect_nomatch "… and history push only fails to reach the database" "$ERR" 'journal\.jsonl:[0-9]+: '
mutate incident "$ibase" 'declared(1)'
expect_rc "an incident run's copy with its declaration reads back (incident-md)" 0 "$RBC" export "$M" --format incident-md
expect_eq "… and is interrupted" "$(state_of "$M")" "interrupted —"

# Line numbers: 1 the header; in the base, 6 a's end (3 its start, 4 its sample).
FA='i = find(lambda e: e["ev"] == "step_finished" and e.get("step") == "small/a")'
mutate dup-verdict "$base" "$FA"'; raw[i] = raw[i].replace(b"\"verdict\":\"PASS\"", b"\"verdict\":\"PASS\",\"verdict\":\"FAIL\"")'
refused 'a key twice in a line ("verdict":"PASS","verdict":"FAIL")' 6
mutate dup-nested "$base" 'raw[4] = raw[4].replace(b"\"exit\":0", b"\"exit\":0,\"exit\":1", 1)'
refused 'a key twice in an object inside a line (a sample'"'"'s "exit")' 5
mutate seq-float "$base" 'raw[3] = raw[3].replace(b"\"seq\":3,", b"\"seq\":3.0,")'
refused 'a seq written 3.0' 4
mutate attempt-zero "$base" "$FA"'; raw[i] = raw[i].replace(b"\"attempt\":1", b"\"attempt\":01")'
refused 'a number JSON does not allow (01)' 6
mutate t-garbage "$base" 'e = line(3); e["t"] = "garbage"; put(3, e)'
refused 'a "t" that is no time' 4
mutate t-feb30 "$base" 'e = line(3); e["t"] = "2026-02-30T00:00:00.000Z"; put(3, e)'
refused 'a "t" that is no real time (February 30)' 4
mutate utf8 "$base" "$FA"'; raw[i] = raw[i].replace(b"\"text\":\"", b"\"text\":\"\xff", 1)'
refused 'bytes that are not UTF-8 in a line' 6
mutate nul "$base" "$FA"'; raw[i] = raw[i].replace(b"\"text\":\"", b"\"text\":\"\x00", 1)'
refused 'a raw NUL in a line' 6
mutate nul-escape "$base" "$FA"'; raw[i] = raw[i].replace(b"\"text\":\"", b"\"text\":\"\\u0000", 1)'
refused 'a \u0000 in a line' 6
mutate trailing "$base" 'raw[3] = raw[3].rstrip(b"\n") + b" {\"seq\":99}\n"'
refused 'more after the object of a line' 4
mutate verdict "$base" "$FA"'; e = line(i); e["verdict"] = "MAYBE"; put(i, e)'
refused 'a verdict rbc has not (MAYBE)' 6
mutate state "$base" "$FA"'; e = line(i); e["state"] = "exploded"; put(i, e)'
refused 'a state rbc has not (exploded)' 6
mutate run-name "$base" 'e = line(0); e["run"] = "../../etc"; put(0, e)'
refused 'a header naming another run than its directory (../../etc)' 1
run "$RBC" runs
expect_nomatch "… rbc runs never lists ../../etc" "$OUT" '\.\./\.\./etc'

mutate inc-level "$ibase" 'declared(1); inc(2, what="severity", **{"from": "L1", "to": "L9", "text": "worse"})'
refused 'an incident: a change to an unknown level' 3
mutate inc-role "$ibase" 'declared(1); inc(2, what="role", role="janitor", **{"from": None, "to": "bob"})'
refused 'an incident: an unknown role' 3
mutate inc-status "$ibase" 'declared(1); inc(2, what="status", **{"from": "investigating", "to": "exploded"})'
refused 'an incident: an unknown status' 3
mutate inc-todo "$ibase" 'declared(1); inc(2, what="note", text="n"); inc(3, what="todo_done", todo=1, text="n")'
refused 'an incident: a todo_done naming no todo' 4
mutate inc-declared "$ibase" 'declared(1); declared(2, "L2")'
refused 'an incident: declared twice' 3
mutate inc-early "$ibase" 'inc(1, what="note", text="before"); declared(2)'
refused 'an incident: a line before the declaration' 2

# rbc writes only what it reads back: a body with a key twice is journaled
# with the value the judgement read (the last), an operator's name that is
# not UTF-8 as valid text, and the database stores what the journal says.
S=$ROOT/tests/services
SVC=$(mktemp -d "${TMPDIR:-/tmp}/rbc-review-record.XXXXXX")
trap '"$S/stop" "$SVC" >/dev/null 2>&1; tmx kill-server >/dev/null 2>&1; rm -rf "$SVC" "$TMP"' EXIT
if "$S/start" "$SVC" fixture postgres >"$TMP/start.out" 2>&1; then
	# shellcheck disable=SC1091
	. "$SVC/env"
	DB="postgresql://rbc@127.0.0.1:$PGPORT/rbc_test"
	curl -sS --max-time 10 -o /dev/null -X PUT \
		--data '{"body": "{\"status\":\"ok\",\"status\":\"bad\",\"n\":1}", "content_type": "application/json"}' \
		"$FIXTURE_URL/_control/dup"
	cat >"$TMP/dup.json" <<JSON
{ "runbook": "dup", "title": "A key twice",
  "steps": [ { "id": "h", "title": "Health", "http": { "url": "$FIXTURE_URL/dup" },
               "expect": "json.status == \"bad\" && len(json) == 3" } ] }
JSON
	snap
	run "$RBC" run --batch --db "$DB" --operator $'al\xffice' "$TMP/dup.json"
	d=$(new_run)
	expect_match "a body with a key twice: the judgement reads the last" "$OUT" '^PASS +h '
	expect_eq "… the journal has no object with a key twice, and keeps what the judgement read" \
		"$(python3 - "$RBC_RUNS_DIR/$d/journal.jsonl" <<'PY'
import json, sys
twice = []
def pairs(p):
    keys = [k for k, _ in p]
    twice.extend(k for k in set(keys) if keys.count(k) > 1)
    return dict(p)
e = [json.loads(l, object_pairs_hook=pairs) for l in open(sys.argv[1], encoding="utf-8")]
print(twice, [x["sample"]["json"]["status"] for x in e if x["ev"] == "sample"], e[0]["operator"])
PY
)" "[] ['bad'] al�ice"
	expect_rc "… and reads back" 0 "$RBC" export "$d" --format json
	expect_eq "… the database holds every line, the sample as the journal has it" \
		"$(psql -X -q -At "$DB" -c "SELECT count(*), max(event->'sample'->'json'->>'status') FROM rbc_events WHERE run = '$d'" 2>&1)" \
		"$(($(wc -l <"$RBC_RUNS_DIR/$d/journal.jsonl") - 1))|bad"
else
	fail "the test services start" "$(tail -20 "$TMP/start.out")"
fi

t_done
