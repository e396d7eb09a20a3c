"""An edge session end to end: connect, say Hello, stream a source, collect answers.

This is what `companion replay`, `companion demo` and the benchmarks drive; the
same object serves a live camera and microphone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from edge.audio.caption_tap import CaptionTap, OnDeviceListening, TapState
from edge.audio.listener import Listener
from edge.audio.playback import AnswerPlayer
from edge.config import EdgeConfig
from edge.link.client import GatewayClient
from edge.link.interface import Connect, Link
from edge.link.resuming import ResumingLink
from edge.runtime import EdgeRuntime, EdgeStats, LocalCommand, Transcribe
from edge.sources.media import Source
from edge.vision.analysis import KeyframeAnalyser
from protocol import (
    AnswerAudio,
    AnswerDelta,
    AnswerDone,
    Control,
    DeviceStatus,
    Error,
    Hello,
    Keyframe,
    Message,
    Observation,
    Query,
    Sequencer,
    SpeechSegment,
    Stage,
    Transcript,
)
from protocol.limits import MAX_CAPTION_LINES_DUE, MAX_SEGMENT_PART_BYTES, MAX_SEGMENT_PARTS
from protocol.messages import Caption, CaptionAudio

log = logging.getLogger(__name__)

CAPTION_DRAIN_S = 10.0
"""After the last answer, how long the session waits for its last caption lines to return."""


@dataclass
class TurnRecord:
    """What one turn produced, as seen from the edge."""

    turn_id: int
    transcript: str | None = None
    observation: Observation | None = None
    answer: str = ""
    done: AnswerDone | None = None
    answered_at: float = 0.0
    errors: list[str] = field(default_factory=list)
    # The spoken answer's parts (AnswerAudio) by part number, as they arrived.
    audio: dict[int, AnswerAudio] = field(default_factory=dict)

    def add_audio(self, message: AnswerAudio) -> None:
        """Keep a part of the spoken answer; a repeated part replaces the first, and
        no more parts than the cloud may send are kept."""
        if message.part < MAX_SEGMENT_PARTS and len(message.pcm) <= MAX_SEGMENT_PART_BYTES:
            self.audio[message.part] = message

    def spoken(self) -> tuple[bytes, int]:
        """The spoken answer as one run of s16le samples, and its sample rate (0: none)."""
        parts = [self.audio[k] for k in sorted(self.audio)]
        if not parts:
            return b"", 0
        return b"".join(p.pcm for p in parts), parts[0].sample_rate

    def stages(self) -> tuple[Stage, ...]:
        if self.done is None:
            return ()
        return (*self.done.stages, Stage(name="answer_received", at=self.answered_at))


@dataclass
class SessionSummary:
    turns: list[TurnRecord]
    stats: EdgeStats
    bytes_upstream: int
    messages_upstream: int
    errors: list[str]


OnEvent = Callable[[str, Message, TurnRecord | None], None]
Reporter = Callable[[Sequencer, Callable[[Message], Awaitable[None]]], Coroutine[Any, Any, None]]
"""Sends its own messages upstream for the session's life (e.g. the glasses' DeviceStatus);
it is given the session's sequencer and send, and cancelled when the session ends."""


class EdgeSession:
    def __init__(
        self,
        listener: Listener,
        analyser: KeyframeAnalyser | None,
        config: EdgeConfig,
        *,
        answer_timeout_s: float = 120.0,
        connect: Connect = GatewayClient,
        player: AnswerPlayer | None = None,
        transcribe: Transcribe | None = None,
        caption_listener: Listener | None = None,
        on_device: OnDeviceListening | None = None,
        listen: TapState | None = None,
    ) -> None:
        self._listener = listener
        self._analyser = analyser
        self.config = config
        self._answer_timeout = answer_timeout_s
        # The simulator passes a link with network faults; the product uses WebRTC as is.
        self._connect = connect
        self.turns: dict[int, TurnRecord] = {}
        self.errors: list[str] = []
        self._progress = asyncio.Event()
        self._runtime: EdgeRuntime | None = None
        # Spoken answers played here (a local speaker), and speech over them understood.
        self._player = player
        self._transcribe = transcribe
        # Live captions and conversation notes (off until the wearer turns them on): a tap
        # on the audio with a listener of its own; None: this edge does not caption.
        self._caption_listener = caption_listener
        self.captions: CaptionTap | None = None
        # Final caption lines sent while captions are on, until their Caption comes back.
        self._captions_due: set[int] = set()
        # Local-only: lines are captioned (and notes kept) here, by this, not upstream;
        # `listen` is what the wearer turned on before the session (CLI flags).
        self._on_device = on_device
        self._listen = listen or TapState()

    async def run(
        self,
        source: Source | None,
        *,
        questions: list[str] | None = None,
        on_event: OnEvent | None = None,
        reporters: Sequence[Reporter] = (),
    ) -> SessionSummary:
        """Stream `source` (and/or typed `questions`) and wait for every turn's answer."""
        notify = on_event or (lambda kind, message, turn: None)
        # A dropped connection is reopened and the unanswered turns resent (no question lost).
        async with ResumingLink(self.config.gateway_url, self._connect) as link:
            out = Sequencer(link.session_id)

            async def send(message: Message) -> None:
                if isinstance(message, SpeechSegment | Query) and message.turn_id not in self.turns:
                    self.turns[message.turn_id] = TurnRecord(message.turn_id)
                if isinstance(message, Observation):
                    self.turns.setdefault(message.turn_id, TurnRecord(message.turn_id))
                    self.turns[message.turn_id].observation = message
                    notify("observation", message, self.turns[message.turn_id])
                if isinstance(message, Keyframe):
                    notify("keyframe", message, self.turns.get(message.turn_id))
                if isinstance(message, DeviceStatus):
                    notify("device_status", message, None)
                captioning = self.captions is not None and self.captions.state.captions
                if isinstance(message, CaptionAudio) and message.final and captioning:
                    if len(self._captions_due) < MAX_CAPTION_LINES_DUE:
                        self._captions_due.add(message.line_id)
                await link.send(message)

            async def deliver(answer: Message) -> None:
                """An answer the edge made itself (local-only): recorded, never sent."""
                if isinstance(answer, AnswerDone):
                    turn = self.turns.setdefault(answer.turn_id, TurnRecord(answer.turn_id))
                    turn.done = answer
                    turn.answer = answer.text
                    turn.answered_at = time.monotonic()
                    notify("answer", answer, turn)
                    self._progress.set()

            runtime = EdgeRuntime(
                self._listener,
                self._analyser,
                out,
                send,
                config=self.config,
                deliver=deliver,
                player=self._player,
                transcribe=self._transcribe,
                command=self._heard_here(notify) if self._on_device is not None else None,
            )
            self._runtime = runtime
            if self._caption_listener is not None:
                self.captions = CaptionTap(
                    self._caption_listener,
                    out,
                    send,
                    privacy=lambda: runtime.config.privacy,
                    codec=self.config.speech_codec,
                    local=self._on_device.receive if self._on_device is not None else None,
                )
                self._switch("captions", self._listen.captions, notify)
                self._switch("notes", self._listen.notes, notify)
                if source is not None:
                    source = self.captions.tap(source)
            await link.send(
                out.make(
                    Hello,
                    user=self.config.user,
                    device=self.config.device,
                    privacy=self.config.privacy,
                    mode=self.config.mode,
                    answer_codec=self.config.answer_codec,
                )
            )
            async with self._captioning_here(notify), asyncio.TaskGroup() as tasks:
                receiver = tasks.create_task(self._receive(link, notify))
                side = [tasks.create_task(report(out, send)) for report in reporters]
                if source is not None:
                    await runtime.run(source)
                for question in questions or []:
                    await runtime.ask(question)
                try:
                    await asyncio.wait_for(self._all_finished(link), self._answer_timeout)
                except TimeoutError:
                    self.errors.append(f"no answer within {self._answer_timeout:.0f} s")
                if self._captions_due:  # the last lines' captions are still on their way
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._captions_back(link), CAPTION_DRAIN_S)
                receiver.cancel()
                for task in side:
                    task.cancel()
            return SessionSummary(
                turns=[self.turns[k] for k in sorted(self.turns)],
                stats=runtime.stats,
                bytes_upstream=link.bytes_sent,
                messages_upstream=link.messages_sent,
                errors=self.errors,
            )

    def _captioning_here(self, notify: OnEvent) -> contextlib.AbstractAsyncContextManager[None]:
        """The device's own captioner at work for the session's life (local-only), if any."""
        if self._on_device is None or self.captions is None:
            return contextlib.nullcontext()

        async def show(caption: Caption) -> None:  # delivered as local answers are
            notify("caption", caption, None)
            self._progress.set()

        return self._on_device.alongside(show, lambda action, on: self._switch(action, on, notify))

    def _heard_here(self, notify: OnEvent) -> LocalCommand:
        """Local-only: a captions or notes switch asked of the device is carried out and
        confirmed; while captions or notes are on, other speech is the conversation being
        heard, not a question (as the cloud treats it)."""
        assert self._on_device is not None
        on_device = self._on_device

        async def heard(samples: npt.NDArray[np.int16]) -> str | None:
            switch = await on_device.command(samples)
            if switch is not None:
                self._switch(switch.action, switch.on, notify)
                return switch.confirmation
            if self.captions is not None and self.captions.state.listening:
                return ""
            return None

        return heard

    def _switch(self, action: str, on: bool, tell: OnEvent | None) -> None:
        """Captions or notes on or off, from the cloud's Control or (local-only) the wearer.

        A switch made on the device is told (`tell`) as a Control event, so the glasses'
        notes LED follows it as it follows the cloud's Control."""
        if self.captions is None:
            return
        was = self.captions.state
        if action == "captions":
            state = self.captions.switch(captions=on)
        else:
            state = self.captions.switch(notes=on)
        if self._on_device is not None:
            self._on_device.switch(captions=state.captions, notes=state.notes)
        if tell is not None and state != was:
            made_here = Sequencer(f"{self.config.device}:on-device")
            value = "on" if on else "off"
            tell("control", made_here.make(Control, action=action, value=value), None)

    async def _captions_back(self, link: Link) -> None:
        while self._captions_due and not link.closed.is_set():
            self._progress.clear()
            await self._progress.wait()

    async def _all_finished(self, link: Link) -> None:
        assert self._runtime is not None
        while not self._runtime.turns.all_over:
            if link.closed.is_set():
                self.errors.append("the connection to the gateway closed")
                return
            self._progress.clear()
            await self._progress.wait()

    async def _receive(self, link: Link, notify: OnEvent) -> None:
        async for message in link:
            turn = self.turns.get(getattr(message, "turn_id", -1))
            if self._runtime is not None:
                self._runtime.received(message)
            if isinstance(message, Transcript) and turn is not None:
                turn.transcript = message.text
                notify("transcript", message, turn)
            elif isinstance(message, AnswerDelta) and turn is not None:
                turn.answer += message.text
                notify("answer_delta", message, turn)
            elif isinstance(message, AnswerAudio) and turn is not None:
                turn.add_audio(message)
                notify("answer_audio", message, turn)
            elif isinstance(message, AnswerDone) and turn is not None:
                turn.done = message
                turn.answered_at = time.monotonic()
                turn.answer = message.text
                notify("answer", message, turn)
            elif isinstance(message, Caption):
                if message.final:
                    self._captions_due.discard(message.line_id)
                notify("caption", message, None)
            elif isinstance(message, Control) and self._runtime is not None:
                self._runtime.control(message)
                if message.value in ("on", "off") and message.action in ("captions", "notes"):
                    self._switch(message.action, message.value == "on", None)
                notify("control", message, None)
            elif isinstance(message, Error):
                if turn is not None:
                    turn.errors.append(f"{message.code}: {message.message}")
                else:
                    self.errors.append(f"{message.code}: {message.message}")
                notify("error", message, turn)
            self._progress.set()
        self._progress.set()
