"""The gateway re-checks each keyframe an edge client sends and drops any with a face left.

The edge blurs faces before a frame leaves; the gateway does not take that on
trust (a modified or buggy client, an old version): an independent detector
(OpenCV's Haar cascade) looks again, and a keyframe with a face is counted and
never relayed, while the rest of the turn goes on to the cloud.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

import cv2
import numpy as np
import numpy.typing as npt

from edge.vision.jpeg import encode_jpeg
from gateway.session import GatewaySession
from protocol import Keyframe, Query, Sequencer, decode, encode


class RecordingCloud:
    """Stands in for the cloud websocket: keeps what the gateway relays."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def send(self, data: bytes) -> None:
        self.sent.append(data)


def keyframe(out: Sequencer, image: npt.NDArray[np.uint8], turn_id: int) -> Keyframe:
    height, width = image.shape[:2]
    return out.make(
        Keyframe,
        turn_id=turn_id,
        jpeg=encode_jpeg(image, max_bytes=150_000),
        width=width,
        height=height,
        captured_at=0.0,
    )


async def relay(messages: list[bytes]) -> tuple[GatewaySession, list[Any]]:
    cloud = RecordingCloud()
    session = GatewaySession("s1", cast(Any, cloud))
    relaying = asyncio.create_task(session._relay_to_cloud())
    try:
        for data in messages:
            session._on_edge_message(data)
        async with asyncio.timeout(30):
            while len(cloud.sent) + session.keyframes_dropped < len(messages):
                await asyncio.sleep(0.01)
    finally:
        relaying.cancel()
        await session.pc.close()
    return session, [decode(data) for data in cloud.sent]


async def test_a_keyframe_with_a_face_is_dropped_and_counted_and_the_turn_goes_on(
    recordings: Path,
) -> None:
    portrait = cv2.imread(str(recordings / "images" / "astronaut.png"), cv2.IMREAD_COLOR)
    page = cv2.imread(str(recordings / "images" / "page.png"), cv2.IMREAD_COLOR)
    assert portrait is not None and page is not None
    out = Sequencer("s1")
    with_face = keyframe(out, portrait.astype(np.uint8), turn_id=1)
    question = out.make(Query, turn_id=1, text="who is this?")
    without = keyframe(out, page.astype(np.uint8), turn_id=2)

    session, relayed = await relay([encode(with_face), encode(question), encode(without)])

    assert session.keyframes_dropped == 1
    assert session.errors == 1  # the edge is told, the session kept
    assert [(m.kind, m.turn_id) for m in relayed] == [("query", 1), ("keyframe", 2)]


async def test_a_keyframe_that_does_not_decode_is_dropped_not_relayed() -> None:
    out = Sequencer("s1")
    broken = out.make(
        Keyframe, turn_id=1, jpeg=b"\xff\xd8 not really", width=4, height=4, captured_at=0.0
    )

    session, relayed = await relay([encode(broken)])

    assert session.keyframes_dropped == 1
    assert relayed == []
