# tests/lib.sh — sourced by every shell test under tests/cli/.
#
# Each check prints one TAP-style line: "ok - NAME", "not ok - NAME" (with the
# reason indented below) or "ok - NAME # SKIP why". tests/run counts them.
# RBC is the binary under test; ROOT the checkout; TMP a per-script temp dir.

set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RBC=${RBC_BIN:-$ROOT/rbc}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rbc-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
T_FAILED=0

ok()   { printf 'ok - %s\n' "$1"; }
skip() { printf 'ok - %s # SKIP %s\n' "$1" "$2"; }
fail() {
	printf 'not ok - %s\n' "$1"; T_FAILED=$((T_FAILED + 1))
	shift
	[ $# -gt 0 ] && printf '%s\n' "$@" | sed 's/^/    /'
	return 0
}

# run CMD...: runs a command, keeping stdout in $OUT, stderr in $ERR, status in $RC.
run() {
	"$@" >"$TMP/.out" 2>"$TMP/.err"; RC=$?
	OUT=$(cat "$TMP/.out"); ERR=$(cat "$TMP/.err")
}

# expect_rc NAME CODE CMD...: the command exits with CODE.
expect_rc() {
	local name=$1 want=$2; shift 2
	run "$@"
	if [ "$RC" = "$want" ]; then ok "$name"
	else fail "$name" "exit $RC, want $want" "stdout: ${OUT:0:600}" "stderr: ${ERR:0:600}"; fi
}

# expect_eq NAME GOT WANT: exact string equality.
expect_eq() {
	if [ "$2" = "$3" ]; then ok "$1"
	else fail "$1" "got:  $2" "want: $3"; fi
}

# expect_match NAME TEXT REGEX: TEXT matches the extended REGEX.
expect_match() {
	if printf '%s' "$2" | grep -Eq -- "$3"; then ok "$1"
	else fail "$1" "text: ${2:0:800}" "does not match: $3"; fi
}

# expect_nomatch NAME TEXT REGEX
expect_nomatch() {
	if printf '%s' "$2" | grep -Eq -- "$3"; then fail "$1" "text: ${2:0:800}" "matches: $3"
	else ok "$1"; fi
}

# Memory checkers slow the binary down; tests that time things ask here.
sanitized() { [ "${RBC_SAN:-0}" = 1 ]; }

# bench_judged WHAT PREFIXES CMD...: runs a benchmark (tests/bench/*) whose
# judged figure lines start with one of PREFIXES ("a|b") and end in ": ok",
# ": FAIL" or ": skipped (why)". The benchmarks that missed a goal are
# measured once more (CMD --only LIST): one disturbed run does not fail the
# suite, a real regression still does. Each figure line becomes one check;
# the whole output is kept as comments.
bench_judged() {
	local what=$1 prefixes=$2; shift 2
	"$@" >"$TMP/b.out" 2>&1
	local brc=$? bout
	bout=$(cat "$TMP/b.out")
	grep -E "^($prefixes): " "$TMP/b.out" >"$TMP/final"
	if [ "$brc" = 1 ]; then
		local again
		again=$(sed -n 's/^\([a-z]*\): .*: FAIL$/\1/p' "$TMP/final" | sort -u | paste -sd, -)
		printf '%s\n' "$bout" | sed 's/^/# first run: /'
		"$@" --only "$again" >"$TMP/b.out" 2>&1
		brc=$?
		bout=$(cat "$TMP/b.out")
		grep -Ev "^(${again//,/|}): " "$TMP/final" >"$TMP/kept"
		grep -E "^($prefixes): " "$TMP/b.out" | cat "$TMP/kept" - >"$TMP/final"
	fi
	printf '%s\n' "$bout" | sed 's/^/# /'
	if [ "$brc" -ge 2 ]; then
		fail "$what runs" "$bout"
		return
	fi
	local b
	for b in ${prefixes//|/ }; do
		grep -q "^$b: " "$TMP/final" || fail "benchmark $b reports its figures" "$bout"
	done
	local line why
	while IFS= read -r line; do
		case $line in
		*": ok") ok "${line%: ok}" ;;
		*": FAIL") fail "${line%: FAIL}" "missed twice in a row; $what alone gives the full-size figures" ;;
		*": skipped ("*")")
			why=${line##*: skipped (}
			skip "${line%: skipped (*}" "${why%)}" ;;
		*) fail "benchmark line is judged: $line" ;;
		esac
	done <"$TMP/final"
}

t_done() { exit $((T_FAILED > 0)); }
