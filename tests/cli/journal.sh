#!/usr/bin/env bash
# The run's journal: one JSON line per event, a header that records the
# runbooks and their sha256, secrets masked; every step's end on disk before
# it is shown (batch and console, checked by killing rbc with SIGKILL right
# after a result shows); the journal locked while its run runs, and rbc runs
# telling running, interrupted and finished runs apart.
. tests/lib.sh
F=$ROOT/tests/fixtures/journal
export RBC_RUNS_DIR=$TMP/runs
secret="tok-$RANDOM-$RANDOM-secret"
# snap, then new_run: the directory of the run started after the snap (run
# ids sort by second, then by a random suffix: never by "the newest").
snap() { ls "$RBC_RUNS_DIR" 2>/dev/null | sort >"$TMP/snap"; }
new_run() { echo "$RBC_RUNS_DIR/$(ls "$RBC_RUNS_DIR" | sort | comm -13 "$TMP/snap" - | head -1)"; }

# --- a whole batch run -------------------------------------------------------------
API_TOKEN=$secret run "$RBC" run --batch --assume done "$F/steps.json"
expect_eq "the batch run ends (FAIL: a step failed)" "$RC" 2
dir=$(printf '%s\n' "$OUT" | sed -n 's/^run: [^ ]* (\(.*\))$/\1/p')
J=$dir/journal.jsonl
[ -f "$J" ] && ok "the run directory has journal.jsonl" || fail "the run directory has journal.jsonl" "$OUT"
expect_eq "… mode 0600" "$(stat -c %a "$J")" 600
check=$(python3 - "$J" "$F/steps.json" <<'PY'
import json, sys, hashlib, os
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
assert lines[-1] == "", "the journal ends with a newline"
ev = [json.loads(l) for l in lines[:-1]]
h = ev[0]
out = []
out.append("header:%s" % (h["ev"] == "run_header" and h["schema"] == 1 and h["seq"] == 0))
rb = h["runbooks"][0]
out.append("sha:%s" % (rb["sha256"] == hashlib.sha256(open(sys.argv[2], "rb").read()).hexdigest()))
out.append("file:%s" % (rb["file"] == os.path.realpath(sys.argv[2])))
out.append("fields:%s" % all(k in h for k in ("run", "rbc", "started", "host", "operator", "vars", "argv")))
out.append("seq:%s" % ([e["seq"] for e in ev] == list(range(len(ev)))))
fin = {e["step"]: e for e in ev if e["ev"] == "step_finished"}
out.append("steps:%s" % ",".join(sorted(k.split("/")[-1] for k in fin)))
out.append("fails:%s" % fin["journal/fails"]["verdict"])
out.append("sign:%s" % fin["journal/sign"]["by"])
out.append("last:%s" % ev[-1]["ev"])
out.append("verdict:%s" % ev[-1].get("verdict"))
print(" ".join(out))
PY
)
expect_match "the header: run_header, schema 1, seq 0" "$check" 'header:True'
expect_match "… the runbook's sha256 is the file's" "$check" 'sha:True'
expect_match "… its absolute path" "$check" 'file:True'
expect_match "… run id, rbc version, start, host, operator, vars, argv" "$check" 'fields:True'
expect_match "lines are numbered 0, 1, 2… without a gap" "$check" 'seq:True'
expect_match "every step's end is a line" "$check" 'steps:fails,first,journal,last,nap,secret,sign '
expect_match "… with its verdict" "$check" 'fails:FAIL'
expect_match "… and who answered a manual step" "$check" 'sign:--assume done'
expect_match "the last line is run_finished with the verdict" "$check" 'last:run_finished verdict:FAIL'
if grep -qF "$secret" "$J"; then fail "the secret is not in the journal" "$(grep -F "$secret" "$J" | head -3)"
else ok "the secret is not in the journal"; fi
expect_match "… where it would be, it is masked" "$(cat "$J")" 'token=••••'
run "$RBC" runs
expect_match "rbc runs lists it as finished, with its verdict" "$OUT" "$(basename "$dir") +journal +[0-9T:Z-]+ +[^ ]+ +finished +FAIL"

# --- torn, garbage and damaged journals ----------------------------------------------------
events=$("$RBC" runs --json | python3 -c 'import json,sys; print([json.loads(l) for l in sys.stdin][0]["events"])')
for kind in torn garbage damaged; do
	d=$RBC_RUNS_DIR/20000101T000000Z-$kind-0000
	cp -r "$dir" "$d"
	# The copy's journal names the copy's directory, as a run's does.
	sed -i "1s/\"run\":\"$(basename "$dir")\"/\"run\":\"$(basename "$d")\"/" "$d/journal.jsonl"
	case $kind in
	torn) printf '{"seq":999,"t":"2026-' >>"$d/journal.jsonl" ;;
	garbage) printf '\x00\x01 not json at all\n' >>"$d/journal.jsonl" ;;
	damaged) sed -i '5s/.*/{"seq":4, this line was overwritten/' "$d/journal.jsonl" ;;
	esac
done
run "$RBC" runs --json
expect_match "a torn last line is left out: the run still reads as finished" "$OUT" \
	'"run":"20000101T000000Z-torn-0000","dir":"[^"]*torn-0000".*"state":"finished","verdict":"FAIL","events":'"$events"'}'
expect_match "a garbage last line too" "$OUT" \
	'"dir":"[^"]*garbage-0000".*"state":"finished","verdict":"FAIL","events":'"$events"'}'
expect_match "a damaged line before the last is not read past: the run is damaged" "$OUT" \
	'"run":"20000101T000000Z-damaged-0000","state":"damaged"'
expect_match "… and the line is named" "$ERR" 'damaged-0000/journal\.jsonl:5: not a JSON event'
rm -rf "$RBC_RUNS_DIR"/20000101T000000Z-*

# --- killed in the middle: batch -------------------------------------------------------------
mark="rbc-journal-$$-$RANDOM"
snap
"$RBC" run --batch --assume done --var NAP=60 --var MARK="$mark" "$F/steps.json" >"$TMP/b.out" 2>&1 &
pid=$!
for _ in $(seq 1 500); do grep -q '^PASS *sign' "$TMP/b.out" && break; sleep 0.02; done
dir=$(new_run); J=$dir/journal.jsonl
run "$RBC" runs
expect_match "while it runs, rbc runs says running" "$OUT" "$(basename "$dir") .* running +—"
shown=$(sed -n 's/^\(PASS\|FAIL\|WARN\) *\([a-z]*\) .*/\2/p' "$TMP/b.out" | sort | tr '\n' ',')
kill -9 $pid; wait $pid 2>/dev/null
pkill -9 -f "$mark" 2>/dev/null
journaled=$(python3 -c '
import json, sys
ids = []
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["ev"] == "step_finished" and "/" in e["step"]: ids.append(e["step"].split("/")[1])
print(",".join(sorted(ids)) + ",")' "$J")
expect_eq "after SIGKILL every step the batch printed is in the journal" "$journaled" "$shown"
run "$RBC" runs
expect_match "… and rbc runs says interrupted" "$OUT" "$(basename "$dir") .* interrupted +—"

# --- killed in the middle: the console ----------------------------------------------------------
. tests/tui.sh
mark="rbc-journal-$$-$RANDOM"
snap
tui_start 100 30 --var NAP=60 --var MARK="$mark" "$F/steps.json"
wait_re ' idle *$'
keys a
expect_screen "the console reaches the manual step" "◆ your turn"
keys Space
expect_screen_re "the sign-off shows done" '│ +✔ 4 Sign-off'
seen=$(screen)   # what the screen showed, then the kill: it must all be on disk
pkill -9 -f "^$RBC .*MARK=$mark"
pkill -9 -f "$mark" 2>/dev/null
dir=$(new_run); J=$dir/journal.jsonl
shown=$(printf '%s\n' "$seen" | sed -n 's/^│ *\([✔✘⚠]\) [0-9]* \([^│]*[^ │]\) *│.*/\2/p' | sort | tr '\n' ',')
journaled=$(python3 -c '
import json, sys
titles = {"first": "First step", "secret": "Prints the token", "fails": "A failing check", "sign": "Sign-off", "nap": "Naps", "last": "Last step: \"done\" & <over>"}
ids = []
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["ev"] == "step_finished" and "/" in e["step"]: ids.append(titles[e["step"].split("/")[1]])
print(",".join(sorted(ids)) + ",")' "$J")
expect_eq "after SIGKILL every result the console showed is in the journal" "$journaled" "$shown"
expect_match "… four of them" "$shown" '^A failing check,First step,Prints the token,Sign-off,$'
t_done
