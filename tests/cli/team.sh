#!/usr/bin/env bash
# Team mode end to end: a driver, a follower and a joiner on three runs
# directories (three machines) meeting in PostgreSQL; the driver is killed
# and a fourth machine takes the run over while the follower and the joiner
# stay on it. The joiner's answer before the takeover is not applied twice
# (its row's verdict was never stored: the new driver gives it the verdict
# its record has), the follower and the joiner name the new driver, the
# joiner's next answers are the new driver's to apply, and the database's
# record is one run with contiguous seqs.
. tests/lib.sh
. tests/pg.sh
trap 'for c in A F J B; do tmux -S "$TMP/$c.sock" kill-server >/dev/null 2>&1; done; pg_end; rm -rf "$TMP"' EXIT
command -v tmux >/dev/null 2>&1 || { fail "tmux is installed" "make deps installs it"; t_done; }
pg_begin team
H=$(hostname)
T=${TUI_TIMEOUT:-20}

# con NAME ARGS...: rbc ARGS in console NAME (its own tmux server), on the
# runs directory $TMP/NAME: a machine of its own.
con() {
	local name=$1; shift
	local cmd="env TERM=xterm-256color LANG=C.UTF-8 LC_ALL=C.UTF-8 RBC_LEASE_INTERVAL_MS=200 RBC_RUNS_DIR='$TMP/$name'"
	local a
	for a in "$RBC" "$@"; do cmd="$cmd '$a'"; done
	tmux -S "$TMP/$name.sock" -f /dev/null new-session -d -x 120 -y 30 -s c "$cmd; echo \"[exit \$?]\"; sleep 600"
	tmux -S "$TMP/$name.sock" set-option -t c status off >/dev/null
}
scr() { tmux -S "$TMP/$1.sock" capture-pane -p -t c 2>/dev/null; }
press() { local n=$1; shift; tmux -S "$TMP/$n.sock" send-keys -t c "$@"; }
typed() { tmux -S "$TMP/$1.sock" send-keys -t c -l "$2"; }
# seen NAME TEXT: waits until console NAME shows TEXT.
seen() {
	local deadline=$((SECONDS + T))
	while :; do
		case $(scr "$1") in *"$2"*) return 0 ;; esac
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.02
	done
}
# check NAME CONSOLE TEXT: one check that console CONSOLE comes to show TEXT.
check() { if seen "$2" "$3"; then ok "$1"; else fail "$1" "waited for: $3" "$(scr "$2")"; fi; }
# poll SQL WANT: waits until SQL answers WANT (10 s at most); prints the answer.
poll() {
	local i v
	for i in $(seq 200); do v=$(sql "$1"); [ "$v" = "$2" ] && break; sleep 0.05; done
	printf '%s' "$v"
}

cat >"$TMP/team.json" <<'JSON'
{ "runbook": "team", "title": "A release watched by three", "steps": [
    { "id": "look", "title": "Look at the graphs", "manual": "Error rate under 0.1 %?" },
    { "id": "size", "title": "Pick a batch size", "ask": { "var": "SIZE", "type": "number", "min": 1, "max": 5 } },
    { "id": "sign", "title": "Sign the change", "manual": "Sign it.", "approval": true },
    { "id": "use", "title": "Roll out in batches", "run": "echo batches of $SIZE" } ] }
JSON

# --- machine A drives; F follows; J joins ----------------------------------------------------
con A run --operator alice --db "$DB" "$TMP/team.json"
check "the driver's console is up" A "operator alice"
ID=$(ls "$TMP/A")
poll "SELECT count(*) FROM rbc_runs WHERE run = '$ID'" 1 >/dev/null
con F follow "$ID" --db "$DB"
con J join "$ID" --db "$DB" --operator bob
check "the follower names the driver" F "FOLLOWING alice@$H"
check "the joiner too" J "JOINED as bob · driven by alice@$H"
press A a
check "the manual step waits on the joiner's screen" J "◆ 1 Look at the graphs"
press J Down
press J Space
check "the joiner marks it done: the driver names who acted" A "bob@$H answered 1: done"
check "… the follower sees it done" F "✔ 1 Look at the graphs"
check "the ask waits, on the follower's screen too" F "◆ 2 Pick a batch size"
first=$(poll "SELECT state FROM rbc_commands WHERE run = '$ID' ORDER BY id LIMIT 1" applied)
expect_eq "the command's row says applied" "$first" applied

# The driver dies before its verdict on a command was stored: the row
# stands pending again, as a driver killed between its journal line and
# its UPDATE leaves it.
sql "UPDATE rbc_commands SET state = 'pending', why = NULL WHERE run = '$ID'" >/dev/null
poll "SELECT count(*) FROM rbc_events WHERE run = '$ID' AND ev = 'command'" 1 >/dev/null
pid=$(sql "SELECT pid FROM rbc_leases WHERE run = '$ID'")
kill -9 "$pid" 2>/dev/null
expired=$(poll "SELECT expires < now() FROM rbc_leases WHERE run = '$ID'" t)
expect_eq "the killed driver's lease expires within a few beats" "$expired" t

# --- machine B takes the run over from the database --------------------------------------------
con B resume --operator carol --db "$DB" "$ID"
check "the new driver's console is up on the run" B "operator carol"
press B a
check "… the ask waits again (a wait cut short is asked again)" B "◆ 2 Pick a batch size"
check "the follower names the new driver" F "FOLLOWING carol@$H"
check "the joiner too" J "driven by carol@$H"
row=$(poll "SELECT state FROM rbc_commands WHERE run = '$ID' ORDER BY id LIMIT 1" applied)
expect_eq "the command judged before the takeover gets its recorded verdict again" "$row" applied
expect_eq "… and is neither applied nor journaled twice" \
	"$(grep -cE '"ev": ?"command"' "$TMP/B/$ID/journal.jsonl")" 1
check "the ask waits again on the joiner's screen" J "◆ 2 Pick a batch size"
press J Down
press J Enter
typed J 3
press J Enter
check "the joiner's answer is the new driver's to apply" B "bob@$H answered 2: 3"
check "the approval waits" J "◆ 3 Sign the change"
press J Down
press J Space
check "the joiner approves (not the driver): the run ends" B "■ finished PASS"
check "the follower sees the end" F "■ finished PASS"
check "… the step that used the answer" B "✔ 4 Roll out in batches"
expect_match "the new driver's journal: the answer by bob, from his host" \
	"$(grep '"ev":"command"' "$TMP/B/$ID/journal.jsonl" | tail -2 | head -1)" "\"host\":\"$H\".*\"result\":\"applied\".*\"by\":\"bob\""
n=$(sql "SELECT count(*) || ' ' || count(DISTINCT seq) || ' ' || max(seq) FROM rbc_events WHERE run = '$ID'")
last=$(sql "SELECT max(seq) FROM rbc_events WHERE run = '$ID'")
expect_eq "the database holds one run with contiguous seqs" "$n" "$last $last $last"
expect_eq "… every line of the new driver's journal" "$(($(wc -l <"$TMP/B/$ID/journal.jsonl") - 1))" "$last"
expect_eq "every command row judged" "$(sql "SELECT string_agg(state, ',' ORDER BY id) FROM rbc_commands WHERE run = '$ID'")" \
	"applied,applied,applied"
press F q
press J q
t_done
