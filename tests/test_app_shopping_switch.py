"""The phone's camera sends shelf notes in shopping mode whichever way it was turned on: by
the app's switch (told to the cloud and to the app's own edge) or by the wearer's words
(the cloud's Control "shopping" reaches the app's edge)."""

from __future__ import annotations

import asyncio
from typing import cast

from websockets.asyncio.client import ClientConnection

from edge.models import EdgeModels
from gateway.sessions.app_session import AppSession, AppSessionDeps
from protocol import Control, Sequencer, decode, encode
from tests.test_answer_track import _FakeCloud


def _session(cloud: _FakeCloud) -> AppSession:
    deps = AppSessionDeps(
        edge_models=EdgeModels(), history=None, question_gate=lambda: None, on_closed=lambda _: None
    )
    return AppSession("s", "alice", "phone", cast(ClientConnection, cloud), deps)


async def test_the_apps_shopping_switch_reaches_the_cloud_and_the_apps_own_edge() -> None:
    cloud = _FakeCloud([])
    session = _session(cloud)
    assert not session.runtime.shopping
    session._handle(Sequencer("s").make(Control, action="shopping", value="on"))
    await asyncio.sleep(0.05)  # the message to the cloud goes on a task
    assert session.runtime.shopping
    told = [decode(data) for data in cloud.sent]
    assert [(m.action, m.value) for m in told if isinstance(m, Control)] == [("shopping", "on")]
    await session.source.close()


async def test_shopping_said_aloud_turns_on_the_apps_shelf_notes() -> None:
    on = encode(Sequencer("s").make(Control, action="shopping", value="on"))
    off = encode(Sequencer("s").make(Control, action="shopping", value="off"))
    session = _session(_FakeCloud([on]))
    await session._relay_from_cloud()
    assert session.runtime.shopping
    session._cloud = cast(ClientConnection, _FakeCloud([off]))
    await session._relay_from_cloud()
    assert not session.runtime.shopping
    await session.source.close()
