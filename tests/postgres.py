"""A real PostgreSQL 15 for the tests: a running one named by COMPANION_TEST_POSTGRES, or our own.

With COMPANION_TEST_POSTGRES=postgresql://… the tests use that server (CI may
start one). Otherwise a throw-away cluster is made with Debian's `initdb` and
`pg_ctl` (package `postgresql`) in a temporary folder owned by the `postgres`
user, listening on 127.0.0.1 only at a free port, with fsync off (nothing in it
outlives the session), and stopped when the session ends. The tests run as
root and PostgreSQL refuses to, so the server runs as `postgres` through
`runuser`. Each test gets its own schema (through the `options` of its DSN), so
tests never see each other's rows and nothing needs cleaning up between them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

ENV = "COMPANION_TEST_POSTGRES"
BIN = Path("/usr/lib/postgresql/15/bin")
_OWNER = "postgres"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_owner(*command: str) -> list[str]:
    """Run as the `postgres` user when we are root (PostgreSQL will not run as root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", _OWNER, "--", *command]
    return list(command)


@contextmanager
def postgres_server() -> Iterator[str]:
    """The DSN of a server the tests may create schemas in, for the whole session."""
    given = os.environ.get(ENV)
    if given:
        yield given
        return
    if not (BIN / "initdb").exists():
        raise RuntimeError(
            f"PostgreSQL 15 is not installed ({BIN}/initdb missing): "
            "apt-get install postgresql, or set "
            f"{ENV}=postgresql://… to a running server"
        )
    folder = Path(tempfile.mkdtemp(prefix="companion-pg-"))
    data = folder / "data"
    port = _free_port()
    if os.geteuid() == 0:
        shutil.chown(folder, _OWNER, _OWNER)
    started = False
    try:
        subprocess.run(
            _as_owner(
                str(BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ),
            check=True,
            capture_output=True,
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={folder}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        subprocess.run(
            _as_owner(
                str(BIN / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(folder / "log"),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ),
            check=True,
            capture_output=True,
        )
        started = True
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    except subprocess.CalledProcessError as exc:
        log = folder / "log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise RuntimeError(
            f"could not start PostgreSQL: {exc.stderr.decode(errors='replace')}{tail}"
        ) from exc
    finally:
        if started:
            subprocess.run(
                _as_owner(str(BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"),
                check=False,
                capture_output=True,
            )
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def fresh_schema(server: str) -> Iterator[str]:
    """A DSN whose connections see only a new, empty schema; the schema is dropped after."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in server else "?"
    try:
        yield f"{server}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
