"""Speech recognition backends: Whisper by path, an OpenAI-compatible transcription server
(the cloud's own `/v1/audio/transcriptions`), and an apology when recognition fails."""

from __future__ import annotations

import asyncio
import io
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import numpy as np
import numpy.typing as npt
import pytest
from openai import AsyncOpenAI

from cloud.api.openai_endpoint import OpenAiEndpoint
from cloud.config import CloudConfig
from cloud.conversation import APOLOGY, Conversation, Models
from cloud.errors import ModelError
from cloud.reasoning.backends import make_transcriber
from cloud.speech.asr import Transcriber, WhisperTranscriber, check_model_dir
from cloud.speech.openai_transcriber import OpenAiTranscriber
from companion.cli import main
from protocol import AnswerDone, Message, Query, Sequencer, SpeechSegment
from simulators.wer import word_error_rate
from tests.fakes import FakeReasoner, FakeTranscriber
from tests.waiting import until


class RecordingTranscriber(FakeTranscriber):
    """FakeTranscriber that keeps what it was asked to transcribe."""

    def __init__(self, text: str = "hello from the fake") -> None:
        super().__init__(text)
        self.heard: list[npt.NDArray[np.int16]] = []

    def transcribe(self, samples: npt.NDArray[np.int16], sample_rate: int) -> str:
        self.heard.append(samples)
        return super().transcribe(samples, sample_rate)


class FailingTranscriber:
    def transcribe(self, samples: npt.NDArray[np.int16], sample_rate: int) -> str:
        raise ModelError("transcription server answered HTTP 503")


def _tone(seconds: float = 1.0, rate: int = 16_000) -> npt.NDArray[np.int16]:
    t = np.arange(int(seconds * rate)) / rate
    return (np.sin(2 * np.pi * 220 * t) * 8000).astype(np.int16)


def _wav(samples: npt.NDArray[np.int16], rate: int = 16_000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(samples.astype("<i2").tobytes())
    return out.getvalue()


async def _serving(transcriber: Transcriber, **options: str) -> AsyncIterator[str]:
    endpoint = OpenAiEndpoint(FakeReasoner(), transcriber=transcriber, **options)  # type: ignore[arg-type]
    async with endpoint.running("127.0.0.1", 0) as port:
        yield f"http://127.0.0.1:{port}/v1"


def test_a_missing_or_wrong_model_folder_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no such faster-whisper model folder"):
        WhisperTranscriber(model_dir=tmp_path / "missing")
    with pytest.raises(ModelError, match=r"no model\.bin"):
        check_model_dir(tmp_path)


def test_the_cli_refuses_a_missing_asr_model_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in ("serve", "replay", "demo"):
        args = [command, "--asr-model", str(tmp_path / "nope")]
        assert main([*args, "--text", "hi"] if command == "replay" else args) == 2
        last = capsys.readouterr().err.strip().splitlines()[-1]  # demo prints a title first
        assert last.startswith("companion: --asr-model") and "no such faster-whisper" in last


def test_the_transcriber_is_chosen_by_configuration() -> None:
    remote = make_transcriber(
        CloudConfig(asr_base_url="http://127.0.0.1:9/v1", asr_api_model="large-v3")
    )
    assert isinstance(remote, OpenAiTranscriber)
    assert (remote.url, remote.model) == ("http://127.0.0.1:9/v1/audio/transcriptions", "large-v3")
    from companion.settings import load_settings

    config = load_settings(
        environ={"COMPANION_ASR_MODEL": "/models/small", "COMPANION_ASR_BASE_URL": "http://x/v1"}
    ).cloud_config()
    assert (config.asr_model, config.asr_base_url) == (Path("/models/small"), "http://x/v1")


async def test_the_client_posts_wav_to_the_cloud_endpoint_and_reads_the_text() -> None:
    fake = RecordingTranscriber()
    async for url in _serving(fake):
        client = OpenAiTranscriber(base_url=url, model="whisper-1")
        audio = _tone(rate=8000)  # resampled to 16 kHz before it goes up
        text = await asyncio.to_thread(client.transcribe, audio, 8000)
        silent = await asyncio.to_thread(client.transcribe, np.zeros(800, np.int16), 8000)
    assert text == "hello from the fake"
    assert silent == "" and len(fake.heard) == 1  # silence never went to the server
    assert abs(fake.heard[0].size - 16_000) <= 1


async def test_server_errors_and_bad_uploads_are_clear() -> None:
    async for url in _serving(FailingTranscriber(), api_key="k"):
        with pytest.raises(ModelError, match="HTTP 401"):
            await asyncio.to_thread(OpenAiTranscriber(base_url=url).transcribe, _tone(), 16_000)
        keyed = OpenAiTranscriber(base_url=url, api_key="k")
        with pytest.raises(ModelError, match="HTTP 500"):
            await asyncio.to_thread(keyed.transcribe, _tone(), 16_000)
        auth = {"Authorization": "Bearer k"}
        async with aiohttp.ClientSession(headers=auth) as http:
            target = f"{url}/audio/transcriptions"
            async with http.post(target, json={"file": "x"}) as response:
                assert response.status == 400
            form = aiohttp.FormData(default_to_multipart=True)
            form.add_field("model", "whisper-1")
            async with http.post(target, data=form) as response:
                assert response.status == 400
                assert (await response.json())["error"]["param"] == "file"
            form = aiohttp.FormData()
            form.add_field("file", b"not audio at all", filename="x.wav")
            async with http.post(target, data=form) as response:
                assert response.status == 400
                assert "decode" in (await response.json())["error"]["message"]
            form = aiohttp.FormData()
            form.add_field("file", _wav(_tone()), filename="x.wav")
            form.add_field("response_format", "srt")
            async with http.post(target, data=form) as response:
                assert response.status == 400
    unreachable = OpenAiTranscriber(base_url="http://127.0.0.1:9/v1", timeout_s=2)
    with pytest.raises(ModelError, match="failed"):
        await asyncio.to_thread(unreachable.transcribe, _tone(), 16_000)


async def test_a_failed_transcription_gets_an_apology_and_the_session_goes_on() -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    models = Models(FailingTranscriber(), FakeReasoner())
    conversation = Conversation("s", models, send)
    edge = Sequencer("s")
    task = asyncio.create_task(conversation.run())
    try:
        conversation.receive(
            edge.make(
                SpeechSegment,
                turn_id=1,
                part=0,
                last=True,
                pcm=_tone().tobytes(),
                sample_rate=16_000,
                speech_end=0.0,
                detected_at=0.0,
            )
        )
        conversation.receive(edge.make(Query, turn_id=2, text="are you there"))
        await until(lambda: conversation.answered >= 2)
    finally:
        task.cancel()
    done = [m.text for m in sent if isinstance(m, AnswerDone)]
    assert done[0] == APOLOGY
    assert done[1].startswith("You asked:") and done[1].endswith("are you there")


async def test_text_response_format_is_plain_text() -> None:
    async for url in _serving(RecordingTranscriber("plain words")):
        async with aiohttp.ClientSession() as http:
            form = aiohttp.FormData()
            form.add_field("file", _wav(_tone()), filename="x.wav")
            form.add_field("response_format", "text")
            async with http.post(f"{url}/audio/transcriptions", data=form) as response:
                assert response.status == 200
                assert await response.text() == "plain words\n"


@pytest.mark.models
async def test_whisper_by_path_serves_real_speech_to_both_clients(recordings: Path) -> None:
    from cloud.assets import whisper_model_dir

    # The bundled model's folder, given by path: the same code any other model folder takes.
    whisper = await asyncio.to_thread(WhisperTranscriber, model_dir=whisper_model_dir())
    wav = recordings / "speech" / "librivox-0880.wav"
    reference = (recordings / "speech" / "librivox-0880.txt").read_text()
    async for url in _serving(whisper):
        with wave.open(str(wav), "rb") as f:
            samples = np.frombuffer(f.readframes(f.getnframes()), "<i2").astype(np.int16)
        ours = await asyncio.to_thread(OpenAiTranscriber(base_url=url).transcribe, samples, 16_000)
        async with AsyncOpenAI(base_url=url, api_key="unused", max_retries=0) as client:
            with wav.open("rb") as audio:
                official = await client.audio.transcriptions.create(model="whisper-1", file=audio)
    print(f"\nours: {ours!r}\nofficial client: {official.text!r}")
    for text in (ours, official.text):
        errors, words = word_error_rate(reference, text)
        assert errors <= 1, (text, errors, words)
