"""One session's conversation: speech and camera context in, a streamed answer out.

Messages arrive in any order (a turn's Observation may come before or after its
speech); `Conversation.receive` only files them. `Conversation.run` answers
complete turns one at a time, in order, and stamps each stage so AnswerDone
carries the latency breakdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np

from cloud.asr import Transcriber
from cloud.config import CloudConfig
from cloud.prompt import build_messages
from cloud.reasoner import Reasoner
from protocol import (
    AnswerDelta,
    AnswerDone,
    Error,
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

Send = Callable[[Message], Awaitable[None]]
APOLOGY = "Sorry, I couldn't answer that just now. Please try again."


@dataclass
class Models:
    """The process's loaded models; the lock keeps two turns from fighting for the CPU."""

    transcriber: Transcriber
    reasoner: Reasoner
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass
class Turn:
    """Everything the cloud has heard and seen for one turn so far."""

    turn_id: int
    parts: dict[int, bytes] = field(default_factory=dict)
    segment: SpeechSegment | None = None
    query: Query | None = None
    observation: Observation | None = None
    keyframe: Keyframe | None = None
    seen: asyncio.Event = field(default_factory=asyncio.Event)
    stages: list[Stage] = field(default_factory=list)

    @property
    def visual(self) -> bool:
        source = self.segment or self.query
        return bool(source and source.visual)

    def audio(self) -> np.ndarray:
        return np.frombuffer(b"".join(self.parts[i] for i in sorted(self.parts)), dtype=np.int16)


class Conversation:
    def __init__(
        self,
        session_id: str,
        models: Models,
        send: Send,
        *,
        config: CloudConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session_id = session_id
        self._models = models
        self._send = send
        self._config = config or CloudConfig()
        self._clock = clock
        self._out = Sequencer(session_id, clock)
        self._turns: dict[int, Turn] = {}
        self._ready: asyncio.Queue[Turn] = asyncio.Queue()
        self.answered = 0

    def receive(self, message: Message) -> None:
        """File a message under its turn; a complete turn is queued for an answer."""
        now = self._clock()
        if isinstance(message, SpeechSegment):
            turn = self._turn(message.turn_id)
            turn.parts[message.part] = message.pcm
            if message.last:
                turn.segment = message
                turn.stages += [
                    Stage(name="speech_end", at=message.speech_end),
                    Stage(name="end_of_speech", at=message.detected_at),
                    Stage(name="segment_sent", at=message.sent_at),
                    Stage(name="segment_received", at=now),
                ]
                self._ready.put_nowait(turn)
        elif isinstance(message, Query):
            turn = self._turn(message.turn_id)
            turn.query = message
            turn.stages.append(Stage(name="segment_received", at=now))
            self._ready.put_nowait(turn)
        elif isinstance(message, Observation):
            turn = self._turn(message.turn_id)
            turn.observation = message
            turn.seen.set()
        elif isinstance(message, Keyframe):
            self._turn(message.turn_id).keyframe = message

    async def run(self) -> None:
        """Answer turns in order until cancelled."""
        while True:
            turn = await self._ready.get()
            try:
                await self._answer(turn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one failed turn must not end the session
                log.exception("turn %s failed", turn.turn_id)
                await self._send(
                    self._out.make(
                        Error, code="turn_failed", message=str(exc)[:500], turn_id=turn.turn_id
                    )
                )
            finally:
                self._turns.pop(turn.turn_id, None)

    def _turn(self, turn_id: int) -> Turn:
        if turn_id not in self._turns:
            self._turns[turn_id] = Turn(turn_id)
        return self._turns[turn_id]

    async def _answer(self, turn: Turn) -> None:
        inference = 0.0
        if turn.query is not None:
            question, mode = turn.query.text, turn.query.mode
        else:
            assert turn.segment is not None
            mode = turn.segment.mode
            started = self._clock()
            async with self._models.lock:
                question = await asyncio.to_thread(
                    self._models.transcriber.transcribe, turn.audio(), turn.segment.sample_rate
                )
            inference += self._clock() - started
            turn.stages.append(Stage(name="transcript", at=self._clock()))
            await self._send(self._out.make(Transcript, turn_id=turn.turn_id, text=question))
            if not question.strip():
                return  # nothing was said: no answer, the client reports "no speech heard"
        if turn.visual and turn.observation is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(turn.seen.wait(), self._config.observation_wait_s)
        if turn.observation is not None:
            turn.stages.append(Stage(name="observation", at=self._clock()))
        text, spent = await self._stream_answer(turn, question, self._resolve(mode))
        inference += spent
        await self._send(
            self._out.make(
                AnswerDone,
                turn_id=turn.turn_id,
                text=text,
                mode=self._resolve(mode),
                stages=tuple(turn.stages),
                inference_ms=inference * 1000.0,
            )
        )
        self.answered += 1

    def _resolve(self, mode: str) -> str:
        return "reasoning" if mode == "reasoning" else "fast"

    async def _stream_answer(self, turn: Turn, question: str, mode: str) -> tuple[str, float]:
        observation = turn.observation
        messages = build_messages(
            question,
            ocr_lines=[line.text for line in observation.ocr] if observation else [],
            labels=[(label.name, label.score) for label in observation.labels]
            if observation
            else [],
            mode=mode,
        )
        turn.stages.append(Stage(name="prompt_ready", at=self._clock()))
        max_tokens = (
            self._config.reasoning_max_tokens
            if mode == "reasoning"
            else self._config.fast_max_tokens
        )
        pieces: list[str] = []
        async with self._models.lock:
            started = self._clock()
            try:
                async with asyncio.timeout(self._config.answer_timeout_s):
                    async for piece in self._models.reasoner.stream(
                        messages, max_new_tokens=max_tokens
                    ):
                        if not pieces:
                            turn.stages.append(Stage(name="first_token", at=self._clock()))
                        pieces.append(piece)
                        await self._send(
                            self._out.make(AnswerDelta, turn_id=turn.turn_id, text=piece)
                        )
            except Exception as exc:  # includes TimeoutError: apologise, keep the session
                log.warning("reasoner failed on turn %s: %s", turn.turn_id, exc)
                apology = (" " if pieces else "") + APOLOGY
                pieces.append(apology)
                await self._send(self._out.make(AnswerDelta, turn_id=turn.turn_id, text=apology))
            spent = self._clock() - started
        turn.stages.append(Stage(name="last_token", at=self._clock()))
        return "".join(pieces).strip(), spent
