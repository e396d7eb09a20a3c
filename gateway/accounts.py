"""Users, paired devices and the signed tokens that tie every request to one user.

Three kinds of credential, each an HMAC-SHA256-signed token under one secret
kept in the data folder (created once, readable by its owner only):

- a *pairing code*: one use, minutes long; a new phone redeems it for
- a *device token*: long-lived, revocable (the device row is checked on every
  use), kept by the phone; exchanged for
- a *session token*: short-lived (minutes), what the app sends with every call.
  A session token dies with its device: revoking a device ends its sessions.

Tokens carry no secret, only who and until when; a forged, expired, revoked or
malformed token raises `AuthError` whose message is safe to log but is never
sent to the client (it gets a bare 401).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from gateway.errors import GatewayError
from protocol.secret_file import SecretFileError, load_or_create_secret, private_dir, private_file

TokenKind = Literal["device", "session"]

SESSION_TOKEN_TTL_S = 15 * 60
DEVICE_TOKEN_TTL_S = 365 * 24 * 3600
PAIRING_CODE_TTL_S = 10 * 60
MAX_USER_CHARS = 64

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS devices (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    created REAL NOT NULL,
    revoked REAL
);
CREATE TABLE IF NOT EXISTS pairing_codes (
    code_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    expires REAL NOT NULL,
    used REAL
);
"""


class AuthError(GatewayError):
    """A credential was refused; the message is for logs, never for the client."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts for: every data access is keyed by `user`."""

    user: str
    device: str
    kind: TokenKind
    expires: float


@dataclass(frozen=True, slots=True)
class Device:
    id: str
    user: str
    name: str
    created: float
    revoked: float | None


def check_user_name(user: str) -> str:
    """User names appear in paths, logs and links: keep them short and plain."""
    if (
        not isinstance(user, str)
        or not 0 < len(user) <= MAX_USER_CHARS
        or not all(c.isalnum() or c in "-_." for c in user)
    ):
        raise ValueError(
            f"user name must be 1–{MAX_USER_CHARS} letters, digits, '-', '_' or '.', got {user!r}"
        )
    return user


class Accounts:
    """The account store for one gateway: one SQLite file and one secret in `data_dir`.

    The folder is the owner's only (0700), its files too (0600); the signing
    key is created atomically, so two processes starting at once share one.
    """

    def __init__(self, data_dir: str | Path, *, clock: Callable[[], float] = time.time) -> None:
        self.data_dir = private_dir(Path(data_dir))
        self._clock = clock
        try:
            self._secret = load_or_create_secret(self.data_dir / "gateway.secret")
        except SecretFileError as exc:
            raise AuthError(str(exc)) from None
        self._lock = threading.Lock()
        # Told (user, device) after a device is revoked here; the gateway ends its sessions.
        self.revocation_listeners: list[Callable[[str, str], None]] = []
        self._db = sqlite3.connect(
            str(private_file(self.data_dir / "accounts.sqlite")),
            isolation_level=None,
            check_same_thread=False,
        )
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- users and devices --------------------------------------------------

    def ensure_user(self, user: str) -> str:
        check_user_name(user)
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO users (id, created) VALUES (?, ?)", (user, self._clock())
            )
        return user

    def users(self) -> list[str]:
        with self._lock:
            return [row[0] for row in self._db.execute("SELECT id FROM users ORDER BY id")]

    def pairing_code(self, user: str, *, ttl_s: float = PAIRING_CODE_TTL_S) -> str:
        """A one-time code a new device redeems for its device token."""
        self.ensure_user(user)
        code = secrets.token_urlsafe(18)
        with self._lock:
            self._db.execute(
                "INSERT INTO pairing_codes (code_hash, user_id, expires) VALUES (?, ?, ?)",
                (_hash(code), user, self._clock() + ttl_s),
            )
        return code

    def redeem_pairing_code(self, code: str, device_name: str) -> str:
        """Use a pairing code once: a new device for its user, and that device's token."""
        now = self._clock()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT user_id, expires, used FROM pairing_codes WHERE code_hash = ?",
                    (_hash(code),),
                ).fetchone()
                if row is None:
                    raise AuthError("unknown pairing code")
                user, expires, used = row
                if used is not None:
                    raise AuthError("pairing code already used")
                if expires < now:
                    raise AuthError("pairing code expired")
                self._db.execute(
                    "UPDATE pairing_codes SET used = ? WHERE code_hash = ?", (now, _hash(code))
                )
                device = self._insert_device(user, device_name, now)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return self._sign("device", user, device, now + DEVICE_TOKEN_TTL_S)

    def add_device(self, user: str, device_name: str) -> str:
        """Pair a device directly (for scripts: `companion token`); returns its device token."""
        self.ensure_user(user)
        now = self._clock()
        with self._lock:
            device = self._insert_device(user, device_name, now)
        return self._sign("device", user, device, now + DEVICE_TOKEN_TTL_S)

    def _insert_device(self, user: str, name: str, now: float) -> str:
        device = "d-" + secrets.token_hex(8)
        self._db.execute(
            "INSERT INTO devices (id, user_id, name, created) VALUES (?, ?, ?, ?)",
            (device, user, name[:100] or "device", now),
        )
        return device

    def devices(self, user: str) -> list[Device]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, user_id, name, created, revoked FROM devices WHERE user_id = ? "
                "ORDER BY created",
                (user,),
            ).fetchall()
        return [Device(*row) for row in rows]

    def device(self, device: str) -> Device | None:
        """One device by id, whoever owns it (for the owner's command line)."""
        with self._lock:
            row = self._db.execute(
                "SELECT id, user_id, name, created, revoked FROM devices WHERE id = ?", (device,)
            ).fetchone()
        return None if row is None else Device(*row)

    def revoke_device(self, user: str, device: str) -> bool:
        """Revoke one of `user`'s devices; another user's device id changes nothing.

        Tokens are checked against the device on every use, so no new request
        gets through; listeners end the device's live sessions at once.
        """
        with self._lock:
            cursor = self._db.execute(
                "UPDATE devices SET revoked = ? WHERE id = ? AND user_id = ? AND revoked IS NULL",
                (self._clock(), device, user),
            )
        revoked = cursor.rowcount == 1
        if revoked:
            for listener in list(self.revocation_listeners):
                listener(user, device)
        return revoked

    def revoked_among(self, devices: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of these (user, device) pairs may no longer speak (revoked, or unknown).

        The gateway asks this about its live sessions, so a device revoked by
        another process (`companion devices revoke`) loses them too.
        """
        wanted = set(devices)
        if not wanted:
            return set()
        with self._lock:
            live = {
                (user, device)
                for device, user in self._db.execute(
                    "SELECT id, user_id FROM devices WHERE revoked IS NULL"
                )
            }
        return wanted - live

    # -- tokens -------------------------------------------------------------

    def session_token(self, device_token: str, *, ttl_s: float = SESSION_TOKEN_TTL_S) -> str:
        """Exchange a live device token for a short-lived session token."""
        principal = self.verify(device_token, kind="device")
        expires = min(self._clock() + ttl_s, principal.expires)
        return self._sign("session", principal.user, principal.device, expires)

    def verify(self, token: str, *, kind: TokenKind | None = None) -> Principal:
        """The principal a token speaks for, or AuthError (forged, expired, revoked, wrong kind)."""
        payload = self._check_signature(token)
        try:
            claims = json.loads(_unb64(payload))
            principal = Principal(
                user=str(claims["u"]),
                device=str(claims["d"]),
                kind=claims["k"],
                expires=float(claims["exp"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise AuthError(f"unreadable token claims: {exc}") from None
        if principal.kind not in ("device", "session"):
            raise AuthError(f"unknown token kind {principal.kind!r}")
        if kind is not None and principal.kind != kind:
            raise AuthError(f"a {principal.kind} token where a {kind} token is needed")
        if principal.expires < self._clock():
            raise AuthError("token expired")
        with self._lock:
            row = self._db.execute(
                "SELECT revoked FROM devices WHERE id = ? AND user_id = ?",
                (principal.device, principal.user),
            ).fetchone()
        if row is None:
            raise AuthError("token names an unknown device")
        if row[0] is not None:
            raise AuthError("device revoked")
        return principal

    def _sign(self, kind: TokenKind, user: str, device: str, expires: float) -> str:
        claims = {"k": kind, "u": user, "d": device, "exp": round(expires, 3)}
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{payload}.{self._mac(payload)}"

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, payload.encode(), hashlib.sha256).digest())

    def _check_signature(self, token: str) -> str:
        # Tokens are ASCII; anything else (compare_digest refuses non-ASCII text with a
        # TypeError, once a 500) is simply not a token.
        if (
            not isinstance(token, str)
            or len(token) > 2048
            or not token.isascii()
            or token.count(".") != 1
        ):
            raise AuthError("malformed token")
        payload, signature = token.split(".")
        if not hmac.compare_digest(self._mac(payload).encode(), signature.encode()):
            raise AuthError("bad token signature")
        return payload


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise AuthError(f"malformed token payload: {exc}") from None
