"""Virtual glasses → loopback BLE link → GlassesSource → edge → WebRTC → gateway → cloud.

The wearer looks at a station sign and asks about it; the glasses' camera
and microphone reach the real models (Whisper, Qwen, the edge's OCR) only
through the Omi / OpenGlass protocol bytes, once over a clean link and once
over one that loses, duplicates and reorders notifications. The answer comes
back spoken (Piper, as Opus) to the glasses' speaker, where Whisper reads it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cloud.conversation import Models
from cloud.speech.asr import WhisperTranscriber
from cloud.speech.speaker import PiperSpeaker
from cloud.speech.spoken_answer import Voice
from companion.glasses import DeviceSpec, VirtualOptions, run_glasses
from deploy.local_stack import Stack, local_stack
from edge.audio.answer_codec import decode_opus
from edge.config import EdgeConfig
from edge.models import EdgeModels
from edge.session import TurnRecord
from firmware_bridge.loopback import LinkConditions
from firmware_bridge.omi_protocol import CodecId
from protocol import DeviceStatus, Message
from simulators.virtual_glasses import VirtualGlasses
from simulators.wer import word_error_rate
from tests.test_bridge_answer_audio import _reassembled
from tests.test_end_to_end import make_sign_photo

pytestmark = pytest.mark.models

DEMO = Path(__file__).resolve().parents[1] / "simulators" / "demo"

LOSSY = LinkConditions(
    latency_s=0.01,
    loss_probability=0.01,
    duplicate_probability=0.01,
    reorder_probability=0.02,
    seed=3,
)


@pytest.fixture(scope="module")
def edge_models() -> EdgeModels:
    return EdgeModels()


@pytest.fixture(scope="module")
async def stack(whisper, qwen) -> AsyncIterator[Stack]:  # type: ignore[no-untyped-def]
    voice = Voice(PiperSpeaker())
    async with local_stack(Models(transcriber=whisper, reasoner=qwen, voice=voice)) as running:
        yield running


@pytest.mark.parametrize(
    ("codec", "conditions"),
    [(CodecId.MULAW_16K, LinkConditions()), (CodecId.PCM16_16K, LOSSY)],
    ids=["mulaw-clean-link", "pcm-lossy-link"],
)
async def test_virtual_glasses_answer_a_spoken_question_about_a_photographed_sign(
    stack: Stack,
    edge_models: EdgeModels,
    recordings: Path,
    tmp_path: Path,
    codec: CodecId,
    conditions: LinkConditions,
    whisper: WhisperTranscriber,
) -> None:
    sign = tmp_path / "sign.jpg"
    make_sign_photo(sign, recordings / "images" / "astronaut.png")
    statuses: list[DeviceStatus] = []
    glasses: list[VirtualGlasses] = []

    def on_event(kind: str, message: Message, turn: TurnRecord | None) -> None:
        if isinstance(message, DeviceStatus):
            statuses.append(message)

    summary = await run_glasses(
        DeviceSpec("virtual", video=sign, audio=DEMO / "question-sign.wav"),
        edge_config=EdgeConfig(mode="fast"),
        edge_models=edge_models,
        gateway_url=stack.gateway_url,
        virtual=VirtualOptions(codec=codec, conditions=conditions, realtime=True),
        photo_retries=20,  # OpenGlass never resends a chunk: a lossy link costs whole photos
        on_event=on_event,
        on_virtual=glasses.append,
        speaker=True,
    )

    assert not summary.errors, summary.errors
    answered = [t for t in summary.turns if t.done is not None]
    assert len(answered) == 1, [(t.transcript, t.answer, t.errors) for t in summary.turns]
    assert "say" in (answered[0].transcript or "").lower(), answered[0].transcript
    answer = answered[0].answer.lower()
    assert "9" in answer or "nine" in answer or "brighton" in answer, answer
    # The photo was analysed on the edge; the bundled reasoner reads only text, so the
    # JPEG itself stays there and what was read goes up in the observation.
    assert summary.stats.frames_analysed >= 1
    assert summary.stats.keyframes_sent == 0
    assert answered[0].observation is not None
    assert any("PLATFORM" in line.text.upper() for line in answered[0].observation.ocr)

    events = [s.event for s in statuses]
    assert events[0] == "connected" and events[-1] == "disconnected", events
    assert all(s.device == "virtual:sign.jpg,question-sign.wav" for s in statuses)
    assert statuses[-1].photos >= 1
    if conditions.loss_probability:
        assert statuses[-1].lost_audio_packets > 0

    # The answer was spoken back to the glasses' speaker as Opus, and is the answer.
    packets = _reassembled(glasses[0].speaker_writes)
    assert packets, "nothing reached the glasses' speaker"
    heard = whisper.transcribe(decode_opus(packets, 16_000), 16_000)
    errors, words = word_error_rate(answered[0].answer, heard)
    # At most 15 % of the words, and one word of a short answer ("Brighton" → "brighten").
    assert errors <= max(1, 0.15 * words), (answered[0].answer, heard)
