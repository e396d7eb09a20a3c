"""Session claims: how the gateway vouches for a session's user to the cloud.

The cloud never believes a user name a peer merely states. When the gateway
opens the cloud websocket for a session it presents a claim, signed with a
secret only the gateway and the cloud hold (HMAC-SHA256), naming the user,
the session id and a near expiry. The cloud checks it before the websocket
upgrade and then takes the session's user from the claim alone.

This module is pure (stdlib hmac and hashlib, the time passed in) so the
gateway signs and the cloud verifies with the same code, and both may import
it: `protocol` is the one package every part may use.

A claim with no user (`user=None`) is what a gateway without accounts signs:
it vouches for the session but leaves the user to the client's Hello, which
is exactly as much as such a gateway knows. A gateway with accounts always
names the user.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

from protocol.errors import ProtocolError

# The HTTP Authorization scheme the gateway uses on the cloud websocket.
CLAIM_SCHEME = "Companion"
# Long enough for a websocket handshake on a busy machine, too short to be worth stealing.
CLAIM_TTL_S = 30.0
MAX_CLAIM_CHARS = 1024
_VERSION = "c1"


class ClaimError(ProtocolError):
    """A claim was refused (malformed, forged or expired); for logs, not for the peer."""


@dataclass(frozen=True, slots=True)
class SessionClaim:
    """What the gateway vouches for: this session speaks for `user` (None: as its Hello says)."""

    user: str | None
    session_id: str
    expires_at: float


def sign_claim(secret: bytes, claim: SessionClaim) -> str:
    """The claim as `c1.<payload>.<signature>`, URL-safe base64 without padding."""
    if not secret:
        raise ClaimError("an empty secret signs nothing")
    body = {"u": claim.user, "s": claim.session_id, "exp": round(claim.expires_at, 3)}
    payload = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
    return f"{_VERSION}.{payload}.{_b64(_mac(secret, payload))}"


def verify_claim(secret: bytes, token: str, *, now: float) -> SessionClaim:
    """The claim `token` carries if `secret` signed it and it has not expired; else ClaimError."""
    if not secret:
        raise ClaimError("no secret to verify with")
    if not isinstance(token, str) or len(token) > MAX_CLAIM_CHARS or not token.isascii():
        raise ClaimError("malformed claim")
    pieces = token.split(".")
    if len(pieces) != 3 or pieces[0] != _VERSION:
        raise ClaimError("malformed claim")
    _, payload, signature = pieces
    if not hmac.compare_digest(_b64(_mac(secret, payload)).encode(), signature.encode()):
        raise ClaimError("bad claim signature")
    try:
        body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        user, session_id, expires_at = body["u"], body["s"], float(body["exp"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ClaimError(f"unreadable claim: {exc}") from None
    if not (user is None or isinstance(user, str)) or not isinstance(session_id, str):
        raise ClaimError("unreadable claim: user and session id must be text")
    if expires_at < now:
        raise ClaimError("claim expired")
    return SessionClaim(user=user, session_id=session_id, expires_at=expires_at)


def authorization_header(secret: bytes, claim: SessionClaim) -> str:
    """The `Authorization` header value that presents `claim`."""
    return f"{CLAIM_SCHEME} {sign_claim(secret, claim)}"


def claim_from_header(value: str | None) -> str:
    """The token in an `Authorization: Companion <claim>` header; ClaimError if absent."""
    if value is None:
        raise ClaimError("no Authorization header")
    scheme, _, token = value.partition(" ")
    if scheme != CLAIM_SCHEME or not token:
        raise ClaimError(f"Authorization must use the {CLAIM_SCHEME} scheme")
    return token.strip()


def _mac(secret: bytes, payload: str) -> bytes:
    return hmac.new(secret, payload.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
