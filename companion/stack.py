"""The cloud and the gateway running together in this process, on loopback.

`companion demo`, `serve`, `replay` (without `--gateway`) and the end-to-end
tests all use this: real websockets and real WebRTC, just on one machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import numpy as np

from cloud.asr import WhisperTranscriber
from cloud.config import CloudConfig
from cloud.conversation import Models
from cloud.prompt import build_messages
from cloud.reasoner import QwenReasoner
from cloud.server import CloudServer
from gateway.config import GatewayConfig
from gateway.server import Gateway


@dataclass(frozen=True)
class Stack:
    gateway_url: str
    cloud_url: str
    gateway: Gateway
    cloud: CloudServer


def load_cloud_models(
    config: CloudConfig | None = None, progress: Callable[[str], None] = lambda _: None
) -> Models:
    """Load speech recognition and the reasoner once for this process."""
    config = config or CloudConfig()
    progress("loading speech recognition (Whisper base, int8)…")
    transcriber = WhisperTranscriber(language=config.language)
    progress("loading the reasoner (Qwen2.5-Coder-0.5B-Instruct)…")
    reasoner = QwenReasoner(progress=progress)
    return Models(transcriber=transcriber, reasoner=reasoner)


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
    cloud_config: CloudConfig | None = None,
) -> AsyncIterator[Stack]:
    """Run cloud and gateway until the context exits; port 0 picks free ports."""
    base = cloud_config or CloudConfig()
    cloud = CloudServer(
        models,
        CloudConfig(**{**base.__dict__, "host": host, "port": cloud_port}),
    )
    async with cloud.running() as server:
        bound_cloud = next(iter(server.sockets)).getsockname()[1]
        cloud_url = f"ws://{host}:{bound_cloud}"
        gateway = Gateway(GatewayConfig(host=host, port=gateway_port, cloud_url=cloud_url))
        async with gateway.running() as bound_gateway:
            yield Stack(f"http://{host}:{bound_gateway}", cloud_url, gateway, cloud)
