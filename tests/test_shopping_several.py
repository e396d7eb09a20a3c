"""Several products in view: "which is cheaper?" and "which would Amelia like?" compare the
labels the edge read one by one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cloud.memory import HashingEmbedder, MemoryKind, NewMemory
from cloud.memory.user_data import UserData, UserDirectory
from cloud.session_settings import SessionSettings
from cloud.tools import parse_intent
from cloud.tools.intents import WhichCheaper
from cloud.tools.shopping import cheaper_answer, quantity, shopping_turn
from protocol import Observation, OcrLine, Sequencer
from protocol.messages import ProductLabel

NOW = datetime(2026, 3, 12, 10, 0, tzinfo=UTC)
EDGE = Sequencer("s")
DARK = ProductLabel(name="Dark Chocolate 70%", brand="COCOA CO", size="100g", price="£2.10")
MILK = ProductLabel(name="Milk Chocolate", brand="COCOA CO", size="100g", price="£1.90")


@pytest.fixture
def data(tmp_path: Path) -> Iterator[UserData]:
    users = UserDirectory(tmp_path, HashingEmbedder())
    yield users.open("alice")
    users.close()


def view(*products: ProductLabel) -> Observation:
    lines = [part for p in products for part in (p.brand, p.name, p.size, p.price) if part]
    return EDGE.make(
        Observation,
        turn_id=1,
        captured_at=0.0,
        ocr=tuple(OcrLine(text=t, score=0.9) for t in lines),
        products=products,
    )


def ask(data: UserData, question: str, seen: Observation) -> str:
    _, said = shopping_turn(
        SessionSettings(),
        question,
        seen,
        tools=data.tools,
        memory=data.memory,
        user="alice",
        now=NOW,
    )
    assert said is not None
    return said


@pytest.mark.parametrize(
    "said", ["Which is cheaper?", "Which of these is cheaper?", "Which one costs less?"]
)
def test_which_is_cheaper_is_recognised(said: str) -> None:
    assert parse_intent(said, NOW) == WhichCheaper()


def test_which_is_cheaper_names_the_cheaper_label_and_both_prices(data: UserData) -> None:
    said = ask(data, "Which is cheaper?", view(DARK, MILK))

    assert said == "The Milk Chocolate is cheaper at £1.90; the Dark Chocolate 70% is £2.10."


def test_different_sizes_are_compared_per_100_grams() -> None:
    big = ProductLabel(name="Red Lentils", size="1kg", price="£1.95")
    small = ProductLabel(name="Split Peas", size="500g", price="£1.10")

    said = cheaper_answer((small, big))

    assert said.startswith("The Red Lentils is cheaper for its size: 20p per 100g")
    assert "22p for the Split Peas" in said


def test_one_readable_price_is_said_and_not_compared() -> None:
    said = cheaper_answer((DARK, ProductLabel(name="Milk Chocolate", size="100g")))

    assert said.startswith("I can only read one price here: Dark Chocolate 70% is £2.10")


def test_sizes_are_read_as_quantities() -> None:
    assert quantity("1L") == ("ml", 1000.0)
    assert quantity("5 x 30g") == ("g", 150.0)
    assert quantity("1.5kg") == ("g", 1500.0)
    assert quantity("6 pack") is None


def test_which_would_amelia_like_chooses_among_the_labels_in_view(data: UserData) -> None:
    data.memory.add(
        "alice", NewMemory(text="Amelia loves milk chocolate.", time=NOW, kind=MemoryKind.FACT)
    )

    said = ask(data, "Which of these would Amelia like?", view(DARK, MILK))

    assert said.startswith("Amelia would probably like the Milk Chocolate:")
    assert "Dark" not in said
