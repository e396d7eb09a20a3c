"""What the protocol raises on purpose: one base, messages that say what to do."""


class ProtocolError(ValueError):
    """A message could not be encoded or decoded: wrong type, field or size.

    The receiver answers with an `Error` message and keeps the session open.
    Also the base of the package's other errors (a refused session claim, an
    unusable secret file), so the `companion` command reports any of them as
    one line.
    """
