"""The model side of live captions: one line's audio → one `Caption` message.

The edge (edge/audio/captions.py) decides which audio to transcribe and when;
this thin layer only calls the transcriber and wraps its answer. Speech in
another language is captioned in English (Whisper's own translation) with the
language it was heard in, so the wearer sees "[de] Where is the station?".

A line's language is detected afresh on each revision until Whisper is sure
of it (`PIN_PROBABILITY`); later revisions and the final text reuse it, which
saves one encoder pass each and keeps a line from flipping language mid-way
(one second of speech is often too little to tell).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from cloud.speech.asr import HeardSpeech
from protocol.messages import Caption

PIN_PROBABILITY = 0.8


class EnglishTranscriber(Protocol):
    """What the captioner needs of a transcriber (WhisperTranscriber has it)."""

    def transcribe_into_english(
        self,
        samples: npt.NDArray[np.int16],
        sample_rate: int,
        *,
        language: str | None = None,
        languages: Sequence[str] | None = None,
    ) -> HeardSpeech: ...


class Captioner:
    """Captions for one session: numbers its messages and remembers each open line's language.

    `language` fixes the language (e.g. "en": no detection, no translation);
    otherwise it is detected among `languages` (any Whisper knows when None).
    """

    def __init__(
        self,
        transcriber: EnglishTranscriber,
        *,
        session_id: str,
        language: str | None = None,
        languages: Sequence[str] | None = None,
        sample_rate: int = 16_000,
    ) -> None:
        self.transcriber = transcriber
        self.session_id = session_id
        self.language = language
        self.languages = tuple(languages) if languages else None
        self.sample_rate = sample_rate
        self._seq = 0
        self._line_languages: dict[int, str] = {}

    def caption(
        self,
        *,
        line_id: int,
        samples: npt.NDArray[np.int16],
        final: bool,
        speech_start: float,
        speech_end: float,
        sent_at: float,
    ) -> Caption:
        """The caption for `samples`, line `line_id`'s revision or (`final`) its last text."""
        known = self.language or self._line_languages.get(line_id)
        heard = self.transcriber.transcribe_into_english(
            samples, self.sample_rate, language=known, languages=self.languages
        )
        if final:
            self._line_languages.pop(line_id, None)
        elif known is None and heard.language_probability >= PIN_PROBABILITY:
            self._line_languages[line_id] = heard.language
        self._seq += 1
        return Caption(
            session_id=self.session_id,
            seq=self._seq,
            sent_at=sent_at,
            line_id=line_id,
            text=heard.text,
            final=final,
            language=heard.language,
            translated=heard.translated,
            speech_start=speech_start,
            speech_end=speech_end,
        )
