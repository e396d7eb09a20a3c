"""Replaying recorded media through the whole stack, and printing what came back."""

from __future__ import annotations

import json
import sys
import wave
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, Self, TextIO

from cloud.conversation import Models
from deploy.local_stack import local_stack
from edge.audio.playback import AnswerPlayer
from edge.config import EdgeConfig
from edge.link.client import GatewayClient
from edge.models import EdgeModels
from edge.session import EdgeSession, SessionSummary, TurnRecord
from protocol import AnswerDelta, AnswerDone, Error, Keyframe, Message, Observation, Transcript
from protocol.latency import breakdown, total_ms
from protocol.messages import Caption
from simulators.errors import SimulatorError
from simulators.replay import replay


async def run_replay(
    *,
    video: Path | None,
    audio: Path | None,
    edge_config: EdgeConfig,
    edge_models: EdgeModels,
    models: Models | None = None,
    gateway_url: str | None = None,
    audio_format: str | None = None,
    speed: str = "max",
    questions: list[str] | None = None,
    on_event: Callable[[str, Message, TurnRecord | None], None] | None = None,
    token: str | None = None,
    player: AnswerPlayer | None = None,
) -> SessionSummary:
    """Replay files through edge → WebRTC → gateway → cloud.

    With `gateway_url` the replay talks to a running `companion serve`,
    presenting `token` (a session token) where it has accounts; otherwise it
    starts the cloud and gateway here, on loopback, with `models`. `player`: spoken
    answers are played on it (with barge-in), as on `companion edge --speaker`.
    """
    source = (
        replay(video, audio, speed=speed, audio_format=audio_format)  # type: ignore[arg-type]
        if audio is not None or video is not None
        else None
    )
    async with AsyncExitStack() as stack:
        if gateway_url is None:
            if models is None:
                raise ValueError("either a gateway URL or loaded cloud models are needed")
            local = await stack.enter_async_context(local_stack(models))
            gateway_url = local.gateway_url
        session = EdgeSession(
            edge_models.listener(edge_config),
            edge_models.analyser if video is not None else None,
            replace(edge_config, gateway_url=gateway_url),
            connect=partial(GatewayClient, token=token) if token else GatewayClient,
            player=player,
        )
        return await session.run(source, questions=questions, on_event=on_event)


def output_folder(folder: Path, flag: str) -> Path:
    """`folder`, created if needed, for what a replay writes; SimulatorError naming the
    `flag` that chose it when it cannot be."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SimulatorError(f"{flag} {folder}: {exc.strerror or exc}") from exc
    if not folder.is_dir():
        raise SimulatorError(f"{flag} {folder}: not a folder")
    return folder


class FolderWriter:
    """A replay event handler that writes files into a folder and passes every event on to
    `then`; `flag` names the option that chose the folder, for errors."""

    flag = ""

    def __init__(
        self, folder: Path, then: Callable[[str, Message, TurnRecord | None], None]
    ) -> None:
        self.folder = folder
        self.then = then
        self.written: list[Path] = []

    @classmethod
    def into(cls, folder: Path, then: Callable[[str, Message, TurnRecord | None], None]) -> Self:
        """A writer into `folder`, created if needed; SimulatorError when it cannot be."""
        return cls(output_folder(folder, cls.flag), then)


class UploadDump(FolderWriter):
    """Writes every frame that left the device, byte for byte as sent, so a person can check
    that no bystander's face went out. Passes every event on to `then`."""

    flag = "--dump-uploads"

    def __call__(self, kind: str, message: Message, turn: TurnRecord | None) -> None:
        if isinstance(message, Keyframe):
            path = self.folder / f"{len(self.written) + 1:04d}-turn{message.turn_id}.jpg"
            path.write_bytes(message.jpeg)
            self.written.append(path)
        self.then(kind, message, turn)


def with_voice(models: Models) -> Models:
    """The cloud's models with the bundled Piper voice added, so answers are spoken."""
    from cloud.speech.speaker import PiperSpeaker
    from cloud.speech.spoken_answer import Voice

    if models.voice is not None:
        return models
    return replace(models, voice=Voice(PiperSpeaker()))


class AnswerAudioWriter(FolderWriter):
    """Writes each spoken answer as a WAV file, one per turn (`turn0003.wav`), when the
    turn's AnswerDone arrives; every event goes on to `then`."""

    flag = "--answer-audio"

    def __call__(self, kind: str, message: Message, turn: TurnRecord | None) -> None:
        if isinstance(message, AnswerDone) and turn is not None:
            pcm, rate = turn.spoken()
            if pcm:
                path = self.folder / f"turn{message.turn_id:04d}.wav"
                with wave.open(str(path), "wb") as out:
                    out.setnchannels(1)
                    out.setsampwidth(2)
                    out.setframerate(rate)
                    out.writeframes(pcm)
                self.written.append(path)
        self.then(kind, message, turn)


def latency_fields(turn: TurnRecord) -> dict[str, Any]:
    stages = turn.stages()
    return {
        "latency_ms": {name: round(ms, 1) for name, ms in breakdown(stages)},
        "total_ms": round(total_ms(stages), 1),
        "inference_ms": round(turn.done.inference_ms, 1) if turn.done else 0.0,
    }


class Printer:
    """Turns session events into JSON lines or a readable transcript."""

    def __init__(self, *, as_json: bool, out: TextIO | None = None) -> None:
        self.as_json = as_json
        self.out = out or sys.stdout  # looked up now: tests replace sys.stdout per call
        self._streaming = False

    def __call__(self, kind: str, message: Message, turn: TurnRecord | None) -> None:
        if self.as_json:
            record = self._record(kind, message, turn)
            if record is not None:
                print(json.dumps(record, ensure_ascii=False), file=self.out, flush=True)
            return
        self._human(kind, message, turn)

    def _record(
        self, kind: str, message: Message, turn: TurnRecord | None
    ) -> dict[str, Any] | None:
        if isinstance(message, Transcript):
            return {"type": "transcript", "turn": message.turn_id, "text": message.text}
        if isinstance(message, Observation):
            return {
                "type": "observation",
                "turn": message.turn_id,
                "ocr": [line.text for line in message.ocr],
                "labels": [{"name": lb.name, "score": round(lb.score, 4)} for lb in message.labels],
                "analysed_ms": round(message.analysed_ms, 1),
            }
        if isinstance(message, AnswerDone) and turn is not None:
            return {
                "type": "answer",
                "turn": message.turn_id,
                "text": message.text,
                "mode": message.mode,
                **latency_fields(turn),
            }
        if isinstance(message, Caption):
            return {
                "type": "caption",
                "line": message.line_id,
                "text": message.text,
                "final": message.final,
                "language": message.language,
                **({"translation": message.translation} if message.translation else {}),
            }
        if isinstance(message, Error):
            return {"type": "error", "code": message.code, "message": message.message}
        return None

    def _human(self, kind: str, message: Message, turn: TurnRecord | None) -> None:
        if isinstance(message, Caption):
            if message.final:  # a terminal shows each line once, when it is final
                said = message.translation or message.text
                self._line(f"Caption: [{message.language or '?'}] {said}")
        elif isinstance(message, Transcript):
            heard = f'"{message.text}"' if message.text else "(no speech heard)"
            self._line(f"Heard:   {heard}")
        elif isinstance(message, Observation):
            text = " / ".join(line.text for line in message.ocr)
            labels = ", ".join(f"{lb.name} {lb.score:.0%}" for lb in message.labels[:3])
            self._line(f"Saw:     text: {text[:160] or '(none)'}")
            self._line(f"         looks like: {labels or '(nothing recognised)'}")
        elif isinstance(message, AnswerDelta):
            if not self._streaming:
                print("Answer:  ", end="", file=self.out)
                self._streaming = True
            print(message.text, end="", file=self.out, flush=True)
        elif isinstance(message, AnswerDone) and turn is not None:
            if message.mode == "local":  # made on the device: no deltas, no stages
                if message.text:  # "": speech heard as conversation, not a question
                    self._line(f"Answer:  {message.text} (on the device)")
                return
            self._streaming and print(file=self.out)
            self._streaming = False
            fields = latency_fields(turn)
            steps = " → ".join(
                f"{k.split('→')[1]} {v:.0f} ms" for k, v in fields["latency_ms"].items()
            )
            self._line(f"Latency: {steps}")
            self._line(
                f"         total {fields['total_ms']:.0f} ms from the last word to the last token received"
            )
        elif isinstance(message, Error):
            self._line(f"Error:   {message.code}: {message.message}")

    def _line(self, text: str) -> None:
        if self._streaming:
            print(file=self.out)
            self._streaming = False
        print(text, file=self.out, flush=True)

    def summary(self, summary: SessionSummary) -> None:
        answered = [t for t in summary.turns if t.done is not None]
        record = {
            "type": "summary",
            "turns": len(summary.turns),
            "answers": len(answered),
            "no_speech": not any(t.transcript for t in summary.turns)
            and summary.stats.local_answers == 0,
            "bytes_upstream": summary.bytes_upstream,
            "messages_upstream": summary.messages_upstream,
            "keyframe_bytes": summary.stats.keyframe_bytes,
            "audio_seconds": round(summary.stats.audio_seconds, 2),
            "frames_seen": summary.stats.frames_seen,
            "frames_analysed": summary.stats.frames_analysed,
            "errors": summary.errors,
        }
        if self.as_json:
            print(json.dumps(record), file=self.out, flush=True)
            return
        if record["no_speech"]:
            self._line("No speech heard: nothing to answer.")
        self._line(
            f"Sent upstream: {summary.bytes_upstream:,} bytes in {summary.messages_upstream} "
            f"messages ({summary.stats.keyframe_bytes:,} bytes of keyframes)"
        )
        for error in summary.errors:
            self._line(f"Error:   {error}")
