"""The cloud's session port serves only the gateway, and only for the user the gateway vouches for."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from cloud.api.session_server import CloudServer
from cloud.config import CloudConfig
from cloud.conversation import Models
from cloud.memory import HashingEmbedder
from cloud.memory.records import MemoryKind, NewMemory
from cloud.memory.user_data import UserDirectory
from deploy.local_stack import is_loopback, local_stack
from gateway.cloud_link import CloudRefused, connect_cloud
from protocol import AnswerDone, Error, Hello, Message, Query, Sequencer, decode, encode
from protocol.claims import (
    ClaimError,
    SessionClaim,
    authorization_header,
    sign_claim,
    verify_claim,
)
from protocol.secret_file import LINK_SECRET_FILE, SECRET_BYTES, link_secret
from tests.fakes import FakeReasoner, FakeTranscriber

SECRET = b"k" * 32
BOB_SECRET = "Bob's locker code is 4711."


def test_a_claim_verifies_with_its_secret_and_nothing_else() -> None:
    claim = SessionClaim(user="alice", session_id="s1", expires_at=1000.0)
    token = sign_claim(SECRET, claim)

    assert verify_claim(SECRET, token, now=999.0) == claim
    with pytest.raises(ClaimError, match="signature"):
        verify_claim(b"x" * 32, token, now=999.0)
    with pytest.raises(ClaimError, match="expired"):
        verify_claim(SECRET, token, now=1000.5)


def test_a_claim_with_an_edited_user_or_odd_characters_is_refused() -> None:
    token = sign_claim(SECRET, SessionClaim(user="alice", session_id="s1", expires_at=1e12))
    other = sign_claim(SECRET, SessionClaim(user="bob", session_id="s1", expires_at=1e12))
    version, _, signature = token.split(".")
    spliced = f"{version}.{other.split('.')[1]}.{signature}"

    for bad in (spliced, token + "é", "c1.é.é", "", "c1..", "x" * 5000):
        with pytest.raises(ClaimError):
            verify_claim(SECRET, bad, now=0.0)


def _remember(users: UserDirectory, user: str, text: str) -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    users.open(user).memory.add(user, NewMemory(text=text, time=when, kind=MemoryKind.FACT))


@asynccontextmanager
async def _cloud(tmp_path: Path) -> AsyncIterator[tuple[CloudServer, str, FakeReasoner]]:
    users = UserDirectory(tmp_path, HashingEmbedder())
    _remember(users, "bob", BOB_SECRET)
    reasoner = FakeReasoner()
    models = Models(transcriber=FakeTranscriber(), reasoner=reasoner, users=users)
    cloud = CloudServer(models, CloudConfig(port=0, data_dir=tmp_path))
    try:
        async with cloud.running() as server:
            host, port = next(iter(server.sockets)).getsockname()[:2]
            assert is_loopback(host)
            yield cloud, f"ws://127.0.0.1:{port}", reasoner
    finally:
        users.close()


async def _refused_status(url: str, headers: dict[str, str]) -> int:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, additional_headers=headers, open_timeout=5):
            pass
    return refused.value.response.status_code


async def _next(connection: ClientConnection, kind: type[Message]) -> Message:
    async with asyncio.timeout(15):
        while True:
            message = decode(await connection.recv())
            if isinstance(message, kind):
                return message


async def test_a_connection_without_a_claim_is_refused_before_the_upgrade(tmp_path: Path) -> None:
    async with _cloud(tmp_path) as (cloud, url, _):
        assert await _refused_status(url, {}) == 401
        assert await _refused_status(url, {"Authorization": "Bearer whatever"}) == 401
        assert cloud.sessions == {}


async def test_forged_expired_and_replayed_claims_are_refused(tmp_path: Path) -> None:
    async with _cloud(tmp_path) as (cloud, url, _):
        soon = time.time() + 30
        forged = authorization_header(b"f" * 32, SessionClaim("bob", "s1", soon))
        expired = authorization_header(cloud.gateway_secret, SessionClaim("bob", "s2", 1.0))
        assert await _refused_status(url, {"Authorization": forged}) == 401
        assert await _refused_status(url, {"Authorization": expired}) == 401

        good = authorization_header(cloud.gateway_secret, SessionClaim("bob", "s3", soon))
        async with connect(url, additional_headers={"Authorization": good}):
            assert await _refused_status(url, {"Authorization": good}) == 401


async def test_a_browser_origin_is_refused_even_with_a_good_claim(tmp_path: Path) -> None:
    async with _cloud(tmp_path) as (cloud, url, _):
        good = authorization_header(
            cloud.gateway_secret, SessionClaim("alice", "s1", time.time() + 30)
        )
        status = await _refused_status(
            url, {"Authorization": good, "Origin": "https://evil.example"}
        )
        assert status == 403


async def test_the_gateway_link_is_refused_when_the_secrets_differ(tmp_path: Path) -> None:
    async with _cloud(tmp_path) as (_, url, _):
        with pytest.raises(CloudRefused, match="same secret"):
            await connect_cloud(url, user="alice", session_id="s1", secret=b"w" * 32)


async def test_a_claim_for_alice_never_reaches_bobs_memories(tmp_path: Path) -> None:
    async with _cloud(tmp_path) as (cloud, url, reasoner):
        edge = Sequencer("s1")
        async with await connect_cloud(
            url, user="alice", session_id="s1", secret=cloud.gateway_secret
        ) as connection:
            await connection.send(encode(edge.make(Hello, user="bob", device="x")))
            refused = await _next(connection, Error)
            assert isinstance(refused, Error) and refused.code == "wrong_user"
            assert cloud.sessions_of("bob") == []

            # Without an accepted Hello there is no session to ask in.
            await connection.send(encode(edge.make(Query, turn_id=1, text="locker code?")))
            no_session = await _next(connection, Error)
            assert isinstance(no_session, Error) and no_session.code == "hello_required"

            await connection.send(encode(edge.make(Hello, user="alice", device="x")))
            await connection.send(encode(edge.make(Query, turn_id=2, text="locker code?")))
            done = await _next(connection, AnswerDone)
            assert isinstance(done, AnswerDone)
            assert [c.user for c in cloud.sessions.values()] == ["alice"]

    prompts = " ".join(m.content for prompt in reasoner.prompts for m in prompt)
    assert "locker code?" in prompts
    assert "4711" not in prompts and "4711" not in done.text


async def test_a_hello_for_another_session_than_the_claim_is_refused(tmp_path: Path) -> None:
    async with _cloud(tmp_path) as (cloud, url, _):
        other = Sequencer("not-s1")
        async with await connect_cloud(
            url, user="alice", session_id="s1", secret=cloud.gateway_secret
        ) as connection:
            await connection.send(encode(other.make(Hello, user="alice", device="x")))
            refused = await _next(connection, Error)
            assert isinstance(refused, Error) and refused.code == "wrong_session"
            assert cloud.sessions == {}


async def test_the_in_process_stack_keeps_its_cloud_on_loopback_and_still_answers(
    tmp_path: Path,
) -> None:
    users = UserDirectory(tmp_path, HashingEmbedder())
    models = Models(transcriber=FakeTranscriber(), reasoner=FakeReasoner(), users=users)
    try:
        async with local_stack(models, host="0.0.0.0") as stack:
            (server,) = [stack.cloud]
            assert stack.cloud_url.startswith("ws://127.0.0.1:")
            assert stack.gateway.cloud_secret == server.gateway_secret
            assert await _refused_status(stack.cloud_url, {}) == 401
    finally:
        users.close()


async def test_separate_gateway_and_cloud_processes_share_the_link_secret_file(
    tmp_path: Path,
) -> None:
    cloud_side, gateway_side = link_secret(tmp_path), link_secret(tmp_path)
    assert cloud_side == gateway_side and len(cloud_side) == SECRET_BYTES
    assert (tmp_path / LINK_SECRET_FILE).stat().st_mode & 0o777 == 0o600
    models = Models(transcriber=FakeTranscriber(), reasoner=FakeReasoner())
    cloud = CloudServer(models, CloudConfig(port=0, data_dir=tmp_path), gateway_secret=cloud_side)
    async with cloud.running() as server:
        url = f"ws://127.0.0.1:{next(iter(server.sockets)).getsockname()[1]}"
        link = await connect_cloud(url, user="alice", session_id="s1", secret=gateway_side)
        await link.close()
