"""Prices seen without a question: in shopping mode the edge's scene notes carry the
labels it read, and every price on them is remembered once, so a later "how much was
this last time?" is answered for things never asked about."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cloud.config import CloudConfig
from cloud.conversation import Conversation, Models
from cloud.memory.user_data import UserDirectory
from cloud.session_settings import SessionSettings
from cloud.tools.shopping import note_prices, record_prices
from protocol import AnswerDone, Control, Message, Observation, Query, Sequencer
from protocol.messages import ProductLabel
from tests.fakes import FakeReasoner, FakeTranscriber
from tests.waiting import until

NOW = datetime(2026, 3, 12, 10, 0, tzinfo=UTC)
EDGE = Sequencer("s")
AISLE = Path(__file__).resolve().parents[1] / "scenarios" / "media" / "shopping-aisle.mp4"
YOGURT = ProductLabel(name="Greek Style Yogurt", brand="Meadow", size="500g", price="£1.45")
JUICE = ProductLabel(name="Orange Juice", brand="Sunrise", size="1L", price="£1.60")


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def note(*products: ProductLabel, barcodes: tuple[str, ...] = ()) -> Observation:
    return EDGE.make(Observation, turn_id=0, captured_at=0.0, products=products, barcodes=barcodes)


def test_the_same_label_in_many_frames_is_one_sighting(users: UserDirectory) -> None:
    tools = users.open("alice").tools
    # OCR reads the name a little differently from frame to frame.
    blurred = ProductLabel(name="Greek Style Yogurt", brand="Meadow", price="£1.45")
    for minute, label in enumerate((YOGURT, YOGURT, blurred, YOGURT)):
        record_prices(note(label), tools, NOW + timedelta(minutes=minute))

    assert [(p.product, p.price) for p in tools.prices()] == [
        ("Meadow Greek Style Yogurt 500g", 1.45)
    ]


def test_a_new_price_or_a_later_visit_is_a_new_sighting(users: UserDirectory) -> None:
    tools = users.open("alice").tools
    record_prices(note(YOGURT), tools, NOW)
    record_prices(note(ProductLabel(name="Greek Style Yogurt", price="£1.25")), tools, NOW)
    record_prices(note(YOGURT), tools, NOW + timedelta(days=7))

    assert [p.price for p in tools.prices()] == [1.45, 1.25, 1.45]


def test_every_priced_label_in_one_frame_is_kept_with_its_own_barcode(
    users: UserDirectory,
) -> None:
    tools = users.open("alice").tools
    kept = record_prices(
        note(
            ProductLabel(
                name="Orange Juice", brand="Sunrise", price="£1.60", barcode="5012345000796"
            ),
            ProductLabel(name="Strawberry Jam", brand="Bramble", price="£1.35"),
            ProductLabel(name="Tofu Firm", ingredients="Water, soya beans"),  # no price: skipped
            barcodes=("5012345000796",),
        ),
        tools,
        NOW,
    )

    assert [(p.product, p.barcode, p.price) for p in kept] == [
        ("Sunrise Orange Juice", "5012345000796", 1.6),
        ("Bramble Strawberry Jam", "", 1.35),
    ]


def test_scene_notes_keep_no_prices_outside_shopping_mode(users: UserDirectory) -> None:
    tools = users.open("alice").tools
    assert note_prices(SessionSettings(), note(YOGURT), tools, NOW) == []
    assert tools.prices() == []


async def converse(users: UserDirectory, clock: Clock, *messages: Message) -> list[Message]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    models = Models(transcriber=FakeTranscriber(), reasoner=FakeReasoner(), users=users)
    conversation = Conversation(
        "s", models, send, config=CloudConfig(), user="alice", wall_clock=clock
    )
    task = asyncio.create_task(conversation.run())
    for count, message in enumerate(messages, start=1):  # one at a time, as frames pass
        assert conversation.receive(message) is None
        await until(lambda: conversation.turns_finished >= count)  # noqa: B023
    task.cancel()
    return sent


async def test_prices_passed_in_shopping_mode_answer_a_later_question(
    users: UserDirectory,
) -> None:
    clock = Clock()
    sent = await converse(
        users,
        clock,
        EDGE.make(Query, turn_id=1, text="I'm shopping at Tesco."),
        note(YOGURT),
        note(YOGURT),
        note(JUICE),
        note(YOGURT),
    )
    # The device was told, so it sends scene notes while the wearer walks the aisles.
    assert [(m.action, m.value) for m in sent if isinstance(m, Control)] == [("shopping", "on")]
    prices = users.open("alice").tools.prices()
    assert sorted((p.product, p.price, p.shop) for p in prices) == [
        ("Meadow Greek Style Yogurt 500g", 1.45, "Tesco"),
        ("Sunrise Orange Juice 1L", 1.6, "Tesco"),
    ]

    clock.now = NOW + timedelta(days=7)
    sent = await converse(
        users, clock, EDGE.make(Query, turn_id=1, text="How much was the orange juice last time?")
    )
    done = [m for m in sent if isinstance(m, AnswerDone)][-1]
    assert "£1.60" in done.text and "Tesco" in done.text


async def test_scene_notes_before_shopping_mode_keep_no_prices(users: UserDirectory) -> None:
    await converse(users, Clock(), note(YOGURT), EDGE.make(Query, turn_id=1, text="Hello there."))

    assert users.open("alice").tools.prices() == []


@pytest.mark.models
async def test_an_aisle_walked_in_shopping_mode_leaves_its_prices_with_the_real_edge(
    users: UserDirectory, rapid_ocr: object
) -> None:
    """The edge's real OCR, label regions and barcode reader on the aisle video of the
    shopping scenarios: told shopping is on, it sends scene notes at each new shelf,
    and the cloud keeps each tag's price once though many frames show it."""
    from edge.audio.listener import Listener
    from edge.config import EdgeConfig
    from edge.runtime import EdgeRuntime
    from edge.vision.analysis import KeyframeAnalyser
    from edge.vision.barcodes import OpenCvBarcodeReader
    from simulators.replay import replay
    from tests.test_edge_privacy import LoudnessVad
    from tests.test_vision_analysis import FakeClassifier

    aisle = AISLE
    sent: list[Message] = []

    async def to_cloud(message: Message) -> None:
        sent.append(message)

    models = Models(transcriber=FakeTranscriber(), reasoner=FakeReasoner(), users=users)
    conversation = Conversation("s", models, to_cloud, user="alice", wall_clock=Clock())
    answering = asyncio.create_task(conversation.run())
    analyser = KeyframeAnalyser(
        rapid_ocr,  # type: ignore[arg-type]
        FakeClassifier(),
        barcodes=OpenCvBarcodeReader(),
    )
    notes: list[Observation] = []

    async def upstream(message: Message) -> None:
        if isinstance(message, Observation) and message.turn_id == 0:
            notes.append(message)
            assert conversation.receive(message) is None
            # The question turn came first: each note is finished once this passes.
            await until(lambda: conversation.turns_finished >= 1 + len(notes), timeout_s=30.0)

    edge = EdgeRuntime(
        Listener(LoudnessVad()),
        analyser,
        Sequencer("s"),
        upstream,
        config=EdgeConfig(live_bytes_per_minute=100_000),
    )
    conversation.receive(EDGE.make(Query, turn_id=1, text="I'm shopping."))
    await until(lambda: any(isinstance(m, Control) for m in sent))
    [control] = [m for m in sent if isinstance(m, Control)]
    edge.control(control)

    await edge.run(replay(aisle, None, speed="max", video_fps_cap=2.0))
    analyser.close()
    answering.cancel()

    assert len(notes) == 4  # the empty shelf, then each strip of tags
    prices = users.open("alice").tools.prices()
    assert len(prices) >= 6  # of the nine tags; tilted small print costs a few
    assert len({(p.product, p.price) for p in prices}) == len(prices)  # each kept once
    peas = [p for p in prices if "peas" in p.product.lower()]
    assert [p.price for p in peas] == [1.45]


def test_last_time_looks_past_this_visits_own_sighting(users: UserDirectory) -> None:
    from cloud.tools.shopping import price_answer

    tools = users.open("alice").tools
    record_prices(note(YOGURT), tools, NOW - timedelta(days=7))
    cheaper = ProductLabel(name="Greek Style Yogurt", brand="Meadow", size="500g", price="£1.25")
    [seen_now] = record_prices(note(cheaper), tools, NOW)  # a scene note, moments before asking
    later = replace(seen_now, seen=NOW + timedelta(minutes=2))

    said = price_answer(tools.prices(), later, "", NOW + timedelta(minutes=2))

    assert "£1.45" in said and "20p cheaper" in said


async def test_the_edge_sends_scene_notes_only_while_the_cloud_says_shopping(
    recordings: Path,
) -> None:
    from tests.test_edge_privacy import BoxDetector, frames_of, runtime_with, spliced_clips

    clips = spliced_clips(recordings)  # three views with two cuts
    runtime, sent, _ = runtime_with(BoxDetector([]), live_bytes_per_minute=100_000)

    await runtime.run(frames_of(clips, fps=10.0))
    assert [m for m in sent if isinstance(m, Observation)] == []  # not shopping, not live

    runtime.control(EDGE.make(Control, action="shopping", value="on"))
    await runtime.run(frames_of(clips, fps=10.0))
    notes = [m for m in sent if isinstance(m, Observation)]
    assert len(notes) >= 3 and all(n.turn_id == 0 for n in notes)

    runtime.control(EDGE.make(Control, action="shopping", value="off"))
    sent.clear()
    await runtime.run(frames_of(clips, fps=10.0))
    assert [m for m in sent if isinstance(m, Observation)] == []


async def test_a_session_opened_during_a_trip_carries_on_shopping_until_it_is_ended(
    users: UserDirectory,
) -> None:
    clock = Clock()
    await converse(users, clock, EDGE.make(Query, turn_id=1, text="I'm shopping."))

    clock.now = NOW + timedelta(minutes=20)  # the glasses reconnected mid-trip
    sent = await converse(users, clock, note(JUICE))
    assert [(m.action, m.value) for m in sent if isinstance(m, Control)] == [("shopping", "on")]
    assert [p.product for p in users.open("alice").tools.prices()] == ["Sunrise Orange Juice 1L"]

    sent = await converse(users, clock, EDGE.make(Query, turn_id=1, text="I'm done shopping."))
    assert [(m.action, m.value) for m in sent if isinstance(m, Control)] == [
        ("shopping", "on"),
        ("shopping", "off"),
    ]
    sent = await converse(users, clock, note(YOGURT))
    assert [m for m in sent if isinstance(m, Control)] == []
    assert len(users.open("alice").tools.prices()) == 1  # the yogurt was seen after the trip


async def test_a_trip_left_on_for_hours_is_not_resumed(users: UserDirectory) -> None:
    clock = Clock()
    await converse(users, clock, EDGE.make(Query, turn_id=1, text="I'm shopping."))

    clock.now = NOW + timedelta(hours=5)
    sent = await converse(users, clock, note(JUICE))

    assert [m for m in sent if isinstance(m, Control)] == []
    assert users.open("alice").tools.prices() == []
