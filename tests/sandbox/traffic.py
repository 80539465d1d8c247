#!/usr/bin/env python3
"""tests/sandbox/traffic.py - a steady small load through the sandbox router:
about --rate requests a second, mostly the business endpoint (with a token
from /api/auth/login, fetched again when refused), some health checks. The
business requests run in threads (at most --in-flight at once), so a slow
release slows them, not the load. It never stops on errors: they are what
the runbooks measure."""
import argparse
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request


def call(url, data=None, token=None, timeout=30):
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
    ap.add_argument("--in-flight", type=int, default=64)
    ap.add_argument("--tag", help="ignored: names the sandbox in the command line, for its stop")
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    state = {"token": None}
    slots = threading.BoundedSemaphore(a.in_flight)

    def orders(token):
        try:
            st, _ = call(a.url + "/api/orders", token=token)
            if st == 401 and state["token"] == token:
                state["token"] = None  # revoked, or signed by another key
        finally:
            slots.release()

    n, gap = 0, 1.0 / a.rate
    while True:
        t0 = time.monotonic()
        if state["token"] is None:
            st, body = call(a.url + "/api/auth/login", {"user": "demo", "password": "demo"}, timeout=5)
            if st == 200:
                state["token"] = json.loads(body)["token"]
        elif n % 5 == 0:
            call(a.url + "/api/health", timeout=5)
        elif slots.acquire(blocking=False):
            threading.Thread(target=orders, args=(state["token"],), daemon=True).start()
        n += 1
        time.sleep(max(0.0, gap - (time.monotonic() - t0)))


if __name__ == "__main__":
    sys.exit(main())
