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
    end_silence_ms: int = 300
    pre_roll_ms: int = 300
    min_speech_ms: int = 250
    # The keyframe is the sharpest frame seen this long before end of speech.
    keyframe_lookback_s: float = 1.5
    max_jpeg_bytes: int = 150_000
    max_jpeg_side: int = 1280
