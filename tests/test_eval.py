"""`companion eval` end to end: real models, real WebRTC on loopback, a real report.

Two bundled scenarios (a sign read aloud, local-only mode) run beside one that
must fail and one file that cannot be loaded: the good ones pass, the bad ones
are named, and the exit status says the suite failed. Then the whole bundled
suite, as CI runs it, and its HTML report opened in Chromium.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "scenarios"


def _copy_with_absolute_media(name: str, folder: Path) -> None:
    """A bundled scenario in another folder: its media paths made absolute."""
    body: dict[str, Any] = json.loads((BUNDLED / f"{name}.json").read_text())
    for step in body["steps"]:
        for key in ("video", "audio"):
            if key in step:
                step[key] = str((BUNDLED / step[key]).resolve())
    (folder / f"{name}.json").write_text(json.dumps(body))


@pytest.mark.models
def test_eval_scores_scenarios_reports_bad_files_and_fails_the_suite(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    _copy_with_absolute_media("read-a-sign", suite)
    _copy_with_absolute_media("local-only", suite)
    (suite / "impossible.json").write_text(
        json.dumps(
            {
                "name": "impossible",
                "mode": "fast",
                "steps": [
                    {"text": "What is two plus two?", "expect": {"answer_contains_any": ["zebra"]}}
                ],
            }
        )
    )
    (suite / "typo.json").write_text(json.dumps({"name": "typo", "stpes": []}))
    report = tmp_path / "report.html"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "companion",
            "eval",
            "--suite",
            str(suite),
            "--json",
            "--report",
            str(report),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
    )
    assert run.returncode == 1, run.stderr[-2000:]
    assert "typo.json: stpes: unknown field" in run.stderr
    data = json.loads(run.stdout)
    results = {r["name"]: r for r in data["results"]}
    for name in ("read-a-sign", "local-only"):
        assert results[name]["passed"], results[name]["steps"]
    assert not results["impossible"]["passed"]
    failed = results["impossible"]["steps"][0]["checks"][0]
    assert failed["name"] == "answer_contains_any" and "zebra" in failed["detail"]
    assert data["scenarios"] == 4 and data["scenarios_passed"] == 2 and not data["passed"]
    assert any("typo.json" in e for e in data["invalid"])
    assert "transcript→first_token" not in data["latency_ms"]  # stages are consecutive pairs
    assert "segment_received→transcript" in data["latency_ms"]
    assert results["local-only"]["bytes_upstream"] < results["read-a-sign"]["bytes_upstream"]
    page = report.read_text()
    assert "Companion evaluation" in page and "FAIL" in page
    assert page.count("data:image/png;base64,") == 3
    assert "typo.json" in page and "zebra" in page


REPORT_DIR = ROOT / "artifacts" / "eval"


@pytest.mark.models
def test_the_whole_bundled_suite_passes_and_its_report_reads_in_a_browser() -> None:
    """What CI promises: every scenario in scenarios/ passes, and the report renders."""
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM

    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    report = REPORT_DIR / "report.html"
    run = subprocess.run(
        [
            *(sys.executable, "-m", "companion", "eval", "--suite", str(BUNDLED)),
            *("--json", "--report", str(report)),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=1200,
    )
    data = json.loads(run.stdout)
    failed = {
        r["name"]: r["error"] or [c for s in r["steps"] for c in s["checks"] if not c["passed"]]
        for r in data["results"]
        if not r["passed"]
    }
    print(f"\nbundled suite: {data['scenarios_passed']}/{data['scenarios']} in {data['seconds']} s")
    assert not failed and not data["invalid"], (failed, data["invalid"], run.stderr[-2000:])
    assert run.returncode == 0 and data["passed"]
    assert data["scenarios"] == len(list(BUNDLED.glob("*.json")))
    names = [r["name"] for r in data["results"]]
    assert {"barge-in", "connection-drop"} <= set(names)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(report.as_uri())
        page.screenshot(path=str(REPORT_DIR / "report.png"), full_page=True)
        drawn = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")
        text = page.inner_text("body")
        browser.close()
    assert len(drawn) == 3 and all(width > 400 for width in drawn)  # every plot decoded
    assert "PASS" in text and f"{len(names)} / {len(names)}" in text
    assert all(name in text for name in names)
