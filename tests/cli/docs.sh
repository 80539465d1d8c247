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
for d in docs/runbook-format.md docs/thresholds.md docs/runbook.schema.json docs/rbc.1; do
	[ -s "$d" ] && ok "$d exists" || fail "$d exists"
done
t_done
