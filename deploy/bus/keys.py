"""The names of everything the bus keeps in Redis, in one place."""

from __future__ import annotations

PREFIX = "companion"
# Every question of every session, for whichever worker is free.
TURNS = f"{PREFIX}:turns"
WORKERS = "workers"
# Entries no worker could read (unsigned, forged, malformed, stale), kept for a person.
DEAD_TURNS = f"{PREFIX}:turns:dead"
DEAD_MAXLEN = 1_000
# Interrupts (barge-in) for turns being answered: every worker listens.
INTERRUPTS = f"{PREFIX}:interrupts"
# Which answer modes' backends look at the keyframe (the workers' Control "images").
IMAGE_MODES = f"{PREFIX}:image-modes"
# Gateways with live sessions.
GATEWAYS = f"{PREFIX}:gateways"
GATEWAY_TTL_MS = 10_000


def replies(gateway_id: str) -> str:
    """The stream of answers and notifications for the sessions `gateway_id` holds."""
    return f"{PREFIX}:replies:{gateway_id}"


def gateway_alive(gateway_id: str) -> str:
    return f"{PREFIX}:gateway:{gateway_id}"


def live_sessions(gateway_id: str) -> str:
    """A hash: session id → the user it speaks for, for the sessions `gateway_id` holds."""
    return f"{PREFIX}:sessions:{gateway_id}"


def turn_state(turn_key: str) -> str:
    """The turn's idempotency key: the answering attempt (a lease), then "done"."""
    return f"{PREFIX}:turn:{turn_key}"


def interrupted(turn_key: str) -> str:
    """Kept briefly, so a worker that takes the turn after the interrupt was published sees it."""
    return f"{PREFIX}:interrupted:{turn_key}"


def question_rate(user: str) -> str:
    """A sorted set of `user`'s questions in the rate window, from every gateway."""
    return f"{PREFIX}:rate:{user}"
