"""Any OpenAI-compatible chat-completions server as the reasoner (vLLM, llama.cpp, Ollama, hosted).

The answer streams as server-sent events (`stream: true`): each `data:` line
holds a chunk whose `choices[0].delta` carries more text, or pieces of tool
calls (name first, JSON arguments in fragments, keyed by `index`) that are
joined and handed over whole when the stream ends. `data: [DONE]` ends it.

With `images` on (configured per mode: a vision model may serve one mode
and not the other), a message's keyframes go along as OpenAI image content
parts, `data:image/jpeg;base64,…` URLs after the text; with it off they are
left out, since a text-only server refuses image parts.

The API key is given (the settings take it from the environment, never a
file); an HTTP error, a broken stream or a malformed chunk is a ModelError, which the conversation
turns into a short apology.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import aiohttp

from cloud.errors import ModelError
from cloud.reasoning.reasoner import ChatMessage

_MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class ToolCall:
    """A tool the model asked for, with its parsed JSON arguments."""

    name: str
    arguments: dict[str, Any]
    id: str = ""


@runtime_checkable
class ToolCallingReasoner(Protocol):
    """A reasoner that can ask for tools while it answers (JSON tool calls)."""

    def stream_events(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_new_tokens: int,
        tools: Sequence[dict[str, Any]] = (),
    ) -> AsyncIterator[str | ToolCall]: ...


@dataclass
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class OpenAiReasoner:
    """Streams answers from `{base_url}/chat/completions`; one HTTP session per reasoner."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        temperature: float = 0.2,
        images: bool = False,
    ) -> None:
        if not model:
            raise ModelError(
                "the openai reasoner needs a model name; set openai_model in the cloud config"
            )
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._api_key = api_key
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, sock_read=timeout_s)
        self._temperature = temperature
        self.images = images
        self._session: aiohttp.ClientSession | None = None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def stream(
        self, messages: Sequence[ChatMessage], *, max_new_tokens: int
    ) -> AsyncIterator[str]:
        async for event in self.stream_events(messages, max_new_tokens=max_new_tokens):
            if isinstance(event, str):
                yield event

    async def stream_events(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_new_tokens: int,
        tools: Sequence[dict[str, Any]] = (),
    ) -> AsyncIterator[str | ToolCall]:
        """Text pieces as they arrive, then any tool calls, each whole."""
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [self._message(m) for m in messages],
            "max_tokens": max_new_tokens,
            "temperature": self._temperature,
            "stream": True,
        }
        if tools:
            body["tools"] = list(tools)
        headers = {"Accept": "text/event-stream"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        url = f"{self.base_url}/chat/completions"
        calls: dict[int, _PartialCall] = {}
        try:
            async with self._client().post(url, json=body, headers=headers) as response:
                if response.status != 200:
                    detail = (await response.text())[:_MAX_ERROR_CHARS]
                    raise ModelError(f"{url} answered HTTP {response.status}: {detail}")
                async for raw in response.content:
                    line = raw.decode("utf-8", errors="replace").strip()
                    if not line.startswith("data:"):
                        continue  # blank separators, comments, event names
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    for piece in _read_chunk(data, calls):
                        yield piece
        except aiohttp.ClientError as exc:
            raise ModelError(f"the reasoner at {url} failed: {exc}") from exc
        for index in sorted(calls):
            yield _finish_call(calls[index])

    def _message(self, message: ChatMessage) -> dict[str, Any]:
        if not (self.images and message.images):
            return {"role": message.role, "content": message.content}
        parts: list[dict[str, Any]] = [{"type": "text", "text": message.content}]
        for jpeg in message.images:
            url = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")
            parts.append({"type": "image_url", "image_url": {"url": url}})
        return {"role": message.role, "content": parts}

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session


def _read_chunk(data: str, calls: dict[int, _PartialCall]) -> list[str]:
    try:
        chunk = json.loads(data)
        if "error" in chunk:
            raise ModelError(
                f"the reasoner reported an error: {str(chunk['error'])[:_MAX_ERROR_CHARS]}"
            )
        choices = chunk.get("choices") or []
        if not choices:
            return []  # usage-only chunks
        delta = choices[0].get("delta") or {}
    except (json.JSONDecodeError, AttributeError, TypeError) as exc:
        raise ModelError(f"malformed chunk from the reasoner: {data[:_MAX_ERROR_CHARS]!r}") from exc
    for call in delta.get("tool_calls") or []:
        partial = calls.setdefault(int(call.get("index", 0)), _PartialCall())
        partial.id = call.get("id") or partial.id
        function = call.get("function") or {}
        partial.name = function.get("name") or partial.name
        if function.get("arguments"):
            partial.arguments.append(str(function["arguments"]))
    content = delta.get("content")
    return [content] if isinstance(content, str) and content else []


def _finish_call(partial: _PartialCall) -> ToolCall:
    text = "".join(partial.arguments) or "{}"
    try:
        arguments = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(
            f"the reasoner's call to {partial.name!r} had arguments that are not JSON: {text[:200]!r}"
        ) from exc
    if not partial.name or not isinstance(arguments, dict):
        raise ModelError(
            f"the reasoner made a malformed tool call: {partial.name!r} {text[:200]!r}"
        )
    return ToolCall(name=partial.name, arguments=arguments, id=partial.id)
