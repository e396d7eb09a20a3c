"""Turn-taking as a pure state machine: activation modes, follow-up turns and barge-in."""

from __future__ import annotations

import numpy as np
import pytest

from edge.audio.activation import (
    Activation,
    ActivationConfig,
    ActivationEvent,
    AnswerFinished,
    AnswerStarted,
    ButtonPressed,
    Decision,
    IgnoreSpeech,
    InterruptAnswer,
    SendSpeech,
    WakeHeard,
)
from edge.audio.endpointing import SpeechEnded, SpeechStarted


def utterance(start: float, end: float) -> list[ActivationEvent]:
    """What the endpointer reports for speech from `start` to `end` (seconds)."""
    samples = np.zeros(round((end - start + 0.6) * 16_000), dtype=np.int16)
    return [
        SpeechStarted(start),
        SpeechEnded(samples=samples, speech_start=start, speech_end=end, detected_at=end + 0.29),
    ]


def run(mode: str, events: list[ActivationEvent], **config: float | bool) -> list[Decision]:
    activation = Activation(ActivationConfig(mode=mode, **config))  # type: ignore[arg-type]
    decisions: list[Decision] = []
    for event in events:
        decisions += activation.push(event)
    return decisions


def summary(decisions: list[Decision]) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for d in decisions:
        if isinstance(d, SendSpeech):
            out.append(("send", d.reason))
        elif isinstance(d, IgnoreSpeech):
            out.append(("ignore", round(d.ended.speech_start, 2)))
        else:
            out.append(("interrupt", d.turn_id))
    return out


def test_always_listening_sends_every_utterance() -> None:
    events = utterance(1.0, 2.0) + utterance(10.0, 11.0)
    assert summary(run("always", events)) == [("send", "always"), ("send", "always")]


def test_wake_mode_keeps_speech_without_the_wake_phrase_on_the_device() -> None:
    assert summary(run("wake", utterance(1.0, 3.0))) == [("ignore", 1.0)]


def test_wake_phrase_inside_an_utterance_sends_that_utterance() -> None:
    start, end = utterance(1.0, 3.5)
    events = [start, WakeHeard(1.8), end]
    assert summary(run("wake", events)) == [("send", "wake")]


def test_wake_phrase_alone_is_not_sent_but_the_next_utterance_is() -> None:
    start, end = utterance(1.0, 1.7)
    events = [start, WakeHeard(1.75), end, *utterance(3.0, 4.5), *utterance(30.0, 31.0)]
    decisions = run("wake", events)
    assert summary(decisions) == [("ignore", 1.0), ("send", "wake"), ("ignore", 30.0)]
    assert isinstance(decisions[0], IgnoreSpeech) and "wake phrase alone" in decisions[0].reason


def test_wake_window_closes_after_its_time() -> None:
    start, end = utterance(1.0, 1.7)
    events = [start, WakeHeard(1.7), end, *utterance(1.99 + 5.1, 8.0)]
    assert summary(run("wake", events)) == [("ignore", 1.0), ("ignore", 7.09)]


def test_wake_phrase_heard_before_speech_is_confirmed_counts_for_that_utterance() -> None:
    start, end = utterance(1.0, 3.0)
    events = [WakeHeard(1.6), start, end]
    assert summary(run("wake", events)) == [("send", "wake")]


def test_follow_up_within_the_window_needs_no_wake_phrase() -> None:
    start, end = utterance(1.0, 3.0)
    events = [
        start,
        WakeHeard(1.6),
        end,
        AnswerStarted(1, 4.0),
        AnswerFinished(1, 6.0),
        *utterance(9.0, 10.0),  # 3 s after the answer: a follow-up
        AnswerStarted(2, 11.0),
        AnswerFinished(2, 12.0),
        *utterance(20.0, 21.0),  # 8 s after: needs the wake phrase again
    ]
    assert summary(run("wake", events, follow_up_s=5.0)) == [
        ("send", "wake"),
        ("send", "follow-up"),
        ("ignore", 20.0),
    ]


def test_push_to_talk_sends_only_the_utterance_after_a_press() -> None:
    events = [
        *utterance(1.0, 2.0),
        ButtonPressed(5.0),
        *utterance(6.0, 7.0),
        *utterance(30.0, 31.0),
    ]
    assert summary(run("push", events)) == [("ignore", 1.0), ("send", "push"), ("ignore", 30.0)]


def test_press_during_an_utterance_sends_it() -> None:
    start, end = utterance(1.0, 3.0)
    assert summary(run("push", [start, ButtonPressed(2.0), end])) == [("send", "push")]


def test_speech_over_an_answer_interrupts_it_and_becomes_the_next_turn() -> None:
    events = [
        *utterance(1.0, 2.0),
        AnswerStarted(1, 3.0),
        *utterance(3.5, 4.5),
    ]
    assert summary(run("always", events)) == [
        ("send", "always"),
        ("interrupt", 1),
        ("send", "barge-in"),
    ]


def test_speech_after_the_answer_ended_interrupts_nothing() -> None:
    events = [*utterance(1.0, 2.0), AnswerStarted(1, 3.0), AnswerFinished(1, 3.2)]
    events += utterance(3.5, 4.5)
    assert summary(run("always", events)) == [("send", "always"), ("send", "always")]


def test_an_answer_is_interrupted_once_however_much_is_said_over_it() -> None:
    events = [*utterance(1.0, 2.0), AnswerStarted(1, 3.0), *utterance(3.5, 4.0)]
    events += utterance(4.5, 5.0)
    interrupts = [d for d in run("always", events) if isinstance(d, InterruptAnswer)]
    assert interrupts == [InterruptAnswer(1)]


def test_barge_in_can_be_switched_off() -> None:
    events = [*utterance(1.0, 2.0), AnswerStarted(1, 3.0), *utterance(3.5, 4.5)]
    assert summary(run("always", events, barge_in=False)) == [
        ("send", "always"),
        ("send", "always"),
    ]


def test_in_wake_mode_speech_over_the_answer_interrupts_without_the_wake_phrase() -> None:
    start, end = utterance(1.0, 3.0)
    events = [start, WakeHeard(1.6), end, AnswerStarted(1, 4.0), *utterance(4.5, 5.5)]
    assert summary(run("wake", events)) == [
        ("send", "wake"),
        ("interrupt", 1),
        ("send", "barge-in"),
    ]


def test_in_push_mode_talking_over_the_answer_does_not_interrupt_but_the_button_does() -> None:
    events = [
        ButtonPressed(0.5),
        *utterance(1.0, 2.0),
        AnswerStarted(1, 3.0),
        *utterance(3.5, 4.0),  # "uh-huh": kept on the device, the answer goes on
        ButtonPressed(5.0),
        *utterance(5.5, 6.5),
    ]
    assert summary(run("push", events)) == [
        ("send", "push"),
        ("ignore", 3.5),
        ("interrupt", 1),
        ("send", "push"),
    ]


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="activation must be one of"):
        ActivationConfig(mode="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must not be negative"):
        ActivationConfig(follow_up_s=-1)
