#!/usr/bin/env bash
# A verdict reaches a follower's screen soon after the driver journals it,
# at reduced length (tests/bench/follow --steps 40): a driver walking 40
# steps with a follower console in tmux on its run directory, then the same
# through PostgreSQL; median and p95 of journal-to-screen, and their ratio.
# The figures are printed; absolute times are judged by `make bench` only.
. tests/lib.sh
if sanitized; then
	skip "follow benchmark" "timings under ASan and UBSan say nothing about the release build"
	t_done
fi
command -v tmux >/dev/null 2>&1 || { fail "tmux is installed" "make deps installs it"; t_done; }
bench_judged tests/bench/follow 'local|db' env RBC_BIN="$RBC" python3 "$ROOT/tests/bench/follow" \
	--steps 40 --no-absolute
t_done
