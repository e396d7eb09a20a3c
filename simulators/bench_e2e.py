"""End-to-end latency over repeated replays of one recording.

Models load once; every run is a fresh WebRTC session through the same
in-process gateway and cloud, so the figures are per-answer, warm. What a
wearer waits for is measured from the end of their speech: the first token,
and the first spoken audio played by the device's speaker (a paced pull of the
edge's player, as a sound card's callback pulls it). Beside them, in the same run,
the bare model calls on the same prompt, so the difference is what the stack
adds (speech recognition, the network, prompt building) or saves (the prefill).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cloud.config import CloudConfig
from cloud.conversation import Models
from cloud.prompting.prompt import QUESTION_SLOT, build_messages, opening_messages
from cloud.reasoning.reasoner import ChatMessage, QwenReasoner, Reasoner
from cloud.speech.spoken_answer import SentenceCutter
from deploy.local_stack import load_cloud_models, local_stack, warm_up
from edge.audio.playback import AnswerPlayer
from edge.config import EdgeConfig
from edge.models import EdgeModels
from edge.session import SessionSummary, TurnRecord
from edge.sources.media import SAMPLE_RATE
from protocol import AnswerMode
from protocol.latency import breakdown, stage_at
from simulators.stack_replay import with_voice


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


BENCH_MODES: tuple[AnswerMode, ...] = ("fast", "reasoning")
# A camera prompt unlike the benchmark's: priming the reasoner with it before every run
# leaves the instructions and worked examples cached (as on a server that has answered
# before) but not this question's camera text, which every new question brings.
_PRIMING_TEXT = ["EMERGENCY EXIT", "Keep this door closed"]


@dataclass
class _Run:
    """One answered turn's figures, all from end of speech, in ms."""

    first_token: float | None
    first_audio: float | None
    reused_tokens: int
    # From the finished prompt to the first token: what the prefill shortens, without
    # speech recognition's run-to-run spread around it.
    prompt_to_first_token: float | None


async def bench_e2e(
    *,
    video: Path,
    audio: Path,
    runs: int,
    modes: tuple[AnswerMode, ...] = BENCH_MODES,
    speed: str = "realtime",
    config: CloudConfig | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """End of speech → first token and → first spoken audio, per mode, with the prompt
    prefill on and off (runs taken in turn, so both see the same load), beside the bare
    model calls on the same prompt: the reasoner's first token cold and with the opening
    cached, and Piper's first sentence. Memories go to a fresh folder, deleted afterwards;
    each run is a new user, so no run recalls another's answer. `config`: the cloud's
    settings (the CLI builds them); None: the defaults."""
    with tempfile.TemporaryDirectory(prefix="companion-bench-") as folder:
        config = dataclasses.replace(config or CloudConfig(), data_dir=Path(folder))
        models = await asyncio.to_thread(load_cloud_models, config, progress)
        try:
            progress("loading the voice (Piper en_US-joe-medium)…")
            models = await asyncio.to_thread(with_voice, models)
            await warm_up(models, progress)
            return await _bench_modes(models, config, video, audio, runs, modes, speed, progress)
        finally:
            if models.users is not None:
                models.users.close()


async def _bench_modes(
    models: Models,
    config: CloudConfig,
    video: Path,
    audio: Path,
    runs: int,
    modes: tuple[AnswerMode, ...],
    speed: str,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    edge_models = EdgeModels()
    kinds = ("prefill", "no_prefill")
    # "prefill": as served, the opening read from the edge's EarlyObservation while the
    # wearer speaks, and again beside speech recognition where there are cores for it.
    late_prefill = models.prefill
    figures: dict[str, dict[str, list[_Run]]] = {m: {k: [] for k in kinds} for m in modes}
    turns: dict[str, list[TurnRecord]] = {m: [] for m in modes}
    bare: dict[str, dict[str, list[float]]] = {m: {} for m in modes}
    uploads: list[float] = []
    async with local_stack(models, cloud_config=config) as stack:
        for run in range(runs):
            for mode in modes:
                for kind in kinds:
                    progress(f"run {run + 1}/{runs}, {mode}, {kind.replace('_', ' ')}")
                    models.prefill_early = kind == "prefill"
                    models.prefill = late_prefill and kind == "prefill"
                    await _prime(models, mode)
                    record = await _timed_replay(
                        edge_models, stack.gateway_url, video, audio, speed,
                        EdgeConfig(
                            mode=mode,
                            device="bench",
                            user=f"bench-{run}-{mode}-{kind}",
                            answer_codec="opus",  # as `companion edge --speaker` asks
                        ),
                    )  # fmt: skip
                    if record is None:
                        continue
                    turn, first_audio, sent = record
                    uploads.append(sent)
                    figures[mode][kind].append(_figures(models, mode, turn, first_audio))
                    turns[mode].append(turn)
                    if kind == "prefill":
                        for name, ms in (await _bare_calls(models, mode, turn)).items():
                            bare[mode].setdefault(name, []).append(ms)
    models.prefill, models.prefill_early = late_prefill, True
    return {
        "runs": runs,
        "speed": speed,
        "video": str(video),
        "audio": str(audio),
        "bytes_upstream_per_question": _p50_p95(uploads),
        "modes": {
            mode: {
                **{kind: _summary(figures[mode][kind]) for kind in kinds},
                "bare_ms": {name: _p50_p95(values) for name, values in bare[mode].items()},
                **summarise_turns(turns[mode]),
                "example_answer": turns[mode][0].answer if turns[mode] else None,
            }
            for mode in modes
        },
    }


async def _prime(models: Models, mode: AnswerMode) -> None:
    """Forget cached prompts, then read one unlike the benchmark's (see `_PRIMING_TEXT`)."""
    reasoner = models.reasoner_for(mode)
    if isinstance(reasoner, QwenReasoner):
        await reasoner.forget_prompts()
    prompt = build_messages("What is this?", ocr_lines=_PRIMING_TEXT, labels=[], mode=mode)
    async for _ in reasoner.stream(prompt, max_new_tokens=1):
        pass


async def _timed_replay(
    edge_models: EdgeModels,
    gateway_url: str,
    video: Path,
    audio: Path,
    speed: str,
    edge_config: EdgeConfig,
) -> tuple[TurnRecord, float | None, float] | None:
    """One replay; its first answered turn, when its first spoken audio was played by the
    edge's speaker (monotonic, the clock every stage is on: one process), and the bytes
    sent upstream."""
    speaker = _PacedSpeaker()
    async with asyncio.TaskGroup() as tasks:
        playing = tasks.create_task(speaker.run())
        try:
            summary = await _replay(
                edge_models, gateway_url, video, audio, speed, edge_config, speaker.player
            )
            # The answer's last words may still be queued on the speaker: let it play them.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(speaker.played.wait(), _PLAYOUT_WAIT_S)
        finally:
            playing.cancel()
    answered = [t for t in summary.turns if t.done is not None]
    if not answered:
        return None
    turn = answered[0]
    return turn, speaker.first_sound, float(summary.bytes_upstream) / len(answered)


# At most this long after the session's last answer, for the speaker to play what it holds.
_PLAYOUT_WAIT_S = 30.0


class _PacedSpeaker:
    """A sound card's pull, without the card: every `BLOCK_S` the next block of the
    player's audio is taken on a real-time clock, as `companion edge --speaker`'s output
    callback takes it. The first block with sound is when the first word was played."""

    BLOCK_S = 0.02

    def __init__(self) -> None:
        self.player = AnswerPlayer()
        self.first_sound: float | None = None
        self.played = asyncio.Event()  # something was played, and nothing is left to play

    async def run(self) -> None:
        started = time.monotonic()
        frames = round(self.BLOCK_S * SAMPLE_RATE)
        blocks = 0
        while True:
            block = self.player.pull(blocks * self.BLOCK_S, frames)
            if self.first_sound is None and block.any():
                self.first_sound = time.monotonic()
            if self.first_sound is not None and not self.player.speaking:
                self.played.set()
            blocks += 1
            await asyncio.sleep(max(0.0, started + blocks * self.BLOCK_S - time.monotonic()))


def _figures(models: Models, mode: AnswerMode, turn: TurnRecord, first_audio: float | None) -> _Run:
    stages = turn.stages()
    ended, first = stage_at(stages, "end_of_speech"), stage_at(stages, "first_token")
    ready = stage_at(stages, "prompt_ready")
    reasoner = models.reasoner_for(mode)
    return _Run(
        first_token=(first - ended) * 1000.0 if first is not None and ended is not None else None,
        first_audio=(first_audio - ended) * 1000.0
        if first_audio is not None and ended is not None
        else None,
        reused_tokens=reasoner.last_reused_tokens if isinstance(reasoner, QwenReasoner) else 0,
        prompt_to_first_token=(first - ready) * 1000.0
        if first is not None and ready is not None
        else None,
    )


async def _bare_calls(models: Models, mode: AnswerMode, turn: TurnRecord) -> dict[str, float]:
    """The model calls alone on this turn's own prompt and answer, nothing around them: the
    reasoner's first token with nothing cached, with the instructions and examples cached
    (a turn without the prefill) and with the whole opening cached (the prefill's best)."""
    seen = turn.observation
    ocr = [line.text for line in seen.ocr] if seen else []
    labels = [(label.name, label.score) for label in seen.labels] if seen else []
    prompt = build_messages(turn.transcript or "", ocr_lines=ocr, labels=labels, mode=mode)
    reasoner = models.reasoner_for(mode)
    timings: dict[str, float] = {}
    if isinstance(reasoner, QwenReasoner):
        await reasoner.forget_prompts()
        timings["reasoner_first_token_cold"] = await _first_token_ms(reasoner, prompt)
        await _prime(models, mode)  # what a turn without the prefill finds cached
        timings["reasoner_first_token_instructions_cached"] = await _first_token_ms(
            reasoner, prompt
        )
        await _prime(models, mode)
        await reasoner.prefill(opening_messages(ocr, labels, mode=mode), up_to=QUESTION_SLOT)
        timings["reasoner_first_token_opening_cached"] = await _first_token_ms(reasoner, prompt)
    if models.voice is not None:
        sentence = (SentenceCutter().feed(turn.answer + " ") or [turn.answer])[0]
        started = time.perf_counter()
        await models.voice.synthesize(sentence)
        timings["piper_first_sentence"] = (time.perf_counter() - started) * 1000.0
    return timings


async def _first_token_ms(reasoner: Reasoner, prompt: list[ChatMessage]) -> float:
    started = time.perf_counter()
    async for piece in reasoner.stream(prompt, max_new_tokens=8):
        if piece:
            break
    return (time.perf_counter() - started) * 1000.0


def _p50_p95(values: list[float]) -> dict[str, float | None]:
    return {
        "p50": round(percentile(values, 50), 1) if values else None,
        "p95": round(percentile(values, 95), 1) if values else None,
    }


def _summary(runs: list[_Run]) -> dict[str, Any]:
    return {
        "answers": len(runs),
        "first_token_ms": _p50_p95([r.first_token for r in runs if r.first_token is not None]),
        "first_audio_ms": _p50_p95([r.first_audio for r in runs if r.first_audio is not None]),
        "prompt_tokens_reused": _p50_p95([float(r.reused_tokens) for r in runs]),
        "prompt_ready_to_first_token_ms": _p50_p95(
            [r.prompt_to_first_token for r in runs if r.prompt_to_first_token is not None]
        ),
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
    summary = await _replay(edge_models, gateway_url, video, audio, speed, edge_config)
    return [t for t in summary.turns if t.done is not None]


async def _replay(
    edge_models: EdgeModels,
    gateway_url: str,
    video: Path,
    audio: Path,
    speed: str,
    edge_config: EdgeConfig,
    player: AnswerPlayer | None = None,
) -> SessionSummary:
    from simulators.stack_replay import run_replay

    return await run_replay(
        edge_models=edge_models,
        video=video,
        audio=audio,
        speed=speed,
        gateway_url=gateway_url,
        edge_config=edge_config,
        player=player,
    )


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
