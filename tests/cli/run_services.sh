#!/usr/bin/env bash
# rbc run --batch against real servers on 127.0.0.1: every probe kind through
# the engine, secrets sent in a header and still masked, SQL parameters that
# cannot inject, and a watch whose fail_after fires a rollback when the
# service starts answering 5xx — and not before.
. tests/lib.sh
S=$ROOT/tests/services
DIR=$(mktemp -d "${TMPDIR:-/tmp}/rbc-run-services.XXXXXX")
trap '"$S/stop" "$DIR" >/dev/null 2>&1; rm -rf "$DIR" "$TMP"' EXIT
export RBC_RUNS_DIR=$TMP/runs

if ! "$S/start" "$DIR" fixture postgres prometheus tls >"$TMP/start.out" 2>&1; then
	fail "the test services start" "$(tail -20 "$TMP/start.out")"
	t_done
fi
# shellcheck disable=SC1091
. "$DIR/env"

batch() { run "$RBC" run --batch "$@"; }
line() { printf '%s\n' "$OUT" | grep -E "^[A-Z]+ +$1  " | tail -1; }
ctl() { curl -sS --max-time 10 -o /dev/null -X PUT --data "$2" "$FIXTURE_URL/_control$1"; }

# --- every probe kind through the engine ----------------------------------
cat >"$TMP/plugin" <<'SH'
#!/bin/sh
echo "DISK $1 - free 12% | free=12%;20;10;0;100 used=88GB"
exit "$2"
SH
chmod +x "$TMP/plugin"
cat >"$TMP/kinds.json" <<JSON
{ "runbook": "kinds", "title": "Every probe kind",
  "vars": { "URL": "$FIXTURE_URL", "PROM": "$PROM_URL", "PLUGIN": "$TMP/plugin",
            "DB": "host=127.0.0.1 port=$PGPORT user=$PGUSER dbname=$PGDATABASE" },
  "steps": [
    { "id": "env", "title": "Live colour", "http": { "url": "\${URL}/api/environment" },
      "expect": "status == 200", "capture": { "COLOUR": "json.environment" } },
    { "id": "colour", "title": "Colour is \${COLOUR}", "http": { "url": "\${URL}/api/health" },
      "expect": "status == 200 && vars.COLOUR == \"blue\"" },
    { "id": "jobs", "title": "Jobs table", "sql": { "conn": "\${DB}", "query": "SELECT count(*) FROM jobs" },
      "expect": "value == 3" },
    { "id": "dns", "title": "localhost resolves", "dns": { "name": "localhost" }, "expect": "len(addrs) >= 1" },
    { "id": "tcp", "title": "Port open", "tcp": { "host": "127.0.0.1", "port": $PGPORT }, "expect": "time < 5s" },
    { "id": "prom", "title": "Prometheus up", "prometheus": { "url": "\${PROM}", "query": "up{job=\"fixture\"}" },
      "repeat": { "until": "value == 1", "every": "200ms", "within": "30s" } },
    { "id": "plugin-ok", "title": "Plugin OK", "nagios": "\"\$PLUGIN\" OK 0", "expect": "perf.free < 20%" },
    { "id": "plugin-unknown", "title": "Plugin UNKNOWN", "nagios": "\"\$PLUGIN\" UNKNOWN 3", "on_fail": "continue" }
  ] }
JSON
batch "$TMP/kinds.json"
expect_match "http: a capture from a JSON body" "$OUT" 'CAPTURE +env  COLOUR = blue'
expect_match "http: the capture reaches the next title and expression" "$(line colour)" '^PASS +colour  Colour is blue — '
expect_match "sql: a query's value is judged" "$(line jobs)" '^PASS +jobs  Jobs table — value = 3 == 3$'
expect_match "dns: a name resolves without blocking" "$(line dns)" '^PASS +dns '
expect_match "tcp: a port connects" "$(line tcp)" '^PASS +tcp '
expect_match "prometheus: polled until the scrape shows up" "$(line prom)" '^PASS +prom  .*value = 1 == 1 after'
expect_match "nagios: OK with a threshold on perfdata passes" "$(line plugin-ok)" '^WARN|^PASS'
expect_match "nagios: exit 3 is UNKNOWN, explained by the plugin's output" "$(line plugin-unknown)" \
	'^UNKNOWN +plugin-unknown  Plugin UNKNOWN — UNKNOWN: DISK UNKNOWN - free 12%$'
expect_eq "the run's verdict is the worst: UNKNOWN exits 3" "$RC" 3

# --- failure paths through the engine ---------------------------------------
ctl /slowpath '{"latency_ms": 3000}'
cat >"$TMP/fails.json" <<JSON
{ "runbook": "fails", "title": "Failures", "defaults": { "timeout": "1s" },
  "vars": { "URL": "$FIXTURE_URL", "DB": "host=127.0.0.1 port=$PGPORT user=$PGUSER dbname=$PGDATABASE",
            "PROM": "$PROM_URL", "TLS": "$TLS_URL" },
  "steps": [
    { "id": "prom-empty", "title": "No such series", "prometheus": { "url": "\${PROM}", "query": "no_such_metric_total" },
      "expect": "value > 0", "on_fail": "continue" },
    { "id": "prom-error", "title": "Bad query", "prometheus": { "url": "\${PROM}", "query": "sum(" }, "on_fail": "continue" },
    { "id": "tls", "title": "Self-signed certificate", "http": { "url": "\${TLS}/api/health" }, "on_fail": "continue" },
    { "id": "tls-insecure", "title": "Self-signed, verification off", "http": { "url": "\${TLS}/api/health", "insecure": true },
      "expect": "status == 200" },
    { "id": "refused", "title": "Refused", "http": { "url": "http://127.0.0.1:1/" }, "on_fail": "continue" },
    { "id": "slow", "title": "Slow", "http": { "url": "\${URL}/slowpath" }, "on_fail": "continue" },
    { "id": "status", "title": "5xx", "http": { "url": "\${URL}/missing" }, "expect": "status == 200", "on_fail": "continue" },
    { "id": "syntax", "title": "SQL syntax", "sql": { "conn": "\${DB}", "query": "SELEC 1" }, "on_fail": "continue" },
    { "id": "sql-refused", "title": "SQL refused", "on_fail": "continue",
      "sql": { "conn": "host=127.0.0.1 port=1 user=$PGUSER dbname=$PGDATABASE connect_timeout=5", "query": "SELECT 1" } },
    { "id": "sql-next-host", "title": "SQL second host", "expect": "value == 1", "on_fail": "continue",
      "sql": { "conn": "host=127.0.0.1,127.0.0.1 port=1,$PGPORT user=$PGUSER dbname=$PGDATABASE", "query": "SELECT 1" } },
    { "id": "readonly", "title": "Write in read-only", "sql": { "conn": "\${DB}", "query": "DELETE FROM jobs" }, "on_fail": "continue" },
    { "id": "stmt-timeout", "title": "Statement timeout", "timeout": "500ms",
      "sql": { "conn": "\${DB}", "query": "SELECT pg_sleep(5)" }, "on_fail": "continue" },
    { "id": "nxdomain", "title": "No such name", "dns": { "name": "no-such-host.invalid" }, "on_fail": "continue" },
    { "id": "killed", "title": "Killed by a signal", "run": "kill -9 \$\$", "on_fail": "continue" }
  ] }
JSON
batch "$TMP/fails.json"
expect_match "prometheus: an empty answer is UNKNOWN, never 0" "$(line prom-empty)" '^UNKNOWN +prom-empty '
expect_match "prometheus: an error answer is an ERROR" "$(line prom-error)" '^ERROR +prom-error .*(parse|bad_data)'
expect_match "tls: an untrusted certificate is an ERROR naming it" "$(line tls)" '^ERROR +tls .*certificate'
expect_match "tls: insecure: true turns verification off, and says so" "$(line tls-insecure)" \
	'^PASS +tls-insecure .*; TLS not verified \(insecure: true\)$'
expect_match "tls: the runbook's insecure step is warned about before the run" "$ERR" \
	'fails.json:[0-9]+:[0-9]+: steps\[3\]\.http\.insecure: warning: TLS certificates are not verified'
expect_match "refused connection is an ERROR" "$(line refused)" '^ERROR +refused .*refused'
expect_match "a request slower than the timeout is an ERROR" "$(line slow)" '^ERROR +slow .*(timed out|timeout)'
expect_match "an unexpected status is a FAIL" "$(line status)" '^FAIL +status .*status = 404 != 200'
expect_match "an SQL syntax error is an ERROR" "$(line syntax)" '^ERROR +syntax .*syntax error'
expect_match "sql: a refused connection says so in libpq's words" "$(line sql-refused)" \
	'^ERROR +sql-refused .*connection failed: .*[Cc]onnection refused'
expect_match "sql: a refused first host of several: the next one answers" "$(line sql-next-host)" \
	'^PASS +sql-next-host .*value = 1 == 1'
expect_match "a write in a read-only step is refused" "$(line readonly)" '^ERROR +readonly .*read-only'
expect_match "a statement over the timeout is cancelled" "$(line stmt-timeout)" '^ERROR +stmt-timeout .*(statement timeout|timed out|canceling)'
expect_match "an unknown name is an ERROR" "$(line nxdomain)" '^ERROR +nxdomain '
expect_match "a command killed by a signal says which" "$(line killed)" '^FAIL +killed .*(SIGKILL|signal)'
count=$(psql -Atq -h 127.0.0.1 -p "$PGPORT" -U "$PGUSER" -d "$PGDATABASE" -c 'SELECT count(*) FROM jobs' 2>&1)
expect_eq "the read-only step deleted nothing" "$count" 3

# --- SQL parameters cannot inject ----------------------------------------------
cat >"$TMP/inject.json" <<JSON
{ "runbook": "inject", "title": "Injection",
  "vars": { "DB": "host=127.0.0.1 port=$PGPORT user=$PGUSER dbname=$PGDATABASE" },
  "steps": [
    { "id": "param", "title": "A hostile parameter",
      "sql": { "conn": "\${DB}", "query": "SELECT \$1::text AS v, count(*) AS n FROM jobs WHERE name = \$1",
               "params": ["\${NAME}"] },
      "expect": "row.v == vars.NAME && row.n == 0" }
  ] }
JSON
batch --var "NAME=x'; DROP TABLE jobs; --" "$TMP/inject.json"
expect_match "a parameter is a value, compared as such" "$(line param)" '^PASS +param '
count=$(psql -Atq -h 127.0.0.1 -p "$PGPORT" -U "$PGUSER" -d "$PGDATABASE" -c 'SELECT count(*) FROM jobs' 2>&1)
expect_eq "the table a hostile parameter names is still there" "$count" 3

# --- a secret in a header is sent, and shown nowhere ------------------------------
cat >"$TMP/secret.json" <<JSON
{ "runbook": "secret", "title": "Secret header", "secrets": ["API_TOKEN"],
  "vars": { "URL": "$FIXTURE_URL" },
  "steps": [
    { "id": "call", "title": "Authorised call",
      "http": { "url": "\${URL}/api/health?token=\${API_TOKEN}", "headers": { "Authorization": "Bearer \${API_TOKEN}" } },
      "expect": "status == 500" }
  ] }
JSON
API_TOKEN=hdr-s3cret-77 batch "$TMP/secret.json"
sent=$(curl -s "$FIXTURE_URL/_requests?path=/api/health" | grep -c 'Bearer hdr-s3cret-77')
expect_eq "the secret went out in the header" "$sent" 1
if printf '%s' "$OUT$ERR" | grep -q 'hdr-s3cret-77'; then fail "the secret is not in the batch output" "$OUT"
else ok "the secret is not in the batch output"; fi
if grep -rq 'hdr-s3cret-77' "$RBC_RUNS_DIR"; then fail "the secret is in no file of the run"
else ok "the secret is in no file of the run"; fi

# --- a watch fires its rollback on sustained 5xx, not before ----------------------
ctl /api/health '{"status": 200, "body": {"status": "ok"}}'
cat >"$TMP/watch.json" <<JSON
{ "runbook": "watch", "title": "Watch", "vars": { "URL": "$FIXTURE_URL", "DIR": "$TMP" },
  "steps": [
    { "id": "health-watch", "title": "5xx three times in a row rolls back",
      "http": { "url": "\${URL}/api/health" }, "watch": true,
      "repeat": { "every": "100ms", "fail_after": 3 },
      "expect": "status < 500", "on_fail": "goto:rollback" },
    { "id": "calm", "title": "Healthy for a while",
      "run": "n=0; while [ \$n -lt 15 ]; do curl -s -o /dev/null \"\$URL/api/health\"; n=\$((n+1)); sleep 0.1; done" },
    { "id": "break", "title": "The service breaks",
      "run": "curl -sS -X PUT --data '{\"status\": 503}' \"\$URL/_control/api/health\" && date +%s%N > \"\$DIR/broken-at\"" },
    { "id": "wait", "title": "Waits for the watch", "timeout": "30s", "run": "sleep 25" },
    { "id": "never", "title": "Never reached", "run": "touch \"\$DIR/never\"" },
    { "id": "rollback", "title": "Rollback", "on_demand": true, "steps": [
      { "id": "switch-back", "title": "Switch back", "run": "date +%s%N > \"\$DIR/rolled-back\"" } ] }
  ] }
JSON
batch "$TMP/watch.json"
expect_eq "a fired watch fails the run" "$RC" 2
expect_match "the calm phase passes while the watch samples" "$(line calm)" '^PASS +calm '
order=$(printf '%s\n' "$OUT" | grep -nE '^(PASS +calm|PASS +break|FIRED +health-watch)' | cut -d: -f2 | awk '{print $1"/"$2}' | tr '\n' ' ')
expect_eq "the watch fires only after the service broke" "$order" "PASS/calm PASS/break FIRED/health-watch "
expect_match "the firing says the value, the threshold and the count" "$OUT" \
	'FIRED +health-watch → rollback  status = 503 > 500.*violated 3 samples in a row \(fail_after 3\)'
expect_match "the step running when it fired is cancelled" "$(line wait)" '^CANCELLED +wait .*watch health-watch fired'
if [ -e "$TMP/rolled-back" ] && [ ! -e "$TMP/never" ]; then ok "the rollback ran and the normal flow did not go on"
else fail "the rollback ran and the normal flow did not go on" "$OUT"; fi
expect_match "the watch's line is a FAIL" "$(line health-watch)" '^FAIL +health-watch '
fives=$(curl -s "$FIXTURE_URL/_requests?path=/api/health" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "${fives:-0}" -gt 0 ] && ok "the fixture saw the watch's requests" || fail "the fixture saw the watch's requests" "$fives"

t_done
