"""Real glasses over Bluetooth LE, through bleak (https://bleak.readthedocs.io).

bleak is imported only when a link is actually opened, so the rest of
Companion (and every test) runs on machines without Bluetooth or without
bleak installed. Written against bleak 3.1's documented API:
`BleakClient(address, disconnected_callback=…, timeout=…)`, `connect()`,
`start_notify(uuid, callback)` where the callback gets
`(BleakGATTCharacteristic, bytearray)` on the event loop,
`read_gatt_char`, `write_gatt_char(uuid, data, response=…)`, `disconnect()`
and `BleakScanner.discover(service_uuids=…)`.

Not exercised against hardware in CI; `LoopbackLink` stands in for it there.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

from firmware_bridge.errors import LinkError
from firmware_bridge.omi_protocol import OMI_SERVICE_UUID, normalize_uuid
from firmware_bridge.transport import Notification, NotificationStream

if TYPE_CHECKING:
    from bleak import BleakClient

log = logging.getLogger(__name__)

T = TypeVar("T")


def _import_bleak() -> ModuleType:
    try:
        return importlib.import_module("bleak")
    except ImportError as error:
        raise LinkError("talking to real glasses needs bleak: pip install bleak==3.1.0") from error


async def find_glasses(timeout_s: float = 5.0) -> list[tuple[str, str | None]]:
    """(address, name) of nearby devices advertising the Omi / OpenGlass service."""
    bleak = _import_bleak()
    try:
        devices = await bleak.BleakScanner.discover(
            timeout=timeout_s, service_uuids=[OMI_SERVICE_UUID]
        )
    except (bleak.exc.BleakError, OSError) as error:
        raise LinkError(f"Bluetooth scan failed: {error}; is Bluetooth on?") from error
    return [(device.address, device.name) for device in devices]


class BleakLink:
    """A `GlassesLink` to one pair of glasses, by address (or macOS UUID)."""

    def __init__(self, address: str, *, connect_timeout_s: float = 20.0) -> None:
        self.address = address
        self.connect_timeout_s = connect_timeout_s
        self._client: BleakClient | None = None
        self._stream = NotificationStream()

    @property
    def is_connected(self) -> bool:
        return self._client is not None and self._client.is_connected

    @property
    def mtu(self) -> int | None:
        """bleak's view of the ATT MTU; BlueZ always reports 23 whatever was negotiated."""
        return None if self._client is None else self._client.mtu_size

    async def __aenter__(self) -> BleakLink:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.disconnect()

    async def connect(self) -> None:
        if self.is_connected:
            return
        bleak = _import_bleak()
        self._stream = NotificationStream()
        client = bleak.BleakClient(
            self.address,
            disconnected_callback=self._on_disconnected,
            timeout=self.connect_timeout_s,
        )
        try:
            await client.connect()
        except (bleak.exc.BleakError, TimeoutError, OSError) as error:
            raise LinkError(
                f"could not connect to glasses {self.address}: {error}; check they are on, "
                "charged, in range and not connected to another phone"
            ) from error
        self._client = client

    async def disconnect(self) -> None:
        client, self._client = self._client, None
        self._stream.close()
        if client is None:
            return
        bleak = _import_bleak()
        try:
            await client.disconnect()
        except (bleak.exc.BleakError, OSError) as error:
            log.warning("disconnecting from %s failed: %s", self.address, error)

    async def start_notify(self, uuid: str) -> None:
        client = self._connected_client()
        await self._gatt(f"subscribe to {uuid}", client.start_notify(uuid, self._forward(uuid)))

    def notifications(self) -> AsyncIterator[Notification]:
        return self._stream

    async def read(self, uuid: str) -> bytes:
        client = self._connected_client()
        return bytes(await self._gatt(f"read {uuid}", client.read_gatt_char(uuid)))

    async def write(self, uuid: str, data: bytes, *, with_response: bool = True) -> None:
        client = self._connected_client()
        await self._gatt(
            f"write {uuid}", client.write_gatt_char(uuid, data, response=with_response)
        )

    def _forward(self, uuid: str) -> Callable[[Any, bytearray], None]:
        """A notification callback that stamps arrival and queues; bleak calls it on the loop."""
        normalized = normalize_uuid(uuid)

        def forward(_characteristic: Any, data: bytearray) -> None:
            self._stream.put(Notification(normalized, bytes(data), time.monotonic()))

        return forward

    def _on_disconnected(self, _client: Any) -> None:
        log.info("glasses %s disconnected", self.address)
        self._stream.close()

    def _connected_client(self) -> BleakClient:
        if self._client is None or not self._client.is_connected:
            raise LinkError(f"glasses {self.address} are not connected; connect() first")
        return self._client

    async def _gatt(self, what: str, operation: Awaitable[T]) -> T:
        bleak = _import_bleak()
        try:
            return await operation
        except (bleak.exc.BleakError, TimeoutError, OSError) as error:
            raise LinkError(f"could not {what} on glasses {self.address}: {error}") from error
