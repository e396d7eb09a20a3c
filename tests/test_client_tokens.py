"""`companion replay --gateway` and `companion edge` present a device token to a gateway
with accounts (flag `--token`, setting `token`, COMPANION_TOKEN): refused "unauthorized"
without one, answered with one. The gateway runs here with accounts, as `serve` runs it."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cloud.conversation import Models
from companion.cli import _parser
from companion.settings import load_settings
from deploy.local_stack import Stack, local_stack
from edge.link.client import GatewayClient, GatewayUnreachable
from edge.models import EdgeModels
from gateway.accounts import Accounts
from tests.fakes import FakeReasoner, FakeTranscriber

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Stack, Accounts]]:
    accounts = Accounts(tmp_path / "gateway")
    models = Models(transcriber=FakeTranscriber(), reasoner=FakeReasoner())
    try:
        async with local_stack(models, app_models=EdgeModels(), accounts=accounts) as stack:
            yield stack, accounts
    finally:
        accounts.close()


async def _companion(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "companion",
        *args,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 240)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_replay_gateway_is_refused_unauthorized_without_a_token_and_answered_with_one(
    served: tuple[Stack, Accounts],
) -> None:
    stack, accounts = served
    device_token = accounts.add_device("alice", "laptop")
    ask = ("replay", "--gateway", stack.gateway_url, "--text", "hello?", "--json")
    code, _, err = await _companion(*ask)
    assert code == 1
    assert "unauthorized" in err and "Traceback" not in err
    code, out, err = await _companion(*ask, "--token", device_token)
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert any(r["type"] == "answer" for r in records)
    # The same token from the environment.
    code, out, err = await _companion(*ask, env={"COMPANION_TOKEN": device_token})
    assert code == 0, err


async def test_a_gateway_with_accounts_refuses_an_edge_session_without_a_valid_token(
    served: tuple[Stack, Accounts],
) -> None:
    stack, accounts = served
    device_token = accounts.add_device("alice", "glasses")
    for token in (None, "forged"):
        with pytest.raises(GatewayUnreachable, match="unauthorized"):
            async with GatewayClient(stack.gateway_url, token=token):
                pass
    # A device token is exchanged for a fresh session token on every connect (so a link
    # that reconnects after the last one expired still gets in); a session token is
    # presented as it is.
    session_token = accounts.session_token(device_token)
    for token in (device_token, session_token):
        async with GatewayClient(stack.gateway_url, token=token) as link:
            assert link.session_id
            assert stack.gateway.sessions[link.session_id].user == "alice"
    accounts.revoke_device("alice", accounts.verify(session_token).device)
    with pytest.raises(GatewayUnreachable, match="unauthorized"):
        async with GatewayClient(stack.gateway_url, token=device_token):
            pass


def test_the_token_is_a_secret_setting_from_flag_or_environment() -> None:
    args = _parser().parse_args(["edge", "--gateway", "http://x", "--token", "T1"])
    assert args.settings.token == "T1"
    args = _parser().parse_args(["replay", "--text", "hi", "--token", "T2"])
    assert args.settings.token == "T2"
    settings = load_settings(environ={"COMPANION_TOKEN": "T3"})
    assert settings.token == "T3" and settings.source("token").where == "COMPANION_TOKEN"
    shown = {row["name"]: row for row in settings.shown()}
    assert "T3" not in json.dumps(shown["token"])
    assert "T3" not in repr(settings)


async def test_a_gateway_with_accounts_but_no_app_routes_still_refuses_a_session_without_a_token(
    tmp_path: Path,
) -> None:
    accounts = Accounts(tmp_path / "gateway")
    models = Models(transcriber=FakeTranscriber(), reasoner=FakeReasoner())
    try:
        async with local_stack(models, accounts=accounts) as stack:
            with pytest.raises(GatewayUnreachable, match="unauthorized"):
                async with GatewayClient(stack.gateway_url):
                    pass
            assert stack.gateway.sessions == {}
    finally:
        accounts.close()
