"""Running a gateway or a cloud worker on the bus: the Redis connection, the secret, the glue.

`companion gateway --bus …` and `companion cloud --bus …` (companion/cli_bus.py)
use these; so do the tests and `companion bench load`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import RedisError
from websockets.asyncio.client import ClientConnection

from cloud.config import CloudConfig
from cloud.conversation import Models
from deploy.bus.gateway_link import BusGateway
from deploy.bus.worker import BusWorker
from deploy.errors import DeployError
from gateway.errors import GatewayError
from gateway.server import Gateway
from protocol.secret_file import SECRET_BYTES, load_or_create_secret

BUS_SECRET_FILE = "bus.secret"


class BusUnavailable(DeployError, GatewayError, ConnectionError):
    """Redis could not be reached at the bus URL; the message says where."""


def bus_secret(given: str | None, data_dir: Path) -> bytes:
    """The secret every gateway and worker of a deployment shares: the setting's, else a
    file under `data_dir` (made on first use; processes on one machine share it)."""
    if given:
        secret = given.encode()
        if len(secret) < SECRET_BYTES:
            raise BusUnavailable(f"COMPANION_BUS_SECRET must be at least {SECRET_BYTES} characters")
        return secret
    return load_or_create_secret(data_dir / BUS_SECRET_FILE)


@asynccontextmanager
async def redis_client(url: str) -> AsyncIterator[Redis]:
    """A connection pool to the bus's Redis, checked with a PING first."""
    redis = Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)
    try:
        try:
            await redis.ping()
        except (RedisError, OSError) as exc:
            raise BusUnavailable(f"no Redis at {url}: {exc}") from None
        yield redis
    finally:
        await redis.aclose()


@asynccontextmanager
async def gateway_on_bus(
    gateway: Gateway, redis: Redis, secret: bytes, *, observation_wait_s: float = 10.0
) -> AsyncIterator[BusGateway]:
    """`gateway`'s sessions reach the workers through Redis until the context exits."""
    bus = BusGateway(redis, secret, observation_wait_s=observation_wait_s)

    async def connect(user: str | None, session_id: str) -> ClientConnection:
        # The link relays exactly what the websocket did (send, async for, close).
        return cast(ClientConnection, await bus.connect(user, session_id))

    gateway.connect_cloud = connect
    try:
        async with bus.running():
            yield bus
    finally:
        gateway.connect_cloud = None


@asynccontextmanager
async def worker_on_bus(
    models: Models, redis: Redis, secret: bytes, config: CloudConfig | None = None
) -> AsyncIterator[BusWorker]:
    """A worker answering the bus's turns until the context exits."""
    worker = BusWorker(redis, secret, models, config)
    running = asyncio.create_task(worker.run())
    try:
        ready = asyncio.create_task(worker.ready.wait())
        await asyncio.wait({running, ready}, return_when=asyncio.FIRST_COMPLETED)
        if running.done():
            ready.cancel()
            running.result()  # raises what stopped it
        yield worker
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
