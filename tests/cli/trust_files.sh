#!/usr/bin/env bash
# Files and directories rbc is handed or finds are not trusted blindly:
#  - export -o writes in place to what is not a regular file (a device, a
#    FIFO, a link to a pipe) and never replaces it with a file;
#  - the runs directory must be ours and writable by no one else (unless
#    sticky), files in a run directory are never opened through a link: a
#    second user swapping a run's output for a link cannot have rbc (as
#    root) write into a file of root's;
#  - resume refuses a run directory or a journal that is not ours;
#  - every field of a journal read back is checked: a crafted header is
#    refused with its line (no crash), an `output` field cannot make an
#    export print a file outside the run, a FIFO in the journal's place is
#    refused at once (never waited on);
#  - a line deleted, repeated or moved (a broken `seq`) is reported with its
#    line number, and nothing is built on such a record.
# Commands that could block run under `timeout`. The second user is a real
# one (nobody, through setpriv) when the tests run as root.
. tests/lib.sh
export RBC_RUNS_DIR=$TMP/runs
mkdir -p "$RBC_RUNS_DIR"

# run_id OUT: the run id a batch run printed.
run_id() { printf '%s\n' "$1" | sed -n 's/^run: \([^ ]*\) .*/\1/p' | head -n 1; }

# A run with a passing and a failing command step (its output is the
# failure's excerpt in the Markdown log).
cat >"$TMP/steps.json" <<'EOF'
{ "runbook": "trust", "title": "Trust",
  "steps": [
    { "id": "hello", "title": "Says hello", "run": "echo hello-from-the-step" },
    { "id": "fails", "title": "Fails loudly", "run": "echo failure-output-line; exit 3", "on_fail": "continue" },
    { "id": "bye", "title": "Says bye", "run": "echo bye" }
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

# --- export -o: in place to anything that is not a regular file ------------------

# A device node of our own, the twin of /dev/null (never the system's own:
# an rbc that replaces it must not break the machine the tests run on).
if mknod "$TMP/null" c 1 3 2>/dev/null; then
	expect_rc "export -o a character device (a private /dev/null)" 0 timeout 20 "$RBC" export "$ID" --format md -o "$TMP/null"
	if [ -c "$TMP/null" ]; then ok "… the device is still a device"
	else fail "… the device is still a device" "$(ls -l "$TMP/null")"; fi
	expect_eq "… and no temporary file is left beside it" "$(ls "$TMP" | grep -c '\.tmp\.')" 0
else
	skip "export -o a character device" "mknod is not permitted here"
fi

mkfifo "$TMP/fifo"
timeout 20 cat "$TMP/fifo" >"$TMP/fifo.got" &
reader=$!
expect_rc "export -o a FIFO, read by another process" 0 timeout 20 "$RBC" export "$ID" --format json -o "$TMP/fifo"
wait "$reader"
if [ -p "$TMP/fifo" ]; then ok "… the FIFO is still a FIFO"
else fail "… the FIFO is still a FIFO" "$(ls -l "$TMP/fifo")"; fi
expect_match "… and its reader got the export" "$(head -c 400 "$TMP/fifo.got")" '"schema_version":[[:space:]]*1'

# A link to standard output, as /dev/stdout is: the pipe gets the log, the link stays.
ln -s /proc/self/fd/1 "$TMP/stdout"
got=$(timeout 20 "$RBC" export "$ID" --format md -o "$TMP/stdout" | head -n 1)
expect_eq "export -o a link to standard output writes to the pipe" "$got" "# Deployment Log"
if [ -L "$TMP/stdout" ]; then ok "… and the link is still a link"
else fail "… and the link is still a link" "$(ls -l "$TMP/stdout")"; fi

# A link to a regular file: the file it names gets the export, atomically; the link stays.
echo old >"$TMP/target.md"
ln -s "$TMP/target.md" "$TMP/link.md"
expect_rc "export -o a link to a regular file" 0 timeout 20 "$RBC" export "$ID" --format md -o "$TMP/link.md"
if [ -L "$TMP/link.md" ]; then ok "… the link is still a link"
else fail "… the link is still a link" "$(ls -l "$TMP/link.md")"; fi
expect_eq "… and the file it names holds the log" "$(head -n 1 "$TMP/target.md")" "# Deployment Log"

# A regular file is still replaced atomically (mode 0600).
echo old >"$TMP/plain.md"
chmod 644 "$TMP/plain.md"
expect_rc "export -o a regular file" 0 timeout 20 "$RBC" export "$ID" --format md -o "$TMP/plain.md"
expect_eq "… replaced by a new file of mode 0600" "$(stat -c %a "$TMP/plain.md"):$(head -n 1 "$TMP/plain.md")" "600:# Deployment Log"

# --- the runs directory -------------------------------------------------------------

# as_other CMD...: runs CMD as a second, unprivileged user (nobody).
OTHER=""
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
	OTHER=nobody
	chmod 711 "$TMP"
	mkdir -p "$TMP/pub"
	chmod 755 "$TMP/pub"
	setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups test -x "$RBC" || OTHER=""
fi
as_other() { (cd / && setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups "$@"); }

if [ -n "$OTHER" ]; then
	mkdir -p "$TMP/pub/theirs"
	chown nobody "$TMP/pub/theirs"
	chmod 700 "$TMP/pub/theirs"
	RBC_RUNS_DIR=$TMP/pub/theirs expect_rc "a runs directory of another user's is refused" 77 \
		timeout 20 "$RBC" run --batch "$TMP/steps.json"
	expect_match "… saying whose it is" "$ERR" 'belongs to uid [0-9]+ \(nobody\)'
	expect_eq "… and nothing is made in it" "$(ls -A "$TMP/pub/theirs" | wc -l)" 0
	RBC_RUNS_DIR=$TMP/pub/theirs expect_rc "rbc runs refuses it too" 77 timeout 20 "$RBC" runs
else
	skip "a runs directory of another user's is refused" "needs root and the user nobody (setpriv)"
fi

for mode in 777 775; do
	mkdir -p "$TMP/open$mode"
	chmod "$mode" "$TMP/open$mode"
	RBC_RUNS_DIR=$TMP/open$mode expect_rc "a runs directory of mode $mode (no sticky bit) is refused (exit 77)" 77 \
		timeout 20 "$RBC" run --batch "$TMP/steps.json"
	expect_match "… saying why" "$ERR" "is writable by (everyone|its group) \(mode 0$mode\) without the sticky bit"
done
# …and so is one inside a directory others may write (they could rename it).
mkdir -p "$TMP/openparent/runs"
chmod 777 "$TMP/openparent"
chmod 700 "$TMP/openparent/runs"
RBC_RUNS_DIR=$TMP/openparent/runs expect_rc "a runs directory inside a directory of mode 777 is refused" 77 \
	timeout 20 "$RBC" run --batch "$TMP/steps.json"
expect_match "… naming that directory" "$ERR" "is inside $TMP/openparent, writable by everyone \(mode 0777\)"
cp -a "$RUN" "$TMP/open777/"
RBC_RUNS_DIR=$TMP/open777 expect_rc "rbc export RUN found in such a directory is refused (exit 77)" 77 \
	timeout 20 "$RBC" export "$ID" --format md
RBC_RUNS_DIR=$TMP/open777 expect_rc "… and so is rbc runs" 77 timeout 20 "$RBC" runs
mkdir -p "$TMP/sticky"
chmod 1777 "$TMP/sticky"
RBC_RUNS_DIR=$TMP/sticky expect_rc "a world-writable runs directory with the sticky bit (as /tmp) is used" 2 \
	timeout 60 "$RBC" run --batch "$TMP/steps.json"

# The swap itself, by a real second user: the runs directory is writable by
# everyone; while root's run waits, nobody moves the run's directory away
# and puts one of its own in its place, whose out/ holds a link to a file
# of root's where the next step's output goes.
cat >"$TMP/pub/wait.json" <<'EOF'
{ "runbook": "swap", "title": "Swap",
  "steps": [
    { "id": "wait", "title": "Waits for the flag", "run": "i=0; while [ ! -e \"$FLAG\" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done" },
    { "id": "write", "title": "Writes", "run": "echo written-by-the-step" }
  ] }
EOF
printf 'root-only content\n' >"$TMP/victim"
chmod 600 "$TMP/victim"
victim_sum=$(sha256sum <"$TMP/victim")
if [ -n "$OTHER" ]; then
	mkdir -p "$TMP/pub/shared" "$TMP/pub/flags"
	chmod 777 "$TMP/pub/shared" "$TMP/pub/flags"
	cat >"$TMP/pub/swap.sh" <<'EOF'
#!/bin/sh
# The other user: wait for root's run, swap its directory, raise the flag.
runs=$1 victim=$2 flag=$3
i=0
while [ $i -lt 100 ]; do
	for d in "$runs"/*; do
		[ -d "$d" ] || continue
		mv "$d" "$d.moved" && mkdir -p "$d/out" && ln -s "$victim" "$d/out/swap.write.out" && touch "$flag"
		exit 0
	done
	sleep 0.05
	i=$((i + 1))
done
exit 1
EOF
	chmod 755 "$TMP/pub/swap.sh"
	as_other timeout 20 "$TMP/pub/swap.sh" "$TMP/pub/shared" "$TMP/victim" "$TMP/pub/flags/go" &
	swapper=$!
	RBC_RUNS_DIR=$TMP/pub/shared run timeout 30 "$RBC" run --batch --var FLAG="$TMP/pub/flags/go" "$TMP/pub/wait.json"
	wait "$swapper" 2>/dev/null
	expect_eq "nobody's link swapped into a world-writable runs directory: root's file is untouched" \
		"$(sha256sum <"$TMP/victim")" "$victim_sum"
	expect_match "… because rbc refused that runs directory" "$ERR" 'without the sticky bit'
else
	skip "nobody's link swapped into a world-writable runs directory" "needs root and the user nobody (setpriv)"
fi

# A link in a run's out/ is never followed, however it got there (here the
# test puts it there itself, in a runs directory rbc trusts).
rm -f "$TMP/pub/flags/go" "$TMP/flag"
( i=0
  while [ $i -lt 200 ]; do
	for d in "$RBC_RUNS_DIR"/*-swap-*; do
		[ -d "$d/out" ] || continue
		ln -s "$TMP/victim" "$d/out/swap.write.out" && touch "$TMP/flag"
		exit 0
	done
	sleep 0.05; i=$((i + 1))
  done ) &
planter=$!
run timeout 30 "$RBC" run --batch --var FLAG="$TMP/flag" "$TMP/pub/wait.json"
wait "$planter" 2>/dev/null
[ -e "$TMP/flag" ] && ok "a link to a file of root's is put in the place of a step's output" ||
	fail "a link to a file of root's is put in the place of a step's output" "$OUT" "$ERR"
expect_eq "… and the step's output does not go into that file" "$(sha256sum <"$TMP/victim")" "$victim_sum"
swap_id=$(run_id "$OUT")
run timeout 20 "$RBC" export "$swap_id" --format json
expect_match "… the record says the output file was refused" "$OUT" 'swap\.write\.out: a symbolic link: refused'

# --- resume: only a run of our own -----------------------------------------------

# A runbook whose second step kills its rbc when not root: an interrupted
# run a resume would go on with, running the second step again (as root,
# it leaves a mark).
cat >"$TMP/pub/theirs.json" <<'EOF'
{ "runbook": "theirs", "title": "Theirs",
  "steps": [
    { "id": "one", "title": "One", "run": "echo one" },
    { "id": "two", "title": "Two", "run": "if [ \"$(id -u)\" = 0 ]; then touch \"$MARK\"; else kill -9 $PPID; fi" }
  ] }
EOF
chmod 644 "$TMP/pub/theirs.json"
if [ -n "$OTHER" ]; then
	mkdir -p "$TMP/pub/nruns"
	chown nobody "$TMP/pub/nruns"
	chmod 700 "$TMP/pub/nruns"
	as_other env RBC_RUNS_DIR="$TMP/pub/nruns" timeout 30 "$RBC" run --batch --var MARK="$TMP/pub/flags/mark" \
		"$TMP/pub/theirs.json" >/dev/null 2>&1
	theirs=$(ls -d "$TMP"/pub/nruns/*-theirs-* 2>/dev/null | head -n 1)
	if [ -n "$theirs" ] && [ "$(stat -c %U "$theirs/journal.jsonl")" = nobody ]; then
		ok "nobody's run was interrupted in nobody's runs directory"
		expect_rc "rbc resume refuses a run directory of another user's, even as root" 77 \
			timeout 30 "$RBC" resume --batch "$theirs"
		expect_match "… saying whose it is" "$ERR" 'belongs to uid [0-9]+ \(nobody\)'
		if [ -e "$TMP/pub/flags/mark" ]; then fail "… and runs nothing of theirs" "$TMP/pub/flags/mark exists"
		else ok "… and runs nothing of theirs"; fi
	else
		fail "nobody's run was interrupted in nobody's runs directory" "$(ls -lR "$TMP/pub/nruns" 2>&1 | head)"
	fi
else
	skip "rbc resume refuses a run directory of another user's" "needs root and the user nobody (setpriv)"
fi

# An interrupted run of our own, to resume with parts of it changed: its
# second step kills its rbc until $TMP/mark.ok exists, then leaves a mark.
cat >"$TMP/mine.json" <<'EOF'
{ "runbook": "mine", "title": "Mine",
  "steps": [
    { "id": "one", "title": "One", "run": "echo one" },
    { "id": "two", "title": "Two", "run": "if [ -e \"$MARK.ok\" ]; then touch \"$MARK\"; else kill -9 $PPID; fi" }
  ] }
EOF
interrupted() {
	rm -f "$TMP/mark.ok"
	run timeout 30 "$RBC" run --batch --var MARK="$TMP/mark" "$TMP/mine.json"
	touch "$TMP/mark.ok" # a resume that ran the step would leave the mark
	ls -td "$RBC_RUNS_DIR"/*-mine-* | head -n 1
}
if [ -n "$OTHER" ]; then
	r=$(interrupted)
	chown nobody "$r/journal.jsonl"
	expect_rc "rbc resume refuses a journal of another user's in a directory of ours" 77 \
		timeout 30 "$RBC" resume --batch "$r"
	[ -e "$TMP/mark" ] && fail "… and runs nothing" || ok "… and runs nothing"
fi

# The journal swapped for a link to a file of root's: that file is never
# read as the journal, cut or appended to.
r=$(interrupted)
cp "$r/journal.jsonl" "$TMP/journal-copy"
printf '{"seq":' >>"$TMP/journal-copy" # a torn last line a resume would cut off
rm "$r/journal.jsonl"
ln -s "$TMP/journal-copy" "$r/journal.jsonl"
copy_sum=$(sha256sum <"$TMP/journal-copy")
run timeout 30 "$RBC" resume --batch "$r"
if [ "$RC" = 77 ] || [ "$RC" = 65 ]; then ok "rbc resume refuses a journal that is a symbolic link (exit $RC)"
else fail "rbc resume refuses a journal that is a symbolic link" "exit $RC" "$ERR"; fi
expect_eq "… and the file it points to is untouched" "$(sha256sum <"$TMP/journal-copy")" "$copy_sum"
[ -e "$TMP/mark" ] && fail "… and runs nothing" || ok "… and runs nothing"
expect_rc "rbc export refuses it too" 65 timeout 20 "$RBC" export "$r" --format json

# --- journals read back: every field checked --------------------------------------

# crafted NAME PYTHON: a copy of the finished run whose journal the Python
# snippet rewrote (lines: the list of parsed lines; raw: the list of texts).
# copy_run DIR DEST: a copy of a run directory under another name, its
# header naming it.
copy_run() {
	cp -a "$1" "$2"
	sed -i "1s/\"run\":\"$(basename "$1")\"/\"run\":\"$(basename "$2")\"/" "$2/journal.jsonl"
}

# The copy keeps the run's name: a journal names the run of its directory.
crafted() {
	local dir=$TMP/crafted/$1/$ID
	rm -rf "$TMP/crafted/$1"
	mkdir -p "$TMP/crafted/$1"
	cp -a "$RUN" "$dir"
	python3 - "$dir/journal.jsonl" "$2" <<'PY'
import json, sys
path, code = sys.argv[1], sys.argv[2]
raw = open(path, encoding="utf-8").read().splitlines(True)
lines = [json.loads(l) for l in raw]
def dump(o): return json.dumps(o, ensure_ascii=False, separators=(",", ":")) + "\n"
exec(code.replace("\\n", "\n"))
open(path, "w", encoding="utf-8").write("".join(raw))
PY
	echo "$dir"
}

d=$(crafted runbooks-true 'lines[0]["runbooks"] = [True]; raw[0] = dump(lines[0])')
for fmt in md json junit incident-md; do
	expect_rc "a header with \"runbooks\": [true]: export --format $fmt refuses it" 65 \
		timeout 20 "$RBC" export "$d" --format "$fmt"
	expect_match "… naming line 1" "$ERR" 'journal\.jsonl:1: "runbooks" holds something that is not a runbook'
done
run timeout 20 "$RBC" runs
expect_eq "… rbc runs still lists the runs (exit 0)" "$RC" 0
copy_run "$d" "$RBC_RUNS_DIR/20990101T000000Z-crafted-0001"
run timeout 20 "$RBC" runs
expect_match "… and lists the crafted one as damaged" "$OUT" '20990101T000000Z-crafted-0001 +damaged'
rm -rf "$RBC_RUNS_DIR/20990101T000000Z-crafted-0001"

# More fields of the wrong type, each refused with its line (no crash, no
# undefined behaviour: an attempt of 1e300 does not fit any counter).
i=0
while IFS='|' read -r what code want; do
	i=$((i + 1))
	d=$(crafted "type-$i" "$code")
	for fmt in json md; do
		run timeout 20 "$RBC" export "$d" --format "$fmt"
		if [ "$RC" = 65 ] && printf '%s' "$ERR" | grep -Eq -- "$want"; then ok "$what: export --format $fmt refuses it"
		else fail "$what: export --format $fmt refuses it" "exit $RC, want 65" "stderr: ${ERR:0:400}" "want: $want"; fi
	done
done <<'EOF'
a step_finished whose attempt is 1e300|for k, o in enumerate(lines):\n    if o["ev"] == "step_finished": o["attempt"] = 1e300; raw[k] = dump(o); break|journal\.jsonl:[0-9]+: "attempt" is not what rbc writes there
a seq that is text|lines[2]["seq"] = "2"; raw[2] = dump(lines[2])|journal\.jsonl:3: "seq" is not what rbc writes there
a sample that is a number|for k, o in enumerate(lines):\n    if o["ev"] == "sample": o["sample"] = 5; raw[k] = dump(o); break|journal\.jsonl:[0-9]+: "sample" is not
a header step without an id|del lines[0]["runbooks"][0]["steps"][0]["id"]; raw[0] = dump(lines[0])|journal\.jsonl:1: a runbook's step has no "id"
an event without ev|del lines[3]["ev"]; raw[3] = dump(lines[3])|journal\.jsonl:4: not an event: no "ev"
a second run header|raw.insert(2, raw[0].replace('"seq":0', '"seq":2')); raw[3:] = [dump(dict(json.loads(l), seq=json.loads(l)["seq"] + 1)) for l in raw[3:]]|journal\.jsonl:3: a second run header
EOF
# (the snippets above are one line each: \n is a newline in Python)

# An output field that points outside the run: never read.
printf 'TOP-SECRET-CONTENT of another file\n' >"$TMP/secret.out"
d=$(crafted output-elsewhere "
import os
for k, o in enumerate(lines):
    if o.get('output'):
        o['output'] = '$TMP/secret.out'
        raw[k] = dump(o)
")
run timeout 20 "$RBC" export "$d" --format md
expect_rc "an output field naming a file outside the run: the export is written" 0 timeout 20 "$RBC" export "$d" --format md
expect_nomatch "… without that file's content" "$OUT" 'TOP-SECRET'
run timeout 20 "$RBC" export "$d" --format json
expect_nomatch "… and the JSON export does not point at it" "$OUT" "$TMP/secret.out"
d=$(crafted output-dotdot "
for k, o in enumerate(lines):
    if o.get('output'):
        o['output'] = o['output'].rsplit('/out/', 1)[0] + '/out/../../../../../../../../..$TMP/secret.out'
        raw[k] = dump(o)
")
run timeout 20 "$RBC" export "$d" --format md
expect_nomatch "an output field climbing out with ../: not read either" "$OUT" 'TOP-SECRET'
d=$(crafted output-link "
for k, o in enumerate(lines):
    if o.get('output'):
        o['output'] = o['output'].replace('$RUN', '$TMP/crafted/output-link')
        raw[k] = dump(o)
")
f=$(ls "$d"/out/*fails*)
rm "$f"
ln -s "$TMP/secret.out" "$f"
run timeout 20 "$RBC" export "$d" --format md
expect_nomatch "a step's output file swapped for a link: not followed" "$OUT" 'TOP-SECRET'
expect_match "… the failure is still in the log" "$OUT" '### 2 Fails loudly'
# The run's own output is still shown, even from a run directory moved elsewhere.
mkdir -p "$TMP/moved"
cp -a "$RUN" "$TMP/moved/"
mv "$RUN" "$TMP/away"
run timeout 20 "$RBC" export "$TMP/moved/$ID" --format md
expect_match "the failure's excerpt comes from the run's own out/, wherever the run directory is now" "$OUT" 'failure-output-line'
mv "$TMP/away" "$RUN"

# A FIFO in the journal's place: refused at once, never waited on.
fifo_run=$RBC_RUNS_DIR/20990101T000000Z-fifo-0001
mkdir -p "$fifo_run/out"
mkfifo "$fifo_run/journal.jsonl"
run timeout 20 "$RBC" runs
expect_eq "rbc runs with a FIFO as a run's journal does not hang" "$RC" 0
expect_match "… it lists that run as damaged" "$OUT" '20990101T000000Z-fifo-0001 +damaged'
expect_match "… saying why" "$ERR" 'journal\.jsonl: not a regular file'
expect_match "… and still lists the others" "$OUT" "$ID"
expect_rc "rbc export of that run does not hang: refused" 65 timeout 20 "$RBC" export 20990101T000000Z-fifo-0001 --format md
expect_rc "rbc resume of that run does not hang: refused" 77 timeout 20 "$RBC" resume --batch 20990101T000000Z-fifo-0001
rm -rf "$fifo_run"

# --- seq: a line deleted, repeated or moved --------------------------------------
n=$(wc -l <"$RUN/journal.jsonl")
d=$(crafted deleted 'del raw[4]')
run timeout 20 "$RBC" export "$d" --format md
expect_eq "a line deleted from the middle: export refuses the record (exit 65)" "$RC" 65
expect_match "… naming the line and what is missing" "$ERR" 'journal\.jsonl:5: seq 5 where 4 was expected: 1 line before it is missing \(deleted or moved\)'
d=$(crafted deleted-last "del raw[$((n - 1))]; del raw[$((n - 3))]")
expect_rc "two lines deleted, the last one among them: refused too" 65 timeout 20 "$RBC" export "$d" --format json
d=$(crafted repeated 'raw.insert(4, raw[3])')
run timeout 20 "$RBC" export "$d" --format json
expect_eq "a line repeated: export refuses the record" "$RC" 65
expect_match "… naming the line" "$ERR" 'journal\.jsonl:5: seq 3 where 4 was expected: the line with seq 3 is repeated or moved'
d=$(crafted swapped 'raw[3], raw[4] = raw[4], raw[3]')
run timeout 20 "$RBC" export "$d" --format junit
expect_match "two lines swapped: refused, naming the first out of place" "$RC:$ERR" '^65:.*journal\.jsonl:4: seq 4 where 3 was expected'
copy_run "$(crafted deleted 'del raw[4]')" "$RBC_RUNS_DIR/20990101T000000Z-gap-0001"
run timeout 20 "$RBC" runs
expect_match "rbc runs lists a journal with a gap as damaged" "$OUT" '20990101T000000Z-gap-0001 +damaged'
expect_match "… naming the line on standard error" "$ERR" '20990101T000000Z-gap-0001/journal\.jsonl:5: seq 5 where 4 was expected'
rm -rf "$RBC_RUNS_DIR/20990101T000000Z-gap-0001"

# Resume builds nothing on a damaged record.
r=$(interrupted)
python3 - "$r/journal.jsonl" <<'PY'
import sys
p = sys.argv[1]
raw = open(p).read().splitlines(True)
del raw[2]
open(p, "w").write("".join(raw))
PY
before=$(sha256sum <"$r/journal.jsonl")
run timeout 30 "$RBC" resume --batch "$r"
expect_eq "rbc resume of a journal with a line deleted is refused (exit 65)" "$RC" 65
expect_match "… naming the line" "$ERR" 'journal\.jsonl:3: seq 3 where 2 was expected'
expect_eq "… and appends nothing to it" "$(sha256sum <"$r/journal.jsonl")" "$before"
[ -e "$TMP/mark" ] && fail "… and runs nothing" || ok "… and runs nothing"

t_done
