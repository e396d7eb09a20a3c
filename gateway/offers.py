"""Whether an SDP offer can ever become a session, checked before anything is opened for it.

aiortc accepts some offers it can never connect (no DTLS fingerprint, no ICE
credentials: its connect task later fails on an assertion nobody awaits) and
raises whatever its parser trips on for others (AssertionError, KeyError,
ValueError, IndexError). Both signalling routes call `check_offer` first, so a
crafted offer is refused with one clear message and costs no cloud socket.
"""

from __future__ import annotations

from aiortc.sdp import SessionDescription

from gateway.errors import GatewayError


class UnusableOffer(GatewayError, ValueError):
    """The offer cannot open a session; the message says why, for the client."""


def check_offer(sdp: str) -> None:
    """Raise UnusableOffer unless `sdp` is an offer Companion's peers could connect."""
    if not any(line.startswith("m=application ") for line in sdp.splitlines()):
        raise UnusableOffer("no data channel; every Companion client speaks over one")
    try:
        parsed = SessionDescription.parse(sdp)
    except Exception as exc:  # the parser's own failures say nothing a client can act on
        raise UnusableOffer(f"SDP does not parse ({type(exc).__name__}: {exc})"[:200]) from None
    for media in parsed.media:
        if media.dtls is None or not media.dtls.fingerprints:
            raise UnusableOffer(f"{media.kind} section has no DTLS fingerprint")
        if media.ice is None or not (media.ice.usernameFragment and media.ice.password):
            raise UnusableOffer(f"{media.kind} section has no ICE credentials")
