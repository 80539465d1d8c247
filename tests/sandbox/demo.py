#!/usr/bin/env python3
"""tests/sandbox/demo.py - the sandbox's demo application: one colour of a
blue-green pair.

Standard library only. Binds 127.0.0.1 (--port; 0 picks a free one, written
to --port-file once listening). Every request runs in its own thread.

It plays the application the seed procedures release (login, gacha,
payment in test mode), with the endpoints the shipped runbooks call:

  GET  /                        the home page (HTML)
  GET  /api/health              200 {"status":"ok","colour":C,"version":V}
  GET  /api/environment         200 {"environment":C,"version":V}
  POST /api/auth/login          {"email":E,"password":P} (or {"user":"demo",..})
                                -> 200 {"token": a JWT (HS256)}; else 401.
                                E: $DEMO_USER_EMAIL (test@example.com),
                                P: $DEMO_PASSWORD (demo)
  GET  /api/auth/session        Bearer token -> 200 {"user":{"email":E}}
  POST /api/auth/logout         Bearer token -> 204; the token is refused after
  GET  /api/inventory           Bearer -> 200 {"items":[...]}
  POST /api/gacha/pull          Bearer {"gachaId":N,"count":K} -> 200
                                {"results":[{"rarity":"N".."UR","item":..}]},
                                the items added to the inventory
  POST /api/payment/create-intent  Bearer {"amount","currency"} -> 200
                                {"id":"pi_test_..","livemode":false,..}
  GET  /api/orders              Bearer -> 200 {"orders":[...]} (the business
                                endpoint the traffic generator loads)
  GET  /api/metrics/business, /api/metrics/realtime, /api/monitoring/alerts/test
  GET  /metrics                 Prometheus text: http_requests_total{path,status},
                                http_request_duration_seconds{path} (histogram),
                                app_info{colour,version} 1

Tokens are signed with $DEMO_JWT_KEY, so blue and green accept each other's;
a logout is remembered by the instance that served it.

Faults, to walk the failure and rollback paths (also --fault at start):
  PUT  /_fault           {"mode": "none" | "5xx" | "slow" | "dead-health",
                          "rate": 0.0-1.0 (5xx: the share of failing
                          requests, default 1), "delay_ms": N (slow, default
                          1500)}
  GET  /_fault           the current fault
  GET  /_ready           200 "ready" (never counted)

A fault is what a bad release does once it takes production traffic, so a
new colour with one passes the deploy runbook's checks before the switch
(health, environment, home page) and fails after it:
  5xx          the business endpoints (/api/* but health and environment)
               answer 503 for a share `rate` of requests (default 0.5)
  slow         the business endpoints answer after `delay_ms` (default
               12000: past the P99 10 s rollback threshold)
  dead-health  /api/health answers 503 once the instance has served
               `after` business requests (default 20) since the fault was set
Counted and timed like any request, so Prometheus sees the error rate and
the latency the rollback watches judge.
"""

import argparse
import base64
import hashlib
import hmac
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

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0, 60.0)
ORDERS = [{"id": 1001, "item": "widget", "qty": 2}, {"id": 1002, "item": "gadget", "qty": 1}]
RARITIES = (("N", 0.55), ("R", 0.3), ("SR", 0.1), ("SSR", 0.04), ("UR", 0.01))
JWT_KEY = os.environ.get("DEMO_JWT_KEY", "sandbox-signing-key").encode()


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_make(email):
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps({"sub": email, "iat": int(time.time()), "jti": secrets.token_hex(8)}).encode())
    sig = b64(hmac.new(JWT_KEY, (head + "." + body).encode(), hashlib.sha256).digest())
    return head + "." + body + "." + sig


def jwt_email(token):
    try:
        head, body, sig = token.split(".")
        want = b64(hmac.new(JWT_KEY, (head + "." + body).encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(sig, want):
            return None
        return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["sub"]
    except (ValueError, KeyError, json.JSONDecodeError):
        return None


class State:
    def __init__(self, colour, version, fault):
        self.colour, self.version = colour, version
        self.lock = threading.Lock()
        self.fault = fault
        self.revoked = set()
        self.inventory = {}  # email -> [items]
        self.business = 0  # business requests served (dead-health counts them)
        self.pulls = 0
        self.intents = 0
        self.started = time.time()
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
               "# TYPE http_requests_total counter"]
        with self.lock:
            for (path, code), n in sorted(self.counts.items()):
                out.append('http_requests_total{path="%s",status="%d"} %d' % (path, code, n))
            out.append("# TYPE http_request_duration_seconds histogram")
            for path, h in sorted(self.hist.items()):
                for i, le in enumerate(BUCKETS):
                    out.append('http_request_duration_seconds_bucket{path="%s",le="%g"} %d' % (path, le, h[i]))
                out.append('http_request_duration_seconds_bucket{path="%s",le="+Inf"} %d' % (path, h[len(BUCKETS)]))
                out.append('http_request_duration_seconds_sum{path="%s"} %.6f' % (path, h[-2]))
                out.append('http_request_duration_seconds_count{path="%s"} %d' % (path, h[-1]))
        return "\n".join(out) + "\n"


HOME = """<!doctype html>
<html><head><title>demo %s</title></head>
<body><h1>Demo shop</h1><p>Served by the %s colour.</p></body></html>
"""


def parse_fault(text):
    f = {"mode": "none", "rate": 0.5, "delay_ms": 12000, "after": 20}
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
            if isinstance(body, str) and body.startswith("<!doctype"):
                ctype = "text/html; charset=utf-8"
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
                with state.lock:
                    state.fault, state.business = f, 0
                self.send(200, f)
            else:
                self.send(404, {"error": "not found"})

        def app(self, path):
            f = state.fault
            business = path.startswith("/api/") and path not in ("/api/health", "/api/environment")
            if business:
                with state.lock:
                    state.business += 1
                if f["mode"] == "slow":
                    time.sleep(f["delay_ms"] / 1000.0)
                if f["mode"] == "5xx" and random.random() < f["rate"]:
                    return 503, {"error": "injected failure (5xx)"}
            if f["mode"] == "dead-health" and path == "/api/health":
                with state.lock:
                    dead = state.business > f["after"]
                if dead:
                    return 503, {"status": "down"}
            if path == "/api/health":
                return 200, {"status": "ok", "colour": state.colour, "version": state.version}
            if path == "/api/environment":
                return 200, {"environment": state.colour, "version": state.version}
            if path == "/":
                return 200, HOME % (state.version, state.colour)
            if path == "/api/auth/login" and self.command == "POST":
                req = self.json_body()
                email = req.get("email") or ("demo" if req.get("user") == "demo" else None)
                good = email in (os.environ.get("DEMO_USER_EMAIL", "test@example.com"), "demo")
                if good and req.get("password") == os.environ.get("DEMO_PASSWORD", "demo"):
                    return 200, {"token": jwt_make(email), "user": {"email": email}}
                return 401, {"error": "bad credentials"}
            if path.startswith("/api/metrics/") or path == "/api/monitoring/alerts/test":
                with state.lock:
                    n = sum(state.counts.values())
                    pulls, intents = state.pulls, state.intents
                up = max(1.0, time.time() - state.started)
                if path == "/api/metrics/business":
                    return 200, {"gacha_pulls": pulls, "payment_intents": intents, "requests": n}
                if path == "/api/metrics/realtime":
                    return 200, {"requests_per_second": round(n / up, 2), "colour": state.colour}
                if path == "/api/monitoring/alerts/test":
                    return 200, {"status": "ok", "alert": "test", "colour": state.colour}
                return 404, {"error": "not found"}
            if path in ("/api/auth/session", "/api/auth/logout", "/api/inventory", "/api/gacha/pull",
                        "/api/payment/create-intent", "/api/orders"):
                auth = self.headers.get("Authorization", "")
                token = auth[7:] if auth.startswith("Bearer ") else ""
                email = jwt_email(token)
                with state.lock:
                    if token in state.revoked:
                        email = None
                if not email:
                    return 401, {"error": "no valid token"}
                return self.authed(path, token, email)
            return 404, {"error": "not found"}

        def json_body(self):
            try:
                req = json.loads(self.body() or b"{}")
            except json.JSONDecodeError:
                req = {}
            return req if isinstance(req, dict) else {}

        def authed(self, path, token, email):
            if path == "/api/auth/session":
                return 200, {"user": {"email": email}}
            if path == "/api/auth/logout" and self.command == "POST":
                with state.lock:
                    state.revoked.add(token)
                return 204, ""
            if path == "/api/inventory":
                with state.lock:
                    return 200, {"items": list(state.inventory.get(email, []))}
            if path == "/api/gacha/pull" and self.command == "POST":
                count = self.json_body().get("count", 1)
                if not isinstance(count, int) or not 1 <= count <= 10:
                    return 400, {"error": "count is 1 to 10"}
                res = []
                for _ in range(count):
                    r, acc = random.random(), 0.0
                    for rarity, p in RARITIES:
                        acc += p
                        if r < acc:
                            break
                    res.append({"rarity": rarity, "item": "%s-%04d" % (rarity, random.randrange(10000))})
                with state.lock:
                    state.inventory.setdefault(email, []).extend(res)
                    state.pulls += count
                return 200, {"results": res}
            if path == "/api/payment/create-intent" and self.command == "POST":
                req = self.json_body()
                with state.lock:
                    state.intents += 1
                return 200, {"id": "pi_test_" + secrets.token_hex(8), "livemode": False,
                             "amount": req.get("amount"), "currency": req.get("currency"),
                             "status": "requires_payment_method"}
            if path == "/api/orders":
                return 200, {"orders": ORDERS, "colour": state.colour}
            return 405, {"error": "method not allowed"}
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


def self_test():
    """The demo project's own tests (the pre-deploy runbook's "unit tests"):
    one instance on a free port, every endpoint once. Prints N passed, M failed."""
    import urllib.request
    import urllib.error
    state = State("blue", "0.0.0-test", parse_fault("none"))
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler(state))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = "http://127.0.0.1:%d" % srv.server_address[1]

    def call(path, data=None, token=None, method=None):
        req = urllib.request.Request(base + path, data=json.dumps(data).encode() if data is not None else None,
                                     method=method or ("POST" if data is not None else "GET"))
        if token:
            req.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                body = r.read()
                return r.status, json.loads(body) if body and r.headers.get_content_type() == "application/json" else body
        except urllib.error.HTTPError as e:
            return e.code, None

    passed = failed = 0

    def check(name, cond):
        nonlocal passed, failed
        print(("ok     " if cond else "FAILED ") + name)
        passed, failed = passed + bool(cond), failed + (not cond)

    st, j = call("/api/health")
    check("health answers ok", st == 200 and j["status"] == "ok")
    st, j = call("/api/auth/login", {"email": os.environ.get("DEMO_USER_EMAIL", "test@example.com"),
                                     "password": os.environ.get("DEMO_PASSWORD", "demo")})
    token = j["token"] if st == 200 else ""
    check("login gives a JWT", token.count(".") == 2)
    check("a wrong password is refused", call("/api/auth/login", {"email": "x", "password": "y"})[0] == 401)
    check("the session knows the user", call("/api/auth/session", token=token)[0] == 200)
    st, j = call("/api/gacha/pull", {"gachaId": 1, "count": 3}, token=token)
    check("a pull of 3 gives 3 results", st == 200 and len(j["results"]) == 3)
    st, j = call("/api/inventory", token=token)
    check("the inventory holds them", st == 200 and len(j["items"]) == 3)
    st, j = call("/api/payment/create-intent", {"amount": 100, "currency": "jpy"}, token=token)
    check("payment intents are test mode", st == 200 and j["livemode"] is False)
    check("logout", call("/api/auth/logout", {}, token=token)[0] == 204)
    check("the token is refused after logout", call("/api/auth/session", token=token)[0] == 401)
    check("metrics count the requests", b"http_requests_total" in call("/metrics")[1])
    srv.shutdown()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
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
