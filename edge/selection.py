"""What leaves the device, decided without clocks, sockets or models (times are passed in).

On a question: the best frame near the end of speech (sharp, decently
exposed, close to the moment the wearer asked) plus what the vision stages
made of it. In live mode: a scene note (an Observation without a frame) only
when the view has changed, and only while the notes of the last minute stay
under a byte budget. Which kinds of message a privacy mode lets leave is
decided in protocol/privacy.py.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from protocol import PrivacyMode
from protocol.privacy import policy_for

# Exposure (mean luminance 0..1) outside this range makes a frame a last resort:
# a dark or blown-out frame with sharp noise must not beat a plain good one.
MIN_EXPOSURE = 0.08
MAX_EXPOSURE = 0.92
# Frames up to this long after the last word still count: the wearer often
# looks at the thing while finishing the sentence.
AFTER_SPEECH_S = 0.3


@dataclass(frozen=True, slots=True)
class Candidate:
    """A recent frame as the gates scored it; `index` lets the caller find its pixels."""

    t: float
    sharpness: float
    exposure: float = 0.5
    index: int = 0


def select_keyframe(
    candidates: Sequence[Candidate],
    speech_end: float,
    *,
    lookback_s: float = 1.5,
    after_s: float = AFTER_SPEECH_S,
) -> Candidate | None:
    """The sharpest well-exposed frame from `lookback_s` before to `after_s` after speech end.

    Falls back to badly exposed frames in the window, then to the frame nearest
    in time, so a question always gets the best picture there is.
    """
    window = [c for c in candidates if speech_end - lookback_s <= c.t <= speech_end + after_s]
    exposed = [c for c in window if MIN_EXPOSURE <= c.exposure <= MAX_EXPOSURE]
    pool = exposed or window
    if not pool:
        return min(candidates, key=lambda c: abs(c.t - speech_end), default=None)
    # Sharpest first; among equals, the one closest to the end of speech.
    return max(pool, key=lambda c: (c.sharpness, -abs(c.t - speech_end)))


@dataclass
class ByteBudget:
    """At most `bytes_per_minute` in any 60 s sliding window."""

    bytes_per_minute: int
    _spent: deque[tuple[float, int]] = field(default_factory=deque)

    def used(self, now: float) -> int:
        while self._spent and self._spent[0][0] <= now - 60.0:
            self._spent.popleft()
        return sum(size for _, size in self._spent)

    def allows(self, now: float, size: int) -> bool:
        return self.used(now) + size <= self.bytes_per_minute

    def spend(self, now: float, size: int) -> None:
        self._spent.append((now, size))


@dataclass
class LiveNotes:
    """Live mode: decides which scene changes become a scene note upstream."""

    budget: ByteBudget
    privacy: PrivacyMode = "standard"
    sent: int = 0
    skipped_for_budget: int = 0

    def should_send(self, now: float, scene_changed: bool, size: int) -> bool:
        """Call once per frame; on True the caller sends the note and it is counted."""
        if not scene_changed or not policy_for(self.privacy).observations_leave:
            return False
        if not self.budget.allows(now, size):
            self.skipped_for_budget += 1
            return False
        self.budget.spend(now, size)
        self.sent += 1
        return True
