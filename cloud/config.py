"""The cloud's settings: where it listens, how long answers may be."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


def default_data_dir() -> Path:
    """COMPANION_DATA, else ~/.local/share/companion (XDG_DATA_HOME when set)."""
    chosen = os.environ.get("COMPANION_DATA")
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "companion"


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
    # Memories in the prompt per mode; fewer is better for the bundled 0.5B model.
    memory_k_fast: int = 3
    memory_k_reasoning: int = 8
    # A memory whose embedding is less like the question's than this stays out of the prompt.
    memory_min_cosine: float = 0.2
    # "bundled" (Qwen on this machine) or "openai" (any chat-completions server).
    reasoner: str = "bundled"
    openai_base_url: str = "http://127.0.0.1:8000/v1"
    openai_model: str = ""
    # A larger model for reasoning mode, where one is served; empty: openai_model for both.
    openai_reasoning_model: str = ""
    # The API key is read from this environment variable, never from a file.
    openai_api_key_env: str = "OPENAI_API_KEY"
    # Send the turn's keyframe to the served model as an image, per mode (a vision model).
    openai_images_fast: bool = False
    openai_images_reasoning: bool = False
    # Speech recognition: a faster-whisper model folder (None: the bundled Whisper base), or
    # an OpenAI-compatible /audio/transcriptions server at asr_base_url (empty: local).
    asr_model: Path | None = None
    asr_base_url: str = ""
    asr_api_model: str = "whisper-1"
    asr_api_key_env: str = "OPENAI_API_KEY"
    # How often due reminders are looked for.
    reminder_poll_s: float = 1.0
    # Serve the cloud's own model as OpenAI-compatible /v1/chat/completions on this port
    # (same host as the cloud); None: off. With a key set, requests must bear it.
    openai_port: int | None = None
    openai_serve_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CloudConfig:
        """Defaults overridden by COMPANION_REASONER, COMPANION_OPENAI_BASE_URL,
        COMPANION_OPENAI_MODEL, COMPANION_OPENAI_REASONING_MODEL, COMPANION_OPENAI_SERVE_KEY,
        COMPANION_OPENAI_IMAGES, COMPANION_ASR_MODEL, COMPANION_ASR_BASE_URL and
        COMPANION_ASR_API_MODEL (data: COMPANION_DATA)."""
        env = os.environ if environ is None else environ
        default = cls()
        return dataclasses.replace(
            default,
            reasoner=env.get("COMPANION_REASONER") or default.reasoner,
            openai_base_url=env.get("COMPANION_OPENAI_BASE_URL") or default.openai_base_url,
            openai_model=env.get("COMPANION_OPENAI_MODEL") or default.openai_model,
            openai_reasoning_model=env.get("COMPANION_OPENAI_REASONING_MODEL")
            or default.openai_reasoning_model,
            openai_serve_key=env.get("COMPANION_OPENAI_SERVE_KEY") or default.openai_serve_key,
            # COMPANION_OPENAI_IMAGES: the modes whose served model is shown the keyframe.
            openai_images_fast="fast" in env.get("COMPANION_OPENAI_IMAGES", "").split(","),
            openai_images_reasoning="reasoning"
            in env.get("COMPANION_OPENAI_IMAGES", "").split(","),
            asr_model=Path(env["COMPANION_ASR_MODEL"])
            if env.get("COMPANION_ASR_MODEL")
            else default.asr_model,
            asr_base_url=env.get("COMPANION_ASR_BASE_URL") or default.asr_base_url,
            asr_api_model=env.get("COMPANION_ASR_API_MODEL") or default.asr_api_model,
        )
