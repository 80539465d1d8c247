#!/usr/bin/env bash
# Secrets, not even part of one: a secret longer than an explanation's cut,
# one standing across the cut of a command's output window or of max_body,
# secrets as short as "1" or "true" or equal to a word of the runbook's id
# (the record stays JSON, resume finds its runbook), rbc's own settings kept
# from steps' environments, and headers holding a secret left behind when a
# redirect leaves the origin. Every check looks for every 6-byte piece of the
# secret, not just the whole of it.
. tests/lib.sh
S=$ROOT/tests/services
DIR=$(mktemp -d "${TMPDIR:-/tmp}/rbc-trust-secrets.XXXXXX")
trap '"$S/stop" "$DIR" >/dev/null 2>&1; rm -rf "$DIR" "$TMP"' EXIT
export RBC_RUNS_DIR=$TMP/runs

if ! "$S/start" "$DIR" fixture nginx postgres >"$TMP/start.out" 2>&1; then
	fail "the test services start" "$(tail -20 "$TMP/start.out")"
	t_done
fi
# shellcheck disable=SC1091
. "$DIR/env"
ctl() { curl -sS --max-time 10 -o /dev/null -X PUT --data "$2" "$FIXTURE_URL/_control$1"; }
newest() { ls -t "$RBC_RUNS_DIR" | head -1; }
reqs() { curl -sS --max-time 10 "$FIXTURE_URL/_requests?path=$1"; }

# A 52-character secret, random each run.
TOKEN="sk_live_$(head -c 22 /dev/urandom | od -An -tx1 | tr -d ' \n')"

# pieces FILE...: the 6-byte pieces of $TOKEN found in the files (none: empty).
pieces() {
	python3 - "$TOKEN" "$@" <<'PY'
import sys
tok = sys.argv[1].encode()
found = set()
for path in sys.argv[2:]:
    try:
        data = open(path, "rb").read()
    except OSError:
        continue
    for i in range(len(tok) - 5):
        if tok[i:i + 6] in data:
            found.add("%s: %s" % (path.rsplit("/", 1)[-1], tok[i:i + 6].decode()))
print("\n".join(sorted(found)[:8]))
PY
}
# no_piece NAME FILE...
no_piece() {
	local name=$1 got
	shift
	got=$(pieces "$@")
	if [ -z "$got" ]; then ok "$name"; else fail "$name" "$got"; fi
}
# exports RUN: writes every export of RUN into $TMP/x.*
exports() {
	rm -f "$TMP"/x.*
	"$RBC" export "$1" --format md -o "$TMP/x.md" 2>"$TMP/x.err"
	"$RBC" export "$1" --format json -o "$TMP/x.json" 2>>"$TMP/x.err"
	"$RBC" export "$1" --format junit -o "$TMP/x.xml" 2>>"$TMP/x.err"
}

# --- 1. longer than the 40-character cut of an explanation ------------------------
ctl /echo "$(printf '{"body": {"token": "%s", "user": "alice"}}' "$TOKEN")"
cat >"$TMP/long.json" <<JSON
{ "runbook": "long-secret", "title": "A long secret in values",
  "secrets": ["TOKEN"],
  "vars": { "URL": "$FIXTURE_URL", "DB": "host=127.0.0.1 port=$PGPORT user=$PGUSER dbname=$PGDATABASE" },
  "steps": [
    { "id": "out", "title": "Command prints it", "run": "printf '%s\\\\n' \"\$TOKEN\"",
      "expect": "stdout == \"expected\"", "on_fail": "continue" },
    { "id": "echo", "title": "A server echoes it", "http": { "url": "\${URL}/echo" },
      "expect": "json.token == \"expected\"", "capture": { "SEEN": "json.token" }, "on_fail": "continue" },
    { "id": "sql", "title": "A database gives it back", "on_fail": "continue",
      "sql": { "conn": "\${DB}", "query": "SELECT \$1::text AS t", "params": ["\${TOKEN}"] },
      "expect": "value == \"expected\"" },
    { "id": "num", "title": "Not a number", "run": "printf '%s' \"\$TOKEN\"",
      "expect": "num(stdout) > 0", "on_fail": "continue" }
  ] }
JSON
TOKEN=$TOKEN run "$RBC" run --batch --db "$DATABASE_URL" "$TMP/long.json"
printf '%s\n%s\n' "$OUT" "$ERR" >"$TMP/long.out"
id=$(newest)
expect_match "a long secret: the steps fail as they should" "$OUT" 'FAIL +out .*stdout = "••••\\n" != "expected"'
expect_match "… the HTTP echo's explanation shows it masked" "$OUT" 'FAIL +echo .*json.token = "••••" != "expected"'
expect_match "… the SQL value's too" "$OUT" 'FAIL +sql .*value = "••••" != "expected"'
exports "$id"
no_piece "a long secret: no piece of it on the screen of a batch run" "$TMP/long.out"
no_piece "… nor in the journal, the spool files or the exports" "$RBC_RUNS_DIR/$id"/* "$TMP"/x.*
dbq() { psql "$DATABASE_URL" -Atc "SELECT event::text FROM rbc_events UNION ALL SELECT header::text FROM rbc_runs" >"$TMP/db.txt" 2>"$TMP/db.err"; }
for _ in $(seq 100); do dbq; grep -q run_finished "$TMP/db.txt" && break; sleep 0.1; done
expect_match "… the history tables hold the run" "$(cat "$TMP/db.txt")" 'run_finished'
no_piece "… and no piece of it is in them" "$TMP/db.txt"

# --- 2. a secret across the cut of the output window and of max_body ---------------
# The window keeps the last 64 KiB: the first 30 bytes of the secret fall before it.
cat >"$TMP/window.json" <<JSON
{ "runbook": "window", "title": "Cut secrets",
  "secrets": ["TOKEN"], "vars": { "URL": "$FIXTURE_URL" },
  "steps": [
    { "id": "big", "title": "Prints more than the window",
      "run": "printf '%s' \"\$TOKEN\"; head -c \$((65536 - 22)) /dev/zero | tr '\\\\0' x; printf 'FIN'",
      "expect": "stdout =~ /^nothing/", "capture": { "HEAD": "match(stdout, /^(.{10})/)" }, "on_fail": "continue" },
    { "id": "shown", "title": "Head was \${HEAD}", "run": "true" },
    { "id": "body", "title": "Body cut at max_body", "on_fail": "continue",
      "http": { "url": "\${URL}/cutbody", "max_body": 120 },
      "expect": "body == \"no\"" }
  ] }
JSON
ctl /cutbody "$(printf '{"body": "%s%s tail"}' "$(head -c 100 /dev/zero | tr '\0' y)" "$TOKEN")"
TOKEN=$TOKEN run "$RBC" run --batch "$TMP/window.json"
printf '%s\n%s\n' "$OUT" "$ERR" >"$TMP/window.out"
id=$(newest)
expect_match "a cut secret: the window's step ran and failed on its threshold" "$OUT" 'FAIL +big '
expect_match "… the body's too" "$OUT" 'FAIL +body '
python3 - "$RBC_RUNS_DIR/$id/journal.jsonl" >"$TMP/samples" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    s = e.get("sample") or {}
    if e.get("ev") == "sample" and "stdout" in s:
        print("stdout_head=" + s["stdout"][:12])
    if e.get("ev") == "sample" and "body" in s:
        print("body_tail=" + s["body"][-12:])
PY
expect_match "… the journaled window starts masked where the secret was cut" "$(cat "$TMP/samples")" 'stdout_head=••••x'
expect_match "… the journaled body ends masked where max_body cut the secret" "$(cat "$TMP/samples")" 'body_tail=y+••••$'
exports "$id"
no_piece "a cut secret: no piece of it on the screen" "$TMP/window.out"
no_piece "… nor in the journal or the exports" "$RBC_RUNS_DIR/$id"/journal.jsonl "$TMP"/x.*

# --- 3. short secrets and secrets equal to a runbook's words ----------------------
cat >"$TMP/stockle.json" <<'JSON'
{ "runbook": "stockle-deploy", "title": "Deploy stockle",
  "secrets": ["ONE", "YES", "WORD"],
  "steps": [
    { "id": "first", "title": "Exit 1 of stockle", "run": "echo true; exit 1", "on_fail": "continue" },
    { "id": "count", "title": "Counts", "run": "echo 1 1 1", "expect": "exit == 0 && len(stdout) > 1" },
    { "id": "nap", "title": "Waits", "run": "sleep 30" },
    { "id": "last", "title": "Last of stockle", "run": "true" }
  ] }
JSON
ONE=1 YES=true WORD=stockle "$RBC" run --batch "$TMP/stockle.json" >"$TMP/s.out" 2>"$TMP/s.err" &
pid=$!
for _ in $(seq 200); do grep -q '"step":"stockle-deploy/nap"' "$RBC_RUNS_DIR"/*/journal.jsonl 2>/dev/null && break; sleep 0.05; done
kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
id=$(newest)
J=$RBC_RUNS_DIR/$id/journal.jsonl
expect_match "a secret shorter than 4 characters is warned about at start" "$(cat "$TMP/s.err")" \
	'warning: secret ONE is 1 character long'
expect_nomatch "… one of 4 is not" "$(cat "$TMP/s.err")" 'secret (YES|WORD) is'
bad=$(python3 - "$J" <<'PY'
import json, sys
bad = []
for n, l in enumerate(open(sys.argv[1]), 1):
    try:
        json.loads(l)
    except ValueError as e:
        bad.append("%d: %s" % (n, l[:120]))
print("\n".join(bad))
PY
)
expect_eq "short secrets (1, true): every journal line is still JSON" "$bad" ""
expect_match "… the run id and the runbook's id and path are whole" "$(head -1 "$J")" \
	"\"run\":\"$id\".*\"id\":\"stockle-deploy\".*stockle.json"
expect_match "… a title keeps the runbook's own words" "$(grep '"stockle-deploy/last"' "$J" | head -1)$(grep '"title":"Exit 1 of stockle"' "$J")" 'Exit 1 of stockle'
expect_match "… the output with the secret is masked inside its value" "$(grep '"ev":"sample"' "$J" | head -1)" '"stdout":"••••\\n"'
expect_match "… numbers stay numbers" "$(grep '"ev":"sample"' "$J" | head -1)" '"exit":1[,}]'
ONE=1 YES=true WORD=stockle run timeout 60 "$RBC" resume --batch --unfinished rerun "$id"
expect_match "… rbc resume finds the runbook and ends the run" "$OUT" 'PASS +last '
run "$RBC" export "$id" --format json -o "$TMP/s.json"
expect_eq "… and the run exports" "$RC" 0

# --- 4. rbc's own settings never reach a step --------------------------------------
cat >"$TMP/env.json" <<'JSON'
{ "runbook": "env", "title": "Environment", "steps": [
  { "id": "env", "title": "Prints its environment", "run": "env" } ] }
JSON
RBC_DATABASE_URL="postgresql://rbc:pw-$TOKEN@127.0.0.1:1/x" run "$RBC" run --batch --assume done "$TMP/env.json"
id=$(newest)
out=$(cat "$RBC_RUNS_DIR/$id"/*.out "$RBC_RUNS_DIR/$id"/*/* 2>/dev/null; grep '"ev":"sample"' "$RBC_RUNS_DIR/$id/journal.jsonl")
expect_match "a step's env runs" "$out" 'PATH='
expect_nomatch "… and RBC_DATABASE_URL is not in it" "$out" 'RBC_DATABASE_URL'
expect_nomatch "… nor RBC_RUNS_DIR" "$out" 'RBC_RUNS_DIR'
no_piece "… nor any piece of its password" "$RBC_RUNS_DIR/$id"/journal.jsonl

# --- 5. headers holding a secret stay behind when a redirect leaves the origin ----
ctl /away "{\"status\": 302, \"body\": \"\", \"headers\": {\"Location\": \"$NGINX_URL/landing\"}}"
ctl /home "{\"status\": 307, \"body\": \"\", \"headers\": {\"Location\": \"/landing-home\"}}"
ctl /landing '{"body": "landed"}'
ctl /landing-home '{"body": "home"}'
cat >"$TMP/redirect.json" <<JSON
{ "runbook": "redirect", "title": "Redirects", "secrets": ["TOKEN"],
  "vars": { "URL": "$FIXTURE_URL" },
  "steps": [
    { "id": "away", "title": "Another origin", "expect": "status == 200 && body == \"landed\"",
      "http": { "url": "\${URL}/away", "follow": true,
                "headers": { "X-Api-Key": "\${TOKEN}", "X-Trace": "t-\${TOKEN}-x", "Authorization": "Bearer abc",
                             "X-Plain": "visible" } } },
    { "id": "home", "title": "The same origin", "expect": "status == 200 && body == \"home\"",
      "http": { "url": "\${URL}/home", "follow": true, "headers": { "X-Api-Key": "\${TOKEN}" } } }
  ] }
JSON
TOKEN=$TOKEN run "$RBC" run --batch "$TMP/redirect.json"
expect_match "redirects are followed" "$OUT" 'PASS +away .*PASS +home |PASS +away '
expect_match "… to the same origin too" "$OUT" 'PASS +home '
first=$(reqs /away) landed=$(reqs /landing) home=$(reqs /landing-home)
expect_match "the first hop got the secret header" "$first" "\"X-Api-Key\": \"$TOKEN\""
expect_match "the other origin got the plain header" "$landed" '"X-Plain": "visible"'
expect_nomatch "… but no header holding the secret" "$landed" 'X-Api-Key|X-Trace'
expect_nomatch "… nor Authorization" "$landed" 'Authorization'
expect_match "the same origin still gets the secret header" "$home" "\"X-Api-Key\": \"$TOKEN\""

# --- captures named in secrets, pieces and forms of secrets -------------------------
PIN=48151623
ctl /api/auth/login "$(printf '{"body": {"token": "%s-jwt", "pin": %s, "esc": "%s"}}' "$TOKEN" "$PIN" 'pa\"ss\\wo\/rd-2024x')"
cat >"$TMP/forms.json" <<JSON
{ "runbook": "forms", "title": "Forms of secrets", "secrets": ["TOKEN", "PIN", "JWT", "TOK", "ESC", "OA", "OB"],
  "vars": { "URL": "$FIXTURE_URL" },
  "steps": [
    { "id": "login", "title": "Log in", "http": { "url": "\${URL}/api/auth/login" },
      "expect": "status == 200", "capture": { "JWT": "json.token" } },
    { "id": "printed", "title": "A command prints a token", "on_fail": "continue",
      "run": "echo 'token: tk_\$PIN-issued'", "expect": "stdout =~ /nothing/",
      "capture": { "TOK": "match(stdout, /token: (\\\\S+)/)" } },
    { "id": "piece", "title": "Pieces", "run": "echo \"key=\$TOKEN end\"",
      "capture": { "P1": "match(stdout, /key=(.{10})/)", "N": "num(vars.PIN) + 1" } },
    { "id": "use", "title": "Uses \${P1} \${N}", "run": "true" },
    { "id": "numbers", "title": "A PIN as a number", "http": { "url": "\${URL}/api/auth/login" },
      "expect": "json.pin == 1", "on_fail": "continue" },
    { "id": "overlap", "title": "Overlapping secrets", "run": "printf '%s%s' \"\$OA\" \"\${OB#123456789KLM}\"",
      "expect": "stdout == \"x\"", "on_fail": "continue" }
  ] }
JSON
OA=abcdefghij0123456789KLM OB=123456789KLMnopqrstuvwxyz \
TOKEN=$TOKEN PIN=$PIN ESC='pa"ss\wo/rd-2024x' run "$RBC" run --batch --title "rotated $TOKEN" --operator alice "$TMP/forms.json"
printf '%s\n%s\n' "$OUT" "$ERR" >"$TMP/forms.out"
id=$(newest)
expect_match "forms of secrets: the run ran its steps" "$OUT" 'FAIL +overlap '
no_piece "… no piece of the token: a capture named in secrets, a regex's piece, overlapping secrets, argv" \
	"$TMP/forms.out" "$RBC_RUNS_DIR/$id"/journal.jsonl "$RBC_RUNS_DIR/$id"/out/*
expect_nomatch "… the PIN is never shown, as a number or a number made from it" \
	"$(cat "$TMP/forms.out" "$RBC_RUNS_DIR/$id"/journal.jsonl "$RBC_RUNS_DIR/$id"/out/*)" "$PIN|$((PIN + 1))"
expect_nomatch "… nor the command's printed token, in the output file either" \
	"$(cat "$TMP/forms.out" "$RBC_RUNS_DIR/$id"/journal.jsonl "$RBC_RUNS_DIR/$id"/out/*)" "tk_"
expect_nomatch "… nor the tail of a secret that overlaps another" "$(cat "$TMP/forms.out" "$RBC_RUNS_DIR/$id"/journal.jsonl)" 'nopqrstuvwxyz'
expect_nomatch "… nor a secret as a server escapes it in JSON" "$(cat "$RBC_RUNS_DIR/$id"/journal.jsonl)" 'wo\\\\/rd-2024x|wo/rd-2024x'

# rbc's own database URL: not in a step's reach through /proc either.
cat >"$TMP/proc.json" <<'JSON'
{ "runbook": "proc", "title": "A step reads its parent", "steps": [
  { "id": "peek", "title": "Peek", "run": "tr '\\0' '\\n' </proc/$PPID/environ; tr '\\0' ' ' </proc/$PPID/cmdline" } ] }
JSON
RBC_DATABASE_URL="postgresql://rbc:envpw-$TOKEN@127.0.0.1:1/x" \
	run "$RBC" run --batch --db "postgresql://rbc:argpw%2F$TOKEN@127.0.0.1:1/x" "$TMP/proc.json"
id=$(newest)
expect_match "a step reads rbc's environment and command line" "$(cat "$RBC_RUNS_DIR/$id"/out/* | tr '\n' ' ')" 'PATH=.*run --batch --db'
no_piece "… and finds neither database password" "$RBC_RUNS_DIR/$id"/out/* "$RBC_RUNS_DIR/$id"/journal.jsonl
expect_match "… the journal's command line shows the URL without its password" \
	"$(head -1 "$RBC_RUNS_DIR/$id/journal.jsonl")" 'postgresql://rbc:••••@127.0.0.1:1/x'

# A 307 to another origin would send a body holding a secret again: not followed.
ctl /away307 "{\"status\": 307, \"body\": \"\", \"headers\": {\"Location\": \"$NGINX_URL/landing307\"}}"
ctl /landing307 '{"body": "landed"}'
cat >"$TMP/body307.json" <<JSON
{ "runbook": "body307", "title": "A body with a secret", "secrets": ["TOKEN"], "steps": [
  { "id": "post", "title": "Post", "http": { "method": "POST", "url": "$FIXTURE_URL/away307", "follow": true,
    "json": { "token": "\${TOKEN}" } }, "expect": "status == 200", "on_fail": "continue" } ] }
JSON
TOKEN=$TOKEN run "$RBC" run --batch "$TMP/body307.json"
expect_match "a 307 to another origin with a secret in the body is not followed" "$OUT" 'not followed: the body would go along'
expect_eq "… the other origin got nothing" "$(reqs /landing307)" "[]"

# --- the console's screen and an incident's Slack text -----------------------------
. "$ROOT/tests/tui.sh"
trap 'tmx kill-server >/dev/null 2>&1; "$S/stop" "$DIR" >/dev/null 2>&1; rm -rf "$DIR" "$TMP"' EXIT
cat >"$TMP/incident.json" <<JSON
{ "runbook": "leak-incident", "title": "Incident with a secret", "kind": "incident",
  "secrets": ["TOKEN", "SLACK_WEBHOOK_URL"],
  "severities": [ { "id": "L1", "name": "Minor", "restore": "15m",
                   "steps": [ { "id": "l1", "title": "Roll back", "manual": "Roll back." } ] } ],
  "steps": [
    { "id": "probe", "title": "Token check", "run": "printf '%s\\n' \"\$TOKEN\"",
      "expect": "stdout == \"expected\"", "on_fail": "continue" },
    { "id": "echo", "title": "Echo check", "http": { "url": "$FIXTURE_URL/echo" },
      "expect": "json.token == \"expected\"", "on_fail": "continue" }
  ] }
JSON
ctl /hooks/slack '{"body": "ok"}'
TUI_ENV="TOKEN=$TOKEN SLACK_WEBHOOK_URL=$FIXTURE_URL/hooks/slack" \
	tui_start 200 40 --operator alice --severity L1 --title "Token leak drill" "$TMP/incident.json"
wait_for "Token leak drill" >/dev/null
keys a
expect_screen "the console runs the failing steps" "Echo check"
wait_re 'FAIL +json.token|json.token = ' >/dev/null
wait_for "notification slack step_failed" 20 >/dev/null
screen >"$TMP/screen.txt"
keys Tab; screen >>"$TMP/screen.txt"
keys j; screen >>"$TMP/screen.txt"
for _ in $(seq 50); do reqs /hooks/slack >"$TMP/slack.json"; grep -q 'Echo check' "$TMP/slack.json" && break; sleep 0.1; done
expect_match "Slack was told of the failed steps" "$(cat "$TMP/slack.json")" 'Token check.*Echo check|Echo check.*Token check'
no_piece "no piece of the secret on the console's screen" "$TMP/screen.txt"
no_piece "… nor in the Slack texts" "$TMP/slack.json"
keys q

t_done
