"""Two users, alice and bob, each with their own token: over every app route, both
signalling routes, the cloud's internal link and its OpenAI-compatible port, nothing bob
does reads or writes anything of alice's.

The test walks the gateway's own route table, so a route added later without a check
here fails `test_every_app_route_is_covered_by_the_isolation_check`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cloud.config import CloudConfig
from cloud.memory import HashingEmbedder
from edge.link.client import GatewayClient
from edge.models import EdgeModels
from gateway.cloud_link import connect_cloud
from protocol import AnswerDone, Error, Hello, Message, Query, Sequencer, decode, encode
from simulators.fuzzing import route_templates
from tests.app_client import AppLink
from tests.app_stack import AppStack, app_stack
from tests.fakes import FakeReasoner, FakeTranscriber

SECRET = "locker code 4711"
CHECKED = {
    ("GET", "/v1/memories"),
    ("POST", "/v1/memories"),
    ("GET", "/v1/memories/export"),
    ("PATCH", "/v1/memories/{memory_id}"),
    ("DELETE", "/v1/memories/{memory_id}"),
    ("GET", "/v1/history"),
    ("GET", "/v1/history/{turn}/keyframe.jpg"),
    # Checked in tests/test_conversations_page.py (bob never reads or deletes alice's).
    ("GET", "/v1/conversations"),
    ("GET", "/v1/conversations/{conversation_id}"),
    ("DELETE", "/v1/conversations/{conversation_id}"),
    ("GET", "/v1/glasses"),
    ("GET", "/v1/me"),
    ("POST", "/v1/token"),
    ("POST", "/v1/app/sessions"),
    ("POST", "/v1/sessions"),
}
# Served to anyone and holding nothing of a user's: the pages, health, pairing (a code).
OPEN = {("GET", "/"), ("GET", "/app"), ("GET", "/healthz"), ("POST", "/v1/pair")}


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[AppStack]:
    async with app_stack(
        tmp_path,
        EdgeModels(),
        FakeTranscriber(),
        FakeReasoner(),
        HashingEmbedder(),
        cloud_config=CloudConfig(data_dir=tmp_path / "cloud", openai_port=0),
    ) as running:
        yield running


async def _call(
    app: AppStack, method: str, path: str, token: str, **kwargs: Any
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http:
        async with http.request(method, app.url + path, headers=headers, **kwargs) as reply:
            body = await reply.read()
            try:
                return reply.status, json.loads(body)
            except ValueError:
                return reply.status, body


def _prompts_text(reasoner: FakeReasoner) -> str:
    return "\n".join(m.content for prompt in reasoner.prompts for m in prompt)


def test_every_app_route_is_covered_by_the_isolation_check(tmp_path: Path) -> None:
    from deploy.local_stack import Stack  # noqa: F401  (the same app the stack serves)
    from gateway.app_api import AppApi
    from gateway.server import Gateway

    gateway = Gateway(cloud_secret=b"x" * 32)
    AppApi(gateway, EdgeModels())
    served = {(m, p) for m, p in route_templates(gateway.app) if not p.startswith("/static")}
    assert served - OPEN == CHECKED


async def test_bob_never_reads_or_writes_alices_data(app: AppStack) -> None:
    assert app.stack.app is not None and app.stack.app.history is not None
    alice_device = app.accounts.add_device("alice", "phone")
    bob_device = app.accounts.add_device("bob", "phone")
    alice = app.accounts.session_token(alice_device)
    bob = app.accounts.session_token(bob_device)

    # alice's data: a memory, a history turn with its keyframe, glasses reported.
    status, memory = await _call(app, "POST", "/v1/memories", alice, json={"text": SECRET})
    assert status == 201
    history = app.stack.app.history
    history.record_question("alice", "s-alice", 1, f"what is my {SECRET}?")
    history.record_keyframe("alice", "s-alice", 1, b"\xff\xd8alice")
    history.record_answer("alice", "s-alice", 1, SECRET, "fast", 10.0)
    alice_turn = history.turns("alice")[0].id
    async with GatewayClient(app.url, token=alice) as glasses:
        out = Sequencer(glasses.session_id)
        await glasses.send(out.make(Hello, user="alice", device="glasses"))

    # Memories: bob lists, searches, exports, edits and deletes.
    status, listed = await _call(app, "GET", "/v1/memories", bob)
    assert status == 200 and SECRET not in json.dumps(listed)
    status, found = await _call(app, "GET", "/v1/memories?q=locker", bob)
    assert status == 200 and found["memories"] == []
    status, exported = await _call(app, "GET", "/v1/memories/export", bob)
    assert status == 200 and exported["user"] == "bob" and SECRET not in json.dumps(exported)
    path = f"/v1/memories/{memory['id']}"
    assert (await _call(app, "PATCH", path, bob, json={"text": "bob's now"}))[0] == 404
    assert (await _call(app, "DELETE", path, bob))[0] == 404
    assert (await _call(app, "POST", "/v1/memories", bob, json={"text": "bob's bike"}))[0] == 201
    status, alices = await _call(app, "GET", "/v1/memories", alice)
    texts = [m["text"] for m in alices["memories"]]
    assert texts == [SECRET], "alice's memory is unchanged and bob's is not among hers"

    # History, glasses, who am I, tokens.
    status, turns = await _call(app, "GET", "/v1/history", bob)
    assert status == 200 and turns["turns"] == []
    keyframe = f"/v1/history/{alice_turn}/keyframe.jpg"
    assert (await _call(app, "GET", keyframe, bob))[0] == 404
    assert (await _call(app, "GET", keyframe, alice))[0] == 200
    assert (await _call(app, "GET", "/v1/glasses", bob))[1] == {"glasses": None}
    assert (await _call(app, "GET", "/v1/me", bob))[1]["user"] == "bob"
    assert (await _call(app, "POST", "/v1/token", bob_device))[1]["user"] == "bob"

    # Signalling: bob cannot resume alice's app session.
    alice_app = AppLink(app.url, alice)
    await alice_app.connect()
    try:
        body = {"sdp": "m=application 9 x", "type": "offer", "resume": alice_app.session_id}
        status, _ = await _call(app, "POST", "/v1/app/sessions", bob, json=body)
        assert status in (400, 404)  # the offer is refused first, or the session "is not there"
        thief = AppLink(app.url, bob)
        thief.session_id = alice_app.session_id
        with pytest.raises(PermissionError, match="404"):
            async with asyncio.timeout(30):
                await thief.connect(resume=True)
    finally:
        await alice_app.drop()

    # An edge session with bob's token that claims to be alice asks about her secret.
    reasoner = app.stack.cloud.models.reasoner
    assert isinstance(reasoner, FakeReasoner)
    reasoner.prompts.clear()
    async with GatewayClient(app.url, token=bob) as link:
        out = Sequencer(link.session_id)
        await link.send(out.make(Hello, user="alice", device="glasses"))
        await link.send(out.make(Query, turn_id=1, text="what is my locker code?"))
        async with asyncio.timeout(30):
            async for message in link:
                if isinstance(message, AnswerDone):
                    assert SECRET not in message.text
                    break
    assert reasoner.prompts and SECRET not in _prompts_text(reasoner)

    # The internal link: under a claim for bob, a Hello naming alice is refused, and what
    # follows it is not served; bob's own Hello is, from bob's memories.
    reasoner.prompts.clear()
    async with await connect_cloud(
        app.stack.cloud_url, user="bob", session_id="s-bob", secret=app.stack.cloud.gateway_secret
    ) as cloud:
        up = Sequencer("s-bob")
        await cloud.send(encode(up.make(Hello, user="alice", device="x")))
        await cloud.send(encode(up.make(Query, turn_id=1, text="remember my locker code is 1")))
        await cloud.send(encode(up.make(Hello, user="bob", device="x")))
        await cloud.send(encode(up.make(Query, turn_id=2, text="what is my locker code?")))
        received: list[Message] = []
        async with asyncio.timeout(30):
            while not any(isinstance(m, AnswerDone) for m in received):
                received.append(decode(await cloud.recv()))
    codes = [m.code for m in received if isinstance(m, Error)]
    assert codes == ["wrong_user", "hello_required"]
    assert [m.turn_id for m in received if isinstance(m, AnswerDone)] == [2]
    assert SECRET not in _prompts_text(reasoner)
    assert app.users.open("alice").memory.count("alice") == 1, "nothing written to alice"

    # The OpenAI-compatible port answers bob from bob's memories only.
    reasoner.prompts.clear()
    assert app.stack.cloud.openai_url is not None
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{app.stack.cloud.openai_url}/chat/completions",
            json={"messages": [{"role": "user", "content": "what is my locker code?"}]},
            headers={"Authorization": f"Bearer {bob}"},
        ) as reply:
            assert reply.status == 200
            assert SECRET not in await reply.text()
    assert reasoner.prompts and SECRET not in _prompts_text(reasoner)
    # … while alice's own token still gets her memory into her prompt.
    reasoner.prompts.clear()
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{app.stack.cloud.openai_url}/chat/completions",
            json={"messages": [{"role": "user", "content": "what is my locker code?"}]},
            headers={"Authorization": f"Bearer {alice}"},
        ) as reply:
            assert reply.status == 200
    assert SECRET in _prompts_text(reasoner)
