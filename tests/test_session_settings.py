"""The cloud honours the wearer's privacy and answer modes (Hello, then Control messages)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np

from cloud.config import CloudConfig
from cloud.conversation import Conversation, Models
from cloud.session_settings import SessionSettings, apply_setting
from protocol import (
    AnswerDone,
    Control,
    Error,
    Hello,
    Label,
    Message,
    Observation,
    Query,
    Sequencer,
    SpeechSegment,
)
from tests.fakes import FakeReasoner, FakeTranscriber

EDGE = Sequencer("s")
LOUD = (np.sin(np.arange(16_000) / 5.0) * 8000).astype(np.int16).tobytes()


def test_hello_sets_the_session_and_controls_change_one_setting_each() -> None:
    settings = apply_setting(
        SessionSettings(), EDGE.make(Hello, user="me", device="d", privacy="no-camera")
    )
    assert settings == SessionSettings(privacy="no-camera", mode="auto")
    settings = apply_setting(settings, EDGE.make(Control, action="mode", value="reasoning"))
    assert settings == SessionSettings(privacy="no-camera", mode="reasoning")
    settings = apply_setting(settings, EDGE.make(Control, action="privacy", value="standard"))
    assert settings.privacy == "standard"


def test_unknown_values_and_other_controls_change_nothing() -> None:
    settings = SessionSettings(privacy="no-camera", mode="fast")
    for action, value in [("privacy", "open"), ("mode", "turbo"), ("face_blur", "on")]:
        assert apply_setting(settings, EDGE.make(Control, action=action, value=value)) == settings


def test_a_turn_in_auto_mode_takes_the_sessions_mode() -> None:
    settings = SessionSettings(mode="reasoning")
    assert settings.mode_for("auto") == "reasoning"
    assert settings.mode_for("fast") == "fast"


def _conversation() -> tuple[Conversation, list[Message]]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    models = Models(transcriber=FakeTranscriber(), reasoner=FakeReasoner())
    return Conversation("s", models, send, config=CloudConfig(observation_wait_s=0.1)), sent  # type: ignore[arg-type]


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not condition():
            await asyncio.sleep(0.01)


async def test_speech_that_arrives_in_local_only_mode_is_refused_not_answered() -> None:
    conversation, sent = _conversation()
    task = asyncio.create_task(conversation.run())
    conversation.receive(EDGE.make(Hello, user="me", device="d", privacy="local-only"))
    conversation.receive(EDGE.make(SpeechSegment, turn_id=1, pcm=LOUD))
    await _until(lambda: any(isinstance(m, Error) for m in sent))
    task.cancel()
    refusal = next(m for m in sent if isinstance(m, Error))
    assert refusal.code == "privacy" and refusal.turn_id == 1
    assert not any(isinstance(m, AnswerDone) for m in sent)
    assert conversation.answered == 0


async def test_a_control_to_no_camera_keeps_later_observations_out_of_the_answer() -> None:
    conversation, sent = _conversation()
    task = asyncio.create_task(conversation.run())
    conversation.receive(EDGE.make(Control, action="privacy", value="no-camera"))
    conversation.receive(
        EDGE.make(
            Observation, turn_id=1, captured_at=0.0, labels=(Label(name="passport", score=0.9),)
        )
    )
    conversation.receive(EDGE.make(Query, turn_id=1, text="what is this?", visual=True))
    await _until(lambda: conversation.answered == 1)
    task.cancel()
    done = next(m for m in sent if isinstance(m, AnswerDone))
    assert "observation" not in [stage.name for stage in done.stages]


async def test_a_control_to_reasoning_mode_answers_auto_questions_in_reasoning_mode() -> None:
    conversation, sent = _conversation()
    task = asyncio.create_task(conversation.run())
    conversation.receive(EDGE.make(Control, action="mode", value="reasoning"))
    conversation.receive(EDGE.make(Query, turn_id=1, text="what time is it in Lima?"))
    await _until(lambda: conversation.answered == 1)
    task.cancel()
    done = next(m for m in sent if isinstance(m, AnswerDone))
    assert done.mode == "reasoning"
