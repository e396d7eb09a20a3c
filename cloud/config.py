"""The cloud's settings: where it listens, how long answers may be, which models answer.

Nothing here reads the environment: `companion/settings.py` layers the file,
the environment and the flags over these defaults and builds a CloudConfig.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

REASONERS = ("bundled", "openai")
# "auto": bfloat16 where the CPU computes in it natively, else float32 (see
# cloud/reasoning/reasoner.py:compute_dtype); int8 is opt-in.
REASONER_DTYPES = ("auto", "bfloat16", "float32", "int8")


def default_data_dir() -> Path:
    """~/.local/share/companion: the settings put COMPANION_DATA or XDG_DATA_HOME over it."""
    return Path.home() / ".local" / "share" / "companion"


@dataclass(frozen=True, kw_only=True)
class CloudConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    language: str = "en"
    # How long a turn the edge marked visual waits for its Observation before
    # answering without it. The edge always sends one (with `errors` when a stage
    # failed), so this only bites when the edge is starved of CPU: an answer
    # a few seconds later beats "I can't see any text" about a page in view.
    observation_wait_s: float = 10.0
    fast_max_tokens: int = 48
    reasoning_max_tokens: int = 160
    # A backend slower than this gets the user an apology instead of silence.
    answer_timeout_s: float = 60.0
    # Each user's memories, notes and reminders live in one SQLite file under here.
    data_dir: Path = field(default_factory=default_data_dir)
    # Memories in PostgreSQL (a postgresql:// URL) instead of the SQLite files; empty: SQLite.
    store: str = ""
    # Memories in the prompt per mode; fewer is better for the bundled 0.5B model.
    memory_k_fast: int = 3
    memory_k_reasoning: int = 8
    # A memory whose embedding is less like the question's than this stays out of the prompt.
    memory_min_cosine: float = 0.2
    # "bundled" (Qwen on this machine) or "openai" (any chat-completions server).
    reasoner: str = "bundled"
    # The bundled reasoner's compute type: one of REASONER_DTYPES.
    reasoner_dtype: str = "auto"
    openai_base_url: str = "http://127.0.0.1:8000/v1"
    openai_model: str = ""
    # A larger model for reasoning mode, where one is served; empty: openai_model for both.
    openai_reasoning_model: str = ""
    # The served model's API key (the settings take it from the environment, never a file).
    openai_api_key: str | None = field(default=None, repr=False)
    # Send the turn's keyframe to the served model as an image, per mode (a vision model).
    openai_images_fast: bool = False
    openai_images_reasoning: bool = False
    # Speech recognition: a faster-whisper model folder (None: the bundled Whisper base), or
    # an OpenAI-compatible /audio/transcriptions server at asr_base_url (empty: local).
    asr_model: Path | None = None
    asr_base_url: str = ""
    asr_api_model: str = "whisper-1"
    asr_api_key: str | None = field(default=None, repr=False)
    # Everything a user keeps (memories, notes, delivered reminders, prices seen, the app's
    # History) older than this many days is deleted, every `retention_sweep_s`; 0: kept
    # until the user deletes it.
    retention_days: int = 0
    retention_sweep_s: float = 3600.0
    # How often due reminders are looked for.
    reminder_poll_s: float = 1.0
    # Serve the cloud's own model as OpenAI-compatible /v1/chat/completions on this port
    # (same host as the cloud); None: off. With a key set, requests must bear it.
    openai_port: int | None = None
    openai_serve_key: str | None = field(default=None, repr=False)
