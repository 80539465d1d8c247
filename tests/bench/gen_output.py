#!/usr/bin/env python3
"""Writes exactly BYTES bytes of log-like text to stdout, fast and the same every time.

    gen_output.py BYTES

What a noisy deployment tool prints: timestamped log lines at several levels,
JSON log records, a stack trace, a table, UTF-8 text, a carriage-return
progress bar, a few very long lines and blank lines. The mix is built once
(about 1 MiB, from a fixed seed); the output is that mix over and over, each
1 MiB block starting with its own numbered header line and taking the mix
from a different offset, so no two blocks are alike and a spool that loses,
repeats or reorders a piece of the stream no longer matches the generator's
checksum. The last block is cut so that the total is exactly BYTES.

The text never contains "panic", which the benchmark runbook's warn looks for.
Used by tests/bench/engine for the large-output benchmark.
"""
import os
import random
import sys

BLOCK = 1 << 20


def mix(rng):
    """About 1 MiB of varied lines, as bytes."""
    services = ["api", "worker", "billing", "auth", "search", "gateway"]
    paths = ["/api/orders/%d", "/api/users/%d/profile", "/static/app.%d.js",
             "/api/health", "/api/cart/%d/items", "/metrics"]
    words = ("deploy rollout replica pod node shard cache queue lease token "
             "migration schema index vacuum checkpoint backlog retry timeout "
             "upstream connection pool handshake certificate").split()
    utf8 = ["デプロイ完了", "Überprüfung abgeschlossen", "réplica prête",
            "監視ダッシュボード確認", "καθυστέρηση", "ошибок нет"]
    out = []
    size = 0
    n = 0
    while size < BLOCK + 64 * 1024:
        n += 1
        ts = "2026-11-23T%02d:%02d:%02d.%03dZ" % (
            n // 3600 % 24, n // 60 % 60, n % 60, rng.randrange(1000))
        svc = rng.choice(services)
        kind = rng.randrange(100)
        if kind < 55:
            path = rng.choice(paths)
            if "%d" in path:
                path = path % rng.randrange(1, 99999)
            line = "%s INFO  %s[%d]: GET %s %d %.1fms bytes=%d\n" % (
                ts, svc, rng.randrange(100, 9999), path,
                rng.choice((200, 200, 200, 204, 301, 404)),
                rng.random() * 250, rng.randrange(50, 90000))
        elif kind < 70:
            line = ('{"ts":"%s","level":"debug","svc":"%s","msg":"%s %s","n":%d}\n'
                    % (ts, svc, rng.choice(words), rng.choice(words), rng.randrange(10**6)))
        elif kind < 78:
            line = "%s WARN  %s: %s slow: %d ms over budget\n" % (
                ts, svc, rng.choice(words), rng.randrange(1, 5000))
        elif kind < 81:
            line = "%s ERROR %s: %s failed: connection reset by peer\n" % (ts, svc, rng.choice(words))
            line += "".join("    at %s.%s (%s.c:%d)\n" % (
                svc, rng.choice(words), rng.choice(words), rng.randrange(1, 3000))
                for _ in range(rng.randrange(3, 12)))
        elif kind < 86:
            line = "\t".join([rng.choice(words), str(rng.randrange(10**5)),
                              "%.2f%%" % (rng.random() * 100), rng.choice(services)]) + "\n"
        elif kind < 90:
            line = "%s INFO  %s: %s\n" % (ts, svc, rng.choice(utf8))
        elif kind < 93:
            line = "".join("\r[%-40s] %3d%%" % ("#" * (p * 40 // 100), p)
                           for p in range(0, 101, 5)) + "\n"
        elif kind < 95:
            alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
            line = "%s DEBUG %s: payload=%s\n" % (
                ts, svc, "".join(rng.choice(alphabet) for _ in range(rng.randrange(2000, 9000))))
        else:
            line = "\n"
        b = line.encode("utf-8")
        out.append(b)
        size += len(b)
    return b"".join(out)


def main():
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.stderr.write("usage: gen_output.py BYTES\n")
        return 64
    left = int(sys.argv[1])
    body = mix(random.Random(20261123))
    nblocks = (left + BLOCK - 1) // BLOCK
    fd = sys.stdout.fileno()
    for i in range(nblocks):
        head = b"--- block %010d of %010d ---\n" % (i + 1, nblocks)
        off = (i * 104729) % (len(body) - BLOCK)
        chunk = head + body[off:off + BLOCK - len(head)]
        view = memoryview(chunk)[:min(left, BLOCK)]
        while view:
            n = os.write(fd, view)
            view = view[n:]
        left -= min(left, BLOCK)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:
        sys.exit(141)
