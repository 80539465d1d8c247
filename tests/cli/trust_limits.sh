#!/usr/bin/env bash
# Limits a hostile probe or server cannot stretch: a repeat's `for` and
# `within` are wall time (a sample still running at the deadline is cut, and
# the explanation says so); a command is done once its shell has exited and
# its output has drained for a short grace, whatever it left in the
# background; a sample's line in the journal keeps what the judgement read,
# an excerpt and a digest, never a whole body (a watch on a 500 KB body, a
# 50 MB SQL value), and resume and export work from it; an absurd max_body
# is refused by rbc check.
. tests/lib.sh
export RBC_RUNS_DIR=$TMP/runs
S=$ROOT/tests/services
SVC=$(mktemp -d "${TMPDIR:-/tmp}/rbc-limits-services.XXXXXX")
trap '"$S/stop" "$SVC" >/dev/null 2>&1; rm -rf "$SVC" "$TMP"' EXIT

# batch ARGS...: rbc run --batch ARGS, output in $OUT/$ERR, status $RC.
batch() { run "$RBC" run --batch "$@"; }
# line ID: the output line of step ID ("VERDICT  ID  title — explanation").
line() { printf '%s\n' "$OUT" | grep -E "^[A-Z]+ +$1  " | tail -1; }
# journal: the journal of the only run under $RBC_RUNS_DIR.
journal() { echo "$RBC_RUNS_DIR"/*/journal.jsonl; }
# took ID: how long step ID took, in ms, as its journal line says.
took() { jq -r --arg s "$1" 'select(.ev == "step_finished" and .step == $s) | .duration_ms' "$(journal)" | tail -1; }
# below WHAT N BOUND: N (ms, bytes, KiB) is a number below BOUND.
below() {
	if [ -n "$2" ] && [ "${2%.*}" -lt "$3" ] 2>/dev/null; then ok "$1"
	else fail "$1" "got ${2:-nothing}, bound $3"; fi
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
	"$(line until-cut)" 'within 1s \([01] samples?\); last: .*; the sample running at the deadline was cut$'
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

# --- what a sample line keeps --------------------------------------------
# A watch on a 500 KB body wrote every body into the journal (750 MB in 15 s).
# The goal: a watch sampling a 500 KB body every 100 ms for 10 minutes (6,000
# samples) keeps the journal under 20 MB, so under 20 MB / 6,000 per sample;
# this watch samples for 3 s and its growth per sample is judged.
if ! "$S/start" "$SVC" fixture postgres >"$TMP/start.out" 2>&1; then
	fail "the test services start" "$(tail -20 "$TMP/start.out")"
	t_done
fi
# shellcheck disable=SC1091
. "$SVC/env"
python3 - "$TMP/big.json" <<'PY'
import json, sys
items = [{"id": i, "name": "item-%06d" % i, "tags": ["a", "b"], "note": "n" * 40} for i in range(5000)]
json.dump({"status": 200, "body": {"status": "ok", "version": "1.5.0", "items": items}}, open(sys.argv[1], "w"))
PY
curl -sS --max-time 10 -o /dev/null -X PUT --data-binary @"$TMP/big.json" "$FIXTURE_URL/_control/big"
curl -sS --max-time 10 -o "$TMP/big.body" "$FIXTURE_URL/big"
BIG_BYTES=$(wc -c <"$TMP/big.body")
BIG_SHA=$(sha256sum "$TMP/big.body" | cut -d' ' -f1)
expect_match "the fixture serves a body of about 500 KB" "$BIG_BYTES" '^(4[5-9][0-9]|5[0-9][0-9])[0-9]{3}$'
cat >"$TMP/watch.json" <<JSON
{ "runbook": "big", "title": "A watch on a big body", "vars": { "URL": "$FIXTURE_URL" },
  "steps": [
    { "id": "watch", "title": "The big body stays ok", "watch": true,
      "http": { "url": "\${URL}/big" }, "repeat": { "every": "100ms", "for": "3s" },
      "expect": "status == 200 && json.status == \"ok\"", "on_fail": "continue" }
  ] }
JSON
rm -rf "$RBC_RUNS_DIR"
run /usr/bin/time -f '%M' -o "$TMP/rss" "$RBC" run --batch "$TMP/watch.json"
expect_eq "the watch on a big body passes" "$RC" 0
J=$(journal)
nsamples=$(grep -c '"ev":"sample"' "$J")
bytes=$(wc -c <"$J")
expect_match "the watch sampled (3 s every 100 ms)" "$nsamples" '^([1-9][0-9]+)$'
per=$((bytes / (nsamples > 0 ? nsamples : 1)))
below "journal growth per sample of a 500 KB body: $per bytes (20 MB / 6,000 samples)" "$per" $((20000000 / 6000))
if sanitized; then
	skip "peak RSS of the watch" "ASan keeps freed memory in quarantine"
else
	rss=$(tail -1 "$TMP/rss")
	below "peak RSS of the watch: $((rss / 1024)) MiB (goal < 64 MiB)" "$rss" $((64 * 1024))
fi
expect_eq "every sample line keeps the field the judgement read (json.status)" \
	"$(jq -r 'select(.ev == "sample") | .sample.json.status' "$J" | sort -u)" "ok"
expect_eq "… and not the parts of the JSON nobody read" \
	"$(jq -r 'select(.ev == "sample") | .sample.json | keys | join(",")' "$J" | sort -u)" "status"
expect_eq "the body is kept as its size and sha256" \
	"$(jq -r 'select(.ev == "sample") | "\(.sample.elided.body.bytes) \(.sample.elided.body.sha256)"' "$J" | sort -u)" \
	"$BIG_BYTES $BIG_SHA"
excerpt=$(jq -r 'select(.ev == "sample") | .sample.body' "$J" | head -1)
if [ -n "$excerpt" ] && [ ${#excerpt} -le 256 ] && [ "$(head -c ${#excerpt} "$TMP/big.body")" = "$excerpt" ]; then
	ok "… and an excerpt: its first bytes"
else
	fail "… and an excerpt: its first bytes" "excerpt: ${excerpt:0:300}"
fi
expect_eq "the status and size are there as measured" \
	"$(jq -r 'select(.ev == "sample") | "\(.sample.status) \(.sample.size)"' "$J" | sort -u)" "200 $BIG_BYTES"
RUN=$(basename "$(dirname "$J")")
run "$RBC" export "$RUN" --format json
expect_eq "the JSON export works from it: the last sample as journaled" \
	"$(printf '%s' "$OUT" | jq -r '.steps[] | select(.id == "big/watch") | "\(.samples) \(.last_sample.json.status) \(.last_sample.elided.body.bytes)"')" \
	"$nsamples ok $BIG_BYTES"
run "$RBC" export "$RUN" --format md
expect_eq "the Markdown export works from it" "$RC" 0

# A run killed mid-watch resumes from what its journal kept.
rm -rf "$RBC_RUNS_DIR"
"$RBC" run --batch "$TMP/watch.json" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 200); do
	[ -f "$(journal)" ] && [ "$(grep -c '"ev":"sample"' "$(journal)")" -ge 5 ] && break
	sleep 0.05
done
kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
before=$(grep -c '"ev":"sample"' "$(journal)")
RUN=$(basename "$(dirname "$(journal)")")
run "$RBC" resume --batch --unfinished rerun "$RUN"
expect_eq "rbc resume goes on from a journal of reduced samples" "$RC" 0
run "$RBC" export "$RUN" --format json
expect_match "… and its export counts the samples of both parts" \
	"$(printf '%s' "$OUT" | jq -r '.steps[] | select(.id == "big/watch") | "\(.samples) \(.verdict)"')" "^[0-9]+ PASS$"
after=$(grep -c '"ev":"sample"' "$(journal)")
if [ "$after" -gt "$before" ] && [ "$before" -ge 5 ]; then ok "… the resumed watch sampled again ($before, then $after samples)"
else fail "… the resumed watch sampled again" "$before before, $after after"; fi

# A 50 MB SQL value was written three times (value, row, rows_data).
cat >"$TMP/sql.json" <<JSON
{ "runbook": "bigsql", "title": "A big SQL value",
  "vars": { "DB": "host=127.0.0.1 port=$PGPORT user=$PGUSER dbname=$PGDATABASE" },
  "steps": [
    { "id": "value", "title": "A 50 MB value", "sql": { "conn": "\${DB}", "query": "SELECT repeat('x', 52428800) AS big" },
      "expect": "rows == 1 && len(value) == 52428800" }
  ] }
JSON
rm -rf "$RBC_RUNS_DIR"
batch "$TMP/sql.json"
expect_match "a 50 MB SQL value is judged whole" "$(line value)" '^PASS +value  .*len\(value\) = 52428800'
J=$(journal)
below "… and its journal stays small: $(wc -c <"$J") bytes" "$(wc -c <"$J")" 65536
X_SHA=$(python3 -c 'import hashlib; print(hashlib.sha256(b"x" * 52428800).hexdigest())')
expect_eq "… keeping the value's size and sha256" \
	"$(jq -r 'select(.ev == "sample") | "\(.sample.elided.value.bytes) \(.sample.elided.value.sha256) \(.sample.value | length)"' "$J")" \
	"52428800 $X_SHA 256"

# A captured value went into the journal and onto the batch line whole.
cat >"$TMP/capbig.json" <<JSON
{ "runbook": "capbig", "title": "A big captured value",
  "vars": { "DB": "host=127.0.0.1 port=$PGPORT user=$PGUSER dbname=$PGDATABASE" },
  "steps": [
    { "id": "take", "title": "A 5 MB value captured", "sql": { "conn": "\${DB}", "query": "SELECT repeat('y', 5242880) AS big" },
      "capture": { "BIG": "value" } }
  ] }
JSON
rm -rf "$RBC_RUNS_DIR"
batch "$TMP/capbig.json"
expect_match "a 5 MB capture is made" "$(line take)" '^PASS +take '
below "… its CAPTURE line stays a line: $(printf '%s\n' "$OUT" | grep '^CAPTURE' | wc -c) bytes" \
	"$(printf '%s\n' "$OUT" | grep '^CAPTURE' | wc -c)" 1024
expect_match "… saying the value's size" "$(printf '%s\n' "$OUT" | grep '^CAPTURE')" '… \(5242880 bytes\)$'
J=$(journal)
below "… and its journal stays small: $(wc -c <"$J") bytes" "$(wc -c <"$J")" 131072
Y_SHA=$(python3 -c 'import hashlib; print(hashlib.sha256(b"y" * 5242880).hexdigest())')
expect_eq "… keeping the head, the size and the sha256 of the value" \
	"$(jq -r 'select(.ev == "capture") | "\(.cut) \(.value_bytes) \(.value_sha256) \(.value | length)"' "$J")" \
	"true 5242880 $Y_SHA 65536"

# --- max_body is bounded ------------------------------------------------
# max_body: 100GiB was accepted and the process aborted when a body came.
cat >"$TMP/maxbody.json" <<'JSON'
{ "runbook": "mb", "title": "Max body",
  "steps": [
    { "title": "Huge", "http": { "url": "http://127.0.0.1:1/", "max_body": "100GiB" } },
    { "title": "In bytes", "http": { "url": "http://127.0.0.1:1/", "max_body": 68719476736 } },
    { "title": "Largest", "http": { "url": "http://127.0.0.1:1/", "max_body": "64MiB" } }
  ] }
JSON
run "$RBC" check "$TMP/maxbody.json"
expect_eq "rbc check refuses an absurd max_body (exit 65)" "$RC" 65
expect_match "… at its file:line:col, saying the limit" "$ERR" \
	"maxbody.json:3:76: steps\\[0\\]\\.http\\.max_body: max_body 100GiB is more than a step may keep in memory \\(at most 64MiB\\)"
expect_match "… in bytes too" "$ERR" "maxbody.json:4:80: steps\\[1\\]\\.http\\.max_body: max_body 68719476736 bytes"
expect_nomatch "… and 64MiB is allowed" "$ERR" 'steps\[2\]'

t_done
