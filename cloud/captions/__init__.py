"""Live captions: a caption line's audio in, a `protocol.Caption` out (see captioner.py)."""

from cloud.captions.captioner import Captioner, EnglishTranscriber

__all__ = ["Captioner", "EnglishTranscriber"]
