"""A real ``retrikt serve`` process on a free loopback port, for tests and
load benchmarks."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(
    bundle: str | Path, *extra: str, output=subprocess.PIPE, timeout: float = 120
) -> tuple[subprocess.Popen, str]:
    """``(process, base url)`` once ``/health`` answers 200; the process's
    stdout and stderr go to ``output`` (pipes by default, text mode)."""
    import httpx

    port = free_port()
    command = [sys.executable, "-m", "retrikt_core.cli", "serve", str(bundle), "--port", str(port)]
    proc = subprocess.Popen([*command, *extra], stdout=output, stderr=output, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _, err = proc.communicate()
            raise RuntimeError(
                f"retrikt serve exited with {proc.returncode}: {(err or '')[-2000:]}"
            )
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("retrikt serve did not become ready")
