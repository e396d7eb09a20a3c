"""A session's listening beside its questions: live captions, translation and notes.

The conversation hands over what is not a question: the edge's `CaptionAudio`,
the wearer's switches (app toggles as Controls, or said aloud), and the end of
the session. This runs the captions worker and, while notes are on, the
conversation record, which is written (summary and action items as memories,
the record for the Conversations page) at a long silence, at "stop taking
notes" and when the session ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any

from cloud.captions.captioner import Captioner
from cloud.captions.commands import parse_switch
from cloud.captions.live import HeardLine, LiveCaptions, RunModel
from cloud.captions.translation import CaptionTranslator
from cloud.notes.live import FinishedConversation, NoteTaker
from protocol.messages import Caption, CaptionAudio

log = logging.getLogger(__name__)

# How often a quiet conversation is checked for having ended.
_SILENCE_CHECK_S = 5.0

SendCaption = Callable[[Caption], Awaitable[None]]
KeepConversation = Callable[[FinishedConversation], Awaitable[None]]
SaidSwitch = Callable[[str, bool], None]
"""A switch said aloud ("captions" or "notes", on or off), for whoever applies it."""


class Listening:
    """Captions and notes for one session; `alongside()` runs them while the session does."""

    def __init__(
        self,
        captioner: Captioner,
        *,
        run_model: RunModel,
        send: SendCaption,
        keep: KeepConversation,
        translator: CaptionTranslator | None = None,
        wall_clock: Callable[[], datetime],
        clock: Callable[[], float] = time.monotonic,
        notes: NoteTaker | None = None,
        said: SaidSwitch | None = None,
    ) -> None:
        """`said`: where nothing else hears the wearer (on the device, in local-only), a
        final line that is a captions or notes switch goes to it and is not noted."""
        self.captions = False
        self._said = said
        self.translate_to = ""
        self._send = send
        self._keep = keep
        self._translator = translator
        self._wall_clock = wall_clock
        self._clock = clock
        self.notes = notes or NoteTaker()
        self.live = LiveCaptions(
            captioner,
            run_model=run_model,
            send=self._show,
            show=lambda: self.captions,
            on_final=self._heard,
        )
        self.conversations_kept = 0
        self._notes_ended = asyncio.Event()

    @property
    def listening(self) -> bool:
        return self.captions or self.notes.taking

    def receive(self, message: CaptionAudio) -> None:
        """A caption line's audio; dropped unless the wearer turned captions or notes on."""
        if self.listening:
            self.live.receive(message)

    def switch(self, *, captions: bool, notes: bool, translate_to: str) -> None:
        """Adopt the session's settings; notes turned off are written by the worker."""
        self.captions, self.translate_to = captions, translate_to
        if notes and not self.notes.taking:
            self.notes.start(self._wall_clock(), self._clock())
        elif not notes and self.notes.taking:
            self._notes_ended.set()

    @contextlib.asynccontextmanager
    async def alongside(self) -> AsyncIterator[None]:
        """Run the captions worker and the silence check while the body runs; when it
        ends (the session is over) the conversation being noted is written."""
        async with asyncio.TaskGroup() as tasks:
            workers = [tasks.create_task(self.live.run()), tasks.create_task(self._watch())]
            try:
                yield
            finally:
                for worker in workers:
                    worker.cancel()
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._finish_notes())

    async def _watch(self) -> None:
        """Write the notes when the wearer stops them or the conversation falls silent."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._notes_ended.wait(), _SILENCE_CHECK_S)
            if self._notes_ended.is_set():
                self._notes_ended.clear()
                # What was heard before "stop" is still being transcribed: it belongs in.
                await self.live.drain()
                await self._finish_notes()
            elif self.notes.quiet_too_long(self._clock()):
                await self._finish_notes()
                self.notes.start(self._wall_clock(), self._clock())  # notes stay on

    async def _heard(self, line: HeardLine) -> None:
        caption = line.caption
        if self._said is not None:
            switch = parse_switch(caption.text)
            if switch is not None and switch.action in ("captions", "notes"):
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

    async def _show(self, caption: Caption) -> None:
        await self._send(caption)
        if caption.final and self.translate_to and self._translator is not None:
            text = await self._translator.translate(caption.text, self.translate_to)
            if text:
                await self._send(
                    dataclasses.replace(
                        caption, translation=text, translation_language=self.translate_to
                    )
                )

    async def _finish_notes(self) -> None:
        finished = self.notes.finish(self._wall_clock())
        if finished is None:
            return
        try:
            await self._keep(finished)
            self.conversations_kept += 1
        except Exception:  # the session goes on; the wearer sees no record for it
            log.exception("could not keep conversation %s", finished.conversation_id)


def caption_fields(caption: Caption) -> dict[str, Any]:
    """A caption's own fields, for the session to number and stamp as its message."""
    skip = {"session_id", "seq", "sent_at"}
    return {
        f.name: getattr(caption, f.name) for f in dataclasses.fields(caption) if f.name not in skip
    }
