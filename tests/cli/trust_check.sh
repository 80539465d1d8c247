#!/usr/bin/env bash
# What rbc accepts from its inputs, and says plainly when it does not:
# - rbc check refuses an expression that reads a field its step's action
#   never produces ("stauts" on an http step, "status" on a command, a
#   field in a `when`), at the field's FILE:LINE:COL, with "did you mean";
#   every shipped runbook, docs example and fixture still passes;
# - the deployment log's Version and Environment come only from the
#   variables the runbooks' "log" key names (a runbook's own vars as the run
#   used them, a given one, a capture); a variable is never taken for them
#   by its name;
# - a --vars file may start with a UTF-8 byte-order mark; a NUL byte in it
#   is refused with its line;
# - rbc resume takes the run's own options again (--assume, --yes,
#   --operator, --var, --vars, …) and says which value wins when one differs;
# - a read-only sql step that can still reach outside the database
#   (COPY … PROGRAM, server files, dblink, …) is a warning in rbc check.
. tests/lib.sh
export RBC_RUNS_DIR=$TMP/runs
FX=$ROOT/tests/fixtures

# ---- fields an action never produces ---------------------------------------
cd "$FX" || exit 1
run "$RBC" check bad/field-unknown.json
expect_eq "a field the action never produces is an error (exit 65)" "$RC" 65
expect_match "… \"stauts\" on an http step, at its column, with a suggestion" "$ERR" \
	'^bad/field-unknown.json:4:93: steps\[0\]\.expect: "stauts" is not a field of http samples \(did you mean "status"\?\)$'
expect_match "… \"status\" on a command, with the fields it has" "$ERR" \
	'bad/field-unknown.json:5:51: steps\[1\]\.expect: "status" is not a field of command samples; they have exit, stdout, stderr, '
expect_match "… inside an aggregate too" "$ERR" \
	'bad/field-unknown.json:7:22: steps\[2\]\.expect: "stauts" is not a field of http samples'
expect_match "… a swapped pair of letters is suggested" "$ERR" \
	'bad/field-unknown.json:7:44: steps\[2\]\.expect: "tiem" is not a field of http samples \(did you mean "time"\?\)'
expect_match "… in a capture" "$ERR" 'bad/field-unknown.json:7:81: steps\[2\]\.capture\.ENV: "jsno" '
expect_match "… in repeat.until" "$ERR" 'bad/field-unknown.json:9:29: steps\[3\]\.repeat\.until: "Status" .*did you mean "status"'
expect_match "… per action: a dns step has addrs, not addr" "$ERR" 'steps\[4\]\.expect: "addr" is not a field of dns samples \(did you mean "addrs"\?\)'
expect_match "… a tcp step has no exit" "$ERR" 'steps\[5\]\.warn: "exit" is not a field of tcp samples'
expect_match "… an sql step has no json" "$ERR" 'steps\[6\]\.expect: "json" is not a field of sql samples'
expect_match "… a prometheus step has no status" "$ERR" 'steps\[7\]\.expect: "status" is not a field of prometheus samples'
expect_nomatch "… a plugin's stdout and perf are fields of nagios samples" "$ERR" 'steps\[8\]'
expect_match "… a when reads no sample at all" "$ERR" \
	'bad/field-unknown.json:15:47: steps\[9\]\.when: "when" is decided before the step runs, with no sample: "env" cannot be read there \(a variable is vars\.env\)'
expect_match "… every problem is counted" "$ERR" 'bad/field-unknown.json: 11 errors, 0 warnings$'
run "$RBC" run --batch bad/field-unknown.json
expect_eq "rbc run refuses it before anything runs (exit 65)" "$RC" 65
want=$(sed -n '/^`rbc check` validates everything/,/^```$/p' "$ROOT/docs/runbook-format.md" | grep '^bad/field-unknown.json:')
missing=$(printf '%s\n' "$want" | grep -vxF -f <(printf '%s\n' "$ERR"))
expect_eq "docs/runbook-format.md shows real lines of rbc check for this fixture" "$missing" ""
expect_match "… (two lines)" "$(printf '%s\n' "$want" | wc -l)" '^2$'
cd "$ROOT" || exit 1

bad=""
for f in runbooks/*.json runbooks/ja/*.json docs/examples/*.json $(find tests/fixtures -name '*.json' -not -path '*/bad/*' -not -name 'cycle-*.json' | sort); do
	"$RBC" check -q "$f" >/dev/null 2>"$TMP/check.err" || bad="$bad$f: $(head -3 "$TMP/check.err")"$'\n'
done
expect_eq "every shipped runbook, docs example and fixture reads only fields its steps have" "$bad" ""

# ---- read-only sql that still reaches outside the database ------------------
cd "$FX" || exit 1
run "$RBC" check warn/sql-reach.json
expect_eq "a read-only query that reaches outside the database is a warning (exit 0)" "$RC" 0
reach() { printf '%s\n' "$ERR" | grep -F "steps[$1].sql.query: warning: " | sed 's/: a read-only transaction does not stop that .*//'; }
expect_eq "… COPY … PROGRAM, at the COPY" "$(reach 0)" \
	'warn/sql-reach.json:5:62: steps[0].sql.query: warning: COPY … PROGRAM runs a command on the database server'
expect_match "… and says read-only does not stop it" "$ERR" \
	'steps\[0\]\.sql\.query: warning: .*: a read-only transaction does not stop that \(it refuses only writes to tables\); connect as a role that may not$'
expect_eq "… lo_export and lo_import, in any case" "$(reach 1 | sed 's/.*warning: //')" \
"lo_export() writes a file on the database server
LO_IMPORT() reads a file on the database server"
expect_eq "… the server's files" "$(reach 2 | sed 's/.*warning: //' | cut -d' ' -f1 | paste -sd' ')" \
	'pg_read_file() pg_ls_dir() pg_read_binary_file()'
expect_match "… COPY to a server file" "$(reach 3)" ':8:86: .*COPY with a file name reads or writes a file on the database server'
expect_match "… dblink" "$(reach 4)" 'dblink\(\) runs SQL over a connection of its own'
expect_match "… a role that runs programs" "$(reach 5)" 'pg_execute_server_program lets a session run programs on the server'
expect_match "… dynamic SQL in a DO block" "$(reach 6)" ':11:84: .*COPY … PROGRAM'
expect_match "… other sessions" "$(reach 7)" 'pg_terminate_backend\(\) ends other sessions'
expect_eq "… not for a step that writes on purpose, COPY TO STDOUT or a column named program" \
	"$(reach 8; reach 9; reach 10)" ""
expect_match "… 11 warnings in all" "$OUT" '\(11 warnings\)$'
expect_rc "… which --strict refuses" 65 "$RBC" check --strict warn/sql-reach.json
want=$(sed -n '/^"Read-only" is a transaction mode/,/^```$/p' "$ROOT/docs/runbook-format.md" | grep '^warn/sql-reach.json:')
run "$RBC" check warn/sql-reach.json
expect_eq "docs/runbook-format.md shows a real line of it" "$(printf '%s\n' "$ERR" | grep -xF -- "$want")" "$want"
expect_eq "… (one line)" "$(printf '%s\n' "$want" | grep -c '^warn/sql-reach.json:[0-9]*:[0-9]*: ')" 1
cd "$ROOT" || exit 1

# ---- --vars files: a byte-order mark, a NUL ---------------------------------
cat >"$TMP/show.json" <<'EOF'
{ "runbook": "show-vars", "title": "Show the variables",
  "steps": [ { "id": "show", "title": "Version ${VERSION}", "run": "printf '%s|%s\\n' \"$VERSION\" \"$NOTE\"",
               "expect": "stdout == \"1.5.0|release day\\n\"" } ] }
EOF
printf '\xef\xbb\xbf# written on Windows\r\nVERSION=1.5.0\r\nNOTE=release day\r\n' >"$TMP/bom.env"
run "$RBC" run --batch --vars "$TMP/bom.env" "$TMP/show.json"
expect_eq "a NAME=VALUE --vars file starting with a UTF-8 byte-order mark is read" "$RC" 0
expect_match "… its first name is VERSION, not the mark and VERSION" "$OUT" '^PASS +show  Version 1\.5\.0 — stdout = "1\.5\.0\|release day\\n"'
printf '\xef\xbb\xbf{"VERSION": "1.5.0", "NOTE": "release day"}\n' >"$TMP/bom.json"
run "$RBC" run --batch --vars "$TMP/bom.json" "$TMP/show.json"
expect_eq "a JSON --vars file starting with a byte-order mark is read" "$RC" 0
printf 'VERSION=1.5.0\n# the note\nNOTE=release\0day\n' >"$TMP/nul.env"
run "$RBC" run --batch --vars "$TMP/nul.env" "$TMP/show.json"
expect_eq "a NUL byte in a --vars value is refused (exit 65), nothing runs" "$RC:$OUT" "65:"
expect_eq "… with its line" "$ERR" "$TMP/nul.env:3: a NUL byte: a value cannot hold one (it would end there)"
printf '{\n  "VERSION": "1.5.0",\n  "NOTE": "release\\u0000day"\n}\n' >"$TMP/nul.json"
run "$RBC" run --batch --vars "$TMP/nul.json" "$TMP/show.json"
expect_eq "a \\u0000 escape in a JSON --vars file is refused (exit 65)" "$RC:$OUT" "65:"
expect_eq "… at its line and column" "$ERR" "$TMP/nul.json:3:19: NOTE: '\\u0000' is not allowed in text (it would end it there)"
printf '\xff\xfeV\0E\0R\0=\x001\0\n\0' >"$TMP/utf16.env"
run "$RBC" run --batch --vars "$TMP/utf16.env" "$TMP/show.json"
expect_eq "a UTF-16 --vars file is refused as such" "$RC:$ERR" \
	"65:$TMP/utf16.env:1: the file is UTF-16 (it starts with a byte-order mark FF FE): save it as UTF-8"
printf 'VERSION=1.5.0\nNOTE=caf\xe9\n' >"$TMP/latin1.env"
run "$RBC" run --batch --vars "$TMP/latin1.env" "$TMP/show.json"
expect_eq "bytes that are not UTF-8 are refused with their line" "$RC:$ERR" \
	"65:$TMP/latin1.env:2: bytes that are not UTF-8: a --vars file is UTF-8 text"

# ---- the deployment log's Version and Environment ---------------------------
export_json_valid() {
	python3 - "$ROOT/docs/export.schema.json" "$1" <<'PY'
import json, sys, jsonschema
errs = list(jsonschema.Draft202012Validator(json.load(open(sys.argv[1]))).iter_errors(json.load(open(sys.argv[2]))))
for e in errs[:10]:
    print('/'.join(str(p) for p in e.absolute_path), e.message[:200])
sys.exit(1 if errs else 0)
PY
}
run_id() { printf '%s\n' "$OUT" | sed -n 's/^run: \([^ ]*\) .*/\1/p'; }
md_head() { "$RBC" export "$1" --format md | grep -E '^\*\*(Version|Environment)\*\*'; }

cat >"$TMP/own-version.json" <<'EOF'
{ "runbook": "own-version", "title": "A release with its version in its vars",
  "log": { "version": "${VERSION}" },
  "vars": { "VERSION": "2.0.1" },
  "steps": [ { "id": "build", "title": "Build ${VERSION}", "run": "true" } ] }
EOF
run "$RBC" run --batch "$TMP/own-version.json"
id=$(run_id)
expect_eq "Version is the runbook's own VERSION when none is given" "$(md_head "$id")" \
"**Version**: 2.0.1
**Environment**: —"
run "$RBC" run --batch --var VERSION=2.0.2 "$TMP/own-version.json"
expect_eq "… and the given one when one is" "$(md_head "$(run_id)")" \
"**Version**: 2.0.2
**Environment**: —"

cat >"$TMP/no-log.json" <<'EOF'
{ "runbook": "no-log", "title": "A release that does not say what fills its log",
  "vars": { "VERSION": "2.0.1", "ENVIRONMENT": "staging", "LIVE_ENV": "blue" },
  "steps": [ { "id": "build", "title": "Build ${VERSION}", "run": "true" } ] }
EOF
run "$RBC" run --batch --var RELEASE=2.0.3 "$TMP/no-log.json"
expect_eq "without \"log\", no variable is taken for Version or Environment by its name: both are —" \
	"$(md_head "$(run_id)")" "**Version**: —
**Environment**: —"
expect_eq "… and null in the JSON export" \
	"$("$RBC" export "$(run_id)" --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["log"])')" \
	"{'version': None, 'environment': None}"

cat >"$TMP/release.json" <<'EOF'
{ "runbook": "release", "title": "Release",
  "log": { "version": "${RELEASE_TAG}", "environment": "${LIVE_COLOUR}" },
  "vars": { "RELEASE_TAG": "v7.3.0", "VERSION": "not this one" },
  "steps": [ { "id": "live", "title": "Which colour is live", "run": "echo blue",
               "capture": { "LIVE_COLOUR": "match(stdout, /(\\w+)/)" } } ] }
EOF
cat >"$TMP/switch.json" <<'EOF'
{ "runbook": "switch", "title": "Switch",
  "log": { "version": "${NEVER_SET}", "environment": "${NOW_LIVE}" },
  "vars": { "SWITCH": "yes" },
  "steps": [ { "id": "switch", "title": "Switch traffic", "when": "vars.SWITCH == \"yes\"", "run": "echo green",
               "capture": { "NOW_LIVE": "match(stdout, /(\\w+)/)" } } ] }
EOF
run "$RBC" run --batch "$TMP/release.json" "$TMP/switch.json"
expect_eq "a runbook's \"log\" names the variables of Version and Environment" "$RC" 0
idl=$(run_id)
expect_eq "… the last runbook whose variables have values gives each field (a capture, a default)" "$(md_head "$idl")" \
"**Version**: v7.3.0
**Environment**: green"
run "$RBC" run --batch --var SWITCH=no --var RELEASE_TAG=v7.3.1 "$TMP/release.json" "$TMP/switch.json"
expect_eq "… one whose variable was never set gives nothing: the one before counts" "$(md_head "$(run_id)")" \
"**Version**: v7.3.1
**Environment**: blue"
"$RBC" export "$idl" --format json -o "$TMP/log.json"
expect_eq "the JSON export has them as log.version and log.environment" \
	"$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["log"]["version"], d["log"]["environment"], d["runbooks"][0]["log"]["version"], d["runbooks"][0]["vars"]["RELEASE_TAG"])' "$TMP/log.json")" \
	'v7.3.0 green ${RELEASE_TAG} v7.3.0'
if out=$(export_json_valid "$TMP/log.json"); then ok "… and validates against docs/export.schema.json"
else fail "… and validates against docs/export.schema.json" "$out"; fi

cat >"$TMP/log-bad.json" <<'EOF'
{ "runbook": "log-bad", "title": "Bad log",
  "log": { "versoin": "${VERSION}", "environment": "${env:DEPLOY_ENV}" },
  "vars": { "VERSION": "1" },
  "steps": [ { "id": "a", "title": "A", "run": "true" } ] }
EOF
run "$RBC" check "$TMP/log-bad.json"
expect_eq "rbc check refuses a log key it does not know, and \${env:…} in it" "$RC:$ERR" \
"65:$TMP/log-bad.json:2:12: log.versoin: unknown key \"versoin\" (did you mean \"version\"?)
$TMP/log-bad.json:2:52: log.environment: the log is filled from the run's record, which keeps variables, not the environment: set a variable to \${env:…} in \"vars\" and name that
$TMP/log-bad.json: 2 errors, 0 warnings"
bad=""
for f in runbooks/pre-deploy.json runbooks/deploy.json runbooks/post-deploy.json runbooks/rollback.json runbooks/incident.json \
	runbooks/ja/pre-deploy.json runbooks/ja/deploy.json runbooks/ja/post-deploy.json runbooks/ja/rollback.json runbooks/ja/incident.json; do
	grep -q '^  "log": { ' "$f" || bad="$bad $f"
done
expect_eq "the shipped runbooks say what fills their log" "$bad" ""

# ---- rbc resume takes the run's own options again ----------------------------
cat >"$TMP/resumable.json" <<'EOF'
{ "runbook": "resumable", "title": "A run stopped halfway",
  "vars": { "VERSION": "1.4.2" }, "secrets": ["DEPLOY_TOKEN"],
  "steps": [
    { "id": "wait", "title": "Wait for the window",
      "run": "if [ -e \"$MARK\" ]; then exit 0; fi; touch \"$MARK\"; exec sleep 30" },
    { "id": "sign", "title": "Sign-off", "manual": "Sign the release off." },
    { "id": "switch", "title": "Switch traffic", "run": "true", "confirm": "Switch traffic now?" },
    { "id": "show", "title": "Version ${VERSION}", "run": "echo \"$VERSION $EXTRA\"",
      "expect": "stdout == \"1.4.2 new\\n\"" }
  ] }
EOF
# stopped ARGS...: starts a batch run of resumable.json and stops it (SIGTERM)
# in its first step; prints the run id.
stopped() {
	local mark=$TMP/mark.$RANDOM
	"$RBC" run --batch --var MARK="$mark" "$@" "$TMP/resumable.json" >"$TMP/stopped.out" 2>&1 &
	local pid=$! n=0
	while [ ! -e "$mark" ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n + 1)); done
	kill -TERM "$pid"
	wait "$pid"
	sed -n 's/^run: \([^ ]*\) .*/\1/p' "$TMP/stopped.out"
}
rid=$(stopped)
run "$RBC" resume --batch --assume done --yes --var VERSION=9.9.9 --var EXTRA=new "$rid"
expect_eq "rbc resume RUN --assume done --yes --var … is accepted and the run ends" "$RC" 0
expect_match "… --assume done answers the manual step" "$OUT" '^PASS +sign  Sign-off — assumed done \(--assume done\)'
expect_match "… --yes confirms" "$OUT" '^CONFIRMED +switch  Switch traffic — --yes'
expect_match "… the run keeps its VERSION; EXTRA, new to the run, is taken" "$OUT" '^PASS +show  Version 1\.4\.2 — stdout = "1\.4\.2 new\\n"'
expect_eq "… and it says which value wins where one differs" "$ERR" \
"rbc: resume: VERSION stays 1.4.2, the run's value; the 9.9.9 given now is not taken (a run keeps its variables: a new run changes them)
rbc: resume: --assume done from now on (the run started without --assume)
rbc: resume: --yes from now on (the run started without it)"

rid=$(stopped --assume skip --yes --operator alice --var EXTRA=new)
run "$RBC" resume --batch --assume=skip -y --operator alice --var EXTRA=new "$rid"
expect_eq "the same options again are fine, --NAME=VALUE too, and say nothing" "$RC:$ERR" "0:"
expect_match "… the run's --assume skip acts" "$OUT" '^SKIPPED +sign  Sign-off'
rid=$(stopped --assume skip --operator alice --var EXTRA=new)
run "$RBC" resume --batch --assume done --operator=bob --severity L1 "$rid"
expect_eq "a different --assume and --operator: the ones given now win, and it says so" "$ERR" \
"rbc: resume: --assume done from now on (the run started with --assume skip)
rbc: resume: bob answers from now on (the run was started by alice)
rbc: resume: --severity L1 is not taken: the run has no incident runbook"
expect_match "… --assume done answers the manual step" "$OUT" '^PASS +sign  Sign-off — assumed done'
expect_eq "… and the record says bob resumed it" "$("$RBC" export "$rid" --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["resumes"][0]["operator"])')" "bob"
run "$RBC" resume --batch --assume maybe "$rid"
expect_eq "a bad --assume is a usage error (64)" "$RC:$ERR" "64:rbc: resume: --assume takes done or skip, not 'maybe'"
run "$RBC" resume --batch --var DEPLOY_TOKEN=abc "$rid"
expect_eq "a secret given with --var is refused as rbc run refuses it (64)" "$RC:$ERR" \
	"64:rbc: resume: DEPLOY_TOKEN is a secret: give it in the environment or a --vars file, not with --var"
run "$RBC" resume --batch --frobnicate "$rid"
expect_eq "an option rbc resume does not know is still refused (64)" "$RC" 64
expect_match "rbc resume --help lists the run's options" "$("$RBC" resume --help)" '--assume done\|skip.*'

# A Version built from another variable a step captures: the effective value.
cat >"$TMP/builtver.json" <<'JSON'
{ "runbook": "builtver", "title": "Version from a capture", "vars": { "VERSION": "${BUILD}" },
  "log": { "version": "${VERSION}" },
  "steps": [ { "id": "s", "title": "Build", "run": "echo 7.7.7", "capture": { "BUILD": "match(stdout, /(\\S+)/)" } },
             { "id": "t", "title": "Deploying ${VERSION}", "run": "true" } ] }
JSON
run "$RBC" run --batch "$TMP/builtver.json"
rid=$(run_id)
expect_match "a title shows the version built from a capture" "$OUT" 'Deploying 7\.7\.7'
expect_match "… and so does the deployment log's Version" "$("$RBC" export "$rid" --format md)" '^\*\*Version\*\*: 7\.7\.7$'

t_done
