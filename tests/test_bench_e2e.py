"""`companion bench e2e` end to end with the real models: the demo question through the real
edge, WebRTC, gateway, Whisper, Qwen and Piper, once with the prefill and once without.

What it must show, and what can fail here: the prompt's opening was read while the wearer
was still speaking (more prompt tokens found cached with the prefill: the camera's text),
and both the first token and the first spoken audio played were measured from end of
speech. Timings themselves are the benchmark's to print, not the test's to judge.
"""

from __future__ import annotations

import pytest

from simulators.bench_e2e import bench_e2e
from tests.test_cli import DEMO


@pytest.mark.models
async def test_the_prefill_reads_the_camera_text_before_the_question_ends() -> None:
    figures = await bench_e2e(
        video=DEMO / "page.png", audio=DEMO / "question-page.wav", runs=1, modes=("fast",)
    )
    fast = figures["modes"]["fast"]
    with_prefill, without = fast["prefill"], fast["no_prefill"]
    assert with_prefill["answers"] == without["answers"] == 1
    reused, cold = (
        with_prefill["prompt_tokens_reused"]["p50"],
        without["prompt_tokens_reused"]["p50"],
    )
    assert reused > cold + 20, (reused, cold)  # the camera's text was already read
    for kind in (with_prefill, without):
        assert kind["first_token_ms"]["p50"] is not None
        assert kind["first_audio_ms"]["p50"] is not None  # a spoken answer was played
    assert "segmentation" in (fast["example_answer"] or "").lower()
