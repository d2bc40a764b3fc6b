"""Run ``vmemlab serve`` in a child process on 127.0.0.1, for tests and benchmarks.

Not used by the page itself (which starts no process); a context manager that waits until
the server answers and stops it afterwards.
"""
from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Iterator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served(*args: str, start_timeout: float = 60.0) -> Iterator[str]:
    """Yield the base URL of a fresh ``vmemlab serve [args]`` on a free port."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "vmemlab", "serve", "--port", str(port), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"vmemlab serve exited: {proc.stdout.read()}")
            try:
                with urllib.request.urlopen(url + "liveness", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
