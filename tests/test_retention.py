"""One retention setting, enforced on a schedule by the server: memories, notes, delivered
reminders, prices seen and the app's History older than the limit go; the rest stays."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cloud.config import CloudConfig
from cloud.conversation import Models
from cloud.memory import HashingEmbedder, MemoryKind, NewMemory
from cloud.memory.user_data import UserDirectory
from cloud.tools.store import PriceSeen
from deploy.local_stack import local_stack
from gateway.history import History
from tests.fakes import FakeReasoner, FakeTranscriber
from tests.waiting import until

NOW = datetime.now(UTC)
OLD = NOW - timedelta(days=10)
RECENT = NOW - timedelta(days=1)


def _keep_some_of_everything(users: UserDirectory, user: str) -> None:
    data = users.open(user)
    for when, text in ((OLD, "My locker code is 4411."), (RECENT, "My bike is blue.")):
        data.memory.add(
            user, NewMemory(text=text, time=when, kind=MemoryKind.EXPLICIT, source="test")
        )
        data.tools.add_note(f"note from {when:%d %b}", when)
        data.tools.add_price(
            PriceSeen(
                product=f"oat drink {when:%d}",
                barcode="",
                price=1.5,
                shown="£1.50",
                shop="",
                seen=when,
            )
        )
    done = data.tools.add_reminder("old call", OLD, OLD - timedelta(hours=1), "reminder")
    data.tools.mark_delivered(done.id, OLD)
    data.tools.add_reminder("dentist", NOW + timedelta(days=3), OLD, "reminder")
    data.tools.add_items(["oat milk"], OLD)


def test_tools_forget_what_is_past_but_keep_what_is_still_to_come(tmp_path: Path) -> None:
    users = UserDirectory(tmp_path, HashingEmbedder())
    _keep_some_of_everything(users, "alice")
    tools = users.open("alice").tools

    deleted = tools.forget_older_than(NOW - timedelta(days=7))

    assert deleted == 3  # the old note, the old price, the delivered reminder
    assert tools.notes() == [f"note from {RECENT:%d %b}"]
    assert [p.product for p in tools.prices()] == [f"oat drink {RECENT:%d}"]
    assert [r.text for r in tools.pending_reminders()] == ["dentist"]
    assert tools.items() == ["oat milk"]  # still to buy, however long ago it was added


async def test_the_server_sweeps_every_users_old_data_without_anyone_connecting(
    tmp_path: Path,
) -> None:
    users = UserDirectory(tmp_path / "cloud", HashingEmbedder())
    for user in ("alice", "bob"):
        _keep_some_of_everything(users, user)
    back_then = History(tmp_path / "history.sqlite", clock=lambda: OLD.timestamp())
    back_then.record_question("alice", "s1", 1, "what was my locker code?")
    history = History(tmp_path / "history.sqlite", clock=time.time)
    history.record_question("alice", "s2", 1, "what colour is my bike?")
    models = Models(transcriber=FakeTranscriber(), reasoner=FakeReasoner(), users=users)
    config = CloudConfig(data_dir=tmp_path / "cloud", retention_days=7)

    async with local_stack(models, cloud_config=config, history=history):
        for user in ("alice", "bob"):
            store = users.open(user).memory
            await until(
                lambda store=store, user=user: (
                    [m.text for m in store.export(user)] == ["My bike is blue."]
                ),
                what=f"{user}'s old memory deleted",
            )
            assert users.open(user).tools.notes() == [f"note from {RECENT:%d %b}"]
        await until(lambda: len(history.turns("alice")) == 1, what="the old History turn gone")
        assert [t.question for t in history.turns("alice")] == ["what colour is my bike?"]


async def test_without_a_retention_setting_nothing_is_deleted(tmp_path: Path) -> None:
    users = UserDirectory(tmp_path / "cloud", HashingEmbedder())
    _keep_some_of_everything(users, "alice")
    models = Models(transcriber=FakeTranscriber(), reasoner=FakeReasoner(), users=users)

    async with local_stack(models, cloud_config=CloudConfig(data_dir=tmp_path / "cloud")):
        pass

    assert len(users.open("alice").memory.export("alice")) == 2
    assert len(users.open("alice").tools.notes()) == 2
