#!/usr/bin/env bash
# The record holds what it promises, tried where a hostile review found it
# did not:
#  - a journal whose fdatasync fails (a library preloaded into rbc makes it
#    fail, as a failing disk does, while writes succeed) holds only lines
#    that were synced: what the failed sync left is cut off, no step starts
#    before its start is synced, the results shown after the loss say they
#    are not in the record, the summary too, and the run is interrupted,
#    resumable, its message naming the record's real last line; the
#    console, once the record is lost, says a note is not in it;
. tests/lib.sh
. tests/tui.sh
export RBC_RUNS_DIR=$TMP/runs
mkdir -p "$RBC_RUNS_DIR"

snap() { ls "$RBC_RUNS_DIR" 2>/dev/null | sort >"$TMP/snap"; }
new_run() { ls "$RBC_RUNS_DIR" 2>/dev/null | sort | comm -13 "$TMP/snap" - | head -1; }
# ev RUN PYEXPR: evaluates PYEXPR over the journal's events (a list of dicts, `e`).
ev() {
	python3 - "$RBC_RUNS_DIR/$1/journal.jsonl" "$2" <<'PY'
import json, sys
e = [json.loads(l) for l in open(sys.argv[1]) if l.endswith("\n")]
def fin(step):
    return [x for x in e if x["ev"] == "step_finished" and x.get("step") == step][-1]
print(eval(sys.argv[2]))
PY
}
# state_of RUN: the STATE and VERDICT columns `rbc runs` gives the run.
state_of() { "$RBC" runs 2>/dev/null | awk -v d="$1" '$1 == d { print $(NF-1), $NF }'; }

# --- a journal that cannot be synced -------------------------------------------------------------
# fdatasync fails with EIO on the journal once it holds INJ_SYNC_FAIL_AT
# bytes; every sync that succeeds logs the size it made durable.
cat >"$TMP/syncfail.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int journal_fd(int fd)
{
	char link[64], path[4096];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof path - 1);
	if (n < 0)
		return 0;
	path[n] = '\0';
	const char *base = strrchr(path, '/');
	return base && strcmp(base + 1, "journal.jsonl") == 0;
}

int fdatasync(int fd)
{
	static int (*real)(int);
	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	const char *at = getenv("INJ_SYNC_FAIL_AT"), *log = getenv("INJ_SYNC_LOG");
	struct stat st;
	if (!at || !journal_fd(fd) || fstat(fd, &st) != 0)
		return real(fd);
	if (st.st_size >= atoll(at)) {
		errno = EIO;
		return -1;
	}
	int r = real(fd);
	FILE *f = r == 0 && log ? fopen(log, "a") : NULL;
	if (f) {
		fprintf(f, "%lld\n", (long long)st.st_size);
		fclose(f);
	}
	return r;
}
C
if ! cc -shared -fPIC -o "$TMP/syncfail.so" "$TMP/syncfail.c" -ldl 2>"$TMP/cc.err"; then
	fail "the fdatasync injector builds" "$(cat "$TMP/cc.err")"
	t_done
fi
# An ASan build wants its runtime first; the injector only wraps one call.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0

python3 - "$TMP/twelve.json" <<'PY'
import json, sys
steps = [{"id": "s%02d" % i, "title": "Step %d" % i, "run": "echo %02d >> \"$DIR/ran-$TAG\"" % i}
         for i in range(1, 13)]
json.dump({"runbook": "twelve", "title": "Twelve steps", "steps": steps}, open(sys.argv[1], "w"))
PY
export DIR=$TMP
snap
TAG=probe "$RBC" run --batch "$TMP/twelve.json" >/dev/null 2>&1
total=$(wc -c <"$RBC_RUNS_DIR/$(new_run)/journal.jsonl")

# syncfail WHAT AT: runs the twelve steps with syncs failing from AT bytes on.
syncfail() {
	local what=$1 at=$2 J
	rm -f "$TMP/synced-$what"
	snap
	TAG=$what INJ_SYNC_FAIL_AT=$at INJ_SYNC_LOG=$TMP/synced-$what LD_PRELOAD=$TMP/syncfail.so \
		run "$RBC" run --batch "$TMP/twelve.json"
	d=$(new_run)
	J=$RBC_RUNS_DIR/$d/journal.jsonl
	expect_eq "sync fails at $what: exit 74" "$RC" 74
	expect_eq "… the journal holds only what a sync made durable (its size is the last synced size)" \
		"$(wc -c <"$J")" "$(tail -1 "$TMP/synced-$what")"
	expect_match "… RECORD LOST is said where it happens, on standard output, before the summary" \
		"$(printf '%s\n' "$OUT" | grep -E '^(RECORD LOST|summary:)' | cut -c1-11 | tr '\n' ' ')" \
		'^RECORD LOST summary: .*$'
	expect_match "… it names the record's last line, the journal's last" "$OUT" \
		"^RECORD LOST  the journal .* cannot be synced to disk \(Input/output error\): the record ends at line $(wc -l <"$J") "
	expect_match "… the summary says it is not in the record" "$OUT" '^summary: [A-Z]+ \(not in the record\) — '
	expect_eq "… every step that ran is recorded as started (a start is synced before the step runs)" \
		"$(python3 - "$J" "$TMP/ran-$what" <<'PY'
import json, sys
started = {json.loads(l)["step"].split("/s")[1] for l in open(sys.argv[1])
           if '"step_started"' in l and '"step":"twelve/s' in l}
ran = [l.strip() for l in open(sys.argv[2])] if __import__("os").path.exists(sys.argv[2]) else []
print(sorted(set(ran) - started))
PY
)" "[]"
	expect_eq "… rbc runs lists it as interrupted, not finished" "$(state_of "$d")" "interrupted —"
}
# Late: the run's last lines (its end) are in the sync that fails.
syncfail late $((total - 300))
late=$d
# Early: a step's start is in the sync that fails: it never runs.
syncfail early $((total / 3))
n=$(wc -l <"$TMP/ran-early")
if [ "$n" -lt 12 ]; then ok "a step whose start was not synced never runs ($n of 12 ran)"
else fail "a step whose start was not synced never runs ($n of 12 ran)"; fi

# The console: a note added once the record is lost is not in it, and says so.
snap
TUI_ENV="TAG=console DIR=$TMP LD_PRELOAD=$TMP/syncfail.so INJ_SYNC_FAIL_AT=$((total / 3)) ASAN_OPTIONS=$ASAN_OPTIONS" \
	tui_start 120 30 run --operator tester "$TMP/twelve.json"
wait_idle
keys a
if wait_for "RECORD LOST"; then
	wait_idle
	keys n
	type_text "after the loss"
	keys Enter
	expect_screen "console: a note after the record is lost is said not to be in the record" \
		"the note is not in the record"
	expect_nomatch "… never \"note added\"" "$SCREEN" 'note added'
	keys q
	wait_re '\[y/N\]|^\[exit [0-9]+\]' && case $SCREEN in *"[y/N]"*) keys y ;; esac
	tui_exit
	expect_eq "… and the journal has no note" "$(ev "$(new_run)" 'len([x for x in e if x["ev"] == "note"])')" 0
else
	fail "console: a note after the record is lost is said not to be in the record" "never lost: $SCREEN"
fi

TAG=late run "$RBC" resume --batch "$late"
expect_eq "the run the failed sync cut short resumes (it is not finished) and ends" "$RC" 0
expect_eq "… with every step run, the cut one again" "$(sort -u "$TMP/ran-late" | wc -l)" 12

t_done
