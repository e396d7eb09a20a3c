"""The wire protocol: every message survives a round trip, bad input is refused clearly."""

from __future__ import annotations

import math

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import (
    MAX_JPEG_BYTES,
    MESSAGE_TYPES,
    PROTOCOL_VERSION,
    Ack,
    AnswerAudio,
    AnswerDelta,
    AnswerDone,
    Control,
    DeviceStatus,
    EarlyObservation,
    Error,
    Hello,
    Interrupt,
    Keyframe,
    Label,
    Message,
    Notification,
    Observation,
    OcrLine,
    ProtocolError,
    Query,
    Sequencer,
    SpeechSegment,
    Stage,
    Transcript,
    decode,
    encode,
)
from protocol.latency import breakdown, total_ms
from protocol.messages import Caption, CaptionAudio

BASE = {"session_id": "s-1", "seq": 7, "sent_at": 12.5}

EXAMPLES: list[Message] = [
    Hello(**BASE, user="alice", device="replay", privacy="no-camera", mode="fast"),
    SpeechSegment(
        **BASE, turn_id=1, pcm=b"\x01\x00" * 512, part=1, last=False, speech_end=3.0, visual=True
    ),
    SpeechSegment(**BASE, turn_id=3, pcm=b"\x00\x03opu", codec="opus", speech_end=4.0),
    Keyframe(
        **BASE, turn_id=1, jpeg=b"\xff\xd8jpeg\xff\xd9", width=640, height=480, captured_at=2.9
    ),
    Observation(
        **BASE,
        turn_id=1,
        captured_at=2.9,
        ocr=(OcrLine(text="PLATFORM 7", score=0.98),),
        labels=(Label(name="Egyptian cat", score=0.79), Label(name="tabby", score=0.1)),
    ),
    EarlyObservation(
        **BASE, turn_id=1, captured_at=2.1, ocr=(OcrLine(text="PLATFORM 7", score=0.97),)
    ),
    Query(**BASE, turn_id=2, text="what does this say?", mode="reasoning"),
    Transcript(**BASE, turn_id=1, text="what does this page say"),
    AnswerDelta(**BASE, turn_id=1, text="It says "),
    AnswerAudio(**BASE, turn_id=1, part=0, pcm=b"\x01\x00" * 64, sample_rate=22_050),
    AnswerAudio(**BASE, turn_id=1, part=1, pcm=b"", sample_rate=22_050, last=True),
    AnswerDone(
        **BASE,
        turn_id=1,
        text="It says platform 7.",
        stages=(Stage(name="segment_received", at=1.0), Stage(name="first_token", at=1.5)),
        inference_ms=420.0,
    ),
    Control(**BASE, action="privacy", value="local-only"),
    Interrupt(**BASE, turn_id=4),
    AnswerDone(**BASE, turn_id=4, text="It says", interrupted=True),
    Ack(**BASE, ack_seq=6),
    Error(**BASE, code="bad_message", message="not msgpack", ref_seq=3),
    Notification(**BASE, text="Reminder: call mum.", ref="r-1", due="2026-03-01T09:30:00.000000Z"),
    DeviceStatus(
        **BASE,
        device="omi:AA:BB:CC:DD:EE:FF",
        connection="connected",
        event="button:single_tap",
        battery_percent=87,
        worn=False,
        lost_audio_packets=3,
        photos=2,
    ),
    Caption(
        **BASE,
        line_id=4,
        text="Where is the station?",
        final=True,
        language="de",
        translated=True,
        speech_start=1.25,
        speech_end=2.5,
    ),
    CaptionAudio(
        **BASE, line_id=4, pcm=b"\x01\x00" * 8, final=True, speech_start=1.25, speech_end=2.5
    ),
]


def test_every_message_kind_has_an_example() -> None:
    assert {m.kind for m in EXAMPLES} == set(MESSAGE_TYPES)


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda m: m.kind)
def test_message_round_trips_unchanged(message: Message) -> None:
    assert decode(encode(message)) == message


@given(text=st.text(max_size=500), seq=st.integers(min_value=0, max_value=2**62))
def test_any_text_and_sequence_number_round_trip(text: str, seq: int) -> None:
    message = AnswerDelta(session_id="s", seq=seq, sent_at=0.0, turn_id=1, text=text)
    assert decode(encode(message)) == message


def _raw(**fields: object) -> bytes:
    body = {"v": PROTOCOL_VERSION, "type": "transcript", **BASE, "turn_id": 1, "text": "hi"}
    body.update(fields)
    return msgpack.packb({k: v for k, v in body.items() if v is not _DROP}, use_bin_type=True)


_DROP = object()


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"\xc1\xc1\xc1", "not valid msgpack"),
        (msgpack.packb([1, 2, 3]), "must be a msgpack map"),
        (_raw(v=99), "unsupported protocol version"),
        (_raw(type="launch_missiles"), "unknown message type"),
        (_raw(text=_DROP), "missing field 'text'"),
        (_raw(colour="red"), "unknown field"),
        (_raw(turn_id="one"), "transcript.turn_id: expected int"),
        (_raw(turn_id=True), "expected int"),
        (_raw(final=1), "expected bool"),
        (_raw(sent_at=math.nan), "finite"),
        (_raw(text="x" * 9000), "over the 8000 ceiling"),
        (_raw(session_id="s" * 500), "ceiling"),
    ],
)
def test_malformed_message_is_refused_with_a_clear_reason(data: bytes, says: str) -> None:
    with pytest.raises(ProtocolError, match=says):
        decode(data)


def test_text_frame_is_refused() -> None:
    with pytest.raises(ProtocolError, match="binary msgpack"):
        decode("hello")


def test_oversized_keyframe_is_refused_on_decode() -> None:
    body = {
        "v": PROTOCOL_VERSION,
        "type": "keyframe",
        **BASE,
        "turn_id": 1,
        "jpeg": b"x" * (MAX_JPEG_BYTES + 1),
        "width": 1,
        "height": 1,
        "captured_at": 0.0,
    }
    with pytest.raises(ProtocolError, match="jpeg"):
        decode(msgpack.packb(body, use_bin_type=True))


def test_message_too_big_for_a_data_channel_is_refused_on_encode() -> None:
    huge = Keyframe(**BASE, turn_id=1, jpeg=b"x" * 300_000, width=1, height=1, captured_at=0.0)
    with pytest.raises(ProtocolError, match="ceiling"):
        encode(huge)


def test_nested_label_with_wrong_type_names_its_path() -> None:
    body = {
        "v": PROTOCOL_VERSION,
        "type": "observation",
        **BASE,
        "turn_id": 1,
        "captured_at": 0.0,
        "labels": [{"name": "cat", "score": "high"}],
    }
    with pytest.raises(ProtocolError, match=r"observation\.labels\[0\]\.score"):
        decode(msgpack.packb(body, use_bin_type=True))


def test_sequencer_numbers_messages_in_order_with_the_injected_clock() -> None:
    times = iter([1.0, 2.0])
    seq = Sequencer("abc", clock=lambda: next(times))
    first = seq.make(Ack, ack_seq=0)
    second = seq.make(Transcript, turn_id=1, text="x")
    assert (first.seq, first.sent_at, second.seq, second.sent_at) == (1, 1.0, 2, 2.0)
    assert second.session_id == "abc"


def test_latency_breakdown_follows_pipeline_order_not_arrival_order() -> None:
    stages = (
        Stage(name="last_token", at=4.0),
        Stage(name="speech_end", at=1.0),
        Stage(name="transcript", at=2.0),
        Stage(name="first_token", at=2.5),
    )
    assert breakdown(stages) == [
        ("speech_end→transcript", 1000.0),
        ("transcript→first_token", 500.0),
        ("first_token→last_token", 1500.0),
    ]
    assert total_ms(stages) == 3000.0
