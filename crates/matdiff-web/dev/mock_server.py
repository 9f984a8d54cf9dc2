#!/usr/bin/env python3
"""A stand-in for `matdiff serve` while the Rust server does not exist: serves assets/ and
answers the JSON API (docs/api.md) from recorded answers (dev/fixtures, made by record.py).

    python3 crates/matdiff-web/dev/mock_server.py [--port 8080] [--host 127.0.0.1]
                                                  [--live /work/bin/matdiff-old] [--delay-ms 0]

With --live BIN, requests that were not recorded are answered by running BIN (see
cli_backend.py); without it they get 404 (except /api/read, the live preview, which then echoes
the expression). Prints the URL on its first line of output, like `matdiff serve`.
Development only: the browser tests run against `matdiff serve` once it exists (MATDIFF_URL).
"""

import argparse
import json
import mimetypes
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

HERE = os.path.dirname(os.path.abspath(__file__))
ASSETS = os.path.abspath(os.path.join(HERE, "..", "assets"))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, HERE)

from cli_backend import CliBackend, normalize  # noqa: E402

CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")

TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".js": "text/javascript; charset=utf-8", ".woff2": "font/woff2",
         ".svg": "image/svg+xml", ".json": "application/json", ".txt": "text/plain",
         ".md": "text/markdown; charset=utf-8"}

# Endpoints the issue names for later: the real server answers 404 until they exist.
LATER = {"derivative", "hessian"}


def load_fixtures(directory):
    table = {}
    for name in os.listdir(directory):
        endpoint = name[: -len(".json")]
        if not name.endswith(".json") or endpoint == "examples":
            continue
        with open(os.path.join(directory, name)) as f:
            for entry in json.load(f):
                table[normalize(endpoint, entry["request"])] = (entry["status"], entry["body"])
    return table


class Handler(BaseHTTPRequestHandler):
    server_version = "matdiff-mock/0.1"
    fixtures = {}
    backend = None
    problems_backend = None
    examples = []
    delay = 0.0
    quiet = False

    def log_message(self, fmt, *args):  # noqa: N802 (http.server's name)
        if not self.quiet:
            sys.stderr.write("%s - %s\n" % (self.address_string(), fmt % args))

    def _send(self, status, body, content_type):
        data = body if isinstance(body, bytes) else body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _json(self, status, obj):
        self._send(status, json.dumps(obj, ensure_ascii=False), "application/json")

    def _error(self, status, message, field=None):
        self._json(status, {"message": message, "input": field, "span": None, "label": "",
                            "notes": []})

    def do_HEAD(self):  # noqa: N802
        self.do_GET()

    def do_GET(self):  # noqa: N802
        path = urlparse(self.path).path
        if path == "/api/problems":
            return self._json(200, self.problems_backend.problems())
        if path == "/api/examples":
            return self._json(200, self.examples)
        if path == "/api/info":
            return self._json(200, {"name": "matdiff", "version": "mock",
                                    "endpoints": sorted(self.known() | {"problems", "examples"})})
        if path.startswith("/api/"):
            return self._error(405 if path[5:] in self.known() else 404,
                               f"use POST for {path}" if path[5:] in self.known()
                               else f"no endpoint {path}")
        if path == "/":
            path = "/index.html"
        full = os.path.abspath(os.path.join(ASSETS, path.lstrip("/")))
        if not full.startswith(ASSETS + os.sep) or not os.path.isfile(full):
            return self._send(404, "not found\n", "text/plain; charset=utf-8")
        ext = os.path.splitext(full)[1]
        with open(full, "rb") as f:
            self._send(200, f.read(), TYPES.get(ext) or mimetypes.guess_type(full)[0]
                       or "application/octet-stream")

    @staticmethod
    def known():
        return {"grad", "check", "audit", "emit", "graph", "read"}

    def do_POST(self):  # noqa: N802
        path = urlparse(self.path).path
        if not path.startswith("/api/"):
            return self._error(404, f"no endpoint {path}")
        endpoint = path[len("/api/"):]
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except ValueError as e:
            return self._error(400, f"the request body is not a JSON object: {e}")
        if self.delay:
            time.sleep(self.delay)
        if endpoint in LATER or endpoint not in self.known():
            return self._error(404, f"no endpoint /api/{endpoint}")
        key = normalize(endpoint, body)
        if key in self.fixtures:
            status, answer = self.fixtures[key]
            return self._json(status, answer)
        if self.backend is not None:
            status, answer = self.backend.handle(endpoint, body)
            return self._json(status, answer)
        if endpoint == "read":
            return self._json(200, {"plain": body.get("expr", ""), "latex": None,
                                    "notes": ["(mock server: this reading was not recorded)"]})
        return self._error(404, f"mock server: no recorded answer for this /api/{endpoint} "
                                "request (run with --live BIN, or add it to dev/record.py)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    ap.add_argument("--live", metavar="BIN", help="answer unrecorded requests by running BIN")
    ap.add_argument("--fixtures", default=os.path.join(HERE, "fixtures"))
    ap.add_argument("--delay-ms", type=int, default=0, help="delay every API answer")
    ap.add_argument("--quiet", action="store_true", help="no request log")
    args = ap.parse_args()

    Handler.fixtures = load_fixtures(args.fixtures)
    Handler.problems_backend = CliBackend(args.live or "matdiff", os.path.join(ROOT, "problems"))
    Handler.backend = CliBackend(args.live, os.path.join(ROOT, "problems")) if args.live else None
    with open(os.path.join(args.fixtures, "examples.json")) as f:
        Handler.examples = json.load(f)
    Handler.delay = args.delay_ms / 1000.0
    Handler.quiet = args.quiet

    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    print(f"matdiff (mock) listening on http://{host}:{port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    threading.current_thread().name = "mock-server"
    main()
