"""Makes the held-out product set (recordings/products-heldout/): labels the parser never saw.

The tuning set (scripts/make_product_set.py) draws twelve products in three
layouts, all in DejaVu Sans on a tinted card. This set is drawn apart from it
and was never used to change the parser: twelve other invented products,
other typefaces (DejaVu Serif, Condensed, Mono, Oblique and ExtraLight, and
matplotlib's STIX where installed), other layouts (centred fronts, white print
on dark packs, an "INGREDIENTS" heading on its own line, "Allergy advice"
lines, a nutrition table, promotion tags with "Was … Now …", shelf-edge strips
with three tags side by side) and a harsher camera: stronger perspective and
rotation, a hard specular glare, motion blur, smaller text and lower JPEG
quality, at 960x720 or 1280x720.

Deterministic (seeded). Run from the repository root:

    .venv/bin/python scripts/make_heldout_products.py
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulators.ean13 import render_ean13, with_check_digit  # noqa: E402

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
STIX = ROOT / ".venv/lib/python3.11/site-packages/matplotlib/mpl-data/fonts/ttf"
Image8 = npt.NDArray[np.uint8]
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class Product:
    brand: str
    name: str
    size: str
    price: str
    ingredients: str
    contains: str
    may_contain: str
    ean: str


def _ean(twelve: str) -> str:
    return with_check_digit(twelve)


PRODUCTS = (
    Product("Alpine Dairy", "Semi Skimmed Milk", "2L", "£1.55", "Semi skimmed milk",
            "Contains: milk", "", _ean("506000111001")),
    Product("Kernel & Co", "Salted Popcorn", "80g", "£1.10", "Maize, sunflower oil, salt",
            "", "May contain: milk", _ean("506000111018")),
    Product("Harvest Table", "Wholemeal Bread", "800g", "£1.40",
            "Wholemeal wheat flour, water, yeast, salt, soya flour, vegetable oil",
            "Contains: wheat, soya", "", _ean("506000111025")),
    Product("Ocean Catch", "Tuna Chunks in Brine", "145g", "£1.30", "Tuna (fish), water, salt",
            "Contains: fish", "", _ean("506000111032")),
    Product("Little Bee", "Runny Honey", "340g", "£2.75", "Honey", "", "", _ean("506000111049")),
    Product("Verde", "Basil Pesto", "190g", "£2.20",
            "Basil 35%, sunflower oil, cashew nuts, cheese (milk), egg, garlic, salt",
            "Contains: cashew nuts, milk, egg", "", _ean("506000111056")),
    Product("Crunchy Days", "Honey Nut Flakes", "375g", "£2.45",
            "Wheat, sugar, peanuts 8%, honey 5%, barley malt extract, salt",
            "Contains: wheat, peanuts, barley", "May contain: almonds", _ean("506000111063")),
    Product("Fields", "Red Lentils", "1kg", "£1.95", "Red lentils", "", "May contain: mustard",
            _ean("506000111070")),
    Product("Happy Cow", "Mature Cheddar", "400g", "£3.60", "Cheddar cheese (milk)",
            "Contains: milk", "", _ean("506000111087")),
    Product("Spice Route", "Mild Curry Paste", "285g", "£1.85",
            "Water, rapeseed oil, spices, garlic, mustard seeds, salt", "Contains: mustard", "",
            _ean("506000111094")),
    Product("Bloom", "Oat Raisin Bars", "150g", "£1.99",
            "Oats 45%, raisins 20%, golden syrup, butter (milk), sesame seeds",
            "Contains: oats, milk, sesame", "", _ean("506000111100")),
    Product("Glacier", "Sparkling Water", "500ml", "65p", "Carbonated natural mineral water", "",
            "", _ean("506000111117")),
)  # fmt: skip


def font(name: str, size: int) -> Font:
    for folder in (DEJAVU, STIX):
        if (folder / name).exists():
            return ImageFont.truetype(str(folder / name), size)
    return ImageFont.truetype(str(DEJAVU / "DejaVuSerif.ttf"), size)


# Typefaces the tuning set never used: (regular, bold).
FACES = (
    ("DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf"),
    ("DejaVuSansCondensed.ttf", "DejaVuSansCondensed-Bold.ttf"),
    ("DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf"),
    ("DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf"),
    ("STIXGeneral.ttf", "STIXGeneralBol.ttf"),
    ("DejaVuSans-ExtraLight.ttf", "DejaVuSansCondensed-Bold.ttf"),
)


def text_width(draw: ImageDraw.ImageDraw, text: str, face: Font) -> int:
    left, _, right, _ = draw.textbbox((0, 0), text, font=face)
    return int(right - left)


def centred(draw: ImageDraw.ImageDraw, text: str, face: Font, y: int, width: int, ink: tuple[int, int, int]) -> None:  # fmt: skip
    draw.text(((width - text_width(draw, text, face)) // 2, y), text, fill=ink, font=face)


def wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*lines, line] if line else lines


def barcode(product: Product, module_px: int, ink_on_white: bool = True) -> Image.Image:
    bars = render_ean13(product.ean, module_px=module_px, height_px=30 * module_px)
    caption = Image.new("L", (bars.shape[1], 12 * module_px), 255)
    ImageDraw.Draw(caption).text(
        (11 * module_px, 0), f"{product.ean[0]} {product.ean[1:7]} {product.ean[7:]}",
        fill=0, font=font("DejaVuSansMono.ttf", 9 * module_px),
    )  # fmt: skip
    return Image.fromarray(np.vstack([bars, np.asarray(caption)])).convert("RGB")


def front(product: Product, number: int) -> Image.Image:
    """A pack's front, centred; every third one white print on a dark pack."""
    regular, bold = FACES[number % len(FACES)]
    dark = number % 3 == 1
    paper = (30, 45, 70) if dark else (245, 238, 225)
    ink = (245, 245, 240) if dark else (25, 25, 25)
    card = Image.new("RGB", (640, 640), paper)
    draw = ImageDraw.Draw(card)
    centred(draw, product.brand, font(regular, 36), 50, 640, ink)
    for i, line in enumerate(wrap(product.name, 16)):
        centred(draw, line, font(bold, 58), 130 + i * 70, 640, ink)
    size_face = font(bold, 40)
    size_w = text_width(draw, product.size, size_face)
    draw.rounded_rectangle((600 - size_w - 40, 330, 600, 390), radius=18, outline=ink, width=3)
    draw.text((600 - size_w - 20, 336), product.size, fill=ink, font=size_face)
    card.paste(barcode(product, 3), (40, 440))
    return card


def back(product: Product, number: int) -> Image.Image:
    """A pack's back: a heading on its own line, wrapped text, allergy advice, nutrition."""
    regular, bold = FACES[(number + 2) % len(FACES)]
    card = Image.new("RGB", (820, 640), (252, 252, 250))
    draw = ImageDraw.Draw(card)
    y = 24
    draw.text((30, y), f"{product.name} {product.size}", fill=(20, 20, 20), font=font(bold, 28))
    y += 46
    if number % 2 == 0:
        draw.text((30, y), "INGREDIENTS", fill=(20, 20, 20), font=font(bold, 24))
        y += 32
        lines = wrap(product.ingredients + ".", 52)
    else:
        lines = wrap("Ingredients: " + product.ingredients + ".", 52)
    for line in lines:
        draw.text((30, y), line, fill=(20, 20, 20), font=font(regular, 23))
        y += 31
    if product.contains:
        advice = (
            "Allergy advice: " + product.contains.lower() if number % 3 == 0 else product.contains
        )
        draw.text((30, y), advice + ".", fill=(20, 20, 20), font=font(bold, 23))
        y += 31
    if product.may_contain:
        draw.text((30, y), product.may_contain + ".", fill=(20, 20, 20), font=font(regular, 23))
        y += 31
    y += 12
    draw.rectangle((30, y, 430, y + 100), outline=(20, 20, 20), width=2)
    draw.text((40, y + 8), "Nutrition per 100g", fill=(20, 20, 20), font=font(bold, 20))
    draw.text((40, y + 40), "Energy 1520kJ / 362kcal", fill=(20, 20, 20), font=font(regular, 18))
    draw.text((40, y + 68), "Fat 4.1g  Sugars 2.0g", fill=(20, 20, 20), font=font(regular, 18))
    card.paste(barcode(product, 2), (500, y + 4))
    return card


def promo_tag(product: Product, number: int) -> Image.Image:
    """A promotion tag: the name over two lines, "Was" struck through, the "Now" price."""
    regular, bold = FACES[(number + 4) % len(FACES)]
    card = Image.new("RGB", (720, 360), (255, 220, 60))
    draw = ImageDraw.Draw(card)
    draw.rectangle((0, 0, 719, 50), fill=(200, 30, 30))
    draw.text((20, 8), "SPECIAL OFFER", fill=(255, 255, 255), font=font(bold, 30))
    name = f"{product.brand} {product.name} {product.size}"
    for i, line in enumerate(wrap(name, 22)):
        draw.text((20, 70 + i * 40), line, fill=(20, 20, 20), font=font(bold, 32))
    was = _was_price(product.price)
    draw.text((20, 170), f"Was {was}", fill=(60, 60, 60), font=font(regular, 28))
    draw.line((20, 188, 190, 188), fill=(60, 60, 60), width=3)
    draw.text((20, 215), "Now", fill=(20, 20, 20), font=font(bold, 34))
    draw.text((110, 200), product.price, fill=(20, 20, 20), font=font(bold, 76))
    card.paste(barcode(product, 2), (470, 150))
    return card


def _was_price(price: str) -> str:
    if price.endswith("p"):
        return f"{int(price[:-1]) + 20}p"
    return f"£{float(price.lstrip('£')) + 0.5:.2f}"


def shelf_strip(products: tuple[Product, ...], number: int) -> Image.Image:
    """A shelf edge with a tag per product, side by side, each with its own EAN-13."""
    regular, bold = FACES[number % len(FACES)]
    width = 440
    card = Image.new("RGB", (width * len(products) + 40, 300), (235, 235, 235))
    draw = ImageDraw.Draw(card)
    for i, product in enumerate(products):
        x = 20 + i * width
        draw.rectangle((x + 10, 20, x + width - 30, 280), fill=(255, 255, 255))
        draw.text((x + 24, 32), product.brand, fill=(20, 20, 20), font=font(regular, 22))
        draw.text(
            (x + 24, 62), f"{product.name} {product.size}", fill=(20, 20, 20), font=font(bold, 24)
        )
        draw.text((x + 24, 100), product.price, fill=(20, 20, 20), font=font(bold, 60))
        card.paste(barcode(product, 2), (x + 200, 170))
    return card


def photograph(card: Image.Image, rng: np.random.Generator, *, small: bool) -> Image8:
    """A harsher camera than the tuning set's: tilt, hard glare, motion blur, low quality."""
    image = cv2.cvtColor(np.asarray(card), cv2.COLOR_RGB2BGR)
    h, w = image.shape[:2]
    wide = rng.random() < 0.5
    out_w, out_h = (1280, 720) if wide else (960, 720)
    fit = min(out_w * 0.9 / w, out_h * 0.9 / h)
    scale = fit * (rng.uniform(0.5, 0.65) if small else rng.uniform(0.8, 0.98))
    cw, ch = w * scale, h * scale
    cx = out_w / 2 + rng.uniform(-0.05, 0.05) * out_w
    cy = out_h / 2 + rng.uniform(-0.05, 0.05) * out_h
    angle = np.deg2rad(rng.uniform(-8, 8))
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    half = np.array([[-cw / 2, -ch / 2], [cw / 2, -ch / 2], [cw / 2, ch / 2], [-cw / 2, ch / 2]])
    corners = (half @ rot.T + [cx, cy]).astype(np.float32)
    corners += rng.uniform(-0.12, 0.12, corners.shape).astype(np.float32) * min(cw, ch)
    matrix = cv2.getPerspectiveTransform(np.float32([[0, 0], [w, 0], [w, h], [0, h]]), corners)
    background = rng.integers(40, 220, (out_h // 16, out_w // 16, 3)).astype(np.uint8)
    background = cv2.resize(background, (out_w, out_h), interpolation=cv2.INTER_LINEAR)
    warped = cv2.warpPerspective(image, matrix, (out_w, out_h), flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), matrix, (out_w, out_h))
    photo = np.where(mask[..., None] > 0, warped, background).astype(np.float32)
    # A hard specular highlight (a shop's strip light on plastic) and a soft falloff.
    gx, gy = rng.uniform(0.2, 0.8) * out_w, rng.uniform(0.2, 0.8) * out_h
    yy, xx = np.mgrid[0:out_h, 0:out_w]
    radius = rng.uniform(50, 110)
    distance = ((xx - gx) / 2.5) ** 2 + (yy - gy) ** 2
    photo += (np.exp(-distance / (2 * radius**2)) * rng.uniform(90, 160))[..., None]
    photo *= rng.uniform(0.75, 1.05)
    # Motion blur along a random direction, then lens softness.
    length = int(rng.integers(1, 6))
    if length > 1:
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2, :] = 1.0 / length
        turn = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), rng.uniform(0, 180), 1)
        kernel = cv2.warpAffine(kernel, turn, (length, length))
        kernel /= max(float(kernel.sum()), 1e-6)
        photo = cv2.filter2D(photo, -1, kernel)
    photo = cv2.GaussianBlur(photo, (0, 0), rng.uniform(0.5, 1.2))
    photo += rng.normal(0, 5, photo.shape)
    ok, jpeg = cv2.imencode(".jpg", np.clip(photo, 0, 255).astype(np.uint8),
                            [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(65, 80))])  # fmt: skip
    assert ok
    return cv2.imdecode(jpeg, cv2.IMREAD_COLOR)


def make(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2026)
    truth: list[dict[str, object]] = []
    for number, product in enumerate(PRODUCTS):
        layouts = (
            ("front", front(product, number), ["brand", "name", "size"]),
            ("back", back(product, number), ["allergens", "ingredients", "size"]),
            ("promo", promo_tag(product, number), ["name", "price", "size"]),
        )
        for layout, card, fields in layouts:
            small = (number + len(layout)) % 3 == 0
            name = f"{number + 1:02d}-{layout}.jpg"
            cv2.imwrite(str(folder / name), photograph(card, rng, small=small),
                        [cv2.IMWRITE_JPEG_QUALITY, 90])  # fmt: skip
            truth.append({
                "image": name, "layout": layout, "small_text": small, "barcode": product.ean,
                "fields": fields, "product": asdict(product),
            })  # fmt: skip
    for row in range(4):
        three = tuple(PRODUCTS[(row * 3 + k) % len(PRODUCTS)] for k in range(3))
        name = f"shelf-row-{row + 1}.jpg"
        cv2.imwrite(str(folder / name), photograph(shelf_strip(three, row), rng, small=False),
                    [cv2.IMWRITE_JPEG_QUALITY, 90])  # fmt: skip
        truth.append({
            "image": name, "layout": "shelf-row", "small_text": False,
            "labels": [{"barcode": p.ean, "fields": ["name", "price", "size"],
                        "product": asdict(p)} for p in three],
        })  # fmt: skip
    (folder / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")


if __name__ == "__main__":
    make(ROOT / "recordings" / "products-heldout")
