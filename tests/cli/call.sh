#!/usr/bin/env bash
# Calls (docs/runbook-format.md, "Calls"): a call of a runbook file and of
# an on-demand group of the same runbook, with setting the callee's
# variables, its captures kept inside but what export names, secrets masked
# in what came back; the callee's failure is the call's, a goto inside it
# stays inside; cycles, unknown targets, variables and exports refused by
# rbc check; a run killed inside a call resumes with its variables; the
# journal and exports show the callee's steps under the call; the console
# shows them in the tree.
. tests/lib.sh
. tests/tui.sh
F=$ROOT/tests/fixtures/call
B=$ROOT/tests/fixtures/bad
export RBC_RUNS_DIR=$TMP/runs
last_run() { ls -t "$RBC_RUNS_DIR" | head -1; }

# --- rbc check ---------------------------------------------------------------------------
run "$RBC" check "$F/main.json"
expect_eq "a runbook with calls of a file and a group checks" "$RC" 0
expect_match "… its summary counts the calls and names the callee" "$OUT" '2 call; includes .*rollback-db\.json$'
run "$RBC" check "$B/call-cycle-files.json"
expect_match "files that call each other are refused, naming the chain" "$ERR" 'runbooks include each other in a cycle: call-cycle-files\.json → cycle-b\.json → call-cycle-files\.json'
expect_eq "… exit 65" "$RC" 65
run "$RBC" check "$B/call-cycle-groups.json"
expect_match "groups that call each other are refused, naming the chain" "$ERR" 'steps\[1\]\.steps\[0\]\.call: calls come back in a cycle: #g2 → #g1 → #g2'
run "$RBC" check "$B/call-self.json"
expect_match "a group calling itself is refused" "$ERR" 'calls come back in a cycle: #g → #g'
run "$RBC" check "$B/call-unknown-group.json"
expect_match "an unknown #group: did you mean" "$ERR" 'call "#comon-response": no step has the id "comon-response" \(did you mean "#common-response"\?\)'
expect_match "… a group that is not on demand is refused" "$ERR" '"plain" is not an on-demand group'
run "$RBC" check "$B/call-with-unknown.json"
expect_match "with naming no variable of the callee: did you mean" "$ERR" 'with\.VERSON: "VERSON" is not a variable of \.\./call/rollback-db\.json \(did you mean "VERSION"\?\)'
expect_match "… a value against the callee's declaration" "$ERR" 'with\.VERSION: VERSION of \.\./call/rollback-db\.json: "latest" does not match the pattern'
run "$RBC" check "$B/call-required-missing.json"
expect_match "a required callee variable given neither by with nor a default is refused" "$ERR" 'needs the variable VERSION \(required, no default\): give it in "with"'
run "$RBC" check "$B/call-export-unknown.json"
expect_match "an export the callee never captures: did you mean" "$ERR" 'export\[0\]: \.\./call/rollback-db\.json never captures "RESTORD" \(did you mean "RESTORED"\?\)'

# --- batch: a file and a group ---------------------------------------------------------------
run "$RBC" run --batch --var LOG="$TMP/m.log" "$F/main.json"
expect_eq "the calls run and the run passes" "$RC" 0
expect_match "the call says what it calls, with what" "$OUT" '^EXPANDED +db-back +Database rollback — calls rollback-db\.json: 3 steps, with VERSION=1\.2\.3, TARGET=replica$'
expect_match "the callee's steps run under the call, with its variables" "$OUT" '^PASS +db-back\.restore +Restore 1\.2\.3 on replica — exit = 0 == 0$'
expect_match "the call lists what came back, a secret masked" "$OUT" '^PASS +db-back +Database rollback — 3 steps: 3 passed; exported: RESTORED = 1\.2\.3\\n, DB_TOKEN = ••••$'
expect_match "a call of an on-demand group runs its steps under the call" "$OUT" '^PASS +respond\.notify +Notify the on-call'
log=$(cat "$TMP/m.log")
expect_match "an export is seen after the call" "$log" 'after: restored=1\.2\.3'
expect_match "… a capture not exported stays inside, the with values too" "$log" 'inner=unset target=unset'
expect_match "… a group's export too" "$log" 'last: paged'
J=$RBC_RUNS_DIR/$(last_run)/journal.jsonl
expect_eq "the secret the callee captured is nowhere in the journal" "$(grep -c 's3cr3t' "$J")" 0
expect_match "the journal records the call's steps under it" "$(grep '"ev":"expanded"' "$J" | head -1)" '"steps":\[\{"id":"main/db-back\.restore","number":"1\.1","title":"Restore 1\.2\.3 on replica"\}'
expect_match "… and the exports as the call's captures" "$(cat "$J")" '"step":"main/db-back","number":"1","name":"RESTORED","value":"1\.2\.3\\n","text":"exported by the call db-back"'
"$RBC" export "$(last_run)" --format json -o "$TMP/m.json"
check=$(python3 - "$ROOT/docs/export.schema.json" "$TMP/m.json" <<'PY'
import json, sys
import jsonschema
d = json.load(open(sys.argv[2]))
try:
    jsonschema.validate(d, json.load(open(sys.argv[1])))
    valid = True
except Exception as e:
    valid = str(e)[:200]
ids = [s["id"].split("/", 1)[-1] for s in d["steps"]]
print("valid:%s order:%s" % (valid, ",".join(ids[1:6])))
PY
)
expect_match "the JSON export validates and has the callee's steps right after the call" "$check" '^valid:True order:db-back,db-back\.restore,db-back\.token,db-back\.verify,after$'
md=$("$RBC" export "$(last_run)" --format md)
expect_match "… the deployment log too" "$md" '\| 1\.1 \| Restore 1\.2\.3 on replica \| ✅ PASS'
expect_nomatch "… and no phase of its own for the called file" "$md" '^## Database rollback'
expect_nomatch "… nor the secret" "$md" 's3cr3t'

# --- failure, a goto inside the callee ----------------------------------------------------------
run "$RBC" run --batch "$F/failing.json"
expect_eq "a callee's failure fails the run" "$RC" 2
expect_match "… a goto inside the callee goes to its own step" "$OUT" '^JUMP +proc-call\.probe → proc-call\.repair '
expect_match "… the callee's failure is the call's" "$OUT" '^FAIL +proc-call +Run the procedure — 2 steps: 2 failed, 1 not run$'
expect_match "… whose on_fail decides (continue)" "$OUT" '^PASS +after +After'
run "$RBC" run --batch --var LOG="$TMP/f.log" --var FAIL_VERIFY=1 "$F/main.json"
expect_match "a file callee that fails fails its call" "$OUT" '^FAIL +db-back +Database rollback — 3 steps: 2 passed, 1 failed'
expect_nomatch "… and the run stops there (on_fail stop)" "$OUT" '^PASS +after'

# --- resume inside a call ----------------------------------------------------------------------
rm -f "$TMP/s.log" "$TMP/s.log.go"
"$RBC" run --batch --var LOG="$TMP/s.log" "$F/resume.json" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 500); do grep -q 'two' "$TMP/s.log" 2>/dev/null && break; sleep 0.02; done
kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
touch "$TMP/s.log.go"
run "$RBC" resume --batch --unfinished rerun "$(last_run)"
expect_eq "a run killed inside a call resumes to its end" "$RC" 0
expect_eq "… the callee's finished step does not run again; the cut one does, with the call's variables" \
	"$(paste -sd'|' "$TMP/s.log")" "one night shift|two night shift|two night shift"
expect_match "… the call ends with its callee" "$OUT" '^PASS +slow-call +Slow procedure — 2 steps: 2 passed$'

# --- the console ----------------------------------------------------------------------------------
tui_start 120 30 --operator alice --var LOG="$TMP/c.log" "$F/main.json"
wait_idle
expect_screen "the callee's steps are in the tree under the call" "1.1 Restore \${VERSION} on \${TARGET}"
expect_screen "… the group's under its call" "3.1 Notify \${WHO}"
keys a
expect_screen "the run's end" "finished PASS"
expect_screen "… the callee's steps titled with the call's variables" "1.1 Restore 1.2.3 on replica"
expect_screen "… the group's too" "3.1 Notify the on-call"
keys g j
expect_screen "the call's detail says what it calls, with what" "call rollback-db.json: 3 steps, with VERSION=1.2.3, TARGET=replica"
expect_screen "… and what came back, the secret masked" "capture DB_TOKEN = ••••"
keys q

t_done
