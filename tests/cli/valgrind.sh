#!/usr/bin/env bash
# No leak and no memory error under valgrind in rbc check and rbc eval, on
# valid and invalid input alike (errors take other paths through the code).
. tests/lib.sh
if sanitized; then
	skip "valgrind" "the sanitizer build cannot run under valgrind"; t_done
fi
if ! command -v valgrind >/dev/null; then
	fail "valgrind is installed" "make deps installs it"; t_done
fi
vg() {
	local name=$1; shift
	valgrind -q --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all \
		--error-exitcode=99 "$RBC" "$@" >"$TMP/vg.out" 2>"$TMP/vg.err"
	local rc=$?
	if [ "$rc" = 99 ] || grep -q '^==[0-9]*==' "$TMP/vg.err"; then
		fail "valgrind clean: $name" "$(grep '^==' "$TMP/vg.err" | head -30)"
	else
		ok "valgrind clean: $name (exit $rc)"
	fi
}
vg "check valid runbooks" check tests/fixtures/good/every-key.json tests/fixtures/good/incident.json runbooks/*.json
vg "check many-errors" check tests/fixtures/bad/many-errors.json tests/fixtures/bad/run-cycle.json
vg "check syntax errors" check tests/fixtures/bad/trailing-comma-array.json tests/fixtures/bad/too-deep.json tests/fixtures/bad/invalid-utf8.json
vg "check warnings" check --strict tests/fixtures/warn/undefined-var.json
vg "eval percentile" eval 'p95(time) < 500ms' time=120,340,612
vg "eval json and regex" eval 'json.items[0].id == 7 && body =~ /"id"\s*:\s*(\d+)/' --sample '{"json": {"items": [{"id": 7}]}, "body": "{\"id\": 7}"}'
vg "eval warn and functions" eval 'num(match(stdout, /(\d+) errors/)) == 0' --warn 'len(stdout) > 5' stdout='0 errors found'
vg "eval unknown" eval 'json.missing.path > 1' status=200
vg "eval syntax error" eval 'p95(time < 500ms'
t_done
