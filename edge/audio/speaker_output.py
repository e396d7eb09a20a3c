"""The local speaker as the answer player's output, through sounddevice (PortAudio).

The thin I/O layer over `AnswerPlayer`: PortAudio's thread asks for a block,
and the player hands out the next one against the time it will be heard on the
microphone's timeline (the same `start` as `MicrophoneSource`, plus the
stream's output latency), so its echo reference lines up with what the
microphone picks up. sounddevice is imported only when a speaker opens; a
missing PortAudio or no output device is one clear `MediaError`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from edge.audio.playback import AnswerPlayer
from edge.errors import MediaError
from edge.sources.media import SAMPLE_RATE

INSTALL = "sounddevice==0.5.6"
# 20 ms blocks: a pause is heard at most one block (plus the device's buffer) later.
BLOCK_SAMPLES = 320


def _sounddevice() -> Any:
    try:
        import sounddevice
    except OSError as exc:  # sounddevice raises OSError when libportaudio is missing
        raise MediaError(
            f"speaker unavailable: {exc}; install PortAudio (apt-get install libportaudio2)"
        ) from None
    except ImportError:
        raise MediaError(f"speaker unavailable: run `pip install {INSTALL}`") from None
    return sounddevice


def has_output_device(sd: Any | None = None) -> bool:
    """Whether this machine has a default audio output (False where PortAudio is missing)."""
    try:
        module = sd or _sounddevice()
        module.query_devices(None, "output")
    except Exception:
        return False
    return True


class SpeakerOutput:
    """`with SpeakerOutput(player, start=t0):` plays the player's blocks until closed."""

    def __init__(
        self,
        player: AnswerPlayer,
        device: int | str | None = None,
        *,
        start: float,
        clock: Callable[[], float] = time.monotonic,
        block: int = BLOCK_SAMPLES,
        sd: Any | None = None,
    ) -> None:
        self.player = player
        self.device = device
        self._start = start
        self._clock = clock
        self._block = block
        self._sd = sd or _sounddevice()
        self._stream: Any = None
        self.blocks = 0

    def __enter__(self) -> SpeakerOutput:
        sd = self._sd
        try:
            self._stream = sd.OutputStream(
                device=self.device,
                samplerate=SAMPLE_RATE,
                channels=1,
                dtype="int16",
                blocksize=self._block,
                latency="low",
                callback=self._fill,
            )
            self._stream.start()
        except Exception as exc:  # PortAudioError and friends: no such device, busy, format
            raise MediaError(
                f"speaker {self.device or 'default'!r} could not be opened: {exc}"
            ) from None
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None

    def _fill(self, outdata: Any, frames: int, when: Any, status: Any) -> None:
        """PortAudio's thread: the next block, stamped with when it will be heard."""
        latency = float(getattr(self._stream, "latency", 0.0) or 0.0)
        heard_at = self._clock() - self._start + latency
        outdata[:, 0] = self.player.pull(heard_at, frames)
        self.blocks += 1
