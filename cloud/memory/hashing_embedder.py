"""A deterministic bag-of-words embedder: the stand-in for MiniLM in unit tests.

Each content word is hashed (sha256, so runs and machines agree) to a few signed
dimensions; a text's vector is the normalised sum. Texts with the same content
words have cosine 1 and texts sharing none have cosine near 0, which is all the
store's logic (dedupe, ranking, isolation) needs to be tested without loading a
model. It knows no synonyms: paraphrase retrieval is tested with MiniLM.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from cloud.memory.words import content_words


class HashingEmbedder:
    name = "hashing-bag-of-words"

    def __init__(self, dimension: int = 256, hashes_per_word: int = 2) -> None:
        self.dimension = dimension
        self._hashes = hashes_per_word

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in sorted(content_words(text)):
                digest = hashlib.sha256(word.encode()).digest()
                for h in range(self._hashes):
                    index = int.from_bytes(digest[4 * h : 4 * h + 3], "little") % self.dimension
                    sign = 1.0 if digest[4 * h + 3] & 1 else -1.0
                    out[row, index] += sign
            norm = float(np.linalg.norm(out[row]))
            if norm > 0:
                out[row] /= norm
            else:
                out[row, 0] = 1.0  # a text of only stopwords still gets a unit vector
        return out
