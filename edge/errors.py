"""What the edge raises on purpose: one small hierarchy, messages that say what to do."""

from __future__ import annotations


class EdgeError(Exception):
    """Base of every error the edge raises deliberately."""


class ModelError(EdgeError):
    """A model could not be found, verified, loaded or run."""


class MediaError(EdgeError):
    """An image or audio buffer could not be decoded, encoded or fitted to a limit."""
