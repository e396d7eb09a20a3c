"""The edge's models, loaded once per process and shared by its sessions.

The Silero ONNX session is shared while each session gets its own recurrent
state (a fresh `SileroVad` on the shared session); the keyframe analyser is
stateless and loaded only when a session first has a camera.
"""

from __future__ import annotations

from functools import cached_property

import onnxruntime as ort

from edge.config import EdgeConfig
from edge.endpointing import EndpointConfig
from edge.listener import Listener
from edge.vad import SileroVad, open_session
from edge.vision.analysis import KeyframeAnalyser
from edge.vision.classifier import EfficientNetLite0Classifier
from edge.vision.ocr import RapidOcr


class EdgeModels:
    @cached_property
    def vad_session(self) -> ort.InferenceSession:
        return open_session()

    @cached_property
    def analyser(self) -> KeyframeAnalyser:
        return KeyframeAnalyser(RapidOcr(), EfficientNetLite0Classifier())

    def listener(self, config: EdgeConfig) -> Listener:
        """A listener with its own VAD state, for one session."""
        return Listener(
            SileroVad(self.vad_session),
            EndpointConfig(
                end_silence_ms=config.end_silence_ms,
                pre_roll_ms=config.pre_roll_ms,
                min_speech_ms=config.min_speech_ms,
            ),
        )
