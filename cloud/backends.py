"""Which reasoner answers, chosen by configuration: the bundled Qwen or an OpenAI-compatible server."""

from __future__ import annotations

from collections.abc import Callable

from cloud.config import CloudConfig
from cloud.errors import ModelError
from cloud.reasoner import Reasoner

REASONERS = ("bundled", "openai")


def make_reasoner(
    config: CloudConfig, progress: Callable[[str], None] = lambda _: None
) -> Reasoner:
    if config.reasoner == "openai":
        from cloud.openai_reasoner import OpenAiReasoner

        progress(f"using the reasoner {config.openai_model} at {config.openai_base_url}")
        return OpenAiReasoner.from_env(
            base_url=config.openai_base_url,
            model=config.openai_model,
            key_env=config.openai_api_key_env,
            timeout_s=config.answer_timeout_s,
        )
    if config.reasoner == "bundled":
        from cloud.reasoner import QwenReasoner

        progress("loading the reasoner (Qwen2.5-Coder-0.5B-Instruct)…")
        return QwenReasoner(progress=progress)
    raise ModelError(f"unknown reasoner {config.reasoner!r}; choose one of {', '.join(REASONERS)}")


def make_reasoning_reasoner(config: CloudConfig) -> Reasoner | None:
    """A second, larger served model for reasoning mode, when the configuration names one."""
    if config.reasoner != "openai" or not config.openai_reasoning_model:
        return None
    from cloud.openai_reasoner import OpenAiReasoner

    return OpenAiReasoner.from_env(
        base_url=config.openai_base_url,
        model=config.openai_reasoning_model,
        key_env=config.openai_api_key_env,
        timeout_s=config.answer_timeout_s,
    )
