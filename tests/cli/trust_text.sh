#!/usr/bin/env bash
# Text from elsewhere is shown, never obeyed. A command's output, a capture,
# a title, an operator's name, a --var, a journal or a database row read back:
#  - in the Markdown documents (deployment log, incident timeline,
#    postmortem) it stays text when a real GFM renderer (cmark-gfm) reads
#    them: no HTML, no heading, link or emphasis of its own, no end of the
#    code fence, a line break kept in its table cell, control characters as
#    the console shows them (U+FFFD);
#  - on a terminal (rbc runs, rbc history, rbc check, rbc eval, batch lines,
#    error messages) no control character arrives raw;
#  - spliced into a libpq connection string, a URL or a PromQL query it
#    fills its slot and cannot add keywords, parameters or path segments.
. tests/lib.sh
. tests/tui.sh
S=$ROOT/tests/services
DIR=$(mktemp -d "${TMPDIR:-/tmp}/rbc-trust-text.XXXXXX")
trap 'tmx kill-server >/dev/null 2>&1; "$S/stop" "$DIR" >/dev/null 2>&1; rm -rf "$DIR" "$TMP"' EXIT
export RBC_RUNS_DIR=$TMP/runs
OSC=$'\e]0;owned\a'   # retitles a terminal
CSI=$'\e[2J'          # clears it
C1=$'\xc2\x9b'        # U+009B, CSI as one C1 character

# clean_text NAME FILE: FILE is UTF-8 with no control character but line feeds and
# tabs, and no bidirectional control (which would reorder what a reader sees).
clean_text() {
	local why
	why=$(python3 - "$2" 2>&1 <<'PY'
import sys
BIDI = {0x61c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069}
b = open(sys.argv[1], "rb").read()
try:
    t = b.decode("utf-8")
except UnicodeDecodeError as e:
    sys.exit("not UTF-8 at byte %d" % e.start)
for i, c in enumerate(t):
    if (ord(c) < 32 and c not in "\n\t") or 0x7f <= ord(c) < 0xa0 or ord(c) in BIDI:
        sys.exit("U+%04X at character %d: %r" % (ord(c), i, t[max(0, i - 30):i + 30]))
PY
)
	if [ -z "$why" ]; then ok "$1"; else fail "$1" "$why"; fi
}

# render FILE: FILE's Markdown as HTML, by cmark-gfm with raw HTML let through
# (as GitHub's own renderer lets a <img> through).
if ! command -v cmark-gfm >/dev/null; then
	fail "cmark-gfm is installed" "make deps installs it"
	t_done
fi
render() { cmark-gfm --unsafe -e table -e strikethrough -e autolink -e tasklist "$1"; }

# facts HTML: what a reader of the rendered page sees, one fact a line.
facts() {
	python3 - "$1" <<'PY'
import sys, html.parser, json
class P(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.stack, self.blocks, self.rows, self.links = {}, [], [], [], []
        self.cur = None
    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        if tag == "a":
            self.links.append(dict(attrs).get("href", ""))
        if tag == "br" and self.cur is not None:
            self.cur[1].append("\n")
            return
        if tag in ("h1", "h2", "h3", "h4", "p", "li", "pre", "td", "th"):
            self.stack.append(self.cur)
            self.cur = [tag, []]
        if tag == "tr":
            self.rows.append([])
    def handle_endtag(self, tag):
        if self.cur is not None and tag == self.cur[0]:
            text = "".join(self.cur[1])
            self.blocks.append((tag, text))
            if tag in ("td", "th") and self.rows:
                self.rows[-1].append(text)
            done, self.cur = self.cur, self.stack.pop()
            if self.cur is not None:
                self.cur[1].append("".join(done[1]))
    def handle_data(self, data):
        if self.cur is not None:
            self.cur[1].append(data)
p = P()
p.feed(open(sys.argv[1], encoding="utf-8").read())
for t in ("script", "img", "a", "em", "del", "b", "strong", "code", "pre", "table", "h1", "h2", "h3", "h4", "hr", "blockquote", "ol"):
    print("tag %s %d" % (t, p.tags.get(t, 0)))
# A link shows where it goes: its text is its address (an autolink), never
# other words over another target.
for href in p.links:
    print("link %s" % json.dumps(href, ensure_ascii=False))
for tag, text in p.blocks:
    print("%s %s" % (tag, json.dumps(text, ensure_ascii=False)))
for r in p.rows:
    print("row %d %s" % (len(r), json.dumps(r, ensure_ascii=False)))
    if len(r) == 6:  # a phase's table: the cells but the times
        print("cells %s" % json.dumps(r[:5], ensure_ascii=False))
PY
}
fact() { printf '%s\n' "$FACTS" | grep -E -- "$1"; }

if ! "$S/start" "$DIR" fixture postgres prometheus >"$TMP/start.out" 2>&1; then
	fail "the test services start" "$(tail -20 "$TMP/start.out")"
	t_done
fi
# shellcheck disable=SC1091
. "$DIR/env"
ctl() { curl -sS --max-time 10 -o /dev/null -X PUT --data "$2" "$FIXTURE_URL/_control$1"; }
run_id() { printf '%s\n' "$1" | sed -n 's/^run: \([^ ]*\) .*/\1/p'; }

# === The Markdown deployment log ===============================================
cat >"$TMP/out.sh" <<'SH'
printf 'building\n'
printf '```\n'
printf '# Owned heading\n'
printf '<img src=x onerror=alert(1)>\n'
printf 'esc \033]0;owned\007 csi \033[2J c1 \302\233 done\n'
printf 'bidi \342\200\256gnp.exe \342\201\246x\342\201\251\n'
printf '````` a longer run\n'
exit 1
SH
cat >"$TMP/cap.sh" <<'SH'
printf 'a|b\nline2 <script>alert(3)</script> \033]0;t\007 end'
SH
cat >"$TMP/hostile.json" <<JSON
{ "runbook": "hostile", "title": "# Release <script>alert(1)</script> *now*",
  "log": { "version": "\${VERSION}", "environment": "\${ENVIRONMENT}" },
  "steps": [
    { "id": "out", "title": "Output with a fence", "run": "sh '$TMP/out.sh'", "on_fail": "continue" },
    { "id": "cap", "title": "*bold* _em_ [link](http://example.com) ~~gone~~ \`code\` | pipe \u001b]0;title\u0007",
      "run": "sh '$TMP/cap.sh'", "capture": { "NOTE": "stdout" } },
    { "id": "sign", "title": "- [ ] Sign <img src=x onerror=alert(4)>", "manual": "Sign." }
  ] }
JSON
VERSION="1.0<img src=x onerror=alert(1)>$OSC"
ENVIRONMENT=$'prod\n# Env heading'
OPERATOR="eve<script>alert(2)</script>$OSC$C1"
run "$RBC" run --batch --assume done --operator "$OPERATOR" --var "VERSION=$VERSION" \
	--var "ENVIRONMENT=$ENVIRONMENT" "$TMP/hostile.json"
hid=$(run_id "$OUT")
expect_rc "rbc export --format md of a run full of hostile text" 0 "$RBC" export "$hid" --format md -o "$TMP/log.md"
clean_text "the deployment log holds no control character" "$TMP/log.md"
render "$TMP/log.md" >"$TMP/log.html"
FACTS=$(facts "$TMP/log.html")
expect_eq "rendered: no <script> and no <img> element" "$(fact '^tag (script|img) ')" $'tag script 0\ntag img 0'
expect_eq "… no emphasis or strikethrough from the text" "$(fact '^tag (em|del|b) ')" $'tag em 0\ntag del 0\ntag b 0'
expect_eq "… no link but the address written out, as itself" "$(fact '^link ')" 'link "http://example.com"'
expect_match "… shown in full, the Markdown link syntax around it as text" "$(fact '^cells \["2"')" \
	'\[link\]\(http://example\.com\)'
expect_eq "… bold only for the log's own six labels" "$(fact '^tag strong ')" "tag strong 6"
expect_eq "… one code block, the failure's output, and no other code" "$(fact '^tag (code|pre) ')" $'tag code 1\ntag pre 1'
expect_eq "… the headings are the log's own" "$(fact '^h[1-4] ')" \
'h1 "Deployment Log"
h2 "Deployment Summary"
h2 "# Release <script>alert(1)</script> *now*"
h2 "Manual Steps and Notes"
h2 "Failures"
h3 "1 Output with a fence — FAIL"
h2 "Captures"
h2 "Rollback"
h2 "Timeline"
h2 "Metrics"
h2 "Next Steps"'
expect_eq "… nothing else opens a block: no rule, quote or numbered list" "$(fact '^tag (hr|blockquote|ol) ')" \
	$'tag hr 0\ntag blockquote 0\ntag ol 0'
expect_eq "the output stays inside its code block, fence and all, controls as U+FFFD" "$(fact '^pre ')" \
	'pre "building\n```\n# Owned heading\n<img src=x onerror=alert(1)>\nesc �]0;owned� csi �[2J c1 � done\nbidi �gnp.exe �x�\n````` a longer run\n"'
expect_match "Version, Deployed By and Environment read as given, controls as U+FFFD" "$(fact '^p "Date')" \
	'\\nVersion: 1\.0<img src=x onerror=alert\(1\)>�\]0;owned�\\nDeployed By: eve<script>alert\(2\)</script>�\]0;owned��\\nEnvironment: prod\\n# Env heading\\nRun: '
expect_match "the phase's summary line: its title as text" "$(fact '^li "# Release')" '^li "# Release <script>alert\(1\)</script> \*now\*: ❌ '
expect_eq "the phase's table: one row per step, six cells each" "$(fact '^cells ' | sed -n '2,4p')" \
'cells ["1", "Output with a fence", "❌ FAIL", "exit = 1 != 0", ""]
cells ["2", "*bold* _em_ [link](http://example.com) ~~gone~~ `code` | pipe �]0;title�", "✅ PASS", "exit = 0 == 0", ""]
cells ["3", "- [ ] Sign <img src=x onerror=alert(4)>", "✅ PASS", "assumed done (--assume done)", "--assume done"]'
expect_eq "a capture with a pipe and a line break stays one row of three cells, the break inside its cell" \
	"$(fact '^row 3 ' | tail -1)" \
	'row 3 ["NOTE", "a|b\nline2 <script>alert(3)</script> �]0;t� end", "hostile/cap"]'
expect_match "the timeline keeps one row per event" "$(fact '^row ' | grep -c '"step_finished"')" '^4$'

# === The incident timeline and the postmortem ==================================
cat >"$TMP/inc.json" <<'JSON'
{ "runbook": "inc", "title": "Incident", "kind": "incident", "roles": ["incident-commander"],
  "severities": [ { "id": "L1", "name": "Minor", "restore": "15m" } ],
  "steps": [ { "id": "look", "title": "Look", "manual": "Look around." } ] }
JSON
TITLE="Checkout <script>alert(1)</script> \`x\` $OSC$CSI down"$'\n# Owned heading'
TUI_ENV="RBC_TEST_NOW=2026-12-04T02:00:00Z" tui_start 160 30 --operator "$OPERATOR" --severity L1 --title "$TITLE" "$TMP/inc.json"
if wait_for "L1 Minor · investigating"; then ok "an incident declared with a hostile title and operator"
else fail "an incident declared with a hostile title and operator" "$SCREEN"; fi
keys q
tui_exit
iid=$(ls -t "$TMP/runs" | head -1)
for f in incident-md postmortem; do
	expect_rc "rbc export --format $f of it" 0 "$RBC" export "$iid" --format $f -o "$TMP/$f.md"
	clean_text "… it holds no control character" "$TMP/$f.md"
	render "$TMP/$f.md" >"$TMP/$f.html"
	FACTS=$(facts "$TMP/$f.html")
	expect_eq "… rendered: no <script> and no <img> element" "$(fact '^tag (script|img) ')" $'tag script 0\ntag img 0'
	expect_eq "… no inline code from the title" "$(fact '^tag code ')" "tag code 0"
	expect_eq "… one top heading, the title as given" "$(fact '^h1 ' | sed 's/^h1 "\(Incident INC-[0-9TZ]*\|Postmortem\): /h1 "/')" \
		'h1 "Checkout <script>alert(1)</script> `x` �]0;owned��[2J down\n# Owned heading"'
	expect_eq "… and no heading of its own" "$(fact '^h[1-4] ' | grep -c 'Owned')" 1
	expect_match "… the actor in the timeline, as given" "$(fact '^row 4 ' | grep declared)" \
		'"eve<script>alert\(2\)</script>�\]0;owned��"'
done

# === On a terminal ==============================================================
# raw NAME TEXT: TEXT has no ESC, BEL, DEL, C1 or bidirectional control character.
raw() {
	if printf '%s' "$2" | LC_ALL=C grep -qP '[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xd8\x9c|\xe2\x80[\x8e\x8f\xaa-\xae]|\xe2\x81[\xa6-\xa9]'; then
		fail "$1" "$(printf '%s' "$2" | cat -v | head -5)"
	else ok "$1"; fi
}
run "$RBC" runs
raw "rbc runs: the operator's escapes do not reach the terminal" "$OUT"
expect_match "… they are shown, escaped" "$OUT" 'eve<script>alert\(2\)</script>\\x1b\]0;owned\\x07\\u009b +finished'
run "$RBC" runs --json
raw "rbc runs --json: no C1 character raw either" "$OUT"
expect_eq "… and the JSON still says who" \
	"$(printf '%s\n' "$OUT" | grep "$hid" | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["operator"] == sys.argv[1])' "$OPERATOR")" True
# A run stored in PostgreSQL reaches the whole team: its rows too.
DBURL="postgresql://rbc@127.0.0.1:$PGPORT/rbc_test"
cat >"$TMP/c1.json" <<JSON
{ "runbook": "c1", "title": "C1 output",
  "steps": [ { "id": "say", "title": "Says", "run": "printf 'x\\\\302\\\\233 \\\\033]0;t\\\\007 \\\\342\\\\200\\\\256'", "expect": "stdout == \"ok\"" } ] }
JSON
run "$RBC" run --batch --db "$DBURL" --operator "$OPERATOR" "$TMP/c1.json"
raw "batch lines: a step's output and explanation shown escaped" "$OUT"
cid=$(run_id "$OUT")
run "$RBC" history --db "$DBURL"
raw "rbc history: the stored operator's escapes do not reach the terminal" "$OUT"
expect_match "… shown escaped" "$OUT" "$cid +c1 .*eve<script>"
run "$RBC" history --db "$DBURL" "$cid"
raw "rbc history RUN: nor the stored explanation's" "$OUT"
expect_match "… shown escaped" "$OUT" 'step_finished +c1/say +FAIL +stdout = "x\\u009b '
run "$RBC" history --db "$DBURL" --json "$cid"
raw "rbc history --json RUN: JSON lines without raw controls" "$OUT"
expect_eq "… every line still JSON" "$(printf '%s\n' "$OUT" | python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]; print("ok")' 2>&1)" ok
# rbc check: the summary quotes file names, the problems quote the runbook.
cp "$TMP/inc.json" "$TMP/bad${OSC}.json"
printf '{"runbook":"x","title":"t","st\xc2\x9beps":[], "steps": []}' >"$TMP/c1key.json"
run "$RBC" check "$TMP/bad${OSC}.json" "$TMP/c1key.json"
raw "rbc check: a file name's escapes do not reach the terminal" "$OUT"
expect_match "… shown escaped" "$OUT" 'bad\\x1b\]0;owned\\x07\.json: ok: inc'
raw "rbc check: nor a C1 character in a problem" "$ERR"
expect_match "… shown escaped" "$ERR" 'unknown key "st\\u009beps"'
run "$RBC" eval 'x == "a"' "x=b${C1}${OSC}"
raw "rbc eval: the explanation quotes the value escaped" "$OUT"
# Error messages that quote what was given.
run "$RBC" export "x${OSC}" --format md
raw "rbc export: an unknown run is named escaped" "$ERR"
expect_match "… still named" "$ERR" 'x\\x1b\]0;owned\\x07'
run "$RBC" run --batch --var "${OSC}" "$TMP/c1.json"
raw "rbc run: a bad --var is quoted escaped" "$ERR"
run "$RBC" runs "${CSI}x"
raw "rbc runs: an unknown argument is quoted escaped" "$ERR"
run "$RBC" history --db "$DBURL" "nosuch${OSC}"
raw "rbc history: an unknown run is named escaped" "$ERR"
tui_start 120 30 --severity "${OSC}" --title x "$TMP/inc.json"
tui_exit 20
expect_eq "the console: an unknown level is refused before it opens (64)" "$TUI_RC" 64
expect_match "… quoting it escaped" "$SCREEN" 'no severity "\\x1b\]0;owned\\x07"'

# === Values spliced into connection strings, URLs and queries ===================
# A database whose name has what libpq's syntax gives meaning to: quote,
# backslash, spaces, a keyword, a URI's ? & =.
HOSTILE_DB="rbc x'y \\z?host=nowhere&port=1 w"
psql -X -q "$DBURL" -c "CREATE DATABASE \"${HOSTILE_DB//\"/\"\"}\"" >"$TMP/psql.out" 2>&1 ||
	fail "the hostile database is created" "$(cat "$TMP/psql.out")"
# A server that asks for a cleartext password and writes down what it gets.
cat >"$TMP/trap.py" <<'PY'
import socket, struct, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(8)
open(sys.argv[1] + ".port", "w").write(str(s.getsockname()[1]))
def read(c, n):
    b = b""
    while len(b) < n:
        x = c.recv(n - len(b))
        if not x: raise EOFError
        b += x
    return b
while True:
    c, _ = s.accept()
    try:
        while True:
            n, code = struct.unpack("!ii", read(c, 8))
            body = read(c, n - 8)
            if code in (80877103, 80877104):  # SSL, GSS encryption: no
                c.sendall(b"N"); continue
            open(sys.argv[1], "a").write("startup %r\n" % body)
            c.sendall(b"R" + struct.pack("!ii", 8, 3))  # cleartext password, please
            t = read(c, 1); n, = struct.unpack("!i", read(c, 4))
            open(sys.argv[1], "a").write("password %r\n" % read(c, n - 4))
            break
    except Exception:
        pass
    c.close()
PY
python3 "$TMP/trap.py" "$TMP/trap" &
trap_pid=$!
for _ in $(seq 100); do [ -s "$TMP/trap.port" ] && break; sleep 0.05; done
TRAP_PORT=$(cat "$TMP/trap.port")
pw="pw-$RANDOM$RANDOM"
ctl /api/db "$(python3 -c 'import json,sys; print(json.dumps({"body": {"db": sys.argv[1], "redirect": sys.argv[2], "suffix": sys.argv[3], "user": "bob&admin=true", "item": "../health", "job": "nosuch\"}) or vector(42) #", "token": "abc\r\nX-Injected: 1", "name": "x\", \"admin\": true, \"y\": \""}}))' "$HOSTILE_DB" "rbc_test hostaddr=127.0.0.1 port=$TRAP_PORT" \
	"test hostaddr=127.0.0.1 port=$TRAP_PORT")"
cat >"$TMP/splice.json" <<JSON
{ "runbook": "splice", "title": "Captured values in structured strings",
  "vars": { "URL": "$FIXTURE_URL", "PROM": "$PROM_URL" },
  "steps": [
    { "id": "get", "title": "Values from a server", "http": { "url": "\${URL}/api/db" },
      "capture": { "DB": "json.db", "REDIRECT": "json.redirect", "SUFFIX": "json.suffix", "USER": "json.user", "ITEM": "json.item",
                   "JOB": "json.job", "TOKEN": "json.token", "NAME": "json.name" } },
    { "id": "kv", "title": "key=value", "on_fail": "continue",
      "sql": { "conn": "host=127.0.0.1 port=$PGPORT user=$PGUSER dbname=\${DB}", "query": "SELECT current_database()" },
      "expect": "value == vars.DB" },
    { "id": "quoted", "title": "key='value'", "on_fail": "continue",
      "sql": { "conn": "host=127.0.0.1 port=$PGPORT user=$PGUSER dbname='\${DB}'", "query": "SELECT current_database()" },
      "expect": "value == vars.DB" },
    { "id": "uri", "title": "URI", "on_fail": "continue",
      "sql": { "conn": "postgresql://$PGUSER@127.0.0.1:$PGPORT/\${DB}?connect_timeout=5", "query": "SELECT current_database()" },
      "expect": "value == vars.DB" },
    { "id": "redirect", "title": "A value that names another server", "on_fail": "continue",
      "sql": { "conn": "host=127.0.0.1 port=$PGPORT user=$PGUSER password=$pw connect_timeout=5 dbname=\${REDIRECT}",
               "query": "SELECT 1" } },
    { "id": "partial", "title": "A value next to text of its value", "on_fail": "continue",
      "sql": { "conn": "host=127.0.0.1 port=$PGPORT user=$PGUSER password=$pw connect_timeout=5 dbname=rbc_\${SUFFIX}",
               "query": "SELECT 1" } },
    { "id": "keyword", "title": "A value where a keyword goes", "on_fail": "continue",
      "sql": { "conn": "host=127.0.0.1 port=$PGPORT user=$PGUSER password=$pw \${REDIRECT}", "query": "SELECT 1" } },
    { "id": "query", "title": "A value in a query string", "on_fail": "continue",
      "http": { "url": "\${URL}/api/echo?user=\${USER}&x=1" } },
    { "id": "path", "title": "A value in a path", "on_fail": "continue",
      "http": { "url": "\${URL}/api/items/\${ITEM}" }, "expect": "status == 404" },
    { "id": "header", "title": "A value in a header", "on_fail": "continue",
      "http": { "url": "\${URL}/api/echo", "headers": { "X-Token": "\${TOKEN}" } } },
    { "id": "json", "title": "A value in a JSON body", "on_fail": "continue",
      "http": { "url": "\${URL}/api/echo", "method": "POST", "json": { "name": "\${NAME}" } } },
    { "id": "promql", "title": "A value in a PromQL string", "on_fail": "continue",
      "prometheus": { "url": "\${PROM}", "query": "sum(up{job=\"\${JOB}\"})" }, "expect": "value == 42" },
    { "id": "promql-bare", "title": "A value outside a PromQL string", "on_fail": "continue",
      "prometheus": { "url": "\${PROM}", "query": "sum(up) > \${JOB}" } }
  ] }
JSON
run "$RBC" run --batch "$TMP/splice.json"
line() { printf '%s\n' "$OUT" | grep -E "^[A-Z]+ +$1  " | tail -1; }
expect_match "libpq key=value: a captured name with ' \\ spaces and host= is the whole dbname" "$(line kv)" '^PASS +kv '
expect_match "… inside quotes the runbook wrote too" "$(line quoted)" '^PASS +quoted '
expect_match "… in a postgresql:// URI, percent-encoded" "$(line uri)" '^PASS +uri '
expect_match "a captured hostaddr= and port= stay in the database name" "$(line redirect)" \
	'^ERROR +redirect .*database "rbc_test hostaddr=127\.0\.0\.1 port='"$TRAP_PORT"'" does not exist'
expect_match "… next to the rest of an unquoted value too" "$(line partial)" \
	'^ERROR +partial .*database "rbc_test hostaddr=127\.0\.0\.1 port='"$TRAP_PORT"'" does not exist'
expect_match "… and where a keyword goes it is refused, naming the variable" "$(line keyword)" \
	'^ERROR +keyword .*\$\{REDIRECT\} stands where a connection string keyword goes'
kill "$trap_pid" 2>/dev/null; wait "$trap_pid" 2>/dev/null
if [ -s "$TMP/trap" ]; then fail "… and nothing reaches the server they name, least of all the password" "$(cat "$TMP/trap")"
else ok "… and nothing reaches the server they name, least of all the password"; fi
requests() { curl -sS --max-time 10 "$FIXTURE_URL/_requests?path=$1"; }
expect_eq "a URL's query: the value is one parameter's, & and = encoded" \
	"$(requests /api/echo | python3 -c 'import json,sys,urllib.parse as u; r=[x for x in json.load(sys.stdin) if x["method"] == "GET" and "x=1" in x["query"]]; print(u.parse_qs(r[-1]["query"]))')" \
	"{'user': ['bob&admin=true'], 'x': ['1']}"
expect_match "a URL's path: ../ cannot climb out of it" "$(line path)" '^PASS +path .*status = 404'
expect_eq "… the request went where the runbook said" \
	"$(requests /api/items/../health | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" 1
expect_match "a header: a value with CR LF is refused, not sent" "$(line header)" '^ERROR +header .*not a valid header line'
expect_eq "… no injected header reached the server" \
	"$(requests /api/echo | python3 -c 'import json,sys; print(sum("X-Injected" in r["headers"] for r in json.load(sys.stdin)))')" 0
expect_eq "a JSON body: the value stays one string" \
	"$(requests /api/echo | python3 -c 'import json,sys; r=[x for x in json.load(sys.stdin) if x["method"] == "POST"]; print(json.loads(r[-1]["body"]))')" \
	"{'name': 'x\", \"admin\": true, \"y\": \"'}"
expect_match "PromQL: a value inside a string literal stays in it (no series, not 42)" "$(line promql)" '^UNKNOWN +promql '
expect_match "… outside one it must be a number, a duration or a name" "$(line promql-bare)" \
	'^ERROR +promql-bare .*\$\{JOB\} is outside a quoted string of the query'

# An IPv6 address in a URL's host is the host, between brackets (given or
# added); elsewhere in the URL its colons are encoded like any value's.
cat >"$TMP/v6.json" <<JSON
{ "runbook": "v6", "title": "IPv6 hosts",
  "vars": { "URL": "$FIXTURE_URL", "V6": "::1", "PORT": "1" },
  "steps": [
    { "id": "bare", "title": "Bare", "http": { "url": "http://\${V6}:\${PORT}/health" }, "on_fail": "continue" },
    { "id": "brackets", "title": "In brackets", "http": { "url": "http://[\${V6}]:\${PORT}/health" }, "on_fail": "continue" },
    { "id": "uri", "title": "In a postgresql:// URI", "on_fail": "continue",
      "sql": { "conn": "postgresql://rbc@\${V6}:\${PORT}/x?connect_timeout=5", "query": "SELECT 1" } },
    { "id": "v6path", "title": "In a path", "http": { "url": "\${URL}/api/items/\${V6}" }, "expect": "status == 404" }
  ] }
JSON
run "$RBC" run --batch "$TMP/v6.json"
expect_match "a URL's host from a variable holding ::1 goes to [::1]" "$(line bare)" '^ERROR +bare .*::1.* port 1'
expect_match "… the brackets written around it are kept" "$(line brackets)" '^ERROR +brackets .*::1.* port 1'
expect_match "… in a postgresql:// URI's host too" "$(line uri)" '^ERROR +uri .*[Cc]onnection refused'
expect_match "in a path it stays one segment" "$(line v6path)" '^PASS +v6path '
expect_eq "… its colons encoded" "$(requests /api/items/::1 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" 1

t_done
