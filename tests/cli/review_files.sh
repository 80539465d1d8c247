#!/usr/bin/env bash
# What rbc promises about files, tried the way a hostile reviewer would:
#  - export -o /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N writes
#    to the descriptor rbc already has, at its offset, and never replaces
#    the file behind it;
#  - export reads a step's output only from a file of the run's owner with
#    no other name (a hard link to another file is not shown);
#  - a step's output goes into the run's own out/ even when out/ is swapped
#    for a symbolic link while the run goes on; a runs directory reached
#    through a link another user could change, or through a directory
#    others may write, is refused;
#  - an untrusted runs directory or a journal with other names is exit 77
#    for every command; a header that cannot be written leaves no torn run;
#    export -o never uses a temporary name someone could plant, and never
#    writes over a file of a run's record.
# The second user is a real one (nobody, through setpriv) when the tests run
# as root.
. tests/lib.sh
export RBC_RUNS_DIR=$TMP/runs
mkdir -p "$RBC_RUNS_DIR"

run_id() { printf '%s\n' "$1" | sed -n 's/^run: \([^ ]*\) .*/\1/p' | head -n 1; }

cat >"$TMP/steps.json" <<'EOF'
{ "runbook": "rev", "title": "Review",
  "steps": [
    { "id": "hello", "title": "Says hello", "run": "echo hello-from-the-step" },
    { "id": "fails", "title": "Fails loudly", "run": "echo failure-output-line; exit 3", "on_fail": "continue" }
  ] }
EOF
run timeout 60 "$RBC" run --batch "$TMP/steps.json"
ID=$(run_id "$OUT")
RUN=$RBC_RUNS_DIR/$ID
if [ -z "$ID" ] || [ ! -f "$RUN/journal.jsonl" ]; then
	fail "a batch run to export" "exit $RC" "$OUT" "$ERR"
	t_done
fi
ok "a batch run to export ($ID)"

OTHER=""
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
	OTHER=nobody
	chmod 711 "$TMP"
	setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups test -x "$RBC" || OTHER=""
fi
as_other() { (cd / && setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups "$@"); }

# --- export -o a descriptor already open ---------------------------------------------

# mode_inode FILE
mode_inode() { stat -c '%a %i' "$1"; }

printf 'stale\n' >"$TMP/o1.txt"
chmod 644 "$TMP/o1.txt"
before=$(mode_inode "$TMP/o1.txt")
{ echo header; timeout 20 "$RBC" export "$ID" --format json -o /dev/stdout; echo "rc=$?"; echo trailer; } >"$TMP/o1.txt"
expect_eq "export -o /dev/stdout into a file the shell opened: the shell's own lines stay around it" \
	"$(head -n 1 "$TMP/o1.txt") $(tail -n 2 "$TMP/o1.txt" | tr '\n' ' ')" "header rc=0 trailer "
expect_match "… the export is between them" "$(sed -n 2,3p "$TMP/o1.txt")" '^\{'
expect_eq "… the file is the same file, mode 0644 still" "$(mode_inode "$TMP/o1.txt")" "$before"
python3 -c 'import json,sys; t=open(sys.argv[1]).read().split("\n"); json.loads("\n".join(t[1:-3]))' "$TMP/o1.txt" 2>/dev/null &&
	ok "… and the export in it is whole JSON" || fail "… and the export in it is whole JSON" "$(head -c 300 "$TMP/o1.txt")"

printf 'an earlier log line\n' >"$TMP/err.log"
chmod 640 "$TMP/err.log"
before=$(mode_inode "$TMP/err.log")
timeout 20 "$RBC" export "$ID" --format md -o /dev/stderr 2>>"$TMP/err.log"
expect_eq "export -o /dev/stderr 2>>log: the log's earlier line stays" "$(head -n 1 "$TMP/err.log")" "an earlier log line"
expect_eq "… the log is appended to" "$(sed -n 2p "$TMP/err.log")" "# Deployment Log"
expect_eq "… and is the same file, mode 0640" "$(mode_inode "$TMP/err.log")" "$before"

printf 'kept\n' >"$TMP/p1.txt"
before=$(mode_inode "$TMP/p1.txt")
timeout 20 "$RBC" export "$ID" --format md -o /proc/self/fd/1 >>"$TMP/p1.txt"
expect_eq "export -o /proc/self/fd/1 >>file: appended after what was there" \
	"$(head -n 2 "$TMP/p1.txt" | tr '\n' '|')" "kept|# Deployment Log|"
expect_eq "… the same file" "$(mode_inode "$TMP/p1.txt")" "$before"

printf 'three\n' >"$TMP/fd3.txt"
before=$(mode_inode "$TMP/fd3.txt")
timeout 20 "$RBC" export "$ID" --format md -o /dev/fd/3 3>>"$TMP/fd3.txt"
expect_eq "export -o /dev/fd/3 3>>file: appended after what was there" \
	"$(head -n 2 "$TMP/fd3.txt" | tr '\n' '|')" "three|# Deployment Log|"
expect_eq "… the same file" "$(mode_inode "$TMP/fd3.txt")" "$before"

# Through a link of the user's own to /dev/stdout: the same descriptor.
ln -s /dev/stdout "$TMP/to-stdout"
printf 'first\n' >"$TMP/l1.txt"
{ timeout 20 "$RBC" export "$ID" --format md -o "$TMP/to-stdout"; } >>"$TMP/l1.txt"
expect_eq "export -o a link to /dev/stdout: appended to standard output's file" \
	"$(head -n 2 "$TMP/l1.txt" | tr '\n' '|')" "first|# Deployment Log|"

run timeout 20 "$RBC" export "$ID" --format md -o /dev/fd/9
expect_eq "export -o /dev/fd/9 with no descriptor 9: refused (exit 73)" "$RC" 73
expect_match "… saying so" "$ERR" '/dev/fd/9.*(Bad file descriptor|not open)'

# --- export reads only the run's own output files -----------------------------------

run timeout 20 "$RBC" export "$ID" --format md
expect_match "the failure's excerpt is the step's output" "$OUT" 'failure-output-line'

mkdir "$TMP/hl" && cp -a "$RUN" "$TMP/hl/$ID" # a copy keeps its run id as its name
f=$(ls "$TMP"/hl/"$ID"/out/*fails*)
printf 'OTHER-FILE-CONTENT of a file with two names\n' >"$TMP/other.txt"
rm "$f"
ln "$TMP/other.txt" "$f"
run timeout 20 "$RBC" export "$TMP/hl/$ID" --format md
expect_eq "an output file replaced by a hard link (2 names): the export is written" "$RC" 0
expect_nomatch "… without the other file's lines" "$OUT" 'OTHER-FILE-CONTENT'
expect_match "… the failure is still listed" "$OUT" '### 2 Fails loudly'
if [ -n "$OTHER" ]; then
	cp -a "$RUN" "$TMP/own"
	f=$(ls "$TMP"/own/out/*fails*)
	chown nobody "$f"
	run timeout 20 "$RBC" export "$TMP/own" --format md
	expect_nomatch "an output file of another user's in the run's out/: not shown" "$OUT" 'failure-output-line'
else
	skip "an output file of another user's in the run's out/: not shown" "needs root and the user nobody (setpriv)"
fi

# --- out/ swapped for a link while the run goes on ------------------------------------

cat >"$TMP/retry.json" <<'EOF'
{ "runbook": "rt", "title": "Retries",
  "steps": [
    { "id": "x", "title": "Fails thrice", "run": "echo attempt-output; exit 1",
      "retry": { "attempts": 3, "delay": "1s" } }
  ] }
EOF
mkdir -p "$TMP/rt-runs" "$TMP/elsewhere"
( i=0
  while [ $i -lt 200 ]; do
	for d in "$TMP"/rt-runs/*-rt-*; do
		[ -f "$d/out/rt.x.out" ] || continue
		mv "$d/out" "$d/out.moved" && ln -s "$TMP/elsewhere" "$d/out" && touch "$TMP/swapped"
		exit 0
	done
	sleep 0.02; i=$((i + 1))
  done ) &
swapper=$!
RBC_RUNS_DIR=$TMP/rt-runs run timeout 60 "$RBC" run --batch "$TMP/retry.json"
wait "$swapper"
if [ -e "$TMP/swapped" ]; then
	ok "out/ is swapped for a link to another directory after the first attempt"
	expect_eq "… the later attempts write nothing through the link" "$(ls -A "$TMP/elsewhere")" ""
	d=$(ls -d "$TMP"/rt-runs/*-rt-*)
	expect_eq "… they go on in the run's own out/ (moved away)" "$(grep -c attempt-output "$d/out.moved/rt.x.out")" 3
else
	fail "out/ is swapped for a link to another directory after the first attempt" "$OUT" "$ERR"
fi

# --- a runs directory reached through a link ------------------------------------------

mkdir -p "$TMP/mine/runs" "$TMP/sticky" "$TMP/open"
chmod 700 "$TMP/mine/runs"
chmod 1777 "$TMP/sticky"
chmod 777 "$TMP/open"
ln -s "$TMP/mine" "$TMP/sticky/ours"
RBC_RUNS_DIR=$TMP/sticky/ours/runs expect_rc "a runs directory through a link of ours in a sticky directory is used" 2 \
	timeout 60 "$RBC" run --batch "$TMP/steps.json"
ln -s "$TMP/mine" "$TMP/open/ours"
RBC_RUNS_DIR=$TMP/open/ours/runs expect_rc "a runs directory through a link in a directory of mode 777 is refused" 77 \
	timeout 20 "$RBC" run --batch "$TMP/steps.json"
expect_match "… naming the directory anyone may write" "$ERR" "$TMP/open, writable by everyone \(mode 0777\)"
if [ -n "$OTHER" ]; then
	as_other ln -s "$TMP/mine" "$TMP/sticky/lnk"
	n=$(ls "$TMP/mine/runs" | wc -l)
	RBC_RUNS_DIR=$TMP/sticky/lnk/runs expect_rc "a runs directory through a link of nobody's in a sticky directory is refused" 77 \
		timeout 20 "$RBC" run --batch "$TMP/steps.json"
	expect_match "… naming the link and whose it is" "$ERR" "$TMP/sticky/lnk.*belongs to uid [0-9]+ \(nobody\)"
	expect_eq "… and no run is made" "$(ls "$TMP/mine/runs" | wc -l)" "$n"
	RBC_RUNS_DIR=$TMP/sticky/lnk/runs expect_rc "… rbc runs refuses it too" 77 timeout 20 "$RBC" runs
else
	skip "a runs directory through a link of nobody's in a sticky directory is refused" "needs root and the user nobody (setpriv)"
fi

# --- exit 77 for every command that finds a run in an untrusted runs directory --------

mkdir -p "$TMP/open777"
chmod 777 "$TMP/open777"
cp -a "$RUN" "$TMP/open777/"
RBC_RUNS_DIR=$TMP/open777 expect_rc "rbc export RUN from a runs directory of mode 777: exit 77" 77 \
	timeout 20 "$RBC" export "$ID" --format md
RBC_RUNS_DIR=$TMP/open777 expect_rc "rbc resume RUN from it: exit 77" 77 timeout 20 "$RBC" resume --batch --unfinished rerun "$ID"
RBC_RUNS_DIR=$TMP/open777 expect_rc "rbc history push RUN from it: exit 77 (before any database)" 77 \
	timeout 20 "$RBC" history push --db "postgresql://127.0.0.1:1/none?connect_timeout=1" "$ID"
expect_match "… saying why" "$ERR" 'without the sticky bit'

# A journal with another name (a hard link) is refused by resume as such.
cat >"$TMP/mine.json" <<'EOF'
{ "runbook": "mine", "title": "Mine",
  "steps": [
    { "id": "one", "title": "One", "run": "echo one" },
    { "id": "two", "title": "Two", "run": "if [ -e \"$MARK.ok\" ]; then touch \"$MARK\"; else kill -9 $PPID; fi" }
  ] }
EOF
run timeout 30 "$RBC" run --batch --var MARK="$TMP/mark" "$TMP/mine.json"
touch "$TMP/mark.ok"
r=$(ls -td "$RBC_RUNS_DIR"/*-mine-* | head -n 1)
ln "$r/journal.jsonl" "$TMP/journal-other-name"
run timeout 30 "$RBC" resume --batch --unfinished rerun "$r"
expect_eq "rbc resume of a journal with another name (a hard link): exit 77" "$RC" 77
expect_match "… saying it has other names" "$ERR" 'journal\.jsonl has other names'
[ -e "$TMP/mark" ] && fail "… and runs nothing" || ok "… and runs nothing"
rm -f "$TMP/journal-other-name"
expect_rc "… with one name again, the run resumes" 0 timeout 30 "$RBC" resume --batch --unfinished rerun "$r"

# A header that cannot be written leaves no torn run behind.
python3 - "$TMP/big.json" <<'PY'
import json, sys
steps = [{"id": "s%02d" % i, "title": "Step %d with a title long enough to fill the header" % i, "run": "true"}
         for i in range(1, 40)]
json.dump({"runbook": "big", "title": "A big header", "steps": steps}, open(sys.argv[1], "w"))
PY
cat >"$TMP/rbc-limited" <<SH
#!/usr/bin/env bash
trap '' XFSZ
ulimit -f 1
exec "$RBC" "\$@"
SH
chmod +x "$TMP/rbc-limited"
mkdir -p "$TMP/hruns"
RBC_RUNS_DIR=$TMP/hruns run timeout 30 "$TMP/rbc-limited" run --batch "$TMP/big.json"
expect_eq "a header that cannot be written (file-size limit): exit 74" "$RC" 74
expect_match "… saying the journal cannot be written" "$ERR" 'cannot write .*journal\.jsonl'
expect_eq "… and no run directory is left, torn" "$(ls -A "$TMP/hruns")" ""
RBC_RUNS_DIR=$TMP/hruns run timeout 20 "$RBC" runs
expect_eq "… rbc runs lists nothing" "$RC:$OUT:$ERR" "0:no runs in $TMP/hruns:"

# --- export -o: temporary names and the record ------------------------------------------

printf 'victim\n' >"$TMP/victim"
victim_sum=$(sha256sum <"$TMP/victim")
# The name FILE.tmp.PID planted before rbc starts, by a shell that then becomes rbc.
run timeout 20 bash -c 'ln -s "$1" "$2.tmp.$$" && exec "$3" export "$4" --format md -o "$2"' _ \
	"$TMP/victim" "$TMP/planted.md" "$RBC" "$ID"
expect_eq "export -o FILE with FILE.tmp.PID planted as a link: written all the same" \
	"$RC:$(head -n 1 "$TMP/planted.md" 2>/dev/null)" "0:# Deployment Log"
expect_eq "… the link's target is untouched" "$(sha256sum <"$TMP/victim")" "$victim_sum"
expect_eq "… and no temporary file is left" "$(ls "$TMP" | grep -c '^planted\.md\.tmp\.' )" 1

sum=$(sha256sum <"$RUN/journal.jsonl")
run timeout 20 "$RBC" export "$ID" --format json -o "$RUN/journal.jsonl"
expect_eq "export -o RUNDIR/journal.jsonl: refused (exit 73)" "$RC" 73
expect_match "… saying it is a run's record" "$ERR" "journal\.jsonl.*record of a run"
expect_eq "… the journal is untouched" "$(sha256sum <"$RUN/journal.jsonl")" "$sum"
ln -s "$RUN/journal.jsonl" "$TMP/to-journal"
expect_rc "export -o a link to a run's journal: refused" 73 timeout 20 "$RBC" export "$ID" --format json -o "$TMP/to-journal"
expect_eq "… the journal is untouched" "$(sha256sum <"$RUN/journal.jsonl")" "$sum"
f=$(ls "$RUN"/out/*hello*)
fsum=$(sha256sum <"$f")
expect_rc "export -o a run's output file: refused" 73 timeout 20 "$RBC" export "$ID" --format md -o "$f"
expect_eq "… the output is untouched" "$(sha256sum <"$f")" "$fsum"
expect_rc "export -o a new file in a run's out/: refused" 73 timeout 20 "$RBC" export "$ID" --format md -o "$RUN/out/new.md"
[ -e "$RUN/out/new.md" ] && fail "… and not made" || ok "… and not made"
expect_rc "export -o RUNDIR/deployment-log.md (beside the record, as the console writes it): written" 0 \
	timeout 20 "$RBC" export "$ID" --format md -o "$RUN/deployment-log.md"
expect_rc "… and the run still exports" 0 timeout 20 "$RBC" export "$ID" --format json

t_done
