"""OpenAI-compatible `/v1/audio/transcriptions` from the cloud's own Whisper.

Clients that speak OpenAI's audio API (and Companion's own
`OpenAiTranscriber`) can then use the bundled model. The upload is multipart
with a `file` (any format PyAV decodes: WAV, FLAC, MP3, Ogg, WebM…), and the
optional `model`, `language`, `prompt`, `temperature` and `response_format`
fields. `model` and `language` are accepted and not obeyed: one model answers
every request, in the language it was loaded for. `response_format` is `json`
(the default) or `text`. The body is read in chunks and refused past a size
limit, so an oversized upload never sits whole in memory; it is decoded on a
worker thread (a 25 MB file takes seconds, which the event loop must not wait
out) and only up to MAX_AUDIO_SECONDS: a small file of hours of speech is a
clear 400, not gigabytes of samples.
"""

from __future__ import annotations

import asyncio
import io
import logging

import numpy as np
import numpy.typing as npt
from aiohttp import BodyPartReader, web

from cloud.api.openai_endpoint import RequestError
from cloud.model_work import ModelWorkers
from cloud.speech.asr import WHISPER_RATE, Transcriber
from protocol.limits import MAX_UPLOAD_AUDIO_SECONDS

log = logging.getLogger(__name__)

# About five minutes of 16-bit stereo WAV at 44.1 kHz: past what a spoken question needs.
MAX_AUDIO_BYTES = 25 * 1024 * 1024
# The longest upload decoded (protocol.limits, with every other ceiling).
MAX_AUDIO_SECONDS = MAX_UPLOAD_AUDIO_SECONDS
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
        max_seconds: float = MAX_AUDIO_SECONDS,
        workers: ModelWorkers | None = None,
    ) -> None:
        self._transcriber = transcriber
        # A timed-out recognition keeps the lock until its thread is done (model_work).
        self._workers = workers or ModelWorkers(1)
        self._lock = lock
        self._timeout_s = timeout_s
        self._max_bytes = max_bytes
        self._max_seconds = max_seconds

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if not request.content_type.startswith("multipart/"):
            raise RequestError("send the audio as multipart/form-data with a 'file' field")
        try:
            audio, fields = await self._read_form(request)
        except (ValueError, AssertionError, LookupError) as exc:  # a malformed multipart body
            raise RequestError(f"the multipart body is malformed: {exc}"[:200]) from None
        response_format = fields.get("response_format", "json")
        if response_format not in _FORMATS:
            raise RequestError(
                f"response_format must be one of {', '.join(_FORMATS)}, got {response_format!r}",
                param="response_format",
            )
        samples = await asyncio.to_thread(decode_upload, audio, self._max_seconds)
        try:
            async with self._lock, asyncio.timeout(self._timeout_s):
                text = await self._workers.run(self._transcriber.transcribe, samples, WHISPER_RATE)
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


def decode_upload(audio: bytes, max_seconds: float = MAX_AUDIO_SECONDS) -> npt.NDArray[np.int16]:
    """Any container PyAV reads, as 16 kHz mono 16-bit samples, refused past `max_seconds`.

    Decoding stops at the cap, so the refusal costs at most that much audio's work
    and memory, whatever the file claims its length is.
    """
    import av

    limit = int(max_seconds * WHISPER_RATE)
    chunks: list[npt.NDArray[np.int16]] = []
    total = 0
    try:
        with av.open(io.BytesIO(audio), mode="r") as container:
            if not container.streams.audio:
                raise RequestError("the file has no audio stream", param="file")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="s16", layout="mono", rate=WHISPER_RATE)
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunk = np.asarray(out.to_ndarray(), dtype=np.int16).reshape(-1)
                    total += chunk.size
                    if total > limit:
                        raise RequestError(
                            f"the audio is longer than {max_seconds:g} seconds; "
                            "send a shorter clip",
                            param="file",
                            code="audio_too_long",
                        )
                    chunks.append(chunk)
            for out in resampler.resample(None):
                chunks.append(np.asarray(out.to_ndarray(), dtype=np.int16).reshape(-1))
    except RequestError:
        raise
    except Exception as exc:  # PyAV's many errors all mean the same to the client
        raise RequestError(f"could not decode the audio file: {exc}", param="file") from exc
    if not chunks:
        raise RequestError("the audio file holds no samples", param="file")
    return np.concatenate(chunks)[:limit]
