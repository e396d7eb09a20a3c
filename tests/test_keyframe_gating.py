"""The keyframe JPEG leaves the device only when the cloud's model for the mode looks at it:
the cloud says which modes do when the session opens; the observation always goes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence

from cloud.conversation import Conversation, Models
from cloud.reasoning.reasoner import ChatMessage
from deploy.local_stack import local_stack
from protocol import Control
from tests.fakes import FakeReasoner, FakeTranscriber
from tests.test_cli import DEMO, _companion


class SeeingReasoner(FakeReasoner):
    """A stand-in for a vision backend (OpenAiReasoner with images on)."""

    images = True

    async def stream(
        self, messages: Sequence[ChatMessage], *, max_new_tokens: int
    ) -> AsyncIterator[str]:
        yield f"I was shown {len(messages[-1].images)} image(s)."


async def _send(message: object) -> None:
    pass


def test_the_cloud_names_the_modes_whose_model_looks_at_images() -> None:
    text_only = Conversation("s", Models(FakeTranscriber(), FakeReasoner()), _send)
    assert text_only.image_modes().value == ""
    seeing = Models(FakeTranscriber(), FakeReasoner(), reasoning_reasoner=SeeingReasoner())
    control = Conversation("s", seeing, _send).image_modes()
    assert isinstance(control, Control)
    assert (control.action, control.value) == ("images", "reasoning")


async def _replay_summary(models: Models) -> tuple[dict[str, object], list[dict[str, object]]]:
    async with local_stack(models) as stack:
        code, out, err = await _companion(
            "replay",
            "--video",
            str(DEMO / "page.png"),
            "--audio",
            str(DEMO / "question-page.wav"),
            "--gateway",
            stack.gateway_url,
            "--json",
        )
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    return records[-1], records


async def test_no_keyframe_leaves_when_the_model_reads_only_text() -> None:
    models = Models(transcriber=FakeTranscriber("what does this page say"), reasoner=FakeReasoner())
    summary, records = await _replay_summary(models)
    assert summary["keyframe_bytes"] == 0
    observation = next(r for r in records if r["type"] == "observation")
    assert observation["ocr"]  # the page's text still went up
    assert any(r["type"] == "answer" for r in records)


async def test_the_keyframe_goes_to_a_model_that_looks_at_it() -> None:
    models = Models(
        transcriber=FakeTranscriber("what does this page say"), reasoner=SeeingReasoner()
    )
    summary, records = await _replay_summary(models)
    assert isinstance(summary["keyframe_bytes"], int) and summary["keyframe_bytes"] > 0
    answer = next(r for r in records if r["type"] == "answer")
    assert answer["text"] == "I was shown 1 image(s)."


async def test_keyframes_always_sends_the_frame_even_to_a_text_only_model() -> None:
    from edge.runtime import EdgeRuntime
    from protocol import Keyframe, Observation
    from tests.test_edge_privacy import BoxDetector, noisy_frame, one_utterance, runtime_with

    for policy, expected in (("when_used", 0), ("always", 1)):
        runtime, sent, _ = runtime_with(BoxDetector([]), keyframes=policy)
        assert isinstance(runtime, EdgeRuntime)
        runtime.control(Control(session_id="s", seq=1, sent_at=0.0, action="images", value=""))

        await runtime.run(one_utterance(noisy_frame()))

        assert sum(isinstance(m, Keyframe) for m in sent) == expected, policy
        assert sum(isinstance(m, Observation) for m in sent) == 1  # what was read always goes
