"""Live captions: the caption planner (pure, scripted VAD), the simulated-real-time
runner with a fake transcriber and clock, the Caption message, and one real run."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from cloud.captions import Captioner
from cloud.speech.asr import HeardSpeech
from edge.audio.captions import CaptionConfig, CaptionPlanner, CaptionRequest
from edge.audio.endpointing import EndpointConfig
from edge.audio.listener import Listener
from edge.sources.media import CHUNK_SAMPLES, SAMPLE_RATE, AudioChunk
from protocol import decode, encode
from protocol.messages import Caption
from simulators.caption_replay import caption_listener, caption_recording, final_lines
from simulators.wer import word_error_rate

LOUD = 3000


class LoudnessVad:
    """Speech wherever a chunk is loud: a VAD whose verdicts a test can write as audio."""

    def probability(self, samples: npt.NDArray[np.float32]) -> float:
        return 0.9 if float(np.abs(samples).mean()) * 32768 > LOUD / 2 else 0.05

    def reset(self) -> None:
        pass


def audio(*parts: tuple[str, float]) -> npt.NDArray[np.int16]:
    """("speech"|"quiet"|"dip", seconds) pieces: loud noise, silence, or a soft breath."""
    rng = np.random.default_rng(7)
    pieces = []
    for kind, seconds in parts:
        n = round(seconds * SAMPLE_RATE)
        level = {"speech": LOUD, "quiet": 0, "dip": LOUD / 6}[kind]
        pieces.append(np.sign(rng.standard_normal(n)) * level)
    return np.concatenate(pieces).astype(np.int16)


def plan(
    samples: npt.NDArray[np.int16], config: CaptionConfig | None = None
) -> list[CaptionRequest]:
    listener = Listener(LoudnessVad(), EndpointConfig())
    planner = CaptionPlanner(config)
    requests: list[CaptionRequest] = []
    for offset in range(0, samples.size, CHUNK_SAMPLES):
        chunk = AudioChunk(offset / SAMPLE_RATE, samples[offset : offset + CHUNK_SAMPLES])
        requests += planner.push(chunk, listener.feed(chunk))
    requests += planner.flush(listener.flush())
    return requests


def test_a_short_utterance_is_revised_every_second_then_finalised_once() -> None:
    requests = plan(audio(("quiet", 1.0), ("speech", 3.5), ("quiet", 1.0)))

    partials = [r for r in requests if not r.final]
    finals = [r for r in requests if r.final]
    assert [r.line_id for r in requests] == [0] * len(requests)
    assert len(partials) == 3  # at 1.7, 2.7 and 3.7 s; none in the pause before the end
    assert all(b.samples.size > a.samples.size for a, b in itertools.pairwise(partials))
    assert all(
        0.9 <= (b.at - a.at) <= 1.1 for a, b in itertools.pairwise(partials)
    )  # one per second of new speech
    assert len(finals) == 1 and requests[-1] is finals[0]
    assert finals[0].speech_start == pytest.approx(1.0, abs=0.04)
    assert finals[0].speech_end == pytest.approx(4.5, abs=0.04)
    # The final holds the whole utterance, from its pre-roll to the detected end.
    assert finals[0].samples.size / SAMPLE_RATE == pytest.approx(0.3 + 3.5 + 0.288, abs=0.07)


def test_a_pause_ends_a_line_and_the_next_speech_starts_another() -> None:
    requests = plan(
        audio(("quiet", 0.5), ("speech", 2.0), ("quiet", 1.0), ("speech", 2.0), ("quiet", 1))
    )

    finals = [r for r in requests if r.final]
    assert [r.line_id for r in finals] == [0, 1]
    assert finals[0].speech_end == pytest.approx(2.5, abs=0.04)
    assert finals[1].speech_start == pytest.approx(3.5, abs=0.04)


def test_long_speech_is_cut_into_lines_at_the_quietest_moment_between_six_and_eight_seconds() -> (
    None
):
    # 20 s without a pause the endpointer would hear, with soft 100 ms dips at
    # 7.0 s and 13.5 s (breaths between words).
    samples = audio(
        ("quiet", 0.5),
        ("speech", 6.5),
        ("dip", 0.1),
        ("speech", 6.4),
        ("dip", 0.1),
        ("speech", 6.9),
        ("quiet", 1.0),
    )

    finals = [r for r in plan(samples) if r.final]

    assert [r.line_id for r in finals] == [0, 1, 2]
    assert finals[0].speech_end == pytest.approx(7.05, abs=0.05)
    assert finals[1].speech_end == pytest.approx(13.55, abs=0.05)
    for line in finals[:2]:
        assert 6.0 <= line.samples.size / SAMPLE_RATE <= 8.0
    # Consecutive lines share no audio and lose none.
    total = sum(r.samples.size for r in finals) / SAMPLE_RATE
    assert total == pytest.approx(0.3 + 20.0 + 0.288, abs=0.1)


def test_steady_speech_without_a_dip_is_still_cut_by_eight_seconds() -> None:
    finals = [r for r in plan(audio(("speech", 17.0), ("quiet", 1.0))) if r.final]

    assert len(finals) == 3
    assert all(6.0 <= r.samples.size / SAMPLE_RATE <= 8.0 for r in finals[:2])


def test_silence_alone_asks_for_nothing() -> None:
    assert plan(audio(("quiet", 5.0))) == []


def test_caption_config_refuses_lines_shorter_than_their_minimum() -> None:
    with pytest.raises(ValueError, match="min_line_s"):
        CaptionConfig(min_line_s=9.0, max_line_s=8.0)


class LengthTranscriber:
    """Says how much audio it was given; speaks German when asked to detect."""

    def __init__(self, probability: float = 0.95) -> None:
        self.probability = probability
        self.languages_given: list[str | None] = []

    def transcribe_into_english(
        self,
        samples: npt.NDArray[np.int16],
        sample_rate: int,
        *,
        language: str | None = None,
        languages: Sequence[str] | None = None,
    ) -> HeardSpeech:
        self.languages_given.append(language)
        seconds = samples.size / sample_rate
        return HeardSpeech(
            f"{seconds:.1f} seconds",
            language or "de",
            1.0 if language else self.probability,
            translated=(language or "de") != "en",
        )


def stepping_clock(step: float) -> itertools.count[float]:
    """Each reading `step` later than the last: every transcription takes `step` seconds."""
    return itertools.count(0.0, step)


def run(samples: npt.NDArray[np.int16], seconds_per_transcription: float) -> list[Caption]:
    clock = stepping_clock(seconds_per_transcription)
    shown = caption_recording(
        samples,
        listener=Listener(LoudnessVad(), EndpointConfig()),
        captioner=Captioner(LengthTranscriber(), session_id="s"),
        clock=lambda: next(clock),
    )
    return [c.caption for c in shown]


def test_a_fast_transcriber_shows_every_revision_and_each_final_lag_is_silence_plus_compute() -> (
    None
):
    samples = audio(("quiet", 1.0), ("speech", 3.5), ("quiet", 1.0))
    clock = stepping_clock(0.2)
    shown = caption_recording(
        samples,
        listener=Listener(LoudnessVad(), EndpointConfig()),
        captioner=Captioner(LengthTranscriber(), session_id="s"),
        clock=lambda: next(clock),
    )

    assert [c.caption.final for c in shown] == [False, False, False, True]
    final = final_lines(shown)[0]
    # Heard 288 ms after the last word (end of silence), then 0.2 s of transcription.
    assert final.lag_s == pytest.approx(0.288 + 0.2, abs=0.04)
    assert final.caption.text == "4.1 seconds"
    assert [c.caption.seq for c in shown] == [1, 2, 3, 4]


def test_a_slow_transcriber_skips_stale_revisions_but_never_a_final_line() -> None:
    samples = audio(
        ("quiet", 0.5), ("speech", 4.0), ("quiet", 0.8), ("speech", 4.0), ("quiet", 0.8)
    )

    captions = run(samples, seconds_per_transcription=2.5)

    finals = [c for c in captions if c.final]
    assert [c.line_id for c in finals] == [0, 1]
    revisions = [c for c in captions if not c.final]
    assert len(revisions) < 6  # 8 were asked for; the transcriber could not keep up
    # No revision of a line is shown after that line's final text.
    for final in finals:
        later = captions[captions.index(final) + 1 :]
        assert not any(c.line_id == final.line_id and not c.final for c in later)


def test_caption_lines_carry_the_detected_language_and_say_they_are_translated() -> None:
    captions = run(audio(("quiet", 0.5), ("speech", 2.5), ("quiet", 1.0)), 0.1)

    assert captions and all(c.language == "de" and c.translated for c in captions)


def test_a_line_keeps_its_language_once_detection_is_sure_and_forgets_it_when_final() -> None:
    transcriber = LengthTranscriber(probability=0.95)
    captioner = Captioner(transcriber, session_id="s")
    samples = np.zeros(SAMPLE_RATE, dtype=np.int16)
    for final in (False, False, True):
        captioner.caption(
            line_id=0, samples=samples, final=final, speech_start=0, speech_end=1, sent_at=0
        )
    captioner.caption(
        line_id=1, samples=samples, final=False, speech_start=2, speech_end=3, sent_at=0
    )

    assert transcriber.languages_given == [None, "de", "de", None]


def test_an_unsure_detection_is_tried_again_on_the_next_revision() -> None:
    transcriber = LengthTranscriber(probability=0.5)
    captioner = Captioner(transcriber, session_id="s")
    samples = np.zeros(SAMPLE_RATE, dtype=np.int16)
    for _ in range(2):
        captioner.caption(
            line_id=0, samples=samples, final=False, speech_start=0, speech_end=1, sent_at=0
        )

    assert transcriber.languages_given == [None, None]


def test_a_caption_message_survives_the_wire() -> None:
    caption = Caption(
        session_id="s",
        seq=3,
        sent_at=1.5,
        line_id=2,
        text="Where is the station?",
        final=True,
        language="de",
        translated=True,
        speech_start=0.5,
        speech_end=2.25,
    )

    assert decode(encode(caption)) == caption


@pytest.fixture(scope="module")
def whisper() -> object:
    from cloud.speech.asr import WhisperTranscriber

    return WhisperTranscriber()


def test_a_real_recording_is_captioned_with_silero_and_whisper(
    recordings: Path, whisper: object
) -> None:
    from edge.config import EdgeConfig
    from edge.models import EdgeModels
    from simulators.bench_asr import read_wav

    samples, rate = read_wav(recordings / "speech" / "librivox-0870.wav")
    assert rate == SAMPLE_RATE
    listener = caption_listener(EdgeModels().vad_session, EdgeConfig())

    shown = caption_recording(
        samples,
        listener=listener,
        captioner=Captioner(whisper, session_id="s", language="en"),  # type: ignore[arg-type]
    )

    finals = final_lines(shown)
    assert finals and all(c.caption.language == "en" and not c.caption.translated for c in finals)
    text = " ".join(c.caption.text for c in finals)
    errors, words = word_error_rate((recordings / "speech" / "librivox-0870.txt").read_text(), text)
    assert errors / words <= 0.1, text
    assert all(c.lag_s >= 0 for c in shown)
