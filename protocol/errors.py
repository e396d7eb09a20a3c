"""The one exception the protocol raises."""


class ProtocolError(ValueError):
    """A message could not be encoded or decoded: wrong type, field or size.

    The receiver answers with an `Error` message and keeps the session open.
    """
