"""`companion captions|notes --audio F` and `companion bench captions|translation`.

Captions run the edge's listener and caption planner over the recording in
simulated real time (simulators/caption_replay.py): each line's revisions,
then its final text, with the lag a live listener would have seen. Speech in
another language is captioned in English with its language shown ("[de]").
Notes print the conversation record, its summary and its action items, and
with `--remember --user U` keep the summary and action items as U's memories.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import AsyncIterable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from companion.cli_support import (
    Subcommands,
    UsageError,
    check_files,
    print_result,
    probe_media,
    progress_printer,
    settings_of,
)

if TYPE_CHECKING:
    from cloud.captions import Captioner
    from edge.audio.listener import Listener
    from edge.sources.media import AudioChunk
    from protocol.messages import Caption


def register(commands: Subcommands, benchmarks: Subcommands) -> None:
    captions = commands.add_parser(
        "captions", help="caption a recording (translated into English), in simulated real time"
    )
    _media_flags(captions)
    captions.add_argument(
        "--mic",
        nargs="?",
        const="default",
        metavar="DEVICE",
        help="caption this machine's microphone live instead of --audio (default device, "
        "an index or part of a name; needs PortAudio), until Ctrl-C or --seconds",
    )
    captions.add_argument(
        "--seconds", type=float, help="with --mic: stop after this many seconds of listening"
    )
    captions.add_argument("--json", action="store_true", help="one JSON object on stdout")
    captions.set_defaults(run=_captions)

    notes = commands.add_parser(
        "notes", help="a recording's conversation record, summary and action items"
    )
    _media_flags(notes)
    notes.add_argument("--json", action="store_true", help="one JSON object on stdout")
    notes.add_argument(
        "--remember",
        action="store_true",
        help="store the summary and action items as --user's memories",
    )
    notes.add_argument("--user", help="whose memories (with --remember)")
    notes.set_defaults(run=_notes)

    bench = benchmarks.add_parser(
        "captions", help="caption lag p50/p95 and word error rate on the speech recordings"
    )
    bench.add_argument(
        "--recordings", type=Path, help="default: the recordings setting (recordings/)"
    )
    bench.add_argument(
        "--no-conversations", action="store_true", help="only recordings/speech, not conversations/"
    )
    bench.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="time transcriptions by the wall clock, or by CPU seconds per core "
        "(what they would take on an otherwise idle machine)",
    )
    bench.add_argument(
        "--language", help="the language spoken (e.g. en): no detection; default: detect"
    )
    bench.add_argument("--json", action="store_true")
    bench.set_defaults(run=_bench_captions)

    bench_notes = benchmarks.add_parser(
        "notes", help="action items found and invented, summary mentions and speaker labels"
    )
    bench_notes.add_argument("--recordings", type=Path)
    bench_notes.add_argument("--json", action="store_true")
    bench_notes.set_defaults(run=_bench_notes)

    translation = benchmarks.add_parser(
        "translation", help="English key words and seconds per clip on German/Spanish/French clips"
    )
    translation.add_argument("--recordings", type=Path)
    translation.add_argument(
        "--clips",
        default="translation",
        help="the clip set under recordings/conversations: translation (espeak-ng, de/es/fr) "
        "or translation-real (real Spanish and French speakers)",
    )
    translation.add_argument(
        "--into",
        action="store_true",
        help="instead: the other direction, each clip's English put into its language by the "
        "bundled reasoner ('translate to …'), scored by chrF against the sentence as spoken",
    )
    translation.add_argument("--json", action="store_true")
    translation.set_defaults(run=_bench_translation)


def _media_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--audio", type=Path, help="the recording (any ffmpeg format); required but with --mic"
    )
    parser.add_argument(
        "--audio-format", help="raw PCM layout, e.g. s16le:16000:1 (for headerless files)"
    )
    parser.add_argument(
        "--language",
        help="the language spoken (e.g. en): no detection; default: detect and translate into English",
    )
    parser.add_argument(
        "--languages",
        help="detect only among these, comma-separated (e.g. en,de,es,fr); default: any",
    )


def _languages(args: argparse.Namespace) -> list[str] | None:
    if not args.languages:
        return None
    codes = [code.strip() for code in args.languages.split(",") if code.strip()]
    if not all(code.isalpha() and 2 <= len(code) <= 3 for code in codes):
        raise UsageError(f"--languages {args.languages!r}: give codes like en,de,es,fr")
    return codes


def _load(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """(audio samples, listener factory, captioner), models loaded once."""
    from cloud.captions import Captioner
    from cloud.speech.asr import WhisperTranscriber
    from edge.models import EdgeModels
    from simulators.caption_replay import caption_listener
    from simulators.media import read_audio

    check_files(args.audio)
    probe_media(None, args.audio, args.audio_format)
    samples = read_audio(args.audio, args.audio_format)
    languages = _languages(args)
    transcriber = WhisperTranscriber()
    models = EdgeModels()
    edge_config = settings_of(args).edge_config(device="replay")
    captioner = Captioner(
        transcriber, session_id="captions", language=args.language, languages=languages
    )
    return samples, lambda: caption_listener(models.vad_session, edge_config), captioner


async def _captions(args: argparse.Namespace) -> int:
    from simulators.caption_replay import caption_recording, final_lines, percentile

    if (args.audio is None) == (args.mic is None):
        raise UsageError("give --audio FILE or --mic [DEVICE] (one of them)")
    if args.mic is not None:
        return await _captions_from_microphone(args)
    samples, make_listener, captioner = await asyncio.to_thread(_load, args)
    shown = await asyncio.to_thread(
        caption_recording, samples, listener=make_listener(), captioner=captioner
    )
    finals = final_lines(shown)
    lags = [c.lag_s for c in finals]
    if args.json:
        print(
            json.dumps(
                {
                    "audio": str(args.audio),
                    "captions": [c.to_json() for c in shown],
                    "lines": [c.to_json() for c in finals],
                    "text": " ".join(c.caption.text for c in finals if c.caption.text),
                    "final_lag_s_p50": round(percentile(lags, 50), 3),
                    "final_lag_s_p95": round(percentile(lags, 95), 3),
                }
            )
        )
        return 0
    for timed in shown:
        c = timed.caption
        state = "final" if c.final else "…    "
        language = f"[{c.language}] " if c.language and c.language != "en" else ""
        print(
            f"{timed.shown_at:7.2f}s  line {c.line_id:<3} {state} {language}{c.text}"
            f"  (speech {c.speech_start:.2f}–{c.speech_end:.2f}s, lag {timed.lag_s:.2f}s)"
        )
    return 0


async def _captions_from_microphone(args: argparse.Namespace) -> int:
    """Live captions of the local microphone: each revision and final line as it comes."""
    from cloud.captions import Captioner
    from cloud.speech.asr import WhisperTranscriber
    from edge.audio.caption_tap import caption_listener
    from edge.audio.vad import SileroVad
    from edge.models import EdgeModels
    from edge.sources.microphone import MicrophoneSource, microphone_device

    if args.seconds is not None and args.seconds <= 0:
        raise UsageError(f"--seconds {args.seconds}: give a positive number")
    edge_config = settings_of(args).edge_config(device="microphone")
    source = MicrophoneSource(microphone_device(args.mic))  # MediaError: one clear line
    transcriber, models = await asyncio.to_thread(lambda: (WhisperTranscriber(), EdgeModels()))
    captioner = Captioner(
        transcriber, session_id="mic", language=args.language, languages=_languages(args)
    )
    listener = caption_listener(SileroVad(models.vad_session), edge_config)
    if not args.json:
        print(f"listening to {source.name}; Ctrl-C to stop", flush=True)
    lines = await caption_live(
        source,
        listener=listener,
        captioner=captioner,
        show=_shower(args.json),
        seconds=args.seconds,
    )
    if args.json:
        print(json.dumps({"microphone": source.name, "lines": lines}))
    return 0


def _shower(as_json: bool) -> Callable[[Caption], None]:
    def show(caption: Caption) -> None:
        if as_json:
            return
        language = f"[{caption.language}] " if caption.language not in ("", "en") else ""
        state = "final" if caption.final else "…    "
        print(f"line {caption.line_id:<3} {state} {language}{caption.text}", flush=True)

    return show


async def caption_live(
    chunks: AsyncIterable[AudioChunk],
    *,
    listener: Listener,
    captioner: Captioner,
    show: Callable[[Caption], None],
    seconds: float | None = None,
) -> list[dict[str, Any]]:
    """Caption live audio as it arrives (the edge's tap and the cloud's caption queue, in
    one process); returns the final lines once the audio ends or `seconds` have been heard."""
    from cloud.captions.live import LiveCaptions
    from edge.audio.caption_tap import CaptionTap
    from protocol import Message, Sequencer
    from protocol.messages import CaptionAudio

    finals: list[dict[str, Any]] = []

    async def shown(caption: Caption) -> None:
        show(caption)
        if caption.final and caption.text:
            finals.append(
                {"line_id": caption.line_id, "text": caption.text, "language": caption.language}
            )

    live = LiveCaptions(captioner, run_model=asyncio.to_thread, send=shown, show=lambda: True)

    async def to_captioner(message: Message) -> None:
        if isinstance(message, CaptionAudio):
            live.receive(message)

    tap = CaptionTap(listener, Sequencer("mic"), to_captioner, privacy=lambda: "standard")
    tap.switch(captions=True)
    worker = asyncio.create_task(live.run())
    try:
        async for chunk in chunks:
            await tap.hear(chunk)
            if seconds is not None and chunk.t + chunk.duration >= seconds:
                break
        await tap.stop()
        await live.drain()
    finally:
        worker.cancel()
    return finals


async def _notes(args: argparse.Namespace) -> int:
    from simulators.caption_replay import notes_for_recording

    if args.audio is None:
        raise UsageError("notes need --audio FILE")
    if args.remember and not args.user:
        raise UsageError("--remember needs --user: whose memories should keep the notes")
    samples, make_listener, captioner = await asyncio.to_thread(_load, args)
    started_at = datetime.now(UTC)
    notes = await asyncio.to_thread(
        notes_for_recording,
        samples,
        listener=make_listener(),
        captioner=captioner,
        today=started_at.date(),
    )
    result: dict[str, Any] = {"audio": str(args.audio), **notes.to_json()}
    if args.remember:
        result["remembered"] = await asyncio.to_thread(
            _remember,
            args,
            notes,
            started_at,
            f"conversation:{args.audio.name}:{started_at:%Y%m%dT%H%M%S}",
        )
    print_result(result, args.json)
    return 0


def _remember(
    args: argparse.Namespace, notes: Any, started_at: datetime, conversation_id: str
) -> list[str]:
    from cloud.memory import MiniLmEmbedder, SqliteMemoryStore
    from cloud.memory.user_data import user_file
    from cloud.notes import remember_notes

    path = user_file(settings_of(args).data_dir, args.user)
    path.parent.mkdir(parents=True, exist_ok=True)
    with SqliteMemoryStore(path, MiniLmEmbedder()) as store:
        stored = remember_notes(
            store, args.user, notes, conversation_id=conversation_id, started_at=started_at
        )
    return [memory.id for memory in stored]


async def _bench_captions(args: argparse.Namespace) -> int:
    from cloud.captions import Captioner
    from cloud.speech.asr import WhisperTranscriber
    from edge.models import EdgeModels
    from simulators.caption_replay import (
        bench_captions,
        caption_listener,
        conversation_files,
        cpu_clock,
        speech_files,
    )

    recordings = args.recordings or settings_of(args).recordings
    if not (recordings / "speech").is_dir():
        raise UsageError(f"{recordings}: no speech/ folder in it (set --recordings)")
    files = speech_files(recordings)
    if not args.no_conversations:
        files += conversation_files(recordings / "conversations")
    started = time.monotonic()
    transcriber = await asyncio.to_thread(WhisperTranscriber)
    models = EdgeModels()
    edge_config = settings_of(args).edge_config(device="replay")
    load_s = time.monotonic() - started
    result = await asyncio.to_thread(
        bench_captions,
        files,
        lambda: caption_listener(models.vad_session, edge_config),
        Captioner(transcriber, session_id="bench", language=args.language),
        clock=cpu_clock if args.clock == "cpu" else time.perf_counter,
        progress=progress_printer(),
    )
    result["clock"] = args.clock
    result["language"] = args.language or "detected"
    result["load_seconds"] = round(load_s, 2)
    print_result(result, args.json)
    return 0


async def _bench_translation(args: argparse.Namespace) -> int:
    from cloud.speech.asr import WhisperTranscriber
    from simulators.caption_replay import bench_translation

    recordings = args.recordings or settings_of(args).recordings
    folder = recordings / "conversations" / args.clips
    if not (folder / "clips.json").is_file():
        raise UsageError(f"{folder}: no clips.json (set --recordings or --clips)")
    if args.into:
        from simulators.bench_translate_into import bench_translate_into

        result = await bench_translate_into(folder)
        print_result(result, args.json)
        return 0
    transcriber = await asyncio.to_thread(WhisperTranscriber)
    result = await asyncio.to_thread(bench_translation, folder, transcriber)
    print_result(result, args.json)
    return 0


async def _bench_notes(args: argparse.Namespace) -> int:
    from cloud.captions import Captioner
    from cloud.speech.asr import WhisperTranscriber
    from edge.models import EdgeModels
    from simulators.caption_replay import bench_notes, caption_listener

    recordings = args.recordings or settings_of(args).recordings
    folder = recordings / "conversations"
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such folder (set --recordings)")
    transcriber = await asyncio.to_thread(WhisperTranscriber)
    models = EdgeModels()
    edge_config = settings_of(args).edge_config(device="replay")
    result = await asyncio.to_thread(
        bench_notes,
        folder,
        lambda: caption_listener(models.vad_session, edge_config),
        Captioner(transcriber, session_id="bench", language="en"),
        progress=progress_printer(),
    )
    print_result(result, args.json)
    return 0
