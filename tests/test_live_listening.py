"""Live captions, spoken switches and conversation notes in a cloud session (fake models).

The real-model, real-WebRTC paths are in tests/test_live_captions_e2e.py and the
browser test; here the session's rules: what is captioned when, what a spoken
switch does, what a noted conversation leaves behind.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from cloud.captions.commands import parse_switch
from cloud.config import CloudConfig
from cloud.conversation import Conversation, Models
from cloud.memory import HashingEmbedder
from cloud.memory.user_data import UserDirectory
from cloud.notes.conversation_store import ConversationStore
from protocol import AnswerDone, Control, Message, Sequencer, SpeechSegment
from protocol.messages import Caption, CaptionAudio
from tests.fakes import FakeReasoner, FakeTranscriber
from tests.waiting import until

EDGE = Sequencer("s")
LOUD = (np.sin(np.arange(16_000) / 5.0) * 8000).astype(np.int16).tobytes()


def _session(
    transcriber: FakeTranscriber, users: UserDirectory | None = None
) -> tuple[Conversation, list[Message]]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    models = Models(transcriber=transcriber, reasoner=FakeReasoner(), users=users)
    return Conversation("s", models, send, config=CloudConfig(), user="alice"), sent


def _line(line_id: int, *, final: bool) -> CaptionAudio:
    return EDGE.make(
        CaptionAudio, line_id=line_id, pcm=LOUD, final=final, speech_start=1.0, speech_end=2.0
    )


def _captions(sent: list[Message]) -> list[Caption]:
    return [m for m in sent if isinstance(m, Caption)]


@pytest.mark.parametrize(
    ("said", "action", "value"),
    [
        ("Captions on.", "captions", "on"),
        ("Please turn off captions", "captions", "off"),
        ("turn on caption", "captions", "on"),
        ("Start taking notes.", "notes", "on"),
        ("Stop taking notes!", "notes", "off"),
        ("Translate to Spanish.", "translate", "es"),
        ("Stop translating", "translate", ""),
    ],
)
def test_spoken_switches_are_recognised(said: str, action: str, value: str) -> None:
    switch = parse_switch(said)
    assert switch is not None and (switch.action, switch.value) == (action, value)


@pytest.mark.parametrize(
    "said", ["What are captions on TV?", "Translate to Klingon", "take notes of my shoe size 44"]
)
def test_questions_are_not_switches(said: str) -> None:
    assert parse_switch(said) is None


async def test_caption_audio_is_captioned_only_while_captions_are_on() -> None:
    conversation, sent = _session(FakeTranscriber("where is the station"))
    task = asyncio.create_task(conversation.run())
    try:
        conversation.receive(_line(0, final=True))
        await asyncio.sleep(0.2)
        assert _captions(sent) == []  # off by default: nothing heard is transcribed
        conversation.receive(EDGE.make(Control, action="captions", value="on"))
        conversation.receive(_line(1, final=False))
        conversation.receive(_line(1, final=True))
        await until(lambda: any(c.final for c in _captions(sent)))
        final = [c for c in _captions(sent) if c.final]
        assert [(c.line_id, c.text) for c in final] == [(1, "where is the station")]
        assert all(c.session_id == "s" for c in _captions(sent))
    finally:
        task.cancel()


async def test_a_revision_behind_its_final_text_is_not_transcribed() -> None:
    transcriber = FakeTranscriber("hello")
    conversation, sent = _session(transcriber)
    conversation.receive(EDGE.make(Control, action="captions", value="on"))
    for _ in range(3):
        conversation.receive(_line(4, final=False))
    conversation.receive(_line(4, final=True))
    task = asyncio.create_task(conversation.run())
    try:
        await until(lambda: any(c.final for c in _captions(sent)))
        await asyncio.sleep(0.1)
        # The final went first; the revisions it made stale were dropped.
        assert [c.final for c in _captions(sent)] == [True]
        assert transcriber.calls == 1
    finally:
        task.cancel()


async def test_saying_captions_on_switches_them_on_and_tells_the_device() -> None:
    transcriber = FakeTranscriber("Captions on.")
    conversation, sent = _session(transcriber)
    task = asyncio.create_task(conversation.run())
    try:
        conversation.receive(EDGE.make(SpeechSegment, turn_id=1, pcm=LOUD))
        await until(lambda: any(isinstance(m, AnswerDone) for m in sent))
        controls = [m for m in sent if isinstance(m, Control) and m.action == "captions"]
        assert [c.value for c in controls] == ["on"]
        done = next(m for m in sent if isinstance(m, AnswerDone))
        assert done.text == "Captions on."
        assert conversation.settings.captions
        # While captions are on, what is heard is captioned, not answered.
        transcriber.text = "is it going to rain"
        conversation.receive(EDGE.make(SpeechSegment, turn_id=2, pcm=LOUD))
        await until(lambda: sum(isinstance(m, AnswerDone) for m in sent) == 2)
        assert [m.text for m in sent if isinstance(m, AnswerDone)][-1] == ""
    finally:
        task.cancel()


async def test_notes_are_off_by_default_and_a_noted_conversation_is_kept(tmp_path: Path) -> None:
    said = "I'll send the budget to Priya by Friday."
    users = UserDirectory(tmp_path, HashingEmbedder())
    conversation, sent = _session(FakeTranscriber(said), users)
    task = asyncio.create_task(conversation.run())
    try:
        conversation.receive(_line(0, final=True))  # notes off: not heard at all
        conversation.receive(EDGE.make(Control, action="notes", value="on"))
        conversation.receive(_line(1, final=True))
        await until(lambda: conversation.listening.notes.taking)
        await asyncio.sleep(0.3)
        assert _captions(sent) == []  # notes alone show no captions
        conversation.receive(EDGE.make(Control, action="notes", value="off"))
        await until(lambda: conversation.listening.conversations_kept == 1)
    finally:
        task.cancel()
    store = ConversationStore.of_user(tmp_path, "alice")
    try:
        [listed] = store.recent()
        record = store.get(listed["id"])
        assert record is not None
        assert [line["text"] for line in record["lines"]] == [said]  # one line: 0 was not heard
        assert record["action_items"] and "budget" in record["action_items"][0]["what"]
    finally:
        store.close()
    memories = users.open("alice").memory.export("alice")
    assert any("budget" in m.text and m.source == "conversation notes" for m in memories)
    users.close()


async def test_the_session_ending_writes_the_conversation_being_noted(tmp_path: Path) -> None:
    users = UserDirectory(tmp_path, HashingEmbedder())
    conversation, _ = _session(FakeTranscriber("We will meet on Monday."), users)
    task = asyncio.create_task(conversation.run())
    conversation.receive(EDGE.make(Control, action="notes", value="on"))
    conversation.receive(_line(1, final=True))
    await until(lambda: bool(conversation.listening.notes._lines))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    store = ConversationStore.of_user(tmp_path, "alice")
    assert len(store.recent()) == 1
    store.close()
    users.close()


async def test_translate_to_sends_each_final_line_again_with_its_translation() -> None:
    conversation, sent = _session(FakeTranscriber("where is the station"))
    task = asyncio.create_task(conversation.run())
    try:
        conversation.receive(EDGE.make(Control, action="captions", value="on"))
        conversation.receive(EDGE.make(Control, action="translate", value="es"))
        conversation.receive(_line(2, final=True))
        await until(lambda: any(c.translation for c in _captions(sent)))
        first, translated = _captions(sent)
        assert (first.line_id, first.translation) == (2, "")
        assert translated.line_id == 2 and translated.final
        assert translated.translation_language == "es"
        assert "where is the station" in translated.translation  # the fake reasoner echoes
        assert translated.seq > first.seq
    finally:
        task.cancel()
