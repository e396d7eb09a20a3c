"""msgpack encoding of protocol messages, with strict validation on decode.

A decoded message is exactly one of the dataclasses in `protocol.messages`, or
`ProtocolError` is raised with a message naming the field at fault: receivers
turn that into an `Error` reply and keep the session open.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from functools import cache
from typing import Any

import msgpack

from protocol.errors import ProtocolError
from protocol.limits import (
    MAX_FRAME_PIXELS,
    MAX_FRAME_SIDE,
    MAX_ID_CHARS,
    MAX_ITEMS,
    MAX_JPEG_BYTES,
    MAX_MESSAGE_BYTES,
    MAX_SAMPLE_RATE,
    MAX_SEGMENT_PART_BYTES,
    MAX_SEGMENT_PARTS,
    MAX_TEXT_CHARS,
    MIN_SAMPLE_RATE,
    PROTOCOL_VERSION,
)
from protocol.messages import MESSAGE_TYPES, Keyframe, Message

# Per-field byte ceilings; any other bytes field is bounded by the message size.
_BYTES_LIMITS = {"jpeg": MAX_JPEG_BYTES, "pcm": MAX_SEGMENT_PART_BYTES}
# Per-field ranges for whole numbers (inclusive); every other int is bounded by 64 bits.
_INT_RANGES = {
    "sample_rate": (MIN_SAMPLE_RATE, MAX_SAMPLE_RATE),
    "part": (0, MAX_SEGMENT_PARTS - 1),
    "width": (1, MAX_FRAME_SIDE),
    "height": (1, MAX_FRAME_SIDE),
}
_ID_FIELDS = {"session_id", "user", "device", "kind", "code", "action", "mode", "privacy", "codec"}


def encode(message: Message) -> bytes:
    """Serialise a message; refuses one the receiver would reject for size."""
    body: dict[str, Any] = {"v": PROTOCOL_VERSION, "type": message.kind}
    body.update(_to_plain(message))
    data: bytes = msgpack.packb(body, use_bin_type=True)
    if len(data) > MAX_MESSAGE_BYTES:
        raise ProtocolError(
            f"{message.kind} is {len(data)} bytes, over the {MAX_MESSAGE_BYTES}-byte "
            "message ceiling; split it (SpeechSegment parts) or compress it (JPEG quality)"
        )
    return data


def decode(data: bytes | bytearray | memoryview | str) -> Message:
    """Parse and validate one message from the wire."""
    if isinstance(data, str):
        raise ProtocolError("text frame received; protocol messages are binary msgpack")
    if len(data) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message is {len(data)} bytes, over the {MAX_MESSAGE_BYTES} ceiling")
    try:
        body = msgpack.unpackb(bytes(data), raw=False, strict_map_key=True)
    except (msgpack.UnpackException, ValueError, TypeError) as exc:
        raise ProtocolError(f"not valid msgpack: {exc}") from None
    if not isinstance(body, dict):
        raise ProtocolError(f"message must be a msgpack map, got {type(body).__name__}")
    version = body.pop("v", None)
    if version != PROTOCOL_VERSION:
        raise ProtocolError(
            f"unsupported protocol version {version!r}; expected {PROTOCOL_VERSION}"
        )
    kind = body.pop("type", None)
    cls = MESSAGE_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ProtocolError(f"unknown message type {kind!r}")
    message = typing.cast(Message, _build(cls, body, kind))
    if isinstance(message, Keyframe) and message.width * message.height > MAX_FRAME_PIXELS:
        raise ProtocolError(
            f"{kind}: a {message.width}×{message.height} frame is over the "
            f"{MAX_FRAME_PIXELS}-pixel ceiling; scale it down before sending"
        )
    return message


def _to_plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_to_plain(v) for v in value]
    return value


@cache
def _field_types(cls: type) -> dict[str, tuple[Any, bool]]:
    """Field name → (type, required) for a message dataclass, resolved once."""
    hints = typing.get_type_hints(cls)
    return {
        f.name: (
            hints[f.name],
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
        )
        for f in dataclasses.fields(cls)
    }


def _build(cls: type, body: Any, where: str) -> Any:
    if not isinstance(body, dict):
        raise ProtocolError(f"{where}: expected a map, got {type(body).__name__}")
    spec = _field_types(cls)
    unknown = set(body) - set(spec)
    if unknown:
        raise ProtocolError(f"{where}: unknown field(s) {sorted(map(str, unknown))}")
    values = {}
    for name, (tp, required) in spec.items():
        if name not in body:
            if required:
                raise ProtocolError(f"{where}: missing field '{name}'")
            continue
        values[name] = _check(tp, body[name], f"{where}.{name}", name)
    return cls(**values)


def _check(tp: Any, value: Any, where: str, name: str) -> Any:
    origin = typing.get_origin(tp)
    if origin is tuple:
        (item_type, _) = typing.get_args(tp)
        if not isinstance(value, list | tuple):
            raise ProtocolError(f"{where}: expected a list, got {type(value).__name__}")
        if len(value) > MAX_ITEMS:
            raise ProtocolError(f"{where}: {len(value)} items, over the {MAX_ITEMS} ceiling")
        return tuple(_check(item_type, v, f"{where}[{i}]", name) for i, v in enumerate(value))
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(tp):
            try:
                return _check(option, value, where, name)
            except ProtocolError:
                continue
        raise ProtocolError(f"{where}: {type(value).__name__} matches none of {tp}")
    if origin is typing.Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise ProtocolError(f"{where}: {value!r} is not one of {', '.join(map(str, allowed))}")
        return value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
    if tp is bool:
        if not isinstance(value, bool):
            raise ProtocolError(f"{where}: expected bool, got {type(value).__name__}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ProtocolError(f"{where}: expected int, got {type(value).__name__}")
        if not -(2**63) <= value < 2**63:
            raise ProtocolError(f"{where}: integer out of range")
        if (bounds := _INT_RANGES.get(name)) is not None and not bounds[0] <= value <= bounds[1]:
            raise ProtocolError(f"{where}: {value} is outside {bounds[0]}–{bounds[1]}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ProtocolError(f"{where}: expected a number, got {type(value).__name__}")
        if not math.isfinite(value):
            raise ProtocolError(f"{where}: number must be finite")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ProtocolError(f"{where}: expected text, got {type(value).__name__}")
        limit = MAX_ID_CHARS if name in _ID_FIELDS else MAX_TEXT_CHARS
        if len(value) > limit:
            raise ProtocolError(f"{where}: {len(value)} characters, over the {limit} ceiling")
        return value
    if tp is bytes:
        if not isinstance(value, bytes):
            raise ProtocolError(f"{where}: expected bytes, got {type(value).__name__}")
        limit = _BYTES_LIMITS.get(name, MAX_MESSAGE_BYTES)
        if len(value) > limit:
            raise ProtocolError(f"{where}: {len(value)} bytes, over the {limit}-byte ceiling")
        return value
    raise ProtocolError(f"{where}: unsupported field type {tp}")  # a bug in messages.py
