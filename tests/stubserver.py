"""Start one of the project's stub servers (stubs/) as a separate process for a test run."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def running(module: str, env: dict[str, str] | None = None, timeout_s: float = 20.0) -> Iterator[str]:
    """Run `python -m stubs.<module> --port 0`; yield its base URL; stop it afterwards."""
    proc = subprocess.Popen(
        [sys.executable, "-m", f"stubs.{module}", "--port", "0"],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    first_line: list[str] = []
    reader = threading.Thread(target=lambda: first_line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout_s)
    line = first_line[0] if first_line else ""
    if "listening on " not in line:
        proc.kill()
        raise RuntimeError(f"stub {module} did not start: {line!r}")
    url = line.strip().split("listening on ", 1)[1]
    # Keep draining its output so a chatty stub never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
