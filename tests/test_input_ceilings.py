"""The HTTP routes' own ceilings: pairing attempts per address, prompt size on the
OpenAI-compatible endpoint, and the length and place of transcription decoding."""

from __future__ import annotations

import io
import threading
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from aiohttp import web

from cloud.api import transcription_route
from cloud.api.openai_endpoint import MAX_PROMPT_CHARS, MAX_PROMPT_MESSAGES, OpenAiEndpoint
from cloud.api.transcription_route import TranscriptionRoute, decode_upload
from gateway.accounts import Accounts
from gateway.routes.pairing import PairingRoutes
from gateway.routes.rate_limits import PAIRING_LIMIT
from tests.fakes import FakeReasoner, FakeTranscriber


@pytest.fixture
async def serve() -> AsyncIterator[Any]:
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> str:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    yield start
    for runner in runners:
        await runner.cleanup()


async def test_pairing_attempts_past_the_limit_get_429_until_time_passes(
    tmp_path: Path, serve: Any
) -> None:
    accounts = Accounts(tmp_path)
    now = [1000.0]
    routes = PairingRoutes(accounts, clock=lambda: now[0])
    app = web.Application()
    app.add_routes(routes.routes())
    url = await serve(app) + "/v1/pair"
    try:
        async with aiohttp.ClientSession() as http:

            async def pair(code: str) -> tuple[int, dict[str, Any], str | None]:
                async with http.post(url, json={"code": code, "device": "p"}) as reply:
                    return reply.status, await reply.json(), reply.headers.get("Retry-After")

            guesses = [await pair(f"guess-{i}") for i in range(PAIRING_LIMIT.burst)]
            assert [status for status, _, _ in guesses] == [401] * PAIRING_LIMIT.burst
            status, body, retry = await pair("guess-again")
            assert status == 429 and "too many pairing attempts" in body["error"]
            assert retry is not None and int(retry) >= 1
            # Even the right code waits: the limit is on attempts, not on failures.
            code = accounts.pairing_code("alice")
            assert (await pair(code))[0] == 429
            now[0] += 60.0
            status, body, _ = await pair(code)
            assert status == 200 and body["user"] == "alice"
    finally:
        accounts.close()


@pytest.fixture
async def chat_url(serve: Any) -> str:
    url: str = await serve(OpenAiEndpoint(FakeReasoner(), transcriber=FakeTranscriber()).app())
    return url + "/v1"


async def _chat(url: str, body: Any) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{url}/chat/completions", json=body) as reply:
            return reply.status, await reply.json()


async def test_a_prompt_over_the_character_ceiling_is_a_clear_400(chat_url: str) -> None:
    just_under = [{"role": "user", "content": "x" * MAX_PROMPT_CHARS}]
    assert (await _chat(chat_url, {"messages": just_under}))[0] == 200
    over = [
        {"role": "system", "content": "x" * (MAX_PROMPT_CHARS // 2)},
        {"role": "user", "content": "y" * (MAX_PROMPT_CHARS // 2 + 1)},
    ]
    status, body = await _chat(chat_url, {"messages": over})
    assert status == 400
    assert body["error"]["code"] == "prompt_too_large"
    assert f"{MAX_PROMPT_CHARS}-character ceiling" in body["error"]["message"]


async def test_too_many_messages_or_json_nested_too_deep_are_clear_400s(chat_url: str) -> None:
    many = [{"role": "user", "content": "hi"}] * (MAX_PROMPT_MESSAGES + 1)
    status, body = await _chat(chat_url, {"messages": many})
    assert status == 400 and body["error"]["code"] == "prompt_too_large"
    async with aiohttp.ClientSession() as http:
        deep = "[" * 100_000 + "]" * 100_000
        async with http.post(f"{chat_url}/chat/completions", data=deep) as reply:
            assert reply.status == 400
            assert "nested" in (await reply.json())["error"]["message"]
    # The endpoint still answers.
    assert (await _chat(chat_url, {"messages": [{"role": "user", "content": "hi"}]}))[0] == 200


def _wav(seconds: float, rate: int = 16_000) -> bytes:
    samples = (np.sin(np.arange(int(seconds * rate)) / 7.0) * 5000).astype(np.int16)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


def test_an_upload_is_decoded_to_16_khz_and_refused_past_the_duration_cap() -> None:
    samples = decode_upload(_wav(2.0, rate=8_000), max_seconds=5.0)
    assert samples.dtype == np.int16 and abs(samples.size - 32_000) < 400
    from cloud.api.openai_endpoint import RequestError

    with pytest.raises(RequestError, match="longer than 1 seconds") as refused:
        decode_upload(_wav(3.0), max_seconds=1.0)
    assert refused.value.code == "audio_too_long" and refused.value.status == 400
    with pytest.raises(RequestError, match="could not decode"):
        decode_upload(b"RIFF not audio at all")


async def test_transcription_uploads_are_decoded_on_a_worker_thread(
    serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    decoded_on: list[threading.Thread] = []
    real = transcription_route.decode_upload

    def watched(audio: bytes, max_seconds: float = 300.0) -> Any:
        decoded_on.append(threading.current_thread())
        return real(audio, max_seconds)

    monkeypatch.setattr(transcription_route, "decode_upload", watched)
    route = TranscriptionRoute(FakeTranscriber("hello"), asyncio.Lock())
    app = web.Application()
    app.router.add_post("/v1/audio/transcriptions", route.handle)
    url = await serve(app) + "/v1/audio/transcriptions"

    async def upload(audio: bytes) -> int:
        form = aiohttp.FormData()
        form.add_field("file", audio, filename="a.wav", content_type="audio/wav")
        async with aiohttp.ClientSession() as http:
            async with http.post(url, data=form) as reply:
                if reply.status == 200:
                    assert (await reply.json())["text"] == "hello"
                return reply.status

    assert await upload(_wav(1.0)) == 200
    assert decoded_on and decoded_on[0] is not threading.main_thread()


async def test_a_long_transcription_upload_is_a_400_through_the_endpoint(serve: Any) -> None:
    endpoint = OpenAiEndpoint(FakeReasoner(), transcriber=FakeTranscriber())
    url = await serve(endpoint.app()) + "/v1/audio/transcriptions"
    long_audio = _wav(transcription_route.MAX_AUDIO_SECONDS + 1.0, rate=8_000)
    form = aiohttp.FormData()
    form.add_field("file", long_audio, filename="long.wav", content_type="audio/wav")
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=form) as reply:
            body = await reply.json()
    assert reply.status == 400 and body["error"]["code"] == "audio_too_long"
