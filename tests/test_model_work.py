"""Model work that really stops: a timed-out speech recognition keeps the model lock until
its thread has finished, and model calls run on the cloud's own bounded pool."""

from __future__ import annotations

import asyncio
import threading

import numpy as np

from cloud.config import CloudConfig
from cloud.conversation import Conversation, Models
from cloud.model_work import ModelWorkers
from protocol import AnswerDone, Message, Sequencer, SpeechSegment
from tests.fakes import FakeReasoner
from tests.waiting import until

LOUD = (np.sin(np.arange(16_000) / 5.0) * 8000).astype(np.int16).tobytes()


class GatedTranscriber:
    """Blocks every call until `gate` opens, and records how the calls overlapped."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.log: list[str] = []
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()

    def transcribe(self, samples: np.ndarray, sample_rate: int) -> str:
        with self._lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            self.log.append("start")
        self.gate.wait(30)
        with self._lock:
            self.running -= 1
            self.log.append("end")
        return "what does this say"


async def _settle() -> None:
    """Let every ready task run a few steps (no time passes on purpose)."""
    for _ in range(50):
        await asyncio.sleep(0)


async def test_a_timed_out_turn_keeps_the_model_until_its_thread_finishes() -> None:
    transcriber = GatedTranscriber()
    models = Models(transcriber=transcriber, reasoner=FakeReasoner())
    config = CloudConfig(answer_timeout_s=0.3)
    sent: dict[str, list[Message]] = {"a": [], "b": []}

    def conversation(name: str) -> Conversation:
        async def send(message: Message) -> None:
            sent[name].append(message)

        return Conversation(name, models, send, config=config)

    # Two sessions share the process's models and their lock.
    first, second = conversation("a"), conversation("b")
    tasks = [asyncio.create_task(c.run()) for c in (first, second)]
    try:
        first.receive(Sequencer("a").make(SpeechSegment, turn_id=1, pcm=LOUD))
        await until(lambda: transcriber.log == ["start"], what="the first call to start")
        # The first turn's timeout fires while its thread still runs …
        await until(lambda: models.workers.waiting_out == 1, what="the first turn to time out")
        second.receive(Sequencer("b").make(SpeechSegment, turn_id=1, pcm=LOUD))
        await _settle()
        # … and the second turn's call waits for it: the lock is still held.
        assert transcriber.log == ["start"]
        assert models.lock.locked()
        transcriber.gate.set()
        await until(lambda: second.answered >= 1, what="the second turn's answer")
        assert transcriber.log == ["start", "end", "start", "end"]
        assert transcriber.most_at_once == 1
        assert [m.turn_id for m in sent["b"] if isinstance(m, AnswerDone)] == [1]
        assert models.workers.threads() <= models.workers.max_workers
    finally:
        transcriber.gate.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_the_pool_never_grows_past_its_bound_however_many_calls_time_out() -> None:
    workers = ModelWorkers(max_workers=2)
    gate = threading.Event()
    running = [0]
    most = [0]
    lock = threading.Lock()

    def slow() -> str:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        gate.wait(30)
        with lock:
            running[0] -= 1
        return "done"

    async def impatient() -> str:
        async with asyncio.timeout(0.01):
            return await workers.run(slow)

    calls = [asyncio.create_task(impatient()) for _ in range(10)]
    await until(lambda: workers.waiting_out == 2, what="two running calls to time out")
    # The queued calls give up before they start; the two running are waited out.
    await until(lambda: sum(call.done() for call in calls) == 8, what="eight queued to give up")
    await until(lambda: running[0] == 2, what="both running calls to be inside the model")
    await _settle()
    assert running[0] == 2 and workers.threads() == 2
    assert sum(call.done() for call in calls) == 8
    gate.set()
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, TimeoutError) for r in results)
    assert most[0] == 2 and workers.threads() == 2
    # The pool still works for the next call.
    assert await workers.run(lambda: "next") == "next"
    workers.close()


async def test_a_call_that_finishes_in_time_returns_its_result_and_its_error() -> None:
    workers = ModelWorkers(max_workers=1)

    def fail() -> None:
        raise ValueError("model broke")

    assert await workers.run(sum, [1, 2, 3]) == 6
    try:
        await workers.run(fail)
    except ValueError as exc:
        assert str(exc) == "model broke"
    else:
        raise AssertionError("the model's error did not reach the caller")
    assert threading.current_thread() is threading.main_thread()
    workers.close()
