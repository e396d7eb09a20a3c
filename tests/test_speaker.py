"""Spoken answers: the bundled Piper voice (real model, real espeak-ng) and the OpenAI-compatible
speech client (a real HTTP server on loopback)."""

from __future__ import annotations

import http.server
import json
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from cloud.errors import ModelError
from cloud.speech.asr import WhisperTranscriber
from cloud.speech.speaker import OpenAiSpeaker, PiperSpeaker, read_wav, speak_sentences
from simulators.wer import word_error_rate


@pytest.fixture(scope="module")
def piper() -> PiperSpeaker:
    return PiperSpeaker()


def test_piper_answer_is_read_back_by_whisper_with_at_most_15_percent_word_error(
    piper: PiperSpeaker, whisper: WhisperTranscriber
) -> None:
    text = (
        "The sign says no parking between eight and six. "
        "Your next meeting is with the design team, in room four, after lunch."
    )
    samples = piper.synthesize(text)
    assert samples.dtype == np.int16
    assert piper.sample_rate == 22_050
    # A natural pace: roughly two to four words a second.
    words = len(text.split())
    assert words / 4 < samples.size / piper.sample_rate < words / 2
    heard = whisper.transcribe(samples, piper.sample_rate)
    errors, total = word_error_rate(text, heard)
    assert errors / total <= 0.15, heard


def test_piper_phonemes_keep_the_clause_punctuation_the_voice_was_trained_with(
    piper: PiperSpeaker,
) -> None:
    sentences = piper.phonemes("Hello there, how are you? Fine.")
    assert len(sentences) == 2
    assert sentences[0].endswith("?")
    assert ", " in sentences[0]
    assert sentences[1].endswith(".")
    assert "ˈ" in sentences[0]  # IPA with stress marks, as Piper's espeak phonemes are


def test_piper_phoneme_ids_frame_every_phoneme_with_a_pad(piper: PiperSpeaker) -> None:
    ids = piper.phoneme_ids("ab")
    # ^ _ a _ b _ $ with Piper's ids: ^=1, _=0, $=2, a=14, b=15.
    assert ids == [1, 0, 14, 0, 15, 0, 2]


def test_piper_says_nothing_for_text_without_words(piper: PiperSpeaker) -> None:
    assert piper.synthesize("  ** ").size == 0


def test_piper_speaks_a_stream_of_chunks_one_per_sentence(piper: PiperSpeaker) -> None:
    chunks = list(speak_sentences(piper, ["Turn left here.", "", "Then go straight on."]))
    assert len(chunks) == 2
    assert all(chunk.size > piper.sample_rate // 2 for chunk in chunks)


def test_piper_refuses_to_run_without_the_espeak_program(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="espeak-ng"):
        PiperSpeaker(espeak=str(tmp_path / "no-espeak-here"))


def _streamed_wav(samples: np.ndarray, rate: int) -> bytes:
    """A WAV as a streaming server writes it: sizes unknown (0xFFFFFFFF), a LIST chunk first."""
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    info = b"INFOtest"
    return (
        b"RIFF"
        + struct.pack("<I", 0xFFFFFFFF)
        + b"WAVE"
        + b"LIST"
        + struct.pack("<I", len(info))
        + info
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", 0xFFFFFFFF)
        + samples.astype("<i2").tobytes()
    )


class _SpeechServer(http.server.BaseHTTPRequestHandler):
    requests: ClassVar[list[tuple[dict[str, str], dict[str, object]]]] = []
    status: ClassVar[int] = 200

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append((dict(self.headers), body))
        if self.status != 200:
            self.send_response(self.status)
            self.end_headers()
            self.wfile.write(b'{"error": "no such voice"}')
            return
        payload = _streamed_wav(np.arange(-500, 500, dtype=np.int16), 24_000)
        self.send_response(200)
        self.send_header("Content-Type", "audio/wav")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def speech_server() -> Iterator[str]:
    _SpeechServer.requests = []
    _SpeechServer.status = 200
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SpeechServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    thread.join()


def test_openai_speaker_posts_the_text_and_reads_the_streamed_wav(speech_server: str) -> None:
    speaker = OpenAiSpeaker(base_url=speech_server, voice="nova", api_key="k1", sample_rate=16_000)
    samples = speaker.synthesize("Hello **there**.")
    headers, body = _SpeechServer.requests[0]
    assert body == {
        "model": "tts-1",
        "input": "Hello there.",
        "voice": "nova",
        "response_format": "wav",
    }
    assert headers["Authorization"] == "Bearer k1"
    assert np.array_equal(samples, np.arange(-500, 500, dtype=np.int16))
    assert speaker.sample_rate == 24_000  # the WAV's own rate wins over the configured guess


def test_openai_speaker_reports_the_servers_refusal(speech_server: str) -> None:
    _SpeechServer.status = 404
    with pytest.raises(ModelError, match=r"HTTP 404.*no such voice"):
        OpenAiSpeaker(base_url=speech_server).synthesize("Hello.")


def test_openai_speaker_asks_nothing_for_empty_text(speech_server: str) -> None:
    assert OpenAiSpeaker(base_url=speech_server).synthesize("   ").size == 0
    assert _SpeechServer.requests == []


def test_reading_a_wav_keeps_the_first_channel_of_stereo() -> None:
    fmt = struct.pack("<HHIIHH", 1, 2, 8_000, 32_000, 4, 16)
    frames = np.array([[1, -1], [2, -2], [3, -3]], dtype="<i2").tobytes()
    data = b"RIFF\0\0\0\0WAVEfmt " + struct.pack("<I", 16) + fmt + b"data"
    data += struct.pack("<I", len(frames)) + frames
    samples, rate = read_wav(data)
    assert rate == 8_000
    assert samples.tolist() == [1, 2, 3]


def test_reading_something_else_than_a_wav_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="did not answer a WAV"):
        read_wav(b'{"error": "oops"}')
