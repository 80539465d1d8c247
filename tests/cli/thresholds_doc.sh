#!/usr/bin/env bash
# Every example of docs/thresholds.md runs and gives what the page says.
#
# Inside fenced blocks the page has two kinds of examples:
#   rbc eval 'EXPR' ARGS...            # => VERDICT
#       the first line printed is VERDICT and the exit status is its code;
#   $ rbc eval 'EXPR' ARGS...
#   OUTPUT LINES...
#       the command prints exactly OUTPUT LINES (stdout and stderr together).
# The commands run in bash, with rbc standing for the binary under test.
. tests/lib.sh
DOC=docs/thresholds.md
rbc() { "$RBC" "$@"; }

declare -A code=([PASS]=0 [WARN]=1 [FAIL]=2 [UNKNOWN]=3 [ERROR]=3)
compact=0 transcripts=0 names=""

# check_compact LINE: "rbc eval ...  # => VERDICT"
check_compact() {
	local cmd=${1%%# =>*} want=${1##*# => }
	cmd=${cmd%"${cmd##*[! ]}"}
	compact=$((compact + 1))
	names+=" $cmd"
	eval "$cmd" >"$TMP/out" 2>"$TMP/err"
	local rc=$? got
	got=$(head -n 1 "$TMP/out")
	if [ "$got" = "$want" ] && [ "$rc" = "${code[$want]:-x}" ]; then
		ok "doc: $cmd => $want"
	else
		fail "doc: $cmd => $want" "got: $got (exit $rc)" "$(cat "$TMP/out" "$TMP/err")"
	fi
}

# check_transcript CMD EXPECTED
check_transcript() {
	transcripts=$((transcripts + 1))
	names+=" $1"
	local got
	got=$(eval "$1" 2>&1)
	expect_eq "doc transcript: $1" "$got" "$2"
}

fence=0 cmd="" expected=""
flush() {
	[ -n "$cmd" ] && check_transcript "$cmd" "${expected%$'\n'}"
	cmd="" expected=""
}
while IFS= read -r line; do
	if [[ $line == '```'* ]]; then
		flush
		fence=$((1 - fence))
		continue
	fi
	[ "$fence" = 1 ] || continue
	if [[ $line == '$ rbc eval '* ]]; then
		flush
		cmd=${line#'$ '}
	elif [[ $line == 'rbc eval '*'# => '* || $line == 'RBC_TEST_NOW='*' rbc eval '*'# => '* ]]; then
		flush
		check_compact "$line"
	elif [ -n "$cmd" ]; then
		expected+="$line"$'\n'
	fi
done <"$DOC"

# The page must keep its examples: a parser that found none would pass.
[ "$compact" -ge 100 ] && ok "doc has $compact verdict examples" ||
	fail "doc has at least 100 verdict examples" "found $compact"
[ "$transcripts" -ge 15 ] && ok "doc has $transcripts output examples" ||
	fail "doc has at least 15 output examples" "found $transcripts"

# Every builtin of the language appears in an example (names from the tables).
for fn in $(sed -n 's/^\t{"\([a-z0-9]*\)", [0-9], [0-9], \(true\|false\).*/\1/p' \
	src/expr/func.c src/expr/agg.c src/expr/list.c src/expr/clock.c); do
	case "$names" in
	*"$fn("*) ok "doc example uses $fn()" ;;
	*) fail "doc example uses $fn()" ;;
	esac
done
# …and every operator and unit.
for op in '==' '!=' ' < ' '<=' ' > ' '>=' '&&' '||' '!(' ' in ' '=~' '!~' ' + ' ' - ' ' * ' ' / ' \
	'ms' '1s' '5m' '1h' '14d' 'KB' 'KiB' 'MB' 'MiB' '%' '"' "'" '[' 'null' 'true' 'false' \
	'vars.' 'json.' 'header[' 'perf.' 'row.' '/i' '/m' '/s' '/x'; do
	case "$names" in
	*"$op"*) ok "doc example uses $op" ;;
	*) fail "doc example uses $op" ;;
	esac
done
t_done
