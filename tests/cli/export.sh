#!/usr/bin/env bash
# rbc export RUN --format json: the record of a run from its journal alone,
# valid against docs/export.schema.json (checked with a real JSON Schema
# validator), its facts those of the run, written atomically with mode 0600,
# no secret in it and the masked values counted; an interrupted run exports
# too; a damaged journal is refused with its line.
. tests/lib.sh
F=$ROOT/tests/fixtures/journal
export RBC_RUNS_DIR=$TMP/runs
secret="tok-$RANDOM-$RANDOM-secret"
validate() {
	python3 - "$ROOT/docs/export.schema.json" "$1" <<'PY'
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
errs = list(jsonschema.Draft202012Validator(schema).iter_errors(json.load(open(sys.argv[2]))))
for e in errs[:10]:
    print("%s: %s" % (e.json_path, e.message[:200]))
sys.exit(1 if errs else 0)
PY
}

API_TOKEN=$secret run "$RBC" run --batch --assume done "$F/steps.json"
id=$(printf '%s\n' "$OUT" | sed -n 's/^run: \([^ ]*\) .*/\1/p')
expect_rc "rbc export RUN --format json -o FILE" 0 "$RBC" export "$id" --format json -o "$TMP/run.json"
expect_eq "… the file has mode 0600" "$(stat -c %a "$TMP/run.json")" 600
expect_eq "… and no temporary file is left beside it" "$(ls "$TMP" | grep -c '\.tmp\.')" 0
if validate "$TMP/run.json" >"$TMP/v.out"; then ok "the export validates against docs/export.schema.json"
else fail "the export validates against docs/export.schema.json" "$(cat "$TMP/v.out")"; fi
facts=$(python3 - "$TMP/run.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
st = {s["id"].split("/")[-1]: s for s in d["steps"]}
print("verdict=%s state=%s" % (d["verdict"], d["state"]))
print("steps=%s" % ",".join("%s:%s" % (k, st[k]["verdict"]) for k in ["first", "secret", "fails", "sign", "nap", "last"]))
print("sign_by=%s" % st["sign"]["by"])
print("capture=%s" % json.dumps(st["secret"]["captures"], ensure_ascii=False))
print("explain=%s" % st["fails"]["explanation"])
print("counts=%s" % json.dumps(d["counts"], sort_keys=True))
print("masked=%d" % d["masked_values"])
print("timeline_last=%s" % d["timeline"][-1]["ev"])
print("sha=%s" % d["runbooks"][0]["sha256"])
PY
)
expect_match "… with the run's verdict and state" "$facts" 'verdict=FAIL state=finished'
expect_match "… every step's verdict" "$facts" 'steps=first:PASS,secret:PASS,fails:FAIL,sign:PASS,nap:PASS,last:PASS'
expect_match "… who answered the manual step" "$facts" 'sign_by=--assume done'
expect_match "… the failure's explanation" "$facts" 'explain=exit = 3 != 0'
expect_match "… captures, masked" "$facts" 'capture=\[\{"name": "TOKEN_SEEN", "value": "••••"\}\]'
expect_match "… the counts" "$facts" 'counts=\{"CANCELLED": 0, "ERROR": 0, "FAIL": 1, "PASS": 5, "SKIPPED": 0, "UNKNOWN": 0, "WARN": 0, "not_run": 0, "steps": 6, "unfinished": 0\}'
expect_match "… the timeline ends with run_finished" "$facts" 'timeline_last=run_finished'
expect_match "… the runbook's sha256" "$facts" "sha=$(sha256sum "$F/steps.json" | cut -c1-64)"
n=$(grep -o '••••' "$RBC_RUNS_DIR/$id/journal.jsonl" | wc -l)
expect_match "… the masked values counted ($n in the journal)" "$facts" "masked=$n\$"
[ "$n" -ge 2 ] && ok "… and there are some ($n)" || fail "the run masked its secret" "$n masked values"
if grep -qF "$secret" "$TMP/run.json"; then fail "the secret is not in the export"; else ok "the secret is not in the export"; fi
run "$RBC" export "$RBC_RUNS_DIR/$id" --format json
expect_eq "the run's directory works as RUN too, to standard output" "$OUT" "$(cat "$TMP/run.json")"

# JUnit XML, checked against the XSD in tests/ by xmllint.
expect_rc "rbc export RUN --format junit -o FILE" 0 "$RBC" export "$id" --format junit -o "$TMP/run.xml"
if command -v xmllint >/dev/null; then
	run xmllint --noout --schema "$ROOT/tests/junit.xsd" "$TMP/run.xml"
	expect_eq "the JUnit file validates against tests/junit.xsd (xmllint)" "$RC" 0
else
	fail "xmllint is installed" "make deps installs libxml2-utils"
fi
junit=$(python3 - "$TMP/run.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
s = r.find("testsuite")
print("suite=%s tests=%s failures=%s errors=%s skipped=%s" % (s.get("name"), s.get("tests"), s.get("failures"), s.get("errors"), s.get("skipped")))
for c in s.findall("testcase"):
    f = c.find("failure")
    print("case=%s|%s|%s" % (c.get("name"), f.get("type") + ":" + f.text if f is not None else "ok", (c.findtext("system-out") or "").split("\n")[0]))
PY
)
expect_match "a suite per runbook with its counts" "$junit" 'suite=journal tests=6 failures=1 errors=0 skipped=0'
expect_match "a testcase per step; the failure text is the explanation" "$junit" 'case=3 A failing check\|FAIL:exit = 3 != 0\|'
expect_match "… a passing step has none" "$junit" 'case=1 First step\|ok\|PASS'
expect_match "… special characters survive the escaping" "$junit" 'case=6 Last step: "done" & <over>\|ok'
if grep -qF "$secret" "$TMP/run.xml"; then fail "the secret is not in the JUnit file"; else ok "the secret is not in the JUnit file"; fi
expect_eq "… mode 0600" "$(stat -c %a "$TMP/run.xml")" 600

# The Markdown deployment log, section by section.
API_TOKEN=$secret run "$RBC" run --batch --assume done --operator alice --var VERSION=2.4.1 \
	--var ENVIRONMENT=staging "$F/steps.json"
idm=$(printf '%s\n' "$OUT" | sed -n 's/^run: \([^ ]*\) .*/\1/p')
expect_rc "rbc export RUN --format md -o FILE" 0 "$RBC" export "$idm" --format md -o "$TMP/log.md"
expect_eq "… mode 0600" "$(stat -c %a "$TMP/log.md")" 600
MD=$(cat "$TMP/log.md")
section() { printf '%s\n' "$MD" | awk -v h="## $1" '$0 == h {f=1; next} f && /^## /{exit} f'; }
expect_eq "it opens like the deployment-log template" "$(printf '%s\n' "$MD" | sed -n '1p;4,6p;8p')" \
"# Deployment Log
**Version**: 2.4.1
**Deployed By**: alice
**Environment**: staging
**Result**: ❌ FAIL"
expect_match "… with the date, start → end (UTC)" "$MD" '\*\*Date\*\*: [0-9-]{10}T[0-9:]{8}Z → [0-9-]{10}T[0-9:.]{12}Z \(UTC\)'
expect_match "… and the run" "$MD" "\*\*Run\*\*: $idm \(rbc [0-9.]+ on "
expect_eq "the summary: one line per phase, with ✅/⚠️/❌/⏭" "$(section 'Deployment Summary' | grep .)" "- Journal: ❌ 5 passed, 1 failed"
tbl=$(section Journal)
expect_match "a table per phase: step, verdict, measured vs threshold, operator, start → end" "$tbl" \
	'^\| # \| Step \| Verdict \| Measured vs threshold \| Operator \| Start → End \(UTC\) \|$'
expect_match "… the failed step's row" "$tbl" '^\| 3 \| A failing check \| ❌ FAIL \| exit = 3 != 0 \|  \| [0-9:]{8} → [0-9:]{8} \|$'
expect_match "… the manual step's operator" "$tbl" '^\| 4 \| Sign-off \| ✅ PASS \| assumed done \(--assume done\) \| --assume done \|'
expect_match "… titles as text, never HTML" "$tbl" '^\| 6 \| Last step: "done" &amp; &lt;over&gt; \| ✅ PASS'
expect_eq "… six rows" "$(printf '%s\n' "$tbl" | grep -c '^| [0-9]')" 6
expect_eq "manual steps and notes" "$(section 'Manual Steps and Notes' | grep .)" "- 4 Sign-off — done by --assume done"
expect_eq "failures, with the explanation" "$(section Failures | grep .)" "### 3 A failing check — FAIL
exit = 3 != 0"
expect_match "captures, masked" "$(section Captures)" '^\| TOKEN_SEEN \| •••• \| journal/secret \|$'
expect_eq "no rollback here, and it says so" "$(section Rollback | grep .)" "None: no on_fail jump and no watch fired."
expect_match "the timeline ends with the run's end" "$(section Timeline | grep . | tail -1)" '^\| [0-9T:.Z-]+ \| run_finished \|  \| FAIL'
expect_match "metrics: the counts" "$(section Metrics)" '^- Steps: 6 — 5 passed, 0 warn, 1 failed, 0 unknown, 0 error, 0 skipped, 0 cancelled, 0 not finished, 0 not run$'
expect_match "… and the masked values counted" "$(section Metrics)" '^- Masked values: 3 '
expect_match "next steps" "$(section 'Next Steps')" '^- Investigate the failures above'
if grep -qF "$secret" "$TMP/log.md"; then fail "the secret is not in the deployment log"; else ok "the secret is not in the deployment log"; fi
# A rollback says what triggered it, verbatim; a failure shows its output.
run "$RBC" run --batch --assume done "$ROOT/docs/examples/batch.json"
idr=$(printf '%s\n' "$OUT" | sed -n 's/^run: \([^ ]*\) .*/\1/p')
run "$RBC" export "$idr" --format md
MD=$OUT
expect_match "the rollback's trigger, verbatim" "$(section Rollback)" \
	'^- [0-9:]{8} UTC — example-batch/smoke → example-batch/rollback: on_fail of smoke: exit = 1 != 0 \(on_fail\)$'
expect_match "a failure's last lines of output" "$(section Failures)" 'Last lines of its output:'
expect_match "… the output itself" "$(section Failures)" 'GET /api/health -> 503'
expect_match "the version from a capture" "$MD" '\*\*Version\*\*: 1\.4\.2'
expect_match "a step the run never reached is in the log, as not run" "$MD" '^\| 4 \| Release announced \| ⏭ not run \|'
expect_match "… and in the summary" "$(section 'Deployment Summary')" '1 failed, 1 not run$'

# An interrupted run exports what it recorded.
mark="rbc-export-$$-$RANDOM"
ls "$RBC_RUNS_DIR" | sort >"$TMP/before"
"$RBC" run --batch --assume done --var NAP=60 --var MARK="$mark" "$F/steps.json" >"$TMP/b.out" 2>&1 &
pid=$!
for _ in $(seq 1 500); do grep -q '^PASS *sign' "$TMP/b.out" && break; sleep 0.02; done
kill -9 $pid; wait $pid 2>/dev/null; pkill -9 -f "$mark" 2>/dev/null
id2=$(ls "$RBC_RUNS_DIR" | sort | comm -13 "$TMP/before" -)   # the run just started, whatever its name sorts as
run "$RBC" export "$id2" --format json -o "$TMP/int.json"
expect_eq "an interrupted run exports" "$RC" 0
if validate "$TMP/int.json" >"$TMP/v.out"; then ok "… validly"; else fail "… validly" "$(cat "$TMP/v.out")"; fi
expect_match "… as interrupted, without a verdict, the nap unfinished" \
	"$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["state"], d["verdict"], [s["state"] for s in d["steps"] if s["id"].endswith("/nap")])' "$TMP/int.json")" \
	"^interrupted None \['running'\]$"
expect_match "… the step never reached listed as pending" \
	"$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print([s["state"] for s in d["steps"] if s["id"].endswith("/last")], d["counts"]["not_run"])' "$TMP/int.json")" \
	"^\['pending'\] 1$"

run "$RBC" export "$id2" --format junit -o "$TMP/int.xml"
expect_eq "an interrupted run exports as JUnit" "$RC" 0
run xmllint --noout --schema "$ROOT/tests/junit.xsd" "$TMP/int.xml"
expect_eq "… validly" "$RC" 0
expect_match "… its unfinished step skipped, saying so" "$(cat "$TMP/int.xml")" '<testcase name="5 Naps"[^>]*>
      <skipped message="running"/>'

# Refusals.
expect_rc "an unknown format (64)" 64 "$RBC" export "$id" --format pdf
expect_match "… and says which there are" "$ERR" 'unknown format \(md, json, junit, incident-md, incident-json, postmortem\)'
expect_rc "an unknown run (65)" 65 "$RBC" export 20000101T000000Z-nothing-0000 --format json
expect_match "… named" "$ERR" 'no run 20000101T000000Z-nothing-0000'
mkdir -p "$TMP/damaged"
cp -r "$RBC_RUNS_DIR/$id" "$TMP/damaged/$id"
sed -i '3s/.*/garbage/' "$TMP/damaged/$id/journal.jsonl"
expect_rc "a damaged journal is refused (65)" 65 "$RBC" export "$TMP/damaged/$id" --format json
expect_match "… with its line" "$ERR" 'journal\.jsonl:3: not a JSON event'
t_done
