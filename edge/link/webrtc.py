"""WebRTC settings shared by edge clients and the gateway (which may import edge)."""

from __future__ import annotations

from aiortc import RTCConfiguration

CONTEXT_CHANNEL = "context"


def rtc_configuration() -> RTCConfiguration:
    """No STUN/TURN servers: aiortc's default asks a public STUN server, which a
    closed network (and loopback) never answers, stalling ICE gathering."""
    return RTCConfiguration(iceServers=[])


def offers_data_channel(sdp: str) -> bool:
    """Whether an offer opens a data channel: every Companion peer speaks over one, and an
    offer without one (or text that is not SDP at all) would open a session that can never talk."""
    return any(line.startswith("m=application ") for line in sdp.splitlines())
