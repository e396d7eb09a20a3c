"""Requests for a tool, recognised in plain words without a model.

Each pattern is one common way of asking, anchored at both ends after polite
filler is removed, so a question that merely mentions a list or a time is not
taken for a command: precision first, since a wrongly set reminder is worse
than a request answered by the model instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from cloud.tools.when import CLOCK, DURATION, WHEN, parse_duration, parse_when


@dataclass(frozen=True)
class SetReminder:
    what: str
    due: datetime | None  # None: the time was not understood, so ask for it


@dataclass(frozen=True)
class ListReminders:
    pass


@dataclass(frozen=True)
class SetTimer:
    duration: timedelta


@dataclass(frozen=True)
class AddNote:
    text: str


@dataclass(frozen=True)
class ListNotes:
    pass


@dataclass(frozen=True)
class AddToList:
    items: tuple[str, ...]


@dataclass(frozen=True)
class RemoveFromList:
    items: tuple[str, ...]


@dataclass(frozen=True)
class ReadList:
    pass


@dataclass(frozen=True)
class ClearList:
    pass


@dataclass(frozen=True)
class FindThing:
    thing: str  # "keys", "car", "blue umbrella"


@dataclass(frozen=True)
class Remember:
    text: str  # the whole request, for the fact extractor


# Shopping (cloud/tools/shopping.py): about the product in view, the list, prices, the trip.


@dataclass(frozen=True)
class ShoppingMode:
    on: bool
    shop: str = ""  # "I'm shopping at Greenway's"


@dataclass(frozen=True)
class CanEat:
    who: str  # "me", "my daughter", "Amelia"


@dataclass(frozen=True)
class DoesItContain:
    thing: str  # "nuts", "gluten"; or a diet: "vegan"


@dataclass(frozen=True)
class OnList:
    pass


@dataclass(frozen=True)
class TookIt:
    item: str = ""  # "" : the product in view


@dataclass(frozen=True)
class ListLeft:
    pass


@dataclass(frozen=True)
class PriceHistory:
    thing: str = ""  # "" : the product in view


@dataclass(frozen=True)
class WhichWouldLike:
    who: str


@dataclass(frozen=True)
class TripTotal:
    pass


@dataclass(frozen=True)
class WhichCheaper:
    """ "Which is cheaper?" among the products in view."""


ShoppingIntent = (
    ShoppingMode
    | CanEat
    | DoesItContain
    | OnList
    | TookIt
    | ListLeft
    | PriceHistory
    | WhichWouldLike
    | TripTotal
    | WhichCheaper
)
SHOPPING_INTENTS = (
    ShoppingMode,
    CanEat,
    DoesItContain,
    OnList,
    TookIt,
    ListLeft,
    PriceHistory,
    WhichWouldLike,
    TripTotal,
    WhichCheaper,
)

Intent = (
    SetReminder
    | ListReminders
    | SetTimer
    | AddNote
    | ListNotes
    | AddToList
    | RemoveFromList
    | ReadList
    | ClearList
    | FindThing
    | Remember
    | ShoppingIntent
)

_I = re.IGNORECASE
_FILLER = re.compile(
    r"^(?:(?:hey|hi|ok|okay|so|um+|uh+|companion|please|can you|could you|would you|will you"
    r"|i want you to|i'd like you to)\b[\s,]*)+",
    _I,
)
_LIST = r"(?:my |the |our )?(?:shopping|grocery|groceries) list"
_REMINDER_WHAT = r"(?:to |that |about )?(?P<what>.+?)"
_REMINDER = (
    re.compile(rf"^remind me {_REMINDER_WHAT},? (?P<when>{WHEN})$", _I),
    re.compile(rf"^remind me (?P<when>{WHEN}),? {_REMINDER_WHAT}$", _I),
    re.compile(
        rf"^(?:set|add|create) a reminder (?:for )?(?P<when>{WHEN}),? {_REMINDER_WHAT}$", _I
    ),
    re.compile(rf"^(?:set|add|create) a reminder {_REMINDER_WHAT},? (?P<when>{WHEN})$", _I),
)
_REMINDER_NO_TIME = re.compile(
    r"^(?:remind me|set a reminder) (?:to |that |about )?(?P<what>.+)$", _I
)
# "Remind me what my dress size is", "remind me where I parked": a question about what
# was stored, whatever time it mentions ("remind me what I did on Saturday").
_RECALL_QUESTION = re.compile(
    r"^remind me (?:again )?(?:what|what's|whats|who|who's|whos|whom|where|where's|wheres"
    r"|when|when's|which|how|whether|if)\b",
    _I,
)
# "Remind me of my dress size": a question too, unless it also says when to remind
# ("remind me of the dentist tomorrow at 9" is a reminder, matched before this).
_RECALL_OF = re.compile(r"^remind me (?:again )?of\b", _I)
_TIMER = (
    re.compile(rf"^(?:set|start) (?:a |the |an )?timer (?:for )?(?P<d>{DURATION})$", _I),
    re.compile(rf"^(?:set|start) (?:a |an )?(?P<d>{DURATION}) timer$", _I),
    re.compile(rf"^timer (?:for )?(?P<d>{DURATION})$", _I),
    re.compile(rf"^(?:set|start) (?:a |the )?timer (?:for )?(?P<d>{CLOCK}) minutes?$", _I),
)
_NOTE = re.compile(
    r"^(?:take|make|write|add) (?:down )?(?:a |another )?note(?: that| saying|:)?\s*(?P<text>.+)$",
    _I,
)
_NOTE_SHORT = re.compile(r"^note(?: down)?(?: that)?:?\s+(?P<text>.+)$", _I)
_LIST_NOTES = re.compile(
    r"^(?:what are|what's in|read|read me|show|show me|list) (?:all )?my notes$", _I
)
_ADD_ITEMS = re.compile(rf"^(?:add|put) (?P<items>.+?) (?:to|on|onto) {_LIST}$", _I)
_REMOVE_ITEMS = re.compile(
    rf"^(?:remove|take|delete|cross) (?P<items>.+?) (?:from|off)(?: of)? {_LIST}$", _I
)
_READ_LIST = re.compile(
    rf"^(?:what's|what is|whats|what do i have|what have i got|read|read me|show|show me|list)"
    rf" (?:on |in )?{_LIST}$",
    _I,
)
_CLEAR_LIST = re.compile(rf"^(?:clear|empty|delete) {_LIST}$", _I)
_LIST_REMINDERS = re.compile(
    r"^(?:what are my reminders|what reminders do i have|list my reminders|read my reminders"
    r"|show my reminders)$",
    _I,
)
_FIND = (
    re.compile(
        r"^where (?:did i|have i|i) (?:leave|left|put|park|parked|place|placed|drop|dropped|hang"
        r"|hung|keep|kept|store|stored|hide|hid)(?: (?P<thing>.+?))?$",
        _I,
    ),
    re.compile(r"^where(?: is|'s| are|'re) (?P<thing>(?:my|our) .+?)(?: now)?$", _I),
    re.compile(r"^(?:have you|did you) seen? (?P<thing>(?:my|our) .+)$", _I),
)
_REMEMBER = re.compile(
    r"^(?:remember|don't forget|do not forget|keep in mind)(?: that)?,?\s+(?P<text>.+)$", _I
)
_THIS = r"(?:this|that|these|those|it|them|this one|that one)"
_WHO = r"(?P<who>i|we|me|us|(?:my|our) [\w' -]+?|[a-z][\w'-]+)"
_SHOPPING_ON = (
    re.compile(
        r"^(?:i'm|i am|im|we're|we are) (?:doing (?:the|some|my|our) )?shopping"
        r"(?: (?:at|in) (?P<shop>.+))?$",
        _I,
    ),
    re.compile(
        r"^(?:(?:start|turn on|switch on|enable|begin|enter|go into|use) )?"
        r"(?:the )?shopping mode(?: on)?$",
        _I,
    ),
)
_SHOPPING_OFF = re.compile(
    r"^(?:(?:stop|end|turn off|switch off|exit|leave|disable|quit) (?:the )?shopping mode"
    r"|shopping mode off|(?:i'm|i am|im|we're|we are) (?:done|finished) shopping"
    r"|(?:i've|i have|we've|we have) finished (?:the )?shopping|done shopping)$",
    _I,
)
_CAN_EAT = (
    re.compile(
        rf"^(?:can|could|may|should) {_WHO} (?:safely )?(?:eat|have|drink|try) {_THIS}$", _I
    ),
    re.compile(
        rf"^(?:is|are) {_THIS} (?:safe|ok|okay|alright|all right|fine)"
        rf"(?: to (?:eat|have|drink))?(?: for {_WHO})?(?: to (?:eat|have|drink))?$",
        _I,
    ),
    re.compile(rf"^is there anything (?:i'm|i am|we're) allergic to in {_THIS}$", _I),
    re.compile(
        rf"^(?:does|do|is there anything in) {_THIS} (?:have|contain)? ?anything "
        rf"(?:{_WHO} (?:is|are|am)|i'm|we're) allergic to$",
        _I,
    ),
)
# What "does this contain …?" may ask about: allergens, diets and a few things people avoid.
_FOOD = (
    r"(?P<thing>(?:tree )?nuts?|peanuts?|almonds?|hazelnuts?|walnuts?|cashews?|milk|dairy|lactose"
    r"|eggs?|wheat|gluten|soy|soya|sesame|fish|shellfish|crustaceans?|prawns?|mustard|celery"
    r"|lupin|sulphites?|meat|pork|gelatine|honey|alcohol|palm oil)"
)
_CONTAINS = (
    re.compile(
        rf"^(?:does|do) {_THIS} (?:have|contain|include) (?:any )?{_FOOD}(?: in (?:it|them))?$", _I
    ),
    re.compile(rf"^(?:is|are) there (?:any )?{_FOOD} in {_THIS}$", _I),
    re.compile(rf"^(?:is|are) {_THIS} (?P<thing>vegan|vegetarian|pescatarian)$", _I),
    re.compile(rf"^(?:is|are) {_THIS} (?P<free>gluten|dairy|nut|milk|egg)[ -]free$", _I),
)
_FREE_OF = {"gluten": "gluten", "dairy": "milk", "milk": "milk", "nut": "nuts", "egg": "eggs"}
_ON_LIST = (
    re.compile(rf"^(?:is|are) {_THIS} on (?:my|the|our) (?:shopping |grocery )?list$", _I),
    re.compile(rf"^do (?:i|we) need {_THIS}$", _I),
)
_TOOK = re.compile(
    r"^(?:i(?:'ve| have)? (?:took|taken|got|grabbed|picked up|put)|i'm taking|i am taking"
    r"|i'll take|i will take|i'm getting|i'll get|tick|check|cross)"
    r" (?P<item>it|this|that|these|them|this one|that one|(?:the|some) [\w' -]+?)(?: off)?"
    r"(?: (?:in|into|to) (?:the|my) (?:basket|trolley|cart))?"
    r"(?: off (?:the|my|our) (?:shopping |grocery )?list)?$",
    _I,
)
_LIST_LEFT = (
    re.compile(
        r"^(?:what's|what is|whats|what) (?:left|else|still) (?:is )?(?:on|in) "
        r"(?:my|the|our) (?:shopping |grocery )?list$",
        _I,
    ),
    re.compile(r"^what (?:else )?do (?:i|we) still need(?: to (?:get|buy))?$", _I),
    re.compile(r"^what else do (?:i|we) need(?: to (?:get|buy))?$", _I),
    re.compile(r"^what(?:'s| is) (?:left|remaining) to (?:get|buy)$", _I),
)
_THING = rf"(?P<thing>{_THIS}|(?:the|my|our) [\w' -]+?)"
_PRICE_HISTORY = (
    re.compile(
        rf"^how much (?:was|were|did) {_THING}(?: cost)? (?:last time|before|last week"
        r"|previously|the last time)$",
        _I,
    ),
    re.compile(rf"^what did {_THING} cost (?:last time|before|last week)$", _I),
    re.compile(
        rf"^(?:is|are|was|were) {_THING} (?:any )?(?:cheaper|more expensive|dearer)"
        r"(?: (?:than|then) (?:last time|last week|before|usual))?$",
        _I,
    ),
    re.compile(
        rf"^(?:has|have|did) {_THING} (?:gone up|gone down|changed|got cheaper"
        r"|gotten cheaper)(?: in price)?$",
        _I,
    ),
    re.compile(rf"^(?:is|was) {_THING} a good price$", _I),
)
_WHICH_LIKE = (
    re.compile(
        rf"^(?:which|what) (?:one )?(?:of (?:these|those|them) )?(?:one )?(?:would|will|does|do)"
        rf" {_WHO} (?:like|want|prefer|enjoy|love)(?: best| most| more)?$",
        _I,
    ),
    re.compile(rf"^which (?:of these|one) should (?:i|we) (?:get|buy|pick|choose) for {_WHO}$", _I),
)
_WHICH_CHEAPER = (
    re.compile(
        r"^(?:which|what)(?: one)?(?: of (?:these|those|them|the \w+))?(?: one)?"
        r" (?:is|are|'s|would be) (?:the )?(?:cheaper|cheapest|better value|best value"
        r"|less expensive|least expensive)(?: one)?$",
        _I,
    ),
    re.compile(r"^(?:which|what)(?: one)? costs? (?:less|the least)$", _I),
)
_TOTAL = (
    re.compile(r"^(?:what's|what is|whats) (?:the|my|our) (?:running )?total(?: so far)?$", _I),
    re.compile(
        r"^how much (?:have i|have we|am i|did i|did we) (?:spent|spending|spend)"
        r"(?: so far)?(?: on this trip| today| here)?$",
        _I,
    ),
    re.compile(
        r"^how much is (?:everything|my basket|the basket|it all|all this)(?: so far)?$", _I
    ),
    re.compile(r"^(?:running total|total so far)$", _I),
)
_ARTICLES = re.compile(r"^(?:my|the|our|a|an|some|more|any)\s+", _I)
_ITEM_SPLIT = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+", _I)


def parse_intent(said: str, now: datetime) -> Intent | None:
    """The tool request in an utterance, or None when it is not one."""
    text = clean(said)
    if not text or _RECALL_QUESTION.match(text):
        return None
    for pattern in _REMINDER:
        match = pattern.match(text)
        if match:
            return SetReminder(_tidy(match.group("what")), parse_when(match.group("when"), now))
    if _LIST_REMINDERS.match(text):
        return ListReminders()
    if _RECALL_OF.match(text):
        return None
    match = _REMINDER_NO_TIME.match(text)
    if match:
        return SetReminder(_tidy(match.group("what")), None)
    for pattern in _TIMER:
        match = pattern.match(text)
        if match:
            spoken = match.group("d")
            duration = parse_duration(spoken if not spoken.isdigit() else f"{spoken} minutes")
            if duration is not None:
                return SetTimer(duration)
    if _LIST_NOTES.match(text):
        return ListNotes()
    match = _NOTE.match(text) or _NOTE_SHORT.match(text)
    if match:
        return AddNote(_tidy(match.group("text")))
    if _READ_LIST.match(text):
        return ReadList()
    if _CLEAR_LIST.match(text):
        return ClearList()
    match = _ADD_ITEMS.match(text)
    if match:
        return AddToList(_items(match.group("items")))
    match = _REMOVE_ITEMS.match(text)
    if match:
        return RemoveFromList(_items(match.group("items")))
    shopping = _shopping_intent(text)
    if shopping is not None:
        return shopping
    for pattern in _FIND:
        match = pattern.match(text)
        if match:
            thing = match.group("thing") or ""
            if not thing and re.search(r"\bpark", text, _I):
                thing = "car"
            thing = _ARTICLES.sub("", thing.strip())
            if thing:
                return FindThing(thing)
    match = _REMEMBER.match(text)
    if match:
        return Remember(said)
    return None


def _shopping_intent(text: str) -> ShoppingIntent | None:
    for pattern in _SHOPPING_ON:
        if match := pattern.match(text):
            return ShoppingMode(True, _tidy(match.groupdict().get("shop") or ""))
    if _SHOPPING_OFF.match(text):
        return ShoppingMode(False)
    for pattern in _CAN_EAT:
        if match := pattern.match(text):
            return CanEat(_person(match.groupdict().get("who")))
    for pattern in _CONTAINS:
        if match := pattern.match(text):
            found = match.groupdict()
            thing = found.get("thing") or _FREE_OF[(found.get("free") or "").lower()]
            return DoesItContain(thing.lower())
    if any(pattern.match(text) for pattern in _ON_LIST):
        return OnList()
    if match := _TOOK.match(text):
        item = match.group("item")
        return TookIt("" if re.fullmatch(_THIS, item, _I) else _ARTICLES.sub("", item).lower())
    if any(pattern.match(text) for pattern in _LIST_LEFT):
        return ListLeft()
    for pattern in _PRICE_HISTORY:
        if match := pattern.match(text):
            thing = match.group("thing")
            return PriceHistory("" if re.fullmatch(_THIS, thing, _I) else _ARTICLES.sub("", thing))
    for pattern in _WHICH_LIKE:
        if match := pattern.match(text):
            return WhichWouldLike(_person(match.group("who")))
    if any(pattern.match(text) for pattern in _TOTAL):
        return TripTotal()
    if any(pattern.match(text) for pattern in _WHICH_CHEAPER):
        return WhichCheaper()
    return None


def _person(who: str | None) -> str:
    """ "I", "we", nothing → "me"; "My Daughter" → "my daughter"; a name keeps its capitals."""
    who = (who or "").strip()
    if who.lower() in {"", "i", "we", "me", "us"}:
        return "me"
    head, _, rest = who.partition(" ")
    if head.lower() in {"my", "our"}:
        return f"my {rest.lower()}"
    return who[:1].upper() + who[1:]


def clean(said: str) -> str:
    """Lower noise: curly quotes, polite openers, closing punctuation, a trailing "please"."""
    text = said.replace("’", "'").replace("‘", "'").strip()
    text = re.sub(r"\s+", " ", text)
    text = _FILLER.sub("", text).strip(" ,")
    text = re.sub(r"[\s,]*\bplease$", "", text.rstrip(" .!?"), flags=_I)
    return text.rstrip(" .!?,")


def _tidy(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip(" ,.")


def _items(text: str) -> tuple[str, ...]:
    items = []
    for raw in _ITEM_SPLIT.split(text):
        item = _ARTICLES.sub("", raw.strip(" .")).strip().lower()
        if item and item not in items:
            items.append(item)
    return tuple(items)
