"""The edge's models, loaded once per process and shared by its sessions.

The Silero ONNX session is shared while each session gets its own recurrent
state (a fresh `SileroVad` on the shared session); the keyframe analyser is
stateless and loaded only when a session first has a camera.
"""

from __future__ import annotations

import logging
from functools import cached_property

import onnxruntime as ort

from edge.audio.endpointing import EndpointConfig
from edge.audio.listener import Listener
from edge.audio.smart_turn import SmartTurn, TurnEndPolicy
from edge.audio.vad import SileroVad, open_session
from edge.config import EdgeConfig
from edge.vision.analysis import KeyframeAnalyser
from edge.vision.barcodes import OpenCvBarcodeReader
from edge.vision.classifier import EfficientNetLite0Classifier
from edge.vision.detector import OnnxObjectDetector
from edge.vision.faces import FaceDetector, load_face_detector
from edge.vision.hands import MediaPipeHandTracker
from edge.vision.ocr import RapidOcr


class EdgeModels:
    def __init__(self, *, object_detector: str = "") -> None:
        """`object_detector`: path of an optional YOLO-style ONNX model (EdgeConfig.object_detector)."""
        self._object_detector = object_detector

    @cached_property
    def vad_session(self) -> ort.InferenceSession:
        return open_session()

    @cached_property
    def smart_turn(self) -> SmartTurn:
        """Semantic end of turn, shared by every session's endpointer (it keeps no state)."""
        return SmartTurn()

    @cached_property
    def face_detector(self) -> FaceDetector:
        return load_face_detector()

    @cached_property
    def analyser(self) -> KeyframeAnalyser:
        return KeyframeAnalyser(
            RapidOcr(),
            EfficientNetLite0Classifier(),
            faces=self.face_detector,
            hands=_hand_tracker(),
            objects=OnnxObjectDetector(self._object_detector) if self._object_detector else None,
            barcodes=OpenCvBarcodeReader(),
        )

    def caption_listener(self, config: EdgeConfig) -> Listener:
        """A listener for live captions and notes (pauses only, no end-of-turn model)."""
        from edge.audio.caption_tap import caption_listener

        return caption_listener(SileroVad(self.vad_session), config)

    def listener(self, config: EdgeConfig) -> Listener:
        """A listener with its own VAD state, for one session."""
        return Listener(
            SileroVad(self.vad_session),
            EndpointConfig(
                end_silence_ms=config.end_silence_ms,
                pre_roll_ms=config.pre_roll_ms,
                min_speech_ms=config.min_speech_ms,
            ),
            TurnEndPolicy(self.smart_turn),
        )


def _hand_tracker() -> MediaPipeHandTracker | None:
    """Pointing is a nicety: without the hand model, questions use the whole frame."""
    try:
        return MediaPipeHandTracker()
    except Exception:
        logging.getLogger(__name__).exception("hand tracking unavailable; pointing is off")
        return None
