"""Shared secrets kept in a file: created once, atomically, readable by the owner only.

Two processes starting at once (a gateway and a CLI command, say) must end up
with the same secret, and neither may ever read a half-written or empty file:
an empty signing key would let anyone forge tokens. So the secret is written
whole to a private temporary file and then linked into place; whoever links
first wins and everyone re-reads the winner's file and checks its length.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from protocol.errors import ProtocolError

SECRET_BYTES = 32


class SecretFileError(ProtocolError):
    """A secret file exists but cannot be used; the message says what to do."""


def private_dir(path: Path) -> Path:
    """Create `path` and any missing parents owner-only (0700); tighten `path` if it exists."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it just now
            folder.mkdir(mode=0o700)
    with contextlib.suppress(PermissionError):  # a shared folder we do not own stays as it is
        path.chmod(0o700)
    return path


def private_file(path: Path) -> Path:
    """Make `path` exist, owner-only (0600), before a library opens it.

    SQLite creates its -wal and -shm files with the main file's permissions,
    so a database made private here stays private in all three files.
    """
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    with contextlib.suppress(PermissionError):
        path.chmod(0o600)
    return path


def load_or_create_secret(path: Path, *, length: int = SECRET_BYTES) -> bytes:
    """The secret in `path`, made (random, `length` bytes, mode 0600) if there is none."""
    try:
        return _checked(path, path.read_bytes(), length)
    except FileNotFoundError:
        pass
    private_dir(path.parent)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(length))
            out.flush()
            os.fsync(out.fileno())
        # link() never replaces: if another process got there first, its secret stands.
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return _checked(path, path.read_bytes(), length)


def _checked(path: Path, secret: bytes, length: int) -> bytes:
    if len(secret) < length:
        raise SecretFileError(
            f"{path} holds {len(secret)} bytes, fewer than {length}; "
            "delete it to make a new secret (tokens signed with the old one stop working)"
        )
    return secret


# The gateway↔cloud secret (protocol.claims) when the two run as separate processes:
# both read it from the data folder they share; the first to start creates it.
LINK_SECRET_FILE = "cloud-link.secret"


def link_secret(data_dir: Path) -> bytes:
    """The secret the gateway signs session claims with and the cloud checks them with."""
    return load_or_create_secret(private_dir(data_dir) / LINK_SECRET_FILE)
