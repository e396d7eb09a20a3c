"""Per-user token buckets, with the time passed in."""

from __future__ import annotations

from gateway.routes.rate_limits import Limit, RateLimiter


def test_a_burst_is_allowed_then_refused_with_the_wait() -> None:
    limiter = RateLimiter({"api": Limit(per_minute=60, burst=3)})
    assert [limiter.check("alice", "api", 0.0).allowed for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    refused = limiter.check("alice", "api", 0.0)
    assert not refused.allowed and 0.9 < refused.retry_after_s <= 1.0


def test_tokens_refill_with_time() -> None:
    limiter = RateLimiter({"api": Limit(per_minute=60, burst=1)})
    assert limiter.check("alice", "api", 0.0).allowed
    assert not limiter.check("alice", "api", 0.5).allowed
    assert limiter.check("alice", "api", 1.6).allowed


def test_one_user_cannot_spend_another_users_budget() -> None:
    limiter = RateLimiter({"api": Limit(per_minute=1, burst=1), "session": Limit(1, 1)})
    assert limiter.check("alice", "api", 0.0).allowed
    assert not limiter.check("alice", "api", 0.0).allowed
    assert limiter.check("bob", "api", 0.0).allowed
    assert limiter.check("alice", "session", 0.0).allowed
