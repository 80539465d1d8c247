#!/usr/bin/env bash
# The console keeps its performance goals (tests/bench/console --keys 20):
# the median key-to-screen latency in tmux while a step streams output as
# fast as rbc reads it stays within 2× the idle median measured in the same
# run, and a step printing 1 GiB keeps rbc's peak RSS under 64 MiB with every
# byte in its spool. The absolute 50 ms goal is reported, not judged: the
# suite judges no absolute timing (make bench does). A figure that misses its
# goal is measured once more before it fails. The sanitizer build judges no
# timing and no memory figure; keys must still be answered and the spool hold
# every byte.
. tests/lib.sh

for p in python3 tmux pgrep; do
	command -v "$p" >/dev/null 2>&1 || { fail "the console benchmark's tools are installed" "missing: $p" "make deps installs them"; t_done; }
done
ARGS=(--keys 20 --no-absolute)
sanitized && ARGS+=(--sanitized)

bench() {
	RBC_BIN=$RBC python3 "$ROOT/tests/bench/console" "${ARGS[@]}" "$@" >"$TMP/b.out" 2>&1
	BRC=$?
	BOUT=$(cat "$TMP/b.out")
	grep -E '^(latency|rss): ' "$TMP/b.out" >"$TMP/lines"
}

bench
cp "$TMP/lines" "$TMP/final"
if [ "$BRC" = 1 ]; then
	again=$(sed -n 's/^\([a-z]*\): .*: FAIL$/\1/p' "$TMP/lines" | sort -u | paste -sd, -)
	printf '%s\n' "$BOUT" | sed 's/^/# first run: /'
	bench --only "$again"
	grep -Ev "^(${again//,/|}): " "$TMP/final" >"$TMP/kept"
	cat "$TMP/kept" "$TMP/lines" >"$TMP/final"
fi
printf '%s\n' "$BOUT" | sed 's/^/# /'
if [ "$BRC" -ge 2 ]; then
	fail "the console benchmark runs" "$BOUT"
	t_done
fi
for b in latency rss; do
	grep -q "^$b: " "$TMP/final" || fail "benchmark $b reports its figures" "$BOUT"
done
while IFS= read -r line; do
	case $line in
	*": ok") ok "${line%: ok}" ;;
	*": FAIL") fail "${line%: FAIL}" "missed twice in a row; tests/bench/console alone gives the full figures" ;;
	*": skipped ("*")")
		why=${line##*: skipped (}
		skip "${line%: skipped (*}" "${why%)}" ;;
	*) fail "benchmark line is judged: $line" ;;
	esac
done <"$TMP/final"
t_done
