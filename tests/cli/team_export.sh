#!/usr/bin/env bash
# rbc export RUN --db URL (docs/team.md): a run's journal rebuilt from the
# PostgreSQL history on a machine without its run directory, checked as a
# local journal is, exported in every format. The JSON export equals the
# local one (paths and the rebuilt-from note aside); a row altered in the
# database is refused with its seq, or its text shown escaped; a missing seq
# is named and the export says it is incomplete; an output kept only by the
# driver is said absent where it would be; the temporary directory is gone.
. tests/lib.sh
. tests/pg.sh
trap 'pg_end; rm -rf "$TMP"' EXIT
export RBC_RUNS_DIR=$TMP/runs

pg_begin team-export
run_dir() { printf '%s\n' "$1" | sed -n 's/^run: [^ ]* (\(.*\))$/\1/p'; }

cat >"$TMP/short.json" <<'JSON'
{ "runbook": "short", "title": "Short", "kind": "post-deploy",
  "vars": { "B": "2", "A": "1" },
  "steps": [
    { "id": "one", "title": "One", "run": "echo one" },
    { "id": "fails", "title": "Fails", "run": "echo broken; exit 1", "on_fail": "continue" },
    { "id": "sign", "title": "Sign-off", "manual": "Sign." }
  ] }
JSON
run "$RBC" run --batch --assume done --db "$DB" "$TMP/short.json"
expect_eq "a run stored in the database (FAIL: a step fails)" "$RC" 2
d=$(run_dir "$OUT"); id=$(basename "$d")
"$RBC" export "$id" --format json >"$TMP/local.json"
mkdir -p "$TMP/elsewhere"

# --- the same export from another machine's point of view ---------------------------
TMPDIR=$TMP/scratch; mkdir -p "$TMPDIR"
RBC_RUNS_DIR=$TMP/elsewhere TMPDIR=$TMPDIR run "$RBC" export "$id" --db "$DB" --format json
expect_eq "rbc export --db from a runs directory without the run: exit 0" "$RC" 0
printf '%s\n' "$OUT" >"$TMP/db.json"
expect_eq "the JSON export equals the local one (the rebuilt-from note and paths aside)" \
	"$(python3 - "$TMP/local.json" "$TMP/db.json" <<'PY'
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
fd = b.pop("from_database", None)
def strip(x):
    if isinstance(x, dict): return {k: strip(v) for k, v in x.items() if k != "output"}
    if isinstance(x, list): return [strip(v) for v in x]
    return x
print(strip(a) == strip(b), fd and fd["complete"], fd and fd["outputs_absent"])
PY
)" "True True 2"
expect_eq "… the outputs named as the driver recorded them" \
	"$(python3 -c 'import json,sys; print([s.get("output") for s in json.load(open(sys.argv[1]))["steps"]] == [s.get("output") for s in json.load(open(sys.argv[2]))["steps"]])' "$TMP/local.json" "$TMP/db.json")" True
if command -v python3 >/dev/null && python3 -c 'import jsonschema' 2>/dev/null; then
	expect_eq "… and valid against docs/export.schema.json" \
		"$(python3 -c 'import json,sys,jsonschema; jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1]))); print("valid")' "$ROOT/docs/export.schema.json" "$TMP/db.json" 2>&1 | tail -1)" valid
fi
expect_eq "… and the temporary run directory is gone" "$(ls -A "$TMPDIR" | wc -l)" 0
RBC_RUNS_DIR=$TMP/elsewhere TMPDIR=$TMPDIR run "$RBC" export "$id" --db "$DB" --format md
expect_eq "the Markdown export from the database: exit 0" "$RC" 0
expect_match "… says it was rebuilt from the database" "$OUT" '^> Rebuilt from the database \(rbc export --db\)\.'
expect_match "… and where the failed step's output would be, that the driver keeps it" "$OUT" \
	"this output is not in the database: it is kept in the run directory on the driver's machine"
expect_match "… its failure as locally" "$OUT" '### 2 Fails — FAIL'
RBC_RUNS_DIR=$TMP/elsewhere TMPDIR=$TMPDIR run "$RBC" export "$id" --db "$DB" --format junit
expect_eq "the JUnit export from the database: exit 0 and well-formed" \
	"$RC $(printf '%s\n' "$OUT" | python3 -c 'import sys, xml.dom.minidom as m; d=m.parseString(sys.stdin.read()); print(len(d.getElementsByTagName("testcase")))')" "0 3"
run "$RBC" export "$id" --db "$DB" --format md
RBC_RUNS_DIR=$TMP/elsewhere run "$RBC" export no-such-run --db "$DB" --format json
expect_eq "an unknown run: exit 65" "$RC" 65
expect_match "… saying so" "$ERR" "no run no-such-run in the database"

free=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
RBC_RUNS_DIR=$TMP/elsewhere run "$RBC" export "$id" --db "postgresql://rbc@127.0.0.1:$free/rbc_test" --format json
expect_eq "a database that cannot be reached: exit 69, nothing exported" "$RC $OUT" "69 "
expect_match "… saying why" "$ERR" "rbc: export: the database: connection to server .* failed"

# --- a missing seq ---------------------------------------------------------------------
cp -a "$d" "$TMP/keep"
run "$RBC" run --batch --assume done --db "$DB" "$TMP/short.json"
d2=$(run_dir "$OUT"); id2=$(basename "$d2")
sql "DELETE FROM rbc_events WHERE run = '$id2' AND seq IN (4, 6, 7)" >/dev/null
RBC_RUNS_DIR=$TMP/elsewhere run "$RBC" export "$id2" --db "$DB" --format json
expect_eq "a run with seqs missing in the database still exports" "$RC" 0
expect_match "… saying which are missing on standard error" "$ERR" "incomplete: 3 events are missing from the database \(seq 4, 6-7\)"
expect_eq "… and in the export: incomplete, which seqs, a note at each" \
	"$(printf '%s\n' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); f=d["from_database"]; print(f["complete"], f["missing_seqs"], [n["text"] for n in d["notes"] if n.get("by") == "rbc export"])')" \
	"False 4, 6-7 ['seq 4 is missing from the database: this export is incomplete', 'seq 6 is missing from the database: this export is incomplete', 'seq 7 is missing from the database: this export is incomplete']"
RBC_RUNS_DIR=$TMP/elsewhere run "$RBC" export "$id2" --db "$DB" --format md
expect_match "… the Markdown export says INCOMPLETE at its top" "$(printf '%s\n' "$OUT" | sed -n 3p)" \
	'INCOMPLETE: 3 events are missing from the database \(seq 4, 6-7\)'
RBC_RUNS_DIR=$TMP/elsewhere run "$RBC" export "$id2" --db "$DB" --format junit
expect_match "… and the JUnit export in a comment" "$OUT" '<!-- Rebuilt from the database .* INCOMPLETE: 3 events are missing'

# --- rows altered in the database ----------------------------------------------------------
sql "UPDATE rbc_events SET event = jsonb_set(event, '{verdict}', '5') WHERE run = '$id2' AND seq = 5" >/dev/null
RBC_RUNS_DIR=$TMP/elsewhere run "$RBC" export "$id2" --db "$DB" --format json
expect_eq "a row of the wrong shape is refused: exit 65" "$RC" 65
expect_match "… named by its seq" "$ERR" "the database's run $id2, seq 5 \(rbc_events\): \"verdict\" is not what rbc writes there"
expect_eq "… and nothing is exported" "$OUT" ""
RBC_RUNS_DIR=$TMP/elsewhere TMPDIR=$TMPDIR run "$RBC" export "$id2" --db "$DB" --format md
expect_eq "… and its temporary run directory is gone too" "$RC $(ls -A "$TMPDIR" | wc -l)" "65 0"
sql "UPDATE rbc_events SET seq = 9000 WHERE run = '$id2' AND seq = 5" >/dev/null
sql "UPDATE rbc_events SET event = jsonb_set(event, '{seq}', '12') WHERE run = '$id' AND seq = 3" >/dev/null
RBC_RUNS_DIR=$TMP/elsewhere run "$RBC" export "$id" --db "$DB" --format json
expect_match "a row whose seq is not its own is refused with its seq" "$ERR" "seq 3 \(rbc_events\): seq 12 where 3 was expected"
sql "UPDATE rbc_events SET event = jsonb_set(event, '{seq}', '3') WHERE run = '$id' AND seq = 3" >/dev/null
esc=$(printf '\033')
sql "UPDATE rbc_runs SET header = jsonb_set(header, '{runbooks,0,steps,0,title}', to_jsonb(E'One\\x1b[2Jboom'::text)) WHERE run = '$id'" >/dev/null
sql "UPDATE rbc_events SET event = jsonb_set(event, '{title}', to_jsonb(E'One\\x1b[2Jboom'::text)) WHERE run = '$id' AND event->>'ev' = 'step_started' AND event->>'step' = 'short/one'" >/dev/null
expect_match "(the database now holds an ESC in a title)" "$(sql "SELECT event::text FROM rbc_events WHERE run = '$id' AND seq = 3")" 'u001b\[2Jboom'
RBC_RUNS_DIR=$TMP/elsewhere run "$RBC" export "$id" --db "$DB" --format md
expect_eq "an ESC in a title from the database: exported" "$RC" 0
expect_nomatch "… never raw" "$OUT" "$esc"
expect_match "… shown as text (U+FFFD for the ESC, Markdown escaped)" "$OUT" "One$(printf '\357\277\275')"'\\\[2Jboom'
RBC_RUNS_DIR=$TMP/elsewhere run "$RBC" export "$id" --db "$DB" --format json
expect_nomatch "… in the JSON export escaped too" "$OUT" "$esc"
expect_match "… as \\u001b" "$OUT" 'One\\u001b\[2Jboom'
t_done
