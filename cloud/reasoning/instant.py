"""Backends that answer at once, for load tests of everything around the models.

`reasoner = "instant"` (COMPANION_REASONER=instant) puts these in place of both
the reasoner and speech recognition, so `companion bench load` measures the
gateways, the bus and the workers rather than a 2-core machine's models. They
say nothing useful: never a default, never for a wearer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import numpy as np

from cloud.reasoning.reasoner import ChatMessage

HEARD = "what does this say"
# Below this peak the audio is taken for silence (int16 samples).
SILENCE_PEAK = 100


class InstantTranscriber:
    """Hears the same short question in any audio louder than silence."""

    def transcribe(self, samples: np.ndarray, sample_rate: int) -> str:
        return HEARD if samples.size and int(np.abs(samples).max()) > SILENCE_PEAK else ""


class InstantReasoner:
    """Answers with a few words of the question back, without a model."""

    images = False

    async def stream(
        self, messages: Sequence[ChatMessage], *, max_new_tokens: int
    ) -> AsyncIterator[str]:
        words = messages[-1].content.split()[-6:] if messages else []
        for piece in ["Instant answer:", *(" " + word for word in words)][: max(1, max_new_tokens)]:
            yield piece
