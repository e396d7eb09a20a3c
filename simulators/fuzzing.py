"""Fuzzing Companion's inputs: the msgpack codec, the SDP offers and every HTTP route.

Three generators of hostile input and the loops that feed them, shared by the
hypothesis tests (tests/test_fuzz.py) and `companion bench fuzz`:

- codec: random bytes, and valid messages mutated byte by byte or field by
  field; `protocol.decode` must raise ProtocolError and nothing else;
- SDP: a real offer with lines dropped, repeated, cut or filled with junk,
  posted to both signalling routes of a running gateway: never a 5xx, and
  once the connect deadline has passed, no session left behind;
- HTTP: every route the gateway (and the cloud's OpenAI-compatible port)
  serves, with random methods' bodies, headers, tokens and query strings:
  never a 5xx.

Each loop is seeded, so a crash it reports can be replayed.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import msgpack
from aiortc import RTCPeerConnection

from edge.link.webrtc import CONTEXT_CHANNEL, rtc_configuration
from protocol import (
    Ack,
    AnswerDone,
    Control,
    EarlyObservation,
    Error,
    Hello,
    Keyframe,
    Label,
    Message,
    Observation,
    OcrLine,
    ProtocolError,
    Query,
    Sequencer,
    SpeechSegment,
    decode,
    encode,
)

SIGNALLING_ROUTES = ("/v1/sessions", "/v1/app/sessions")


@dataclass
class FuzzReport:
    """How many cases ran and which broke the rule (first few kept, for replaying)."""

    cases: int = 0
    crashes: int = 0
    examples: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def crash(self, what: str) -> None:
        self.crashes += 1
        if len(self.examples) < 5:
            self.examples.append(what[:300])

    def to_json(self) -> dict[str, Any]:
        return {
            "cases": self.cases,
            "crashes": self.crashes,
            "examples": self.examples,
            "seconds": round(self.seconds, 2),
        }


# ----------------------------------------------------------------- the codec


def valid_messages() -> list[Message]:
    """One message of each kind a peer sends, to mutate."""
    up = Sequencer("fuzz-session")
    return [
        up.make(Hello, user="alice", device="glasses", privacy="standard"),
        up.make(Query, turn_id=1, text="what does this say?"),
        up.make(SpeechSegment, turn_id=2, pcm=b"\x01\x00" * 320, part=0, last=False),
        up.make(
            Keyframe,
            turn_id=2,
            jpeg=b"\xff\xd8\xff" + b"\0" * 40,
            width=64,
            height=48,
            captured_at=1.0,
        ),
        up.make(
            Observation,
            turn_id=2,
            captured_at=1.0,
            ocr=(OcrLine(text="EXIT", score=0.9),),
            labels=(Label(name="door", score=0.5),),
        ),
        up.make(
            EarlyObservation,
            turn_id=3,
            captured_at=1.0,
            ocr=(OcrLine(text="PLATFORM 9", score=0.9),),
        ),
        up.make(Control, action="privacy", value="no-camera"),
        up.make(Ack, ack_seq=3),
        up.make(Error, code="x", message="y"),
        up.make(AnswerDone, turn_id=2, text="hi"),
    ]


_ODD_VALUES: tuple[Any, ...] = (
    None,
    True,
    -1,
    0,
    1,
    2**63 - 1,
    -(2**63),
    2**64 - 1,
    1e308,
    float("nan"),
    float("-inf"),
    "",
    "x" * 10_000,
    "\u202e",
    b"",
    b"\xff" * 300,
    [],
    [1, [2, [3]]],
    {},
    {"a": {"b": {}}},
    {1: 2},
    [None] * 300,
)


def mutate_message(rng: random.Random, data: bytes) -> bytes:
    """One mutation of an encoded message: at the byte level or the field level."""
    choice = rng.randrange(8)
    if choice == 0:  # flip bytes
        out = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            out[rng.randrange(len(out))] = rng.randrange(256)
        return bytes(out)
    if choice == 1:  # cut
        return data[: rng.randrange(len(data))]
    if choice == 2:  # insert junk
        at = rng.randrange(len(data) + 1)
        return data[:at] + rng.randbytes(rng.randint(1, 16)) + data[at:]
    if choice == 3:  # splice two messages
        return data[: rng.randrange(len(data))] + data[rng.randrange(len(data)) :]
    body = msgpack.unpackb(data, raw=False, strict_map_key=False)
    if not isinstance(body, dict) or not body:
        return data[::-1]  # earlier mutations left no map: any other bytes will do
    keys = list(body)
    if choice == 4:  # a field gets an odd value
        body[rng.choice(keys)] = rng.choice(_ODD_VALUES)
    elif choice == 5:  # a field goes
        body.pop(rng.choice(keys))
    elif choice == 6:  # an unknown field, or a known field of another kind
        body[rng.choice(["x", "pcm", "jpeg", "width", "ocr", "stages", "kind", "v"])] = rng.choice(
            _ODD_VALUES
        )
    else:  # the kind or version changes under the fields
        body[rng.choice(["type", "v"])] = rng.choice(
            ["hello", "keyframe", "observation", "nope", 2, 0, None]
        )
    packed: bytes = msgpack.packb(body, use_bin_type=True)
    return packed


def codec_case(rng: random.Random, corpus: list[bytes]) -> bytes:
    """Random bytes (a quarter of the time) or a mutated valid message."""
    if rng.randrange(4) == 0:
        return rng.randbytes(rng.randint(0, 64))
    data = rng.choice(corpus)
    for _ in range(rng.randint(1, 3)):
        if not data:
            break
        try:
            data = mutate_message(rng, data)
        except Exception:  # the mutator's own trouble (bytes no longer msgpack): cut one
            data = data[1:]
    return data


def check_decode(data: bytes) -> str | None:
    """None when `decode` accepts the bytes or refuses them with ProtocolError; else why not."""
    try:
        decode(data)
    except ProtocolError:
        return None
    except Exception as exc:  # what the fuzzer looks for: any other failure is a crash
        return f"{type(exc).__name__}: {exc} on {data[:80]!r}"
    return None


def fuzz_codec(cases: int, *, seed: int = 0) -> FuzzReport:
    """`cases` decodes of hostile bytes; a crash is anything but ProtocolError."""
    rng = random.Random(seed)
    corpus = [encode(message) for message in valid_messages()]
    report = FuzzReport()
    started = time.perf_counter()
    for _ in range(cases):
        problem = check_decode(codec_case(rng, corpus))
        report.cases += 1
        if problem is not None:
            report.crash(problem)
    report.seconds = time.perf_counter() - started
    return report


# ----------------------------------------------------------------- SDP


async def good_offer() -> str:
    """A valid offer with a data channel (its peer closed at once)."""
    pc = RTCPeerConnection(rtc_configuration())
    pc.createDataChannel(CONTEXT_CHANNEL)
    await pc.setLocalDescription(await pc.createOffer())
    sdp: str = pc.localDescription.sdp
    await pc.close()
    return sdp


def mutate_offer(rng: random.Random, sdp: str) -> str:
    """The offer with a few of its lines dropped, repeated, cut or made junk."""
    lines = sdp.split("\r\n")
    for _ in range(rng.randint(1, 4)):
        if not lines:
            break
        at = rng.randrange(len(lines))
        choice = rng.randrange(7)
        if choice == 0:
            lines.pop(at)
        elif choice == 1:
            lines.insert(at, lines[at])
        elif choice == 2:
            lines[at] = lines[at][: rng.randrange(len(lines[at]) + 1)]
        elif choice == 3:  # one value of the line becomes junk
            parts = re.split(r"([ :=/])", lines[at])
            if parts:
                parts[rng.randrange(len(parts))] = rng.choice(
                    ["x", "", "-1", "99999999999", "bogus", "\x00", "IN", "0.0.0.0", "%s"]
                )
            lines[at] = "".join(parts)
        elif choice == 4:
            lines.insert(
                at,
                rng.choice(["a=", "m=", "c=IN", "a=setup:", "a=fingerprint:x"])
                + rng.choice(["", "junk", "sha-256 ZZ", "application x"]),
            )
        elif choice == 5:
            lines[at] = lines[at].replace("application", rng.choice(["audio", "video", "x"]))
        else:
            rng.shuffle(lines)
    return "\r\n".join(lines)


async def fuzz_signalling(
    http: aiohttp.ClientSession,
    gateway_url: str,
    cases: int,
    *,
    seed: int = 0,
    headers: dict[str, str] | None = None,
) -> FuzzReport:
    """`cases` mutated offers posted to the signalling routes in turn; a 5xx is a crash."""
    rng = random.Random(seed)
    good = await good_offer()
    report = FuzzReport()
    started = time.perf_counter()
    for i in range(cases):
        route = SIGNALLING_ROUTES[i % len(SIGNALLING_ROUTES)]
        offer = mutate_offer(rng, good)
        async with http.post(
            gateway_url + route, json={"sdp": offer, "type": "offer"}, headers=headers
        ) as reply:
            await reply.read()
            report.cases += 1
            if reply.status >= 500:
                report.crash(f"{route} {reply.status} on {offer[:200]!r}")
    report.seconds = time.perf_counter() - started
    return report


# ----------------------------------------------------------------- HTTP


def route_templates(app: Any) -> list[tuple[str, str]]:
    """(method, path template) of every route an aiohttp application serves."""
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix")
        if path and route.method != "HEAD":
            found.add((route.method, path))
    return sorted(found)


def _fill(template: str, rng: random.Random) -> str:
    junk = ["1", "x", "..", "%2e%2e", "0" * 300, "-1", "%00", "a b", "é"]
    return re.sub(r"\{[^}]+\}", lambda _: rng.choice(junk), template)


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.randrange(9 if depth < 3 else 6)
    if pick == 0:
        return None
    if pick == 1:
        return rng.choice([True, False])
    if pick == 2:
        return rng.choice([0, -1, 2**70, 1.5, float("1e308")])
    if pick == 3:
        return rng.choice(["", "x" * rng.randint(1, 5000), "offer", "\u0000", "👀"])
    if pick == 4:
        return rng.choice(["sdp", "type", "code", "text", "resume", "last_seq", "messages"])
    if pick == 5:
        return rng.randint(-5, 5)
    if pick == 6:
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = [
        "sdp",
        "type",
        "code",
        "device",
        "text",
        "resume",
        "last_seq",
        "messages",
        "role",
        "content",
        "stream",
        "max_tokens",
        "model",
        "kind",
        "place",
        "time",
        "days",
    ]
    return {rng.choice(keys): _random_json(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def http_case(
    rng: random.Random, routes: list[tuple[str, str]], tokens: list[str]
) -> tuple[str, str, dict[str, str], bytes]:
    """(method, path with query, headers, body) for one random request to a known route."""
    method, template = rng.choice(routes)
    path = _fill(template, rng)
    if rng.randrange(3) == 0:
        path += "?" + rng.choice(
            [
                "token=x",
                "limit=-1",
                "limit=99999999",
                "q=%ff",
                "since=no",
                "token=" + (rng.choice(tokens) if tokens else ""),
            ]
        )
    headers: dict[str, str] = {}
    auth = rng.randrange(4)
    if auth == 1 and tokens:
        headers["Authorization"] = "Bearer " + rng.choice(tokens)
    elif auth == 2:
        headers["Authorization"] = rng.choice(["Bearer ", "Bearer x.y.z", "Basic abc", "Bearer é"])
    if rng.randrange(2):
        headers["Content-Type"] = rng.choice(
            [
                "application/json",
                "text/plain",
                "multipart/form-data; boundary=x",
                "application/octet-stream",
                "multipart/form-data",
            ]
        )
    kind = rng.randrange(4)
    if kind == 0:
        body = b""
    elif kind == 1:
        body = rng.randbytes(rng.randint(1, 512))
    elif kind == 2:
        body = json.dumps(_random_json(rng)).encode()
    else:
        body = (
            b'--x\r\nContent-Disposition: form-data; name="file"\r\n\r\n'
            + rng.randbytes(rng.randint(0, 200))
            + b"\r\n--x--\r\n"
        )
    return method, path, headers, body


async def fuzz_http(
    http: aiohttp.ClientSession,
    targets: list[tuple[str, list[tuple[str, str]]]],
    cases: int,
    *,
    tokens: list[str] | None = None,
    seed: int = 0,
) -> FuzzReport:
    """`cases` random requests spread over every (base URL, routes) target; 5xx = crash."""
    rng = random.Random(seed)
    report = FuzzReport()
    started = time.perf_counter()
    for i in range(cases):
        base, routes = targets[i % len(targets)]
        method, path, headers, body = http_case(rng, routes, tokens or [])
        async with http.request(method, base + path, headers=headers, data=body) as reply:
            await reply.read()
            report.cases += 1
            if reply.status >= 500:
                report.crash(f"{method} {path} {reply.status} headers={headers} body={body[:80]!r}")
    report.seconds = time.perf_counter() - started
    return report


async def sessions_left_after(
    live: Callable[[], int], deadline_s: float, *, poll_s: float = 0.05
) -> int:
    """Sessions still open once every answered offer's connect deadline has passed."""
    for _ in range(int(deadline_s / poll_s) + 1):
        if not live():
            break
        await asyncio.sleep(poll_s)
    return live()


# ----------------------------------------------------------------- a stack to fuzz


class _NoSpeech:
    """The fuzzed stack's recogniser: the fuzzer asks no questions a model would answer."""

    def transcribe(self, samples: Any, sample_rate: int) -> str:
        return ""


class _Echo:
    """The fuzzed stack's reasoner: a fixed answer, no model loaded."""

    images = False

    async def stream(self, messages: Sequence[Any], *, max_new_tokens: int) -> AsyncIterator[str]:
        yield "ok"


@dataclass
class FuzzTarget:
    """A running gateway with accounts, history and memory, as `serve` runs it."""

    stack: Any
    accounts: Any
    tokens: list[str]
    targets: list[tuple[str, list[tuple[str, str]]]]

    def live_sessions(self) -> int:
        app = self.stack.app
        return len(self.stack.gateway.sessions) + (len(app.sessions) if app else 0)


@asynccontextmanager
async def fuzz_target(
    data_dir: Path, *, connect_deadline_s: float = 1.0
) -> AsyncIterator[FuzzTarget]:
    """The whole gateway (both signalling routes, every app route) and the cloud's
    OpenAI-compatible port, with stand-in models; offers that never connect give their
    slot back after `connect_deadline_s`."""
    from cloud.config import CloudConfig
    from cloud.conversation import Models
    from cloud.memory import HashingEmbedder
    from cloud.memory.user_data import UserDirectory
    from deploy.app_memory import StoreMemoryAccess
    from deploy.local_stack import local_stack
    from edge.models import EdgeModels
    from gateway.accounts import Accounts
    from gateway.history import History
    from gateway.routes.rate_limits import Limit

    users = UserDirectory(data_dir / "cloud", HashingEmbedder())
    accounts = Accounts(data_dir / "gateway")
    history = History(data_dir / "gateway" / "history.sqlite")
    models = Models(transcriber=_NoSpeech(), reasoner=_Echo(), users=users)
    try:
        async with local_stack(
            models,
            cloud_config=CloudConfig(data_dir=data_dir / "cloud", openai_port=0),
            app_models=EdgeModels(),
            accounts=accounts,
            history=history,
            memory=StoreMemoryAccess(lambda user: users.open(user).memory),
        ) as stack:
            stack.gateway.connect_deadline_s = connect_deadline_s
            assert stack.app is not None
            # The fuzzer is one client sending thousands of requests: the per-user rate
            # limits would answer most of them 429 before any handler saw them.
            for kind in list(stack.app.limiter.limits):
                stack.app.limiter.limits[kind] = Limit(per_minute=10**9, burst=10**9)
            device = accounts.add_device("alice", "fuzz")
            tokens = [
                accounts.session_token(device),
                device,
                accounts.session_token(accounts.add_device("bob", "fuzz")),
            ]
            targets = [(stack.gateway_url, route_templates(stack.gateway.app))]
            if stack.cloud.openai_url is not None:
                from cloud.api.openai_endpoint import OpenAiEndpoint

                openai_base = stack.cloud.openai_url.removesuffix("/v1")
                endpoint_routes = route_templates(
                    OpenAiEndpoint(_Echo(), transcriber=_NoSpeech()).app()
                )
                targets.append((openai_base, endpoint_routes))
            yield FuzzTarget(stack, accounts, tokens, targets)
    finally:
        users.close()
        history.close()
        accounts.close()
