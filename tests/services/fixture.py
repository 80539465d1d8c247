#!/usr/bin/env python3
"""tests/services/fixture.py - an HTTP service whose behaviour each test controls.

Standard library only. Binds 127.0.0.1 (any --port; 0 picks a free one, written
to --port-file once the socket is listening). Every request runs in its own
thread, so a slow path never delays another request.

Served paths (any method; the query string is ignored for matching):
  /api/health       200 {"status":"ok"}            (default)
  /api/environment  200 {"environment":"blue"}     (default)
  any other path    404 {"error":"not found"} until a test configures it

Control plane (never counted, never delayed):
  GET  /_ready                  200 "ready"
  PUT  /_control/<path>         JSON spec for /<path> (replaces the route)
  POST /_control                JSON {"path": "/x", ...spec}, or
                                {"reset": true} (all routes, counters, gauges,
                                request logs back to their start state), or
                                {"gauges": {"name": value|null, ...}}
  GET  /_control                the current routes and gauges
  DELETE /_control/<path>       back to the default (or 404) for /<path>
  DELETE /_control              same as {"reset": true}
  GET  /_counters               {"/api/health": 3, ...} requests per path
  DELETE /_counters             reset the counters (POST /_counters/reset too)
  GET  /_requests?path=/x       the last 50 requests to /x (method, query,
                                headers, body), oldest first

Route spec fields (all optional):
  status        int, default 200
  body          a string (sent as text/plain) or any JSON value (sent as JSON)
  content_type  overrides the Content-Type
  headers       {"Name": "value", ...} extra response headers
  latency_ms    sleep this long before answering
  drip_ms       send the headers at once, then the body in pieces of
                drip_bytes (default 1), pausing drip_ms before each piece:
                a slow body (Content-Length still announces all of it)
  drip_bytes    see drip_ms
  fail_next     answer the next N requests with fail_status instead
  fail_status   default 503; fail_body default {"status":"failing"}
  sequence      list of statuses, or of partial specs ({"status": 500,
                "body": ..., "latency_ms": ...}), used in turn, one a request
  sequence_mode "cycle" (default: start again at the end) or "once" (then
                the route's own status/body)
fail_next is consumed first, then the sequence, then the plain spec.

With --tls-cert and --tls-key it speaks HTTPS instead (same paths, same
control plane); the TLS handshake runs in the request's thread, so a client
that rejects the certificate disturbs no other request.

/metrics is Prometheus text format: http_requests_total{path,status},
http_request_duration_seconds{path} (histogram) for every request served
outside the control plane, and fixture_gauge{name} for the gauges set above.
"""

import argparse
import json
import os
import signal
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DEFAULT_ROUTES = {
    "/api/health": {"status": 200, "body": {"status": "ok"}},
    "/api/environment": {"status": 200, "body": {"environment": "blue"}},
}
SPEC_KEYS = {"status", "body", "content_type", "headers", "latency_ms",
             "fail_next", "fail_status", "fail_body", "sequence", "sequence_mode",
             "drip_ms", "drip_bytes"}
REQUEST_LOG_MAX = 50


class SpecError(ValueError):
    pass


def check_spec(spec):
    """Validates a route spec, returning a normalised copy."""
    if not isinstance(spec, dict):
        raise SpecError("a route spec is a JSON object")
    unknown = set(spec) - SPEC_KEYS
    if unknown:
        raise SpecError("unknown field(s): " + ", ".join(sorted(unknown)))
    out = dict(spec)
    for k in ("status", "fail_status"):
        if k in out and (not isinstance(out[k], int) or not 100 <= out[k] <= 599):
            raise SpecError(k + " must be an integer 100..599")
    for k in ("latency_ms", "fail_next", "drip_ms"):
        if k in out and (not isinstance(out[k], (int, float)) or out[k] < 0):
            raise SpecError(k + " must be a number >= 0")
    if "drip_bytes" in out and (not isinstance(out["drip_bytes"], int)
                                or isinstance(out["drip_bytes"], bool) or out["drip_bytes"] < 1):
        raise SpecError("drip_bytes must be an integer >= 1")
    if "headers" in out:
        h = out["headers"]
        if not isinstance(h, dict) or not all(isinstance(v, str) for v in h.values()):
            raise SpecError("headers must be an object of strings")
    if "content_type" in out and not isinstance(out["content_type"], str):
        raise SpecError("content_type must be a string")
    if out.get("sequence_mode", "cycle") not in ("cycle", "once"):
        raise SpecError('sequence_mode must be "cycle" or "once"')
    if "sequence" in out:
        seq = out["sequence"]
        if not isinstance(seq, list) or not seq:
            raise SpecError("sequence must be a non-empty list")
        norm = []
        for item in seq:
            if isinstance(item, int) and not isinstance(item, bool):
                item = {"status": item}
            if not isinstance(item, dict) or set(item) - {"status", "body", "content_type",
                                                           "headers", "latency_ms"}:
                raise SpecError("a sequence item is a status or {status, body, "
                                "content_type, headers, latency_ms}")
            norm.append(check_spec(item))
        out["sequence"] = norm
    out["fail_next"] = int(out.get("fail_next", 0))
    out["_pos"] = 0
    return out


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.routes = {p: check_spec(s) for p, s in DEFAULT_ROUTES.items()}
        self.counters = {}
        self.requests_total = {}   # (path, status) -> n
        self.hist = {}             # path -> [bucket counts..., sum, count]
        self.gauges = {}
        self.request_log = {}

    def next_response(self, path):
        """Picks the response for one request and advances fail_next/sequence."""
        with self.lock:
            self.counters[path] = self.counters.get(path, 0) + 1
            route = self.routes.get(path)
            if route is None:
                return {"status": 404, "body": {"error": "not found", "path": path}}
            if route["fail_next"] > 0:
                route["fail_next"] -= 1
                return {"status": route.get("fail_status", 503),
                        "body": route.get("fail_body", {"status": "failing"}),
                        "latency_ms": route.get("latency_ms", 0),
                        "headers": route.get("headers", {})}
            resp = dict(route)
            seq = route.get("sequence")
            if seq and (route.get("sequence_mode", "cycle") == "cycle"
                        or route["_pos"] < len(seq)):
                item = seq[route["_pos"] % len(seq)]
                route["_pos"] += 1
                resp.update(item)
            return resp

    def observe(self, path, status, seconds):
        with self.lock:
            key = (path, status)
            self.requests_total[key] = self.requests_total.get(key, 0) + 1
            h = self.hist.setdefault(path, [0] * (len(BUCKETS) + 2))
            for i, le in enumerate(BUCKETS):
                if seconds <= le:
                    h[i] += 1
            h[-2] += seconds
            h[-1] += 1

    def log_request(self, path, entry):
        with self.lock:
            log = self.request_log.setdefault(path, [])
            log.append(entry)
            del log[:-REQUEST_LOG_MAX]

    def metrics(self):
        def lbl(v):
            return str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

        def num(v):
            return repr(float(v)) if isinstance(v, float) else str(v)

        with self.lock:
            out = ["# HELP http_requests_total Requests served, by path and status.",
                   "# TYPE http_requests_total counter"]
            for (path, status), n in sorted(self.requests_total.items()):
                out.append('http_requests_total{path="%s",status="%d"} %d' % (lbl(path), status, n))
            out += ["# HELP http_request_duration_seconds Time to serve a request, by path.",
                    "# TYPE http_request_duration_seconds histogram"]
            for path, h in sorted(self.hist.items()):
                p = lbl(path)
                for i, le in enumerate(BUCKETS):
                    out.append('http_request_duration_seconds_bucket{path="%s",le="%s"} %d'
                               % (p, repr(le), h[i]))
                out.append('http_request_duration_seconds_bucket{path="%s",le="+Inf"} %d' % (p, h[-1]))
                out.append('http_request_duration_seconds_sum{path="%s"} %s' % (p, repr(h[-2])))
                out.append('http_request_duration_seconds_count{path="%s"} %d' % (p, h[-1]))
            out += ["# HELP fixture_gauge Values set by the tests through /_control.",
                    "# TYPE fixture_gauge gauge"]
            for name, v in sorted(self.gauges.items()):
                out.append('fixture_gauge{name="%s"} %s' % (lbl(name), num(v)))
            return "\n".join(out) + "\n"

    def snapshot(self):
        with self.lock:
            routes = {p: {k: v for k, v in s.items() if not k.startswith("_")}
                      for p, s in self.routes.items()}
            return {"routes": routes, "gauges": dict(self.gauges)}


STATE = State()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "rbc-fixture/1"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (time.strftime("%H:%M:%S"), fmt % args))

    def _body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _send(self, status, body=b"", ctype="text/plain; charset=utf-8", headers=None,
              drip_ms=0, drip_bytes=1):
        if not isinstance(body, bytes):
            if isinstance(body, str):
                body = body.encode()
            else:
                body = (json.dumps(body) + "\n").encode()
                if ctype.startswith("text/plain"):
                    ctype = "application/json"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304) and status >= 200:
            if not drip_ms:
                self.wfile.write(body)
                return
            self.wfile.flush()
            try:
                for i in range(0, len(body), drip_bytes):
                    time.sleep(drip_ms / 1000.0)
                    self.wfile.write(body[i:i + drip_bytes])
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up waiting

    def _json(self, status, obj):
        self._send(status, obj, "application/json")

    def _handle(self):
        start = time.monotonic()
        url = urlsplit(self.path)
        path = unquote(url.path) or "/"
        body = self._body()
        if path.startswith("/_"):
            return self._control(path, url.query, body)
        if path == "/metrics":
            with STATE.lock:
                STATE.counters[path] = STATE.counters.get(path, 0) + 1
            self._send(200, STATE.metrics(), "text/plain; version=0.0.4; charset=utf-8")
            STATE.observe(path, 200, time.monotonic() - start)
            return
        STATE.log_request(path, {
            "method": self.command, "query": url.query,
            "headers": {k: v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"), "time": time.time()})
        resp = STATE.next_response(path)
        latency = resp.get("latency_ms", 0)
        if latency:
            time.sleep(latency / 1000.0)
        status = resp.get("status", 200)
        payload = resp.get("body", "")
        ctype = resp.get("content_type") or (
            "text/plain; charset=utf-8" if isinstance(payload, str) else "application/json")
        try:
            self._send(status, payload, ctype, resp.get("headers"),
                       resp.get("drip_ms", 0), resp.get("drip_bytes", 1))
        finally:
            STATE.observe(path, status, time.monotonic() - start)

    def _control(self, path, query, body):
        try:
            data = json.loads(body) if body.strip() else {}
        except ValueError as e:
            return self._json(400, {"error": "bad JSON: %s" % e})
        m = self.command
        try:
            if path == "/_ready":
                return self._send(200, "ready\n")
            if path == "/_counters" and m in ("GET", "HEAD"):
                with STATE.lock:
                    return self._json(200, dict(STATE.counters))
            if (path == "/_counters" and m == "DELETE") or (
                    path == "/_counters/reset" and m == "POST"):
                with STATE.lock:
                    STATE.counters = {}
                return self._json(200, {})
            if path == "/_requests" and m == "GET":
                want = parse_qs(query).get("path", [None])[0]
                with STATE.lock:
                    if want is None:
                        return self._json(200, dict(STATE.request_log))
                    return self._json(200, list(STATE.request_log.get(want, [])))
            if path == "/_control" and m == "GET":
                return self._json(200, STATE.snapshot())
            if path == "/_control" and m == "DELETE":
                with STATE.lock:
                    STATE.reset()
                return self._json(200, {"reset": True})
            if path == "/_control" and m == "POST":
                if not isinstance(data, dict):
                    raise SpecError("the control body is a JSON object")
                data = dict(data)
                if data.pop("reset", False):
                    with STATE.lock:
                        STATE.reset()
                gauges = data.pop("gauges", None)
                if gauges is not None:
                    if not isinstance(gauges, dict) or not all(
                            v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))
                            for v in gauges.values()):
                        raise SpecError("gauges is an object of numbers (null removes)")
                    with STATE.lock:
                        for k, v in gauges.items():
                            if v is None:
                                STATE.gauges.pop(k, None)
                            else:
                                STATE.gauges[k] = v
                if "path" in data:
                    self._set_route(data.pop("path"), data)
                elif data:
                    raise SpecError("a route spec needs a path")
                return self._json(200, STATE.snapshot())
            if path.startswith("/_control/") and m in ("PUT", "POST"):
                self._set_route(path[len("/_control"):], data)
                return self._json(200, STATE.snapshot())
            if path.startswith("/_control/") and m == "DELETE":
                target = path[len("/_control"):]
                with STATE.lock:
                    if target in DEFAULT_ROUTES:
                        STATE.routes[target] = check_spec(DEFAULT_ROUTES[target])
                    else:
                        STATE.routes.pop(target, None)
                return self._json(200, STATE.snapshot())
        except SpecError as e:
            return self._json(400, {"error": str(e)})
        return self._json(404, {"error": "no control endpoint %s %s" % (m, path)})

    def _set_route(self, target, spec):
        if not isinstance(target, str) or not target.startswith("/") or target.startswith("/_"):
            raise SpecError('path must start with "/" and not with "/_"')
        if target == "/metrics":
            raise SpecError("/metrics cannot be configured")
        spec = check_spec(spec)
        with STATE.lock:
            STATE.routes[target] = spec

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    tls = None  # an ssl.SSLContext when serving HTTPS

    def finish_request(self, request, client_address):
        # In the request's thread: the handshake of one client never holds
        # up the accept loop.
        if self.tls is None:
            return super().finish_request(request, client_address)
        try:
            request.settimeout(10)  # a client that never says hello frees the thread
            conn = self.tls.wrap_socket(request, server_side=True)
            conn.settimeout(None)
        except (ssl.SSLError, OSError) as e:
            sys.stderr.write("%s TLS handshake failed: %s\n" % (time.strftime("%H:%M:%S"), e))
            return
        try:
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            conn.close()


def main():
    ap = argparse.ArgumentParser(description="rbc test fixture HTTP service")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", help="write the bound port here once listening")
    ap.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    ap.add_argument("--tls-key", help="the certificate's private key (PEM)")
    args = ap.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")

    srv = Server((args.host, args.port), Handler)
    if args.tls_cert:
        srv.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        srv.tls.load_cert_chain(args.tls_cert, args.tls_key)
    port = srv.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, args.port_file)
    sys.stderr.write("fixture listening on %s:%d%s\n" % (args.host, port,
                                                      " (TLS)" if args.tls_cert else ""))
    sys.stderr.flush()

    def stop(signum, frame):
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
