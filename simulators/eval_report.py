"""The evaluation's HTML report: one self-contained file, plots embedded as PNG.

Read at a glance: the verdict and headline figures first, then the pass/fail
grid (scenario × expectation), latency per stage and bytes per scenario, and
last the details of every failed check.
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

PASS, FAIL, UNSET = "#2e9d57", "#d64541", "#e9ecef"
_BYTES_FLOOR = 10


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def pass_fail_grid(data: dict[str, Any]) -> str:
    results = data["results"]
    checks: list[str] = []
    for result in results:
        for step in result["steps"]:
            for check in step["checks"]:
                if check["name"] not in checks:
                    checks.append(check["name"])
    checks = checks or ["(none)"]
    grid = [[0] * len(checks) for _ in results]  # 0 unset, 1 pass, 2 fail
    if not results:  # every file was invalid: an empty grid, still a picture
        results = [{"name": "(no scenario ran)", "passed": False, "steps": []}]
        grid = [[0] * len(checks)]
    for row, result in enumerate(results):
        for step in result["steps"]:
            for check in step["checks"]:
                col = checks.index(check["name"])
                grid[row][col] = max(grid[row][col], 1 if check["passed"] else 2)
    height = max(2.0, 0.32 * len(results) + 1.6)
    figure, axes = plt.subplots(figsize=(9, height))
    axes.imshow(grid, cmap=ListedColormap([UNSET, PASS, FAIL]), vmin=0, vmax=2, aspect="auto")
    axes.set_xticks(
        range(len(checks)), [c.replace("_", " ") for c in checks], rotation=35, ha="right"
    )
    labels = [("✔ " if r["passed"] else "✘ ") + r["name"] for r in results]
    axes.set_yticks(range(len(results)), labels)
    for tick, result in zip(axes.get_yticklabels(), results, strict=True):
        tick.set_color(PASS if result["passed"] else FAIL)
    axes.set_xticks([x - 0.5 for x in range(1, len(checks))], minor=True)
    axes.set_yticks([y - 0.5 for y in range(1, len(results))], minor=True)
    axes.grid(which="minor", color="white", linewidth=2)
    axes.tick_params(which="minor", length=0)
    axes.set_title("Expectations per scenario (green pass, red fail, grey not checked)")
    return _png(figure)


def latency_per_stage(data: dict[str, Any]) -> str:
    stages = data["latency_ms"]
    names = list(stages) or ["(no answers)"]
    p50 = [stages[n]["p50"] if n in stages else 0 for n in names]
    p95 = [stages[n]["p95"] if n in stages else 0 for n in names]
    figure, axes = plt.subplots(figsize=(9, 0.45 * len(names) + 1.4))
    y = range(len(names))
    axes.barh([i - 0.2 for i in y], p50, height=0.4, color="#3b7dd8", label="p50")
    axes.barh([i + 0.2 for i in y], p95, height=0.4, color="#f0ad4e", label="p95")
    for i, (a, b) in enumerate(zip(p50, p95, strict=True)):
        axes.text(b, i + 0.2, f" {b:.0f}", va="center", fontsize=8)
        axes.text(a, i - 0.2, f" {a:.0f}", va="center", fontsize=8)
    axes.set_yticks(list(y), [n.replace("→", " → ") for n in names])
    axes.invert_yaxis()
    axes.set_xlabel("milliseconds")
    axes.set_title(f"Latency per stage over {data['answers']} answers")
    axes.legend(loc="lower right")
    return _png(figure)


def bytes_per_scenario(data: dict[str, Any]) -> str:
    results = data["results"]
    names = [r["name"] for r in results] or ["(none)"]
    sent = [max(_BYTES_FLOOR + 1, r["bytes_upstream"]) for r in results] or [_BYTES_FLOOR + 1]
    colours = [PASS if r["passed"] else FAIL for r in results] or [UNSET]
    figure, axes = plt.subplots(figsize=(9, 0.32 * len(names) + 1.4))
    # Bars start at a fixed 10 bytes so their lengths compare across runs; a log axis
    # left to itself starts at the smallest bar and makes near-equal bars look 10× apart.
    axes.barh(names, [v - _BYTES_FLOOR for v in sent], left=_BYTES_FLOOR, color=colours)
    for i, value in enumerate(sent):
        axes.text(value, i, f" {_size(value)}", va="center", fontsize=8)
    axes.set_xscale("log")
    axes.set_xlim(_BYTES_FLOOR, max(sent) * 20)
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: _size(value)))
    axes.invert_yaxis()
    axes.set_xlabel("bytes sent upstream (edge → gateway), log scale")
    axes.set_title("Bytes upstream per scenario")
    return _png(figure)


def render_report(data: dict[str, Any]) -> str:
    verdict = "PASS" if data["passed"] else "FAIL"
    colour = PASS if data["passed"] else FAIL
    answer = data["answer_ms"]
    per_query = data["bytes_per_query"]
    headline = [
        ("scenarios passed", f"{data['scenarios_passed']} / {data['scenarios']}"),
        ("answer p50 / p95", f"{_ms(answer['p50'])} / {_ms(answer['p95'])}"),
        ("bytes per query p50 / p95", f"{_kb(per_query['p50'])} / {_kb(per_query['p95'])}"),
        ("word error rate", "—" if data["wer"] is None else f"{data['wer']:.1%}"),
        ("run time", f"{data['seconds']:.0f} s"),
    ]
    failures = [
        (r["name"], i, c)
        for r in data["results"]
        for i, s in enumerate(r["steps"])
        for c in s["checks"]
        if not c["passed"]
    ]
    errors = [(r["name"], r["error"]) for r in data["results"] if r["error"]]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Companion evaluation</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:24px;max-width:1100px;color:#222}"
        "h1 span{color:white;padding:2px 12px;border-radius:6px}"
        ".cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:8px;"
        "padding:8px 14px}.card b{display:block;font-size:22px}"
        "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eee;padding:4px 8px;"
        "text-align:left;font-size:14px;vertical-align:top}img{max-width:100%}</style></head><body>",
        f"<h1>Companion evaluation <span style='background:{colour}'>{verdict}</span></h1>",
        f"<p>Suite <code>{html.escape(data['suite'])}</code></p><div class='cards'>",
        *(f"<div class='card'>{html.escape(k)}<b>{html.escape(v)}</b></div>" for k, v in headline),
        "</div>",
    ]
    if data["invalid"]:
        parts.append("<h2>Scenario files that could not be loaded</h2><ul>")
        parts += [f"<li><code>{html.escape(e)}</code></li>" for e in data["invalid"]]
        parts.append("</ul>")
    parts.append(f"<h2>Pass / fail</h2><img src='data:image/png;base64,{pass_fail_grid(data)}'>")
    if failures or errors:
        parts.append(
            "<h2>What failed</h2><table><tr><th>scenario</th><th>step</th><th>check</th><th>why</th></tr>"
        )
        parts += [
            f"<tr><td>{html.escape(n)}</td><td>{i + 1}</td><td>{html.escape(c['name'])}</td>"
            f"<td>{html.escape(c['detail'])}</td></tr>"
            for n, i, c in failures
        ]
        parts += [
            f"<tr><td>{html.escape(n)}</td><td></td><td>error</td><td>{html.escape(e)}</td></tr>"
            for n, e in errors
        ]
        parts.append("</table>")
    parts.append(
        f"<h2>Latency per stage</h2><img src='data:image/png;base64,{latency_per_stage(data)}'>"
    )
    parts.append(
        f"<h2>Bytes upstream</h2><img src='data:image/png;base64,{bytes_per_scenario(data)}'>"
    )
    parts.append(
        "<h2>Scenarios</h2><table><tr><th>scenario</th><th>result</th><th>heard</th><th>answer</th><th>bytes up</th><th>s</th></tr>"
    )
    for result in data["results"]:
        heard = " | ".join(s["transcript"] for s in result["steps"] if s["transcript"])
        answers = " | ".join(a for s in result["steps"] for a in s["answers"])
        mark = (
            f"<b style='color:{PASS}'>pass</b>"
            if result["passed"]
            else f"<b style='color:{FAIL}'>fail</b>"
        )
        parts.append(
            f"<tr><td>{html.escape(result['name'])}</td><td>{mark}</td><td>{html.escape(heard)}</td>"
            f"<td>{html.escape(answers)}</td><td>{result['bytes_upstream']:,}</td><td>{result['seconds']}</td></tr>"
        )
    parts.append("</table></body></html>")
    return "\n".join(parts)


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f} ms" if value < 10_000 else f"{value / 1000:.1f} s"


def _size(value: float) -> str:
    for unit, scale in (("MB", 1e6), ("kB", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.0f} B"


def _kb(value: float | None) -> str:
    return "—" if value is None else f"{value / 1000:.1f} kB"
