"""Local-only captions and notes stay on the device (issue 19, item 4).

In local-only mode nothing may leave the device, so the edge's caption tap hands each
line to the device's own captioner (deploy/local_listening.py): the bundled Whisper on
this machine captions it (other languages in English), the captions reach the wearer as
local answers do, and notes are kept in the local data folder. Real Whisper, real
recordings; a gateway runs only because the edge session keeps its link (nothing of the
conversation goes over it, which the first test counts).
"""

from __future__ import annotations

import io
import json
import stat
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, cast

import numpy as np
import pytest

from cloud.conversation import Models
from cloud.memory import HashingEmbedder
from cloud.memory.sqlite_store import SqliteMemoryStore
from cloud.memory.user_data import user_file
from cloud.notes.conversation_store import ConversationStore
from cloud.speech.asr import HeardSpeech, Transcriber
from companion.glasses import DeviceSpec, VirtualOptions, run_glasses
from deploy.local_listening import LocalListening
from deploy.local_stack import Stack, local_stack
from edge.audio.caption_tap import TapState
from edge.config import EdgeConfig
from edge.link.client import GatewayClient
from edge.link.interface import Link
from edge.models import EdgeModels
from edge.runtime import EdgeStats
from edge.session import EdgeSession, SessionSummary, TurnRecord
from protocol import AnswerDone, Control, DeviceStatus, Message, Sequencer
from protocol.messages import Caption, CaptionAudio
from simulators.caption_replay import has_key_words
from simulators.replay import replay
from simulators.stack_replay import Printer
from tests.fakes import FakeReasoner, FakeTranscriber

LOCAL_ONLY = EdgeConfig(privacy="local-only")


@pytest.fixture
async def stack(whisper: Transcriber) -> AsyncIterator[Stack]:
    async with local_stack(Models(transcriber=whisper, reasoner=FakeReasoner())) as running:
        yield running


class CountingLink(GatewayClient):
    """The real link, counting what the edge sends upstream by kind."""

    sent: ClassVar[Counter[str]] = Counter()

    async def send(self, message: Message) -> None:
        CountingLink.sent[message.kind] += 1
        await super().send(message)


def _counting(gateway_url: str) -> Link:
    return cast(Link, CountingLink(gateway_url))


def _private(folder: Path) -> list[str]:
    """Every path under `folder` (and itself) that is not owner-only."""
    loose = []
    for path in [folder, *folder.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode != (0o700 if path.is_dir() else 0o600):
            loose.append(f"{path}: {mode:o}")
    return loose


@pytest.mark.models
async def test_local_only_notes_of_a_real_conversation_are_kept_on_the_device(
    stack: Stack, whisper: Any, minilm: Any, recordings: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    here = LocalListening(whisper, data_dir=data, user="alice", embedder=lambda: minilm)
    config = EdgeConfig(privacy="local-only", gateway_url=stack.gateway_url)
    models = EdgeModels()
    CountingLink.sent = Counter()
    session = EdgeSession(
        models.listener(config),
        None,
        config,
        connect=_counting,
        caption_listener=models.caption_listener(config),
        on_device=here,
        listen=TapState(captions=True, notes=True),
    )
    events: list[Message] = []
    audio = recordings / "conversations" / "planning-budget.wav"
    summary = await session.run(
        replay(None, audio, speed="max"), on_event=lambda kind, m, turn: events.append(m)
    )
    assert not summary.errors, summary.errors

    # Nothing of what was said went upstream: no caption audio, no speech, no question.
    assert session.captions is not None
    assert session.captions.lines_sent == 0 and session.captions.lines_local >= 4
    upstream = dict(CountingLink.sent)
    assert not {"caption_audio", "speech_segment", "query"} & upstream.keys(), upstream
    assert set(upstream) <= {"hello", "device_status", "ack"}, upstream

    finals = [m for m in events if isinstance(m, Caption) and m.final]
    said = " ".join(m.text for m in finals).lower()
    assert "budget" in said and "monday" in said, said

    # The record and its memories are in the local data folder, owner-only.
    assert len(here.conversations_kept) == 1
    notes = here.conversations_kept[0].notes
    assert len(notes.speakers) >= 1 and len(notes.lines) >= 4
    items = [f"{item.who} will {item.what} {item.when}".lower() for item in notes.action_items]
    assert any("budget" in item for item in items), items
    assert any("room" in item for item in items), items
    conversations = ConversationStore.of_user(data, "alice")
    try:
        [record] = conversations.recent()
        stored = conversations.get(record["id"])
    finally:
        conversations.close()
    assert stored is not None and stored["action_items"] and stored["summary"]
    with SqliteMemoryStore(user_file(data, "alice"), minilm) as memories:
        kept = memories.export("alice")
    assert [m for m in kept if m.source_id == record["id"] and "Action item" in m.text]
    assert any("budget" in m.text.lower() for m in kept), [m.text for m in kept]
    assert _private(data) == []


@pytest.mark.models
async def test_local_only_glasses_caption_french_in_english_and_light_the_notes_led(
    stack: Stack, whisper: Any, recordings: Path, tmp_path: Path
) -> None:
    folder = recordings / "conversations" / "translation-real"
    # A real French voice Whisper base understands (as in tests/test_translation.py).
    name = "fr-conf-invalid.wav"
    clip = next(c for c in json.loads((folder / "clips.json").read_text()) if c["file"] == name)
    here = LocalListening(whisper, data_dir=tmp_path / "data", user="bob", embedder=HashingEmbedder)
    events: list[Message] = []
    summary = await run_glasses(
        DeviceSpec("virtual", audio=folder / clip["file"]),
        edge_config=LOCAL_ONLY,
        edge_models=EdgeModels(),
        gateway_url=stack.gateway_url,
        virtual=VirtualOptions(realtime=False),
        on_event=lambda kind, m, turn: events.append(m),
        listening_here=here,
        listen=TapState(captions=True, notes=True),
    )
    assert not summary.errors, summary.errors
    finals = [m for m in events if isinstance(m, Caption) and m.final]
    assert finals, [m.kind for m in events]
    assert all(m.language == "fr" and m.translated for m in finals), finals
    english = " ".join(m.text for m in finals)
    assert has_key_words(english, clip["english_keys"]), english
    # The glasses were told notes are on (their LED), by a status that left the device.
    assert any(isinstance(m, DeviceStatus) and m.notes for m in events)
    assert not any(isinstance(m, CaptionAudio) for m in events)
    assert len(here.conversations_kept) == 1  # noted here, at the session's end


def _no_embedder() -> Any:
    raise AssertionError("no memory model is needed for this test")


class _Said:
    """A transcriber that hears the same words in every line (no model)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def transcribe_into_english(self, samples: Any, sample_rate: int, **_: Any) -> HeardSpeech:
        return HeardSpeech(self.text, "en", 1.0, translated=False)


async def test_stop_taking_notes_said_on_the_device_is_a_switch_not_a_note(
    tmp_path: Path,
) -> None:
    here = LocalListening(
        _Said("Stop taking notes."), data_dir=tmp_path, user="c", embedder=_no_embedder
    )
    switched: list[tuple[str, bool]] = []
    shown: list[Caption] = []

    async def show(caption: Caption) -> None:
        shown.append(caption)

    here.switch(captions=True, notes=True)
    line = Sequencer("s").make(
        CaptionAudio,
        line_id=1,
        pcm=(np.sin(np.arange(16_000) / 5.0) * 8000).astype(np.int16).tobytes(),
        final=True,
        speech_start=1.0,
        speech_end=2.0,
    )
    async with here.alongside(show, lambda action, on: switched.append((action, on))):
        here.receive(line)
        await here.live.drain()
    assert switched == [("notes", False)]
    assert [c.text for c in shown] == ["Stop taking notes."]
    assert here.conversations_kept == []  # the switch itself was not noted


async def test_start_taking_notes_asked_of_the_device_in_local_only_turns_notes_on(
    recordings: Path, tmp_path: Path
) -> None:
    # Nothing was on from the start: the wearer asks, the device understands it itself
    # (Whisper here is a stand-in that hears the request), turns notes on, says so, and
    # the notes LED is told; nothing of it goes upstream.
    here = LocalListening(
        _Said("Start taking notes."), data_dir=tmp_path, user="d", embedder=_no_embedder
    )
    config = EdgeConfig(privacy="local-only")
    async with local_stack(Models(transcriber=FakeTranscriber(), reasoner=FakeReasoner())) as up:
        models = EdgeModels()
        CountingLink.sent = Counter()
        session = EdgeSession(
            models.listener(config),
            None,
            replace(config, gateway_url=up.gateway_url),
            connect=_counting,
            caption_listener=models.caption_listener(config),
            on_device=here,
        )
        events: list[Message] = []
        summary = await session.run(
            replay(None, recordings / "speech" / "librivox-0870.wav", speed="max"),
            on_event=lambda kind, m, turn: events.append(m),
        )
    assert not summary.errors, summary.errors
    answers = [t.answer for t in summary.turns if t.done is not None]
    assert answers and answers[0].startswith("Taking notes"), answers
    assert session.captions is not None and session.captions.state.notes
    assert any(isinstance(m, Control) and (m.action, m.value) == ("notes", "on") for m in events)
    assert set(CountingLink.sent) <= {"hello", "device_status", "ack"}, CountingLink.sent


async def test_only_a_captions_or_notes_switch_is_a_command_on_the_device(
    tmp_path: Path,
) -> None:
    # Anything else is a question, answered from the camera as local-only answers are.
    here = LocalListening(
        _Said("What does this sign say?"), data_dir=tmp_path, user="e", embedder=_no_embedder
    )
    switch = await here.command(np.zeros(16_000, dtype=np.int16))
    assert switch is None
    here = LocalListening(_Said("Captions on."), data_dir=tmp_path, user="e", embedder=_no_embedder)
    switch = await here.command(np.zeros(16_000, dtype=np.int16))
    assert switch is not None and (switch.action, switch.on) == ("captions", True)


def test_answers_made_on_the_device_are_printed_and_speech_heard_is_not_no_speech() -> None:
    out = io.StringIO()
    printer = Printer(as_json=False, out=out)
    made = Sequencer("on-device")
    said = made.make(AnswerDone, turn_id=1, text="Taking notes of this conversation.", mode="local")
    heard = made.make(AnswerDone, turn_id=2, text="", mode="local")
    printer("answer", said, TurnRecord(1))
    printer("answer", heard, TurnRecord(2))  # conversation heard while listening: not printed
    printer.summary(
        SessionSummary(
            turns=[TurnRecord(1), TurnRecord(2)],
            stats=EdgeStats(local_answers=2),
            bytes_upstream=0,
            messages_upstream=0,
            errors=[],
        )
    )
    lines = out.getvalue().splitlines()
    assert lines[0] == "Answer:  Taking notes of this conversation. (on the device)"
    assert not any("Latency" in line or "No speech heard" in line for line in lines), lines
