#!/usr/bin/env bash
# Another machine takes a run over through PostgreSQL, at reduced size
# (tests/bench/takeover --events 2000): the driver killed, its lease
# expired, rbc resume --db from another runs directory rebuilds and
# finishes the run; its time and its ratio to the local resume of the same
# journal are printed. Absolute times are judged by `make bench` only.
. tests/lib.sh
if sanitized; then
	skip "takeover benchmark" "timings under ASan and UBSan say nothing about the release build"
	t_done
fi
bench_judged tests/bench/takeover 'takeover' env RBC_BIN="$RBC" python3 "$ROOT/tests/bench/takeover" \
	--events 2000 --no-absolute
t_done
