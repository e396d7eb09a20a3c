"""What the cloud raises on purpose: one small hierarchy, messages that say what to do."""

from __future__ import annotations


class CloudError(Exception):
    """Base of every error the cloud raises deliberately."""


class ModelError(CloudError):
    """A model could not be found, verified, loaded or run."""
