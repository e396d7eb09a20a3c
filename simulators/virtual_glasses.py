"""Omi / OpenGlass glasses in memory, serving recordings over the exact protocol bytes.

`VirtualGlasses` sits on the peripheral end of a `LoopbackLink` and behaves
like the firmware: it publishes the codec and battery characteristics,
starts streaming audio when the central subscribes (encoded with the chosen
codec, split by `AudioFramer` the way `push_to_gatt` does), answers photo
control writes (single shot, interval, stop) with JPEGs chunked as OpenGlass
does, notifies battery level as it drains and button taps as they happen.
Scripted events model life: taking the glasses off (silence, no photos),
putting them back on, and the link dropping.

The button uses the Omi DevKit 2 button characteristic (`BUTTON_UUID`) with
the tap code as a little-endian uint32.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Self

import cv2
import numpy as np
import numpy.typing as npt

from firmware_bridge.codecs import CODECS, create_encoder
from firmware_bridge.framing import AudioFramer, frame_photo, photo_chunk_bytes
from firmware_bridge.loopback import LoopbackLink
from firmware_bridge.omi_protocol import (
    AUDIO_CODEC_UUID,
    AUDIO_DATA_UUID,
    BATTERY_LEVEL_UUID,
    BUTTON_UUID,
    PHOTO_CONTROL_UUID,
    PHOTO_DATA_UUID,
    PHOTO_SINGLE_SHOT,
    PHOTO_STOP,
    SPEAKER_DATA_UUID,
    ButtonEvent,
    CodecId,
    CounterMode,
    parse_photo_control,
)

log = logging.getLogger(__name__)

AUDIO_RATE = 16_000
BATTERY_TICK_S = 0.25

Image = npt.NDArray[np.uint8] | bytes


@dataclass(slots=True)
class VirtualGlassesStats:
    audio_packets: int = 0
    audio_notifications: int = 0
    photos_sent: int = 0
    photo_notifications: int = 0
    battery_notifications: int = 0
    button_taps: int = 0


MAX_SPEAKER_WRITES = 20_000
"""What the virtual speaker keeps (about ten minutes of 20 ms Opus packets at MTU 247)."""
SPEAKER_WAIT_S = 120.0
"""How long virtual glasses with `hear_answer_s` wait for an answer before hanging up."""


class VirtualGlasses:
    """Firmware-faithful glasses for tests, demos and benchmarks.

    `audio`: 16 kHz int16 mono (e.g. `simulators.media.read_audio(path)`).
    `photos`: BGR images or JPEG bytes, served in turn for each photo taken.
    `pace_audio`: stream in real time (scaled by `clock_rate`) instead of as
    fast as the link allows. `clock_rate`: virtual seconds per real second
    for pacing, photo intervals and battery drain. `disconnect_when_done`:
    drop the link once the recording and any photo in progress are sent, so
    a consumer's stream ends.
    """

    def __init__(
        self,
        link: LoopbackLink,
        *,
        audio: npt.NDArray[np.int16] | None = None,
        photos: Sequence[Image] = (),
        codec: CodecId = CodecId.OPUS_16K,
        counter_mode: CounterMode = "per_notification",
        start_counter: int = 0,
        pace_audio: bool = False,
        clock_rate: float = 1.0,
        battery_percent: float = 100.0,
        battery_drain_per_hour: float = 10.0,
        jpeg_quality: int = 80,
        disconnect_when_done: bool = False,
        hear_answer_s: float | None = None,
    ) -> None:
        if audio is not None and (audio.ndim != 1 or audio.dtype != np.int16):
            raise ValueError(f"audio must be 1-D int16 at 16 kHz, not {audio.dtype} {audio.shape}")
        if clock_rate <= 0:
            raise ValueError("clock_rate must be positive")
        self.link = link
        self.audio = audio if audio is not None else np.zeros(0, dtype=np.int16)
        self.photos = list(photos)
        self.codec = CODECS[codec]
        self.counter_mode: CounterMode = counter_mode
        self.pace_audio = pace_audio
        self.clock_rate = clock_rate
        self.battery_drain_per_hour = battery_drain_per_hour
        self.jpeg_quality = jpeg_quality
        self.disconnect_when_done = disconnect_when_done
        # With a speaker: before hanging up, wait for the answer to be spoken to it and
        # then this long without a write (at most SPEAKER_WAIT_S in all).
        self.hear_answer_s = hear_answer_s
        self._speaker_written = asyncio.Event()
        self.stats = VirtualGlassesStats()
        self.worn = True
        self.audio_sent = asyncio.Event()
        self._battery = float(battery_percent)
        self._framer = AudioFramer(
            mtu=link.mtu, counter_mode=counter_mode, start_counter=start_counter
        )
        self._audio_position = 0
        self._next_photo = 0
        self._single_shots = 0
        self._interval_s: int | None = None
        self._next_interval_shot = 0.0
        self._photo_wanted = asyncio.Event()
        self._photos_idle = asyncio.Event()
        self._photos_idle.set()
        self._jpegs: dict[int, bytes] = {}
        self._task: asyncio.Task[None] | None = None
        # What was written to the speaker characteristic (spoken answers), as written.
        self.speaker_writes: list[bytes] = []

    # --- lifecycle --------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def start(self) -> None:
        """Publish the GATT table and start serving whoever connects."""
        if self._task is not None:
            return
        self.link.peripheral.serve(
            {
                AUDIO_DATA_UUID: b"",
                AUDIO_CODEC_UUID: bytes([self.codec.codec_id]),
                PHOTO_DATA_UUID: b"",
                PHOTO_CONTROL_UUID: b"\x00",
                BATTERY_LEVEL_UUID: bytes([self._battery_level()]),
                BUTTON_UUID: b"",
                SPEAKER_DATA_UUID: b"",
            },
            on_write=self._on_write,
        )
        self._task = asyncio.create_task(self._serve(), name="virtual-glasses")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- scripted events --------------------------------------------------------------------

    def take_off(self) -> None:
        """Nobody wears them: the microphone hears silence and the camera takes nothing."""
        self.worn = False

    def put_on(self) -> None:
        self.worn = True

    async def tap(self, event: ButtonEvent = ButtonEvent.SINGLE_TAP) -> None:
        """Press the button; the central hears it if it subscribed to the button."""
        if await self.link.peripheral.notify(BUTTON_UUID, int(event).to_bytes(4, "little")):
            self.stats.button_taps += 1

    async def drop_link(self) -> None:
        """The radio link dies mid-stream."""
        await self.link.peripheral.drop()

    # --- serving ----------------------------------------------------------------------------

    async def _serve(self) -> None:
        peripheral = self.link.peripheral
        while True:
            while not peripheral.is_connected:
                await self.link.state_changed()
            # One connection's work ends with the connection, at once: a central
            # that reconnects quickly must find a fresh session serving it.
            session = [
                asyncio.create_task(self._stream_audio(), name="virtual-glasses-audio"),
                asyncio.create_task(self._take_photos(), name="virtual-glasses-photos"),
                asyncio.create_task(self._drain_battery(), name="virtual-glasses-battery"),
            ]
            try:
                await peripheral.wait_disconnected()
            finally:
                for task in session:
                    task.cancel()
                for outcome in await asyncio.gather(*session, return_exceptions=True):
                    if isinstance(outcome, Exception):
                        log.error("virtual glasses failed", exc_info=outcome)

    async def _stream_audio(self) -> None:
        peripheral = self.link.peripheral
        await self._until(peripheral.wait_subscribed(AUDIO_DATA_UUID))
        encoder = create_encoder(self.codec)
        step = self.codec.output_samples_per_packet
        loop = asyncio.get_running_loop()
        started, sent_samples = loop.time(), 0
        while self._audio_position < self.audio.size and peripheral.is_connected:
            block = self.audio[self._audio_position : self._audio_position + step]
            if not self.worn:
                block = np.zeros_like(block)
            await self._send_audio(encoder.encode(block))
            self._audio_position += block.size
            sent_samples += block.size
            if self.pace_audio:
                due = started + sent_samples / AUDIO_RATE / self.clock_rate
                await asyncio.sleep(max(0.0, due - loop.time()))
        if peripheral.is_connected:
            await self._send_audio(encoder.flush())
            self.audio_sent.set()
        if self.disconnect_when_done and self.audio_sent.is_set():
            await self._hang_up_when_idle()

    async def _send_audio(self, packets: list[bytes]) -> None:
        for packet in packets:
            self.stats.audio_packets += 1
            for notification in self._framer.frame(packet):
                if await self.link.peripheral.notify(AUDIO_DATA_UUID, notification):
                    self.stats.audio_notifications += 1

    async def _hang_up_when_idle(self) -> None:
        await self._until(self._photos_idle.wait())
        if self.hear_answer_s is not None:
            await self._until(self._answer_heard(self.hear_answer_s))
        conditions = self.link.conditions
        await asyncio.sleep(conditions.latency_s + conditions.max_reorder_hold_s + 0.01)
        await self.drop_link()

    async def _until(self, event: Coroutine[Any, Any, Any]) -> None:
        """Until `event` happens or the link goes down, whichever is first."""
        waiting = asyncio.ensure_future(event)
        gone = asyncio.ensure_future(self.link.peripheral.wait_disconnected())
        try:
            await asyncio.wait({waiting, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiting.cancel()
            gone.cancel()

    async def _answer_heard(self, quiet_s: float) -> None:
        """Until an answer was spoken to the speaker and it went quiet (bounded)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(SPEAKER_WAIT_S):
                await self._speaker_written.wait()
                while True:
                    self._speaker_written.clear()
                    try:
                        async with asyncio.timeout(quiet_s):
                            await self._speaker_written.wait()
                    except TimeoutError:
                        return

    def _on_write(self, uuid: str, value: bytes) -> None:
        if uuid == SPEAKER_DATA_UUID:
            if len(self.speaker_writes) < MAX_SPEAKER_WRITES:
                self.speaker_writes.append(value)
            self._speaker_written.set()
            return
        if uuid != PHOTO_CONTROL_UUID:
            return
        command = parse_photo_control(value)
        if command == PHOTO_SINGLE_SHOT:
            self._single_shots += 1
            self._photos_idle.clear()
        elif command == PHOTO_STOP:
            self._interval_s = None
        elif command is not None:
            self._interval_s = command
            self._next_interval_shot = asyncio.get_running_loop().time()
        self._photo_wanted.set()

    async def _take_photos(self) -> None:
        peripheral = self.link.peripheral
        loop = asyncio.get_running_loop()
        while peripheral.is_connected:
            interval_due = self._interval_s is not None and loop.time() >= self._next_interval_shot
            if self._single_shots or interval_due:
                if self._single_shots:
                    self._single_shots -= 1
                if interval_due and self._interval_s is not None:
                    self._next_interval_shot = loop.time() + self._interval_s / self.clock_rate
                if self.worn and self.photos:
                    await self._send_photo()
                continue
            self._photos_idle.set()
            wait = 0.5
            if self._interval_s is not None:
                wait = max(0.0, self._next_interval_shot - loop.time())
            self._photo_wanted.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._photo_wanted.wait(), timeout=wait)

    async def _send_photo(self) -> None:
        jpeg = self._shot(self._next_photo)
        self._next_photo += 1
        chunk = photo_chunk_bytes(self.link.mtu)
        for notification in frame_photo(jpeg, chunk_bytes=chunk):
            if not await self.link.peripheral.notify(PHOTO_DATA_UUID, notification):
                return
            self.stats.photo_notifications += 1
        self.stats.photos_sent += 1

    def _shot(self, number: int) -> bytes:
        """Photo `number` as the camera would send it: never byte-identical to the last one.

        A real sensor's noise makes every JPEG unique; a JPEG comment segment
        with the shot number does the same here (decoders ignore it), so a
        repeated picture is not mistaken for a late copy of the previous one.
        """
        jpeg = self._jpeg(number % len(self.photos))
        if not jpeg.startswith(b"\xff\xd8"):
            return jpeg  # not a JPEG: sent as it is, for tests of what the receiver does
        comment = f"virtual glasses shot {number}".encode()
        segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
        return jpeg[:2] + segment + jpeg[2:]

    def _jpeg(self, index: int) -> bytes:
        if index not in self._jpegs:
            image = self.photos[index]
            if isinstance(image, bytes):
                self._jpegs[index] = image
            else:
                ok, encoded = cv2.imencode(
                    ".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality]
                )
                if not ok:
                    raise ValueError(f"photo {index} ({image.shape}) could not be encoded as JPEG")
                self._jpegs[index] = encoded.tobytes()
        return self._jpegs[index]

    async def _drain_battery(self) -> None:
        peripheral = self.link.peripheral
        loop = asyncio.get_running_loop()
        last_tick = loop.time()
        reported = self._battery_level()
        while peripheral.is_connected:
            await asyncio.sleep(BATTERY_TICK_S)
            now = loop.time()
            hours = (now - last_tick) * self.clock_rate / 3600.0
            last_tick = now
            self._battery = max(0.0, self._battery - self.battery_drain_per_hour * hours)
            level = self._battery_level()
            peripheral.set_value(BATTERY_LEVEL_UUID, bytes([level]))
            if level != reported and await peripheral.notify(BATTERY_LEVEL_UUID, bytes([level])):
                self.stats.battery_notifications += 1
                reported = level

    def _battery_level(self) -> int:
        return max(0, min(100, round(self._battery)))
