#!/usr/bin/env bash
# Typed variables (docs/runbook-format.md, "Typed variables"): declarations
# are checked by rbc check with their positions; the values a run is given
# (--var, --vars, the defaults) are checked before anything runs, in batch
# and in the console, and a bad one exits 64 naming the variable and its rule,
# with nothing run and no run directory left; an expression comparing a
# variable with a text outside its choices is refused by rbc check.
. tests/lib.sh
export RBC_RUNS_DIR=$TMP/runs
EX=$ROOT/docs/examples/typed-vars.json

# A runbook whose one command leaves a mark: a refused run leaves none.
cat >"$TMP/typed.json" <<JSON
{
  "runbook": "typed",
  "title": "Typed",
  "vars": {
    "MARK": "$TMP/mark",
    "STRATEGY": { "default": "blue-green", "choices": ["blue-green", "rolling"] },
    "VERSION":  { "required": true, "pattern": "^v?\\\\d+\\\\.\\\\d+\\\\.\\\\d+\$" },
    "NODES":    { "type": "list", "default": ["db-01", "db-02"], "pattern": "^db-\\\\d+\$" },
    "REPLICAS": { "type": "number", "min": 1, "max": 50, "default": 3 },
    "SOAK":     { "type": "duration", "min": "1s", "max": "1h", "default": "10s" },
    "DRY_RUN":  { "type": "yesno", "default": false },
    "PORT":     { "type": "number", "choices": [80, 443] },
    "TARGET":   { "default": "\${REGION}-prod", "pattern": "^eu-" },
    "REGION":   "eu"
  },
  "steps": [
    { "id": "mark", "title": "Mark", "run": "printf '%s %s %s %s %s %s %s' \"\$STRATEGY\" \"\$VERSION\" \"\$NODES\" \"\$REPLICAS\" \"\$SOAK\" \"\$DRY_RUN\" \"\$TARGET\" >\"\$MARK\"" }
  ]
}
JSON

expect_rc "a runbook with typed variables is valid" 0 "$RBC" check "$TMP/typed.json"
expect_eq "… with no diagnostics" "$ERR" ""
expect_rc "the documented example is valid" 0 "$RBC" check "$EX"

# refused NAME WANT ARGS...: the batch run exits 64, stderr matches WANT,
# nothing ran and no run directory was made.
refused() {
	local name=$1 want=$2; shift 2
	rm -rf "$TMP/mark" "$RBC_RUNS_DIR"
	run "$RBC" run --batch "$@" "$TMP/typed.json"
	expect_eq "$name: exit 64" "$RC" 64
	expect_match "$name: the variable and its rule are named" "$ERR" "$want"
	expect_match "$name: nothing was run" "$ERR" 'nothing was run$'
	[ ! -e "$TMP/mark" ] && ok "$name: no step ran" || fail "$name: no step ran" "$(cat "$TMP/mark")"
	[ -z "$(ls -A "$RBC_RUNS_DIR" 2>/dev/null)" ] && ok "$name: no run directory left" \
		|| fail "$name: no run directory left" "$(ls "$RBC_RUNS_DIR")"
}
P='typed.json:[0-9]+:[0-9]+: vars\.'

refused "required without a value" "${P}VERSION: VERSION is required and has no value: give it with --var VERSION=… or in a --vars file"
refused "a choice misspelt" \
	"${P}STRATEGY: STRATEGY \(given\): \"bluegreen\" is not one of the choices blue-green, rolling \(did you mean \"blue-green\"\?\)" \
	--var VERSION=1.2.3 --var STRATEGY=bluegreen
refused "a value outside the choices" "STRATEGY \(given\): \"big-bang\" is not one of the choices blue-green, rolling$" \
	--var VERSION=1.2.3 --var STRATEGY=big-bang
refused "a pattern broken" "${P}VERSION: VERSION \(given\): \"1.2\" does not match the pattern \^v\?" --var VERSION=1.2
refused "not a number" "REPLICAS \(given\): \"three\" is not a number" --var VERSION=1.2.3 --var REPLICAS=three
refused "below the minimum" "REPLICAS \(given\): 0 is less than the minimum 1" --var VERSION=1.2.3 --var REPLICAS=0
refused "above the maximum" "REPLICAS \(given\): 51 is more than the maximum 50" --var VERSION=1.2.3 --var REPLICAS=51
refused "not a duration" "SOAK \(given\): \"ten\" is not a duration such as \"30s\"" --var VERSION=1.2.3 --var SOAK=ten
refused "a duration too long" "SOAK \(given\): 2h is more than the maximum 1h" --var VERSION=1.2.3 --var SOAK=2h
refused "a duration too short" "SOAK \(given\): 500ms is less than the minimum 1s" --var VERSION=1.2.3 --var SOAK=500ms
refused "not yes or no" "DRY_RUN \(given\): \"maybe\" is not yes or no" --var VERSION=1.2.3 --var DRY_RUN=maybe
refused "a list item off the pattern" "NODES \(given\): \"web-01\" does not match the pattern" \
	--var VERSION=1.2.3 --var NODES=db-01,web-01
refused "a list that is not JSON" "NODES \(given\): \"\[db-01\" starts with '\[' but is not a JSON array" \
	--var VERSION=1.2.3 '--var=NODES=[db-01'
refused "a number outside its choices" "PORT \(given\): \"8080\" is not one of the choices 80, 443" \
	--var VERSION=1.2.3 --var PORT=8080
refused "a default made bad by the value it uses" "TARGET \(its default\): \"us-prod\" does not match the pattern \^eu-" \
	--var VERSION=1.2.3 --var REGION=us
printf '{"VERSION": "1.2.3", "REPLICAS": 100}\n' >"$TMP/bad.vars"
refused "a --vars file's value" "REPLICAS \(given\): 100 is more than the maximum 50" --vars "$TMP/bad.vars"
rm -rf "$RBC_RUNS_DIR"
run "$RBC" run --batch --var STRATEGY=bluegreen --var REPLICAS=0 "$TMP/typed.json"
expect_match "every bad value is said at once (1)" "$ERR" 'VERSION is required'
expect_match "every bad value is said at once (2)" "$ERR" 'STRATEGY \(given\)'
expect_match "every bad value is said at once (3)" "$ERR" 'REPLICAS \(given\)'
expect_match "… and counted" "$ERR" 'rbc: run: 3 variables without a valid value; nothing was run'

# Accepted: given values that keep the rules, and the defaults.
rm -f "$TMP/mark"
expect_rc "good values run" 0 "$RBC" run --batch --var VERSION=v1.4.2 "$TMP/typed.json"
expect_eq "… with the defaults in force" "$(cat "$TMP/mark")" 'blue-green v1.4.2 ["db-01","db-02"] 3 10s false eu-prod'
rm -f "$TMP/mark"
expect_rc "given values that keep the rules run" 0 "$RBC" run --batch --var VERSION=2.0.0 --var STRATEGY=rolling \
	--var REPLICAS=50 --var SOAK=1h --var DRY_RUN=yes --var 'NODES=db-01 db-07' --var PORT=443.0 "$TMP/typed.json"
expect_eq "… and reach the command" "$(cat "$TMP/mark")" 'rolling 2.0.0 db-01 db-07 50 1h yes eu-prod'
printf '{"VERSION": "1.2.3", "REPLICAS": 7, "NODES": "[\\"db-03\\"]"}\n' >"$TMP/good.vars"
expect_rc "values from a --vars file run" 0 "$RBC" run --batch --vars "$TMP/good.vars" "$TMP/typed.json"
expect_match "… as given" "$(cat "$TMP/mark")" '^blue-green 1.2.3 \["db-03"\] 7 '
expect_rc "the documented example runs with its required variable" 0 \
	"$RBC" run --batch --assume done --var VERSION=v1.4.2 "$EX"
expect_rc "… and is refused without it" 64 "$RBC" run --batch --assume done "$EX"

# The console checks the same values before it opens.
rm -rf "$TMP/mark" "$RBC_RUNS_DIR"
if command -v script >/dev/null; then
	script -qec "$(printf '%q ' "$RBC" run --var STRATEGY=bluegreen --var VERSION=1.2.3 "$TMP/typed.json")" \
		/dev/null </dev/null >"$TMP/console.out" 2>&1
	expect_eq "the console refuses a bad value: exit 64" "$?" 64
	expect_match "… naming the variable and its rule" "$(cat "$TMP/console.out")" \
		'STRATEGY \(given\): "bluegreen" is not one of the choices blue-green, rolling \(did you mean "blue-green"\?\)'
	[ ! -e "$TMP/mark" ] && [ -z "$(ls -A "$RBC_RUNS_DIR" 2>/dev/null)" ] && ok "… with nothing run and no run directory" \
		|| fail "… with nothing run and no run directory"
else
	skip "the console refuses a bad value" "no script(1)"
fi

# rbc check: a comparison with a text outside the choices.
F=$ROOT/tests/fixtures/bad/typed-var-choice-literal.json
run "$RBC" check "$F"
expect_eq "a comparison outside the choices exits 65" "$RC" 65
expect_match "… at the literal, with did you mean" "$ERR" \
	'typed-var-choice-literal.json:8:68: steps\[0\]\.when: "bluegreen" is not one of the choices of STRATEGY \("blue-green", "rolling"\): did you mean "blue-green"\?'
expect_match "… either side of the comparison" "$ERR" ':9:50: steps\[1\]\.when: "Rolling" is not one'
expect_match "… and in a list after in" "$ERR" ':10:76: steps\[2\]\.when: "canary" is not one of the choices of STRATEGY \("blue-green", "rolling"\)$'
expect_nomatch "a text among the choices is fine" "$ERR" '"blue-green" is not'

# The format guide shows what rbc really prints for a refused run.
want=$(awk '/^<!-- output: rbc run --batch --var STRATEGY=bluegreen docs\/examples\/typed-vars.json -->/{f=1; next} f && /^```text/{next} f && /^```/{exit} f' "$ROOT/docs/runbook-format.md")
got=$(cd "$ROOT" && "$RBC" run --batch --var STRATEGY=bluegreen docs/examples/typed-vars.json 2>&1)
expect_eq "the format guide shows the real refusal" "$want" "$got"

# A list variable is a list in expressions: a JSON array's items (numbers
# stay numbers), or the items of a comma- or space-separated text.
cat >"$TMP/lv.json" <<'EOF'
{ "runbook": "lv", "title": "List variables",
  "vars": { "NODES": { "type": "list", "default": ["db-01", "db-02", "web-01"] },
            "PORTS": { "type": "list", "default": "80, 443" },
            "W": { "type": "list", "default": [5, 25, 50] }, "PLAIN": "a,b" },
  "steps": [
    { "id": "n", "title": "count", "run": "true", "expect": "count(vars.NODES, startswith(it, \"db-\")) == 2 && len(vars.NODES) == 3" },
    { "id": "p", "title": "in", "run": "true", "expect": "\"443\" in vars.PORTS && len(vars.PORTS) == 2" },
    { "id": "w", "title": "numbers", "run": "true", "expect": "all(vars.W, it >= 5) && filter(vars.W, it > 20) == [25, 50]" },
    { "id": "plain", "title": "text", "run": "true", "expect": "vars.PLAIN == \"a,b\"" } ] }
EOF
run "$RBC" run --batch "$TMP/lv.json"
expect_eq "list variables are lists in expressions" "$RC" 0
expect_match "… counted with it" "$OUT" 'count\(vars\.NODES, startswith\(it, "db-"\)\) = 2 == 2'
expect_match "… a comma-separated default is its items" "$OUT" '"443" in vars\.PORTS = \["80", "443"\]'
run "$RBC" run --batch --var NODES=db-9,web-2 "$TMP/lv.json"
expect_match "a given value is split the same way" "$OUT" 'count\(vars\.NODES, startswith\(it, "db-"\)\) = 1 != 2'
