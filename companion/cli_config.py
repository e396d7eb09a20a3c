"""`companion config show [--json]`: every setting's effective value and where it came from.

The value is what a command run with the same environment, file and `--config`
would use; the source is `default`, `file PATH`, `env VAR` or `flag --FLAG`.
Secrets are masked: the output is safe to paste into a bug report.
"""

from __future__ import annotations

import argparse
import json

from companion.cli_support import Subcommands, settings_of


def register(commands: Subcommands, benchmarks: Subcommands) -> None:
    config = commands.add_parser("config", help="show the settings and where each came from")
    actions = config.add_subparsers(required=True, metavar="action")
    show = actions.add_parser(
        "show", help="print every setting's value and source (default, file, env, flag)"
    )
    show.add_argument("--json", action="store_true", help="print one JSON object")
    show.set_defaults(run=_show)


async def _show(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    rows = settings.shown()
    config_file = str(settings.config_file) if settings.config_file else None
    if args.json:
        print(json.dumps({"config_file": config_file, "settings": rows}))
        return 0
    print(f"# settings file: {config_file or 'none'}")
    width = max(len(row["name"]) for row in rows)
    for row in rows:
        value = "unset" if row["value"] is None else json.dumps(row["value"])
        print(f"{row['name']:<{width}} = {value}  ({row['source']}; {row['env']})")
    return 0
