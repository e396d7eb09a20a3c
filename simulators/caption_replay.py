"""Captions for a recording, in simulated real time, and the captions benchmark.

The recording is fed to the edge's listener (Silero VAD + endpointing) and
the caption planner chunk by chunk, as a microphone would deliver it; the
planner's requests go to one transcriber that can do one thing at a time.
Time is simulated: a chunk "arrives" when its last sample would have been
heard, and a transcription starts when both its request and the transcriber
are there and ends after the compute time it really took. So a recording is
captioned as fast as the CPU allows, yet each caption's lag is what a live
listener would have seen: queueing behind earlier transcriptions included.

When the transcriber falls behind, revisions that a newer one replaces are
skipped (a caption shows only the latest) and final texts go first.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from cloud.captions import Captioner
from cloud.notes import ConversationNotes, NoteLine, label_speakers, take_notes, voice_print
from edge.audio.caption_tap import caption_listener as edge_caption_listener
from edge.audio.captions import CaptionConfig, CaptionPlanner, CaptionRequest
from edge.audio.listener import Listener
from edge.audio.vad import SileroVad
from edge.config import EdgeConfig
from edge.sources.media import CHUNK_SAMPLES, SAMPLE_RATE, AudioChunk
from protocol.messages import Caption
from simulators.bench_asr import load_utterances
from simulators.wer import normalise, word_error_rate


@dataclass(frozen=True, slots=True)
class TimedCaption:
    """A caption and, on the recording's timeline, when it was asked for and shown."""

    caption: Caption
    requested_at: float
    shown_at: float
    compute_s: float
    samples: npt.NDArray[np.int16] = field(repr=False, compare=False)

    @property
    def lag_s(self) -> float:
        """From the end of the line's speech (heard so far) to its text being shown."""
        return self.shown_at - self.caption.speech_end

    def to_json(self) -> dict[str, Any]:
        c = self.caption
        return {
            "line_id": c.line_id,
            "final": c.final,
            "text": c.text,
            "language": c.language,
            "translated": c.translated,
            "speech_start": round(c.speech_start, 3),
            "speech_end": round(c.speech_end, 3),
            "shown_at": round(self.shown_at, 3),
            "lag_s": round(self.lag_s, 3),
        }


def caption_listener(vad_session: ort.InferenceSession, config: EdgeConfig) -> Listener:
    """The edge's captions listener (edge/audio/caption_tap.py) on the shared Silero session
    (`EdgeModels.vad_session`)."""
    return edge_caption_listener(SileroVad(vad_session), config)


def caption_recording(
    samples: npt.NDArray[np.int16],
    *,
    listener: Listener,
    captioner: Captioner,
    config: CaptionConfig | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> list[TimedCaption]:
    """Every caption of a 16 kHz mono recording, in the order they were shown."""
    planner = CaptionPlanner(config)
    queue = _TranscriptionQueue(captioner, clock)
    for offset in range(0, samples.size, CHUNK_SAMPLES):
        chunk = AudioChunk(offset / SAMPLE_RATE, samples[offset : offset + CHUNK_SAMPLES])
        arrived = chunk.t + chunk.duration
        queue.add(planner.push(chunk, listener.feed(chunk)))
        queue.run_until(arrived)
    queue.add(planner.flush(listener.flush()))
    queue.run_until(math.inf)
    return queue.shown


def final_lines(captions: Sequence[TimedCaption]) -> list[TimedCaption]:
    """The final caption of each line, in line order."""
    return sorted((c for c in captions if c.caption.final), key=lambda c: c.caption.line_id)


class _TranscriptionQueue:
    """One transcriber, busy for as long as each transcription really took."""

    def __init__(self, captioner: Captioner, clock: Callable[[], float]) -> None:
        self.captioner = captioner
        self.clock = clock
        self.pending: list[CaptionRequest] = []
        self.shown: list[TimedCaption] = []
        self.free_at = 0.0
        self._finished_lines: set[int] = set()

    def add(self, requests: Sequence[CaptionRequest]) -> None:
        self.pending += requests

    def run_until(self, now: float) -> None:
        while self.pending and self.free_at <= now:
            request = self._next()
            if request is None:
                return
            start = max(self.free_at, request.at)
            began = self.clock()
            caption = self.captioner.caption(
                line_id=request.line_id,
                samples=request.samples,
                final=request.final,
                speech_start=request.speech_start,
                speech_end=request.speech_end,
                sent_at=start,
            )
            spent = self.clock() - began
            self.free_at = start + spent
            self.shown.append(
                TimedCaption(caption, request.at, self.free_at, spent, request.samples)
            )

    def _next(self) -> CaptionRequest | None:
        """The oldest final text, else the newest revision of a line still open."""
        finals = [r for r in self.pending if r.final]
        chosen: CaptionRequest | None
        if finals:
            chosen = finals[0]
            self._finished_lines.add(chosen.line_id)
        else:
            live = [r for r in self.pending if r.line_id not in self._finished_lines]
            chosen = live[-1] if live else None
        if chosen is None:
            self.pending = []
            return None
        # Revisions older than the chosen request, or of a finished line, are stale.
        self.pending = [
            r
            for r in self.pending
            if r is not chosen
            and (
                r.final
                or (
                    r.line_id not in self._finished_lines
                    and (r.line_id != chosen.line_id or r.at > chosen.at)
                )
            )
        ]
        return chosen


# Notes need each line's final text only: no revisions while it is spoken.
NOTES_CAPTIONS = CaptionConfig(partial_every_s=3600.0)


def notes_for_recording(
    samples: npt.NDArray[np.int16],
    *,
    listener: Listener,
    captioner: Captioner,
    today: date | None = None,
) -> ConversationNotes:
    """The conversation record, summary and action items of a recording."""
    finals = [
        c
        for c in final_lines(
            caption_recording(
                samples, listener=listener, captioner=captioner, config=NOTES_CAPTIONS
            )
        )
        if c.caption.text.strip()
    ]
    speakers = label_speakers(
        [voice_print(c.samples) for c in finals],
        [c.caption.speech_end - c.caption.speech_start for c in finals],
    )
    lines = [
        NoteLine(
            start=c.caption.speech_start,
            end=c.caption.speech_end,
            speaker=speaker,
            text=c.caption.text,
            language=c.caption.language,
        )
        for c, speaker in zip(finals, speakers, strict=True)
    ]
    return take_notes(lines, today=today)


def cpu_clock() -> float:
    """This process's CPU seconds divided by the cores it may use.

    On a machine shared with other work, wall time measures the neighbours as
    much as the transcriber; CPU time per core is what the same transcriptions
    would take on these cores alone (an estimate: it assumes Whisper keeps
    every core busy, so it errs on the fast side).
    """
    return time.process_time() / len(os.sched_getaffinity(0))


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0–100), linearly interpolated; 0.0 for no values."""
    return float(np.percentile(np.asarray(values), q)) if values else 0.0


@dataclass(frozen=True, slots=True)
class CaptionedFile:
    """One benchmark input: audio and what was said in it."""

    name: str
    samples: npt.NDArray[np.int16]
    reference: str


def speech_files(recordings: Path) -> list[CaptionedFile]:
    """The transcribed recordings under recordings/speech, at 16 kHz."""
    from cloud.speech.asr import resample

    files = []
    for utterance in load_utterances(recordings / "speech"):
        audio = utterance.samples
        if utterance.sample_rate != SAMPLE_RATE:
            scaled = resample(audio.astype(np.float32), utterance.sample_rate, SAMPLE_RATE)
            audio = np.clip(np.round(scaled), -32768, 32767).astype(np.int16)
        files.append(CaptionedFile(utterance.name, audio, utterance.transcript))
    return files


def bench_captions(
    files: Sequence[CaptionedFile],
    make_listener: Callable[[], Listener],
    captioner: Captioner,
    *,
    clock: Callable[[], float] = time.perf_counter,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Caption lag p50/p95 over every final line, and word error rate per file and overall.

    `clock` times each transcription (wall time, or `cpu_clock` on a shared machine).
    """
    lags: list[float] = []
    partial_lags: list[float] = []
    compute: list[float] = []
    errors_total = words_total = 0
    audio_s = 0.0
    per_file: dict[str, dict[str, Any]] = {}
    for file in files:
        if progress:
            progress(f"captioning {file.name}")
        shown = caption_recording(
            file.samples, listener=make_listener(), captioner=captioner, clock=clock
        )
        finals = final_lines(shown)
        text = " ".join(c.caption.text for c in finals if c.caption.text)
        errors, words = word_error_rate(file.reference, text)
        errors_total += errors
        words_total += words
        audio_s += file.samples.size / SAMPLE_RATE
        lags += [c.lag_s for c in finals]
        partial_lags += [c.lag_s for c in shown if not c.caption.final]
        compute += [c.compute_s for c in shown]
        per_file[file.name] = {
            "wer": round(errors / words, 4) if words else 0.0,
            "lines": len(finals),
            "revisions": sum(not c.caption.final for c in shown),
            "lag_s_max": round(max((c.lag_s for c in finals), default=0.0), 3),
            "hypothesis": text,
        }
    return {
        "files": per_file,
        "wer": round(errors_total / words_total, 4) if words_total else 0.0,
        "final_lines": len(lags),
        "final_lag_s_p50": round(percentile(lags, 50), 3),
        "final_lag_s_p95": round(percentile(lags, 95), 3),
        "revision_lag_s_p50": round(percentile(partial_lags, 50), 3),
        "transcription_s_mean": round(sum(compute) / len(compute), 3) if compute else 0.0,
        "real_time_factor": round(sum(compute) / audio_s, 3) if audio_s else 0.0,
    }


def conversation_files(folder: Path) -> list[CaptionedFile]:
    """The conversation set (recordings/conversations/*.wav with their reference JSON)."""
    from simulators.bench_asr import read_wav

    files = []
    for audio in sorted(folder.glob("*.wav")):
        reference = json.loads(audio.with_suffix(".json").read_text())
        samples, rate = read_wav(audio)
        if rate != SAMPLE_RATE:
            raise ValueError(f"{audio}: {rate} Hz, expected {SAMPLE_RATE}")
        text = " ".join(line["text"] for line in reference["lines"])
        files.append(CaptionedFile(audio.name, samples, text))
    return files


def has_key_words(text: str, keys: Sequence[Sequence[str]]) -> bool:
    """Whether `text` holds, for each group of `keys`, at least one of its words (or their stem)."""
    words = normalise(text)
    return all(any(w.startswith(key) for w in words for key in group) for group in keys)


def bench_translation(
    folder: Path, transcriber: Any, *, languages: Sequence[str] = ("en", "de", "es", "fr")
) -> dict[str, Any]:
    """Per clip of clips.json: the language detected (among any, and among `languages`),
    the English text, whether it carries the key words, and the seconds it took."""
    from simulators.bench_asr import read_wav

    clips: dict[str, dict[str, Any]] = {}
    seconds: list[float] = []
    cpu_seconds: list[float] = []
    passed = groups = groups_carried = 0
    for clip in json.loads((folder / "clips.json").read_text()):
        samples, rate = read_wav(folder / clip["file"])
        row: dict[str, Any] = {"language": clip["language"]}
        for label, allowed in (("any", None), ("among", list(languages))):
            started, cpu_started = time.perf_counter(), cpu_clock()
            heard = transcriber.transcribe_into_english(samples, rate, languages=allowed)
            spent = time.perf_counter() - started
            cpu_spent = cpu_clock() - cpu_started
            ok = has_key_words(heard.text, clip["english_keys"])
            row[label] = {
                "detected": heard.language,
                "probability": round(heard.language_probability, 3),
                "text": heard.text,
                "key_words": ok,
                "seconds": round(spent, 3),
                "cpu_seconds_per_core": round(cpu_spent, 3),
            }
            if label == "among":
                seconds.append(spent)
                cpu_seconds.append(cpu_spent)
                passed += ok
                groups += len(clip["english_keys"])
                groups_carried += sum(has_key_words(heard.text, [g]) for g in clip["english_keys"])
        row["audio_seconds"] = round(samples.size / rate, 2)
        clips[clip["file"]] = row
    return {
        "clips": clips,
        "languages": list(languages),
        "key_words_passed": f"{passed}/{len(clips)}",
        "key_word_groups_carried": f"{groups_carried}/{groups}",
        "seconds_mean": round(sum(seconds) / len(seconds), 3) if seconds else 0.0,
        "seconds_max": round(max(seconds), 3) if seconds else 0.0,
        "cpu_seconds_per_core_mean": round(sum(cpu_seconds) / len(cpu_seconds), 3)
        if cpu_seconds
        else 0.0,
    }


def bench_notes(
    folder: Path,
    make_listener: Callable[[], Listener],
    captioner: Captioner,
    *,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Notes on each conversation of the set against its reference: action items found
    and invented (precision, recall), summary mentions, and how often two lines'
    speaker labels agree with the reference on same-or-different speaker."""
    rows: dict[str, dict[str, Any]] = {}
    found_total = correct_total = agreed_total = agreed_found = 0
    pairs_total = pairs_right = 0
    for audio in sorted(folder.glob("*.wav")):
        if progress:
            progress(f"notes for {audio.name}")
        reference = json.loads(audio.with_suffix(".json").read_text())
        samples, _ = _read_16k(audio)
        notes = notes_for_recording(samples, listener=make_listener(), captioner=captioner)
        keys = [item["key"] for item in reference["action_items"]]
        found = [item.what.lower() for item in notes.action_items]
        correct = sum(any(key in what for key in keys) for what in found)
        recalled = sum(any(key in what for what in found) for key in keys)
        truth = [_speaker_at(reference["lines"], line.start, line.end) for line in notes.lines]
        labels = [line.speaker for line in notes.lines]
        right = total = 0
        for i in range(len(labels)):
            for j in range(i + 1, len(labels)):
                total += 1
                right += (labels[i] == labels[j]) == (truth[i] == truth[j])
        found_total += len(found)
        correct_total += correct
        agreed_total += len(keys)
        agreed_found += recalled
        pairs_total += total
        pairs_right += right
        summary = notes.summary.lower()
        rows[audio.name] = {
            "kind": reference.get("kind", ""),
            "action_items_agreed": len(keys),
            "action_items_found": len(found),
            "action_items_correct": correct,
            "invented": len(found) - correct,
            "summary_mentions": [w for w in reference["summary_mentions"] if w.lower() in summary],
            "speakers": f"{len(notes.speakers)} labelled / {len(reference['speakers'])} real",
            "speaker_pair_agreement": round(right / total, 3) if total else 1.0,
            "action_items": [item.to_json() for item in notes.action_items],
        }
    return {
        "conversations": rows,
        "action_item_precision": round(correct_total / found_total, 3) if found_total else 1.0,
        "action_item_recall": round(agreed_found / agreed_total, 3) if agreed_total else 1.0,
        "invented_on_small_talk": sum(
            r["invented"] for r in rows.values() if r["kind"] == "small talk"
        ),
        "speaker_pair_agreement": round(pairs_right / pairs_total, 3) if pairs_total else 1.0,
    }


def _read_16k(path: Path) -> tuple[npt.NDArray[np.int16], int]:
    from simulators.bench_asr import read_wav

    samples, rate = read_wav(path)
    if rate != SAMPLE_RATE:
        raise ValueError(f"{path}: {rate} Hz, expected {SAMPLE_RATE}")
    return samples, rate


def _speaker_at(lines: Sequence[dict[str, Any]], start: float, end: float) -> str:
    """The reference speaker who talks most between `start` and `end`."""
    overlap: dict[str, float] = {}
    for line in lines:
        shared = max(0.0, min(end, line["end"]) - max(start, line["start"]))
        overlap[line["speaker"]] = overlap.get(line["speaker"], 0.0) + shared
    best = max(overlap, key=lambda s: overlap[s])
    return str(best)
