"""`companion bench products`: barcode and label read rates on the product sets.

Two sets, reported apart: "tuning" is recordings/products/ (made by
scripts/make_product_set.py; the parser was tuned on it) and "held_out" is
recordings/products-heldout/ (scripts/make_heldout_products.py; never used
to tune). `--set` reads one folder with a truth.json instead. The readers are
the edge's own: OpenCV's barcode and QR detectors, PP-OCRv4, the label
regions and the label parser.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from companion.cli_support import Subcommands, print_result


def register(commands: Subcommands, benchmarks: Subcommands) -> None:
    bench = benchmarks.add_parser(
        "products", help="barcode and label-field read rates on the product set"
    )
    bench.add_argument("--set", type=Path, help="a folder with truth.json (default: the project's)")
    bench.add_argument(
        "--barcodes-only", action="store_true", help="skip OCR and the label fields (seconds)"
    )
    bench.add_argument("--misses", action="store_true", help="also list what was misread")
    bench.add_argument("--json", action="store_true")
    bench.set_defaults(run=_bench_products)


async def _bench_products(args: argparse.Namespace) -> int:
    from edge.vision.barcodes import OpenCvBarcodeReader
    from edge.vision.ocr import RapidOcr
    from simulators.bench_products import HELD_OUT_SET, PRODUCT_SET, bench_products

    ocr = None if args.barcodes_only else RapidOcr()
    folders = {"set": args.set} if args.set else {"tuning": PRODUCT_SET, "held_out": HELD_OUT_SET}
    result: dict[str, Any] = {}
    for name, folder in folders.items():
        report = await asyncio.to_thread(bench_products, OpenCvBarcodeReader(), ocr, folder=folder)
        result[name] = report.to_json()
        if not args.misses:
            result[name].pop("misses")
    print_result(result["set"] if args.set else result, args.json)
    return 0
