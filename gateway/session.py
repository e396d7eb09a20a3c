"""One edge session at the gateway: a peer connection, its data channel and the
websocket to the cloud that carries the same protocol messages."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from functools import cache

from aiortc import RTCDataChannel, RTCPeerConnection
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from edge.link.webrtc import CONTEXT_CHANNEL, rtc_configuration
from edge.vision.faces import HaarFaceDetector, faces_in_jpeg
from gateway.cloud_link import CloudConnector, connect_cloud
from gateway.sessions.lifecycle import CloudBoundSession
from protocol import (
    DeviceStatus,
    Error,
    Hello,
    Keyframe,
    Message,
    Sequencer,
    encode,
)

log = logging.getLogger(__name__)

FACE_LEFT = "a face was still visible in this keyframe, so it was not sent on; the question goes on"


@cache
def keyframe_face_check() -> HaarFaceDetector:
    """One independent face detector for every edge session (OpenCV's Haar cascade).

    Not the edge's own MediaPipe model: a frame that model already passed is
    best checked by one that fails differently; and the cascade costs a few
    milliseconds per keyframe with no model graph or lock to share with edges.
    """
    return HaarFaceDetector()


def _faces_left(jpeg: bytes) -> int:
    """Faces the independent check finds in `jpeg` (run off the event loop: the first call
    also loads the cascade)."""
    return faces_in_jpeg(jpeg, keyframe_face_check())


class GatewaySession(CloudBoundSession):
    """Relays validated messages between an edge peer and the cloud.

    Every message from the edge is decoded here, so a malformed one is answered
    with an Error on the channel and never reaches the cloud; the session goes on.
    """

    def __init__(
        self,
        session_id: str,
        cloud: ClientConnection,
        on_closed: Callable[[str], None] = lambda session_id: None,
        user: str | None = None,
    ) -> None:
        super().__init__(session_id, cloud, on_closed)
        # The authenticated user (None: a gateway without accounts): a Hello naming
        # anyone else is rewritten, so a device can only ever speak as its owner.
        self.user = user
        self.speaker = user or ""  # the user this session speaks for, once known
        # The phone app shows the wearer's glasses (set by the gateway).
        self.on_device_status: Callable[[str, DeviceStatus], None] = lambda user, status: None
        self.pc = RTCPeerConnection(rtc_configuration())
        self._channel: RTCDataChannel | None = None
        self._out = Sequencer(session_id)
        # Each message's bytes, with the keyframe decoded when it is one (re-checked for faces).
        self._to_cloud: asyncio.Queue[tuple[bytes, Keyframe | None]] = asyncio.Queue(maxsize=256)
        self.messages_in = 0
        self.errors = 0
        # Keyframes an edge client sent with a face still visible: dropped here, never relayed.
        self.keyframes_dropped = 0

        @self.pc.on("datachannel")
        def on_datachannel(channel: RTCDataChannel) -> None:
            if channel.label != CONTEXT_CHANNEL:
                log.warning("ignoring unexpected data channel %r", channel.label)
                return
            self._channel = channel
            channel.on("message", self._on_edge_message)

        @self.pc.on("connectionstatechange")
        async def on_state() -> None:
            log.info("session %s: peer %s", session_id, self.pc.connectionState)
            if self.pc.connectionState in ("failed", "closed"):
                await self.close()

    @classmethod
    async def open(
        cls,
        session_id: str,
        cloud_url: str,
        on_closed: Callable[[str], None],
        user: str | None = None,
        *,
        cloud_secret: bytes,
        connect: CloudConnector | None = None,
    ) -> GatewaySession:
        if connect is not None:  # the cloud is elsewhere than one websocket (deploy/bus)
            cloud = await connect(user, session_id)
        else:
            cloud = await connect_cloud(
                cloud_url, user=user, session_id=session_id, secret=cloud_secret
            )
        try:
            session = cls(session_id, cloud, on_closed, user)
        except BaseException:  # whatever failed, the cloud socket opened for it is let go
            await cloud.close()
            raise
        session._tasks = {
            asyncio.create_task(session._relay_to_cloud()),
            asyncio.create_task(session._relay_from_cloud()),
        }
        return session

    def _on_edge_message(self, data: bytes | str) -> None:
        self.messages_in += 1
        message = self._own_message(data)
        if message is None:
            return
        if isinstance(message, Hello):
            if self.user is not None and message.user != self.user:
                data = encode(dataclasses.replace(message, user=self.user))
            self.speaker = self.user or message.user
        elif isinstance(message, DeviceStatus) and self.speaker:
            self.on_device_status(self.speaker, message)
        try:
            raw = data if isinstance(data, bytes) else data.encode()
            self._to_cloud.put_nowait((raw, message if isinstance(message, Keyframe) else None))
        except asyncio.QueueFull:
            self._send_error("overloaded", "too many messages in flight; slow down", message.seq)

    def _send_error(self, code: str, text: str, ref_seq: int = -1) -> None:
        self.errors += 1
        log.info("session %s: %s: %s", self.session_id, code, text)
        self.send_to_edge(self._out.make(Error, code=code, message=text, ref_seq=ref_seq))

    def send_to_edge(self, message: Message) -> None:
        if self._channel is not None and self._channel.readyState == "open":
            self._channel.send(encode(message))

    async def _relay_to_cloud(self) -> None:
        try:
            while True:
                data, keyframe = await self._to_cloud.get()
                if keyframe is not None and await self._face_left_in(keyframe):
                    continue
                await self._cloud.send(data)
        except ConnectionClosed:
            await self._cloud_lost()

    async def _face_left_in(self, keyframe: Keyframe) -> bool:
        """Whether an independent detector still finds a face in `keyframe` (then it is
        dropped and counted). Fails closed: a frame that cannot be checked is dropped too."""
        try:
            faces = await asyncio.to_thread(_faces_left, keyframe.jpeg)
        except Exception as exc:
            log.error("session %s: keyframe not checked for faces: %s", self.session_id, exc)
            faces = -1
        if faces == 0:
            return False
        self.keyframes_dropped += 1
        self._send_error("face_in_keyframe", FACE_LEFT, keyframe.seq)
        return True

    async def _relay_from_cloud(self) -> None:
        try:
            async for data in self._cloud:
                if self._channel is not None and self._channel.readyState == "open":
                    self._channel.send(data)
        except ConnectionClosed:
            pass
        await self._cloud_lost()

    def _peer(self) -> RTCPeerConnection:
        return self.pc
