"""The local server of scripts/dev (chalicelib/core/localserver.py), over real HTTP.

It runs as scripts/dev runs it — a parent holding the socket, the app in a child, the
reloader on — with this worker's test database and Redis, so the requests do real work.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.core import localserver, mail
from tests.conftest import ROOT


class Running:
    """A `python -m chalicelib.core.localserver` process and the lines it printed."""

    def __init__(self, *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "chalicelib.core.localserver", "--port", "0", "--quiet", *args],
            cwd=cwd,
            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.url = self.wait_for("listening on ").split("listening on ", 1)[1].strip()
        self.wait_for("serving with pid")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_for(self, text: str, timeout_s: float = 60.0, count: int = 1) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = [line for line in self.lines if text in line]
            if len(found) >= count:
                return found[count - 1]
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no {text!r} from the server; it printed:\n{''.join(self.lines)}")

    def served_by(self) -> list[str]:
        return [line for line in self.lines if "serving with pid" in line]

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def http(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
    """One request on its own connection (no client-side retries that could hide a reset)."""
    payload = json.dumps(body).encode() if body is not None else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {len(payload)}\r\n"
    if body is not None:
        head += "Content-Type: application/json\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(head.encode() + b"\r\n" + payload)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1]) if data else 0
    return status, data.partition(b"\r\n\r\n")[2]


@pytest.fixture
def dev_server() -> Iterator[Running]:
    # 25 sign-ups from one address in a second: lift the per-IP sign-up limit for this burst.
    server = Running("--stage", "test", env={"AUTH_RATE_PER_MINUTE": "1000"})
    yield server
    server.stop()


def test_fifty_concurrent_requests_that_send_mail_are_all_served_without_a_restart(dev_server: Running) -> None:
    start = threading.Barrier(50)
    outcomes: list[str] = []

    def one(i: int) -> None:
        start.wait()
        try:
            if i % 2:
                status, _ = http(dev_server.port, "GET", "/api/health")
            else:  # registering sends a verification mail: a file written while serving
                body = {"name": f"Burst {i}", "email": f"burst{i}@example.com", "password": "a-long-unusual-passphrase"}
                status, _ = http(dev_server.port, "POST", "/api/auth/register", body)
            outcomes.append(str(status))
        except OSError as exc:  # a reset, a refusal, a timeout
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert Counter(outcomes) == Counter({"200": 25, "201": 25})
    folder = mail.mail_dir()  # the app's local mail folder (under VAR_DIR: outside the checkout)
    assert not folder.resolve().is_relative_to(ROOT), folder
    expected = {f"burst{i}@example.com" for i in range(0, 50, 2)}

    def mailed() -> set[str]:
        return {json.loads(f.read_text())["to"] for f in folder.glob("*.json")} & expected

    deadline = time.monotonic() + 20
    while mailed() != expected and time.monotonic() < deadline:
        time.sleep(0.1)
    assert mailed() == expected, ("each registration wrote its mail", folder, dev_server.lines)
    time.sleep(localserver.POLL_S * 2.5)  # give the reloader the chance to (wrongly) react
    assert len(dev_server.served_by()) == 1, "".join(dev_server.lines)


def test_nothing_is_written_under_the_checkout_while_serving(dev_server: Running) -> None:
    ignored = {".git", ".venv", "node_modules", ".hypothesis", ".pytest_cache", ".ruff_cache", "test-artifacts"}

    def files() -> dict[str, int]:
        found = {}
        for dirpath, dirnames, filenames in os.walk(ROOT):
            dirnames[:] = [d for d in dirnames if d not in ignored and d != "__pycache__"]
            for name in filenames:
                path = Path(dirpath) / name
                found[str(path.relative_to(ROOT))] = path.stat().st_mtime_ns
        return found

    before = files()
    body = {"name": "Quiet", "email": "quiet@example.com", "password": "a-long-unusual-passphrase"}
    assert http(dev_server.port, "POST", "/api/auth/register", body)[0] == 201
    assert http(dev_server.port, "GET", "/")[0] == 200
    after = files()
    assert {k: v for k, v in after.items() if before.get(k) != v} == {}


def test_the_reloader_watches_code_only() -> None:
    watched = {str(p.relative_to(ROOT)) for p in localserver.watched(ROOT)}
    assert "app.py" in watched and "chalicelib/core/web.py" in watched
    assert not any(p.startswith(("var/", "templates/", "test-artifacts/", ".venv/")) for p in watched)
    assert not any("__pycache__" in p for p in watched)


PROBE_APP = """
import time
from chalice import Chalice

app = Chalice(app_name="reload-probe")
VERSION = "{version}"


@app.route("/version")
def version():
    return {{"version": VERSION}}


@app.route("/slow")
def slow():
    time.sleep(2)
    return {{"version": VERSION}}
"""


@pytest.fixture
def probe_project(tmp_path: Path) -> Path:
    (tmp_path / ".chalice").mkdir()
    (tmp_path / ".chalice" / "config.json").write_text(
        json.dumps({"version": "2.0", "app_name": "reload-probe", "stages": {"local": {}}})
    )
    (tmp_path / "app.py").write_text(PROBE_APP.format(version="one"))
    return tmp_path


def _version(port: int) -> str:
    return json.loads(http(port, "GET", "/version")[1])["version"]


def test_a_code_change_reloads_without_dropping_requests(probe_project: Path) -> None:
    server = Running("--root", str(probe_project), cwd=probe_project)
    try:
        assert _version(server.port) == "one"

        # Files that are not code change nothing.
        (probe_project / "var").mkdir()
        (probe_project / "var" / "mail.json").write_text("{}")
        (probe_project / "notes.md").write_text("x")
        time.sleep(localserver.POLL_S * 2.5)
        assert len(server.served_by()) == 1

        slow: list[tuple[int, bytes]] = []
        in_flight = threading.Thread(target=lambda: slow.append(http(server.port, "GET", "/slow")))
        in_flight.start()
        time.sleep(0.3)  # the slow request is being handled by the old child
        errors: list[str] = []
        stop = threading.Event()

        def keep_asking() -> None:
            while not stop.is_set():
                try:
                    http(server.port, "GET", "/version")
                except OSError as exc:
                    errors.append(repr(exc))

        asker = threading.Thread(target=keep_asking)
        asker.start()
        (probe_project / "app.py").write_text(PROBE_APP.format(version="two"))
        server.wait_for("reloaded:")
        in_flight.join(timeout=30)
        stop.set()
        asker.join(timeout=30)

        assert _version(server.port) == "two"
        assert slow and slow[0][0] == 200 and json.loads(slow[0][1]) == {"version": "one"}
        assert errors == []

        # A change that does not import keeps the previous version serving.
        (probe_project / "app.py").write_text("this is not python")
        server.wait_for("still serving the previous version")
        assert _version(server.port) == "two"
    finally:
        server.stop()


def raw_request(base: str, head: str) -> tuple[int, dict]:
    host, port = base.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(head.encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1]), json.loads(data.partition(b"\r\n\r\n")[2])


@pytest.mark.parametrize(
    ("content_length", "status", "code"),
    [
        ("", 400, "bad_request"),
        ("-1", 400, "bad_request"),
        ("abc", 400, "bad_request"),
        ("99999999999", 413, "payload_too_large"),
    ],
)
def test_a_content_length_chalice_cannot_read_is_answered_not_dropped(
    live_server: str, content_length: str, status: int, code: str
) -> None:
    head = f"GET /api/me HTTP/1.1\r\nHost: x\r\nContent-Length: {content_length}\r\nConnection: close\r\n\r\n"
    got_status, body = raw_request(live_server, head)
    assert got_status == status and body["error"]["code"] == code
