"""A throw-away Redis 7 (Debian's `redis-server`) on a free loopback port.

For `companion bench load` without `--bus`, and for the tests: nothing in it
outlives the context (no snapshots, no append-only file), and it listens on
127.0.0.1 only.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from simulators.errors import SimulatorError

START_TIMEOUT_S = 15.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def redis_server(*, appendonly: bool = False) -> Iterator[str]:
    """The URL of a fresh Redis until the context exits; stopped and deleted after."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SimulatorError("redis-server is not installed: apt-get install redis-server")
    folder = Path(tempfile.mkdtemp(prefix="companion-redis-"))
    port = free_port()
    command = [
        binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
        "--save", "", "--appendonly", "yes" if appendonly else "no", "--daemonize", "no",
        "--protected-mode", "yes", "--logfile", str(folder / "redis.log"),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_until_up(port, process)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(folder, ignore_errors=True)


def _wait_until_up(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise SimulatorError(f"redis-server exited at start ({process.returncode}): {err}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as link:
                link.sendall(b"PING\r\n")
                if link.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise SimulatorError(f"redis-server did not answer on port {port} within {START_TIMEOUT_S} s")
