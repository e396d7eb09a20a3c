"""The edge runtime's settings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class EdgeConfig:
    gateway_url: str = "http://127.0.0.1:8080"
    user: str = "me"
    device: str = "replay"
    privacy: str = "standard"  # standard | no-camera | local-only
    mode: str = "auto"  # auto | fast | reasoning
    # End of speech is declared after this much quiet following the last voiced
    # 32 ms chunk: nine chunks, the most that stays within 300 ms of the last word.
    end_silence_ms: int = 288
    pre_roll_ms: int = 300
    min_speech_ms: int = 250
    # Turn-taking (edge/audio/activation.py): "always" | "wake" | "push".
    activation: str = "always"
    wake_phrase: str = "hey companion"
    wake_threshold: float = 1e-25
    follow_up_s: float = 5.0
    barge_in: bool = True
    # The keyframe is the sharpest frame seen this long before end of speech.
    keyframe_lookback_s: float = 1.5
    max_jpeg_bytes: int = 150_000
    max_jpeg_side: int = 1280
    # Optional YOLO-style ONNX object detector (edge/vision/detector.py); "" = none.
    object_detector: str = ""
    # Live mode (edge/selection.py): scene notes upstream when the view changes,
    # at most this many bytes of them per minute.
    live_notes: bool = False
    live_bytes_per_minute: int = 4_000
    # Speech upstream (edge/audio/speech_encoding.py): "opus" at this bitrate, or raw "pcm".
    speech_codec: str = "opus"
    speech_bitrate: int = 32_000
