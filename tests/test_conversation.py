"""The cloud's conversation engine, with fake models: ordering, waiting, failing well."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from cloud.config import CloudConfig
from cloud.conversation import APOLOGY, Conversation, Models
from protocol import (
    AnswerDelta,
    AnswerDone,
    Label,
    Message,
    Observation,
    OcrLine,
    Query,
    Sequencer,
    SpeechSegment,
    Transcript,
)
from tests.fakes import FakeReasoner, FakeTranscriber
from tests.waiting import until

EDGE = Sequencer("s")
LOUD = (np.sin(np.arange(16_000) / 5.0) * 8000).astype(np.int16).tobytes()


async def _run(conversation: Conversation, *messages: Message, answers: int = 1) -> None:
    task = asyncio.create_task(conversation.run())
    for message in messages:
        conversation.receive(message)
    await until(lambda: conversation.answered >= answers)
    task.cancel()


def _conversation(
    reasoner: FakeReasoner | None = None, **config: float
) -> tuple[Conversation, list[Message]]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    models = Models(transcriber=FakeTranscriber(), reasoner=reasoner or FakeReasoner())
    return Conversation("s", models, send, config=CloudConfig(**config)), sent  # type: ignore[arg-type]


async def test_spoken_turn_gets_transcript_then_streamed_answer_then_done() -> None:
    conversation, sent = _conversation()
    await _run(conversation, EDGE.make(SpeechSegment, turn_id=1, pcm=LOUD, speech_end=1.0))
    kinds = [m.kind for m in sent]
    assert kinds[0] == "transcript" and kinds[-1] == "answer_done"
    assert "answer_delta" in kinds
    done = sent[-1]
    assert isinstance(done, AnswerDone)
    deltas = "".join(m.text for m in sent if isinstance(m, AnswerDelta))
    assert done.text == deltas.strip()
    names = [s.name for s in done.stages]
    for stage in ("segment_received", "transcript", "first_token", "last_token"):
        assert stage in names


async def test_observation_arriving_after_speech_is_still_used_in_the_prompt() -> None:
    reasoner = FakeReasoner()
    conversation, sent = _conversation(reasoner)
    task = asyncio.create_task(conversation.run())
    conversation.receive(EDGE.make(SpeechSegment, turn_id=1, pcm=LOUD, visual=True))
    # Transcribed: the turn now waits for what the camera saw.
    await until(lambda: any(isinstance(m, Transcript) for m in sent))
    conversation.receive(
        EDGE.make(
            Observation,
            turn_id=1,
            captured_at=0.0,
            ocr=(OcrLine(text="PLATFORM 7", score=0.9),),
            labels=(Label(name="street sign", score=0.6),),
        )
    )
    await until(lambda: conversation.answered >= 1)
    task.cancel()
    prompt = " ".join(m.content for m in reasoner.prompts[0])
    assert "PLATFORM 7" in prompt


async def test_missing_observation_does_not_hold_the_answer_forever() -> None:
    conversation, sent = _conversation(observation_wait_s=0.1)
    await _run(conversation, EDGE.make(SpeechSegment, turn_id=1, pcm=LOUD, visual=True))
    assert isinstance(sent[-1], AnswerDone)


async def test_long_utterance_in_parts_is_reassembled_in_order() -> None:
    transcriber = FakeTranscriber()
    heard: list[int] = []
    original = transcriber.transcribe

    def spy(samples: np.ndarray, sample_rate: int) -> str:
        heard.append(samples.size)
        return original(samples, sample_rate)

    transcriber.transcribe = spy  # type: ignore[method-assign]
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    conversation = Conversation("s", Models(transcriber, FakeReasoner()), send)  # type: ignore[arg-type]
    await _run(
        conversation,
        EDGE.make(SpeechSegment, turn_id=1, pcm=LOUD, part=1, last=True),
        EDGE.make(SpeechSegment, turn_id=1, pcm=LOUD[:1000], part=0, last=False),
    )
    assert heard == [(len(LOUD) + 1000) // 2]


async def test_silence_gets_an_empty_transcript_and_no_answer() -> None:
    conversation, sent = _conversation()
    task = asyncio.create_task(conversation.run())
    conversation.receive(EDGE.make(SpeechSegment, turn_id=1, pcm=bytes(32_000)))
    await until(lambda: conversation.turns_finished >= 1)  # anything it was to say is sent
    task.cancel()
    assert [type(m) for m in sent] == [Transcript]
    assert isinstance(sent[0], Transcript) and sent[0].text == ""


async def test_failing_reasoner_gets_the_user_an_apology_and_the_session_goes_on() -> None:
    conversation, sent = _conversation(FakeReasoner(fail=True))
    await _run(conversation, EDGE.make(Query, turn_id=1, text="hello?"))
    done = sent[-1]
    assert isinstance(done, AnswerDone) and done.text == APOLOGY
    conversation._models.reasoner.fail = False  # type: ignore[attr-defined]
    await _run(conversation, EDGE.make(Query, turn_id=2, text="and now?"), answers=2)
    assert isinstance(sent[-1], AnswerDone) and "now" in sent[-1].text


async def test_slow_reasoner_times_out_into_an_apology() -> None:
    conversation, sent = _conversation(FakeReasoner(delay_s=1.0), answer_timeout_s=0.2)
    await _run(conversation, EDGE.make(Query, turn_id=1, text="quick?"))
    assert isinstance(sent[-1], AnswerDone) and APOLOGY in sent[-1].text


@pytest.mark.parametrize("mode", ["fast", "reasoning"])
async def test_answer_reports_the_mode_it_used(mode: str) -> None:
    conversation, sent = _conversation()
    await _run(conversation, EDGE.make(Query, turn_id=1, text="hi", mode=mode))
    assert isinstance(sent[-1], AnswerDone) and sent[-1].mode == mode
