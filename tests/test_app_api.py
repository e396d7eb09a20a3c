"""The app's HTTP API and live sessions: who may see what, limits, and reconnects.

Fake cloud models; real accounts, stores, edge models and WebRTC on loopback.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cloud.memory import HashingEmbedder, MemoryKind, MemoryNotFoundError, NewMemory
from cloud.memory.sqlite_store import SqliteMemoryStore
from edge.link.client import GatewayClient
from edge.models import EdgeModels
from gateway.accounts import Accounts
from gateway.routes.rate_limits import Limit
from gateway.sessions.settings import FACE_BLUR_LOCKED
from protocol import (
    MAX_MESSAGE_BYTES,
    MAX_TEXT_CHARS,
    AnswerDelta,
    AnswerDone,
    Control,
    DeviceStatus,
    Error,
    Hello,
    Query,
    Sequencer,
)
from tests.app_client import AppLink
from tests.app_stack import AppStack, app_stack
from tests.fakes import FakeReasoner, FakeTranscriber
from tests.waiting import until


@pytest.fixture(scope="module")
def edge_models() -> EdgeModels:
    return EdgeModels()


@pytest.fixture
async def app(tmp_path: Path, edge_models: EdgeModels) -> AsyncIterator[AppStack]:
    async with app_stack(
        tmp_path, edge_models, FakeTranscriber(), FakeReasoner(delay_s=0.1), HashingEmbedder()
    ) as running:
        yield running


async def _call(
    app: AppStack, method: str, path: str, token: str | None, **kwargs: Any
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with aiohttp.ClientSession() as http:
        async with http.request(method, app.url + path, headers=headers, **kwargs) as reply:
            return reply.status, await reply.json(content_type=None)


async def test_expired_forged_revoked_or_missing_tokens_get_a_bare_401(app: AppStack) -> None:
    device = app.accounts.add_device("alice", "phone")
    session = app.accounts.session_token(device)
    short = app.accounts.session_token(device, ttl_s=-1)
    forged = session[:-4] + ("AAAA" if not session.endswith("AAAA") else "BBBB")
    assert (await _call(app, "GET", "/v1/memories", session))[0] == 200
    app.accounts.revoke_device("alice", app.accounts.verify(device).device)
    for token in (None, "", "nonsense", forged, short, session, device):
        status, body = await _call(app, "GET", "/v1/memories", token)
        assert (status, body) == (401, {"error": "unauthorized"}), token


async def test_a_device_token_only_buys_a_session_token(app: AppStack) -> None:
    device = app.accounts.add_device("alice", "phone")
    assert (await _call(app, "GET", "/v1/memories", device))[0] == 401
    status, body = await _call(app, "POST", "/v1/token", device)
    assert status == 200 and body["user"] == "alice"
    assert (await _call(app, "GET", "/v1/memories", body["session_token"]))[0] == 200


async def test_pairing_link_code_works_once(app: AppStack) -> None:
    code = app.accounts.pairing_code("carol")
    status, body = await _call(app, "POST", "/v1/pair", None, json={"code": code, "device": "p"})
    assert status == 200 and body["user"] == "carol"
    again = await _call(app, "POST", "/v1/pair", None, json={"code": code, "device": "p"})
    assert again == (401, {"error": "unauthorized"})


async def test_one_user_can_never_reach_another_users_memory(app: AppStack) -> None:
    alice, bob = app.session_token("alice"), app.session_token("bob")
    status, memory = await _call(
        app, "POST", "/v1/memories", alice, json={"text": "My locker code is 4711."}
    )
    assert status == 201
    _, listed = await _call(app, "GET", "/v1/memories", bob)
    assert listed["memories"] == []
    _, found = await _call(app, "GET", "/v1/memories?q=locker", bob)
    assert found["memories"] == []
    _, exported = await _call(app, "GET", "/v1/memories/export", bob)
    assert exported["memories"] == []
    path = f"/v1/memories/{memory['id']}"
    assert (await _call(app, "PATCH", path, bob, json={"text": "mine now"}))[0] == 404
    assert (await _call(app, "DELETE", path, bob))[0] == 404
    _, still = await _call(app, "GET", "/v1/memories", alice)
    assert [m["text"] for m in still["memories"]] == ["My locker code is 4711."]


async def test_memory_can_be_edited_searched_exported_and_deleted(app: AppStack) -> None:
    alice = app.session_token("alice")
    _, memory = await _call(app, "POST", "/v1/memories", alice, json={"text": "Bike is blue."})
    path = f"/v1/memories/{memory['id']}"
    status, edited = await _call(app, "PATCH", path, alice, json={"text": "Bike is red."})
    assert status == 200 and edited["text"] == "Bike is red."
    _, found = await _call(app, "GET", "/v1/memories?q=bike", alice)
    assert [m["text"] for m in found["memories"]] == ["Bike is red."]
    assert found["memories"][0]["source"] == "app" and found["memories"][0]["time"]
    assert (await _call(app, "DELETE", path, alice))[0] == 200
    _, exported = await _call(app, "GET", "/v1/memories/export", alice)
    assert exported["memories"] == []
    assert (await _call(app, "POST", "/v1/memories", alice, json={"text": " "}))[0] == 400


async def test_exceeding_the_rate_limit_gets_429_with_a_clear_message(app: AppStack) -> None:
    assert app.stack.app is not None
    app.stack.app.limiter.limits["api"] = Limit(per_minute=6, burst=2)
    alice, bob = app.session_token("alice"), app.session_token("bob")
    statuses = [(await _call(app, "GET", "/v1/history", alice))[0] for _ in range(3)]
    assert statuses == [200, 200, 429]
    async with aiohttp.ClientSession() as http:
        async with http.get(
            app.url + "/v1/history", headers={"Authorization": f"Bearer {alice}"}
        ) as reply:
            body = await reply.json()
            assert reply.status == 429 and int(reply.headers["Retry-After"]) >= 1
            assert body["error"].startswith("rate limit: at most 6 per minute")
    assert (await _call(app, "GET", "/v1/history", bob))[0] == 200, "bob has his own budget"


async def test_oversized_and_malformed_offers_are_refused(app: AppStack) -> None:
    alice = app.session_token("alice")
    big = await _call(app, "POST", "/v1/app/sessions", alice, data=b"x" * 200_000)
    assert big[0] == 413
    bad = await _call(app, "POST", "/v1/app/sessions", alice, json={"type": "offer"})
    assert bad[0] == 400


async def test_answer_completes_after_the_connection_drops_mid_answer(app: AppStack) -> None:
    link = AppLink(app.url, app.session_token("alice"))
    await link.connect()
    link.send(Hello, user="alice", device="phone")
    link.send(Query, turn_id=0, text="tell me a long story about the sea and the moon")
    await link.wait_for(AnswerDelta)
    await link.drop()
    await asyncio.sleep(0.8)  # down for a while is the scenario: the answer streams to nobody
    await link.connect(resume=True)
    done = await link.wait_for(AnswerDone)
    deltas = "".join(m.text for m in link.received if isinstance(m, AnswerDelta))
    assert isinstance(done, AnswerDone) and done.text.strip() == deltas.strip()
    assert "the sea" in done.text
    assert [m.seq for m in link.received] == list(range(1, len(link.received) + 1))


async def test_another_user_cannot_resume_my_session(app: AppStack) -> None:
    alice = AppLink(app.url, app.session_token("alice"))
    await alice.connect()
    bob = AppLink(app.url, app.session_token("bob"))
    bob.session_id = alice.session_id
    with pytest.raises(PermissionError, match="404"):
        await bob.connect(resume=True)
    await alice.drop()


async def test_an_edge_client_cannot_speak_as_another_user(app: AppStack) -> None:
    async with GatewayClient(app.url, token=app.session_token("alice")) as link:
        out = Sequencer(link.session_id)
        await link.send(out.make(Hello, user="bob", device="glasses"))
        await link.send(out.make(Query, turn_id=1, text="what is my name"))
        async with asyncio.timeout(20):
            async for message in link:
                if isinstance(message, AnswerDone):
                    break
    conversations = list(app.stack.cloud.sessions.values())
    assert all(c.user == "alice" for c in conversations)
    assert app.users.open("bob").memory.count("bob") == 0
    assert app.users.open("alice").memory.count("alice") >= 1


async def test_a_conversation_turn_reaches_history_and_memory_of_its_user_only(
    app: AppStack,
) -> None:
    alice_token = app.session_token("alice")
    link = AppLink(app.url, alice_token)
    await link.connect()
    link.send(Hello, user="alice", device="phone")
    link.send(Query, turn_id=0, text="my umbrella is in the blue cupboard")
    await link.wait_for(AnswerDone)
    _, history = await _call(app, "GET", "/v1/history", alice_token)
    assert history["turns"][0]["question"] == "my umbrella is in the blue cupboard"
    assert "umbrella" in history["turns"][0]["answer"]
    _, memories = await _call(app, "GET", "/v1/memories?q=umbrella", alice_token)
    assert any("umbrella" in m["text"] for m in memories["memories"])
    bob_token = app.session_token("bob")
    assert (await _call(app, "GET", "/v1/history", bob_token))[1]["turns"] == []
    assert (await _call(app, "GET", "/v1/memories?q=umbrella", bob_token))[1]["memories"] == []
    await link.drop()


async def test_glasses_status_reaches_only_their_owners_app(app: AppStack) -> None:
    alice_token, bob_token = app.session_token("alice"), app.session_token("bob")
    alice_app, bob_app = AppLink(app.url, alice_token), AppLink(app.url, bob_token)
    await alice_app.connect()
    await bob_app.connect()
    async with GatewayClient(app.url, token=app.session_token("alice")) as glasses:
        out = Sequencer(glasses.session_id)
        await glasses.send(out.make(Hello, user="alice", device="glasses"))
        await glasses.send(
            out.make(
                DeviceStatus,
                device="openglass-1",
                connection="connected",
                event="battery",
                battery_percent=42,
            )
        )
        status = await alice_app.wait_for(DeviceStatus)
    assert isinstance(status, DeviceStatus) and status.battery_percent == 42
    assert status.session_id == alice_app.session_id
    _, mine = await _call(app, "GET", "/v1/glasses", alice_token)
    assert mine["glasses"]["battery_percent"] == 42
    assert (await _call(app, "GET", "/v1/glasses", bob_token))[1] == {"glasses": None}
    assert not [m for m in bob_app.received if isinstance(m, DeviceStatus)]
    await alice_app.drop()
    await bob_app.drop()


async def test_questions_over_the_limit_or_in_local_only_mode_get_a_clear_error(
    app: AppStack,
) -> None:
    assert app.stack.app is not None
    app.stack.app.limiter.limits["question"] = Limit(per_minute=1, burst=1)
    link = AppLink(app.url, app.session_token("alice"))
    await link.connect()
    link.send(Hello, user="alice", device="phone")
    link.send(Query, turn_id=0, text="first question")
    link.send(Query, turn_id=0, text="second question")
    error = await link.wait_for(Error)
    assert isinstance(error, Error) and error.code == "rate_limited"
    assert error.message.startswith("rate limit: at most 1 per minute (bursts of 1) questions")
    link.received.clear()
    link.send(Control, action="privacy", value="local-only")
    link.send(Query, turn_id=0, text="what is this")
    error = await link.wait_for(Error)
    assert isinstance(error, Error) and error.code == "local_only"
    await link.drop()


async def test_tokens_refused_on_every_route_get_the_same_bare_401(app: AppStack) -> None:
    device = app.accounts.add_device("alice", "phone")
    session = app.accounts.session_token(device)
    expired = app.accounts.session_token(device, ttl_s=-1)
    forged = session.split(".")[0] + "." + "A" * 43
    other_gateway = Accounts(app.accounts.data_dir.parent / "elsewhere")
    foreign = other_gateway.session_token(other_gateway.add_device("alice", "phone"))
    other_gateway.close()
    routes = [
        ("GET", "/v1/me"),
        ("GET", "/v1/history"),
        ("GET", "/v1/memories/export"),
        ("GET", "/v1/history/1/keyframe.jpg"),
        ("POST", "/v1/app/sessions"),
        ("POST", "/v1/sessions"),
        ("POST", "/v1/token"),
    ]
    for token in (expired, forged, foreign, "x" * 5000):
        for method, path in routes:
            status, body = await _call(app, method, path, token, json={"type": "offer"})
            assert (status, body) == (401, {"error": "unauthorized"}), (path, token[:20])


async def test_oversized_data_channel_messages_get_an_error_and_the_session_goes_on(
    app: AppStack,
) -> None:
    link = AppLink(app.url, app.session_token("alice"))
    await link.connect()
    link.send(Hello, user="alice", device="phone")
    link.send(Query, turn_id=0, text="x" * (MAX_TEXT_CHARS + 1))
    too_long = await link.wait_for(Error)
    assert isinstance(too_long, Error) and too_long.code == "bad_message"
    assert str(MAX_TEXT_CHARS) in too_long.message
    link.received.clear()
    link.send_raw(b"\x81" + b"z" * (MAX_MESSAGE_BYTES + 10_000))
    too_big = await link.wait_for(Error)
    assert isinstance(too_big, Error) and too_big.code == "bad_message"
    assert f"over the {MAX_MESSAGE_BYTES} ceiling" in too_big.message
    link.send(Query, turn_id=1, text="is the session still here")
    done = await link.wait_for(AnswerDone)
    assert isinstance(done, AnswerDone) and "still here" in done.text
    await link.drop()


async def test_oversized_api_bodies_and_offers_are_refused_and_the_session_goes_on(
    app: AppStack,
) -> None:
    token = app.session_token("alice")
    link = AppLink(app.url, token)
    await link.connect()
    link.send(Hello, user="alice", device="phone")
    huge = {"text": "y" * 100_000}
    assert await _call(app, "POST", "/v1/memories", token, json=huge) == (
        413,
        {"error": "request too large"},
    )
    status, body = await _call(app, "POST", "/v1/memories", token, json={"text": "y" * 4001})
    assert status == 400 and "4000 characters" in body["error"]
    resume = {"type": "offer", "sdp": "v=0\r\n" + "a=x\r\n" * 40_000, "resume": link.session_id}
    status, _ = await _call(app, "POST", "/v1/app/sessions", token, json=resume)
    assert status == 413
    status, body = await _call(
        app, "POST", "/v1/app/sessions", token, json=resume | {"sdp": "not sdp"}
    )
    assert status == 400 and body["error"].startswith("unusable SDP offer")
    link.send(Query, turn_id=0, text="are you there after all that")
    done = await link.wait_for(AnswerDone)
    assert isinstance(done, AnswerDone) and "after all that" in done.text
    assert link.session_id in app.stack.app.sessions  # type: ignore[union-attr]
    await link.drop()


async def test_face_blur_cannot_be_switched_off_and_the_app_is_told_why(app: AppStack) -> None:
    link = AppLink(app.url, app.session_token("alice"))
    await link.connect()
    link.send(Hello, user="alice", device="phone")
    link.send(Control, action="face_blur", value="off")
    refusal = await link.wait_for(Error)
    assert isinstance(refusal, Error) and refusal.code == "face_blur_locked"
    assert refusal.message == FACE_BLUR_LOCKED and "no-camera" in refusal.message
    link.received.clear()
    link.send(Control, action="face_blur", value="on")
    link.send(Query, turn_id=0, text="still answering with blur on")
    done = await link.wait_for(AnswerDone)
    assert isinstance(done, AnswerDone)
    assert not [m for m in link.received if isinstance(m, Error)]
    await link.drop()


async def test_retention_deletes_old_memories_for_good_and_keeps_recent_ones(
    app: AppStack,
) -> None:
    store = app.users.open("alice").memory
    now = datetime.now(UTC)
    old = store.add(
        "alice",
        NewMemory(
            text="Old secret: the safe code is 9931.",
            time=now - timedelta(days=10),
            kind=MemoryKind.EXPLICIT,
            source="app",
        ),
    )
    recent = store.add(
        "alice",
        NewMemory(
            text="My bike is the green one.",
            time=now - timedelta(days=2),
            kind=MemoryKind.EXPLICIT,
            source="app",
        ),
    )
    bobs = app.users.open("bob").memory.add(
        "bob",
        NewMemory(text="Bob's old note.", time=now - timedelta(days=30), kind=MemoryKind.EXPLICIT),
    )
    token = app.session_token("alice")
    link = AppLink(app.url, token)
    await link.connect()
    link.send(Hello, user="alice", device="phone")
    link.send(Control, action="retention", value="7")
    await until(lambda: store.count("alice") == 1, timeout_s=20)
    with pytest.raises(MemoryNotFoundError):
        store.get("alice", old.id)
    _, exported = await _call(app, "GET", "/v1/memories/export", token)
    assert [m["id"] for m in exported["memories"]] == [recent.id]
    _, found = await _call(app, "GET", "/v1/memories?q=safe%20code", token)
    assert all(m["id"] != old.id for m in found["memories"])
    # Compacted: the deleted text is nowhere on disk, not just out of search.
    assert isinstance(store, SqliteMemoryStore)
    path = store.path
    on_disk = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    assert b"9931" not in on_disk and b"green one" in on_disk
    assert app.users.open("bob").memory.get("bob", bobs.id).id == bobs.id, "bob keeps his"
    assert not [m for m in link.received if isinstance(m, Error)]
    await link.drop()


async def test_retention_covers_history_and_memory_through_their_stores(app: AppStack) -> None:
    assert app.stack.app is not None and app.stack.app.history is not None
    history = app.stack.app.history
    history.record_question("alice", "s1", 0, "what was that")
    app.users.open("alice").memory.add(
        "alice",
        NewMemory(text="Parked on level 3.", time=datetime.now(UTC), kind=MemoryKind.EXPLICIT),
    )
    # Everything counts as old under a retention of zero seconds.
    turns, memories = await app.stack.app.enforce_retention("alice", 0.0)
    assert (turns, memories) == (1, 1)
    assert history.turns("alice") == [] and app.users.open("alice").memory.count("alice") == 0


async def test_the_phones_speech_reaches_the_cloud_without_a_second_lossy_encoding(
    app: AppStack,
) -> None:
    token = app.session_token("alice")
    link = AppLink(app.url, token)
    await link.connect()
    link.send(Hello, user="alice", device="phone")
    link.send(Query, turn_id=0, text="hello")
    await link.wait_for(AnswerDone)
    session = app.stack.app.sessions[link.session_id]  # type: ignore[union-attr]
    assert session.runtime.config.speech_codec == "pcm"
    await link.drop()
