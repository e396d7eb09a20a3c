"""One session's conversation: speech and camera context in, a streamed answer out.

Messages arrive in any order (a turn's Observation may come before or after its
speech); `Conversation.receive` only files them. `Conversation.run` answers
complete turns one at a time, in order, and stamps each stage so AnswerDone
carries the latency breakdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from cloud.captions.captioner import Captioner
from cloud.captions.commands import parse_switch
from cloud.captions.listening import Listening, caption_fields
from cloud.captions.live import english_transcriber
from cloud.captions.translation import CaptionTranslator
from cloud.config import CloudConfig
from cloud.memory.records import Memory
from cloud.memory.user_data import UserData, UserDirectory
from cloud.model_work import ModelWorkers
from cloud.notes.conversation_store import keep_record
from cloud.notes.live import FinishedConversation
from cloud.notes.memories import remember_notes
from cloud.prompting.agreements import asks_agreements, recall_agreements
from cloud.prompting.memory_prompt import build_answer_messages
from cloud.prompting.prompt import QUESTION_SLOT, opening_messages
from cloud.prompting.recall import (
    acknowledge_facts,
    direct_answer,
    episode_answer,
    recall,
    turn_memories,
)
from cloud.reasoning.interruption import unless_interrupted
from cloud.reasoning.modes import choose_mode
from cloud.reasoning.openai_reasoner import ToolCallingReasoner
from cloud.reasoning.reasoner import ChatMessage, Prefills, Reasoner
from cloud.session_settings import SessionSettings, apply_setting
from cloud.speech.asr import Transcriber
from cloud.speech.speech_decoding import speech_samples
from cloud.speech.spoken_answer import SpokenAnswer, Voice, answer_codec_after, speaking_after
from cloud.tools import parse_intent, perform
from cloud.tools.schema import TOOL_SPECS, intent_from_call
from cloud.tools.shopping import note_prices, shopping_turn, trip_under_way
from cloud.turn_limits import TurnLimits
from protocol import (
    AnswerAudio,
    AnswerDelta,
    AnswerDone,
    Control,
    EarlyObservation,
    Error,
    Hello,
    Interrupt,
    Keyframe,
    Label,
    Message,
    Notification,
    Observation,
    OcrLine,
    Query,
    Sequencer,
    SpeechSegment,
    Stage,
    Transcript,
)
from protocol.limits import MAX_QUEUED_TURNS, MIN_EARLY_OBSERVATION_INTERVAL_S
from protocol.messages import AnswerAudioCodec, Caption, CaptionAudio
from protocol.privacy import may_leave

log = logging.getLogger(__name__)

# The fewest cores on which the prompt prefill runs beside speech recognition (Models.prefill).
PREFILL_MIN_CORES = 4

Send = Callable[[Message], Awaitable[None]]
APOLOGY = "Sorry, I couldn't answer that just now. Please try again."
# The languages live captions listen for (detected among these, translated into English).
CAPTION_LANGUAGES = ("en", "de", "es", "fr")


@dataclass
class Models:
    """The process's loaded models; the lock keeps two turns from fighting for the CPU."""

    transcriber: Transcriber
    reasoner: Reasoner
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Each user's memories and tools; None answers without personal memory.
    users: UserDirectory | None = None
    # A larger model for reasoning mode, where one is served; None: `reasoner` for both.
    reasoning_reasoner: Reasoner | None = None
    # Speaks answers as they are written (AnswerAudio); None: text only.
    voice: Voice | None = None
    # Blocking model calls (speech recognition) run here, on the cloud's own bounded pool;
    # a timed-out call keeps the lock until its thread is done (cloud/model_work.py).
    workers: ModelWorkers = field(default_factory=ModelWorkers)
    # Read each turn's prompt opening while its question is transcribed (where the reasoner
    # can). It needs cores of its own: on 2 cores it only slowed speech recognition down
    # (`companion bench e2e` measures it on and off), so it is on from 4 cores up.
    prefill: bool = field(default_factory=lambda: len(os.sched_getaffinity(0)) >= PREFILL_MIN_CORES)
    # Read the prompt's opening from an EarlyObservation, while the wearer is still
    # speaking: nothing else of the turn runs then, so it pays on any number of cores.
    prefill_early: bool = True

    def reasoner_for(self, mode: str) -> Reasoner:
        if mode == "reasoning" and self.reasoning_reasoner is not None:
            return self.reasoning_reasoner
        return self.reasoner


def local_now() -> datetime:
    """Now, in this machine's time zone: times are spoken to the wearer in it."""
    return datetime.now(UTC).astimezone()


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
    # Set by an Interrupt (barge-in): the answer stops at once, or is never started.
    interrupted: asyncio.Event = field(default_factory=asyncio.Event)
    # Why the turn is refused without an answer (its speech should never have left).
    refused: str = ""
    # The reasoner reading the prompt's opening while the question is still being heard.
    prefill: asyncio.Task[None] | None = None

    @property
    def visual(self) -> bool:
        source = self.segment or self.query
        return bool(source and source.visual)

    @property
    def queued(self) -> bool:
        """Its question is complete: it waits for (or gets) an answer."""
        return self.segment is not None or self.query is not None

    def audio(self) -> np.ndarray:
        """The whole utterance as PCM; AudioDecodeError (a failed turn) if it cannot be read."""
        joined = b"".join(self.parts[i] for i in sorted(self.parts))
        if self.segment is None:
            return np.frombuffer(joined, dtype=np.int16)
        return speech_samples(self.segment.codec, joined, self.segment.sample_rate)


def _cancel_prefill(turn: Turn) -> None:
    if turn.prefill is not None and not turn.prefill.done():
        turn.prefill.cancel()


class Conversation:
    def __init__(
        self,
        session_id: str,
        models: Models,
        send: Send,
        *,
        config: CloudConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        user: str = "",
        wall_clock: Callable[[], datetime] = local_now,
        limits: TurnLimits | None = None,
    ) -> None:
        self.session_id = session_id
        self.user = user
        self._wall_clock = wall_clock
        self._data: UserData | None = None
        self._data_failed = False
        self._models = models
        self._send = send
        self._config = config or CloudConfig()
        self._clock = clock
        self._out = Sequencer(session_id, clock)
        self._turns: dict[int, Turn] = {}
        # Bounded (protocol.limits); TurnLimits refuses a question before it would overflow.
        self._ready: asyncio.Queue[Turn] = asyncio.Queue(maxsize=MAX_QUEUED_TURNS)
        self._limits = limits or TurnLimits()
        # The wearer's privacy and answer modes, from their Hello and Controls.
        self.settings = SessionSettings()
        # Answers are spoken where the cloud has a voice, until a Control "speak" "off".
        self.speaking = True
        # How the device wants spoken answers carried (its Hello's answer_codec).
        self.answer_codec: AnswerAudioCodec = "pcm"
        self.answered = 0
        # The prompt opening being read from the latest EarlyObservation (one at a time),
        # and the turn and time of the last one read (MIN_EARLY_OBSERVATION_INTERVAL_S).
        self._early: asyncio.Task[None] | None = None
        self._early_read: tuple[int, float] = (0, float("-inf"))
        # Turns fully handled (answered and remembered, refused, or failed): what a
        # caller waits on to know the memory writes after an AnswerDone are done too.
        self.turns_finished = 0
        # Live captions, translation and conversation notes (cloud/captions/listening.py).
        self.listening = Listening(
            Captioner(
                english_transcriber(models.transcriber, self._config.language),
                session_id=session_id,
                languages=CAPTION_LANGUAGES,
            ),
            run_model=self._caption_model,
            send=self._send_caption,
            keep=self._keep_conversation,
            translator=CaptionTranslator(models.reasoner, lock=models.lock),
            wall_clock=wall_clock,
            clock=clock,
        )

    def receive(self, message: Message) -> Error | None:
        """File a message, unless it is past one of the session's ceilings
        (cloud.turn_limits): then the Error returned is for the sender, and the
        session goes on."""
        now = self._clock()
        refusal = self._limits.check(message, self._turns, queued=self._ready.qsize(), now=now)
        if refusal is not None:
            log.info("session %s: refused %s: %s", self.session_id, message.kind, refusal.text)
            return self._out.make(
                Error,
                code=refusal.code,
                message=refusal.text,
                ref_seq=message.seq,
                turn_id=refusal.turn_id,
            )
        self._file(message)
        return None

    def _file(self, message: Message) -> None:
        """File a message under its turn; a complete turn is queued for an answer."""
        now = self._clock()
        self.speaking = speaking_after(self.speaking, message)
        self.answer_codec = answer_codec_after(self.answer_codec, message)
        if isinstance(message, Hello | Control):
            self.settings = apply_setting(self.settings, message)
            self._listen_as_set()
            return
        if not may_leave(message, self.settings.privacy):
            self._refuse_private(message)
            return
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
        elif isinstance(message, Observation) and message.turn_id == 0:
            # A live scene note: no question comes with it; it is queued to be remembered.
            self._ready.put_nowait(Turn(0, observation=message))
        elif isinstance(message, Observation):
            turn = self._turn(message.turn_id)
            turn.observation = message
            turn.seen.set()
            self._prefill(turn)
        elif isinstance(message, EarlyObservation):
            self._prefill_early(message)
        elif isinstance(message, CaptionAudio):
            self.listening.receive(message)
        elif isinstance(message, Keyframe):
            self._turn(message.turn_id).keyframe = message
        elif isinstance(message, Interrupt):
            # A turn already answered has left `_turns`: interrupting it is a no-op.
            if (interrupted := self._turns.get(message.turn_id)) is not None:
                interrupted.interrupted.set()
                _cancel_prefill(interrupted)

    def _refuse_private(self, message: Message) -> None:
        """Something the session's privacy mode keeps on the device arrived anyway: it is
        neither answered nor remembered, and a question's turn is ended with an Error."""
        log.warning(
            "session %s: a %s arrived in %s mode; dropped",
            self.session_id,
            message.kind,
            self.settings.privacy,
        )
        if isinstance(message, Query) or (isinstance(message, SpeechSegment) and message.last):
            reason = f"privacy mode {self.settings.privacy}: this question may not leave the device"
            if (dropped := self._turns.pop(message.turn_id, None)) is not None:
                _cancel_prefill(dropped)
            self._ready.put_nowait(Turn(message.turn_id, refused=reason))

    async def run(self) -> None:
        """Answer turns in order until cancelled; captions and notes run beside them, and
        the conversation being noted is written when the session ends."""
        await self._resume_shopping()
        async with self.listening.alongside():
            await self._answer_turns()

    async def _resume_shopping(self) -> None:
        """A session opened during a shopping trip (the glasses reconnected, or the phone
        joined) carries on in shopping mode, and tells the device to send scene notes."""
        if self._models.users is None or not self.user:
            return
        data = await self._user_data()
        now = self._wall_clock()
        if data is None or not await asyncio.to_thread(trip_under_way, data.tools, now):
            return
        self.settings = dataclasses.replace(self.settings, shopping=True)
        await self._send(self._out.make(Control, action="shopping", value="on"))

    async def _answer_turns(self) -> None:
        """Answer turns in order until cancelled."""
        try:
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
                    _cancel_prefill(turn)
                    self.turns_finished += 1
        finally:  # the session ended: no prompt is read for a turn nobody will answer
            for pending in self._turns.values():
                _cancel_prefill(pending)
            if self._early is not None:
                self._early.cancel()

    def _prefill_early(self, seen: EarlyObservation) -> None:
        """Read the camera prompt's opening from what the wearer is looking at while they
        are still asking: by end of speech only the question is left to read. The turn's
        own Observation (what the answer uses) follows; where it shows the same text the
        reasoner finds the opening cached, where not, only time is lost. One at a time: a
        newer early observation replaces the last, so a peer sending many costs at most
        one prompt opening at a time."""
        turn = self._turns.get(seen.turn_id)
        if not self._models.prefill_early or (turn is not None and turn.queued):
            return  # a question already complete reads its whole prompt at once
        last_turn, last_at = self._early_read
        now = self._clock()
        if seen.turn_id <= last_turn or now - last_at < MIN_EARLY_OBSERVATION_INTERVAL_S:
            log.info(
                "session %s: early observation for turn %s not read", self.session_id, seen.turn_id
            )
            return  # one a turn, one a second: a flood costs the shared reasoner nothing
        mode = self._resolve(self.settings.mode_for("auto"))
        reasoner = self._models.reasoner_for(mode)
        if not isinstance(reasoner, Prefills):
            return
        if self._early is not None:
            self._early.cancel()
        self._early_read = (seen.turn_id, now)
        self._early = asyncio.create_task(
            self._read_opening(reasoner, mode, seen.turn_id, seen.ocr, seen.labels)
        )

    def _prefill(self, turn: Turn) -> None:
        """Start reading the turn's prompt up to its question, so that once the question
        is transcribed only it and the answer remain for the reasoner (a typed question,
        or one already transcribed, leaves nothing to overlap: no prefill). The camera prompt
        is the one prefilled: with memories recalled for the question the prompt opens
        differently, and the cache simply does not match (nothing changes but the time)."""
        source = turn.segment or turn.query
        observation = turn.observation
        if not self._models.prefill or turn.prefill is not None or observation is None:
            return
        if turn.interrupted.is_set():
            return
        if turn.query is not None or any(stage.name == "transcript" for stage in turn.stages):
            return  # the question is known already: the answer reads the prompt at once
        mode = self._resolve(self.settings.mode_for(source.mode if source else "auto"))
        reasoner = self._models.reasoner_for(mode)
        if not isinstance(reasoner, Prefills):
            return
        turn.prefill = asyncio.create_task(
            self._read_opening(reasoner, mode, turn.turn_id, observation.ocr, observation.labels)
        )

    async def _read_opening(
        self,
        reasoner: Prefills,
        mode: str,
        turn_id: int,
        ocr: Sequence[OcrLine],
        labels: Sequence[Label],
    ) -> None:
        messages = opening_messages(
            [line.text for line in ocr], [(label.name, label.score) for label in labels], mode=mode
        )
        try:
            computed = await reasoner.prefill(messages, up_to=QUESTION_SLOT)
            log.debug("turn %s: prefilled %d prompt tokens", turn_id, computed)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # only time is lost: the answer reads the whole prompt
            log.warning("prefill failed on turn %s: %s", turn_id, exc)

    def _turn(self, turn_id: int) -> Turn:
        if turn_id not in self._turns:
            self._turns[turn_id] = Turn(turn_id)
        return self._turns[turn_id]

    async def _answer(self, turn: Turn) -> None:
        if turn.refused:
            await self._send(
                self._out.make(Error, code="privacy", message=turn.refused, turn_id=turn.turn_id)
            )
            return
        if turn.segment is None and turn.query is None:
            # A scene note: what the glasses saw becomes an observation memory
            # ("where did I leave my keys?" finds it); nothing is said.
            if (data := await self._user_data()) is not None:
                now = self._wall_clock()
                if self.settings.shopping:  # the prices on shelves passed, remembered unasked
                    await asyncio.to_thread(
                        note_prices, self.settings, turn.observation, data.tools, now
                    )
                await self._remember(data, turn, "", "", now)
            return
        inference = 0.0
        mode: str  # as asked; choose_mode may pick reasoning from the question's words
        if turn.query is not None:
            question, mode = turn.query.text, self.settings.mode_for(turn.query.mode)
        else:
            assert turn.segment is not None
            mode = self.settings.mode_for(turn.segment.mode)
            started = self._clock()
            audio = turn.audio()
            try:
                async with self._models.lock, asyncio.timeout(self._config.answer_timeout_s):
                    question = await self._models.workers.run(
                        self._models.transcriber.transcribe, audio, turn.segment.sample_rate
                    )
            except Exception as exc:  # a failed or slow ASR backend: apologise, keep the session
                log.warning("speech recognition failed on turn %s: %s", turn.turn_id, exc)
                await self._say(turn, APOLOGY)
                return
            inference += self._clock() - started
            turn.stages.append(Stage(name="transcript", at=self._clock()))
            await self._send(self._out.make(Transcript, turn_id=turn.turn_id, text=question))
            if not question.strip():
                return  # nothing was said: no answer, the client reports "no speech heard"
            if await self._listening_turn(turn, question):
                return
        if turn.visual and turn.observation is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(turn.seen.wait(), self._config.observation_wait_s)
        if turn.observation is not None:
            turn.stages.append(Stage(name="observation", at=self._clock()))
        mode, question = choose_mode(mode, question)
        data = await self._user_data()
        now = self._wall_clock()
        if data is not None and await self._answer_with_tool(turn, data, question, now):
            return
        memories: list[Memory] = []
        if data is not None:
            memories = await self._recall(data, question, mode, now)
            turn.stages.append(Stage(name="retrieval", at=self._clock()))
            # "What's my shoe size?" with one fact that clearly answers it: read the fact back;
            # "when did I last see my passport?": the memory, with when it was.
            told = direct_answer(question, memories)
            if told is None and asks_agreements(question):  # "what did I agree with Priya?"
                try:
                    told = await self._models.workers.run(
                        functools.partial(
                            recall_agreements, data.memory, self.user, question, memories, now
                        )
                    )
                except Exception as exc:  # the model answers from the recall instead
                    log.warning("looking up agreements failed on %r: %s", question, exc)
            told = told or episode_answer(question, memories, now)
            if told is not None:
                await self._say(turn, told)
                await self._remember(data, turn, question, told, now)
                return
        text, spent = await self._stream_answer(
            turn, question, self._resolve(mode), memories, now, data
        )
        inference += spent
        await self._send(
            self._out.make(
                AnswerDone,
                turn_id=turn.turn_id,
                text=text,
                mode=self._resolve(mode),
                stages=tuple(turn.stages),
                inference_ms=inference * 1000.0,
                interrupted=turn.interrupted.is_set(),
            )
        )
        self.answered += 1
        if data is not None and APOLOGY not in text and not turn.interrupted.is_set():
            await self._remember(data, turn, question, text, now)

    # -- captions, translation and notes (cloud/captions/listening.py) ---------

    def _listen_as_set(self) -> None:
        chosen = self.settings
        self.listening.switch(
            captions=chosen.captions, notes=chosen.notes, translate_to=chosen.translate_to
        )

    async def _listening_turn(self, turn: Turn, said: str) -> bool:
        """A spoken switch ("captions on", "stop taking notes") is carried out and the
        device told; while captions or notes are on, other speech is heard, not answered."""
        switch = parse_switch(said)
        if switch is not None:
            control = self._out.make(Control, action=switch.action, value=switch.value)
            self.settings = apply_setting(self.settings, control)
            self._listen_as_set()
            await self._send(control)
            await self._say(turn, switch.confirmation)
            return True
        if not self.listening.listening:
            return False
        await self._send(
            self._out.make(
                AnswerDone, turn_id=turn.turn_id, text="", mode="fast", stages=tuple(turn.stages)
            )
        )
        return True

    async def _caption_model(self, transcribe: Callable[[], Caption]) -> Caption:
        async with self._models.lock, asyncio.timeout(self._config.answer_timeout_s):
            return await self._models.workers.run(transcribe)

    async def _send_caption(self, caption: Caption) -> None:
        await self._send(self._out.make(Caption, **caption_fields(caption)))

    async def _keep_conversation(self, finished: FinishedConversation) -> None:
        """A noted conversation: its summary and action items become memories (the
        conversation their source), its record goes to the Conversations page."""
        data = await self._user_data()
        users = self._models.users
        if data is None or users is None:
            return
        await self._models.workers.run(
            functools.partial(
                remember_notes,
                data.memory,
                self.user,
                finished.notes,
                conversation_id=finished.conversation_id,
                started_at=finished.started_at,
            )
        )
        await asyncio.to_thread(keep_record, users.data_dir, self.user, finished)

    async def notify(self, text: str, *, category: str, ref: str, due: str) -> None:
        """Tell the wearer something unasked (a reminder that came due)."""
        await self._send(
            self._out.make(Notification, text=text, category=category, ref=ref, due=due)
        )

    async def _user_data(self) -> UserData | None:
        """The user's stores, opened on first use; a store that cannot open is reported once
        and the session answers without memory."""
        users = self._models.users
        if users is None or not self.user or self._data_failed:
            return self._data
        if self._data is None:
            try:
                self._data = await asyncio.to_thread(users.open, self.user)
            except Exception as exc:
                self._data_failed = True
                log.error("personal memory unavailable for %r: %s", self.user, exc)
                await self._send(
                    self._out.make(Error, code="memory_unavailable", message=str(exc)[:500])
                )
        return self._data

    async def _answer_with_tool(
        self, turn: Turn, data: UserData, question: str, now: datetime
    ) -> bool:
        """Reminders, notes, lists, "where did I leave…": done and confirmed without the model."""
        shopping, said = await asyncio.to_thread(
            shopping_turn, self.settings, question, turn.observation,
            tools=data.tools, memory=data.memory, user=self.user, now=now,
        )  # fmt: skip
        if shopping.shopping != self.settings.shopping:  # the device sends scene notes while on
            switch = "on" if shopping.shopping else "off"
            await self._send(self._out.make(Control, action="shopping", value=switch))
        self.settings = dataclasses.replace(self.settings, shopping=shopping.shopping)
        if said is not None:  # cloud/tools/shopping.py: products, the list, prices, the trip
            await self._say(turn, said)
            await self._remember(data, turn, "", "", now)
            return True
        intent = parse_intent(question, now)
        if intent is None:
            told = acknowledge_facts(question)
            if told is None:
                return False
            await self._say(turn, told)
            await self._remember(data, turn, question, told, now)
            return True
        source_id = f"{self.session_id}:{turn.turn_id}"
        text = await asyncio.to_thread(
            perform,
            intent,
            tools=data.tools,
            memory=data.memory,
            user=self.user,
            now=now,
            source_id=source_id,
        )
        await self._say(turn, text)
        await self._remember(data, turn, "", "", now)  # the scene only: the tool kept the rest
        return True

    async def _say(self, turn: Turn, text: str) -> None:
        """A whole answer written without the model, sent as one piece."""
        turn.stages.append(Stage(name="first_token", at=self._clock()))
        await self._send(self._out.make(AnswerDelta, turn_id=turn.turn_id, text=text))
        turn.stages.append(Stage(name="last_token", at=self._clock()))
        if (spoken := self._spoken_answer(turn)) is not None:  # a confirmation is heard too
            spoken.add(text)
            await self._finish_speaking(turn, spoken)
        await self._send(
            self._out.make(
                AnswerDone, turn_id=turn.turn_id, text=text, mode="fast", stages=tuple(turn.stages)
            )
        )
        self.answered += 1

    async def _recall(
        self, data: UserData, question: str, mode: str, now: datetime
    ) -> list[Memory]:
        config = self._config
        try:
            # Searching embeds the question (MiniLM): model work, on the cloud's own pool.
            return await self._models.workers.run(
                functools.partial(
                    recall,
                    data.memory,
                    self.user,
                    question,
                    mode=mode,
                    now=now,
                    k_fast=config.memory_k_fast,
                    k_reasoning=config.memory_k_reasoning,
                    min_cosine=config.memory_min_cosine,
                )
            )
        except Exception as exc:  # answer without memory rather than not at all
            log.warning("memory search failed on %r: %s", question, exc)
            return []

    async def _remember(
        self, data: UserData, turn: Turn, question: str, answer: str, now: datetime
    ) -> None:
        observation = turn.observation
        memories = turn_memories(
            question,
            answer,
            now=now,
            source_id=f"{self.session_id}:{turn.turn_id}",
            ocr_lines=[line.text for line in observation.ocr] if observation else [],
            labels=[(label.name, label.score) for label in observation.labels]
            if observation
            else [],
        )
        if not memories:
            return
        try:
            # Once per source: a turn retaken after its worker died is remembered once.
            write = functools.partial(data.memory.add_many, once_per_source=True)
            await self._models.workers.run(write, self.user, memories)
        except Exception as exc:  # the answer is out; a lost memory must not end the session
            log.error("could not store turn %s in memory: %s", turn.turn_id, exc)

    async def _answer_pieces(
        self,
        messages: list[ChatMessage],
        max_tokens: int,
        mode: str,
        data: UserData | None,
        now: datetime | None,
    ) -> AsyncIterator[str]:
        """The model's text and, where the backend calls tools (reasoning mode), each tool's
        own confirmation: the same code and sentence as a request the parser recognised."""
        reasoner = self._models.reasoner_for(mode)
        if mode != "reasoning" or data is None or not isinstance(reasoner, ToolCallingReasoner):
            async for piece in reasoner.stream(messages, max_new_tokens=max_tokens):
                yield piece
            return
        moment = now or self._wall_clock()
        events = reasoner.stream_events(messages, max_new_tokens=max_tokens, tools=TOOL_SPECS)
        async for event in events:
            if isinstance(event, str):
                yield event
                continue
            intent = intent_from_call(event.name, event.arguments, moment)
            if intent is None:
                log.warning("ignored a malformed call to %s: %s", event.name, event.arguments)
                continue
            done = await asyncio.to_thread(
                perform, intent, tools=data.tools, memory=data.memory, user=self.user, now=moment
            )
            yield " " + done

    def _resolve(self, mode: str) -> str:
        return "reasoning" if mode == "reasoning" else "fast"

    async def _stream_answer(
        self,
        turn: Turn,
        question: str,
        mode: str,
        memories: list[Memory] | None = None,
        now: datetime | None = None,
        data: UserData | None = None,
    ) -> tuple[str, float]:
        observation = turn.observation
        messages = build_answer_messages(
            question,
            memories=memories or [],
            now=now or self._wall_clock(),
            ocr_lines=[line.text for line in observation.ocr] if observation else [],
            labels=[(label.name, label.score) for label in observation.labels]
            if observation
            else [],
            mode=mode,
        )
        if turn.keyframe is not None:  # sent only by a backend configured to take images
            messages[-1] = dataclasses.replace(messages[-1], images=(turn.keyframe.jpeg,))
        turn.stages.append(Stage(name="prompt_ready", at=self._clock()))
        max_tokens = (
            self._config.reasoning_max_tokens
            if mode == "reasoning"
            else self._config.fast_max_tokens
        )
        pieces: list[str] = []
        spoken = self._spoken_answer(turn)

        async def relay() -> None:
            async for piece in self._answer_pieces(messages, max_tokens, mode, data, now):
                if not pieces:
                    turn.stages.append(Stage(name="first_token", at=self._clock()))
                pieces.append(piece)
                await self._send(self._out.make(AnswerDelta, turn_id=turn.turn_id, text=piece))
                if spoken is not None:
                    spoken.add(piece)

        async with self._models.lock:
            started = self._clock()
            try:
                async with asyncio.timeout(self._config.answer_timeout_s):
                    await unless_interrupted(relay(), turn.interrupted)
            except Exception as exc:  # includes TimeoutError: apologise, keep the session
                log.warning("reasoner failed on turn %s: %s", turn.turn_id, exc)
                apology = (" " if pieces else "") + APOLOGY
                pieces.append(apology)
                await self._send(self._out.make(AnswerDelta, turn_id=turn.turn_id, text=apology))
                if spoken is not None:
                    spoken.add(apology)
            spent = self._clock() - started
        turn.stages.append(Stage(name="last_token", at=self._clock()))
        if spoken is not None:
            await self._finish_speaking(turn, spoken)
        return "".join(pieces).strip(), spent

    def image_modes(self) -> Control:
        """Tells the device which answer modes' backends look at the keyframe itself, so
        it sends the JPEG only for them (the observation's text and labels always go)."""
        reasoner = self._models.reasoner_for
        modes = [m for m in ("fast", "reasoning") if getattr(reasoner(m), "images", False)]
        return self._out.make(Control, action="images", value=",".join(modes))

    def _spoken_answer(self, turn: Turn) -> SpokenAnswer | None:
        """The turn's spoken answer, where the cloud has a voice and the session wants it."""
        voice = self._models.voice
        if voice is None or not self.speaking:
            return None

        async def emit(part: int, pcm: bytes, sample_rate: int, last: bool) -> None:
            await self._send(
                self._out.make(
                    AnswerAudio,
                    turn_id=turn.turn_id,
                    part=part,
                    pcm=pcm,
                    sample_rate=sample_rate,
                    last=last,
                    codec=spoken.codec,
                )
            )

        spoken = SpokenAnswer(voice, emit, codec=self.answer_codec)
        return spoken

    async def _finish_speaking(self, turn: Turn, spoken: SpokenAnswer) -> None:
        """Speak the rest before AnswerDone, so the device knows the whole answer has
        arrived when it sees it; an Interrupt or a stuck voice stops it early."""
        try:
            async with asyncio.timeout(self._config.answer_timeout_s):
                await unless_interrupted(spoken.finish(), turn.interrupted)
        except Exception as exc:  # the text is out; a failed voice only loses the audio
            log.warning("speaking turn %s failed: %s", turn.turn_id, exc)
        finally:
            await spoken.cancel()
