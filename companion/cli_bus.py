"""`companion gateway` and `companion cloud` on a Redis bus, and `companion bench load`.

One machine runs `companion serve` (gateway and cloud in one process). Past
one machine, any number of gateways (`companion gateway --bus redis://…`) and
cloud workers (`companion cloud --bus redis://…`) share turns through Redis
(deploy/bus); all of them need the same bus secret (COMPANION_BUS_SECRET, or the
same data_dir's bus.secret) and, for shared memories, the same `--store`.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import signal
from pathlib import Path

from companion.cli_support import (
    Subcommands,
    UsageError,
    add_setting_flag,
    print_result,
    progress_printer,
    settings_of,
)
from companion.settings import Settings


def register(commands: Subcommands, benchmarks: Subcommands) -> None:
    gateway = commands.add_parser(
        "gateway", help="a gateway alone: edge sessions in, turns out to workers over --bus"
    )
    add_setting_flag(gateway, "--bus", "bus")
    add_setting_flag(gateway, "--host", "gateway.host")
    add_setting_flag(gateway, "--port", "gateway.port", help="gateway HTTP port (0: any free)")
    add_setting_flag(gateway, "--data-dir", "data_dir")
    add_setting_flag(gateway, "--max-sessions", "gateway.max_sessions")
    gateway.set_defaults(run=_gateway)

    cloud = commands.add_parser(
        "cloud", help="a cloud worker: answers turns from any gateway over --bus"
    )
    add_setting_flag(cloud, "--bus", "bus")
    add_setting_flag(cloud, "--store", "store")
    add_setting_flag(cloud, "--data-dir", "data_dir")
    add_setting_flag(cloud, "--asr-model", "cloud.asr_model", metavar="DIR")
    cloud.add_argument(
        "--instant",
        action="store_true",
        help="LOAD TESTS ONLY: answer and hear speech at once, without any model",
    )
    cloud.set_defaults(run=_cloud)

    load = benchmarks.add_parser(
        "load", help="concurrent sessions through real WebRTC into gateways and workers on Redis"
    )
    load.add_argument("--sessions", type=int, default=20)
    load.add_argument("--gateways", type=int, default=2)
    load.add_argument("--workers", type=int, default=2)
    load.add_argument("--turns", type=int, default=5, help="questions each session asks")
    add_setting_flag(load, "--store", "store")
    add_setting_flag(load, "--bus", "bus", help="a running Redis (default: start one here)")
    load.add_argument(
        "--kill-worker-at", type=float, metavar="S", help="SIGKILL the busiest worker at S s"
    )
    load.add_argument(
        "--kill-gateway-at",
        type=float,
        metavar="S",
        help="SIGKILL one gateway at S s (its sessions reconnect to another and resend)",
    )
    load.add_argument(
        "--instant", action="store_true", help="workers answer without models (load-test backends)"
    )
    load.add_argument("--json", action="store_true")
    load.set_defaults(run=_bench_load)


def _bus_of(settings: Settings) -> str:
    if not settings.bus:
        raise UsageError("give --bus redis://host:port/db (or set COMPANION_BUS)")
    return settings.bus


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def _gateway(args: argparse.Namespace) -> int:
    import time

    from companion.cli_app import gateway_dir
    from deploy.bus.runtime import bus_secret, gateway_on_bus, redis_client
    from gateway.accounts import Accounts
    from gateway.routes.auth import AppAuth
    from gateway.routes.pairing import PairingRoutes
    from gateway.routes.rate_limits import DEFAULT_LIMITS, RateLimiter
    from gateway.server import Gateway

    settings = settings_of(args)
    bus = _bus_of(settings)
    secret = bus_secret(settings.bus_secret, settings.data_dir)
    accounts = Accounts(gateway_dir(settings.data_dir))
    gateway = Gateway(settings.gateway_config(), cloud_secret=secret)
    # Every session needs a token (`companion token`), as with `serve`.
    gateway.app.middlewares.append(
        AppAuth(accounts, RateLimiter(dict(DEFAULT_LIMITS)), time.monotonic).middleware
    )
    gateway.app.add_routes(PairingRoutes(accounts).routes())
    gateway.watch_revocations(accounts)
    try:
        async with (
            redis_client(bus) as redis,
            gateway_on_bus(gateway, redis, secret) as link,
            gateway.running() as port,
        ):
            print(f"gateway: http://{settings.gateway_host}:{port}  bus: {bus}  id: "
                  f"{link.gateway_id}", flush=True)  # fmt: skip
            await _until_stopped()
    finally:
        accounts.close()
    return 0


async def _cloud(args: argparse.Namespace) -> int:
    from cloud.reasoning.backends import INSTANT
    from deploy.bus.runtime import bus_secret, redis_client, worker_on_bus
    from deploy.local_stack import load_cloud_models, warm_up

    settings = settings_of(args)
    bus = _bus_of(settings)
    secret = bus_secret(settings.bus_secret, settings.data_dir)
    config = settings.cloud_config()
    if args.instant:
        config = dataclasses.replace(config, reasoner=INSTANT, asr_base_url="")
    progress = progress_printer()
    models = await asyncio.to_thread(load_cloud_models, config, progress)
    if not args.instant:
        await warm_up(models, progress)
    try:
        async with redis_client(bus) as redis, worker_on_bus(models, redis, secret, config) as w:
            print(f"cloud worker {w.worker_id}: ready, taking turns from {bus}", flush=True)
            await _until_stopped()
    finally:
        if models.users is not None:
            models.users.close()
    return 0


async def _bench_load(args: argparse.Namespace) -> int:
    from simulators.bench_load import LoadPlan, bench_load

    for name in ("sessions", "gateways", "workers", "turns"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name} {getattr(args, name)}: give at least 1")
    if args.kill_worker_at is not None and args.workers < 2:
        raise UsageError("--kill-worker-at needs --workers 2 or more (someone must take over)")
    if args.kill_gateway_at is not None and args.gateways < 2:
        raise UsageError("--kill-gateway-at needs --gateways 2 or more (sessions move to another)")
    settings = settings_of(args)
    plan = LoadPlan(
        sessions=args.sessions,
        gateways=args.gateways,
        workers=args.workers,
        turns=args.turns,
        store=settings.store,
        bus=settings.bus,
        kill_worker_at=args.kill_worker_at,
        kill_gateway_at=args.kill_gateway_at,
        instant=args.instant,
        config_file=Path(args.config) if args.config else None,
    )
    result = await bench_load(plan, progress=progress_printer())
    print_result(result, args.json)
    return 0 if result["lost"] == 0 and result["duplicated"] == 0 else 1
