"""Live captions and conversation notes on the device itself, for local-only mode.

In local-only nothing may leave the device, so the caption tap's lines come
here instead of going upstream: the same bundled Whisper the edge already
loads captions them (speech in another language translated into English, the
language kept), the captions go to the wearer the way local answers do, and
notes are kept in the local user data folder: the conversation record (the
same store the cloud's Conversations page reads) and its summary and action
items as memories. The pure pieces are the cloud's (Captioner, LiveCaptions,
NoteTaker); only the wiring is here, because edge/ may not import cloud/.

Notes are written at a long silence, at "stop taking notes" and when the
session ends. A final line that is a spoken switch ("captions off", "stop
taking notes") is handed back to the session and is not noted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from cloud.captions.captioner import Captioner, EnglishTranscriber
from cloud.captions.commands import parse_switch
from cloud.captions.listening import Listening
from cloud.captions.live import LiveCaptions
from cloud.memory.embedder import Embedder
from cloud.memory.sqlite_store import SqliteMemoryStore
from cloud.memory.user_data import user_file
from cloud.notes.conversation_store import keep_record
from cloud.notes.live import CONVERSATION_SILENCE_S, FinishedConversation, NoteTaker
from cloud.notes.memories import remember_notes
from edge.audio.caption_tap import SaidSwitch, ShowCaption, SpokenSwitch
from protocol import SAMPLE_RATE
from protocol.messages import Caption, CaptionAudio

log = logging.getLogger(__name__)

# The languages a line is told apart among (as the cloud's captions do).
LOCAL_CAPTION_LANGUAGES = ("en", "de", "es", "fr")
# At the session's end, how long the lines still queued may take to caption.
DRAIN_S = 60.0


class LocalListening:
    """One session's on-device captions and notes (an `OnDeviceListening` for the edge):
    the cloud's `Listening`, with this device's Whisper, its data folder and the wearer's
    spoken switches. `embedder` is called once, when the first conversation is kept, so
    a session that takes no notes never loads the memory model."""

    def __init__(
        self,
        transcriber: EnglishTranscriber,
        *,
        data_dir: Path,
        user: str,
        embedder: Callable[[], Embedder],
        languages: tuple[str, ...] = LOCAL_CAPTION_LANGUAGES,
        silence_s: float = CONVERSATION_SILENCE_S,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.data_dir = data_dir
        self.user = user
        self._embedder_factory = embedder
        self._embedder: Embedder | None = None
        self._model_lock = asyncio.Lock()
        self._show: ShowCaption | None = None
        self._said: SaidSwitch | None = None
        self._transcriber, self._languages = transcriber, languages
        self.listening = Listening(
            Captioner(transcriber, session_id="on-device", languages=languages),
            run_model=self._run_model,
            send=self._caption,
            keep=self._keep,
            wall_clock=wall_clock,
            clock=clock,
            notes=NoteTaker(silence_s=silence_s),
            said=self._switch_said,
        )
        self.lines_received = 0
        self.conversations_kept: list[FinishedConversation] = []

    @property
    def live(self) -> LiveCaptions:
        return self.listening.live

    @property
    def notes(self) -> NoteTaker:
        return self.listening.notes

    def receive(self, message: CaptionAudio) -> None:
        if self.listening.listening:
            self.lines_received += int(message.final)
            self.listening.receive(message)

    def switch(self, *, captions: bool, notes: bool) -> None:
        self.listening.switch(captions=captions, notes=notes, translate_to="")

    @contextlib.asynccontextmanager
    async def alongside(self, show: ShowCaption, said: SaidSwitch) -> AsyncIterator[None]:
        """Caption and watch for the conversation's end while the session runs; at its
        end the lines still queued are captioned (bounded) before the notes are written."""
        self._show, self._said = show, said
        async with self.listening.alongside():
            yield
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.listening.live.drain(), DRAIN_S)

    async def command(self, samples: npt.NDArray[np.int16]) -> SpokenSwitch | None:
        """What the wearer asked in local-only, transcribed here: a captions or notes
        switch ("start taking notes"), or None. Whisper as the captions use it."""

        def heard() -> str:
            return self._transcriber.transcribe_into_english(
                samples, SAMPLE_RATE, languages=self._languages
            ).text

        async with self._model_lock:  # Whisper does one thing at a time
            said = await asyncio.to_thread(heard)
        switch = parse_switch(said)
        if switch is None or switch.action not in ("captions", "notes"):
            return None
        return SpokenSwitch(switch.action, switch.value == "on", switch.confirmation)

    def _switch_said(self, action: str, on: bool) -> None:
        if self._said is not None:
            self._said(action, on)

    async def _run_model(self, call: Callable[[], Caption]) -> Caption:
        async with self._model_lock:  # Whisper does one line at a time
            return await asyncio.to_thread(call)

    async def _caption(self, caption: Caption) -> None:
        if self._show is not None:
            await self._show(caption)

    async def _keep(self, finished: FinishedConversation) -> None:
        await asyncio.to_thread(self._write, finished)
        self.conversations_kept.append(finished)

    def _write(self, finished: FinishedConversation) -> None:
        """The record (owner-only file) and its summary and action items as memories."""
        keep_record(self.data_dir, self.user, finished)
        if self._embedder is None:
            self._embedder = self._embedder_factory()
        with SqliteMemoryStore(user_file(self.data_dir, self.user), self._embedder) as store:
            remember_notes(
                store,
                self.user,
                finished.notes,
                conversation_id=finished.conversation_id,
                started_at=finished.started_at,
            )
