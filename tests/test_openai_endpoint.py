"""The cloud's OpenAI-compatible endpoint, driven by the official `openai` client over real HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence

import aiohttp
import openai
import pytest
from openai import AsyncOpenAI

from cloud.api.openai_endpoint import MAX_TOKENS_CAP, MODEL_NAME, OpenAiEndpoint
from cloud.api.session_server import CloudServer
from cloud.config import CloudConfig
from cloud.conversation import Models
from cloud.reasoning.reasoner import ChatMessage
from companion.cli import main
from tests.fakes import FakeReasoner, FakeTranscriber


class CountingReasoner(FakeReasoner):
    """FakeReasoner that also records the token limit each request was given."""

    def __init__(self, *, fail: bool = False) -> None:
        super().__init__(fail=fail)
        self.limits: list[int] = []

    async def stream(
        self, messages: Sequence[ChatMessage], *, max_new_tokens: int
    ) -> AsyncIterator[str]:
        self.limits.append(max_new_tokens)
        async for piece in super().stream(messages, max_new_tokens=max_new_tokens):
            yield piece


@pytest.fixture
def reasoner() -> CountingReasoner:
    return CountingReasoner()


async def _serve(endpoint: OpenAiEndpoint) -> AsyncIterator[str]:
    async with endpoint.running("127.0.0.1", 0) as port:
        yield f"http://127.0.0.1:{port}/v1"


@pytest.fixture
async def base_url(reasoner: CountingReasoner) -> AsyncIterator[str]:
    async for url in _serve(OpenAiEndpoint(reasoner)):
        yield url


def _client(base_url: str, key: str = "unused") -> AsyncOpenAI:
    # No retries: a refused request must surface at once, not after backoff.
    return AsyncOpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=30)


async def test_a_whole_completion_comes_back(base_url: str, reasoner: CountingReasoner) -> None:
    async with _client(base_url) as client:
        completion = await client.chat.completions.create(
            model=MODEL_NAME,
            messages=[
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "where are my keys"},
            ],
            max_tokens=20,
        )
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == "You asked: where are my keys"
    assert completion.choices[0].finish_reason == "stop"
    assert reasoner.prompts[-1] == [
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="user", content="where are my keys"),
    ]
    assert reasoner.limits[-1] == 20


async def test_a_streamed_completion_comes_in_pieces(
    base_url: str, reasoner: CountingReasoner
) -> None:
    async with _client(base_url) as client:
        stream = await client.chat.completions.create(
            model=MODEL_NAME,
            messages=[
                {"role": "developer", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "what time is it"}]},
            ],
            max_completion_tokens=100_000,
            stream=True,
        )
        chunks = [chunk async for chunk in stream]
    pieces = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert "".join(pieces) == "You asked: what time is it"
    assert len(pieces) > 1
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert reasoner.prompts[-1][0] == ChatMessage(role="system", content="Be brief.")
    assert reasoner.limits[-1] == MAX_TOKENS_CAP  # asked for far more: capped


async def test_models_lists_the_served_model(base_url: str) -> None:
    async with _client(base_url) as client:
        models = await client.models.list()
    assert [m.id for m in models.data] == [MODEL_NAME]


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        ([], "messages"),
        ([{"role": "tool", "content": "x", "tool_call_id": "1"}], "messages[0].role"),
        (
            [
                {
                    "role": "user",
                    "content": [{"type": "input_audio", "input_audio": {"data": ""}}],
                }
            ],
            "messages[0].content[0]",
        ),
        ([{"role": "user", "content": 42}], "messages[0].content"),
    ],
)
async def test_a_bad_request_is_a_400_the_client_raises(
    base_url: str, reasoner: CountingReasoner, messages: list[object], param: str
) -> None:
    async with _client(base_url) as client:
        with pytest.raises(openai.BadRequestError) as raised:
            await client.chat.completions.create(model=MODEL_NAME, messages=messages)  # type: ignore[arg-type]
    assert raised.value.status_code == 400
    assert raised.value.param == param
    assert raised.value.type == "invalid_request_error"
    assert reasoner.prompts == []  # nothing reached the model


async def test_an_image_part_is_accepted_and_the_text_parts_answered(
    base_url: str, reasoner: CountingReasoner
) -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/2w=="}}
    async with _client(base_url) as client:
        completion = await client.chat.completions.create(
            model=MODEL_NAME,
            messages=[
                {"role": "user", "content": [image, {"type": "text", "text": "what is this"}]}
            ],
        )
    assert completion.choices[0].message.content == "You asked: what is this"
    assert reasoner.prompts[-1] == [ChatMessage(role="user", content="what is this")]


async def test_bad_limits_and_unsupported_options_are_refused(base_url: str) -> None:
    hello = [{"role": "user", "content": "hi"}]
    async with aiohttp.ClientSession() as http:
        for body, param in [
            ({"messages": hello, "max_tokens": 0}, "max_tokens"),
            ({"messages": hello, "max_completion_tokens": "9"}, "max_completion_tokens"),
            ({"messages": hello, "n": 2}, "n"),
            ({"messages": hello, "stream": "yes"}, "stream"),
        ]:
            async with http.post(f"{base_url}/chat/completions", json=body) as response:
                assert response.status == 400, body
                error = (await response.json())["error"]
                assert error["param"] == param
                assert set(error) == {"message", "type", "param", "code"}
        async with http.post(f"{base_url}/chat/completions", data=b"{not json") as response:
            assert response.status == 400
            assert "JSON" in (await response.json())["error"]["message"]


async def test_an_oversized_request_is_refused_with_413(
    base_url: str, reasoner: CountingReasoner
) -> None:
    huge = "word " * 100_000
    async with _client(base_url) as client:
        with pytest.raises(openai.APIStatusError) as raised:
            await client.chat.completions.create(
                model=MODEL_NAME, messages=[{"role": "user", "content": huge}]
            )
    assert raised.value.status_code == 413
    assert reasoner.prompts == []


async def test_a_key_when_set_is_required(reasoner: CountingReasoner) -> None:
    hello: list[object] = [{"role": "user", "content": "hi"}]
    async for url in _serve(OpenAiEndpoint(reasoner, api_key="s3cret")):
        for wrong in ("wrong", "s3cret-not"):
            async with _client(url, key=wrong) as client:
                with pytest.raises(openai.AuthenticationError) as raised:
                    await client.chat.completions.create(model=MODEL_NAME, messages=hello)  # type: ignore[arg-type]
            assert raised.value.status_code == 401
        assert reasoner.prompts == []
        async with _client(url, key="s3cret") as client:
            completion = await client.chat.completions.create(model=MODEL_NAME, messages=hello)  # type: ignore[arg-type]
        assert completion.choices[0].message.content == "You asked: hi"


async def test_a_failing_model_is_an_error_not_a_hang() -> None:
    hello: list[object] = [{"role": "user", "content": "hi"}]
    async for url in _serve(OpenAiEndpoint(CountingReasoner(fail=True))):
        async with _client(url) as client:
            with pytest.raises(openai.InternalServerError):
                await client.chat.completions.create(model=MODEL_NAME, messages=hello)  # type: ignore[arg-type]
            stream = await client.chat.completions.create(
                model=MODEL_NAME,
                messages=hello,  # type: ignore[arg-type]
                stream=True,
            )
            with pytest.raises(openai.APIError, match="failed to answer"):
                async for _ in stream:
                    pass


class SlowReasoner:
    """Writes many pieces slowly and notes when its generation was closed."""

    def __init__(self) -> None:
        self.written = 0
        self.closed = asyncio.Event()

    async def stream(
        self, messages: Sequence[ChatMessage], *, max_new_tokens: int
    ) -> AsyncIterator[str]:
        try:
            for _ in range(min(1000, max_new_tokens)):
                await asyncio.sleep(0.02)  # a slow model is the scenario: the client leaves mid-way
                self.written += 1
                yield " word"
        finally:
            self.closed.set()


async def test_a_client_leaving_mid_stream_stops_the_model() -> None:
    reasoner = SlowReasoner()
    endpoint = OpenAiEndpoint(reasoner)
    async for url in _serve(endpoint):
        async with _client(url) as client:
            stream = await client.chat.completions.create(
                model=MODEL_NAME,
                messages=[{"role": "user", "content": "talk forever"}],
                stream=True,
            )
            received = 0
            async for _ in stream:
                received += 1
                if received == 3:
                    break
            await stream.close()
        await asyncio.wait_for(reasoner.closed.wait(), 30)
        # The lock was let go: the next request is answered.
        async with _client(url) as client:
            again = await client.chat.completions.create(
                model=MODEL_NAME,
                messages=[{"role": "user", "content": "hi"}],
                max_tokens=2,
                stream=True,
            )
            assert [chunk async for chunk in again]
    assert reasoner.written < 100  # the first answer (up to 256 pieces) was cut short


def test_serve_refuses_a_bad_openai_port(capsys: pytest.CaptureFixture[str]) -> None:
    # Refused as the flags are read (companion/settings.py checks every layer alike).
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--openai-port", "70000"])
    assert exited.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("companion serve: error: argument --openai-port: expected a port")
    assert last.endswith("not '70000'")


async def test_the_cloud_serves_it_when_configured(reasoner: CountingReasoner) -> None:
    models = Models(transcriber=FakeTranscriber(), reasoner=reasoner)
    off = CloudServer(models, CloudConfig(port=0))
    async with off.running():
        assert off.openai_url is None  # off by default
    cloud = CloudServer(models, CloudConfig(port=0, openai_port=0))
    async with cloud.running():
        assert cloud.openai_url is not None
        assert cloud.openai_url.startswith("http://127.0.0.1:")
        async with _client(cloud.openai_url) as client:
            completion = await client.chat.completions.create(
                model=MODEL_NAME,
                messages=[{"role": "user", "content": "hello cloud"}],
            )
    assert completion.choices[0].message.content == "You asked: hello cloud"
    assert cloud.openai_url is None


@pytest.mark.models
async def test_qwen_answers_the_official_client_streaming(qwen: object) -> None:
    endpoint = OpenAiEndpoint(qwen)  # type: ignore[arg-type]
    async for url in _serve(endpoint):
        async with _client(url) as client:
            stream = await client.chat.completions.create(
                model=MODEL_NAME,
                messages=[
                    {
                        "role": "system",
                        "content": "Answer the wearer in one short sentence, using only these notes. "
                        "Notes: The wearer's car is parked on level 3 of the station garage.",
                    },
                    {"role": "user", "content": "Which level is my car parked on?"},
                ],
                max_tokens=24,
                stream=True,
            )
            pieces = [
                chunk.choices[0].delta.content
                async for chunk in stream
                if chunk.choices and chunk.choices[0].delta.content
            ]
    answer = "".join(pieces)
    print(f"\nQwen through the endpoint: {json.dumps(answer)}")
    assert len(pieces) > 1
    assert "3" in answer or "three" in answer.lower()
