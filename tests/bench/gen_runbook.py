#!/usr/bin/env python3
"""gen_runbook.py — writes a large, realistic runbook for the check benchmark.

    gen_runbook.py STEPS OUT.json

The runbook holds exactly STEPS steps, groups included (what `rbc check`
counts): top-level groups of ten steps — a group and nine children, every
tenth child slot a nested group of its own — mixing http, run, sql, manual,
prometheus, tcp, dns and nagios steps the way deployment checklists do.
Most probes carry thresholds, some repeat, retry or capture values that later
titles use; every fifth group is an on-demand rollback procedure that later
steps name in on_fail goto:.
Comments are sprinkled in, since rbc accepts them and has to blank them out.

The output is deterministic (no randomness) so timings compare across runs.
"""
import json
import sys

EXPECTS = {
    "http": ["status == 200", "status in [200, 204] && time < 800ms",
             "p95(time) < 500ms", "json.status == \"ok\"",
             "rate(status >= 500) < 0.1%", "header[\"content-type\"] =~ /json/"],
    "run": ["exit == 0", "exit == 0 && stdout =~ /ready/",
            "num(match(stdout, /(\\d+) errors?/)) == 0", "len(stdout) > 0"],
    "sql": ["rows >= 1", "value < 1000", "row.state == \"active\"", "value == 0"],
    "prometheus": ["value < 0.01", "value < 5%", "max(value) < 0.8"],
    "tcp": ["time < 200ms"],
    "dns": ["len(addrs) >= 1"],
    "nagios": ["state == 0", "perf.time < 2s"],
}
WARNS = ["p95(time) > 300ms", "time > 1s", "avg(time) > 250ms"]
KINDS = ["http", "run", "http", "sql", "manual", "prometheus", "http", "run", "tcp",
         "dns", "manual", "nagios", "sql", "http"]


def leaf(n, idx, gid, captures):
    """One probe or manual step; n is a global counter for variety."""
    kind = KINDS[n % len(KINDS)]
    s = {"id": "s%d" % n, "title": "Check %d of group %d" % (idx, gid)}
    if kind == "http":
        s["http"] = {"url": "${BASE_URL}/api/v1/item/%d" % n,
                     "headers": {"Authorization": "Bearer ${API_TOKEN}"}}
        if n % 7 == 0:
            s["http"]["method"] = "POST"
            s["http"]["json"] = {"id": n, "dry_run": True}
    elif kind == "run":
        s["run"] = "./scripts/check.sh %d \"$ENV_NAME\"" % n
    elif kind == "sql":
        s["sql"] = {"query": "select count(*) from jobs where state = $1 and shard = $2",
                    "params": ["failed", n % 16], "conn": "${DB_URL}"}
    elif kind == "prometheus":
        s["prometheus"] = {"url": "${PROM_URL}",
                           "query": "sum(rate(http_requests_total{code=~\"5..\",job=\"api-%d\"}[5m]))" % (n % 50)}
    elif kind == "tcp":
        s["tcp"] = {"host": "db-%d.internal" % (n % 8), "port": 5432}
    elif kind == "dns":
        s["dns"] = "api-%d.example.test" % (n % 20)
    elif kind == "nagios":
        s["nagios"] = "check_disk -w 20%% -c 10%% -p /data%d" % (n % 4)
    else:
        s["manual"] = "Confirm item %d on the dashboard for ${ENV_NAME}" % n
        if captures:
            s["note"] = "Compare with ${%s}" % captures[-1]
        return s
    if n % 10 != 9:                      # expressions on most probes
        s["expect"] = EXPECTS[kind][n % len(EXPECTS[kind])]
    if kind == "http" and n % 3 == 0:
        s["warn"] = WARNS[n % len(WARNS)]
        s["repeat"] = {"count": 5 + n % 20, "every": "500ms"}
    elif n % 11 == 0:
        s["repeat"] = {"until": "exit == 0" if kind in ("run", "nagios") else "time < 1s",
                       "every": "2s", "within": "1m"}
    elif n % 13 == 0:
        s["repeat"] = {"consecutive": 3, "every": "1s", "within": "30s"}
    if n % 5 == 0:
        s["retry"] = {"attempts": 3, "delay": "2s"}
    if n % 4 == 0:
        s["timeout"] = "15s"
    if n % 6 == 0 and kind in ("http", "run", "sql"):
        name = "CAP_%d" % n
        s["capture"] = {name: {"http": "json.version", "run": "match(stdout, /v(\\d+)/)",
                               "sql": "value"}[kind]}
        captures.append(name)
    elif captures and n % 6 == 3:
        s["title"] += " (after ${%s})" % captures[-1]
    if n % 9 == 0:
        s["when"] = "vars.ENV_NAME != \"dev\""
    if n % 17 == 0 and gid > 5 and gid % 5:
        s["on_fail"] = "goto:rollback-%d" % (gid // 5 * 5)
    elif n % 8 == 0:
        s["on_fail"] = "continue"
    return s


def build(total):
    """Top-level items (as JSON text chunks) holding exactly total steps."""
    chunks, n, gid, left, captures = [], 0, 0, total, []
    while left > 0:
        gid += 1
        if left == 1:
            n += 1
            chunks.append(json.dumps(leaf(n, 1, gid, captures), separators=(",", ":")))
            left -= 1
            break
        size = min(10, left)
        g = {"id": "g%d" % gid, "title": "Phase %d checks" % gid, "steps": []}
        if gid % 5 == 0:                 # every fifth group: a rollback procedure
            g = {"id": "rollback-%d" % gid, "title": "Roll back phases %d-%d" % (gid - 4, gid),
                 "on_demand": True, "steps": []}
        left -= 1
        kids = size - 1
        idx = 0
        while kids > 0:
            idx += 1
            if idx == 5 and kids >= 4 and gid % 3 == 0:
                sub = {"id": "g%d-%d" % (gid, idx), "title": "Sub-checks %d.%d" % (gid, idx),
                       "parallel": True, "steps": []}
                for k in range(3):
                    n += 1
                    sub["steps"].append(leaf(n, k + 1, gid, captures))
                g["steps"].append(sub)
                kids -= 4
                left -= 4
            else:
                n += 1
                g["steps"].append(leaf(n, idx, gid, captures))
                kids -= 1
                left -= 1
        text = json.dumps(g, separators=(",", ":"))
        chunks.append("// phase %d\n%s" % (gid, text) if gid % 10 == 1 else text)
    return chunks, gid


def main():
    if len(sys.argv) != 3 or not sys.argv[1].isdigit() or int(sys.argv[1]) < 1:
        sys.exit("usage: gen_runbook.py STEPS OUT.json")
    total = int(sys.argv[1])
    chunks, _ = build(total)
    head = {
        "runbook": "bench-%d" % total,
        "title": "Benchmark runbook, %d steps" % total,
        "kind": "post-deploy",
        "vars": {"BASE_URL": "http://127.0.0.1:8080", "DB_URL": "postgres://bench@127.0.0.1/app",
                 "PROM_URL": "http://127.0.0.1:9090", "ENV_NAME": "staging"},
        "secrets": ["API_TOKEN"],
        "defaults": {"timeout": "30s", "retry": {"attempts": 1, "delay": "1s"}},
    }
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        f.write("/* generated by tests/bench/gen_runbook.py */\n{\n")
        for k, v in head.items():
            f.write("  %s: %s,\n" % (json.dumps(k), json.dumps(v)))
        f.write('  "steps": [\n')
        f.write(",\n".join(chunks))
        f.write("\n  ]\n}\n")


if __name__ == "__main__":
    main()
