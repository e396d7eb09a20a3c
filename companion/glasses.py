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
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from cloud.conversation import Models
from deploy.local_stack import local_stack
from edge.audio.caption_tap import OnDeviceListening, TapState
from edge.config import EdgeConfig
from edge.models import EdgeModels
from edge.session import EdgeSession, OnEvent, SessionSummary, TurnRecord
from firmware_bridge.answer_audio_out import AnswerAudioOut
from firmware_bridge.bleak_link import BleakLink
from firmware_bridge.codecs import CODECS
from firmware_bridge.device import GlassesDevice
from firmware_bridge.errors import BridgeError
from firmware_bridge.loopback import LinkConditions, LoopbackLink
from firmware_bridge.omi_protocol import CodecId
from protocol import AnswerAudio, AnswerDone, Control, Message
from protocol.limits import MAX_QUEUED_ANSWER_PARTS
from simulators.media import open_video, read_audio
from simulators.replay import with_tail_silence
from simulators.virtual_glasses import VirtualGlasses

log = logging.getLogger(__name__)

SPEAKER_DRAIN_S = 30.0
"""At the end of a session, how long the last answer may go on playing."""
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
    # With a speaker on, the pair stays connected until the answer was spoken to it and
    # then this long quiet, so it hears the answer before it hangs up.
    hear_answer_s: float = 3.0


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
    on_virtual: Callable[[VirtualGlasses], None] | None = None,
    speaker: bool = False,
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
        hear_answer_s=virtual.hear_answer_s if speaker else None,
    )
    if on_virtual is not None:
        on_virtual(glasses)
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
    on_virtual: Callable[[VirtualGlasses], None] | None = None,
    speaker: bool = False,
    listening_here: OnDeviceListening | None = None,
    listen: TapState | None = None,
) -> SessionSummary:
    """Glasses → edge → WebRTC → gateway → cloud, until the glasses' stream ends.

    With `gateway_url` the edge talks to a running `companion serve`;
    otherwise the cloud and gateway start here, on loopback, with `models`.
    With `speaker` the session asks for spoken answers as Opus and writes them to the
    glasses' speaker (glasses without one lose only the sound: see GlassesSpeaker).
    `listening_here` captions and notes on the edge itself in local-only mode (`listen`: what
    is on from the start); its captions reach `on_event` as the cloud's would, and the
    glasses' notes LED follows its switches.
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
                on_virtual=on_virtual,
                speaker=speaker,
            )
        )
        if on_device is not None:
            on_device(device)
        config = replace(edge_config, gateway_url=gateway_url, device=spec.name)
        if speaker:
            config = replace(config, answer_codec="opus")
            out = await stack.enter_async_context(GlassesSpeaker(AnswerAudioOut(device.link)))
            on_event = out.listening(on_event)
        on_event = _noting(device, on_event)
        session = EdgeSession(
            edge_models.listener(config),
            edge_models.analyser,
            config,
            caption_listener=edge_models.caption_listener(config),
            on_device=listening_here,
            listen=listen,
        )
        return await session.run(device.media(), on_event=on_event, reporters=[device.report])


def _noting(device: GlassesDevice, on_event: OnEvent | None) -> OnEvent:
    """`on_event` that also tells the glasses when conversation notes go on or off."""

    def notify(kind: str, message: Message, turn: TurnRecord | None) -> None:
        if isinstance(message, Control) and message.action == "notes":
            device.set_notes(message.value == "on")
        if on_event is not None:
            on_event(kind, message, turn)

    return notify


class GlassesSpeaker:
    """Plays each answer's parts on the glasses' speaker in arrival order, off the
    receiving path (a slow radio write never holds up the next message).

    A part that cannot be written (glasses without a speaker characteristic, a dropped
    link) is logged once and the speaker switched off: the text answer still arrives.
    A stopped (interrupted) answer's remaining parts are not played.
    """

    def __init__(self, out: AnswerAudioOut) -> None:
        self.out = out
        self.failed: str | None = None
        self._queue: asyncio.Queue[AnswerAudio] = asyncio.Queue(maxsize=MAX_QUEUED_ANSWER_PARTS)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> GlassesSpeaker:
        self._task = asyncio.create_task(self._play(), name="glasses-speaker")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Let what is queued finish (bounded), then stop."""
        assert self._task is not None
        try:
            async with asyncio.timeout(SPEAKER_DRAIN_S):
                await self._queue.join()
        except TimeoutError:
            log.warning("glasses speaker: %d parts left unplayed", self._queue.qsize())
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    def listening(self, on_event: OnEvent | None) -> OnEvent:
        """`on_event` that also hands spoken parts to the speaker."""

        def notify(kind: str, message: Message, turn: TurnRecord | None) -> None:
            if isinstance(message, AnswerAudio) and self.failed is None:
                try:
                    self._queue.put_nowait(message)
                except asyncio.QueueFull:
                    log.warning("glasses speaker: queue full, part %d dropped", message.part)
            elif isinstance(message, AnswerDone) and message.interrupted:
                self.out.stop(message.turn_id)
            if on_event is not None:
                on_event(kind, message, turn)

        return notify

    async def _play(self) -> None:
        while True:
            part = await self._queue.get()
            try:
                if self.failed is None:
                    await self.out.play(part)
            except (BridgeError, OSError, ValueError, KeyError) as exc:
                self.failed = str(exc)
                log.warning("glasses speaker off: %s (answers stay text)", exc)
            finally:
                self._queue.task_done()
