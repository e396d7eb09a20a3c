"""What an app session writes to the user's History, taken from the messages going by.

A turn's row is filled from both directions: the typed question and the
keyframe as they leave for the cloud (faces already blurred: History never
shows more than the cloud saw), the heard question and the answer as they come back.
"""

from __future__ import annotations

from gateway.history import History
from protocol import AnswerDone, Keyframe, Message, Query, Transcript
from protocol.latency import stage_at


class HistoryFeed:
    """One session's writer into `History` (a gateway without History keeps nothing)."""

    def __init__(self, history: History | None, user: str, session_id: str) -> None:
        self._history = history
        self._user = user
        self._session_id = session_id

    def uploaded(self, message: Message) -> None:
        """A message that has passed the upload gate and is going to the cloud."""
        if self._history is None:
            return
        if isinstance(message, Keyframe):
            self._history.record_keyframe(
                self._user, self._session_id, message.turn_id, message.jpeg
            )
        elif isinstance(message, Query):
            self._history.record_question(
                self._user, self._session_id, message.turn_id, message.text
            )

    def received(self, message: Message) -> None:
        """A message from the cloud on its way to the app."""
        if self._history is None:
            return
        if isinstance(message, Transcript) and message.text:
            self._history.record_question(
                self._user, self._session_id, message.turn_id, message.text
            )
        elif isinstance(message, AnswerDone):
            self._history.record_answer(
                self._user,
                self._session_id,
                message.turn_id,
                message.text,
                message.mode,
                answer_latency_ms(message),
            )


def answer_latency_ms(done: AnswerDone) -> float | None:
    """From the end of speech (or the typed question's arrival) to the answer's last token."""
    start = stage_at(done.stages, "speech_end") or stage_at(done.stages, "segment_received")
    end = stage_at(done.stages, "last_token")
    return (end - start) * 1000.0 if start is not None and end is not None else None
