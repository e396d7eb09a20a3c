"""Spoken answers streamed as they are written: sentence cutting, the AnswerAudio message, the
conversation speaking while the reasoner writes, barge-in, and `companion replay --answer-audio`
with the real Piper voice read back by the real Whisper."""

from __future__ import annotations

import asyncio
import json
import wave
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import msgpack
import numpy as np
import pytest

from cloud.conversation import APOLOGY, Conversation, Models
from cloud.reasoning.reasoner import ChatMessage
from cloud.speech.asr import WhisperTranscriber
from cloud.speech.speaker import PiperSpeaker
from cloud.speech.spoken_answer import (
    MAX_CLAUSE_CHARS,
    SentenceCutter,
    SpokenAnswer,
    Voice,
    speaking_after,
)
from deploy.local_stack import local_stack
from edge.session import TurnRecord
from protocol import (
    AnswerAudio,
    AnswerDelta,
    AnswerDone,
    Control,
    Hello,
    Interrupt,
    Message,
    ProtocolError,
    Query,
    Sequencer,
    SpeechSegment,
    decode,
    encode,
)
from protocol.limits import MAX_SEGMENT_PART_BYTES, MAX_SEGMENT_PARTS
from simulators.wer import word_error_rate
from tests.fakes import FakeTranscriber
from tests.test_cli import DEMO, _companion

EDGE = Sequencer("s")
CLOUD = Sequencer("s")


def test_sentences_are_cut_once_the_space_after_them_arrives() -> None:
    cutter = SentenceCutter()
    assert cutter.feed("The page is about cats.") == []
    assert cutter.feed(" It has") == ["The page is about cats."]
    assert cutter.feed(" two lines! And") == ["It has two lines!"]
    assert cutter.flush() == ["And"]
    assert cutter.flush() == []


def test_decimals_and_short_abbreviations_do_not_end_a_sentence() -> None:
    cutter = SentenceCutter()
    assert cutter.feed("It costs 3.50 today. Dr. Smith said so. ") == [
        "It costs 3.50 today.",
        "Dr. Smith said so.",
    ]


def test_a_long_sentence_without_a_stop_is_cut_at_a_comma() -> None:
    cutter = SentenceCutter()
    clause = "word " * (MAX_CLAUSE_CHARS // 5) + "more, "
    sentences = cutter.feed(clause + "and then the rest")
    assert sentences == [clause.strip()]
    assert cutter.flush() == ["and then the rest"]


def test_answer_audio_round_trips_and_refuses_an_unknown_codec() -> None:
    message = CLOUD.make(
        AnswerAudio, turn_id=3, part=1, pcm=b"\x01\x00" * 10, sample_rate=22_050, last=True
    )
    assert decode(encode(message)) == message
    body = msgpack.unpackb(encode(message))
    body["codec"] = "mp3"
    with pytest.raises(ProtocolError, match="codec"):
        decode(msgpack.packb(body))


def test_answer_audio_refuses_a_part_over_the_part_ceiling() -> None:
    message = CLOUD.make(
        AnswerAudio, turn_id=3, part=MAX_SEGMENT_PARTS, pcm=b"", sample_rate=22_050
    )
    with pytest.raises(ProtocolError, match="part"):
        decode(encode(message))


def test_speaking_follows_the_sessions_speak_control() -> None:
    off = EDGE.make(Control, action="speak", value="off")
    on = EDGE.make(Control, action="speak", value="on")
    other = EDGE.make(Control, action="mode", value="fast")
    assert speaking_after(True, off) is False
    assert speaking_after(False, other) is False
    assert speaking_after(False, on) is True


class ToneSpeaker:
    """A stand-in voice: 100 samples per character, each sentence a different level."""

    sample_rate = 16_000

    def __init__(self) -> None:
        self.spoken: list[str] = []

    def synthesize(self, text: str) -> np.ndarray:
        self.spoken.append(text)
        return np.full(100 * len(text), len(self.spoken), dtype=np.int16)


class ScriptedReasoner:
    """Writes `first`, waits for `go` (set by the test), then writes `rest`."""

    def __init__(self, first: list[str], rest: list[str]) -> None:
        self.first = first
        self.rest = rest
        self.go = asyncio.Event()

    async def stream(
        self, messages: Sequence[ChatMessage], *, max_new_tokens: int
    ) -> AsyncIterator[str]:
        for piece in self.first:
            yield piece
        async with asyncio.timeout(10.0):
            await self.go.wait()
        for piece in self.rest:
            yield piece


def _spoken_conversation(
    reasoner: ScriptedReasoner,
    speaker: ToneSpeaker,
    *,
    interrupt_on_audio: bool = False,
    transcriber: FakeTranscriber | None = None,
) -> tuple[Conversation, list[Message]]:
    """A conversation that lets the reasoner go on once the first audio is sent (and, where
    asked, has the wearer talk over that audio)."""
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)
        if isinstance(message, AnswerAudio):
            if interrupt_on_audio:
                conversation.receive(EDGE.make(Interrupt, turn_id=message.turn_id))
            reasoner.go.set()  # the first sentence was heard: the model may go on

    models = Models(
        transcriber=transcriber or FakeTranscriber(),
        reasoner=reasoner,
        voice=Voice(speaker),
    )
    conversation = Conversation("s", models, send)
    return conversation, sent


async def _answer(conversation: Conversation, *messages: Message) -> None:
    """Run the conversation until its first AnswerDone is sent (every part comes before it)."""
    task = asyncio.create_task(conversation.run())
    for message in messages:
        conversation.receive(message)
    try:
        async with asyncio.timeout(30.0):
            while conversation.answered < 1:
                await asyncio.sleep(0.005)
    finally:
        task.cancel()


async def test_first_sentence_is_spoken_while_the_reasoner_writes_the_rest() -> None:
    reasoner = ScriptedReasoner(
        ["The sign says", " no parking.", " After"], [" six you may park there.", " Drive safe."]
    )
    speaker = ToneSpeaker()
    conversation, sent = _spoken_conversation(reasoner, speaker)
    await _answer(conversation, EDGE.make(Query, turn_id=1, text="what does the sign say"))

    kinds = [m.kind for m in sent]
    first_audio = kinds.index("answer_audio")
    last_delta = len(kinds) - 1 - kinds[::-1].index("answer_delta")
    assert first_audio < last_delta  # heard before the answer was fully written
    assert kinds[-1] == "answer_done"  # every part arrives before AnswerDone
    audio = [m for m in sent if isinstance(m, AnswerAudio)]
    assert [a.part for a in audio] == list(range(len(audio)))
    assert [a.last for a in audio] == [False] * (len(audio) - 1) + [True]
    assert speaker.spoken == [
        "The sign says no parking.",
        "After six you may park there.",
        "Drive safe.",
    ]
    spoken = b"".join(a.pcm for a in audio)
    assert len(spoken) == 2 * 100 * sum(map(len, speaker.spoken))
    assert {a.sample_rate for a in audio} == {16_000}


async def test_an_answer_written_without_the_model_is_spoken_too() -> None:
    """Tool confirmations and apologies go through `_say`: the wearer hears them as well."""

    class DeafTranscriber(FakeTranscriber):
        def transcribe(self, samples: np.ndarray, sample_rate: int) -> str:
            raise RuntimeError("speech recognition is down")

    reasoner = ScriptedReasoner([], [])
    speaker = ToneSpeaker()
    conversation, sent = _spoken_conversation(reasoner, speaker, transcriber=DeafTranscriber())
    loud = (np.sin(np.arange(16_000) / 5.0) * 8000).astype(np.int16).tobytes()
    await _answer(conversation, EDGE.make(SpeechSegment, turn_id=1, pcm=loud))
    assert " ".join(speaker.spoken) == APOLOGY
    kinds = [m.kind for m in sent]
    assert kinds[-2:] == ["answer_audio", "answer_done"]
    assert kinds.index("answer_audio") > kinds.index("answer_delta")


async def test_a_long_sentence_is_sent_in_parts_that_fit_a_message() -> None:
    long = "This sentence goes on " + "and on " * 400 + "until it stops."
    reasoner = ScriptedReasoner([long, " "], [])
    reasoner.go.set()
    conversation, sent = _spoken_conversation(reasoner, ToneSpeaker())
    await _answer(conversation, EDGE.make(Query, turn_id=1, text="talk"))
    audio = [m for m in sent if isinstance(m, AnswerAudio)]
    assert len(audio) >= 3
    assert all(len(a.pcm) <= MAX_SEGMENT_PART_BYTES for a in audio)
    for message in audio:
        decode(encode(message))  # every part passes the receiver's checks


async def test_interrupt_stops_the_spoken_answer() -> None:
    reasoner = ScriptedReasoner(["The first sentence is here.", " And"], [" more follows."])
    speaker = ToneSpeaker()
    conversation, sent = _spoken_conversation(reasoner, speaker, interrupt_on_audio=True)
    await _answer(conversation, EDGE.make(Query, turn_id=1, text="go on"))
    done = next(m for m in sent if isinstance(m, AnswerDone))
    assert done.interrupted
    audio = [m for m in sent if isinstance(m, AnswerAudio)]
    assert len(audio) == 1 and not audio[0].last
    assert "more follows" not in " ".join(speaker.spoken)


async def test_a_session_that_turned_speaking_off_gets_text_only() -> None:
    reasoner = ScriptedReasoner(["A whole answer in text."], [])
    reasoner.go.set()
    speaker = ToneSpeaker()
    conversation, sent = _spoken_conversation(reasoner, speaker)
    await _answer(
        conversation,
        EDGE.make(Control, action="speak", value="off"),
        EDGE.make(Query, turn_id=1, text="hi"),
    )
    assert not any(isinstance(m, AnswerAudio) for m in sent)
    assert any(isinstance(m, AnswerDelta) for m in sent)
    assert speaker.spoken == []


async def test_glasses_that_ask_for_opus_get_each_spoken_part_as_opus() -> None:
    """A Hello with answer_codec "opus" (BLE glasses with a speaker): every AnswerAudio is
    labelled and packed as Opus, decodes back to about as much audio as was spoken, and
    is smaller than the PCM it carries."""
    from edge.audio.answer_codec import decode_answer_audio

    reasoner = ScriptedReasoner(["The sign says no parking here.", " Drive on."], [])
    reasoner.go.set()
    speaker = ToneSpeaker()
    conversation, sent = _spoken_conversation(reasoner, speaker)
    await _answer(
        conversation,
        EDGE.make(Hello, user="u", device="glasses", answer_codec="opus"),
        EDGE.make(Query, turn_id=1, text="what does the sign say"),
    )
    audio = [m for m in sent if isinstance(m, AnswerAudio)]
    assert audio and {a.codec for a in audio} == {"opus"}
    for message in audio:
        decode(encode(message))  # every part passes the receiver's checks
    decoded = [decode_answer_audio(a) for a in audio]
    spoken_samples = 100 * sum(map(len, speaker.spoken))
    heard_s = sum(len(samples) / rate for samples, rate in decoded)
    assert abs(heard_s - spoken_samples / 16_000) < 0.1
    assert sum(len(a.pcm) for a in audio) < 2 * spoken_samples


async def test_a_voice_that_fails_costs_only_the_audio() -> None:
    class BrokenSpeaker(ToneSpeaker):
        def synthesize(self, text: str) -> np.ndarray:
            raise RuntimeError("voice exploded")

    reasoner = ScriptedReasoner(["The text still arrives."], [])
    reasoner.go.set()
    conversation, sent = _spoken_conversation(reasoner, BrokenSpeaker())
    await _answer(conversation, EDGE.make(Query, turn_id=1, text="hi"))
    done = next(m for m in sent if isinstance(m, AnswerDone))
    assert done.text == "The text still arrives."
    audio = [m for m in sent if isinstance(m, AnswerAudio)]
    assert len(audio) == 1 and audio[0].last and audio[0].pcm == b""


async def test_spoken_answer_stops_at_the_part_ceiling_with_a_last_part() -> None:
    parts: list[tuple[int, int, bool]] = []

    async def emit(part: int, pcm: bytes, rate: int, last: bool) -> None:
        parts.append((part, len(pcm), last))

    class LoudSpeaker(ToneSpeaker):
        def synthesize(self, text: str) -> np.ndarray:
            return np.ones(MAX_SEGMENT_PART_BYTES // 2, dtype=np.int16)

    spoken = SpokenAnswer(Voice(LoudSpeaker()), emit)
    spoken.add("A sentence that is long enough. " * (MAX_SEGMENT_PARTS + 5))
    await spoken.finish()
    assert len(parts) == MAX_SEGMENT_PARTS
    assert parts[-1] == (MAX_SEGMENT_PARTS - 1, 0, True)


def test_turn_record_joins_the_spoken_parts_in_order_and_ignores_oversized_ones() -> None:
    record = TurnRecord(1)
    for part, pcm in ((1, b"\x02\x00"), (0, b"\x01\x00"), (MAX_SEGMENT_PARTS, b"\x09\x00")):
        record.add_audio(CLOUD.make(AnswerAudio, turn_id=1, part=part, pcm=pcm, sample_rate=8_000))
    assert record.spoken() == (b"\x01\x00\x02\x00", 8_000)
    assert TurnRecord(2).spoken() == (b"", 0)


ANSWER = (
    "The page is the first chapter of a novel. "
    "It was a bright cold day in April, and the clocks were striking thirteen."
)


class FixedReasoner:
    """Always writes ANSWER, a few words at a time, as a model would."""

    async def stream(
        self, messages: Sequence[ChatMessage], *, max_new_tokens: int
    ) -> AsyncIterator[str]:
        words = ANSWER.split(" ")
        for i in range(0, len(words), 3):
            yield (" " if i else "") + " ".join(words[i : i + 3])


async def test_replay_writes_the_spoken_answer_to_a_camera_question_as_a_wav_whisper_reads_back(
    tmp_path: Path, whisper: WhisperTranscriber
) -> None:
    models = Models(
        transcriber=FakeTranscriber("what does this page say"),
        reasoner=FixedReasoner(),
        voice=Voice(PiperSpeaker()),
    )
    async with local_stack(models) as stack:
        code, out, err = await _companion(
            "replay",
            "--video",
            str(DEMO / "page.png"),
            "--audio",
            str(DEMO / "question-page.wav"),
            "--gateway",
            stack.gateway_url,
            "--answer-audio",
            str(tmp_path / "spoken"),
            "--json",
        )
    assert code == 0, err
    answers = [r for r in map(json.loads, out.splitlines()) if r["type"] == "answer"]
    assert len(answers) == 1
    (written,) = sorted((tmp_path / "spoken").glob("*.wav"))
    assert written.name == f"turn{answers[0]['turn']:04d}.wav"
    with wave.open(str(written)) as wav:
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    assert rate == 22_050
    heard = whisper.transcribe(samples, rate)
    errors, words = word_error_rate(answers[0]["text"], heard)
    assert errors / words <= 0.15, heard
