"""The latency breakdown of one answer, derived from the stages it carries.

Stage timestamps come from `time.monotonic()` on the host that recorded them;
on one machine (the demo, the benchmarks, loopback tests) all parts share that
clock. The breakdown is the gap from each stage to the next, in order.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

from protocol.messages import Stage

# The order a spoken turn passes through; absent stages are skipped.
STAGE_ORDER = (
    "speech_end",
    "end_of_speech",
    "segment_sent",
    "segment_received",
    "transcript",
    "observation",
    "retrieval",
    "prompt_ready",
    "first_token",
    "last_token",
    "answer_received",
)


def ordered(stages: Iterable[Stage]) -> list[Stage]:
    """Stages in pipeline order; unknown names keep their time order at the end."""
    rank = {name: i for i, name in enumerate(STAGE_ORDER)}
    return sorted(stages, key=lambda s: (rank.get(s.name, len(rank)), s.at))


def breakdown(stages: Sequence[Stage]) -> list[tuple[str, float]]:
    """[("speech_end→end_of_speech", ms), …] for consecutive stages."""
    seq = ordered(stages)
    return [(f"{a.name}→{b.name}", (b.at - a.at) * 1000.0) for a, b in itertools.pairwise(seq)]


def total_ms(stages: Sequence[Stage]) -> float:
    """From the first stage to the last, in milliseconds."""
    seq = ordered(stages)
    return (seq[-1].at - seq[0].at) * 1000.0 if len(seq) > 1 else 0.0


def stage_at(stages: Sequence[Stage], name: str) -> float | None:
    return next((s.at for s in stages if s.name == name), None)
