"""The Live page's captions and notes in Debian's Chromium: real WebRTC, the real Silero and
caption planner on the fake microphone's question, a fake transcriber in the cloud."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from playwright.async_api import Browser, expect

from cloud.memory import HashingEmbedder
from edge.models import EdgeModels
from tests.app_stack import AppStack, app_stack
from tests.browser import fake_media_browser, open_app, screenshot
from tests.fake_media import write_wav_with_pause, write_y4m
from tests.fakes import FakeReasoner, FakeTranscriber

DEMO = Path(__file__).resolve().parents[1] / "simulators" / "demo"


@pytest.fixture(scope="module")
def edge_models() -> EdgeModels:
    return EdgeModels()


@pytest.fixture(scope="module")
async def browser(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Browser]:
    folder = tmp_path_factory.mktemp("captions-media")
    write_y4m(folder / "grey.y4m", np.full((240, 320, 3), 128, dtype=np.uint8))
    write_wav_with_pause(DEMO / "question-sign.wav", folder / "speech.wav")
    async with fake_media_browser(folder / "grey.y4m", folder / "speech.wav") as running:
        yield running


@pytest.fixture
async def app(tmp_path: Path, edge_models: EdgeModels) -> AsyncIterator[AppStack]:
    async with app_stack(
        tmp_path,
        edge_models,
        FakeTranscriber("where is the station"),
        FakeReasoner(),
        HashingEmbedder(),
    ) as running:
        yield running


async def test_captions_appear_on_the_live_page_with_their_language(
    app: AppStack, browser: Browser
) -> None:
    page = await open_app(browser, app.url, app.accounts.add_device("alice", "phone"))
    captions = page.locator('[data-testid="captions"]')
    await expect(captions).to_be_hidden()  # off by default
    await page.click('[data-testid="start"]')
    await expect(page.locator('[data-testid="status"]')).to_have_attribute(
        "data-state", "live", timeout=30_000
    )
    await page.check('[data-testid="captions-toggle"]')
    await expect(captions).to_be_visible()
    final = page.locator('[data-testid="caption-finals"] li').first
    await expect(final).to_contain_text("where is the station", timeout=60_000)
    await expect(final.locator('[data-testid="caption-language"]')).to_have_text("EN")
    await screenshot(page, "live-captions")
    # Notes: opt-in, with an indicator while they are taken.
    indicator = page.locator('[data-testid="notes-indicator"]')
    await expect(indicator).to_be_hidden()
    await page.check('[data-testid="notes-toggle"]')
    await expect(indicator).to_be_visible()
    await page.uncheck('[data-testid="notes-toggle"]')
    await expect(indicator).to_be_hidden()
