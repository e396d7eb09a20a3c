"""An edge session end to end: connect, say Hello, stream a source, collect answers.

This is what `companion replay`, `companion demo` and the benchmarks drive; the
same object serves a live camera and microphone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from edge.client import GatewayClient
from edge.config import EdgeConfig
from edge.listener import Listener
from edge.media import Source
from edge.runtime import EdgeRuntime, EdgeStats
from edge.vision.analysis import KeyframeAnalyser
from protocol import (
    AnswerDelta,
    AnswerDone,
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

log = logging.getLogger(__name__)


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

    @property
    def finished(self) -> bool:
        return self.done is not None or self.transcript == "" or bool(self.errors)

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


class EdgeSession:
    def __init__(
        self,
        listener: Listener,
        analyser: KeyframeAnalyser | None,
        config: EdgeConfig,
        *,
        answer_timeout_s: float = 120.0,
    ) -> None:
        self._listener = listener
        self._analyser = analyser
        self.config = config
        self._answer_timeout = answer_timeout_s
        self.turns: dict[int, TurnRecord] = {}
        self.errors: list[str] = []
        self._progress = asyncio.Event()

    async def run(
        self,
        source: Source | None,
        *,
        questions: list[str] | None = None,
        on_event: OnEvent | None = None,
    ) -> SessionSummary:
        """Stream `source` (and/or typed `questions`) and wait for every turn's answer."""
        notify = on_event or (lambda kind, message, turn: None)
        async with GatewayClient(self.config.gateway_url) as link:
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
                await link.send(message)

            runtime = EdgeRuntime(self._listener, self._analyser, out, send, config=self.config)
            await link.send(
                out.make(
                    Hello,
                    user=self.config.user,
                    device=self.config.device,
                    privacy=self.config.privacy,
                    mode=self.config.mode,
                )
            )
            async with asyncio.TaskGroup() as tasks:
                receiver = tasks.create_task(self._receive(link, notify))
                if source is not None:
                    await runtime.run(source)
                for question in questions or []:
                    await runtime.ask(question)
                try:
                    await asyncio.wait_for(self._all_finished(link), self._answer_timeout)
                except TimeoutError:
                    self.errors.append(f"no answer within {self._answer_timeout:.0f} s")
                receiver.cancel()
            return SessionSummary(
                turns=[self.turns[k] for k in sorted(self.turns)],
                stats=runtime.stats,
                bytes_upstream=link.bytes_sent,
                messages_upstream=link.messages_sent,
                errors=self.errors,
            )

    async def _all_finished(self, link: GatewayClient) -> None:
        while not all(t.finished for t in self.turns.values()):
            if link.closed.is_set():
                self.errors.append("the connection to the gateway closed")
                return
            self._progress.clear()
            await self._progress.wait()

    async def _receive(self, link: GatewayClient, notify: OnEvent) -> None:
        async for message in link:
            turn = self.turns.get(getattr(message, "turn_id", -1))
            if isinstance(message, Transcript) and turn is not None:
                turn.transcript = message.text
                notify("transcript", message, turn)
            elif isinstance(message, AnswerDelta) and turn is not None:
                turn.answer += message.text
                notify("answer_delta", message, turn)
            elif isinstance(message, AnswerDone) and turn is not None:
                turn.done = message
                turn.answered_at = time.monotonic()
                turn.answer = message.text
                notify("answer", message, turn)
            elif isinstance(message, Error):
                if turn is not None:
                    turn.errors.append(f"{message.code}: {message.message}")
                else:
                    self.errors.append(f"{message.code}: {message.message}")
                notify("error", message, turn)
            self._progress.set()
        self._progress.set()
