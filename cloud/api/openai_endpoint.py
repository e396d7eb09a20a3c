"""The cloud's own model behind an OpenAI-compatible `/v1/chat/completions`.

Existing tools (the official `openai` client, editors, chat front ends) speak
this API, so serving it lets them use the bundled model without any
Companion-specific code. It is the same Reasoner the sessions use: generation
takes the process's model lock, so a request from here waits for a wearer's
turn instead of fighting it for the CPU.

Off unless `CloudConfig.openai_port` is set; it listens on the cloud's host
(loopback by default) and, when `openai_serve_key` is set, wants that key as a
bearer token. With a token check (`companion serve` wires the gateway's
accounts), a user's device or session token is accepted too and names the
user: the request is then answered with that user's memories (cloud/api/memory_chat.py).
A missing, forged, expired or revoked token gets a bare 401: why it was
refused goes to the log, never to the client. Errors come back in OpenAI's
shape so clients raise their usual exceptions (BadRequestError,
AuthenticationError, …).

Image content parts (`image_url`, e.g. a keyframe as a data URL) are accepted
so clients that always attach one work, but the bundled model reads text only:
it answers from the text parts and ignores the image.

With a Transcriber it also serves `/v1/audio/transcriptions` (cloud/api/transcription_route.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from cloud.errors import CloudError
from cloud.model_work import ModelWorkers
from cloud.reasoning.reasoner import ChatMessage, Reasoner, Role
from cloud.speech.asr import Transcriber
from protocol.limits import MAX_PROMPT_CHARS, MAX_PROMPT_MESSAGES

log = logging.getLogger(__name__)

MODEL_NAME = "companion-qwen2.5-coder-0.5b-instruct"
# A request body larger than this is refused (413): a chat prompt for a 0.5B model fits many times over.
MAX_BODY_BYTES = 256 * 1024
# A prompt past protocol.limits' MAX_PROMPT_MESSAGES / MAX_PROMPT_CHARS is refused (400)
# before any model sees it.
# Tokens written when the request names no limit, and the most it may ask for.
DEFAULT_MAX_TOKENS = 256
MAX_TOKENS_CAP = 512
# "developer" is what newer OpenAI clients call the system prompt.
_ROLES: dict[str, Role] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# The user a token speaks for, or None when it is refused (forged, expired, revoked, unknown).
TokenCheck = Callable[[str], str | None]
# Rewrites an authenticated user's chat before the model sees it (adds their memories).
Personaliser = Callable[[str, Sequence[ChatMessage]], Awaitable[list[ChatMessage]]]
_USER_KEY = web.RequestKey("companion_user", str)


class RequestError(CloudError):
    """A request the endpoint will not run, reported in OpenAI's error shape."""

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        status: int = 400,
        kind: str = "invalid_request_error",
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.status = status
        self.kind = kind
        self.code = code

    def response(self) -> web.Response:
        return web.json_response(
            _error_body(self.message, self.kind, self.param, self.code), status=self.status
        )


class OpenAiEndpoint:
    """Chat completions, streamed (SSE) or whole, from any Reasoner."""

    def __init__(
        self,
        reasoner: Reasoner,
        *,
        lock: asyncio.Lock | None = None,
        api_key: str | None = None,
        model_name: str = MODEL_NAME,
        timeout_s: float = 60.0,
        max_tokens_cap: int = MAX_TOKENS_CAP,
        max_body_bytes: int = MAX_BODY_BYTES,
        check_token: TokenCheck | None = None,
        personalise: Personaliser | None = None,
        transcriber: Transcriber | None = None,
        workers: ModelWorkers | None = None,
    ) -> None:
        self._reasoner = reasoner
        self._workers = workers
        self._check_token = check_token
        self._personalise = personalise
        self._transcriber = transcriber
        # Without a shared lock, one of our own still keeps requests from overlapping.
        self._lock = lock or asyncio.Lock()
        self._api_key = api_key or None
        self.model_name = model_name
        self._timeout_s = timeout_s
        self._max_tokens_cap = max_tokens_cap
        self._max_body_bytes = max_body_bytes

    def app(self) -> web.Application:
        app = web.Application(
            client_max_size=self._max_body_bytes, middlewares=[self._errors, self._auth]
        )
        app.router.add_post("/v1/chat/completions", self._completions)
        app.router.add_get("/v1/models", self._models)
        if self._transcriber is not None:
            from cloud.api.transcription_route import TranscriptionRoute

            route = TranscriptionRoute(
                self._transcriber, self._lock, timeout_s=self._timeout_s, workers=self._workers
            )
            app.router.add_post("/v1/audio/transcriptions", route.handle)
        return app

    @asynccontextmanager
    async def running(self, host: str, port: int) -> AsyncIterator[int]:
        """Serve until the context exits; yields the bound port (port 0 picks a free one)."""
        if (
            self._api_key is None
            and self._check_token is None
            and host not in ("127.0.0.1", "localhost", "::1")
        ):
            log.warning(
                "the OpenAI-compatible endpoint on %s has no API key: anyone can use it", host
            )
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            yield int(runner.addresses[0][1])
        finally:
            await runner.cleanup()

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """aiohttp's own refusals (404, 405, 413) in OpenAI's error shape too."""
        try:
            return await handler(request)
        except RequestError as exc:
            return exc.response()
        except web.HTTPRequestEntityTooLarge:
            return _too_large(self._max_body_bytes).response()
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return RequestError(exc.reason, status=exc.status).response()

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self._api_key is None and self._check_token is None:
            return await handler(request)
        given = request.headers.get("Authorization", "")
        token = given[7:].strip() if given.startswith("Bearer ") else ""
        if self._api_key is not None and hmac.compare_digest(
            token.encode(), self._api_key.encode()
        ):
            return await handler(request)
        user = self._check_token(token) if self._check_token is not None and token else None
        if user is None:
            # The same answer whatever was wrong: a prober learns nothing from it.
            raise RequestError("invalid or missing token", status=401, code="invalid_api_key")
        request[_USER_KEY] = user
        return await handler(request)

    async def _models(self, request: web.Request) -> web.Response:
        model = {"id": self.model_name, "object": "model", "created": 0, "owned_by": "companion"}
        return web.json_response({"object": "list", "data": [model]})

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        if (request.content_length or 0) > self._max_body_bytes:
            raise _too_large(self._max_body_bytes)
        try:
            body = json.loads(await request.read())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RequestError(f"the body is not valid JSON: {exc}") from exc
        except RecursionError:
            raise RequestError("the body's JSON is nested too deeply") from None
        if not isinstance(body, dict):
            raise RequestError("the body must be a JSON object")
        messages = parse_messages(body.get("messages"))
        max_tokens = self._max_tokens(body)
        _check_unsupported(body)
        user = request.get(_USER_KEY)
        if user is not None and self._personalise is not None:
            messages = await self._personalise(user, messages)
        stream = body.get("stream", False)
        if not isinstance(stream, bool):
            raise RequestError("stream must be true or false", param="stream")
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        if stream:
            return await self._stream(request, completion_id, messages, max_tokens)
        try:
            text = "".join([piece async for piece in self._generate(messages, max_tokens)])
        except Exception as exc:
            log.warning("chat completion %s failed: %s", completion_id, exc)
            raise RequestError(
                "the model failed to answer; try again", status=500, kind="server_error"
            ) from exc
        return web.json_response(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": self.model_name,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
            }
        )

    async def _stream(
        self,
        request: web.Request,
        completion_id: str,
        messages: Sequence[ChatMessage],
        max_tokens: int,
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        created = int(time.time())

        def chunk(delta: dict[str, str], finish: str | None = None) -> bytes:
            event = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": self.model_name,
                "choices": [
                    {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
                ],
            }
            return f"data: {json.dumps(event)}\n\n".encode()

        try:
            await response.write(chunk({"role": "assistant", "content": ""}))
            async with contextlib.aclosing(self._generate(messages, max_tokens)) as pieces:
                async for piece in pieces:
                    await response.write(chunk({"content": piece}))
            await response.write(chunk({}, "stop"))
        except ConnectionResetError:
            # The client went away; leaving the generator above already stopped the model.
            log.info("chat completion %s: the client left mid-stream", completion_id)
            return response
        except Exception as exc:
            log.warning("chat completion %s failed mid-stream: %s", completion_id, exc)
            error = _error_body("the model failed to answer; try again", "server_error", None, None)
            with contextlib.suppress(ConnectionResetError):
                await response.write(f"data: {json.dumps(error)}\n\n".encode())
        with contextlib.suppress(ConnectionResetError):
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        return response

    async def _generate(
        self, messages: Sequence[ChatMessage], max_tokens: int
    ) -> AsyncGenerator[str, None]:
        """The model's pieces, one request at a time, cut off after the timeout."""
        async with self._lock, asyncio.timeout(self._timeout_s):
            pieces = self._reasoner.stream(messages, max_new_tokens=max_tokens)
            try:
                async for piece in pieces:
                    yield piece
            finally:
                # Closing the reasoner's generator is what stops the model early.
                close = getattr(pieces, "aclose", None)
                if close is not None:
                    await close()

    def _max_tokens(self, body: dict[str, Any]) -> int:
        """max_completion_tokens (the current name) or max_tokens (the older one), capped."""
        for name in ("max_completion_tokens", "max_tokens"):
            value = body.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise RequestError(f"{name} must be a positive integer", param=name)
            return min(value, self._max_tokens_cap)
        return min(DEFAULT_MAX_TOKENS, self._max_tokens_cap)


def parse_messages(raw: object) -> list[ChatMessage]:
    """OpenAI chat messages as the Reasoner's, or a RequestError naming the bad field."""
    if not isinstance(raw, list) or not raw:
        raise RequestError("messages must be a non-empty array", param="messages")
    if len(raw) > MAX_PROMPT_MESSAGES:
        raise RequestError(
            f"{len(raw)} messages, over the {MAX_PROMPT_MESSAGES}-message ceiling; "
            "drop older turns",
            param="messages",
            code="prompt_too_large",
        )
    messages: list[ChatMessage] = []
    for i, item in enumerate(raw):
        where = f"messages[{i}]"
        if not isinstance(item, dict):
            raise RequestError(f"{where} must be an object", param=where)
        role = _ROLES.get(str(item.get("role")))
        if role is None:
            raise RequestError(
                f"{where}.role must be one of system, developer, user, assistant; "
                f"got {item.get('role')!r}",
                param=f"{where}.role",
            )
        messages.append(ChatMessage(role=role, content=_content(item.get("content"), where)))
    chars = sum(len(message.content) for message in messages)
    if chars > MAX_PROMPT_CHARS:
        raise RequestError(
            f"the prompt is {chars} characters, over the {MAX_PROMPT_CHARS}-character ceiling; "
            "shorten it",
            param="messages",
            code="prompt_too_large",
        )
    return messages


def _content(content: object, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts: list[str] = []
        for j, part in enumerate(content):
            place = f"{where}.content[{j}]"
            kind = part.get("type") if isinstance(part, dict) else type(part).__name__
            if isinstance(part, dict) and kind == "image_url":
                _check_image_part(part, place)
                continue  # the bundled model reads text only; the image is not an error
            if not isinstance(part, dict) or kind != "text":
                raise RequestError(
                    f"{place}: only text and image_url parts are supported, got {kind!r}",
                    param=place,
                )
            text = part.get("text")
            if not isinstance(text, str):
                raise RequestError(f"{place}.text must be a string", param=f"{place}.text")
            texts.append(text)
        return "\n".join(texts)
    raise RequestError(
        f"{where}.content must be a string or an array of text parts", param=f"{where}.content"
    )


def _check_image_part(part: dict[str, Any], place: str) -> None:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else None
    if not isinstance(url, str) or not url:
        raise RequestError(f"{place}.image_url.url must be a string", param=f"{place}.image_url")


def _check_unsupported(body: dict[str, Any]) -> None:
    """Refuse what would silently be ignored and change the meaning of the answer."""
    n = body.get("n", 1)
    if n != 1:
        raise RequestError("only n=1 is supported", param="n")
    if body.get("tools"):
        raise RequestError("tools are not supported by this model", param="tools")


def _too_large(limit: int) -> RequestError:
    return RequestError(
        f"the request is larger than {limit} bytes", status=413, code="request_too_large"
    )


def _error_body(message: str, kind: str, param: str | None, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}
