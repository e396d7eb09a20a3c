"""The glasses as an edge source: time-stamped audio chunks and photos from any `GlassesLink`.

`GlassesSource(link)` connects, reads the codec and battery, subscribes to
audio, photos, battery and the button, asks for a photo (or an interval),
and then is an async iterator of `AudioChunk` / `VideoFrame` like every other
source the edge runtime consumes. It is the thin I/O layer over the pure
decoders in `audio_decoding` and `photo_reassembly`.

Bad data never escapes as an exception: garbage notifications, an unknown
codec, a truncated JPEG are logged, counted in `state` and skipped. When the
glasses vanish the iterator flushes what it holds and ends, with
`state.connection == "disconnected"`. Only failing to connect at all raises
(`LinkError`), because then there is nothing to stream.

Timestamps are seconds since the source connected. Audio time is kept by
sample count from the first packet's arrival (so a lost packet is 10 ms of
silence, not a jump), and re-anchored to arrival time only when the stream
jumps (`DecodedAudio.resync`). A photo carries the arrival time of its first
chunk, the closest the protocol gets to when it was taken.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, Self, TypeVar

import cv2
import numpy as np

from edge.sources.media import CHUNK_SAMPLES, SAMPLE_RATE, AudioChunk, MediaItem, VideoFrame
from firmware_bridge.audio_decoding import AudioStreamDecoder, DecodedAudio
from firmware_bridge.audio_reassembly import AudioReassemblyStats
from firmware_bridge.codecs import CodecSpec, Samples, parse_codec_value
from firmware_bridge.errors import LinkError, UnknownCodecError
from firmware_bridge.omi_protocol import (
    AUDIO_CODEC_UUID,
    AUDIO_DATA_UUID,
    BATTERY_LEVEL_UUID,
    BUTTON_UUID,
    PHOTO_CONTROL_UUID,
    PHOTO_DATA_UUID,
    ButtonEvent,
    CounterMode,
    photo_control_value,
)
from firmware_bridge.photo_reassembly import (
    Photo,
    PhotoDropped,
    PhotoEvent,
    PhotoReassembler,
    PhotoReassemblyStats,
)
from firmware_bridge.transport import GlassesLink, Notification, NotificationStream
from firmware_bridge.wear import WearDetector

log = logging.getLogger(__name__)

T = TypeVar("T")

ConnectionState = Literal["idle", "connected", "disconnected"]


@dataclass(slots=True)
class GlassesState:
    """What the glasses are doing and what the link did to their data; updated live."""

    connection: ConnectionState = "idle"
    codec: str | None = None
    battery_percent: int | None = None
    worn: bool | None = None
    """Inferred from the microphone (`wear.WearDetector`); None until audio is heard."""
    last_seen: float | None = None
    """Clock time of the last notification from the glasses."""
    notifications: int = 0
    unknown_notifications: int = 0
    garbled_notifications: int = 0
    """Battery or button values that made no sense."""
    audio: AudioReassemblyStats = field(default_factory=AudioReassemblyStats)
    audio_undecodable: int = 0
    audio_skipped: int = 0
    """Audio notifications ignored because the codec is unknown."""
    photos: PhotoReassemblyStats = field(default_factory=PhotoReassemblyStats)
    photos_undecodable: int = 0
    queue_dropped: int = 0
    button_events: int = 0
    last_button: ButtonEvent | None = None
    last_problem: str | None = None

    @property
    def lost_audio_packets(self) -> int:
        """Packets played as silence: never heard, or heard only in part."""
        return self.audio.lost_packets + self.audio.incomplete_packets


class GlassesSource:
    """Audio and photos from Omi / OpenGlass glasses, as an edge `Source`.

    `photo_interval_s`: None asks for one photo on start (if `photo_on_start`),
    5..127 asks the glasses to send one every so many seconds. `on_event` hears
    each change worth telling the wearer about, by name: "connected",
    "disconnected", "battery", "taken_off", "put_on", "button:<tap>"
    (`state` has the details); it runs inside iteration, so it must not block.
    `photo_retries`: a requested photo that arrives cut off or with holes (the
    firmware never resends a chunk) is asked for again, up to this many times.
    """

    def __init__(
        self,
        link: GlassesLink,
        *,
        photo_interval_s: int | None = None,
        photo_on_start: bool = True,
        chunk_samples: int = CHUNK_SAMPLES,
        counter_mode: CounterMode | None = None,
        hold_s: float = 0.2,
        on_button: Callable[[ButtonEvent], None] | None = None,
        on_event: Callable[[str], None] | None = None,
        photo_retries: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if photo_interval_s is not None:
            photo_control_value(photo_interval_s)  # a bad interval fails here, not mid-setup
        self.link = link
        self.state = GlassesState()
        self.photo_interval_s = photo_interval_s
        self.photo_on_start = photo_on_start
        self.chunk_samples = chunk_samples
        self.counter_mode: CounterMode | None = counter_mode
        self.hold_s = hold_s
        self.on_button = on_button
        self.on_event = on_event
        self.photo_retries = photo_retries
        self._retries_left = photo_retries
        self._retake = False
        self._wear = WearDetector()
        self._clock = clock
        self._started = False
        self._finished = False
        self._t0 = 0.0
        self._ready: deque[MediaItem] = deque()
        self._notifications: AsyncIterator[Notification] | None = None
        self._audio: AudioStreamDecoder | None = None
        self._photos = PhotoReassembler()
        self.state.photos = self._photos.stats
        # Audio timeline: sample 0 of the current run plays at `_origin` (source seconds).
        self._origin: float | None = None
        self._run_samples = 0
        self._chunk: list[Samples] = []
        self._chunk_size = 0
        self._chunk_start = 0

    # --- lifecycle --------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Connect and set the glasses up; raises LinkError only if they cannot be reached."""
        if self._started:
            return
        self._started = True
        await self.link.connect()
        self._t0 = self._clock()
        self.state.connection = "connected"
        self._emit("connected")
        self._notifications = self.link.notifications()
        try:
            await self._set_up()
        except LinkError as error:
            self._problem(f"the glasses went away while being set up: {error}")
            self._end()

    async def aclose(self) -> None:
        """Disconnect; the iterator ends after what it already holds."""
        if self.link.is_connected:
            try:
                await self.link.disconnect()
            except LinkError as error:
                self._problem(f"disconnecting failed: {error}")
        self._disconnected()
        self._finished = True

    @property
    def connected_at(self) -> float:
        """Clock time of connecting: timestamp 0 of this source's items."""
        return self._t0

    async def take_photo(self) -> None:
        """Ask for one photo now."""
        self._retries_left = self.photo_retries
        await self.link.write(PHOTO_CONTROL_UUID, photo_control_value(None))

    async def set_photo_interval(self, seconds: int) -> None:
        """Ask for a photo every `seconds` (5..127), or stop with 0."""
        await self.link.write(PHOTO_CONTROL_UUID, photo_control_value(seconds))

    async def _set_up(self) -> None:
        """Codec, battery, subscriptions, photo request; whatever the glasses lack is skipped.

        An Omi pendant has no camera, older firmware no button: each missing
        piece is logged and the rest still works. Only a link that went down
        raises, which `start()` turns into the end of the stream.
        """
        codec = await self._optional(f"read the codec ({AUDIO_CODEC_UUID})", self._read_codec())
        if codec is not None:
            self.state.codec = codec.name
            self._audio = AudioStreamDecoder(
                codec, counter_mode=self.counter_mode, max_hold_s=self.hold_s
            )
            self.state.audio = self._audio.stats
        battery = await self._optional("read the battery level", self.link.read(BATTERY_LEVEL_UUID))
        if battery is not None:
            self._battery(battery)
        for uuid in (AUDIO_DATA_UUID, PHOTO_DATA_UUID, BATTERY_LEVEL_UUID, BUTTON_UUID):
            await self._optional(f"subscribe to {uuid}", self.link.start_notify(uuid))
        if self.photo_interval_s is not None:
            await self._optional("ask for photos", self.set_photo_interval(self.photo_interval_s))
        elif self.photo_on_start:
            await self._optional("ask for a photo", self.take_photo())

    async def _read_codec(self) -> CodecSpec | None:
        try:
            return parse_codec_value(await self.link.read(AUDIO_CODEC_UUID))
        except UnknownCodecError as error:
            self._problem(str(error))
            return None

    async def _optional(self, what: str, operation: Awaitable[T]) -> T | None:
        """Run one set-up step; a missing feature is a logged problem, a dead link raises."""
        try:
            return await operation
        except LinkError as error:
            if not self.link.is_connected:
                raise
            self._problem(f"could not {what}: {error}")
            return None

    # --- iteration --------------------------------------------------------------------------

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> MediaItem:
        if not self._started:
            await self.start()
        while not self._ready:
            if self._finished:
                raise StopAsyncIteration
            await self._pump()
        return self._ready.popleft()

    async def _pump(self) -> None:
        """Wait for one notification (or `hold_s` of quiet) and decode what it completes."""
        if self._notifications is None:
            self._end()
            return
        try:
            async with asyncio.timeout(self.hold_s):
                notification = await anext(self._notifications)
        except TimeoutError:
            self._expire(self._clock())
            return
        except StopAsyncIteration:
            self._end()
            return
        try:
            self._take(notification)
        except Exception:  # a decoder bug must not end the user's session
            log.exception("could not handle a notification on %s", notification.uuid)
            self.state.garbled_notifications += 1
        self._expire(notification.t)
        if self._retake:
            self._retake = False
            try:
                await self.link.write(PHOTO_CONTROL_UUID, photo_control_value(None))
            except LinkError as error:
                self._problem(f"could not ask for the photo again: {error}")
        if isinstance(self._notifications, NotificationStream):
            self.state.queue_dropped = self._notifications.dropped

    def _take(self, notification: Notification) -> None:
        self.state.notifications += 1
        self.state.last_seen = notification.t
        uuid, data, t = notification.uuid, notification.data, notification.t
        if uuid == AUDIO_DATA_UUID:
            if self._audio is None:
                self.state.audio_skipped += 1
            else:
                self._audio_out(self._audio.push(data, t))
        elif uuid == PHOTO_DATA_UUID:
            self._photos_out(self._photos.push(data, t))
        elif uuid == BATTERY_LEVEL_UUID:
            self._battery(data)
        elif uuid == BUTTON_UUID:
            self._button(data)
        else:
            self.state.unknown_notifications += 1

    def _expire(self, now: float) -> None:
        if self._audio is not None:
            self._audio_out(self._audio.expire(now))
        self._photos_out(self._photos.expire(now))

    def _end(self) -> None:
        """The link is gone: hand out everything held, then stop."""
        if self._audio is not None:
            self._audio_out(self._audio.flush())
            self.state.audio_undecodable = self._audio.undecodable
        self._flush_chunk()
        self._photos_out(self._photos.flush())
        self._disconnected()
        self._finished = True

    # --- audio ------------------------------------------------------------------------------

    def _audio_out(self, decoded: list[DecodedAudio]) -> None:
        for piece in decoded:
            if self._origin is None or piece.resync:
                self._flush_chunk()
                arrived = (piece.t if piece.t is not None else self._clock()) - self._t0
                duration = piece.samples.size / SAMPLE_RATE
                previous_end = self._time_at(self._run_samples) if self._origin is not None else 0.0
                self._origin = max(arrived - duration, previous_end, 0.0)
                self._run_samples = 0
                self._chunk_start = 0
            self._append(piece.samples)
            self._hear(piece)
        if self._audio is not None:
            self.state.audio_undecodable = self._audio.undecodable

    def _append(self, samples: Samples) -> None:
        offset = 0
        while offset < samples.size:
            take = min(self.chunk_samples - self._chunk_size, samples.size - offset)
            self._chunk.append(samples[offset : offset + take])
            self._chunk_size += take
            self._run_samples += take
            offset += take
            if self._chunk_size == self.chunk_samples:
                self._flush_chunk()

    def _flush_chunk(self) -> None:
        if not self._chunk_size:
            return
        samples = np.concatenate(self._chunk).astype(np.int16)
        self._ready.append(AudioChunk(self._time_at(self._chunk_start), samples))
        self._chunk_start += self._chunk_size
        self._chunk = []
        self._chunk_size = 0

    def _time_at(self, sample: int) -> float:
        return (self._origin or 0.0) + sample / SAMPLE_RATE

    # --- photos, battery, button ------------------------------------------------------------

    def _photos_out(self, events: list[PhotoEvent]) -> None:
        for event in events:
            if not isinstance(event, Photo):
                self._photo_lost(event)
                continue
            self._retries_left = self.photo_retries
            image = cv2.imdecode(np.frombuffer(event.jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
            if image is None:
                self.state.photos_undecodable += 1
                self._problem(f"a {len(event.jpeg)}-byte photo did not decode as JPEG")
                continue
            taken = max(0.0, event.t_first - self._t0)
            self._ready.append(VideoFrame(taken, image.astype(np.uint8, copy=False)))

    def _photo_lost(self, dropped: PhotoDropped) -> None:
        """A single shot that did not arrive whole is worth one more try; an interval retries itself."""
        if self.photo_interval_s is not None or dropped.reason in ("not_jpeg", "too_large"):
            return
        if self._retries_left > 0 and self.link.is_connected:
            self._retries_left -= 1
            self._retake = True

    def _hear(self, piece: DecodedAudio) -> None:
        was = self._wear.worn
        worn = self._wear.hear(piece.samples, heard=piece.t is not None)
        if worn is None:
            return
        self.state.worn = worn
        if was is not None or not worn:
            self._emit("put_on" if worn else "taken_off")

    def _battery(self, data: bytes) -> None:
        if not data or data[0] > 100:
            self.state.garbled_notifications += 1
            return
        changed = self.state.battery_percent != data[0]
        self.state.battery_percent = data[0]
        if changed:
            self._emit("battery")

    def _button(self, data: bytes) -> None:
        code = int.from_bytes(data[:4], "little") if data else 0
        try:
            event = ButtonEvent(code)
        except ValueError:
            self.state.garbled_notifications += 1
            return
        self.state.button_events += 1
        self.state.last_button = event
        if self.on_button is not None:
            self.on_button(event)
        self._emit(f"button:{event.name.lower()}")

    def _disconnected(self) -> None:
        was = self.state.connection
        self.state.connection = "disconnected"
        if was == "connected":
            self._emit("disconnected")

    def _emit(self, event: str) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(event)
        except Exception:  # a listener's bug must not end the stream
            log.exception("the glasses event listener failed on %s", event)

    def _problem(self, message: str) -> None:
        log.warning("glasses: %s", message)
        self.state.last_problem = message
