"""Push-to-talk through the edge runtime: a ButtonPress in the source stream, or the phone
app's Control "button", lets the next utterance leave; without one nothing does."""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np

from edge.audio.endpointing import EndpointConfig
from edge.audio.listener import Listener
from edge.config import EdgeConfig
from edge.runtime import EdgeRuntime
from edge.sources.media import CHUNK_SAMPLES, SAMPLE_RATE, AudioChunk, ButtonPress, MediaItem
from protocol import Control, Message, Sequencer, SpeechSegment
from tests.test_barge_in import LoudnessVad, tone


def runtime(sent: list[Message]) -> EdgeRuntime:
    async def send(message: Message) -> None:
        sent.append(message)

    config = EdgeConfig(activation="push")
    listener = Listener(LoudnessVad(), EndpointConfig(end_silence_ms=config.end_silence_ms))
    return EdgeRuntime(listener, None, Sequencer("s"), send, config=config)


async def stream(*parts: np.ndarray | float) -> AsyncIterator[MediaItem]:
    """Audio parts in order; a float stands for a button press where it appears."""
    t = 0.0
    for part in parts:
        if isinstance(part, float):
            yield ButtonPress(t)
            continue
        for i in range(0, len(part), CHUNK_SAMPLES):
            piece = part[i : i + CHUNK_SAMPLES]
            yield AudioChunk(t, piece)
            t += len(piece) / SAMPLE_RATE


def quiet(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * SAMPLE_RATE), dtype=np.int16)


def speech_turns(sent: list[Message]) -> list[int]:
    return sorted({m.turn_id for m in sent if isinstance(m, SpeechSegment)})


async def test_only_the_utterance_after_a_button_press_leaves_the_device() -> None:
    sent: list[Message] = []
    edge = runtime(sent)
    await edge.run(stream(quiet(0.5), tone(1.0), quiet(1.0), 0.0, quiet(0.5), tone(1.0), quiet(1)))
    assert speech_turns(sent) == [1]
    assert edge.stats.speech_ignored == 1 and edge.stats.segments == 1


async def test_the_apps_button_arrives_as_a_control_message() -> None:
    sent: list[Message] = []
    edge = runtime(sent)
    edge.control(Sequencer("s").make(Control, action="button"))
    await edge.run(stream(quiet(0.5), tone(1.0), quiet(1.0), tone(1.0), quiet(1.0)))
    assert speech_turns(sent) == [1]  # the first utterance only
