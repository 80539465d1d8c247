#!/usr/bin/env python3
"""tests/sandbox/traffic.py - a steady small load through the sandbox router:
about --rate requests a second, mostly the business endpoint (with a token
from /api/auth/login, fetched again when refused), some health checks. It
never stops on errors: they are what the runbooks measure."""
import argparse
import json
import signal
import sys
import time
import urllib.error
import urllib.request


def call(url, data=None, token=None, timeout=5):
    req = urllib.request.Request(url, data=json.dumps(data).encode() if data is not None else None,
                                 method="POST" if data is not None else "GET")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, b""
    except OSError:
        return 0, b""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--rate", type=float, default=20)
    ap.add_argument("--tag", help="ignored: names the sandbox in the command line, for its stop")
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    token, n, gap = None, 0, 1.0 / a.rate
    while True:
        t0 = time.monotonic()
        if token is None:
            st, body = call(a.url + "/api/auth/login", {"user": "demo", "password": "demo"})
            if st == 200:
                token = json.loads(body)["token"]
        elif n % 5 == 0:
            call(a.url + "/api/health")
        else:
            st, _ = call(a.url + "/api/orders", token=token)
            if st == 401:
                token = None  # a new colour knows no old token
        n += 1
        time.sleep(max(0.0, gap - (time.monotonic() - t0)))


if __name__ == "__main__":
    sys.exit(main())
