"""End-to-end latency over repeated replays of one recording.

Models load once; every run is a fresh WebRTC session through the same
in-process gateway and cloud, so the figures are per-answer, warm.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cloud.config import CloudConfig
from deploy.local_stack import load_cloud_models, local_stack, warm_up
from edge.config import EdgeConfig
from edge.models import EdgeModels
from edge.session import TurnRecord
from protocol import AnswerMode
from protocol.latency import breakdown, stage_at


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: honest for the handful of runs a benchmark does."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100.0 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summarise_turns(turns: list[TurnRecord]) -> dict[str, Any]:
    """p50/p95 per stage, answer time, and the share that is not model inference."""
    per_stage: dict[str, list[float]] = {}
    answer_ms: list[float] = []
    overhead: list[float] = []
    for turn in turns:
        stages = turn.stages()
        for name, ms in breakdown(stages):
            per_stage.setdefault(name, []).append(ms)
        start, end = stage_at(stages, "end_of_speech"), stage_at(stages, "answer_received")
        if start is None or end is None or turn.done is None:
            continue
        total = (end - start) * 1000.0
        answer_ms.append(total)
        overhead.append(max(0.0, total - turn.done.inference_ms) / total if total > 0 else 0.0)
    return {
        "answers": len(answer_ms),
        "stages_ms": {
            name: {"p50": round(percentile(v, 50), 1), "p95": round(percentile(v, 95), 1)}
            for name, v in per_stage.items()
        },
        "answer_ms": {
            "p50": round(percentile(answer_ms, 50), 1) if answer_ms else None,
            "p95": round(percentile(answer_ms, 95), 1) if answer_ms else None,
        },
        "non_inference_share": {
            "p50": round(percentile(overhead, 50), 3) if overhead else None,
            "p95": round(percentile(overhead, 95), 3) if overhead else None,
        },
    }


async def bench_e2e(
    *,
    video: Path,
    audio: Path,
    runs: int,
    mode: AnswerMode = "fast",
    speed: str = "realtime",
    config: CloudConfig | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """`config`: the cloud's settings (the CLI builds them); None: the defaults."""
    models = await asyncio.to_thread(load_cloud_models, config, progress)
    await warm_up(models, progress)
    edge_models = EdgeModels()
    turns: list[TurnRecord] = []
    answers: list[str] = []
    async with local_stack(models, cloud_config=config) as stack:
        for run in range(runs):
            progress(f"run {run + 1}/{runs}")
            done = await _answered_turns(
                edge_models,
                stack.gateway_url,
                video,
                audio,
                speed,
                EdgeConfig(mode=mode, device="bench"),
            )
            turns += done
            answers += [t.answer for t in done]
    return {
        "runs": runs,
        "mode": mode,
        "speed": speed,
        "video": str(video),
        "audio": str(audio),
        **summarise_turns(turns),
        "example_answer": answers[0] if answers else None,
    }


async def _answered_turns(
    edge_models: EdgeModels,
    gateway_url: str,
    video: Path,
    audio: Path,
    speed: str,
    edge_config: EdgeConfig,
) -> list[TurnRecord]:
    """One replay of the question through the running stack; the turns that were answered."""
    from simulators.stack_replay import run_replay

    summary = await run_replay(
        edge_models=edge_models,
        video=video,
        audio=audio,
        speed=speed,
        gateway_url=gateway_url,
        edge_config=edge_config,
    )
    return [t for t in summary.turns if t.done is not None]


def first_token_ms(turns: list[TurnRecord]) -> dict[str, dict[str, float | None]]:
    """From end of speech, and from the finished prompt, to the answer's first token."""
    spans: dict[str, list[float]] = {"end_of_speech": [], "prompt_ready": []}
    for turn in turns:
        stages = turn.stages()
        first = stage_at(stages, "first_token")
        for start_name, values in spans.items():
            start = stage_at(stages, start_name)
            if first is not None and start is not None:
                values.append((first - start) * 1000.0)
    return {
        f"from_{name}": {
            "p50": round(percentile(v, 50), 1) if v else None,
            "p95": round(percentile(v, 95), 1) if v else None,
        }
        for name, v in spans.items()
    }


async def compare_modes(
    *,
    video: Path,
    audio: Path,
    runs: int,
    speed: str = "realtime",
    config: CloudConfig | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """The same spoken question answered `runs` times in each mode, the modes taken in turn
    so both see the same load; memories go to a fresh folder, deleted afterwards."""
    import dataclasses
    import tempfile

    with tempfile.TemporaryDirectory(prefix="companion-bench-") as folder:
        config = dataclasses.replace(config or CloudConfig(), data_dir=Path(folder))
        models = await asyncio.to_thread(load_cloud_models, config, progress)
        try:
            await warm_up(models, progress)
            edge_models = EdgeModels()
            turns: dict[AnswerMode, list[TurnRecord]] = {"fast": [], "reasoning": []}
            answers: dict[AnswerMode, str | None] = {"fast": None, "reasoning": None}
            async with local_stack(models, cloud_config=config) as stack:
                for run in range(runs):
                    for mode in turns:
                        progress(f"run {run + 1}/{runs}, {mode}")
                        done = await _answered_turns(
                            edge_models,
                            stack.gateway_url,
                            video,
                            audio,
                            speed,
                            EdgeConfig(mode=mode, device="bench", user="bench"),
                        )
                        turns[mode] += done
                        answers[mode] = answers[mode] or (done[0].answer if done else None)
        finally:
            if models.users is not None:
                models.users.close()
    return {
        "runs": runs,
        "speed": speed,
        "video": str(video),
        "audio": str(audio),
        "modes": {
            mode: {
                "answers": len(records),
                "first_token_ms": first_token_ms(records),
                "answer_ms": summarise_turns(records)["answer_ms"],
                "example_answer": answers[mode],
            }
            for mode, records in turns.items()
        },
    }
