"""The app session's peer link: answers offers, numbers what it sends, waits out a drop.

Real aiortc peers on loopback play the phone app; no mocks of the library.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription

from edge.link.webrtc import CONTEXT_CHANNEL, rtc_configuration
from gateway.sessions.peer_link import PeerLink
from protocol import AnswerDelta, Message, Sequencer, decode

SESSION = "s1"
WAIT_S = 20.0  # generous: a loaded CI machine, never asserted on


class App:
    """The phone's side: one peer connection with the "context" channel."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(rtc_configuration())
        self.channel: RTCDataChannel = self.pc.createDataChannel(CONTEXT_CHANNEL)
        self.opened = asyncio.Event()
        self.received: asyncio.Queue[Message] = asyncio.Queue()
        self.channel.on("open", self.opened.set)
        self.channel.on("message", lambda data: self.received.put_nowait(decode(data)))

    async def dial(self, link: PeerLink, last_seq: int = 0) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        answer = await link.connect(self.pc.localDescription.sdp, last_seq)
        await self.pc.setRemoteDescription(RTCSessionDescription(answer.sdp, answer.type))
        await asyncio.wait_for(self.opened.wait(), WAIT_S)

    async def next_words(self, count: int) -> list[tuple[int, str]]:
        messages = [await asyncio.wait_for(self.received.get(), WAIT_S) for _ in range(count)]
        return [(m.seq, m.text) for m in messages if isinstance(m, AnswerDelta)]


class Link:
    def __init__(self, grace_s: float) -> None:
        self.gone = asyncio.Event()
        self.from_app: list[bytes | str] = []

        async def on_gone() -> None:
            self.gone.set()

        self.link = PeerLink(
            SESSION,
            grace_s=grace_s,
            on_track=lambda track: None,
            on_message=self.from_app.append,
            on_gone=on_gone,
        )


@asynccontextmanager
async def link_with(grace_s: float) -> AsyncIterator[Link]:
    held = Link(grace_s)
    try:
        yield held
    finally:
        held.link.release()
        if held.link.pc is not None:
            await held.link.pc.close()


def word(out: Sequencer, text: str) -> AnswerDelta:
    return out.make(AnswerDelta, turn_id=1, text=text)


async def test_messages_are_numbered_and_a_resumed_app_gets_only_what_it_missed() -> None:
    out = Sequencer(SESSION)
    async with link_with(grace_s=60.0) as held:
        first = App()
        await first.dial(held.link)
        held.link.send(word(out, "a"))
        held.link.send(word(out, "b"))
        assert await first.next_words(2) == [(1, "a"), (2, "b")]
        await first.pc.close()  # the phone lost its connection …
        held.link.send(word(out, "c"))  # … while the answer went on

        second = App()
        await second.dial(held.link, last_seq=1)  # it had seen "a" only
        assert await second.next_words(2) == [(2, "b"), (3, "c")]
        assert held.link.connections == 2
        assert not held.gone.is_set()


async def test_an_app_that_does_not_come_back_within_the_grace_period_is_gone() -> None:
    async with link_with(grace_s=0.05) as held:
        app = App()
        await app.dial(held.link)
        await app.pc.close()
        await asyncio.wait_for(held.gone.wait(), WAIT_S)


async def test_an_unusable_offer_leaves_the_live_connection_as_it_was() -> None:
    out = Sequencer(SESSION)
    async with link_with(grace_s=60.0) as held:
        app = App()
        await app.dial(held.link)
        live = held.link.pc
        with pytest.raises(ValueError, match="no data channel"):
            await held.link.connect("v=0\r\n", last_seq=0)
        assert held.link.pc is live and held.link.connections == 1
        held.link.send(word(out, "still here"))
        assert await app.next_words(1) == [(1, "still here")]
        await app.pc.close()
