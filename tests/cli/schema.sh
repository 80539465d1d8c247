#!/usr/bin/env bash
# tests/cli/schema.sh — the runbook JSON Schema and the runbooks that ship.
#
# - docs/runbook.schema.json is a valid JSON Schema 2020-12 and documents every
#   property of every closed object;
# - every runbooks/*.json, runbooks/ja/*.json and docs/examples/*.json
#   validates against it
#   (comments stripped first, duplicate keys refused, as rbc does);
# - the schema rejects typical mistakes (and accepts the good base they start from);
# - every example block in docs/runbook-format.md is byte-for-byte its file;
# - when the rbc binary has `check`, `rbc check --strict` accepts every runbook
#   and example without a warning.
#
# The validator is Debian's python3-jsonschema, run as /usr/bin/python3.
. tests/lib.sh

SCHEMA=docs/runbook.schema.json
DOC=docs/runbook-format.md
PY=/usr/bin/python3

cat >"$TMP/rbs.py" <<'EOF'
import json, re, sys

def strip_comments(text):
    """Blanks // and /* */ comments outside strings; keeps every newline so
    that line numbers of later errors still match the original file."""
    out, i, n = [], 0, len(text)
    in_str = False
    while i < n:
        c = text[i]
        if in_str:
            out.append(c)
            if c == '\\' and i + 1 < n:
                out.append(text[i + 1]); i += 2; continue
            if c == '"':
                in_str = False
            i += 1
        elif c == '"':
            in_str = True; out.append(c); i += 1
        elif text.startswith('//', i):
            j = text.find('\n', i)
            j = n if j < 0 else j
            out.append(' ' * (j - i)); i = j
        elif text.startswith('/*', i):
            j = text.find('*/', i + 2)
            if j < 0:
                raise ValueError('unterminated /* comment')
            out.append(re.sub(r'[^\n]', ' ', text[i:j + 2])); i = j + 2
        else:
            out.append(c); i += 1
    return ''.join(out)

def no_duplicates(pairs):
    seen = {}
    for k, v in pairs:
        if k in seen:
            raise ValueError('duplicate key %r' % k)
        seen[k] = v
    return seen

def load_text(text):
    return json.loads(strip_comments(text), object_pairs_hook=no_duplicates)

def load(path):
    with open(path, encoding='utf-8') as f:
        return load_text(f.read())

def validator(schema_path):
    import jsonschema
    schema = load(schema_path)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)

def report(errors):
    for e in sorted(errors, key=lambda e: list(e.absolute_path)):
        where = '/'.join(str(p) for p in e.absolute_path) or '(root)'
        print('%s: %s' % (where, e.message[:300]))

def cmd_check_schema(schema_path):
    validator(schema_path)

def cmd_descriptions(schema_path):
    """Every property of every closed object (additionalProperties: false)
    carries a description, so editors can show help for it."""
    missing = []
    def walk(node, path):
        if isinstance(node, dict):
            if node.get('additionalProperties') is False:
                for name, sub in node.get('properties', {}).items():
                    if isinstance(sub, dict) and not sub.get('description'):
                        missing.append(path + '/properties/' + name)
            for k, v in node.items():
                walk(v, path + '/' + k)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, path + '/' + str(i))
    walk(load(schema_path), '#')
    if missing:
        print('\n'.join(missing)); sys.exit(1)

def cmd_validate(schema_path, path):
    v = validator(schema_path)
    doc = load_text(sys.stdin.read()) if path == '-' else load(path)
    errors = list(v.iter_errors(doc))
    if errors:
        report(errors); sys.exit(1)

FENCE = re.compile(r'^```(json|jsonc)\s*$')
MARK = re.compile(r'^<!-- example: (\S+) -->\s*$')

def doc_blocks(doc_path):
    """Yields (marker file or None, block text, line) for every json block."""
    lines = open(doc_path, encoding='utf-8').read().split('\n')
    i = 0
    while i < len(lines):
        if FENCE.match(lines[i]):
            m = MARK.match(lines[i - 1]) if i > 0 else None
            j = i + 1
            while j < len(lines) and lines[j] != '```':
                j += 1
            yield (m.group(1) if m else None, '\n'.join(lines[i + 1:j]) + '\n', i + 1)
            i = j + 1
        else:
            i += 1

def cmd_doc_files(doc_path):
    for name, _, line in doc_blocks(doc_path):
        print(name if name else 'UNMARKED:%d' % line)

def cmd_doc_block(doc_path, name):
    found = [b for n, b, _ in doc_blocks(doc_path) if n == name]
    if not found:
        print('no block marked %s' % name); sys.exit(1)
    want = open(name, encoding='utf-8').read()
    for b in found:
        if b != want:
            import difflib
            sys.stdout.writelines(list(difflib.unified_diff(
                want.splitlines(True), b.splitlines(True), name, 'doc block'))[:40])
            sys.exit(1)

def cmd_conventions(path):
    """The shipped runbooks name every step with a kebab-case id (readable
    goto: targets and log lines) and point $schema at the schema file."""
    import os
    doc = load(path)
    bad = []
    target = os.path.normpath(os.path.join(os.path.dirname(path), doc.get('$schema', '')))
    if not doc.get('$schema') or not os.path.samefile(target, 'docs/runbook.schema.json'):
        bad.append('$schema does not point at docs/runbook.schema.json')
    def walk(steps, where):
        for i, s in enumerate(steps):
            w = '%s[%d]' % (where, i)
            if not re.match(r'^[a-z0-9]+(-[a-z0-9]+)*$', s.get('id', '')):
                bad.append('%s (%s): no kebab-case id' % (w, s.get('title')))
            walk(s.get('steps', []), w + '.steps')
    walk(doc.get('steps', []), 'steps')
    for k, sv in enumerate(doc.get('severities', [])):
        walk(sv.get('steps', []), 'severities[%d].steps' % k)
    if bad:
        print('\n'.join(bad[:20])); sys.exit(1)

def cmd_mirror(en_path, ja_path):
    """A translation is the same runbook: with the words a person reads
    (titles, notes, manual and confirm texts, descriptions, names, contacts)
    taken out, the two documents are equal - same ids, probes, thresholds,
    vars, captures and jumps."""
    words = {'title', 'note', 'manual', 'confirm', 'description', 'name', 'contacts', 'runbook', '$schema',
             'prompt', 'label'}
    def strip(n):
        if isinstance(n, dict):
            return {k: strip(v) for k, v in n.items() if k not in words}
        if isinstance(n, list):
            return [strip(v) for v in n]
        return n
    a, b = strip(load(en_path)), strip(load(ja_path))
    if a != b:
        import difflib
        da = json.dumps(a, indent=1, sort_keys=True, ensure_ascii=False).splitlines()
        db = json.dumps(b, indent=1, sort_keys=True, ensure_ascii=False).splitlines()
        print('\n'.join(list(difflib.unified_diff(da, db, en_path, ja_path, lineterm='', n=2))[:40]))
        sys.exit(1)

def cmd_production(path):
    print(load(path).get('log', {}).get('production'))

cmds = {'production': cmd_production, 'mirror': cmd_mirror, 'check-schema': cmd_check_schema, 'descriptions': cmd_descriptions,
        'validate': cmd_validate, 'doc-files': cmd_doc_files, 'doc-block': cmd_doc_block,
        'conventions': cmd_conventions}
try:
    cmds[sys.argv[1]](*sys.argv[2:])
except (ValueError, OSError) as e:
    print('%s: %s' % (type(e).__name__, e)); sys.exit(1)
except Exception as e:  # jsonschema.SchemaError and friends
    print('%s: %s' % (type(e).__name__, str(e)[:600])); sys.exit(1)
EOF

if ! "$PY" -c 'import jsonschema; jsonschema.Draft202012Validator' 2>/dev/null; then
	fail "schema: python3-jsonschema with Draft 2020-12 is installed" \
		"install python3-jsonschema (make deps)"
	t_done
fi
rbs() { "$PY" "$TMP/rbs.py" "$@"; }

# --- the schema itself ------------------------------------------------------
expect_rc "schema: $SCHEMA is a valid 2020-12 schema" 0 rbs check-schema "$SCHEMA"
expect_rc "schema: every property of every closed object has a description" 0 rbs descriptions "$SCHEMA"

# --- every runbook and example validates ------------------------------------
shopt -s nullglob
FILES=(runbooks/*.json runbooks/ja/*.json docs/examples/*.json)
for f in "${FILES[@]}"; do
	expect_rc "schema: $f validates" 0 rbs validate "$SCHEMA" "$f"
done
for f in runbooks/*.json runbooks/ja/*.json; do
	expect_rc "conventions: $f has kebab-case ids and \$schema" 0 rbs conventions "$f"
done
for f in runbooks/ja/*.json; do
	expect_rc "translation: $f is runbooks/${f#runbooks/ja/} in other words (same ids, probes, thresholds, vars)" 0 \
		rbs mirror "runbooks/${f#runbooks/ja/}" "$f"
done
for kind in pre-deploy deploy post-deploy incident; do
	if [ -f "runbooks/$kind.json" ]; then ok "schema: runbooks/$kind.json exists"
	else fail "schema: runbooks/$kind.json exists"; fi
done
# The shipped runbooks that change production say so (the console's header
# turns to header.alert); the checks before and after a change do not.
for f in runbooks/deploy.json runbooks/rollback.json runbooks/ja/deploy.json runbooks/ja/rollback.json; do
	expect_eq "production: $f declares it changes production" \
		"$(rbs production "$f")" True
done
for f in runbooks/pre-deploy.json runbooks/post-deploy.json; do
	expect_eq "production: $f does not" \
		"$(rbs production "$f")" None
done
EXAMPLES=(docs/examples/*.json)
n_examples=${#EXAMPLES[@]}
if [ "$n_examples" -ge 9 ]; then ok "schema: docs/examples holds the examples ($n_examples)"
else fail "schema: docs/examples holds the examples" "found $n_examples"; fi

# --- the stripper keeps strings and drops comments --------------------------
run rbs validate "$SCHEMA" - <<'EOF'
/* block comment */ {
  "runbook": "c", // line comment
  "title": "http://x/* not a comment */ // nor this",
  "steps": [ { "title": "t", "manual": "a \"quoted // string\"" } ]
}
EOF
expect_eq "schema: comments are stripped, strings kept" "$RC" 0

# --- the schema rejects what it must ----------------------------------------
# Each case is the good base with one mistake; the base itself must pass, or a
# schema that rejects everything would pass these checks.
BASE='{
  "runbook": "base", "title": "Base", "kind": "post-deploy",
  "vars": { "BASE_URL": "http://127.0.0.1:18080" },
  "steps": [
    { "id": "health", "title": "Health", "http": { "url": "${BASE_URL}/api/health" },
      "repeat": { "count": 3, "every": "1s" }, "expect": "status == 200" },
    { "id": "watch", "title": "Watch", "http": { "url": "${BASE_URL}/api/health" },
      "watch": true, "repeat": { "every": "10s", "fail_after": 3 }, "expect": "status == 200",
      "on_fail": "goto:rollback" },
    { "id": "rollback", "title": "Roll back", "on_demand": true, "steps": [
      { "id": "undo", "title": "Undo", "run": "true", "timeout": "1m30s" } ] }
  ]
}'
bad() { # bad NAME PYTHON-MUTATION: applies the mutation to BASE as d, expects rejection
	local name=$1 mut=$2
	"$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); exec(sys.argv[2]); print(json.dumps(d))' \
		"$BASE" "$mut" >"$TMP/bad.json" || { fail "schema rejects: $name" "mutation failed"; return; }
	run rbs validate "$SCHEMA" "$TMP/bad.json"
	if [ "$RC" = 1 ] && [ -n "$OUT" ]; then ok "schema rejects: $name"
	else fail "schema rejects: $name" "validator exit $RC: ${OUT:0:300}"; fi
}
printf '%s\n' "$BASE" >"$TMP/base.json"
expect_rc "schema accepts: the good base document" 0 rbs validate "$SCHEMA" "$TMP/base.json"
bad "unknown top-level key"            'd["titel"] = "x"'
bad "unknown step key (typo)"          'd["steps"][0]["expcet"] = "status == 200"'
bad "unknown http key"                 'd["steps"][0]["http"]["mehtod"] = "GET"'
bad "two actions in one step"          'd["steps"][0]["run"] = "true"'
bad "no action in a step"              'del d["steps"][0]["http"]'
bad "bad duration (no unit)"           'd["steps"][0]["repeat"]["every"] = "10"'
bad "bad duration (unknown unit)"      'd["steps"][2]["steps"][0]["timeout"] = "5 minutes"'
bad "zero duration"                    'd["steps"][0]["repeat"]["every"] = "0s"'
bad "missing runbook title"            'del d["title"]'
bad "missing step title"               'del d["steps"][0]["title"]'
bad "missing steps"                    'del d["steps"]'
bad "empty steps"                      'd["steps"] = []'
bad "severities on a non-incident"     'd["severities"] = [{"id": "L1", "name": "Minor"}]'
bad "deadline on a probe step"         'd["steps"][0]["deadline"] = "30m"'
bad "bad on_deadline"                  'd["steps"][2].update(deadline="30m", on_deadline="fial")'
bad "on_deadline without deadline"     'd["steps"][2]["on_deadline"] = "fail"'
bad "bad runbook deadline"             'd["deadline"] = "half an hour"'
bad "approval on a probe step"         'd["steps"][0]["approval"] = True'
bad "owner not an id"                  'd["steps"][0]["owner"] = "the DBA"'
bad "defaults on a probe step"         'd["steps"][0]["defaults"] = {"on_fail": "continue"}'
bad "unknown key in a group's defaults" 'd["steps"][2]["defaults"] = {"on_fial": "continue"}'
bad "update_every on a non-incident"   'd["update_every"] = "30m"'
bad "incident without severities"      'd["kind"] = "incident"'
bad "unknown kind"                     'd["kind"] = "deployment"'
bad "bad step id"                      'd["steps"][0]["id"] = "-health"'
bad "step id longer than 64"           'd["steps"][0]["id"] = "a" * 65'
bad "bad variable name"                'd["vars"]["BASE-URL"] = "x"'
bad "bad secret name"                  'd["secrets"] = ["1TOKEN"]'
bad "bad on_fail"                      'd["steps"][1]["on_fail"] = "rollback"'
bad "bad http method"                  'd["steps"][0]["http"]["method"] = "FETCH"'
bad "http body and json together"      'd["steps"][0]["http"].update(body="x", json={})'
bad "repeat without every"             'del d["steps"][0]["repeat"]["every"]'
bad "repeat count and for together"    'd["steps"][0]["repeat"]["for"] = "1m"'
bad "repeat within with count"         'd["steps"][0]["repeat"]["within"] = "1m"'
bad "repeat until without within"      'd["steps"][0]["repeat"] = {"until": "status == 200", "every": "1s"}'
bad "repeat every alone without watch" 'd["steps"][0]["repeat"] = {"every": "1s"}'
bad "fail_after without watch"         'd["steps"][0]["repeat"]["fail_after"] = "5m"'
bad "fail_after outside repeat"        'd["steps"][1]["fail_after"] = d["steps"][1]["repeat"].pop("fail_after")'
bad "watch and on_demand together"     'd["steps"][1]["on_demand"] = True'
bad "watch key on a group"             'd["steps"][2]["watch"] = False'
bad "http url without a scheme"        'd["steps"][0]["http"]["url"] = "127.0.0.1/health"'
bad "watch without repeat"             'del d["steps"][1]["repeat"]'
bad "watch on a manual step"           'd["steps"][1] = {"title": "w", "manual": "x", "watch": True}'
bad "watch with a count"               'd["steps"][1]["repeat"]["count"] = 3'
bad "lower-case http method"          'd["steps"][0]["http"]["method"] = "get"'
bad "parallel on a probe"              'd["steps"][0]["parallel"] = True'
bad "expect on a group"                'd["steps"][2]["expect"] = "true"'
bad "timeout on a manual step"         'd["steps"][2]["steps"][0] = {"title": "m", "manual": "x", "timeout": "1m"}'
bad "capture with a bad name"          'd["steps"][0]["capture"] = {"a b": "json.x"}'
bad "retry attempts 0"                 'd["steps"][0]["retry"] = {"attempts": 0}'
bad "tcp port out of range"            'd["steps"][0] = {"title": "t", "tcp": {"host": "h", "port": 70000}}'
bad "bad size"                         'd["steps"][0]["http"]["max_body"] = "1 megabyte"'

# --- the docs' example blocks are the example files ---------------------------
# Every docs/examples/*.json is shown whole in the format guide or in the
# console's guide, and every json block there is one of them.
listed=""
for doc in "$DOC" docs/console.md; do
	if [ ! -f "$doc" ]; then fail "doc: $doc exists"; continue; fi
	run rbs doc-files "$doc"
	files=$OUT
	[ -n "$files" ] || fail "doc: $doc has example blocks"
	while IFS= read -r name; do
		[ -n "$name" ] || continue
		case $name in
		UNMARKED:*) fail "doc: json block at $doc:${name#UNMARKED:} names its example file" \
			"precede it with <!-- example: docs/examples/NAME.json -->" ;;
		*) expect_rc "doc: block $name in $doc equals the file" 0 rbs doc-block "$doc" "$name" ;;
		esac
	done <<<"$files"
	listed=$(printf '%s\n%s' "$listed" "$files")
done
for f in docs/examples/*.json; do
	if printf '%s\n' "$listed" | grep -qxF "$f"; then ok "doc: $f is shown in the docs"
	else fail "doc: $f is shown in $DOC or docs/console.md"; fi
done

# --- rbc check agrees --------------------------------------------------------
if [ ! -x "$RBC" ]; then
	skip "rbc check: runbooks and examples" "no rbc binary at $RBC"
elif ! { "$RBC" --help 2>&1; "$RBC" help 2>&1; } | grep -qw check; then
	skip "rbc check: runbooks and examples" "this rbc has no check command"
else
	# Shipped runbooks and examples must be clean: no warning either.
	for f in "${FILES[@]}"; do
		run "$RBC" check --strict "$f"
		if [ "$RC" = 0 ] && [ -z "$ERR" ]; then ok "rbc check --strict: $f"
		else fail "rbc check --strict: $f" "exit $RC" "${ERR:0:1200}"; fi
	done
fi

t_done
