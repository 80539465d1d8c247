#!/usr/bin/env bash
# A watch on a big body keeps the journal and the memory bounded, at reduced
# length (tests/bench/watch --seconds 30): a watch sampling a 500 KB body
# every 100 ms, its journal's growth per sample projected to the goal's
# 6,000 samples (10 minutes) stays under 20 MB, and rbc's peak RSS, with its
# growth per sample after the 100 samples a watch keeps projected the same
# way, under 64 MiB; the same watch on a tiny body, run beside it, is the
# baseline the ratios are printed against. `make bench` runs the ten
# minutes. Only sizes are judged, never a time; a run that misses a goal is
# measured once more before it fails. The sanitizer build judges the journal
# only (ASan's quarantine makes RSS meaningless).
. tests/lib.sh

missing=""
for p in python3 /usr/bin/time; do
	command -v "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
	fail "the watch benchmark's tools are installed" "missing:$missing" "make deps installs them"
	t_done
fi

ARGS=(--seconds 30)
sanitized && ARGS+=(--sanitized)

bench_judged tests/bench/watch 'watch' env RBC_BIN="$RBC" python3 "$ROOT/tests/bench/watch" "${ARGS[@]}"
t_done
