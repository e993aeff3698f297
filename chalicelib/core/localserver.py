"""The local HTTP server (`scripts/dev`, the tests' live server): Chalice's request
translation, served with a real backlog, threads, and a reloader that watches only code.

`chalice local` listens with socketserver's backlog of 5, so a browser's parallel
requests (or a test's) get connection resets; and its reloader watches the whole
project, so every file the app writes there restarts it mid-request. Here:

- Chalice's own `ChaliceRequestHandler` turns each HTTP request into the API Gateway
  event the app gets in AWS (the same code path as `chalice local`);
- a `ThreadingHTTPServer` listening with a backlog of BACKLOG serves each connection on
  its own thread;
- `serve()` (the `python -m chalicelib.core.localserver` entry point) holds the listening
  socket in a parent process and runs the app in a child that inherits it. The parent
  polls the code (`app.py`, `chalicelib/**/*.py`, `.chalice/config.json`, the asset
  manifest) and, when it changes, starts a new child first; once that child serves, the
  old one stops accepting and finishes its requests in flight. Connections that arrive
  meanwhile wait in the socket's backlog instead of being refused, and a change that does
  not import leaves the previous version serving. Templates need no restart (Jinja
  reloads them); runtime files (mail, storage, logs) live outside the checkout (VAR_DIR).

Local stages only: app.py never imports this module.

    python -m chalicelib.core.localserver [--host 127.0.0.1] [--port 8000] [--stage local] [--no-reload]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[2]
BACKLOG = 128
POLL_S = 1.0
STOP_GRACE_S = 30.0
READY_TIMEOUT_S = 120.0
_LISTEN_FD = "MEWAYZ_LISTEN_FD"
_READY_FD = "MEWAYZ_READY_FD"


# ---- the server ------------------------------------------------------------------------------


class Server(ThreadingHTTPServer):
    request_queue_size = BACKLOG
    daemon_threads = True  # idle keep-alive connections never hold up a stop
    allow_reuse_address = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.in_flight = 0
        self.in_flight_lock = threading.Condition()
        super().__init__(*args, **kwargs)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which can hang without DNS.
        import socketserver

        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        # Counted from the accept: a connection's first request is in flight before a byte
        # of it is read, so a stop never drops a connection it has taken from the backlog.
        self.begin()
        super().process_request(request, client_address)

    def begin(self) -> None:
        with self.in_flight_lock:
            self.in_flight += 1

    def end(self) -> None:
        with self.in_flight_lock:
            self.in_flight -= 1
            self.in_flight_lock.notify_all()

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no request is being handled (idle keep-alive connections may stay open)."""
        deadline = time.monotonic() + timeout_s
        with self.in_flight_lock:
            while self.in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.in_flight_lock.wait(remaining)
        return True

    @property
    def url(self) -> str:
        host, port = self.socket.getsockname()[:2]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def _handler_class(quiet: bool) -> type:
    from chalice.local import ChaliceRequestHandler

    class Handler(ChaliceRequestHandler):  # type: ignore[misc, valid-type]
        """Chalice's handler, counting requests in flight (so a stop can wait for them)."""

        def handle(self) -> None:
            server: Server = self.server  # type: ignore[assignment]
            self.close_connection = True
            self._later = False
            try:
                self.handle_one_request()  # the first request, counted since the accept
            finally:
                server.end()
            self._later = True
            while not self.close_connection:
                self.handle_one_request()  # keep-alive: counted once a request line has arrived

        def _counted(self) -> None:
            server: Server = self.server  # type: ignore[assignment]
            if self._later:
                server.begin()
            try:
                if self._body_acceptable():
                    ChaliceRequestHandler._generic_handle(self)
            finally:
                if self._later:
                    server.end()

        def _body_acceptable(self) -> bool:
            """Answer what API Gateway would for a Content-Length Chalice cannot read (it would
            raise, dropping the connection) or one too large to read, in the API's error shape."""
            from chalicelib.core import config

            declared = self.headers.get("content-length")
            if declared is None:
                return True
            if not declared.strip().isdigit():
                self._refuse(400, "bad_request", "The Content-Length header is not a number.")
                return False
            if int(declared) > config.get_settings().max_body_bytes:
                self._refuse(413, "payload_too_large", "The request body is too large.")
                return False
            return True

        def _refuse(self, status: int, code: str, message: str) -> None:
            body = json.dumps({"error": {"code": code, "message": message}}).encode()
            self.close_connection = True  # the body, if any, is left unread
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _counted

        def log_message(self, format: str, *args: Any) -> None:
            if not quiet:
                super().log_message(format, *args)

    return Handler


def make_server(
    app: Any,
    stage: str,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    sock: socket.socket | None = None,
    quiet: bool = False,
    project: Path = PROJECT,
) -> Server:
    """A server for `app` on host:port (0: a free port, bound here, never released), or on `sock`."""
    from chalice.cli.factory import CLIFactory

    config = CLIFactory(str(project)).create_config_obj(chalice_stage_name=stage)
    handler = functools.partial(_handler_class(quiet), app_object=app, config=config)
    if sock is None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        server_cls = type("Server6", (Server,), {"address_family": family})
        return server_cls((host, port), handler)
    server = Server(sock.getsockname()[:2], handler, bind_and_activate=False)
    server.socket.close()
    server.socket = sock
    server.server_address = sock.getsockname()
    server.server_name, server.server_port = str(server.server_address[0]), int(server.server_address[1])
    return server


# ---- what the reloader watches -----------------------------------------------------------------

WATCHED_FILES = ("app.py", ".chalice/config.json", "build/static/manifest.json", "requirements.txt")
WATCHED_TREES = ("chalicelib",)
WATCHED_SUFFIXES = (".py", ".txt", ".json")


def watched(root: Path = PROJECT) -> Iterator[Path]:
    """The files whose change needs a restart: code and what it reads once at import."""
    for name in WATCHED_FILES:
        if (root / name).is_file():
            yield root / name
    for tree in WATCHED_TREES:
        for dirpath, dirnames, filenames in os.walk(root / tree):
            dirnames[:] = [d for d in dirnames if d != "__pycache__" and not d.startswith(".")]
            for filename in filenames:
                if filename.endswith(WATCHED_SUFFIXES):
                    yield Path(dirpath) / filename


def snapshot(root: Path = PROJECT) -> dict[Path, int]:
    found: dict[Path, int] = {}
    for path in watched(root):
        try:
            found[path] = path.stat().st_mtime_ns
        except FileNotFoundError:
            continue
    return found


def changes(before: dict[Path, int], after: dict[Path, int]) -> list[Path]:
    """Files added, removed or modified between two snapshots."""
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))


# ---- parent: hold the socket, run children, reload ---------------------------------------------


def _say(message: str) -> None:
    print(f"[localserver] {message}", flush=True)


class _Child:
    """One app process serving the inherited socket."""

    def __init__(self, sock: socket.socket, args: argparse.Namespace) -> None:
        read_fd, write_fd = os.pipe()
        env = {**os.environ, _LISTEN_FD: str(sock.fileno()), _READY_FD: str(write_fd)}
        # This module comes from this checkout even when serving another project (--root).
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT), env.get("PYTHONPATH", "")) if p)
        command = [sys.executable, "-m", "chalicelib.core.localserver", "--child", "--stage", args.stage]
        command += ["--root", str(args.root)] + (["--quiet"] if args.quiet else [])
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            command, env=env, pass_fds=(sock.fileno(), write_fd), cwd=str(args.root)
        )
        os.close(write_fd)
        self._ready_fd = read_fd

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> bool:
        """True once the child serves; False when it exited (an import error, say) or hung."""
        try:
            readable, _, _ = select.select([self._ready_fd], [], [], timeout_s)
            return bool(readable) and os.read(self._ready_fd, 16).startswith(b"ready")
        finally:
            os.close(self._ready_fd)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # the child stops accepting, finishes what is in flight, exits
            try:
                self.proc.wait(timeout=STOP_GRACE_S + 5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _start(sock: socket.socket, args: argparse.Namespace) -> _Child | None:
    child = _Child(sock, args)
    if child.wait_ready():
        _say(f"serving with pid {child.proc.pid}")
        return child
    child.stop()
    return None


def serve(args: argparse.Namespace) -> int:
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.create_server((args.host, args.port), family=family, backlog=BACKLOG)
    sock.set_inheritable(True)
    host, port = sock.getsockname()[:2]
    _say(f"listening on http://{f'[{host}]' if ':' in host else host}:{port}")
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    child = _start(sock, args)
    if child is None:
        _say("the app did not start (see above); waiting for a change to the code")
    before = snapshot(args.root)
    try:
        while not stopping.wait(POLL_S):
            if child is not None and child.proc.poll() is not None:
                _say(f"the app exited with {child.proc.returncode}; starting it again")
                child = _start(sock, args)
            if not args.reload:
                continue
            after = snapshot(args.root)
            changed = changes(before, after)
            if not changed:
                continue
            before = after
            _say(f"{changed[0].relative_to(args.root)} changed: reloading")
            fresh = _start(sock, args)
            if fresh is None:
                _say("the changed code did not start (see above); still serving the previous version")
                continue
            if child is not None:
                child.stop()  # it stops accepting, then finishes what it had taken
            child = fresh
            _say(f"reloaded: pid {child.proc.pid} serves alone")
    except KeyboardInterrupt:
        pass
    finally:
        if child is not None:
            child.stop()
        sock.close()
    return 0


# ---- child: import the app, serve the inherited socket until told to stop ---------------------


def _child(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which stops us
    from chalice.cli.factory import CLIFactory

    os.chdir(args.root)
    config = CLIFactory(str(args.root)).create_config_obj(chalice_stage_name=args.stage)
    app = config.chalice_app  # imports app.py with the stage's environment variables, as `chalice local`
    sock = socket.socket(fileno=int(os.environ.pop(_LISTEN_FD)))
    server = make_server(app, args.stage, sock=sock, quiet=args.quiet, project=args.root)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, name="serve", daemon=True)
    thread.start()
    ready_fd = int(os.environ.pop(_READY_FD))
    os.write(ready_fd, b"ready\n")
    os.close(ready_fd)
    # Wake up now and then: Linux may deliver SIGTERM to a busy handler thread, and Python
    # runs the handler only once the main thread runs again (a plain wait() could sleep on).
    while not stop.wait(0.2):
        pass
    server.shutdown()  # no more accepts: the next child (or the backlog) takes new connections
    if not server.wait_idle(STOP_GRACE_S):
        _say(f"stopping with {server.in_flight} request(s) still in flight")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the app locally (see the module docstring).")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--stage", default="local")
    parser.add_argument("--root", type=Path, default=PROJECT, help="the project to serve and watch")
    parser.add_argument("--no-reload", dest="reload", action="store_false", help="do not restart on code changes")
    parser.add_argument("--quiet", action="store_true", help="no access log")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.root = args.root.resolve()
    return _child(args) if args.child else serve(args)


if __name__ == "__main__":
    sys.exit(main())
