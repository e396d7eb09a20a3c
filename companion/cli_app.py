"""The phone app's commands: `companion token`, and what `companion serve` adds for the app.

`serve` runs the gateway with accounts, history and the Memory page over the
same per-user stores the cloud writes, and prints a one-time pairing link;
`token` pairs another device for scripts or a second phone.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from companion.cli_support import Subcommands, UsageError, add_setting_flag, settings_of


def register(commands: Subcommands, benchmarks: Subcommands) -> None:
    token = commands.add_parser(
        "token", help="pair a device for a user: print a one-time app link and a device token"
    )
    token.add_argument("--user", required=True, help="whose device (created if new)")
    token.add_argument("--device", default="script", help="a name to recognise the device by")
    token.add_argument("--url", default="http://127.0.0.1:8080", help="the gateway's address")
    add_setting_flag(token, "--data-dir", "data_dir", metavar="DIR")
    token.add_argument("--json", action="store_true")
    token.set_defaults(run=_token)


def gateway_dir(data_dir: Path) -> Path:
    return data_dir / "gateway"


def pairing_link(url: str, code: str) -> str:
    """The code rides in the fragment, so it never reaches a server log or a Referer."""
    return f"{url.rstrip('/')}/#pair={code}"


async def _token(args: argparse.Namespace) -> int:
    from gateway.accounts import Accounts, check_user_name

    try:
        check_user_name(args.user)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    accounts = Accounts(gateway_dir(settings_of(args).data_dir))
    try:
        link = pairing_link(args.url, accounts.pairing_code(args.user))
        device_token = accounts.add_device(args.user, args.device)
        session_token = accounts.session_token(device_token)
    finally:
        accounts.close()
    result = {
        "user": args.user,
        "link": link,
        "device_token": device_token,
        "session_token": session_token,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"open on the phone (once, within 10 minutes): {link}")
        print(f"device token (revocable, for scripts):       {device_token}")
        print(f"session token (15 minutes):                  {session_token}")
    return 0


def app_options(models: Any, data_dir: Path) -> dict[str, Any]:
    """What `local_stack` needs to serve the app with accounts, history and memory."""
    from deploy.app_memory import StoreMemoryAccess
    from edge.models import EdgeModels
    from gateway.accounts import Accounts
    from gateway.history import open_history

    folder = gateway_dir(data_dir)
    accounts = Accounts(folder)
    users = models.users
    return {
        "app_models": EdgeModels(),
        "accounts": accounts,
        # With a store URL History is in that database, shared by every gateway.
        "history": open_history(
            folder / "history.sqlite", store=users.store if users is not None else ""
        ),
        "memory": StoreMemoryAccess(
            lambda user: users.open(user).memory, tools_of=lambda user: users.open(user).tools
        )
        if users is not None
        else None,
    }
