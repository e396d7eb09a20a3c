"""Accounts and tokens: pairing, session tokens, revocation, expiry and forgery."""

from __future__ import annotations

import asyncio
import base64
import json
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from cloud.memory import HashingEmbedder, MemoryKind, NewMemory
from cloud.memory.user_data import UserDirectory, user_file
from companion.cli import main
from edge.link.webrtc import CONTEXT_CHANNEL, rtc_configuration
from edge.models import EdgeModels
from gateway.accounts import (
    DEVICE_TOKEN_TTL_S,
    SESSION_TOKEN_TTL_S,
    Accounts,
    AuthError,
    check_user_name,
)
from gateway.history import History
from protocol.limits import MAX_SESSIONS_PER_USER
from protocol.secret_file import SECRET_BYTES, load_or_create_secret
from tests.app_client import AppLink
from tests.app_stack import app_stack
from tests.fakes import FakeReasoner, FakeTranscriber


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def accounts(tmp_path: Path, clock: Clock) -> Accounts:
    return Accounts(tmp_path, clock=clock)


def test_pairing_code_gives_a_device_token_once(accounts: Accounts) -> None:
    code = accounts.pairing_code("alice")
    device_token = accounts.redeem_pairing_code(code, "phone")
    principal = accounts.verify(device_token, kind="device")
    assert principal.user == "alice" and principal.kind == "device"
    with pytest.raises(AuthError, match="already used"):
        accounts.redeem_pairing_code(code, "another phone")
    assert [d.name for d in accounts.devices("alice")] == ["phone"]


def test_pairing_code_expires(accounts: Accounts, clock: Clock) -> None:
    code = accounts.pairing_code("alice", ttl_s=60)
    clock.now += 61
    with pytest.raises(AuthError, match="expired"):
        accounts.redeem_pairing_code(code, "phone")
    with pytest.raises(AuthError, match="unknown"):
        accounts.redeem_pairing_code("made-up-code", "phone")


def test_session_token_is_short_lived(accounts: Accounts, clock: Clock) -> None:
    session = accounts.session_token(accounts.add_device("alice", "phone"))
    assert accounts.verify(session, kind="session").user == "alice"
    clock.now += SESSION_TOKEN_TTL_S + 1
    with pytest.raises(AuthError, match="expired"):
        accounts.verify(session)


def test_device_token_outlives_sessions_but_not_its_year(accounts: Accounts, clock: Clock) -> None:
    device = accounts.add_device("alice", "phone")
    clock.now += SESSION_TOKEN_TTL_S * 10
    assert accounts.verify(accounts.session_token(device)).user == "alice"
    clock.now += DEVICE_TOKEN_TTL_S
    with pytest.raises(AuthError, match="expired"):
        accounts.session_token(device)


def test_revoking_a_device_ends_its_tokens_and_sessions(accounts: Accounts) -> None:
    device = accounts.add_device("alice", "phone")
    session = accounts.session_token(device)
    device_id = accounts.verify(device).device
    assert not accounts.revoke_device("bob", device_id), "only the owner may revoke"
    assert accounts.revoke_device("alice", device_id)
    for token in (device, session):
        with pytest.raises(AuthError, match="revoked"):
            accounts.verify(token)


def test_a_token_of_one_kind_does_not_pass_for_the_other(accounts: Accounts) -> None:
    device = accounts.add_device("alice", "phone")
    with pytest.raises(AuthError, match="device token where a session token"):
        accounts.verify(device, kind="session")
    with pytest.raises(AuthError):
        accounts.session_token(accounts.session_token(device))


def test_forged_tokens_are_refused(accounts: Accounts, tmp_path: Path) -> None:
    real = accounts.session_token(accounts.add_device("alice", "phone"))
    payload, signature = real.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["u"] = "bob"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    for token in (f"{forged}.{signature}", "", "a.b.c", "x" * 5000, f"{payload}.AAAA", payload):
        with pytest.raises(AuthError):
            accounts.verify(token)
    # Another gateway's secret signs tokens this one does not accept.
    other = Accounts(tmp_path / "other")
    with pytest.raises(AuthError, match="signature"):
        accounts.verify(other.session_token(other.add_device("alice", "phone")))


def test_the_secret_persists_and_is_private(tmp_path: Path, clock: Clock) -> None:
    first = Accounts(tmp_path, clock=clock)
    token = first.session_token(first.add_device("alice", "phone"))
    first.close()
    assert Accounts(tmp_path, clock=clock).verify(token).user == "alice"
    assert (tmp_path / "gateway.secret").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("name", ["", "a/b", "../x", "x" * 65, "bob smith", "<script>"])
def test_odd_user_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="user name"):
        check_user_name(name)


def _create_secret(path: str, start: Any, results: Any) -> None:
    start.wait()
    results.put(load_or_create_secret(Path(path)).hex())


def test_two_processes_creating_the_signing_key_at_once_share_one_full_key(
    tmp_path: Path,
) -> None:
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(4), context.Queue()
    path = tmp_path / "keys" / "gateway.secret"
    workers = [
        context.Process(target=_create_secret, args=(str(path), start, results)) for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    keys = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert len(set(keys)) == 1 and len(bytes.fromhex(keys[0])) == SECRET_BYTES
    assert path.read_bytes().hex() == keys[0]
    assert [p.name for p in path.parent.iterdir()] == ["gateway.secret"], "no temp file left"


def test_threads_creating_the_signing_key_at_once_share_one_full_key(tmp_path: Path) -> None:
    path = tmp_path / "gateway.secret"
    start = threading.Barrier(8)

    def create() -> bytes:
        start.wait()
        return load_or_create_secret(path)

    with ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(lambda _: create(), range(8)))
    assert len(set(keys)) == 1 and len(keys[0]) == SECRET_BYTES


def test_an_empty_or_short_key_file_is_refused_not_used(tmp_path: Path) -> None:
    (tmp_path / "gateway.secret").write_bytes(b"")
    with pytest.raises(AuthError, match="delete it"):
        Accounts(tmp_path)


def test_account_and_memory_folders_are_0700_and_their_files_0600(tmp_path: Path) -> None:
    accounts = Accounts(tmp_path / "data" / "gateway")
    accounts.add_device("alice", "phone")
    history = History(tmp_path / "data" / "gateway" / "history.sqlite")
    history.record_question("alice", "s", 1, "what is this?")
    users = UserDirectory(tmp_path / "cloud", HashingEmbedder())
    users.open("alice").memory.add(
        "alice", NewMemory(text="x", time=datetime(2026, 1, 1, tzinfo=UTC), kind=MemoryKind.FACT)
    )
    try:
        folders = [
            tmp_path / "data",
            tmp_path / "data" / "gateway",
            tmp_path / "cloud",
            user_file(tmp_path / "cloud", "a").parent,
        ]
        files = [
            *(tmp_path / "data" / "gateway").iterdir(),
            *user_file(tmp_path / "cloud", "alice").parent.iterdir(),
        ]
        assert {oct(f.stat().st_mode & 0o777) for f in folders} == {"0o700"}
        assert any(f.name.endswith("-wal") for f in files), "the WAL files are checked too"
        assert {f.name: oct(f.stat().st_mode & 0o777) for f in files} == {
            f.name: "0o600" for f in files
        }
    finally:
        users.close()
        history.close()
        accounts.close()


@pytest.mark.parametrize("signature", ["é", "\u200bAAAA", "AAAA\udc80", "😀" * 10])
def test_a_non_ascii_signature_is_a_refused_token_not_a_crash(
    accounts: Accounts, signature: str
) -> None:
    payload = accounts.session_token(accounts.add_device("alice", "phone")).split(".")[0]
    with pytest.raises(AuthError, match="malformed"):
        accounts.verify(f"{payload}.{signature}")


def test_devices_lists_a_users_devices_and_revoke_revokes_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    accounts = Accounts(tmp_path / "gateway")
    phone = accounts.verify(accounts.add_device("alice", "phone")).device
    accounts.add_device("alice", "laptop")
    accounts.add_device("bob", "phone")
    flags = ["--data-dir", str(tmp_path)]

    assert main(["devices", "--user", "alice", "--json", *flags]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(d["name"], d["revoked"]) for d in listed] == [("phone", None), ("laptop", None)]

    assert main(["devices", "revoke", phone, *flags]) == 0
    assert "revoked" in capsys.readouterr().out
    assert accounts.revoked_among({("alice", phone)}) == {("alice", phone)}
    assert main(["devices", "revoke", "d-nosuch", *flags]) == 2
    assert main(["devices", *flags]) == 2
    accounts.close()


@pytest.fixture(scope="module")
def edge_models() -> EdgeModels:
    return EdgeModels()


async def _edge_session(url: str, token: str) -> RTCPeerConnection:
    """An edge client's session (POST /v1/sessions) with a device's session token."""
    pc = RTCPeerConnection(rtc_configuration())
    channel = pc.createDataChannel(CONTEXT_CHANNEL, ordered=True)
    opened = asyncio.Event()
    channel.on("open", opened.set)
    await pc.setLocalDescription(await pc.createOffer())
    offer = {"sdp": pc.localDescription.sdp, "type": "offer"}
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {token}"}
        async with http.post(f"{url}/v1/sessions", json=offer, headers=headers) as reply:
            assert reply.status == 200, await reply.text()
            answer = await reply.json()
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
    async with asyncio.timeout(20):
        await opened.wait()
    return pc


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(20):
        while not condition():
            await asyncio.sleep(0.02)


async def test_revoking_a_device_ends_its_live_app_and_edge_sessions_at_once(
    tmp_path: Path, edge_models: EdgeModels
) -> None:
    async with app_stack(
        tmp_path, edge_models, FakeTranscriber(), FakeReasoner(), HashingEmbedder()
    ) as app:
        phone = app.accounts.add_device("alice", "phone")
        kept = app.accounts.add_device("alice", "laptop")
        link = AppLink(app.url, app.accounts.session_token(phone))
        await link.connect()
        edge = await _edge_session(app.url, app.accounts.session_token(phone))
        other = await _edge_session(app.url, app.accounts.session_token(kept))
        gateway, live = app.stack.gateway, app.stack.app
        assert live is not None
        payload = app.accounts.session_token(phone).split(".")[0]
        async with aiohttp.ClientSession() as http:
            headers = {"Authorization": f"Bearer {payload}.\u00e9t\u00e9"}
            async with http.get(f"{app.url}/v1/memories", headers=headers) as reply:
                assert reply.status == 401
        assert len(gateway.sessions) == 2 and len(live.sessions) == 1

        app.accounts.revoke_device("alice", app.accounts.verify(phone).device)
        await _until(lambda: len(gateway.sessions) == 1 and not live.sessions)
        await _until(lambda: edge.connectionState == "closed" or edge.connectionState == "failed")
        assert other.connectionState == "connected"
        await asyncio.gather(link.drop(), edge.close(), other.close())


async def test_a_device_revoked_by_another_process_loses_its_live_session(
    tmp_path: Path, edge_models: EdgeModels
) -> None:
    async with app_stack(
        tmp_path, edge_models, FakeTranscriber(), FakeReasoner(), HashingEmbedder()
    ) as app:
        phone = app.accounts.add_device("alice", "phone")
        edge = await _edge_session(app.url, app.accounts.session_token(phone))
        gateway = app.stack.gateway
        assert len(gateway.sessions) == 1
        # What `companion devices revoke` does: its own Accounts over the same files.
        elsewhere = Accounts(tmp_path / "gateway")
        elsewhere.revoke_device("alice", elsewhere.verify(phone).device)
        elsewhere.close()
        await _until(lambda: not gateway.sessions)
        await edge.close()


async def test_a_user_holds_at_most_a_few_live_sessions_app_and_edge_together(
    tmp_path: Path, edge_models: EdgeModels
) -> None:
    pc = RTCPeerConnection(rtc_configuration())
    pc.createDataChannel(CONTEXT_CHANNEL)
    await pc.setLocalDescription(await pc.createOffer())
    offer = {"sdp": pc.localDescription.sdp, "type": "offer"}
    await pc.close()
    async with app_stack(
        tmp_path, edge_models, FakeTranscriber(), FakeReasoner(), HashingEmbedder()
    ) as app:
        link = AppLink(app.url, app.session_token("alice"))
        await link.connect()

        async def open_edge(user: str) -> tuple[int, str]:
            headers = {"Authorization": f"Bearer {app.session_token(user)}"}
            async with aiohttp.ClientSession() as http:
                async with http.post(f"{app.url}/v1/sessions", json=offer, headers=headers) as r:
                    return r.status, await r.text()

        replies = [await open_edge("alice") for _ in range(MAX_SESSIONS_PER_USER)]
        assert [status for status, _ in replies] == [200] * (MAX_SESSIONS_PER_USER - 1) + [429]
        assert "live sessions per user" in replies[-1][1]
        assert (await open_edge("bob"))[0] == 200
        await link.drop()
