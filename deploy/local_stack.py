"""The cloud and the gateway running together in this process, on loopback.

`companion demo`, `serve`, `replay` (without `--gateway`) and the end-to-end
tests all use this: real websockets and real WebRTC, just on one machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import numpy as np

from cloud.api.session_server import CloudServer
from cloud.config import CloudConfig
from cloud.conversation import Models
from cloud.memory.embedder import MiniLmEmbedder
from cloud.memory.user_data import UserDirectory
from cloud.prompting.prompt import build_messages
from cloud.reasoning.backends import make_reasoner, make_reasoning_reasoner, make_transcriber
from deploy.app_conversations import StoreConversations
from deploy.app_memory import StoreMemoryAccess
from deploy.retention import RetentionSweeper
from edge.models import EdgeModels
from gateway.accounts import Accounts, AuthError
from gateway.app_api import AppApi
from gateway.config import GatewayConfig
from gateway.history import History
from gateway.memory_access import MemoryAccess
from gateway.server import Gateway

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stack:
    gateway_url: str
    cloud_url: str
    gateway: Gateway
    cloud: CloudServer
    app: AppApi | None = None


def is_loopback(host: str) -> bool:
    """Whether a listening address is reachable from this machine only."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def load_cloud_models(
    config: CloudConfig | None = None, progress: Callable[[str], None] = lambda _: None
) -> Models:
    """Load speech recognition and the reasoner once for this process."""
    config = config or CloudConfig()
    transcriber = make_transcriber(config, progress)
    reasoner = make_reasoner(config, progress)
    progress("loading the memory embedder (all-MiniLM-L6-v2)…")
    users = UserDirectory(config.data_dir, MiniLmEmbedder(), store=config.store)
    return Models(
        transcriber=transcriber,
        reasoner=reasoner,
        users=users,
        reasoning_reasoner=make_reasoning_reasoner(config),
    )


def token_user(accounts: Accounts) -> Callable[[str], str | None]:
    """The gateway's device and session tokens as the cloud API's credentials."""

    def user_of(token: str) -> str | None:
        try:
            return accounts.verify(token).user
        except AuthError as exc:
            log.info("refused an API token: %s", exc)
            return None

    return user_of


async def warm_up(models: Models, progress: Callable[[str], None] = lambda _: None) -> None:
    """Run each model once before the first user waits on it.

    The first call of each runtime pays one-off costs (kernel selection, memory
    arenas) of about a second; one short pass over a camera prompt also leaves
    the prompt's shared opening in the reasoner's cache for the first real turn.
    """
    progress("warming up the models…")
    noise = (np.random.default_rng(0).standard_normal(8000) * 2000).astype(np.int16)
    await asyncio.to_thread(models.transcriber.transcribe, noise, 16_000)
    prompt = build_messages("What is this?", ocr_lines=["EXIT"], labels=[("door", 0.5)])
    async for _ in models.reasoner.stream(prompt, max_new_tokens=1):
        pass


@asynccontextmanager
async def local_stack(
    models: Models,
    *,
    host: str = "127.0.0.1",
    gateway_port: int = 0,
    cloud_port: int = 0,
    cloud_host: str = "127.0.0.1",
    cloud_config: CloudConfig | None = None,
    gateway_config: GatewayConfig | None = None,
    app_models: EdgeModels | None = None,
    accounts: Accounts | None = None,
    memory: MemoryAccess | None = None,
    history: History | None = None,
) -> AsyncIterator[Stack]:
    """Run cloud and gateway until the context exits; port 0 picks free ports.

    With `app_models` the gateway also serves the phone app (and runs the edge
    pipeline on its camera and microphone); with `accounts` every request
    needs a token. The cloud's port binds to `cloud_host`, loopback unless told
    otherwise, whatever `host` the gateway serves on: only this process's
    gateway, holding the per-process secret, has any business there.
    """
    base = cloud_config or CloudConfig()
    cloud = CloudServer(
        models,
        CloudConfig(**{**base.__dict__, "host": cloud_host, "port": cloud_port}),
        check_token=token_user(accounts) if accounts is not None else None,
    )
    async with cloud.running() as server:
        bound_cloud = next(iter(server.sockets)).getsockname()[1]
        dial = "127.0.0.1" if cloud_host in ("0.0.0.0", "") else cloud_host
        cloud_url = f"ws://{dial}:{bound_cloud}"
        gateway = Gateway(
            dataclasses.replace(
                gateway_config or GatewayConfig(), host=host, port=gateway_port, cloud_url=cloud_url
            ),
            cloud_secret=cloud.gateway_secret,
        )
        app = (
            AppApi(
                gateway,
                app_models,
                accounts=accounts,
                memory=memory,
                history=history,
                conversations=app_conversations(models),
            )
            if app_models is not None
            else None
        )
        if accounts is not None:
            # The app's sessions are already among the gateway's (AppApi registers them).
            gateway.watch_revocations(accounts)
        sweeper = retention_sweeper(base, models, accounts, history)
        async with gateway.running() as bound_gateway:
            sweeping = asyncio.create_task(sweeper.run()) if sweeper is not None else None
            try:
                yield Stack(f"http://{host}:{bound_gateway}", cloud_url, gateway, cloud, app)
            finally:
                if sweeping is not None:
                    sweeping.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await sweeping


def app_conversations(models: Models) -> StoreConversations | None:
    """The users' noted conversations, where the cloud keeps users' data at all."""
    users = models.users
    if users is None:
        return None
    return StoreConversations(users.data_dir, lambda user: users.open(user).memory)


def retention_sweeper(
    config: CloudConfig,
    models: Models,
    accounts: Accounts | None,
    history: History | None,
) -> RetentionSweeper | None:
    """The deployment's retention, when it has one and keeps users' data at all."""
    users = models.users
    if config.retention_days <= 0 or users is None:
        return None
    stores = StoreMemoryAccess(
        lambda user: users.open(user).memory, tools_of=lambda user: users.open(user).tools
    )

    conversations = app_conversations(models)

    async def forget(user: str, max_age_s: float) -> None:
        await asyncio.to_thread(stores.forget_older_than, user, max_age_s)
        if conversations is not None:  # noted conversations, and the memories made of them
            await asyncio.to_thread(conversations.forget_older_than, user, max_age_s)
        if history is not None:
            await asyncio.to_thread(history.enforce_retention, user, max_age_s)

    def known() -> list[str]:
        return [*(accounts.users() if accounts is not None else []), *users.users()]

    return RetentionSweeper(
        max_age_s=config.retention_days * 86_400.0,
        interval_s=config.retention_sweep_s,
        users=known,
        forget=forget,
    )
