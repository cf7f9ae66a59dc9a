"""Real Tonle processes for the reliability tests: `tonle serve` and `tonle worker` on a test backend's database,
each in its own process group (so a test can SIGKILL it whole), with its output kept in a log file."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
LOGS: list[Path] = []  # every process log of the session; the secrets check reads them all


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    def __init__(self, backend, args: list[str], env: dict[str, str], name: str) -> None:
        self.backend, self.args, self.env, self.name = backend, args, env, name
        self.log_path = backend.tmp / f"{name}-{time.monotonic_ns()}.log"
        LOGS.append(self.log_path)
        self.proc: subprocess.Popen | None = None

    def start(self) -> Proc:
        log = self.log_path.open("a")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tonle.cli", *self.args],
            env={**self.backend.env(), **self.env},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    def kill(self) -> None:
        """SIGKILL, the whole process group: no shutdown handler runs, as when a machine loses power."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.kill()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


class ServeProc(Proc):
    def __init__(self, backend, settings, port: int | None = None, **env: str) -> None:
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        environment = {
            # Shared by every API process of a deployment (docs/reliability.md): the token signing key.
            "TONLE_JWT_SECRET": settings.jwt_secret,
            "TONLE_PUBLIC_URL": settings.public_url,
            "TONLE_WORKER_IN_PROCESS": "false",
            "TONLE_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
            **env,
        }
        super().__init__(backend, ["serve", "--no-migrate", "--port", str(self.port)], environment, "serve")

    def start(self) -> ServeProc:
        super().start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base_url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"tonle serve exited:\n{self.output()[-3000:]}")
            time.sleep(0.1)
        raise RuntimeError(f"tonle serve did not start:\n{self.output()[-3000:]}")


def worker(backend, **env: str) -> Proc:
    environment = {
        "TONLE_WEBHOOK_TIMEOUT_SECONDS": "2",
        "TONLE_WEBHOOK_LEASE_MARGIN_SECONDS": "1",
        "TONLE_WORKER_POLL_SECONDS": "0.1",
        "TONLE_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        **env,
    }
    return Proc(backend, ["worker"], environment, "worker").start()
