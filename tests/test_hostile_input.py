"""A corpus of crafted offers and hostile messages replayed against a real gateway.

Both signalling routes (the glasses' `/v1/sessions`, the phone app's
`/v1/app/sessions`) get every crafted offer: each is a clear 4xx, the session
it would have opened is closed and freed, and the next good offer is answered.
Hostile data-channel messages each get an Error and the session answers the
next good question. Fake cloud models; real accounts, WebRTC and websockets.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import msgpack
import pytest

from cloud.memory import HashingEmbedder
from edge.models import EdgeModels
from gateway.routes.rate_limits import Limit
from protocol import (
    MAX_TEXT_CHARS,
    AnswerDone,
    Error,
    Hello,
    Keyframe,
    Message,
    Query,
    Sequencer,
    SpeechSegment,
    encode,
)
from protocol.limits import MAX_SESSIONS_PER_USER
from tests.app_stack import AppStack, app_stack
from tests.fakes import FakeReasoner, FakeTranscriber
from tests.raw_peer import APP_ROUTE, EDGE_ROUTE, RawPeer, good_offer, post_offer
from tests.waiting import until


@pytest.fixture(scope="module")
def edge_models() -> EdgeModels:
    return EdgeModels()


@pytest.fixture
async def app(tmp_path: Path, edge_models: EdgeModels) -> AsyncIterator[AppStack]:
    async with app_stack(
        tmp_path, edge_models, FakeTranscriber(), FakeReasoner(), HashingEmbedder()
    ) as running:
        # The corpus posts many offers as one user; the signalling rate limit is not on test.
        assert running.stack.app is not None
        running.stack.app.limiter.limits["session"] = Limit(per_minute=60_000, burst=10_000)
        yield running


def crafted_offers(good: str) -> list[tuple[str, Any]]:
    """Offers that are not usable: what aiortc chokes on, and what is not an offer at all."""

    def without(prefix: str) -> str:
        return "\r\n".join(line for line in good.split("\r\n") if not line.startswith(prefix))

    sdp = [
        ("m=application x", re.sub(r"m=application [^\r\n]*", "m=application x", good)),
        ("a=setup:bogus", good.replace("a=setup:actpass", "a=setup:bogus")),
        ("c=IN", re.sub(r"c=IN IP4 [^\r\n]*", "c=IN", good)),
        ("no fingerprint", without("a=fingerprint")),
        ("no ice-ufrag", without("a=ice-ufrag")),
        ("sctp-port abc", re.sub(r"a=sctp-port:\d+", "a=sctp-port:abc", good)),
        ("bare m line", "v=0\r\nm=application \r\n"),
        ("m line only, repeated", "m=application 9 UDP/DTLS/SCTP x\r\n" * 200),
        ("no data channel", "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"),
        ("empty", ""),
        ("not text", "\x00\x01\x02m=application \x7f"),
    ]
    bodies: list[tuple[str, Any]] = [(name, {"sdp": s, "type": "offer"}) for name, s in sdp]
    return [
        *bodies,
        ("an answer", {"sdp": good, "type": "answer"}),
        ("sdp not a string", {"sdp": 12, "type": "offer"}),
        ("a JSON list", [good]),
        ("JSON null", "null"),
        ("not JSON", "{sdp"),
        ("not UTF-8", b"\xff\xfe\xfa"),
    ]


def crafted_app_offers(good: str) -> list[tuple[str, Any]]:
    """The app's route also reads where to resume from."""
    return [
        ("negative last_seq", {"sdp": good, "type": "offer", "last_seq": -1}),
        ("last_seq not a number", {"sdp": good, "type": "offer", "last_seq": "7"}),
        ("resume a session that is not there", {"sdp": good, "type": "offer", "resume": "x"}),
        ("resume not a string", {"sdp": good, "type": "offer", "resume": ["x"]}),
    ]


def _live(app: AppStack) -> int:
    assert app.stack.app is not None
    return len(app.stack.gateway.sessions) + len(app.stack.app.sessions)


@pytest.mark.parametrize("route", [EDGE_ROUTE, APP_ROUTE])
async def test_every_crafted_offer_is_a_clear_refusal_and_frees_its_session(
    app: AppStack, route: str
) -> None:
    token = app.session_token("alice")
    good = await good_offer()
    async with aiohttp.ClientSession() as http:
        corpus = [*crafted_offers(good), *(crafted_app_offers(good) if route == APP_ROUTE else [])]
        for name, body in corpus:
            status, reply = await post_offer(http, app.url + route, body, token)
            assert status in (400, 404), (name, status, reply)
            assert isinstance(reply, dict) and reply["error"], name
            # Closed and freed at once: nothing waits for a deadline.
            assert _live(app) == 0, name
        # The gateway is still up and answers the next good offer.
        status, reply = await post_offer(
            http, app.url + route, {"sdp": good, "type": "offer"}, token
        )
        assert status == 200 and reply["session_id"]
        assert _live(app) == 1


async def test_an_oversized_offer_is_413_on_both_routes(app: AppStack) -> None:
    token = app.session_token("alice")
    huge = {"sdp": "m=application " + "x" * (app.stack.gateway.config.max_offer_bytes + 1)}
    async with aiohttp.ClientSession() as http:
        for route in (EDGE_ROUTE, APP_ROUTE):
            status, _ = await post_offer(http, app.url + route, huge | {"type": "offer"}, token)
            assert status == 413, route
    assert _live(app) == 0


async def test_an_app_offer_that_never_connects_gives_its_slot_back(app: AppStack) -> None:
    assert app.stack.app is not None
    app.stack.gateway.connect_deadline_s = 0.2
    async with aiohttp.ClientSession() as http:
        offer = {"sdp": await good_offer(), "type": "offer"}
        status, _ = await post_offer(http, app.url + APP_ROUTE, offer, app.session_token("alice"))
    assert status == 200
    assert len(app.stack.app.sessions) == 1
    await until(lambda: not app.stack.app.sessions if app.stack.app else False)


async def test_an_app_session_that_connected_outlives_the_connect_deadline(
    app: AppStack,
) -> None:
    assert app.stack.app is not None
    app.stack.gateway.connect_deadline_s = 0.2
    async with aiohttp.ClientSession() as http:
        peer = await RawPeer(app.url, APP_ROUTE, app.session_token("alice")).open(http)
    try:
        # Ask after the deadline passed: the connected session still answers.
        live = app.stack.app.live
        await until(lambda: live.deadlines_pending() == 0)
        peer.send(Query, turn_id=1, text="still there?")
        await peer.wait_for(AnswerDone)
        assert len(app.stack.app.sessions) == 1
    finally:
        await peer.close()


async def test_a_user_holds_at_most_the_session_limit_across_glasses_and_app(
    app: AppStack,
) -> None:
    alice, bob = app.session_token("alice"), app.session_token("bob")
    offer = {"sdp": await good_offer(), "type": "offer"}
    async with aiohttp.ClientSession() as http:
        routes = [EDGE_ROUTE, APP_ROUTE] * MAX_SESSIONS_PER_USER
        for route in routes[:MAX_SESSIONS_PER_USER]:
            assert (await post_offer(http, app.url + route, offer, alice))[0] == 200
        for route in (EDGE_ROUTE, APP_ROUTE):
            status, reply = await post_offer(http, app.url + route, offer, alice)
            assert status == 429, route
            assert f"at most {MAX_SESSIONS_PER_USER} live sessions" in reply["error"]
        # Another user is not held back by alice's sessions.
        assert (await post_offer(http, app.url + APP_ROUTE, offer, bob))[0] == 200
    assert _live(app) == MAX_SESSIONS_PER_USER + 1


def _raw(message: Message, **fields: object) -> bytes:
    """`message` on the wire with fields set past what the dataclass would check."""
    body = msgpack.unpackb(encode(message), raw=False)
    body.update(fields)
    packed: bytes = msgpack.packb(body, use_bin_type=True)
    return packed


def hostile_messages(session_id: str) -> list[tuple[str, bytes | str]]:
    """Data-channel messages a broken or hostile client might send, none of them usable."""
    up = Sequencer(session_id)
    segment = up.make(SpeechSegment, turn_id=7, pcm=b"\0\0" * 160)
    frame = up.make(Keyframe, turn_id=7, jpeg=b"\xff\xd8", width=8, height=8, captured_at=0.0)
    query = encode(up.make(Query, turn_id=7, text="hello"))
    return [
        ("garbage", b"\x00\xff" * 50),
        ("empty", b""),
        ("text frame", "hello"),
        ("msgpack integer", msgpack.packb(7)),
        ("msgpack nil", msgpack.packb(None)),
        ("truncated", query[: len(query) // 2]),
        ("unknown kind", _raw(up.make(Query, turn_id=7, text="x"), kind="Exploit")),
        ("sample rate 1 Hz", _raw(segment, sample_rate=1)),
        ("16k×16k frame", _raw(frame, width=16_384, height=16_384)),
        (
            "text past the ceiling",
            _raw(up.make(Query, turn_id=7, text="x"), text="x" * (MAX_TEXT_CHARS + 1)),
        ),
        ("another session", encode(Sequencer("someone-else").make(Query, turn_id=7, text="hi"))),
        ("deep nesting", b"\x91" * 50_000 + b"\xc0"),
    ]


@pytest.mark.parametrize("route", [EDGE_ROUTE, APP_ROUTE])
async def test_every_hostile_message_gets_an_error_and_the_session_answers_the_next_question(
    app: AppStack, route: str
) -> None:
    async with aiohttp.ClientSession() as http:
        peer = await RawPeer(app.url, route, app.session_token("alice")).open(http)
    try:
        peer.send(Hello, user="mallory", device="x")  # rewritten to alice by the gateway
        corpus = hostile_messages(peer.session_id)
        for _, data in corpus:
            peer.send_raw(data)
        await peer.wait_for(Error, count=len(corpus))
        assert {e.code for e in peer.received if isinstance(e, Error)} <= {
            "bad_message",
            "wrong_session",
        }
        peer.send(Query, turn_id=9, text="what does this say?")
        await peer.wait_for(AnswerDone)
        # Only the good question was answered (the app's edge numbers its own turns).
        assert sum(isinstance(m, AnswerDone) for m in peer.received) == 1
    finally:
        await peer.close()


async def test_a_cloud_that_refuses_the_claim_is_a_503_and_no_session_is_kept(
    app: AppStack,
) -> None:
    token = app.session_token("alice")
    offer = {"sdp": await good_offer(), "type": "offer"}
    gateway = app.stack.gateway
    right, gateway.cloud_secret = gateway.cloud_secret, b"not the cloud's secret".ljust(32, b"!")
    async with aiohttp.ClientSession() as http:
        for route in (EDGE_ROUTE, APP_ROUTE):
            status, reply = await post_offer(http, app.url + route, offer, token)
            assert status == 503 and "unreachable" in reply["error"], route
        assert _live(app) == 0
        gateway.cloud_secret = right
        assert (await post_offer(http, app.url + EDGE_ROUTE, offer, token))[0] == 200
