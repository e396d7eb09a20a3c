"""`companion bench load` on real processes: gateways and workers on a real Redis,
sessions over real WebRTC, a worker SIGKILLed while it holds a turn."""

from __future__ import annotations

from simulators.bench_load import LoadPlan, bench_load


async def test_a_killed_worker_loses_no_turn_and_none_is_answered_twice() -> None:
    plan = LoadPlan(sessions=3, gateways=2, workers=2, turns=3, kill_worker_at=1.0, instant=True)
    result = await bench_load(plan)
    assert result["sessions_failed"] == 0, result["session_errors"]
    assert result["turns_sent"] == 9
    assert result["turns_answered"] == 9
    assert result["lost"] == 0 and result["duplicated"] == 0
    assert result["turns_held_by_killed_worker"] >= 1  # the kill landed mid-answer
    roles = sorted(p["role"] for p in result["peak_memory_mib"])
    assert roles == ["gateway", "gateway", "worker", "worker"]
    assert all(p["vm_hwm_mib"] > 0 for p in result["peak_memory_mib"])
