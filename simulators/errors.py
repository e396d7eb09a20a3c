"""What the simulators raise on purpose: one small hierarchy, messages that say what to do.

A scenario file that cannot be run (`scenarios.ScenarioError`) derives from
`SimulatorError`; a recording that cannot be decoded is the edge's `MediaError`,
since the same check guards live capture.
"""

from __future__ import annotations


class SimulatorError(Exception):
    """Base of every error the simulators raise deliberately."""
