#!/usr/bin/env bash
# The documentation is part of the product: the man page renders, covers every
# command rbc --help lists, and the README's test command is what CI runs.
. tests/lib.sh
if command -v groff >/dev/null; then
	run groff -man -Tutf8 -ww -z docs/rbc.1
	expect_eq "man page renders without warnings" "$ERR" ""
else
	run man -l docs/rbc.1
	expect_eq "man page renders" "$RC" 0
fi
for c in $("$RBC" --help | sed -n 's/^  rbc \([a-z]*\) .*/\1/p'); do
	expect_match "man page documents rbc $c" "$(cat docs/rbc.1)" "^\\.B $c"
	expect_match "README mentions rbc $c" "$(cat README.md)" "rbc $c"
done
expect_match "README starts with make demo, then make test" "$(sed -n '1,30p' README.md | grep -E '^make [a-z]+ ' | head -2 | cut -d' ' -f1-2 | tr '\n' ' ')" '^make demo make test $'
expect_match ".ci/run runs the README's test command" "$(grep -v '^#' .ci/run)" '^make test$'
# The README's examples show what the binary really prints.
readme=$(cat README.md)
for cmd in "check runbooks/post-deploy.json" "check tests/fixtures/bad/goto-missing.json" \
	"check docs/examples/markdown-minimal.md" \
	"eval p95(time)<500ms time=120,340,612"; do
	case $cmd in
	eval*) out=$("$RBC" eval 'p95(time) < 500ms' time=120,340,612 2>&1) ;;
	*) out=$("$RBC" $cmd 2>&1) ;;
	esac
	line=$(printf '%s\n' "$out" | head -2 | tail -1)
	[ "${cmd%% *}" = check ] && line=$(printf '%s\n' "$out" | head -1)
	if printf '%s\n' "$readme" | grep -qxF "# $line"; then ok "README shows the real output of rbc $cmd"
	else fail "README shows the real output of rbc $cmd" "rbc prints: $line"; fi
done

# The sample diagnostics in the format guide are real output.
want=$(awk '/^<!-- output: rbc check tests\/fixtures\/bad\/doc-example.json -->/{f=1; next} f && /^```text/{next} f && /^```/{exit} f' docs/runbook-format.md)
got=$(cd tests/fixtures && "$RBC" check bad/doc-example.json 2>&1 | sed 's|bad/doc-example.json|bad.json|')
expect_eq "format guide shows real rbc check output" "$want" "$got"

# The batch example in the format guide is real output (the run directory aside).
want=$(awk '/^<!-- output: rbc run --batch --assume done --operator alice docs\/examples\/batch.json -->/{f=1; next} f && /^```text/{next} f && /^```/{exit} f' docs/runbook-format.md)
got=$(RBC_RUNS_DIR="$TMP/runs" "$RBC" run --batch --assume done --operator alice docs/examples/batch.json 2>&1)
strip() { sed -e 's/ — [0-9.]* s$/ — T s/' -e '/^run: /d'; }
expect_eq "format guide shows real rbc run --batch output" "$(printf '%s\n' "$want" | strip)" "$(printf '%s\n' "$got" | strip)"
expect_match "… with a run line like the real one" "$(printf '%s\n' "$want" | tail -1)" \
	'^run: [0-9]{8}T[0-9]{6}Z-example-batch-[0-9a-f]{4} \(/.*/rbc/runs/[0-9]{8}T[0-9]{6}Z-example-batch-[0-9a-f]{4}\)$'

# docs/console.md has every key of the console's key table and every theme element.
keys_doc=$(sed -n '/^## Keys/,/^### Prompts/p' docs/console.md)
while IFS= read -r shown; do
	want=$(printf '%s' "$shown" | sed 's/[^ ]*/`&`/g')
	if printf '%s\n' "$keys_doc" | grep -qF "| $want "; then ok "docs/console.md documents the key $shown"
	else fail "docs/console.md documents the key $shown" "no row | $want | in its Keys table"; fi
done < <(sed -n 's/^\tX([A-Z_]*, [^,]*, [^,]*, "\([^"]*\)", .*/\1/p' src/tui/keys.h)
n_keys=$(grep -Ec '^[[:space:]]X\([A-Z_]+, [^,]+, [^,]+, "' src/tui/keys.h)
[ "$n_keys" -ge 20 ] && ok "the key table was read ($n_keys keys)" || fail "the key table was read" "$n_keys keys"
while IFS= read -r el; do
	expect_match "docs/console.md names the theme element $el" "$(cat docs/console.md)" "^\| \`$el\` "
	expect_match "docs/themes.md names the theme element $el" "$(cat docs/themes.md)" "^\| \`$el\` "
done < <(sed -n 's/^\tX([A-Z_]*, "\([a-z.]*\)").*/\1/p' include/rbc/theme.h | grep -v -x -E 'bold|dim|underline|reverse|italic|standout')

# The example vars file for a real environment: every name in it is a variable
# or secret of a shipped runbook (a misspelt name would silently keep the
# sandbox default), and rbc reads it as written.
shipped_names=$(for f in runbooks/*.json; do
	sed -n '/^  "vars": {/,/^  }/s/^    "\([A-Z_][A-Z0-9_]*\)":.*/\1/p' "$f"
	sed -n 's/^  "secrets": \[\(.*\)\],*$/\1/p' "$f" | tr -d '" ' | tr ',' '\n'
done | sort -u)
n_names=0
while IFS= read -r name; do
	n_names=$((n_names + 1))
	printf '%s\n' "$shipped_names" | grep -qx "$name" || fail "docs/examples/production.vars: $name is a variable of the shipped runbooks" "no runbook in runbooks/ declares it"
done < <(sed -n 's/^\([A-Z_][A-Z0-9_]*\)=.*/\1/p' docs/examples/production.vars)
[ "$n_names" -ge 40 ] && ok "docs/examples/production.vars names only variables of the shipped runbooks ($n_names)" \
	|| fail "docs/examples/production.vars was read" "$n_names names"
cat >"$TMP/vars-check.json" <<'EOF2'
{ "runbook": "vars-check", "title": "Vars file check",
  "secrets": ["SLACK_WEBHOOK_URL"],
  "steps": [
    { "id": "query", "title": "Query", "run": "printf '%s\\n' \"$CHANGED_QUERY\"", "expect": "stdout =~ /LIMIT 20$/" },
    { "id": "window", "title": "Window ${WATCH_WINDOW} on ${PLATFORM}", "run": "echo \"$SLACK_WEBHOOK_URL\"", "expect": "exit == 0" } ] }
EOF2
run env RBC_RUNS_DIR="$TMP/runs-vars" "$RBC" run --batch --vars docs/examples/production.vars "$TMP/vars-check.json"
expect_eq "rbc reads docs/examples/production.vars (a value with spaces runs to the end of its line)" "$RC" 0
expect_match "… its windows and platform are the ones written" "$OUT" 'Window 5m on nginx'
expect_eq "… and its secrets are masked" "$(printf '%s\n' "$OUT" | grep -c 'hooks.slack.com' || true)" 0
expect_match "docs/demo.md shows how to run the runbooks with it" "$(cat docs/demo.md 2>/dev/null)" 'cp docs/examples/production.vars production.vars'

# docs/demo.md: the faults it lists are the sandbox's, its screen a real console.
faults=$(sed -n 's/^case \$FAULT in \(.*\)) ;;.*/\1/p' tests/sandbox/start | tr -d ' ' | tr '|' '\n' | grep -vx none)
for f in $faults; do
	expect_match "docs/demo.md documents make demo FAULT=$f" "$(cat docs/demo.md 2>/dev/null)" "make demo FAULT=$f"
done
expect_match "… (the faults were read from tests/sandbox/start)" "$(printf '%s' "$faults" | wc -w)" '^4$'
expect_match "docs/demo.md holds a captured console screen" "$(cat docs/demo.md 2>/dev/null)" '■ finished.*PASS'

# Every Markdown example of docs/markdown-runbooks.md loads, and is named there.
n_md=0
for f in docs/examples/*.md; do
	n_md=$((n_md + 1))
	run "$RBC" check "$f"
	if [ "$RC" = 0 ] && [ -z "$ERR" ]; then ok "$f loads as a Markdown runbook"
	else fail "$f loads as a Markdown runbook" "exit $RC" "$ERR"; fi
	expect_match "docs/markdown-runbooks.md names $f" "$(cat docs/markdown-runbooks.md)" "examples/$(basename "$f")"
done
[ "$n_md" -ge 5 ] && ok "the Markdown examples were read ($n_md)" || fail "the Markdown examples were read" "$n_md"
run "$RBC" check docs/examples/markdown-minimal.md
if [ -n "$OUT" ] && grep -qxF "# $OUT" docs/markdown-runbooks.md; then ok "docs/markdown-runbooks.md shows real rbc check output"
else fail "docs/markdown-runbooks.md shows real rbc check output" "rbc prints: $OUT"; fi

for d in docs/markdown-runbooks.md docs/runbook-format.md docs/thresholds.md docs/runbook.schema.json docs/rbc.1 docs/console.md docs/themes.md docs/demo.md; do
	[ -s "$d" ] && ok "$d exists" || fail "$d exists"
done
t_done
