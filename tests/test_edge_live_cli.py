"""`companion edge` and the turn-taking flags shared with `companion replay`."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from cloud.conversation import Models
from companion.cli import _parser, main
from deploy.local_stack import local_stack
from tests.fakes import FakeReasoner, FakeTranscriber


def test_replay_takes_the_end_of_speech_silence_and_activation_from_the_command_line() -> None:
    args = _parser().parse_args(
        ["replay", "--audio", "q.wav", "--end-silence-ms", "200", "--activation", "wake"]
    )
    config = args.settings.edge_config()
    assert (config.end_silence_ms, config.activation, config.barge_in) == (200, "wake", True)


def test_without_flags_the_defaults_stay() -> None:
    args = _parser().parse_args(["replay", "--audio", "q.wav"])
    config = args.settings.edge_config()
    assert (config.end_silence_ms, config.activation) == (288, "always")
    assert config.end_silence_ms <= 300


@pytest.mark.parametrize("value", ["-5", "9000", "soon"])
def test_bad_end_silence_is_refused_before_anything_loads(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["replay", "--audio", "q.wav", "--end-silence-ms", value])
    assert exited.value.code == 2
    assert "--end-silence-ms" in capsys.readouterr().err


def test_live_edge_with_nothing_to_stream_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["edge", "--gateway", "http://127.0.0.1:9", "--camera", "none", "--mic", "none"])
    assert code == 2
    assert (
        capsys.readouterr().err.strip()
        == "companion: nothing to stream: give --camera and/or --mic"
    )


def test_missing_camera_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    camera = str(tmp_path / "gone.mp4")
    code = main(["edge", "--gateway", "http://127.0.0.1:9", "--camera", camera, "--mic", "none"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and "\n" not in err and "could not be opened" in err


@pytest.mark.models
async def test_live_edge_streams_a_camera_to_a_running_gateway(recordings: Path) -> None:
    """A video file stands in for the camera: frames flow, the session opens and closes."""
    models = Models(transcriber=FakeTranscriber(), reasoner=FakeReasoner())
    async with local_stack(models) as stack:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "companion",
            "edge",
            "--gateway",
            stack.gateway_url,
            "--camera",
            str(recordings / "video" / "realshort.mp4"),
            "--mic",
            "none",
            "--fps",
            "0",  # every frame: a file reads faster than real time
            "--json",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(300):
            out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    summary = json.loads(out.decode().splitlines()[-1])
    assert summary["type"] == "summary" and summary["frames_seen"] == 36, summary
