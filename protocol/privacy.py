"""What may leave the device, decided in one place for every privacy mode.

Every message the edge (or the gateway's edge for the phone app) sends upstream
passes `may_leave`, and the cloud refuses what should not have left by the same
rule; no other code compares privacy strings. Unknown modes never
reach here: the codec and `parse_privacy` refuse them.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocol.messages import (
    PRIVACY_MODES,
    CaptionAudio,
    EarlyObservation,
    Interrupt,
    Keyframe,
    Message,
    Observation,
    PrivacyMode,
    Query,
    SpeechSegment,
)


@dataclass(frozen=True, slots=True)
class PrivacyPolicy:
    """What one privacy mode allows.

    `camera` is whether the camera is used at all, on the device included:
    local-only still reads a sign on the device to answer there, no-camera does not.
    """

    questions_leave: bool
    frames_leave: bool
    observations_leave: bool
    camera: bool

    @property
    def answers_on_device(self) -> bool:
        """Questions stay here, so the device answers them itself."""
        return not self.questions_leave


_POLICIES: dict[PrivacyMode, PrivacyPolicy] = {
    "standard": PrivacyPolicy(
        questions_leave=True, frames_leave=True, observations_leave=True, camera=True
    ),
    "no-camera": PrivacyPolicy(
        questions_leave=True, frames_leave=False, observations_leave=False, camera=False
    ),
    "local-only": PrivacyPolicy(
        questions_leave=False, frames_leave=False, observations_leave=False, camera=True
    ),
}


def policy_for(privacy: PrivacyMode) -> PrivacyPolicy:
    return _POLICIES[privacy]


def parse_privacy(value: str) -> PrivacyMode | None:
    """A privacy mode from outside (a Control's value, a flag), or None if it is none."""
    for mode in PRIVACY_MODES:
        if value == mode:
            return mode
    return None


def may_leave(message: Message, privacy: PrivacyMode) -> bool:
    """Whether `message` may be sent upstream under `privacy`.

    Speech, typed questions and interrupts carry what the wearer said; keyframes
    and observations carry what the camera saw. Session bookkeeping (Hello,
    Control, Ack, DeviceStatus) carries neither and always goes.
    """
    policy = policy_for(privacy)
    if isinstance(message, SpeechSegment | Query | Interrupt | CaptionAudio):
        return policy.questions_leave  # caption audio is what people near the wearer said
    if isinstance(message, Keyframe):
        return policy.frames_leave
    if isinstance(message, Observation | EarlyObservation):
        return policy.observations_leave
    return True
