"""`companion devices`: see a user's paired devices and revoke one.

`companion devices --user U` lists U's devices; `companion devices revoke
DEVICE` revokes one. A revoked device's tokens stop working on their next use,
and a running gateway (`companion serve` over the same data folder) ends its
live sessions within a second: it watches the account store for revocations.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import TYPE_CHECKING

from companion.cli_app import gateway_dir
from companion.cli_support import Subcommands, UsageError, add_setting_flag, settings_of

if TYPE_CHECKING:
    from gateway.accounts import Accounts, Device


def register(commands: Subcommands, benchmarks: Subcommands) -> None:
    devices = commands.add_parser(
        "devices",
        help="list a user's paired devices (--user U), or revoke one (revoke DEVICE)",
    )
    devices.add_argument(
        "action",
        nargs="*",
        metavar="revoke DEVICE",
        help="revoke this device: its tokens stop working and its live sessions end",
    )
    devices.add_argument("--user", help="whose devices to list")
    add_setting_flag(devices, "--data-dir", "data_dir", metavar="DIR")
    devices.add_argument("--json", action="store_true")
    devices.set_defaults(run=_devices)


async def _devices(args: argparse.Namespace) -> int:
    from gateway.accounts import Accounts

    if args.action and (len(args.action) != 2 or args.action[0] != "revoke"):
        raise UsageError("expected `companion devices revoke DEVICE` or `--user USER`")
    if not args.action and not args.user:
        raise UsageError("say whose devices to list (--user USER), or `revoke DEVICE`")
    accounts = Accounts(gateway_dir(settings_of(args).data_dir))
    try:
        if args.action:
            return _revoke(accounts, args.action[1], as_json=args.json)
        _print_devices(accounts.devices(args.user), as_json=args.json)
        return 0
    finally:
        accounts.close()


def _revoke(accounts: Accounts, device_id: str, *, as_json: bool) -> int:
    device = accounts.device(device_id)
    if device is None:
        raise UsageError(f"no device {device_id!r}; `companion devices --user USER` lists them")
    newly = accounts.revoke_device(device.user, device.id)
    if as_json:
        print(json.dumps({"device": device.id, "user": device.user, "revoked": True}))
    elif newly:
        print(f"revoked {device.id} ({device.user}'s {device.name!r}); its live sessions end now")
    else:
        print(f"{device.id} ({device.user}'s {device.name!r}) was already revoked")
    return 0


def _print_devices(devices: list[Device], *, as_json: bool) -> None:
    if as_json:
        for device in devices:
            print(
                json.dumps(
                    {
                        "device": device.id,
                        "user": device.user,
                        "name": device.name,
                        "created": device.created,
                        "revoked": device.revoked,
                    }
                )
            )
        return
    if not devices:
        print("no devices paired")
    for device in devices:
        state = "revoked " + _when(device.revoked) if device.revoked is not None else "active"
        print(f"{device.id}  {device.name!r:24}  paired {_when(device.created)}  {state}")


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(at))
