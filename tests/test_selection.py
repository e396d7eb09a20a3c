"""The selection policy: best keyframe near end of speech, scene notes under a byte budget."""

from __future__ import annotations

from edge.selection import (
    ByteBudget,
    Candidate,
    LiveNotes,
    select_keyframe,
)


def test_sharpest_frame_in_the_window_wins() -> None:
    frames = [Candidate(9.0, 500), Candidate(9.6, 80), Candidate(9.9, 300), Candidate(10.1, 120)]

    assert select_keyframe(frames, speech_end=10.0, lookback_s=1.5) == Candidate(9.0, 500)
    assert select_keyframe(frames, speech_end=10.0, lookback_s=0.5) == Candidate(9.9, 300)


def test_frames_long_before_or_after_the_question_are_not_chosen() -> None:
    frames = [Candidate(1.0, 9999), Candidate(9.8, 50), Candidate(12.0, 9999)]

    assert select_keyframe(frames, speech_end=10.0) == Candidate(9.8, 50)


def test_a_sharp_but_dark_frame_loses_to_a_well_exposed_one() -> None:
    dark = Candidate(9.5, 900, exposure=0.03)
    blown = Candidate(9.6, 800, exposure=0.97)
    plain = Candidate(9.7, 200, exposure=0.45)

    assert select_keyframe([dark, blown, plain], speech_end=10.0) == plain
    assert select_keyframe([dark, blown], speech_end=10.0) == dark  # better than nothing


def test_equal_sharpness_prefers_the_frame_closest_to_speech_end() -> None:
    frames = [Candidate(9.0, 100), Candidate(9.95, 100), Candidate(9.5, 100)]

    assert select_keyframe(frames, speech_end=10.0) == Candidate(9.95, 100)


def test_without_frames_in_the_window_the_nearest_frame_is_used() -> None:
    frames = [Candidate(2.0, 10), Candidate(5.0, 1)]

    assert select_keyframe(frames, speech_end=10.0) == Candidate(5.0, 1)
    assert select_keyframe([], speech_end=10.0) is None


def test_budget_is_a_sliding_minute() -> None:
    budget = ByteBudget(bytes_per_minute=1000)

    budget.spend(0.0, 600)
    assert budget.allows(30.0, 400)
    assert not budget.allows(30.0, 401)
    budget.spend(30.0, 400)
    assert not budget.allows(59.9, 1)
    assert budget.allows(60.0, 600)  # the first note has left the window
    assert budget.used(90.0) == 0


def test_scene_notes_only_on_change_and_within_budget() -> None:
    notes = LiveNotes(ByteBudget(bytes_per_minute=1000))
    decisions = []
    for second in range(120):
        changed = second % 10 == 0  # a new scene every 10 s
        decisions.append(notes.should_send(float(second), changed, 300))

    sent_at = [s for s, sent in enumerate(decisions) if sent]
    # 3 notes (900 bytes) fit each minute; the 4th change in a minute is skipped.
    assert sent_at == [0, 10, 20, 60, 70, 80]
    assert notes.skipped_for_budget == 6


def test_no_scene_notes_outside_standard() -> None:
    for privacy in ("no-camera", "local-only"):
        notes = LiveNotes(ByteBudget(bytes_per_minute=10**9), privacy=privacy)

        assert not any(notes.should_send(float(t), True, 10) for t in range(10))
