"""Accounts and tokens: pairing, session tokens, revocation, expiry and forgery."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from gateway.accounts import (
    DEVICE_TOKEN_TTL_S,
    SESSION_TOKEN_TTL_S,
    Accounts,
    AuthError,
    check_user_name,
)


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
