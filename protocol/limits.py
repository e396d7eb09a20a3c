"""Size and duration ceilings, checked on every decode.

WebRTC data channels negotiate a maximum message size (262,144 bytes for both
Chromium and aiortc), so every message must fit in one; a long utterance is
sent as several `SpeechSegment` parts instead of one oversized message.
"""

PROTOCOL_VERSION = 1
SAMPLE_RATE = 16_000
MAX_MESSAGE_BYTES = 240_000
MAX_JPEG_BYTES = 200_000
# 6.25 s of 16 kHz s16le audio per part.
MAX_SEGMENT_PART_BYTES = 200_000
MAX_SEGMENT_SECONDS = 30.0
MAX_TEXT_CHARS = 8_000
MAX_ID_CHARS = 128
MAX_ITEMS = 256
