"""Every input has a ceiling (protocol.limits); past it the sender gets a clear Error and the
session goes on."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path

import aiohttp
import msgpack
import numpy as np
import pytest
from aiortc import RTCPeerConnection

from cloud.api.session_server import CloudServer
from cloud.config import CloudConfig
from cloud.conversation import Conversation, Models, Turn
from cloud.speech.speech_decoding import AudioDecodeError, decode_opus, speech_samples
from cloud.turn_limits import QuestionRate, TurnLimits
from deploy.local_stack import local_stack
from edge.audio.speech_encoding import encode_opus
from edge.errors import MediaError
from edge.link.webrtc import CONTEXT_CHANNEL, rtc_configuration
from edge.sources.media_checks import checked_frame
from gateway.cloud_link import connect_cloud
from protocol import (
    AnswerDone,
    Error,
    Hello,
    Keyframe,
    Message,
    ProtocolError,
    Query,
    Sequencer,
    SpeechSegment,
    decode,
    encode,
)
from protocol.audio_packets import pack_packets
from protocol.limits import (
    MAX_OPEN_TURNS,
    MAX_QUESTIONS_PER_MINUTE,
    MAX_QUEUED_TURNS,
    MAX_SEGMENT_PART_BYTES,
    MAX_SEGMENT_PARTS,
    MAX_USER_QUESTIONS_PER_MINUTE,
)
from tests.fakes import FakeReasoner, FakeTranscriber

EDGE = Sequencer("s")
LOUD = (np.sin(np.arange(16_000) / 5.0) * 8000).astype(np.int16).tobytes()


def _raw(message: Message, **fields: object) -> bytes:
    """`message` on the wire with fields set past what the dataclass would check."""
    body = msgpack.unpackb(encode(message), raw=False)
    body.update(fields)
    packed: bytes = msgpack.packb(body, use_bin_type=True)
    return packed


@pytest.mark.parametrize("rate", [1, 7_999, 48_001, 10**9])
def test_a_speech_sample_rate_outside_8_to_48_khz_is_refused_by_the_codec(rate: int) -> None:
    segment = EDGE.make(SpeechSegment, turn_id=1, pcm=b"\0\0")
    with pytest.raises(ProtocolError, match="sample_rate"):
        decode(_raw(segment, sample_rate=rate))


@pytest.mark.parametrize("rate", [8_000, 16_000, 48_000])
def test_speech_at_8_to_48_khz_is_accepted(rate: int) -> None:
    segment = EDGE.make(SpeechSegment, turn_id=1, pcm=b"\0\0", sample_rate=rate)
    decoded = decode(encode(segment))
    assert isinstance(decoded, SpeechSegment) and decoded.sample_rate == rate


def test_the_cloud_decoder_refuses_a_rate_that_did_not_come_through_the_codec() -> None:
    with pytest.raises(AudioDecodeError, match="1 Hz"):
        speech_samples("opus", b"", 1)


@pytest.mark.parametrize(
    ("width", "height"), [(16_384, 16_384), (0, 480), (8_193, 10), (5_000, 5_000)]
)
def test_a_keyframe_too_large_or_empty_is_refused_by_the_codec(width: int, height: int) -> None:
    frame = EDGE.make(Keyframe, turn_id=1, jpeg=b"\xff\xd8", width=640, height=480, captured_at=0.0)
    with pytest.raises(ProtocolError, match=r"frame|width|height"):
        decode(_raw(frame, width=width, height=height))


def test_a_4k_keyframe_is_accepted() -> None:
    frame = EDGE.make(
        Keyframe, turn_id=1, jpeg=b"\xff\xd8", width=3840, height=2160, captured_at=0.0
    )
    assert decode(encode(frame)) == frame


def test_a_16k_by_16k_video_frame_never_enters_the_edge() -> None:
    # A broadcast view: the shape of a 768 MiB frame without allocating it.
    huge = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (16_384, 16_384, 3))
    with pytest.raises(MediaError, match="16384×16384"):
        checked_frame(huge)
    assert checked_frame(np.zeros((2160, 3840, 3), np.uint8)).shape == (2160, 3840, 3)


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(15):
        while not condition():
            await asyncio.sleep(0.01)


def _conversation(reasoner: FakeReasoner | None = None) -> tuple[Conversation, list[Message]]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    models = Models(transcriber=FakeTranscriber(), reasoner=reasoner or FakeReasoner())
    return Conversation("s", models, send, config=CloudConfig()), sent


async def test_an_utterance_over_30_seconds_is_refused_and_the_next_question_answered() -> None:
    conversation, sent = _conversation()
    task = asyncio.create_task(conversation.run())
    part = bytes(MAX_SEGMENT_PART_BYTES)  # 6.25 s of 16 kHz PCM each
    refusals = [
        conversation.receive(EDGE.make(SpeechSegment, turn_id=1, pcm=part, part=i, last=False))
        for i in range(5)
    ]
    assert refusals[:4] == [None] * 4
    assert isinstance(refusals[4], Error) and refusals[4].code == "utterance_too_long"
    assert refusals[4].turn_id == 1
    # The rest of the refused utterance is dropped, not answered.
    late = conversation.receive(EDGE.make(SpeechSegment, turn_id=1, pcm=LOUD, part=5))
    assert isinstance(late, Error) and late.code == "turn_refused"

    assert conversation.receive(EDGE.make(SpeechSegment, turn_id=2, pcm=LOUD)) is None
    await until(lambda: conversation.answered >= 1)
    task.cancel()
    done = [m for m in sent if isinstance(m, AnswerDone)]
    assert [d.turn_id for d in done] == [2]


async def test_an_utterance_in_too_many_parts_is_refused() -> None:
    conversation, _ = _conversation()
    results = [
        conversation.receive(EDGE.make(SpeechSegment, turn_id=1, pcm=b"\0\0", part=i, last=False))
        for i in range(MAX_SEGMENT_PARTS)
    ]
    assert results == [None] * MAX_SEGMENT_PARTS
    with pytest.raises(ProtocolError, match="part"):
        decode(_raw(EDGE.make(SpeechSegment, turn_id=1, pcm=b"\0\0"), part=MAX_SEGMENT_PARTS))


async def test_questions_past_the_waiting_queue_get_busy_and_the_rest_are_answered() -> None:
    conversation, sent = _conversation(FakeReasoner(delay_s=0.01))
    replies = [conversation.receive(EDGE.make(Query, turn_id=t, text="hi")) for t in range(1, 8)]
    busy = [r for r in replies if isinstance(r, Error)]
    assert len(busy) == 7 - MAX_QUEUED_TURNS
    assert {r.code for r in busy} == {"busy"}
    task = asyncio.create_task(conversation.run())
    await until(lambda: conversation.answered >= MAX_QUEUED_TURNS)
    assert conversation.receive(EDGE.make(Query, turn_id=9, text="again")) is None
    await until(lambda: conversation.answered >= MAX_QUEUED_TURNS + 1)
    task.cancel()
    answered = [m.turn_id for m in sent if isinstance(m, AnswerDone)]
    assert answered == [*range(1, MAX_QUEUED_TURNS + 1), 9]


def test_questions_past_the_minute_rate_are_refused_until_the_minute_passes() -> None:
    limits = TurnLimits()
    turns: dict[int, Turn] = {}

    def ask(turn_id: int, now: float) -> str | None:
        query = EDGE.make(Query, turn_id=turn_id, text="hi")
        refusal = limits.check(query, turns, queued=0, now=now)
        return None if refusal is None else refusal.code

    codes = [ask(t, now=100.0 + t) for t in range(MAX_QUESTIONS_PER_MINUTE + 1)]
    assert codes == [None] * MAX_QUESTIONS_PER_MINUTE + ["rate_limited"]
    assert ask(500, now=170.0) is None


def test_unfinished_turns_past_the_ceiling_drop_the_oldest_with_an_error() -> None:
    conversation, _ = _conversation()
    frame = dict(jpeg=b"\xff\xd8", width=8, height=8, captured_at=0.0)
    replies = [
        conversation.receive(EDGE.make(Keyframe, turn_id=t, **frame))
        for t in range(1, MAX_OPEN_TURNS + 2)
    ]
    assert replies[:MAX_OPEN_TURNS] == [None] * MAX_OPEN_TURNS
    dropped = replies[-1]
    assert isinstance(dropped, Error) and dropped.code == "turn_dropped" and dropped.turn_id == 1


def test_opus_speech_is_decoded_only_up_to_the_utterance_ceiling() -> None:
    packets = encode_opus(np.zeros(48_000 * 33, np.int16))
    with pytest.raises(AudioDecodeError, match="30 seconds"):
        decode_opus(pack_packets(packets), 16_000)
    short = decode_opus(pack_packets(packets[:50]), 16_000)
    assert 15_000 < short.size <= 16_000


def test_a_spoken_answer_is_decoded_on_the_edge_only_up_to_the_playout_ceiling() -> None:
    # The same shared decoder: a peer's answer part cannot make the edge hold hours of audio.
    from edge.audio.answer_codec import AnswerAudioError
    from edge.audio.answer_codec import decode_opus as decode_answer
    from protocol.limits import MAX_ANSWER_PLAYOUT_S

    packets = encode_opus(np.zeros(int(16_000 * (MAX_ANSWER_PLAYOUT_S + 2)), np.int16))
    with pytest.raises(AnswerAudioError, match="runs past"):
        decode_answer(packets, 16_000)
    assert 15_000 < decode_answer(packets[:50], 16_000).size <= 16_000


async def test_a_bad_rate_over_the_real_cloud_link_gets_an_error_and_the_session_goes_on(
    tmp_path: Path,
) -> None:
    models = Models(transcriber=FakeTranscriber(), reasoner=FakeReasoner())
    cloud = CloudServer(models, CloudConfig(port=0, data_dir=tmp_path))
    async with cloud.running() as server:
        port = next(iter(server.sockets)).getsockname()[1]
        async with await connect_cloud(
            f"ws://127.0.0.1:{port}", user="alice", session_id="s", secret=cloud.gateway_secret
        ) as link:
            await link.send(encode(EDGE.make(Hello, user="alice", device="x")))
            bad = EDGE.make(SpeechSegment, turn_id=1, pcm=LOUD)
            await link.send(_raw(bad, sample_rate=1))
            await link.send(encode(EDGE.make(Query, turn_id=2, text="still there?")))
            received: list[Message] = []
            async with asyncio.timeout(15):
                while not any(isinstance(m, AnswerDone) for m in received):
                    received.append(decode(await link.recv()))
    errors = [m for m in received if isinstance(m, Error)]
    assert [e.code for e in errors] == ["bad_message"]
    assert "sample_rate" in errors[0].message
    done = [m for m in received if isinstance(m, AnswerDone)]
    assert done[0].turn_id == 2


async def _offer() -> str:
    pc = RTCPeerConnection(rtc_configuration())
    pc.createDataChannel(CONTEXT_CHANNEL)
    await pc.setLocalDescription(await pc.createOffer())
    sdp: str = pc.localDescription.sdp
    await pc.close()
    return sdp


async def test_crafted_sdp_offers_are_refused_and_free_their_session_slot() -> None:
    good = await _offer()
    crafted = [
        re.sub(r"m=application [^\r\n]*", "m=application x", good),
        good.replace("a=setup:actpass", "a=setup:bogus"),
        re.sub(r"c=IN IP4 [^\r\n]*", "c=IN", good),
    ]
    models = Models(transcriber=FakeTranscriber(), reasoner=FakeReasoner())
    async with local_stack(models) as stack, aiohttp.ClientSession() as http:
        url = stack.gateway_url + "/v1/sessions"
        for offer in crafted:
            async with http.post(url, json={"sdp": offer, "type": "offer"}) as reply:
                assert reply.status == 400
                assert "unusable SDP offer" in (await reply.json())["error"]
            assert stack.gateway.sessions == {}
        # The gateway is still up and answers the next good offer.
        async with http.post(url, json={"sdp": good, "type": "offer"}) as reply:
            assert reply.status == 200
        assert len(stack.gateway.sessions) == 1


async def test_an_answered_offer_that_never_connects_gives_its_slot_back() -> None:
    models = Models(transcriber=FakeTranscriber(), reasoner=FakeReasoner())
    async with local_stack(models) as stack, aiohttp.ClientSession() as http:
        stack.gateway.connect_deadline_s = 0.2
        offer = {"sdp": await _offer(), "type": "offer"}
        async with http.post(stack.gateway_url + "/v1/sessions", json=offer) as reply:
            assert reply.status == 200
        assert len(stack.gateway.sessions) == 1
        await until(lambda: not stack.gateway.sessions)


def test_a_users_sessions_share_one_question_rate_across_devices() -> None:
    alice = QuestionRate(MAX_USER_QUESTIONS_PER_MINUTE)
    glasses, phone = TurnLimits(user_rate=alice), TurnLimits(user_rate=alice)
    bob_phone = TurnLimits(user_rate=QuestionRate(MAX_USER_QUESTIONS_PER_MINUTE))
    turns: dict[int, Turn] = {}

    def ask(limits: TurnLimits, turn_id: int) -> str | None:
        query = EDGE.make(Query, turn_id=turn_id, text="hi")
        refusal = limits.check(query, turns, queued=0, now=100.0 + turn_id / 100)
        return None if refusal is None else refusal.text

    on_glasses = MAX_QUESTIONS_PER_MINUTE
    assert [ask(glasses, t) for t in range(on_glasses)] == [None] * on_glasses
    left = MAX_USER_QUESTIONS_PER_MINUTE - on_glasses
    assert [ask(phone, 100 + t) for t in range(left)] == [None] * left
    refused = ask(phone, 200)
    assert refused is not None and "across your devices" in refused
    assert ask(bob_phone, 300) is None
