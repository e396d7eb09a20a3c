"""Spoken answers on the phone app's audio track: the playout queue (pure), the track, and the
app session feeding it from the cloud's AnswerAudio (flushed by an Interrupt)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

import numpy as np
from websockets.asyncio.client import ClientConnection

from edge.models import EdgeModels
from gateway.sessions.answer_track import (
    FRAME_SAMPLES,
    PLAYOUT_RATE,
    AnswerPlayout,
    AnswerTrack,
)
from gateway.sessions.app_session import AppSession, AppSessionDeps
from protocol import AnswerAudio, Interrupt, Sequencer, encode


def _tone(seconds: float, rate: int, level: int = 8_000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * 440 * t) * level).astype("<i2").tobytes()


def _drain(playout: AnswerPlayout, frames: int) -> np.ndarray:
    return np.concatenate([playout.next_frame() for _ in range(frames)])


def test_an_answer_at_the_voices_rate_plays_at_48_khz_for_as_long() -> None:
    playout = AnswerPlayout()
    pcm = _tone(1.0, 22_050)
    playout.push(pcm[: len(pcm) // 2], 22_050)
    playout.push(pcm[len(pcm) // 2 :], 22_050, last=True)
    assert abs(playout.queued_s - 1.0) < 0.01
    played = _drain(playout, 60)  # 1.2 s
    speech = played[: int(0.95 * PLAYOUT_RATE)]
    assert np.abs(speech).max() > 6_000
    # The 440 Hz tone survives the resampling: zero crossings ≈ 880 a second.
    crossings = np.count_nonzero(np.diff(np.signbit(speech.astype(np.int32))))
    assert abs(crossings / 0.95 - 880) < 20
    assert not np.any(played[int(1.01 * PLAYOUT_RATE) :])  # then silence


def test_nothing_queued_is_silence_frame_after_frame() -> None:
    playout = AnswerPlayout()
    for _ in range(5):
        frame = playout.next_frame()
        assert frame.shape == (FRAME_SAMPLES,)
        assert not frame.any()


def test_flush_drops_everything_queued_and_the_next_answer_plays() -> None:
    playout = AnswerPlayout()
    playout.push(_tone(2.0, 16_000), 16_000)
    assert np.abs(playout.next_frame()).max() > 0
    playout.flush()
    assert playout.queued_s == 0.0
    assert playout.flushed == 1
    assert not _drain(playout, 10).any()
    playout.push(_tone(0.2, 24_000), 24_000, last=True)
    assert np.abs(_drain(playout, 5)).max() > 6_000


def test_playout_holds_at_most_its_bound() -> None:
    playout = AnswerPlayout(max_seconds=1.0)
    for _ in range(5):
        playout.push(_tone(0.5, 16_000), 16_000)
    assert playout.queued_s <= 1.0


def test_an_odd_byte_count_is_cut_not_refused() -> None:
    playout = AnswerPlayout()
    playout.push(_tone(0.1, 16_000) + b"\x01", 16_000, last=True)
    assert abs(playout.queued_s - 0.1) < 0.01


async def test_track_plays_20_ms_frames_at_48_khz_in_real_time() -> None:
    now = [100.0]
    playout = AnswerPlayout()
    playout.push(_tone(0.1, 22_050), 22_050, last=True)
    track = AnswerTrack(playout, clock=lambda: now[0])
    frames = []
    for _ in range(8):
        frames.append(await track.recv())
        now[0] += 0.02
    assert [f.pts for f in frames] == [i * FRAME_SAMPLES for i in range(8)]
    assert {f.sample_rate for f in frames} == {PLAYOUT_RATE}
    levels = [np.abs(f.to_ndarray()).max() for f in frames]
    assert min(levels[:4]) > 6_000 and max(levels[6:]) == 0
    track.stop()


class _FakeCloud:
    """The cloud's websocket: yields `incoming` (encoded), records what is sent."""

    def __init__(self, incoming: list[bytes]) -> None:
        self.incoming = incoming
        self.sent: list[bytes] = []

    async def send(self, data: bytes) -> None:
        self.sent.append(data)

    async def close(self) -> None:
        pass

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for data in self.incoming:
            yield data


async def test_the_app_session_plays_answer_audio_and_an_interrupt_silences_that_answer() -> None:
    cloud_out = Sequencer("s")

    def audio(turn_id: int, part: int, last: bool = False) -> bytes:
        return encode(
            cloud_out.make(
                AnswerAudio,
                turn_id=turn_id,
                part=part,
                pcm=_tone(0.5, 22_050),
                sample_rate=22_050,
                last=last,
            )
        )

    cloud = _FakeCloud([audio(1, 0)])
    deps = AppSessionDeps(
        edge_models=EdgeModels(), history=None, question_gate=lambda: None, on_closed=lambda _: None
    )
    session = AppSession("s", "alice", "phone", cast(ClientConnection, cloud), deps)
    await session._relay_from_cloud()
    assert abs(session.playout.queued_s - 0.5) < 0.05
    # Played on the track, not sent to the app as data (the relay's end adds an Error).
    assert not any(isinstance(m, AnswerAudio) for m in session.link.outbox.after(0))

    await session._to_cloud(Sequencer("s").make(Interrupt, turn_id=1))
    assert session.playout.queued_s == 0.0
    cloud.incoming = [audio(1, 1, last=True), audio(2, 0, last=True)]
    await session._relay_from_cloud()
    # What was already on its way of the interrupted answer stays silent; the next one plays.
    assert abs(session.playout.queued_s - 0.5) < 0.05
    await session.source.close()
