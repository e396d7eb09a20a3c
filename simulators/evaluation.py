"""Running a suite of scenarios through the real stack and scoring every step.

The cloud's models load once; one gateway and cloud run on loopback for the
whole suite. Each scenario's user is its own (`user@scenario`), and memory
lives in a folder of its own, so no scenario sees another's memories and an
evaluation never touches the wearer's real data. Each step is one edge
session (a fresh WebRTC connection), with the step's network faults between
the edge and the gateway.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from cloud.conversation import Models
from cloud.memory.user_data import UserData
from deploy.local_stack import local_stack
from edge.config import EdgeConfig
from edge.models import EdgeModels
from edge.session import EdgeSession, TurnRecord
from edge.sources.media import ButtonPress, MediaItem
from edge.vision.faces import HaarFaceDetector
from protocol import AnswerDelta, Keyframe, Message
from protocol.latency import STAGE_ORDER, breakdown
from simulators.barge_in import interrupt_when_answering
from simulators.bench_e2e import percentile, summarise_turns
from simulators.network_faults import faulty_connect
from simulators.replay import Speed, replay
from simulators.scenarios import Scenario, ScenarioError, Step, Suite
from simulators.scoring import Check, StepOutcome, score_step

# A step whose answer has not come by then fails rather than stalling the suite.
STEP_ANSWER_TIMEOUT_S = 90.0


@dataclass
class StepResult:
    checks: list[Check]
    transcript: str = ""
    answers: list[str] = field(default_factory=list)
    turns: list[TurnRecord] = field(default_factory=list)
    bytes_upstream: int = 0
    keyframes: int = 0
    segments: int = 0
    wer: tuple[int, int] | None = None
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)


@dataclass
class ScenarioResult:
    name: str
    path: Path
    steps: list[StepResult] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.error is None and all(s.passed for s in self.steps)

    @property
    def bytes_upstream(self) -> int:
        return sum(s.bytes_upstream for s in self.steps)


async def with_buttons(
    source: AsyncIterator[MediaItem], times: Sequence[float]
) -> AsyncIterator[MediaItem]:
    """`source` with a `ButtonPress` at each of `times`, in timestamp order."""
    pending = sorted(times)
    async for item in source:
        while pending and pending[0] <= item.t:
            yield ButtonPress(pending.pop(0))
        yield item
    for t in pending:
        yield ButtonPress(t)


def scenario_user(scenario: Scenario) -> str:
    return f"{scenario.user}@{scenario.name}"


class _ToolLists:
    """How long each of the user's tool lists is, to see which one a step added to."""

    def __init__(self, data: UserData | None) -> None:
        self.sizes: dict[str, int] = {}
        if data is not None:
            self.sizes = {
                "reminder": len(data.tools.pending_reminders()),
                "shopping_list": len(data.tools.items()),
                "note": len(data.tools.notes()),
            }

    def grew_since(self, before: _ToolLists) -> frozenset[str]:
        return frozenset(k for k, n in self.sizes.items() if n > before.sizes.get(k, 0))


class Evaluator:
    """Runs scenarios against one running stack; `async with Evaluator(...) as ev:`."""

    def __init__(self, models: Models, edge_models: EdgeModels, *, speed: Speed = "max") -> None:
        self.models = models
        self.edge_models = edge_models
        self.speed: Speed = speed
        self._stack: Any = None
        self._gateway_url = ""
        self._face_check: HaarFaceDetector | None = None

    async def __aenter__(self) -> Evaluator:
        self._stack = local_stack(self.models)
        self._gateway_url = (await self._stack.__aenter__()).gateway_url
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.__aexit__(None, None, None)

    def _user_data(self, user: str) -> UserData | None:
        return self.models.users.open(user) if self.models.users is not None else None

    async def run(self, scenario: Scenario) -> ScenarioResult:
        result = ScenarioResult(scenario.name, scenario.path)
        started = time.monotonic()
        try:
            for step in scenario.steps:
                result.steps.append(await self._run_step(scenario, step))
        except Exception as exc:  # one broken scenario must not stop the suite
            result.error = f"{exc.__class__.__name__}: {exc}"
        result.seconds = time.monotonic() - started
        return result

    async def _run_step(self, scenario: Scenario, step: Step) -> StepResult:
        user = scenario_user(scenario)
        config = EdgeConfig(
            gateway_url=self._gateway_url,
            user=user,
            device="eval",
            privacy=scenario.privacy,
            mode=scenario.mode,
            activation=scenario.activation,
            keyframes=scenario.keyframes,
        )
        data = await asyncio.to_thread(self._user_data, user)
        tools_before = await asyncio.to_thread(_ToolLists, data)
        source = None
        answering = asyncio.Event()
        if step.video is not None or step.audio is not None:
            speed: Speed = "realtime" if scenario.speed == "realtime" else self.speed
            source = replay(step.video, step.audio, speed=speed, audio_format=step.audio_format)
            if step.button:
                source = with_buttons(source, step.button)
            if step.barge_in is not None:
                source = interrupt_when_answering(
                    source, step.barge_in, answering, wait_s=STEP_ANSWER_TIMEOUT_S
                )
        uploaded: list[bytes] = []

        def on_event(kind: str, message: Message, turn: TurnRecord | None) -> None:
            if isinstance(message, Keyframe):
                uploaded.append(message.jpeg)
            elif isinstance(message, AnswerDelta):
                answering.set()

        session = EdgeSession(
            self.edge_models.listener(config),
            self.edge_models.analyser if step.video is not None else None,
            config,
            answer_timeout_s=STEP_ANSWER_TIMEOUT_S,
            connect=faulty_connect(step.network),
        )
        started = time.monotonic()
        summary = await session.run(source, questions=list(step.text), on_event=on_event)
        seconds = time.monotonic() - started
        faces = 0
        if step.expect.max_uploaded_faces is not None:
            faces = await asyncio.to_thread(self._count_faces, uploaded)
        memories: tuple[str, ...] = ()
        if data is not None and step.expect.memory_contains:
            listed = await asyncio.to_thread(data.memory.list_memories, user, limit=500)
            memories = tuple(m.text for m in listed)
        tools_after = await asyncio.to_thread(_ToolLists, data)
        outcome = StepOutcome(
            summary=summary,
            uploaded_faces=faces,
            memories=memories,
            tools_used=tools_after.grew_since(tools_before),
            reference=step.reference,
        )
        return StepResult(
            checks=score_step(step.expect, outcome),
            transcript=outcome.transcript,
            answers=outcome.answers,
            turns=summary.turns,
            bytes_upstream=summary.bytes_upstream,
            keyframes=summary.stats.keyframes_sent,
            segments=summary.stats.segments,
            wer=outcome.wer(),
            seconds=seconds,
        )

    def _count_faces(self, jpegs: list[bytes]) -> int:
        """Faces an independent detector (OpenCV's Haar cascade) still finds in what left the device.

        Not the edge's own detector: a stage graded by itself passes its own blind spots.
        """
        if self._face_check is None:
            self._face_check = HaarFaceDetector()  # ModelError names the missing package
        total = 0
        for jpeg in jpegs:
            image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
            if image is not None:
                total += len(self._face_check.detect(image.astype(np.uint8, copy=False)))
        return total


async def evaluate(
    suite: Suite,
    models: Models,
    edge_models: EdgeModels,
    *,
    speed: Speed = "max",
    on_scenario: Callable[[int, int, ScenarioResult], None] = lambda i, n, r: None,
) -> list[ScenarioResult]:
    results: list[ScenarioResult] = []
    async with Evaluator(models, edge_models, speed=speed) as evaluator:
        for index, scenario in enumerate(suite.scenarios, start=1):
            result = await evaluator.run(scenario)
            results.append(result)
            on_scenario(index, len(suite.scenarios), result)
    return results


def report_data(
    suite_dir: Path, results: list[ScenarioResult], invalid: list[ScenarioError], seconds: float
) -> dict[str, Any]:
    """Everything `companion eval --json` prints and the HTML report draws."""
    answered = [t for r in results for s in r.steps for t in s.turns if t.done is not None]
    latency = summarise_turns(answered)
    errors = sum(s.wer[0] for r in results for s in r.steps if s.wer is not None)
    words = sum(s.wer[1] for r in results for s in r.steps if s.wer is not None)
    queries = [
        s.bytes_upstream / max(1, len([t for t in s.turns if t.done is not None]))
        for r in results
        for s in r.steps
        if any(t.done is not None for t in s.turns) and s.keyframes + s.segments > 0
    ]
    return {
        "suite": str(suite_dir),
        "passed": not invalid and all(r.passed for r in results),
        "scenarios": len(results) + len(invalid),
        "scenarios_passed": sum(r.passed for r in results),
        "seconds": round(seconds, 1),
        "invalid": [str(e) for e in invalid],
        "latency_ms": _in_pipeline_order(latency["stages_ms"]),
        "answer_ms": latency["answer_ms"],
        "answers": latency["answers"],
        "bytes_per_query": {
            "p50": round(percentile(queries, 50)) if queries else None,
            "p95": round(percentile(queries, 95)) if queries else None,
        },
        "wer": round(errors / words, 3) if words else None,
        "results": [_scenario_record(r) for r in results],
    }


def _in_pipeline_order(stages: dict[str, Any]) -> dict[str, Any]:
    """ "a→b" pairs sorted by where a, then b, come in the pipeline: the report reads top down."""
    rank = {name: i for i, name in enumerate(STAGE_ORDER)}

    def key(pair: str) -> tuple[int, int]:
        first, _, second = pair.partition("→")
        return rank.get(first, len(rank)), rank.get(second, len(rank))

    return {pair: stages[pair] for pair in sorted(stages, key=key)}


def _scenario_record(result: ScenarioResult) -> dict[str, Any]:
    return {
        "name": result.name,
        "file": str(result.path),
        "passed": result.passed,
        "error": result.error,
        "seconds": round(result.seconds, 1),
        "bytes_upstream": result.bytes_upstream,
        "steps": [
            {
                "passed": step.passed,
                "transcript": step.transcript,
                "answers": step.answers,
                "bytes_upstream": step.bytes_upstream,
                "keyframes": step.keyframes,
                "segments": step.segments,
                "wer": round(step.wer[0] / step.wer[1], 3) if step.wer and step.wer[1] else None,
                "latency_ms": [
                    {name: round(ms, 1) for name, ms in breakdown(t.stages())}
                    for t in step.turns
                    if t.done is not None
                ],
                "checks": [
                    {"name": c.name, "passed": c.passed, "detail": c.detail} for c in step.checks
                ],
            }
            for step in result.steps
        ],
    }
