#!/usr/bin/env bash
# Descriptions and links (docs/runbook-format.md, "Descriptions and links"):
# rbc check refuses links that are not http(s) objects, at their position;
# the console's detail pane shows a runbook's and a step's description and
# links, variables expanded and secrets masked, a long description cut with
# "…"; links are plain "title <url>" text, or OSC 8 hyperlinks with
# RBC_HYPERLINKS=always (read from the raw terminal output, kept by
# script(1)); hostile titles and urls never reach the terminal as escapes;
# the exports keep them (Markdown links escaped, JSON fields).
. tests/lib.sh
. tests/tui.sh
F=$ROOT/tests/fixtures/links
ESC=$(printf '\033')

# --- rbc check -------------------------------------------------------------------
echo "# rbc check"
run "$RBC" check "$F/links.json"
expect_eq "descriptions and links pass rbc check" "$RC" 0
run "$RBC" check docs/examples/links.json
expect_eq "… the format guide's example too" "$RC" 0
run "$RBC" check tests/fixtures/bad/links-bad.json
expect_eq "bad links are refused" "$RC" 65
expect_match "… javascript: with the rule" "$ERR" \
	'links-bad.json:4:40: links\[0\]\.url: a link.s url must start with http:// or https://; "javascript:" is refused'
expect_match "… file: on a step" "$ERR" 'steps\[0\]\.links\[0\]\.url: .*"file:" is refused'
expect_match "… a misspelt key, with did you mean" "$ERR" 'steps\[1\]\.links\[0\]\.titel: unknown key "titel" \(did you mean "title"\?\)'
expect_match "… a string instead of an object" "$ERR" 'steps\[2\]\.links\[0\]: expected a link: an object with "title" and "url"'
expect_match "… an object instead of an array" "$ERR" 'steps\[3\]\.links: expected an array'
expect_match "… a blank in a url" "$ERR" 'steps\[4\]\.links\[0\]\.url: a link.s url has a blank or a control character'
expect_match "… links misspelt" "$ERR" 'steps\[5\]\.lnks: unknown key "lnks" \(did you mean "links"\?\)'
expect_match "… a description that is not text" "$ERR" 'steps\[6\]\.description: expected a string, got a number'

# --- the console: plain links ---------------------------------------------------------
echo "# the console, plain links"
TUI_ENV="TOKEN=tok-s3cret RBC_HYPERLINKS=never" tui_start 150 40 --operator alice "$F/links.json"
wait_idle
expect_screen "the runbook's row: its description, variables expanded" "How checkout is released in staging."
expect_screen "… its links as title <url>" "link Grafana: checkout <https://grafana.example/d/checkout?var-env=staging>"
keys j
expect_screen "a step's row: its description" "Check the checkout service's health endpoint"
expect_match "… cut with … where the pane ends, never silently" "$SCREEN" '…'
expect_nomatch "… its end is not shown" "$SCREEN" 'THE-END-OF-IT'
expect_match "… its links" "$SCREEN" 'link Runbook wiki <https://wiki\.example/checkout>'
expect_match "… a secret in a url masked" "$SCREEN" 'link Token page <https://t\.example/\?k=••••>'
expect_nomatch "… never in clear" "$SCREEN" 'tok-s3cret'
expect_match "… and the runbook's links below" "$SCREEN" 'runbook link Grafana: checkout'
keys j
expect_screen "a hostile description is drawn as data" "bell� esc�[31mred�]0;pwned�"
expect_match "… a hostile title too" "$SCREEN" 'link evil�\]8;;https://evil\.example�\\click� <https://ok\.example/>'
raw=$(screen -e)
expect_nomatch "… no colour of its own on screen" "$raw" "${ESC}\\[31mred"
keys q
tui_exit

# --- the console: hyperlinks ------------------------------------------------------------
echo "# the console, hyperlinks"
cat >"$TMP/wrap.sh" <<WRAP
#!/usr/bin/env bash
exec script -qfec "\$(printf '%q ' "$RBC" "\$@")" "$TMP/raw.log"
WRAP
chmod +x "$TMP/wrap.sh"
# An url from a variable that is no http(s) one, and one with an escape in it.
RBC_SAVED=$RBC
RBC="$TMP/wrap.sh"
TUI_ENV="TOKEN=tok-s3cret RBC_HYPERLINKS=always" tui_start 150 40 --operator alice "$F/links.json"
RBC=$RBC_SAVED
wait_idle
expect_screen "with hyperlinks: the link's title is shown" "link Grafana: checkout"
expect_nomatch "… without its url as text" "$SCREEN" '<https://grafana'
keys j
expect_screen "… the step's links" "link Runbook wiki"
keys j
expect_screen "… the hostile step" "bell� esc"
keys k
expect_screen "… back on the step with links" "link Runbook wiki"
before=$(stat -c %s "$TMP/raw.log")
keys '?'
expect_screen "the help opens over the panes" "first step / oldest line"
# The log settles (script(1) writes it in chunks): its size stops changing.
size=-1; deadline=$((SECONDS + 5))
while [ "$size" != "$(stat -c %s "$TMP/raw.log")" ] && [ $SECONDS -lt $deadline ]; do
	size=$(stat -c %s "$TMP/raw.log"); sleep 0.2
done
# What the terminal got once the help was drawn (a chunk written before
# it may land in the log just after the size was read).
after=$(tail -c +"$((before + 1))" "$TMP/raw.log" | python3 -c 'import sys; d = sys.stdin.buffer.read(); i = d.find("oldest line".encode()); sys.stdout.buffer.write(d[i:] if i >= 0 else b"")')
expect_match "… the help was drawn" "$after" 'oldest line'
expect_nomatch "… no link is written over the help" "$after" "${ESC}]8;;https"
keys Escape
expect_screen "the help closes (any key)" "link Runbook wiki"
keys q
tui_exit
log=$(cat "$TMP/raw.log" 2>/dev/null)
OSC8="${ESC}]8;;"
ST="${ESC}\\\\"
expect_match "the terminal gets an OSC 8 link for the runbook's" "$log" \
	"${OSC8}https://grafana\\.example/d/checkout\\?var-env=staging${ST}Grafana: checkout${OSC8}${ST}"
expect_match "… and the step's" "$log" "${OSC8}https://wiki\\.example/checkout${ST}Runbook wiki${OSC8}${ST}"
expect_nomatch "… a url holding a masked secret is no link" "$log" "${OSC8}https://t\\.example"
expect_nomatch "… the hostile title's sequence never reaches the terminal" "$log" "${OSC8}https://evil"
expect_nomatch "… nor the description's" "$log" "${ESC}]0;pwned"
expect_nomatch "… nor its colour" "$log" "${ESC}\\[31mred"

# A variable that makes the url something else: javascript:, or with an escape.
RBC="$TMP/wrap.sh"
TUI_ENV="RBC_HYPERLINKS=always" tui_start 150 40 --operator alice --var "EVIL_URL=javascript:alert(1)" "$F/links.json"
RBC=$RBC_SAVED
wait_idle
keys j j
expect_screen "a url that expands to javascript: is shown as text" "<javascript:alert(1)>"
keys q
tui_exit
log=$(cat "$TMP/raw.log" 2>/dev/null)
expect_nomatch "… and never linked" "$log" "${OSC8}javascript"

# --- exports ---------------------------------------------------------------------------
echo "# exports"
run env TOKEN=tok-s3cret RBC_RUNS_DIR="$TMP/runs-b" "$RBC" run --batch "$F/links.json"
expect_eq "a batch run passes" "$RC" 0
dir=$(ls -d "$TMP"/runs-b/*-links-* | tail -1)
run "$RBC" export "$dir" --format md
md=$OUT
expect_match "the deployment log: the runbook's description" "$md" '^How checkout is released in staging\.$'
expect_match "… its links as Markdown links" "$md" '^Links: \[Grafana: checkout\]\(<https://grafana\.example/d/checkout\?var-env=staging>\)$'
expect_match "… a step's description and links" "$md" \
	'^- 1 Health — Check the checkout.*THE-END-OF-IT — links: \[Runbook wiki\]\(<https://wiki\.example/checkout>\), \[Token page\]\(<https://t\.example/\?k=••••>\)$'
expect_match "… a hostile title escaped for Markdown" "$md" '\[evil�\\]8;;https://evil\.example�\\\\click�\]\(<https://ok\.example/>\)'
expect_nomatch "… no escape in it" "$md" "$ESC"
expect_nomatch "… no secret" "$md" 'tok-s3cret'
# Markdown in a description or a link is the record's text, not the log's.
cat >"$TMP/md.json" <<'MD'
{ "runbook": "md", "title": "MD",
  "description": "line one\n# not a heading\n<script>x</script> [a](javascript:x)",
  "links": [ { "title": "a](javascript:alert(1)) [b", "url": "https://x.example/a)b<c>d" } ],
  "steps": [ { "id": "a", "title": "A", "run": "true", "description": "one\n## two | pipe" } ] }
MD
run env RBC_RUNS_DIR="$TMP/runs-md" "$RBC" run --batch "$TMP/md.json"
run "$RBC" export "$(ls -d "$TMP"/runs-md/*-md-* | tail -1)" --format md
expect_match "Markdown in a description stays text: no heading, no HTML, no link" "$OUT" \
	'^line one<br># not a heading<br>&lt;script&gt;x&lt;/script&gt; \\\[a\\\]\(javascript:x\)$'
expect_match "… a link's title cannot close it, its url cannot leave <…>" "$OUT" \
	'^Links: \[a\\\]\(javascript:alert\(1\)\) \\\[b\]\(<https://x\.example/a\)b%3Cc%3Ed>\)$'
expect_match "… a step's description in its list item, its pipe escaped" "$OUT" '^- 1 A — one<br>## two \\\| pipe$'
run "$RBC" export "$dir" --format json
json=$OUT
got=$(printf '%s' "$json" | python3 -c '
import json, sys
d = json.load(sys.stdin)
rb = d["runbooks"][0]
st = {s["id"]: s for s in d["steps"]}
print(rb["links"][0]["title"], rb["links"][0]["url"])
print(st["links/health"]["description"][:30], st["links/health"]["links"][1]["url"])
print(st["links"]["description"])')
expect_match "the JSON export: the runbook's links" "$got" '^Grafana: checkout https://grafana\.example/d/checkout\?var-env=staging$'
expect_match "… a step's description and links (masked)" "$got" "^Check the checkout service's h https://t\.example/\?k=••••$"
expect_match "… the phase's description" "$got" '^How checkout is released in staging\.$'
expect_nomatch "… no secret" "$json" 'tok-s3cret'
run "$RBC" export "$dir" --format junit
expect_match "the JUnit export: a step's description and links in its system-out" "$OUT" \
	'link Runbook wiki &lt;https://wiki\.example/checkout&gt;'
expect_match "… the description too" "$OUT" 'description: Check the checkout service'
expect_nomatch "… no escape, no secret" "$OUT" "${ESC}|tok-s3cret"
# The journal checker holds the header's links to their shape.
mkdir -p "$TMP/runs-t"
cp -r "$dir" "$TMP/runs-t/"
tdir="$TMP/runs-t/$(basename "$dir")"
sed -i '1s/"links":\[{"title":"Runbook wiki"/"links":[{"title":7/' "$tdir/journal.jsonl"
run "$RBC" export "$tdir" --format json
expect_eq "a header whose link has no text title is refused" "$RC" 65
expect_match "… saying where and what" "$ERR" 'journal\.jsonl:1: a link.s "title" is not what rbc writes there'
jrn=$(cat "$dir/journal.jsonl")
expect_nomatch "the journal has no secret" "$jrn" 'tok-s3cret'
# A description is prose: "${…}" that is no variable name (GitHub Actions'
# ${{ secrets.X }}) is text, shown and exported as written, never an error.
cat >"$TMP/gha.json" <<'EOF'
{ "runbook": "gha", "title": "Workflow notes",
  "description": "The workflow reads ${{ secrets.AWS_ACCESS_KEY_ID }} and ${NOTE_VAR}.",
  "vars": { "NOTE_VAR": "the region" },
  "steps": [ { "id": "s", "title": "S", "description": "Runs with ${{ env.AWS_REGION }}", "run": "true" } ] }
EOF
run "$RBC" check "$TMP/gha.json"
expect_eq "a description holding \${{ … }} checks" "$RC" 0
run env RBC_RUNS_DIR="$TMP/runs-gha" "$RBC" run --batch "$TMP/gha.json"
expect_eq "… and runs" "$RC" 0
gdir=$(ls -d "$TMP"/runs-gha/*-gha-* | tail -1)
run "$RBC" export "$gdir" --format json
expect_match "… the export keeps it as written, variables expanded" "$OUT" 'reads \$\{\{ secrets\.AWS_ACCESS_KEY_ID \}\} and the region'
t_done
