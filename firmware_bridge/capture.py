"""Decoding a capture of glasses notifications into a WAV file and JPEGs.

A capture is JSON lines, one notification each: `{"t": seconds, "uuid":
"19b10001-…", "hex": "0a0b00…"}`, the shape BLE sniffers and debug apps
export. A line for the codec characteristic (its value as read) sets the
codec; otherwise the caller names it, or the Omi firmware's default (Opus) is
assumed and the report says so. Malformed lines are counted and skipped, and
the audio and photos go through the same decoders as a live link, so a
capture from the field replays exactly what Companion would have heard.
"""

from __future__ import annotations

import json
import wave
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from firmware_bridge.audio_decoding import AudioStreamDecoder
from firmware_bridge.audio_reassembly import AudioReassemblyStats
from firmware_bridge.codecs import OUTPUT_RATE, CodecSpec, Samples, codec_spec, parse_codec_value
from firmware_bridge.errors import UnknownCodecError
from firmware_bridge.omi_protocol import (
    AUDIO_CODEC_UUID,
    AUDIO_DATA_UUID,
    BATTERY_LEVEL_UUID,
    PHOTO_DATA_UUID,
    CodecId,
    normalize_uuid,
)
from firmware_bridge.photo_reassembly import Photo, PhotoReassembler, PhotoReassemblyStats

DEFAULT_CODEC = CodecId.OPUS_16K
"""What shipping Omi firmware sends when nothing in the capture says otherwise."""

MAX_REPORTED_PROBLEMS = 50
"""A capture that is garbage throughout says so 50 times, then only counts."""

CodecSource = Literal["argument", "capture", "default"]


@dataclass(frozen=True, slots=True)
class _Record:
    t: float
    uuid: str
    data: bytes


@dataclass(slots=True)
class CaptureReport:
    """What a capture held and what came out of it."""

    lines: int = 0
    malformed_lines: int = 0
    unknown_notifications: int = 0
    codec: str | None = None
    codec_source: CodecSource = "default"
    audio_path: Path | None = None
    audio_seconds: float = 0.0
    audio: AudioReassemblyStats = field(default_factory=AudioReassemblyStats)
    audio_undecodable: int = 0
    photo_paths: list[Path] = field(default_factory=list)
    photos: PhotoReassemblyStats = field(default_factory=PhotoReassemblyStats)
    battery_percent: int | None = None
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values, for `companion bridge decode --json`."""
        data = asdict(self)
        data["audio_path"] = None if self.audio_path is None else str(self.audio_path)
        data["photo_paths"] = [str(path) for path in self.photo_paths]
        return data


def decode_capture(
    lines: Iterable[str], out_dir: Path, *, codec: int | None = None
) -> CaptureReport:
    """Write `audio.wav` (16 kHz mono) and `photo-000.jpg`… into `out_dir`; report the counts."""
    report = CaptureReport()
    records = _parse(lines, report)
    spec = _choose_codec(records, codec, report)
    out_dir.mkdir(parents=True, exist_ok=True)
    audio = AudioStreamDecoder(spec) if spec is not None else None
    photos = PhotoReassembler()
    samples: list[Samples] = []
    jpegs: list[bytes] = []
    for record in records:
        if record.uuid == AUDIO_DATA_UUID:
            if audio is not None:
                samples += [piece.samples for piece in audio.push(record.data, record.t)]
        elif record.uuid == PHOTO_DATA_UUID:
            jpegs += [e.jpeg for e in photos.push(record.data, record.t) if isinstance(e, Photo)]
        elif record.uuid == BATTERY_LEVEL_UUID:
            if record.data:
                report.battery_percent = record.data[0]
        elif record.uuid != AUDIO_CODEC_UUID:
            report.unknown_notifications += 1
    jpegs += [e.jpeg for e in photos.flush() if isinstance(e, Photo)]
    report.photos = photos.stats
    if audio is not None:
        samples += [piece.samples for piece in audio.flush()]
        report.audio = audio.stats
        report.audio_undecodable = audio.undecodable
        if audio.stats.notifications:
            pcm = np.concatenate(samples) if samples else np.zeros(0, dtype=np.int16)
            report.audio_path = _write_wav(out_dir / "audio.wav", pcm)
            report.audio_seconds = pcm.size / OUTPUT_RATE
    for number, jpeg in enumerate(jpegs):
        path = out_dir / f"photo-{number:03d}.jpg"
        path.write_bytes(jpeg)
        report.photo_paths.append(path)
    return report


def _parse(lines: Iterable[str], report: CaptureReport) -> list[_Record]:
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        report.lines += 1
        record = _parse_line(line)
        if isinstance(record, str):
            report.malformed_lines += 1
            if len(report.problems) < MAX_REPORTED_PROBLEMS:
                report.problems.append(f"line {number}: {record}; skipped")
        else:
            records.append(record)
    return records


def _parse_line(line: str) -> _Record | str:
    """The notification on one line, or why the line is not one."""
    try:
        item = json.loads(line)
    except ValueError:
        return "not JSON"
    if not isinstance(item, dict):
        return f'not a JSON object with "t", "uuid" and "hex" (got {type(item).__name__})'
    t, uuid, text = item.get("t"), item.get("uuid"), item.get("hex")
    if isinstance(t, bool) or not isinstance(t, int | float) or not np.isfinite(t):
        return f'"t" must be a finite number of seconds, not {t!r}'[:120]
    if not isinstance(uuid, str):
        return f'"uuid" must be a text UUID, not {uuid!r}'[:120]
    if not isinstance(text, str):
        return f'"hex" must be the value as hex text, not {text!r}'[:120]
    try:
        data = bytes.fromhex(text)
    except ValueError:
        return f'"hex" is not hexadecimal: {text[:40]!r}'
    return _Record(float(t), normalize_uuid(uuid), data)


def _choose_codec(
    records: list[_Record], codec: int | None, report: CaptureReport
) -> CodecSpec | None:
    """The caller's codec, else the capture's codec read, else the firmware default."""
    try:
        if codec is not None:
            report.codec_source = "argument"
            spec = codec_spec(codec)
        else:
            announced = [r for r in records if r.uuid == AUDIO_CODEC_UUID]
            if announced:
                report.codec_source = "capture"
                spec = parse_codec_value(announced[-1].data)
            else:
                report.codec_source = "default"
                spec = codec_spec(DEFAULT_CODEC)
    except UnknownCodecError as error:
        report.problems.append(f"audio not decoded: {error}")
        return None
    report.codec = spec.name
    return spec


def _write_wav(path: Path, samples: Samples) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(OUTPUT_RATE)
        out.writeframes(samples.astype("<i2").tobytes())
    return path
