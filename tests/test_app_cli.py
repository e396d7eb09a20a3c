"""`companion token`: a pairing link and tokens the gateway accepts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from companion.cli import main
from gateway.accounts import Accounts


def test_token_prints_a_link_and_tokens_the_gateway_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["token", "--user", "alice", "--data-dir", str(tmp_path), "--json"]
    assert main([*argv, "--url", "http://phone.local:8080"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["link"].startswith("http://phone.local:8080/#pair=")
    accounts = Accounts(tmp_path / "gateway")
    assert accounts.verify(printed["device_token"], kind="device").user == "alice"
    assert accounts.verify(printed["session_token"], kind="session").user == "alice"
    code = printed["link"].split("#pair=")[1]
    assert accounts.verify(accounts.redeem_pairing_code(code, "phone")).user == "alice"


def test_token_refuses_an_odd_user_name_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "--user", "../bob", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "user name" in err
