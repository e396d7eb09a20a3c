"""Makes the media of the later shopping scenarios (scenarios/shopping-*.json).

Products, typefaces and layouts not in either product set (invented names
and numbers), photographed by the held-out set's camera
(scripts/make_heldout_products.py: tilt, glare, blur, noise) at arm's length:

- shopping-sesame-snaps.jpg: a pack's back, "Contains: sesame"
- shopping-ketchup.jpg: a bottle's front label
- shopping-two-jams.jpg: two jars' labels side by side, each with a price and an EAN-13
- shopping-tag-popcorn.jpg, shopping-tag-water.jpg: two shelf tags (running total)
- shopping-bystander.jpg: a shopper (recordings/images/astronaut.png, public domain)
  beside a shelf tag: the face must be blurred before the frame leaves
- shopping-two-tags.jpg: two shelf tags side by side with larger barcodes, through the
  tuning set's milder camera (scripts/make_product_set.py): each code to its own tag
- shopping-aisle.mp4 + shopping-aisle-mode.wav: 28 s walking an aisle after
  "I'm shopping.": an empty shelf, then three strips of shelf tags; nothing is asked

Deterministic (seeded). Run from the repository root:

    .venv/bin/python scripts/make_shopping_scenes.py
"""

from __future__ import annotations

import sys
import wave
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from make_heldout_products import (  # noqa: E402
    Image8,
    Product,
    _ean,
    barcode,
    font,
    photograph,
    shelf_strip,
    wrap,
)
from make_product_set import photograph as steady_photograph  # noqa: E402

MEDIA = ROOT / "scenarios" / "media"
# How long the aisle video shows the empty shelf and each strip of tags.
AISLE_SECONDS = (6.0, 6.0, 6.0, 10.0)

SNAPS = Product("Golden Seed", "Sesame Snaps", "30g", "45p",
                "Sesame seeds 70%, glucose syrup, sugar, honey", "Contains: sesame", "",
                _ean("507770220001"))  # fmt: skip
KETCHUP = Product("Redhill", "Tomato Ketchup", "460g", "£1.79",
                  "Tomatoes, spirit vinegar, sugar, salt, spice", "", "", _ean("507770220018"))  # fmt: skip
APRICOT = Product("Orchard Lane", "Apricot Jam", "340g", "£1.65", "Apricots, sugar", "", "",
                  _ean("507770220025"))  # fmt: skip
RASPBERRY = Product("Orchard Lane", "Raspberry Jam", "340g", "£1.85", "Raspberries, sugar", "", "",
                    _ean("507770220032"))  # fmt: skip
POPCORN = Product("Kettle Hut", "Sweet Popcorn", "100g", "£1.20", "", "", "", _ean("507770220049"))
WATER = Product("Clearbrook", "Still Water", "1.5L", "80p", "", "", "", _ean("507770220056"))
AISLE = (
    (Product("Dewfield", "Natural Yogurt", "500g", "£1.15", "", "", "", _ean("507770220063")),
     Product("Sunny Grove", "Apple Juice", "1L", "£1.35", "", "", "", _ean("507770220070")),
     Product("Hearth", "Sourdough Loaf", "400g", "£2.30", "", "", "", _ean("507770220087"))),
    (Product("Pasture", "Salted Butter", "250g", "£2.05", "", "", "", _ean("507770220094")),
     Product("Cove", "Sardines in Oil", "120g", "95p", "", "", "", _ean("507770220100")),
     Product("Millstone", "Porridge Oats", "1kg", "£1.60", "", "", "", _ean("507770220117"))),
    (Product("Brightfield", "Frozen Peas", "900g", "£1.45", "", "", "", _ean("507770220124")),
     Product("Tideway", "Orange Juice", "1L", "£1.70", "", "", "", _ean("507770220131")),
     Product("Ember", "Smoked Paprika", "45g", "£1.25", "", "", "", _ean("507770220148"))),
)  # fmt: skip


def back_label(product: Product) -> Image.Image:
    card = Image.new("RGB", (760, 520), (250, 246, 236))
    draw = ImageDraw.Draw(card)
    draw.text((30, 24), f"{product.brand} {product.name} {product.size}", fill=(30, 20, 10),
              font=font("DejaVuSerif-Bold.ttf", 30))  # fmt: skip
    y = 80
    for line in wrap("Ingredients: " + product.ingredients + ".", 46):
        draw.text((30, y), line, fill=(30, 20, 10), font=font("DejaVuSerif.ttf", 26))
        y += 36
    draw.text((30, y + 4), product.contains + ".", fill=(30, 20, 10),
              font=font("DejaVuSerif-Bold.ttf", 26))  # fmt: skip
    card.paste(barcode(product, 3), (420, 360))
    return card


def front_label(product: Product, paper: tuple[int, int, int]) -> Image.Image:
    card = Image.new("RGB", (560, 520), paper)
    draw = ImageDraw.Draw(card)
    draw.text((40, 36), product.brand.upper(), fill=(250, 250, 250),
              font=font("DejaVuSansCondensed-Bold.ttf", 34))  # fmt: skip
    draw.text((40, 100), product.name, fill=(250, 250, 250),
              font=font("DejaVuSansCondensed-Bold.ttf", 54))  # fmt: skip
    draw.text(
        (40, 180), product.size, fill=(250, 250, 250), font=font("DejaVuSansCondensed.ttf", 36)
    )
    card.paste(barcode(product, 3), (40, 340))
    return card


def two_jars() -> Image.Image:
    card = Image.new("RGB", (1180, 460), (225, 220, 210))
    draw = ImageDraw.Draw(card)
    for x, product in ((30, APRICOT), (620, RASPBERRY)):
        draw.rectangle((x, 20, x + 530, 440), fill=(255, 252, 240))
        draw.text((x + 24, 40), product.brand, fill=(40, 30, 20), font=font("STIXGeneral.ttf", 32))
        draw.text(
            (x + 24, 84), product.name, fill=(40, 30, 20), font=font("STIXGeneralBol.ttf", 52)
        )
        draw.text((x + 24, 150), product.size, fill=(40, 30, 20), font=font("STIXGeneral.ttf", 34))
        draw.text(
            (x + 24, 200), product.price, fill=(40, 30, 20), font=font("STIXGeneralBol.ttf", 64)
        )
        card.paste(barcode(product, 2), (x + 280, 300))
    return card


def tag(product: Product) -> Image.Image:
    card = Image.new("RGB", (620, 300), (255, 255, 255))
    draw = ImageDraw.Draw(card)
    draw.rectangle((0, 0, 619, 16), fill=(20, 110, 60))
    draw.text((24, 30), product.brand, fill=(20, 20, 20), font=font("DejaVuSansMono.ttf", 26))
    draw.text((24, 64), f"{product.name} {product.size}", fill=(20, 20, 20),
              font=font("DejaVuSansMono-Bold.ttf", 30))  # fmt: skip
    draw.text((24, 120), product.price, fill=(20, 20, 20), font=font("DejaVuSansMono-Bold.ttf", 70))
    card.paste(barcode(product, 2), (340, 170))
    return card


def two_tags() -> Image.Image:
    """Two tags on one shelf edge, each with an EAN-13 large enough to decode."""
    card = Image.new("RGB", (1500, 360), (235, 235, 235))
    for x, product in ((20, POPCORN), (760, WATER)):
        one = Image.new("RGB", (720, 320), (255, 255, 255))
        draw = ImageDraw.Draw(one)
        draw.rectangle((0, 0, 719, 16), fill=(20, 110, 60))
        draw.text((24, 30), product.brand, fill=(20, 20, 20), font=font("DejaVuSansMono.ttf", 26))
        draw.text((24, 64), f"{product.name} {product.size}", fill=(20, 20, 20),
                  font=font("DejaVuSansMono-Bold.ttf", 30))  # fmt: skip
        draw.text((24, 120), product.price, fill=(20, 20, 20),
                  font=font("DejaVuSansMono-Bold.ttf", 70))  # fmt: skip
        one.paste(barcode(product, 3), (370, 120))
        card.paste(one, (x, 20))
    return card


def bystander(rng: np.random.Generator) -> Image8:
    """A shopper in the aisle beside a shelf tag, as the glasses would see them."""
    scene = _aisle_background(rng, 1280, 720)
    person = cv2.imread(str(ROOT / "recordings" / "images" / "astronaut.png"), cv2.IMREAD_COLOR)
    assert person is not None
    person = cv2.resize(person, (460, 460), interpolation=cv2.INTER_AREA)
    scene[140:600, 60:520] = person
    label = cv2.cvtColor(np.asarray(tag(POPCORN)), cv2.COLOR_RGB2BGR)
    scene[300:600, 620:1240] = label
    photo = cv2.GaussianBlur(scene.astype(np.float32), (0, 0), 0.8) + rng.normal(0, 3, scene.shape)
    ok, jpeg = cv2.imencode(".jpg", np.clip(photo, 0, 255).astype(np.uint8),
                            [cv2.IMWRITE_JPEG_QUALITY, 85])  # fmt: skip
    assert ok
    return cv2.imdecode(jpeg, cv2.IMREAD_COLOR)


def _aisle_background(rng: np.random.Generator, width: int, height: int) -> Image8:
    """Shelves: horizontal bands of colourful packs, softly out of focus."""
    scene = np.full((height, width, 3), 200, np.uint8)
    for top in range(0, height, 120):
        scene[top : top + 12] = (90, 90, 95)
        x = 0
        while x < width:
            w = int(rng.integers(30, 90))
            colour = rng.integers(40, 230, 3).astype(np.uint8)
            scene[top + 14 : top + 116, x : x + w - 4] = colour
            x += w
    return cv2.GaussianBlur(scene, (0, 0), 4)


def aisle_video(rng: np.random.Generator, path: Path, fps: int = 10) -> None:
    """An empty shelf for 6 s, then each strip of tags for 6 s, the last for 10 s (cuts:
    scene changes); the last stays long enough for a loaded machine's late answer."""
    views = [_aisle_background(rng, 960, 720)]
    views += [photograph(shelf_strip(strip, number), rng, small=False)[:, :, :]
              for number, strip in enumerate(AISLE)]  # fmt: skip
    views = [cv2.resize(view, (960, 720), interpolation=cv2.INTER_AREA) for view in views]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (960, 720))
    assert writer.isOpened()
    for view, seconds in zip(views, AISLE_SECONDS, strict=True):
        for _ in range(int(seconds * fps)):
            jitter = rng.normal(0, 2, view.shape)
            writer.write(np.clip(view + jitter, 0, 255).astype(np.uint8))
    writer.release()


def padded_speech(source: Path, path: Path, seconds: float) -> None:
    """The spoken "I'm shopping." then silence, as long as the aisle video."""
    with wave.open(str(source)) as spoken:
        rate = spoken.getframerate()
        samples = np.frombuffer(spoken.readframes(spoken.getnframes()), np.int16)
    padded = np.zeros(int(seconds * rate), np.int16)
    padded[: len(samples)] = samples
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(padded.tobytes())


def save(image: Image8, name: str) -> None:
    cv2.imwrite(str(MEDIA / name), image, [cv2.IMWRITE_JPEG_QUALITY, 88])


def main() -> None:
    rng = np.random.default_rng(2027)
    save(photograph(back_label(SNAPS), rng, small=False), "shopping-sesame-snaps.jpg")
    save(photograph(front_label(KETCHUP, (170, 30, 30)), rng, small=False), "shopping-ketchup.jpg")
    save(photograph(two_jars(), rng, small=False), "shopping-two-jams.jpg")
    save(photograph(tag(POPCORN), rng, small=False), "shopping-tag-popcorn.jpg")
    save(photograph(tag(WATER), rng, small=False), "shopping-tag-water.jpg")
    save(bystander(rng), "shopping-bystander.jpg")
    aisle_video(rng, MEDIA / "shopping-aisle.mp4")
    save(steady_photograph(two_tags(), np.random.default_rng(7), small=False),
         "shopping-two-tags.jpg")  # fmt: skip
    padded_speech(
        MEDIA / "shopping-mode.wav", MEDIA / "shopping-aisle-mode.wav", sum(AISLE_SECONDS)
    )


if __name__ == "__main__":
    main()
