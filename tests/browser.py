"""Debian's Chromium driven by Playwright, with a fake camera and microphone.

Never `playwright install`: the browser is /usr/bin/chromium from apt-get.
Screenshots go to artifacts/app/ (ignored by git) for people to look at.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import Browser, Page, ViewportSize, async_playwright

CHROMIUM = "/usr/bin/chromium"
PHONE: ViewportSize = {"width": 390, "height": 844}
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "app"


@asynccontextmanager
async def fake_media_browser(video: Path, audio: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-video-capture={video}",
                f"--use-file-for-fake-audio-capture={audio}",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        try:
            yield browser
        finally:
            await browser.close()


async def open_app(
    browser: Browser, url: str, device_token: str, viewport: ViewportSize | None = None
) -> Page:
    """The app (at phone size unless told), signed in with a device token as a link would."""
    page = await (await browser.new_context(viewport=viewport or PHONE)).new_page()
    await page.goto(f"{url}/#token={device_token}")
    await page.wait_for_selector("body[data-ready=true]")
    return page


async def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
