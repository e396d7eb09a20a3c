"""Reading product barcodes (EAN-13, UPC-A) and QR codes in a keyframe.

OpenCV's own detectors (opencv-contrib 5.0: `cv2.barcode.BarcodeDetector`,
`cv2.QRCodeDetector`) are classical image processing with no model file to
check, so they are cheap enough to run on every keyframe. Only the decoded
numbers go upstream, never the crop.

A linear barcode's digits are only reported when their check digit holds: a
misread product number would be matched against the wrong price history.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import cv2
import numpy as np
import numpy.typing as npt

from edge.vision.scaling import fit_longest_side

log = logging.getLogger(__name__)

# The detectors work on a frame this size; larger frames cost time without finding more.
MAX_SIDE = 1280
# The second try's enlargement (see OpenCvBarcodeReader._linear_codes).
ENLARGE = 1.5


class BarcodeReader(Protocol):
    """Decodes the barcodes and QR codes in an image."""

    def read(self, image: npt.NDArray[np.uint8]) -> list[str]:
        """Each code's content once: digits for EAN/UPC, the text for a QR code."""
        ...


@dataclass(frozen=True, slots=True)
class LocatedCode:
    """A decoded code and the centre of its symbol, in the image's pixels."""

    code: str
    x: float
    y: float


@runtime_checkable
class LocatingBarcodeReader(BarcodeReader, Protocol):
    """A `BarcodeReader` that also says where each code is (to match it to its label)."""

    def read_located(self, image: npt.NDArray[np.uint8]) -> list[LocatedCode]:
        """The codes of `read`, in the same order, each with where it was found."""
        ...


def ean_check_digit(digits: str) -> int:
    """The GS1 check digit of the first 12 (EAN-13) or 11 (UPC-A) digits.

    From the right, digits alternately weigh 3 and 1; the check digit brings the
    sum up to a multiple of ten.
    """
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def valid_product_number(code: str) -> bool:
    """An 8-, 12- or 13-digit GS1 number whose last digit is its check digit."""
    return (
        len(code) in (8, 12, 13) and code.isdigit() and ean_check_digit(code[:-1]) == int(code[-1])
    )


class OpenCvBarcodeReader:
    """`cv2.barcode` for EAN/UPC and `cv2.QRCodeDetector` for QR; built once, reused per frame.

    OpenCV's detectors keep per-call state, so one reader must not be used by
    two threads at once (the analyser calls it from one).
    """

    def __init__(self, *, max_side: int = MAX_SIDE) -> None:
        self._max_side = max_side
        self._linear = cv2.barcode.BarcodeDetector()
        self._qr = cv2.QRCodeDetector()

    def read(self, image: npt.NDArray[np.uint8]) -> list[str]:
        return [found.code for found in self.read_located(image)]

    def read_located(self, image: npt.NDArray[np.uint8]) -> list[LocatedCode]:
        scaled = fit_longest_side(image, self._max_side)
        gray = np.asarray(
            scaled if scaled.ndim == 2 else cv2.cvtColor(scaled, cv2.COLOR_BGR2GRAY), np.uint8
        )
        back = max(image.shape[:2]) / max(gray.shape[:2])
        found: list[LocatedCode] = []
        for code, x, y in (*self._linear_codes(gray), *self._qr_codes(gray)):
            if code and all(code != seen.code for seen in found):
                found.append(LocatedCode(code, x * back, y * back))
        return found

    def _linear_codes(self, gray: npt.NDArray[np.uint8]) -> list[tuple[str, float, float]]:
        """Two tries: the frame as it is, then sharpened and enlarged.

        A barcode at arm's length is one or two pixels a bar, softened by the
        lens and the wearer's motion; unsharp masking and a 1.5x enlargement
        recover a quarter of those the first try misses on the product set, so
        the second try runs only when the first read nothing.
        """
        for attempt, scale in ((gray, 1.0), (_sharpened(gray), ENLARGE)):
            ok, decoded, _types, points = self._linear.detectAndDecodeWithType(attempt)
            codes = (
                [
                    (_as_ean13(code), *_centre(corners, scale))
                    for code, corners in zip(decoded, _corners(points, len(decoded)), strict=True)
                    if valid_product_number(code)
                ]
                if ok
                else []
            )
            if codes:
                return codes
        return []

    def _qr_codes(self, gray: npt.NDArray[np.uint8]) -> list[tuple[str, float, float]]:
        try:
            ok, decoded, points, _straight = self._qr.detectAndDecodeMulti(gray)
        except cv2.error:
            # OpenCV raises on some degenerate candidate quadrilaterals; no QR code then.
            log.debug("QR detector failed on a keyframe", exc_info=True)
            return []
        if not ok:
            return []
        return [
            (text, *_centre(corners, 1.0))
            for text, corners in zip(decoded, _corners(points, len(decoded)), strict=True)
            if text
        ]


def _corners(points: object, count: int) -> list[npt.NDArray[np.float32]]:
    """Each decoded code's four corners (OpenCV may give none: then the frame's origin)."""
    if points is None:
        return [np.zeros((4, 2), np.float32)] * count
    array = np.asarray(points, np.float32).reshape(-1, 4, 2)
    if len(array) != count:
        return [np.zeros((4, 2), np.float32)] * count
    return list(array)


def _centre(corners: npt.NDArray[np.float32], scale: float) -> tuple[float, float]:
    x, y = corners.mean(axis=0) / scale
    return float(x), float(y)


def _sharpened(gray: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    enlarged = cv2.resize(gray, None, fx=ENLARGE, fy=ENLARGE, interpolation=cv2.INTER_CUBIC)
    soft = cv2.GaussianBlur(enlarged, (0, 0), 2.0)
    return np.asarray(cv2.addWeighted(enlarged, 1.8, soft, -0.8, 0), dtype=np.uint8)


def _as_ean13(code: str) -> str:
    """UPC-A is EAN-13 with a leading zero: one spelling, so the same product matches."""
    return "0" + code if len(code) == 12 else code
