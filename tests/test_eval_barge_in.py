"""The barge-in replay: the wearer talks over the answer once it streams, not at a guessed time."""

from __future__ import annotations

import asyncio
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from edge.sources.media import CHUNK_SAMPLES, SAMPLE_RATE, AudioChunk, MediaItem
from simulators.barge_in import interrupt_when_answering, speech_onward
from simulators.scenarios import ScenarioError, parse_scenario
from tests.waiting import until


def _write_wav(path: Path, samples: np.ndarray) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(samples.astype(np.int16).tobytes())


async def _question(chunks: int) -> AsyncIterator[MediaItem]:
    for i in range(chunks):
        yield AudioChunk(i * CHUNK_SAMPLES / SAMPLE_RATE, np.full(CHUNK_SAMPLES, 1, np.int16))


def test_the_interruption_starts_where_the_voice_does() -> None:
    padded = np.concatenate([np.zeros(8000), np.full(1600, 4000), np.zeros(8000)])
    trimmed = speech_onward(padded.astype(np.int16))
    assert len(trimmed) == 1600 + 1600 + 8000  # 0.1 s lead kept, the 0.5 s pad gone
    silent = np.zeros(100, np.int16)
    assert len(speech_onward(silent)) == 100


async def test_stop_is_spoken_only_once_the_answer_streams(tmp_path: Path) -> None:
    stop = tmp_path / "stop.wav"
    _write_wav(stop, np.concatenate([np.zeros(8000), np.full(3200, 6000)]))
    answering = asyncio.Event()
    heard: list[AudioChunk] = []

    async def listen() -> None:
        # A zero sleep stands in for the real-time pacing: the pace is not under test here.
        async for item in interrupt_when_answering(
            _question(4), stop, answering, wait_s=30, sleep=lambda s: asyncio.sleep(0)
        ):
            assert isinstance(item, AudioChunk)
            heard.append(item)

    listening = asyncio.create_task(listen())
    await until(lambda: len(heard) > 10)
    assert len(heard) > 10  # still listening (silence) while no answer has come
    assert all(int(np.abs(c.samples).max()) <= 1 for c in heard)
    answering.set()
    await asyncio.wait_for(listening, 10)
    loud = [i for i, c in enumerate(heard) if int(np.abs(c.samples).max()) > 1000]
    assert loud, "the interruption was never spoken"
    times = [c.t for c in heard]
    assert times == sorted(times) and len(set(times)) == len(times)  # one timeline
    assert heard[-1].t - heard[loud[-1]].t >= 0.9  # a second of silence closes the utterance


async def test_without_an_answer_it_speaks_after_waiting(tmp_path: Path) -> None:
    stop = tmp_path / "stop.wav"
    _write_wav(stop, np.full(1600, 6000))
    items = [
        i
        async for i in interrupt_when_answering(
            _question(1), stop, asyncio.Event(), wait_s=0.2, sleep=asyncio.sleep
        )
    ]
    assert any(isinstance(i, AudioChunk) and int(np.abs(i.samples).max()) > 1000 for i in items)


def test_barge_in_needs_the_question_it_follows(tmp_path: Path) -> None:
    stop = tmp_path / "stop.wav"
    _write_wav(stop, np.full(1600, 6000))
    raw = {"steps": [{"text": "hello", "barge_in": "stop.wav"}]}
    with pytest.raises(ScenarioError, match=r"steps\[0\]\.barge_in: needs the step's audio"):
        parse_scenario(raw, tmp_path / "s.json")
    raw = {"steps": [{"audio": "stop.wav", "barge_in": "missing.wav"}]}
    with pytest.raises(ScenarioError, match=r"steps\[0\]\.barge_in: media file not found"):
        parse_scenario(raw, tmp_path / "s.json")
    ok = parse_scenario(
        {"steps": [{"audio": "stop.wav", "barge_in": "stop.wav"}]}, tmp_path / "s.json"
    )
    assert ok.steps[0].barge_in == stop.resolve()
