#!/usr/bin/env bash
# Ten followers on one run cost its driver next to nothing, at reduced length
# (tests/bench/followers --steps 60 --rounds 1): the driver's CPU alone, with
# ten local followers and with ten through PostgreSQL, each follower applying
# the run's last line. What they cost is a share of a core over the baseline
# measured in the same run (not an absolute time): judged here too.
. tests/lib.sh
if sanitized; then
	skip "followers benchmark" "CPU times under ASan and UBSan say nothing about the release build"
	t_done
fi
command -v tmux >/dev/null 2>&1 || { fail "tmux is installed" "make deps installs it"; t_done; }
bench_judged tests/bench/followers 'local|db' env RBC_BIN="$RBC" python3 "$ROOT/tests/bench/followers" \
	--steps 60 --rounds 1
t_done
