"""Live captions end to end: a real recording over real WebRTC on loopback, Silero and the
caption planner at the edge, the real Whisper in the cloud, Captions back on the data channel.

Two ways in: the phone app's session (the recording is the app's microphone track; the
gateway's edge taps it) and glasses (their own edge taps the recording and sends each
line's audio; the Captions come back on their data channel for a display).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import numpy.typing as npt
import pytest
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer

from cloud.memory import HashingEmbedder
from cloud.speech.asr import Transcriber
from edge.audio.caption_tap import CaptionTap, caption_listener
from edge.audio.vad import SileroVad
from edge.config import EdgeConfig
from edge.link.client import GatewayClient
from edge.link.webrtc import CONTEXT_CHANNEL, rtc_configuration
from edge.models import EdgeModels
from edge.sources.media import CHUNK_SAMPLES, SAMPLE_RATE, AudioChunk
from protocol import Control, Hello, Message, Sequencer, decode, encode
from protocol.messages import Caption
from simulators.wer import word_error_rate
from tests.app_client import AppLink
from tests.app_stack import AppStack, app_stack
from tests.fakes import FakeReasoner

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def edge_models() -> EdgeModels:
    return EdgeModels()


@pytest.fixture
async def app(
    tmp_path: Path, edge_models: EdgeModels, whisper: Transcriber
) -> AsyncIterator[AppStack]:
    async with app_stack(
        tmp_path, edge_models, whisper, FakeReasoner(), HashingEmbedder()
    ) as running:
        yield running


class AppWithMicrophone(AppLink):
    """The scripted app, with a recording as its microphone track."""

    def __init__(self, gateway_url: str, token: str, audio: Path) -> None:
        super().__init__(gateway_url, token)
        self._player = MediaPlayer(str(audio))

    @property
    def microphone(self) -> MediaStreamTrack:
        assert self._player.audio is not None
        return self._player.audio

    async def connect(self, *, resume: bool = False) -> None:
        pc = RTCPeerConnection(rtc_configuration())
        assert self._player.audio is not None
        pc.addTrack(self._player.audio)
        channel = pc.createDataChannel(CONTEXT_CHANNEL, ordered=True)
        opened = asyncio.Event()
        channel.on("open", opened.set)
        channel.on("message", self._on_message)
        await pc.setLocalDescription(await pc.createOffer())
        body: dict[str, Any] = {"sdp": pc.localDescription.sdp, "type": "offer"}
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{self.gateway_url}/v1/app/sessions",
                json=body,
                headers={"Authorization": f"Bearer {self.token}"},
            ) as reply:
                answer = await reply.json()
                assert reply.status == 200, answer
        self.session_id = answer["session_id"]
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
        async with asyncio.timeout(20):
            await opened.wait()
        self._pc, self._channel = pc, channel


def _padded(recordings: Path, tmp_path: Path) -> Path:
    """The real reading with a second of quiet before and after (the line must end)."""
    import wave

    source = recordings / "speech" / "librivox-0870.wav"
    with wave.open(str(source), "rb") as f:
        speech = f.readframes(f.getnframes())
    quiet = b"\x00\x00" * SAMPLE_RATE
    target = tmp_path / "heard.wav"
    with wave.open(str(target), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(SAMPLE_RATE)
        f.writeframes(quiet + speech + quiet * 2)
    return target


def _reference(recordings: Path) -> str:
    return (recordings / "speech" / "librivox-0870.txt").read_text()


def _finals(received: list[Message]) -> list[Caption]:
    return sorted(
        (m for m in received if isinstance(m, Caption) and m.final), key=lambda c: c.line_id
    )


async def test_app_session_captions_what_its_microphone_hears(
    app: AppStack, recordings: Path, tmp_path: Path
) -> None:
    link = AppWithMicrophone(app.url, app.session_token("alice"), _padded(recordings, tmp_path))
    link_started = time.monotonic()
    await link.connect()
    try:
        link.send(Control, action="captions", value="on")
        reference = _reference(recordings)

        def heard() -> str:
            return " ".join(c.text for c in _finals(link.received))

        # The reading is ~6 s, played in real time; Whisper on a loaded machine is slow.
        async with asyncio.timeout(180):
            while word_error_rate(reference, heard())[0] > 0.5 * len(reference.split()):
                link.arrived.clear()
                await link.arrived.wait()
            await asyncio.sleep(3.0)  # any later line of the same reading
        captions = [m for m in link.received if isinstance(m, Caption)]
        errors, words = word_error_rate(reference, heard())
        assert errors / words <= 0.25, heard()
        # Revised while it was spoken, then final; every line's language shown.
        assert any(not c.final for c in captions), [c.text for c in captions]
        assert all(c.language == "en" and not c.translated for c in captions)
        first = min(c.line_id for c in captions)
        assert captions[0].line_id == first and not captions[0].final
        assert time.monotonic() - link_started > 4.0  # it came in real time, not at once
    finally:
        await link.drop()


async def test_glasses_get_captions_on_their_data_channel(
    app: AppStack, recordings: Path, edge_models: EdgeModels
) -> None:
    import wave

    with wave.open(str(recordings / "speech" / "librivox-0870.wav"), "rb") as f:
        speech = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2").astype(np.int16)
    audio: npt.NDArray[np.int16] = np.concatenate(
        [np.zeros(SAMPLE_RATE // 2, np.int16), speech, np.zeros(SAMPLE_RATE, np.int16)]
    )
    token = app.accounts.add_device("alice", "glasses")
    async with GatewayClient(app.url, token=token) as link:
        out = Sequencer(link.session_id)
        await link.send(out.make(Hello, user="alice", device="glasses"))
        await link.send(out.make(Control, action="captions", value="on"))
        config = EdgeConfig(user="alice", device="glasses")
        tap = CaptionTap(
            caption_listener(SileroVad(edge_models.vad_session), config),
            out,
            link.send,
            privacy=lambda: "standard",
            codec="opus",  # a radio link: each line's audio as Opus
        )
        tap.switch(captions=True)

        async def listen() -> None:
            for offset in range(0, audio.size, CHUNK_SAMPLES):
                chunk = AudioChunk(offset / SAMPLE_RATE, audio[offset : offset + CHUNK_SAMPLES])
                await tap.hear(chunk)
                await asyncio.sleep(CHUNK_SAMPLES / SAMPLE_RATE / 4)  # faster than real time
            await tap.stop()

        received: list[Message] = []

        async def receive() -> None:
            async for message in link:
                received.append(message)
                if isinstance(message, Caption) and message.final:
                    return

        async with asyncio.timeout(180):
            await asyncio.gather(listen(), receive())
        assert tap.lines_sent >= 1
        [final] = _finals(received)
        errors, words = word_error_rate(_reference(recordings), final.text)
        assert errors / words <= 0.25, final.text
        assert decode(encode(final)) == final


def _spoken_then_read(recordings: Path, tmp_path: Path, command: str) -> Path:
    """espeak-ng says `command`; six quiet seconds later the real LibriVox reading follows."""
    import subprocess
    import wave

    said = tmp_path / "command.wav"
    subprocess.run(["espeak-ng", "-s", "130", "-w", str(tmp_path / "raw.wav"), command], check=True)
    subprocess.run(
        ["sox", str(tmp_path / "raw.wav"), "-r", "16000", "-c", "1", "-b", "16", str(said)],
        check=True,
    )
    parts = []
    for path in (said, recordings / "speech" / "librivox-0870.wav"):
        with wave.open(str(path), "rb") as f:
            parts.append(f.readframes(f.getnframes()))
    quiet = b"\x00\x00" * SAMPLE_RATE
    target = tmp_path / "heard.wav"
    with wave.open(str(target), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(SAMPLE_RATE)
        f.writeframes(quiet + parts[0] + quiet * 6 + parts[1] + quiet * 2)
    return target


async def test_saying_start_taking_notes_notes_what_follows(
    app: AppStack, recordings: Path, tmp_path: Path
) -> None:
    from cloud.notes.conversation_store import ConversationStore
    from tests.waiting import until

    audio = _spoken_then_read(recordings, tmp_path, "Start taking notes.")
    link = AppWithMicrophone(app.url, app.session_token("alice"), audio)
    await link.connect()
    try:
        # The wearer's words reach the cloud's Whisper, which switches notes on and
        # tells the app (and the gateway's tap) with a Control.
        async with asyncio.timeout(120):
            while not any(
                isinstance(m, Control) and (m.action, m.value) == ("notes", "on")
                for m in link.received
            ):
                link.arrived.clear()
                await link.arrived.wait()
        # The reading plays in real time after the command; its line ends at the quiet
        # after it, so notes stop once the whole recording has played.
        track = link.microphone
        await until(lambda: track.readyState == "ended", timeout_s=120, what="the recording")
        await asyncio.sleep(3.0)
        link.send(Control, action="notes", value="off")

        def kept() -> list[dict[str, Any]]:
            store = ConversationStore.of_user(app.users.data_dir, "alice")
            try:
                return store.recent()
            finally:
                store.close()

        await until(lambda: bool(kept()), timeout_s=120)
        [conversation] = kept()
        store = ConversationStore.of_user(app.users.data_dir, "alice")
        record = store.get(conversation["id"])
        store.close()
        assert record is not None
        heard = " ".join(line["text"] for line in record["lines"])
        errors, words = word_error_rate(_reference(recordings), heard)
        assert errors / words <= 0.3, heard
        assert not any(isinstance(m, Caption) for m in link.received)  # notes, not captions
    finally:
        await link.drop()
