"""The cloud's settings: where it listens, how long answers may be."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class CloudConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    language: str = "en"
    # How long a spoken turn waits for its Observation before answering without it.
    observation_wait_s: float = 3.0
    fast_max_tokens: int = 48
    reasoning_max_tokens: int = 160
    # A backend slower than this gets the user an apology instead of silence.
    answer_timeout_s: float = 60.0
