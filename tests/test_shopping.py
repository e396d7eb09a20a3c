"""Shopping mode: products in view against the wearer's allergies, list, prices and people."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cloud.memory import HashingEmbedder, MemoryKind, NewMemory
from cloud.memory.user_data import UserData, UserDirectory
from cloud.session_settings import SessionSettings, apply_setting
from cloud.tools import parse_intent
from cloud.tools.intents import (
    CanEat,
    DoesItContain,
    ListLeft,
    OnList,
    PriceHistory,
    ShoppingMode,
    TookIt,
    TripTotal,
    WhichWouldLike,
)
from cloud.tools.shopping import (
    can_eat_answer,
    contains_answer,
    matches_item,
    parse_amount,
    people_from_facts,
    shopping_turn,
)
from cloud.tools.store import PriceSeen, ToolStore
from protocol import Control, Observation, OcrLine, Sequencer
from protocol.messages import ProductLabel

NOW = datetime(2026, 3, 12, 10, 0, tzinfo=UTC)
EDGE = Sequencer("s")
COOKIES = ProductLabel(
    name="Peanut Butter Cookies",
    brand="Hillside",
    size="200g",
    ingredients="Wheat flour, sugar, peanuts 18%, palm oil, butter (milk), salt",
    allergens=("Contains: wheat, peanuts, milk.", "May contain: tree nuts."),
)
OAT_DRINK = ProductLabel(name="Oat Drink", brand="OATLY", size="1L", price="£1.80")


def seen(
    *products: ProductLabel, lines: tuple[str, ...] = (), barcodes: tuple[str, ...] = ()
) -> Observation:
    return EDGE.make(
        Observation,
        turn_id=1,
        captured_at=0.0,
        ocr=tuple(OcrLine(text=t, score=0.9) for t in lines),
        products=products,
        barcodes=barcodes,
    )


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("I'm shopping.", ShoppingMode(True)),
        ("I'm shopping at Greenway's.", ShoppingMode(True, "Greenway's")),
        ("Shopping mode.", ShoppingMode(True)),
        ("I'm done shopping.", ShoppingMode(False)),
        ("Can I eat this?", CanEat("me")),
        ("Is this safe for my daughter?", CanEat("my daughter")),
        ("Can Amelia eat these?", CanEat("Amelia")),
        ("Is this on my list?", OnList()),
        ("I took it.", TookIt("")),
        ("I'll take the oat milk.", TookIt("oat milk")),
        ("What's left on my list?", ListLeft()),
        ("How much was this last time?", PriceHistory("")),
        ("Is this cheaper than last week?", PriceHistory("")),
        ("How much was the yogurt last time?", PriceHistory("yogurt")),
        ("Which of these would Amelia like?", WhichWouldLike("Amelia")),
        ("What's the total so far?", TripTotal()),
        ("Does this have nuts in it?", DoesItContain("nuts")),
        ("Is this vegan?", DoesItContain("vegan")),
        ("Is this dairy-free?", DoesItContain("milk")),
        ("Is there anything I'm allergic to in this?", CanEat("me")),
    ],
)
def test_shopping_requests_are_recognised(said: str, expected: object) -> None:
    assert parse_intent(said, NOW) == expected


@pytest.mark.parametrize(
    "said", ["Can I have a coffee?", "What is this?", "I got a new phone.", "Does it have a lid?"]
)
def test_questions_that_are_not_shopping_requests_are_left_alone(said: str) -> None:
    assert not isinstance(parse_intent(said, NOW), CanEat | TookIt | OnList | DoesItContain)


def test_shopping_mode_is_a_session_setting_the_app_can_switch() -> None:
    on = apply_setting(SessionSettings(), EDGE.make(Control, action="shopping", value="on"))
    off = apply_setting(on, EDGE.make(Control, action="shopping", value="off"))

    assert on.shopping and not off.shopping
    assert apply_setting(on, EDGE.make(Control, action="shopping", value="maybe")) == on


def test_remembered_facts_give_allergies_names_and_likes() -> None:
    people = people_from_facts(
        [
            "I'm allergic to peanuts.",
            "My daughter's name is Amelia.",
            "Amelia is allergic to sesame.",
            "Amelia loves dark chocolate.",
            "I'm vegan.",
        ]
    )

    assert people.about("me").allergies == ["peanuts"]
    assert people.about("me").diets == ["vegan"]
    assert people.about("my daughter").allergies == ["sesame"]
    assert [thing for thing, _ in people.about("my daughter").likes] == ["dark chocolate"]


def test_can_i_eat_this_names_the_ingredient_that_clashes() -> None:
    people = people_from_facts(["I'm allergic to peanuts."])

    answer = can_eat_answer(COOKIES, "me", people)

    assert answer.startswith("No")
    assert "peanuts" in answer and "allergic to peanuts" in answer


def test_may_contain_is_a_warning_not_a_no() -> None:
    people = people_from_facts(["Amelia is allergic to hazelnuts."])
    label = ProductLabel(
        name="Dark Chocolate",
        ingredients="Cocoa mass, sugar",
        allergens=("May contain: milk, hazelnuts.",),
    )

    answer = can_eat_answer(label, "Amelia", people)

    assert answer.startswith("Careful") and "hazelnuts" in answer


def test_a_diet_is_checked_against_the_ingredients() -> None:
    answer = can_eat_answer(COOKIES, "me", people_from_facts(["I'm vegan."]))

    assert answer.startswith("No") and "butter" in answer and "vegan" in answer


def test_a_label_that_could_not_be_read_is_said_so_rather_than_guessed() -> None:
    people = people_from_facts(["I'm allergic to peanuts."])

    assert "can't read the ingredients" in can_eat_answer(None, "me", people)
    assert "can't read the ingredients" in can_eat_answer(OAT_DRINK, "me", people)


def test_nothing_clashing_is_said_with_what_was_checked() -> None:
    people = people_from_facts(["My daughter's name is Amelia.", "Amelia is allergic to sesame."])

    answer = can_eat_answer(COOKIES, "my daughter", people)

    assert "sesame" in answer and not answer.startswith("No")


def test_coconut_is_not_a_nut() -> None:
    label = ProductLabel(ingredients="Coconut milk, water")

    answer = can_eat_answer(label, "me", people_from_facts(["I'm allergic to nuts."]))

    assert not answer.startswith("No")


@pytest.mark.parametrize(
    ("item", "product", "same"),
    [
        ("oat milk", "OATLY Oat Drink 1L", True),
        ("cookies", "Hillside Peanut Butter Cookies", True),
        ("yoghurt", "Meadow Greek Style Yogurt", True),
        ("milk", "Cocoa Co Milk Chocolate", False),
        ("eggs", "Pasta Nonna Egg Fusilli", False),
        ("bread", "OATLY Oat Drink", False),
    ],
)
def test_list_items_match_product_names_that_vary(item: str, product: str, same: bool) -> None:
    assert matches_item(item, product) is same


def test_prices_are_read_as_amounts() -> None:
    assert parse_amount("£1.80") == pytest.approx(1.8)
    assert parse_amount("99p") == pytest.approx(0.99)
    assert parse_amount("1,29 €") == pytest.approx(1.29)


@pytest.fixture
def data(tmp_path: Path) -> Iterator[UserData]:
    directory = UserDirectory(tmp_path, HashingEmbedder())
    yield directory.open("alice")
    directory.close()


def turn(
    data: UserData,
    settings: SessionSettings,
    said: str,
    view: Observation | None,
    now: datetime = NOW,
) -> tuple[SessionSettings, str | None]:
    return shopping_turn(
        settings, said, view, tools=data.tools, memory=data.memory, user="alice", now=now
    )


def test_on_my_list_then_took_it_ticks_it_off(data: UserData) -> None:
    data.tools.add_items(["oat milk", "bread"], NOW)
    settings = SessionSettings(shopping=True)

    _, on_list = turn(data, settings, "Is this on my list?", seen(OAT_DRINK))
    _, took = turn(data, settings, "I took it.", seen(OAT_DRINK))
    _, left = turn(data, settings, "What's left on my list?", None)

    assert on_list is not None and on_list.startswith("Yes, oat milk")
    assert took is not None and "Ticked off oat milk" in took and "£1.80" in took
    assert data.tools.items() == ["bread"]
    assert left == "You still need bread."


def test_running_total_adds_up_what_was_taken_on_this_trip(data: UserData) -> None:
    settings, _ = turn(data, SessionSettings(), "I'm shopping.", None)
    turn(data, settings, "I took it.", seen(OAT_DRINK))
    yogurt = ProductLabel(name="Greek Style Yogurt", price="1.45")
    turn(data, settings, "I took it.", seen(yogurt), NOW + timedelta(minutes=5))

    _, total = turn(data, settings, "What's the total so far?", None, NOW + timedelta(minutes=9))

    assert total == "So far you've taken 2 things, £3.25 in all."


def test_prices_seen_in_shopping_mode_are_remembered_with_shop_and_time(data: UserData) -> None:
    settings, said = turn(data, SessionSettings(), "I'm shopping at Greenway's.", seen(OAT_DRINK))

    assert settings.shopping and said is not None
    assert data.tools.prices() == [
        PriceSeen("OATLY Oat Drink 1L", "", 1.8, "£1.80", "Greenway's", NOW)
    ]


def test_prices_are_not_remembered_outside_shopping_mode(data: UserData) -> None:
    settings, said = turn(data, SessionSettings(), "What is this?", seen(OAT_DRINK))

    assert said is None and not settings.shopping
    assert data.tools.prices() == []


def test_a_product_question_about_a_product_in_view_turns_shopping_mode_on(data: UserData) -> None:
    settings, said = turn(data, SessionSettings(), "Can I eat this?", seen(COOKIES))

    assert settings.shopping and said is not None


def test_cheaper_than_last_time_compares_with_the_price_seen_before(data: UserData) -> None:
    settings, _ = turn(data, SessionSettings(), "I'm shopping at Greenway's.", seen(OAT_DRINK))
    later = NOW + timedelta(days=7)
    cheaper = ProductLabel(name="Oat Drink", brand="OATLY", size="1L", price="£1.50")

    _, said = turn(data, settings, "Is this cheaper than last week?", seen(cheaper), later)

    assert said is not None
    assert "£1.80" in said and "30p cheaper" in said and "Greenway's" in said


def test_price_history_by_name_without_a_product_in_view(data: UserData) -> None:
    settings, _ = turn(data, SessionSettings(shopping=True), "What's this?", seen(OAT_DRINK))

    _, said = turn(
        data, settings, "How much was the oat drink last time?", None, NOW + timedelta(hours=1)
    )

    assert said is not None and "£1.80" in said


def test_which_would_amelia_like_picks_the_product_matching_her_taste(data: UserData) -> None:
    data.memory.add(
        "alice", NewMemory(text="Amelia loves dark chocolate.", time=NOW, kind=MemoryKind.FACT)
    )
    view = seen(
        lines=("COCOA CO", "Dark Chocolate 70%", "£2.10", "COCOA CO", "Milk Chocolate", "£1.90")
    )

    _, said = turn(data, SessionSettings(), "Which of these would Amelia like?", view)

    assert said is not None and "Dark Chocolate 70%" in said and "Milk Chocolate" not in said


def test_store_gains_its_shopping_tables_on_an_old_file(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    ToolStore(path, "alice").close()
    reopened = ToolStore(path, "alice")
    reopened.add_price(PriceSeen("Tea", "", 2.0, "£2.00", "", NOW))

    assert [p.product for p in reopened.prices()] == ["Tea"]
    reopened.close()


def test_does_it_contain_answers_from_the_label_alone() -> None:
    assert contains_answer(COOKIES, "peanuts") == "Yes, it contains peanuts."
    assert contains_answer(COOKIES, "gluten") == "Yes, it contains wheat."
    assert contains_answer(COOKIES, "vegan").startswith("No, it contains butter")
    assert "may contain nuts" in contains_answer(COOKIES, "nuts")
    assert "I don't see sesame" in contains_answer(COOKIES, "sesame")
    assert "can't read the ingredients" in contains_answer(OAT_DRINK, "milk")
