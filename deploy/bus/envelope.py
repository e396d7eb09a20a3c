"""What travels on the bus, signed with the secret the gateways and the workers share.

A Redis peer is not trusted blindly: anyone who can write to Redis could
otherwise ask questions as any user or put words in any session's answer. So
every entry is a msgpack body and an HMAC-SHA256 over it, as the gateway signs
its session claims (protocol.claims); the reader checks the MAC before it
looks at the body, and anything that fails is a `BusError` (the worker
dead-letters the entry, the gateway drops it), never a crash.

Pure: no Redis, no clock; the time is passed in.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Literal

import msgpack

from deploy.errors import DeployError
from protocol.errors import ProtocolError
from protocol.limits import MAX_ID_CHARS, MAX_ITEMS, MAX_SEGMENT_PARTS

_VERSION = 1
# A turn holds its settings (a Hello and a few Controls) and at most every part of one
# utterance, its observation, keyframe and interrupt; more is not a turn the gateway made.
MAX_TURN_MESSAGES = MAX_SEGMENT_PARTS + MAX_ITEMS // 8

ReplyKind = Literal["message", "done", "state"]
REPLY_KINDS: tuple[ReplyKind, ...] = ("message", "done", "state")


class BusError(DeployError, ProtocolError):
    """A bus entry was refused (unsigned, forged, malformed or stale); for logs."""


@dataclass(frozen=True, slots=True)
class TurnEnvelope:
    """One question, complete: anything a worker needs to answer it.

    `messages` are protocol-encoded: the session's Hello and settings Controls
    first, then the turn's own speech or query, observation, keyframe (and an
    Interrupt, if the wearer already talked over it). `user` is the user the
    gateway vouches for; `turn_key` is unique across gateways and names the turn
    in the idempotency key and in every reply.
    """

    turn_key: str
    gateway_id: str
    session_id: str
    user: str
    issued_at: float
    messages: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class ReplyEnvelope:
    """Something for the session a gateway holds: a protocol message to relay
    (`message`), the end of a turn's answer (`done`), or a settings change the
    gateway keeps for the session's next turns (`state`, a Control)."""

    session_id: str
    turn_key: str
    attempt: str
    kind: ReplyKind
    payload: bytes = b""


@dataclass(frozen=True, slots=True)
class InterruptEnvelope:
    """The wearer talked over turn `turn_key`: whichever worker answers it stops."""

    turn_key: str
    payload: bytes


def seal_turn(secret: bytes, turn: TurnEnvelope) -> dict[bytes, bytes]:
    body = {
        "v": _VERSION,
        "k": turn.turn_key,
        "g": turn.gateway_id,
        "s": turn.session_id,
        "u": turn.user,
        "t": turn.issued_at,
        "m": list(turn.messages),
    }
    return _seal(secret, body)


def open_turn(
    secret: bytes, fields: dict[bytes, bytes], *, now: float, max_age_s: float
) -> TurnEnvelope:
    """The turn in a stream entry's fields, if genuine and fresh; else BusError."""
    body = _open(secret, fields)
    try:
        turn = TurnEnvelope(
            turn_key=_id(body["k"]),
            gateway_id=_id(body["g"]),
            session_id=_id(body["s"]),
            user=_text(body["u"]),
            issued_at=_number(body["t"]),
            messages=tuple(_blob(m) for m in _list(body["m"], MAX_TURN_MESSAGES)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BusError(f"unreadable turn: {exc}") from None
    if now - turn.issued_at > max_age_s:
        raise BusError(f"turn {turn.turn_key} is {now - turn.issued_at:.0f} s old; dropped")
    return turn


def seal_reply(secret: bytes, reply: ReplyEnvelope) -> dict[bytes, bytes]:
    body = {
        "v": _VERSION,
        "s": reply.session_id,
        "k": reply.turn_key,
        "a": reply.attempt,
        "r": reply.kind,
        "p": reply.payload,
    }
    return _seal(secret, body)


def open_reply(secret: bytes, fields: dict[bytes, bytes]) -> ReplyEnvelope:
    body = _open(secret, fields)
    try:
        kind = body["r"]
        if kind not in REPLY_KINDS:
            raise ValueError(f"reply kind {kind!r}")
        return ReplyEnvelope(
            session_id=_id(body["s"]),
            turn_key=_id(body["k"]),
            attempt=_id(body["a"]),
            kind=kind,
            payload=_blob(body["p"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BusError(f"unreadable reply: {exc}") from None


def seal_interrupt(secret: bytes, interrupt: InterruptEnvelope) -> bytes:
    """One pub/sub message (a channel message has no fields): MAC then body."""
    fields = _seal(secret, {"v": _VERSION, "k": interrupt.turn_key, "p": interrupt.payload})
    return fields[b"mac"] + fields[b"body"]


def open_interrupt(secret: bytes, data: bytes) -> InterruptEnvelope:
    size = hashlib.sha256().digest_size
    body = _open(secret, {b"mac": data[:size], b"body": data[size:]})
    try:
        return InterruptEnvelope(turn_key=_id(body["k"]), payload=_blob(body["p"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise BusError(f"unreadable interrupt: {exc}") from None


def _seal(secret: bytes, body: dict[str, object]) -> dict[bytes, bytes]:
    if not secret:
        raise BusError("an empty secret signs nothing")
    packed: bytes = msgpack.packb(body, use_bin_type=True)
    return {b"body": packed, b"mac": hmac.new(secret, packed, hashlib.sha256).digest()}


def _open(secret: bytes, fields: dict[bytes, bytes]) -> dict[str, object]:
    packed, mac = fields.get(b"body"), fields.get(b"mac")
    if not isinstance(packed, bytes) or not isinstance(mac, bytes):
        raise BusError("not a bus entry (no body and mac)")
    if not secret or not hmac.compare_digest(
        hmac.new(secret, packed, hashlib.sha256).digest(), mac
    ):
        raise BusError("bad signature: not signed with this deployment's bus secret")
    try:
        body = msgpack.unpackb(packed, raw=False, strict_map_key=True)
    except (msgpack.UnpackException, ValueError, TypeError) as exc:
        raise BusError(f"not valid msgpack: {exc}") from None
    if not isinstance(body, dict) or body.get("v") != _VERSION:
        raise BusError("unknown bus entry version")
    return body


def _id(value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > 3 * MAX_ID_CHARS:
        raise ValueError(f"bad id {value!r:.40}")
    return value


def _number(value: object) -> float:
    if not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return float(value)


def _text(value: object) -> str:
    if not isinstance(value, str) or len(value) > MAX_ID_CHARS:
        raise ValueError(f"bad text {value!r:.40}")
    return value


def _blob(value: object) -> bytes:
    if not isinstance(value, bytes):
        raise TypeError(f"expected bytes, got {type(value).__name__}")
    return value


def _list(value: object, limit: int) -> list[object]:
    if not isinstance(value, list) or len(value) > limit:
        raise ValueError(f"expected a list of at most {limit} items")
    return value
