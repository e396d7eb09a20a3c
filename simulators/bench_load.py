"""`companion bench load`: many sessions through real WebRTC into gateways and workers on Redis.

Starts Redis (unless a running one is given), G `companion gateway` processes
and W `companion cloud` processes sharing a throw-away data folder and bus
secret, then N sessions at once, each a real WebRTC peer (edge.link.client) on
one of the gateways, each asking `turns` spoken questions (the demo's recorded
question as a SpeechSegment). Optionally SIGKILLs one worker mid-run. Reports
turns sent, answered, lost (no AnswerDone/Error within the deadline) and
duplicated (more than one AnswerDone for a turn), the latency the stack adds
beside the model time (reply time minus AnswerDone.inference_ms), and each
process's peak memory (VmHWM) and memory per session.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import statistics
import sys
import tempfile
import time
import wave
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.errors import EdgeError
from edge.link.client import GatewayClient
from edge.link.resuming import ResumingLink
from protocol import AnswerDone, Error, Hello, SpeechSegment
from protocol.sequencing import Sequencer
from simulators.errors import SimulatorError
from simulators.redis_server import redis_server

QUESTION = Path(__file__).resolve().parent / "demo" / "question-page.wav"
START_TIMEOUT_S = 600.0
TURN_DEADLINE_S = 120.0
PAUSE_BETWEEN_TURNS_S = 0.3
# After the last answer, how long to keep listening for a duplicate.
GRACE_S = 3.0
# A session whose gateway died looks for another this long.
RECONNECT_FOR_S = 60.0
# How long to look for a worker that is mid-answer before killing one anyway.
KILL_SEARCH_S = 10.0


@dataclass(frozen=True)
class LoadPlan:
    sessions: int
    gateways: int
    workers: int
    turns: int = 5
    store: str = ""
    bus: str = ""
    kill_worker_at: float | None = None
    kill_gateway_at: float | None = None
    instant: bool = False
    config_file: Path | None = None


@dataclass
class _Process:
    role: str
    process: asyncio.subprocess.Process
    line: str = ""
    rss_before_kib: int = 0
    hwm_kib: int = 0


@dataclass
class _SessionResult:
    reconnects: int = 0
    sent: int = 0
    answered: int = 0
    errors: int = 0
    duplicated: int = 0
    added_ms: list[float] = field(default_factory=list)
    model_ms: list[float] = field(default_factory=list)
    reply_ms: list[float] = field(default_factory=list)
    # From the turn's own stamps (one machine, one monotonic clock): edge → worker, and
    # the answer's last token → edge; the rest of the added time is the worker's own.
    inbound_ms: list[float] = field(default_factory=list)
    outbound_ms: list[float] = field(default_factory=list)


def _status_kib(pid: int, field_name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


async def _start(role: str, argv: list[str], ready: str, log: Path) -> _Process:
    with log.open("ab") as errors:  # each process's warnings, kept with the run's folder
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "companion", *argv,
            stdout=asyncio.subprocess.PIPE, stderr=errors,
        )  # fmt: skip
    started = _Process(role, process)
    assert process.stdout is not None
    async with asyncio.timeout(START_TIMEOUT_S):
        while True:
            raw = await process.stdout.readline()
            if not raw:
                raise SimulatorError(f"{role} exited at start ({await process.wait()})")
            if raw.decode().startswith(ready):
                started.line = raw.decode().strip()
                return started


async def _stop(processes: list[_Process]) -> None:
    for p in processes:
        if p.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                p.process.send_signal(signal.SIGTERM)
    for p in processes:
        try:
            await asyncio.wait_for(p.process.wait(), 15)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                p.process.kill()
            await p.process.wait()


@asynccontextmanager
async def _redis(url: str) -> AsyncIterator[str]:
    if url:
        yield url
        return
    with redis_server() as own:
        yield own


def _question_pcm() -> bytes:
    with wave.open(str(QUESTION)) as clip:
        return bytes(clip.readframes(clip.getnframes()))


class _Balancer:
    """What a load balancer in front of the gateways does for one session: its own gateway
    first; after a drop, the next gateway that is not known to be down."""

    def __init__(self, urls: list[str], first: int, token: str, down: set[str]) -> None:
        self._urls, self._next, self._token, self._down = urls, first, token, down
        self.gateways = len(urls)

    def __call__(self, asked: str) -> GatewayClient:
        url = asked
        for _ in range(len(self._urls)):
            url = self._urls[self._next % len(self._urls)]
            self._next += 1
            if url not in self._down:
                break
        return GatewayClient(url, token=self._token, connect_timeout_s=60)


@asynccontextmanager
async def _opened_session(balancer: _Balancer) -> AsyncIterator[ResumingLink]:
    """The session's link: a gateway that dies while the session is still being set up
    sends it to the next, as a load balancer would."""
    for attempt in range(balancer.gateways + 1):
        link = ResumingLink("", connect=balancer, reconnect_for_s=RECONNECT_FOR_S)
        try:
            await link.__aenter__()
        except (EdgeError, OSError):
            if attempt == balancer.gateways:
                raise
            continue
        try:
            yield link
        finally:
            await link.__aexit__(None, None, None)
        return


async def _session(
    balancer: _Balancer, turns: int, user: str, pcm: bytes, result: _SessionResult
) -> None:
    async with _opened_session(balancer) as link:
        out = Sequencer(link.session_id)
        await link.send(out.make(Hello, user=user, device="load", mode="fast"))
        answered: dict[int, asyncio.Event] = {}
        sent_at: dict[int, float] = {}

        async def listen() -> None:
            async for message in link:
                if isinstance(message, AnswerDone):
                    if message.turn_id in answered and answered[message.turn_id].is_set():
                        result.duplicated += 1
                        continue
                    reply_ms = (time.monotonic() - sent_at.get(message.turn_id, 0.0)) * 1000
                    result.answered += 1
                    result.reply_ms.append(reply_ms)
                    result.model_ms.append(message.inference_ms)
                    result.added_ms.append(reply_ms - message.inference_ms)
                    answered.setdefault(message.turn_id, asyncio.Event()).set()
                    stamps = {stage.name: stage.at for stage in message.stages}
                    if "segment_sent" in stamps and "segment_received" in stamps:
                        inbound = stamps["segment_received"] - stamps["segment_sent"]
                        result.inbound_ms.append(inbound * 1000)
                    if "last_token" in stamps:
                        result.outbound_ms.append((time.monotonic() - stamps["last_token"]) * 1000)
                elif isinstance(message, Error) and message.turn_id > 0:
                    result.errors += 1
                    answered.setdefault(message.turn_id, asyncio.Event()).set()

        listening = asyncio.create_task(listen())
        try:
            for turn_id in range(1, turns + 1):
                answered.setdefault(turn_id, asyncio.Event())
                now = time.monotonic()
                sent_at[turn_id] = now
                await link.send(
                    out.make(
                        SpeechSegment, turn_id=turn_id, pcm=pcm, speech_start=now - 3.4,
                        speech_end=now - 0.3, detected_at=now,
                    )
                )  # fmt: skip
                result.sent += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(answered[turn_id].wait(), TURN_DEADLINE_S)
                await asyncio.sleep(PAUSE_BETWEEN_TURNS_S)
            await asyncio.sleep(GRACE_S)
        finally:
            result.reconnects = link.reconnects
            listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening


async def _busy_worker(url: str, ids: set[str]) -> tuple[str, int]:
    """The worker holding the most unacknowledged turns right now (polled until one holds
    any, for up to a few seconds), so the kill lands mid-answer."""
    from redis.asyncio import Redis

    from deploy.bus import keys

    redis = Redis.from_url(url)
    try:
        deadline = time.monotonic() + KILL_SEARCH_S
        while True:
            summary = await redis.xpending(keys.TURNS, keys.WORKERS)
            held = {
                (c["name"].decode() if isinstance(c["name"], bytes) else str(c["name"])): int(
                    c["pending"]
                )
                for c in summary.get("consumers") or []
            }
            busiest = max(ids, key=lambda i: held.get(i, 0))
            if held.get(busiest, 0) > 0 or time.monotonic() > deadline:
                return busiest, held.get(busiest, 0)
            await asyncio.sleep(0.005)
    finally:
        await redis.aclose()


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))], 2)


async def bench_load(
    plan: LoadPlan, *, progress: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    from gateway.accounts import Accounts

    folder = Path(tempfile.mkdtemp(prefix="companion-load-"))
    accounts = Accounts(folder / "gateway")
    users = [f"load{i}" for i in range(plan.sessions)]
    tokens = [accounts.add_device(user, "bench") for user in users]
    accounts.close()
    pcm = _question_pcm()
    processes: list[_Process] = []
    async with _redis(plan.bus) as url:
        try:
            progress(f"starting {plan.workers} workers and {plan.gateways} gateways on {url}…")
            given = ["--config", str(plan.config_file)] if plan.config_file else []
            # One data folder for all (accounts, the bus secret made there on first use).
            shared = ["--bus", url, "--data-dir", str(folder)]
            store = ["--store", plan.store] if plan.store else []
            instant = ["--instant"] if plan.instant else []
            worker_args = [*given, "cloud", *shared, *store, *instant]
            workers = await asyncio.gather(
                *(
                    _start("worker", worker_args, "cloud worker", folder / f"worker{i}.log")
                    for i in range(plan.workers)
                )
            )
            most = str(max(64, plan.sessions))
            gateway_args = [*given, "gateway", *shared, "--host", "127.0.0.1", "--port", "0",
                            "--max-sessions", most]  # fmt: skip
            gateways = await asyncio.gather(
                *(
                    _start("gateway", gateway_args, "gateway:", folder / f"gateway{i}.log")
                    for i in range(plan.gateways)
                )
            )
            processes = [*workers, *gateways]
            for p in processes:
                p.rss_before_kib = _status_kib(p.process.pid, "VmRSS")
            urls = [g.line.split()[1] for g in gateways]
            progress(f"{plan.sessions} sessions × {plan.turns} turns…")
            results = [_SessionResult() for _ in users]
            killed: list[str] = []
            killed_holding: list[int] = []

            async def kill_one() -> None:
                assert plan.kill_worker_at is not None
                await asyncio.sleep(plan.kill_worker_at)
                by_id = {w.line.split()[2].rstrip(":"): w for w in workers}
                victim_id, holding = await _busy_worker(url, set(by_id))
                victim = by_id[victim_id]
                victim.hwm_kib = _status_kib(victim.process.pid, "VmHWM")
                victim.process.kill()
                killed.append(victim_id)
                killed_holding.append(holding)
                progress(f"killed worker {victim_id} holding {holding} unanswered turn(s)")

            down: set[str] = set()

            async def kill_gateway() -> None:
                assert plan.kill_gateway_at is not None
                await asyncio.sleep(plan.kill_gateway_at)
                victim = gateways[0]
                victim.hwm_kib = _status_kib(victim.process.pid, "VmHWM")
                victim.process.kill()
                down.add(urls[0])  # the balancer's health check notices
                progress(f"killed gateway {urls[0]} at {plan.kill_gateway_at} s")

            started = time.monotonic()
            killers = [
                asyncio.create_task(kill())
                for kill, at in (
                    (kill_one, plan.kill_worker_at),
                    (kill_gateway, plan.kill_gateway_at),
                )
                if at is not None
            ]
            balancers = [_Balancer(urls, i, tokens[i], down) for i in range(plan.sessions)]
            outcomes = await asyncio.gather(
                *(
                    _session(balancers[i], plan.turns, users[i], pcm, results[i])
                    for i in range(plan.sessions)
                ),
                return_exceptions=True,
            )
            wall_s = time.monotonic() - started
            for killer in killers:
                killer.cancel()
            for p in processes:
                if p.process.returncode is None:
                    p.hwm_kib = _status_kib(p.process.pid, "VmHWM")
        finally:
            await _stop(processes)
    failed = [repr(o) for o in outcomes if isinstance(o, BaseException)]
    sent = sum(r.sent for r in results)
    answered = sum(r.answered for r in results)
    errors = sum(r.errors for r in results)
    added = [x for r in results for x in r.added_ms]
    model = [x for r in results for x in r.model_ms]
    reply = [x for r in results for x in r.reply_ms]
    inbound = [x for r in results for x in r.inbound_ms]
    outbound = [x for r in results for x in r.outbound_ms]
    gateway_growth = sum(max(0, g.hwm_kib - g.rss_before_kib) for g in gateways)
    worker_growth = sum(max(0, w.hwm_kib - w.rss_before_kib) for w in workers)
    return {
        "sessions": plan.sessions,
        "logs": str(folder),
        "sessions_failed": len(failed),
        "session_errors": failed[:5],
        "gateways": plan.gateways,
        "workers": plan.workers,
        "store": plan.store or "sqlite",
        "backends": "instant" if plan.instant else "real models",
        "worker_killed_at_s": plan.kill_worker_at,
        "turns_held_by_killed_worker": sum(killed_holding),
        "gateway_killed_at_s": plan.kill_gateway_at,
        "sessions_reconnected": sum(1 for r in results if r.reconnects),
        "turns_sent": sent,
        "turns_answered": answered,
        "turns_refused_with_error": errors,
        "lost": sent - answered - errors,
        "duplicated": sum(r.duplicated for r in results),
        "reply_ms_p50": _percentile(reply, 0.5),
        "reply_ms_p95": _percentile(reply, 0.95),
        "reply_ms_max": round(max(reply), 2) if reply else 0.0,
        "added_latency_ms_p50": _percentile(added, 0.5),
        "added_latency_ms_p95": _percentile(added, 0.95),
        "edge_to_worker_ms_p50": _percentile(inbound, 0.5),
        "edge_to_worker_ms_p95": _percentile(inbound, 0.95),
        "answer_to_edge_ms_p50": _percentile(outbound, 0.5),
        "answer_to_edge_ms_p95": _percentile(outbound, 0.95),
        "model_ms_p50": _percentile(model, 0.5),
        "model_ms_p95": _percentile(model, 0.95),
        "model_ms_mean": round(statistics.fmean(model), 2) if model else 0.0,
        "wall_s": round(wall_s, 2),
        "peak_memory_mib": [
            {
                "role": p.role,
                "pid": p.process.pid,
                "vm_hwm_mib": round(p.hwm_kib / 1024, 1),
                "rss_at_start_mib": round(p.rss_before_kib / 1024, 1),
            }
            for p in processes
        ],
        "gateway_kib_per_session": round(gateway_growth / plan.sessions, 1),
        "worker_kib_per_session": round(worker_growth / plan.sessions, 1),
    }
