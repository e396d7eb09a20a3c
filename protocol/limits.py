"""Every ceiling on what a peer may send, in one place.

The codec checks the per-message ones on every decode (sizes, sample rates,
frame sizes, part numbers); the cloud checks the per-turn and per-session ones
as it assembles turns (seconds per utterance, parts, open and queued turns,
questions per minute); the edge checks frames entering it. Each refusal is an
`Error` to the sender and the session goes on.

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
# Speech outside telephone-to-studio rates is a mistake or an attack: a rate of 1 Hz
# once asked the resampler for ~12 GiB.
MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 48_000
# 30 s of 48 kHz PCM is 15 full parts; Opus needs far fewer.
MAX_SEGMENT_PARTS = 32
# All parts of one utterance together: 30 s of 48 kHz s16le.
MAX_SEGMENT_BYTES = int(MAX_SEGMENT_SECONDS * MAX_SAMPLE_RATE * 2)
# Spoken answer parts waiting for a pair of glasses' radio: a few whole answers.
MAX_QUEUED_ANSWER_PARTS = 4 * MAX_SEGMENT_PARTS
# Final caption lines an edge waits to see captioned at the end of a session.
MAX_CAPTION_LINES_DUE = 64
# Turns heard but not yet answered, per session (a turn waits for its question to end).
MAX_OPEN_TURNS = 8
# Complete turns waiting for the model, per session.
MAX_QUEUED_TURNS = 4
# Questions (spoken or typed) a session may ask in any sliding minute.
MAX_QUESTIONS_PER_MINUTE = 20
# … and across all sessions of one user (glasses and phone app together).
MAX_USER_QUESTIONS_PER_MINUTE = 30
# Early observations (a prompt opening read while the wearer speaks) a session may have
# read: one a turn, and one a second at most (each costs the shared reasoner a prefill).
MIN_EARLY_OBSERVATION_INTERVAL_S = 1.0
# Live sessions one user may hold at the gateway (glasses, phone app, a script or two).
MAX_SESSIONS_PER_USER = 4
# A frame's sides and area: 4K video fits; a 16k×16k frame (1 GiB decoded) does not.
MAX_FRAME_SIDE = 8_192
MAX_FRAME_PIXELS = 4_096 * 4_096
MAX_TEXT_CHARS = 8_000
MAX_ID_CHARS = 128
MAX_ITEMS = 256
# The HTTP edges of the service, bounded here too so every ceiling is in one place:
# a prompt on the OpenAI-compatible endpoint (the bundled model's context holds about
# this much; a larger one would only tie the model up for minutes) …
MAX_PROMPT_MESSAGES = 64
MAX_PROMPT_CHARS = 32_000
# … the longest transcription upload decoded (16 kHz int16 for this long is under 10 MB) …
MAX_UPLOAD_AUDIO_SECONDS = 300.0
# … and pairing attempts per client address per minute, with a burst: a person types a
# code a few times at most, while guessing codes needs thousands of tries.
MAX_PAIRING_ATTEMPTS_PER_MINUTE = 6
MAX_PAIRING_BURST = 5
# Spoken answer audio the gateway holds for the phone app's audio track (48 kHz int16:
# 11.5 MB): an answer is a few sentences; more means nobody is listening in real time.
MAX_ANSWER_PLAYOUT_S = 120.0
# The Redis bus between gateways and cloud workers (deploy/bus): a turn a worker took but
# has not acknowledged for this long (the worker died, or stopped renewing its lease) is
# claimed by another worker with XAUTOCLAIM; the answering worker renews its lease at a
# third of it, so a slow answer is never taken away from a live worker.
BUS_CLAIM_IDLE_MS = 3_000
# Turns one worker answers at once (the model lock still serialises the models' own work).
BUS_WORKER_TURNS = 8
# Streams are trimmed to about this many entries (XADD MAXLEN ~): acknowledged turns and
# delivered replies need not outlive a few minutes of traffic.
BUS_TURN_STREAM_MAXLEN = 10_000
BUS_REPLY_STREAM_MAXLEN = 10_000
# A turn older than this when a worker reads it is refused (its wearer stopped waiting).
BUS_TURN_MAX_AGE_S = 300.0
# How long "this turn was answered" is remembered, so a turn claimed again is not re-answered.
BUS_DONE_TTL_S = 86_400
# Settings Controls a session's snapshot keeps (one per action; the rest are refused).
MAX_SESSION_CONTROLS = 16
# A published turn with no "done" from any worker after this long (Redis lost it, or no
# worker is running) ends with an Error to the wearer, and the session's next question goes.
BUS_TURN_DEADLINE_S = 180.0
# A turn taken this many times without being answered (it crashes whoever takes it) is
# dead-lettered rather than passed on for ever; its session's deadline tells the wearer.
BUS_MAX_DELIVERIES = 4
