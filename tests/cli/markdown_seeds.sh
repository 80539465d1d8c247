#!/usr/bin/env bash
# The teams' own operations documents (the shared seeds beside the checkout)
# read as Markdown runbooks: each loads without an error, every task item
# (- [ ] / - [x]) is a manual step and every shell block a command step that
# asks before it runs (docs/markdown-runbooks.md, "Safety").
. tests/lib.sh

SEEDS=$(cd "$ROOT/.." && pwd)/shared/seeds
if [ ! -d "$SEEDS" ]; then
	skip "the seed documents load as Markdown runbooks" "no ../shared/seeds beside the checkout"
	exit 0
fi

n=0
for seed in "$SEEDS"/*.txt; do
	[ -f "$seed" ] || continue
	name=$(basename "$seed" .txt)
	cp "$seed" "$TMP/$name.md"
	n=$((n + 1))
	run "$RBC" check "$TMP/$name.md"
	if [ "$RC" != 0 ] || grep -v 'warning' <<<"$ERR" | grep -q .; then
		fail "$name loads without an error" "exit $RC" "${ERR:0:800}"
		continue
	fi
	ok "$name loads without an error (${OUT#*: ok: })"
	"$RBC" convert "$TMP/$name.md" >"$TMP/$name.json" 2>/dev/null
	# What the document holds, counted on its text outside code blocks.
	python3 - "$TMP/$name.md" "$TMP/$name.json" >"$TMP/$name.cmp" <<'EOF'
import json, re, sys
text = open(sys.argv[1], encoding="utf-8").read().split("\n")
doc = json.load(open(sys.argv[2], encoding="utf-8"))
fence = None
items = shells = 0
for line in text:
    s = line.lstrip()
    m = re.match(r"(`{3,}|~{3,})\s*([^\s{`]*)", s)
    if fence:
        if m and s.startswith(fence) and not m.group(2):
            fence = None
        continue
    if m:
        fence = m.group(1)
        if m.group(2) in ("sh", "bash", "shell", "console"):
            shells += 1
        continue
    if re.match(r"[-*+] \[[ xX]\] ", s):
        items += 1
if items == 0 and shells == 0:
    items = 1  # prose alone: the document is one manual step, read it
manual = runs = guarded = 0
def walk(steps):
    global manual, runs, guarded
    for st in steps:
        if "manual" in st:
            manual += 1
        if "run" in st:
            runs += 1
            if st.get("confirm") == "Run this command from the document?":
                guarded += 1
        walk(st.get("steps", []))
walk(doc["steps"])
print(f"items {items} manual {manual}")
print(f"shell {shells} run {runs} guarded {guarded}")
EOF
	read -r _ items _ manual <"$TMP/$name.cmp"
	read -r _ shells _ runs _ guarded < <(sed -n 2p "$TMP/$name.cmp")
	expect_eq "$name: every task item is a manual step ($items)" "$manual" "$items"
	expect_eq "$name: every shell block is a command step ($shells)" "$runs" "$shells"
	expect_eq "$name: every shell block asks before it runs" "$guarded" "$shells"
done
[ "$n" -ge 4 ] && ok "the $n seed documents were read" || fail "the seed documents were read" "only $n"
