"""The upload gate: which of the gateway-side edge's messages go on to the cloud."""

from __future__ import annotations

from gateway.sessions.upload_gate import LOCAL_ONLY, Admission, UploadGate
from protocol import (
    Control,
    Keyframe,
    Message,
    Observation,
    PrivacyMode,
    Query,
    Sequencer,
    SpeechSegment,
)

OUT = Sequencer("s1")


def speech(turn_id: int, part: int = 0) -> SpeechSegment:
    return OUT.make(SpeechSegment, turn_id=turn_id, pcm=b"\0\0" * 160, part=part, last=False)


def keyframe(turn_id: int) -> Keyframe:
    return OUT.make(Keyframe, turn_id=turn_id, jpeg=b"\xff\xd8", width=1, height=1, captured_at=0.0)


def observation(turn_id: int) -> Observation:
    return OUT.make(Observation, turn_id=turn_id, captured_at=0.0)


class Gate:
    """A question gate that allows `allowed` questions, then refuses, counting each ask."""

    def __init__(self, allowed: int) -> None:
        self.allowed = allowed
        self.asked = 0

    def __call__(self) -> str | None:
        self.asked += 1
        return None if self.asked <= self.allowed else "rate limit: slow down"


def sent(gate: UploadGate, messages: list[Message], privacy: PrivacyMode) -> list[Message]:
    return [m for m in messages if gate.admit(m, privacy).send]


def test_a_turn_within_the_limit_goes_to_the_cloud_whole() -> None:
    turn: list[Message] = [speech(1), speech(1, part=1), keyframe(1), observation(1)]
    assert sent(UploadGate(Gate(allowed=1)), turn, "standard") == turn


def test_a_rate_limited_spoken_question_stays_here_with_its_parts_and_visuals() -> None:
    rate = Gate(allowed=1)
    gate = UploadGate(rate)
    assert gate.admit(speech(1), "standard").send
    refused = gate.admit(speech(2), "standard")
    assert not refused.send
    assert refused.refusal is not None and refused.refusal.code == "rate_limited"
    assert refused.refusal.text == "rate limit: slow down"
    rest: list[Message] = [speech(2, part=1), keyframe(2), observation(2)]
    assert [gate.admit(m, "standard") for m in rest] == [Admission(send=False)] * 3
    assert rate.asked == 2  # the gate is asked once per question, not once per part
    assert gate.refused(2) and not gate.refused(1)


def test_local_only_refuses_a_spoken_question_without_spending_the_rate() -> None:
    rate = Gate(allowed=5)
    gate = UploadGate(rate)
    admission = gate.admit(speech(1), "local-only")
    assert not admission.send
    assert admission.refusal is not None
    assert admission.refusal.code == "local_only" and admission.refusal.text == LOCAL_ONLY
    assert not gate.admit(keyframe(1), "standard").send  # the refused turn stays refused
    assert rate.asked == 0


def test_no_camera_sends_speech_but_never_frames_or_what_was_seen() -> None:
    gate = UploadGate(Gate(allowed=5))
    assert gate.admit(speech(1), "no-camera").send
    assert not gate.admit(keyframe(1), "no-camera").send
    assert not gate.admit(observation(1), "no-camera").send
    assert gate.admit(keyframe(1), "no-camera").refusal is None


def test_settings_always_reach_the_cloud_even_in_local_only() -> None:
    gate = UploadGate(Gate(allowed=0))
    control = OUT.make(Control, action="privacy", value="local-only")
    assert gate.admit(control, "local-only").send


def test_typed_question_is_checked_once_before_it_is_asked() -> None:
    rate = Gate(allowed=1)
    gate = UploadGate(rate)
    assert gate.question("standard") is None
    refusal = gate.question("standard")
    assert refusal is not None and refusal.code == "rate_limited"
    local = gate.question("local-only")
    assert local is not None and local.code == "local_only"
    assert rate.asked == 2
    # The asked question then passes the gate as any message of an allowed turn.
    query = OUT.make(Query, turn_id=3, text="what does the sign say?")
    assert gate.admit(query, "standard").send
    assert rate.asked == 2
