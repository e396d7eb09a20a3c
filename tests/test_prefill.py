"""The prompt's opening is read while the question is still being heard (the prefill).

It must change nothing but the time: the prompt streamed is the same with and
without it, the real reasoner's answer is the same from a prefilled cache as
cold, and a turn that is abandoned stops its prefill.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from cloud.conversation import Conversation, Models
from cloud.prompting.prompt import QUESTION_SLOT, build_messages, opening_messages
from cloud.reasoning.reasoner import ChatMessage, Prefills, QwenReasoner
from protocol import (
    Interrupt,
    Label,
    Message,
    Observation,
    OcrLine,
    Query,
    Sequencer,
    SpeechSegment,
)
from tests.fakes import FakeReasoner, FakeTranscriber

EDGE = Sequencer("s")
SIGN = (OcrLine(text="PLATFORM 9", score=0.97), OcrLine(text="Trains to Brighton", score=0.95))
LABELS = (Label(name="street_sign", score=0.6),)
SPEECH = b"\x00\x10" * 16_000  # a second of loud (fake-transcribed) speech


class PrefillingReasoner(FakeReasoner):
    """The fake reasoner, also taking prefills; `hold` keeps a prefill running."""

    def __init__(self) -> None:
        super().__init__()
        self.prefilled: list[Sequence[ChatMessage]] = []
        self.hold = asyncio.Event()
        self.hold.set()
        self.cancelled = 0

    async def prefill(self, messages: Sequence[ChatMessage], *, up_to: str) -> int:
        self.prefilled.append(messages)
        try:
            await self.hold.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return 1


async def _answered(reasoner: FakeReasoner, *messages: Message) -> Conversation:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    models = Models(FakeTranscriber("which platform is it"), reasoner, prefill=True)
    conversation = Conversation("s", models, send)
    task = asyncio.create_task(conversation.run())
    for message in messages:
        conversation.receive(message)
    try:
        async with asyncio.timeout(10.0):
            while conversation.answered < 1:
                await asyncio.sleep(0.005)
    finally:
        task.cancel()
    return conversation


def test_the_fake_takes_prefills_and_the_plain_fake_does_not() -> None:
    assert isinstance(PrefillingReasoner(), Prefills)
    assert not isinstance(FakeReasoner(), Prefills)


async def test_a_prefilled_turn_streams_the_same_prompt_as_a_cold_one() -> None:
    # The Observation arrives while the speech is still being transcribed.
    question = EDGE.make(SpeechSegment, turn_id=1, pcm=SPEECH, visual=True)
    seen = EDGE.make(Observation, turn_id=1, captured_at=0.0, ocr=SIGN, labels=LABELS)
    cold, warm = FakeReasoner(), PrefillingReasoner()
    await _answered(cold, question, seen)
    await _answered(warm, question, seen)

    assert len(warm.prefilled) == 1
    assert warm.prompts == cold.prompts
    opening, [prompt] = warm.prefilled[0], warm.prompts
    # Everything before the question's slot is exactly the start of the prompt answered.
    assert list(opening[:-1]) == list(prompt[:-1])
    before_slot = opening[-1].content[: opening[-1].content.index(QUESTION_SLOT)]
    assert prompt[-1].content == before_slot + "which platform is it"


async def test_a_typed_question_is_not_prefilled() -> None:
    # Its question is known as its Observation arrives: the answer reads the prompt at once.
    reasoner = PrefillingReasoner()
    question = EDGE.make(Query, turn_id=1, text="which platform is it", visual=True)
    seen = EDGE.make(Observation, turn_id=1, captured_at=0.0, ocr=SIGN, labels=LABELS)
    await _answered(reasoner, question, seen)
    assert reasoner.prefilled == [] and len(reasoner.prompts) == 1


async def test_an_interrupted_turn_cancels_its_prefill() -> None:
    reasoner = PrefillingReasoner()
    reasoner.hold.clear()  # the prefill is still running when the wearer breaks off

    async def send(message: Message) -> None:
        pass

    conversation = Conversation("s", Models(FakeTranscriber(), reasoner, prefill=True), send)
    conversation.receive(EDGE.make(Observation, turn_id=4, captured_at=0.0, ocr=SIGN))
    await asyncio.sleep(0.01)
    assert len(reasoner.prefilled) == 1 and reasoner.cancelled == 0
    conversation.receive(EDGE.make(Interrupt, turn_id=4))
    await asyncio.sleep(0.01)
    assert reasoner.cancelled == 1


async def test_a_session_ending_cancels_prefills_of_turns_never_answered() -> None:
    reasoner = PrefillingReasoner()
    reasoner.hold.clear()

    async def send(message: Message) -> None:
        pass

    conversation = Conversation("s", Models(FakeTranscriber(), reasoner, prefill=True), send)
    task = asyncio.create_task(conversation.run())
    conversation.receive(EDGE.make(Observation, turn_id=2, captured_at=0.0, ocr=SIGN))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.01)
    assert reasoner.cancelled == 1


@pytest.mark.models
async def test_the_real_reasoner_answers_the_same_from_a_prefilled_opening(
    qwen: QwenReasoner,
) -> None:
    ocr, labels = ["PLATFORM 9", "Trains to Brighton 10:42"], [("street_sign", 0.6)]
    prompt = build_messages("When is the next train to Brighton?", ocr_lines=ocr, labels=labels)

    async def answer() -> str:
        return "".join([piece async for piece in qwen.stream(prompt, max_new_tokens=24)])

    qwen._caches.clear()
    cold = await answer()
    assert qwen.last_reused_tokens == 0

    qwen._caches.clear()
    computed = await qwen.prefill(opening_messages(ocr, labels), up_to=QUESTION_SLOT)
    assert computed > 200  # instructions, worked examples and the sign: most of the prompt
    assert await qwen.prefill(opening_messages(ocr, labels), up_to=QUESTION_SLOT) <= 1
    prefilled = await answer()
    assert qwen.last_reused_tokens >= computed - 2  # only the question was left to read
    assert prefilled == cold
