"""Live captions in a session: the edge's `CaptionAudio` in, `Caption` messages out.

The edge sends each caption line's audio while its speech goes on (revisions)
and once it has ended (the final text). Whisper does one thing at a time and
may fall behind: then a final text goes before any revision, a revision that
a newer one of the same line replaces is skipped (a caption shows only the
latest), and nothing is asked for a line that is already final. Each final
line is also handed to `on_final` (conversation notes), with its audio, which
is never kept beyond that call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cloud.captions.captioner import Captioner, EnglishTranscriber
from cloud.speech.asr import HeardSpeech, Transcriber
from cloud.speech.speech_decoding import AudioDecodeError, speech_samples
from protocol.messages import Caption, CaptionAudio

log = logging.getLogger(__name__)

# Lines whose final text was given, remembered so a late revision of one is dropped.
_FINISHED_LINES_KEPT = 64


@dataclass(frozen=True, slots=True)
class HeardLine:
    """A final caption line and its audio, for notes (the audio is not to be kept)."""

    caption: Caption
    samples: npt.NDArray[np.int16]
    sample_rate: int


class PlainEnglish:
    """A transcriber without language detection (an OpenAI-compatible server, a test's
    fake) as an `EnglishTranscriber`: the session's language, never translated."""

    def __init__(self, transcriber: Transcriber, language: str = "en") -> None:
        self.transcriber = transcriber
        self.language = language

    def transcribe_into_english(
        self,
        samples: npt.NDArray[np.int16],
        sample_rate: int,
        *,
        language: str | None = None,
        languages: Sequence[str] | None = None,
    ) -> HeardSpeech:
        text = self.transcriber.transcribe(samples, sample_rate)
        return HeardSpeech(text, self.language, 1.0, translated=False)


def english_transcriber(transcriber: Transcriber, language: str = "en") -> EnglishTranscriber:
    """The transcriber itself where it can detect and translate (Whisper), else plain."""
    if hasattr(transcriber, "transcribe_into_english"):
        return transcriber  # type: ignore[return-value]
    return PlainEnglish(transcriber, language)


# Runs one blocking model call on the cloud's model pool, under its lock.
RunModel = Callable[[Callable[[], Caption]], Awaitable[Caption]]
SendCaption = Callable[[Caption], Awaitable[None]]
OnFinal = Callable[[HeardLine], Awaitable[None]]


class LiveCaptions:
    """One session's caption queue and its worker (`run`, until cancelled).

    `show()` says whether captions go to the device now (the wearer may want
    notes only); `on_final` gets every final line either way.
    """

    def __init__(
        self,
        captioner: Captioner,
        *,
        run_model: RunModel,
        send: SendCaption,
        show: Callable[[], bool],
        on_final: OnFinal | None = None,
    ) -> None:
        self._captioner = captioner
        self._run_model = run_model
        self._send = send
        self._show = show
        self._on_final = on_final
        self._pending: list[CaptionAudio] = []
        self._finished: list[int] = []
        self._arrived = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.captions_sent = 0

    def receive(self, message: CaptionAudio) -> None:
        """File a line's audio; stale revisions are dropped here, not transcribed."""
        if message.line_id in self._finished:
            return
        if not message.final:
            # Only the newest revision of a line is worth transcribing.
            self._pending = [m for m in self._pending if m.final or m.line_id != message.line_id]
        self._pending.append(message)
        self._idle.clear()
        self._arrived.set()

    def _next(self) -> CaptionAudio:
        finals = [m for m in self._pending if m.final]
        chosen = finals[0] if finals else self._pending[-1]
        self._pending.remove(chosen)
        if chosen.final:
            self._finished = [*self._finished, chosen.line_id][-_FINISHED_LINES_KEPT:]
            self._pending = [m for m in self._pending if m.line_id != chosen.line_id]
        return chosen

    async def run(self) -> None:
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            while self._pending:
                message = self._next()
                try:
                    await self._caption(message)
                except asyncio.CancelledError:
                    raise
                except Exception:  # one line lost, the captions go on
                    log.exception("caption line %s failed", message.line_id)
            self._idle.set()

    async def drain(self) -> None:
        """Wait until every line filed so far has been captioned (the worker must run)."""
        while self._pending or not self._idle.is_set():
            await self._idle.wait()

    async def _caption(self, message: CaptionAudio) -> None:
        try:
            samples = speech_samples(message.codec, message.pcm, message.sample_rate)
        except AudioDecodeError as exc:
            log.warning("caption line %s unreadable: %s", message.line_id, exc)
            return
        captioner = self._captioner
        captioner.sample_rate = message.sample_rate

        def transcribe() -> Caption:
            return captioner.caption(
                line_id=message.line_id,
                samples=samples,
                final=message.final,
                speech_start=message.speech_start,
                speech_end=message.speech_end,
                sent_at=0.0,
            )

        caption = await self._run_model(transcribe)
        if self._show():
            await self._send(caption)
            self.captions_sent += 1
        if message.final and self._on_final is not None and caption.text.strip():
            await self._on_final(HeardLine(caption, samples, message.sample_rate))
