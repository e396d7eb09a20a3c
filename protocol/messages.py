"""One frozen dataclass per message kind.

Every message carries the session it belongs to, the sender's sequence number
and `sent_at`, the sender's `time.monotonic()` when it was sent. Everything
about one question (its speech, keyframe, observation, transcript and answer)
shares a `turn_id` chosen by the edge.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import ClassVar, Literal

# What may leave the device (protocol/privacy.py decides what each allows) and how
# hard the cloud thinks; the codec refuses any other value.
PrivacyMode = Literal["standard", "no-camera", "local-only"]
AnswerMode = Literal["auto", "fast", "reasoning"]
PRIVACY_MODES: tuple[PrivacyMode, ...] = typing.get_args(PrivacyMode)
ANSWER_MODES: tuple[AnswerMode, ...] = typing.get_args(AnswerMode)
# How a spoken answer's audio is carried; the codec refuses any other value.
AnswerAudioCodec = Literal["pcm", "opus"]
ANSWER_AUDIO_CODECS: tuple[AnswerAudioCodec, ...] = typing.get_args(AnswerAudioCodec)


@dataclass(frozen=True, kw_only=True, slots=True)
class Envelope:
    """Fields common to every message."""

    kind: ClassVar[str] = ""
    session_id: str
    seq: int
    sent_at: float


@dataclass(frozen=True, kw_only=True, slots=True)
class Hello(Envelope):
    """First message of a session: who is speaking and how they want answers."""

    kind: ClassVar[str] = "hello"
    user: str
    device: str
    privacy: PrivacyMode = "standard"
    mode: AnswerMode = "auto"
    # How this device wants spoken answers carried (AnswerAudio.codec): glasses that
    # play audio over BLE ask for "opus".
    answer_codec: AnswerAudioCodec = "pcm"


@dataclass(frozen=True, kw_only=True, slots=True)
class SpeechSegment(Envelope):
    """One utterance (or one part of a long one) of 16 kHz mono speech.

    `pcm` holds the audio in `codec`: "pcm" is raw s16le; "opus" is a run of
    length-prefixed Opus packets (protocol.audio_packets), parts cut between
    packets so their concatenation is one valid run.

    `speech_end` is when the last voiced audio was heard and `detected_at` when
    the endpointer declared end of speech, both on the edge's monotonic clock.
    `visual` says an Observation for this turn follows, so the cloud waits for
    it before prompting.
    """

    kind: ClassVar[str] = "speech_segment"
    turn_id: int
    pcm: bytes
    sample_rate: int = 16_000
    codec: str = "pcm"
    part: int = 0
    last: bool = True
    speech_start: float = 0.0
    speech_end: float = 0.0
    detected_at: float = 0.0
    visual: bool = False
    mode: AnswerMode = "auto"


@dataclass(frozen=True, kw_only=True, slots=True)
class Keyframe(Envelope):
    """The frame chosen for a turn, JPEG-encoded, as it left the device."""

    kind: ClassVar[str] = "keyframe"
    turn_id: int
    jpeg: bytes
    width: int
    height: int
    captured_at: float
    sharpness: float = 0.0


@dataclass(frozen=True, kw_only=True, slots=True)
class Label:
    """One image-classifier label with its probability."""

    name: str
    score: float


@dataclass(frozen=True, kw_only=True, slots=True)
class OcrLine:
    """One line of text read in the keyframe, with the recogniser's confidence."""

    text: str
    score: float


@dataclass(frozen=True, kw_only=True, slots=True)
class ProductLabel:
    """A product's label as read from the keyframe's text; "" where a field was not read.

    `allergens` holds the label's own allergen lines ("Contains: milk, soya",
    "May contain nuts") as printed, so the cloud can quote them.
    """

    name: str = ""
    brand: str = ""
    size: str = ""
    price: str = ""
    ingredients: str = ""
    allergens: tuple[str, ...] = ()
    # The barcode printed nearest this label, when a frame shows several products.
    barcode: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class Observation(Envelope):
    """What the edge's vision models saw in the turn's keyframe."""

    kind: ClassVar[str] = "observation"
    turn_id: int
    captured_at: float
    ocr: tuple[OcrLine, ...] = ()
    labels: tuple[Label, ...] = ()
    analysed_ms: float = 0.0
    # One "stage: what went wrong" per vision stage that failed on this frame.
    errors: tuple[str, ...] = ()
    # Decoded barcodes: EAN-13/UPC-A digits, or a QR code's text.
    barcodes: tuple[str, ...] = ()
    # The product labels parsed from `ocr`, when the text looked like one.
    products: tuple[ProductLabel, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class EarlyObservation(Envelope):
    """What the camera showed as the wearer began a question, sent while they still speak.

    Only the text and labels the prompt opens with: the cloud may start reading
    that opening (prefill) so that at end of speech only the question is left.
    The turn's own Observation still follows and is what the answer uses;
    `turn_id` is the turn the question will have, if it is asked at all.
    """

    kind: ClassVar[str] = "early_observation"
    turn_id: int
    captured_at: float
    ocr: tuple[OcrLine, ...] = ()
    labels: tuple[Label, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class Query(Envelope):
    """A typed question (instead of speech)."""

    kind: ClassVar[str] = "query"
    turn_id: int
    text: str
    mode: AnswerMode = "auto"
    visual: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Transcript(Envelope):
    """What the cloud heard in a turn's speech; empty text means no speech."""

    kind: ClassVar[str] = "transcript"
    turn_id: int
    text: str
    final: bool = True


@dataclass(frozen=True, kw_only=True, slots=True)
class AnswerDelta(Envelope):
    """A piece of the streamed answer, in order."""

    kind: ClassVar[str] = "answer_delta"
    turn_id: int
    text: str


@dataclass(frozen=True, kw_only=True, slots=True)
class AnswerAudio(Envelope):
    """A piece of the spoken answer to `turn_id`, in order of `part`.

    The cloud speaks each sentence as soon as the reasoner has written it, so
    the first words play while the rest is still being written. `pcm` is mono
    s16le at `sample_rate` (the voice's own rate, e.g. 22,050 Hz for Piper);
    `last` marks the end of the spoken answer (its `pcm` may be empty). All
    parts arrive before the turn's AnswerDone; an Interrupt stops them.
    With `codec` "opus" (glasses that asked for it in their Hello), `pcm` is a
    run of length-prefixed 20 ms Opus packets (protocol.audio_packets) at
    `sample_rate`, an Opus rate (16 or 24 kHz).
    """

    kind: ClassVar[str] = "answer_audio"
    turn_id: int
    part: int
    pcm: bytes
    sample_rate: int
    codec: AnswerAudioCodec = "pcm"
    last: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Stage:
    """A named moment in a turn's life, on the monotonic clock of the host."""

    name: str
    at: float


@dataclass(frozen=True, kw_only=True, slots=True)
class AnswerDone(Envelope):
    """The end of an answer: its full text and when each stage happened.

    Stages are absolute monotonic timestamps (end_of_speech, segment_sent,
    segment_received, transcript, first_token, last_token ...), so any hop can
    append its own and the latency breakdown is derived, not stored twice.
    """

    kind: ClassVar[str] = "answer_done"
    turn_id: int
    text: str
    mode: str = "fast"
    stages: tuple[Stage, ...] = ()
    inference_ms: float = 0.0
    # The wearer spoke over this answer (an Interrupt): `text` is what was said before it stopped.
    interrupted: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Interrupt(Envelope):
    """Barge-in: the wearer started speaking while the answer to `turn_id` was delivered.

    The cloud stops that answer's generation at once and ends the turn with an
    `AnswerDone` marked `interrupted`; the new speech is a turn of its own.
    """

    kind: ClassVar[str] = "interrupt"
    turn_id: int


@dataclass(frozen=True, kw_only=True, slots=True)
class Control(Envelope):
    """A run-time setting change (privacy mode, answer mode) or a lifecycle event."""

    kind: ClassVar[str] = "control"
    action: str
    value: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class Ack(Envelope):
    """Receipt of the peer's message `ack_seq`."""

    kind: ClassVar[str] = "ack"
    ack_seq: int


@dataclass(frozen=True, kw_only=True, slots=True)
class Error(Envelope):
    """Something the peer sent (or asked for) failed; the session goes on.

    `ref_seq` is the offending message's seq when it could be read, else -1.
    """

    kind: ClassVar[str] = "error"
    code: str
    message: str
    ref_seq: int = -1
    turn_id: int = -1


@dataclass(frozen=True, kw_only=True, slots=True)
class Notification(Envelope):
    """Something the cloud tells the wearer unasked: a reminder or a timer that came due.

    `ref` is the reminder's id and `due` its ISO 8601 UTC due time, so a client
    that hears it twice (a reconnect during delivery) can show it once.
    """

    kind: ClassVar[str] = "notification"
    text: str
    category: str = "reminder"
    ref: str = ""
    due: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class DeviceStatus(Envelope):
    """The wearer's glasses as the edge sees them, so the phone app can show them.

    Sent upstream whenever something about the device changes. `event` says
    what just happened: "connected", "disconnected", "reconnecting",
    "battery", "taken_off", "put_on" or "button:<tap>" (single_tap,
    double_tap, long_tap …). `battery_percent` is -1 while unknown; `worn` is
    the edge's inference (the protocol has no wear sensor).
    """

    kind: ClassVar[str] = "device_status"
    device: str
    connection: str
    event: str = ""
    battery_percent: int = -1
    worn: bool = True
    lost_audio_packets: int = 0
    photos: int = 0
    problem: str = ""
    # Conversation notes are being taken (the wearer turned them on): glasses with an
    # LED light it, so the people nearby can see they are being noted.
    notes: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Caption(Envelope):
    """One line of live captions: what someone near the wearer is saying.

    A line is revised while its speech goes on (`final` False, each revision
    replacing the last with the same `line_id`) and ends with one final text.
    `language` is the language heard (ISO 639-1, "" when unknown);
    `translated` says `text` is its English translation. `speech_start` and
    `speech_end` bound the line's speech on the edge's monotonic clock.
    """

    kind: ClassVar[str] = "caption"
    line_id: int
    text: str
    final: bool = False
    language: str = ""
    translated: bool = False
    speech_start: float = 0.0
    speech_end: float = 0.0
    # The final text put into another language ("translate to …"), and that language.
    translation: str = ""
    translation_language: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class CaptionAudio(Envelope):
    """The audio of one caption line, for the cloud to caption (edge → cloud).

    Sent only while live captions or conversation notes are on: each revision
    carries the whole line so far (`final` False), then the line's final audio
    once its speech ended. `pcm` is in `codec` ("pcm" s16le, or "opus" as in
    `SpeechSegment`); a line is at most a few seconds, so it fits one message.
    `speech_start`/`speech_end` bound the line's speech on the edge's clock.
    """

    kind: ClassVar[str] = "caption_audio"
    line_id: int
    pcm: bytes
    sample_rate: int = 16_000
    codec: str = "pcm"
    final: bool = False
    speech_start: float = 0.0
    speech_end: float = 0.0


Message = (
    Hello
    | SpeechSegment
    | Keyframe
    | Observation
    | EarlyObservation
    | Query
    | Transcript
    | AnswerDelta
    | AnswerDone
    | AnswerAudio
    | Control
    | Interrupt
    | Ack
    | Error
    | Notification
    | DeviceStatus
    | Caption
    | CaptionAudio
)

MESSAGE_TYPES: dict[str, type[Message]] = {
    cls.kind: cls
    for cls in (
        Hello,
        SpeechSegment,
        Keyframe,
        Observation,
        EarlyObservation,
        Query,
        Transcript,
        AnswerDelta,
        AnswerDone,
        AnswerAudio,
        Control,
        Interrupt,
        Ack,
        Error,
        Notification,
        DeviceStatus,
        Caption,
        CaptionAudio,
    )
}
