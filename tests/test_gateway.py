"""The gateway over real WebRTC on loopback, with fake models behind the real cloud server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from cloud.conversation import Models
from deploy.local_stack import Stack, local_stack
from edge.link.client import GatewayClient, GatewayUnreachable
from protocol import AnswerDone, Error, Hello, Message, Query, Sequencer
from tests.fakes import FakeReasoner, FakeTranscriber
from tests.waiting import until


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    models = Models(transcriber=FakeTranscriber(), reasoner=FakeReasoner())  # type: ignore[arg-type]
    async with local_stack(models) as running:
        yield running


async def _next(link: GatewayClient, kind: type[Message]) -> Message:
    async with asyncio.timeout(10):
        async for message in link:
            if isinstance(message, kind):
                return message
    raise AssertionError(f"the link closed before a {kind.__name__} arrived")


async def test_malformed_message_gets_an_error_reply_and_the_session_continues(
    stack: Stack,
) -> None:
    async with GatewayClient(stack.gateway_url) as link:
        out = Sequencer(link.session_id)
        await link.send(out.make(Hello, user="u", device="test"))
        link.send_raw(b"\xc1 definitely not msgpack")
        error = await _next(link, Error)
        assert isinstance(error, Error) and error.code == "bad_message"
        await link.send(out.make(Query, turn_id=1, text="are you still there"))
        done = await _next(link, AnswerDone)
        assert isinstance(done, AnswerDone) and "still there" in done.text


async def test_message_claiming_another_session_is_refused(stack: Stack) -> None:
    async with GatewayClient(stack.gateway_url) as link:
        intruder = Sequencer("someone-else")
        await link.send(intruder.make(Query, turn_id=1, text="let me in"))
        error = await _next(link, Error)
        assert isinstance(error, Error) and error.code == "wrong_session"


async def test_session_is_cleaned_up_when_the_peer_leaves(stack: Stack) -> None:
    async with GatewayClient(stack.gateway_url) as link:
        await link.send(Sequencer(link.session_id).make(Hello, user="u", device="test"))
        assert link.session_id in stack.gateway.sessions
    await until(lambda: not (stack.gateway.sessions or stack.cloud.sessions), timeout_s=30)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (b'{"type": "answer", "sdp": "x"}', 400),
        (b'{"type": "offer", "sdp": "not sdp"}', 400),
        (b"x" * 200_000, 413),
    ],
)
async def test_bad_offers_are_refused_with_a_reason(stack: Stack, body: bytes, status: int) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{stack.gateway_url}/v1/sessions", data=body) as reply:
            assert reply.status == status
            assert "error" in await reply.json(content_type=None) or status == 413


async def test_unreachable_gateway_is_a_clear_error() -> None:
    with pytest.raises(GatewayUnreachable, match="gateway unreachable"):
        async with GatewayClient("http://127.0.0.1:9", connect_timeout_s=5):
            pass
