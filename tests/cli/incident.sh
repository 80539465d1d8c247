#!/usr/bin/env bash
# Incident mode in the console (tmux, fixed clock): declaring by the
# questions or by --severity/--title/--impact-start, escalating with a
# reason, roles and handovers, notes, decisions, todos, status updates,
# resolving against the exit criteria — each one a UTC timeline event with
# its actor, shown newest first and journaled; the restore-target clock at
# 0 %, 50 %, 75 % and past 100 %; a killed incident resumed with its state.
. tests/lib.sh
. tests/tui.sh
INC=$ROOT/runbooks/incident.json
NOW=2026-12-04T02:00:00Z
export TUI_ENV="RBC_TEST_NOW=$NOW"
header() { printf '%s\n' "$SCREEN" | sed -n 2p; }
roles() { printf '%s\n' "$SCREEN" | sed -n 3p; }
status_row() { printf '%s\n' "$SCREEN" | tail -1; }
journal() { cat "$TMP"/runs/*/journal.jsonl 2>/dev/null; }
# answer TEXT: types an answer to the prompt and presses Enter.
answer() { type_text "$1"; keys Enter; }

# --- declaring by the questions, then acting ------------------------------------------
tui_start 120 40 --operator alice "$INC"
expect_screen "an incident runbook opens asking for the level, with every level named" \
	"Declare the incident: severity (L1 Minor, L2 Major, L3 Critical, L4 Catastrophic):"
expect_match "… the header says it is not declared yet" "$(header)" 'incident not declared yet: S declares it'
answer "nine"
expect_screen "an unknown level is refused and asked again" 'no severity "nine"'
answer "major"
expect_screen "a level may be given by its name, in any case; then the title" "Title of the incident:"
keys Enter
expect_screen "a title is required" "Title of the incident (it needs one):"
answer "Checkout down"
expect_screen "then when the impact started" "Impact started (UTC HH:MM"
answer "02:30"
expect_screen "an impact start in the future is refused" \
	"the impact cannot start in the future (2026-12-04T02:30:00.000Z is after now, 2026-12-04T02:00:00.000Z)"
answer "01:30"
wait_for "L2 Major · investigating" >/dev/null
expect_eq "declared: level with its name, status, clocks, restore target at 50 %, next update" "$(header)" \
	" L2 Major · investigating · impact 30m00s · declared 0s · restore █████░░░░░ 50% 30m00s left · update in 30m00s"
expect_match "… the incident's id and title, the roles unassigned" "$(roles)" \
	'^ INC-20261204T020000Z Checkout down · unassigned: Incident commander, DevOps, Backend engineer'
expect_screen "… and the timeline has the declaration with its time and actor" \
	"02:00:00 declared L2 Major — Checkout down (alice)"
expect_match "… the level's procedure is added to the tree" "$SCREEN" '▾ ○ L2 Major procedure +0/4│'
expect_match "… selected" "$SCREEN" '┐┌ L2 Major procedure ─'
keys j
expect_screen "… with its steps" "○ L2.1 Read replica is a standby"
absent_l3=$(printf '%s\n' "$SCREEN" | grep -c 'L3 Critical procedure')
expect_eq "… and no other level's" "$absent_l3" 0

keys S
expect_screen "S asks the new level, naming the current one" "New severity, now L2 Major (L1 Minor"
answer "L3"
expect_screen "… then why" "Why L3 Critical?"
keys Enter
expect_screen "… a reason is required" "a change of severity needs a reason"
keys S; answer "L3"; answer "payments fail in every region"
wait_for "L3 Critical · investigating" >/dev/null
expect_match "escalated: the header shows the new level and its target (4 h)" "$(header)" \
	'^ L3 Critical · investigating · .* restore █░░░░░░░░░ 12% 3h30m left'
expect_screen "… the timeline shows the change and its reason above the declaration" \
	"02:00:00 severity L2 → L3 — payments fail in every region (alice)"
expect_match "… the new level's procedure joins the tree" "$SCREEN" '▾ ○ L3 Critical procedure +0/3│'
expect_match "… selected" "$SCREEN" '┐┌ L3 Critical procedure ─'
expect_match "… the earlier level's stays" "$SCREEN" '▾ ○ L2 Major procedure +0/4│'
expect_match "… and L4's is not there" "$(printf '%s\n' "$SCREEN" | grep -c 'L4 Catastrophic procedure')" '^0$'
first=$(printf '%s\n' "$SCREEN" | grep -n 'severity L2 → L3' | cut -d: -f1)
second=$(printf '%s\n' "$SCREEN" | grep -n 'declared L2 Major' | cut -d: -f1)
[ "$first" -lt "$second" ] && ok "… the change is listed above the declaration" || fail "… newest first" "$SCREEN"

keys o
expect_screen "o lists the roles to assign" "Assign ROLE=NAME (ROLE alone: you; ROLE=: unassigned; incident-commander, devops"
answer "pilot=bob"
expect_screen "an unknown role is refused, the roles named" 'no role "pilot" (the roles: incident-commander'
keys o; answer "incident-commander=carol"
keys o; answer "devops"
wait_for "DevOps alice" >/dev/null
expect_match "roles: who holds them, the others unassigned" "$(roles)" \
	'· Incident commander carol · DevOps alice · unassigned: Backend engineer'
keys o; answer "incident-commander=dave"
expect_screen "a handover is a timeline event: from, to, by whom" \
	"role incident-commander: carol → dave (alice)"
keys n; answer "5xx at 60 % since 01:30"
keys d; answer "roll back to 1.4.2"
keys t; answer "check the payment queue"
expect_screen "n, d and t are timeline entries" "todo [ ] — check the payment queue (alice)"
expect_match "… the note" "$SCREEN" 'note — 5xx at 60 % since 01:30 \(alice\)'
expect_match "… the decision" "$SCREEN" 'decision — roll back to 1.4.2 \(alice\)'
keys u
expect_screen "u asks the status first" "Status, now investigating (investigating, fixing, monitoring; Enter: keep):"
answer "fixing"
expect_screen "… then the update to send" "Status update (sent to the channels):"
answer "Rolling back to 1.4.2; next update in 30 minutes"
wait_for "update — Rolling back" >/dev/null
expect_match "the status changed in the header" "$(header)" '^ L3 Critical · fixing · '
expect_match "… and in the timeline, with the update" "$SCREEN" 'status investigating → fixing \(alice\)'

keys R
expect_screen "R asks for a summary" "Resolve: summary of the resolution:"
answer "1.4.2 serves again"
expect_screen "… then shows the exit criteria and asks each" \
	"Exit criterion 1/5: Production is healthy: health checks pass continuously"
expect_match "… the criteria listed in the timeline pane" "$SCREEN" '○ 5\. An owner and a date exist for the incident report'
answer y; answer y; answer y
keys Enter
expect_screen "an unmet criterion needs a reason: Enter alone asks again" "Exit criterion 4/5:"
answer "the status page is updated by the communications lead"
expect_screen "… the next criterion" "Exit criterion 5/5:"
answer y
wait_for "resolved —" >/dev/null
expect_match "resolved: the header says so and how long restoring took against the target" "$(header)" \
	'^ L3 Critical · resolved · impact 30m00s · declared 0s · restored in 30m00s, target 4h00m: met$'
expect_screen "… the timeline has the resolution" "02:00:00 resolved — 1.4.2 serves again (alice)"
keys n
expect_screen "a resolved incident takes no more actions" "the incident is resolved"

# Every action is a journal line: what, its fields, who, when (UTC).
j=$(journal)
expect_match "the journal has one incident line per action" "$(printf '%s\n' "$j" | grep -c '"ev":"incident"')" '^11$'
expect_match "… the declaration with its backfilled impact start" "$j" \
	'"ev":"incident","what":"declared","id":"INC-20261204T020000Z","title":"Checkout down","to":"L2","impact_start":"2026-12-04T01:30:00.000Z","by":"alice"'
expect_match "… the escalation with its reason" "$j" \
	'"t":"2026-12-04T02:00:00.000Z","ev":"incident","what":"severity","from":"L2","to":"L3","text":"payments fail in every region","by":"alice"'
expect_match "… the handover" "$j" '"what":"role","role":"incident-commander","from":"carol","to":"dave","by":"alice"'
expect_match "… the resolution with each criterion" "$j" \
	'"what":"resolved","criteria":\[\{"criterion":"Production is healthy[^}]*"met":true\}.*"met":false,"reason":"the status page is updated by the communications lead"\}'
keys q
tui_exit
# The run's exports carry the incident's lines.
run_id=$(ls "$TMP/runs" | head -1)
RBC_RUNS_DIR="$TMP/runs" "$RBC" export "$run_id" --format json -o "$TMP/incident.json" >/dev/null 2>&1
run python3 -c 'import json, sys, jsonschema
jsonschema.Draft202012Validator(json.load(open(sys.argv[1]))).validate(json.load(open(sys.argv[2])))' \
	docs/export.schema.json "$TMP/incident.json"
expect_eq "the JSON export of an incident run validates against docs/export.schema.json" "$RC" 0
expect_match "… its timeline has each action" "$(python3 -c 'import json, sys
print(" ".join(e["what"] for e in json.load(open(sys.argv[1]))["timeline"] if e["ev"] == "incident"))' "$TMP/incident.json")" \
	'^declared severity role role role note decision todo status update resolved$'
# The incident's own documents.
RBC_RUNS_DIR="$TMP/runs" "$RBC" export "$run_id" --format incident-json -o "$TMP/inc.json" >/dev/null 2>&1
run python3 -c 'import json, sys, jsonschema
jsonschema.Draft202012Validator(json.load(open(sys.argv[1]))).validate(json.load(open(sys.argv[2])))' \
	docs/incident.schema.json "$TMP/inc.json"
expect_eq "incident-json validates against docs/incident.schema.json" "$RC" 0
ij() { python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(eval(sys.argv[2], {"d": d}))' "$TMP/inc.json" "$1" 2>&1; }
expect_eq "… the level now, and each level with its time" "$(ij 'd["severity"]["id"], [(l["severity"], l["ms"]) for l in d["levels"]]')" \
	"('L3', [('L2', 0), ('L3', 0)])"
expect_eq "… the change of level with its reason" "$(ij '[(c["from"], c["to"], c["text"], c["by"]) for c in d["severity_changes"]]')" \
	"[('L2', 'L3', 'payments fail in every region', 'alice')]"
expect_eq "… the status lifecycle" "$(ij '[(c["from"], c["to"]) for c in d["status_changes"]]')" \
	"[('investigating', 'fixing'), ('fixing', 'resolved')]"
expect_eq "… the milestones" "$(ij 'd["milestones"]')" \
	"{'impact_started': '2026-12-04T01:30:00.000Z', 'declared': '2026-12-04T02:00:00.000Z', 'mitigated': '2026-12-04T02:00:00.000Z', 'resolved': '2026-12-04T02:00:00.000Z'}"
expect_eq "… with their durations and the restore target met" "$(ij 'd["durations_ms"]["impact_to_declared"], d["durations_ms"]["impact_to_resolved"], d["restore_target_ms"], d["restore_target_met"]')" \
	"(1800000, 1800000, 14400000, True)"
expect_eq "… roles and handovers" "$(ij '[r["holder"] for r in d["roles"]][:2], [(h["role"], h["from"], h["to"]) for h in d["handovers"]]')" \
	"(['dave', 'alice'], [('incident-commander', None, 'carol'), ('devops', None, 'alice'), ('incident-commander', 'carol', 'dave')])"
expect_eq "… todos and the exit criteria" "$(ij '[(t["text"], t["done"]) for t in d["todos"]], [c["met"] for c in d["exit_criteria"]]')" \
	"([('check the payment queue', False)], [True, True, True, False, True])"
md=$(RBC_RUNS_DIR="$TMP/runs" "$RBC" export "$run_id" --format incident-md 2>&1)
expect_match "incident-md: the title and the header" "$md" \
	$'^# Incident INC-20261204T020000Z: Checkout down\n\n\\*\\*Incident\\*\\*: INC-20261204T020000Z \\(run [^)]+\\)\n\\*\\*Severity\\*\\*: L3 Critical\n\\*\\*Status\\*\\*: resolved\n\\*\\*Impact started\\*\\*: 2026-12-04 01:30:00 UTC\n\\*\\*Declared\\*\\*: 2026-12-04 02:00:00 UTC \\(30m00s after the impact started\\)'
expect_match "… the restore target" "$md" $'\\*\\*Resolved\\*\\*: 2026-12-04 02:00:00 UTC \\(30m00s of impact\\)\n\\*\\*Restore target\\*\\*: 4h00m — met\n'
expect_match "… a row per level" "$(printf '%s\n' "$md" | sed -n '/^## Severity/,/^## Roles/p')" $'\\| L2 Major \\| 2026-12-04 02:00:00 UTC \\| 2026-12-04 02:00:00 UTC \\| 0s \\|\n\\| L3 Critical \\|'
expect_match "… the change with its reason" "$md" '- L2 → L3: payments fail in every region \(alice\)'
expect_match "… the roles, who holds them" "$(printf '%s\n' "$md" | sed -n '/^## Roles/,/^## Timeline/p')" '\| Incident commander \| dave \|'
expect_match "… and the unassigned ones" "$(printf '%s\n' "$md" | sed -n '/^## Roles/,/^## Timeline/p')" '\| QA engineer \| unassigned \|'
expect_match "… the timeline" "$(printf '%s\n' "$md" | sed -n '/^## Timeline/,/^## Decisions/p')" '\| 02:00:00 \| role \| alice \| incident-commander: carol → dave \|'
expect_match "… the decisions" "$(printf '%s\n' "$md" | sed -n '/^## Decisions/,/^## Todos/p')" '- roll back to 1.4.2 \(02:00:00 UTC, alice\)'
expect_match "… the todos" "$(printf '%s\n' "$md" | sed -n '/^## Todos/,/^## Notifications/p')" '- \[ \] check the payment queue'
expect_match "… the exit criteria, the unmet one with its reason" "$(printf '%s\n' "$md" | sed -n '/^## Exit criteria/,$p')" \
	'❌ The root cause is identified or contained, and the status page says resolved\. — not met: the status page is updated by the communications lead'
pm=$(RBC_RUNS_DIR="$TMP/runs" "$RBC" export "$run_id" --format postmortem 2>&1)
expect_match "postmortem: its title and the same header" "$pm" $'^# Postmortem: Checkout down\n\n\\*\\*Incident\\*\\*: INC-20261204T020000Z'
for sec in "Summary" "Impact" "Triggers and detection" "Root cause" "Resolution and recovery" "Timeline" \
	"What went well" "What went wrong" "Where we were lucky" "Action items" "Lessons learned"; do
	expect_match "… section $sec" "$pm" $'\n## '"$sec"$'\n'
done
expect_match "… the impact's duration filled in" "$pm" '- Duration: 30m00s \(from the impact start to the resolution\)'
expect_match "… the decisions as what was done" "$pm" '- Decision: roll back to 1.4.2'
expect_match "… the open todo as an action item" "$pm" '\| check the payment queue \| _owner_ \| _date_ \|'
expect_match "the deployment log's timeline names the actions" \
	"$(RBC_RUNS_DIR="$TMP/runs" "$RBC" export "$run_id" --format md 2>&1)" \
	'\| incident severity \|  \| payments fail in every region \(by alice\) \|'

# --- the restore-target clock: 0 %, 50 %, 75 %, past 100 % (L1: 15 minutes) --------
clock() { # NAME IMPACT-START WANT-REGEX
	rm -rf "$TMP/runs"
	tui_start 120 30 --operator alice --severity L1 --title "Bad release" --impact-start "$2" "$INC"
	if wait_re 'L1 Minor · investigating' 20; then
		expect_match "$1" "$(header)" "$3"
	else
		fail "$1" "$SCREEN"
	fi
	keys q
	tui_exit
}
clock "restore target at 0 %: the bar empty, all of it left" "$NOW" \
	'restore ░░░░░░░░░░ 0% 15m00s left · update in 30m00s$'
clock "… at 50 %" "2026-12-04T01:52:30Z" 'restore █████░░░░░ 50% 7m30s left'
clock "… at 75 %" "11m15s" 'restore ███████░░░ 75% 3m45s left'
clock "… past it: BREACHED, and by how much" "01:44" 'restore ██████████ BREACHED 1m00s ago'
# The colours change at 50 %, 75 % and the breach (the escapes of the clock's part).
colour_of() { # IMPACT-START: COLOUR gets the escape sequence just before the bar
	rm -rf "$TMP/runs"
	tui_start 120 30 --operator alice --severity L1 --title "Bad release" --impact-start "$1" "$INC"
	wait_re 'L1 Minor · investigating' 20 >/dev/null
	local line
	line=$(screen -e | sed -n 2p)
	line=${line#*restore }
	COLOUR=$(printf '%s' "${line%%[█░]*}" | tr -d '\033')
	keys q
	tui_exit
}
colour_of "$NOW"; c0=$COLOUR
colour_of "7m30s"; c50=$COLOUR
colour_of "11m15s"; c75=$COLOUR
colour_of "16m"; c100=$COLOUR
expect_eq "below 50 % the bar keeps the header's colour" "$c0" ""
expect_match "… at 50 % it has one of its own ($c50)" "$c50" '^(\[[0-9;]+m)+$'
expect_eq "… another at 75 % ($c75)" "$([ "$c75" != "$c50" ] && [ "$c75" != "$c0" ] && echo differs)" differs
expect_eq "… another at the breach ($c100)" "$([ "$c100" != "$c75" ] && [ "$c100" != "$c50" ] && echo differs)" differs

# --- refused at the command line --------------------------------------------------------
tui_start 120 30 --severity L1 --title x --impact-start 02:10 "$INC"
tui_exit 20
expect_eq "an impact start in the future is refused before the console opens (64)" "$TUI_RC" 64
expect_match "… saying why" "$SCREEN" 'the impact cannot start in the future \(2026-12-04T02:10:00.000Z is after now'
# Just after midnight, a clock time of last evening is yesterday's.
TUI_ENV="RBC_TEST_NOW=2026-12-04T00:10:00Z" tui_start 120 30 --severity L1 --title x --impact-start 23:50 "$INC"
wait_for "L1 Minor · investigating" >/dev/null
expect_match "an impact start of 23:50 given at 00:10 is twenty minutes ago" "$(header)" 'impact 20m00s'
keys q
tui_exit 20
rm -rf "$TMP/runs"
tui_start 120 30 --severity L7 --title x "$INC"
tui_exit 20
expect_eq "an unknown level is refused (64)" "$TUI_RC" 64
expect_match "… naming the levels" "$SCREEN" 'no severity "L7" \(the levels: L1 Minor, L2 Major, L3 Critical, L4 Catastrophic\)'

# --- killed and resumed: the incident as its journal left it -----------------------------
rm -rf "$TMP/runs"
tui_start 120 40 --operator alice --severity "Major" --title "Search slow" --impact-start 10m "$INC"
wait_for "L2 Major · investigating" >/dev/null
keys S; answer "L3"; answer "search is down"
keys o; answer "incident-commander=carol"
keys n; answer "restarted the search nodes"
wait_for "note — restarted the search nodes" >/dev/null
pid=$(pgrep -P "$(tmx list-panes -t t -F '#{pane_pid}' | head -1)" | head -1)
kill -KILL "$pid"
tui_exit 20
run_id=$(ls "$TMP/runs" | head -1)
tmx kill-server >/dev/null 2>&1
tui_start 120 40 resume "$run_id"
if wait_for "L3 Critical · investigating" 20; then
	ok "after a SIGKILL, rbc resume shows the incident at its level and status"
else
	fail "after a SIGKILL, rbc resume shows the incident at its level and status" "$SCREEN"
fi
expect_match "… its roles" "$(roles)" 'Search slow · Incident commander carol'
expect_match "… and its timeline" "$SCREEN" 'note — restarted the search nodes \(alice\)'
expect_match "… the clocks from the first declaration" "$(header)" 'impact 10m00s · declared 0s'
keys q
tui_exit

# --- a watch fires the rollback: the timeline says what, verbatim, and that it was automatic -----
rm -rf "$TMP/runs"
tui_start 220 40 --operator alice --severity SEV1 --title "Health failing" "$ROOT/tests/fixtures/console/incident-watch.json"
wait_for "SEV1 Outage · investigating" >/dev/null
keys a
expect_screen "a watch that fires in an incident is a timeline entry, automatic, with the metric, value, threshold and count" \
	"trigger (automatic) — incident-watch/watch-health → incident-watch/rollback: exit = 1 != 0; violated 2 samples in a row"
expect_match "… journaled as an automatic trigger" "$(journal | grep '"what":"trigger"')" \
	'"what":"trigger","text":"incident-watch/watch-health → incident-watch/rollback: exit = 1 != 0; violated 2 samples in a row \(fail_after 2\)","by":"rbc","automatic":true'
keys q
tui_exit
# …and a rollback started by hand says who started it.
rm -rf "$TMP/runs"
tui_start 220 40 --operator alice --severity SEV2 --title "Slow pages" "$ROOT/tests/fixtures/console/incident-watch.json"
wait_for "SEV2 Degraded · investigating" >/dev/null
expect_screen "the declared level's procedure is selected" "┐┌ SEV2 Degraded procedure ─"
keys Enter
expect_screen "… Enter runs it" "✔ SEV2.1 Degraded feature switched off"
expect_match "… journaled under its own id" "$(journal | grep '"ev":"step_finished"' | grep -o '"step":"incident-watch/sev2-contain"[^}]*"verdict":"PASS"' | head -1)" 'PASS'
for _ in 1 2 3 4 5 6; do
	screen | grep -q '┐┌ [0-9]* Roll back ─' && break
	keys k
	sleep 0.1
done
keys Enter
expect_screen "an on-demand procedure started by hand is a trigger entry with its actor" \
	"trigger (by hand) — incident-watch/rollback Roll back started by hand (alice)"
keys q
wait_for "Quit and stop them" 5 >/dev/null && keys y
tui_exit

# --- notifications: Slack and PagerDuty, to a local receiver ----------------------------------
# The receiver answers Slack's first request 503 (then 200) and PagerDuty 202,
# and keeps every body it was sent.
mkdir -p "$TMP/recv"
cat >"$TMP/recv.py" <<'EOF'
import http.server, json, os, sys
out = sys.argv[1]
seen = {"n": 0, "slack": 0}
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        seen["n"] += 1
        with open(os.path.join(out, "%02d%s.json" % (seen["n"], self.path.replace("/", "_"))), "wb") as f:
            f.write(body)
        if self.path.startswith("/hooks/slack"):
            seen["slack"] += 1
            code = 503 if seen["slack"] == 1 else 200
        else:
            code = 202
        self.send_response(code)
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
for _ in $(seq 100); do [ -s "$TMP/recv/port" ] && break; sleep 0.05; done
port=$(cat "$TMP/recv/port")
rm -rf "$TMP/runs"
TUI_ENV="RBC_TEST_NOW=$NOW SLACK_WEBHOOK_URL=http://127.0.0.1:$port/hooks/slack/T0/B0/s3cr3t-hook PAGERDUTY_KEY=pd-routing-key-0042" \
	tui_start 220 40 --operator alice --var "PAGERDUTY_EVENTS_URL=http://127.0.0.1:$port/v2/enqueue" \
	--severity L2 --title "Checkout <down> & out" "$INC"
if wait_for "notification slack declare delivered" 20; then
	ok "the declaration is sent; Slack's 503 is retried and delivered, in the timeline"
else
	fail "the declaration is sent; Slack's 503 is retried and delivered, in the timeline" "$SCREEN"
fi
expect_match "… the retry is in the timeline too, with why" "$SCREEN" 'notification slack declare retrying — .*HTTP 503'
expect_match "… and PagerDuty's delivery" "$SCREEN" 'notification pagerduty declare delivered'
keys S; answer "L3"; answer "payments down too"
wait_for "notification pagerduty severity delivered" 20 >/dev/null
keys R; answer "fixed"; for _ in 1 2 3 4 5; do answer y; done
wait_for "notification pagerduty resolve delivered" 20 >/dev/null
keys q
tui_exit
kill "$recv_pid" 2>/dev/null
wait "$recv_pid" 2>/dev/null
slack=$(ls "$TMP/recv" | grep slack | head -1) pd=$(ls "$TMP/recv" | grep enqueue | head -1)
field() { python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    d = d[int(k)] if isinstance(d, list) else d[k]
print(d)' "$TMP/recv/$1" "$2" 2>&1; }
expect_eq "Slack: the text names the level, the action and the title, & < > escaped" "$(field "$slack" text)" \
	"[L2 Major] declared: Checkout &lt;down&gt; &amp; out"
expect_match "… with blocks" "$(field "$slack" blocks.0.type)" '^section$'
expect_eq "PagerDuty: the routing key" "$(field "$pd" routing_key)" "pd-routing-key-0042"
expect_eq "… trigger on declare" "$(field "$pd" event_action)" "trigger"
expect_eq "… a dedup key stable for the incident" "$(field "$pd" dedup_key)" "rbc-INC-20261204T020000Z"
expect_eq "… the payload's summary" "$(field "$pd" payload.summary)" "[L2 Major] declared: Checkout <down> & out"
expect_eq "… its source, severity and timestamp" "$(field "$pd" payload.source) $(field "$pd" payload.severity) $(field "$pd" payload.timestamp)" \
	"rbc error 2026-12-04T02:00:00.000Z"
expect_eq "… custom details: the level" "$(field "$pd" payload.custom_details.severity)" "L2"
last_pd=$(ls "$TMP/recv" | grep enqueue | tail -1)
expect_eq "the resolution resolves the PagerDuty alert with the same dedup key" \
	"$(field "$last_pd" event_action) $(field "$last_pd" dedup_key)" "resolve rbc-INC-20261204T020000Z"
expect_match "Slack and PagerDuty were told of the declaration, the change of level and the resolution" \
	"$(ls "$TMP/recv" | grep -c enqueue)" '^3$'
expect_eq "the webhook's secret path and the routing key are in no journal line" \
	"$(journal | grep -c -e 's3cr3t-hook' -e 'pd-routing-key-0042')" 0
expect_match "… the deliveries are journaled" "$(journal | grep -c '"what":"notification"')" '^[4-9]$'
nrun=$(ls "$TMP/runs" | head -1)
docs_all=$(for f in incident-md incident-json postmortem md json; do RBC_RUNS_DIR="$TMP/runs" "$RBC" export "$nrun" --format "$f"; done 2>&1)
expect_match "… its exports list the deliveries" "$docs_all" 'slack declare delivered'
expect_eq "… and hold no secret" "$(printf '%s\n' "$docs_all" | grep -c -e 's3cr3t-hook' -e 'pd-routing-key-0042')" 0

# --- a receiver that never answers: the console keeps answering keys ----------------------
# Key-to-screen latency (a note typed, until the timeline shows it), with the
# declaration's notifications hanging on a receiver that accepts and never
# answers, against the same without notifications, in the same run.
cat >"$TMP/hang.py" <<'EOF'
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
held = []
while True:
    c, _ = s.accept(); held.append(c)   # read nothing, answer nothing
EOF
rm -f "$TMP/hang.port"
python3 "$TMP/hang.py" "$TMP/hang.port" &
hang_pid=$!
for _ in $(seq 100); do [ -s "$TMP/hang.port" ] && break; sleep 0.05; done
latency() { # the median of 5 note round trips, in ms
	local i t0 t1 all=""
	for i in 1 2 3 4 5; do
		t0=$(date +%s%N)
		keys n; type_text "probe $1 $i"; keys Enter
		wait_for "note — probe $1 $i" 10 >/dev/null || { echo 999999; return; }
		t1=$(date +%s%N)
		all="$all $(( (t1 - t0) / 1000000 ))"
	done
	printf '%s\n' $all | sort -n | sed -n 3p
}
rm -rf "$TMP/runs"
tui_start 220 40 --operator alice --severity L2 --title "Baseline" "$INC"
wait_for "L2 Major · investigating" >/dev/null
base=$(latency base)
keys q; tui_exit
rm -rf "$TMP/runs"
TUI_ENV="RBC_TEST_NOW=$NOW SLACK_WEBHOOK_URL=http://127.0.0.1:$(cat "$TMP/hang.port")/hooks/slack" \
	tui_start 220 40 --operator alice --severity L2 --title "Hanging" "$INC"
wait_for "L2 Major · investigating" >/dev/null
hung=$(latency hung)
pending=$(journal | grep -c '"what":"notification"')
keys q
t0=$SECONDS
tui_exit 30
quit_s=$((SECONDS - t0))
kill "$hang_pid" 2>/dev/null
wait "$hang_pid" 2>/dev/null
echo "# key-to-screen: median ${base} ms without notifications, ${hung} ms with the receiver hanging"
expect_eq "… the delivery was still hanging while the keys were measured (nothing delivered yet)" "$pending" 0
# (one poll of the screen, 20 ms, is the measure's own resolution)
expect_eq "… the console answered as fast with a hanging receiver (≤ 3× the baseline: ${hung} vs ${base} ms)" \
	"$(awk -v a="$hung" -v b="$base" 'BEGIN { print (a <= 3 * b + 20) ? "yes" : "no" }')" yes
expect_match "… and quitting gives up on it within its 5 s (took ${quit_s} s)" "$quit_s" '^[0-7]$'

# --- a runbook that is no incident ---------------------------------------------------------
tui_start 100 30 --operator alice "$ROOT/docs/examples/minimal.json"
wait_idle >/dev/null
keys S
expect_screen "the incident keys say they act on incidents only" "not an incident runbook"
absent_inc=$(header)
expect_match "… and no incident line is drawn" "$absent_inc" '^┌ Steps'
keys q
tui_exit
run env RBC_RUNS_DIR="$TMP/runs" "$RBC" export "$(ls -t "$TMP/runs" | head -1)" --format incident-md
expect_eq "the incident exports refuse a run that is no incident (65)" "$RC" 65
expect_match "… saying what it is" "$ERR" 'is not an incident \(its first runbook is post-deploy\)'
t_done
