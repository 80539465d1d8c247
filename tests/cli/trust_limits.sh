#!/usr/bin/env bash
# Limits a hostile probe or server cannot stretch: a repeat's `for` and
# `within` are wall time (a sample still running at the deadline is cut, and
# the explanation says so); a command is done once its shell has exited and
# its output has drained for a short grace, whatever it left in the
# background.
. tests/lib.sh
export RBC_RUNS_DIR=$TMP/runs

# batch ARGS...: rbc run --batch ARGS, output in $OUT/$ERR, status $RC.
batch() { run "$RBC" run --batch "$@"; }
# line ID: the output line of step ID ("VERDICT  ID  title — explanation").
line() { printf '%s\n' "$OUT" | grep -E "^[A-Z]+ +$1  " | tail -1; }
# journal: the journal of the only run under $RBC_RUNS_DIR.
journal() { echo "$RBC_RUNS_DIR"/*/journal.jsonl; }
# took ID: how long step ID took, in ms, as its journal line says.
took() { jq -r --arg s "$1" 'select(.ev == "step_finished" and .step == $s) | .duration_ms' "$(journal)" | tail -1; }
# below WHAT MS BOUND: MS is a number below BOUND.
below() {
	if [ -n "$2" ] && [ "${2%.*}" -lt "$3" ] 2>/dev/null; then ok "$1"
	else fail "$1" "took ${2:-nothing} ms, bound $3 ms"; fi
}

# --- for and within are wall time ---------------------------------------
# Each probe takes 0.5 s (0.7 s where a cut is the point) and samples are due
# every 100 ms: counting samples, within 1s gave up after ten of them
# (5.6 s). The bounds are the item's own: the deadline plus one probe's time.
# The second sample of until-cut is the one the deadline cuts: it must never
# get to touch its file.
cat >"$TMP/deadline.json" <<'JSON'
{ "runbook": "lim", "title": "Deadlines", "vars": { "DIR": "" },
  "steps": [
    { "id": "until", "title": "Until, 0.5 s probe",
      "run": "sleep 0.5; exit 1", "repeat": { "until": "exit == 0", "every": "100ms", "within": "1s" },
      "on_fail": "continue" },
    { "id": "until-cut", "title": "Until, 0.7 s probe",
      "run": "n=$(cat \"$DIR/n\" 2>/dev/null || echo 0); echo $((n + 1)) >\"$DIR/n\"; sleep 0.7; [ \"$n\" = 1 ] && touch \"$DIR/late\"; exit 1",
      "repeat": { "until": "exit == 0", "every": "100ms", "within": "1s" }, "on_fail": "continue" },
    { "id": "for", "title": "For, 0.4 s probe",
      "run": "sleep 0.4", "repeat": { "for": "1s", "every": "100ms" }, "expect": "exit == 0" },
    { "id": "consecutive", "title": "Consecutive, 0.7 s probe",
      "run": "sleep 0.7; exit 1", "repeat": { "consecutive": 2, "every": "100ms", "within": "1s" },
      "on_fail": "continue" },
    { "id": "watch", "title": "Watch for 1 s, 0.7 s probe", "watch": true,
      "run": "sleep 0.7", "repeat": { "every": "100ms", "for": "1s" }, "on_fail": "continue" }
  ] }
JSON
mkdir -p "$TMP/dl"
batch --var DIR="$TMP/dl" "$TMP/deadline.json"
expect_match "until: gives up when within is over" "$(line until)" \
	'^FAIL +until  .*until exit == 0 not true within 1s \([0-9]+ samples?\); last: '
below "until: gave up within 1 s + one probe's time (0.5 s)" "$(took lim/until)" 1500
expect_match "until: the sample running at the deadline was cut, and the explanation says so" \
	"$(line until-cut)" 'within 1s \(1 sample\); last: exit = 1 != 0; the sample running at the deadline was cut$'
below "until: cut at the deadline, not when the running probe ends" "$(took lim/until-cut)" 1400
sleep 1
if [ -e "$TMP/dl/late" ]; then fail "until: the cut sample's command was stopped" "$TMP/dl/late exists"
else ok "until: the cut sample's command was stopped"; fi
expect_match "for: judged over the samples that finished in time; the cut one is said" "$(line for)" \
	'^PASS +for  .*exit == 0.*; the sample running at the deadline was cut$'
below "for: ends at for 1s + one probe's time (0.4 s)" "$(took lim/for)" 1400
expect_match "consecutive: gives up when within is over, cut said" "$(line consecutive)" \
	'^FAIL +consecutive  .*no 2 passes in a row within 1s: .*; the sample running at the deadline was cut$'
below "consecutive: within 1 s + one probe's time (0.7 s)" "$(took lim/consecutive)" 1700
expect_match "watch: its for ends in wall time, the running sample cut" "$(line watch)" \
	'its repeat.for ended; the sample running then was cut\)$'
below "watch: for 1 s + one probe's time (0.7 s)" "$(took lim/watch)" 1700

# --- a command is done when its shell has exited ------------------------
# `sleep N & echo bg` exits 0 at once while its background child holds the
# output pipe: it ended ERROR "timed out" with a timeout and hung without.
# Now a short grace (1 s) drains the pipe, then the step ends with the
# shell's status and the command's process group is killed. N is unique to
# this test so that only its own processes are looked for (and killed by id).
U=$$
# alive PATTERN: ids of processes whose command line is PATTERN.
alive() { ps -eo pid=,args= | awk -v p="$1" '{ pid = $1; $1 = ""; sub(/^ /, ""); if ($0 == p) print pid }'; }
cat >"$TMP/bg.json" <<JSON
{ "runbook": "bg", "title": "Background children",
  "steps": [
    { "id": "timed", "title": "With a timeout", "run": "sleep 113$U & echo bg", "timeout": "30s" },
    { "id": "untimed", "title": "Without a timeout", "run": "sleep 114$U & echo bg" },
    { "id": "escaped", "title": "A grandchild that left the group", "run": "setsid sleep 115$U & echo bg" }
  ] }
JSON
for spawn in posix_spawn uv_spawn; do
	rm -rf "$RBC_RUNS_DIR"
	if [ $spawn = uv_spawn ]; then export RBC_TEST_UV_SPAWN=1; fi
	run timeout 60 "$RBC" run --batch "$TMP/bg.json"
	unset RBC_TEST_UV_SPAWN
	expect_eq "$spawn: the run ends, every step passed" "$RC" 0
	expect_match "$spawn: exit 0 with a background child is a PASS, not a timeout" "$(line timed)" \
		'^PASS +timed  With a timeout — exit = 0 == 0; the shell exited but its output was still held open 1s later .*: the step ended there, its output was closed and its process group killed$'
	expect_match "$spawn: without a timeout it does not hang" "$(line untimed)" '^PASS +untimed  .*process group killed$'
	expect_match "$spawn: a grandchild outside the group (setsid) holds the step no longer" "$(line escaped)" \
		'^PASS +escaped  .*its output was closed'
	below "$spawn: the step ended after the grace, far from its 30 s timeout" "$(took bg/timed)" 10000
	below "$spawn: the untimed one too" "$(took bg/untimed)" 10000
	sleep 0.5
	left=$(alive "sleep 113$U"; alive "sleep 114$U")
	if [ -z "$left" ]; then ok "$spawn: the background children were killed with the group"
	else fail "$spawn: the background children were killed with the group" "still running: $left"; kill $left 2>/dev/null; fi
	escaped=$(alive "sleep 115$U")
	[ -n "$escaped" ] && kill $escaped 2>/dev/null
done

t_done
