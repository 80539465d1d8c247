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

# clean_text NAME FILE: FILE is UTF-8 with no control character but line feeds and tabs.
clean_text() {
	local why
	why=$(python3 - "$2" 2>&1 <<'PY'
import sys
b = open(sys.argv[1], "rb").read()
try:
    t = b.decode("utf-8")
except UnicodeDecodeError as e:
    sys.exit("not UTF-8 at byte %d" % e.start)
for i, c in enumerate(t):
    if (ord(c) < 32 and c not in "\n\t") or 0x7f <= ord(c) < 0xa0:
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
        self.tags, self.stack, self.blocks, self.rows = {}, [], [], []
        self.cur = None
    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
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
printf '````` a longer run\n'
exit 1
SH
cat >"$TMP/cap.sh" <<'SH'
printf 'a|b\nline2 <script>alert(3)</script> \033]0;t\007 end'
SH
cat >"$TMP/hostile.json" <<JSON
{ "runbook": "hostile", "title": "# Release <script>alert(1)</script> *now*",
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
expect_match "rendered: no <script> and no <img> element" "$(fact '^tag (script|img) ')" $'^tag script 0\ntag img 0$'
expect_match "… no link, emphasis, strikethrough or inline code from the text" "$(fact '^tag (a|em|del|b) ')" \
	$'^tag a 0\ntag em 0\ntag del 0\ntag b 0$'
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
	'pre "building\n```\n# Owned heading\n<img src=x onerror=alert(1)>\nesc �]0;owned� csi �[2J c1 � done\n````` a longer run\n"'
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
	expect_match "… rendered: no <script> and no <img> element" "$(fact '^tag (script|img) ')" $'^tag script 0\ntag img 0$'
	expect_eq "… no inline code from the title" "$(fact '^tag code ')" "tag code 0"
	expect_eq "… one top heading, the title as given" "$(fact '^h1 ' | sed 's/^h1 "\(Incident INC-[0-9TZ]*\|Postmortem\): /h1 "/')" \
		'h1 "Checkout <script>alert(1)</script> `x` �]0;owned��[2J down\n# Owned heading"'
	expect_eq "… and no heading of its own" "$(fact '^h[1-4] ' | grep -c 'Owned')" 1
	expect_match "… the actor in the timeline, as given" "$(fact '^row 4 ' | grep declared)" \
		'"eve<script>alert\(2\)</script>�\]0;owned��"'
done

# === On a terminal ==============================================================
# raw NAME TEXT: TEXT has no ESC, BEL, DEL or C1 character.
raw() {
	if printf '%s' "$2" | LC_ALL=C grep -qP '[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]'; then
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
  "steps": [ { "id": "say", "title": "Says", "run": "printf 'x\\\\302\\\\233 \\\\033]0;t\\\\007'", "expect": "stdout == \"ok\"" } ] }
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

t_done
