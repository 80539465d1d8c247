#!/usr/bin/env python3
"""tests/sandbox/demo.py - the sandbox's demo application: one colour of a
blue-green pair.

Standard library only. Binds 127.0.0.1 (--port; 0 picks a free one, written
to --port-file once listening). Every request runs in its own thread.

  GET  /api/health       200 {"status":"ok","colour":C,"version":V}
  GET  /api/environment  200 {"environment":C,"version":V}
  POST /api/auth/login   {"user":"demo","password":P} -> 200 {"token":T}
                         (P: $DEMO_PASSWORD, default "demo"); else 401
  GET  /api/orders       with "Authorization: Bearer T": 200 {"orders":[...]}
                         (the business endpoint); else 401
  GET  /metrics          Prometheus text: app_http_requests_total{path,code},
                         app_http_request_duration_seconds{path} (histogram),
                         app_info{colour,version} 1

Faults, to walk the failure and rollback paths (also --fault at start):
  PUT  /_fault           {"mode": "none" | "5xx" | "slow" | "dead-health",
                          "rate": 0.0-1.0 (5xx: the share of failing
                          requests, default 1), "delay_ms": N (slow, default
                          1500)}
  GET  /_fault           the current fault
  GET  /_ready           200 "ready" (never counted)

A fault applies to /api/* (dead-health: /api/health only). Counted and timed
like any request, so Prometheus sees the error rate and the latency the
rollback watches judge.
"""

import argparse
import json
import os
import random
import secrets
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ORDERS = [{"id": 1001, "item": "widget", "qty": 2}, {"id": 1002, "item": "gadget", "qty": 1}]


class State:
    def __init__(self, colour, version, fault):
        self.colour, self.version = colour, version
        self.lock = threading.Lock()
        self.fault = fault
        self.tokens = set()
        self.counts = {}   # (path, code) -> n
        self.hist = {}     # path -> [bucket counts..., +Inf, sum, count]

    def observe(self, path, code, secs):
        with self.lock:
            self.counts[(path, code)] = self.counts.get((path, code), 0) + 1
            h = self.hist.setdefault(path, [0] * (len(BUCKETS) + 1) + [0.0, 0])
            for i, le in enumerate(BUCKETS):
                if secs <= le:
                    h[i] += 1
            h[len(BUCKETS)] += 1
            h[-2] += secs
            h[-1] += 1

    def metrics(self):
        out = ["# TYPE app_info gauge",
               'app_info{colour="%s",version="%s"} 1' % (self.colour, self.version),
               "# TYPE app_http_requests_total counter"]
        with self.lock:
            for (path, code), n in sorted(self.counts.items()):
                out.append('app_http_requests_total{path="%s",code="%d"} %d' % (path, code, n))
            out.append("# TYPE app_http_request_duration_seconds histogram")
            for path, h in sorted(self.hist.items()):
                for i, le in enumerate(BUCKETS):
                    out.append('app_http_request_duration_seconds_bucket{path="%s",le="%g"} %d' % (path, le, h[i]))
                out.append('app_http_request_duration_seconds_bucket{path="%s",le="+Inf"} %d' % (path, h[len(BUCKETS)]))
                out.append('app_http_request_duration_seconds_sum{path="%s"} %.6f' % (path, h[-2]))
                out.append('app_http_request_duration_seconds_count{path="%s"} %d' % (path, h[-1]))
        return "\n".join(out) + "\n"


def parse_fault(text):
    f = {"mode": "none", "rate": 1.0, "delay_ms": 1500}
    if text:
        spec = json.loads(text) if text.startswith("{") else {"mode": text}
        f.update(spec)
    if f["mode"] not in ("none", "5xx", "slow", "dead-health"):
        raise ValueError("unknown fault mode %r" % f["mode"])
    return f


def handler(state):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def send(self, code, body, ctype="application/json"):
            data = (json.dumps(body) if not isinstance(body, str) else body).encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def body(self):
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else b""

        def control(self, path):
            if path == "/_ready":
                self.send(200, "ready", "text/plain")
            elif path == "/_fault" and self.command == "GET":
                self.send(200, state.fault)
            elif path == "/_fault" and self.command in ("PUT", "POST"):
                try:
                    f = parse_fault(self.body().decode() or "none")
                except (ValueError, json.JSONDecodeError) as e:
                    self.send(400, {"error": str(e)})
                    return
                state.fault = f
                self.send(200, f)
            else:
                self.send(404, {"error": "not found"})

        def app(self, path):
            f = state.fault
            if path.startswith("/api/"):
                if f["mode"] == "slow":
                    time.sleep(f["delay_ms"] / 1000.0)
                if f["mode"] == "5xx" and random.random() < f["rate"]:
                    return 503, {"error": "injected failure (5xx)"}
                if f["mode"] == "dead-health" and path == "/api/health":
                    return 503, {"status": "down"}
            if path == "/api/health":
                return 200, {"status": "ok", "colour": state.colour, "version": state.version}
            if path == "/api/environment":
                return 200, {"environment": state.colour, "version": state.version}
            if path == "/api/auth/login" and self.command == "POST":
                try:
                    req = json.loads(self.body() or b"{}")
                except json.JSONDecodeError:
                    req = {}
                if req.get("user") == "demo" and req.get("password") == os.environ.get("DEMO_PASSWORD", "demo"):
                    tok = secrets.token_hex(16)
                    with state.lock:
                        state.tokens.add(tok)
                    return 200, {"token": tok}
                return 401, {"error": "bad credentials"}
            if path == "/api/orders":
                auth = self.headers.get("Authorization", "")
                with state.lock:
                    good = auth.startswith("Bearer ") and auth[7:] in state.tokens
                return (200, {"orders": ORDERS, "colour": state.colour}) if good else (401, {"error": "no token"})
            return 404, {"error": "not found"}

        def handle_any(self):
            path = urlsplit(self.path).path
            if path.startswith("/_"):
                self.control(path)
                return
            if path == "/metrics":
                self.send(200, state.metrics(), "text/plain; version=0.0.4")
                return
            t0 = time.monotonic()
            code, body = self.app(path)
            self.send(code, body)
            state.observe(path if path.startswith("/api/") else "other", code, time.monotonic() - t0)

        do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = handle_any

    return H


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--colour", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--fault", default="none")
    ap.add_argument("--tag", help="ignored: names the sandbox in the command line, for its stop")
    a = ap.parse_args()
    state = State(a.colour, a.version, parse_fault(a.fault))
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), handler(state))
    srv.daemon_threads = True
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.rename(tmp, a.port_file)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown).start())
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
