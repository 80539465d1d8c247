#!/usr/bin/env python3
"""tests/bench/gen_markdown.py N FILE — a Markdown runbook of exactly N steps.

Written as operations teams write them: phases (##) of groups (###) with
prose, a table now and then, task items, shell blocks with {...} attributes
(ids, expectations, timeouts), blocks with an rbc comment (repeat, retry),
console blocks and unannotated blocks (their implicit confirmation), YAML
that stays prose. Groups count as steps, as rbc check counts them.
"""
import sys

n, path = int(sys.argv[1]), sys.argv[2]
out = ['<!-- rbc {"runbook": "bench-md", "kind": "deploy", "vars": {"BASE_URL": "http://127.0.0.1:8080"}} -->',
       "", "# ベンチマーク用デプロイ手順書", "", "大量のステップを持つ手順書の読み込み速度を測る。", ""]
count = 0
leaf = 0
phase = 0
group = 0


def leaf_step(k):
    kind = k % 8
    if kind in (0, 1, 2):
        return [f"- [ ] 確認項目 {k}: エラー率 < 0.1%", ""]
    if kind == 3:
        return [f'```sh {{id=s{k} expect="exit == 0 && time < 5s" timeout=30s}}',
                f"# ステップ {k} のヘルスチェック", 'curl -fsS "$BASE_URL/api/health"', "```", ""]
    if kind == 4:
        return [f'<!-- rbc {{"id": "r{k}", "repeat": {{"count": 3, "every": "1s"}}, "expect": "all(exit == 0)"}} -->',
                "```bash", f"echo 'repeat {k}'", "```", ""]
    if kind == 5:
        return [f"ステップ {k} の設定反映:", "", f"```sh {{id=c{k} title=\"設定 {k}\"}}", "systemctl reload app", "```", ""]
    if kind == 6:
        return ["```console", f"$ echo {k}", f"{k}", "```", ""]
    return ["```sh", f"# 手動確認用コマンド {k}", "uptime", "```", ""]


while count < n:
    if leaf % 100 == 0 and n - count >= 3:
        phase += 1
        out += [f"## Phase {phase}: 段階 {phase}", "", f"Phase {phase} の作業。", ""]
        count += 1
    if leaf % 10 == 0 and n - count >= 2:
        group += 1
        out += [f"### {phase}.{group} 作業グループ {group}", "", "この節の前提と注意事項。", ""]
        if group % 5 == 0:
            out += ["| 項目 | 値 |", "|---|---|", "| 閾値 | 500ms |", "", "```yaml", "replicas: 3", "```", ""]
        count += 1
    out += leaf_step(leaf)
    leaf += 1
    count += 1
with open(path, "w", encoding="utf-8") as f:
    f.write("\n".join(out) + "\n")
