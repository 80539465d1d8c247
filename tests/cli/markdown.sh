#!/usr/bin/env bash
# Markdown runbooks (docs/markdown-runbooks.md): a .md file is a runbook for
# check, run, resume and on_fail run:; headings, task items and command
# blocks map to groups, manual and command steps; {…} attributes and rbc
# comments give any key, with messages at their place in the Markdown; an
# unannotated command asks before it runs; every shipped runbook converts to
# Markdown and back to the same document.
. tests/lib.sh
cd tests/fixtures/markdown || exit 1

# ---------------------------------------------------------------- bad input
n=0
for f in bad/*.md; do
	want=${f%.md}.err
	run "$RBC" check "$f"
	if [ ! -f "$want" ]; then
		fail "check $f" "no expected output $want"
	elif [ "$RC" != 65 ]; then
		fail "check $f exits 65" "exit $RC" "$ERR"
	elif [ "$ERR" != "$(cat "$want")" ]; then
		fail "check $f diagnostics" "$(diff <(printf '%s\n' "$ERR") "$want")"
	else
		ok "check $f: $(head -1 "$want" | cut -d: -f2-3) $(head -1 "$want" | cut -d: -f4- | cut -c1-70)"
	fi
	n=$((n + 1))
done
[ "$n" -ge 17 ] && ok "at least 17 malformed Markdown fixtures ($n)" || fail "at least 17 malformed Markdown fixtures" "only $n"

# 1 MB of prose: read quickly, warned at its title, one step to read it.
python3 - "$TMP/prose.md" <<'EOF'
import sys
with open(sys.argv[1], "w", encoding="utf-8") as f:
    f.write("# 運用メモ\n\n")
    n = 0
    while n < 1_000_000:
        p = "障害対応の記録は時系列で残す。 " * 8 + "\n\n"
        f.write(p)
        n += len(p.encode())
EOF
start=$(date +%s%N)
run "$RBC" check "$TMP/prose.md"
ms=$((($(date +%s%N) - start) / 1000000))
expect_eq "1 MB of prose: one warning at the title" "$ERR" \
	"$TMP/prose.md:1:3: warning: no steps: no task item (- [ ] …) and no code block that runs (\`\`\`sh); the document is one manual step, read it"
expect_eq "1 MB of prose: one manual step" "$OUT" "$TMP/prose.md: ok: prose (other), 1 step: 1 manual (1 warning)"
if sanitized || [ "$ms" -lt 2000 ]; then ok "1 MB of prose checks in ${ms} ms"; else fail "1 MB of prose checks in under 2 s" "${ms} ms"; fi

# A long line, a NUL and invalid UTF-8 are refused at their place.
printf '# 手順\n\n- [ ] ok\n\nbad \xff byte\n' >"$TMP/latin1.md"
run "$RBC" check "$TMP/latin1.md"
expect_eq "invalid UTF-8 at its line and column" "$(head -1 <<<"$ERR")" \
	"$TMP/latin1.md:5:5: invalid UTF-8: byte 0xff (save the file as UTF-8 text)"

# ---------------------------------------------------------------- the mapping
run "$RBC" check good/ja-release.md
expect_eq "Japanese release procedure: groups, manual and command steps" "$OUT" \
	"good/ja-release.md: ok: ja-release (other), 21 steps: 8 group, 9 manual, 4 command"
run "$RBC" convert good/ja-release.md
J=$OUT
q() { jq -r "$1" <<<"$J"; }
expect_eq "id from the file name" "$(q .runbook)" "ja-release"
expect_eq "title from the first heading" "$(q .title)" "検索サービス リリース手順書 - REL-214"
expect_match "a section of prose alone (a table, mermaid) is the description" "$(q .description | tr '\n' ' ')" \
	'作業概要.*\| 対象 \| search-api v3.4.*```mermaid'
expect_eq "headings nest as groups" "$(q '.steps[0].title + " / " + .steps[0].steps[0].title')" "✅ 事前確認 / 1.1 リポジトリ状態確認"
expect_eq "a block's first # comment is its title" "$(q .steps[0].steps[0].steps[0].title)" "作業ブランチの最終確認"
expect_eq "an unannotated shell block asks first" "$(q .steps[0].steps[0].steps[0].confirm)" "Run this command from the document?"
expect_eq "task items are manual steps" "$(q '.steps[0].steps[0].steps[1] | .title + " = " + .manual')" "未コミットの変更: なし = 未コミットの変更: なし"
expect_eq "a paragraph ending in ':' titles the block" "$(q .steps[0].steps[1].steps[0].title)" "設定ファイルの構文確認"
expect_eq "attributes give keys, typed" "$(q '.steps[0].steps[1].steps[0] | [.id, .expect, .timeout, (has("confirm")|tostring)] | join(" | ")')" \
	"config-lint | exit == 0 | 10s | false"
expect_eq "yaml is prose, the heading's description" "$(q .steps[0].steps[1].description)" \
	"$(printf '設定ファイルの差分は次のとおり。\n\n```yaml\nsearch:\n  replicas: 4\n  timeout: 800ms\n```')"
expect_eq "an rbc comment gives any key" "$(q '.steps[1].steps[0].steps[0] | [.id, .expect, (.retry.attempts|tostring), (has("confirm")|tostring)] | join(" | ")')" \
	"rollout | exit == 0 && stdout =~ /完了/ | 2 | false"
expect_eq "console: the commands after a \$ prompt" "$(q '.steps[1].steps[1].steps[0] | .title + " | " + .run')" 'Command 4 | echo "キャッシュ再構築"'
expect_eq "a task item with nested items is a group" "$(q '.steps[2].steps[0] | .title + " | " + (.steps|length|tostring) + " | " + .steps[0].title')" \
	"検索結果の目視確認 | 2 | 日本語クエリ「東京 ラーメン」で結果が出る"

cp good/ja-release.md "$TMP/Release.MARKDOWN"
run "$RBC" check "$TMP/Release.MARKDOWN"
expect_match ".markdown (any case) is Markdown too" "$OUT" ': ok: Release \(other\), 21 steps'

# An incident procedure: its ladder in the top comment (JSON with comments),
# a task item made an http probe by its comment.
run "$RBC" check good/ja-incident.md
expect_eq "Japanese incident procedure: its ladder and steps" "$OUT" \
	"good/ja-incident.md: ok: ja-incident (incident), 14 steps: 5 group, 6 manual, 2 command, 1 http; 3 severities"
run "$RBC" convert good/ja-incident.md
J=$OUT
expect_eq "a comment's action replaces the task item's manual" "$(q '.steps[0].steps[0].steps[0] | [.title, .http.url, (has("manual")|tostring)] | join(" | ")')" \
	'ヘルスチェック応答 | ${BASE_URL}/api/health | false'
expect_eq "the ladder's table is prose of the runbook" "$(q '.description | test("\\| S1 \\| 決済が全く通らない")')" "true"

# Windows line ends read as any editor shows them: nothing keeps a \r.
printf '# 手順\r\n\r\n## 確認\r\n\r\n再起動:\r\n\r\n```sh {id=a}\r\nsystemctl restart web\r\necho done\r\n```\r\n\r\n- [ ] 確認済み\r\n' >"$TMP/crlf.md"
expect_eq "CRLF: titles and commands without a carriage return" "$("$RBC" convert "$TMP/crlf.md" | jq -c '.steps[0].steps | map(.title, .run // .manual)')" \
	'["再起動","systemctl restart web\necho done","確認済み","確認済み"]'

# sql, http and promql blocks.
cat >"$TMP/probes.md" <<'EOF'
<!-- rbc {"runbook": "probes", "vars": {"DATABASE_URL": "postgresql://127.0.0.1:1/x", "PROMETHEUS_URL": "http://127.0.0.1:1"}} -->
# Probes

```sql {id=count expect="value == 0"}
SELECT count(*) FROM jobs WHERE failed
```

```http {id=health expect="status == 200"}
POST http://127.0.0.1:1/api/health
Accept: application/json

{"deep": true}
```

```promql {id=errors expect="value < 0.01"}
sum(rate(http_requests_total{status=~"5.."}[5m]))
```
EOF
run "$RBC" check "$TMP/probes.md"
expect_eq "sql, http and promql blocks are probe steps" "$OUT" "$TMP/probes.md: ok: probes (other), 3 steps: 1 http, 1 sql, 1 prometheus"
run "$RBC" convert "$TMP/probes.md"
J=$OUT
expect_eq "sql: conn from DATABASE_URL" "$(q '.steps[0].sql | .conn + " | " + .query')" '${DATABASE_URL} | SELECT count(*) FROM jobs WHERE failed'
expect_eq "http: request line, headers, body" "$(q '.steps[1].http | [.method, .url, .headers.Accept, .body] | join(" | ")')" \
	'POST | http://127.0.0.1:1/api/health | application/json | {"deep": true}'
expect_eq "promql: the query on PROMETHEUS_URL" "$(q '.steps[2].prometheus | .url + " | " + .query')" \
	'${PROMETHEUS_URL} | sum(rate(http_requests_total{status=~"5.."}[5m]))'

# An attribute's quotes and escapes; heading attributes.
cat >"$TMP/escapes.md" <<'EOF'
# Escapes

## Checks {#checks on_demand=false}

```sh {id=greet title="Say \"hi\" \\ back" expect="stdout =~ /\d+ ok/"}
echo "1 ok"
```
EOF
run "$RBC" convert "$TMP/escapes.md"
J=$OUT
expect_eq "a quoted value's escapes; a backslash before anything else stays" \
	"$(q '.steps[0].steps[0] | .title + " | " + .expect')" 'Say "hi" \ back | stdout =~ /\d+ ok/'
expect_eq "heading attributes give the group's keys" "$(q '.steps[0] | .id + " " + (.on_demand|tostring)')" "checks false"

# ---------------------------------------------------------------- safety
M=$TMP/marker
cat >"$TMP/safe.md" <<EOF
# Safety

- [ ] Look at the dashboard

\`\`\`sh
touch "$M"
\`\`\`
EOF
export RBC_RUNS_DIR=$TMP/runs
run "$RBC" run --batch --assume done "$TMP/safe.md"
expect_eq "batch: an unannotated block is not run without --yes" "$RC $( [ -e "$M" ] && echo ran || echo not-run)" "3 not-run"
expect_match "batch says it needs the operator's confirmation" "$OUT" 'UNKNOWN +2 +Command 1 — needs operator: confirm "Run this command from the document\?" \(--yes confirms\)'
run "$RBC" run --batch --assume done --yes "$TMP/safe.md"
expect_eq "batch runs it with --yes" "$RC $( [ -e "$M" ] && echo ran || echo not-run)" "0 ran"

# ---------------------------------------------------------------- on_fail run:, resume
cat >"$TMP/rollback.md" <<EOF
# Roll back

\`\`\`sh {id=undo}
touch "$TMP/rolled-back"
\`\`\`
EOF
cat >"$TMP/main.md" <<EOF
# Main

\`\`\`sh {id=deploy expect="exit == 0" on_fail="run:rollback.md"}
exit 1
\`\`\`
EOF
run "$RBC" check "$TMP/main.md"
expect_eq "on_fail run: names a Markdown runbook" "$OUT" "$TMP/main.md: ok: main (other), 1 step: 1 command; includes $TMP/rollback.md"
run "$RBC" run --batch "$TMP/main.md"
expect_eq "the Markdown rollback runs" "$( [ -e "$TMP/rolled-back" ] && echo yes || echo no)" "yes"

cat >"$TMP/resume.md" <<EOF
# Resume

\`\`\`sh {id=first}
touch "$TMP/first"
\`\`\`

\`\`\`sh {id=slow}
if [ -e "$TMP/slow" ]; then exit 0; fi; touch "$TMP/slow"; sleep 30
\`\`\`
EOF
"$RBC" run --batch "$TMP/resume.md" >"$TMP/resume.out" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -e "$TMP/slow" ] && break; sleep 0.1; done
kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
rundir=$(ls -d "$RBC_RUNS_DIR"/*-resume-* 2>/dev/null | head -1)
run "$RBC" resume --batch --unfinished rerun "$rundir"
expect_eq "rbc resume goes on with a Markdown runbook" "$RC" "0"
expect_match "the step cut short runs again" "$OUT" 'PASS +slow'

# ---------------------------------------------------------------- round trip
mkdir -p "$TMP/rt"
cp -r "$ROOT/runbooks" "$TMP/rt/"
shipped=0 same=0
for f in "$TMP"/rt/runbooks/*.json "$TMP"/rt/runbooks/ja/*.json; do
	md=${f%.json}.md
	shipped=$((shipped + 1))
	if ! "$RBC" convert "$f" --to md -o "$md" 2>"$TMP/c.err"; then
		fail "$(basename "$f") converts to Markdown" "$(cat "$TMP/c.err")"; continue
	fi
	"$RBC" convert "$f" --to json | jq -S . >"$TMP/a.json"
	"$RBC" convert "$md" | jq -S . >"$TMP/b.json" 2>"$TMP/c.err"
	if cmp -s "$TMP/a.json" "$TMP/b.json"; then
		same=$((same + 1))
	else
		fail "${f#"$TMP"/rt/} round-trips through Markdown" "$(diff "$TMP/a.json" "$TMP/b.json" | head -20)" "$(cat "$TMP/c.err")"
	fi
	a=$("$RBC" check "$f" 2>/dev/null | sed 's/^[^:]*: //')
	b=$("$RBC" check "$md" 2>/dev/null | sed 's/^[^:]*: //')
	[ -n "$a" ] && [ "$a" = "$b" ] && ok "rbc check: the same summary for ${f#"$TMP"/rt/} and its Markdown ($a)" \
		|| fail "rbc check: the same summary for ${f#"$TMP"/rt/} and its Markdown" "json: $a" "md:   $b"
done
[ "$shipped" -ge 11 ] && [ "$same" = "$shipped" ] && ok "every shipped runbook ($shipped, English and Japanese) round-trips through Markdown" \
	|| fail "every shipped runbook round-trips" "$same of $shipped"

# Keys with no attribute form (objects, text over lines) go into an rbc
# comment and come back: the writer knows no key by name.
printf '{"runbook":"k","title":"K","steps":[{"id":"a","title":"A","run":"true","retry":{"attempts":2,"delay":"1s"},"confirm":"Really?\\nSure?"}]}' >"$TMP/keys.json"
"$RBC" convert "$TMP/keys.json" --to md -o "$TMP/keys.md"
expect_match "keys without a Markdown form go into an rbc comment" "$(cat "$TMP/keys.md" 2>/dev/null)" \
	'<!-- rbc \{"retry":\{"attempts":2,"delay":"1s"\},"confirm":"Really\?\\nSure\?"\} -->'
expect_eq "and read back the same" "$("$RBC" convert "$TMP/keys.md" | jq -cS .)" "$("$RBC" convert "$TMP/keys.json" --to json | jq -cS .)"
sed -i 's/"attempts":2/"atempts":2/' "$TMP/keys.md"
run "$RBC" check "$TMP/keys.md"
expect_eq "a misspelt key inside a comment: at its place, with did you mean" "$(grep unknown <<<"$ERR")" \
	"$TMP/keys.md:5:20: steps[0].retry.atempts: unknown key \"atempts\" (did you mean \"attempts\"?)"

# A command holding fences of its own: a longer fence; 300 backticks (more
# than cmark-gfm's byte of fence length) stay in the comment.
python3 -c '
import json
print(json.dumps({"runbook": "f", "title": "F", "steps": [
    {"id": "a", "title": "A", "run": "cat <<EOF\n```sh\nx\n```\nEOF"},
    {"id": "b", "title": "B", "run": "echo x\n" + "`" * 300}]}))' >"$TMP/fence.json"
"$RBC" convert "$TMP/fence.json" --to md -o "$TMP/fence.md"
expect_match "a command with a fence inside gets a longer fence" "$(cat "$TMP/fence.md")" '^````sh \{#a title="A"\}$'
expect_eq "commands holding fences read back the same" "$("$RBC" convert "$TMP/fence.md" | jq -cS .)" "$("$RBC" convert "$TMP/fence.json" --to json | jq -cS .)"

# Text that reads as inline HTML in a heading stays in the comment (a
# finding of fuzz_markdown).
printf '{"runbook":"h","title":"H","steps":[{"id":"g","title":"G","note":"see <!-- rbc x --> here","steps":[{"title":"x","manual":"x"}]}]}' >"$TMP/html.json"
"$RBC" convert "$TMP/html.json" --to md -o "$TMP/html.md"
expect_eq "a note holding <!-- reads back the same" "$("$RBC" convert "$TMP/html.md" | jq -cS .)" "$("$RBC" convert "$TMP/html.json" --to json | jq -cS .)"

# ---------------------------------------------------------------- usage
expect_rc "convert without a file is a usage error" 64 "$RBC" convert
expect_rc "convert --to xml is a usage error" 64 "$RBC" convert good/ja-release.md --to xml
expect_rc "convert of an invalid runbook exits 65" 65 "$RBC" convert bad/heading-skip.md
run "$RBC" convert --help
expect_match "convert --help says both directions" "$OUT" 'rbc convert FILE.json --to md'
