"""Barge-in: speech over an answer stops it at once, in the cloud and end to end.

Fake models (a reasoner that writes slowly) behind the real cloud server, the
real gateway and real WebRTC on loopback; the edge runtime with a loudness VAD.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import numpy as np
import numpy.typing as npt
import pytest

from cloud.conversation import Conversation, Models
from cloud.reasoning.reasoner import ChatMessage
from deploy.local_stack import local_stack
from edge.audio.endpointing import EndpointConfig
from edge.audio.listener import Listener
from edge.config import EdgeConfig
from edge.link.client import GatewayClient
from edge.session import EdgeSession, TurnRecord
from edge.sources.media import CHUNK_SAMPLES, SAMPLE_RATE, AudioChunk, MediaItem
from protocol import AnswerDelta, AnswerDone, Hello, Interrupt, Message, Query, Sequencer
from tests.fakes import FakeTranscriber
from tests.waiting import until


class SlowReasoner:
    """Writes 100 words, one every `delay_s`; records how far it got and that it was stopped."""

    def __init__(self, delay_s: float = 0.05) -> None:
        self.delay_s = delay_s
        self.words = 0
        self.stopped = 0
        self.finished = 0

    async def stream(
        self, messages: Sequence[ChatMessage], *, max_new_tokens: int
    ) -> AsyncIterator[str]:
        try:
            for i in range(100):
                await asyncio.sleep(self.delay_s)  # a model's pace: the answer to interrupt
                self.words += 1
                yield f" word{i}"
            self.finished += 1
        except (GeneratorExit, asyncio.CancelledError):
            self.stopped += 1
            raise


class LoudnessVad:
    """Speech is anything louder than a whisper: enough to drive the endpointer in a test."""

    def probability(self, chunk: npt.NDArray[np.float32]) -> float:
        return 1.0 if float(np.abs(chunk).max()) > 0.05 else 0.0

    def reset(self) -> None:
        pass


def tone(seconds: float) -> npt.NDArray[np.int16]:
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (np.sin(2 * np.pi * 220 * t) * 8000).astype(np.int16)


async def test_interrupt_stops_the_answer_at_once_and_marks_it() -> None:
    reasoner = SlowReasoner()
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    models = Models(transcriber=FakeTranscriber(), reasoner=reasoner)
    conversation = Conversation("s", models, send)
    edge = Sequencer("s")
    runner = asyncio.create_task(conversation.run())
    conversation.receive(edge.make(Query, turn_id=1, text="tell me everything"))
    await until(lambda: any(isinstance(m, AnswerDelta) for m in sent))
    conversation.receive(edge.make(Interrupt, turn_id=1))
    await until(lambda: any(isinstance(m, AnswerDone) for m in sent))
    words_when_done = reasoner.words
    # Once the generation is closed no word can come; none may have come since AnswerDone.
    await until(lambda: reasoner.stopped == 1)
    runner.cancel()
    done = next(m for m in sent if isinstance(m, AnswerDone))
    assert done.interrupted
    assert reasoner.stopped == 1 and reasoner.finished == 0
    assert reasoner.words == words_when_done < 100
    deltas = [m for m in sent if isinstance(m, AnswerDelta)]
    assert len(deltas) == reasoner.words
    assert done.text == "".join(d.text for d in deltas).strip()
    assert sent[-1] is done  # nothing after the end of the turn


async def test_interrupt_for_a_queued_turn_skips_its_answer() -> None:
    reasoner = SlowReasoner(delay_s=0.01)
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    models = Models(transcriber=FakeTranscriber(), reasoner=reasoner)
    conversation = Conversation("s", models, send)
    edge = Sequencer("s")
    conversation.receive(edge.make(Query, turn_id=1, text="first"))
    conversation.receive(edge.make(Interrupt, turn_id=1))
    conversation.receive(edge.make(Query, turn_id=2, text="second"))
    runner = asyncio.create_task(conversation.run())
    await until(lambda: conversation.answered >= 2)
    runner.cancel()
    done = {m.turn_id: m for m in sent if isinstance(m, AnswerDone)}
    assert done[1].interrupted and done[1].text == ""
    assert not done[2].interrupted and done[2].text.endswith("word99")
    assert {m.turn_id for m in sent if isinstance(m, AnswerDelta)} == {2}


async def test_interrupt_crosses_the_gateway_and_stops_the_cloud() -> None:
    reasoner = SlowReasoner()
    models = Models(transcriber=FakeTranscriber(), reasoner=reasoner)
    async with local_stack(models) as stack, GatewayClient(stack.gateway_url) as link:
        out = Sequencer(link.session_id)
        await link.send(out.make(Hello, user="u", device="test"))
        await link.send(out.make(Query, turn_id=1, text="tell me everything"))
        done: AnswerDone | None = None
        async with asyncio.timeout(20):
            async for message in link:
                if isinstance(message, AnswerDelta) and message.text == " word2":
                    await link.send(out.make(Interrupt, turn_id=1))
                if isinstance(message, AnswerDone):
                    done = message
                    break
        assert done is not None and done.interrupted and done.turn_id == 1
        assert reasoner.stopped == 1 and reasoner.words < 100
        # The session goes on: the next question is answered in full.
        await link.send(out.make(Query, turn_id=2, text="and now"))
        async with asyncio.timeout(20):
            async for message in link:
                if isinstance(message, AnswerDone):
                    assert message.turn_id == 2 and not message.interrupted
                    assert message.text.endswith("word99")
                    break


async def test_speaking_over_an_answer_interrupts_it_end_to_end() -> None:
    """The edge runtime hears a second question while the first answer streams in: it sends
    Interrupt, the cloud stops, and the second question is answered."""
    reasoner = SlowReasoner()
    models = Models(transcriber=FakeTranscriber(), reasoner=reasoner)
    answering = asyncio.Event()

    def on_event(kind: str, message: Message, turn: TurnRecord | None) -> None:
        if kind == "answer_delta" and turn is not None and turn.turn_id == 1:
            answering.set()

    async def wearer() -> AsyncIterator[MediaItem]:
        """Asks, waits (in silence, in real time) for the answer to begin, asks again."""
        t = 0.0
        quiet = np.zeros(CHUNK_SAMPLES, dtype=np.int16)

        def pieces(samples: npt.NDArray[np.int16]) -> list[npt.NDArray[np.int16]]:
            return [samples[i : i + CHUNK_SAMPLES] for i in range(0, len(samples), CHUNK_SAMPLES)]

        for piece in pieces(np.concatenate([np.zeros(8000, np.int16), tone(1.0)])):
            yield AudioChunk(t, piece)
            t += len(piece) / SAMPLE_RATE
        async with asyncio.timeout(20):
            while not answering.is_set():
                yield AudioChunk(t, quiet)
                t += CHUNK_SAMPLES / SAMPLE_RATE
                await asyncio.sleep(CHUNK_SAMPLES / SAMPLE_RATE)  # a live microphone's pace
        for piece in pieces(np.concatenate([tone(1.0), np.zeros(SAMPLE_RATE, np.int16)])):
            yield AudioChunk(t, piece)
            t += len(piece) / SAMPLE_RATE

    async with local_stack(models) as stack:
        config = EdgeConfig(gateway_url=stack.gateway_url, device="test")
        listener = Listener(LoudnessVad(), EndpointConfig(end_silence_ms=config.end_silence_ms))
        session = EdgeSession(listener, None, config, answer_timeout_s=30)
        summary = await session.run(wearer(), on_event=on_event)
    assert not summary.errors, summary.errors
    first, second = summary.turns
    assert first.done is not None and first.done.interrupted
    assert second.done is not None and not second.done.interrupted
    assert second.done.text.endswith("word99")
    assert summary.stats.interrupts_sent == 1
    assert reasoner.stopped == 1 and reasoner.finished == 1


@pytest.mark.models
async def test_interrupt_stops_the_real_reasoner_mid_answer(qwen) -> None:  # type: ignore[no-untyped-def]
    """With Qwen: after the interrupt, generation has stopped by the time AnswerDone leaves."""
    sent: list[Message] = []
    generating_at_done: list[bool] = []

    async def send(message: Message) -> None:
        if isinstance(message, AnswerDone):
            generating_at_done.append(qwen.generating)
        sent.append(message)

    conversation = Conversation("s", Models(transcriber=FakeTranscriber(), reasoner=qwen), send)
    edge = Sequencer("s")
    runner = asyncio.create_task(conversation.run())
    conversation.receive(
        edge.make(Query, turn_id=1, text="Explain in detail how a bicycle works.", mode="reasoning")
    )
    await until(lambda: sum(isinstance(m, AnswerDelta) for m in sent) >= 3, timeout_s=120)
    conversation.receive(edge.make(Interrupt, turn_id=1))
    at_interrupt = sum(isinstance(m, AnswerDelta) for m in sent)
    await until(lambda: any(isinstance(m, AnswerDone) for m in sent), timeout_s=120)
    runner.cancel()
    done = next(m for m in sent if isinstance(m, AnswerDone))
    assert done.interrupted and done.text
    assert generating_at_done == [False]
    # At most a piece already on its way when the interrupt came; nothing was written after.
    assert sum(isinstance(m, AnswerDelta) for m in sent) <= at_interrupt + 1
