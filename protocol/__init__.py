"""The typed messages every Companion part exchanges, and their msgpack codec.

The data channel, the internal websocket and recordings all carry these exact
messages, so a replay is the real traffic.
"""

from protocol.codec import decode, encode
from protocol.errors import ProtocolError
from protocol.limits import (
    MAX_JPEG_BYTES,
    MAX_MESSAGE_BYTES,
    MAX_SEGMENT_PART_BYTES,
    MAX_SEGMENT_SECONDS,
    MAX_TEXT_CHARS,
    PROTOCOL_VERSION,
    SAMPLE_RATE,
)
from protocol.messages import (
    ANSWER_MODES,
    MESSAGE_TYPES,
    PRIVACY_MODES,
    Ack,
    AnswerAudio,
    AnswerDelta,
    AnswerDone,
    AnswerMode,
    Control,
    DeviceStatus,
    EarlyObservation,
    Error,
    Hello,
    Interrupt,
    Keyframe,
    Label,
    Message,
    Notification,
    Observation,
    OcrLine,
    PrivacyMode,
    Query,
    SpeechSegment,
    Stage,
    Transcript,
)
from protocol.sequencing import Sequencer

__all__ = [
    "ANSWER_MODES",
    "MAX_JPEG_BYTES",
    "MAX_MESSAGE_BYTES",
    "MAX_SEGMENT_PART_BYTES",
    "MAX_SEGMENT_SECONDS",
    "MAX_TEXT_CHARS",
    "MESSAGE_TYPES",
    "PRIVACY_MODES",
    "PROTOCOL_VERSION",
    "SAMPLE_RATE",
    "Ack",
    "AnswerAudio",
    "AnswerDelta",
    "AnswerDone",
    "AnswerMode",
    "Control",
    "DeviceStatus",
    "EarlyObservation",
    "Error",
    "Hello",
    "Interrupt",
    "Keyframe",
    "Label",
    "Message",
    "Notification",
    "Observation",
    "OcrLine",
    "PrivacyMode",
    "ProtocolError",
    "Query",
    "Sequencer",
    "SpeechSegment",
    "Stage",
    "Transcript",
    "decode",
    "encode",
]
