"""Fuzzing with hypothesis: the msgpack codec raises only ProtocolError; the SDP path and
every HTTP route of a real gateway (and the cloud's OpenAI-compatible port) never answer
5xx and leave no session behind. `companion bench fuzz` runs the same generators for as
many cases as asked (simulators/fuzzing.py)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import encode
from simulators.fuzzing import (
    SIGNALLING_ROUTES,
    FuzzTarget,
    check_decode,
    fuzz_codec,
    fuzz_target,
    good_offer,
    sessions_left_after,
    valid_messages,
)

T = TypeVar("T")
CORPUS = [encode(message) for message in valid_messages()]
FIELDS = sorted({key for data in CORPUS for key in msgpack.unpackb(data, raw=False)} | {"x"})
QUICK = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats()
    | st.text(max_size=40)
    | st.binary(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@QUICK
@given(st.binary(max_size=600))
def test_random_bytes_decode_to_a_message_or_a_protocol_error(data: bytes) -> None:
    assert check_decode(data) is None


@QUICK
@given(
    st.sampled_from(CORPUS),
    st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), min_size=1, max_size=8),
)
def test_valid_messages_with_bytes_flipped_decode_or_raise_protocol_error(
    data: bytes, flips: list[tuple[int, int]]
) -> None:
    mutated = bytearray(data)
    for at, value in flips:
        mutated[at % len(mutated)] = value
    assert check_decode(bytes(mutated)) is None


@QUICK
@given(st.sampled_from(CORPUS), st.sampled_from(FIELDS), msgpack_values, st.booleans())
def test_valid_messages_with_a_field_changed_decode_or_raise_protocol_error(
    data: bytes, name: str, value: Any, drop: bool
) -> None:
    body = msgpack.unpackb(data, raw=False)
    if drop:
        body.pop(name, None)
    else:
        body[name] = value
    assert check_decode(msgpack.packb(body, use_bin_type=True)) is None


def test_the_seeded_codec_fuzzer_finds_no_crash_in_twenty_thousand_cases() -> None:
    report = fuzz_codec(20_000, seed=7)
    assert report.cases == 20_000
    assert report.crashes == 0, report.examples


# ----------------------------------------------------------------- a real gateway


class Running:
    """The fuzz target served on its own event loop in a thread, for synchronous tests."""

    def __init__(self, data_dir: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._target_cm = fuzz_target(data_dir, connect_deadline_s=0.5)
        self.target: FuzzTarget = self.call(self._target_cm.__aenter__())
        self.http: aiohttp.ClientSession = self.call(self._session())
        self.offer: str = self.call(good_offer())

    async def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession()

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(60)

    def request(self, method: str, url: str, **kwargs: Any) -> int:
        async def send() -> int:
            async with self.http.request(method, url, **kwargs) as reply:
                await reply.read()
                return reply.status

        return self.call(send())

    def close(self) -> None:
        self.call(self.http.close())
        self.call(self._target_cm.__aexit__(None, None, None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    served = Running(tmp_path_factory.mktemp("fuzz"))
    yield served
    served.close()


line_edits = st.lists(
    st.tuples(
        st.integers(min_value=0),
        st.sampled_from(["drop", "repeat", "cut", "junk", "insert"]),
        st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=24),
    ),
    min_size=1,
    max_size=5,
)


def _edit_offer(sdp: str, edits: list[tuple[int, str, str]]) -> str:
    lines = sdp.split("\r\n")
    for at, edit, text in edits:
        if not lines:
            break
        i = at % len(lines)
        if edit == "drop":
            lines.pop(i)
        elif edit == "repeat":
            lines.insert(i, lines[i])
        elif edit == "cut":
            lines[i] = lines[i][: at % (len(lines[i]) + 1)]
        elif edit == "junk":
            head = lines[i].split(":", 1)[0].split("=", 1)[0]
            lines[i] = f"{head}={text}" if "=" in lines[i] else text
        else:
            lines.insert(i, text)
    return "\r\n".join(lines)


def test_mutated_offers_to_both_routes_never_get_5xx_or_leak_a_session(running: Running) -> None:
    token = running.target.tokens[0]
    statuses: list[int] = []

    @settings(
        max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(st.sampled_from(SIGNALLING_ROUTES), line_edits)
    def post_mutated_offer(route: str, edits: list[tuple[int, str, str]]) -> None:
        status = running.request(
            "POST",
            running.target.stack.gateway_url + route,
            json={"sdp": _edit_offer(running.offer, edits), "type": "offer"},
            headers={"Authorization": f"Bearer {token}"},
        )
        statuses.append(status)
        assert status < 500

    post_mutated_offer()
    assert statuses and all(s in (200, 400, 404, 413, 429) for s in statuses), set(statuses)
    # Offers that parsed were answered; never connected, they give their slots back.
    left = running.call(sessions_left_after(running.target.live_sessions, 10.0))
    assert left == 0


def test_random_requests_to_every_route_never_get_5xx(running: Running) -> None:
    routes = [
        (base, method, path) for base, paths in running.target.targets for method, path in paths
    ]
    assert len(routes) >= 15  # the gateway's app routes and the OpenAI-compatible port's
    tokens = running.target.tokens

    @settings(
        max_examples=200, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(
        st.sampled_from(routes),
        st.text(alphabet="abc123.%/-_é", max_size=12),
        st.one_of(st.binary(max_size=300), msgpack_values.map(lambda v: repr(v).encode())),
        st.sampled_from(
            [
                "application/json",
                "text/plain",
                "multipart/form-data",
                "multipart/form-data; boundary=z",
            ]
        ),
        st.sampled_from([None, "", "x.y", *tokens]),
    )
    def request(
        route: tuple[str, str, str], filler: str, body: bytes, content_type: str, token: str | None
    ) -> None:
        base, method, template = route
        path = template
        while "{" in path:
            start, end = path.index("{"), path.index("}")
            path = path[:start] + (filler or "x") + path[end + 1 :]
        headers = {"Content-Type": content_type}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        status = running.request(method, base + path, data=body, headers=headers)
        assert status < 500, (method, path, body[:60])

    request()
    # Still up, and still answering a good request.
    assert running.request("GET", running.target.stack.gateway_url + "/healthz") == 200
