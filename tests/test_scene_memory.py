"""Live scene notes (Observations with turn_id 0) become observation memories a later
question can use; nothing is answered for them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cloud.conversation import Conversation, Models
from cloud.memory import MemoryKind
from cloud.memory.user_data import UserDirectory
from protocol import AnswerDone, Label, Message, Observation, OcrLine, Query, Sequencer
from tests.fakes import FakeReasoner, FakeTranscriber
from tests.waiting import until

NOW = datetime(2026, 3, 12, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def scene_note(edge: Sequencer, *labels: tuple[str, float], text: str = "") -> Observation:
    return edge.make(
        Observation,
        turn_id=0,
        captured_at=1.0,
        labels=tuple(Label(name=n, score=s) for n, s in labels),
        ocr=(OcrLine(text=text, score=0.95),) if text else (),
    )


async def converse(
    users: UserDirectory, clock: Clock, *messages: Message, answers: int = 0, stored: int = 0
) -> list[Message]:
    """Feed messages to a fresh session; wait until it has answered `answers` turns and
    alice has `stored` memories."""
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    models = Models(transcriber=FakeTranscriber(), reasoner=FakeReasoner(), users=users)
    conversation = Conversation("live", models, send, user="alice", wall_clock=clock)
    task = asyncio.create_task(conversation.run())
    for message in messages:
        conversation.receive(message)
    await until(
        lambda: (
            conversation.answered >= answers and users.open("alice").memory.count("alice") >= stored
        )
    )
    task.cancel()
    return sent


async def test_a_scene_note_is_stored_as_an_observation_and_nothing_is_said(users) -> None:
    edge = Sequencer("live")
    sent = await converse(
        users, Clock(), scene_note(edge, ("wallet", 0.81), text="FLAT 4B"), stored=1
    )

    assert sent == []
    [memory] = users.open("alice").memory.export("alice")
    assert memory.kind == MemoryKind.OBSERVATION
    assert memory.source == "glasses"
    assert memory.text == 'The glasses saw what looked like a wallet, with the text "FLAT 4B".'


async def test_a_scene_with_nothing_made_out_is_not_stored(users) -> None:
    edge = Sequencer("live")
    # Notes are handled in order: once the second is stored, the first has been dealt with.
    await converse(
        users,
        Clock(),
        scene_note(edge, ("wallet", 0.02)),
        scene_note(edge, ("desk", 0.7)),
        stored=1,
    )
    [memory] = users.open("alice").memory.export("alice")
    assert "desk" in memory.text and "wallet" not in memory.text


async def test_where_did_i_leave_is_answered_from_a_live_scene_note(users) -> None:
    edge = Sequencer("live")
    clock = Clock()
    await converse(users, clock, scene_note(edge, ("wallet", 0.81), text="KITCHEN"), stored=1)

    clock.now += timedelta(hours=2)
    question = edge.make(Query, turn_id=1, text="Where did I leave my wallet?")
    sent = await converse(users, clock, question, answers=1)

    [done] = [m for m in sent if isinstance(m, AnswerDone)]
    assert done.text.startswith("The last time I saw your wallet was today at 10 am")
    assert "KITCHEN" in done.text


async def test_scene_notes_and_questions_keep_their_order(users) -> None:
    edge = Sequencer("live")
    sent = await converse(
        users,
        Clock(),
        scene_note(edge, ("umbrella", 0.9)),
        edge.make(Query, turn_id=1, text="Where is my umbrella?"),
        answers=1,
    )
    [done] = [m for m in sent if isinstance(m, AnswerDone)]
    assert "umbrella" in done.text and not done.text.startswith("I don't remember")


@pytest.mark.models
async def test_scene_notes_from_real_footage_answer_where_a_thing_was_seen(
    users, recordings: Path
) -> None:
    from edge.config import EdgeConfig
    from edge.models import EdgeModels
    from edge.runtime import EdgeRuntime
    from simulators.replay import replay

    edge = Sequencer("live")
    notes: list[Message] = []

    async def upstream(message: Message) -> None:
        if isinstance(message, Observation) and message.turn_id == 0:
            notes.append(message)

    models = EdgeModels()
    config = EdgeConfig(live_notes=True)
    runtime = EdgeRuntime(models.listener(config), models.analyser, edge, upstream, config=config)
    try:
        await runtime.run(replay(recordings / "video" / "bottle-detection.mp4", None))
    finally:
        analyser = models.analyser
        analyser.close()
        for stage in (analyser.faces, analyser.hands):
            close = getattr(stage, "close", None)
            if close is not None:
                close()
    print(f"\nscene notes: {notes}")
    assert notes

    clock = Clock()
    await converse(users, clock, *notes, stored=1)
    clock.now += timedelta(minutes=30)
    question = edge.make(Query, turn_id=1, text="Where is my bottle?")
    sent = await converse(users, clock, question, answers=1)

    [done] = [m for m in sent if isinstance(m, AnswerDone)]
    print(done.text)
    assert done.text.startswith("The last time I saw your bottle was today at 10 am")
