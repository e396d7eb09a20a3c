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

from cloud.captions.captioner import Captioner, EnglishTranscriber
from cloud.captions.commands import parse_switch
from cloud.captions.live import HeardLine, LiveCaptions
from cloud.memory.embedder import Embedder
from cloud.memory.sqlite_store import SqliteMemoryStore
from cloud.memory.user_data import user_file
from cloud.notes.conversation_store import keep_record
from cloud.notes.live import CONVERSATION_SILENCE_S, FinishedConversation, NoteTaker
from cloud.notes.memories import remember_notes
from edge.audio.caption_tap import SaidSwitch, ShowCaption
from protocol.messages import Caption, CaptionAudio

log = logging.getLogger(__name__)

# The languages a line is told apart among (as the cloud's captions do).
LOCAL_CAPTION_LANGUAGES = ("en", "de", "es", "fr")
# How often a quiet conversation is checked for having ended.
SILENCE_CHECK_S = 5.0
# At the session's end, how long the lines still queued may take to caption.
DRAIN_S = 60.0


class LocalListening:
    """One session's on-device captions and notes (an `OnDeviceListening` for the edge).

    `embedder` is called once, when the first conversation is kept, so a session that
    takes no notes never loads the memory model.
    """

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
        self._wall_clock = wall_clock
        self._clock = clock
        self._model_lock = asyncio.Lock()
        self.captions = False
        self.notes = NoteTaker(silence_s=silence_s)
        self._notes_ended = asyncio.Event()
        self._show: ShowCaption | None = None
        self._said: SaidSwitch | None = None
        self.live = LiveCaptions(
            Captioner(transcriber, session_id="on-device", languages=languages),
            run_model=self._run_model,
            send=self._caption,
            show=lambda: self.captions,
            on_final=self._heard,
        )
        self.lines_received = 0
        self.conversations_kept: list[FinishedConversation] = []

    @property
    def listening(self) -> bool:
        return self.captions or self.notes.taking

    def receive(self, message: CaptionAudio) -> None:
        if self.listening:
            self.lines_received += int(message.final)
            self.live.receive(message)

    def switch(self, *, captions: bool, notes: bool) -> None:
        self.captions = captions
        if notes and not self.notes.taking:
            self.notes.start(self._wall_clock(), self._clock())
        elif not notes and self.notes.taking:
            self._notes_ended.set()

    @contextlib.asynccontextmanager
    async def alongside(self, show: ShowCaption, said: SaidSwitch) -> AsyncIterator[None]:
        """Caption and watch for the conversation's end while the session runs; at its
        end the lines still queued are captioned (bounded) and the notes written."""
        self._show, self._said = show, said
        async with asyncio.TaskGroup() as tasks:
            workers = [tasks.create_task(self.live.run()), tasks.create_task(self._watch())]
            try:
                yield
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.live.drain(), DRAIN_S)
            finally:
                for worker in workers:
                    worker.cancel()
                await asyncio.shield(self._finish_notes())

    async def _run_model(self, call: Callable[[], Caption]) -> Caption:
        async with self._model_lock:  # Whisper does one line at a time
            return await asyncio.to_thread(call)

    async def _caption(self, caption: Caption) -> None:
        if self._show is not None:
            await self._show(caption)

    async def _watch(self) -> None:
        """Write the notes when the wearer stops them or the conversation falls silent."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._notes_ended.wait(), SILENCE_CHECK_S)
            if self._notes_ended.is_set():
                self._notes_ended.clear()
                await self.live.drain()  # what was heard before "stop" belongs in
                await self._finish_notes()
            elif self.notes.quiet_too_long(self._clock()):
                await self._finish_notes()
                self.notes.start(self._wall_clock(), self._clock())  # notes stay on

    async def _heard(self, line: HeardLine) -> None:
        caption = line.caption
        switch = parse_switch(caption.text)
        if switch is not None and switch.action in ("captions", "notes"):
            if self._said is not None:
                self._said(switch.action, switch.value == "on")
            return  # a switch, not part of the conversation
        self.notes.add(
            caption.text,
            samples=line.samples,
            sample_rate=line.sample_rate,
            speech_start=caption.speech_start,
            speech_end=caption.speech_end,
            language=caption.language,
            at=self._clock(),
        )

    async def _finish_notes(self) -> None:
        finished = self.notes.finish(self._wall_clock())
        if finished is None:
            return
        try:
            await asyncio.to_thread(self._keep, finished)
            self.conversations_kept.append(finished)
        except Exception:  # the session goes on; this conversation has no record
            log.exception("could not keep conversation %s here", finished.conversation_id)

    def _keep(self, finished: FinishedConversation) -> None:
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
