#!/usr/bin/env bash
# Text and processes from elsewhere, the cases a hostile review found:
#  - a failure's output stays inside its code block in the deployment log
#    whatever runs of backticks and tildes it holds (cmark-gfm keeps a
#    fence's length in one byte: a fence of 256 or more reads as a short one);
#  - a NUL byte in a command's output hides nothing after it, in batch lines
#    or in the deployment log;
#  - error messages that name a path show its escapes, never obey them;
#  - what a command started that left its process group and still holds its
#    output is killed with the group; what has an output of its own, or ran
#    before the command, is left running;
#  - a --vars file with lone CR line ends is read line by line; UTF-32 is
#    named as such;
#  - rbc check reads a read-only query as PostgreSQL does (comments, E'',
#    U&'', dollar quotes, quoted names) before warning what it reaches, and
#    warns for a function only where it is called;
#  - a captured value spliced into a libpq host, hostaddr or port cannot add
#    a server (a comma), in key=value form or a URI; outside a PromQL string
#    a value is one number, duration or name, no operator inside.
. tests/lib.sh
export RBC_RUNS_DIR=$TMP/runs
run_id() { printf '%s\n' "$1" | sed -n 's/^run: \([^ ]*\) .*/\1/p'; }

if ! command -v cmark-gfm >/dev/null; then
	fail "cmark-gfm is installed" "make deps installs it"
	t_done
fi
# render FILE: FILE's Markdown as HTML, raw HTML let through as GitHub's renderer does.
render() { cmark-gfm --unsafe -e table -e strikethrough -e autolink -e tasklist "$1"; }

# blocks HTML: the failure's code blocks and what else the page holds, one fact a line.
blocks() {
	python3 - "$1" <<'PY'
import sys, html.parser, json
class P(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.pre, self.heads, self.cur = {}, [], [], None
    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag in ("pre", "h1", "h2", "h3"):
            self.cur = [tag, ""]
    def handle_endtag(self, tag):
        if self.cur and tag == self.cur[0]:
            (self.pre if tag == "pre" else self.heads).append(self.cur[1])
            self.cur = None
    def handle_data(self, d):
        if self.cur:
            self.cur[1] += d
p = P()
p.feed(open(sys.argv[1], encoding="utf-8").read())
for t in ("script", "img", "a", "details"):
    print("tag %s %d" % (t, p.tags.get(t, 0)))
for h in p.heads:
    print("heading %s" % json.dumps(h, ensure_ascii=False))
for b in p.pre:
    print("pre %s" % json.dumps(b, ensure_ascii=False))
PY
}

# === A failure's output in the deployment log ====================================
# hostile N CHAR: a command that prints a line of N CHARs, then HTML and Markdown.
hostile() {
	printf "python3 -c 'print(\\\\\"%s\\\\\" * %d)'; printf '<script>alert(1)</script>\\\\n<img src=x onerror=alert(2)>\\\\n\\\\n# Injected heading\\\\n[click](http://evil.example/)\\\\n'; exit 1" "$2" "$1"
}
cat >"$TMP/fence.json" <<JSON
{ "runbook": "fence", "title": "Fences",
  "steps": [
    { "id": "b300", "title": "300 backticks", "run": "$(hostile 300 '`')", "on_fail": "continue" },
    { "id": "b255", "title": "255 backticks", "run": "$(hostile 255 '`')", "on_fail": "continue" },
    { "id": "b256", "title": "256 backticks", "run": "$(hostile 256 '`')", "on_fail": "continue" },
    { "id": "both", "title": "Both kinds", "run": "python3 -c 'print(\"~\" * 300)'; $(hostile 600 '`')", "on_fail": "continue" },
    { "id": "t300", "title": "300 tildes", "run": "$(hostile 300 '~')", "on_fail": "continue" }
  ] }
JSON
run "$RBC" run --batch "$TMP/fence.json"
fid=$(run_id "$OUT")
expect_rc "rbc export --format md of failures with long runs of backticks and tildes" 0 \
	"$RBC" export "$fid" --format md -o "$TMP/fence.md"
render "$TMP/fence.md" >"$TMP/fence.html"
FACTS=$(blocks "$TMP/fence.html")
expect_eq "rendered by cmark-gfm: no <script>, <img> or link from the output" \
	"$(printf '%s\n' "$FACTS" | grep '^tag ')" $'tag script 0\ntag img 0\ntag a 0\ntag details 0'
expect_eq "… no heading from the output" "$(printf '%s\n' "$FACTS" | grep -c '^heading "Injected')" 0
expect_eq "… five code blocks, one per failure" "$(printf '%s\n' "$FACTS" | grep -c '^pre ')" 5
bt() { python3 -c 'import sys; print(sys.argv[1] * int(sys.argv[2]), end="")' "$1" "$2"; }
tail_text='\n<script>alert(1)</script>\n<img src=x onerror=alert(2)>\n\n# Injected heading\n[click](http://evil.example/)\n"'
for n in 300 255 256; do
	expect_eq "… a line of $n backticks is in its block, the HTML after it too" \
		"$(printf '%s\n' "$FACTS" | grep -F "pre \"$(bt '`' "$n")\\n")" "pre \"$(bt '`' "$n")$tail_text"
done
expect_eq "… a line of 300 tildes too" \
	"$(printf '%s\n' "$FACTS" | grep -F "pre \"$(bt '~' 300)\\n<script>")" "pre \"$(bt '~' 300)$tail_text"
expect_eq "… with 300 tildes and 600 backticks, the backticks are shortened, saying how many" \
	"$(printf '%s\n' "$FACTS" | grep -F "pre \"$(bt '~' 300)\\n\`")" "pre \"$(bt '~' 300)\\n\`\`\`…[600 backticks]$tail_text"
expect_eq "the fences: tildes where backtick runs are long, never more than 250 characters" \
	"$(grep -E '^(`+|~+)text$' "$TMP/fence.md" | awk '{ print substr($0, 1, 1) (length($0) - 4) }' | paste -sd' ')" \
	'~3 ~3 ~3 `250 `3'

# === A NUL byte in a command's output ===========================================
cat >"$TMP/nul.json" <<'JSON'
{ "runbook": "nul", "title": "NUL",
  "steps": [ { "id": "nul", "title": "A NUL", "run": "printf 'one\\ntwo\\000hidden\\nthree\\nERROR real cause\\n'; exit 1" } ] }
JSON
run "$RBC" run --batch "$TMP/nul.json"
nid=$(run_id "$OUT")
expect_eq "batch: the lines after a NUL byte are shown, the NUL as \\x00" \
	"$(printf '%s\n' "$OUT" | grep 'stdout|')" \
'          stdout| one
          stdout| two\x00hidden
          stdout| three
          stdout| ERROR real cause'
"$RBC" export "$nid" --format md -o "$TMP/nul.md"
render "$TMP/nul.md" >"$TMP/nul.html"
expect_eq "the deployment log: the last lines of its output go on past the NUL, shown as U+FFFD" \
	"$(blocks "$TMP/nul.html" | grep '^pre ')" 'pre "one\ntwo�hidden\nthree\nERROR real cause\n"'

# === Error messages that name a path ============================================
OSC=$'\e]0;PWN\a'
# raw NAME TEXT: TEXT has no ESC, BEL, DEL or C1 character.
raw() {
	if printf '%s' "$2" | LC_ALL=C grep -qP '[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]'; then
		fail "$1" "$(printf '%s' "$2" | cat -v | head -5)"
	else ok "$1"; fi
}
mkdir -m 777 "$TMP/open$OSC"
RBC_RUNS_DIR="$TMP/open$OSC" run "$RBC" runs
expect_eq "rbc runs refuses a runs directory everyone may write (77)" "$RC" 77
raw "… naming it with its escapes shown, not obeyed" "$ERR"
expect_match "… shown as \\x1b" "$ERR" 'open\\x1b\]0;PWN\\x07 is writable by everyone'
cat >"$TMP/two.json" <<'JSON'
{ "runbook": "two", "title": "Two", "steps": [ { "id": "a", "title": "A", "run": "true" } ] }
JSON
run "$RBC" run --batch "$TMP/two.json"
tid=$(run_id "$OUT")
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	mkdir -p "$TMP/theirs$OSC"
	cp -a "$TMP/runs/$tid" "$TMP/theirs$OSC/"
	chown -R nobody "$TMP/theirs$OSC/$tid"
	run "$RBC" resume --batch "$TMP/theirs$OSC/$tid"
	expect_eq "rbc resume refuses a run directory of another user's (77)" "$RC" 77
	raw "… naming it with its escapes shown, not obeyed" "$ERR"
	expect_match "… shown as \\x1b" "$ERR" 'theirs\\x1b\]0;PWN\\x07/'"$tid"' belongs to uid [0-9]+ \(nobody\)'
else
	skip "rbc resume refuses a run directory of another user's (77)" "needs root and the user nobody"
fi

# === What a command leaves running ==============================================
# Once the shell has exited and its output is still held a second later, the
# step ends and whatever holds the output is killed: the process group, and
# the processes the command started that left it (setsid, a double fork).
# A process with an output of its own is left running; so is one started
# before the command that holds its output. N is unique to this test, so
# that only its own processes are looked for (and killed by id).
U=$$
# alive PATTERN: ids of processes whose command line is PATTERN.
alive() { ps -eo pid=,args= | awk -v p="$1" '{ pid = $1; $1 = ""; sub(/^ /, ""); if ($0 == p) print pid }'; }
# An older process that opens the step's output (through /proc) and holds it.
cat >"$TMP/holder.py" <<'PY'
import os, sys, time
flag = sys.argv[1]
while not os.path.exists(flag + ".pid"):
    time.sleep(0.02)
time.sleep(0.05)
fd = os.open("/proc/%s/fd/1" % open(flag + ".pid").read().strip(), os.O_WRONLY)
open(flag + ".opened", "w").close()
time.sleep(60)
PY
line() { printf '%s\n' "$OUT" | grep -E "^[A-Z]+ +$1  " | tail -1; }
jtook() { python3 -c 'import json,sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("ev") == "step_finished" and e.get("step") == sys.argv[2]: print(int(e["duration_ms"]))' "$1" "$2" | tail -1; }
for spawn in posix_spawn uv_spawn; do
	rm -f "$TMP/hold".*
	python3 "$TMP/holder.py" "$TMP/hold" &
	holder=$!
	cat >"$TMP/left.json" <<JSON
{ "runbook": "left", "title": "What a command leaves running",
  "steps": [
    { "id": "setsid", "title": "setsid", "run": "setsid sleep 1161$U & echo bg" },
    { "id": "daemon", "title": "A double fork", "run": "( setsid sh -c 'sleep 1162$U & exit 0' & ); echo bg" },
    { "id": "nohup", "title": "Its own output", "run": "nohup sleep 1163$U >/dev/null 2>&1 & setsid sleep 1164$U >/dev/null 2>&1 </dev/null & echo bg" },
    { "id": "timeout", "title": "Timed out", "run": "setsid sleep 1165$U & sleep 100", "timeout": "1s", "on_fail": "continue" },
    { "id": "older", "title": "An older holder", "run": "echo \$\$ >'$TMP/hold.pid'; while [ ! -e '$TMP/hold.opened' ]; do sleep 0.05; done; echo bg" },
    { "id": "short", "title": "A timeout under the grace", "run": "sleep 1166$U & echo bg", "timeout": "300ms" }
  ] }
JSON
	if [ $spawn = uv_spawn ]; then export RBC_TEST_UV_SPAWN=1; fi
	run timeout 120 "$RBC" run --batch "$TMP/left.json"
	unset RBC_TEST_UV_SPAWN
	sleep 0.3
	expect_match "$spawn: a process that left the group with setsid and held the output is killed, and said so" "$(line setsid)" \
		'^PASS +setsid  .*its process group killed; 1 process that had left its process group and held its output was killed too \(pid [0-9]+\)$'
	expect_eq "… it is gone" "$(alive "sleep 1161$U")" ""
	expect_match "$spawn: so is a double-forked daemon's" "$(line daemon)" '^PASS +daemon  .*held its output was killed too \(pid [0-9]+\)$'
	expect_eq "… it is gone" "$(alive "sleep 1162$U")" ""
	expect_match "$spawn: one started with an output of its own does not hold the step" "$(line nohup)" '^PASS +nohup  Its own output — exit = 0 == 0$'
	expect_eq "… and is left running, in the group or not" "$(alive "sleep 1163$U" | wc -l) $(alive "sleep 1164$U" | wc -l)" "1 1"
	expect_match "$spawn: after a timeout, a process outside the group holding the output is killed too" "$(line timeout)" \
		'^ERROR +timeout  .*timed out after 1s.*1 process that had left its process group and held its output was killed too'
	expect_eq "… it is gone" "$(alive "sleep 1165$U")" ""
	expect_match "$spawn: a process older than the command that holds its output is named, not killed" "$(line older)" \
		"^PASS +older  .*; 1 process outside its process group still holds its output \\(pid $holder\\), left running: started before the command"
	if kill -0 "$holder" 2>/dev/null; then ok "… it still runs"; else fail "… it still runs" "pid $holder is gone"; fi
	kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
	expect_match "$spawn: a timeout shorter than the grace bounds it" "$(line short)" '^PASS +short  .*still held open [0-9]+ms later'
	short=$(jtook "$TMP/runs/$(run_id "$OUT")/journal.jsonl" left/short)
	if [ -n "$short" ] && [ "$short" -lt 900 ]; then ok "… the step ends within it ($short ms)"
	else fail "… the step ends within it" "took ${short:-?} ms"; fi
	for n in 1161 1162 1163 1164 1165 1166; do k=$(alive "sleep $n$U"); [ -n "$k" ] && kill $k 2>/dev/null; done
done

# === --vars files ================================================================
cat >"$TMP/show.json" <<'JSON'
{ "runbook": "show-vars", "title": "Show the variables",
  "steps": [ { "id": "show", "title": "Show", "run": "printf '%s|%s' \"$VERSION\" \"$NOTE\"",
               "expect": "stdout == \"1.5.0|release day\"" } ] }
JSON
printf 'VERSION=1.5.0\r# an old Mac editor\rNOTE=release day\r' >"$TMP/cr.env"
run "$RBC" run --batch --vars "$TMP/cr.env" "$TMP/show.json"
expect_match "a --vars file with lone CR line ends is read line by line, not as one line" "$OUT" '^PASS +show  Show — stdout = "1\.5\.0\|release day"'
printf 'VERSION=1.5.0\rNOTE=release\0day\r' >"$TMP/crnul.env"
run "$RBC" run --batch --vars "$TMP/crnul.env" "$TMP/show.json"
expect_eq "… and a problem in it is at its line" "$ERR" "$TMP/crnul.env:2: a NUL byte: a value cannot hold one (it would end there)"
printf '\xff\xfe\x00\x00V\x00\x00\x00=\x00\x00\x001\x00\x00\x00' >"$TMP/u32le.env"
run "$RBC" run --batch --vars "$TMP/u32le.env" "$TMP/show.json"
expect_eq "a UTF-32 --vars file is called UTF-32" "$RC $ERR" \
	"65 $TMP/u32le.env:1: the file is UTF-32 (it starts with a byte-order mark FF FE 00 00): save it as UTF-8"
printf '\x00\x00\xfe\xff\x00\x00\x00V' >"$TMP/u32be.env"
run "$RBC" run --batch --vars "$TMP/u32be.env" "$TMP/show.json"
expect_eq "… big-endian too" "$RC $ERR" \
	"65 $TMP/u32be.env:1: the file is UTF-32 (it starts with a byte-order mark 00 00 FE FF): save it as UTF-8"
printf '\xfe\xff\x00V' >"$TMP/u16be.env"
run "$RBC" run --batch --vars "$TMP/u16be.env" "$TMP/show.json"
expect_eq "… and UTF-16 still UTF-16" "$RC $ERR" \
	"65 $TMP/u16be.env:1: the file is UTF-16 (it starts with a byte-order mark FE FF): save it as UTF-8"

# === Read-only SQL that still reaches outside the database ======================
# Each query a step; rbc check's warnings per step, joined with |.
python3 - "$TMP/reach.json" <<'PY'
import json, sys
queries = [
    "COPY t TO /**/ PROGRAM 'id'",
    "COPY t TO -- a comment\nPROGRAM 'id'",
    "COPY t TO E'/tmp/x'",
    "COPY t TO U&'/tmp/x'",
    "COPY t TO $x$/tmp/x$x$",
    "COPY t FROM E'/etc/passwd'",
    "SELECT U&\"lo\\005Fexport\"(1, '/tmp/x')",
    "SELECT U&\"lo!005Fexport\" UESCAPE '!' (1, '/tmp/x')",
    "SELECT \"pg_read_file\" /* c */ ('/etc/passwd')",
    "DO $$ BEGIN EXECUTE E'SELECT lo_\\x65xport(1, \\'/tmp/x\\')'; END $$",
    "SELECT dblink_status FROM t",
    "SELECT * FROM pg_ls_dir_info",
    "SELECT 'lo_export' AS f -- lo_export(1, 'x')",
    "SELECT 1 /* COPY t TO PROGRAM 'id' */",
    "COPY (SELECT program FROM t) TO STDOUT",
]
steps = [{"id": "q%d" % i, "title": "q", "sql": {"conn": "host=127.0.0.1", "query": q}} for i, q in enumerate(queries)]
json.dump({"runbook": "reach", "title": "Reach", "steps": steps}, open(sys.argv[1], "w"), indent=1)
PY
run "$RBC" check "$TMP/reach.json"
reach() { printf '%s\n' "$ERR" | grep -F "steps[$1].sql.query: warning: " | sed 's/.*warning: //; s/: a read-only transaction does not stop that .*//' | paste -sd'|'; }
expect_eq "COPY … TO, a comment, PROGRAM: a warning" "$(reach 0)" "COPY … PROGRAM runs a command on the database server"
expect_eq "… a -- comment between them too" "$(reach 1)" "COPY … PROGRAM runs a command on the database server"
for i in 2 3 4 5; do
	expect_eq "COPY with a file name written as an E'', U&'' or dollar-quoted string ($i)" "$(reach $i)" \
		"COPY with a file name reads or writes a file on the database server"
done
expect_eq "lo_export spelled with a U& escape in a quoted identifier" "$(reach 6)" "lo_export() writes a file on the database server"
expect_eq "… with a UESCAPE of its own" "$(reach 7)" "lo_export() writes a file on the database server"
expect_eq "a quoted function name, a comment before its (" "$(reach 8)" "pg_read_file() reads a file on the database server"
expect_eq "dynamic SQL in an escape string, decoded" "$(reach 9)" "lo_export() writes a file on the database server"
expect_eq "no warning for a column named dblink_status (no \"(\" after it)" "$(reach 10)" ""
expect_eq "… nor a table named pg_ls_dir_info" "$(reach 11)" ""
expect_eq "… nor a string that only names lo_export, nor a comment" "$(reach 12)$(reach 13)" ""
expect_eq "… nor a column named program in COPY's own query" "$(reach 14)" ""

# === Values spliced into a libpq connection string: host lists ==================
S=$ROOT/tests/services
SVC=$(mktemp -d "${TMPDIR:-/tmp}/rbc-review-text.XXXXXX")
trap '"$S/stop" "$SVC" >/dev/null 2>&1; rm -rf "$SVC" "$TMP"' EXIT
if ! "$S/start" "$SVC" postgres prometheus >"$TMP/start.out" 2>&1; then
	fail "the test services start" "$(tail -20 "$TMP/start.out")"
	t_done
fi
# shellcheck disable=SC1091
. "$SVC/env"
cat >"$TMP/hosts.json" <<JSON
{ "runbook": "hosts", "title": "Captured values in host, hostaddr and port",
  "steps": [
    { "id": "cap", "title": "Values from elsewhere",
      "run": "printf 'H=/tmp/nosock,127.0.0.1;A=127.0.0.2,127.0.0.1;P=1,$PGPORT;L=127.0.0.1;C=rbc,x;K=host;'",
      "capture": { "H": "match(stdout, /H=(.*?);/)", "A": "match(stdout, /A=(.*?);/)", "P": "match(stdout, /P=(.*?);/)",
                   "L": "match(stdout, /L=(.*?);/)", "C": "match(stdout, /C=(.*?);/)",
                   "K": "match(stdout, /K=(.*?);/)" } },
    { "id": "kv-host", "title": "host=", "on_fail": "continue",
      "sql": { "conn": "host=\${H} port=$PGPORT user=rbc dbname=rbc_test connect_timeout=5", "query": "SELECT 1" } },
    { "id": "kv-quoted", "title": "host='…'", "on_fail": "continue",
      "sql": { "conn": "host='\${H}' port=$PGPORT user=rbc dbname=rbc_test connect_timeout=5", "query": "SELECT 1" } },
    { "id": "kv-hostaddr", "title": "hostaddr=", "on_fail": "continue",
      "sql": { "conn": "hostaddr=\${A} port=$PGPORT user=rbc dbname=rbc_test connect_timeout=5", "query": "SELECT 1" } },
    { "id": "kv-port", "title": "port=", "on_fail": "continue",
      "sql": { "conn": "host=127.0.0.1,127.0.0.1 port=\${P} user=rbc dbname=rbc_test connect_timeout=5", "query": "SELECT 1" } },
    { "id": "uri-host", "title": "URI host", "on_fail": "continue",
      "sql": { "conn": "postgresql://rbc@\${H}:$PGPORT/rbc_test?connect_timeout=5", "query": "SELECT 1" } },
    { "id": "uri-port", "title": "URI port", "on_fail": "continue",
      "sql": { "conn": "postgresql://rbc@127.0.0.1:\${P}/rbc_test?connect_timeout=5", "query": "SELECT 1" } },
    { "id": "uri-param", "title": "URI ?host=", "on_fail": "continue",
      "sql": { "conn": "postgresql:///rbc_test?user=rbc&port=$PGPORT&host=\${H}&connect_timeout=5", "query": "SELECT 1" } },
    { "id": "uri-name", "title": "URI parameter name", "on_fail": "continue",
      "sql": { "conn": "postgresql://rbc@127.0.0.1:$PGPORT/rbc_test?\${K}=127.0.0.1", "query": "SELECT 1" } },
    { "id": "kv-plain", "title": "host= without a comma", "on_fail": "continue",
      "sql": { "conn": "host=\${L} port=$PGPORT user=rbc dbname=rbc_test connect_timeout=5", "query": "SELECT 1" } },
    { "id": "uri-plain", "title": "URI host without a comma", "on_fail": "continue",
      "sql": { "conn": "postgresql://rbc@\${L}:$PGPORT/rbc_test?connect_timeout=5", "query": "SELECT 1" } },
    { "id": "kv-db", "title": "a comma in dbname=", "on_fail": "continue",
      "sql": { "conn": "host=127.0.0.1 port=$PGPORT user=rbc dbname=\${C} connect_timeout=5", "query": "SELECT 1" } },
    { "id": "uri-user", "title": "a comma in the URI's user", "on_fail": "continue",
      "sql": { "conn": "postgresql://\${C}@127.0.0.1:$PGPORT/rbc_test?connect_timeout=5", "query": "SELECT 1" } }
  ] }
JSON
run "$RBC" run --batch "$TMP/hosts.json"
expect_match "host=\${H} with a comma in H is refused, naming the variable (libpq would try each host)" "$(line kv-host)" \
	'^ERROR +kv-host .*\$\{H\} is in host= and its value holds a comma, which libpq reads as a list of servers'
expect_match "… inside quotes the runbook wrote too" "$(line kv-quoted)" '^ERROR +kv-quoted .*\$\{H\} is in host= .*a comma'
expect_match "… in hostaddr=" "$(line kv-hostaddr)" '^ERROR +kv-hostaddr .*\$\{A\} is in hostaddr= .*a comma'
expect_match "… in port=" "$(line kv-port)" '^ERROR +kv-port .*\$\{P\} is in port= .*a comma'
expect_match "… in a postgresql:// URI's host, percent-encoded or not" "$(line uri-host)" \
	"^ERROR +uri-host .*\\\$\\{H\\} is in the connection URI's hosts and ports and its value holds a comma"
expect_match "… in its port" "$(line uri-port)" "^ERROR +uri-port .*\\\$\\{P\\} is in the connection URI's hosts and ports"
expect_match "… in its ?host= parameter" "$(line uri-param)" "^ERROR +uri-param .*\\\$\\{H\\} is in the connection URI's hosts and ports"
expect_match "… and a value where a URI parameter's name goes is refused, as a keyword is" "$(line uri-name)" \
	"^ERROR +uri-name .*\\\$\\{K\\} stands where a connection URI parameter's name goes"
expect_match "a host without a comma connects" "$(line kv-plain)" '^PASS +kv-plain '
expect_match "… in a URI too" "$(line uri-plain)" '^PASS +uri-plain '
expect_match "a comma in dbname= is a database name" "$(line kv-db)" '^ERROR +kv-db .*database "rbc,x" does not exist'
expect_match "… and in a URI's user a user name" "$(line uri-user)" '^ERROR +uri-user .*"rbc,x"'

# === Values outside a PromQL string =============================================
# bare ID VALUE QUERY EXPECT: a step that captures VALUE as V, then queries QUERY.
bare() {
	printf '    { "id": "cap-%s", "title": "Capture", "run": "printf %%s %q", "capture": { "V": "stdout" } },\n' "$1" "$2"
	printf '    { "id": "%s", "title": "%s", "on_fail": "continue",\n      "prometheus": { "url": "%s", "query": "%s" }, "expect": "%s" },\n' \
		"$1" "$2" "$PROM_URL" "$3" "$4"
}
{
	printf '{ "runbook": "bare", "title": "Values outside a PromQL string",\n  "steps": [\n'
	bare minus '5-4' 'vector(${V})' 'value == 5'
	bare selector '0-up' 'vector(${V})' 'value == 0'
	bare exponent '1e3+count_values' 'vector(${V})' 'value == 1000'
	bare signed '-2.5e1' 'vector(${V})' 'value == -25'
	bare point '.5' 'vector(${V})' 'value == 0.5'
	bare hex '0x1F' 'vector(${V})' 'value == 31'
	bare inf '-Inf' 'vector(${V} < bool 0)' 'value == 1'
	bare duration '1h30m' 'count(count_over_time(up[${V}]))' 'value >= 1'
	bare name 'up' 'count(${V})' 'value >= 1'
	printf '    { "id": "end", "title": "End", "run": "true" }\n  ] }\n'
} >"$TMP/bare.json"
run "$RBC" run --batch "$TMP/bare.json"
for id in minus selector exponent; do
	expect_match "PromQL: a value with an operator inside it is refused outside a string ($id)" "$(line "$id")" \
		"^ERROR +$id .*\\\$\\{V\\} is outside a quoted string of the query and its value is not a number, a duration or a name"
done
for id in signed point hex inf duration name; do
	expect_match "… a number, a duration or a name goes in ($id)" "$(line "$id")" "^PASS +$id "
done

t_done
