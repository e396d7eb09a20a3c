"""A real Redis 7 for the tests: a running one named by COMPANION_TEST_REDIS, or our own.

With COMPANION_TEST_REDIS=redis://… the tests use that server (CI may start
one). Otherwise Debian's `redis-server` is started on a free loopback port with
nothing persisted (simulators/redis_server.py) and stopped when the session
ends. Each test gets a database flushed for it. `persistent_redis()` is always
our own, with `appendonly yes`, for the test that restarts it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from simulators.redis_server import free_port
from simulators.redis_server import redis_server as throwaway_redis

ENV = "COMPANION_TEST_REDIS"


@contextmanager
def redis_server() -> Iterator[str]:
    given = os.environ.get(ENV)
    if given:
        yield given
        return
    with throwaway_redis() as url:
        yield url


class PersistentRedis:
    """Our own redis-server with `appendonly yes` (nothing else persisted), restartable on
    the same port and folder: what a deployment that must keep its turns runs."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: apt-get install redis-server")
        command = [
            binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
            "--save", "", "--appendonly", "yes", "--appendfsync", "everysec",
            "--daemonize", "no", "--logfile", str(self.folder / "redis.log"),
        ]  # fmt: skip
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as link:
                    link.sendall(b"PING\r\n")
                    if link.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        """SIGTERM: Redis writes its append-only file out and exits, as on a restart."""
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@contextmanager
def persistent_redis() -> Iterator[PersistentRedis]:
    folder = Path(tempfile.mkdtemp(prefix="companion-redis-aof-"))
    server = PersistentRedis(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
