"""The edge runtime on a pair of glasses: real ones over BLE, or the virtual pair over loopback.

`--device omi:<address>` connects to Omi / OpenGlass glasses through bleak;
`--device virtual:<video>,<audio>` serves a recording through
`simulators.VirtualGlasses` over a `LoopbackLink`, byte for byte the same
protocol, so the whole system can be run and tested without hardware.
Either way the edge session gets the glasses' audio and photos as its source
and their status (link, battery, worn, taps) as `DeviceStatus` messages.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from cloud.conversation import Models
from deploy.local_stack import local_stack
from edge.config import EdgeConfig
from edge.models import EdgeModels
from edge.session import EdgeSession, OnEvent, SessionSummary
from firmware_bridge.bleak_link import BleakLink
from firmware_bridge.codecs import CODECS
from firmware_bridge.device import GlassesDevice
from firmware_bridge.loopback import LinkConditions, LoopbackLink
from firmware_bridge.omi_protocol import CodecId
from simulators.media import open_video, read_audio
from simulators.replay import with_tail_silence
from simulators.virtual_glasses import VirtualGlasses

VIRTUAL_PHOTO_EVERY_S = 5.0
"""A video served by the virtual glasses: one photo per this much of it, taken in turn."""
VIRTUAL_MAX_PHOTOS = 24
TAIL_SILENCE_S = 1.0
"""After the recording, as after a question: the end of speech must be heard."""


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """What `--device` named."""

    kind: Literal["omi", "virtual"]
    address: str = ""
    video: Path | None = None
    audio: Path | None = None

    @property
    def name(self) -> str:
        """How the device introduces itself upstream (Hello.device, DeviceStatus.device)."""
        if self.kind == "omi":
            return f"omi:{self.address}"
        parts = [p.name for p in (self.video, self.audio) if p is not None]
        return f"virtual:{','.join(parts)}"[:128]


def parse_device(text: str) -> DeviceSpec:
    """`omi:<address>` or `virtual:<video>,<audio>` (either file may be left empty)."""
    kind, _, rest = text.partition(":")
    if kind == "omi":
        if not rest.strip():
            raise ValueError("--device omi: needs the glasses' address, e.g. omi:AA:BB:CC:DD:EE:FF")
        return DeviceSpec("omi", address=rest.strip())
    if kind == "virtual":
        video, comma, audio = rest.partition(",")
        if not comma:
            raise ValueError("--device virtual: needs <video>,<audio>, e.g. virtual:page.png,q.wav")
        spec = DeviceSpec(
            "virtual",
            video=Path(video) if video.strip() else None,
            audio=Path(audio) if audio.strip() else None,
        )
        if spec.video is None and spec.audio is None:
            raise ValueError("--device virtual: give a video, an audio file or both")
        for path in (spec.video, spec.audio):
            if path is not None and not path.is_file():
                raise ValueError(f"{path}: no such file")
        return spec
    raise ValueError(f"--device {text!r}: expected omi:<address> or virtual:<video>,<audio>")


@dataclass(frozen=True, kw_only=True)
class VirtualOptions:
    """How the virtual pair and its simulated radio behave."""

    codec: CodecId = CodecId.MULAW_16K
    conditions: LinkConditions = field(default_factory=LinkConditions)
    mtu: int = 247
    realtime: bool = True
    jpeg_quality: int = 60


def virtual_photos(video: Path | None) -> list[npt.NDArray[np.uint8]]:
    """What the virtual camera shows: a still, or one frame per VIRTUAL_PHOTO_EVERY_S of video."""
    if video is None:
        return []
    photos: list[npt.NDArray[np.uint8]] = []
    next_t = 0.0
    for frame in open_video(video).frames():
        if frame.t + 1e-6 >= next_t:
            photos.append(frame.image)
            next_t += VIRTUAL_PHOTO_EVERY_S
            if len(photos) >= VIRTUAL_MAX_PHOTOS:
                break
    return photos


@asynccontextmanager
async def open_glasses(
    spec: DeviceSpec,
    *,
    virtual: VirtualOptions | None = None,
    photo_interval_s: int | None = None,
    photo_retries: int = 3,
) -> AsyncIterator[GlassesDevice]:
    """The glasses `spec` names, ready to stream; virtual ones are served until exit.

    Real glasses are reconnected after every drop once they have connected;
    the virtual pair until its recording has been sent.
    """
    if spec.kind == "omi":
        device = GlassesDevice(
            BleakLink(spec.address),
            name=spec.name,
            reconnect=lambda: device.connections > 0,
            photo_interval_s=photo_interval_s,
            photo_retries=photo_retries,
        )
        yield device
        return
    virtual = virtual or VirtualOptions()
    audio = None
    if spec.audio is not None:
        audio = with_tail_silence(await asyncio.to_thread(read_audio, spec.audio), TAIL_SILENCE_S)
    photos = await asyncio.to_thread(virtual_photos, spec.video)
    link = LoopbackLink(virtual.conditions, mtu=virtual.mtu)
    glasses = VirtualGlasses(
        link,
        audio=audio,
        photos=photos,
        codec=CODECS[virtual.codec].codec_id,
        pace_audio=virtual.realtime,
        jpeg_quality=virtual.jpeg_quality,
        disconnect_when_done=True,
    )
    async with glasses:
        yield GlassesDevice(
            link,
            name=spec.name,
            reconnect=lambda: not glasses.audio_sent.is_set(),
            retry_s=0.2,
            photo_interval_s=photo_interval_s,
            photo_retries=photo_retries,
        )


async def run_glasses(
    spec: DeviceSpec,
    *,
    edge_config: EdgeConfig,
    edge_models: EdgeModels,
    models: Models | None = None,
    gateway_url: str | None = None,
    virtual: VirtualOptions | None = None,
    photo_interval_s: int | None = None,
    photo_retries: int = 3,
    on_event: OnEvent | None = None,
    on_device: Callable[[GlassesDevice], None] | None = None,
) -> SessionSummary:
    """Glasses → edge → WebRTC → gateway → cloud, until the glasses' stream ends.

    With `gateway_url` the edge talks to a running `companion serve`;
    otherwise the cloud and gateway start here, on loopback, with `models`.
    """
    async with AsyncExitStack() as stack:
        if gateway_url is None:
            if models is None:
                raise ValueError("either a gateway URL or loaded cloud models are needed")
            gateway_url = (await stack.enter_async_context(local_stack(models))).gateway_url
        device = await stack.enter_async_context(
            open_glasses(
                spec,
                virtual=virtual,
                photo_interval_s=photo_interval_s,
                photo_retries=photo_retries,
            )
        )
        if on_device is not None:
            on_device(device)
        session = EdgeSession(
            edge_models.listener(edge_config),
            edge_models.analyser,
            replace(edge_config, gateway_url=gateway_url, device=spec.name),
        )
        return await session.run(device.media(), on_event=on_event, reporters=[device.report])
