"""`companion bench translation --into`: captions put into another language by the reasoner.

Each clip of a set whose clips.json gives both the sentence as spoken (`text`,
in `language`) and its English (`english`) is translated from English into
that language by the bundled reasoner, exactly as a final caption line is
("translate to Spanish": cloud/captions/translation.py), and scored by chrF
(character n-gram F-score, n = 1…6, β = 2, the usual machine-translation
metric that needs no tokeniser) against the sentence as spoken, with the
seconds each line took.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from cloud.captions.translation import CaptionTranslator
from cloud.reasoning.reasoner import QwenReasoner
from simulators.caption_replay import cpu_clock

_MAX_N = 6
_BETA = 2.0


def chrf(hypothesis: str, reference: str) -> float:
    """chrF (0–100) of `hypothesis` against `reference`, spaces ignored, case kept."""
    hyp, ref = hypothesis.replace(" ", ""), reference.replace(" ", "")
    precisions, recalls = [], []
    for n in range(1, _MAX_N + 1):
        h = Counter(hyp[i : i + n] for i in range(len(hyp) - n + 1))
        r = Counter(ref[i : i + n] for i in range(len(ref) - n + 1))
        if not h or not r:
            continue
        common = sum((h & r).values())
        precisions.append(common / sum(h.values()))
        recalls.append(common / sum(r.values()))
    if not precisions:
        return 0.0
    precision = sum(precisions) / len(precisions)
    recall = sum(recalls) / len(recalls)
    if precision + recall == 0:
        return 0.0
    return 100.0 * (1 + _BETA**2) * precision * recall / (_BETA**2 * precision + recall)


async def bench_translate_into(folder: Path) -> dict[str, Any]:
    clips = json.loads((folder / "clips.json").read_text())
    usable = [c for c in clips if c.get("english") and c.get("text")]
    if not usable:
        raise ValueError(f"{folder}/clips.json has no clip with both text and english")
    started = time.perf_counter()
    reasoner = await asyncio.to_thread(QwenReasoner)
    load_s = time.perf_counter() - started
    translator = CaptionTranslator(reasoner, lock=asyncio.Lock(), timeout_s=600.0)
    # One untimed line first: the model's first call pays for warming up, not translating.
    await translator.translate("Good morning.", usable[0]["language"])
    rows: dict[str, dict[str, Any]] = {}
    scores: dict[str, list[float]] = {}
    seconds: list[float] = []
    cpu_seconds: list[float] = []
    for clip in usable:
        began, cpu_began = time.perf_counter(), cpu_clock()
        text = await translator.translate(clip["english"], clip["language"])
        spent = time.perf_counter() - began
        cpu_seconds.append(cpu_clock() - cpu_began)
        score = chrf(text, clip["text"])
        scores.setdefault(clip["language"], []).append(score)
        seconds.append(spent)
        rows[clip["file"]] = {
            "language": clip["language"],
            "english": clip["english"],
            "translation": text,
            "reference": clip["text"],
            "chrf": round(score, 1),
            "seconds": round(spent, 2),
            "cpu_seconds_per_core": round(cpu_seconds[-1], 2),
        }
    return {
        "clips": rows,
        "chrf_mean_by_language": {
            lang: round(sum(v) / len(v), 1) for lang, v in sorted(scores.items())
        },
        "seconds_per_line_mean": round(sum(seconds) / len(seconds), 2),
        "seconds_per_line_max": round(max(seconds), 2),
        # On a machine shared with other work: CPU seconds per core, what the same
        # translations take on these cores alone (simulators/caption_replay.py:cpu_clock).
        "cpu_seconds_per_core_per_line_mean": round(sum(cpu_seconds) / len(cpu_seconds), 2),
        "reasoner_load_s": round(load_s, 1),
    }
