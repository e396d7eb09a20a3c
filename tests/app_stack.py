"""The gateway serving the phone app, with accounts, history and per-user memory, for tests.

The cloud's models are fakes here unless a test passes real ones; everything
else is real: SQLite stores, WebRTC on loopback, the edge models on the tracks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from cloud.config import CloudConfig
from cloud.conversation import Models
from cloud.memory import Embedder
from cloud.memory.user_data import UserDirectory
from cloud.reasoning.reasoner import Reasoner
from cloud.speech.asr import Transcriber
from cloud.speech.spoken_answer import Voice
from deploy.app_memory import StoreMemoryAccess
from deploy.local_stack import Stack, local_stack
from edge.models import EdgeModels
from gateway.accounts import Accounts
from gateway.history import History


@dataclass
class AppStack:
    stack: Stack
    accounts: Accounts
    users: UserDirectory

    @property
    def url(self) -> str:
        return self.stack.gateway_url

    def session_token(self, user: str) -> str:
        return self.accounts.session_token(self.accounts.add_device(user, "test"))


@asynccontextmanager
async def app_stack(
    data_dir: Path,
    edge_models: EdgeModels,
    transcriber: Transcriber,
    reasoner: Reasoner,
    embedder: Embedder,
    cloud_config: CloudConfig | None = None,
    voice: Voice | None = None,
) -> AsyncIterator[AppStack]:
    users = UserDirectory(data_dir / "cloud", embedder)
    accounts = Accounts(data_dir / "gateway")
    history = History(data_dir / "gateway" / "history.sqlite")
    models = Models(transcriber=transcriber, reasoner=reasoner, users=users, voice=voice)
    try:
        async with local_stack(
            models,
            cloud_config=cloud_config,
            app_models=edge_models,
            accounts=accounts,
            memory=StoreMemoryAccess(lambda user: users.open(user).memory),
            history=history,
        ) as stack:
            yield AppStack(stack, accounts, users)
    finally:
        users.close()
        history.close()
        accounts.close()
