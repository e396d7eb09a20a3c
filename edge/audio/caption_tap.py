"""Live captions and conversation notes on a session's audio: a tap on its media stream.

While captions or notes are on, every audio chunk the session hears also goes
through a listener of its own (Silero VAD and the endpointer's pause rules,
without the question-turn model) and the caption planner; each line's audio
leaves as `CaptionAudio` for whoever owns the transcriber to caption. The
stream itself passes through untouched, so the edge runtime still hears every
question. Nothing is kept: a line's audio is held only until it is sent.

Captions want each line revised as words come; notes need only each line's
final text, so with notes alone no revision is sent. What leaves passes the
same privacy rule as speech (`may_leave`): in local-only nothing does, and a
line goes instead to the device's own captioner (`OnDeviceListening`) when the
edge has one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from edge.audio.captions import CaptionConfig, CaptionPlanner, CaptionRequest
from edge.audio.endpointing import EndpointConfig
from edge.audio.listener import Listener
from edge.audio.speech_encoding import SpeechEncodingError, encode_opus
from edge.audio.vad import Vad
from edge.config import EdgeConfig
from edge.sources.media import AudioChunk, MediaItem
from protocol import MAX_SEGMENT_PART_BYTES, Message, PrivacyMode, Sequencer
from protocol.audio_packets import pack_packets
from protocol.messages import Caption, CaptionAudio
from protocol.privacy import may_leave

log = logging.getLogger(__name__)

Send = Callable[[Message], Awaitable[None]]
ShowCaption = Callable[[Caption], Awaitable[None]]
SaidSwitch = Callable[[str, bool], None]
"""A switch the wearer said ("captions" or "notes", on or off), for the session to apply."""


@dataclass(frozen=True, slots=True)
class SpokenSwitch:
    """A captions or notes switch said as a question ("start taking notes"), understood on
    the device, and what to answer."""

    action: str  # "captions" or "notes"
    on: bool
    confirmation: str


class OnDeviceListening(Protocol):
    """Captions and notes made on the device itself (local-only), where no line may leave.

    The edge cannot hold the transcriber's wiring (it lives with the cloud's pure
    captions and notes pieces); deploy/local_listening.py is the implementation.
    """

    def receive(self, message: CaptionAudio) -> None:
        """A line's audio the tap would have sent upstream; never leaves this process."""

    def switch(self, *, captions: bool, notes: bool) -> None:
        """The wearer's captions and notes switches, as the tap has them now."""

    def alongside(self, show: ShowCaption, said: SaidSwitch) -> AbstractAsyncContextManager[None]:
        """Caption while the session runs; `show` delivers each caption to the wearer,
        `said` hands back a spoken switch. Notes are written when it exits."""

    async def command(self, samples: npt.NDArray[np.int16]) -> SpokenSwitch | None:
        """An utterance addressed to the assistant, transcribed here: the switch it is, or
        None (a question, answered from the camera as local-only answers are)."""


def caption_listener(vad: Vad, config: EdgeConfig) -> Listener:
    """The listener for captions: Silero VAD and the endpointer's pause rules, with no
    semantic end-of-turn model. A question waits for the speaker to finish their
    thought; a caption line ends at any pause, whoever speaks next."""
    return Listener(
        vad,
        EndpointConfig(
            end_silence_ms=config.end_silence_ms,
            pre_roll_ms=config.pre_roll_ms,
            min_speech_ms=config.min_speech_ms,
        ),
    )


@dataclass(frozen=True, slots=True)
class TapState:
    """What the tap is listening for: captions (revised lines) and/or notes (finals)."""

    captions: bool = False
    notes: bool = False

    @property
    def listening(self) -> bool:
        return self.captions or self.notes


class CaptionTap:
    """Owns the captions listener and planner of one session; `tap` wraps its media stream.

    `privacy` is asked before each line leaves (the session's mode can change at
    any time); `codec` is how a line's audio travels ("pcm", or "opus" for a
    radio link), and a line too long for one message as PCM goes as Opus. A line
    that may not leave goes to `local` (the device's own captioner) if given.
    """

    def __init__(
        self,
        listener: Listener,
        out: Sequencer,
        send: Send,
        *,
        privacy: Callable[[], PrivacyMode],
        config: CaptionConfig | None = None,
        codec: str = "pcm",
        clock: Callable[[], float] = time.monotonic,
        local: Callable[[CaptionAudio], None] | None = None,
    ) -> None:
        self._listener = listener
        self._local = local
        self._out = out
        self._send = send
        self._privacy = privacy
        self._config = config or CaptionConfig()
        self._codec = codec
        self._clock = clock
        self._planner = CaptionPlanner(self._config)
        self.state = TapState()
        # Monotonic minus source time at the last chunk: lines are stamped on the clock.
        self._offset = 0.0
        self.lines_sent = 0
        self.withheld = 0
        self.lines_local = 0

    def switch(self, *, captions: bool | None = None, notes: bool | None = None) -> TapState:
        """Turn captions and/or notes on or off; the other stays as it was."""
        self.state = TapState(
            captions=self.state.captions if captions is None else captions,
            notes=self.state.notes if notes is None else notes,
        )
        return self.state

    async def tap(self, source: AsyncIterator[MediaItem]) -> AsyncIterator[MediaItem]:
        """Every item of `source`, in order; audio is captioned on the way while listening."""
        was_listening = False
        async for item in source:
            listening = self.state.listening
            if isinstance(item, AudioChunk):
                if listening:
                    await self.hear(item)
                elif was_listening:
                    await self.stop()
                was_listening = listening
            yield item
        if was_listening:
            await self.stop()

    async def hear(self, chunk: AudioChunk) -> None:
        """One chunk of what the wearer hears (the tap calls this; so may a microphone loop)."""
        self._offset = self._clock() - (chunk.t + chunk.duration)
        for request in self._planner.push(chunk, self._listener.feed(chunk)):
            await self._emit(request)

    async def stop(self) -> None:
        """The line in progress ends here (its final text is still asked for)."""
        for request in self._planner.flush(self._listener.flush()):
            await self._emit(request)

    async def _emit(self, request: CaptionRequest) -> None:
        if not request.final and not self.state.captions:
            return  # notes alone need only each line's final text
        # The line as heard (raw PCM, unnumbered): what the device keeps if it may not leave.
        heard = CaptionAudio(
            session_id=self._out.session_id,
            seq=0,
            sent_at=self._clock(),
            line_id=request.line_id,
            pcm=request.samples.astype("<i2").tobytes(),
            final=request.final,
            speech_start=request.speech_start + self._offset,
            speech_end=request.speech_end + self._offset,
        )
        if not may_leave(heard, self._privacy()):
            if self._local is not None:  # captioned on the device instead, never sent
                self.lines_local += int(request.final)
                self._local(heard)
            else:
                self.withheld += 1
            return
        self.lines_sent += int(request.final)
        await self._send(self._message(request))

    def _message(self, request: CaptionRequest) -> CaptionAudio:
        codec, payload = self._encoded(request)
        return self._out.make(
            CaptionAudio,
            line_id=request.line_id,
            pcm=payload,
            codec=codec,
            final=request.final,
            speech_start=request.speech_start + self._offset,
            speech_end=request.speech_end + self._offset,
        )

    def _encoded(self, request: CaptionRequest) -> tuple[str, bytes]:
        pcm = request.samples.astype("<i2").tobytes()
        if self._codec == "pcm" and len(pcm) <= MAX_SEGMENT_PART_BYTES:
            return "pcm", pcm
        try:
            return "opus", pack_packets(encode_opus(request.samples))
        except SpeechEncodingError as exc:  # keep the line's latest words rather than none
            log.warning("caption line %s as raw PCM, cut: %s", request.line_id, exc)
            return "pcm", pcm[-MAX_SEGMENT_PART_BYTES:]
