"""One privacy policy: what each mode lets leave the device, decided by one pure function."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from protocol import (
    PRIVACY_MODES,
    Control,
    DeviceStatus,
    Hello,
    Interrupt,
    Keyframe,
    Observation,
    ProtocolError,
    Query,
    SpeechSegment,
    decode,
    encode,
)
from protocol.privacy import may_leave, parse_privacy, policy_for

ROOT = Path(__file__).resolve().parents[1]
_COMMON = {"session_id": "s", "seq": 1, "sent_at": 0.0}
SPEECH = SpeechSegment(**_COMMON, turn_id=1, pcm=b"\0\0")
QUERY = Query(**_COMMON, turn_id=1, text="what is this?")
INTERRUPT = Interrupt(**_COMMON, turn_id=1)
KEYFRAME = Keyframe(**_COMMON, turn_id=1, jpeg=b"\xff\xd8", width=1, height=1, captured_at=0.0)
OBSERVATION = Observation(**_COMMON, turn_id=1, captured_at=0.0)
BOOKKEEPING = [
    Hello(**_COMMON, user="me", device="d"),
    Control(**_COMMON, action="mode", value="fast"),
    DeviceStatus(**_COMMON, device="d", connection="connected"),
]


def test_standard_lets_speech_frames_and_observations_leave() -> None:
    for message in (SPEECH, QUERY, INTERRUPT, KEYFRAME, OBSERVATION, *BOOKKEEPING):
        assert may_leave(message, "standard")


def test_no_camera_lets_questions_leave_but_nothing_the_camera_saw() -> None:
    assert all(may_leave(m, "no-camera") for m in (SPEECH, QUERY, INTERRUPT))
    assert not may_leave(KEYFRAME, "no-camera")
    assert not may_leave(OBSERVATION, "no-camera")
    assert not policy_for("no-camera").camera


def test_local_only_lets_nothing_the_wearer_said_or_saw_leave() -> None:
    for message in (SPEECH, QUERY, INTERRUPT, KEYFRAME, OBSERVATION):
        assert not may_leave(message, "local-only")
    assert policy_for("local-only").answers_on_device
    assert policy_for("local-only").camera  # read on the device, answered there


def test_only_known_privacy_modes_parse() -> None:
    assert [parse_privacy(mode) for mode in PRIVACY_MODES] == list(PRIVACY_MODES)
    assert parse_privacy("typo") is None
    assert parse_privacy("Standard") is None


@pytest.mark.parametrize("field,value", [("privacy", "everything"), ("mode", "turbo")])
def test_the_codec_refuses_an_unknown_privacy_or_answer_mode(field: str, value: str) -> None:
    hello = encode(Hello(**_COMMON, user="me", device="d"))
    import msgpack

    body = msgpack.unpackb(hello)
    body[field] = value
    with pytest.raises(ProtocolError, match=field):
        decode(msgpack.packb(body))


def test_no_code_compares_privacy_mode_strings_outside_the_policy() -> None:
    """Every decision about what may leave goes through protocol/privacy.py."""
    offenders = []
    for package in ("edge", "gateway", "cloud", "simulators", "firmware_bridge", "deploy"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Compare) and any(
                    isinstance(c, ast.Constant) and c.value in PRIVACY_MODES
                    for c in [node.left, *node.comparators]
                ):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
