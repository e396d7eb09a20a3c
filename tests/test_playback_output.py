"""The answer player at work: the speaker's thread pulling blocks stamped on the microphone's
timeline, and the edge runtime playing AnswerAudio and pausing, resuming or stopping it when
the wearer talks over it (a fake VAD and transcriber; tests/test_spoken_barge_in.py has the
real models)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from edge.audio.endpointing import EndpointConfig
from edge.audio.listener import Listener
from edge.audio.playback import AnswerPlayer
from edge.audio.speaker_output import SpeakerOutput, has_output_device
from edge.config import EdgeConfig
from edge.runtime import EdgeRuntime
from edge.sources.media import CHUNK_SAMPLES, SAMPLE_RATE, AudioChunk, MediaItem
from protocol import AnswerAudio, AnswerDelta, Interrupt, Message, Sequencer, SpeechSegment
from tests.test_barge_in import LoudnessVad, tone


class FakeStream:
    """Stands in for sounddevice.OutputStream: keeps the callback for the test to call."""

    latency = 0.05

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.started = self.closed = False

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


class FakeSounddevice:
    def __init__(self) -> None:
        self.streams: list[FakeStream] = []

    def OutputStream(self, **kwargs: Any) -> FakeStream:
        self.streams.append(FakeStream(**kwargs))
        return self.streams[-1]

    def query_devices(self, device: Any, kind: str) -> dict[str, Any]:
        return {"name": "fake"}


def test_the_speaker_plays_the_players_blocks_stamped_when_they_will_be_heard() -> None:
    player = AnswerPlayer()
    speech = (np.arange(1, 961) * 7 % 20000).astype(np.int16)
    player.add(
        AnswerAudio(
            session_id="s", seq=0, sent_at=0.0, turn_id=1, part=0,
            pcm=speech.tobytes(), sample_rate=SAMPLE_RATE, last=True,
        )
    )  # fmt: skip
    now = [100.0]
    sd = FakeSounddevice()
    assert has_output_device(sd)
    with SpeakerOutput(player, start=99.0, clock=lambda: now[0], sd=sd) as output:
        (stream,) = sd.streams
        assert stream.started and stream.kwargs["samplerate"] == SAMPLE_RATE
        blocks = []
        for i in range(4):
            out = np.zeros((320, 1), dtype=np.int16)
            now[0] = 100.0 + i * 0.02
            stream.kwargs["callback"](out, 320, None, None)
            blocks.append(out[:, 0].copy())
    assert stream.closed and output.blocks == 4
    assert np.array_equal(np.concatenate(blocks)[:960], speech)
    # Heard 1 s after the microphone's origin plus the output latency: the echo reference.
    assert np.array_equal(player.reference(1.0 + FakeStream.latency, 960), speech)


def _audio(turn: int, samples: npt.NDArray[np.int16]) -> AnswerAudio:
    return AnswerAudio(
        session_id="s", seq=0, sent_at=0.0, turn_id=turn, part=0,
        pcm=samples.astype("<i2").tobytes(), sample_rate=SAMPLE_RATE, last=True,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("said", "stopped", "questions"),
    [("Mm-hmm.", False, 1), ("Stop.", True, 1), ("What is on the label?", True, 2)],
)
async def test_speech_over_a_spoken_answer_pauses_it_and_what_was_said_decides(
    said: str, stopped: bool, questions: int
) -> None:
    sent: list[Message] = []
    player = AnswerPlayer()

    async def send(message: Message) -> None:
        sent.append(message)

    heard: list[int] = []

    def transcribe(samples: npt.NDArray[np.int16]) -> str:
        heard.append(len(samples))
        return said

    config = EdgeConfig()
    listener = Listener(LoudnessVad(), EndpointConfig(end_silence_ms=config.end_silence_ms))
    runtime = EdgeRuntime(
        listener, None, Sequencer("s"), send, config=config, player=player, transcribe=transcribe
    )
    cloud = Sequencer("s")
    answer = tone(4.0) // 4
    played: list[npt.NDArray[np.int16]] = []
    paused_blocks: list[int] = []

    async def wearer() -> AsyncIterator[MediaItem]:
        """Asks, hears the spoken answer begin, then talks over it; the speaker plays
        into nothing (headphones): every block the microphone hears is pulled too."""
        t = 0.0
        audio = np.concatenate([tone(1.0), np.zeros(SAMPLE_RATE // 2, np.int16)])
        for i in range(0, len(audio), CHUNK_SAMPLES):
            yield AudioChunk(t, audio[i : i + CHUNK_SAMPLES])
            t += CHUNK_SAMPLES / SAMPLE_RATE
        assert any(isinstance(m, SpeechSegment) for m in sent)
        runtime.received(cloud.make(AnswerDelta, turn_id=1, text="It says"))
        runtime.received(_audio(1, answer))
        over = np.concatenate(
            [np.zeros(SAMPLE_RATE, np.int16), tone(0.6), np.zeros(4 * SAMPLE_RATE, np.int16)]
        )
        for i in range(0, len(over), CHUNK_SAMPLES):
            block = player.pull(t, CHUNK_SAMPLES)
            played.append(block)
            if player.state == "paused":
                paused_blocks.append(i)
            yield AudioChunk(t, over[i : i + CHUNK_SAMPLES])
            t += CHUNK_SAMPLES / SAMPLE_RATE

    await runtime.run(wearer())
    assert heard, "what was said over the answer was never transcribed"
    assert paused_blocks, "speech over the answer never paused it"
    # Paused within a block or two of the wearer's first loud block (1 s into `over`).
    assert paused_blocks[0] - SAMPLE_RATE <= 2 * CHUNK_SAMPLES
    interrupts = [m for m in sent if isinstance(m, Interrupt)]
    assert bool(interrupts) == stopped and runtime.stats.interrupts_sent == len(interrupts)
    segments = {m.turn_id for m in sent if isinstance(m, SpeechSegment)}
    assert len(segments) == questions
    total_played = sum(int(np.count_nonzero(b)) for b in played)
    if stopped:
        assert total_played < len(answer) and player.state == "idle"
    else:
        assert runtime.stats.backchannels == 1
        assert total_played == np.count_nonzero(answer)  # all of it, after the pause


class NoDevices:
    def query_devices(self, device: Any, kind: str) -> dict[str, Any]:
        raise ValueError("No output device matching None")


def test_without_an_output_device_the_speaker_is_off_unless_asked() -> None:
    from companion.cli import _parser

    assert not has_output_device(NoDevices())
    assert _parser().parse_args(["edge", "--gateway", "http://x", "--no-speaker"]).speaker is False
    assert _parser().parse_args(["edge", "--gateway", "http://x", "--speaker"]).speaker is True
    assert _parser().parse_args(["edge", "--gateway", "http://x"]).speaker is None  # auto


def test_bench_barge_in_refuses_no_seeds(capsys: pytest.CaptureFixture[str]) -> None:
    from companion.cli import main

    assert main(["bench", "barge-in", "--seeds", "0"]) == 2
    assert "--seeds must be at least 1" in capsys.readouterr().err
