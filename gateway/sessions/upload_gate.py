"""Which of the server-side edge's messages go on to the cloud.

The phone app's edge pipeline runs in the gateway, so the gateway is where a
question is stopped before it leaves: the privacy policy (`may_leave`, the one
rule for every edge) and the user's question rate. A refused question is a
refused turn: its later parts, its keyframe and its observation stay here too,
and the app hears once why. No sockets or clocks here; the rate gate is passed in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from edge.turns import turn_of
from gateway.sessions.settings import Refusal
from protocol import Message, PrivacyMode, SpeechSegment
from protocol.privacy import may_leave, policy_for

# Asked before a question (typed or spoken) goes to the cloud: None = allowed,
# otherwise the message to show the user.
QuestionGate = Callable[[], str | None]

LOCAL_ONLY = (
    "local-only mode: nothing leaves this device, and the browser app has no on-device "
    "model to answer with; switch privacy to standard or no-camera to ask"
)


@dataclass(frozen=True, slots=True)
class Admission:
    """Whether one message goes upstream, and what to tell the app if its turn was refused."""

    send: bool
    refusal: Refusal | None = None


class UploadGate:
    """Refuses questions the privacy mode or the rate limit forbids, and all that follows them."""

    def __init__(self, question_gate: QuestionGate) -> None:
        self._question_gate = question_gate
        self._refused_turns: set[int] = set()

    def question(self, privacy: PrivacyMode) -> Refusal | None:
        """May a new question be asked now? None, or why not (checked once per question)."""
        if not policy_for(privacy).questions_leave:
            return Refusal("local_only", LOCAL_ONLY)
        refusal = self._question_gate()
        return None if refusal is None else Refusal("rate_limited", refusal)

    def admit(self, message: Message, privacy: PrivacyMode) -> Admission:
        """Whether the edge's `message` goes to the cloud under `privacy`.

        A spoken question is checked at its first part (a typed one before it is
        asked, by `question`); whatever belongs to a refused turn stays here.
        """
        turn_id = turn_of(message)
        if isinstance(message, SpeechSegment) and message.part == 0:
            refusal = self.question(privacy)
            if refusal is not None:
                self._refused_turns.add(message.turn_id)
                return Admission(send=False, refusal=refusal)
        if turn_id is not None and turn_id in self._refused_turns:
            return Admission(send=False)
        return Admission(send=may_leave(message, privacy))

    def refused(self, turn_id: int) -> bool:
        return turn_id in self._refused_turns
