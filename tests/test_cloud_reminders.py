"""A reminder set over the cloud's real websocket fires into the user's session, even a new one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection

from cloud.api.session_server import CloudServer
from cloud.config import CloudConfig
from cloud.conversation import Models
from cloud.memory import HashingEmbedder
from cloud.memory.user_data import UserDirectory
from cloud.tools.reminders import ReminderScheduler
from gateway.cloud_link import connect_cloud
from protocol import AnswerDone, Hello, Message, Notification, Query, Sequencer, decode, encode
from tests.fakes import FakeReasoner, FakeTranscriber


async def _until(connection: ClientConnection, kind: type[Message]) -> Message:
    async with asyncio.timeout(15):
        while True:
            message = decode(await connection.recv())
            if isinstance(message, kind):
                return message


async def test_reminder_fires_into_the_session_after_the_wearer_reconnects(tmp_path: Path) -> None:
    users = UserDirectory(tmp_path, HashingEmbedder())
    models = Models(transcriber=FakeTranscriber(), reasoner=FakeReasoner(), users=users)
    cloud = CloudServer(models, CloudConfig(port=0, reminder_poll_s=0.05))
    try:
        async with cloud.running() as server:
            port = next(iter(server.sockets)).getsockname()[1]
            url = f"ws://127.0.0.1:{port}"
            first = Sequencer("first")
            async with await connect_cloud(
                url, user="alice", session_id="first", secret=cloud.gateway_secret
            ) as connection:
                await connection.send(encode(first.make(Hello, user="alice", device="test")))
                await connection.send(
                    encode(first.make(Query, turn_id=1, text="Remind me to stretch in 3 seconds"))
                )
                done = await _until(connection, AnswerDone)
                assert isinstance(done, AnswerDone)
                assert done.text == "OK, I'll remind you to stretch in 3 seconds."
            # The session ends before the reminder is due; the wearer comes back later.
            second = Sequencer("second")
            async with await connect_cloud(
                url, user="alice", session_id="second", secret=cloud.gateway_secret
            ) as connection:
                await connection.send(encode(second.make(Hello, user="alice", device="test")))
                note = await _until(connection, Notification)
    finally:
        users.close()

    assert isinstance(note, Notification)
    assert note.text == "Reminder: stretch."
    assert note.session_id == "second"
    assert note.category == "reminder"


class _Heard:
    """A session that records what it was told."""

    def __init__(self) -> None:
        self.told: list[str] = []

    async def notify(self, text: str, *, category: str, ref: str, due: str) -> None:
        self.told.append(ref)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_two_workers_on_one_store_tell_each_reminder_once(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Two cloud workers, each with its own directory on the one shared store, poll at once."""
    store = request.getfixturevalue("postgres_dsn") if backend == "postgresql" else ""
    data_dir = tmp_path / "users"
    workers = [UserDirectory(data_dir, HashingEmbedder(), store=store) for _ in range(2)]
    now = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
    try:
        reminders = [
            workers[0].open("ann").tools.add_reminder(f"task {n}", now, now, "reminder")
            for n in range(5)
        ]
        workers[1].open("ann")
        session = _Heard()  # one session of ann's, which both workers can reach
        schedulers = [
            ReminderScheduler(users, lambda user: [session], clock=lambda: now) for users in workers
        ]
        sent = await asyncio.gather(*(s.deliver_due() for s in schedulers for _ in range(3)))
        again = await asyncio.gather(*(s.deliver_due() for s in schedulers))
    finally:
        for users in workers:
            users.close()
    assert sorted(session.told) == sorted(r.id for r in reminders)
    assert sum(sent) == 5 and sum(again) == 0
