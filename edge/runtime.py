"""The edge pipeline for one session: media in, protocol messages out.

Audio goes through the listener (Silero VAD + endpointing); every frame is
scored for sharpness on arrival and kept for a short while. At end of speech
the utterance leaves at once as SpeechSegment parts; the sharpest recent frame
is then analysed (OCR, classifier) off the event loop and sent as a Keyframe
and an Observation, while the cloud is already transcribing.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from edge.audio.activation import IgnoreSpeech, InterruptAnswer, SendSpeech
from edge.audio.backchannel import meaning
from edge.audio.endpointing import SpeechEnded
from edge.audio.listener import Listener
from edge.audio.playback import AnswerPlayer
from edge.audio.speech_encoding import SpeechEncodingError, encode_opus
from edge.audio.turn_taking import ClassifySpeech, TurnDecision, turn_taking_for
from edge.audio.wake import KeywordSpotter
from edge.config import EdgeConfig
from edge.errors import MediaError
from edge.local_answer import local_answer
from edge.selection import ByteBudget, Candidate, LiveNotes, select_keyframe
from edge.sources.media import AudioChunk, ButtonPress, MediaItem, Source, VideoFrame
from edge.sources.media_checks import checked_audio, checked_frame
from edge.turns import AnswerBegan, TurnOver, TurnTracker
from edge.vision.analysis import KeyframeAnalyser, VisualContext
from edge.vision.jpeg import encode_jpeg
from edge.vision.quality import assess
from edge.vision.scaling import fit_longest_side
from edge.vision.scene import CHANGE_THRESHOLD, SceneChangeDetector, scene_signature
from protocol import (
    ANSWER_MODES,
    MAX_SEGMENT_PART_BYTES,
    AnswerAudio,
    AnswerDone,
    Control,
    EarlyObservation,
    Interrupt,
    Keyframe,
    Message,
    Observation,
    Query,
    Sequencer,
    SpeechSegment,
    encode,
)
from protocol.audio_packets import split_packets
from protocol.privacy import PrivacyPolicy, may_leave, parse_privacy, policy_for

log = logging.getLogger(__name__)

# Shopping mode's scene change: the next shelf tags along an aisle look like the last at
# thumbnail size (0.66-0.69 between the strips of scenarios/media/shopping-aisle.mp4,
# under live mode's 0.8), and a repeat costs only a note the cloud keeps once.
SHELF_CHANGE = 0.5
# How much of a question must have been heard before its context is prepared ahead: the
# endpointer has confirmed the speech already; this skips a cough or a one-word blip.
LOOK_AHEAD_AFTER_S = 0.3

Send = Callable[[Message], Awaitable[None]]
Transcribe = Callable[[npt.NDArray[np.int16]], str]
"""16 kHz speech → its words: what the wearer said over a spoken answer (on the device)."""
LocalCommand = Callable[[npt.NDArray[np.int16]], Awaitable[str | None]]
"""Local-only: a question the device understood and carried out itself ("start taking
notes") → what to answer ("" : nothing); None: not one of those, answer from the camera."""


@dataclass(frozen=True, slots=True)
class ScoredFrame:
    t: float
    image: np.ndarray
    sharpness: float
    exposure: float = 0.5


@dataclass(frozen=True, slots=True)
class PreparedFrame:
    """A keyframe analysed for sending: what was seen, and the JPEG that may leave."""

    context: VisualContext
    jpeg: bytes | None  # None: the face stage failed, so the frame stays here
    faces_hidden: int
    width: int  # of the frame as it leaves (scaled down to `max_jpeg_side`)
    height: int


@dataclass(frozen=True, slots=True)
class LookAhead:
    """The frame of the question being spoken, prepared before its end (source times)."""

    utterance: float  # when its speech began
    frame_t: float
    prepared: asyncio.Task[PreparedFrame | None]

    def covers(self, ended: SpeechEnded, frame: ScoredFrame) -> bool:
        """This question's end chose the frame already being analysed."""
        return self.frame_t == frame.t and abs(self.utterance - ended.speech_start) < 1e-6


@dataclass
class EdgeStats:
    audio_seconds: float = 0.0
    frames_seen: int = 0
    frames_analysed: int = 0
    segments: int = 0
    keyframes_sent: int = 0
    keyframe_bytes: int = 0
    # Frames the privacy stage kept on the device because face detection failed.
    keyframes_withheld: int = 0
    faces_hidden: int = 0
    # Messages the privacy policy kept on the device (protocol/privacy.py).
    withheld: int = 0
    local_answers: int = 0
    scene_notes: int = 0
    # Utterances kept on the device (no wake phrase / button) and answers barged in on.
    speech_ignored: int = 0
    interrupts_sent: int = 0
    # Speech over a spoken answer that was a backchannel ("mhm"): the answer went on.
    backchannels: int = 0
    # Questions whose observation left while the wearer was still speaking (a prefill).
    early_observations: int = 0
    # Items a source delivered that no stage could use (edge/sources/media_checks.py), and the last reason.
    frames_rejected: int = 0
    audio_rejected: int = 0
    last_rejection: str = ""


class EdgeRuntime:
    def __init__(
        self,
        listener: Listener,
        analyser: KeyframeAnalyser | None,
        out: Sequencer,
        send: Send,
        *,
        config: EdgeConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        deliver: Send | None = None,
        spotter: KeywordSpotter | None = None,
        player: AnswerPlayer | None = None,
        transcribe: Transcribe | None = None,
        command: LocalCommand | None = None,
    ) -> None:
        """`send` carries messages upstream; `deliver` hands answers the edge made itself
        (local-only mode) to the wearer's display or speaker. `player` plays spoken answers
        (barge-in pauses it); `transcribe` tells a backchannel over one from a question
        (without it, any speech over an answer stops it); `command` carries out what the
        wearer asks the device itself in local-only mode."""
        self._command = command
        self._listener = listener
        self._deliver = deliver
        self._analyser = analyser
        self._out = out
        self._send = send
        self.config = config or EdgeConfig()
        self._clock = clock
        self._frames: deque[ScoredFrame] = deque()
        # (end of chunk in source seconds, monotonic arrival): maps source time onto
        # the clock, so "speech_end" means when the edge heard the last word.
        self._arrivals: deque[tuple[float, float]] = deque(maxlen=2048)
        self._turn_id = 0
        self.stats = EdgeStats()
        self._scene = SceneChangeDetector()
        self._live = LiveNotes(ByteBudget(self.config.live_bytes_per_minute))
        # Which utterances are questions, and when the wearer talks over an answer.
        self.turn_taking = turn_taking_for(listener, self.config, spotter)
        self.player = player
        if player is not None:
            self.turn_taking.attach_player(player)
        self._transcribe = transcribe
        self._to_classify: list[ClassifySpeech] = []
        self._interrupts: list[int] = []
        # Which turns are open and where each answer stands, fed by both directions.
        self.turns = TurnTracker()
        # The answer modes whose cloud backend looks at the keyframe (a Control "images"
        # from the cloud); None until the cloud says, and then the keyframe goes as before.
        self.image_modes: frozenset[str] | None = None
        # Shopping mode (a Control "shopping" from the cloud): scene notes go up as in live
        # mode, so the prices on shelves the wearer passes are remembered unasked.
        self.shopping = False
        # The question being spoken now, its keyframe already being analysed.
        self._ahead: LookAhead | None = None

    async def run(self, source: Source) -> None:
        """Consume the source to its end; turns in flight finish before this returns."""
        async with asyncio.TaskGroup() as turns:
            async for delivered in source:
                item = self._usable(delivered)
                if item is None:
                    continue  # refused and counted: the session goes on without it
                speech = self._take(item)
                if isinstance(item, AudioChunk):
                    self._look_ahead(turns)
                speech += await self._classify_held()
                if isinstance(item, VideoFrame) and self._scene_changed(item):
                    turns.create_task(self._send_scene_note(item))
                await self._send_interrupts()
                for ended in speech:
                    await self._take_turn(ended, turns)
            # A stream that ends mid-utterance: that speech is a question like any other.
            flushed = self._accepted(self.turn_taking.flush())
            for ended in flushed + await self._classify_held():
                await self._take_turn(ended, turns)

    async def _take_turn(self, ended: SpeechEnded, turns: asyncio.TaskGroup) -> None:
        """One spoken question: answered here (local-only) or sent, with its keyframe if
        one may leave. The segment says a visual follows only when one really will."""
        ahead, self._ahead = self._ahead, None
        frame = self._keyframe_for(ended.speech_end)
        if self._policy.answers_on_device:
            await self._answer_locally(frame, ended.samples)
            return
        visual = frame is not None and self._camera_allowed()
        turn_id = await self._send_speech(ended, visual=visual)
        if visual and frame is not None:
            reuse = ahead if ahead is not None and ahead.covers(ended, frame) else None
            turns.create_task(self._send_visual(turn_id, frame, reuse))

    def _look_ahead(self, turns: asyncio.TaskGroup) -> None:
        """Once a question has gone on for `LOOK_AHEAD_AFTER_S`, analyse the frame it is
        about and send what was seen (text and labels, never the frame) as an
        EarlyObservation, so the cloud reads the prompt's opening while the wearer
        finishes. Only speech already meant for the assistant (its activation rule
        passed), under the same privacy rule as the turn's own Observation. The frame is
        the one end of speech would choose if no sharper one comes: then the turn's
        Observation reuses this analysis."""
        start = self.turn_taking.addressed_since
        if start is None or not self.config.early_observation:
            return
        if self._ahead is not None and self._ahead.utterance == start:
            return
        heard = self.turn_taking.heard_until
        if heard - start < LOOK_AHEAD_AFTER_S:
            return
        if self._policy.answers_on_device or not self._camera_allowed():
            return
        frame = self._keyframe_for(heard)
        if frame is None:
            return
        prepared = turns.create_task(self._prepare_quietly(frame))
        self._ahead = LookAhead(start, frame.t, prepared)
        turns.create_task(self._send_early(self._turn_id + 1, frame, self._ahead))

    async def _send_early(self, turn_id: int, frame: ScoredFrame, ahead: LookAhead) -> None:
        prepared = await ahead.prepared
        if prepared is None or self._ahead is not ahead or not self._camera_allowed():
            return  # failed, or the question already ended: its Observation says it all
        sent = await self._emit(
            self._out.make(
                EarlyObservation,
                turn_id=turn_id,
                captured_at=self._heard_at(frame.t),
                ocr=prepared.context.ocr,
                labels=prepared.context.labels,
            )
        )
        if sent:
            self.stats.early_observations += 1

    async def _prepare_quietly(self, frame: ScoredFrame) -> PreparedFrame | None:
        """`_prepare`, with a failure logged rather than raised (it would end the session's
        task group); the turn's own Observation then analyses the frame again."""
        try:
            return await self._prepare(frame)
        except Exception as exc:
            log.warning("could not analyse the frame ahead of the question: %s", exc)
            return None

    async def _prepare(self, frame: ScoredFrame) -> PreparedFrame:
        """Analyse exactly the pixels that leave the device, at the size they leave."""
        assert self._analyser is not None
        analyser = self._analyser
        image = fit_longest_side(frame.image, self.config.max_jpeg_side)

        height, width = image.shape[:2]

        def prepare() -> PreparedFrame:
            prepared = analyser.prepare(image)
            if prepared.redacted is None:
                # Fail closed: the frame stays here; the Observation says why.
                return PreparedFrame(prepared.context, None, 0, width, height)
            jpeg = encode_jpeg(prepared.redacted, max_bytes=self.config.max_jpeg_bytes)
            return PreparedFrame(prepared.context, jpeg, prepared.faces_hidden, width, height)

        result = await asyncio.to_thread(prepare)
        self.stats.frames_analysed += 1
        return result

    async def ask(self, text: str) -> int:
        """A typed question about what is in view now."""
        frame = self._frames[-1] if self._frames else None
        if self._policy.answers_on_device:
            return await self._answer_locally(frame)
        self._turn_id += 1
        visual = frame is not None and self._camera_allowed()
        await self._emit(
            self._out.make(
                Query, turn_id=self._turn_id, text=text, mode=self.config.mode, visual=visual
            )
        )
        if visual and frame is not None:
            await self._send_visual(self._turn_id, frame)
        return self._turn_id

    def _cloud_looks_at_images(self) -> bool:
        """Whether the cloud's backend for this session's mode takes the keyframe itself
        ("auto": either mode may answer, so either taking images is enough)."""
        if self.image_modes is None or self.config.keyframes == "always":
            return True
        if self.config.mode == "auto":
            return bool(self.image_modes)
        return self.config.mode in self.image_modes

    def _scene_changed(self, frame: VideoFrame) -> bool:
        """Live mode only: does this frame show a new scene (cheap, every frame)?"""
        if not (self.config.live_notes or self.shopping) or not self._camera_allowed():
            return False
        return self._scene.changed(scene_signature(frame.image))

    async def _send_scene_note(self, frame: VideoFrame) -> None:
        """Live mode: an Observation without a frame (turn 0: no question asked), if the
        byte budget for the last minute has room for it."""
        assert self._analyser is not None
        analyser = self._analyser
        image = fit_longest_side(frame.image, self.config.max_jpeg_side)
        context = await asyncio.to_thread(analyser.analyse, image)
        self.stats.frames_analysed += 1
        note = self._out.make(
            Observation,
            turn_id=0,
            captured_at=self._heard_at(frame.t),
            ocr=context.ocr,
            labels=context.labels,
            analysed_ms=context.analysed_ms,
            errors=context.errors,
            barcodes=context.barcodes,
            products=context.products,
        )
        if self._live.should_send(frame.t, True, len(encode(note))) and self._camera_allowed():
            if await self._emit(note):
                self.stats.scene_notes += 1

    def control(self, message: Control) -> None:
        """Apply a run-time setting sent by the gateway (the app's privacy page) or the wearer.

        A privacy change applies to the very next turn: a frame already being
        analysed for an earlier turn still finishes, but `_send_visual`
        re-checks the mode before anything leaves.
        """
        privacy = parse_privacy(message.value)
        mode = next((m for m in ANSWER_MODES if m == message.value), None)
        if message.action == "privacy" and privacy is not None:
            log.info("privacy mode: %s -> %s", self.config.privacy, privacy)
            self.config = replace(self.config, privacy=privacy)
        elif message.action == "mode" and mode is not None:
            self.config = replace(self.config, mode=mode)
        elif message.action == "button":  # the phone app's talk button (push-to-talk)
            self.press_button()
        elif message.action == "images":  # from the cloud: which modes look at the keyframe
            self.image_modes = frozenset(m for m in message.value.split(",") if m)
        elif message.action == "shopping" and message.value in ("on", "off"):
            on = message.value == "on"
            if on != self.shopping:  # the shelf in view now is the first note
                self._scene = SceneChangeDetector(SHELF_CHANGE if on else CHANGE_THRESHOLD)
            self.shopping = on
        else:
            log.warning("ignoring control %s=%r", message.action, message.value)

    async def _answer_locally(
        self, frame: ScoredFrame | None, speech: npt.NDArray[np.int16] | None = None
    ) -> int:
        """Local-only: carry out what the device understood itself (`command`), or answer
        from on-device OCR and labels; nothing is sent upstream."""
        self._turn_id += 1
        turn_id = self._turn_id
        text = await self._carried_out(speech)
        if text is None:
            context: VisualContext | None = None
            if frame is not None and self._analyser is not None and self._policy.camera:
                analyser = self._analyser
                image = fit_longest_side(frame.image, self.config.max_jpeg_side)
                context = await asyncio.to_thread(analyser.analyse, image)
                self.stats.frames_analysed += 1
            text = local_answer(context)
        self.stats.local_answers += 1
        answer = self._out.make(AnswerDone, turn_id=turn_id, text=text, mode="local")
        self.turns.received(answer)
        if self._deliver is not None:
            await self._deliver(answer)
        else:
            log.info("local answer (turn %s): %s", turn_id, answer.text)
        return turn_id

    async def _carried_out(self, speech: npt.NDArray[np.int16] | None) -> str | None:
        if speech is None or self._command is None:
            return None
        try:
            return await self._command(speech)
        except Exception as exc:  # a failed transcriber costs the command, not the answer
            log.warning("could not understand the question on the device: %s", exc)
            return None

    @property
    def _policy(self) -> PrivacyPolicy:
        return policy_for(self.config.privacy)

    def _camera_allowed(self) -> bool:
        """A frame (and what was seen in it) may leave for a question."""
        return self._analyser is not None and self._policy.frames_leave

    async def _emit(self, message: Message) -> bool:
        """The one way upstream: the privacy policy decides, the turn tracker takes note."""
        if not may_leave(message, self.config.privacy):
            self.stats.withheld += 1
            return False
        self.turns.sent(message)
        await self._send(message)
        return True

    def _usable(self, item: MediaItem) -> MediaItem | None:
        """The item in the layout every stage expects, or None (logged, counted) if it is
        unusable: a corrupt frame must not end the session."""
        try:
            if isinstance(item, VideoFrame):
                return replace(item, image=checked_frame(item.image))
            if isinstance(item, AudioChunk):
                return replace(item, samples=checked_audio(item.samples))
        except MediaError as exc:
            if isinstance(item, VideoFrame):
                self.stats.frames_rejected += 1
            else:
                self.stats.audio_rejected += 1
            self.stats.last_rejection = str(exc)
            log.warning("dropped a %s from the source: %s", type(item).__name__, exc)
            return None
        return item

    def _take(self, item: MediaItem) -> list[SpeechEnded]:
        if isinstance(item, VideoFrame):
            self.stats.frames_seen += 1
            quality = assess(item.image)
            self._frames.append(
                ScoredFrame(item.t, item.image, quality.sharpness, quality.exposure)
            )
            horizon = item.t - self.config.keyframe_lookback_s - 1.0
            while self._frames and self._frames[0].t < horizon:
                self._frames.popleft()
            return []
        if isinstance(item, ButtonPress):
            return self._accepted(self.turn_taking.button(item.t))
        assert isinstance(item, AudioChunk)
        self.stats.audio_seconds += item.duration
        self._arrivals.append((item.t + item.duration, self._clock()))
        return self._accepted(self.turn_taking.feed(item))

    def received(self, message: Message) -> None:
        """A message from upstream for this session: when an answer begins or ends,
        turn-taking hears of it (barge-in and follow-up turns depend on it). An
        interrupt it causes leaves with the next media item."""
        if self.player is not None and isinstance(message, AnswerAudio):
            self.player.add(message)
        if self.player is not None and isinstance(message, AnswerDone) and message.interrupted:
            self.player.stop(message.turn_id)
        for event in self.turns.received(message):
            if isinstance(event, AnswerBegan):
                self._accepted(self.turn_taking.answer_started(event.turn_id))
            elif isinstance(event, TurnOver):
                self._accepted(self.turn_taking.answer_finished(event.turn_id))

    def press_button(self) -> None:
        """A talk-button press that did not come in the source (the phone app's button)."""
        self._accepted(self.turn_taking.button())

    async def _classify_held(self) -> list[SpeechEnded]:
        """Speech heard over a spoken answer: a backchannel resumes it, anything else stops
        it. Transcribed off the event loop; the answer stays paused meanwhile."""
        speech: list[SpeechEnded] = []
        while self._to_classify:
            ended = self._to_classify.pop(0).ended
            said: str | None = None  # no transcriber: any speech over the answer stops it
            if self._transcribe is not None:
                try:
                    said = await asyncio.to_thread(self._transcribe, ended.samples)
                except Exception as exc:  # a failed transcriber must not cost the question
                    log.warning("could not transcribe speech over the answer: %s", exc)
            verdict = meaning(said) if said is not None else "question"
            if verdict == "backchannel":
                self.stats.backchannels += 1
            speech += self._accepted(self.turn_taking.classified(ended, verdict))
        return speech

    def _accepted(self, decisions: Sequence[TurnDecision]) -> list[SpeechEnded]:
        """The utterances to send; interrupts are queued for `_send_interrupts`."""
        speech: list[SpeechEnded] = []
        for decision in decisions:
            if isinstance(decision, SendSpeech):
                speech.append(decision.ended)
            elif isinstance(decision, IgnoreSpeech):
                self.stats.speech_ignored += 1
                log.info("speech kept on the device: %s", decision.reason)
            elif isinstance(decision, InterruptAnswer):
                self._interrupts.append(decision.turn_id)
            elif isinstance(decision, ClassifySpeech):
                self._to_classify.append(decision)
        return speech

    async def _send_interrupts(self) -> None:
        while self._interrupts:
            turn_id = self._interrupts.pop(0)
            if await self._emit(self._out.make(Interrupt, turn_id=turn_id)):
                self.stats.interrupts_sent += 1

    def _heard_at(self, source_t: float) -> float:
        """Monotonic time at which audio up to `source_t` had arrived."""
        ends = [end for end, _ in self._arrivals]
        i = min(bisect.bisect_left(ends, source_t - 1e-6), len(ends) - 1)
        return self._arrivals[i][1] if self._arrivals else self._clock()

    async def _send_speech(self, ended: SpeechEnded, *, visual: bool) -> int:
        """`visual`: a keyframe and observation for this turn follow, so the cloud waits."""
        self._turn_id += 1
        self.stats.segments += 1
        codec, parts = self._speech_parts(ended)
        speech_end = self._heard_at(ended.speech_end)
        detected = self._heard_at(ended.detected_at)
        for index, part in enumerate(parts):
            await self._emit(
                self._out.make(
                    SpeechSegment,
                    turn_id=self._turn_id,
                    pcm=part,
                    codec=codec,
                    part=index,
                    last=index == len(parts) - 1,
                    speech_start=self._heard_at(ended.speech_start),
                    speech_end=speech_end,
                    detected_at=detected,
                    visual=visual,
                    mode=self.config.mode,
                )
            )
        return self._turn_id

    def _speech_parts(self, ended: SpeechEnded) -> tuple[str, list[bytes]]:
        """The utterance as Opus (a tenth of the PCM bytes) or, if so configured or if the
        encoder fails, raw PCM, cut into parts that each fit one message."""
        if self.config.speech_codec == "opus":
            try:
                packets = encode_opus(ended.samples, bitrate=self.config.speech_bitrate)
                return "opus", split_packets(packets, MAX_SEGMENT_PART_BYTES)
            except SpeechEncodingError as exc:
                log.warning("sending raw PCM: %s", exc)
        pcm = ended.samples.astype("<i2").tobytes()
        step = MAX_SEGMENT_PART_BYTES
        return "pcm", [pcm[i : i + step] for i in range(0, len(pcm), step)] or [b""]

    def _keyframe_for(self, speech_end: float) -> ScoredFrame | None:
        frames = list(self._frames)
        chosen = select_keyframe(
            [Candidate(f.t, f.sharpness, f.exposure, i) for i, f in enumerate(frames)],
            speech_end,
            lookback_s=self.config.keyframe_lookback_s,
        )
        return None if chosen is None else frames[chosen.index]

    async def _send_visual(
        self, turn_id: int, frame: ScoredFrame, ahead: LookAhead | None = None
    ) -> None:
        """The turn's keyframe (if the cloud looks at it) and Observation; `ahead`: this
        very frame, already being analysed while the wearer spoke."""
        prepared = await ahead.prepared if ahead is not None else None
        if prepared is None:
            prepared = await self._prepare(frame)
        context, jpeg, hidden = prepared.context, prepared.jpeg, prepared.faces_hidden
        for error in context.errors:
            log.warning("turn %s: vision stage failed: %s", turn_id, error)
        self.stats.faces_hidden += hidden
        if not self._camera_allowed():
            return  # the privacy mode changed while the frame was being analysed
        height, width = prepared.height, prepared.width
        captured = self._heard_at(frame.t)
        if jpeg is None:
            self.stats.keyframes_withheld += 1
        elif not self._cloud_looks_at_images():
            pass  # the observation (text, labels) is all the cloud's model reads: 12-36 kB saved
        else:
            await self._emit(
                self._out.make(
                    Keyframe,
                    turn_id=turn_id,
                    jpeg=jpeg,
                    width=width,
                    height=height,
                    captured_at=captured,
                    sharpness=frame.sharpness,
                )
            )
            self.stats.keyframes_sent += 1
            self.stats.keyframe_bytes += len(jpeg)
        await self._emit(
            self._out.make(
                Observation,
                turn_id=turn_id,
                captured_at=captured,
                ocr=context.ocr,
                labels=context.labels,
                analysed_ms=context.analysed_ms,
                errors=context.errors,
                barcodes=context.barcodes,
                products=context.products,
            )
        )
