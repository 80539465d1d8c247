#!/usr/bin/env bash
# rbc join while the database is down: the joiner's actions wait in its
# queue, its status row says how many and why; q asks before they are
# dropped (n goes on); once PostgreSQL is back the queued action reaches
# the driver, which applies it. Quitting with y says on stderr what was
# dropped (kind and step), and none of it reaches the database afterwards.
. tests/lib.sh
. tests/pg.sh
. tests/tui.sh
trap 'drv kill-server >/dev/null 2>&1; tmx kill-server >/dev/null 2>&1; pg_end; rm -rf "$TMP"' EXIT
pg_begin joinout
H=$(hostname)
cat >"$TMP/two.json" <<'JSON'
{ "runbook": "two", "title": "Two checks", "steps": [
    { "id": "one", "title": "First look", "manual": "Look." },
    { "id": "two", "title": "Second look", "manual": "Look again." },
    { "id": "end", "title": "End", "run": "true" } ] }
JSON

drv new-session -d -x 140 -y 30 -s d \
	"env TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 RBC_RUNS_DIR='$TMP/near' '$RBC' run --operator alice --db '$DB' '$TMP/two.json'; sleep 600"
drv set-option -t d status off >/dev/null
dwait "operator alice" && ok "the driver's console is up" || fail "the driver's console is up" "" "$(dscreen)"
ID=$(ls "$TMP/near")
for i in $(seq 200); do [ "$(sql "SELECT count(*) FROM rbc_runs WHERE run = '$ID'")" = 1 ] && break; sleep 0.05; done
tui_start 140 30 join "$ID" --db "$DB" --operator bob
expect_screen "the joiner is up" "JOINED as bob · driven by alice@$H"
drv send-keys -t d a
expect_screen "the first step waits on the joiner's screen" "◆ 1 First look"

# --- the database goes away: the answer waits, said on the status row ----------------------
pg_stop
expect_screen "the server gone: the joiner's header says so" "db lost, retrying"
keys Down
keys Space
expect_screen "the answer is queued: the status row says it is not sent and why" \
	"1 action not sent yet: the database is unreachable"
keys q
expect_screen "q with an action not sent asks first" "1 action not sent: quit anyway? [y/N]"
keys n
if wait_re ' idle *$'; then ok "n: the question closes, the joiner goes on"; else fail "n: the question closes, the joiner goes on" "" "$SCREEN"; fi
expect_match "… still joined, the action still waiting" "$SCREEN" "1 action not sent yet: the database is unreachable"
expect_match "… the step still waiting" "$SCREEN" "◆ 1 First look"

# --- the database back: the queued answer reaches the driver and is applied ---------------
pg_start || fail "PostgreSQL starts again" "$(tail -5 "$TMP/pg_ctl.log")"
dwait "bob@$H answered 1: done" && ok "after the restart the queued answer reaches the driver" ||
	fail "after the restart the queued answer reaches the driver" "" "$(dscreen)"
dwait "✔ 1 First look" && ok "… which applies it" || fail "… which applies it" "" "$(dscreen)"
expect_screen "the joiner sees it done through the record" "✔ 1 First look"
if wait_re '◆ 2 Second look' && ! printf '%s\n' "$SCREEN" | grep -q 'not sent yet'; then
	ok "… and its status row no longer says an action waits"
else
	fail "… and its status row no longer says an action waits" "" "$SCREEN"
fi
rows=""
for i in $(seq 200); do
	rows=$(sql "SELECT string_agg(state || ':' || kind || ':' || step, ',' ORDER BY id) FROM rbc_commands WHERE run = '$ID'")
	[ "$rows" = "applied:done:one" ] && break
	sleep 0.05
done
expect_eq "the row is stored once, applied" "$rows" "applied:done:one"
expect_eq "… and journaled once by the driver" "$(grep -c '"ev":"command"' "$TMP/near/$ID/journal.jsonl")" 1

# --- quitting anyway: what was dropped is said on stderr -------------------------------------
pg_stop
expect_screen "the server gone again" "db lost, retrying"
keys Down
keys Space
keys n
type_text "graphs flat"
keys Enter
expect_screen "two actions queued" "2 actions not sent yet: the database is unreachable"
keys q
expect_screen "q asks with the count" "2 actions not sent: quit anyway? [y/N]"
keys y
if tui_exit; then ok "y quits"; else fail "y quits" "" "$SCREEN"; fi
expect_eq "… exit 0" "$TUI_RC" 0
expect_match "… and says on stderr what was dropped: kind and step, in order" "$SCREEN" \
	"rbc: join: 2 actions not sent to the driver, dropped: done on two, note on two"
pg_start || fail "PostgreSQL starts again" "$(tail -5 "$TMP/pg_ctl.log")"
expect_eq "none of the dropped actions reached the database" \
	"$(sql "SELECT count(*) FROM rbc_commands WHERE run = '$ID'")" 1
dwait "◆ 2 Second look" && ok "the driver's step still waits for an answer" || fail "the driver's step still waits for an answer" "" "$(dscreen)"
drv send-keys -t d q
t_done
