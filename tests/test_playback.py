"""The answer player: parts in, blocks out against a given time, paused and resumed by
barge-in, and what it played kept as the echo reference."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from edge.audio.answer_codec import encode_opus_packets
from edge.audio.playback import AnswerPlayer
from edge.sources.media import SAMPLE_RATE
from protocol import AnswerAudio
from protocol.audio_packets import pack_packets

BLOCK = 320  # 20 ms: the speaker's block, not the VAD's


def _audio(
    turn: int,
    part: int,
    samples: npt.NDArray[np.int16],
    *,
    rate: int = SAMPLE_RATE,
    last: bool = False,
) -> AnswerAudio:
    return AnswerAudio(
        session_id="s", seq=part, sent_at=0.0, turn_id=turn, part=part,
        pcm=samples.astype("<i2").tobytes(), sample_rate=rate, last=last,
    )  # fmt: skip


def _ramp(n: int, start: int = 1) -> npt.NDArray[np.int16]:
    return (np.arange(start, start + n) % 30000).astype(np.int16)


def _state(player: AnswerPlayer) -> str:
    return player.state  # read afresh: mypy would narrow a property across calls


def _play(player: AnswerPlayer, t0: float, blocks: int) -> list[npt.NDArray[np.int16]]:
    return [player.pull(t0 + i * BLOCK / SAMPLE_RATE, BLOCK) for i in range(blocks)]


def test_parts_play_in_order_of_part_even_when_they_arrive_out_of_order() -> None:
    player = AnswerPlayer()
    first, second = _ramp(800), _ramp(800, start=801)
    player.add(_audio(1, 1, second, last=True))
    assert player.state == "idle"  # part 0 is missing: nothing may play yet
    player.add(_audio(1, 0, first))
    assert _state(player) == "playing" and player.current_turn == 1
    played = np.concatenate(_play(player, 0.0, 6))
    assert np.array_equal(played[:1600], np.concatenate([first, second]))
    assert not played[1600:].any()
    assert player.state == "idle" and not player.speaking


def test_a_repeated_part_or_one_after_the_end_is_not_played_twice() -> None:
    player = AnswerPlayer()
    player.add(_audio(1, 0, _ramp(320)))
    player.add(_audio(1, 0, _ramp(320)))
    player.add(_audio(1, 1, np.zeros(0, np.int16), last=True))
    played = np.concatenate(_play(player, 0.0, 3))
    assert np.count_nonzero(played) == 320


def test_a_voice_at_its_own_rate_is_resampled_to_the_microphone_rate() -> None:
    player = AnswerPlayer()
    t = np.arange(22_050) / 22_050
    second = (np.sin(2 * np.pi * 440 * t) * 10000).astype(np.int16)
    player.add(_audio(1, 0, second, rate=22_050, last=True))
    played = np.concatenate(_play(player, 0.0, 60))
    voiced = np.flatnonzero(np.abs(played) > 100)
    assert abs(len(played[: voiced[-1] + 1]) - SAMPLE_RATE) < 200  # one second at 16 kHz
    spectrum = np.abs(np.fft.rfft(played[:SAMPLE_RATE]))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / SAMPLE_RATE - 440) <= 2


def test_pause_silences_the_next_block_and_resume_continues_where_it_paused() -> None:
    player = AnswerPlayer()
    speech = _ramp(16_000)
    player.add(_audio(1, 0, speech, last=True))
    before = _play(player, 0.0, 3)
    player.pause()
    assert player.state == "paused" and player.speaking
    t_pause = 3 * BLOCK / SAMPLE_RATE
    during = _play(player, t_pause, 4)
    assert all(not block.any() for block in during)
    assert player.silenced_at == t_pause
    player.resume()
    after = _play(player, t_pause + 4 * BLOCK / SAMPLE_RATE, 2)
    assert np.array_equal(np.concatenate(before + after), speech[: 5 * BLOCK])


def test_stop_drops_the_turn_and_whatever_of_it_arrives_later() -> None:
    player = AnswerPlayer()
    player.add(_audio(1, 0, _ramp(3200)))
    player.add(_audio(2, 0, _ramp(320, start=5000), last=True))
    _play(player, 0.0, 1)
    player.stop(1)
    player.add(_audio(1, 1, _ramp(3200), last=True))
    played = np.concatenate(_play(player, BLOCK / SAMPLE_RATE, 3))
    assert np.array_equal(played[:320], _ramp(320, start=5000))  # turn 2 plays on at once
    assert not played[320:].any()


def test_the_reference_is_what_was_played_when_it_was_played() -> None:
    player = AnswerPlayer(history_s=0.5)
    speech = _ramp(4000)
    player.add(_audio(1, 0, speech, last=True))
    t0 = 10.0
    _play(player, t0, 20)
    assert np.array_equal(player.reference(t0, 4000), speech)
    # Before anything was played, and past what was played: silence.
    assert not player.reference(t0 - 0.1, 1600).any()
    tail = player.reference(t0 + 4000 / SAMPLE_RATE, 1600)
    assert not tail.any()
    # Straddling the start: zeros, then the first samples.
    straddle = player.reference(t0 - 100 / SAMPLE_RATE, 200)
    assert not straddle[:100].any() and np.array_equal(straddle[100:], speech[:100])
    # Only `history_s` is kept.
    _play(player, t0 + 20 * BLOCK / SAMPLE_RATE, 40)
    assert not player.reference(t0, 4000).any()


def test_opus_parts_play_like_the_pcm_they_carry() -> None:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    tone = (np.sin(2 * np.pi * 300 * t) * 8000).astype(np.int16)
    packets = encode_opus_packets(tone, SAMPLE_RATE, opus_rate=24_000)
    opus = AnswerAudio(
        session_id="s", seq=0, sent_at=0.0, turn_id=1, part=0, pcm=pack_packets(packets),
        sample_rate=24_000, codec="opus", last=True,
    )  # fmt: skip
    player = AnswerPlayer()
    player.add(opus)
    assert not player.errors
    played = np.concatenate(_play(player, 0.0, 60))
    spectrum = np.abs(np.fft.rfft(played[:SAMPLE_RATE]))
    assert abs(int(np.argmax(spectrum)) - 300) <= 3


def test_a_bad_part_is_reported_and_skipped() -> None:
    player = AnswerPlayer()
    bad = AnswerAudio(
        session_id="s", seq=0, sent_at=0.0, turn_id=1, part=0, pcm=b"\x00\x09ab",
        sample_rate=24_000, codec="opus",
    )  # fmt: skip
    player.add(bad)
    player.add(_audio(1, 1, _ramp(320), last=True))
    assert player.errors and "part 0" in player.errors[0]
    played = np.concatenate(_play(player, 0.0, 2))
    assert np.array_equal(played[:320], _ramp(320))
