"""Speaking an answer while it is being written.

The reasoner streams text; `SentenceCutter` (pure) cuts it into sentences as
they complete, and `SpokenAnswer` synthesises each on the voice's own bounded
executor (off the event loop) and hands the audio, in order, to the caller as
`AnswerAudio` parts. The first sentence is therefore heard while the model is
still writing the rest; an Interrupt cancels whatever is not yet spoken.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt

from cloud.speech.speaker import Speaker
from protocol import Control, Hello, Message
from protocol.audio_packets import split_packets
from protocol.limits import MAX_SEGMENT_PART_BYTES, MAX_SEGMENT_PARTS
from protocol.messages import AnswerAudioCodec
from protocol.opus import encode_opus_packets

log = logging.getLogger(__name__)

# A sentence ends at . ? ! (or a line break) once the space after it has arrived,
# so "3.5" and a piece that stops right after the dot are not cut.
_SENTENCE_END = re.compile(r"(?<=[.?!])[\"')\]]*\s+|\n+")
# Shorter "sentences" ("Dr.", "1.") are joined to the next: a voice run per word
# costs more than it saves, and sounds choppy.
MIN_SENTENCE_CHARS = 12
# A long sentence without a full stop is cut at a comma past this many characters,
# so the first words are not held back by one long clause.
MAX_CLAUSE_CHARS = 160
_CLAUSE_END = re.compile(r"(?<=[,;:])\s+")

Emit = Callable[[int, bytes, int, bool], Awaitable[None]]
"""(part, s16le bytes, sample rate, last): sends one AnswerAudio."""


class SentenceCutter:
    """Text pieces in, complete sentences out, in order; pure and clock-free."""

    def __init__(self) -> None:
        self._pending = ""

    def feed(self, piece: str) -> list[str]:
        """The sentences `piece` completed (possibly none)."""
        self._pending += piece
        sentences: list[str] = []
        start = 0
        for match in _SENTENCE_END.finditer(self._pending):
            candidate = self._pending[start : match.start()].strip()
            if len(candidate) >= MIN_SENTENCE_CHARS:
                sentences.append(candidate)
                start = match.end()
        rest = self._pending[start:]
        if len(rest) > MAX_CLAUSE_CHARS:
            cuts = [m.end() for m in _CLAUSE_END.finditer(rest) if m.start() >= MIN_SENTENCE_CHARS]
            if cuts:
                sentences.append(rest[: cuts[-1]].strip())
                rest = rest[cuts[-1] :]
        self._pending = rest
        return sentences

    def flush(self) -> list[str]:
        """Whatever is left when the answer ends."""
        rest, self._pending = self._pending.strip(), ""
        return [rest] if rest else []


class Voice:
    """A speaker and the executor it runs on: one worker, so sentences come out in
    order and speaking never takes more than one core from the reasoner."""

    def __init__(self, speaker: Speaker) -> None:
        self.speaker = speaker
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voice")

    async def synthesize(self, text: str) -> npt.NDArray[np.int16]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.speaker.synthesize, text)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


# Opus for glasses that ask for it: 20 ms packets at 24 kHz (Piper's 22,050 Hz resampled),
# 24 kbit/s: a fifteenth of the PCM's bytes, and Whisper still reads it back.
OPUS_RATE = 24_000
OPUS_BITRATE = 24_000


def encode_opus(samples: npt.NDArray[np.int16], sample_rate: int) -> list[bytes]:
    """`samples` at `sample_rate` as 20 ms Opus packets at `OPUS_RATE`."""
    return encode_opus_packets(samples, sample_rate, opus_rate=OPUS_RATE, bitrate=OPUS_BITRATE)


def answer_codec_after(codec: AnswerAudioCodec, message: Message) -> AnswerAudioCodec:
    """How a session wants its spoken answers carried after `message`: its Hello says."""
    return message.answer_codec if isinstance(message, Hello) else codec


class SpokenAnswer:
    """One turn's spoken answer: `add` sentences as they complete, then `finish`.

    Owns one task that synthesises the queued sentences in order and emits the
    audio in parts that fit a message; `cancel` (an Interrupt, a failure) stops
    it, and `finish` waits for the last part, which is always marked `last`.
    With `codec` "opus" each part is a run of length-prefixed Opus packets at
    `OPUS_RATE` (the caller labels its AnswerAudio with `self.codec`).
    """

    def __init__(self, voice: Voice, emit: Emit, codec: AnswerAudioCodec = "pcm") -> None:
        self._voice = voice
        self._emit = emit
        self.codec: AnswerAudioCodec = codec
        self._cutter = SentenceCutter()
        # Bounded by the answer's own length (max tokens): no more than it has sentences.
        self._sentences: asyncio.Queue[str | None] = asyncio.Queue()
        self._part = 0
        self.spoken_samples = 0
        self._task = asyncio.create_task(self._speak())

    def add(self, piece: str) -> None:
        """More of the answer's text; each sentence it completes is queued to be spoken."""
        for sentence in self._cutter.feed(piece):
            self._sentences.put_nowait(sentence)

    async def finish(self) -> None:
        """Speak what is left and wait until the last part is sent."""
        for sentence in self._cutter.flush():
            self._sentences.put_nowait(sentence)
        self._sentences.put_nowait(None)
        await asyncio.shield(self._task)

    async def cancel(self) -> None:
        """Stop speaking; what was not yet sent is dropped."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _speak(self) -> None:
        rate = self._voice.speaker.sample_rate
        while (sentence := await self._sentences.get()) is not None:
            try:
                samples = await self._voice.synthesize(sentence)
            except Exception as exc:  # a failed voice must not cost the wearer the text
                log.warning("could not speak %r: %s", sentence[:60], exc)
                continue
            rate = self._voice.speaker.sample_rate
            if self.codec == "opus":
                try:
                    packets = await asyncio.to_thread(encode_opus, samples, rate)
                except Exception as exc:  # libopus missing or refusing: the text still goes
                    log.warning("could not encode %r as Opus: %s", sentence[:60], exc)
                    continue
                pieces = split_packets(packets, MAX_SEGMENT_PART_BYTES)
                rate = OPUS_RATE
            else:
                data = samples.astype("<i2").tobytes()
                step = MAX_SEGMENT_PART_BYTES
                pieces = [data[i : i + step] for i in range(0, len(data), step)]
            for piece in pieces:
                if self._part >= MAX_SEGMENT_PARTS - 1:
                    log.info("spoken answer cut at %d parts", self._part)
                    await self._emit(self._part, b"", rate, True)
                    return
                await self._emit(self._part, piece, rate, False)
                self._part += 1
            self.spoken_samples += len(samples)
        await self._emit(self._part, b"", rate, True)


def speaking_after(speaking: bool, message: Message) -> bool:
    """Whether a session speaks its answers after `message`: Control "speak" "on"/"off"."""
    if isinstance(message, Control) and message.action == "speak":
        return message.value != "off"
    return speaking
