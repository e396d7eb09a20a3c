"""Session-wide fixtures for the cloud's real models: each is loaded once per test run.

conftest.py imports them, so any test can ask for `whisper` or `qwen`.
"""

from __future__ import annotations

import time

import pytest


@pytest.fixture(scope="session")
def whisper():
    """The bundled Whisper base (int8), verified and loaded once."""
    from cloud.speech.asr import WhisperTranscriber

    started = time.monotonic()
    transcriber = WhisperTranscriber()
    print(f"\nWhisper loaded in {time.monotonic() - started:.2f} s")
    return transcriber


@pytest.fixture(scope="session")
def qwen():
    """The bundled Qwen2.5-Coder-0.5B-Instruct, unpacked into the cache on first use, loaded once."""
    from cloud.reasoning.reasoner import QwenReasoner

    started = time.monotonic()
    reasoner = QwenReasoner()
    print(f"\nQwen loaded in {time.monotonic() - started:.2f} s")
    return reasoner
