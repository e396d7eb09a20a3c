"""The OpenAI-compatible endpoint answers an authenticated user from that user's memories only.

The bearer token is the gateway's own device or session token; the official
`openai` client drives a real CloudServer over HTTP with real SQLite stores.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import openai
import pytest
from openai import AsyncOpenAI

from cloud.api.memory_chat import with_memories
from cloud.api.openai_endpoint import MODEL_NAME
from cloud.api.session_server import CloudServer
from cloud.config import CloudConfig
from cloud.conversation import Models
from cloud.memory.embedder import Embedder
from cloud.memory.hashing_embedder import HashingEmbedder
from cloud.memory.records import Memory, MemoryKind, NewMemory
from cloud.memory.user_data import UserDirectory
from cloud.reasoning.reasoner import ChatMessage, Reasoner
from deploy.local_stack import local_stack, token_user
from gateway.accounts import Accounts
from tests.fakes import FakeReasoner, FakeTranscriber

FACT = "My car is parked on level 3 of the station garage."
QUESTION = "Which level is my car parked on?"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class RecordingReasoner:
    """Any reasoner, with the prompts it was given kept for the test to read."""

    def __init__(self, inner: Reasoner) -> None:
        self.inner = inner
        self.prompts: list[Sequence[ChatMessage]] = []

    def stream(self, messages: Sequence[ChatMessage], *, max_new_tokens: int) -> AsyncIterator[str]:
        self.prompts.append(messages)
        return self.inner.stream(messages, max_new_tokens=max_new_tokens)


def _remember(users: UserDirectory, user: str, text: str) -> None:
    when = datetime.now(UTC) - timedelta(hours=2)
    users.open(user).memory.add(user, NewMemory(text=text, time=when, kind=MemoryKind.FACT))


async def _cloud(
    tmp_path: Path, reasoner: Reasoner, embedder: Embedder, clock: Clock
) -> AsyncIterator[tuple[CloudServer, Accounts, UserDirectory]]:
    accounts = Accounts(tmp_path / "gateway", clock=clock)
    users = UserDirectory(tmp_path / "cloud", embedder)
    models = Models(transcriber=FakeTranscriber(), reasoner=reasoner, users=users)
    cloud = CloudServer(
        models, CloudConfig(port=0, openai_port=0), check_token=token_user(accounts)
    )
    try:
        async with cloud.running():
            yield cloud, accounts, users
    finally:
        users.close()
        accounts.close()


def _client(url: str, token: str) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=url, api_key=token, max_retries=0, timeout=60)


def _text(prompt: Sequence[ChatMessage]) -> str:
    return "\n".join(m.content for m in prompt)


async def test_a_users_token_brings_their_memories_and_only_theirs(tmp_path: Path) -> None:
    reasoner = FakeReasoner()
    async for cloud, accounts, users in _cloud(tmp_path, reasoner, HashingEmbedder(), Clock()):
        _remember(users, "alice", FACT)
        _remember(users, "bob", "My bike is locked at the library.")
        alice = accounts.session_token(accounts.add_device("alice", "laptop"))
        bob = accounts.add_device("bob", "laptop")  # a device token is accepted too
        assert cloud.openai_url is not None
        for token in (alice, bob):
            async with _client(cloud.openai_url, token) as client:
                await client.chat.completions.create(
                    model=MODEL_NAME,
                    messages=[
                        {"role": "system", "content": "Be brief."},
                        {"role": "user", "content": QUESTION},
                    ],
                )
    alice_prompt, bob_prompt = _text(reasoner.prompts[0]), _text(reasoner.prompts[1])
    assert "Your car is parked on level 3" in alice_prompt
    assert "You remember" in alice_prompt and "Be brief." in alice_prompt
    assert "level 3" not in bob_prompt and "garage" not in bob_prompt
    assert "bike" not in alice_prompt


async def test_without_a_relevant_memory_the_chat_goes_through_as_sent(tmp_path: Path) -> None:
    reasoner = FakeReasoner()
    async for cloud, accounts, _ in _cloud(tmp_path, reasoner, HashingEmbedder(), Clock()):
        token = accounts.add_device("carol", "laptop")
        assert cloud.openai_url is not None
        async with _client(cloud.openai_url, token) as client:
            completion = await client.chat.completions.create(
                model=MODEL_NAME, messages=[{"role": "user", "content": "hello there"}]
            )
    assert completion.choices[0].message.content == "You asked: hello there"
    assert reasoner.prompts == [[ChatMessage(role="user", content="hello there")]]


async def test_missing_forged_expired_and_revoked_tokens_get_a_bare_401(tmp_path: Path) -> None:
    reasoner = FakeReasoner()
    clock = Clock()
    async for cloud, accounts, users in _cloud(tmp_path, reasoner, HashingEmbedder(), clock):
        _remember(users, "alice", FACT)
        device = accounts.add_device("alice", "laptop")
        session = accounts.session_token(device)
        payload, signature = session.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claims["u"] = "mallory"  # someone else's name under alice's signature
        forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
        forged = forged_payload.decode() + "." + signature
        assert cloud.openai_url is not None
        url = f"{cloud.openai_url}/chat/completions"
        body = {"model": MODEL_NAME, "messages": [{"role": "user", "content": QUESTION}]}
        errors: list[dict[str, object]] = []
        async with aiohttp.ClientSession() as http:
            async with http.post(url, json=body) as response:  # no Authorization at all
                assert response.status == 401
                errors.append((await response.json())["error"])
            for bad in ("", "not-a-token", forged, session + "x"):
                async with http.post(
                    url, json=body, headers={"Authorization": f"Bearer {bad}"}
                ) as response:
                    assert response.status == 401, bad
                    errors.append((await response.json())["error"])
        clock.now += 3600  # the session token (15 minutes) has expired; the device's has not
        async with _client(cloud.openai_url, session) as client:
            with pytest.raises(openai.AuthenticationError) as raised:
                await client.chat.completions.create(
                    model=MODEL_NAME, messages=[{"role": "user", "content": QUESTION}]
                )
        assert raised.value.status_code == 401
        assert accounts.revoke_device("alice", accounts.devices("alice")[0].id)
        async with _client(cloud.openai_url, device) as client:
            with pytest.raises(openai.AuthenticationError):
                await client.models.list()
    assert reasoner.prompts == []  # nothing reached the model
    # The same answer whatever was wrong: no hint of forged versus expired versus unknown.
    assert all(e == errors[0] for e in errors)
    assert errors[0]["message"] == "invalid or missing token"


async def test_the_local_stack_takes_the_gateways_tokens(tmp_path: Path) -> None:
    """What `companion serve --openai-port` runs: the gateway's accounts guard the endpoint."""
    accounts = Accounts(tmp_path / "gateway")
    users = UserDirectory(tmp_path / "cloud", HashingEmbedder())
    _remember(users, "alice", FACT)
    reasoner = FakeReasoner()
    models = Models(transcriber=FakeTranscriber(), reasoner=reasoner, users=users)
    try:
        config = CloudConfig(openai_port=0)
        async with local_stack(models, cloud_config=config, accounts=accounts) as stack:
            url = stack.cloud.openai_url
            assert url is not None
            async with _client(url, "made-up") as client:
                with pytest.raises(openai.AuthenticationError):
                    await client.models.list()
            async with _client(url, accounts.add_device("alice", "script")) as client:
                await client.chat.completions.create(
                    model=MODEL_NAME, messages=[{"role": "user", "content": QUESTION}]
                )
    finally:
        users.close()
        accounts.close()
    assert "Your car is parked on level 3" in _text(reasoner.prompts[0])


def test_the_clients_history_sits_between_the_examples_and_the_question() -> None:
    now = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
    memory = Memory(
        id="m1",
        user="alice",
        text=FACT,
        time=now - timedelta(hours=1),
        kind=MemoryKind.FACT,
        source="conversation",
        source_id=None,
        place=None,
        importance=0.5,
        created=now,
        updated=now,
    )
    chat = [
        ChatMessage(role="system", content="Reply in English."),
        ChatMessage(role="user", content="hi"),
        ChatMessage(role="assistant", content="Hello!"),
        ChatMessage(role="user", content=QUESTION, images=(b"\xff\xd8",)),
    ]
    out = with_memories(chat, [memory], now=now, mode="fast")
    assert out[0].role == "system" and out[0].content.endswith("Reply in English.")
    assert out[-3:-1] == chat[1:3]
    assert out[-1].content.endswith(f"Question: {QUESTION}")
    assert "Your car is parked on level 3" in out[-1].content
    assert out[-1].images == (b"\xff\xd8",)


@pytest.mark.models
async def test_qwen_answers_a_user_from_their_own_memory(
    tmp_path: Path, qwen: Reasoner, minilm: Embedder
) -> None:
    reasoner = RecordingReasoner(qwen)
    async for cloud, accounts, users in _cloud(tmp_path, reasoner, minilm, Clock()):
        _remember(users, "alice", FACT)
        answers: dict[str, str] = {}
        assert cloud.openai_url is not None
        for user in ("alice", "bob"):
            async with _client(cloud.openai_url, accounts.add_device(user, "laptop")) as client:
                completion = await client.chat.completions.create(
                    model=MODEL_NAME,
                    messages=[{"role": "user", "content": QUESTION}],
                    max_tokens=32,
                )
            answers[user] = completion.choices[0].message.content or ""
    print(f"\nalice: {answers['alice']!r}\nbob: {answers['bob']!r}")
    assert "3" in answers["alice"] or "three" in answers["alice"].lower()
    assert "level 3" in _text(reasoner.prompts[0])
    assert "level 3" not in _text(reasoner.prompts[1])
    assert "garage" not in answers["bob"].lower()
