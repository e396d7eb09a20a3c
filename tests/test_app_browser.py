"""The phone app in a real browser: Debian's Chromium, a fake camera showing a sign
and a fake microphone asking about it, real WebRTC to the gateway on loopback.

The cloud's models are fakes in all but the last test, which runs Whisper and
Qwen; the edge models (VAD, OCR, classifier) always run on the received tracks.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import cv2
import numpy as np
import pytest
from playwright.async_api import Browser, Dialog, Page, expect

from cloud.config import CloudConfig
from cloud.memory import Embedder, HashingEmbedder
from cloud.reasoning.reasoner import Reasoner
from cloud.speech.asr import Transcriber
from cloud.speech.speaker import PiperSpeaker
from cloud.speech.spoken_answer import Voice
from edge.link.client import GatewayClient
from edge.models import EdgeModels
from protocol import DeviceStatus, Hello, Sequencer
from tests.app_stack import AppStack, app_stack
from tests.browser import fake_media_browser, open_app, screenshot
from tests.fake_media import write_wav_with_pause, write_y4m
from tests.fakes import FakeReasoner, FakeTranscriber
from tests.test_end_to_end import make_sign_photo
from tests.waiting import until, until_async

DEMO = Path(__file__).resolve().parents[1] / "simulators" / "demo"
HOSTILE = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'


@pytest.fixture(scope="module")
def edge_models() -> EdgeModels:
    return EdgeModels()


@pytest.fixture(scope="module")
def fake_media(tmp_path_factory: pytest.TempPathFactory, recordings: Path) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("fake-media")
    make_sign_photo(folder / "sign.png", recordings / "images" / "astronaut.png")
    image = cv2.imread(str(folder / "sign.png"))
    assert image is not None
    write_y4m(folder / "sign.y4m", np.asarray(image, dtype=np.uint8))
    write_wav_with_pause(DEMO / "question-sign.wav", folder / "question.wav")
    return folder / "sign.y4m", folder / "question.wav"


@pytest.fixture(scope="module")
async def browser(fake_media: tuple[Path, Path]) -> AsyncIterator[Browser]:
    async with fake_media_browser(*fake_media) as running:
        yield running


@pytest.fixture
async def app(tmp_path: Path, edge_models: EdgeModels) -> AsyncIterator[AppStack]:
    async with app_stack(
        tmp_path, edge_models, FakeTranscriber(), FakeReasoner(delay_s=0.15), HashingEmbedder()
    ) as running:
        yield running


async def _go_live(page: Page) -> None:
    await page.click('[data-testid="start"]')
    await expect(page.locator('[data-testid="status"]')).to_have_attribute(
        "data-state", "live", timeout=30_000
    )
    await expect(page.locator('[data-testid="live-indicator"]')).to_be_visible()


async def _ask(page: Page, text: str) -> None:
    await page.fill('[data-testid="ask-text"]', text)
    await page.click('[data-testid="ask"]')


async def _api(app: AppStack, user_token: str, path: str) -> dict[str, object]:
    async with aiohttp.ClientSession() as http:
        async with http.get(
            app.url + path, headers={"Authorization": f"Bearer {user_token}"}
        ) as reply:
            assert reply.status == 200
            body: dict[str, object] = await reply.json()
            return body


async def test_live_page_streams_what_was_heard_read_and_answered(
    app: AppStack, browser: Browser
) -> None:
    page = await open_app(browser, app.url, app.accounts.add_device("alice", "phone"))
    await screenshot(page, "live-idle")
    await _go_live(page)
    # The fake microphone asks; the gateway's VAD hears it, the fake ASR names it.
    await expect(page.locator('[data-testid="transcript"]')).to_have_text(
        "what does this say", timeout=60_000
    )
    # The fake microphone asks again every few seconds and would talk over (barge in on)
    # a slow answer on a loaded machine: one question is enough, so stop listening.
    await page.check('input[name="listen"][value="hold"]')
    await expect(page.locator('[data-testid="answer"]')).to_have_attribute(
        "data-done", "1", timeout=60_000
    )
    assert (await page.text_content('[data-testid="answer"]') or "").startswith("You asked:")
    # The real OCR read the sign in the fake camera's frames, on the gateway.
    await expect(page.locator('[data-testid="seen"]')).to_contain_text("Brighton")
    await page.check('[data-testid="show-latency"]')
    await expect(page.locator('[data-testid="latency"]')).to_contain_text("total")
    await screenshot(page, "live-answered")


async def test_answer_completes_after_the_browser_loses_its_connection(
    app: AppStack, browser: Browser
) -> None:
    page = await open_app(browser, app.url, app.accounts.add_device("alice", "phone"))
    await page.check('input[name="listen"][value="hold"]')  # no speech: typed only
    await _go_live(page)
    await _ask(page, "tell me a long story about the sea under the stars")
    await expect(page.locator('[data-testid="answer"]')).to_contain_text("You asked")
    await page.evaluate("window.companion.dropConnection()")
    await expect(page.locator('[data-testid="status"]')).to_have_attribute(
        "data-state", "reconnecting"
    )
    await screenshot(page, "live-reconnecting")
    await expect(page.locator('[data-testid="answer"]')).to_have_attribute(
        "data-done", "1", timeout=60_000
    )
    await expect(page.locator('[data-testid="status"]')).to_have_attribute("data-state", "live")
    shown = await page.text_content('[data-testid="answer"]')
    token = app.session_token("alice")
    history = await _api(app, token, "/v1/history")
    turns = history["turns"]
    assert isinstance(turns, list) and turns[0]["answer"] == shown
    assert "the sea under" in (shown or "")


async def test_a_conversation_memory_shows_up_and_deleting_removes_it_everywhere(
    app: AppStack, browser: Browser
) -> None:
    page = await open_app(browser, app.url, app.accounts.add_device("alice", "phone"))
    await page.check('input[name="listen"][value="hold"]')
    await _go_live(page)
    await _ask(page, "my spare key is under the green flowerpot")
    await expect(page.locator('[data-testid="answer"]')).to_have_attribute(
        "data-done", "1", timeout=60_000
    )
    await page.click('[data-nav="memory"]')
    # The turn itself and the fact in it: each a memory, with its source.
    item = page.locator('[data-testid="memory-item"]', has_text="flowerpot")
    await expect(item.first).to_contain_text(re.compile(r"from (conversation|glasses)"))
    remembered = await item.count()
    assert remembered >= 1
    await page.click('[data-nav="history"]')
    await expect(page.locator('[data-testid="history-item"]')).to_have_count(1)
    await screenshot(page, "history")
    await page.click('[data-nav="memory"]')
    await screenshot(page, "memory")
    for left in range(remembered, 0, -1):
        await item.first.locator('[data-testid="memory-delete"]').click()
        await expect(item).to_have_count(left - 1)
    token = app.session_token("alice")
    listed = await _api(app, token, "/v1/memories?q=flowerpot")
    assert not [m for m in listed["memories"] if "flowerpot" in m["text"]]  # type: ignore[attr-defined]
    await page.reload()
    await page.wait_for_selector("body[data-ready=true]")
    await page.click('[data-nav="memory"]')
    await expect(page.locator('[data-testid="memory-list"]')).not_to_contain_text("flowerpot")


async def test_a_second_user_cannot_see_the_first_users_memory(
    app: AppStack, browser: Browser
) -> None:
    alice = app.session_token("alice")
    async with aiohttp.ClientSession() as http:
        async with http.post(
            app.url + "/v1/memories",
            json={"text": "Alice's passport is in the desk drawer."},
            headers={"Authorization": f"Bearer {alice}"},
        ) as reply:
            assert reply.status == 201
    alice_page = await open_app(browser, app.url, app.accounts.add_device("alice", "phone"))
    await alice_page.click('[data-nav="memory"]')
    await expect(alice_page.locator('[data-testid="memory-item"]')).to_have_count(1)
    bob_page = await open_app(browser, app.url, app.accounts.add_device("bob", "phone"))
    await expect(bob_page.locator('[data-testid="user"]')).to_have_text("bob")
    await bob_page.click('[data-nav="memory"]')
    await expect(bob_page.locator("#memory-empty")).to_be_visible()
    await expect(bob_page.locator('[data-testid="memory-item"]')).to_have_count(0)
    await bob_page.fill('[data-testid="memory-query"]', "passport")
    await bob_page.press('[data-testid="memory-query"]', "Enter")
    await expect(bob_page.locator('[data-testid="memory-item"]')).to_have_count(0)
    bob = app.session_token("bob")
    assert (await _api(app, bob, "/v1/memories?q=passport"))["memories"] == []
    assert (await _api(app, bob, "/v1/memories/export"))["memories"] == []


async def test_a_corrected_fact_replaces_the_old_one_which_stays_marked_as_history(
    app: AppStack, browser: Browser
) -> None:
    page = await open_app(browser, app.url, app.accounts.add_device("alice", "phone"))
    await page.click('[data-nav="memory"]')
    for fact in ("My shoe size is 43.", "My shoe size is 44."):
        await page.fill('[data-testid="memory-new"]', fact)
        await page.click('[data-testid="memory-add"]')
        await expect(page.locator('[data-testid="memory-item"]', has_text=fact)).to_have_count(1)
    old = page.locator('[data-testid="memory-item"]', has_text="43")
    new = page.locator('[data-testid="memory-item"]', has_text="44")
    await expect(old.locator('[data-testid="memory-replaced"]')).to_contain_text("Replaced")
    await expect(new.locator('[data-testid="memory-replaced"]')).to_have_count(0)
    await screenshot(page, "memory-replaced")
    token = app.session_token("alice")
    found = await _api(app, token, "/v1/memories?q=shoe%20size")
    assert [m["text"] for m in found["memories"]] == ["My shoe size is 44."]  # type: ignore[index]


async def test_a_link_to_another_account_asks_before_switching(
    app: AppStack, browser: Browser
) -> None:
    alice = await open_app(browser, app.url, app.accounts.add_device("alice", "phone"))
    await expect(alice.locator('[data-testid="user"]')).to_have_text("alice")
    bob_link = f"{app.url}/#token={app.accounts.add_device('bob', 'laptop')}"
    for answer, user in (("dismiss", "alice"), ("accept", "bob")):
        asked: list[str] = []
        page = await alice.context.new_page()  # the same phone: its stored sign-in

        async def reply(dialog: Dialog, answer: str = answer, asked: list[str] = asked) -> None:
            asked.append(dialog.message)
            await (dialog.dismiss() if answer == "dismiss" else dialog.accept())

        page.on("dialog", reply)
        await page.goto(bob_link)
        await page.wait_for_selector("body[data-ready=true]")
        await expect(page.locator('[data-testid="user"]')).to_have_text(user)
        assert len(asked) == 1 and "bob" in asked[0] and "alice" in asked[0]
        await page.close()


# Samples the app's remote answer track with a WebAudio AnalyserNode: window.answerPeak is
# the loudest sample heard since `window.answerPeakReset()`.
_LISTEN_TO_ANSWERS = """() => {
  const track = window.companion.state.answerTrack;
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  analyser.fftSize = 2048;
  context.createMediaStreamSource(new MediaStream([track])).connect(analyser);
  const buffer = new Float32Array(analyser.fftSize);
  window.answerPeak = 0;
  window.answerPeakReset = () => { window.answerPeak = 0; };
  setInterval(() => {
    analyser.getFloatTimeDomainData(buffer);
    for (const v of buffer) window.answerPeak = Math.max(window.answerPeak, Math.abs(v));
  }, 20);
  return context.resume();
}"""


@pytest.fixture(scope="module")
def voice() -> Voice:
    return Voice(PiperSpeaker())


async def test_a_spoken_answer_plays_on_the_apps_audio_track_and_its_text_still_arrives(
    tmp_path: Path, edge_models: EdgeModels, browser: Browser, voice: Voice
) -> None:
    async with app_stack(
        tmp_path,
        edge_models,
        FakeTranscriber(),
        FakeReasoner(delay_s=0.02),
        HashingEmbedder(),
        voice=voice,
    ) as spoken:
        page = await open_app(browser, spoken.url, spoken.accounts.add_device("alice", "phone"))
        await page.check('input[name="listen"][value="hold"]')  # no speech: typed only
        await _go_live(page)
        await page.wait_for_function("window.companion.state.answerTrack !== null")
        await page.evaluate(_LISTEN_TO_ANSWERS)
        await asyncio.sleep(1.5)  # between answers the track carries silence
        assert await page.evaluate("window.answerPeak") < 0.01
        await _ask(page, "read me the sign over the door")
        await expect(page.locator('[data-testid="answer"]')).to_have_attribute(
            "data-done", "1", timeout=60_000
        )
        text = await page.text_content('[data-testid="answer"]') or ""
        assert text.startswith("You asked:") and text.endswith("read me the sign over the door")
        await page.wait_for_function("window.answerPeak > 0.05", timeout=20_000)
        assert await page.evaluate("!document.querySelector('#answer-audio').paused")
        # Muted: the app asks the server to stop speaking, and the next answer is text only.
        assert spoken.stack.app is not None
        [session] = spoken.stack.app.sessions.values()
        await page.check('[data-testid="mute"]')
        assert await page.evaluate("document.querySelector('#answer-audio').muted")
        await asyncio.sleep(0.5)  # the switch reaches the cloud before the next question
        await until(lambda: session.playout.queued_s == 0.0, timeout_s=90.0)
        played = session.playout.played_samples
        await _ask(page, "and the one beside it")
        await expect(page.locator('[data-testid="answer"]')).to_have_attribute(
            "data-done", "2", timeout=60_000
        )
        assert session.playout.played_samples == played
        await screenshot(page, "live-spoken-answer")


async def test_local_only_sends_the_server_no_audio_or_video_at_all(
    app: AppStack, browser: Browser
) -> None:
    page = await open_app(browser, app.url, app.accounts.add_device("alice", "phone"))
    await _go_live(page)
    assert app.stack.app is not None
    [session] = app.stack.app.sessions.values()
    source = session.source

    def received() -> tuple[int, int]:
        return source.received_audio_frames, source.received_video_frames

    await until(lambda: min(received()) > 0)  # standard: both arrive
    await page.click('[data-nav="privacy"]')
    await page.check('input[name="privacy"][value="local-only"]')
    await asyncio.sleep(1.0)  # what was already in flight when the switch was made
    before = received()
    await asyncio.sleep(3.0)  # the subject: three seconds in which nothing may arrive
    assert received() == before
    await page.check('input[name="privacy"][value="standard"]')
    await until(lambda: received()[0] > before[0] and received()[1] > before[1])


async def test_hostile_text_in_a_memory_is_shown_as_text_never_run(
    app: AppStack, browser: Browser
) -> None:
    page = await open_app(browser, app.url, app.accounts.add_device("alice", "phone"))
    await page.click('[data-nav="memory"]')
    await page.fill('[data-testid="memory-new"]', HOSTILE)
    await page.click('[data-testid="memory-add"]')
    text = page.locator('[data-testid="memory-text"]')
    await expect(text).to_have_text(HOSTILE)
    assert await page.evaluate("window.pwned") is None
    assert await page.locator('[data-testid="memory-list"] img, script:not([src])').count() == 0


async def test_privacy_page_controls_and_the_live_indicator(
    app: AppStack, browser: Browser
) -> None:
    page = await open_app(browser, app.url, app.accounts.add_device("alice", "phone"))
    await page.check('input[name="listen"][value="hold"]')
    await _go_live(page)
    indicator = page.locator('[data-testid="live-indicator"]')
    await expect(indicator).to_have_text("● Camera & mic live")
    await page.click('[data-nav="privacy"]')
    await page.check('input[name="privacy"][value="no-camera"]')
    await expect(indicator).to_have_text("● Mic live")
    await screenshot(page, "privacy")
    await page.click('[data-testid="pause"]')
    await expect(indicator).to_be_hidden()
    await page.click('[data-nav="glasses"]')
    await expect(page.locator('[data-testid="glasses"]')).to_contain_text("No glasses connected")
    await screenshot(page, "glasses")
    session = next(iter(app.stack.app.sessions.values()))  # type: ignore[union-attr]
    await until(lambda: session.settings.paused)
    assert session.runtime.config.privacy == "no-camera"


async def test_failures_each_have_a_clear_state(app: AppStack, browser: Browser) -> None:
    denied = await open_app(browser, app.url, app.accounts.add_device("alice", "phone"))
    await denied.evaluate(
        "() => { navigator.mediaDevices.getUserMedia = () => "
        "Promise.reject(new DOMException('denied', 'NotAllowedError')); }"
    )
    await denied.click('[data-testid="start"]')
    status = denied.locator('[data-testid="status"]')
    await expect(status).to_have_attribute("data-state", "denied")
    await expect(status).to_contain_text("permission denied")
    await screenshot(denied, "state-denied")

    signed_out = await open_app(browser, app.url, "not-a-real-token")
    await expect(signed_out.locator('[data-testid="status"]')).to_have_attribute(
        "data-state", "signed-out"
    )

    unreachable = await (
        await browser.new_context(viewport={"width": 390, "height": 844})
    ).new_page()
    await unreachable.route("**/v1/**", lambda route: route.abort())
    await unreachable.goto(app.url)
    await expect(unreachable.locator('[data-testid="status"]')).to_have_attribute(
        "data-state", "unreachable"
    )

    assert app.stack.app is not None
    from gateway.routes.rate_limits import Limit

    app.stack.app.limiter.limits["api"] = Limit(per_minute=1, burst=1)
    limited = await open_app(browser, app.url, app.accounts.add_device("dave", "phone"))
    await limited.click('[data-nav="memory"]')
    await expect(limited.locator('[data-testid="status"]')).to_have_attribute(
        "data-state", "rate-limited"
    )
    await expect(limited.locator('[data-testid="status"]')).to_contain_text("rate limit")
    await screenshot(limited, "state-rate-limited")


@pytest.mark.models
async def test_spoken_question_about_a_sign_is_answered_with_its_text(
    tmp_path: Path,
    edge_models: EdgeModels,
    browser: Browser,
    whisper: Transcriber,
    qwen: Reasoner,
    minilm: Embedder,
) -> None:
    # A loaded 2-core machine runs Chromium, the edge models and both cloud models at
    # once: give the OCR and the reasoner the time they need there.
    config = CloudConfig(observation_wait_s=15.0, answer_timeout_s=300.0)
    async with app_stack(tmp_path, edge_models, whisper, qwen, minilm, config) as app:
        page = await open_app(browser, app.url, app.accounts.add_device("alice", "phone"))
        await _go_live(page)
        transcript = page.locator('[data-testid="transcript"]')
        await expect(transcript).to_contain_text(re.compile(r"\w+ \w+"), timeout=120_000)
        # The fake microphone loops; one question is enough, so stop listening.
        await page.click('[data-nav="privacy"]')
        await page.click('[data-testid="pause"]')
        await page.click('[data-nav="live"]')
        answer = page.locator('[data-testid="answer"]')
        await expect(answer).to_have_attribute("data-done", re.compile(r"\d"), timeout=300_000)
        await screenshot(page, "live-real-models")
        text = (await answer.text_content() or "").lower()
        heard = await transcript.text_content()
        assert "9" in text or "nine" in text or "brighton" in text, (heard, text)
        await page.click('[data-nav="memory"]')
        await expect(page.locator('[data-testid="memory-item"]').first).to_be_visible()


async def test_glasses_page_shows_what_the_glasses_report(app: AppStack, browser: Browser) -> None:
    async with GatewayClient(app.url, token=app.session_token("alice")) as glasses:
        out = Sequencer(glasses.session_id)
        await glasses.send(out.make(Hello, user="alice", device="glasses"))
        await glasses.send(
            out.make(DeviceStatus, device="openglass-1", connection="connected", battery_percent=42)
        )
        await until(lambda: "alice" in app.stack.app.glasses)  # type: ignore[union-attr]
    page = await open_app(browser, app.url, app.accounts.add_device("alice", "phone"))
    await page.click('[data-nav="glasses"]')
    card = page.locator('[data-testid="glasses"]')
    await expect(card).to_contain_text("openglass-1: connected")
    await expect(card).to_contain_text("42%")
    await screenshot(page, "glasses-reported")
    other = await open_app(browser, app.url, app.accounts.add_device("bob", "phone"))
    await other.click('[data-nav="glasses"]')
    await expect(other.locator('[data-testid="glasses"]')).to_contain_text("No glasses connected")


async def test_the_app_lays_out_for_a_desktop_too(app: AppStack, browser: Browser) -> None:
    page = await open_app(
        browser,
        app.url,
        app.accounts.add_device("alice", "laptop"),
        viewport={"width": 1280, "height": 800},
    )
    tabs = await page.locator("nav.tabs").bounding_box()
    main = await page.locator("main").bounding_box()
    assert tabs is not None and main is not None
    assert tabs["y"] < main["y"], "on a wide screen the pages are chosen from the top"
    assert main["width"] <= 760
    await screenshot(page, "desktop-live")


async def test_hold_to_talk_hears_only_while_the_button_is_held(
    app: AppStack, browser: Browser
) -> None:
    token = app.session_token("alice")
    page = await open_app(browser, app.url, app.accounts.add_device("alice", "phone"))
    await page.check('input[name="listen"][value="hold"]')
    await _go_live(page)
    talk = page.locator('[data-testid="talk"]')
    transcript = page.locator('[data-testid="transcript"]')
    answer = page.locator('[data-testid="answer"]')
    await expect(talk).to_be_visible()
    # The fake microphone keeps asking its question; with the button up nobody hears it.
    await asyncio.sleep(LOOP_S)  # a whole loop of the fake microphone is the scenario
    assert await transcript.text_content() == ""
    assert (await _api(app, token, "/v1/history"))["turns"] == []
    await screenshot(page, "live-hold-idle")

    box = await talk.bounding_box()
    assert box is not None
    await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    await page.mouse.down()
    await expect(talk).to_have_class(re.compile(r"\bheld\b"))
    await expect(talk).to_have_text("Listening… release to finish")
    await screenshot(page, "live-hold-held")
    await expect(transcript).to_have_text("what does this say", timeout=60_000)
    await page.mouse.up()
    await expect(talk).not_to_have_class(re.compile(r"\bheld\b"))
    await expect(talk).to_have_text("Hold to talk")
    await expect(answer).to_have_attribute("data-done", "1", timeout=60_000)
    assert (await answer.text_content() or "").startswith("You asked:")

    # Released: that turn is over, and the question the microphone repeats is not heard.
    async def answered() -> bool:
        return _answered(await _turns(app, token))

    await until_async(answered, timeout_s=30)
    turns = await _turns(app, token)
    await asyncio.sleep(LOOP_S)  # a whole loop of the fake microphone is the scenario
    assert len(await _turns(app, token)) == len(turns)
    await screenshot(page, "live-hold-answered")


async def test_history_shows_the_keyframe_exactly_as_sent_with_the_face_blurred(
    app: AppStack, browser: Browser, fake_media: tuple[Path, Path]
) -> None:
    token = app.session_token("alice")
    page = await open_app(browser, app.url, app.accounts.add_device("alice", "phone"))
    await page.click('[data-nav="privacy"]')
    blur = page.locator('[data-testid="face-blur"]')
    await expect(blur).to_be_checked()
    await expect(blur).to_be_disabled()
    await expect(page.locator('[data-testid="face-blur-note"]')).to_contain_text("No camera")
    await screenshot(page, "privacy-face-blur")
    await page.click('[data-nav="live"]')
    await _go_live(page)
    await expect(page.locator('[data-testid="answer"]')).to_have_attribute(
        "data-done", "1", timeout=60_000
    )

    async def framed() -> list[dict[str, object]]:
        return [t for t in await _turns(app, token) if t["keyframe"]]

    await until_async(framed, timeout_s=30)
    turn = (await framed())[0]
    async with aiohttp.ClientSession() as http:
        async with http.get(
            f"{app.url}/v1/history/{turn['id']}/keyframe.jpg",
            headers={"Authorization": f"Bearer {token}"},
        ) as reply:
            assert reply.status == 200
            jpeg = await reply.read()
    sent = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert sent is not None
    # The astronaut's face in the fake camera's frame (found there by the same detector).
    original = cv2.imread(str(fake_media[0].with_suffix(".png")))
    assert original is not None
    assert _face_detail(original, original.shape) > 20.0, "the source shows a face"
    assert _face_detail(sent, original.shape) < 6.0, "the face left blurred"
    await page.click('[data-nav="history"]')
    image = page.locator('[data-testid="history-item"] img').first
    await expect(image).to_be_visible()
    assert await image.evaluate("img => img.naturalWidth") == sent.shape[1]
    await screenshot(page, "history-keyframe")


# One loop of the fake microphone (question, then 2.5 s of silence), with a margin.
LOOP_S = 7.0
# Where the sign photo's face is, in its 640x480 frame (BlazeFace finds it at score 0.86).
FACE_BOX = (224, 59, 339, 174)


def _face_detail(image: np.ndarray, source_shape: tuple[int, ...]) -> float:
    """Pixel spread in the middle of the face: high for a face, near 0 once pixelated."""
    sy, sx = image.shape[0] / source_shape[0], image.shape[1] / source_shape[1]
    x0, y0, x1, y1 = FACE_BOX
    mx, my = (x1 - x0) // 4, (y1 - y0) // 4
    core = image[
        int((y0 + my) * sy) : int((y1 - my) * sy), int((x0 + mx) * sx) : int((x1 - mx) * sx)
    ]
    return float(cv2.cvtColor(core, cv2.COLOR_BGR2GRAY).std())


async def _turns(app: AppStack, token: str) -> list[dict[str, object]]:
    turns = (await _api(app, token, "/v1/history"))["turns"]
    assert isinstance(turns, list)
    return turns


def _answered(turns: list[dict[str, object]]) -> bool:
    return bool(turns) and all(t["answer"] for t in turns)
