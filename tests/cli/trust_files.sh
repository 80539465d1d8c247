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

t_done
