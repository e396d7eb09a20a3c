"""What the deployment wiring raises on purpose: one base.

Most of `deploy` re-raises the parts' own errors; the bus (gateways and
workers over Redis) has its own failures. Each also keeps the base its
callers already catch (a refused bus entry is a ProtocolError, an unreachable
Redis a ConnectionError), and all derive from `DeployError`, so the
`companion` command reports any of them as one line.
"""

from __future__ import annotations


class DeployError(Exception):
    """Base of every error the deployment wiring raises deliberately."""
