"""Keyframes reach a served vision model as image content parts, per mode, and only then."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from cloud.config import CloudConfig
from cloud.conversation import Conversation, Models
from cloud.reasoning.backends import make_reasoner, make_reasoning_reasoner
from cloud.reasoning.openai_reasoner import OpenAiReasoner
from cloud.reasoning.reasoner import ChatMessage
from protocol import AnswerDone, Keyframe, Message, Query, Sequencer
from tests.fakes import FakeTranscriber
from tests.test_openai_reasoner import ChatServer, _chunk
from tests.waiting import until


@pytest.fixture
async def vision_server() -> AsyncIterator[tuple[ChatServer, str]]:
    """A chat-completions server that records each request body."""
    chat = ChatServer()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat.completions)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield chat, f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    await runner.cleanup()


def _image_urls(request: dict[str, Any]) -> list[str]:
    content = request["messages"][-1]["content"]
    if isinstance(content, str):
        return []
    return [part["image_url"]["url"] for part in content if part["type"] == "image_url"]


async def test_a_keyframe_is_sent_as_a_jpeg_data_url_when_images_are_on(
    vision_server: tuple[ChatServer, str], astronaut_jpeg: bytes
) -> None:
    chat, url = vision_server
    chat.script = [_chunk({"content": "A person in a space suit."})]
    question = [
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="user", content="What is this?", images=(astronaut_jpeg,)),
    ]
    seeing = OpenAiReasoner(base_url=url, model="vision", images=True)
    blind = OpenAiReasoner(base_url=url, model="text")
    try:
        answer = "".join([p async for p in seeing.stream(question, max_new_tokens=32)])
        [p async for p in blind.stream(question, max_new_tokens=32)]
    finally:
        await seeing.aclose()
        await blind.aclose()

    assert answer == "A person in a space suit."
    with_image, without = chat.requests
    assert with_image["messages"][0] == {"role": "system", "content": "Be brief."}
    text_part, image_part = with_image["messages"][1]["content"]
    assert text_part == {"type": "text", "text": "What is this?"}
    assert image_part["type"] == "image_url"
    prefix = "data:image/jpeg;base64,"
    assert image_part["image_url"]["url"].startswith(prefix)
    assert base64.b64decode(image_part["image_url"]["url"][len(prefix) :]) == astronaut_jpeg
    # A text-only server is never sent an image part it would refuse.
    assert without["messages"][1] == {"role": "user", "content": "What is this?"}


async def test_the_conversation_shows_the_keyframe_only_to_the_mode_configured_for_images(
    vision_server: tuple[ChatServer, str], astronaut_jpeg: bytes
) -> None:
    chat, url = vision_server
    chat.script = [_chunk({"content": "Someone in a space suit."})]
    config = CloudConfig(
        reasoner="openai", openai_base_url=url, openai_model="tiny", openai_images_reasoning=True
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
        for turn, mode in ((1, "fast"), (2, "reasoning")):
            conversation.receive(
                edge.make(
                    Keyframe, turn_id=turn, jpeg=astronaut_jpeg, width=1, height=1, captured_at=0.0
                )
            )
            conversation.receive(edge.make(Query, turn_id=turn, text="Who is that?", mode=mode))
        await until(lambda: conversation.answered >= 2)
    finally:
        task.cancel()
        await fast.aclose()
        await reasoning.aclose()

    assert [m.text for m in sent if isinstance(m, AnswerDone)] == ["Someone in a space suit."] * 2
    fast_request, reasoning_request = chat.requests
    assert fast_request["model"] == reasoning_request["model"] == "tiny"
    assert _image_urls(fast_request) == []
    (image_url,) = _image_urls(reasoning_request)
    assert image_url == "data:image/jpeg;base64," + base64.b64encode(astronaut_jpeg).decode()


def test_the_modes_that_see_images_come_from_the_environment() -> None:
    from companion.settings import load_settings

    config = load_settings(environ={"COMPANION_OPENAI_IMAGES": "reasoning"}).cloud_config()
    assert (config.openai_images_fast, config.openai_images_reasoning) == (False, True)
    assert make_reasoning_reasoner(CloudConfig()) is None
