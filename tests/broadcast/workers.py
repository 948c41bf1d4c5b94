"""`jamsosbot worker` processes for the tests and the benchmark: started with the environment a deployment
would give them, killed (SIGKILL: no chance to clean up) or stopped (SIGTERM: graceful), restarted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def worker_env(settings: Settings, broadcast: Mapping[str, object]) -> dict[str, str]:
    """The environment of a worker process: the settings' variables, BROADCAST_* from `broadcast`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BROADCAST_", "TELEGRAM_", "TWILIO_"))}
    values: dict[str, object] = {
        "JAMSOSBOT_ENV": settings.environment,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "REDIS_PREFIX": settings.redis_prefix,
        "DATA_KEY": settings.data_key.get_secret_value() if settings.data_key else None,
        "TELEGRAM_BOT_TOKEN": settings.telegram_bot_token.get_secret_value()
        if settings.telegram_bot_token
        else None,
        "TELEGRAM_API_URL": settings.telegram_api_url,
        "TWILIO_ACCOUNT_SID": settings.twilio_account_sid,
        "TWILIO_AUTH_TOKEN": settings.twilio_auth_token.get_secret_value()
        if settings.twilio_auth_token
        else None,
        "TWILIO_WHATSAPP_FROM": settings.twilio_whatsapp_from,
        "TWILIO_API_URL": settings.twilio_api_url,
        **{f"BROADCAST_{k.upper()}": v for k, v in broadcast.items()},
    }
    env.update({k: str(v) for k, v in values.items() if v is not None})
    env["PYTHONUNBUFFERED"] = "1"
    return env


class WorkerProcess:
    """One `jamsosbot worker`, its output kept in `log`."""

    def __init__(self, env: Mapping[str, str], log: Path) -> None:
        self.env = dict(env)
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        with self.log.open("a") as mark:
            mark.write("--- start ---\n")
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from bot.cli import main; main()", "worker"],
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        out.close()
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        """Until the worker has started its jobs (its signal handlers are installed from then on)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "broadcast worker" in self.log.read_text(errors="replace").split("--- start ---")[-1]:
                return
            if not self.alive:
                raise RuntimeError(f"worker exited: {self.log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)
        raise TimeoutError("worker did not start")

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: the process dies wherever it is (mid-request, mid-transaction)."""
        if self.proc is not None and self.alive:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self, timeout: float = 40) -> int | None:
        """SIGTERM: finish what is in flight, hand over, exit."""
        if self.proc is None:
            return None
        if self.alive:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None
