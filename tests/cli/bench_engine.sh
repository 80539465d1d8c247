#!/usr/bin/env bash
# rbc run --batch keeps its performance goals, at reduced sizes
# (tests/bench/engine --steps 300 --bytes 256 MiB): 300 sequential HTTP probe
# steps against a local nginx at least 10 times faster than a curl loop making
# the same requests; 300 `run: "true"` steps at most 1.5 times as long as an
# `sh -c true` loop; one step printing 256 MiB with a peak RSS under 64 MiB
# and every byte, in order, in its spool file. Only ratios against baselines
# timed in the same run are judged. A benchmark that misses a goal is measured
# once more before it fails, so one disturbed run does not fail the suite,
# while a real regression still does. The sanitizer build judges no timing and
# no memory figure; its steps must still pass and its spool hold every byte.
. tests/lib.sh

missing=""
for p in python3 curl nginx /usr/bin/time; do
	command -v "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
	fail "the engine benchmark's tools are installed" "missing:$missing" "make deps installs them"
	t_done
fi

ARGS=(--steps 300 --bytes $((256 * 1024 * 1024)))
sanitized && ARGS+=(--sanitized)

bench_judged tests/bench/engine 'http|true|output' env RBC_BIN="$RBC" python3 "$ROOT/tests/bench/engine" "${ARGS[@]}"
t_done
