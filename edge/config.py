"""The edge runtime's settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from edge.audio.activation import ACTIVATION, BARGE_IN, FOLLOW_UP_S
from edge.audio.endpointing import END_SILENCE_MS, MIN_SPEECH_MS, PRE_ROLL_MS
from protocol import AnswerMode, PrivacyMode
from protocol.messages import AnswerAudioCodec


@dataclass(frozen=True, kw_only=True)
class EdgeConfig:
    gateway_url: str = "http://127.0.0.1:8080"
    user: str = "me"
    device: str = "replay"
    privacy: PrivacyMode = "standard"
    mode: AnswerMode = "auto"
    # Endpointing (edge/audio/endpointing.py): its defaults are these, one set of constants.
    end_silence_ms: int = END_SILENCE_MS
    pre_roll_ms: int = PRE_ROLL_MS
    min_speech_ms: int = MIN_SPEECH_MS
    # Turn-taking (edge/audio/activation.py): "always" | "wake" | "push".
    activation: str = ACTIVATION
    wake_phrase: str = "hey companion"
    wake_threshold: float = 1e-25
    follow_up_s: float = FOLLOW_UP_S
    barge_in: bool = BARGE_IN
    # The keyframe is the sharpest frame seen this long before end of speech.
    keyframe_lookback_s: float = 1.5
    # Send what the camera shows (text and labels) while a question is still being spoken,
    # so the cloud reads the prompt's opening before the question ends (edge/runtime.py).
    early_observation: bool = True
    max_jpeg_bytes: int = 150_000
    # "when_used": the keyframe JPEG leaves only when the cloud's model for the mode looks
    # at images (the observation always goes); "always": for a deployment that keeps every
    # frame, and for scenarios that check what a frame that left shows.
    keyframes: Literal["when_used", "always"] = "when_used"
    max_jpeg_side: int = 1280
    # Optional YOLO-style ONNX object detector (edge/vision/detector.py); "" = none.
    object_detector: str = ""
    # Live mode (edge/selection.py): scene notes upstream when the view changes,
    # at most this many bytes of them per minute.
    live_notes: bool = False
    live_bytes_per_minute: int = 4_000
    # Speech upstream (edge/audio/speech_encoding.py): "opus" at this bitrate, or raw "pcm".
    speech_codec: str = "opus"
    # How spoken answers should come back (the Hello's answer_codec): "opus" for glasses
    # that play them over BLE, where raw PCM does not fit the radio.
    answer_codec: AnswerAudioCodec = "pcm"
    speech_bitrate: int = 32_000
