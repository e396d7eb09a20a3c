"""The gateway's settings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class GatewayConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    cloud_url: str = "ws://127.0.0.1:8765"
    # An SDP offer is a few kilobytes; anything far larger is refused unread.
    max_offer_bytes: int = 64 * 1024
    max_sessions: int = 64
