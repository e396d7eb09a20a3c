"""The app session's settings reducer: (settings, Control) → new settings and effects, no I/O."""

from __future__ import annotations

import pytest

from gateway.sessions.settings import (
    FACE_BLUR_LOCKED,
    AppSettings,
    EnforceRetention,
    TellCloud,
    apply_control,
    apply_hello,
    with_mode,
)
from protocol import Control, Sequencer

OUT = Sequencer("s1")


def control(action: str, value: str = "") -> Control:
    return OUT.make(Control, action=action, value=value)


def test_privacy_change_is_adopted_and_told_to_the_cloud() -> None:
    applied = apply_control(AppSettings(), control("privacy", "no-camera"))
    assert applied.settings.privacy == "no-camera"
    assert applied.effects == (TellCloud("privacy", "no-camera"),)
    assert applied.refusal is None


@pytest.mark.parametrize("action", ["shopping", "speak"])
def test_switches_the_cloud_keeps_are_passed_on_unchanged(action: str) -> None:
    for value in ("on", "off"):
        applied = apply_control(AppSettings(), control(action, value))
        assert applied.settings == AppSettings()
        assert applied.effects == (TellCloud(action, value),)
        assert applied.refusal is None


def test_answer_mode_change_is_adopted_and_told_to_the_cloud() -> None:
    applied = apply_control(AppSettings(), control("mode", "reasoning"))
    assert applied.settings.mode == "reasoning"
    assert applied.effects == (TellCloud("mode", "reasoning"),)


@pytest.mark.parametrize(
    ("action", "value"),
    [
        ("privacy", "public"),
        ("mode", "slow"),
        ("volume", "11"),
        ("retention", ""),
        ("shopping", "maybe"),
    ],
)
def test_unknown_setting_is_refused_and_changes_nothing(action: str, value: str) -> None:
    before = AppSettings(privacy="no-camera", mode="fast", retention_days=7)
    applied = apply_control(before, control(action, value))
    assert applied.settings == before
    assert applied.effects == ()
    assert applied.refusal is not None and applied.refusal.code == "bad_control"
    assert repr(action) in applied.refusal.text


def test_pause_and_resume_stop_and_restart_capture_without_telling_the_cloud() -> None:
    paused = apply_control(AppSettings(), control("pause"))
    assert paused.settings.paused and paused.effects == ()
    resumed = apply_control(paused.settings, control("resume"))
    assert not resumed.settings.paused and resumed.effects == ()


def test_face_blur_cannot_be_turned_off() -> None:
    before = AppSettings()
    applied = apply_control(before, control("face_blur", "off"))
    assert applied.settings == before
    assert applied.effects == ()
    assert applied.refusal is not None
    assert applied.refusal.code == "face_blur_locked"
    assert applied.refusal.text == FACE_BLUR_LOCKED and "no-camera" in applied.refusal.text


def test_face_blur_on_is_already_so_and_the_cloud_still_hears_it() -> None:
    applied = apply_control(AppSettings(), control("face_blur", "on"))
    assert applied.settings == AppSettings()
    assert applied.effects == (TellCloud("face_blur", "on"),)


def test_retention_in_days_deletes_what_is_older() -> None:
    applied = apply_control(AppSettings(), control("retention", "30"))
    assert applied.settings.retention_days == 30
    assert applied.effects == (EnforceRetention(30 * 86400.0),)


def test_retention_zero_keeps_everything_until_deleted() -> None:
    applied = apply_control(AppSettings(retention_days=7), control("retention", "0"))
    assert applied.settings.retention_days == 0
    assert applied.effects == ()


@pytest.mark.parametrize("value", ["-1", "1.5", "123456", "²", "seven"])
def test_retention_that_is_not_a_small_whole_number_is_refused(value: str) -> None:
    applied = apply_control(AppSettings(), control("retention", value))
    assert applied.refusal is not None and applied.refusal.code == "bad_control"
    assert applied.settings.retention_days == 0


def test_hello_states_privacy_and_mode_and_keeps_the_rest() -> None:
    before = AppSettings(paused=True, retention_days=3)
    after = apply_hello(before, "local-only", "fast")
    assert after == AppSettings(privacy="local-only", mode="fast", paused=True, retention_days=3)


def test_a_typed_question_sets_the_answer_mode_only() -> None:
    after = with_mode(AppSettings(privacy="no-camera"), "reasoning")
    assert after == AppSettings(privacy="no-camera", mode="reasoning")
