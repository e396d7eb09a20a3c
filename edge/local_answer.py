"""What the edge says by itself in local-only mode, where nothing may leave the device.

There is no speech recogniser or language model on the edge, so the answer is
built from what the vision stages found in the keyframe: the text read and
the most likely labels. Pure function, no models.
"""

from __future__ import annotations

from edge.vision.analysis import VisualContext

MAX_TEXT_CHARS = 200
MIN_LABEL_SCORE = 0.15


def local_answer(context: VisualContext | None) -> str:
    """A short spoken-style sentence about the keyframe, or why there is none."""
    if context is None:
        return "I'm in local-only mode and have no camera view, so I can't answer that here."
    parts: list[str] = []
    text = " / ".join(line.text for line in context.ocr).strip()
    if text:
        if len(text) > MAX_TEXT_CHARS:
            text = text[: MAX_TEXT_CHARS - 1].rstrip() + "…"
        parts.append(f"I can see text: {text}.")
    labels = [label.name for label in context.labels if label.score >= MIN_LABEL_SCORE][:2]
    if labels:
        parts.append(f"It looks like {' or '.join(labels)}.")
    if not parts:
        return "I'm in local-only mode and can't make out anything in view."
    return " ".join(parts)
