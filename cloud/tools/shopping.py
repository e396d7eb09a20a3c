"""Shopping mode: what is in view, answered with what the assistant knows about the wearer.

The edge sends the product it read (Observation.products: name, brand,
size, price, ingredients and allergen lines; Observation.barcodes). Here it
meets the wearer's own data: allergies, diets and likes remembered for them
and the people they shop for (facts in cloud/memory, read through
`extract_facts`), the shopping list, the prices seen before and this trip's
basket (cloud/tools/store.py).

Every answer is a template filled from that data, never the model's words:
"can I eat this?" must name the ingredient that matters, and say so when the
label could not be read, rather than guess. The matching and wording are pure
functions; `shopping_turn` is the one place that touches the stores.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from difflib import SequenceMatcher

from cloud.memory.facts import extract_facts
from cloud.memory.records import MemoryKind
from cloud.memory.store import MemoryStore
from cloud.prompting.second_person import to_second_person
from cloud.prompting.spoken_time import spoken_list, spoken_moment
from cloud.session_settings import SessionSettings
from cloud.tools.intents import (
    SHOPPING_INTENTS,
    CanEat,
    DoesItContain,
    ListLeft,
    OnList,
    PriceHistory,
    ShoppingIntent,
    ShoppingMode,
    TookIt,
    TripTotal,
    WhichCheaper,
    WhichWouldLike,
    parse_intent,
)
from cloud.tools.store import PriceSeen, ToolStore
from protocol.messages import Observation, ProductLabel

_I = re.IGNORECASE
# A trip with no explicit start is the last few hours (the router turned shopping on).
TRIP_HOURS = 4
# The same product at the same price seen again this soon is one sighting, not two.
SAME_SIGHTING = timedelta(minutes=10)

# What each allergy or diet word rules out, as patterns over label text. OCR runs
# words together ("peanuts18%", "wheatflour"), so these match inside words; "nut"
# is kept from coconut, nutmeg, peanut and doughnut.
_NUTS = r"(?<!pea)(?<!coco)(?<!dough)(?<!ground)nuts?(?!meg)|almond|hazelnut|walnut|cashew|pecan|pistachio|macadamia|brazil"
_MILK = r"milk|butter(?!nut)|cream|cheese|yogh?urt|whey|casein|lactose"
_GLUTEN = r"gluten|wheat|barley|rye|spelt|semolina|durum|kamut"
_EGG = r"egg|albumen"
_FISH = r"(?<!shell)fish|anchov|salmon|tuna|cod\b|haddock|sardine"
_SHELLFISH = r"crustacean|prawn|shrimp|crab|lobster|langoustine|shellfish"
_MEAT = r"meat|beef|pork|chicken|lamb|bacon|ham\b|gelatine|gelatin"
_RULES: dict[str, str] = {
    "peanut": r"peanut|groundnut|arachis",
    "nut": _NUTS,
    "tree nut": _NUTS,
    "milk": _MILK,
    "dairy": _MILK,
    "lactose": _MILK,
    "egg": _EGG,
    "wheat": r"wheat|spelt|semolina|durum",
    "gluten": _GLUTEN,
    "soy": r"soy",
    "soya": r"soy",
    "sesame": r"sesame|tahini",
    "fish": _FISH,
    "shellfish": _SHELLFISH,
    "crustacean": _SHELLFISH,
    "mustard": r"mustard",
    "celery": r"celery|celeriac",
    "lupin": r"lupin",
    "sulphite": r"sulph|sulfite|sulfur",
    "meat": _MEAT,
    "pork": r"pork|bacon|ham\b|gelatine",
}
_DIETS: dict[str, str] = {
    "vegan": "|".join((_MILK, _EGG, _MEAT, _FISH, _SHELLFISH, "honey")),
    "vegetarian": "|".join((_MEAT, _FISH, _SHELLFISH, "rennet")),
    "pescatarian": _MEAT,
    "lactose intolerant": _MILK,
    "coeliac": _GLUTEN,
    "celiac": _GLUTEN,
    "gluten intolerant": _GLUTEN,
}
# Words a list item and a product name may use for the same thing.
_SAME = (
    frozenset({"milk", "drink"}),
    frozenset({"yogurt", "yoghurt"}),
    frozenset({"crisps", "chips"}),
    frozenset({"biscuit", "biscuits", "cookie", "cookies"}),
    frozenset({"aubergine", "eggplant"}),
    frozenset({"courgette", "zucchini"}),
    frozenset({"coriander", "cilantro"}),
)
_NOISE = frozenset(
    "a an the of and with in for to my our some any pack x g kg ml l cl oz lb style".split()
)


# -- what is remembered about people -----------------------------------------


@dataclass
class Person:
    """What is remembered about one person the wearer shops for (or the wearer, "me")."""

    allergies: list[str] = field(default_factory=list)
    diets: list[str] = field(default_factory=list)
    avoids: list[str] = field(default_factory=list)  # "I can't eat pork"
    likes: list[tuple[str, str]] = field(default_factory=list)  # (thing, the fact said)
    dislikes: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class People:
    by_key: dict[str, Person] = field(default_factory=dict)
    # "my daughter" ↔ "amelia", from "My daughter's name is Amelia."
    aliases: dict[str, set[str]] = field(default_factory=dict)

    def about(self, who: str) -> Person:
        """Everything known under any name for `who`, merged."""
        merged = Person()
        for key in self.keys_for(who):
            person = self.by_key.get(key)
            if person is None:
                continue
            merged.allergies += person.allergies
            merged.diets += person.diets
            merged.avoids += person.avoids
            merged.likes += person.likes
            merged.dislikes += person.dislikes
        return merged

    def keys_for(self, who: str) -> set[str]:
        key = _person_key(who)
        return {key, *self.aliases.get(key, set())}


_WHO = r"(?P<who>I|my [\w' -]+?|our [\w' -]+?|[A-Z][\w'-]+)"
_ALLERGIC = re.compile(
    rf"^{_WHO} (?:am|is|are) (?:(?:very|severely|also|really|quite|extremely) )?allergic to (?P<what>.+)$",
    _I,
)
_DIET = re.compile(
    rf"^{_WHO} (?:am|is|are) (?:a )?(?P<what>vegan|vegetarian|pescatarian|coeliac|celiac"
    r"|lactose intolerant|gluten intolerant)$",
    _I,
)
_AVOID = re.compile(
    rf"^{_WHO} (?:can't|cannot|can not|don't|do not|doesn't|does not|never) (?:eat|drink) (?P<what>.+)$",
    _I,
)
_LIKE = re.compile(
    rf"^{_WHO} (?:really )?(?P<verb>likes?|loves?|prefers?|enjoys?|hates?|dislikes?|can't stand)"
    r" (?P<what>.+)$",
    _I,
)
_NAMED = re.compile(r"^my (?P<who>[\w' -]+?)'s name is (?P<name>[\w' .-]+)$", _I)
_FACT_RULES = frozenset({"allergy", "diet", "about-someone", "preference", "name"})


def people_from_facts(texts: Iterable[str]) -> People:
    """Allergies, diets, likes and names in remembered facts (their canonical sentences)."""
    people = People()
    for text in texts:
        for fact in extract_facts(text):
            if fact.rule in _FACT_RULES:
                _file_fact(people, fact.text.replace("I'm ", "I am ").rstrip(" ."))
    return people


def remembered_people(memory: MemoryStore, user: str) -> People:
    """What the wearer's memories say about them and the people they shop for."""
    facts = [
        m.text
        for m in memory.export(user)
        if m.kind in (MemoryKind.FACT, MemoryKind.EXPLICIT) and not m.replaced
    ]
    return people_from_facts(facts)


def _file_fact(people: People, sentence: str) -> None:
    if match := _NAMED.match(sentence):
        relation, name = _person_key("my " + match["who"]), _person_key(match["name"])
        people.aliases.setdefault(relation, set()).add(name)
        people.aliases.setdefault(name, set()).add(relation)
        return
    for pattern in (_ALLERGIC, _DIET, _AVOID, _LIKE):
        match = pattern.match(sentence)
        if match is None:
            continue
        person = people.by_key.setdefault(_person_key(match["who"]), Person())
        what = match["what"].strip()
        if pattern is _ALLERGIC:
            person.allergies += _split_things(what)
        elif pattern is _DIET:
            person.diets.append(what.lower())
        elif pattern is _AVOID:
            person.avoids += _split_things(what)
        elif match["verb"].lower().rstrip("s") in {"hate", "dislike", "can't stand"}:
            person.dislikes += [(thing, sentence + ".") for thing in _split_things(what)]
        else:
            person.likes += [(thing, sentence + ".") for thing in _split_things(what)]
        return


def _person_key(who: str) -> str:
    who = who.strip().lower()
    if who in {"i", "me", "we", "us", ""}:
        return "me"
    return re.sub(r"^our ", "my ", who)


def _split_things(text: str) -> list[str]:
    return [t for t in (p.strip(" .") for p in re.split(r",|\band\b|\bor\b", text)) if t]


# -- the product in view ----------------------------------------------------


def product_in_view(seen: Observation | None) -> ProductLabel | None:
    """The label the edge read, or None when nothing in view looked like a product."""
    if seen is None or not seen.products:
        return None
    return seen.products[0]


def product_name(label: ProductLabel) -> str:
    return " ".join(part for part in (label.brand, label.name, label.size) if part).strip()


def parse_amount(price: str) -> float | None:
    """ "£1.80" → 1.8, "99p" → 0.99, "1,29 €" → 1.29; None when there is no amount."""
    if match := re.search(r"(?<![\d.,])(\d{1,3})p\b", price):
        return int(match[1]) / 100
    match = re.search(r"(\d{1,4})(?:[.,](\d{2}))?", price)
    if match is None:
        return None
    return int(match[1]) + (int(match[2]) / 100 if match[2] else 0.0)


def money(amount: float, like: str = "£") -> str:
    """An amount said the way the label printed its currency; pence under a pound."""
    symbol = next((ch for ch in like if ch in "£$€"), "£")
    if symbol == "£" and amount < 1:
        return f"{round(amount * 100)}p"
    return f"{symbol}{amount:.2f}"


# -- can I eat this? ----------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """A label word that matters to someone: what they avoid, and what the label says."""

    reason: str  # "allergic to peanuts", "vegan"
    found: str  # "peanuts"
    traces: bool  # only in a "may contain" line


def check_label(label: ProductLabel, person: Person) -> list[Finding]:
    """The label's ingredients and allergen lines against one person's allergies and diets."""
    definite = " ".join(
        [label.ingredients, *(line for line in label.allergens if not _is_traces(line))]
    )
    traces = " ".join(line for line in label.allergens if _is_traces(line))
    checks = [(f"allergic to {a}", _rule_for(a)) for a in person.allergies]
    checks += [(f"avoid {a}", _rule_for(a)) for a in person.avoids]
    checks += [(diet, _DIETS[diet]) for diet in person.diets if diet in _DIETS]
    findings: list[Finding] = []
    for reason, rule in checks:
        for text, is_traces in ((definite, False), (traces, True)):
            found = _found_word(rule, text)
            if found:
                findings.append(Finding(reason, found, is_traces))
                break
    return findings


def can_eat_answer(label: ProductLabel | None, who: str, people: People) -> str:
    """ "Can I eat this?" answered from the label and what is remembered, never guessed."""
    subject, be = _subject(who)
    if label is None or not (label.ingredients or label.allergens):
        return (
            "I can't read the ingredients on this label, so I can't tell whether it's safe"
            f" for {_object(who)}. Try holding the ingredients list closer to the glasses."
        )
    person = people.about(who)
    if not (person.allergies or person.diets or person.avoids):
        printed = "; ".join(label.allergens) or f"Ingredients: {label.ingredients}"
        return (
            f"I don't know of any allergies or diets for {_object(who)}. "
            f"The label says: {_clip(printed)}"
        )
    findings = check_label(label, person)
    definite = [f for f in findings if not f.traces]
    if definite:
        said = "; ".join(_finding_clause(f, subject, be) for f in definite)
        return f"No, it contains {said}."
    if findings:
        said = "; ".join(_finding_clause(f, subject, be) for f in findings)
        return f"Careful: the label says it may contain {said}."
    avoided = spoken_list([*person.allergies, *person.avoids, *person.diets])
    return (
        f"I don't see anything in the ingredients or allergy advice that clashes with"
        f" {_object(who)} ({avoided}). Check the pack to be sure."
    )


def contains_answer(label: ProductLabel | None, thing: str) -> str:
    """ "Does this have nuts in it?" / "Is this vegan?" from the label alone."""
    if label is None or not (label.ingredients or label.allergens):
        return (
            "I can't read the ingredients on this label, so I can't tell. Try holding the"
            " ingredients list closer to the glasses."
        )
    diet = thing in _DIETS
    person = Person(diets=[thing]) if diet else Person(allergies=[thing])
    findings = check_label(label, person)
    definite = [f for f in findings if not f.traces]
    if diet:
        if definite:
            return f"No, it contains {definite[0].found}, which isn't {thing}."
        if findings:
            return f"Probably, but the label says it may contain {findings[0].found}."
        return f"I don't see anything in the ingredients that isn't {thing}. Check the pack to be sure."
    if definite:
        return f"Yes, it contains {definite[0].found}."
    if findings:
        return f"Not as an ingredient, but the label says it may contain {findings[0].found}."
    return (
        f"I don't see {thing} in the ingredients or the allergy advice. Check the pack to be sure."
    )


def _finding_clause(finding: Finding, subject: str, be: str) -> str:
    if finding.reason.startswith("allergic to "):
        return f"{finding.found}, and {subject} {be} {finding.reason}"
    if finding.reason.startswith("avoid "):
        does = "don't" if subject == "you" else "doesn't"
        return f"{finding.found}, and {subject} {does} eat {finding.reason[6:]}"
    return f"{finding.found}, which isn't {finding.reason}"


def _rule_for(thing: str) -> str:
    word = thing.lower().strip()
    for key in (word, _singular(word), _singular(word.split()[-1]) if word else word):
        if key in _RULES:
            return _RULES[key]
    return re.escape(_singular(word))


def _found_word(rule: str, text: str) -> str:
    match = re.search(rule, text, _I)
    if match is None:
        return ""
    start, end = match.start(), match.end()
    while start > 0 and text[start - 1].isalpha():
        start -= 1
    while end < len(text) and text[end].isalpha():
        end += 1
    return text[start:end].lower()


def _is_traces(line: str) -> bool:
    return (
        re.match(r"\s*(?:may\s?(?:also\s?)?contain|made in|produced in|not suitable)", line, _I)
        is not None
    )


# -- is this on my list? ------------------------------------------------------


def _tokens(text: str) -> list[str]:
    words = re.findall(r"[a-z]+", text.lower())
    return [w for w in words if w not in _NOISE and len(w) > 1]


def _same_word(a: str, b: str) -> bool:
    if a == b:
        return True
    short, long = sorted((a, b), key=len)
    if len(short) >= 3 and long.startswith(short):
        return True
    if any(a in group and b in group for group in _SAME):
        return True
    return len(short) >= 5 and SequenceMatcher(None, a, b).ratio() >= 0.85


def matches_item(item: str, product: str) -> bool:
    """Whether a list item ("oat milk") names a product ("OATLY Oat Drink 1L").

    The item's main word (its last) must name the product's main word (the last
    of its name), so "milk" is not "Milk Chocolate"; and at least half of the
    item's words must appear in the product's.
    """
    wanted, seen = _tokens(item), _tokens(product)
    if not wanted or not seen:
        return False
    if not _same_word(wanted[-1], seen[-1]):
        return False
    hits = sum(any(_same_word(w, s) for s in seen) for w in wanted)
    return hits * 2 >= len(wanted)


def list_item_for(items: Sequence[str], names: Sequence[str]) -> str | None:
    """The list item that one of the names in view matches, or None."""
    for item in items:
        if any(matches_item(item, name) for name in names):
            return item
    return None


def _names_in_view(label: ProductLabel | None) -> list[str]:
    if label is None:
        return []
    names = [" ".join(p for p in (label.brand, label.name) if p), label.name]
    return [name for name in names if name.strip()]


# -- prices --------------------------------------------------------------------


def same_product(a: PriceSeen, barcode: str, name: str) -> bool:
    if a.barcode and barcode:
        return a.barcode == barcode
    mine, theirs = set(_tokens(name)), set(_tokens(a.product))
    return bool(mine) and len(mine & theirs) / len(mine | theirs) >= 0.6


def price_answer(
    history: Sequence[PriceSeen], now_price: PriceSeen | None, thing: str, now: datetime
) -> str:
    """ "How much was this last time?" from the prices seen before, newest first."""
    if now_price is not None:
        # Not this sighting itself, which this visit's scene notes kept moments ago.
        earlier = [
            p
            for p in history
            if p.seen <= now_price.seen
            and same_product(p, now_price.barcode, now_price.product)
            and not (_same_sighting(p, now_price) and now_price.seen - p.seen < SAME_SIGHTING)
        ]
    else:
        earlier = [
            p for p in history if matches_item(thing, p.product) or same_product(p, "", thing)
        ]
    if not earlier:
        what = "this" if now_price is not None else f"the {thing}"
        return f"I haven't seen a price for {what} before."
    last = earlier[0]
    where = f" at {last.shop}" if last.shop else ""
    said = (
        f"Last time, {spoken_moment(last.seen, now)}{where}, it was {money(last.price, last.shown)}"
    )
    if now_price is None:
        return said + "."
    difference = now_price.price - last.price
    here = money(now_price.price, now_price.shown)
    if abs(difference) < 0.005:
        return f"{said}: the same as here, {here}."
    cheaper = "cheaper" if difference < 0 else "dearer"
    return f"{said}; here it's {here}, so {money(abs(difference), now_price.shown)} {cheaper}."


# -- which of these would Amelia like? ------------------------------------------


def like_answer(lines: Sequence[str], who: str, people: People) -> str:
    """The product in view that best matches what is remembered about someone's tastes."""
    person = people.about(who)
    name = _display(who)
    if not person.likes and not person.dislikes:
        return (
            f"I don't know what {name} likes yet. Tell me, for example: {_example(who)} likes"
            " dark chocolate."
        )
    candidates = [_respaced(line) for line in lines if sum(ch.isalpha() for ch in line) >= 3]
    if not candidates:
        return "I can't read any product names in front of you."
    best: tuple[float, str, str] = (0.0, "", "")
    for thing, fact in person.likes:
        for line in candidates:
            score = _phrase_score(thing, line)
            if score > best[0]:
                best = (score, line, fact)
    disliked = [
        (line, fact)
        for thing, fact in person.dislikes
        for line in candidates
        if _phrase_score(thing, line) >= 1.0
    ]
    parts = []
    if best[0] >= 0.5:
        parts.append(
            f"{_capital(name)} would probably like the {best[1]}: you told me {_told(best[2])}"
        )
    if disliked:
        line, fact = disliked[0]
        parts.append(f"Not the {line}: you told me {_told(fact)}")
    if not parts:
        liked = spoken_list([thing for thing, _ in person.likes])
        return f"I don't see anything here that matches what {name} likes ({liked})."
    return " ".join(parts)


def _phrase_score(phrase: str, line: str) -> float:
    wanted = _tokens(phrase)
    squashed = re.sub(r"[^a-z]", "", line.lower())
    if not wanted:
        return 0.0
    return sum(_singular(w) in squashed for w in wanted) / len(wanted)


# -- which is cheaper? -------------------------------------------------------------


_UNIT_BASE = {"g": ("g", 1.0), "kg": ("g", 1000.0), "ml": ("ml", 1.0), "cl": ("ml", 10.0)}
_UNIT_BASE["L"] = ("ml", 1000.0)


def quantity(size: str) -> tuple[str, float] | None:
    """ "500g" → ("g", 500), "1L" → ("ml", 1000), "5 x 30g" → ("g", 150); None if unknown."""
    match = re.fullmatch(r"(?:(\d+) x )?(\d+(?:\.\d+)?)(g|kg|ml|cl|L)", size.strip())
    if match is None:
        return None
    unit, factor = _UNIT_BASE[match[3]]
    return unit, float(match[2]) * factor * (int(match[1]) if match[1] else 1)


def cheaper_answer(products: Sequence[ProductLabel]) -> str:
    """ "Which is cheaper?": the labels in view by price, per 100 g or ml where sizes differ."""
    priced = [(p, amount) for p in products if (amount := parse_amount(p.price)) is not None]
    if len(priced) < 2:
        if priced:
            label, amount = priced[0]
            return (
                f"I can only read one price here: {_shown(label)} is"
                f" {money(amount, label.price)}. Step back so I can see the other labels."
            )
        return "I can't read the prices in front of you. Hold the shelf labels up to the glasses."
    sizes = [quantity(p.size) for p, _ in priced]
    units = {size[0] for size in sizes if size is not None}
    if all(sizes) and len(units) == 1 and len({size[1] for size in sizes if size}) > 1:
        unit = units.pop()
        per = [
            (p, amount * 100 / size[1])
            for (p, amount), size in zip(priced, sizes, strict=True)
            if size
        ]
        (low, low_rate), (high, high_rate) = sorted(per, key=lambda item: item[1])[:2]
        return (
            f"The {_shown(low)} is cheaper for its size: {money(low_rate, low.price)}"
            f" per 100{unit}, against {money(high_rate, high.price)} for the {_shown(high)}."
        )
    (best_label, best), (next_label, second) = sorted(priced, key=lambda item: item[1])[:2]
    if abs(best - second) < 0.005:
        return f"They cost the same: {money(best, best_label.price)} each."
    return (
        f"The {_shown(best_label)} is cheaper at {money(best, best_label.price)}; the"
        f" {_shown(next_label)} is {money(second, next_label.price)}."
    )


def _shown(label: ProductLabel) -> str:
    return label.name or product_name(label) or "product"


# -- the turn ---------------------------------------------------------------------


def shopping_turn(
    settings: SessionSettings,
    question: str,
    seen: Observation | None,
    *,
    tools: ToolStore,
    memory: MemoryStore,
    user: str,
    now: datetime,
) -> tuple[SessionSettings, str | None]:
    """Shopping's part of a turn: the settings after it, and the answer if it was a shopping one.

    Shopping mode turns on when asked, or when a shopping question is about a
    product in view. While it is on, every price in view is remembered. A
    question that is not about shopping gets None and goes on to the model.
    """
    intent = parse_intent(question, now)
    shopping = intent if isinstance(intent, SHOPPING_INTENTS) else None
    if isinstance(shopping, ShoppingMode):
        settings = dataclasses.replace(settings, shopping=shopping.on)
        if shopping.on:
            tools.start_trip(now, shopping.shop)
            record_prices(seen, tools, now)
            where = f" at {shopping.shop}" if shopping.shop else ""
            return settings, (
                f"Shopping mode is on{where}. Ask me if something is on your list, whether"
                " you can eat it, or what it cost last time."
            )
        said = "Shopping mode is off. " + total_answer(tools, now)
        tools.end_trip()
        return settings, said
    if shopping is not None and not settings.shopping and product_in_view(seen) is not None:
        settings = dataclasses.replace(settings, shopping=True)  # the router: a product question
        if not trip_under_way(tools, now):
            tools.start_trip(now)
    if settings.shopping:
        record_prices(seen, tools, now)
    if shopping is None and settings.shopping and about_people(question):
        return settings, NOT_ABOUT_PEOPLE
    if shopping is None:
        return settings, None
    return settings, answer_shopping(shopping, seen, tools=tools, memory=memory, user=user, now=now)


def trip_under_way(tools: ToolStore, now: datetime) -> bool:
    """Whether a shopping trip started in the last `TRIP_HOURS` and was not ended: a
    session opened during it (the glasses reconnected) carries on in shopping mode."""
    trip = tools.trip()
    return trip is not None and now - trip[0] <= timedelta(hours=TRIP_HOURS)


def answer_shopping(
    intent: ShoppingIntent,
    seen: Observation | None,
    *,
    tools: ToolStore,
    memory: MemoryStore,
    user: str,
    now: datetime,
) -> str:
    """The sentence for one shopping request (cloud.tools.perform hands these here)."""
    label = product_in_view(seen)
    if isinstance(intent, CanEat):
        return can_eat_answer(label, intent.who, remembered_people(memory, user))
    if isinstance(intent, DoesItContain):
        return contains_answer(label, intent.thing)
    if isinstance(intent, OnList):
        if label is None:
            return "I can't make out a product in front of you. Hold its label up to the glasses."
        items = tools.items()
        item = list_item_for(items, _names_in_view(label))
        shown = label.name or product_name(label)
        if item is not None:
            return f"Yes, {item} is on your list. Say you took it and I'll tick it off."
        if not items:
            return "Your shopping list is empty."
        return f"No, {shown} isn't on your list. Your list has {spoken_list(items)}."
    if isinstance(intent, TookIt):
        return took_answer(intent.item, label, tools, now)
    if isinstance(intent, ListLeft):
        items = tools.items()
        return f"You still need {spoken_list(items)}." if items else "Nothing's left on your list."
    if isinstance(intent, PriceHistory):
        current = _sighting(seen, tools, now) if not intent.thing else None
        if not intent.thing and current is None:
            return "I can't read a price on what's in front of you."
        return price_answer(tools.prices(), current, intent.thing, now)
    if isinstance(intent, WhichWouldLike):
        # Several labels in view: their names; otherwise every line of text in the frame.
        named = [p.name for p in seen.products if p.name] if seen is not None else []
        lines = named if len(named) >= 2 else [line.text for line in seen.ocr] if seen else []
        return like_answer(lines, intent.who, remembered_people(memory, user))
    if isinstance(intent, WhichCheaper):
        return cheaper_answer(seen.products if seen is not None else ())
    if isinstance(intent, TripTotal):
        return total_answer(tools, now)
    assert isinstance(intent, ShoppingMode)  # the conversation handles it in shopping_turn
    return "Shopping mode is on." if intent.on else "Shopping mode is off."


def took_answer(item: str, label: ProductLabel | None, tools: ToolStore, now: datetime) -> str:
    """Tick off what was taken and add it (with its price, if seen) to the trip's basket."""
    items = tools.items()
    names = [item] if item else _names_in_view(label)
    if not names:
        return "Which one did you take? I can't make out a product in front of you."
    listed = next(
        (i for i in items if any(matches_item(i, n) or matches_item(n, i) for n in names)), None
    )
    price = parse_amount(label.price) if label is not None and label.price and not item else None
    taken = listed or item or (product_name(label) if label is not None else "it")
    tools.take(taken, price, now)
    cost = f" ({money(price, label.price if label else '£')})" if price is not None else ""
    if listed is None:
        return f"OK, {taken}{cost} is in your basket. It wasn't on your list."
    tools.remove_items([listed])
    left = len(items) - 1
    more = (
        f"{left} thing{'s' if left != 1 else ''} left on your list."
        if left
        else "That's everything on your list."
    )
    return f"Ticked off {listed}{cost}. {more}"


def total_answer(tools: ToolStore, now: datetime) -> str:
    trip = tools.trip()
    since = trip[0] if trip is not None else now - timedelta(hours=TRIP_HOURS)
    basket = tools.basket(since)
    if not basket:
        return "You haven't taken anything yet on this trip."
    priced = [t.price for t in basket if t.price is not None]
    count = f"{len(basket)} thing{'s' if len(basket) != 1 else ''}"
    unpriced = len(basket) - len(priced)
    extra = f", plus {unpriced} I didn't see a price for" if unpriced else ""
    return f"So far you've taken {count}, {money(sum(priced))} in all{extra}."


def record_prices(seen: Observation | None, tools: ToolStore, now: datetime) -> list[PriceSeen]:
    """Remember each price in view with its product, the trip's shop and the time.

    A shelf stays in view for many frames and scene notes: a product at the same
    price seen again within `SAME_SIGHTING` is the same sighting, kept once.
    Returns the sightings newly kept.
    """
    sightings = _sightings(seen, tools, now)
    if not sightings:
        return []
    recent = tools.prices_since(now - SAME_SIGHTING)
    kept: list[PriceSeen] = []
    for sighting in sightings:
        if any(_same_sighting(earlier, sighting) for earlier in (*recent, *kept)):
            continue
        tools.add_price(sighting)
        kept.append(sighting)
    return kept


def note_prices(
    settings: SessionSettings, seen: Observation | None, tools: ToolStore, now: datetime
) -> list[PriceSeen]:
    """A scene note (what the glasses saw, no question asked): in shopping mode its prices
    are remembered, so "how much was this last time?" works for things never asked about."""
    return record_prices(seen, tools, now) if settings.shopping else []


def _same_sighting(earlier: PriceSeen, sighting: PriceSeen) -> bool:
    return abs(earlier.price - sighting.price) < 0.005 and same_product(
        earlier, sighting.barcode, sighting.product
    )


def _sightings(seen: Observation | None, tools: ToolStore, now: datetime) -> list[PriceSeen]:
    """One sighting per priced product in view."""
    if seen is None:
        return []
    trip = tools.trip()
    shop = trip[1] if trip is not None else ""
    found = (_priced(label, seen, shop, now) for label in seen.products)
    return [sighting for sighting in found if sighting is not None]


def _sighting(seen: Observation | None, tools: ToolStore, now: datetime) -> PriceSeen | None:
    """The price of the product in view (the first label), if one was read."""
    label = product_in_view(seen)
    if seen is None or label is None:
        return None
    trip = tools.trip()
    return _priced(label, seen, trip[1] if trip is not None else "", now)


def _priced(label: ProductLabel, seen: Observation, shop: str, now: datetime) -> PriceSeen | None:
    """A label's price as a sighting; a frame's lone barcode belongs to a lone label."""
    alone = len(seen.products) == 1
    amount = parse_amount(label.price) if label.price else None
    name = product_name(label) or (next((line.text for line in seen.ocr), "") if alone else "")
    if amount is None or not name:
        return None
    lone_code = next((code for code in seen.barcodes if code.isdigit()), "") if alone else ""
    return PriceSeen(
        product=name,
        barcode=label.barcode or lone_code,
        price=amount,
        shown=label.price,
        shop=shop,
        seen=now,
    )


# -- other shoppers ------------------------------------------------------------------

# In a shop, the people in view are other shoppers: a question about them is answered
# with this, never by the model from the frame (the keyframe's faces are blurred too).
NOT_ABOUT_PEOPLE = (
    "I don't describe the people around you. I can help with the products in front of you."
)
_PEOPLE = re.compile(
    r"^(?:who|whose)\b"
    r"|(?<!for )\b(?:that|this|the|those|these)\s+(?:\w+\s+)?(?:man|men|woman|women|guy|guys|lady"
    r"|ladies|person|people|shoppers?|boy|girl|kids?|child|children|customers?|cashier)\b"
    r"|^(?:what|how|where|describe|tell me)\b.*\b(?:he|she|they)(?:'s|'re)?\b",
    _I,
)


def about_people(question: str) -> bool:
    """Whether a question asks about a person in view ("who is that?", "what is that
    woman wearing?"), rather than about a product or the wearer's own data."""
    return _PEOPLE.search(question.strip()) is not None


# -- words --------------------------------------------------------------------------


def _subject(who: str) -> tuple[str, str]:
    if who == "me":
        return "you", "are"
    return _display(who), "is"


def _object(who: str) -> str:
    return "you" if who == "me" else _display(who)


def _display(who: str) -> str:
    return re.sub(r"^my ", "your ", who)


def _example(who: str) -> str:
    return _capital(re.sub(r"^my ", "my ", who))


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _told(fact: str) -> str:
    """A remembered fact inside "you told me …": "My son likes X." → "your son likes X." """
    said = to_second_person(fact)
    return said[:1].lower() + said[1:] if re.match(r"(?:Your|You)\b", said) else said


def _respaced(line: str) -> str:
    """OCR's run-together words split at case and number changes ("DarkChocolate70%")."""
    line = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z]{2})(?=\d)", " ", line)
    return " ".join(line.split())


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3]
    if word.endswith("es") and len(word) > 4 and word[-3] in "sxz":
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: text.rfind(" ", 0, limit)] + " …"
