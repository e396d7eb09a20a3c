"""Drawing EAN-13 barcodes, for the product set and the barcode tests.

The symbology is public (GS1 General Specifications, ISO/IEC 15420): 95
modules, a start guard, six left digits in L or G patterns (the first digit
is encoded by which of the six use G), a centre guard, six right digits in R
patterns and an end guard. No barcode image from elsewhere is needed.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from edge.vision.barcodes import ean_check_digit

_L = ("0001101", "0011001", "0010011", "0111101", "0100011",
      "0110001", "0101111", "0111011", "0110111", "0001011")  # fmt: skip
_R = tuple("".join("1" if bit == "0" else "0" for bit in code) for code in _L)
_G = tuple(code[::-1] for code in _R)
_PARITY = ("LLLLLL", "LLGLGG", "LLGGLG", "LLGGGL", "LGLLGG",
           "LGGLLG", "LGGGLL", "LGLGLG", "LGLGGL", "LGGLGL")  # fmt: skip
QUIET_MODULES = 11


def with_check_digit(twelve: str) -> str:
    """A full EAN-13 number from its first twelve digits."""
    if len(twelve) != 12 or not twelve.isdigit():
        raise ValueError(f"an EAN-13 number starts with 12 digits, got {twelve!r}")
    return twelve + str(ean_check_digit(twelve))


def ean13_modules(code: str) -> str:
    """The 95 bars and spaces of an EAN-13 number, "1" for a bar."""
    if len(code) != 13 or not code.isdigit() or with_check_digit(code[:12]) != code:
        raise ValueError(f"{code!r} is not a 13-digit EAN with a valid check digit")
    first, left, right = int(code[0]), code[1:7], code[7:]
    bars = ["101"]
    for digit, parity in zip(left, _PARITY[first], strict=True):
        bars.append((_L if parity == "L" else _G)[int(digit)])
    bars.append("01010")
    bars += [_R[int(digit)] for digit in right]
    bars.append("101")
    return "".join(bars)


def render_ean13(code: str, *, module_px: int = 3, height_px: int = 120) -> npt.NDArray[np.uint8]:
    """A grey image of the barcode (black bars on white) with its quiet zones."""
    modules = "0" * QUIET_MODULES + ean13_modules(code) + "0" * QUIET_MODULES
    row = np.array([0 if bit == "1" else 255 for bit in modules], dtype=np.uint8)
    row = np.repeat(row, module_px)
    return np.tile(row, (height_px, 1))
