"""Virtual glasses → loopback BLE link → GlassesSource → edge → WebRTC → gateway → cloud.

The wearer looks at a station sign and asks about it; the glasses' camera
and microphone reach the real models (Whisper, Qwen, the edge's OCR) only
through the Omi / OpenGlass protocol bytes, once over a clean link and once
over one that loses, duplicates and reorders notifications.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cloud.conversation import Models
from companion.glasses import DeviceSpec, VirtualOptions, run_glasses
from deploy.local_stack import Stack, local_stack
from edge.config import EdgeConfig
from edge.models import EdgeModels
from edge.session import TurnRecord
from firmware_bridge.loopback import LinkConditions
from firmware_bridge.omi_protocol import CodecId
from protocol import DeviceStatus, Message
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
    async with local_stack(Models(transcriber=whisper, reasoner=qwen)) as running:
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
) -> None:
    sign = tmp_path / "sign.jpg"
    make_sign_photo(sign, recordings / "images" / "astronaut.png")
    statuses: list[DeviceStatus] = []

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
