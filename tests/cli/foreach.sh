#!/usr/bin/env bash
# Loops (docs/runbook-format.md, "Loops"): a group's foreach over a list
# written out, a variable's list (JSON, comma- or whitespace-separated), a
# list captured mid-run; iterations ided and titled by their item, the item
# bound for them alone; parallel as a count or true (evidence: how many ran
# at once); max_failures; the 10,000 limit at check and at run time; an
# empty list; a goto inside an iteration; a run killed mid-loop resumed
# without running its finished iterations again; the journal and exports;
# the console's tree growing the iterations.
. tests/lib.sh
. tests/tui.sh
F=$ROOT/tests/fixtures/foreach
export RBC_RUNS_DIR=$TMP/runs
last_run() { ls -t "$RBC_RUNS_DIR" | head -1; }
# most_at_once LOG: the most "start" lines without their "end", at any point.
most_at_once() { awk '$1 == "start" { n++; if (n > m) m = n } $1 == "end" { n-- } END { print m + 0 }' "$1"; }

# --- a list written out --------------------------------------------------------------
run "$RBC" run --batch "$F/literal.json"
expect_eq "a loop over a list written out passes" "$RC" 0
expect_match "… it expands when reached, saying its items" "$OUT" '^EXPANDED +canary +Canary at 10, 25, half way, 100 % — 4 items: 10, 25, half way, 100$'
expect_match "… an iteration is ided and titled by its item" "$OUT" '^PASS +canary\[25\] +Canary at 25 % — 2 steps: 2 passed$'
expect_match "… an item that is no id goes by its index" "$OUT" '^PASS +canary\[3\] +Canary at half way % — 2 steps: 2 passed$'
expect_match "… its steps carry the iteration's id, the item bound" "$OUT" '^PASS +canary\[100\]\.set +Set 100 % — exit = 0 == 0$'
expect_match "… the loop counts iterations" "$OUT" '^PASS +canary +Canary at 10, 25, half way, 100 % — 4 iterations: 4 passed$'
expect_match "… the variable is bound for the iterations alone" "$OUT" '^PASS +after +After the loop'
out=$(cat "$RBC_RUNS_DIR/$(last_run)/out/literal.canary_half_way_.set.out" 2>/dev/null || cat "$RBC_RUNS_DIR/$(last_run)"/out/*canary_3_*set* 2>/dev/null)
expect_eq "… a command gets the item in its environment" "$out" "weight=half way"
J=$RBC_RUNS_DIR/$(last_run)/journal.jsonl
line=$(grep '"ev":"expanded"' "$J")
expect_match "the journal records the expansion with its items" "$line" '"items":\["10","25","half way","100"\]'
expect_match "… and the steps it made" "$line" '"steps":\[\{"id":"literal/canary\[10\]","number":"1.1","title":"Canary at 10 %","group":true\},\{"id":"literal/canary\[10\]\.set","number":"1.1.1"'
"$RBC" export "$(last_run)" --format json -o "$TMP/l.json"
check=$(python3 - "$ROOT/docs/export.schema.json" "$TMP/l.json" <<'PY'
import json, sys
try:
    import jsonschema
    jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])))
    valid = True
except ImportError:
    valid = "no-jsonschema"
except Exception as e:
    valid = str(e)[:200]
d = json.load(open(sys.argv[2]))
ids = [s["id"] for s in d["steps"]]
groups = [s["id"] for s in d["steps"] if s.get("group")]
print("valid:%s order:%s groups:%s" % (valid, ",".join(i.split("/")[1] for i in ids[1:6]), "literal/canary[3]" in groups))
PY
)
expect_match "the JSON export validates and lists each iteration as a group, after its loop, its steps below it" "$check" '^valid:True order:canary,canary\[10\],canary\[10\]\.set,canary\[10\]\.observe,canary\[25\] groups:True$'
md=$("$RBC" export "$(last_run)" --format md)
expect_match "… the deployment log shows the iterations' steps by number" "$md" '\| 1\.3\.1 \| Set half way % \| ✅ PASS'
expect_nomatch "… and not the loop's own steps as never run" "$md" 'Set \$\{WEIGHT\}'
"$RBC" export "$(last_run)" --format junit -o "$TMP/l.xml"
run xmllint --noout --schema "$ROOT/tests/junit.xsd" "$TMP/l.xml"
expect_eq "… the JUnit export validates" "$RC" 0
expect_match "… with a test case per iteration's step" "$(cat "$TMP/l.xml")" 'testcase name="1\.4\.2 Observe 100 %"'

# --- a list in a variable ----------------------------------------------------------------
for form in '["db-01", "db-02", "db-03"]' 'db-01, db-02,db-03' $'db-01  db-02\tdb-03'; do
	run "$RBC" run --batch --var NODES="$form" "$F/vars.json"
	got=$(printf '%s\n' "$OUT" | sed -n 's/^PASS *patch\[\([^]]*\)\]\.restart .*/\1/p' | paste -sd, -)
	expect_eq "a variable's list as $(printf '%q' "$form") gives three iterations in order" "$got" "db-01,db-02,db-03"
done
run "$RBC" run --batch "$F/typed.json"
expect_match "a typed list variable's default (JSON array text) gives its items" "$OUT" '^EXPANDED +patch .* 2 items: db-01, db-02$'
run "$RBC" run --batch --var NODES='["x", "y z"]' "$F/typed.json"
expect_match "… a list given with --var too, an item with a space kept whole" "$OUT" '^PASS +patch\[2\]\.restart +Restart y z'
run "$RBC" run --batch "$F/vars.json"
expect_match "a variable's default of one item gives one iteration" "$OUT" '^EXPANDED +patch .* 1 item: db-01$'
run "$RBC" run --batch --var NODES='[1, {"x": 2}]' "$F/vars.json"
expect_match "a JSON array of something else: the loop is an ERROR saying which item" "$OUT" '^ERROR +patch +.* item 2 of the list is not a text or a number$'
run "$RBC" run --batch --assume done --var ITEMS="$(seq -s, 1 10001)" "$F/many.json"
expect_match "10,001 items at run time: the loop is an ERROR with the count" "$OUT" '^ERROR +each +Item \$\{ITEM\} — foreach "in" \$\{ITEMS\}: 10001 items: at most 10000 iterations$'
expect_nomatch "… and nothing of it runs" "$OUT" 'tick'
run "$RBC" run --batch --assume done --var ITEMS="$(seq -s, 1 10000)" "$F/many.json"
expect_match "10,000 items run" "$OUT" '^PASS +each +Item 1, 2, 3, 4, 5, … — 10000 iterations: 10000 passed$'

# --- a list captured mid-run, an empty list --------------------------------------------------
run "$RBC" run --batch "$F/captured.json"
expect_eq "a list captured by an earlier step: the run passes" "$RC" 0
expect_match "… the loop expands with what was captured" "$OUT" '^EXPANDED +drain +Drain web-1, web-2, web 3 — 3 items: web-1, web-2, web 3$'
expect_match "… each iteration drains its host" "$OUT" '^PASS +drain\[3\]\.do +Drain web 3 now'
expect_match "an empty list: the loop passes with no items" "$OUT" '^PASS +none +Nothing to do for \(none\) — no items: \$\{EMPTY\} is empty$'
expect_nomatch "… and its steps never run" "$OUT" 'never|Never'

# --- parallel ------------------------------------------------------------------------------------
for c in "parallel:2" "parallel-all:6" "parallel-none:1"; do
	f=${c%%:*} want=${c##*:}
	rm -f "$TMP/p.log"
	run "$RBC" run --batch --var LOG="$TMP/p.log" "$F/$f.json"
	expect_eq "$f: the six iterations pass" "$RC" 0
	expect_eq "$f: at most $want ran at once" "$(most_at_once "$TMP/p.log")" "$want"
done
expect_eq "in order without parallel: each starts after the one before ended" "$(paste -sd' ' "$TMP/p.log")" \
	"start a end a start b end b start c end c start d end d start e end e start f end f"

# --- loops in loops, a call in a loop, a plain group two at a time -------------------------------
rm -f "$TMP/n.log"
run "$RBC" run --batch --var LOG="$TMP/n.log" "$F/nested.json"
expect_eq "nested loops and a call in a loop pass" "$RC" 0
expect_eq "\"parallel\": 2 on a plain group: at most two of its steps at once" "$(grep -E '^(start|end) ' "$TMP/n.log" | most_at_once /dev/stdin)" 2
expect_match "an inner loop's iterations are ided under the outer one's" "$OUT" '^PASS +outer\[us\]\.inner\[us-2\]\.touch +Touch us-2 — exit = 0 == 0$'
expect_match "… a call in an iteration gets the items in with" "$OUT" '^EXPANDED +outer\[eu\]\.inner\[eu-1\]\.cl +Call for eu-1 — calls #proc: 1 step, with WHO=eu-1$'
expect_eq "… each inner iteration sees both items" "$(grep '^touch' "$TMP/n.log" | paste -sd, -)" "touch eu eu-1,touch eu eu-2,touch us us-1,touch us us-2"
expect_eq "… the last export of the calls is seen after the loops" "$(grep '^last' "$TMP/n.log")" "last ok-us-2"

# --- max_failures ----------------------------------------------------------------------------------
rm -f "$TMP/f.log"
run "$RBC" run --batch --var LOG="$TMP/f.log" "$F/failures.json"
expect_eq "past max_failures the run fails" "$RC" 2
expect_eq "… the iterations after the second failure never start" "$(paste -sd' ' "$TMP/f.log")" "ran h1 ran h2 ran h3"
expect_match "… they end skipped, saying why" "$OUT" '^SKIPPED +p\[h4\] +Host h4 — not started: 2 iterations failed \(max_failures 1\)$'
expect_match "… and the loop fails, counting them" "$OUT" '^FAIL +p +Host h1, h2, h3, h4, h5 — 5 iterations: 1 passed, 2 failed, 2 skipped$'
expect_nomatch "… its on_fail (stop) keeps the run from going on" "$OUT" '^PASS +after'
sed 's/"max_failures": 1/"max_failures": 2/' "$F/failures.json" >"$TMP/failures2.json"
rm -f "$TMP/f.log"
run "$RBC" run --batch --var LOG="$TMP/f.log" "$TMP/failures2.json"
expect_eq "within max_failures every iteration runs" "$(paste -sd' ' "$TMP/f.log")" "ran h1 ran h2 ran h3 ran h4 ran h5"
expect_match "… the failures still count in the loop's verdict, and the run goes on" "$OUT" '^FAIL +p +Host .* 5 iterations: 3 passed, 2 failed$'
expect_match "… to the step after the loop" "$OUT" '^PASS +after'

# --- a goto inside an iteration -------------------------------------------------------------------
rm -f "$TMP/g.log"
run "$RBC" run --batch --var LOG="$TMP/g.log" "$F/goto.json"
expect_match "a goto inside a loop goes to the step of its own iteration" "$OUT" '^JUMP +p\[h2\]\.probe → p\[h2\]\.repair '
expect_eq "… each iteration repairs its own host, skipping what lies between" "$(paste -sd' ' "$TMP/g.log")" "repair h1 repair h2"
run "$RBC" check "$ROOT/tests/fixtures/bad/foreach-goto-into.json"
expect_match "a goto into a loop's steps from outside is refused by check" "$ERR" 'goto target "b" is inside the loop "a": its steps are reached only through it \(goto "a"\)'
run "$RBC" check "$ROOT/tests/fixtures/bad/foreach-too-many.json"
expect_match "a list of 10,001 items written out is refused by check with the count" "$ERR" 'steps\[0\]\.foreach\.in: a loop of 10001 items: at most 10000 iterations'

# --- resume after a kill mid-loop -------------------------------------------------------------------
rm -f "$TMP/r.log" "$TMP/r.log.go"
"$RBC" run --batch --var LOG="$TMP/r.log" "$F/resume.json" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 500); do grep -q 'ran h2' "$TMP/r.log" 2>/dev/null && break; sleep 0.02; done
kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
touch "$TMP/r.log.go"
d=$(last_run)
run "$RBC" resume --batch --unfinished rerun "$d"
expect_eq "a run killed in the middle of a loop resumes to its end" "$RC" 0
expect_match "… it goes on at the loop" "$OUT" '^RESUMED .* going on at resume/p$'
expect_eq "… finished iterations do not run again, the cut one does" "$(paste -sd' ' "$TMP/r.log")" "ran h1 ran h2 ran h2 ran h3"
expect_match "… the loop counts every iteration" "$OUT" '^PASS +p +Host h1, h2, h3 — 3 iterations: 3 passed$'
expect_eq "… the record has one expansion" "$(grep -c '"ev":"expanded"' "$RBC_RUNS_DIR/$d/journal.jsonl")" 1
"$RBC" export "$d" --format json -o "$TMP/r.json"
expect_eq "… the resumed run's export has each iteration once" \
	"$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(",".join(s["id"].split("/")[1]+"="+str(s["verdict"]) for s in d["steps"] if "[" in s["id"] and "." not in s["id"].split("/")[1]))' "$TMP/r.json")" \
	"p[h1]=PASS,p[h2]=PASS,p[h3]=PASS"

# A parallel loop killed with two iterations running: both go on where they were.
rm -f "$TMP/q.log" "$TMP/q.log.go"
"$RBC" run --batch --var LOG="$TMP/q.log" "$F/parallel-resume.json" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 500); do [ "$(grep -c 'two [bc]' "$TMP/q.log" 2>/dev/null)" = 2 ] && break; sleep 0.02; done
kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
touch "$TMP/q.log.go"
run "$RBC" resume --batch --unfinished rerun "$(last_run)"
expect_eq "a parallel loop killed mid-way resumes to its end" "$RC" 0
expect_eq "… the finished iteration and finished steps do not run again; the cut steps and the one not started do" \
	"$(grep -E '^(one|two) [abcd]$' "$TMP/q.log" | sort | uniq -c | awk '{ printf "%s%s=%s", n++ ? "," : "", $2 "-" $3, $1 }')" \
	"one-a=1,one-b=1,one-c=1,one-d=1,two-a=1,two-b=2,two-c=2,two-d=1"

# A resume with --force (the runbook changed): the iterations stay after their loop.
rm -f "$TMP/r.log" "$TMP/r.log.go"
cp "$F/resume.json" "$TMP/changed.json"
"$RBC" run --batch --var LOG="$TMP/r.log" "$TMP/changed.json" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 500); do grep -q 'ran h2' "$TMP/r.log" 2>/dev/null && break; sleep 0.02; done
kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
touch "$TMP/r.log.go"
sed -i 's/"title": "After", "run": "true" }/"title": "After", "run": "true" }, { "id": "extra", "title": "Extra", "run": "true" }/' "$TMP/changed.json"
d=$(last_run)
run "$RBC" resume --batch --unfinished rerun --force "$d"
expect_eq "a run killed mid-loop resumes with --force after its runbook changed" "$RC" 0
expect_eq "… its export lists each iteration after the loop, then the new step" \
	"$("$RBC" export "$d" --format json | python3 -c 'import json,sys; print(",".join(s["id"].split("/")[-1] for s in json.load(sys.stdin)["steps"]))')" \
	"resume,p,p[h1],p[h1].work,p[h2],p[h2].work,p[h3],p[h3].work,after,extra"

# --- the console ----------------------------------------------------------------------------------
tui_start 120 30 --operator alice "$F/console.json"
wait_idle
expect_screen "before the run, the loop is in the tree with no iterations" "2 Patch \${HOST}"
expect_nomatch "… none shown yet" "$SCREEN" 'Patch web-1'
keys a
expect_screen "the run's end" "finished PASS"
expect_screen "… its iterations appeared in the tree, titled by their item" "2.1 Patch web-1"
expect_screen "… the loop's own title names its items" "2 Patch web-1, web-2"
expect_screen "… with their steps below them" "2.2.1 Restart web-2"
keys g j j
expect_screen "the loop's detail says what it loops over and how many iterations it made" "2 iterations: 2 passed"
expect_screen_re "… its list as the run read it" 'loop over web-1,web-2'
keys q

t_done
