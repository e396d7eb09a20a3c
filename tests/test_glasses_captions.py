"""Glasses caption what the wearer hears and show that notes are being taken.

The wearer says "Turn on captions."; the glasses' own edge then taps what follows (a real
LibriVox reading) and sends each line's audio, and the final lines come back as Captions
(real Whisper in the cloud) before the session ends. Conversation notes turned on reach
the glasses as a `DeviceStatus` with `notes` set, for an LED.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cloud.conversation import Models
from cloud.speech.asr import Transcriber
from companion.glasses import DeviceSpec, VirtualOptions, _noting, run_glasses
from deploy.local_stack import Stack, local_stack
from edge.config import EdgeConfig
from edge.models import EdgeModels
from edge.session import TurnRecord
from firmware_bridge.device import GlassesDevice
from firmware_bridge.loopback import LoopbackLink
from protocol import Control, DeviceStatus, Message, Sequencer
from protocol.messages import Caption
from simulators.wer import word_error_rate
from tests.fakes import FakeReasoner
from tests.test_live_captions_e2e import _reference, _spoken_then_read


@pytest.fixture
async def stack(whisper: Transcriber) -> AsyncIterator[Stack]:
    async with local_stack(Models(transcriber=whisper, reasoner=FakeReasoner())) as running:
        yield running


@pytest.mark.models
async def test_glasses_told_captions_on_get_the_reading_captioned(
    stack: Stack, recordings: Path, tmp_path: Path
) -> None:
    heard = _spoken_then_read(recordings, tmp_path, "Turn on captions.")
    events: list[Message] = []
    summary = await run_glasses(
        DeviceSpec("virtual", audio=heard),
        edge_config=EdgeConfig(),
        edge_models=EdgeModels(),
        gateway_url=stack.gateway_url,
        virtual=VirtualOptions(realtime=True),
        on_event=lambda kind, message, turn: events.append(message),
    )
    assert not summary.errors, summary.errors
    switches = [(m.action, m.value) for m in events if isinstance(m, Control)]
    heard_said = [m.text for m in events if m.kind in ("transcript", "answer_done")]
    assert ("captions", "on") in switches, (switches, heard_said)
    finals = [m for m in events if isinstance(m, Caption) and m.final]
    assert finals, [m.kind for m in events]
    said = " ".join(m.text for m in finals)
    errors, words = word_error_rate(_reference(recordings), said)
    assert errors / words <= 0.3, said


async def test_notes_switched_on_and_off_reach_the_glasses_status() -> None:
    device = GlassesDevice(LoopbackLink(), name="virtual:test")
    seen: list[str] = []

    def on_event(kind: str, message: Message, turn: TurnRecord | None) -> None:
        seen.append(kind)

    notify = _noting(device, on_event)
    cloud = Sequencer("s")
    notify("control", cloud.make(Control, action="notes", value="on"), None)
    notify("control", cloud.make(Control, action="notes", value="on"), None)  # no change
    notify("control", cloud.make(Control, action="captions", value="on"), None)
    notify("control", cloud.make(Control, action="notes", value="off"), None)
    assert seen == ["control"] * 4  # the session's own listener still hears every event
    out = Sequencer("s")
    statuses: list[DeviceStatus] = [device.status(out, s) for s in device.pending()]
    assert [(s.event, s.notes) for s in statuses] == [("notes:on", True), ("notes:off", False)]
