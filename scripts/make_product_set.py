"""Makes the product set (recordings/products/) and the shopping scenarios' label photos.

Every image is drawn here: label and shelf-tag text rendered with Pillow onto
a coloured card, an EAN-13 drawn by simulators/ean13.py (or a QR code by
OpenCV's encoder), then "photographed": laid on a background, warped in
perspective, with glare, blur, sensor noise and JPEG compression, some with
small text. The products, brands and numbers are invented. Deterministic
(seeded), so a rerun gives the same files. Run from the repository root:

    .venv/bin/python scripts/make_product_set.py            # both
    .venv/bin/python scripts/make_product_set.py products   # recordings/products only
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulators.ean13 import render_ean13, with_check_digit  # noqa: E402

FONTS = Path("/usr/share/fonts/truetype/dejavu")
Image8 = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Product:
    brand: str
    name: str
    size: str
    price: str
    ingredients: str
    contains: str  # "" when the label has no "Contains" line
    may_contain: str
    ean: str


def _ean(twelve: str) -> str:
    return with_check_digit(twelve)


PRODUCTS = (
    Product(
        "OATLY",
        "Oat Drink",
        "1L",
        "£1.80",
        "Water, oats 10%, rapeseed oil, calcium carbonate, salt, vitamins",
        "Contains: oats",
        "",
        _ean("739437400010"),
    ),
    Product(
        "Hillside",
        "Peanut Butter Cookies",
        "200g",
        "£1.25",
        "Wheat flour, sugar, peanuts 18%, palm oil, butter (milk), salt, raising agent",
        "Contains: wheat, peanuts, milk",
        "May contain: tree nuts",
        _ean("501234500017"),
    ),
    Product(
        "Cocoa Co",
        "Dark Chocolate 70%",
        "100g",
        "£2.10",
        "Cocoa mass, sugar, cocoa butter, vanilla extract",
        "",
        "May contain: milk, hazelnuts",
        _ean("501234500024"),
    ),
    Product(
        "Cocoa Co",
        "Milk Chocolate",
        "100g",
        "£1.90",
        "Sugar, cocoa butter, whole milk powder, cocoa mass, soya lecithin",
        "Contains: milk, soya",
        "May contain: hazelnuts",
        _ean("501234500031"),
    ),
    Product(
        "Meadow",
        "Greek Style Yogurt",
        "500g",
        "£1.45",
        "Yogurt (milk), cream (milk), live cultures",
        "Contains: milk",
        "",
        _ean("501234500048"),
    ),
    Product(
        "Golden Mill",
        "Sesame Crackers",
        "150g",
        "£0.99",
        "Wheat flour, sesame seeds 12%, sunflower oil, salt, yeast",
        "Contains: wheat, sesame",
        "",
        _ean("501234500055"),
    ),
    Product(
        "Nutty",
        "Almond Granola",
        "500g",
        "£3.25",
        "Oat flakes, almonds 15%, honey, sunflower oil, coconut",
        "Contains: oats, almonds",
        "May contain: peanuts",
        _ean("501234500062"),
    ),
    Product(
        "Sunrise",
        "Orange Juice",
        "1L",
        "£1.60",
        "Orange juice from concentrate",
        "",
        "",
        _ean("501234500079"),
    ),
    Product(
        "Sea Fresh",
        "Prawn Crackers",
        "60g",
        "£0.85",
        "Tapioca starch, prawns 20%, vegetable oil, salt, sugar",
        "Contains: crustaceans",
        "May contain: fish",
        _ean("501234500086"),
    ),
    Product(
        "Pasta Nonna",
        "Egg Fusilli",
        "500g",
        "£1.15",
        "Durum wheat semolina, free range egg 20%",
        "Contains: wheat, egg",
        "",
        _ean("501234500093"),
    ),
    Product(
        "Bramble",
        "Strawberry Jam",
        "340g",
        "£1.35",
        "Sugar, strawberries, gelling agent: pectin, lemon juice",
        "",
        "",
        _ean("501234500109"),
    ),
    Product(
        "Green Leaf",
        "Tofu Firm",
        "400g",
        "£2.00",
        "Water, soya beans 45%, firming agent",
        "Contains: soya",
        "",
        _ean("501234500116"),
    ),
)


def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    if (FONTS / name).exists():
        return ImageFont.truetype(str(FONTS / name), size)
    return ImageFont.load_default(size=size)


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


def draw_lines(
    card: Image.Image, lines: list[tuple[str, int, bool]], x: int, y: int, gap: int = 10
) -> int:
    draw = ImageDraw.Draw(card)
    for text, size, bold in lines:
        draw.text((x, y), text, fill=(20, 20, 20), font=font(size, bold))
        y += size + gap
    return y


def paste_code(card: Image.Image, code: Image8, x: int, y: int) -> None:
    card.paste(Image.fromarray(code).convert("RGB"), (x, y))


def barcode_image(product: Product, module_px: int) -> Image8:
    bars = render_ean13(product.ean, module_px=module_px, height_px=36 * module_px)
    caption = Image.new("L", (bars.shape[1], 14 * module_px), 255)
    ImageDraw.Draw(caption).text(
        (11 * module_px, 0), f"{product.ean[0]} {product.ean[1:7]} {product.ean[7:]}",
        fill=0, font=font(10 * module_px),
    )  # fmt: skip
    return np.vstack([bars, np.asarray(caption)])


def front(product: Product, tint: tuple[int, int, int]) -> Image.Image:
    card = Image.new("RGB", (700, 520), tint)
    y = draw_lines(card, [(product.brand.upper(), 34, True)], 40, 40)
    y = draw_lines(card, [(product.name, 54, True), (product.size, 36, False)], 40, y + 20)
    paste_code(card, barcode_image(product, 4), 260, 300)
    return card


def back(product: Product, tint: tuple[int, int, int]) -> Image.Image:
    card = Image.new("RGB", (760, 600), tint)
    lines: list[tuple[str, int, bool]] = [
        (f"{product.brand} {product.name} {product.size}", 30, True)
    ]
    lines += [(line, 24, False) for line in wrap("Ingredients: " + product.ingredients + ".", 48)]
    if product.contains:
        lines.append((product.contains + ".", 24, True))
    if product.may_contain:
        lines.append((product.may_contain + ".", 24, False))
    lines.append(("Store in a cool dry place.", 22, False))
    draw_lines(card, lines, 30, 30, gap=8)
    paste_code(card, barcode_image(product, 3), 30, 400)
    return card


def shelf(product: Product, qr: bool) -> Image.Image:
    card = Image.new("RGB", (800, 300), (250, 250, 245))
    ImageDraw.Draw(card).rectangle((0, 0, 759, 18), fill=(230, 180, 40))
    grams = float(product.size.rstrip("gLk") or 1)
    unit = "100ml" if product.size.endswith("L") else "100g"
    per = float(product.price.lstrip("£")) / (grams * (10 if unit == "100ml" else 0.01))
    draw_lines(card, [(f"{product.brand} {product.name} {product.size}", 32, True)], 24, 34)
    draw_lines(card, [(product.price, 72, True)], 24, 100)
    draw_lines(card, [(f"£{per:.2f} per {unit}", 22, False)], 24, 200)
    if qr:
        encoder = cv2.QRCodeEncoder.create()
        code = cv2.resize(encoder.encode(f"shelf:{product.ean}"), None, fx=5, fy=5,
                          interpolation=cv2.INTER_NEAREST)  # fmt: skip
        paste_code(card, code, 760 - code.shape[1] - 20, 60)
    else:
        paste_code(card, barcode_image(product, 3), 360, 110)
    return card


def photograph(card: Image.Image, rng: np.random.Generator, *, small: bool) -> Image8:
    """The card as a phone or glasses camera would see it in a shop."""
    image = cv2.cvtColor(np.asarray(card), cv2.COLOR_RGB2BGR)
    h, w = image.shape[:2]
    scale = rng.uniform(0.55, 0.7) if small else rng.uniform(0.85, 1.1)
    out_w, out_h = 1280, 960
    cw, ch = w * scale, h * scale
    cx, cy = out_w / 2 + rng.uniform(-80, 80), out_h / 2 + rng.uniform(-60, 60)
    jitter = 0.08 * min(cw, ch)
    corners = np.float32([[cx - cw / 2, cy - ch / 2], [cx + cw / 2, cy - ch / 2],
                          [cx + cw / 2, cy + ch / 2], [cx - cw / 2, cy + ch / 2]])  # fmt: skip
    corners += rng.uniform(-jitter, jitter, corners.shape).astype(np.float32)
    matrix = cv2.getPerspectiveTransform(np.float32([[0, 0], [w, 0], [w, h], [0, h]]), corners)
    base = rng.integers(60, 200, 3)
    background = np.clip(base + rng.normal(0, 18, (out_h // 8, out_w // 8, 3)), 0, 255).astype(
        np.uint8
    )
    background = cv2.resize(background, (out_w, out_h), interpolation=cv2.INTER_CUBIC)
    warped = cv2.warpPerspective(image, matrix, (out_w, out_h))
    mask = cv2.warpPerspective(np.full((h, w), 255, np.uint8), matrix, (out_w, out_h))
    photo = np.where(mask[..., None] > 0, warped, background).astype(np.float32)
    # Glare: a soft bright patch from the shop's lights.
    gx, gy = rng.uniform(0.2, 0.8) * out_w, rng.uniform(0.2, 0.8) * out_h
    yy, xx = np.mgrid[0:out_h, 0:out_w]
    glare = np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * rng.uniform(60, 140) ** 2))
    photo += glare[..., None] * rng.uniform(60, 130)
    photo *= rng.uniform(0.8, 1.05)
    sigma = rng.uniform(0.4, 1.3)
    photo = cv2.GaussianBlur(photo, (0, 0), sigma)
    photo += rng.normal(0, 4, photo.shape)
    small_frame = cv2.resize(np.clip(photo, 0, 255).astype(np.uint8), (960, 720),
                             interpolation=cv2.INTER_AREA)  # fmt: skip
    ok, jpeg = cv2.imencode(".jpg", small_frame, [cv2.IMWRITE_JPEG_QUALITY, 82])
    assert ok
    return cv2.imdecode(jpeg, cv2.IMREAD_COLOR)


def tint(rng: np.random.Generator) -> tuple[int, int, int]:
    r, g, b = (int(v) for v in rng.integers(200, 256, 3))
    return r, g, b


def make_products(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20)
    truth = []
    for number, product in enumerate(PRODUCTS):
        layouts = (
            ("front", front(product, tint(rng)), {"name", "brand", "size"}),
            ("back", back(product, tint(rng)), {"size", "ingredients", "allergens"}),
            ("shelf", shelf(product, qr=number % 4 == 3), {"name", "size", "price"}),
        )
        for layout, card, fields in layouts:
            small = (number + len(layout)) % 3 == 0
            name = f"{number + 1:02d}-{layout}.jpg"
            cv2.imwrite(str(folder / name), photograph(card, rng, small=small),
                        [cv2.IMWRITE_JPEG_QUALITY, 85])  # fmt: skip
            code = f"shelf:{product.ean}" if layout == "shelf" and number % 4 == 3 else product.ean
            truth.append({
                "image": name, "layout": layout, "small_text": small, "barcode": code,
                "fields": sorted(fields), "product": asdict(product),
            })  # fmt: skip
    (folder / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")


def make_scenario_labels(folder: Path) -> None:
    """The label photos the shopping scenarios show (scenarios/media/shopping-*.jpg)."""
    rng = np.random.default_rng(21)
    by_name = {product.name: product for product in PRODUCTS}
    cookies, oat = by_name["Peanut Butter Cookies"], by_name["Oat Drink"]
    cv2.imwrite(str(folder / "shopping-cookies-back.jpg"),
                photograph(back(cookies, (250, 240, 220)), rng, small=False))  # fmt: skip
    cv2.imwrite(str(folder / "shopping-oat-drink.jpg"),
                photograph(front(oat, (225, 235, 250)), rng, small=False))  # fmt: skip
    cv2.imwrite(str(folder / "shopping-yogurt-shelf.jpg"),
                photograph(shelf(by_name["Greek Style Yogurt"], qr=False), rng, small=False))  # fmt: skip
    # The same yogurt a week later, on offer.
    yogurt = by_name["Greek Style Yogurt"]
    cheaper = replace(yogurt, price="£1.25")
    cv2.imwrite(
        str(folder / "shopping-yogurt-shelf-later.jpg"),
        photograph(shelf(cheaper, qr=False), rng, small=False),
    )
    # Two chocolate bars side by side on one shelf.
    dark, milk = by_name["Dark Chocolate 70%"], by_name["Milk Chocolate"]
    pair = Image.new("RGB", (1000, 420), (240, 240, 236))
    for x, bar in ((20, dark), (520, milk)):
        draw_lines(pair, [(bar.brand.upper(), 26, True), (bar.name, 38, True),
                          (bar.size, 26, False), (bar.price, 40, True)], x, 60)  # fmt: skip
    cv2.imwrite(str(folder / "shopping-two-chocolates.jpg"), photograph(pair, rng, small=False))


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "both"
    if which in ("both", "products"):
        make_products(ROOT / "recordings" / "products")
    if which in ("both", "scenarios"):
        make_scenario_labels(ROOT / "scenarios" / "media")
