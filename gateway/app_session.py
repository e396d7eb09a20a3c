"""A phone app's session: the browser is camera, microphone and screen; the edge runs here.

The browser sends its camera and microphone as WebRTC tracks and speaks the
protocol on the "context" data channel only for what a person does (Hello,
typed Query, Control, Ack). The gateway runs the edge pipeline (VAD,
endpointing, keyframe choice, OCR) on the received tracks and is the edge as
far as the cloud can tell: one Hello naming the authenticated user, then the
same SpeechSegment / Keyframe / Observation / Query messages any edge sends.

The session outlives its peer connection. When the connection drops, the
cloud conversation and the edge pipeline go on, answers are held in the
`Outbox`, and a new connection that names this session (and the last seq the
app received) gets everything it missed, in order.

Face blur is not a switch. Bystanders never agreed to be sent anywhere, so
every keyframe leaves with their faces blurred (and stays here if the face
stage fails), History shows exactly that upload, and a request to turn blur
off is refused with an Error that says so and what to use instead
("no-camera" sends no frames at all). The Privacy page shows the same thing.

Retention (in days, 0 = until deleted) covers everything kept for the user:
their History turns and the assistant's memories, both deleted through their
stores when the setting arrives (the app sends it on every connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aiortc import MediaStreamTrack, RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from edge.config import EdgeConfig
from edge.link.webrtc import CONTEXT_CHANNEL, offers_data_channel, rtc_configuration
from edge.models import EdgeModels
from edge.runtime import EdgeRuntime
from gateway.cloud_link import connect_cloud
from gateway.delivery import Inbox, Outbox
from gateway.history import History
from gateway.session_lifecycle import CloudBoundSession
from gateway.track_source import TrackSource
from protocol import (
    Ack,
    AnswerDone,
    Control,
    Error,
    Hello,
    Keyframe,
    Message,
    Observation,
    ProtocolError,
    Query,
    Sequencer,
    SpeechSegment,
    Transcript,
    decode,
    encode,
)
from protocol.latency import stage_at

log = logging.getLogger(__name__)

PRIVACY_MODES = ("standard", "no-camera", "local-only")
ANSWER_MODES = ("auto", "fast", "reasoning")
# How long a session waits for its app to come back before it ends.
RESUME_GRACE_S = 120.0

# Asked before a question (typed or spoken) goes to the cloud: None = allowed,
# otherwise the message to show the user.
QuestionGate = Callable[[], str | None]
# Deletes what the user keeps (history, memories) older than the given seconds.
RetentionEnforcer = Callable[[str, float], Awaitable[object]]

FACE_BLUR_LOCKED = (
    "face blur stays on: bystanders' faces are always blurred before a frame leaves; "
    "choose privacy mode no-camera to send no frames at all"
)


@dataclasses.dataclass
class AppSettings:
    """What the app's Live and Privacy pages set for this session."""

    paused: bool = False
    retention_days: int = 0  # 0 = keep until deleted


class AppSession(CloudBoundSession):
    def __init__(
        self,
        session_id: str,
        user: str,
        device: str,
        cloud: ClientConnection,
        edge_models: EdgeModels,
        *,
        history: History | None,
        question_gate: QuestionGate,
        on_closed: Callable[[str], None],
        grace_s: float = RESUME_GRACE_S,
        enforce_retention: RetentionEnforcer | None = None,
    ) -> None:
        super().__init__(session_id, cloud, on_closed)
        self.user = user
        self.device = device
        self.settings = AppSettings()
        self._history = history
        self._question_gate = question_gate
        self._enforce_retention = enforce_retention
        self._grace_s = grace_s
        self._up = Sequencer(session_id)
        self.outbox = Outbox()
        self._inbox = Inbox()
        self._refused_turns: set[int] = set()
        # The phone's audio already crossed the radio as WebRTC Opus; from here to the cloud
        # is the server's own network, where a second lossy encoding would only cost words.
        config = EdgeConfig(user=user, device=device, speech_codec="pcm")
        self.source = TrackSource(
            accept_audio=lambda: not self.settings.paused,
            accept_video=lambda: (
                not self.settings.paused and self.runtime.config.privacy == "standard"
            ),
        )
        self.runtime = EdgeRuntime(
            edge_models.listener(config),
            edge_models.analyser,
            self._up,
            self._to_cloud,
            config=config,
        )
        self.pc: RTCPeerConnection | None = None
        self._channel: RTCDataChannel | None = None
        self._grace: asyncio.Task[None] | None = None
        self.connections = 0

    @classmethod
    async def open(
        cls,
        session_id: str,
        user: str,
        device: str,
        cloud_url: str,
        edge_models: EdgeModels,
        *,
        history: History | None,
        question_gate: QuestionGate,
        on_closed: Callable[[str], None],
        grace_s: float = RESUME_GRACE_S,
        enforce_retention: RetentionEnforcer | None = None,
        cloud_secret: bytes,
    ) -> AppSession:
        # The OCR and classifier load once per process, off the event loop.
        await asyncio.to_thread(lambda: edge_models.analyser)
        cloud = await connect_cloud(
            cloud_url, user=user, session_id=session_id, secret=cloud_secret
        )
        session = cls(
            session_id,
            user,
            device,
            cloud,
            edge_models,
            history=history,
            question_gate=question_gate,
            on_closed=on_closed,
            grace_s=grace_s,
            enforce_retention=enforce_retention,
        )
        await cloud.send(encode(session._up.make(Hello, user=user, device=device)))
        session._start(session._run_edge())
        session._start(session._relay_from_cloud())
        return session

    def _start(self, coroutine: Coroutine[Any, Any, object]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the peer connection (replaced on every reconnect) --------------------

    async def connect(self, offer_sdp: str, last_seq: int) -> RTCSessionDescription:
        """Answer a (new or resuming) app's offer; what it missed after `last_seq` follows.

        The new connection is negotiated before it replaces the old one, so an
        unusable offer (ValueError) leaves a live connection as it was.
        """
        if not offers_data_channel(offer_sdp):
            raise ValueError("the offer has no data channel; the app speaks over one")
        pc = RTCPeerConnection(rtc_configuration())
        early_tracks: list[MediaStreamTrack] = []

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            log.info("session %s: %s track", self.session_id, track.kind)
            if pc is self.pc:
                self.source.add_track(track)
            else:
                early_tracks.append(track)  # offered before the connection is ours

        @pc.on("datachannel")
        def on_datachannel(channel: RTCDataChannel) -> None:
            if channel.label != CONTEXT_CHANNEL or pc is not self.pc:
                return
            self._channel = channel
            channel.on("message", self._on_app_message)
            channel.on("close", lambda: self._lost(pc))
            for message in self.outbox.after(last_seq):
                channel.send(encode(message))

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                self._lost(pc)

        try:
            await pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
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
            self.source.add_track(track)
        if old is not None:
            with contextlib.suppress(Exception):
                await old.close()
        return pc.localDescription

    def _lost(self, pc: RTCPeerConnection) -> None:
        """The app's connection went; keep everything for a while in case it comes back."""
        if pc is not self.pc or self.closed.is_set() or self._grace is not None:
            return
        log.info(
            "session %s: app connection lost; holding for %.0f s", self.session_id, self._grace_s
        )
        self._channel = None
        self._grace = asyncio.create_task(self._expire())

    async def _expire(self) -> None:
        await asyncio.sleep(self._grace_s)
        self._grace = None
        await self.close()

    # -- app → gateway -------------------------------------------------------

    def _on_app_message(self, data: bytes | str) -> None:
        message = self._own_message(data)
        if message is None:
            return
        if isinstance(message, Ack):
            self.outbox.ack(message.ack_seq)
            return
        if self._inbox.accept(message.seq):
            self._handle(message)
        self._send_ack(message.seq)

    def _handle(self, message: Message) -> None:
        if isinstance(message, Hello):
            self._set_mode(message.mode)
            self._set_privacy(message.privacy)
        elif isinstance(message, Query):
            self._set_mode(message.mode)
            if self.runtime.config.privacy == "local-only":
                self._send_error("local_only", _LOCAL_ONLY, message.seq)
            elif (refusal := self._question_gate()) is not None:
                self._send_error("rate_limited", refusal, message.seq)
            else:
                self._start(self.runtime.ask(message.text))
        elif isinstance(message, Control):
            self._control(message)
        else:
            self._send_error(
                "unexpected", f"the app does not send {message.kind} messages", message.seq
            )

    def _control(self, control: Control) -> None:
        action, value = control.action, control.value
        if action == "mode" and value in ANSWER_MODES:
            self._set_mode(value)
        elif action == "privacy" and value in PRIVACY_MODES:
            self._set_privacy(value)
        elif action in ("pause", "resume"):
            self.settings.paused = action == "pause"
        elif action == "face_blur" and value == "off":
            self._send_error("face_blur_locked", FACE_BLUR_LOCKED, control.seq)
            return
        elif action == "face_blur" and value == "on":
            pass  # always so; the cloud still hears it below, as from any edge
        elif action == "retention" and value.isdigit() and len(value) <= 5:
            self.settings.retention_days = int(value)
            if self.settings.retention_days:
                self._start(self._apply_retention(self.settings.retention_days * 86400.0))
        else:
            self._send_error("bad_control", f"unknown setting {action!r}={value!r}", control.seq)
            return
        if action in ("privacy", "face_blur", "mode"):
            # The cloud hears the wearer's settings the way any edge would tell it.
            self._start(self._to_cloud(self._up.make(Control, action=action, value=value)))

    async def _apply_retention(self, max_age_s: float) -> None:
        if self._enforce_retention is None:
            return
        try:
            await self._enforce_retention(self.user, max_age_s)
        except Exception:
            log.exception("session %s: retention failed", self.session_id)
            self._send_error(
                "retention_failed",
                "old history and memories could not be deleted yet; set retention again to retry",
            )

    def _set_mode(self, mode: str) -> None:
        if mode in ANSWER_MODES:
            self.runtime.config = dataclasses.replace(self.runtime.config, mode=mode)

    def _set_privacy(self, privacy: str) -> None:
        if privacy in PRIVACY_MODES:
            self.runtime.config = dataclasses.replace(self.runtime.config, privacy=privacy)

    # -- edge pipeline → cloud ------------------------------------------------

    async def _run_edge(self) -> None:
        try:
            await self.runtime.run(self.source.items())
        except Exception:
            log.exception("session %s: edge pipeline failed", self.session_id)
            self._send_error("edge_failed", "listening stopped; reconnect to start again")

    async def _to_cloud(self, message: Message) -> None:
        turn_id = getattr(message, "turn_id", None)
        if isinstance(message, SpeechSegment) and message.part == 0:
            # A spoken question passes the same gates as a typed one (checked in _handle).
            if self.runtime.config.privacy == "local-only":
                self._refused_turns.add(message.turn_id)
                self._send_error("local_only", _LOCAL_ONLY)
            elif (refusal := self._question_gate()) is not None:
                self._refused_turns.add(message.turn_id)
                self._send_error("rate_limited", refusal)
        if turn_id is not None and turn_id in self._refused_turns:
            return  # every part, keyframe and observation of a refused turn stays here
        if self._history is not None:
            if isinstance(message, Keyframe):
                self._history.record_keyframe(
                    self.user, self.session_id, message.turn_id, message.jpeg
                )
            elif isinstance(message, Query):
                self._history.record_question(
                    self.user, self.session_id, message.turn_id, message.text
                )
        if isinstance(message, Observation):
            # The app shows what was read, so the wearer sees what the answer rests on.
            self.send_to_app(message)
        try:
            await self._cloud.send(encode(message))
        except ConnectionClosed:
            await self._cloud_lost()

    # -- cloud → app ----------------------------------------------------------

    async def _relay_from_cloud(self) -> None:
        try:
            async for data in self._cloud:
                try:
                    message = decode(data if isinstance(data, bytes) else data.encode())
                except ProtocolError as exc:
                    log.warning("session %s: bad message from the cloud: %s", self.session_id, exc)
                    continue
                self._remember(message)
                self.send_to_app(message)
        except ConnectionClosed:
            pass
        await self._cloud_lost()

    def _remember(self, message: Message) -> None:
        if self._history is None:
            return
        if isinstance(message, Transcript) and message.text:
            self._history.record_question(self.user, self.session_id, message.turn_id, message.text)
        elif isinstance(message, AnswerDone):
            start = stage_at(message.stages, "speech_end") or stage_at(
                message.stages, "segment_received"
            )
            end = stage_at(message.stages, "last_token")
            latency = (end - start) * 1000.0 if start is not None and end is not None else None
            self._history.record_answer(
                self.user, self.session_id, message.turn_id, message.text, message.mode, latency
            )

    def send_to_app(self, message: Message) -> None:
        """Number the message, keep it until acked, and send it if the app is connected."""
        stamped = self.outbox.stamp(message)
        channel = self._channel
        if channel is not None and channel.readyState == "open":
            channel.send(encode(stamped))

    def _send_ack(self, seq: int) -> None:
        # Acks are not numbered: they are never resent, a lost one just causes a resend.
        channel = self._channel
        if channel is not None and channel.readyState == "open":
            ack = Ack(session_id=self.session_id, seq=0, sent_at=time.monotonic(), ack_seq=seq)
            channel.send(encode(ack))

    def _send_error(self, code: str, text: str, ref_seq: int = -1) -> None:
        log.info("session %s: %s: %s", self.session_id, code, text)
        self.send_to_app(
            Error(
                session_id=self.session_id,
                seq=0,
                sent_at=time.monotonic(),
                code=code,
                message=text,
                ref_seq=ref_seq,
            )
        )

    def _peer(self) -> RTCPeerConnection | None:
        return self.pc

    async def _release(self) -> None:
        if self._grace is not None and self._grace is not asyncio.current_task():
            self._grace.cancel()
        await self.source.close()


_LOCAL_ONLY = (
    "local-only mode: nothing leaves this device, and the browser app has no on-device "
    "model to answer with; switch privacy to standard or no-camera to ask"
)
