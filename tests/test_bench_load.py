"""`companion bench load` on real processes: gateways and workers on a real Redis,
sessions over real WebRTC, a worker SIGKILLed while it holds a turn and a gateway
SIGKILLed mid-session (its sessions reconnect to the other and resend)."""

from __future__ import annotations

from simulators.bench_load import LoadPlan, bench_load


async def test_killed_worker_and_gateway_lose_no_turn_and_none_is_answered_twice() -> None:
    plan = LoadPlan(
        sessions=4,
        gateways=2,
        workers=2,
        turns=6,  # so every session is still asking when the gateway is killed
        kill_worker_at=1.0,
        kill_gateway_at=1.5,
        instant=True,
    )
    result = await bench_load(plan)
    assert result["sessions_failed"] == 0, result["session_errors"]
    assert result["turns_sent"] == 24
    assert result["turns_answered"] == 24
    assert result["lost"] == 0 and result["duplicated"] == 0
    assert result["turns_held_by_killed_worker"] >= 1  # the kill landed mid-answer
    assert result["sessions_reconnected"] == 2  # the killed gateway's half moved over
    roles = sorted(p["role"] for p in result["peak_memory_mib"])
    assert roles == ["gateway", "gateway", "worker", "worker"]
    assert all(p["vm_hwm_mib"] > 0 for p in result["peak_memory_mib"])
