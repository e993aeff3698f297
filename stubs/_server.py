"""What every stub shares: a threaded HTTP server, its command line, and a ready line.

    python -m stubs.<name> [--host 127.0.0.1] [--port 0]

prints `<name> stub listening on http://HOST:PORT` once it accepts connections (port 0
picks a free one, which is how the test fixtures start it) and answers `GET /__health`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class StubHandler(BaseHTTPRequestHandler):
    """Base request handler: quiet logs, JSON and HTML helpers, the health probe."""

    server_version = "MewayzStub/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # stubs are quiet; tests read their answers, not their logs

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def send_html(self, status: int, html: str) -> None:
        data = html.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def redirect(self, location: str, status: int = 303) -> None:
        self.send_response(status)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def is_health_probe(self) -> bool:
        if self.command == "GET" and self.path == "/__health":
            self.send_json(200, {"ok": True})
            return True
        return False


def serve(name: str, handler: type[StubHandler], argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=f"The local {name} stand-in")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer((args.host, args.port), handler)
    server.daemon_threads = True
    print(f"{name} stub listening on http://{args.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
