"""OpenAI-compatible `/v1/audio/transcriptions` from the cloud's own Whisper.

Clients that speak OpenAI's audio API (and Companion's own
`OpenAiTranscriber`) can then use the bundled model. The upload is multipart
with a `file` (any format PyAV decodes: WAV, FLAC, MP3, Ogg, WebM…), and the
optional `model`, `language`, `prompt`, `temperature` and `response_format`
fields. `model` and `language` are accepted and not obeyed: one model answers
every request, in the language it was loaded for. `response_format` is `json`
(the default) or `text`. The body is read in chunks and refused past a size
limit, so an oversized upload never sits whole in memory.
"""

from __future__ import annotations

import asyncio
import io
import logging
from typing import Any

import numpy as np
import numpy.typing as npt
from aiohttp import BodyPartReader, web

from cloud.api.openai_endpoint import RequestError
from cloud.speech.asr import WHISPER_RATE, Transcriber

log = logging.getLogger(__name__)

# About five minutes of 16-bit stereo WAV at 44.1 kHz: past what a spoken question needs.
MAX_AUDIO_BYTES = 25 * 1024 * 1024
_FORMATS = ("json", "text")
_FIELD_CHARS = 1000


class TranscriptionRoute:
    """One handler; generation shares the lock with chat so the CPU does one job at a time."""

    def __init__(
        self,
        transcriber: Transcriber,
        lock: asyncio.Lock,
        *,
        timeout_s: float = 60.0,
        max_bytes: int = MAX_AUDIO_BYTES,
    ) -> None:
        self._transcriber = transcriber
        self._lock = lock
        self._timeout_s = timeout_s
        self._max_bytes = max_bytes

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if not request.content_type.startswith("multipart/"):
            raise RequestError("send the audio as multipart/form-data with a 'file' field")
        audio, fields = await self._read_form(request)
        response_format = fields.get("response_format", "json")
        if response_format not in _FORMATS:
            raise RequestError(
                f"response_format must be one of {', '.join(_FORMATS)}, got {response_format!r}",
                param="response_format",
            )
        samples = _decode(audio)
        try:
            async with self._lock, asyncio.timeout(self._timeout_s):
                text = await asyncio.to_thread(self._transcriber.transcribe, samples, WHISPER_RATE)
        except Exception as exc:
            log.warning("transcription failed: %s", exc)
            raise RequestError(
                "speech recognition failed; try again", status=500, kind="server_error"
            ) from exc
        if response_format == "text":
            return web.Response(text=text + "\n", content_type="text/plain")
        return web.json_response({"text": text})

    async def _read_form(self, request: web.Request) -> tuple[bytes, dict[str, str]]:
        reader = await request.multipart()
        audio: bytes | None = None
        fields: dict[str, str] = {}
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise RequestError("nested multipart bodies are not supported")
            if part.name == "file":
                audio = await self._read_limited(part)
            elif part.name:
                value = await part.read(decode=True)
                fields[part.name] = value[:_FIELD_CHARS].decode("utf-8", errors="replace")
        if not audio:
            raise RequestError("the 'file' field with the audio is missing or empty", param="file")
        return audio, fields

    async def _read_limited(self, part: BodyPartReader) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while chunk := await part.read_chunk(64 * 1024):
            size += len(chunk)
            if size > self._max_bytes:
                raise RequestError(
                    f"the audio is larger than {self._max_bytes} bytes",
                    status=413,
                    code="request_too_large",
                )
            chunks.append(chunk)
        return b"".join(chunks)


def _decode(audio: bytes) -> npt.NDArray[np.int16]:
    """Any container PyAV reads, as 16 kHz mono 16-bit samples."""
    from faster_whisper.audio import decode_audio

    try:
        decoded: Any = decode_audio(io.BytesIO(audio), sampling_rate=WHISPER_RATE)
    except Exception as exc:
        raise RequestError(f"could not decode the audio file: {exc}", param="file") from exc
    floats = np.asarray(decoded, dtype=np.float32)
    return (np.clip(floats, -1.0, 1.0) * 32767.0).astype(np.int16)
