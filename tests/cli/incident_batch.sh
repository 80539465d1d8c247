#!/usr/bin/env bash
# Incidents below the view: a batch run declares the incident with
# --severity/--title and notifies Slack and PagerDuty as the console does
# (declare, a failed step), PagerDuty's severity comes from the level
# (pagerduty_severity, else the level's position), a channel set in the
# environment that the runbook does not declare is said at start (stderr in
# batch, the message line in the console), and the console's timeline and
# the Markdown timeline say an entry in the same words.
. tests/lib.sh
. tests/tui.sh
NOW=2026-12-04T02:00:00Z
export RBC_RUNS_DIR="$TMP/runs"
journal() { cat "$TMP"/runs/*/journal.jsonl 2>/dev/null; }

# An incident whose common flow has one step that fails; three levels, the
# second naming its PagerDuty severity, the others by their position.
cat >"$TMP/inc.json" <<'JSON'
{ "runbook": "inc-batch", "title": "Incident in batch", "kind": "incident",
  "secrets": ["SLACK_WEBHOOK_URL", "PAGERDUTY_KEY"],
  "vars": { "PAGERDUTY_EVENTS_URL": "" },
  "roles": ["incident-commander"],
  "severities": [
    { "id": "SEV1", "name": "Outage", "restore": "1h" },
    { "id": "SEV2", "name": "Degraded", "restore": "4h", "pagerduty_severity": "warning" },
    { "id": "SEV3", "name": "Minor", "restore": "1d" } ],
  "steps": [
    { "id": "health", "title": "Health answers", "run": "exit 1", "expect": "exit == 0",
      "on_fail": "continue" } ] }
JSON
# The same runbook declaring no channel.
python3 - "$TMP/inc.json" "$TMP/undeclared.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1])); del d["secrets"]; d["runbook"] = "inc-undeclared"
json.dump(d, open(sys.argv[2], "w"))
EOF

# A receiver that answers 200 (Slack) and 202 (PagerDuty), keeping each body.
mkdir -p "$TMP/recv"
cat >"$TMP/recv.py" <<'EOF'
import http.server, os, sys
out = sys.argv[1]
seen = {"n": 0}
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        seen["n"] += 1
        with open(os.path.join(out, "%02d%s.json" % (seen["n"], self.path.replace("/", "_"))), "wb") as f:
            f.write(body)
        self.send_response(200 if self.path.startswith("/hooks/slack") else 202)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(os.path.join(out, "port"), "w").write(str(s.server_address[1]))
s.serve_forever()
EOF
python3 "$TMP/recv.py" "$TMP/recv" &
recv_pid=$!
trap 'kill $recv_pid 2>/dev/null; tmx kill-server >/dev/null 2>&1; rm -rf "$TMP"' EXIT
for _ in $(seq 100); do [ -s "$TMP/recv/port" ] && break; sleep 0.05; done
port=$(cat "$TMP/recv/port")
field() { python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    d = d[int(k)] if isinstance(d, list) else d[k]
print(d)' "$1" "$2" 2>&1; }
channels() { # LEVEL: a batch run declared at LEVEL, its bodies in $TMP/recv/LEVEL
	rm -rf "$TMP/runs" "$TMP/recv/"*_*.json
	run env RBC_TEST_NOW=$NOW SLACK_WEBHOOK_URL="http://127.0.0.1:$port/hooks/slack/T0/B0/s3cr3t-hook" \
		PAGERDUTY_KEY=pd-routing-key-0042 "$RBC" run --batch --operator alice \
		--var "PAGERDUTY_EVENTS_URL=http://127.0.0.1:$port/v2/enqueue" \
		--severity "$1" --title "Checkout down" "$TMP/inc.json"
	mkdir -p "$TMP/recv/$1"
	mv "$TMP/recv/"*_*.json "$TMP/recv/$1/" 2>/dev/null
}

# --- batch: declared, notified on declare and on a failed step -----------------------------
channels SEV2
expect_eq "rbc run --batch --severity --title: the run ends FAIL (its step failed)" "$RC" 2
expect_match "… the declaration is journaled with its level and title" "$(journal)" \
	'"ev":"incident","what":"declared","id":"INC-20261204T020000Z","title":"Checkout down","to":"SEV2"'
slack_bodies=$(ls "$TMP/recv/SEV2" | grep slack)
pd_bodies=$(ls "$TMP/recv/SEV2" | grep enqueue)
expect_eq "… Slack is told of the declaration and of the failed step" "$(printf '%s\n' "$slack_bodies" | wc -l)" 2
expect_eq "… and so is PagerDuty" "$(printf '%s\n' "$pd_bodies" | wc -l)" 2
first_slack=$(printf '%s\n' "$slack_bodies" | head -1) last_slack=$(printf '%s\n' "$slack_bodies" | tail -1)
expect_eq "… Slack's declaration names the level and the title" "$(field "$TMP/recv/SEV2/$first_slack" text)" \
	"[SEV2 Degraded] declared: Checkout down"
expect_match "… and the failed step, with why" "$(field "$TMP/recv/SEV2/$last_slack" text)" \
	'^\[SEV2 Degraded\] step failed: Checkout down — 1 Health answers: exit = 1'
first_pd=$(printf '%s\n' "$pd_bodies" | head -1)
expect_eq "… PagerDuty: a trigger with the incident's dedup key" \
	"$(field "$TMP/recv/SEV2/$first_pd" event_action) $(field "$TMP/recv/SEV2/$first_pd" dedup_key)" \
	"trigger rbc-INC-20261204T020000Z"
expect_eq "… its severity is the level's pagerduty_severity" "$(field "$TMP/recv/SEV2/$first_pd" payload.severity)" warning
expect_match "… the deliveries are journaled" "$(journal | grep -c '"what":"notification"')" '^4$'
expect_eq "… and no secret is in the journal" "$(journal | grep -c -e 's3cr3t-hook' -e 'pd-routing-key-0042')" 0
expect_eq "… nor on stdout or stderr" "$(printf '%s\n%s\n' "$OUT" "$ERR" | grep -c -e 's3cr3t-hook' -e 'pd-routing-key-0042')" 0

# PagerDuty's severity by the level's position when the level names none.
channels SEV1
pd=$(ls "$TMP/recv/SEV1" | grep enqueue | head -1)
expect_eq "a level without pagerduty_severity: the first level is critical" "$(field "$TMP/recv/SEV1/$pd" payload.severity)" critical
channels Minor
pd=$(ls "$TMP/recv/Minor" | grep enqueue | head -1)
expect_eq "… the third warning (a level named by its name)" "$(field "$TMP/recv/Minor/$pd" payload.severity)" warning
kill "$recv_pid" 2>/dev/null
wait "$recv_pid" 2>/dev/null

run "$RBC" check "$TMP/inc.json"
expect_eq "rbc check takes pagerduty_severity" "$RC" 0
sed 's/"pagerduty_severity": "warning"/"pagerduty_severity": "urgent"/' "$TMP/inc.json" >"$TMP/bad.json"
run "$RBC" check "$TMP/bad.json"
expect_eq "… and refuses a word PagerDuty does not take (65)" "$RC" 65
expect_match "… naming the four it takes" "$ERR" 'pagerduty_severity.*expected critical, error, warning or info, got "urgent"'

# --- batch: a bad level or impact start is refused before anything runs ----------------------
rm -rf "$TMP/runs"
run "$RBC" run --batch --severity SEV9 --title x "$TMP/inc.json"
expect_eq "rbc run --batch --severity with an unknown level is refused (64)" "$RC" 64
expect_match "… naming the levels" "$ERR" 'no severity "SEV9" \(the levels: SEV1 Outage, SEV2 Degraded, SEV3 Minor\)'
expect_eq "… and nothing ran" "$(journal | grep -c '"ev":"step_started"')" 0

# --- a channel set in the environment, not declared by the runbook ---------------------------
rm -rf "$TMP/runs"
run env SLACK_WEBHOOK_URL=http://127.0.0.1:9/hooks/slack PAGERDUTY_KEY=k "$RBC" run --batch \
	--severity SEV1 --title "Checkout down" "$TMP/undeclared.json"
expect_match "batch: SLACK_WEBHOOK_URL in the environment but not declared is said on stderr" "$ERR" \
	'SLACK_WEBHOOK_URL is set in the environment, but the runbook does not declare it \("secrets": \["SLACK_WEBHOOK_URL"\]\): no Slack notification is sent'
expect_match "… and so is PAGERDUTY_KEY" "$ERR" \
	'PAGERDUTY_KEY is set in the environment, but the runbook does not declare it .*: no PagerDuty notification is sent'
expect_eq "… and nothing is journaled as sent" "$(journal | grep -c '"what":"notification"')" 0
run env SLACK_WEBHOOK_URL=http://127.0.0.1:9/hooks/slack "$RBC" run --batch \
	--severity SEV1 --title "Checkout down" "$TMP/inc.json"
expect_eq "… not said when the runbook declares it" "$(printf '%s\n' "$ERR" | grep -c 'is set in the environment')" 0

rm -rf "$TMP/runs"
TUI_ENV="RBC_TEST_NOW=$NOW SLACK_WEBHOOK_URL=http://127.0.0.1:9/hooks/slack" \
	tui_start 200 30 --operator alice --severity SEV1 --title "Checkout down" "$TMP/undeclared.json"
expect_screen "the console says it on its message line" \
	'SLACK_WEBHOOK_URL is set in the environment, but the runbook does not declare it'

# --- one formatter for the timeline: the console's line and the Markdown row --------------------
keys o
type_text "incident-commander=carol"
keys Enter
expect_screen "the console's timeline line of a handover" \
	"02:00:00 role incident-commander: (unassigned) → carol (alice)"
keys q
tui_exit
md=$("$RBC" export "$(ls "$TMP/runs" | head -1)" --format incident-md 2>&1)
expect_match "… the Markdown timeline row says it in the same words" "$md" \
	'\| 02:00:00 \| role \| alice \| incident-commander: \(unassigned\) → carol \|'
expect_match "… the declaration too" "$md" '\| 02:00:00 \| declared \| alice \| SEV1 Outage — Checkout down \|'
t_done
