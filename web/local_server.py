"""Run ``vmemlab serve`` in a child process on 127.0.0.1, for tests and benchmarks.

Not used by the page itself (which starts no process); a context manager that waits until
the server answers and stops it afterwards. The URL it yields also carries the child's pid
(to read its memory) and its output so far (written to a temporary file, so that a chatty
server never blocks on a full pipe).
"""
from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Iterator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServedUrl(str):
    """The base URL of a served child, e.g. ``http://127.0.0.1:PORT/``, plus ``pid`` and ``output()``."""

    pid: int
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def rss_mib(self) -> float:
        """The child's resident memory now, in MiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"no VmRSS for pid {self.pid}")


@contextlib.contextmanager
def served(*args: str, start_timeout: float = 60.0) -> Iterator[ServedUrl]:
    """Yield the base URL of a fresh ``vmemlab serve [args]`` on a free port."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="vmemlab-serve-") as tmp:
        log = Path(tmp) / "output.txt"
        with open(log, "w", encoding="utf-8") as out:
            proc = subprocess.Popen([sys.executable, "-m", "vmemlab", "serve", "--port", str(port), *args],
                                    stdout=out, stderr=subprocess.STDOUT, text=True)
        url = ServedUrl(f"http://127.0.0.1:{port}/")
        url.pid, url.log = proc.pid, log
        try:
            deadline = time.monotonic() + start_timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"vmemlab serve exited: {url.output()}")
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
