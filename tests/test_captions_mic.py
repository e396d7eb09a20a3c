"""`companion captions --mic`: live captions from a microphone, here a fake input stream
(sounddevice's InputStream calling back with blocks of a real recording, at 48 kHz stereo
as many microphones deliver), through the real Silero listener and caption planner."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from cloud.captions import Captioner
from cloud.captions.live import PlainEnglish
from companion.cli_captions import caption_live
from edge.audio.caption_tap import caption_listener
from edge.audio.vad import SileroVad
from edge.config import EdgeConfig
from edge.models import EdgeModels
from edge.sources import microphone
from edge.sources.microphone import MicrophoneSource
from protocol.messages import Caption
from tests.fakes import FakeTranscriber


class FakeStream:
    """Calls back from its own thread, as PortAudio does, with the recording's blocks."""

    def __init__(self, blocks: list[npt.NDArray[np.int16]], callback: Any) -> None:
        self.blocks = blocks
        self.callback = callback
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._play)

    def _play(self) -> None:
        for block in self.blocks:
            if self.stopped.is_set():
                return
            self.callback(block, len(block), None, None)
            time.sleep(0.004)  # faster than real time, in order

    def __enter__(self) -> FakeStream:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join()


class FakeSoundDevice:
    PortAudioError = RuntimeError

    def __init__(self, audio_48k_stereo: npt.NDArray[np.int16]) -> None:
        self.audio = audio_48k_stereo
        self.opened: list[dict[str, Any]] = []

    def query_devices(self, device: object, kind: str) -> dict[str, Any]:
        return {"name": "fake headset", "default_samplerate": 48_000, "max_input_channels": 2}

    def check_input_settings(self, *args: object, **kwargs: object) -> None:
        raise RuntimeError("16 kHz mono not supported")  # so the converter resamples

    def InputStream(self, *, callback: Any, blocksize: int, **settings: Any) -> FakeStream:
        self.opened.append(settings)
        blocks = [self.audio[i : i + blocksize] for i in range(0, len(self.audio), blocksize)]
        return FakeStream(blocks, callback)


def test_the_microphone_library_is_imported_only_when_a_microphone_opens() -> None:
    # In a fresh interpreter: another test may have opened a microphone in this one.
    check = "import sys, companion.cli_captions; print('sounddevice' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


async def test_live_captions_from_a_fake_microphone_stream(
    monkeypatch: pytest.MonkeyPatch, speech_0870: npt.NDArray[np.int16]
) -> None:
    padded = np.concatenate([np.zeros(8000, np.int16), speech_0870, np.zeros(16000, np.int16)])
    stereo_48k = np.repeat(np.repeat(padded, 3)[:, None], 2, axis=1)
    fake = FakeSoundDevice(stereo_48k)
    monkeypatch.setattr(microphone, "_sounddevice", lambda: fake)
    source = MicrophoneSource()
    assert (source.sample_rate, source.channels) == (48_000, 2)
    transcriber = FakeTranscriber("heard from the microphone")
    shown: list[Caption] = []
    finals = await caption_live(
        source,
        listener=caption_listener(SileroVad(EdgeModels().vad_session), EdgeConfig()),
        captioner=Captioner(PlainEnglish(transcriber), session_id="mic"),
        show=shown.append,
        seconds=len(padded) / 16_000,
    )
    assert fake.opened and fake.opened[0]["samplerate"] == 48_000
    assert [line["text"] for line in finals] == ["heard from the microphone"]
    # The reading (~6 s) was revised while it went on, then given its final text.
    assert any(not c.final for c in shown)
    assert shown[-1].final
