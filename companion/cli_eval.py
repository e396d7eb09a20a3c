"""`companion eval --suite DIR [--json] [--report report.html]`: score every scenario.

Models load once; each scenario replays through the real stack (edge models,
WebRTC on loopback, gateway, cloud) and each expectation is scored. A scenario
file that cannot be loaded is reported (file and field) and the rest still
run. Exit status 1 when any scenario fails or cannot be loaded.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

from companion.cli_support import Subcommands, UsageError, progress_printer, settings_of

DEFAULT_SUITE = Path(__file__).resolve().parents[1] / "scenarios"


def register(commands: Subcommands, benchmarks: Subcommands) -> None:
    ev = commands.add_parser(
        "eval", help="replay a suite of scenarios through the real stack and score them"
    )
    ev.add_argument("--suite", type=Path, default=DEFAULT_SUITE, help="folder of *.json scenarios")
    ev.add_argument("--report", type=Path, help="write an HTML report with plots here")
    ev.add_argument("--speed", choices=("max", "realtime"), default="max")
    ev.add_argument("--json", action="store_true", help="print the results as one JSON object")
    ev.set_defaults(run=_eval)


class ProgressBar:
    """A one-line bar on a terminal; silent when stderr is a file or a pipe."""

    def __init__(self, out: TextIO = sys.stderr, width: int = 30) -> None:
        self.out = out
        self.width = width
        self.enabled = out.isatty()
        self.failed = 0

    def __call__(self, done: int, total: int, name: str, passed: bool) -> None:
        self.failed += not passed
        if not self.enabled:
            return
        filled = round(self.width * done / max(1, total))
        bar = "█" * filled + "·" * (self.width - filled)
        line = f"\r[{bar}] {done}/{total}  failed {self.failed}  last: {name[:30]:<30}"
        print(line, end="" if done < total else "\n", file=self.out, flush=True)


async def _eval(args: argparse.Namespace) -> int:
    from deploy.local_stack import load_cloud_models, warm_up
    from edge.models import EdgeModels
    from simulators.eval_report import render_report
    from simulators.evaluation import evaluate, report_data
    from simulators.scenarios import load_suite

    if not args.suite.is_dir():
        raise UsageError(f"{args.suite}: no such directory (give --suite DIR)")
    if args.report is not None and not args.report.parent.is_dir():
        raise UsageError(f"{args.report.parent}: no such directory for --report")
    suite = load_suite(args.suite)
    for error in suite.errors:
        print(f"companion: invalid scenario: {error}", file=sys.stderr)
    if not suite.scenarios and not suite.errors:
        raise UsageError(f"{args.suite}: no *.json scenario files")
    started = time.monotonic()
    results = []
    if suite.scenarios:
        # Memories written during an evaluation go to a folder of their own, never the user's.
        with tempfile.TemporaryDirectory(prefix="companion-eval-") as data_dir:
            progress = progress_printer()
            config = dataclasses.replace(settings_of(args).cloud_config(), data_dir=Path(data_dir))
            models = await asyncio.to_thread(load_cloud_models, config, progress)
            try:
                await warm_up(models, progress)
                bar = ProgressBar()
                results = await evaluate(
                    suite,
                    models,
                    EdgeModels(),
                    speed=args.speed,
                    on_scenario=lambda i, n, r: bar(i, n, r.name, r.passed),
                )
            finally:
                if models.users is not None:
                    models.users.close()
    data = report_data(args.suite, results, suite.errors, time.monotonic() - started)
    if args.report is not None:
        args.report.write_text(render_report(data), encoding="utf-8")
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
    else:
        _print_summary(data)
    return 0 if data["passed"] else 1


def _print_summary(data: dict[str, object]) -> None:
    results = data["results"]
    assert isinstance(results, list)
    for result in results:
        mark = "pass" if result["passed"] else "FAIL"
        print(
            f"{mark}  {result['name']}  ({result['seconds']} s, {result['bytes_upstream']:,} B up)"
        )
        for index, step in enumerate(result["steps"], start=1):
            for check in step["checks"]:
                if not check["passed"]:
                    print(f"      step {index} {check['name']}: {check['detail']}")
        if result["error"]:
            print(f"      error: {result['error']}")
    print(
        f"{data['scenarios_passed']}/{data['scenarios']} scenarios passed in {data['seconds']} s; "
        f"answer ms {json.dumps(data['answer_ms'])}; bytes per query {json.dumps(data['bytes_per_query'])}"
    )
