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
last_journal() { ls -td "$RBC_RUNS_DIR"/*/ | head -1; }

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

# --- FAILED_STEP, FAILED_TITLE, FAILED_REASON ------------------------------
cat >"$TMP/failed.json" <<JSON
{ "runbook": "failed", "title": "Failed", "vars": { "URL": "$FIXTURE_URL", "WHAT": "health" },
  "steps": [
    { "id": "before", "title": "Nothing failed yet", "run": "echo \"[\${FAILED_STEP}]\"",
      "expect": "stdout =~ /^\\\\[\\\\]/ && vars.FAILED_STEP == \"\"", "on_fail": "continue" },
    { "id": "health", "title": "API \${WHAT} is 204", "http": { "url": "\${URL}/api/health" },
      "expect": "status == 204", "on_fail": "goto:notify" },
    { "id": "never", "title": "Never reached", "run": "true" },
    { "id": "notify", "title": "Tell the channel", "on_demand": true, "steps": [
      { "id": "say", "title": "Say \${FAILED_STEP}", "run": "printf '%s|%s|%s' \"\${FAILED_STEP}\" \"\${FAILED_TITLE}\" \"\${FAILED_REASON}\"",
        "expect": "stdout =~ /^health\\\\|API health is 204\\\\|status = 200 != 204\$/" },
      { "id": "expr", "title": "Read in an expression", "run": "true",
        "expect": "vars.FAILED_STEP == \"health\" && vars.FAILED_REASON =~ /200/" } ] }
  ] }
JSON
run "$RBC" check "$TMP/failed.json"
expect_eq "check: FAILED_* used in a procedure are no undefined variables" "$ERR" ""
batch "$TMP/failed.json"
expect_match "failed: undefined before anything failed (empty in a command, unknown in an expression)" "$(line before)" '^UNKNOWN +before  .*FAILED_STEP'
expect_match "failed: the title expands FAILED_STEP" "$(line say)" '^PASS +say  Say health'
expect_match "failed: id, expanded title and explanation reach the command" "$(line say)" '^PASS +say '
expect_match "failed: vars.FAILED_STEP and vars.FAILED_REASON in an expression" "$(line expr)" '^PASS +expr '
expect_nomatch "failed: the batch output does not repeat them as captures (the JUMP line says why)" "$OUT" 'CAPTURE +health  FAILED_'
expect_match "… its JUMP line names the failure" "$OUT" 'JUMP +health → '
J=$(last_journal)
expect_match "failed: the journal keeps FAILED_REASON" "$(cat "$J"/journal.jsonl)" '"name":"FAILED_REASON","value":"status = 200 != 204"'
run "$RBC" export --format json "$J"
expect_match "failed: the JSON export keeps FAILED_TITLE" "$OUT" 'API health is 204'

# A watch that fires reaches its procedure with the same variables.
cat >"$TMP/watchfail.json" <<JSON
{ "runbook": "watchfail", "title": "Watch", "vars": { "URL": "$FIXTURE_URL" },
  "steps": [
    { "id": "hw", "title": "Health watch", "http": { "url": "\${URL}/api/health" }, "watch": true,
      "repeat": { "every": "100ms", "fail_after": 2 }, "expect": "status == 204", "on_fail": "goto:rb" },
    { "id": "wait", "title": "Waits for the watch", "timeout": "30s", "run": "sleep 25" },
    { "id": "rb", "title": "Rollback", "on_demand": true, "steps": [
      { "id": "why", "title": "Why", "run": "echo \"\${FAILED_STEP}: \${FAILED_REASON}\"",
        "expect": "stdout =~ /^hw: status = 200 != 204/" } ] }
  ] }
JSON
batch "$TMP/watchfail.json"
expect_match "failed: a fired watch sets FAILED_STEP and FAILED_REASON" "$(line why)" '^PASS +why '

# Bad input: a run value for FAILED_STEP given where nothing failed is still
# the one the run sets when it does; a misspelt name is warned about.
cat >"$TMP/failedbad.json" <<'JSON'
{ "runbook": "failedbad", "title": "Misspelt",
  "steps": [ { "id": "a", "title": "Say ${FAILED_SETP}", "run": "true" } ] }
JSON
run "$RBC" check "$TMP/failedbad.json"
expect_match "check: a misspelt FAILED_SETP is an undefined variable" "$ERR" 'variable "FAILED_SETP" is not defined'

# --- SEVERITY, SEVERITY_NAME ---------------------------------------------
cat >"$TMP/inc.json" <<'JSON'
{ "runbook": "inc-sev", "title": "Incident", "kind": "incident",
  "severities": [
    { "id": "SEV1", "name": "Outage", "restore": "1h" },
    { "id": "SEV2", "name": "Degraded", "restore": "4h" } ],
  "steps": [
    { "id": "say", "title": "At ${SEVERITY} (${SEVERITY_NAME})", "run": "echo \"$SEVERITY $SEVERITY_NAME\"",
      "expect": "stdout == \"SEV2 Degraded\\n\" && vars.SEVERITY == \"SEV2\" && vars.SEVERITY_NAME == \"Degraded\"" } ] }
JSON
run "$RBC" check "$TMP/inc.json"
expect_eq "check: SEVERITY and SEVERITY_NAME are no undefined variables" "$ERR" ""
batch --severity SEV2 --title "Checkout down" "$TMP/inc.json"
expect_match "severity: the title expands the declared level" "$(line say)" '^PASS +say  At SEV2 \(Degraded\) '
expect_match "severity: the command and the expression read the level" "$(line say)" 'vars.SEVERITY_NAME = "Degraded" == "Degraded"'
J=$(last_journal)
expect_match "severity: the journal keeps the declared level" "$(cat "$J"/journal.jsonl)" '"what":"declared".*"to":"SEV2"'
batch --severity SEV9 --title "Checkout down" "$TMP/inc.json"
expect_eq "severity: an unknown level is refused before anything runs" "$RC" 64
expect_match "severity: the refusal names the levels" "$ERR" 'SEV9'
cat >"$TMP/sevbad.json" <<'JSON'
{ "runbook": "sevbad", "title": "Misspelt",
  "steps": [ { "id": "a", "title": "At ${SEVERITY_NAM}", "run": "true" } ] }
JSON
run "$RBC" check "$TMP/sevbad.json"
expect_match "check: a misspelt SEVERITY_NAM is an undefined variable" "$ERR" 'variable "SEVERITY_NAM" is not defined'

t_done
