"""The edge's own costs on real media: `companion bench edge --video V --audio A`.

Three groups of figures:

- listening: the listener per 32 ms chunk beside the bare Silero ONNX call,
  timed in the same run (simulators.bench_vad);
- seeing: ms per frame for each vision stage on frames of V scaled to
  640x480. The cheap gates and scene change run on every frame (up to
  `frames`); the model stages on `model_frames` frames spread over the clip;
- uploading: V and A replayed through the real edge runtime (real VAD, face,
  hand, OCR and classifier models) into a counter instead of a network, once
  answering spoken questions, once in live mode with the same question, and
  once in live mode with nobody asking (scene notes only), with the bytes that
  would go upstream and their ratio to the compressed size of the part of V
  replayed.

Timings are the best of `repeats` passes over the same frames, so they show
the code's cost rather than the machine's other load.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np
import numpy.typing as npt

from edge.config import EdgeConfig
from edge.models import EdgeModels
from edge.runtime import EdgeRuntime
from edge.vision.analysis import KeyframeAnalyser
from edge.vision.faces import MediaPipeFaceDetector
from edge.vision.hands import MediaPipeHandTracker
from edge.vision.jpeg import encode_jpeg
from edge.vision.quality import assess
from edge.vision.scene import scene_distance, scene_signature
from protocol import Keyframe, Message, Observation, Sequencer, SpeechSegment, encode
from simulators.bench_vad import DEMO_QUESTION, bench_vad
from simulators.media import open_video
from simulators.replay import replay

BENCH_SIZE = (640, 480)
VAD_REPEATS = 7
T = TypeVar("T")


async def bench_edge(
    video: Path,
    audio: Path | None = None,
    *,
    frames: int = 300,
    model_frames: int = 8,
    repeats: int = 3,
    progress: Callable[[str], None] = lambda step: None,
) -> dict[str, Any]:
    """All figures; the timing runs in a worker thread, the replays on the caller's loop."""
    audio = audio or DEMO_QUESTION
    models = EdgeModels()
    stages, vad, timed = await asyncio.to_thread(
        _time_stages, models, video, audio, frames, model_frames, repeats, progress
    )
    video_bytes = await asyncio.to_thread(lambda: video.stat().st_size)
    uploads = {}
    # "live_scene_only" is live mode while the wearer asks nothing: what watching costs.
    for mode, live, spoken in (
        ("query", False, audio),
        ("live", True, audio),
        ("live_scene_only", True, None),
    ):
        heard = f" + {spoken.name}" if spoken is not None else " (no question)"
        progress(f"replaying {video.name}{heard} through the edge ({mode} mode)")
        uploads[mode] = await _upstream(models, video, spoken, live=live)
    # With a question the replay lasts as long as the audio, so each ratio is to the
    # compressed bytes of the part of V that was replayed, not to the whole file.
    whole = uploads["live_scene_only"]["frames_seen"]
    for upload in uploads.values():
        replayed = video_bytes * min(1.0, upload["frames_seen"] / whole) if whole else video_bytes
        upload["video_bytes_replayed"] = round(replayed)
        upload["ratio_to_video"] = round(upload["bytes_upstream"] / replayed, 5)
        visual = upload["keyframe_bytes"] + upload["observation_bytes"]
        upload["visual_ratio_to_video"] = round(visual / replayed, 5)
    return {
        "vad": {
            "chunk_ms": vad["chunk_ms"],
            "listener_ms_per_chunk": vad["listener_ms_mean"],
            "listener_ms_p99": vad["listener_ms_p99"],
            "bare_silero_ms": vad["bare_onnxruntime_ms"],
            "listener_vs_bare": round(vad["listener_ms_mean"] / vad["bare_onnxruntime_ms"], 3),
        },
        "vision_ms_per_frame": {name: round(ms, 3) for name, ms in stages.items()},
        "gates_frames_per_s": round(1000.0 / stages["quality_gates"], 1),
        "frame_size": f"{BENCH_SIZE[0]}x{BENCH_SIZE[1]}",
        "frames_timed": timed[0],
        "model_frames_timed": timed[1],
        "video": str(video),
        "audio": str(audio),
        "video_bytes": video_bytes,
        "upload": uploads,
    }


def _time_stages(
    models: EdgeModels,
    video: Path,
    audio: Path,
    frames: int,
    model_frames: int,
    repeats: int,
    progress: Callable[[str], None],
) -> tuple[dict[str, float], dict[str, Any], tuple[int, int]]:
    progress("timing the VAD against the bare Silero call")
    # Sub-millisecond calls swing with the machine's load: more passes steady the ratio.
    vad = bench_vad(audio, chunks=1000, repeats=max(repeats, VAD_REPEATS))
    images = _frames(video, frames)
    sample = [images[i] for i in np.linspace(0, len(images) - 1, model_frames).astype(int)]

    progress(f"timing cheap gates on {len(images)} frames at {BENCH_SIZE[0]}x{BENCH_SIZE[1]}")
    signatures = [scene_signature(image) for image in images]
    stages: dict[str, float] = {
        "quality_gates": _ms_per_item(assess, images, repeats),
        "scene_change": _ms_per_item(
            lambda image: scene_distance(scene_signature(image), signatures[0]), images, repeats
        ),
    }
    progress("loading the edge's vision models")
    analyser = models.analyser
    faces = MediaPipeFaceDetector()
    hands = MediaPipeHandTracker()
    ocr, classifier = analyser.ocr, analyser.classifier
    progress(f"timing model stages on {len(sample)} frames")
    stages["faces"] = _ms_per_item(faces.detect, sample, repeats)
    stages["hands"] = _ms_per_item(hands.hands, sample, repeats)
    stages["ocr"] = _ms_per_item(ocr.read, sample, repeats)
    stages["classifier"] = _ms_per_item(classifier.classify, sample, repeats)
    stages["keyframe_analysis"] = _ms_per_item(
        lambda image: _full_keyframe(analyser, image), sample, repeats
    )
    faces.close()
    hands.close()
    return stages, vad, (len(images), len(sample))


def _frames(video: Path, limit: int) -> list[npt.NDArray[np.uint8]]:
    reader = open_video(video)
    images: list[npt.NDArray[np.uint8]] = []
    for frame in reader.frames():
        images.append(
            np.ascontiguousarray(cv2.resize(frame.image, BENCH_SIZE, interpolation=cv2.INTER_AREA))
        )
        if len(images) >= limit:
            break
    return images


def _full_keyframe(analyser: KeyframeAnalyser, image: npt.NDArray[np.uint8]) -> bytes:
    """What a question costs on the edge: every stage, the face redaction, the JPEG."""
    prepared = analyser.prepare(image)
    assert prepared.redacted is not None, prepared.face_error
    return encode_jpeg(prepared.redacted, max_bytes=150_000)


def _ms_per_item(
    stage: Callable[[npt.NDArray[np.uint8]], T], images: list[npt.NDArray[np.uint8]], repeats: int
) -> float:
    stage(images[0])  # warm up: first calls allocate
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for image in images:
            stage(image)
        best = min(best, (time.perf_counter() - started) * 1000.0 / len(images))
    return best


async def _upstream(
    models: EdgeModels, video: Path, audio: Path | None, *, live: bool
) -> dict[str, Any]:
    sent: list[Message] = []

    async def count(message: Message) -> None:
        sent.append(message)

    config = EdgeConfig(live_notes=live)
    runtime = EdgeRuntime(
        models.listener(config), models.analyser, Sequencer("bench"), count, config=config
    )
    await runtime.run(replay(video, audio))
    sizes = [len(encode(message)) for message in sent]
    return {
        "bytes_upstream": sum(sizes),
        "speech_bytes": sum(
            s for m, s in zip(sent, sizes, strict=True) if isinstance(m, SpeechSegment)
        ),
        "keyframe_bytes": sum(
            s for m, s in zip(sent, sizes, strict=True) if isinstance(m, Keyframe)
        ),
        "observation_bytes": sum(
            s for m, s in zip(sent, sizes, strict=True) if isinstance(m, Observation)
        ),
        "frames_seen": runtime.stats.frames_seen,
        "frames_analysed": runtime.stats.frames_analysed,
        "keyframes_sent": runtime.stats.keyframes_sent,
        "scene_notes": runtime.stats.scene_notes,
        "faces_hidden": runtime.stats.faces_hidden,
        "segments": runtime.stats.segments,
        "speech_codec": config.speech_codec,
    }
