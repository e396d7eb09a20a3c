"""WebRTC settings shared by edge clients and the gateway (which may import edge)."""

from __future__ import annotations

from aiortc import RTCConfiguration

CONTEXT_CHANNEL = "context"


def rtc_configuration() -> RTCConfiguration:
    """No STUN/TURN servers: aiortc's default asks a public STUN server, which a
    closed network (and loopback) never answers, stalling ICE gathering."""
    return RTCConfiguration(iceServers=[])
