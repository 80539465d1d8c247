#!/usr/bin/env bash
# The record tells the truth about how a run ended: a step cut short by a
# watch that fired is not passed, nor is its group, nor a manual step that
# was waiting; a run stopped before its end (SIGTERM in batch mode, q in
# the console, a lost terminal) is UNKNOWN and "stopped" in its summary
# line, in `rbc runs` and in every export (JUnit counts it as a failure).
# A journal line that cannot be written (a file-size limit stands for a
# full disk) stops the run — nothing starts that the record does not say
# started, RECORD LOST is said in batch mode and in the console's alert
# colour, exit 74 — and a resume names the steps it runs again. After
# `resume --force` with a changed runbook, the exports show the tree the
# resumed run used.
. tests/lib.sh
. tests/tui.sh
export RBC_RUNS_DIR=$TMP/runs
mkdir -p "$RBC_RUNS_DIR"

snap() { ls "$RBC_RUNS_DIR" 2>/dev/null | sort >"$TMP/snap"; }
new_run() { ls "$RBC_RUNS_DIR" 2>/dev/null | sort | comm -13 "$TMP/snap" - | head -1; }
rbc_pid() { pgrep -P "$(tmx list-panes -t t -F '#{pane_pid}' 2>/dev/null | head -1)" 2>/dev/null | head -1; }
# gone PID: waits (up to 20 s) for a process to end.
gone() { local i; for i in $(seq 1 1000); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.02; done; return 1; }
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
# exports RUN: the JSON, Markdown and JUnit exports of a run in $TMP/x.*.
exports() {
	"$RBC" export "$1" --format json -o "$TMP/x.json" &&
		"$RBC" export "$1" --format md -o "$TMP/x.md" &&
		"$RBC" export "$1" --format junit -o "$TMP/x.xml"
}
junit_counts() {
	python3 - "$TMP/x.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
print("tests=%s failures=%s errors=%s" % (r.get("tests"), r.get("failures"), r.get("errors")))
PY
}
# check_unfinished WHAT RUN REASON_RE: `rbc runs` and every export say the run
# stopped before its end, never PASS.
check_unfinished() {
	local what=$1 d=$2 why=$3
	run "$RBC" runs
	expect_match "$what: rbc runs lists it as stopped, UNKNOWN" "$(printf '%s\n' "$OUT" | grep -F "$d")" \
		"^$d +[a-z0-9-]+ +[0-9T:Z-]+ +[a-z]+ +stopped +UNKNOWN$"
	expect_match "$what: the journal's run_finished says UNKNOWN, stopped, and why" \
		"$(ev "$d" '[(x["verdict"], x.get("stopped"), x.get("text")) for x in e if x["ev"] == "run_finished"]')" \
		"^\[\('UNKNOWN', True, '$why'\)\]$"
	if ! exports "$d"; then fail "$what: the run exports" "$(cat "$TMP/x.json" 2>/dev/null | head -5)"; return; fi
	expect_eq "$what: the JSON export: verdict UNKNOWN, state stopped" \
		"$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["verdict"], d["state"])' "$TMP/x.json")" \
		"UNKNOWN stopped"
	expect_match "$what: the Markdown result is not passed, and says the run stopped and why" \
		"$(grep '^\*\*Result\*\*' "$TMP/x.md")" "^\*\*Result\*\*: ⏸ UNKNOWN — the run stopped before its end: $why$"
	expect_nomatch "$what: … and no phase of it shows ✅" "$(sed -n '/^## Deployment Summary/,/^## /p' "$TMP/x.md")" '✅'
	expect_match "$what: JUnit counts it as a failure" "$(junit_counts)" 'failures=[1-9]'
	run xmllint --noout --schema "$ROOT/tests/junit.xsd" "$TMP/x.xml"
	expect_eq "$what: … and validates against tests/junit.xsd" "$RC" 0
}

# --- 9. a watch that fires cancels what runs: cancelled is not passed -------------------------
cat >"$TMP/watch-group.json" <<JSON
{ "runbook": "wg", "title": "Watch cancels a group's step",
  "steps": [
    { "id": "w", "title": "The flag is down", "run": "test ! -e '$TMP/flag-g'", "watch": true,
      "repeat": { "every": "50ms", "fail_after": 1 }, "on_fail": "goto:rollback" },
    { "id": "g", "title": "Release", "steps": [
      { "id": "g1", "title": "Prepare", "run": "true" },
      { "id": "g2", "title": "Raise the flag, then work", "run": "touch '$TMP/flag-g'; sleep 20" } ] },
    { "id": "after", "title": "After", "run": "true" },
    { "id": "rollback", "title": "Rollback", "on_demand": true, "steps": [
      { "id": "back", "title": "Lower the flag", "run": "rm -f '$TMP/flag-g'" } ] } ] }
JSON
snap
run "$RBC" run --batch "$TMP/watch-group.json"
d=$(new_run)
expect_match "a watch fires while a group's step runs: the step is cancelled" "$OUT" '^CANCELLED +g2 .*watch w fired'
expect_match "… and its group is not PASS: a cancelled child is no pass" "$(printf '%s\n' "$OUT" | grep -E '^[A-Z]+ +g  ')" \
	'^UNKNOWN +g  Release — 2 steps: 1 passed, 1 cancelled$'
expect_eq "… the journal records the group UNKNOWN and the cancelled step without a PASS" \
	"$(ev "$d" '(fin("wg/g")["verdict"], fin("wg/g2")["state"], fin("wg/g2")["verdict"])')" \
	"('UNKNOWN', 'cancelled', 'UNKNOWN')"
"$RBC" export "$d" --format json -o "$TMP/wg.json"
expect_eq "… and so does the JSON export" \
	"$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); s={x["id"]: x for x in d["steps"]}; print(s["wg/g"]["verdict"], s["wg/g2"]["state"], s["wg/g2"]["verdict"])' "$TMP/wg.json")" \
	"UNKNOWN cancelled UNKNOWN"

# A manual step waiting when a watch fires, in the console.
cat >"$TMP/watch-manual.json" <<JSON
{ "runbook": "wm", "title": "Watch cancels a wait",
  "steps": [
    { "id": "w", "title": "The flag is down", "run": "test ! -e '$TMP/flag-m'", "watch": true,
      "repeat": { "every": "100ms", "fail_after": 1 }, "on_fail": "goto:rollback" },
    { "id": "hand", "title": "Handover", "steps": [
      { "id": "check", "title": "Quick check", "run": "true" },
      { "id": "sign", "title": "Sign the handover", "manual": "Sign it in the tracker" } ] },
    { "id": "rollback", "title": "Rollback", "on_demand": true, "steps": [
      { "id": "back", "title": "Lower the flag", "run": "rm -f '$TMP/flag-m'" } ] } ] }
JSON
snap
tui_start 100 30 run --operator tester "$TMP/watch-manual.json"
wait_idle
keys a
if wait_for "◆ WAITING"; then
	d=$(new_run)
	touch "$TMP/flag-m"
	wait_for "■ finished"
	keys q
	tui_exit
	expect_eq "a manual step waiting when a watch fires is cancelled, not PASS \"watch fired\"" \
		"$(ev "$d" '(fin("wm/sign")["state"], fin("wm/sign")["verdict"], fin("wm/sign")["text"])')" \
		"('cancelled', 'UNKNOWN', 'watch w fired')"
	expect_eq "… and its group is not PASS" "$(ev "$d" 'fin("wm/hand")["verdict"]')" UNKNOWN
	"$RBC" export "$d" --format junit -o "$TMP/wm.xml"
	expect_nomatch "… nor does JUnit say PASS of it" \
		"$(python3 -c 'import sys, xml.etree.ElementTree as ET; [print(c.findtext("system-out")) for c in ET.parse(sys.argv[1]).getroot().iter("testcase") if c.get("name").endswith("Sign the handover")]' "$TMP/wm.xml")" \
		'PASS'
else
	fail "a manual step waiting when a watch fires is cancelled, not PASS \"watch fired\"" "the console never waited: $SCREEN"
fi

# A watch whose on_fail is stop ends the run; the operator may still run a
# step by hand afterwards (the rollback the runbook did not automate).
cat >"$TMP/watch-stop.json" <<JSON
{ "runbook": "ws", "title": "Watch stops the run",
  "steps": [
    { "id": "w", "title": "The flag is down", "run": "test ! -e '$TMP/flag-s'", "watch": true,
      "repeat": { "every": "100ms", "fail_after": 1 }, "on_fail": "stop" },
    { "id": "work", "title": "Raise the flag, then work", "run": "touch '$TMP/flag-s'; sleep 20" },
    { "id": "back", "title": "Lower the flag by hand", "run": "rm -f '$TMP/flag-s'; echo lowered" } ] }
JSON
snap
tui_start 100 30 run --operator tester "$TMP/watch-stop.json"
wait_idle
keys a
if wait_for "■ finished"; then
	d=$(new_run)
	keys j j j Enter
	expect_screen "after a watch stopped the run, a step still runs by hand" "✔ PASS  exit = 0 == 0"
	keys q
	tui_exit
	expect_eq "… the watch's stop is in the record, then the step run by hand" \
		"$(ev "$d" '(fin("ws/work")["state"], fin("ws/back")["verdict"])')" "('cancelled', 'PASS')"
	[ ! -e "$TMP/flag-s" ] && ok "… and it did its work" || fail "… and it did its work" "the flag is still up"
else
	fail "a watch's on_fail stop ends the run" "$SCREEN"
fi

# --- 8. a run stopped before its end is not PASS --------------------------------------------------
cat >"$TMP/stop.json" <<JSON
{ "runbook": "stop", "title": "Stopped midway",
  "steps": [
    { "id": "a", "title": "Before", "run": "true" },
    { "id": "b", "title": "Long", "run": "touch '$TMP/long-\$RUN_TAG'; sleep 60" },
    { "id": "c", "title": "Never reached", "run": "true" } ] }
JSON
# Batch mode, SIGTERM.
snap
RUN_TAG=batch "$RBC" run --batch "$TMP/stop.json" >"$TMP/term.out" 2>&1 &
pid=$!
for _ in $(seq 1 1000); do [ -e "$TMP/long-batch" ] && break; sleep 0.01; done
kill -TERM "$pid"
wait "$pid"
d=$(new_run)
expect_match "batch, SIGTERM: the summary says UNKNOWN and stopped, never PASS" "$(cat "$TMP/term.out")" \
	'^summary: UNKNOWN — stopped: interrupted by SIGTERM — 3 steps: 1 passed, 1 cancelled, 1 not run — '
check_unfinished "batch, SIGTERM" "$d" 'interrupted by SIGTERM'

# The console: q while a step runs.
snap
TUI_ENV="RUN_TAG=quit" tui_start 100 30 run --operator tester "$TMP/stop.json"
wait_idle
keys a
if wait_for "▶ running" && wait_for "Long"; then
	for _ in $(seq 1 1000); do [ -e "$TMP/long-quit" ] && break; sleep 0.01; done
	keys q
	wait_for "[y/N]" && keys y
	tui_exit
	check_unfinished "console, quit" "$(new_run)" 'the operator quit'
else
	fail "console, quit: the run starts" "$SCREEN"
fi

# The console: the terminal goes away (its ssh session dropped: SIGHUP).
snap
TUI_ENV="RUN_TAG=hup" tui_start 100 30 run --operator tester "$TMP/stop.json"
wait_idle
keys a
for _ in $(seq 1 1000); do [ -e "$TMP/long-hup" ] && break; sleep 0.01; done
p=$(rbc_pid)
tmx kill-server >/dev/null 2>&1
if [ -n "$p" ] && gone "$p"; then
	check_unfinished "console, lost terminal" "$(new_run)" 'the terminal was lost \(SIGHUP\)'
else
	fail "console, lost terminal: rbc ends when its terminal goes" "pid ${p:-none}"
fi

# --- 6. a journal line that cannot be written stops the run ----------------------------------------
# A file-size limit (ulimit -f, SIGXFSZ ignored: write() then fails with
# EFBIG) stands for a full disk: it works as any user, root included.
python3 - "$TMP/full.json" "$TMP" <<'PY'
import json, sys
steps = [{"id": "s%02d" % i, "title": "Step %d" % i, "run": "echo %02d >> \"$DIR/ran-$TAG\"" % i}
         for i in range(1, 13)]
json.dump({"runbook": "full", "title": "The disk fills up", "steps": steps}, open(sys.argv[1], "w"))
PY
export DIR=$TMP
# The limit: the header and about a third of the run's lines.
snap
TAG=probe "$RBC" run --batch "$TMP/full.json" >/dev/null 2>&1
J=$RBC_RUNS_DIR/$(new_run)/journal.jsonl
head_len=$(head -1 "$J" | wc -c) total=$(wc -c <"$J")
LIMIT=$(( (head_len + (total - head_len) / 3 + 1023) / 1024 ))
if [ $((LIMIT * 1024)) -ge "$total" ]; then fail "the file-size limit falls inside the run" "limit ${LIMIT} KiB, journal $total bytes"; fi
cat >"$TMP/rbc-limited" <<SH
#!/usr/bin/env bash
trap '' XFSZ
ulimit -f $LIMIT
exec "$RBC" "\$@"
SH
chmod +x "$TMP/rbc-limited"
# check_lost WHAT RUN RAN_FILE: nothing ran that the record does not say started,
# and the journal ends on a whole line that reads back.
check_lost() {
	local what=$1 d=$2 ran=$3 J=$RBC_RUNS_DIR/$2/journal.jsonl
	local n
	n=$(wc -l <"$ran" 2>/dev/null || echo 0)
	if [ "$n" -gt 0 ] && [ "$n" -lt 12 ]; then ok "$what: nothing new starts once a line cannot be written ($n of 12 steps ran)"
	else fail "$what: nothing new starts once a line cannot be written ($n of 12 steps ran)"; fi
	expect_eq "$what: every step that ran is recorded as started (no step runs before its start is written)" \
		"$(python3 - "$J" "$ran" <<'PY'
import json, sys
started = {json.loads(l)["step"].split("/s")[1] for l in open(sys.argv[1])
           if '"step_started"' in l and '"step":"full/s' in l}
ran = [l.strip() for l in open(sys.argv[2])]
print(sorted(set(ran) - started))
PY
)" "[]"
	expect_eq "$what: the journal ends on a whole line" "$(tail -c 1 "$J" | od -An -c | tr -d ' ')" '\n'
	run "$RBC" export "$d" --format json
	expect_eq "$what: … and reads back (rbc export)" "$RC" 0
}

snap
TAG=batch run "$TMP/rbc-limited" run --batch "$TMP/full.json"
d=$(new_run)
expect_eq "batch, journal cannot be written: a distinct exit status (74)" "$RC" 74
expect_match "… saying RECORD LOST where it happens, before the summary" \
	"$(printf '%s\n' "$OUT" | grep -E '^(RECORD LOST|summary:)' | cut -c1-11 | tr '\n' ' ')" \
	'^RECORD LOST summary: UN $'
expect_match "… naming the journal and the error" "$OUT" '^RECORD LOST  the journal .*/journal\.jsonl cannot be written \(File too large\)'
expect_match "… and again on stderr" "$ERR" 'RECORD LOST: the journal .* cannot be written'
check_lost "batch" "$d" "$TMP/ran-batch"
run "$RBC" runs
expect_match "… rbc runs does not list it as finished" "$(printf '%s\n' "$OUT" | grep -F "$d")" ' interrupted +—$'

# Resumed with room again: the steps recorded started and not ended are said, then run again.
cut=$(python3 - "$RBC_RUNS_DIR/$d/journal.jsonl" <<'PY'
import json, sys
e = [json.loads(l) for l in open(sys.argv[1])]
st = [x["step"] for x in e if x["ev"] == "step_started" and "/" in x.get("step", "")]
fin = {x["step"] for x in e if x["ev"] == "step_finished"}
print(" ".join(s.split("/")[1] for s in st if s not in fin))
PY
)
TAG=batch run "$RBC" resume --batch --unfinished rerun "$d"
expect_eq "the resumed run ends" "$RC" 0
said=""
for s in $cut; do
	printf '%s\n' "$OUT" | grep -qE "^AGAIN +$s .*its end is not in the record: it runs again" && said="$said $s"
done
if [ -n "$cut" ] && [ "$said" = " $(echo $cut)" ] && printf '%s\n' "$ERR" | grep -q "its end is not in the record"; then
	ok "resume says which steps started and did not end before it runs them again ($cut)"
else fail "resume says which steps started and did not end before it runs them again" "cut: $cut" "$OUT" "$ERR"; fi
expect_eq "… and no other step runs twice: each ran once, those said at most twice" \
	"$(python3 - "$TMP/ran-batch" "$cut" <<'PY'
import sys, collections
c = collections.Counter(l.strip() for l in open(sys.argv[1]))
said = {s[1:] for s in sys.argv[2].split()}
bad = [k for k, v in c.items() if v > (2 if k in said else 1)]
print(len(c), sorted(bad))
PY
)" "12 []"

# The console: RECORD LOST in the alert colour, the run stopped, exit 74.
snap
RBC_SAVED=$RBC RBC=$TMP/rbc-limited
TUI_ENV="TAG=console DIR=$TMP" tui_start 100 30 run --operator tester "$TMP/full.json"
RBC=$RBC_SAVED
wait_idle
keys a
if wait_for "RECORD LOST"; then
	hdr=$(screen -e | head -1)
	expect_match "console: the header says RECORD LOST" "$(screen | head -1)" 'RECORD LOST'
	expect_match "… in the alert colour (header.alert: red in the default theme)" "$hdr" $'\e\\[[0-9;]*41[;m]'
	wait_idle
	keys q
	if wait_re '\[y/N\]|^\[exit [0-9]+\]'; then
		case $SCREEN in *"[y/N]"*) keys y ;; esac
	fi
	if tui_exit; then
		expect_eq "console: exits 74" "$TUI_RC" 74
		expect_match "… and says RECORD LOST on leaving" "$SCREEN" 'rbc: RECORD LOST: the journal '
	else fail "console: quits after RECORD LOST" "$SCREEN"; fi
	d=$(new_run)
	check_lost "console" "$d" "$TMP/ran-console"
	TUI_ENV="TAG=console DIR=$TMP" tui_start 120 30 resume "$d"
	expect_screen "console: resume shows the step that started and did not end, and asks what to do with it" \
		"its end not recorded — r run again · d mark done · s skip"
	keys q
	tui_exit
else
	fail "console: the header says RECORD LOST" "$SCREEN"
fi

# --- 14. export after resume --force: the tree the resumed run used -------------------------------
# kill_at_b FILE TAG: runs FILE in batch mode and kills rbc (SIGKILL) while step b runs.
kill_at_b() {
	snap
	TAG=$2 "$RBC" run --batch "$1" >/dev/null 2>&1 &
	local pid=$!
	for _ in $(seq 1 1000); do [ -e "$TMP/b-$2" ] && break; sleep 0.01; done
	kill -9 "$pid"; wait "$pid" 2>/dev/null
	# The step's process group outlives rbc: it goes too.
	local p g
	for p in $(pgrep -f "$TMP/b-"); do
		g=$(ps -o pgid= -p "$p" | tr -d ' ')
		[ -n "$g" ] && kill -9 -- "-$g" 2>/dev/null
	done
	d=$(new_run)
}
v1() {
	cat >"$TMP/changing.json" <<JSON
{ "runbook": "$1", "title": "Release",
  "steps": [
    { "id": "a", "title": "Build", "run": "true" },
    { "id": "b", "title": "Deploy (old)", "run": "touch '$TMP/b-\$TAG'; sleep 61" },
    { "id": "c", "title": "Verify (old)", "run": "true" },
    { "id": "d", "title": "Announce (old)", "run": "true" } ] }
JSON
}
v2() {
	cat >"$TMP/changing.json" <<JSON
{ "runbook": "$1", "title": "Release",
  "steps": [
    { "id": "a", "title": "Build", "run": "true" },
    { "id": "x", "title": "Deploy (new)", "run": "true" },
    { "id": "g", "title": "Checks (new)", "steps": [ { "id": "g1", "title": "Smoke (new)", "run": "true" } ] } ] }
JSON
}
steps_of() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(" ".join("%s:%s:%s" % (s["id"], s["state"], s["verdict"]) for s in d["steps"]), "not_run=%d" % d["counts"]["not_run"])' "$1"
}

v1 rel; kill_at_b "$TMP/changing.json" same
v2 rel
run "$RBC" resume --batch --force "$d"
expect_eq "resume --force with changed steps runs the new ones" "$RC" 0
"$RBC" export "$d" --format json -o "$TMP/f.json"
"$RBC" export "$d" --format md -o "$TMP/f.md"
expect_eq "the JSON export lists the new tree's steps with what they did; the old step cut short is cancelled; the old steps never reached are gone" \
	"$(steps_of "$TMP/f.json")" \
	"rel:done:PASS rel/a:done:PASS rel/x:done:PASS rel/g:done:PASS rel/g1:done:PASS rel/b:cancelled:None not_run=0"
expect_eq "… and is valid against docs/export.schema.json" "$(python3 - "$ROOT/docs/export.schema.json" "$TMP/f.json" <<'PY'
import json, sys, jsonschema
v = jsonschema.Draft202012Validator(json.load(open(sys.argv[1])))
print([e.message for e in v.iter_errors(json.load(open(sys.argv[2])))][:3])
PY
)" "[]"
expect_nomatch "… the deployment log shows no step running or not run beside PASS" "$(grep '^| ' "$TMP/f.md")" '⏸ running|not run'
expect_match "… and the steps that ran" "$(grep '^| ' "$TMP/f.md")" '^\| 3\.1 \| Smoke \(new\) \| ✅ PASS \|'

# The runbook's id changed too: the steps the resumed run ran are in every export.
v1 rel-a; kill_at_b "$TMP/changing.json" renamed
v2 rel-b
run "$RBC" resume --batch --force "$d"
"$RBC" export "$d" --format md -o "$TMP/r.md"
"$RBC" export "$d" --format junit -o "$TMP/r.xml"
expect_match "a renamed runbook: the deployment log has the steps the resumed run ran" "$(grep '^| ' "$TMP/r.md")" \
	'^\| 2 \| Deploy \(new\) \| ✅ PASS \|'
expect_match "… and the one cut short before, cancelled, not running" "$(grep '^| ' "$TMP/r.md")" \
	'^\| 2 \| Deploy \(old\) \| ⏸ cancelled \|'
expect_eq "… and so has JUnit: a suite for each runbook, with its testcases" \
	"$(python3 -c 'import sys, xml.etree.ElementTree as ET; print(" ".join("%s:%d" % (s.get("name"), len(s.findall("testcase"))) for s in ET.parse(sys.argv[1]).getroot().findall("testsuite")))' "$TMP/r.xml")" \
	"rel-b:3 rel-a:2"

t_done
