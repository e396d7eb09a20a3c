"""What the gateway raises on purpose: one small hierarchy, messages that say what to do.

Errors a client causes (a refused token, an invalid memory edit) are turned
into an HTTP status or a protocol `Error` at the boundary and never end a
session; the classes themselves live beside the code that raises them
(`accounts.AuthError`, `memory_access.MemoryRefused`, `memory_access.NoSuchMemory`)
and all derive from `GatewayError`, so the `companion` command reports any of
them as one line.
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every error the gateway raises deliberately."""
