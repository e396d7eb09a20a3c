"""A phone app's session: the browser is camera, microphone and screen; the edge runs here.

The browser sends its camera and microphone as WebRTC tracks and speaks the
protocol on the "context" data channel only for what a person does (Hello,
typed Query, Control, Ack). The gateway runs the edge pipeline (VAD,
endpointing, keyframe choice, OCR) on the received tracks and is the edge as
far as the cloud can tell: one Hello naming the authenticated user, then the
same SpeechSegment / Keyframe / Observation / Query messages any edge sends.

The session outlives its peer connection (`PeerLink`): when the connection
drops, the cloud conversation and the edge pipeline go on, answers wait in the
outbox, and the session ends only if the app stays away for the grace period.

This class only wires the parts together: settings change through the pure
reducer (`settings.apply_control`), what goes to the cloud passes the
`UploadGate`, and every keyframe leaves with bystanders' faces blurred (the
edge pipeline's privacy stage; History shows exactly that upload).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from edge.audio.caption_tap import CaptionTap, caption_listener
from edge.audio.vad import SileroVad
from edge.config import EdgeConfig
from edge.models import EdgeModels
from edge.runtime import EdgeRuntime
from gateway.cloud_link import connect_cloud
from gateway.history import History
from gateway.sessions.answer_track import AnswerPlayout, AnswerTrack
from gateway.sessions.history_feed import HistoryFeed
from gateway.sessions.lifecycle import CloudBoundSession
from gateway.sessions.peer_link import PeerLink
from gateway.sessions.settings import (
    LISTENING_SWITCHES,
    AppSettings,
    EnforceRetention,
    Refusal,
    TellCloud,
    apply_control,
    apply_hello,
    with_mode,
)
from gateway.sessions.track_source import TrackSource
from gateway.sessions.upload_gate import QuestionGate, UploadGate
from protocol import (
    Ack,
    AnswerAudio,
    Control,
    Error,
    Hello,
    Interrupt,
    Message,
    Observation,
    ProtocolError,
    Query,
    Sequencer,
    decode,
    encode,
)
from protocol.privacy import policy_for

log = logging.getLogger(__name__)

# How long a session waits for its app to come back before it ends.
RESUME_GRACE_S = 120.0

# Deletes what the user keeps (history, memories) older than the given seconds.
RetentionEnforcer = Callable[[str, float], Awaitable[object]]


@dataclasses.dataclass(frozen=True, slots=True)
class AppSessionDeps:
    """What every app session is built with, beside who it is for and its cloud link."""

    edge_models: EdgeModels
    history: History | None
    question_gate: QuestionGate
    on_closed: Callable[[str], None]
    enforce_retention: RetentionEnforcer | None = None
    grace_s: float = RESUME_GRACE_S


class AppSession(CloudBoundSession):
    """Owns one phone app's session: its peer link, settings, upload gate and edge pipeline."""

    def __init__(
        self, session_id: str, user: str, device: str, cloud: ClientConnection, deps: AppSessionDeps
    ) -> None:
        super().__init__(session_id, cloud, deps.on_closed)
        self.user = user
        self.device = device
        self._deps = deps
        self.settings = AppSettings()
        self._gate = UploadGate(deps.question_gate)
        self._up = Sequencer(session_id)
        # Video is dropped here, before any model sees it, unless frames may leave: the
        # browser app has no on-device model to answer from what a local-only camera saw.
        self.source = TrackSource(
            accept_audio=lambda: not self.settings.paused,
            accept_video=lambda: (
                not self.settings.paused and policy_for(self.settings.privacy).frames_leave
            ),
        )
        # Spoken answers play on an audio track back to the phone, not as data-channel PCM.
        self.playout = AnswerPlayout()
        self._silenced_turn = -1
        self.link = PeerLink(
            session_id,
            grace_s=deps.grace_s,
            on_track=self.source.add_track,
            on_message=self._on_app_message,
            on_gone=self.close,
            answer_track=lambda: AnswerTrack(self.playout),
        )
        self._history = HistoryFeed(deps.history, user, session_id)
        # The phone's audio already crossed the radio as WebRTC Opus; from here to the cloud
        # is the server's own network, where a second lossy encoding would only cost words.
        config = EdgeConfig(user=user, device=device, speech_codec="pcm")
        self.runtime = EdgeRuntime(
            deps.edge_models.listener(config),
            deps.edge_models.analyser,
            self._up,
            self._to_cloud,
            config=config,
        )
        # Live captions and notes: a tap on the phone's audio beside the edge pipeline,
        # listening only while the wearer has either on (off by default).
        self.captions = CaptionTap(
            caption_listener(SileroVad(deps.edge_models.vad_session), config),
            self._up,
            self._to_cloud,
            privacy=lambda: self.settings.privacy,
        )

    @classmethod
    async def open(
        cls,
        session_id: str,
        user: str,
        device: str,
        cloud_url: str,
        deps: AppSessionDeps,
        *,
        cloud_secret: bytes,
    ) -> AppSession:
        # The OCR and classifier load once per process, off the event loop.
        await asyncio.to_thread(lambda: deps.edge_models.analyser)
        cloud = await connect_cloud(
            cloud_url, user=user, session_id=session_id, secret=cloud_secret
        )
        try:
            session = cls(session_id, user, device, cloud, deps)
            await cloud.send(encode(session._up.make(Hello, user=user, device=device)))
        except BaseException:  # whatever failed, the cloud socket opened for it is let go
            await cloud.close()
            raise
        session._start(session._run_edge())
        session._start(session._relay_from_cloud())
        return session

    def _start(self, coroutine: Coroutine[Any, Any, object]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def connect(self, offer_sdp: str, last_seq: int) -> RTCSessionDescription:
        """Answer a (new or resuming) app's offer; what it missed after `last_seq` follows."""
        return await self.link.connect(offer_sdp, last_seq)

    # -- app → gateway -------------------------------------------------------

    def _on_app_message(self, data: bytes | str) -> None:
        message = self._own_message(data)
        if message is None:
            return
        if isinstance(message, Ack):
            self.link.outbox.ack(message.ack_seq)
            return
        if self.link.inbox.accept(message.seq):
            self._handle(message)
        self.link.send_ack(message.seq)

    def _handle(self, message: Message) -> None:
        if isinstance(message, Hello):
            self._settle(apply_hello(self.settings, message.privacy, message.mode))
        elif isinstance(message, Query):
            self._settle(with_mode(self.settings, message.mode))
            refusal = self._gate.question(self.settings.privacy)
            if refusal is not None:
                self._refuse(refusal, message.seq)
            else:
                self._start(self.runtime.ask(message.text))
        elif isinstance(message, Control):
            self._control(message)
        else:
            self._send_error(
                "unexpected", f"the app does not send {message.kind} messages", message.seq
            )

    def _control(self, control: Control) -> None:
        applied = apply_control(self.settings, control)
        if applied.refusal is not None:
            self._refuse(applied.refusal, control.seq)
            return
        self._settle(applied.settings)
        for effect in applied.effects:
            if isinstance(effect, TellCloud):
                told = self._up.make(Control, action=effect.action, value=effect.value)
                if told.action == "shopping":  # the phone's camera sends shelf notes too
                    self.runtime.control(told)
                self._start(self._to_cloud(told))
            elif isinstance(effect, EnforceRetention):
                self._start(self._apply_retention(effect.max_age_s))

    def _settle(self, settings: AppSettings) -> None:
        """Adopt new settings; the edge pipeline runs under the same mode and privacy."""
        self.settings = settings
        self.captions.switch(captions=settings.captions, notes=settings.notes)
        config = self.runtime.config
        if (config.privacy, config.mode) != (settings.privacy, settings.mode):
            self.runtime.config = dataclasses.replace(
                config, privacy=settings.privacy, mode=settings.mode
            )

    async def _apply_retention(self, max_age_s: float) -> None:
        if self._deps.enforce_retention is None:
            return
        try:
            await self._deps.enforce_retention(self.user, max_age_s)
        except Exception:
            log.exception("session %s: retention failed", self.session_id)
            self._send_error(
                "retention_failed",
                "old history and memories could not be deleted yet; set retention again to retry",
            )

    # -- edge pipeline → cloud ------------------------------------------------

    async def _run_edge(self) -> None:
        try:
            await self.runtime.run(self.captions.tap(self.source.items()))
        except Exception:
            log.exception("session %s: edge pipeline failed", self.session_id)
            self._send_error("edge_failed", "listening stopped; reconnect to start again")

    async def _to_cloud(self, message: Message) -> None:
        if isinstance(message, Interrupt):
            # The wearer spoke over the answer: the phone stops at once, and what the
            # cloud had already sent of that answer is not played either.
            self._silenced_turn = message.turn_id
            self.playout.flush()
        admission = self._gate.admit(message, self.settings.privacy)
        if admission.refusal is not None:
            self._refuse(admission.refusal)
        if not admission.send:
            return
        self._history.uploaded(message)
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
                # The edge's turn tracker hears every answer begin and end, as on any edge.
                self.runtime.received(message)
                if isinstance(message, Control) and message.action in LISTENING_SWITCHES:
                    self._heard_switch(message)  # said aloud: "captions on", "stop taking notes"
                if isinstance(message, Control) and message.action == "shopping":
                    self.runtime.control(message)  # "I'm shopping": shelf notes from the phone
                self._history.received(message)
                if isinstance(message, AnswerAudio):
                    # Heard on the app's audio track; its PCM would only crowd the channel.
                    if message.turn_id != self._silenced_turn:
                        self.playout.push(message.pcm, message.sample_rate, last=message.last)
                    continue
                self.send_to_app(message)
        except ConnectionClosed:
            pass
        await self._cloud_lost()

    def _heard_switch(self, control: Control) -> None:
        """The cloud heard the wearer turn captions or notes on or off: the tap follows, and
        the app (which gets the Control too) shows it."""
        applied = apply_control(self.settings, control)
        if applied.refusal is None:
            self._settle(applied.settings)

    def send_to_app(self, message: Message) -> None:
        """Number the message, keep it until acked, and send it if the app is connected."""
        self.link.send(message)

    def _refuse(self, refusal: Refusal, ref_seq: int = -1) -> None:
        self._send_error(refusal.code, refusal.text, ref_seq)

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
        return self.link.pc

    async def _release(self) -> None:
        self.link.release()
        await self.source.close()
