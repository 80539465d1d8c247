#!/usr/bin/env bash
# tests/services: start/stop bring up the fixture HTTP service, nginx,
# PostgreSQL and Prometheus on loopback; the fixture does what the control
# endpoint tells it; nginx proxies to it; psql reaches the test database;
# Prometheus scrapes it; stop leaves no process and no open port behind.
. tests/lib.sh
S=$ROOT/tests/services
PGBIN=/usr/lib/postgresql/15/bin

missing=""
for p in python3 curl nginx prometheus psql "$PGBIN/initdb" "$PGBIN/pg_ctl" "$PGBIN/postgres"; do
	if [[ $p == */* ]]; then [ -x "$p" ] || missing="$missing $p"
	else command -v "$p" >/dev/null 2>&1 || missing="$missing $p"; fi
done
if [ -n "$missing" ]; then
	fail "the test services are installed" "missing:$missing" \
		"'make deps' installs them (postgresql-15 postgresql-client-15 nginx prometheus curl python3)"
	t_done
fi

DIR=$(mktemp -d "${TMPDIR:-/tmp}/rbc-services.XXXXXX")
trap '"$S/stop" "$DIR"; rm -rf "$DIR" "$TMP"' EXIT

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# req ARGS...: an HTTP request; status in $CODE, body in $BODY.
req() {
	CODE=$(curl -sS --max-time 10 -o "$TMP/body" -w '%{http_code}' "$@" 2>"$TMP/curl.err") || CODE="curl-failed: $(cat "$TMP/curl.err")"
	BODY=$(cat "$TMP/body" 2>/dev/null)
}
# ctl PATH JSON: configures PATH on the fixture (PUT /_control/PATH).
ctl() { req -X PUT --data "$2" "$FIXTURE_URL/_control$1"; }
# codes N URL: the statuses of N sequential GETs, space separated.
codes() {
	local i out=""
	for ((i = 0; i < $1; i++)); do out="$out $(curl -s -o /dev/null --max-time 10 -w '%{http_code}' "$2")"; done
	echo "${out# }"
}
# json_get EXPR: evaluates a Python expression over the JSON document on stdin (as d).
json_get() { python3 -c 'import json, sys; d = json.load(sys.stdin); print('"$1"')' 2>/dev/null; }
# promq QUERY: the value of the first sample of an instant query ("" if none).
promq() {
	curl -sS --max-time 5 "$PROM_URL/api/v1/query" --data-urlencode "query=$1" 2>/dev/null |
		json_get 'd["data"]["result"][0]["value"][1] if d["data"]["result"] else ""'
}
# poll_eq SECONDS WANT CMD...: runs CMD until it prints WANT; prints the last output.
poll_eq() {
	local deadline=$(($(now_ms) + $1 * 1000)) want=$2 got; shift 2
	while :; do
		got=$("$@")
		if [ "$got" = "$want" ] || [ "$(now_ms)" -ge $deadline ]; then printf '%s' "$got"; return; fi
		sleep 0.2
	done
}
alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^[^)]*) Z' "/proc/$1/stat" 2>/dev/null; }
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# --- start --------------------------------------------------------------------
t0=$(now_ms)
run "$S/start" "$DIR"
t1=$(now_ms)
if [ "$RC" != 0 ]; then
	fail "start brings up all four services" "exit $RC" "$ERR"
	t_done
fi
ok "start brings up all four services ($((t1 - t0)) ms)"
[ $((t1 - t0)) -lt 30000 ] && ok "start takes under 30 s" || fail "start takes under 30 s" "$((t1 - t0)) ms"

# shellcheck disable=SC1091
. "$DIR/env"
unset_vars=""
for v in FIXTURE_URL FIXTURE_PID NGINX_URL NGINX_PID PGHOST PGPORT PGUSER PGDATABASE DATABASE_URL PG_PID PROM_URL PROM_PID; do
	[ -n "${!v:-}" ] || unset_vars="$unset_vars $v"
done
expect_eq "env sets every variable" "$unset_vars" ""
expect_match "every service is on 127.0.0.1" \
	"$FIXTURE_URL $NGINX_URL $PROM_URL $PGHOST" \
	'^http://127\.0\.0\.1:[0-9]+ http://127\.0\.0\.1:[0-9]+ http://127\.0\.0\.1:[0-9]+ 127\.0\.0\.1$'
expect_eq "DATABASE_URL matches the PG variables" "$DATABASE_URL" "postgresql://$PGUSER@127.0.0.1:$PGPORT/$PGDATABASE"

# --- fixture ------------------------------------------------------------------
req "$FIXTURE_URL/api/health"
expect_eq "fixture: /api/health is 200 by default" "$CODE" 200
expect_eq "fixture: /api/health says ok" "$(json_get 'd["status"]' <<<"$BODY")" ok
req "$FIXTURE_URL/api/environment"
expect_eq "fixture: /api/environment is blue" "$CODE $(json_get 'd["environment"]' <<<"$BODY")" "200 blue"
req "$FIXTURE_URL/no/such/path"
expect_eq "fixture: an unknown path is 404" "$CODE" 404

ctl /api/health '{"status": 500, "body": "down for maintenance\n"}'
expect_eq "fixture: control accepts a spec" "$CODE" 200
req -D "$TMP/headers" "$FIXTURE_URL/api/health"
expect_eq "fixture: control sets the status and text body" "$CODE|$BODY" "500|down for maintenance"
expect_match "fixture: a text body is text/plain" "$(tr -d '\r' <"$TMP/headers")" '^Content-Type: text/plain'

ctl /api/version '{"body": {"version": "1.2.3"}, "headers": {"X-Build": "42"}}'
req -D "$TMP/headers" "$FIXTURE_URL/api/version"
expect_eq "fixture: control sets a JSON body" "$CODE $(json_get 'd["version"]' <<<"$BODY")" "200 1.2.3"
expect_match "fixture: control sets headers" "$(tr -d '\r' <"$TMP/headers")" '^X-Build: 42$'
expect_match "fixture: a JSON body is application/json" "$(tr -d '\r' <"$TMP/headers")" '^Content-Type: application/json$'

ctl /api/version '{"status": "fine"}'
expect_eq "fixture: control rejects a bad spec" "$CODE" 400
req -X DELETE "$FIXTURE_URL/_control/api/health"
req "$FIXTURE_URL/api/health"
expect_eq "fixture: DELETE restores the default" "$CODE $(json_get 'd["status"]' <<<"$BODY")" "200 ok"

# fail_next: three consecutive failures, then the route's own answer again.
ctl /api/health '{"body": {"status": "ok"}, "fail_next": 3}'
expect_eq "fixture: fail_next 3 fails exactly the next 3 requests" \
	"$(codes 5 "$FIXTURE_URL/api/health")" "503 503 503 200 200"
ctl /flappy '{"sequence": [200, 500, {"status": 502, "body": "bad gateway"}]}'
expect_eq "fixture: a sequence cycles" "$(codes 7 "$FIXTURE_URL/flappy")" "200 500 502 200 500 502 200"
ctl /once '{"status": 200, "sequence": [500, 500], "sequence_mode": "once"}'
expect_eq "fixture: a sequence used once falls back to the status" "$(codes 4 "$FIXTURE_URL/once")" "500 500 200 200"

# Latency sleeps in the request's thread: a slow path does not delay others.
ctl /slow '{"latency_ms": 1500, "body": "slow"}'
curl -s -o /dev/null --max-time 10 -w '%{time_total}' "$FIXTURE_URL/slow" >"$TMP/slow.time" &
slow_pid=$!
got=$(poll_eq 5 1 sh -c "curl -s --max-time 2 '$FIXTURE_URL/_counters' | python3 -c 'import json,sys; print(json.load(sys.stdin).get(\"/slow\", 0))'")
expect_eq "fixture: the slow request has arrived" "$got" 1
tq0=$(now_ms)
req "$FIXTURE_URL/api/environment"
tq1=$(now_ms)
if [ "$CODE" = 200 ] && [ $((tq1 - tq0)) -lt 1000 ]; then ok "fixture: a slow request does not block another ($((tq1 - tq0)) ms)"
else fail "fixture: a slow request does not block another" "status $CODE after $((tq1 - tq0)) ms"; fi
wait "$slow_pid"
slow=$(cat "$TMP/slow.time")
if awk -v t="$slow" 'BEGIN { exit !(t >= 1.5 && t < 5) }'; then ok "fixture: latency_ms 1500 delays the answer (${slow}s)"
else fail "fixture: latency_ms 1500 delays the answer" "took ${slow}s"; fi

# Counters: per path, resettable, control requests not counted.
req -X DELETE "$FIXTURE_URL/_counters"
expect_eq "fixture: DELETE /_counters answers 200" "$CODE" 200
codes 3 "$FIXTURE_URL/api/environment" >/dev/null
codes 2 "$FIXTURE_URL/nope" >/dev/null
# Prometheus scrapes the fixture's /metrics whenever it likes: its hits are
# left out of what these checks compare.
req "$FIXTURE_URL/_counters"
expect_eq "fixture: counters count requests per path" \
	"$(json_get '" ".join("%s=%s" % kv for kv in sorted(d.items()) if kv[0] != "/metrics")' <<<"$BODY")" "/api/environment=3 /nope=2"
req -X POST "$FIXTURE_URL/_counters/reset"
req "$FIXTURE_URL/_counters"
expect_eq "fixture: counters reset" \
	"$(json_get 'json.dumps({k: v for k, v in d.items() if k != "/metrics"})' <<<"$BODY")" "{}"

# /metrics: counters by status, a histogram, gauges.
ctl /prom-check '{"body": "checked", "fail_next": 2}'
codes 7 "$FIXTURE_URL/prom-check" >/dev/null
req -X POST --data '{"gauges": {"queue_depth": 42, "lag_seconds": 0.5}}' "$FIXTURE_URL/_control"
expect_eq "fixture: control sets gauges" "$CODE" 200
req "$FIXTURE_URL/metrics"
M=$BODY
expect_match "metrics: requests counted by path and status (200)" "$M" '^http_requests_total\{path="/prom-check",status="200"\} 5$'
expect_match "metrics: requests counted by path and status (503)" "$M" '^http_requests_total\{path="/prom-check",status="503"\} 2$'
expect_match "metrics: the slow request is above the 1 s bucket" "$M" '^http_request_duration_seconds_bucket\{path="/slow",le="1.0"\} 0$'
expect_match "metrics: the slow request is in the 2.5 s bucket" "$M" '^http_request_duration_seconds_bucket\{path="/slow",le="2.5"\} 1$'
expect_match "metrics: histogram count" "$M" '^http_request_duration_seconds_count\{path="/slow"\} 1$'
expect_match "metrics: histogram sum" "$M" '^http_request_duration_seconds_sum\{path="/slow"\} 1\.[5-9]'
expect_match "metrics: gauges" "$M" '^fixture_gauge\{name="queue_depth"\} 42$'

# --- nginx --------------------------------------------------------------------
req "$NGINX_URL/api/environment"
expect_eq "nginx: proxies /api/environment to the fixture" "$CODE $(json_get 'd["environment"]' <<<"$BODY")" "200 blue"
req -X DELETE "$FIXTURE_URL/_counters"
req "$NGINX_URL/via-nginx"
expect_eq "nginx: passes the fixture's status and body" "$CODE $(json_get 'd["path"]' <<<"$BODY")" "404 /via-nginx"
req "$FIXTURE_URL/_counters"
expect_eq "nginx: the request reached the fixture" "$(json_get 'd.get("/via-nginx")' <<<"$BODY")" 1
req "$NGINX_URL/static/hello.txt"
expect_eq "nginx: serves a static file" "$CODE $BODY" "200 hello from nginx"

# --- postgres -----------------------------------------------------------------
run psql -X -h 127.0.0.1 -p "$PGPORT" -U "$PGUSER" -d "$PGDATABASE" -Atc 'select count(*) from jobs'
expect_eq "postgres: psql over TCP counts the jobs table" "$RC $OUT" "0 3"
run psql -X "$DATABASE_URL" -Atc "select count(*) from jobs where state = 'failed'"
expect_eq "postgres: DATABASE_URL connects" "$RC $OUT" "0 1"
run psql -X -Atc 'show listen_addresses'
expect_eq "postgres: listens on 127.0.0.1 only" "$OUT" "127.0.0.1"

# --- prometheus ---------------------------------------------------------------
expect_eq "prometheus: the fixture target is up" "$(poll_eq 15 1 promq 'up{job="fixture"}')" 1
expect_eq "prometheus: http_requests_total has the test's 200s" \
	"$(poll_eq 15 5 promq 'sum(http_requests_total{job="fixture",path="/prom-check",status="200"})')" 5
expect_eq "prometheus: http_requests_total has the test's 503s" \
	"$(poll_eq 15 2 promq 'sum(http_requests_total{job="fixture",path="/prom-check",status="503"})')" 2
expect_eq "prometheus: the histogram is scraped" \
	"$(poll_eq 15 1 promq 'http_request_duration_seconds_count{job="fixture",path="/slow"}')" 1
expect_eq "prometheus: gauges set by the test" \
	"$(poll_eq 15 42 promq 'fixture_gauge{job="fixture",name="queue_depth"}')" 42

# --- stop ---------------------------------------------------------------------
pids="$FIXTURE_PID $NGINX_PID $PG_PID $PROM_PID"
kids=""
for p in $NGINX_PID $PG_PID; do
	kids="$kids $(grep -l "^[0-9]* ([^)]*) [A-Za-z] $p " /proc/[0-9]*/stat 2>/dev/null | cut -d/ -f3 | tr '\n' ' ')"
done
[ -n "${kids// /}" ] && ok "nginx and postgres have worker processes" ||
	fail "nginx and postgres have worker processes" "none found under $NGINX_PID $PG_PID"
ports="$FIXTURE_PORT $NGINX_PORT $PGPORT $PROM_PORT"
open=""
for p in $ports; do port_open "$p" || open="$open $p(closed)"; done
expect_eq "every port is open before stop" "$open" ""

t0=$(now_ms)
run "$S/stop" "$DIR"
t1=$(now_ms)
expect_eq "stop exits 0 quietly" "$RC|$ERR" "0|"
left=""
for p in $pids $kids; do alive "$p" && left="$left $p:$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline")"; done
expect_eq "stop: every service process is gone ($((t1 - t0)) ms)" "$left" ""
stray=""
for f in /proc/[0-9]*/cmdline; do
	c=$(tr '\0' ' ' 2>/dev/null <"$f") || continue
	[[ $c == *"$DIR"* ]] && stray="$stray ${f#/proc/}: $c"
done
expect_eq "stop: no process names DIR" "$stray" ""
open=""
for p in $ports; do port_open "$p" && open="$open $p"; done
expect_eq "stop: every port is closed" "$open" ""
run "$S/stop" "$DIR"
expect_eq "stop again is a quiet no-op" "$RC|$OUT|$ERR" "0||"

t_done
