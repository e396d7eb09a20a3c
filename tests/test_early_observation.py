"""What the camera shows leaves while the wearer is still asking (EarlyObservation), so the
cloud reads the prompt's opening before the question ends.

The edge sends it only for speech already meant for the assistant and only where the
turn's own Observation may leave; the turn's Observation still follows (reusing the
analysis when it is the same frame). The cloud prefills from it, one at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np

from cloud.conversation import Conversation, Models
from edge.runtime import EdgeRuntime
from edge.sources.media import CHUNK_SAMPLES, SAMPLE_RATE, AudioChunk, MediaItem, VideoFrame
from protocol import (
    EarlyObservation,
    Hello,
    Message,
    Observation,
    Sequencer,
    SpeechSegment,
)
from tests.fakes import FakeTranscriber
from tests.test_edge_privacy import BoxDetector, noisy_frame, runtime_with
from tests.test_prefill import LABELS, SIGN, SPEECH, PrefillingReasoner
from tests.waiting import until

EDGE = Sequencer("s")


async def spoken_question(runtime: EdgeRuntime, *, early: bool = True) -> AsyncIterator[MediaItem]:
    """A frame, then 1.2 s of loud audio and 1 s of silence, paced like a live microphone
    where it matters: after 0.6 s of speech the source waits until the runtime has had
    time to look ahead (as a real microphone gives it the rest of the question's time)."""
    yield VideoFrame(0.0, noisy_frame())
    samples = np.zeros(int(2.2 * SAMPLE_RATE), dtype=np.int16)
    samples[: int(1.2 * SAMPLE_RATE)] = 8000
    paused = False
    for offset in range(0, len(samples), CHUNK_SAMPLES):
        t = offset / SAMPLE_RATE
        if t >= 0.6 and not paused:
            paused = True
            if early:
                await until(lambda: runtime.stats.early_observations > 0, timeout_s=10.0)
            else:
                await asyncio.sleep(0.3)
        yield AudioChunk(t, samples[offset : offset + CHUNK_SAMPLES])


def _of(kind: type, sent: list[Message]) -> list[Message]:
    return [m for m in sent if isinstance(m, kind)]


async def test_what_is_seen_leaves_before_the_question_ends_and_is_analysed_once() -> None:
    runtime, sent, _ = runtime_with(BoxDetector([]))
    await runtime.run(spoken_question(runtime))

    [early] = _of(EarlyObservation, sent)
    [observation] = _of(Observation, sent)
    segments = _of(SpeechSegment, sent)
    assert sent.index(early) < sent.index(segments[-1])  # while the wearer still spoke
    assert early.turn_id == segments[-1].turn_id == observation.turn_id
    assert isinstance(early, EarlyObservation) and isinstance(observation, Observation)
    assert early.ocr == observation.ocr and early.ocr  # the same text the answer reads
    assert early.labels == observation.labels
    assert runtime.stats.frames_analysed == 1  # the turn's Observation reused the analysis


async def test_nothing_leaves_early_where_the_observation_may_not() -> None:
    for privacy in ("no-camera", "local-only"):
        runtime, sent, _ = runtime_with(BoxDetector([]), privacy=privacy)
        await runtime.run(spoken_question(runtime, early=False))
        assert _of(EarlyObservation, sent) == [], privacy
        assert runtime.stats.early_observations == 0


async def test_speech_not_meant_for_the_assistant_sends_nothing_early() -> None:
    # Push-to-talk with no press: the utterance stays on the device, and so does the view.
    runtime, sent, _ = runtime_with(BoxDetector([]), activation="push")
    await runtime.run(spoken_question(runtime, early=False))
    assert sent == []
    assert runtime.stats.speech_ignored == 1


async def test_the_look_ahead_can_be_turned_off() -> None:
    runtime, sent, _ = runtime_with(BoxDetector([]), early_observation=False)
    await runtime.run(spoken_question(runtime, early=False))
    assert _of(EarlyObservation, sent) == [] and len(_of(Observation, sent)) == 1


class Clock:
    """The session's monotonic clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _conversation(
    reasoner: PrefillingReasoner, clock: Clock | None = None, **models: bool
) -> tuple[Conversation, list]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    conversation = Conversation(
        "s",
        Models(FakeTranscriber("which platform is it"), reasoner, **models),
        send,
        clock=clock or Clock(),
    )
    return conversation, sent


async def test_the_cloud_reads_the_opening_before_the_question_and_answers_the_same() -> None:
    # Even where the prefill beside speech recognition is off (2 cores): nothing else of
    # the turn runs while the wearer is still speaking.
    reasoner = PrefillingReasoner()
    conversation, _ = _conversation(reasoner, prefill=False)
    task = asyncio.create_task(conversation.run())
    try:
        conversation.receive(
            EDGE.make(EarlyObservation, turn_id=1, captured_at=0.0, ocr=SIGN, labels=LABELS)
        )
        await until(lambda: len(reasoner.prefilled) == 1, timeout_s=5.0)
        conversation.receive(EDGE.make(SpeechSegment, turn_id=1, pcm=SPEECH, visual=True))
        conversation.receive(
            EDGE.make(Observation, turn_id=1, captured_at=0.0, ocr=SIGN, labels=LABELS)
        )
        await until(lambda: conversation.answered == 1, timeout_s=10.0)
    finally:
        task.cancel()
    opening, [prompt] = reasoner.prefilled[0], reasoner.prompts
    assert list(opening[:-1]) == list(prompt[:-1])
    assert "PLATFORM 9" in opening[-1].content
    assert prompt[-1].content.endswith("which platform is it")


async def test_a_newer_early_observation_replaces_the_one_being_read() -> None:
    reasoner = PrefillingReasoner()
    reasoner.hold.clear()
    clock = Clock()
    conversation, _ = _conversation(reasoner, clock)
    for turn_id in (1, 2):
        conversation.receive(EDGE.make(EarlyObservation, turn_id=turn_id, captured_at=0.0))
        await asyncio.sleep(0.01)
        clock.now += 2.0
    assert len(reasoner.prefilled) == 2 and reasoner.cancelled == 1


async def test_a_flood_of_early_observations_costs_one_prefill() -> None:
    # One a turn and one a second (protocol.limits): the reasoner is shared by every session.
    reasoner = PrefillingReasoner()
    clock = Clock()
    conversation, _ = _conversation(reasoner, clock)
    for turn_id in range(1, 51):
        conversation.receive(EDGE.make(EarlyObservation, turn_id=turn_id, captured_at=0.0))
        clock.now += 0.01
    conversation.receive(EDGE.make(EarlyObservation, turn_id=1, captured_at=0.0))  # an old turn
    clock.now += 5.0
    conversation.receive(EDGE.make(EarlyObservation, turn_id=1, captured_at=0.0))  # still old
    await asyncio.sleep(0.02)
    assert len(reasoner.prefilled) == 1


async def test_an_early_observation_the_privacy_mode_forbids_is_not_read() -> None:
    reasoner = PrefillingReasoner()
    conversation, _ = _conversation(reasoner)
    conversation.receive(EDGE.make(Hello, user="me", device="d", privacy="no-camera"))
    conversation.receive(EDGE.make(EarlyObservation, turn_id=1, captured_at=0.0, ocr=SIGN))
    await asyncio.sleep(0.02)
    assert reasoner.prefilled == []


async def test_an_early_observation_for_a_question_already_complete_is_ignored() -> None:
    reasoner = PrefillingReasoner()
    reasoner.hold.clear()
    conversation, _ = _conversation(reasoner, prefill_early=True)
    conversation.receive(EDGE.make(SpeechSegment, turn_id=3, pcm=SPEECH, visual=True))
    conversation.receive(EDGE.make(EarlyObservation, turn_id=3, captured_at=0.0, ocr=SIGN))
    await asyncio.sleep(0.02)
    assert reasoner.prefilled == []
