#!/usr/bin/env bash
# The ask action in batch: an answer comes from --var, --vars or --answers
# (a JSON object), is checked against the ask's rule before anything runs
# (exit 64 with the rule), sets its variable for later steps, and a
# choice's goto jumps; no answer is UNKNOWN "needs operator" unless
# --assume done takes a default. A secret answer never reaches stdout, the
# journal, the outputs or the exports; rbc resume replays what was answered.
. tests/lib.sh
F=$ROOT/tests/fixtures/ask
export RBC_RUNS_DIR=$TMP/runs
# run_dir ID: the newest run of runbook ID (its directory); first_run: the oldest.
run_dir() { ls -td "$RBC_RUNS_DIR"/*-"$1"-* 2>/dev/null | head -1; }
first_run() { ls -td "$RBC_RUNS_DIR"/*-"$1"-* 2>/dev/null | tail -1; }
journal_of() { cat "$(run_dir "$1")/journal.jsonl" 2>/dev/null; }
nruns() { ls -d "$RBC_RUNS_DIR"/*-"$1"-* 2>/dev/null | wc -l; }

echo "# rbc check"
for f in types choices secret resume; do
	run "$RBC" check "$F/$f.json"
	expect_eq "$f.json is valid" "$RC" 0
	expect_nomatch "… with no warning: an ask's variable is defined for the steps after it" "$ERR" 'not defined'
done

echo "# unanswered"
run "$RBC" run --batch "$F/types.json"
expect_eq "asks without an answer: the run is UNKNOWN (3)" "$RC" 3
expect_match "… each ask says it needs an operator and how to answer it" "$OUT" \
	'UNKNOWN +ticket +Ticket — needs operator: Change ticket \(--var TICKET=… or --answers FILE answers it\)'
expect_match "… the prompt, else the title, is the question" "$OUT" 'UNKNOWN +pr +Pull request — needs operator: Pull request '

echo "# every type by --var"
run "$RBC" run --batch --var TICKET=CHG-12 --var PR=42 --var SOAK=10m --var PAGE=yes --var HOSTS=db-01,db-02 "$F/types.json"
expect_eq "every ask answered: PASS" "$RC" 0
expect_match "… text" "$OUT" 'PASS +ticket +Ticket — answered CHG-12 \(given to the run\)'
expect_match "… number" "$OUT" 'PASS +pr +Pull request — answered 42 '
expect_match "… duration" "$OUT" 'PASS +soak +Soak time — answered 10m '
expect_match "… yesno" "$OUT" 'PASS +page +Page the owner\? — answered yes '
expect_match "… list" "$OUT" 'PASS +hosts +Hosts — answered db-01,db-02 '
expect_match "later steps read \${NAME} and vars.NAME (a number as a number)" "$OUT" \
	'PASS +show +Ticket CHG-12 PR 42 — vars\.PR = 42 '
out=$(cat "$(run_dir ask-types)"/out/*show* 2>/dev/null)
expect_match "… and the command's environment" "$out" 'ticket=CHG-12 pr=42 soak=10m page=true hosts=db-01,db-02'
j=$(journal_of ask-types)
expect_match "the journal says who answered what, with the question" "$j" \
	'"ev":"capture","step":"ask-types/ticket","number":"1","name":"TICKET","value":"CHG-12","text":"Change ticket","by":"given","automatic":true'
expect_match "… a number keeps its type" "$j" '"name":"PR","value":"42","json":42'

echo "# --answers"
printf '{ "TICKET": "CHG-7", "PR": 7, "SOAK": "90s", "PAGE": false, "HOSTS": ["db-01", "db-03"] }\n' >"$TMP/answers.json"
run "$RBC" run --batch --answers "$TMP/answers.json" "$F/types.json"
expect_eq "answers from a JSON object: PASS" "$RC" 0
expect_match "… a JSON number" "$OUT" 'answered 7 \(given'
expect_match "… a boolean" "$OUT" 'PASS +page .*answered false'
expect_match "… an array for a list" "$OUT" 'PASS +hosts .*answered \["db-01","db-03"\]'
run "$RBC" run --batch --answers "$TMP/answers.json" --var PR=8 "$F/types.json"
expect_match "--var wins over --answers" "$OUT" 'PASS +pr +Pull request — answered 8 '
printf '["CHG-1"]\n' >"$TMP/array.json"
before=$(nruns ask-types)
run "$RBC" run --batch --answers "$TMP/array.json" "$F/types.json"
expect_eq "an --answers file that is not an object is refused (65)" "$RC" 65
expect_match "… saying what it is" "$ERR" 'rbc: --answers .*array\.json: expected a JSON object of NAME: answer, got an array'
printf '{ "PR": null }\n' >"$TMP/null.json"
run "$RBC" run --batch --answers "$TMP/null.json" "$F/types.json"
expect_eq "an answer that is no value is refused (65)" "$RC" 65
expect_match "… naming it and what it may be" "$ERR" '"PR": expected a string, number, boolean or an array of strings and numbers'
run "$RBC" run --batch --answers "$TMP/missing.json" "$F/types.json"
expect_eq "an unreadable --answers file: 66" "$RC" 66
expect_eq "… and nothing ran" "$(nruns ask-types)" "$before"

echo "# a bad answer given by an option"
run "$RBC" run --batch --var PR=0 "$F/types.json"
expect_eq "a number under its minimum is refused before anything runs (64)" "$RC" 64
expect_match "… at the ask, naming the variable and the rule" "$ERR" \
	'types\.json:6:44: steps\[1\]\.ask: PR \(the answer to step pr, given\): 0 is less than the minimum 1'
expect_match "… nothing was run" "$ERR" 'nothing was run'
expect_eq "… no run directory" "$(nruns ask-types)" "$before"
run "$RBC" run --batch --var TICKET=chg-1 --var PAGE=maybe --var HOSTS=db-01,web-1 --var SOAK=2h "$F/types.json"
expect_eq "every bad answer refused at once (64)" "$RC" 64
expect_match "… a pattern" "$ERR" 'TICKET .*: "chg-1" does not match the pattern \^CHG-\[0-9\]\+\$'
expect_match "… yes or no" "$ERR" 'PAGE .*: "maybe" is not yes or no'
expect_match "… a list's item" "$ERR" 'HOSTS .*web-1'
expect_match "… a duration's maximum" "$ERR" 'SOAK .*: .*2h'
printf '{ "PR": "many" }\n' >"$TMP/bad.json"
run "$RBC" run --batch --answers "$TMP/bad.json" "$F/types.json"
expect_eq "a bad answer in --answers: 64 with the rule" "$RC" 64
expect_match "… the rule" "$ERR" 'PR \(the answer to step pr, given\): "many" is not a number'

echo "# --assume done"
run "$RBC" run --batch --assume done --var TICKET=CHG-1 --var PR=1 --var HOSTS=db-1 "$F/types.json"
expect_eq "--assume done answers the asks with a default: PASS" "$RC" 0
expect_match "… the default, said so" "$OUT" 'PASS +soak +Soak time — answered 5m by --assume done'
expect_match "… a yesno's default" "$OUT" 'PASS +page +Page the owner\? — answered no by --assume done'
run "$RBC" run --batch --assume done --var PR=1 --var HOSTS=db-1 "$F/types.json"
expect_match "an ask without a default still needs an operator under --assume done" "$OUT" \
	'UNKNOWN +ticket +Ticket — needs operator'

echo "# choices and goto"
run "$RBC" run --batch --var CAUSE=deploy "$F/choices.json"
expect_match "a choice with a goto: the step passes with the choice's label" "$OUT" \
	'PASS +cause +What caused it\? — answered deploy \(The last release\) \(given to the run\)'
expect_match "… and the run jumps to its target" "$OUT" 'JUMP +cause → rollback +answer of cause: answered deploy'
expect_match "… which runs with the answer" "$OUT" 'PASS +rollback +Roll back the release'
expect_nomatch "… the steps between are not run" "$OUT" 'PASS +investigate'
j=$(journal_of ask-choices)
expect_match "the journal has the jump" "$j" '"ev":"jump","step":"ask-choices/cause","number":"1","target":"ask-choices/rollback"'
run "$RBC" run --batch --var CAUSE=database "$F/choices.json"
expect_eq "a choice without a goto: the run goes on in order (PASS)" "$RC" 0
expect_match "… to the next step, which reads the answer" "$OUT" 'PASS +investigate +Investigate database'
expect_nomatch "… and no jump" "$OUT" 'JUMP'
run "$RBC" run --batch --var CAUSE=databse "$F/choices.json"
expect_eq "an answer that is none of the choices: 64" "$RC" 64
expect_match "… with the choices and did you mean" "$ERR" \
	'CAUSE \(the answer to step cause, given\): .*not one of the choices deploy, database, third-party, unknown \(did you mean "database"\?\)'

echo "# a secret answer"
printf 'TOKEN=tok-s3cr3t-42\n' >"$TMP/secret.vars"
run "$RBC" run --batch --vars "$TMP/secret.vars" "$F/secret.json"
expect_eq "a secret answer given in --vars: PASS" "$RC" 0
expect_match "… the step says it was answered, never what" "$OUT" 'PASS +token +Deploy token — answered \(secret\) \(given to the run\)'
d=$(run_dir ask-secret)
for f in md json junit; do "$RBC" export "$d" --format $f >"$TMP/secret.$f"; done
leak=$(grep -rl 's3cr3t' "$d" "$TMP"/secret.md "$TMP"/secret.json "$TMP"/secret.junit 2>/dev/null)
expect_eq "… never in stdout" "$(printf '%s' "$OUT$ERR" | grep -c s3cr3t)" 0
expect_eq "… never in the journal, the outputs or the exports" "$leak" ""
expect_match "… the command got it (masked in its output)" "$(cat "$d"/out/*use*)" 'using ••••'
expect_match "the deployment log's Decisions say (secret) and who gave it" "$(cat "$TMP/secret.md")" \
	'\| ask-secret/token \| Token for the deploy API \| \(secret\) \| given \| [0-9:]+ \|'
run "$RBC" run --batch --var TOKEN=tok-s3cr3t-42 "$F/secret.json"
expect_eq "a secret answer on the command line (ps, shell history) is refused (64)" "$RC" 64
expect_match "… saying where to give it" "$ERR" 'TOKEN is a secret answer: give it in a --vars or --answers file, not with --var'
printf '{ "TOKEN": "nope-s3cr3t" }\n' >"$TMP/badsecret.json"
run "$RBC" run --batch --answers "$TMP/badsecret.json" "$F/secret.json"
expect_eq "a secret answer that breaks its rule: 64" "$RC" 64
expect_match "… with the rule" "$ERR" 'TOKEN \(the answer to step token, given\): "••••" does not match the pattern \^tok-'
expect_nomatch "… the answer masked in the message" "$ERR" 's3cr3t'

echo "# exports"
d=$(first_run ask-choices)
run "$RBC" export "$d" --format md
expect_match "the deployment log lists the decision: step, question, answer, who, when" "$OUT" \
	'\| ask-choices/cause \| Cause of the incident \| deploy \| given \| [0-9]{2}:[0-9]{2}:[0-9]{2} \|'
run "$RBC" export "$d" --format json
expect_match "the JSON export has the answer" "$(printf '%s' "$OUT" | tr -d '\n\t')" \
	'"answer":\{"var":"CAUSE","question":"Cause of the incident","answer":"deploy","by":"given","t":"[^"]+","automatic":true\}'
printf '%s\n' "$OUT" >"$TMP/choices.export.json"
if python3 - "$ROOT/docs/export.schema.json" "$TMP/choices.export.json" >"$TMP/v.out" 2>&1 <<'PY'
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
errs = list(jsonschema.Draft202012Validator(schema).iter_errors(json.load(open(sys.argv[2]))))
for e in errs[:10]:
    print("%s: %s" % (e.json_path, e.message[:200]))
sys.exit(1 if errs else 0)
PY
then ok "… and validates against docs/export.schema.json"
else fail "… and validates against docs/export.schema.json" "$(cat "$TMP/v.out")"; fi
run "$RBC" export "$d" --format junit
expect_match "JUnit's system-out has the question" "$OUT" '^asked: Cause of the incident$'
expect_match "… and the answer, who and when" "$OUT" '^answer: deploy by given at 20[0-9-]+T[0-9:.]+Z$'

echo "# resume"
export GATE=$TMP/gate
"$RBC" run --batch --var CAUSE=database "$F/resume.json" >"$TMP/resume.out" 2>&1 &
pid=$!
for _ in $(seq 1 500); do
	journal_of ask-resume | grep -q '"ev":"step_started","step":"ask-resume/hold"' && break
	sleep 0.02
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
touch "$GATE"
d=$(run_dir ask-resume)
run "$RBC" resume --batch --unfinished rerun "$d"
expect_eq "a run cut short after an answer resumes to PASS" "$RC" 0
expect_match "… going on after the answered ask" "$OUT" 'RESUMED .* going on at ask-resume/hold'
expect_nomatch "… which is not asked again" "$OUT" 'cause +What caused it'
expect_match "… and its answer is the variable again" "$OUT" 'PASS +say +Cause database'
expect_eq "the journal has the answer once" "$(journal_of ask-resume | grep -c '"ev":"capture","step":"ask-resume/cause"')" 1

echo "# rbc --help"
run "$RBC" run --help
expect_match "rbc run --help names --answers" "$OUT" '--answers FILE +the answers to ask steps'
run "$RBC" resume --help
expect_match "rbc resume --help names --answers" "$OUT" '--answers FILE'
run "$RBC" --help
expect_match "rbc --help names --answers for run and resume" "$(printf "%s\n" "$OUT" | grep -c -- "--answers FILE")" "^2$"
t_done
