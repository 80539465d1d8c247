#!/usr/bin/env bash
# make demo and the shipped runbooks against the sandbox (tests/sandbox/):
# - make demo's script shows the console, quitting it (q, or the terminal
#   going away) leaves no process and no port;
# - the whole release (pre-deploy, deploy, post-deploy) walked in the console
#   in tmux ends in a passing deployment log, green live with the new version;
# - one walk per fault of the new release (5xx, slow, dead-health) ends in the
#   automatic rollback, blue live again, and a log that says why, verbatim;
# - a failing migration: the pre-deploy rehearsal on a copy stops it, and the
#   deploy runbook alone stops at the production migration, database unchanged;
# - the same runbooks, English and Japanese, and the rollback runbook pass
#   rbc run --batch against the sandbox.
# The walks run side by side, each with a sandbox of its own (the windows are
# the sandbox's scaled-down ones: seconds, not minutes).
. tests/lib.sh
. tests/tui.sh
SB=$ROOT/tests/sandbox
WALK_TIMEOUT=180
sanitized && WALK_TIMEOUT=400
# One directory per sandbox, outside $TMP (PostgreSQL's user must reach it).
declare -A SBD
for n in demo release 5xx slow dead-health batch migration incident incident-watch; do
	SBD[$n]=$(mktemp -d "${TMPDIR:-/tmp}/rbc-demo-test.XXXXXX")
done
cleanup() {
	[ -n "${RBC_TEST_KEEP:-}" ] && cp -r "$TMP" "$RBC_TEST_KEEP" # to read what a failed run left
	for d in "${SBD[@]}"; do "$SB/stop" "$d" >/dev/null 2>&1; rm -rf "$d"; done
	for s in "$TMP"/*.sock; do [ -S "$s" ] && tmux -S "$s" kill-server >/dev/null 2>&1; done
	rm -rf "$TMP"
}
trap cleanup EXIT

field() { sed -n "s/^$1=//p" "$2"; }
live_of() { curl -sS --max-time 10 "$(field BASE_URL "$1/sandbox.vars")/api/environment"; }
# open_ports DIR: the sandbox's ports still accepting connections.
open_ports() {
	local p open=""
	for p in $1; do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && open="$open $p"; done
	echo "${open# }"
}
ports_of() { grep -oE '(127\.0\.0\.1:|TLS_PORT=)[0-9]+' "$1/sandbox.vars" | grep -oE '[0-9]+$' | sort -u | tr '\n' ' '; }

# --- make demo: the console within a minute, nothing left after it -------------------
# The demo's temporary directories go in one of this test's own, so the one
# found is this demo's whatever else runs beside it (searchable by
# PostgreSQL's user, as the sandboxes' are).
DEMO_TMP=${SBD[demo]}
chmod 711 "$DEMO_TMP"
demo_session() { # NAME: tests/sandbox/demo (what make demo runs) in tmux
	TUI_N=$((TUI_N + 1))
	TUI_SOCK="$TMP/$1.sock"
	tmx new-session -d -x 120 -y 40 -s t "env TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 TMPDIR='$DEMO_TMP' RBC='$RBC' RBC_RUNS_DIR='$TMP/runs-demo' '$SB/demo'; echo \"[exit \$?]\"; sleep 600"
	tmx set-option -t t status off >/dev/null
}
t0=$(date +%s.%N)
touch "$TMP/before-demo1"
demo_session demo1
if wait_for "Pre-deployment checks" 90; then
	secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	ok "make demo's script opens the console on the release runbooks (${secs} s from start)"
else
	fail "make demo's script opens the console" "$SCREEN"
fi
demo_dir=$(find "$DEMO_TMP" -maxdepth 1 -name 'rbc-demo.*' -newer "$TMP/before-demo1" -type d 2>/dev/null | head -1)
dports=""
[ -n "$demo_dir" ] && [ -f "$demo_dir/sandbox.vars" ] && dports=$(ports_of "$demo_dir")
expect_match "… with the sandbox up behind it (ports $dports)" "$dports" '^([0-9]+ ){6,}$'
keys q
if tui_exit 60; then
	expect_eq "q quits the console and the demo (status 0)" "$TUI_RC" 0
	expect_match "… saying the run did not finish and the sandbox stopped" "$SCREEN" $'demo: the run did not finish\ndemo: sandbox stopped, nothing left running'
else
	fail "q quits the console and the demo" "$SCREEN"
fi
expect_eq "… no process of the sandbox is left" "$(pgrep -af -- "${demo_dir:-/nonexistent}" | grep -v -e pgrep || true)" ""
expect_eq "… no port of it is open" "$(open_ports "$dports")" ""
expect_eq "… and its temporary directory is gone" "$([ -n "$demo_dir" ] && [ -e "$demo_dir" ] && echo left)" ""
tmx kill-server >/dev/null 2>&1

touch "$TMP/before-demo2"
demo_session demo2
wait_for "Pre-deployment checks" 90 || fail "the demo starts again" "$SCREEN"
demo_dir=$(find "$DEMO_TMP" -maxdepth 1 -name 'rbc-demo.*' -newer "$TMP/before-demo2" -type d 2>/dev/null | head -1)
dports=$(ports_of "$demo_dir" 2>/dev/null)
tmx kill-server >/dev/null 2>&1 # the terminal goes away
gone=""
for _ in $(seq 300); do
	[ -z "$(pgrep -f -- "$demo_dir" | grep -v $$ || true)" ] && [ ! -e "$demo_dir" ] && { gone=yes; break; }
	sleep 0.1
done
expect_eq "the terminal going away stops the sandbox too" "$gone" yes
expect_eq "… no port of it is open" "$(open_ports "$dports")" ""

# --- walks in the console, side by side --------------------------------------------------
# walk NAME FAULT RUNBOOK...: a sandbox with FAULT, the console on the
# runbooks, every manual step answered done and every confirmation yes until
# the run finishes; then e (the deployment log) and q. Leaves NAME.rc (the
# console's exit status), NAME.md, NAME.live (the environment production
# answers from at the end) and NAME.screen.
walk() {
	local name=$1 fault=$2 d=${SBD[$1]} sock=$TMP/walk-$1.sock
	shift 2
	if ! "$SB/start" "$d" "$fault" >"$TMP/$name.start" 2>&1; then
		echo "the sandbox did not start: $(tail -5 "$TMP/$name.start")" >"$TMP/$name.err"
		return
	fi
	local cmd="env TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 RBC_RUNS_DIR='$TMP/runs-$name' '$RBC' --operator tester --vars '$d/sandbox.vars'" b
	for b in "$@"; do cmd="$cmd '$b'"; done
	tmux -S "$sock" -f /dev/null new-session -d -x 120 -y 40 -s t "$cmd; echo \"[exit \$?]\"; sleep 600"
	local deadline=$((SECONDS + WALK_TIMEOUT)) scr
	while [ $SECONDS -lt $deadline ]; do
		scr=$(tmux -S "$sock" capture-pane -p -t t 2>/dev/null)
		case $scr in
		*"■ finished"*) break ;;
		*"[y/N]"*) tmux -S "$sock" send-keys -t t y ;;
		*"◆ your turn"*) tmux -S "$sock" send-keys -t t Space ;;
		*"ready ·"* | *"‖ paused"*) tmux -S "$sock" send-keys -t t a; sleep 0.3 ;;
		esac
		sleep 0.1
	done
	printf '%s\n' "$scr" >"$TMP/$name.screen"
	case $scr in *"■ finished"*) ;; *) echo "the run did not finish in ${WALK_TIMEOUT}s" >"$TMP/$name.err" ;; esac
	tmux -S "$sock" send-keys -t t e
	local log=""
	for _ in $(seq 200); do
		log=$(ls "$TMP/runs-$name"/*/deployment-log.md 2>/dev/null | head -1)
		[ -n "$log" ] && break
		sleep 0.05
	done
	[ -n "$log" ] && cp "$log" "$TMP/$name.md"
	live_of "$d" >"$TMP/$name.live" 2>&1
	tmux -S "$sock" send-keys -t t q
	for _ in $(seq 100); do
		scr=$(tmux -S "$sock" capture-pane -p -t t 2>/dev/null)
		[[ $scr =~ \[exit\ ([0-9]+)\] ]] && { echo "${BASH_REMATCH[1]}" >"$TMP/$name.rc"; break; }
		sleep 0.1
	done
	tmux -S "$sock" kill-server >/dev/null 2>&1
	"$SB/stop" "$d" >/dev/null 2>&1
}

# batch NAME FAULT: the runbooks with rbc run --batch, every result kept.
batch_runs() {
	local d=${SBD[batch]}
	"$SB/start" "$d" none >"$TMP/batch.start" 2>&1 || { echo "the sandbox did not start: $(tail -5 "$TMP/batch.start")" >"$TMP/batch.err"; return; }
	local v=(--batch --assume done --yes --operator tester --vars "$d/sandbox.vars")
	RBC_RUNS_DIR=$TMP/runs-batch "$RBC" run "${v[@]}" runbooks/pre-deploy.json runbooks/deploy.json runbooks/post-deploy.json >"$TMP/batch-en.out" 2>&1
	echo $? >"$TMP/batch-en.rc"
	live_of "$d" >"$TMP/batch-en.live"
	RBC_RUNS_DIR=$TMP/runs-batch "$RBC" run "${v[@]}" runbooks/rollback.json >"$TMP/batch-rb.out" 2>&1
	echo $? >"$TMP/batch-rb.rc"
	live_of "$d" >"$TMP/batch-rb.live"
	RBC_RUNS_DIR=$TMP/runs-batch "$RBC" run "${v[@]}" --var VERSION=1.5.1 runbooks/ja/pre-deploy.json runbooks/ja/deploy.json runbooks/ja/post-deploy.json >"$TMP/batch-ja.out" 2>&1
	echo $? >"$TMP/batch-ja.rc"
	live_of "$d" >"$TMP/batch-ja.live"
	"$SB/stop" "$d" >/dev/null 2>&1
}

# migration: the rehearsal stops it; the deploy runbook alone stops at it.
migration_runs() {
	local d=${SBD[migration]}
	"$SB/start" "$d" migration >"$TMP/migration.start" 2>&1 || { echo "the sandbox did not start: $(tail -5 "$TMP/migration.start")" >"$TMP/migration.err"; return; }
	local v=(--batch --assume done --yes --operator tester --vars "$d/sandbox.vars")
	RBC_RUNS_DIR=$TMP/runs-mig-pre "$RBC" run "${v[@]}" runbooks/pre-deploy.json >"$TMP/mig-pre.out" 2>&1
	echo $? >"$TMP/mig-pre.rc"
	RBC_RUNS_DIR=$TMP/runs-mig-pre "$RBC" export "$(ls "$TMP/runs-mig-pre" | head -1)" --format md -o "$TMP/mig-pre.md" >/dev/null 2>&1
	RBC_RUNS_DIR=$TMP/runs-mig-deploy "$RBC" run "${v[@]}" runbooks/deploy.json >"$TMP/mig-deploy.out" 2>&1
	echo $? >"$TMP/mig-deploy.rc"
	RBC_RUNS_DIR=$TMP/runs-mig-deploy "$RBC" export "$(ls "$TMP/runs-mig-deploy" | head -1)" --format md -o "$TMP/mig-deploy.md" >/dev/null 2>&1
	live_of "$d" >"$TMP/mig.live"
	psql -X -At "$(field DATABASE_URL "$d/sandbox.vars")" -c "SELECT string_agg(version, ',' ORDER BY version) FROM schema_migrations" >"$TMP/mig.versions" 2>&1
	"$SB/stop" "$d" >/dev/null 2>&1
}

# incident: a release deployed (batch), then the incident runbook's emergency
# rollback started by hand in the console, as its L1 procedure says.
incident_run() {
	local d=${SBD[incident]} sock=$TMP/walk-incident.sock scr
	"$SB/start" "$d" none >"$TMP/incident.start" 2>&1 || { echo "the sandbox did not start: $(tail -5 "$TMP/incident.start")" >"$TMP/incident.err"; return; }
	RBC_RUNS_DIR=$TMP/runs-incident-deploy "$RBC" run --batch --assume done --yes --operator tester --vars "$d/sandbox.vars" \
		runbooks/deploy.json >"$TMP/incident-deploy.out" 2>&1
	live_of "$d" >"$TMP/incident-before.live"
	tmux -S "$sock" -f /dev/null new-session -d -x 120 -y 40 -s t \
		"env TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 RBC_RUNS_DIR='$TMP/runs-incident' '$RBC' --operator tester --vars '$d/sandbox.vars' --severity L1 --title 'Release 1.5.0 misbehaves' '$ROOT/runbooks/incident.json'; echo \"[exit \$?]\"; sleep 600"
	local found="" deadline=$((SECONDS + WALK_TIMEOUT))
	# the declared level's procedure is selected first: from the top, down
	for _ in $(seq 50); do
		tmux -S "$sock" capture-pane -p -t t 2>/dev/null | grep -q 'L1 Minor procedure' && break
		sleep 0.1
	done
	tmux -S "$sock" send-keys -t t g
	for _ in $(seq 300); do
		scr=$(tmux -S "$sock" capture-pane -p -t t 2>/dev/null)
		[[ $(printf '%s\n' "$scr" | grep -m1 '^┌ Steps') == *"┐┌ "*" Emergency rollback ─"* ]] && { found=yes; break; }
		tmux -S "$sock" send-keys -t t j
		sleep 0.05
	done
	if [ -z "$found" ]; then
		echo "the Emergency rollback group was not found in the console" >"$TMP/incident.err"
	else
		tmux -S "$sock" send-keys -t t Enter
		while [ $SECONDS -lt $deadline ]; do
			scr=$(tmux -S "$sock" capture-pane -p -t t 2>/dev/null)
			case $scr in
			*"[y/N]"*) printf '%s\n' "$scr" >"$TMP/incident.confirm"; tmux -S "$sock" send-keys -t t y ;;
			esac
			grep -q '"ev":"step_finished".*"step":"incident/er-notify"\|"step":"incident/er-notify".*"ev":"step_finished"' \
				"$TMP"/runs-incident/*/journal.jsonl 2>/dev/null && break
			sleep 0.1
		done
		sleep 0.3
		tmux -S "$sock" capture-pane -p -t t >"$TMP/incident.screen" 2>/dev/null
	fi
	live_of "$d" >"$TMP/incident.live"
	tmux -S "$sock" send-keys -t t q
	sleep 0.5
	tmux -S "$sock" send-keys -t t y
	tmux -S "$sock" kill-server >/dev/null 2>&1
	"$SB/stop" "$d" >/dev/null 2>&1
}

# incident-watch: a release that answers 5xx is live (put there by the sandbox's
# own scripts); the incident is declared L1 and its procedure run: its watch
# sees the error rate stay high and starts the emergency rollback by itself.
incident_watch_run() {
	local d=${SBD[incident-watch]} sock=$TMP/walk-incident-watch.sock scr
	"$SB/start" "$d" 5xx >"$TMP/incident-watch.start" 2>&1 || { echo "the sandbox did not start: $(tail -5 "$TMP/incident-watch.start")" >"$TMP/incident-watch.err"; return; }
	SANDBOX_DIR=$d "$SB/deploy" green 1.5.0 >/dev/null 2>&1 && SANDBOX_DIR=$d "$SB/switch" green >/dev/null 2>&1
	live_of "$d" >"$TMP/incident-watch-before.live"
	tmux -S "$sock" -f /dev/null new-session -d -x 160 -y 45 -s t \
		"env TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 RBC_RUNS_DIR='$TMP/runs-incident-watch' '$RBC' --operator tester --vars '$d/sandbox.vars' --severity L1 --title 'Checkout answers 500' '$ROOT/runbooks/incident.json'; echo \"[exit \$?]\"; sleep 600"
	local deadline=$((SECONDS + WALK_TIMEOUT)) started=""
	while [ $SECONDS -lt $deadline ]; do
		scr=$(tmux -S "$sock" capture-pane -p -t t 2>/dev/null)
		case $scr in
		*"[y/N]"*) printf '%s\n' "$scr" >"$TMP/incident-watch.confirm"; tmux -S "$sock" send-keys -t t y ;;
		*"┐┌ L1 Minor procedure ─"*) [ -z "$started" ] && { tmux -S "$sock" send-keys -t t Enter; started=yes; } ;;
		esac
		grep -q '"ev":"step_finished".*"step":"incident/er-notify"' "$TMP"/runs-incident-watch/*/journal.jsonl 2>/dev/null && break
		sleep 0.2
	done
	sleep 0.3
	tmux -S "$sock" capture-pane -p -t t >"$TMP/incident-watch.screen" 2>/dev/null
	live_of "$d" >"$TMP/incident-watch.live"
	tmux -S "$sock" send-keys -t t q
	sleep 0.5
	tmux -S "$sock" send-keys -t t y
	tmux -S "$sock" kill-server >/dev/null 2>&1
	"$SB/stop" "$d" >/dev/null 2>&1
}

REL=("$ROOT/runbooks/pre-deploy.json" "$ROOT/runbooks/deploy.json" "$ROOT/runbooks/post-deploy.json")
walk release none "${REL[@]}" &
walk 5xx 5xx "$ROOT/runbooks/deploy.json" "$ROOT/runbooks/post-deploy.json" &
walk slow slow "$ROOT/runbooks/deploy.json" "$ROOT/runbooks/post-deploy.json" &
walk dead-health dead-health "$ROOT/runbooks/deploy.json" "$ROOT/runbooks/post-deploy.json" &
batch_runs &
migration_runs &
incident_run &
incident_watch_run &
wait

# --- what they left ------------------------------------------------------------------------
for n in demo release 5xx slow dead-health batch migration incident incident-watch; do
	[ -s "$TMP/$n.err" ] && fail "$n: ran to its end" "$(cat "$TMP/$n.err")" "$(cat "$TMP/$n.screen" 2>/dev/null)"
done
md() { cat "$TMP/$1.md" 2>/dev/null; }

# the whole release, walked in the console
expect_eq "release walk: the console ends with status 0 (PASS)" "$(cat "$TMP/release.rc" 2>/dev/null)" 0
expect_match "… its deployment log says PASS" "$(md release)" $'\n\\*\\*Result\\*\\*: ✅ PASS\n'
expect_match "… with the version deployed and where it runs" "$(md release)" $'\\*\\*Version\\*\\*: 1\\.5\\.0\n\\*\\*Deployed By\\*\\*: tester\n\\*\\*Environment\\*\\*: green\n'
expect_match "… every phase passed" "$(md release | sed -n '/^## Deployment Summary/,/^## /p' | grep -c -E '^- (Pre-deployment checks|Production deployment \(blue-green\)|Post-deployment verification and handover): ✅ [0-9]+ passed')" '^3$'
expect_match "… no rollback" "$(md release)" $'## Rollback\n\nNone: no on_fail jump and no watch fired\\.'
expect_match "… the backup verified and the migration timed on a copy" "$(md release)" '\| Migration on the copy: &lt; 30 s \| ✅ PASS \| exit = 0 == 0; time = [0-9.]+ (ms|s) &lt; 30 s \|'
expect_match "… the switch confirmed by the operator" "$(md release)" '\| Router sends traffic to green \| ✅ PASS \|'
expect_match "… the login's token used by the next step" "$(md release)" '\| Session is valid with the token \| ✅ PASS \| status = 200 == 200; json\.user\.email = "test@example\.com"'
expect_match "… the token itself never in the log" "$(md release | grep -cE 'ey[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.')" '^0$'
expect_eq "… and green serves the new version" "$(cat "$TMP/release.live")" '{"environment": "green", "version": "1.5.0"}'

# each fault: the rollback, and why
check_fault() { # NAME WHY-REGEX
	expect_eq "$1 walk: the console ends with status 2 (FAIL)" "$(cat "$TMP/$1.rc" 2>/dev/null)" 2
	local why
	why=$(md "$1" | sed -n '/^## Rollback/,/^## /p' | grep '^- ')
	expect_match "… the log says why it rolled back, verbatim: ${why#- }" "$why" "$2"
	expect_match "… the rollback runbook ran and passed" "$(md "$1")" $'\n- Emergency rollback: ✅ [0-9]+ passed'
	expect_match "… the router went back to blue" "$(md "$1")" '\| Router sends traffic to blue \| ✅ PASS \|'
	expect_eq "… and blue serves the previous version" "$(cat "$TMP/$1.live")" '{"environment": "blue", "version": "1.4.2"}'
}
check_fault 5xx '^- [0-9:]{8} UTC — (deploy|post-deploy)/watch-5xx → rollback: value = 0\.[0-9]+ &gt; 0\.05; violated for 1[5-9]s[0-9]*m?s?, [0-9]+ samples \(fail_after 15s\) \(automatic: a watch fired\)$'
check_fault slow '^- [0-9:]{8} UTC — (deploy|post-deploy)/watch-p99 → rollback: value = [0-9.]+ &gt; 10; violated for 1[5-9]s[0-9]*m?s?, [0-9]+ samples \(fail_after 15s\) \(automatic: a watch fired\)$'
check_fault dead-health '^- [0-9:]{8} UTC — (deploy|post-deploy)/watch-health → rollback: status = 503 != 200; violated 3 samples in a row \(fail_after 3\) \(automatic: a watch fired\)$'

# a failing migration
expect_eq "migration: the pre-deploy rehearsal fails (exit 2)" "$(cat "$TMP/mig-pre.rc" 2>/dev/null)" 2
expect_match "… on the copy, with psql's error in the log" "$(md mig-pre)" 'ERROR:  column "customer_ref" does not exist'
expect_match "… the copy's migration step failed" "$(md mig-pre)" '\| Migration on the copy: &lt; 30 s \| ❌ FAIL \| exit = 3 != 0 \|'
expect_eq "the deploy runbook alone stops at the production migration (exit 2)" "$(cat "$TMP/mig-deploy.rc" 2>/dev/null)" 2
expect_match "… and goes to its rollback procedure" "$(md mig-deploy)" '- [0-9:]{8} UTC — deploy/migrate-db → deploy/migrate-rollback-db: on_fail of migrate-db: exit = 3 != 0'
expect_match "… which finds blue still live" "$(md mig-deploy)" '\| Production still answers from blue \| ✅ PASS \|'
expect_eq "… nothing deployed" "$(cat "$TMP/mig.live")" '{"environment": "blue", "version": "1.4.2"}'
expect_eq "… the database unchanged (one transaction)" "$(cat "$TMP/mig.versions")" "001_init"

# the incident runbook's emergency rollback (L1), started by hand
expect_match "incident: declared L1 with --severity, its restore clock running" "$(sed -n 2p "$TMP/incident.confirm" 2>/dev/null)" '^ L1 Minor · investigating · impact .* restore [█░]+ [0-9]+% .* left'
expect_eq "… a release is live before it (green, 1.5.0)" "$(cat "$TMP/incident-before.live")" '{"environment": "green", "version": "1.5.0"}'
expect_match "… its emergency rollback asks before it switches the router back" "$(cat "$TMP/incident.confirm" 2>/dev/null)" 'Roll back: send production traffic from green back to blue \(1\.4\.2\)\? \[y/N\]'
expect_match "… and runs to its end, passed" "$(cat "$TMP/incident.screen" 2>/dev/null)" '✔ [0-9.]+ Emergency rollback'
expect_match "… the announcement included" "$(cat "$TMP/incident.screen" 2>/dev/null)" '✔ [0-9.]+ Rollback announced'
expect_eq "… blue serves the previous release again" "$(cat "$TMP/incident.live")" '{"environment": "blue", "version": "1.4.2"}'
j=$(ls "$TMP"/runs-incident/*/journal.jsonl 2>/dev/null | head -1)
expect_match "… Slack and PagerDuty (the sandbox's stand-ins) were told of the declaration" \
	"$(grep '"what":"notification"' "$j" 2>/dev/null | grep '"about":"declare"' | grep -o '"target":"[a-z]*"' | sort | tr '\n' ' ')" \
	'^"target":"pagerduty" "target":"slack" $'
expect_match "… and of the rollback, delivered" "$(grep '"what":"notification"' "$j" 2>/dev/null | grep '"about":"rollback"')" '"state":"delivered"'
expect_match "… the incident's timeline says who started the rollback" "$(grep '"what":"trigger"' "$j" 2>/dev/null)" \
	'"text":"incident/emergency-rollback Emergency rollback started by hand","by":"tester","automatic":false'

expect_match "… its journal has the router switch passed" "$(grep '"step":"incident/er-router"' "$j" 2>/dev/null | grep '"ev":"step_finished"')" '"verdict":"PASS"'

# the incident's own watch starts the rollback (L1)
expect_eq "incident watch: the faulty release is live first (green 1.5.0)" "$(cat "$TMP/incident-watch-before.live")" '{"environment": "green", "version": "1.5.0"}'
jw=$(ls "$TMP"/runs-incident-watch/*/journal.jsonl 2>/dev/null | head -1)
expect_match "… the L1 watch fires on the error rate, verbatim, and the timeline says it was automatic" \
	"$(grep '"what":"trigger"' "$jw" 2>/dev/null)" \
	'"text":"incident/l1-watch-5xx → incident/emergency-rollback: value = 0\.[0-9]+ > 0\.05; violated for 1[5-9]s[0-9]*m?s?, [0-9]+ samples \(fail_after 15s\)","by":"rbc","automatic":true'
expect_match "… the emergency rollback asks before it switches back" "$(cat "$TMP/incident-watch.confirm" 2>/dev/null)" \
	'Roll back: send production traffic from green back to blue \(1\.4\.2\)\? \[y/N\]'
expect_eq "… and blue serves the previous release again" "$(cat "$TMP/incident-watch.live")" '{"environment": "blue", "version": "1.4.2"}'

# batch, English and Japanese
expect_eq "batch: pre-deploy, deploy and post-deploy pass against the sandbox" "$(cat "$TMP/batch-en.rc" 2>/dev/null)" 0
expect_match "… (summary)" "$(tail -2 "$TMP/batch-en.out")" '^summary: PASS — [0-9]+ steps: [0-9]+ passed, [0-9]+ skipped — '
expect_eq "… green is live with 1.5.0" "$(cat "$TMP/batch-en.live")" '{"environment": "green", "version": "1.5.0"}'
expect_eq "batch: the rollback runbook passes on its own" "$(cat "$TMP/batch-rb.rc" 2>/dev/null)" 0
expect_eq "… blue is live again" "$(cat "$TMP/batch-rb.live")" '{"environment": "blue", "version": "1.4.2"}'
expect_eq "batch: the Japanese runbooks pass too (release 1.5.1)" "$(cat "$TMP/batch-ja.rc" 2>/dev/null)" 0
expect_eq "… green is live with 1.5.1" "$(cat "$TMP/batch-ja.live")" '{"environment": "green", "version": "1.5.1"}'
[ "$(cat "$TMP/batch-en.rc" 2>/dev/null)" = 0 ] || sed -n '/^FAIL\|^ERROR\|^UNKNOWN/p' "$TMP/batch-en.out" | head -20 | sed 's/^/#   /'
[ "$(cat "$TMP/batch-ja.rc" 2>/dev/null)" = 0 ] || sed -n '/^FAIL\|^ERROR\|^UNKNOWN/p' "$TMP/batch-ja.out" | head -20 | sed 's/^/#   /'
t_done
