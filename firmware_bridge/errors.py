"""What the bridge raises on purpose: one small hierarchy, messages that say what to do.

Bad data from the radio is never an exception: the decoders count it and go
on. These are for callers' mistakes and for links that cannot be used.
"""

from __future__ import annotations


class BridgeError(Exception):
    """Base of every error the firmware bridge raises deliberately."""


class UnknownCodecError(BridgeError):
    """The glasses announced a codec id this bridge cannot decode."""


class CodecError(BridgeError):
    """One codec packet could not be decoded (the stream decoders turn it into silence)."""


class LinkError(BridgeError):
    """The link to the glasses could not be opened, or a read or write on it failed."""
