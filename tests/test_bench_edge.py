"""`companion bench edge` reports every figure issue 3 asks for (values are not judged here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.cli import main


@pytest.mark.models
def test_bench_edge_prints_each_figure(
    recordings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    code = main(
        [
            "bench",
            "edge",
            "--video",
            str(recordings / "video" / "realshort.mp4"),
            "--audio",
            str(recordings / "speech" / "librivox-0880.wav"),
            "--frames",
            "10",
            "--model-frames",
            "1",
            "--repeats",
            "1",
            "--json",
        ]
    )

    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["vad"]["listener_ms_per_chunk"] > 0 and result["vad"]["bare_silero_ms"] > 0
    assert set(result["vision_ms_per_frame"]) == {
        "quality_gates",
        "scene_change",
        "faces",
        "hands",
        "ocr",
        "classifier",
        "keyframe_analysis",
    }
    query, live = result["upload"]["query"], result["upload"]["live"]
    assert query["segments"] == 1 and query["keyframes_sent"] == 1
    assert query["speech_codec"] == "opus"
    assert live["scene_notes"] >= 1 and query["scene_notes"] == 0
    watching = result["upload"]["live_scene_only"]
    assert watching["segments"] == 0 and watching["keyframes_sent"] == 0
    assert watching["scene_notes"] >= 1 and watching["speech_bytes"] == 0
    assert 0 < watching["bytes_upstream"] < live["bytes_upstream"]
    assert (
        0
        < query["ratio_to_video"]
        == pytest.approx(query["bytes_upstream"] / query["video_bytes_replayed"], abs=1e-4)
    )


def test_bench_edge_refuses_a_missing_video(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["bench", "edge", "--video", str(tmp_path / "nope.mp4")])

    assert code == 2
    assert "no such file" in capsys.readouterr().err
