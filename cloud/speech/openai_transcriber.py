"""Any OpenAI-compatible `/audio/transcriptions` server as the speech recogniser.

The utterance goes up as a 16 kHz mono 16-bit WAV in a multipart form with
the configured `model` (OpenAI's `whisper-1`, a faster-whisper server's model
name, or anything for the cloud's own endpoint, which ignores it). The
Transcriber interface is synchronous (the conversation runs it in a worker
thread), so this uses the standard library's HTTP client rather than an
event loop of its own. An HTTP error, a timeout or an answer without text is
a ModelError, which the conversation turns into a short apology.
"""

from __future__ import annotations

import io
import json
import secrets
import urllib.error
import urllib.request
import wave

import numpy as np
import numpy.typing as npt

from cloud.errors import ModelError
from cloud.speech.asr import SILENCE_RMS, WHISPER_RATE, resample

_MAX_ERROR_CHARS = 300


class OpenAiTranscriber:
    """POSTs each utterance to `{base_url}/audio/transcriptions` and returns its text."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str = "whisper-1",
        api_key: str | None = None,
        language: str | None = "en",
        timeout_s: float = 30.0,
    ) -> None:
        if not base_url:
            raise ModelError("the openai transcriber needs a base URL; set asr_base_url")
        self.url = base_url.rstrip("/") + "/audio/transcriptions"
        self.model = model
        self.language = language
        self._api_key = api_key
        self._timeout_s = timeout_s

    def transcribe(self, samples: npt.NDArray[np.int16], sample_rate: int) -> str:
        audio = resample(samples.astype(np.float32) / 32768.0, sample_rate, WHISPER_RATE)
        if audio.size == 0 or float(np.sqrt(np.mean(np.square(audio)))) < SILENCE_RMS:
            return ""  # nothing to hear: no need to ask a server
        fields = {"model": self.model, "response_format": "json"}
        if self.language:
            fields["language"] = self.language
        body, content_type = _multipart(fields, "speech.wav", _wav(audio))
        request = urllib.request.Request(self.url, data=body, method="POST")
        request.add_header("Content-Type", content_type)
        if self._api_key:
            request.add_header("Authorization", f"Bearer {self._api_key}")
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as response:
                answer = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:_MAX_ERROR_CHARS].decode("utf-8", errors="replace")
            raise ModelError(f"{self.url} answered HTTP {exc.code}: {detail}") from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise ModelError(f"the transcriber at {self.url} failed: {exc}") from exc
        try:
            text = json.loads(answer)["text"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelError(
                f"the transcriber at {self.url} answered without text: {answer[:200]!r}"
            ) from exc
        if not isinstance(text, str):
            raise ModelError(f"the transcriber at {self.url} answered a non-string text")
        return text.strip()


def _wav(audio: npt.NDArray[np.float32]) -> bytes:
    pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(WHISPER_RATE)
        wav.writeframes(pcm)
    return out.getvalue()


def _multipart(fields: dict[str, str], filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = "companion-" + secrets.token_hex(12)
    lines: list[bytes] = []
    for name, value in fields.items():
        lines += [
            f"--{boundary}".encode(),
            f'Content-Disposition: form-data; name="{name}"'.encode(),
            b"",
            value.encode(),
        ]
    lines += [
        f"--{boundary}".encode(),
        f'Content-Disposition: form-data; name="file"; filename="{filename}"'.encode(),
        b"Content-Type: audio/wav",
        b"",
        data,
        f"--{boundary}--".encode(),
        b"",
    ]
    return b"\r\n".join(lines), f"multipart/form-data; boundary={boundary}"
