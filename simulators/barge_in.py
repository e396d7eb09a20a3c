"""Speaking over an answer: a replayed source that talks again once the answer streams.

A barge-in scenario needs the wearer's second utterance to land while the
answer is arriving. Baked into one recording at a fixed offset it lands before
the first word on a loaded machine and after the last on an idle one, so the
replay listens instead: after the question it keeps the microphone open
(silence, in real time) until the session reports the answer's first words,
then speaks the interruption at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edge.audio.activation import InterruptAnswer, SendSpeech
from edge.audio.backchannel import meaning
from edge.audio.listener import Listener
from edge.audio.playback import AnswerPlayer
from edge.audio.turn_taking import ClassifySpeech, turn_taking_for
from edge.config import EdgeConfig
from edge.sources.media import CHUNK_SAMPLES, SAMPLE_RATE, AudioChunk, MediaItem
from protocol import AnswerAudio
from simulators.media import read_audio
from simulators.replay import with_tail_silence

# Quieter than this is the recording's padding, not the wearer's voice.
_SPEECH_LEVEL = 500
# Kept before the first loud sample so the VAD hears the onset.
_LEAD_S = 0.1


def speech_onward(samples: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    """`samples` from just before the voice starts: the interruption begins at once."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) >= _SPEECH_LEVEL)
    if len(loud) == 0:
        return samples
    return samples[max(0, int(loud[0]) - round(_LEAD_S * SAMPLE_RATE)) :]


async def interrupt_when_answering(
    source: AsyncIterator[MediaItem],
    interruption: Path,
    answering: asyncio.Event,
    *,
    wait_s: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AsyncIterator[MediaItem]:
    """`source`, then silence until `answering` is set (at most `wait_s`), then `interruption`.

    Everything after `source` is paced in real time and continues its timeline.
    """
    samples = with_tail_silence(
        speech_onward(await asyncio.to_thread(read_audio, interruption, None)), 1.0
    )
    t = 0.0
    async for item in source:
        if isinstance(item, AudioChunk):
            t = max(t, item.t + item.duration)
        yield item
    chunk_s = CHUNK_SAMPLES / SAMPLE_RATE
    silence = np.zeros(CHUNK_SAMPLES, dtype=np.int16)
    give_up = clock() + wait_s
    while not answering.is_set() and clock() < give_up:
        await sleep(chunk_s)
        yield AudioChunk(t, silence)
        t += chunk_s
    started, origin = clock(), t
    for offset in range(0, len(samples), CHUNK_SAMPLES):
        chunk = AudioChunk(origin + offset / SAMPLE_RATE, samples[offset : offset + CHUNK_SAMPLES])
        wait = started + (chunk.t - origin) + chunk.duration - clock()
        if wait > 0:
            await sleep(wait)
        yield chunk


# Spoken barge-in on the device, sample-exact: the answer player's output goes back
# into the microphone through a simulated speaker-to-microphone path, the wearer's
# recording is mixed over it, and the real listener decides, frame by frame.

# The wearer's speech starts at the first 10 ms whose level reaches this share of
# the recording's loud level (its 95th percentile): the onset stop latency counts from.
_ONSET_SHARE = 0.2
_ONSET_WINDOW = SAMPLE_RATE // 100


def speech_onset(samples: npt.NDArray[np.int16]) -> float:
    """Seconds into `samples` at which the voice starts (by level, not by any VAD)."""
    x = samples.astype(np.float64)
    windows = len(x) // _ONSET_WINDOW
    if windows == 0:
        return 0.0
    rms = np.sqrt(np.mean(x[: windows * _ONSET_WINDOW].reshape(windows, -1) ** 2, axis=1))
    loud = np.flatnonzero(rms >= _ONSET_SHARE * np.percentile(rms, 95))
    return float(loud[0] * _ONSET_WINDOW / SAMPLE_RATE) if len(loud) else 0.0


def echo_path(seed: int, *, delay_s: float = 0.04, rt60_s: float = 0.15) -> npt.NDArray[np.float64]:
    """A speaker-to-microphone impulse response: `delay_s` of buffering and flight, a
    direct path, then a decaying diffuse tail; unit energy (the gain is applied apart)."""
    rng = np.random.default_rng(seed)
    tail = round(0.12 * SAMPLE_RATE)
    t = np.arange(tail) / SAMPLE_RATE
    h = np.zeros(round(delay_s * SAMPLE_RATE) + tail)
    h[-tail:] = rng.standard_normal(tail) * np.exp(-6.9 * t / rt60_s) * 0.3
    h[-tail] = 1.0
    h /= np.sqrt(np.sum(h**2))
    return h


@dataclass
class SpokenBargeIn:
    """One replay of speech over a spoken answer, all times in source seconds."""

    onset: float | None  # the wearer's speech onset (None: no wearer, echo only)
    paused_at: list[float]  # where turn-taking heard speech and paused the answer (each time)
    silenced_at: float | None  # the first output sample a pause silenced after the onset
    transcript: str | None  # what the wearer was heard to say over the answer
    stopped: bool  # the answer was stopped (Interrupt)
    resumed: bool  # paused, then played on
    sent: int  # utterances sent as questions
    played_s: float  # seconds of the answer the speaker played (pauses not counted)
    paused_s: float  # seconds the answer was held silent by pauses

    @property
    def stop_latency_ms(self) -> float | None:
        if self.onset is None or self.silenced_at is None:
            return None
        return (self.silenced_at - self.onset) * 1000.0


def replay_spoken_barge_in(
    answer: npt.NDArray[np.int16],
    answer_rate: int,
    listener: Listener,
    *,
    wearer: npt.NDArray[np.int16] | None = None,
    wearer_at_s: float = 3.0,
    transcribe: Callable[[npt.NDArray[np.int16]], str] | None = None,
    echo_gain: float = 0.3,
    delay_s: float = 0.04,
    seed: int = 0,
    noise_rms: float = 30.0,
    seconds: float | None = None,
) -> SpokenBargeIn:
    """Play `answer` and listen, block by block: the microphone hears the echo (the
    played audio through `echo_path`, at `echo_gain` times the wearer's speech level of
    3000 RMS), a faint noise floor, and `wearer` from `wearer_at_s` on."""
    player = AnswerPlayer()
    player.add(
        AnswerAudio(
            session_id="sim", seq=0, sent_at=0.0, turn_id=1, part=0,
            pcm=answer.astype("<i2").tobytes(), sample_rate=answer_rate, last=True,
        )
    )  # fmt: skip
    taking = turn_taking_for(listener, EdgeConfig())
    taking.attach_player(player)
    taking.answer_started(1)
    path = echo_path(seed, delay_s=delay_s)
    level = 3000.0
    answer_s = len(answer) / answer_rate
    wearer_end = wearer_at_s + len(wearer) / SAMPLE_RATE if wearer is not None else 0.0
    total_s = seconds or max(answer_s, wearer_end) + 1.5
    # Pauses push the answer's end out: listen on (up to a cap) while it still plays.
    blocks = int((total_s + 10.0) * SAMPLE_RATE) // CHUNK_SAMPLES
    played = np.zeros(blocks * CHUNK_SAMPLES)
    mic_extra = np.random.default_rng(seed).standard_normal(len(played)) * noise_rms
    onset: float | None = None
    if wearer is not None:
        at = round(wearer_at_s * SAMPLE_RATE)
        voice = wearer.astype(np.float64)
        voice *= level / max(_loud_rms(voice), 1.0)
        voice = voice[: max(0, len(played) - at)]
        mic_extra[at : at + len(voice)] += voice
        onset = wearer_at_s + speech_onset(wearer)
    echo_scale = level * echo_gain / max(_loud_rms(answer), 1.0)
    transcript: str | None = None
    stopped = sent = 0
    silent_blocks: list[float] = []  # start of every block a pause silenced
    for k in range(blocks):
        start = k * CHUNK_SAMPLES
        t = start / SAMPLE_RATE
        if t >= total_s and not player.speaking and not taking.listener.endpointer.in_speech:
            played = played[:start]
            break
        played[start : start + CHUNK_SAMPLES] = player.pull(t, CHUNK_SAMPLES)
        if player.state == "paused":
            silent_blocks.append(t)  # this block was silenced by a pause
        lo = max(0, start - len(path) + 1)
        echo = np.convolve(played[lo : start + CHUNK_SAMPLES], path)[start - lo :][:CHUNK_SAMPLES]
        mic = np.clip(echo * echo_scale + mic_extra[start : start + CHUNK_SAMPLES], -32768, 32767)
        decisions = taking.feed(AudioChunk(t, mic.astype(np.int16)))
        for decision in decisions:
            if isinstance(decision, ClassifySpeech):
                transcript = transcribe(decision.ended.samples) if transcribe else None
                verdict = meaning(transcript) if transcript is not None else "question"
                follow = taking.classified(decision.ended, verdict)
                stopped += sum(isinstance(d, InterruptAnswer) for d in follow)
                sent += sum(isinstance(d, SendSpeech) for d in follow)
            elif isinstance(decision, InterruptAnswer):
                stopped += 1
            elif isinstance(decision, SendSpeech):
                sent += 1
    voiced = player.played_samples / SAMPLE_RATE
    block_s = CHUNK_SAMPLES / SAMPLE_RATE
    # The answer fell silent for the wearer at the first silenced block still playing at
    # the onset (a pause already on then counts as at once).
    after = [b for b in silent_blocks if onset is None or b + block_s > onset]
    silenced_at = max(after[0], onset) if after and onset is not None else None
    last = silent_blocks[-1] if silent_blocks else None
    after_pause = played[round(last * SAMPLE_RATE) :] if last is not None else played[:0]
    return SpokenBargeIn(
        onset=onset,
        paused_at=list(taking.paused_at),
        silenced_at=silenced_at,
        transcript=transcript,
        stopped=stopped > 0,
        resumed=bool(taking.paused_at) and not stopped and bool(np.any(after_pause)),
        sent=sent,
        played_s=voiced,
        paused_s=len(silent_blocks) * block_s,
    )


def _loud_rms(x: npt.NDArray[np.float64] | npt.NDArray[np.int16]) -> float:
    """RMS of the voiced part (samples above a low floor): speech level without its pauses."""
    values = np.asarray(x, dtype=np.float64)
    loud = values[np.abs(values) > 300]
    return float(np.sqrt(np.mean(loud**2))) if len(loud) else 0.0
