"""`companion bench barge-in`: how fast speech over a spoken answer silences it, how often the
answer's own echo does, and how often a backchannel lets it play on.

Every replay is `simulators.barge_in.replay_spoken_barge_in`: the bundled Piper voice speaks
an answer, its echo comes back into the microphone (a delay and a diffuse tail, at a level
relative to the wearer's voice), the real listener with the echo canceller and Silero VAD
decides frame by frame, and Whisper says what was said over the answer. Latencies are
counted in samples of the stream (onset by level in the clean recording → first silent
sample played), so a loaded machine does not change them.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from simulators.barge_in import replay_spoken_barge_in
from simulators.media import read_audio

ANSWERS = (
    "The page is from a novel. It describes a family who must leave their home after the "
    "father dies, and two sisters who face love and disappointment in different ways.",
    "It says the store opens at nine in the morning and closes at six in the evening, "
    "except on Sundays, when it is closed all day.",
    "You are holding a bottle of water. The label says it holds five hundred millilitres, "
    "and it is best before the end of next year.",
)
# Made with espeak-ng at run time: the recordings hold no real "mhm" (and espeak-ng's
# "Mm-hmm" is no word Whisper knows: it hears "M.M."), so "Hmm." stands in for it.
BACKCHANNEL_WORDS = ("Okay.", "Yeah.", "Right.", "I see.", "Hmm.")
ECHO_GAINS = (0.3, 0.5)


def _percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def _canceller_ms(reference: np.ndarray, frames: int = 300) -> float:
    """Mean ms of one 32 ms frame through the echo canceller (next to Silero's ~0.1-0.3 ms)."""
    import time

    from edge.audio.echo import EchoCanceller

    canceller = EchoCanceller(512)
    signal = np.resize(reference.astype(np.int16), frames * 512)
    echo = (np.roll(signal, 640) * 0.4).astype(np.int16)
    started = time.perf_counter()
    for k in range(frames):
        canceller.process(echo[k * 512 : (k + 1) * 512], signal[k * 512 : (k + 1) * 512])
    return (time.perf_counter() - started) * 1000.0 / frames


def bench_barge_in(
    recordings: Path, *, seeds: int = 2, progress: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    from cloud.speech.asr import WhisperTranscriber
    from cloud.speech.speaker import PiperSpeaker
    from edge.audio.backchannel import meaning
    from edge.audio.listener import Listener
    from edge.audio.vad import SileroVad

    voice = PiperSpeaker()
    whisper = WhisperTranscriber()

    def transcribe(samples: np.ndarray) -> str:
        return whisper.transcribe(samples, 16_000)

    answers = [(voice.synthesize(text), voice.sample_rate) for text in ANSWERS]
    # Every real voice in the recordings: the LibriVox reader and the CMU speaker (raw PCM).
    wearers = sorted((recordings / "speech").glob("*.wav")) + sorted(
        (recordings / "speech").glob("*-16k-s16le.raw")
    )
    echo_replays = false_stops = false_pauses = 0
    echo_paused_s = 0.0
    for seed in range(seeds):
        for gain in ECHO_GAINS:
            for answer, rate in answers:
                heard = replay_spoken_barge_in(
                    answer, rate, Listener(SileroVad()), echo_gain=gain, seed=seed
                )
                echo_replays += 1
                false_stops += heard.stopped or heard.sent > 0
                false_pauses += len(heard.paused_at)
                echo_paused_s += heard.paused_s
    progress(f"echo only: {echo_replays} replays, {false_stops} stopped")
    latencies: list[float] = []
    stopped = 0
    for path in wearers:
        speech = read_audio(path, "s16le:16000" if path.suffix == ".raw" else None)
        for i, (answer, rate) in enumerate(answers):
            heard = replay_spoken_barge_in(
                answer, rate, Listener(SileroVad()), wearer=speech, wearer_at_s=2.5,
                transcribe=transcribe, seed=i,
            )  # fmt: skip
            if heard.stop_latency_ms is not None:
                latencies.append(heard.stop_latency_ms)
            stopped += heard.stopped
        progress(f"{path.name}: stop latencies so far {latencies}")
    resumed = backchannels = understood = blips = 0
    not_resumed: list[str] = []
    if shutil.which("espeak-ng"):
        with tempfile.TemporaryDirectory() as folder:
            for word in BACKCHANNEL_WORDS:
                wav = Path(folder) / "word.wav"
                subprocess.run(
                    ["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), word], check=True
                )
                said = read_audio(wav, None)
                for i, (answer, rate) in enumerate(answers):
                    heard = replay_spoken_barge_in(
                        answer, rate, Listener(SileroVad()), wearer=said, wearer_at_s=2.0,
                        transcribe=transcribe, seed=i,
                    )  # fmt: skip
                    backchannels += 1
                    resumed += heard.resumed and not heard.stopped
                    if not (heard.resumed and not heard.stopped):
                        not_resumed.append(f"{word} heard as {heard.transcript!r}")
                    if heard.transcript is None:
                        blips += 1  # too short to confirm as speech: resumed untranscribed
                    else:
                        understood += meaning(heard.transcript) == "backchannel"
            progress(f"backchannels: {resumed}/{backchannels} resumed")
    questions = len(wearers) * len(answers)
    return {
        "echo_canceller_ms_per_frame": round(_canceller_ms(answers[0][0]), 3),
        "stop_latency_ms_p50": _percentile(latencies, 50),
        "stop_latency_ms_p95": _percentile(latencies, 95),
        "stop_latency_ms_max": round(max(latencies), 1) if latencies else None,
        "speech_replays": questions,
        "speech_stopped_answer": stopped,
        "echo_replays": echo_replays,
        "false_barge_ins_from_echo": false_stops,
        "echo_pauses": false_pauses,
        "echo_paused_ms_per_replay": round(echo_paused_s * 1000 / max(echo_replays, 1), 1),
        "backchannel_replays": backchannels,
        "backchannel_resume_rate": round(resumed / backchannels, 3) if backchannels else None,
        "backchannel_transcribed_as_backchannel": understood,
        "backchannel_too_short_to_transcribe": blips,
        "backchannel_not_resumed": not_resumed,
        "echo_gains": list(ECHO_GAINS),
        "recordings": [p.name for p in wearers],
    }
