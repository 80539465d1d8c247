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

t_done() { exit $((T_FAILED > 0)); }
