"""Speaking over an answer: a replayed source that talks again once the answer streams.

A barge-in scenario needs the wearer's second utterance to land while the
answer is arriving. Baked into one recording at a fixed offset it lands before
the first word on a loaded machine and after the last on an idle one, so the
replay listens instead: after the question it keeps the microphone open
(silence, in real time) until the session reports the answer's first words,
then speaks the interruption at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edge.sources.media import CHUNK_SAMPLES, SAMPLE_RATE, AudioChunk, MediaItem
from simulators.media import read_audio
from simulators.replay import with_tail_silence

# Quieter than this is the recording's padding, not the wearer's voice.
_SPEECH_LEVEL = 500
# Kept before the first loud sample so the VAD hears the onset.
_LEAD_S = 0.1


def speech_onward(samples: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    """`samples` from just before the voice starts: the interruption begins at once."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) >= _SPEECH_LEVEL)
    if len(loud) == 0:
        return samples
    return samples[max(0, int(loud[0]) - round(_LEAD_S * SAMPLE_RATE)) :]


async def interrupt_when_answering(
    source: AsyncIterator[MediaItem],
    interruption: Path,
    answering: asyncio.Event,
    *,
    wait_s: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AsyncIterator[MediaItem]:
    """`source`, then silence until `answering` is set (at most `wait_s`), then `interruption`.

    Everything after `source` is paced in real time and continues its timeline.
    """
    samples = with_tail_silence(
        speech_onward(await asyncio.to_thread(read_audio, interruption, None)), 1.0
    )
    t = 0.0
    async for item in source:
        if isinstance(item, AudioChunk):
            t = max(t, item.t + item.duration)
        yield item
    chunk_s = CHUNK_SAMPLES / SAMPLE_RATE
    silence = np.zeros(CHUNK_SAMPLES, dtype=np.int16)
    give_up = clock() + wait_s
    while not answering.is_set() and clock() < give_up:
        await sleep(chunk_s)
        yield AudioChunk(t, silence)
        t += chunk_s
    started, origin = clock(), t
    for offset in range(0, len(samples), CHUNK_SAMPLES):
        chunk = AudioChunk(origin + offset / SAMPLE_RATE, samples[offset : offset + CHUNK_SAMPLES])
        wait = started + (chunk.t - origin) + chunk.duration - clock()
        if wait > 0:
            await sleep(wait)
        yield chunk
