"""The phone app's peer connection, replaced on every reconnect, and its numbered outbox.

The session outlives any one connection. Every message to the app is numbered
and kept in the `Outbox` until acked, and sent at once if the app is
connected; a new connection names the last seq the app received and gets
everything after it, in order. The `Inbox` drops an app message already handled
(a resend whose ack was lost), which is acked again.

Where the session speaks, every connection also carries a track back to the app
(`answer_track`): the offer's audio transceiver becomes send-and-receive, so the
phone plays spoken answers as ordinary WebRTC audio.

A new connection is negotiated before it replaces the old one, so an unusable
offer (ValueError) leaves a live connection as it was. When the connection in
use drops, the link waits `grace_s` for a new one before it gives up on the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from aiortc import MediaStreamTrack, RTCDataChannel, RTCPeerConnection, RTCSessionDescription

from edge.link.webrtc import CONTEXT_CHANNEL, offers_data_channel, rtc_configuration
from gateway.sessions.delivery import Inbox, Outbox
from protocol import Ack, Message, encode

log = logging.getLogger(__name__)


class PeerLink:
    """One session's current RTCPeerConnection, its "context" data channel and its delivery.

    `on_track` gets every media track of the connection in use; `on_message` the
    raw bytes of each data-channel message; `on_gone` is awaited when the
    connection in use failed or closed and no new one came within `grace_s`
    (a replaced connection is let go quietly).
    """

    def __init__(
        self,
        session_id: str,
        *,
        grace_s: float,
        on_track: Callable[[MediaStreamTrack], None],
        on_message: Callable[[bytes | str], None],
        on_gone: Callable[[], Awaitable[None]],
        answer_track: Callable[[], MediaStreamTrack] | None = None,
    ) -> None:
        self.session_id = session_id
        self._grace_s = grace_s
        self._on_track = on_track
        self._on_message = on_message
        self._on_gone = on_gone
        self._answer_track = answer_track
        self._grace: asyncio.Task[None] | None = None
        self._released = False
        self.outbox = Outbox()
        self.inbox = Inbox()
        self.pc: RTCPeerConnection | None = None
        self._channel: RTCDataChannel | None = None
        self.connections = 0

    async def connect(self, offer_sdp: str, last_seq: int) -> RTCSessionDescription:
        """Answer a (new or resuming) app's offer; what it missed after `last_seq` follows."""
        if not offers_data_channel(offer_sdp):
            raise ValueError("the offer has no data channel; the app speaks over one")
        pc = RTCPeerConnection(rtc_configuration())
        early_tracks: list[MediaStreamTrack] = []

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            log.info("session %s: %s track", self.session_id, track.kind)
            if pc is self.pc:
                self._on_track(track)
            else:
                early_tracks.append(track)  # offered before the connection is ours

        @pc.on("datachannel")
        def on_datachannel(channel: RTCDataChannel) -> None:
            if channel.label != CONTEXT_CHANNEL or pc is not self.pc:
                return
            self._channel = channel
            channel.on("message", self._on_message)
            channel.on("close", lambda: self._lost(pc))
            for message in self.outbox.after(last_seq):
                channel.send(encode(message))

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                self._lost(pc)

        try:
            await pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
            if self._answer_track is not None and any(
                transceiver.kind == "audio" for transceiver in pc.getTransceivers()
            ):
                pc.addTrack(self._answer_track())  # the offer's own audio m-line, both ways
            await pc.setLocalDescription(await pc.createAnswer())
        except BaseException:
            with contextlib.suppress(Exception):
                await pc.close()
            raise
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
        old, self.pc = self.pc, pc
        self._channel = None
        self.connections += 1
        for track in early_tracks:
            self._on_track(track)
        if old is not None:
            with contextlib.suppress(Exception):
                await old.close()
        return pc.localDescription

    def _lost(self, pc: RTCPeerConnection) -> None:
        """The app's connection went; keep everything for a while in case it comes back."""
        if pc is not self.pc or self._released or self._grace is not None:
            return  # a connection already replaced, a session ending, or already waiting
        log.info(
            "session %s: app connection lost; holding for %.0f s", self.session_id, self._grace_s
        )
        self._channel = None
        self._grace = asyncio.create_task(self._expire())

    async def _expire(self) -> None:
        await asyncio.sleep(self._grace_s)
        self._grace = None
        await self._on_gone()

    def release(self) -> None:
        """The session is ending: stop waiting for the app (the owner closes `pc` last)."""
        self._released = True
        if self._grace is not None and self._grace is not asyncio.current_task():
            self._grace.cancel()

    def send(self, message: Message) -> None:
        """Number the message, keep it until acked, and send it if the app is connected."""
        stamped = self.outbox.stamp(message)
        channel = self._channel
        if channel is not None and channel.readyState == "open":
            channel.send(encode(stamped))

    def send_ack(self, seq: int) -> None:
        # Acks are not numbered: they are never resent, a lost one just causes a resend.
        channel = self._channel
        if channel is not None and channel.readyState == "open":
            ack = Ack(session_id=self.session_id, seq=0, sent_at=time.monotonic(), ack_seq=seq)
            channel.send(encode(ack))
