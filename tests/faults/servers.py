"""`jamsosbot serve` as a real process for the fault tests: started with a deployment's environment, killed
with SIGKILL (no chance to clean up: a crashed or OOM-killed web worker), or stopped gracefully."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from tests.faults.proxy import free_port

ROOT = Path(__file__).resolve().parents[2]


class ServerProcess:
    """One `jamsosbot serve --port <free>` process; its output is appended to `log`."""

    def __init__(self, env: Mapping[str, str], log: Path, *, workers: int = 1) -> None:
        self.env = {**os.environ, **env, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        self.log = log
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *, timeout: float = 120.0) -> ServerProcess:
        """Start and wait until /health answers (a deadline for a hang; the first start may train the NLU)."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from bot.cli import main; main()",
                    "serve",
                    "--port",
                    str(self.port),
                    "--workers",
                    str(self.workers),
                ],
                cwd=self.log.parent,  # no stray .env is read
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.output()[-3000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not become healthy: {self.output()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: the process dies mid-whatever, like an out-of-memory kill or a lost machine."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""
