"""Per-user rate limits: a token bucket per (user, kind of request).

Pure logic with the time passed in, so it is tested without sleeping. One
process keeps its buckets in memory; gateways behind a load balancer would
keep them in Redis with the same arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from protocol.limits import MAX_PAIRING_ATTEMPTS_PER_MINUTE, MAX_PAIRING_BURST


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `burst` at once, refilled at `per_minute` a minute."""

    per_minute: float
    burst: int

    def describe(self) -> str:
        return f"{self.per_minute:g} per minute (bursts of {self.burst})"


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after_s: float = 0.0


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class RateLimiter:
    """Buckets keyed by (user, kind); each kind has its own `Limit`."""

    limits: dict[str, Limit]
    _buckets: dict[tuple[str, str], _Bucket] = field(default_factory=dict)

    def check(self, user: str, kind: str, now: float) -> Verdict:
        """Spend one token of `user`'s `kind` bucket, or say how long until one is free."""
        limit = self.limits[kind]
        bucket = self._buckets.get((user, kind))
        if bucket is None:
            bucket = self._buckets[(user, kind)] = _Bucket(float(limit.burst), now)
        rate = limit.per_minute / 60.0
        bucket.tokens = min(float(limit.burst), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return Verdict(True)
        return Verdict(False, (1.0 - bucket.tokens) / rate if rate > 0 else float("inf"))


DEFAULT_LIMITS = {
    # Signalling: a reconnecting phone opens a session every few seconds at worst.
    "session": Limit(per_minute=30, burst=10),
    # Reads and writes of history, memory and settings from the app.
    "api": Limit(per_minute=600, burst=120),
    # Questions (typed or spoken) reaching the cloud.
    "question": Limit(per_minute=60, burst=20),
}
# Pairing attempts per client address (nobody is signed in yet): protocol.limits says why.
PAIRING_LIMIT = Limit(per_minute=MAX_PAIRING_ATTEMPTS_PER_MINUTE, burst=MAX_PAIRING_BURST)
