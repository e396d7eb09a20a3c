"""Stand-ins for the models, for unit tests of the plumbing around them.

Every real model also has its own test with the real thing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import numpy as np

from cloud.reasoning.reasoner import ChatMessage


class FakeTranscriber:
    """Hears `text` in any audio louder than silence."""

    def __init__(self, text: str = "what does this say") -> None:
        self.text = text
        self.calls = 0

    def transcribe(self, samples: np.ndarray, sample_rate: int) -> str:
        self.calls += 1
        return self.text if samples.size and np.abs(samples).max() > 100 else ""


class FakeReasoner:
    """Answers by echoing the prompt's last message, word by word."""

    def __init__(self, *, fail: bool = False, delay_s: float = 0.0) -> None:
        self.fail = fail
        self.delay_s = delay_s
        self.prompts: list[Sequence[ChatMessage]] = []

    async def stream(
        self, messages: Sequence[ChatMessage], *, max_new_tokens: int
    ) -> AsyncIterator[str]:
        self.prompts.append(messages)
        if self.fail:
            raise RuntimeError("backend exploded")
        for word in ["You", " asked:", *(" " + w for w in messages[-1].content.split()[:60])]:
            await asyncio.sleep(self.delay_s)  # a model's pace, where a test needs one
            yield word
