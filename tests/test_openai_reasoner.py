"""The OpenAI-compatible backend against a real local HTTP server speaking chat-completions SSE."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from cloud.config import CloudConfig
from cloud.errors import ModelError
from cloud.reasoning.backends import make_reasoner
from cloud.reasoning.openai_reasoner import OpenAiReasoner, ToolCall
from cloud.reasoning.reasoner import ChatMessage
from tests.waiting import until

QUESTION = [ChatMessage(role="user", content="What's my sister called?")]


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "tiny",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n".encode()


class ChatServer:
    """Streams a scripted answer the way vLLM and the OpenAI API do, and records requests."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.script: list[bytes] = []
        self.status = 200

    async def completions(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(await request.json())
        self.headers.append(dict(request.headers))
        if self.status != 200:
            return web.json_response({"error": {"message": "model overloaded"}}, status=self.status)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for event in self.script:
            await response.write(event)
        await response.write(b"data: [DONE]\n\n")
        return response


@pytest.fixture
async def server() -> AsyncIterator[tuple[ChatServer, str]]:
    chat = ChatServer()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat.completions)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield chat, f"http://127.0.0.1:{port}/v1"
    await runner.cleanup()


async def test_answer_streams_piece_by_piece_with_the_configured_key(
    server: tuple[ChatServer, str],
) -> None:
    chat, url = server
    chat.script = [
        _chunk({"role": "assistant"}),
        _chunk({"content": "Your sister"}),
        b": keep-alive comment\n\n",
        _chunk({"content": " is called Ana."}),
        _chunk({}, finish="stop"),
    ]
    reasoner = make_reasoner(
        CloudConfig(
            reasoner="openai",
            openai_base_url=url,
            openai_model="tiny",
            openai_api_key="sk-test",
        )
    )
    assert isinstance(reasoner, OpenAiReasoner)
    try:
        pieces = [piece async for piece in reasoner.stream(QUESTION, max_new_tokens=48)]
    finally:
        await reasoner.aclose()

    assert pieces == ["Your sister", " is called Ana."]
    (sent,) = chat.requests
    assert sent["stream"] is True and sent["max_tokens"] == 48 and sent["model"] == "tiny"
    assert sent["messages"] == [{"role": "user", "content": "What's my sister called?"}]
    assert chat.headers[0]["Authorization"] == "Bearer sk-test"


async def test_tool_calls_arrive_in_fragments_and_are_handed_over_whole(
    server: tuple[ChatServer, str],
) -> None:
    chat, url = server
    chat.script = [
        _chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "add_to_shopping_list", "arguments": ""},
                    }
                ]
            }
        ),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"items": ["oat'}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": ' milk"]}'}}]}),
        _chunk({}, finish="tool_calls"),
    ]
    tools = [{"type": "function", "function": {"name": "add_to_shopping_list", "parameters": {}}}]
    reasoner = OpenAiReasoner(base_url=url, model="tiny")
    try:
        events = [e async for e in reasoner.stream_events(QUESTION, max_new_tokens=32, tools=tools)]
    finally:
        await reasoner.aclose()

    assert events == [
        ToolCall(name="add_to_shopping_list", arguments={"items": ["oat milk"]}, id="call_1")
    ]
    assert chat.requests[0]["tools"] == tools


async def test_an_http_error_becomes_a_model_error_naming_the_server(
    server: tuple[ChatServer, str],
) -> None:
    chat, url = server
    chat.status = 503
    reasoner = OpenAiReasoner(base_url=url, model="tiny")
    try:
        with pytest.raises(ModelError, match=r"HTTP 503.*model overloaded"):
            [piece async for piece in reasoner.stream(QUESTION, max_new_tokens=8)]
    finally:
        await reasoner.aclose()


async def test_a_malformed_chunk_is_a_model_error(server: tuple[ChatServer, str]) -> None:
    chat, url = server
    chat.script = [_chunk({"content": "Your"}), b"data: {not json\n\n"]
    reasoner = OpenAiReasoner(base_url=url, model="tiny")
    try:
        with pytest.raises(ModelError, match="malformed chunk"):
            [piece async for piece in reasoner.stream(QUESTION, max_new_tokens=8)]
    finally:
        await reasoner.aclose()


async def test_an_unreachable_server_is_a_model_error() -> None:
    reasoner = OpenAiReasoner(base_url="http://127.0.0.1:9/v1", model="tiny")
    try:
        with pytest.raises(ModelError, match=re.escape("127.0.0.1:9")):
            [piece async for piece in reasoner.stream(QUESTION, max_new_tokens=8)]
    finally:
        await reasoner.aclose()


def test_an_unknown_reasoner_name_is_refused_clearly() -> None:
    with pytest.raises(ModelError, match="unknown reasoner 'gpt'"):
        make_reasoner(CloudConfig(reasoner="gpt"))
    with pytest.raises(ModelError, match="needs a model name"):
        make_reasoner(CloudConfig(reasoner="openai"))


async def test_the_conversation_answers_through_the_server_and_apologises_when_it_fails(
    server: tuple[ChatServer, str],
) -> None:
    import asyncio

    from cloud.conversation import APOLOGY, Conversation, Models
    from protocol import AnswerDone, Message, Query, Sequencer
    from tests.fakes import FakeTranscriber

    chat, url = server
    chat.script = [_chunk({"content": "It says"}), _chunk({"content": " platform 7."})]
    reasoner = OpenAiReasoner(base_url=url, model="tiny")
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    conversation = Conversation("s", Models(FakeTranscriber(), reasoner), send)
    edge = Sequencer("s")
    task = asyncio.create_task(conversation.run())
    try:
        conversation.receive(edge.make(Query, turn_id=1, text="What does it say?"))
        await until(lambda: conversation.answered >= 1)
        chat.status = 500
        conversation.receive(edge.make(Query, turn_id=2, text="And now?"))
        await until(lambda: conversation.answered >= 2)
    finally:
        task.cancel()
        await reasoner.aclose()

    first, second = (m.text for m in sent if isinstance(m, AnswerDone))
    assert first == "It says platform 7."
    assert second == APOLOGY


async def test_a_tool_call_in_reasoning_mode_runs_the_tool_and_says_so(
    server: tuple[ChatServer, str], tmp_path
) -> None:
    import asyncio

    from cloud.conversation import Conversation, Models
    from cloud.memory import HashingEmbedder
    from cloud.memory.user_data import UserDirectory
    from protocol import AnswerDone, Message, Query, Sequencer
    from tests.fakes import FakeTranscriber

    chat, url = server
    chat.script = [
        _chunk({"content": "Sure."}),
        _chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "c1",
                        "function": {
                            "name": "add_to_shopping_list",
                            "arguments": '{"items": ["Basil", "pine nuts"]}',
                        },
                    }
                ]
            }
        ),
        _chunk({}, finish="tool_calls"),
    ]
    reasoner = OpenAiReasoner(base_url=url, model="tiny")
    users = UserDirectory(tmp_path, HashingEmbedder())
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    conversation = Conversation(
        "s", Models(FakeTranscriber(), reasoner, users=users), send, user="alice"
    )
    task = asyncio.create_task(conversation.run())
    try:
        conversation.receive(
            Sequencer("s").make(
                Query, turn_id=1, text="I'm making pesto tonight, get what I need", mode="reasoning"
            )
        )
        await until(lambda: conversation.answered >= 1)
    finally:
        task.cancel()
        await reasoner.aclose()

    (done,) = [m for m in sent if isinstance(m, AnswerDone)]
    assert done.text == "Sure. Added basil and pine nuts to your shopping list."
    assert users.open("alice").tools.items() == ["basil", "pine nuts"]
    assert chat.requests[0]["tools"][0]["function"]["name"] == "set_reminder"
    users.close()


async def test_reasoning_mode_uses_the_larger_served_model_when_configured(
    server: tuple[ChatServer, str],
) -> None:
    import asyncio

    from cloud.conversation import Conversation, Models
    from cloud.reasoning.backends import make_reasoning_reasoner
    from protocol import Message, Query, Sequencer
    from tests.fakes import FakeTranscriber

    chat, url = server
    chat.script = [_chunk({"content": "Fine."})]
    config = CloudConfig(
        reasoner="openai", openai_base_url=url, openai_model="small", openai_reasoning_model="large"
    )
    fast, reasoning = make_reasoner(config), make_reasoning_reasoner(config)
    assert isinstance(fast, OpenAiReasoner) and isinstance(reasoning, OpenAiReasoner)
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    models = Models(FakeTranscriber(), fast, reasoning_reasoner=reasoning)
    conversation = Conversation("s", models, send, config=config)
    edge = Sequencer("s")
    task = asyncio.create_task(conversation.run())
    try:
        conversation.receive(edge.make(Query, turn_id=1, text="What is this?", mode="fast"))
        conversation.receive(edge.make(Query, turn_id=2, text="Why?", mode="reasoning"))
        await until(lambda: conversation.answered >= 2)
    finally:
        task.cancel()
        await fast.aclose()
        await reasoning.aclose()

    assert [r["model"] for r in chat.requests] == ["small", "large"]
    assert make_reasoning_reasoner(CloudConfig()) is None


def test_the_backend_is_chosen_from_the_environment() -> None:
    from companion.settings import load_settings

    environ = {
        "COMPANION_REASONER": "openai",
        "COMPANION_OPENAI_MODEL": "qwen2.5-7b",
        "OPENAI_API_KEY": "sk-env",
        "OTHER": "x",
    }
    config = load_settings(environ=environ).cloud_config()
    assert (config.reasoner, config.openai_model) == ("openai", "qwen2.5-7b")
    assert config.openai_api_key == config.asr_api_key == "sk-env"
    default = load_settings(environ={}).cloud_config()
    assert default == CloudConfig(data_dir=default.data_dir)
