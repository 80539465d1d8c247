#!/usr/bin/env bash
# Failed attempts judged, not ERROR, and the variables a run sets itself:
# tcp's `connected` against a port that is closed, `error` read by expect
# (docs/thresholds.md), FAILED_STEP / FAILED_TITLE / FAILED_REASON in a
# procedure reached by on_fail or a watch, SEVERITY / SEVERITY_NAME in an
# incident (docs/runbook-format.md); against real servers on 127.0.0.1.
. tests/lib.sh
S=$ROOT/tests/services
DIR=$(mktemp -d "${TMPDIR:-/tmp}/rbc-judged.XXXXXX")
trap '"$S/stop" "$DIR" >/dev/null 2>&1; rm -rf "$DIR" "$TMP"' EXIT
export RBC_RUNS_DIR=$TMP/runs

if ! "$S/start" "$DIR" fixture >"$TMP/start.out" 2>&1; then
	fail "the test services start" "$(tail -20 "$TMP/start.out")"
	t_done
fi
# shellcheck disable=SC1091
. "$DIR/env"
OPEN=${FIXTURE_URL##*:}
OPEN=${OPEN%%/*}
# A port nothing listens on: bound once by the kernel's choice, then let go.
CLOSED=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')

batch() { run "$RBC" run --batch "$@"; }
line() { printf '%s\n' "$OUT" | grep -E "^[A-Z]+ +$1  " | tail -1; }
last_journal() { ls -d "$RBC_RUNS_DIR"/*/ | tail -1; }

# --- tcp: connected --------------------------------------------------------
cat >"$TMP/tcp.json" <<JSON
{ "runbook": "ports", "title": "Ports",
  "steps": [
    { "id": "closed", "title": "Old port closed", "tcp": { "host": "127.0.0.1", "port": $CLOSED },
      "expect": "connected == false", "on_fail": "continue" },
    { "id": "closed-not", "title": "Old port closed (written with !)", "tcp": { "host": "127.0.0.1", "port": $CLOSED },
      "expect": "!connected", "on_fail": "continue" },
    { "id": "open", "title": "New port open", "tcp": { "host": "127.0.0.1", "port": $OPEN },
      "expect": "connected", "on_fail": "continue" },
    { "id": "open-wrong", "title": "Open port said closed", "tcp": { "host": "127.0.0.1", "port": $OPEN },
      "expect": "connected == false", "on_fail": "continue" },
    { "id": "plain", "title": "Refused without connected", "tcp": { "host": "127.0.0.1", "port": $CLOSED },
      "expect": "time < 5s", "on_fail": "continue" }
  ] }
JSON
batch "$TMP/tcp.json"
expect_match "tcp: a refused port is judged, connected == false passes" "$(line closed)" '^PASS +closed  .*connected'
expect_match "tcp: !connected passes on a refused port" "$(line closed-not)" '^PASS +closed-not '
expect_match "tcp: an open port is connected" "$(line open)" '^PASS +open  '
expect_match "tcp: an open port said closed fails" "$(line open-wrong)" '^FAIL +open-wrong  '
expect_match "tcp: a refusal without connected read is still ERROR" "$(line plain)" '^ERROR +plain  .*connection refused'
J=$(last_journal)
expect_match "tcp: the journal keeps connected in the sample" "$(cat "$J"/journal.jsonl)" '"connected":false'
run "$RBC" export --format json "$J"
expect_match "tcp: the JSON export keeps connected" "$OUT" '"connected":[[:space:]]*false'

# --- expect reads error ----------------------------------------------------
cat >"$TMP/error.json" <<JSON
{ "runbook": "errors", "title": "Errors judged",
  "steps": [
    { "id": "refused", "title": "Admin port refused", "tcp": { "host": "127.0.0.1", "port": $CLOSED },
      "expect": "error =~ /refused/", "on_fail": "continue" },
    { "id": "http-refused", "title": "Old API gone", "http": { "url": "http://127.0.0.1:$CLOSED/health" },
      "expect": "error =~ /refused|connect/", "on_fail": "continue" },
    { "id": "nxdomain", "title": "Old name gone", "dns": { "name": "old-api.invalid" },
      "expect": "error =~ /not found/", "on_fail": "continue" },
    { "id": "answered", "title": "Answered when it should not", "http": { "url": "$FIXTURE_URL/api/health" },
      "expect": "error =~ /refused/", "on_fail": "continue" },
    { "id": "other", "title": "Another error", "tcp": { "host": "127.0.0.1", "port": $CLOSED },
      "expect": "error =~ /timed out/", "on_fail": "continue" },
    { "id": "warned", "title": "Refusal warned", "tcp": { "host": "127.0.0.1", "port": $CLOSED },
      "expect": "time < 5s", "warn": "error != \"\"", "on_fail": "continue" }
  ] }
JSON
batch "$TMP/error.json"
expect_match "error: a refusal read by expect passes" "$(line refused)" '^PASS +refused  '
expect_match "error: an http refusal read by expect passes" "$(line http-refused)" '^PASS +http-refused  '
expect_match "error: a name not found read by expect passes" "$(line nxdomain)" '^PASS +nxdomain  '
expect_match "error: a probe that got an answer has no error (FAIL)" "$(line answered)" '^(FAIL|UNKNOWN) +answered  '
expect_match "error: a refusal that is not the error expected fails" "$(line other)" '^FAIL +other  .*refused'
expect_match "error: warn reading error judges the attempt" "$(line warned)" '^WARN +warned  '

# --- bad input: rbc check --------------------------------------------------
cat >"$TMP/badfields.json" <<'JSON'
{ "runbook": "bad", "title": "Bad fields",
  "steps": [
    { "id": "h", "title": "connected on http", "http": { "url": "http://127.0.0.1:1/" }, "expect": "connected" },
    { "id": "t", "title": "misspelt", "tcp": { "host": "127.0.0.1", "port": 1 }, "expect": "conected == false" },
    { "id": "m", "title": "error on manual", "manual": "look", "expect": "error == \"\"" }
  ] }
JSON
run "$RBC" check "$TMP/badfields.json"
expect_eq "check: fields a step never has are refused (exit 65)" "$RC" 65
expect_match "check: connected is no field of http samples" "$ERR" '"connected" is not a field of http samples'
expect_match "check: conected suggests connected" "$ERR" 'did you mean "connected"'
expect_match "check: an expect reading error on a manual step is refused" "$ERR" 'steps\[2\]\.expect: "expect" needs a probe'
