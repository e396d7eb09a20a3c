"""A product's label read from OCR lines: name, brand, size, price, ingredients, allergens.

Pure and deterministic: the lines come from any `Ocr` in reading order, and
the layouts are the ones a shopper points glasses at: a pack's front (brand
over name, a size), its back (an "Ingredients: …" block, "Contains: …",
"May contain …"), a shelf label (name, price, a unit price) and a price tag
("Was £2.00 Now £1.50"). Where a box height is known for each line, the
tallest free-standing line is the name (the biggest print on a pack).

A field that cannot be found is left empty rather than guessed: the cloud
says "I couldn't read the ingredients" instead of answering from a fragment.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from protocol.messages import ProductLabel

_I = re.IGNORECASE
# "£1.50", "$3.99", "1,29 €", "€2", "99p". PP-OCRv4 often reads "£" as "f" or "E":
# those count only before pounds and pence ("f1.80"), never before a bare number.
_PRICE = re.compile(
    r"(?:(?P<cur>[£$€])\s?(?P<a>\d{1,4}(?:[.,]\d{2})?)(?!\d)"
    r"|(?<![A-Za-z])[fFE](?P<m>\d{1,3}[.,]\d{2})(?!\d)"
    r"|(?<![\d.,])(?P<b>\d{1,4}[.,]\d{2})\s?(?P<cur2>€|(?:eur|usd|gbp)\b)"
    r"|(?<![\d.,£$€])(?P<p>\d{1,3})p\b)",
    _I,
)
# A price per kilo, per litre or per 100 g: the shelf label's small print, not the price.
_UNIT_PRICE = re.compile(
    r"(?:(?:/|per)\s?(?:100\s?)?(?:kg|g|l|ltr|litre|ml|each|ea)\b|\bper\b)", _I
)
_WAS = re.compile(r"\bwas\b", _I)
# A line that is only pounds and pence: the big print of a shelf label, whose "£" OCR lost.
_BARE_PRICE = re.compile(r"^\s*(?P<amount>\d{1,3}[.,]\d{2})\s*$")
_SIZE = re.compile(
    r"(?<![\d.,])(?:(?P<count>\d{1,2})\s?[x×]\s?)?(?P<amount>\d{1,4}(?:[.,]\d{1,3})?)\s?"
    r"(?P<unit>kg|g|mg|ml|cl|l|ltr|litres?|liters?|oz|fl\.?\s?oz|lb)\b",
    _I,
)
_INGREDIENTS = re.compile(r"^\s*ingr[ecd]dients?\s*[:;.-]?\s*(?P<rest>.*)$", _I)
_ALLERGEN = re.compile(
    r"^\s*(?P<head>contains|may\s?(?:also\s?)?contain|allergy\s?advice|allergens?"
    r"|not suitable for|made in a (?:factory|kitchen) that|produced in a factory)\b\s*[:;.-]?\s*",
    _I,
)
# Label sections that end an ingredients or allergen block.
# OCR often runs their words together ("Storeinacool dryplace"), so spaces are optional.
_SECTION = re.compile(
    r"^\s*(?:nutrition|typical\s?values|energy|storage|store\s?in|keep\s?refrigerated"
    r"|best\s?before|use\s?by|once\s?opened|serving|packed|produced|manufactured|distributed"
    r"|www\.|recycl|suitable\s?for|per\s?100|[\d\s]{8,}$)",
    _I,
)
# Lines that are never a product's name or brand.
_NOT_A_TITLE = re.compile(
    r"(?:^\s*(?:was|now|save|offer|only|special|price|unit price|each|per|barcode|best before"
    r"|use by|bb|exp|item|sku|product code|code|lot)\b|^[\d\s.,:/-]+$"
    r"|\d\s?%\s?(?:off|extra|more|free)|www\.|\.com\b)",
    _I,
)
MAX_BRAND_WORDS = 3
MAX_INGREDIENTS_CHARS = 1500


def parse_label(lines: Sequence[str], heights: Sequence[float] = ()) -> ProductLabel | None:
    """The product label in `lines` (reading order), or None when they do not look like one.

    `heights` (one per line, pixels) helps pick the name; without them the
    first free-standing line under a short brand line is the name.
    A label is anything with a price, a size, an ingredients block or an
    allergen line: a street sign or a page of a book is not one.
    """
    texts = [respace(line) for line in lines]
    sized = len(heights) == len(texts)
    ingredients, allergens, used = _blocks(texts)
    price = _price(texts, used)
    size = _size(texts, used)
    if not (price or size or ingredients or allergens):
        return None
    titles = [
        (i, _without(text, size))
        for i, text in enumerate(texts)
        if i not in used and _could_be_title(_without(text, size))
    ]
    name, brand = _name_and_brand(titles, heights if sized else ())
    return ProductLabel(
        name=name,
        brand=brand,
        size=size,
        price=price,
        ingredients=ingredients[:MAX_INGREDIENTS_CHARS],
        allergens=tuple(allergens),
    )


def parse_price(text: str) -> float | None:
    """The amount in a price as written ("£1.50" → 1.5, "99p" → 0.99), or None."""
    match = _PRICE.search(text)
    if match is None:
        bare = _BARE_PRICE.match(text)
        return float(bare.group("amount").replace(",", ".")) if bare else None
    if match.group("p"):
        return int(match.group("p")) / 100
    amount = match.group("a") or match.group("m") or match.group("b") or ""
    return float(amount.replace(",", "."))


def _blocks(texts: list[str]) -> tuple[str, list[str], set[int]]:
    """The ingredients text, the allergen lines, and which lines they took.

    A block runs on over the following lines until another section starts,
    since a label's ingredients wrap over several printed lines.
    """
    ingredients: list[str] = []
    allergens: list[str] = []
    used: set[int] = set()
    current: list[str] | None = None
    for i, text in enumerate(texts):
        match = _INGREDIENTS.match(text)
        if match and not ingredients:
            ingredients.append(match.group("rest"))
            current = ingredients
            used.add(i)
            continue
        if _ALLERGEN.match(text):
            allergens.append(text)
            current = allergens
            used.add(i)
            continue
        if current is None or _SECTION.match(text) or _PRICE.search(text):
            current = None
            continue
        if current is allergens:
            allergens[-1] = f"{allergens[-1]} {text}"
        else:
            current.append(text)
        used.add(i)
    joined = " ".join(part for part in ingredients if part).strip()
    # "Ingredients: …" with a "Contains" sentence inside it: the sentence is an allergen line.
    inside = re.split(r"(?<=[.)])\s*(?=(?:contains|may\s?contain)\b)", joined, flags=_I)
    if len(inside) > 1:
        joined = inside[0].strip(" .")
        allergens = [part.strip() for part in inside[1:]] + allergens
    return joined.strip(" ."), [line.strip() for line in allergens], used


def _price(texts: list[str], used: set[int]) -> str:
    """The price to pay: a "Now" price over a "Was" one, a pack price over a unit price."""
    candidates: list[tuple[int, str]] = []
    for i, text in enumerate(texts):
        if i in used:
            continue
        for match in _PRICE.finditer(text):
            after = text[match.end() : match.end() + 12]
            before = text[max(0, match.start() - 8) : match.start()]
            if _UNIT_PRICE.match(after.lstrip()) or _UNIT_PRICE.search(before):
                continue
            rank = 2 if _WAS.search(before) or _WAS.search(text[: match.start()]) else 0
            if re.search(r"\bnow\b", text[: match.start()], _I):
                rank = -1
            candidates.append((rank, _tidy_price(match.group(0))))
        if (bare := _BARE_PRICE.match(text)) is not None:
            candidates.append((1, bare.group("amount")))
    if not candidates:
        return ""
    return min(candidates, key=lambda item: item[0])[1]


def _tidy_price(text: str) -> str:
    text = re.sub(r"\s+", "", text)
    return "£" + text[1:] if text[:1] in "fFE" else text


def respace(line: str) -> str:
    """Put back the spaces OCR ran together: "OATLYOatDrink1L" → "OATLY Oat Drink 1L".

    PP-OCRv4 drops most spaces in Latin print; word and case boundaries,
    a letter before a number and a comma before a word still show where they were.
    """
    # "5oog": a zero read as the letter o, inside an amount.
    line = re.sub(r"\d[\doO]*(?=\s?(?:kg|g|ml|l|L)\b)", lambda m: re.sub("[oO]", "0", m[0]), line)
    line = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z]{2})", " ", line)
    line = re.sub(r"(?<=[A-Za-z]{2})(?=\d)|(?<=\d)(?=per)|(?<=[,;:])(?=[^\s\d])", " ", line)
    return " ".join(line.split())


def _size(texts: list[str], used: set[int]) -> str:
    for i, text in enumerate(texts):
        if i in used or _UNIT_PRICE.search(text):
            continue
        match = _SIZE.search(text)
        if match:
            return _tidy_size(match)
    return ""


def _tidy_size(match: re.Match[str]) -> str:
    unit = match.group("unit").lower().replace(" ", "").replace(".", "")
    unit = {"ltr": "l", "litre": "l", "litres": "l", "liter": "l", "liters": "l"}.get(unit, unit)
    unit = "L" if unit == "l" else unit
    amount = match.group("amount").replace(",", ".")
    count = match.group("count")
    return f"{count} x {amount}{unit}" if count else f"{amount}{unit}"


def _without(text: str, size: str) -> str:
    """A title line without its size or price ("Oat Drink 1L" → "Oat Drink")."""
    text = _PRICE.sub("", text)
    if size:
        text = _SIZE.sub("", text)
    return " ".join(text.split()).strip(" -–,.:")


def _could_be_title(text: str) -> bool:
    letters = sum(ch.isalpha() for ch in text)
    return (
        letters >= 3
        and not _NOT_A_TITLE.search(text)
        and not _SECTION.match(text)
        and not _UNIT_PRICE.search(text)
    )


def _name_and_brand(titles: list[tuple[int, str]], heights: Sequence[float]) -> tuple[str, str]:
    if not titles:
        return "", ""
    if heights:
        biggest = max(range(len(titles)), key=lambda j: heights[titles[j][0]])
        name = titles[biggest][1]
        above = [text for _, text in titles[:biggest] if len(text.split()) <= MAX_BRAND_WORDS]
        below = [text for _, text in titles[biggest + 1 :] if len(text.split()) <= MAX_BRAND_WORDS]
        brand = above[-1] if above else (below[0] if below and biggest == 0 else "")
        return name, brand
    first = titles[0][1]
    if len(titles) >= 2 and len(first.split()) <= MAX_BRAND_WORDS:
        return titles[1][1], first
    # A shelf label's one line, "OATLY Oat Drink": a brand in capitals, then the name.
    words = first.split()
    if len(words) >= 2 and len(words[0]) >= 2 and words[0].isupper() and not words[1].isupper():
        return " ".join(words[1:]), words[0]
    return first, ""
