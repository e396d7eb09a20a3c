"""A connection that drops mid-answer, end to end: real WebRTC on loopback, the real
gateway and cloud server (a slow fake reasoner), and the edge session reconnecting."""

from __future__ import annotations

from cloud.conversation import Models
from deploy.local_stack import local_stack
from edge.audio.endpointing import EndpointConfig
from edge.audio.listener import Listener
from edge.config import EdgeConfig
from edge.session import EdgeSession
from simulators.network_faults import NetworkFaults, faulty_connect
from tests.fakes import FakeTranscriber
from tests.test_barge_in import LoudnessVad, SlowReasoner


async def test_an_answer_cut_by_a_drop_arrives_whole_after_the_edge_reconnects() -> None:
    reasoner = SlowReasoner(delay_s=0.03)  # 100 words in 3 s: the drop at 1 s cuts it
    models = Models(transcriber=FakeTranscriber(), reasoner=reasoner)
    faults = NetworkFaults(drop_at_s=1.0, reconnect_ms=500)
    kinds: list[str] = []
    async with local_stack(models) as stack:
        config = EdgeConfig(gateway_url=stack.gateway_url, device="test")
        listener = Listener(LoudnessVad(), EndpointConfig(end_silence_ms=config.end_silence_ms))
        session = EdgeSession(
            listener, None, config, answer_timeout_s=30, connect=faulty_connect(faults)
        )
        summary = await session.run(
            None,
            questions=["tell me everything"],
            on_event=lambda kind, message, turn: kinds.append(kind),
        )
    assert not summary.errors, summary.errors
    (turn,) = summary.turns
    assert turn.done is not None and not turn.done.interrupted and not turn.errors
    assert turn.answer.endswith("word99") and turn.answer.count("word0 ") == 1
    assert "answer_delta" in kinds
    # The first session's generation stopped when its connection went: the CPU was freed.
    assert reasoner.stopped == 1 and reasoner.finished == 1
