#!/usr/bin/env bash
# The demo sandbox (tests/sandbox/start): the router serves the live colour
# (plain and TLS), blue and green answer their API (health, environment,
# login, the business endpoint with the login's token, metrics), Prometheus
# scrapes both and sees the traffic generator's load, PostgreSQL has the demo
# schema and a pending migration, deploy puts a new version on the idle colour
# (and refuses the live one), the switch moves the traffic, a fault makes the
# new version fail the chosen way; stop leaves no process and no port open.
. tests/lib.sh
SB=$ROOT/tests/sandbox
DIR=$(mktemp -d "${TMPDIR:-/tmp}/rbc-sandbox.XXXXXX")
trap '"$SB/stop" "$DIR" >/dev/null 2>&1; rm -rf "$DIR" "$TMP"' EXIT

if ! "$SB/start" "$DIR" >"$TMP/start.out" 2>&1; then
	fail "the sandbox starts" "$(tail -20 "$TMP/start.out")"
	t_done
fi
ok "the sandbox starts: $(tail -1 "$TMP/start.out")"
# shellcheck disable=SC1091
. "$DIR/sandbox.env"
get() { curl -sS --max-time 10 "$@"; }
expect_eq "the router serves blue, the live colour" "$(get "$BASE_URL/api/environment")" '{"environment": "blue", "version": "1.4.2"}'
expect_eq "green, idle, runs the same release" "$(get "$GREEN_URL/api/health")" '{"status": "ok", "colour": "green", "version": "1.4.2"}'
tls_port=$(sed -n 's/^TLS_PORT=//p' "$DIR/sandbox.vars")
expect_eq "the router answers with TLS too" "$(get -k "https://127.0.0.1:$tls_port/api/environment")" '{"environment": "blue", "version": "1.4.2"}'
token=$(get -X POST -d '{"email": "test@example.com", "password": "demo"}' "$BASE_URL/api/auth/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])' 2>/dev/null)
expect_match "login returns a token (a JWT)" "$token" '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$'
expect_match "the business endpoint answers with it" "$(get -H "Authorization: Bearer $token" "$BASE_URL/api/orders")" '"orders": \[\{"id": 1001'
expect_eq "… and refuses without it" "$(get -o /dev/null -w '%{http_code}' "$BASE_URL/api/orders")" 401
expect_eq "a bad password gets no token" "$(get -o /dev/null -w '%{http_code}' -X POST -d '{"user": "demo", "password": "x"}' "$BASE_URL/api/auth/login")" 401
expect_match "… and green accepts blue's token (one signing key)" "$(get -H "Authorization: Bearer $token" "$GREEN_URL/api/auth/session")" '"email": "test@example.com"'
expect_match "metrics: request counts and a latency histogram" "$(get "$BLUE_URL/metrics")" 'http_request_duration_seconds_bucket\{path="/api/orders",le="0.5"\} [0-9]+'
expect_match "the vars file names every variable the runbooks need" "$(grep -c -E '^(BASE_URL|BLUE_URL|GREEN_URL|PROM_URL|DATABASE_URL|MIGRATION_FILE|DEPLOY_SCRIPT|SWITCH_SCRIPT|SLACK_WEBHOOK_URL|WATCH_WINDOW)=' "$DIR/sandbox.vars")" '^10$'
expect_eq "the demo schema holds its orders" "$(psql -X -At "$DATABASE_URL" -c 'SELECT count(*) FROM orders')" 20000
expect_match "a migration is pending" "$(ls "$DIR/migrations")" '^002_orders_customer_index\.sql$'
expect_eq "… not applied yet" "$(psql -X -At "$DATABASE_URL" -c "SELECT count(*) FROM schema_migrations WHERE version LIKE '002%'")" 0
# Prometheus: both colours up, and the traffic a real rate.
q() { get "$PROM_URL/api/v1/query" --data-urlencode "query=$1" | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(" ".join("%s=%.0f" % (x["metric"].get("env", ""), float(x["value"][1])) for x in sorted(r, key=lambda x: x["metric"].get("env", ""))))'; }
rate=""
for _ in $(seq 100); do
	rate=$(q 'sum by (env) (rate(http_requests_total{env="blue"}[5s]))')
	[[ $rate =~ blue=([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -ge 3 ] && break
	sleep 0.2
done
expect_eq "Prometheus scrapes both colours" "$(q 'up{job="app"}')" "blue=1 green=1"
expect_match "… and sees the traffic on blue (requests/s)" "$rate" '^blue=([3-9]|[1-9][0-9]+)$'
run "$SB/deploy" "$DIR" blue 1.5.0
expect_eq "deploy refuses the live colour" "$RC" 1
run "$SB/deploy" "$DIR" green 1.5.0
expect_eq "deploy puts 1.5.0 on green, the idle colour" "$RC $OUT" "0 deployed 1.5.0 to green (127.0.0.1:${GREEN_URL##*:})"
expect_eq "… on the same port" "$(get "$GREEN_URL/api/health")" '{"status": "ok", "colour": "green", "version": "1.5.0"}'
run env SANDBOX_DIR="$DIR" "$SB/switch" green
expect_eq "the switch moves the router to green (DIR from \$SANDBOX_DIR)" "$RC $OUT" "0 live: green"
expect_eq "… at once" "$(get "$BASE_URL/api/environment")" '{"environment": "green", "version": "1.5.0"}'
run "$SB/switch" "$DIR" purple
expect_eq "… and refuses a colour there is not" "$RC" 2
expect_eq "… leaving green live" "$(get "$BASE_URL/api/environment")" '{"environment": "green", "version": "1.5.0"}'

# Faults, on green: what a bad release does under production traffic.
code() { get -o /dev/null -w '%{http_code}' "$@"; }
get -X PUT -d '{"mode": "5xx", "rate": 1}' "$GREEN_URL/_fault" >/dev/null
expect_eq "fault 5xx: green's business endpoint answers 503" "$(code -H "Authorization: Bearer $token" "$GREEN_URL/api/orders")" 503
expect_eq "… its health check does not" "$(code "$GREEN_URL/api/health")" 200
get -X PUT -d '{"mode": "dead-health", "after": 3}' "$GREEN_URL/_fault" >/dev/null
before=$(code "$GREEN_URL/api/health")
for _ in 1 2 3 4; do code -H "Authorization: Bearer $token" "$GREEN_URL/api/orders" >/dev/null; done
expect_eq "fault dead-health: green's health check dies once it served business requests" "$before $(code "$GREEN_URL/api/health")" "200 503"
expect_eq "… its environment still answers" "$(code "$GREEN_URL/api/environment")" 200
get -X PUT -d '{"mode": "slow", "delay_ms": 600}' "$GREEN_URL/_fault" >/dev/null
t=$(get -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $token" "$GREEN_URL/api/orders")
expect_match "fault slow: green's business endpoint answers after the delay ($t s)" "$t" '^(0\.[6-9]|[1-9])'
expect_eq "an unknown fault is refused" "$(code -X PUT -d '{"mode": "melt"}' "$GREEN_URL/_fault")" 400

# --- stop: nothing left ------------------------------------------------------------------
ports=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\).*|\1|p' "$DIR/sandbox.env" | sort -u)
ports="$ports $PGPORT"
run "$SB/stop" "$DIR"
expect_eq "stop ends it" "$RC" 0
left=$(pgrep -af -- "$DIR" | grep -v -e pgrep -e "$0" || true)
expect_eq "no process of the sandbox is left" "$left" ""
open=""
for p in $ports; do
	(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && open="$open $p"
done
expect_eq "no port of the sandbox is open" "$open" ""

# A fault chosen at start.
D2=$(mktemp -d "${TMPDIR:-/tmp}/rbc-sandbox.XXXXXX")
if "$SB/start" "$D2" 5xx >"$TMP/start2.out" 2>&1; then
	. "$D2/sandbox.env"
	expect_eq "start with a fault: both colours are sound until the release" "$(get "$GREEN_URL/_fault" | grep -o '"mode": "[a-z0-9-]*"')" '"mode": "none"'
	"$SB/deploy" "$D2" green 1.5.0 >/dev/null 2>&1
	expect_eq "… the release deployed to green carries it" "$(get "$GREEN_URL/_fault" | grep -o '"mode": "[a-z0-9-]*"')" '"mode": "5xx"'
	expect_eq "… blue does not" "$(get "$BLUE_URL/_fault" | grep -o '"mode": "[a-z0-9-]*"')" '"mode": "none"'
else
	fail "the sandbox starts with a fault" "$(tail -20 "$TMP/start2.out")"
fi
"$SB/stop" "$D2" >/dev/null 2>&1
expect_eq "… and stops as clean" "$(pgrep -af -- "$D2" | grep -v pgrep || true)" ""
rm -rf "$D2"
expect_rc "an unknown fault is refused at start" 1 "$SB/start" "$TMP" melt
t_done
