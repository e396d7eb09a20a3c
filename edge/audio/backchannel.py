"""What a short utterance over a spoken answer means: carry on, stop, or a new question.

Listeners say "mhm" and "okay" to show they are following; an assistant that
stops for them is as annoying as one that talks over "stop". The utterance's
transcript is normalised (lower case, no punctuation, repeated letters and
fillers folded: "Mm-hmm." and "mmhm" are one word) and matched whole against
two small lists; anything else is a question and interrupts.
"""

from __future__ import annotations

import re
from typing import Literal

Meaning = Literal["backchannel", "stop", "question"]

# Said to keep the speaker going; matched as the whole normalised utterance.
BACKCHANNELS = frozenset(
    {
        "mhm", "mm", "hm", "uhhuh", "uh huh", "mmhm", "ok", "okay", "ok ok", "okay okay",
        "yeah", "yeah yeah", "yes", "yep", "right", "alright", "all right", "i see", "sure",
        "got it", "cool", "nice", "oh", "ah", "aha", "ahh", "oh okay", "oh i see", "yeah right",
        "uh", "um", "er", "hmm",
    }
)  # fmt: skip
# Said to make it stop; matched as the whole utterance or its first words.
STOPS = frozenset(
    {"stop", "wait", "no", "hold on", "hang on", "shush", "quiet", "enough", "cancel", "pause"}
)
_MAX_STOP_WORDS = 3


def normalise(text: str) -> str:
    """Lower case, letters and spaces only, runs of one letter folded ("mmm" → "mm")."""
    words = re.sub(r"[^a-z' ]+", " ", text.lower().replace("-", "")).replace("'", "").split()
    return " ".join(re.sub(r"(.)\1{2,}", r"\1\1", w) for w in words)


def meaning(transcript: str) -> Meaning:
    """What `transcript`, said over a spoken answer, asks of the assistant."""
    said = normalise(transcript)
    folded = re.sub(r"(.)\1+", r"\1", said)  # "mmhmm" → "mhm", "okay okay" kept
    # Nothing recognisable (a cough, a breath) does not end an answer either.
    if not said or said in BACKCHANNELS or folded in BACKCHANNELS:
        return "backchannel"
    words = said.split()
    if len(words) <= _MAX_STOP_WORDS and any(
        " ".join(words[:n]) in STOPS for n in range(1, len(words) + 1)
    ):
        return "stop"
    return "question"
