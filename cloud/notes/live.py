"""Conversation notes in a live session: final caption lines in, one conversation out.

Notes are opt-in and off by default. While they are on, each final caption
line is added with a voice print (13 numbers: no audio is kept); when the
conversation ends (a long silence, "stop taking notes", the session's end)
the lines get speaker labels, a summary and their action items
(`take_notes`). Pure: the caller passes the time in and stores the result.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt

from cloud.notes.record import ConversationNotes, NoteLine, take_notes
from cloud.notes.speakers import label_speakers, voice_print

# Quiet this long ends a conversation: its notes are written and a new one begins.
CONVERSATION_SILENCE_S = 120.0


@dataclass(frozen=True, slots=True)
class FinishedConversation:
    """One conversation's notes, with the id and times its record and memories carry."""

    conversation_id: str
    started_at: datetime
    ended_at: datetime
    notes: ConversationNotes


@dataclass
class _Line:
    start: float
    end: float
    text: str
    language: str
    voice: npt.NDArray[np.float64] = field(repr=False)


class NoteTaker:
    """The conversation being noted, if any. Times: `at` on one monotonic clock."""

    def __init__(self, *, silence_s: float = CONVERSATION_SILENCE_S) -> None:
        self.silence_s = silence_s
        self._lines: list[_Line] = []
        self._started: datetime | None = None
        self._origin = 0.0
        self._last_heard = 0.0

    @property
    def taking(self) -> bool:
        return self._started is not None

    def start(self, wall: datetime, at: float) -> None:
        if self._started is None:
            self._started, self._origin, self._last_heard = wall, at, at
            self._lines = []

    def add(
        self,
        text: str,
        *,
        samples: npt.NDArray[np.int16],
        sample_rate: int,
        speech_start: float,
        speech_end: float,
        language: str,
        at: float,
    ) -> None:
        """One final line heard; its audio is reduced to a voice print here and let go."""
        if self._started is None or not text.strip():
            return
        self._lines.append(
            _Line(
                start=max(0.0, speech_start - self._origin),
                end=max(0.0, speech_end - self._origin),
                text=text.strip(),
                language=language,
                voice=voice_print(samples, sample_rate),
            )
        )
        self._last_heard = at

    def quiet_too_long(self, at: float) -> bool:
        """A conversation with words in it has been silent for `silence_s`."""
        return bool(self._lines) and at - self._last_heard >= self.silence_s

    def finish(self, wall: datetime) -> FinishedConversation | None:
        """End the conversation: its notes, or None if nothing was said."""
        started, lines = self._started, self._lines
        self._started, self._lines = None, []
        if started is None or not lines:
            return None
        speakers = label_speakers(
            [line.voice for line in lines], [line.end - line.start for line in lines]
        )
        notes = take_notes(
            [
                NoteLine(line.start, line.end, speaker, line.text, line.language)
                for line, speaker in zip(lines, speakers, strict=True)
            ],
            today=started.date(),
        )
        return FinishedConversation(f"conv-{uuid.uuid4().hex[:16]}", started, wall, notes)
