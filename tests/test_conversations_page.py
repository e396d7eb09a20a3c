"""The Conversations page and its routes: list, transcript, summary, action items, delete;
only ever the token's user's; retention covers the records and the memories made of them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from playwright.async_api import Browser, expect

from cloud.memory import HashingEmbedder
from cloud.notes import NoteLine, remember_notes, take_notes
from cloud.notes.conversation_store import keep_record
from cloud.notes.live import FinishedConversation
from deploy.app_conversations import StoreConversations
from edge.models import EdgeModels
from tests.app_stack import AppStack, app_stack
from tests.browser import fake_media_browser, open_app, screenshot
from tests.fake_media import write_wav_with_pause, write_y4m
from tests.fakes import FakeReasoner, FakeTranscriber

DEMO = Path(__file__).resolve().parents[1] / "simulators" / "demo"
AGREED = "I'll send the budget to Priya by Friday."


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[AppStack]:
    async with app_stack(
        tmp_path, EdgeModels(), FakeTranscriber(), FakeReasoner(), HashingEmbedder()
    ) as running:
        yield running


def _note(app: AppStack, user: str, *, started: datetime | None = None) -> str:
    """A conversation noted for `user`, kept as the cloud keeps one."""
    started = started or datetime.now(UTC)
    notes = take_notes(
        [
            NoteLine(0.0, 2.5, "S1", "Can you handle the budget?"),
            NoteLine(3.0, 6.0, "S2", AGREED),
        ],
        today=started.date(),
    )
    conversation_id = f"conv-{abs(hash((user, started))) % 16**16:016x}"
    finished = FinishedConversation(conversation_id, started, started + timedelta(minutes=2), notes)
    keep_record(app.users.data_dir, user, finished)
    remember_notes(
        app.users.open(user).memory,
        user,
        notes,
        conversation_id=conversation_id,
        started_at=started,
    )
    return conversation_id


async def _call(app: AppStack, method: str, path: str, token: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http:
        async with http.request(
            method, app.url + path, headers={"Authorization": f"Bearer {token}"}
        ) as reply:
            body = await reply.read()
            try:
                return reply.status, json.loads(body)
            except ValueError:
                return reply.status, body


async def test_bob_never_reads_or_deletes_alices_conversations(app: AppStack) -> None:
    conversation_id = _note(app, "alice")
    alice, bob = app.session_token("alice"), app.session_token("bob")
    path = f"/v1/conversations/{conversation_id}"
    assert await _call(app, "GET", "/v1/conversations", bob) == (200, {"conversations": []})
    assert (await _call(app, "GET", path, bob))[0] == 404
    assert (await _call(app, "DELETE", path, bob))[0] == 404
    assert (await _call(app, "GET", "/v1/conversations", "forged"))[0] == 401
    status, listed = await _call(app, "GET", "/v1/conversations", alice)
    assert status == 200 and [c["id"] for c in listed["conversations"]] == [conversation_id]
    status, record = await _call(app, "GET", path, alice)
    assert status == 200
    assert [line["text"] for line in record["lines"]][-1] == AGREED
    assert [item["who"] for item in record["action_items"]] == ["S2"]
    assert (await _call(app, "GET", "/v1/conversations/../../etc", alice))[0] == 404


async def test_deleting_a_conversation_deletes_its_memories_too(app: AppStack) -> None:
    conversation_id = _note(app, "alice")
    memory = app.users.open("alice").memory
    assert any(m.source_id == conversation_id for m in memory.export("alice"))
    alice = app.session_token("alice")
    path = f"/v1/conversations/{conversation_id}"
    assert (await _call(app, "DELETE", path, alice))[0] == 200
    assert (await _call(app, "GET", path, alice))[0] == 404
    assert not any(m.source_id == conversation_id for m in memory.export("alice"))


async def test_retention_deletes_old_conversations_and_their_memories(app: AppStack) -> None:
    old = _note(app, "alice", started=datetime.now(UTC) - timedelta(days=10))
    recent = _note(app, "alice")
    assert app.stack.app is not None
    await app.stack.app.enforce_retention("alice", 7 * 86_400.0)
    conversations = StoreConversations(app.users.data_dir, lambda user: app.users.open(user).memory)
    left = [c["id"] for c in conversations.list_conversations("alice", 10)]
    assert left == [recent]
    sources = {m.source_id for m in app.users.open("alice").memory.export("alice")}
    assert old not in sources and recent in sources


async def test_conversations_page_lists_shows_and_deletes(app: AppStack, tmp_path: Path) -> None:
    _note(app, "alice")
    write_y4m(tmp_path / "grey.y4m", np.full((240, 320, 3), 128, dtype=np.uint8))
    write_wav_with_pause(DEMO / "question-sign.wav", tmp_path / "speech.wav")
    async with fake_media_browser(tmp_path / "grey.y4m", tmp_path / "speech.wav") as browser:
        await _page_flow(app, browser)


async def _page_flow(app: AppStack, browser: Browser) -> None:
    page = await open_app(browser, app.url, app.accounts.add_device("alice", "phone"))
    await page.click('[data-nav="conversations"]')
    item = page.locator('[data-testid="conversation-item"]')
    await expect(item).to_have_count(1)
    await item.click()
    detail = page.locator('[data-testid="conversation-detail"]')
    await expect(detail).to_be_visible()
    await expect(page.locator('[data-testid="conversation-action"]')).to_contain_text(
        "send the budget"
    )
    await expect(page.locator('[data-testid="conversation-transcript"]')).to_contain_text(AGREED)
    await expect(page.locator('[data-testid="conversation-summary"]')).not_to_be_empty()
    await screenshot(page, "conversation-notes")
    await page.click('[data-testid="conversation-delete"]')
    await expect(item).to_have_count(0)
    await expect(page.locator("#conversations-empty")).to_be_visible()
