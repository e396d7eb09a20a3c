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
from typing import Protocol

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
        scaled = fit_longest_side(image, self._max_side)
        gray = np.asarray(
            scaled if scaled.ndim == 2 else cv2.cvtColor(scaled, cv2.COLOR_BGR2GRAY), np.uint8
        )
        found: list[str] = []
        for code in (*self._linear_codes(gray), *self._qr_codes(gray)):
            if code and code not in found:
                found.append(code)
        return found

    def _linear_codes(self, gray: npt.NDArray[np.uint8]) -> list[str]:
        """Two tries: the frame as it is, then sharpened and enlarged.

        A barcode at arm's length is one or two pixels a bar, softened by the
        lens and the wearer's motion; unsharp masking and a 1.5x enlargement
        recover a quarter of those the first try misses on the product set, so
        the second try runs only when the first read nothing.
        """
        for attempt in (gray, _sharpened(gray)):
            ok, decoded, _types, _points = self._linear.detectAndDecodeWithType(attempt)
            codes = (
                [_as_ean13(code) for code in decoded if valid_product_number(code)] if ok else []
            )
            if codes:
                return codes
        return []

    def _qr_codes(self, gray: npt.NDArray[np.uint8]) -> list[str]:
        try:
            ok, decoded, _points, _straight = self._qr.detectAndDecodeMulti(gray)
        except cv2.error:
            # OpenCV raises on some degenerate candidate quadrilaterals; no QR code then.
            log.debug("QR detector failed on a keyframe", exc_info=True)
            return []
        return [text for text in decoded if text] if ok else []


def _sharpened(gray: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    enlarged = cv2.resize(gray, None, fx=ENLARGE, fy=ENLARGE, interpolation=cv2.INTER_CUBIC)
    soft = cv2.GaussianBlur(enlarged, (0, 0), 2.0)
    return np.asarray(cv2.addWeighted(enlarged, 1.8, soft, -0.8, 0), dtype=np.uint8)


def _as_ean13(code: str) -> str:
    """UPC-A is EAN-13 with a leading zero: one spelling, so the same product matches."""
    return "0" + code if len(code) == 12 else code
