"""The endpointer, on synthetic probability sequences (no model).

Each chunk is 512 samples (32 ms) whose samples all hold the chunk's index, so
a segment's audio shows exactly which chunks it was cut from.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.audio.endpointing import (
    EndpointConfig,
    Endpointer,
    EndpointEvent,
    SpeechEnded,
    SpeechStarted,
)
from edge.audio.listener import Listener
from edge.sources.media import CHUNK_SAMPLES, SAMPLE_RATE, AudioChunk

CHUNK_S = CHUNK_SAMPLES / SAMPLE_RATE  # 0.032
# These sequences are written for 300 ms of end silence: ten quiet chunks end an
# utterance and nine do not (the shipped default, 288 ms, is nine chunks).
SILENCE_300_MS = EndpointConfig(end_silence_ms=300)


def chunk(index: int) -> AudioChunk:
    return AudioChunk(index * CHUNK_S, np.full(CHUNK_SAMPLES, index, dtype=np.int16))


def run(
    probabilities: Iterable[float],
    config: EndpointConfig = SILENCE_300_MS,
    *,
    flush: bool = True,
) -> list[EndpointEvent]:
    endpointer = Endpointer(config)
    events: list[EndpointEvent] = []
    for index, probability in enumerate(probabilities):
        events += endpointer.push(chunk(index), probability)
    if flush:
        events += endpointer.flush()
    return events


def pattern(text: str) -> list[float]:
    """'#' speech (0.9), '+' in the hysteresis band (0.4), '.' silence (0.05)."""
    return [{"#": 0.9, "+": 0.4, ".": 0.05}[c] for c in text.replace(" ", "")]


def ended(events: list[EndpointEvent]) -> list[SpeechEnded]:
    return [e for e in events if isinstance(e, SpeechEnded)]


def test_one_utterance_gives_started_then_ended_with_its_times() -> None:
    # 20 chunks of silence, 30 of speech, then 10 of silence (320 ms >= 300 ms).
    events = run(pattern("." * 20 + "#" * 30 + "." * 10), flush=False)

    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded]
    started, end = events
    assert isinstance(started, SpeechStarted) and isinstance(end, SpeechEnded)
    assert started.t == pytest.approx(20 * CHUNK_S)
    assert end.speech_start == pytest.approx(20 * CHUNK_S)
    assert end.speech_end == pytest.approx(50 * CHUNK_S)
    assert end.detected_at == pytest.approx(60 * CHUNK_S)
    assert end.detected_at - end.speech_end <= 0.300 + CHUNK_S


def test_speech_started_waits_for_min_speech() -> None:
    # 250 ms is 7.8 chunks: confirmed at the end of the 8th voiced chunk.
    endpointer = Endpointer()
    confirmed_at = None
    for index, probability in enumerate(pattern("...." + "#" * 20)):
        if any(isinstance(e, SpeechStarted) for e in endpointer.push(chunk(index), probability)):
            confirmed_at = index
            break
    assert confirmed_at == 4 + 7


def test_pre_roll_keeps_the_audio_before_onset() -> None:
    [segment] = ended(run(pattern("." * 20 + "#" * 30 + "." * 10)))

    # 300 ms is 9.375 chunks: the last 4800 samples before chunk 20.
    assert len(segment.samples) == 4800 + 40 * CHUNK_SAMPLES
    assert segment.samples_start == pytest.approx(20 * CHUNK_S - 0.3)
    assert segment.samples[0] == 10  # part of chunk 10, then 11..19
    assert list(segment.samples[4800::CHUNK_SAMPLES][:3]) == [20, 21, 22]


def test_samples_end_where_end_of_speech_was_detected() -> None:
    [segment] = ended(run(pattern("." * 20 + "#" * 30 + "." * 10)))

    assert segment.samples[-1] == 59
    assert segment.samples_start + len(segment.samples) / SAMPLE_RATE == pytest.approx(
        segment.detected_at
    )


def test_onset_at_stream_start_has_no_pre_roll() -> None:
    [segment] = ended(run(pattern("#" * 20 + "." * 10)))

    assert segment.samples[0] == 0
    assert segment.speech_start == 0.0


def test_blip_shorter_than_min_speech_is_dropped() -> None:
    assert run(pattern("." * 10 + "#" * 5 + "." * 20)) == []


def test_blip_at_end_of_stream_is_dropped_by_flush() -> None:
    assert run(pattern("." * 10 + "###")) == []


def test_pause_shorter_than_end_silence_keeps_one_utterance() -> None:
    events = run(pattern("#" * 20 + "." * 9 + "#" * 20 + "." * 10), flush=False)

    [segment] = ended(events)
    assert segment.speech_end == pytest.approx(49 * CHUNK_S)


def test_pause_as_long_as_end_silence_splits_utterances() -> None:
    events = run(pattern("#" * 20 + "." * 10 + "#" * 20 + "." * 10), flush=False)

    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded] * 2
    first, second = ended(events)
    assert first.speech_end == pytest.approx(20 * CHUNK_S)
    assert second.speech_start == pytest.approx(30 * CHUNK_S)


def test_second_utterance_pre_roll_is_silence_not_the_first_utterance() -> None:
    first, second = ended(run(pattern("#" * 20 + "." * 10 + "#" * 20 + "." * 10)))

    # 10 quiet chunks (320 ms) lie between them: the pre-roll is 300 ms of those.
    assert set(np.unique(second.samples[:4800])) <= set(range(20, 30))
    assert second.samples[4800] == 30
    assert first.samples[-1] == 29


def test_hysteresis_band_continues_speech_but_does_not_stop_silence() -> None:
    # '+' after speech counts as voiced; '+' during the silence run does not reset it.
    continued = run(pattern("#" * 20 + "+" * 20 + "." * 10), flush=False)
    [segment] = ended(continued)
    assert segment.speech_end == pytest.approx(40 * CHUNK_S)

    not_reset = run(pattern("#" * 20 + "." + "+" * 9 + "." * 5), flush=False)
    [segment] = ended(not_reset)
    assert segment.speech_end == pytest.approx(20 * CHUNK_S)
    assert segment.detected_at == pytest.approx(30 * CHUNK_S)


def test_hysteresis_band_alone_does_not_start_speech() -> None:
    assert run(pattern("+" * 50)) == []


def test_segment_reaching_max_length_is_force_ended_and_speech_goes_on() -> None:
    config = EndpointConfig(max_segment_s=1.0, pre_roll_ms=0)
    events = run(pattern("#" * 50 + "." * 10), config, flush=False)

    segments = ended(events)
    assert len(segments) == 2
    first, second = segments
    # 1 s is 31.25 chunks: the 32nd chunk brings the segment to 1.024 s.
    assert len(first.samples) == 32 * CHUNK_SAMPLES
    assert first.detected_at == pytest.approx(32 * CHUNK_S)
    assert second.speech_start == pytest.approx(32 * CHUNK_S)
    assert second.samples[0] == 32  # nothing is sent twice


def test_flush_ends_the_utterance_in_progress() -> None:
    events = run(pattern("...." + "#" * 20 + "..."))

    [segment] = ended(events)
    assert segment.speech_end == pytest.approx(24 * CHUNK_S)
    assert segment.detected_at == pytest.approx(27 * CHUNK_S)


def test_flush_forgets_the_stream() -> None:
    endpointer = Endpointer()
    for index, probability in enumerate(pattern("." * 20)):
        endpointer.push(chunk(index), probability)
    endpointer.flush()
    events = []
    for index, probability in enumerate(pattern("#" * 20 + "." * 10), start=100):
        events += endpointer.push(chunk(index), probability)

    [segment] = ended(events)
    assert segment.samples[0] == 100  # no pre-roll from the previous stream


def test_zero_end_silence_ends_at_the_first_quiet_chunk() -> None:
    config = EndpointConfig(end_silence_ms=0, min_speech_ms=0)
    [segment] = ended(run(pattern("###."), config, flush=False))
    assert segment.detected_at == pytest.approx(4 * CHUNK_S)


def test_config_rejects_inverted_thresholds() -> None:
    with pytest.raises(ValueError, match="neg_threshold"):
        EndpointConfig(threshold=0.3, neg_threshold=0.5)


@settings(max_examples=200, deadline=None)
@given(
    probabilities=st.lists(st.floats(0.0, 1.0), max_size=300),
    end_silence_ms=st.integers(0, 600),
    pre_roll_ms=st.integers(0, 500),
    min_speech_ms=st.integers(0, 400),
)
def test_any_sequence_gives_well_formed_segments(
    probabilities: list[float], end_silence_ms: int, pre_roll_ms: int, min_speech_ms: int
) -> None:
    config = EndpointConfig(
        end_silence_ms=end_silence_ms,
        pre_roll_ms=pre_roll_ms,
        min_speech_ms=min_speech_ms,
        max_segment_s=3.0,
    )
    events = run(probabilities, config)

    # Started and ended alternate, starting with started.
    kinds = [type(e) for e in events]
    assert kinds == [SpeechStarted, SpeechEnded] * (len(kinds) // 2)
    segments = ended(events)
    previous_end = -1.0
    sent: list[int] = []
    for segment in segments:
        assert segment.speech_start < segment.speech_end <= segment.detected_at
        assert segment.speech_end - segment.speech_start >= min_speech_ms / 1000 - 1e-9
        assert segment.samples_start >= previous_end - pre_roll_ms / 1000 - 1e-9
        assert segment.speech_start - segment.samples_start <= pre_roll_ms / 1000 + 1e-9
        assert len(segment.samples) <= (3.0 + CHUNK_S) * SAMPLE_RATE
        voiced = segment.samples[
            round((segment.speech_start - segment.samples_start) * SAMPLE_RATE) :
        ]
        sent += [int(v) for v in voiced[::CHUNK_SAMPLES]]
        previous_end = segment.detected_at
    # Audio from speech onward is never sent twice.
    assert len(sent) == len(set(sent))


def test_listener_rechunks_any_piece_sizes_into_512_sample_frames() -> None:
    seen: list[int] = []

    class CountingVad:
        def probability(self, chunk: np.ndarray) -> float:
            seen.append(len(chunk))
            return 0.9 if chunk.max() > 0.5 else 0.0

        def reset(self) -> None:
            pass

    audio = np.zeros(SAMPLE_RATE * 3, dtype=np.int16)
    audio[SAMPLE_RATE : 2 * SAMPLE_RATE] = 30_000  # one second of "speech"
    listener = Listener(CountingVad())
    events: list[EndpointEvent] = []
    position = 0
    for size in [100, 700, 512, 3, 1000, 2048, 1] * 100:
        piece = audio[position : position + size]
        if len(piece) == 0:
            break
        events += listener.feed(AudioChunk(position / SAMPLE_RATE, piece))
        position += len(piece)
    events += listener.flush()

    assert set(seen) == {CHUNK_SAMPLES}
    [segment] = ended(events)
    assert segment.speech_start == pytest.approx(31 * CHUNK_S)  # the frame holding 1.0 s
    assert segment.speech_end == pytest.approx(63 * CHUNK_S)  # the frame holding 2.0 s
    start = round(segment.samples_start * SAMPLE_RATE)
    assert np.array_equal(segment.samples, audio[start : start + len(segment.samples)])
