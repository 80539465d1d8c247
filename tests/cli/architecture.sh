#!/usr/bin/env bash
# The shape of src/: no file imports a file that imports it back, directly
# or round a longer circle, and no file grows past 1,500 lines.
#
# File A imports file B when A's object uses a symbol B's object defines:
# the graph is read with nm from the objects of the build under test
# (build/rel, or build/san under SAN=1), one node per file of src/. Each
# circle is printed as a path, a → b → a, with the symbols behind each step.
# docs/architecture.md describes the shape: every file it names exists.
. tests/lib.sh

# ---- still to split; remove as they land --------------------------------
# Files and circles outside src/engine and src/expr that other work in
# progress splits. An entry that no longer applies fails the test: take it
# out. Circles inside src/engine and src/expr are never listed here.
ALLOW_CIRCLES=(
	# (none left: a circle is written "src/a.c → src/b.c → src/a.c",
	#  starting from its first file in sort order)
)
ALLOW_OVERSIZE=(
)
# --------------------------------------------------------------------------
MAX_LINES=1500

# The build the runner names (make test: RBC_UNIT_DIR is build/*/tests),
# else the one the binary under test comes from, else build/rel.
if [ -n "${RBC_UNIT_DIR:-}" ]; then
	BUILD=$(cd "$RBC_UNIT_DIR/.." && pwd)
elif [ -f "$(dirname "$RBC")/librbc.a" ]; then
	BUILD=$(cd "$(dirname "$RBC")" && pwd)
else
	BUILD=$ROOT/build/rel
fi

for entry in "${ALLOW_CIRCLES[@]}" "${ALLOW_OVERSIZE[@]}"; do
	case $entry in
	*src/engine/* | *src/expr/*) fail "the allowlist holds nothing of src/engine or src/expr" "listed: $entry" ;;
	esac
done

# Every file of src/ has an object, at least as new as its source.
missing=() stale=()
while IFS= read -r c; do
	o=$BUILD/${c%.c}.o
	if [ ! -f "$o" ]; then missing+=("$c")
	elif [ "$c" -nt "$o" ]; then stale+=("$c"); fi
done < <(find src -name '*.c' | sort)
if [ ${#missing[@]} -gt 0 ] || [ ${#stale[@]} -gt 0 ]; then
	fail "every file of src/ has an up-to-date object under $BUILD" \
		"no object: ${missing[*]:-none}" "older than its source: ${stale[*]:-none}" "make rbc unit builds them"
	t_done
fi
ok "every file of src/ has an up-to-date object under $BUILD"

# The graph: "FILES n", "IMPORTS m", then one "CIRCLE path<TAB>why" per circle.
python3 - "$BUILD" <<'PY' >"$TMP/graph"
import collections, os, subprocess, sys

build = sys.argv[1]
files = sorted(os.path.join(d, f) for d, _, fs in os.walk("src") for f in fs if f.endswith(".c"))

def nm(args, obj):
    out = subprocess.run(["nm"] + args + [obj], capture_output=True, text=True, check=True).stdout
    return [line.split() for line in out.splitlines() if line.strip()]

defs, uses = {}, {}
for f in files:
    obj = os.path.join(build, f[:-2] + ".o")
    for p in nm(["-g", "--defined-only"], obj):
        if len(p) == 3:
            defs.setdefault(p[2], f)
    uses[f] = {p[-1] for p in nm(["-u"], obj)}

graph = collections.defaultdict(set)
why = collections.defaultdict(set)
for a in files:
    for sym in uses[a]:
        b = defs.get(sym)
        if b and b != a:
            graph[a].add(b)
            why[(a, b)].add(sym)
print("FILES", len(files))
print("IMPORTS", sum(len(v) for v in graph.values()))

# Every elementary circle, once, from its first file in sort order; at most
# LIMIT, so a tangle still ends the test quickly (the first ones say enough).
LIMIT = 200
found = []
def walk(start, node, path, seen):
    for nxt in sorted(graph[node]):
        if len(found) >= LIMIT:
            return
        if nxt == start:
            found.append(path + [start])
        elif nxt > start and nxt not in seen:
            seen.add(nxt)
            walk(start, nxt, path + [nxt], seen)
            seen.discard(nxt)
sys.setrecursionlimit(10000)
for f in files:
    walk(f, f, [f], {f})
for c in found:
    steps = "; ".join("%s → %s: %s" % (a, b, ", ".join(sorted(why[(a, b)])[:4]))
                      for a, b in zip(c, c[1:]))
    print("CIRCLE " + " → ".join(c) + "\t" + steps)
PY
if [ $? -ne 0 ]; then
	fail "the import graph is read from the objects" "$(cat "$TMP/graph")"
	t_done
fi
nfiles=$(sed -n 's/^FILES //p' "$TMP/graph")
nimports=$(sed -n 's/^IMPORTS //p' "$TMP/graph")
want=$(find src -name '*.c' | wc -l)
if [ "$nfiles" = "$want" ] && [ "${nimports:-0}" -gt "$nfiles" ]; then
	ok "the import graph is read from the objects ($nfiles files, $nimports imports)"
else
	fail "the import graph is read from the objects" "$nfiles files of $want, ${nimports:-0} imports"
fi

# Circles: none but the listed ones; a listed one that is gone is taken out.
allowed() {
	local x
	for x in "${ALLOW_CIRCLES[@]}"; do [ "$x" = "$1" ] && return 0; done
	return 1
}
new=0
while IFS=$'\t' read -r circle steps; do
	circle=${circle#CIRCLE }
	if allowed "$circle"; then
		skip "no circle $circle" "still to split"
	else
		fail "no circle $circle" "$steps"
		new=$((new + 1))
	fi
done < <(grep '^CIRCLE ' "$TMP/graph")
[ "$new" -eq 0 ] && ok "no file of src/ imports a file that imports it back, directly or round a circle (but the listed ones)"
for x in "${ALLOW_CIRCLES[@]}"; do
	grep -qxF "CIRCLE $x" <(cut -f1 "$TMP/graph") ||
		fail "the allowlisted circle $x is still there" "it is gone: take it out of ALLOW_CIRCLES"
done

# Sizes: no file over MAX_LINES lines but the exempt one and the listed ones.
listed() {
	local x
	for x in "${ALLOW_OVERSIZE[@]}"; do [ "$x" = "$1" ] && return 0; done
	return 1
}
big=0
while read -r lines f; do
	[ "$f" = total ] && continue
	if [ "$lines" -gt "$MAX_LINES" ]; then
		if listed "$f"; then
			skip "$f is at most $MAX_LINES lines" "$lines lines, still to split"
		else
			fail "$f is at most $MAX_LINES lines" "$lines lines"
			big=$((big + 1))
		fi
	elif listed "$f"; then
		fail "the allowlisted $f is still over $MAX_LINES lines" "$lines lines now: take it out of ALLOW_OVERSIZE"
	fi
done < <(find src -name '*.[ch]' -print0 | sort -z | xargs -0 wc -l)
[ "$big" -eq 0 ] && ok "no file of src/ is over $MAX_LINES lines but the listed ones"

# ---- the page that describes it names only what there is -----------------
missing=""
named=0
while read -r f; do
	named=$((named + 1))
	case $f in
	src/* | include/* | tests/*) p=$f ;;
	*/*) p=src/$f ;;
	*.h) p=$(find src include -name "$f" | head -1) ;;
	*) p=$(find src -name "$f" | head -1) ;;
	esac
	[ -n "$p" ] && [ -e "$p" ] || missing="$missing $f"
done < <(grep -o '[A-Za-z_/.]*[a-z_]\.[ch]\b' docs/architecture.md | grep -v 'KIND\|pane_X' | sort -u)
if [ "$named" -gt 20 ] && [ -z "$missing" ]; then
	ok "docs/architecture.md names $named files of the tree, every one there"
else
	fail "docs/architecture.md names only files that exist" "named $named; missing:$missing"
fi
t_done
