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
expect_match "README starts with make test" "$(sed -n '1,25p' README.md)" '^make test'
expect_match ".ci/run runs the README's test command" "$(grep -v '^#' .ci/run)" '^make test$'
# The README's examples show what the binary really prints.
readme=$(cat README.md)
for cmd in "check runbooks/post-deploy.json" "check tests/fixtures/bad/goto-missing.json" \
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
done < <(sed -n 's/^\tX([A-Z_]*, [^,]*, [^,]*, "\([^"]*\)", .*/\1/p' src/tui/console.c)
n_keys=$(grep -Ec '^[[:space:]]X\([A-Z_]+, [^,]+, [^,]+, "' src/tui/console.c)
[ "$n_keys" -ge 20 ] && ok "the key table was read ($n_keys keys)" || fail "the key table was read" "$n_keys keys"
while IFS= read -r el; do
	expect_match "docs/console.md names the theme element $el" "$(cat docs/console.md)" "^\| \`$el\` "
	expect_match "docs/themes.md names the theme element $el" "$(cat docs/themes.md)" "^\| \`$el\` "
done < <(sed -n 's/^\tX([A-Z_]*, "\([a-z.]*\)").*/\1/p' include/rbc/theme.h | grep -v -x -E 'bold|dim|underline|reverse|italic|standout')

for d in docs/runbook-format.md docs/thresholds.md docs/runbook.schema.json docs/rbc.1 docs/console.md docs/themes.md; do
	[ -s "$d" ] && ok "$d exists" || fail "$d exists"
done
t_done
