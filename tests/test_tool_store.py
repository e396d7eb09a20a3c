"""The tools' data kept right by both stores: the user's SQLite file and a real PostgreSQL 15.

Every test takes `tools` (or `open_tools`) and runs once per backend; what a
wearer does through the tools (test_tools.py) runs on both as well.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cloud.memory.errors import MemoryStoreError
from cloud.tools.postgres_store import PostgresTools
from cloud.tools.store import PriceSeen, TableRows, Taken, ToolStore

NOW = datetime(2026, 3, 12, 10, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=30)

OpenTools = Callable[[str], ToolStore]


@pytest.fixture(params=["sqlite", "postgresql"])
def open_tools(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenTools]:
    """Opens a user's tools' store; every store it opens in one test shares one file or
    one PostgreSQL schema, as two workers on one deployment would."""
    opened: list[ToolStore] = []
    pools: list[PostgresTools] = []

    def open_one(user: str) -> ToolStore:
        if request.param == "sqlite":
            made: ToolStore = ToolStore(tmp_path / "user.sqlite", user)
        else:
            pool = PostgresTools(request.getfixturevalue("postgres_dsn"))
            pools.append(pool)
            made = pool.store(user)
        opened.append(made)
        return made

    yield open_one
    for made in opened:
        made.close()
    for pool in pools:
        pool.close()


@pytest.fixture
def tools(open_tools: OpenTools) -> ToolStore:
    return open_tools("alice")


def price(product: str, amount: float, seen: datetime, shop: str = "Corner Shop") -> PriceSeen:
    return PriceSeen(product, "5000000000001", amount, f"£{amount:.2f}", shop, seen)


def test_reminders_come_due_in_time_order_and_are_delivered_once(tools: ToolStore) -> None:
    later = tools.add_reminder("call the dentist", NOW + timedelta(hours=2), NOW, "reminder")
    sooner = tools.add_reminder("Your timer is done.", NOW + timedelta(minutes=5), NOW, "timer")

    assert tools.pending_reminders() == [sooner, later]
    assert tools.due_reminders(NOW) == []
    assert tools.due_reminders(NOW + timedelta(hours=3)) == [sooner, later]
    tools.mark_delivered(sooner.id, NOW + timedelta(minutes=5))
    assert tools.due_reminders(NOW + timedelta(hours=3)) == [later]
    assert tools.pending_reminders() == [later]
    assert later.due == NOW + timedelta(hours=2) and later.due.tzinfo is not None


def test_a_due_reminder_is_claimed_by_exactly_one_of_many_workers(open_tools: OpenTools) -> None:
    workers = [open_tools("alice") for _ in range(4)]
    due = [
        workers[0].add_reminder(f"reminder {n}", NOW + timedelta(seconds=n), NOW, "reminder")
        for n in range(20)
    ]
    workers[0].add_reminder("not yet", NOW + timedelta(days=1), NOW, "reminder")
    claimed: list[list[str]] = [[] for _ in workers]
    start = threading.Barrier(len(workers))

    def poll(number: int) -> None:
        start.wait()
        for tick in range(25):
            moment = NOW + timedelta(seconds=tick)
            claimed[number].extend(r.id for r in workers[number].claim_due_reminders(moment))

    threads = [threading.Thread(target=poll, args=(n,)) for n in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    every_claim = [reminder_id for claims in claimed for reminder_id in claims]
    assert sorted(every_claim) == sorted(r.id for r in due)  # each one, and once
    assert [r.text for r in workers[1].pending_reminders()] == ["not yet"]


def test_notes_and_the_shopping_list_keep_their_order_and_no_item_twice(tools: ToolStore) -> None:
    tools.add_note("buy stamps", NOW)
    tools.add_note("the meeting moved to Thursday", NOW + timedelta(minutes=1))
    tools.add_items(["milk", "eggs"], NOW)
    tools.add_items(["bread", "milk"], NOW)

    assert tools.notes() == ["buy stamps", "the meeting moved to Thursday"]
    assert tools.items() == ["milk", "eggs", "bread"]
    assert tools.remove_items(["milk", "cheese"]) == 1
    assert tools.items() == ["eggs", "bread"]
    assert tools.clear_items() == 2
    assert tools.items() == []


def test_prices_trip_and_basket_come_back_as_stored(tools: ToolStore) -> None:
    tools.add_price(price("oat milk", 1.8, NOW - timedelta(days=7)))
    tools.add_price(price("oat milk", 1.65, NOW, shop="Big Market"))
    assert tools.trip() is None
    tools.start_trip(NOW - timedelta(minutes=10), shop="Big Market")
    tools.take("oat milk", 1.65, NOW - timedelta(minutes=5))
    tools.take("bread", None, NOW)

    assert tools.prices() == [
        price("oat milk", 1.65, NOW, shop="Big Market"),
        price("oat milk", 1.8, NOW - timedelta(days=7)),
    ]
    assert tools.prices(limit=1) == [price("oat milk", 1.65, NOW, shop="Big Market")]
    assert tools.trip() == (NOW - timedelta(minutes=10), "Big Market")
    assert tools.basket(NOW - timedelta(minutes=10)) == [
        Taken("oat milk", 1.65, NOW - timedelta(minutes=5)),
        Taken("bread", None, NOW),
    ]
    assert tools.basket(NOW - timedelta(minutes=1)) == [Taken("bread", None, NOW)]
    tools.start_trip(NOW + timedelta(hours=1))
    assert tools.trip() == (NOW + timedelta(hours=1), "")


def test_retention_forgets_the_old_and_keeps_what_is_still_to_come(tools: ToolStore) -> None:
    tools.add_note("old note", OLD)
    tools.add_note("new note", NOW)
    done = tools.add_reminder("old call", OLD, OLD - timedelta(hours=1), "reminder")
    tools.mark_delivered(done.id, OLD)
    tools.add_reminder("dentist", NOW + timedelta(days=3), OLD, "reminder")
    tools.add_items(["oat milk"], OLD)
    tools.add_price(price("bread", 1.2, OLD))
    tools.start_trip(OLD)
    tools.take("bread", 1.2, OLD)

    assert tools.forget_older_than(NOW - timedelta(days=7)) == 5

    assert tools.notes() == ["new note"]
    assert [r.text for r in tools.pending_reminders()] == ["dentist"]
    assert tools.items() == ["oat milk"]
    assert tools.prices() == [] and tools.trip() is None and tools.basket(OLD) == []


def test_users_never_see_each_others_tools_data(open_tools: OpenTools) -> None:
    alice, bob = open_tools("alice"), open_tools("bob")
    alice.add_items(["milk"], NOW)
    alice.add_note("alice's note", NOW)
    reminder = alice.add_reminder("alice's reminder", NOW, NOW, "reminder")
    bob.mark_delivered(reminder.id, NOW)  # another user's id changes nothing

    assert bob.items() == [] and bob.notes() == [] and bob.claim_due_reminders(NOW) == []
    assert bob.forget_older_than(NOW + timedelta(days=1)) == 0
    assert alice.due_reminders(NOW) == [reminder]
    assert [table.rows for table in bob.export_tables()] == [()] * 6


def test_an_export_imports_into_either_store_and_a_rerun_adds_nothing(
    open_tools: OpenTools, tmp_path: Path
) -> None:
    source = ToolStore(tmp_path / "source.sqlite", "alice")
    try:
        source.add_note("buy stamps", OLD)
        source.add_note("buy stamps", OLD)  # said twice: kept twice
        source.add_items(["milk", "eggs"], NOW)
        source.add_reminder("dentist", NOW + timedelta(days=3), NOW, "reminder")
        delivered = source.add_reminder("old call", OLD, OLD, "timer")
        source.mark_delivered(delivered.id, OLD)
        source.add_price(price("oat milk", 1.8, OLD))
        source.start_trip(NOW, shop="Big Market")
        source.take("bread", None, NOW)
        exported = source.export_tables()
    finally:
        source.close()
    target = open_tools("alice")
    target.add_items(["milk"], OLD)  # already on the target's list

    assert target.import_tables(exported) == 8
    assert target.import_tables(exported) == 0
    assert target.notes() == ["buy stamps", "buy stamps"]
    assert target.items() == ["milk", "eggs"]
    assert [r.text for r in target.pending_reminders()] == ["dentist"]
    assert target.prices() == [price("oat milk", 1.8, OLD)]
    assert target.trip() == (NOW, "Big Market")
    assert target.basket(NOW) == [Taken("bread", None, NOW)]
    reexported = {table.table: table.rows for table in target.export_tables()}
    assert reexported["reminders"] == next(t.rows for t in exported if t.table == "reminders")


def test_an_import_of_an_unknown_table_is_refused_and_writes_nothing(tools: ToolStore) -> None:
    notes = TableRows("notes", ("text", "created"), (("kept out", NOW),))
    bogus = TableRows("passwords", ("text",), (("secret",),))
    with pytest.raises(MemoryStoreError, match="passwords"):
        tools.import_tables([notes, bogus])
    assert tools.notes() == []
