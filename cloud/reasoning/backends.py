"""Which models answer, chosen by configuration: bundled ones or OpenAI-compatible servers."""

from __future__ import annotations

from collections.abc import Callable

from cloud.config import REASONERS, CloudConfig
from cloud.errors import ModelError
from cloud.reasoning.reasoner import Reasoner
from cloud.speech.asr import Transcriber

# Not among the settings' REASONERS: only `companion cloud --instant` (a load test) picks it.
INSTANT = "instant"


def make_reasoner(
    config: CloudConfig, progress: Callable[[str], None] = lambda _: None
) -> Reasoner:
    if config.reasoner == "openai":
        from cloud.reasoning.openai_reasoner import OpenAiReasoner

        progress(f"using the reasoner {config.openai_model} at {config.openai_base_url}")
        return OpenAiReasoner(
            base_url=config.openai_base_url,
            model=config.openai_model,
            api_key=config.openai_api_key,
            timeout_s=config.answer_timeout_s,
            images=config.openai_images_fast,
        )
    if config.reasoner == INSTANT:  # `companion cloud --instant`: load tests only
        from cloud.reasoning.instant import InstantReasoner

        progress("using the instant reasoner: load tests only, it says nothing useful")
        return InstantReasoner()
    if config.reasoner == "bundled":
        from cloud.reasoning.reasoner import QwenReasoner

        progress("loading the reasoner (Qwen2.5-Coder-0.5B-Instruct)…")
        return QwenReasoner(progress=progress, dtype=config.reasoner_dtype)
    raise ModelError(f"unknown reasoner {config.reasoner!r}; choose one of {', '.join(REASONERS)}")


def make_transcriber(
    config: CloudConfig, progress: Callable[[str], None] = lambda _: None
) -> Transcriber:
    """A transcription server when one is configured, else Whisper here (bundled or by path);
    with the instant reasoner (load tests), speech is "heard" instantly too."""
    if config.reasoner == INSTANT:
        from cloud.reasoning.instant import InstantTranscriber

        return InstantTranscriber()
    if config.asr_base_url:
        from cloud.speech.openai_transcriber import OpenAiTranscriber

        progress(f"using speech recognition {config.asr_api_model} at {config.asr_base_url}")
        return OpenAiTranscriber(
            base_url=config.asr_base_url,
            model=config.asr_api_model,
            api_key=config.asr_api_key,
            language=config.language,
            timeout_s=config.answer_timeout_s,
        )
    from cloud.speech.asr import WhisperTranscriber

    if config.asr_model is not None:
        progress(f"loading speech recognition from {config.asr_model}…")
    else:
        progress("loading speech recognition (Whisper base, int8)…")
    return WhisperTranscriber(language=config.language, model_dir=config.asr_model)


def make_reasoning_reasoner(config: CloudConfig) -> Reasoner | None:
    """A second, larger served model for reasoning mode, when the configuration names one
    (or the same model, when only reasoning mode is to be shown images)."""
    if config.reasoner != "openai":
        return None
    if (
        not config.openai_reasoning_model
        and config.openai_images_reasoning == config.openai_images_fast
    ):
        return None
    from cloud.reasoning.openai_reasoner import OpenAiReasoner

    return OpenAiReasoner(
        base_url=config.openai_base_url,
        model=config.openai_reasoning_model or config.openai_model,
        api_key=config.openai_api_key,
        timeout_s=config.answer_timeout_s,
        images=config.openai_images_reasoning,
    )
