"""Personal memory in the conversation, with fake models and a real SQLite store per user."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cloud.config import CloudConfig
from cloud.conversation import Conversation, Models
from cloud.memory import HashingEmbedder, MemoryKind, NewMemory
from cloud.memory.user_data import UserDirectory, user_file
from cloud.tools.reminders import ReminderScheduler
from protocol import (
    AnswerDelta,
    AnswerDone,
    Error,
    Label,
    Message,
    Notification,
    Observation,
    OcrLine,
    Query,
    Sequencer,
)
from tests.fakes import FakeReasoner, FakeTranscriber
from tests.waiting import until

NOW = datetime(2026, 3, 12, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


class Session:
    """One connected session: a Conversation and what it sent."""

    def __init__(self, models: Models, user: str, clock: Clock, session_id: str = "s") -> None:
        self.sent: list[Message] = []
        self.edge = Sequencer(session_id)

        async def send(message: Message) -> None:
            self.sent.append(message)

        self.conversation = Conversation(
            session_id, models, send, config=CloudConfig(), user=user, wall_clock=clock
        )

    async def ask(self, text: str, *, turn_id: int, mode: str = "auto", **extra: object) -> str:
        task = asyncio.create_task(self.conversation.run())
        before = self.conversation.turns_finished
        self.conversation.receive(
            self.edge.make(Query, turn_id=turn_id, text=text, mode=mode, **extra)  # type: ignore[arg-type]
        )
        if "visual" in extra:
            self.conversation.receive(
                self.edge.make(
                    Observation,
                    turn_id=turn_id,
                    captured_at=0.0,
                    ocr=(OcrLine(text="FLAT 4B", score=0.9),),
                    labels=(Label(name="desk", score=0.6),),
                )
            )
        # Finished, not just answered: the turn's memories are written after AnswerDone.
        await until(lambda: self.conversation.turns_finished > before)
        task.cancel()
        done = [m for m in self.sent if isinstance(m, AnswerDone)][-1]
        return done.text


def _models(users: UserDirectory | None, reasoner: FakeReasoner | None = None) -> Models:
    return Models(transcriber=FakeTranscriber(), reasoner=reasoner or FakeReasoner(), users=users)


async def test_a_fact_told_in_one_session_reaches_the_prompt_in_a_later_one(users) -> None:
    reasoner = FakeReasoner()
    models = _models(users, reasoner)
    clock = Clock()
    await Session(models, "alice", clock, "first").ask("My sister's name is Ana.", turn_id=1)

    clock.now += timedelta(days=2)
    # Not a plain lookup (those are read back from the fact): the model gets the fact.
    await Session(models, "alice", clock, "second").ask("Is my sister Ana or Anna?", turn_id=1)

    prompt = reasoner.prompts[-1][-1].content
    assert "- (on Thursday 12 March at 10 am) Your sister's name is Ana." in prompt
    facts = [m for m in users.open("alice").memory.export("alice") if m.kind == MemoryKind.FACT]
    assert [m.text for m in facts] == ["My sister's name is Ana."]


async def test_unrelated_memories_stay_out_of_the_prompt(users) -> None:
    reasoner = FakeReasoner()
    users.open("alice").memory.add(
        "alice", NewMemory("I'm allergic to peanuts.", NOW, kind=MemoryKind.FACT)
    )
    await Session(_models(users, reasoner), "alice", Clock()).ask("What does this say?", turn_id=1)
    assert "peanuts" not in reasoner.prompts[-1][-1].content


async def test_one_user_never_sees_another_users_memories(users) -> None:
    reasoner = FakeReasoner()
    models = _models(users, reasoner)
    await Session(models, "alice", Clock(), "a").ask("My locker code is 4815.", turn_id=1)
    await Session(models, "bob", Clock(), "b").ask("What is my locker code?", turn_id=1)
    assert all("4815" not in m.content for m in reasoner.prompts[-1])


async def test_a_tool_request_is_answered_without_the_model(users) -> None:
    reasoner = FakeReasoner()
    session = Session(_models(users, reasoner), "alice", Clock())

    answer = await session.ask("Add oat milk to my shopping list", turn_id=1)

    assert answer == "Added oat milk to your shopping list."
    assert reasoner.prompts == []
    deltas = [m.text for m in session.sent if isinstance(m, AnswerDelta)]
    assert deltas == [answer]
    assert users.open("alice").tools.items() == ["oat milk"]


async def test_what_the_glasses_saw_answers_where_did_i_leave(users) -> None:
    models = _models(users)
    clock = Clock()
    session = Session(models, "alice", clock)
    await session.ask("I'm putting my keys here", turn_id=1, visual=True)
    clock.now += timedelta(hours=3)

    answer = await Session(models, "alice", clock, "later").ask(
        "Where did I leave my keys?", turn_id=1
    )

    assert answer.startswith("The last time I saw your keys was today at 10 am")
    assert "desk" in answer and "FLAT 4B" in answer


async def test_reasoning_mode_retrieves_more_and_answers_longer(users) -> None:
    reasoner = FakeReasoner()
    memory = users.open("alice").memory
    for number in range(10):
        memory.add(
            "alice",
            NewMemory(f"My cousin number {number} lives in Leeds.", NOW, kind=MemoryKind.FACT),
        )
    session = Session(_models(users, reasoner), "alice", Clock())
    await session.ask("Where do my cousins live?", turn_id=1, mode="fast")
    await session.ask("Think about it: where do my cousins live?", turn_id=2)

    fast, reasoning = (prompt[-1].content.count("Leeds") for prompt in reasoner.prompts)
    assert fast == CloudConfig().memory_k_fast
    assert reasoning == CloudConfig().memory_k_reasoning
    modes = [m.mode for m in session.sent if isinstance(m, AnswerDone)]
    assert modes == ["fast", "reasoning"]
    assert "think about it" not in reasoner.prompts[-1][-1].content.lower()


async def test_an_unreadable_store_is_reported_and_the_session_still_answers(
    tmp_path: Path,
) -> None:
    path = user_file(tmp_path, "alice")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database" * 100)
    directory = UserDirectory(tmp_path, HashingEmbedder())
    session = Session(_models(directory), "alice", Clock())

    answer = await session.ask("What does this say?", turn_id=1)

    assert answer.startswith("You asked:")
    errors = [m for m in session.sent if isinstance(m, Error)]
    assert [e.code for e in errors] == ["memory_unavailable"]
    assert str(path) in errors[0].message
    assert path.read_bytes() == b"this is not a database" * 100  # nothing was overwritten


async def test_a_reminder_fires_into_the_session_the_user_has_open_after_reconnecting(
    users,
) -> None:
    models = _models(users)
    clock = Clock()
    first = Session(models, "alice", clock, "first")
    await first.ask("Remind me to call mum in 10 minutes", turn_id=1)
    open_sessions: list[Session] = []
    scheduler = ReminderScheduler(
        users,
        lambda user: [s.conversation for s in open_sessions if s.conversation.user == user],
        clock=clock,
    )

    clock.now += timedelta(minutes=10)
    assert await scheduler.deliver_due() == 0  # nobody connected: kept for later

    second = Session(models, "alice", clock, "second")  # the wearer reconnects
    open_sessions.append(second)
    assert await scheduler.deliver_due() == 1
    assert await scheduler.deliver_due() == 0  # delivered once

    (note,) = [m for m in second.sent if isinstance(m, Notification)]
    assert note.text == "Reminder: call mum."
    assert note.session_id == "second"
    assert not [m for m in first.sent if isinstance(m, Notification)]


async def test_without_a_user_directory_the_conversation_answers_as_before() -> None:
    reasoner = FakeReasoner()
    answer = await Session(_models(None, reasoner), "alice", Clock()).ask(
        "Add milk to my shopping list", turn_id=1
    )
    assert answer.startswith("You asked:")


async def test_a_plain_statement_of_fact_is_acknowledged_without_the_model(users) -> None:
    reasoner = FakeReasoner()
    answer = await Session(_models(users, reasoner), "alice", Clock()).ask(
        "By the way, I'm allergic to peanuts.", turn_id=1
    )
    assert answer == "Got it, I'll remember that. You're allergic to peanuts."
    assert reasoner.prompts == []
    kinds = sorted(m.kind.value for m in users.open("alice").memory.export("alice"))
    assert kinds == ["episodic", "fact"]
