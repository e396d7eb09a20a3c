"""One user's embeddings in memory, for brute-force cosine search.

A contiguous float32 matrix of unit vectors makes a query one matrix-vector
product: about 1 ms for 10k memories on one core, with no approximate index to
build, tune or keep in step with deletes. Rows are swapped into the holes that
deletes leave, so the matrix stays dense. Pure data structure: the store
fills it from disk and keeps it in step after each committed write.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from cloud.memory.embedder import Embedder
from cloud.memory.errors import MemoryStoreError

FloatArray = npt.NDArray[np.float32]
KeyArray = npt.NDArray[np.int64]


def normalised(vectors: FloatArray) -> FloatArray:
    """Rows scaled to unit length (zero rows stay zero), as contiguous float32."""
    array = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(array, axis=-1, keepdims=True)
    return np.ascontiguousarray(array / np.maximum(norms, np.float32(1e-12)), dtype=np.float32)


class VectorIndex:
    """Unit embeddings keyed by the store's row id, with the fields ranking and dedupe read."""

    def __init__(self, dimension: int, capacity: int = 256) -> None:
        self.dimension = dimension
        self._matrix: FloatArray = np.zeros((max(capacity, 1), dimension), dtype=np.float32)
        self._keys: KeyArray = np.zeros(max(capacity, 1), dtype=np.int64)
        self._kinds = np.zeros(max(capacity, 1), dtype=np.int8)
        self._times = np.zeros(max(capacity, 1), dtype=np.float64)
        self._importance = np.zeros(max(capacity, 1), dtype=np.float32)
        self._rows: dict[int, int] = {}

    @classmethod
    def from_arrays(
        cls,
        *,
        keys: KeyArray,
        vectors: FloatArray,
        kinds: npt.NDArray[np.int8],
        times_s: npt.NDArray[np.float64],
        importance: FloatArray,
    ) -> VectorIndex:
        """An index over many rows at once, as loaded from disk (vectors re-normalised)."""
        count, dimension = vectors.shape
        index = cls(dimension, capacity=max(256, count + count // 4))
        index._matrix[:count] = normalised(vectors)
        index._keys[:count] = keys
        index._kinds[:count] = kinds
        index._times[:count] = times_s
        index._importance[:count] = importance
        index._rows = {int(key): row for row, key in enumerate(keys.tolist())}
        if len(index._rows) != count:
            raise ValueError("duplicate keys")
        return index

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    def add(
        self, key: int, vector: FloatArray, kind: int, time_s: float, importance: float
    ) -> None:
        if key in self._rows:
            raise KeyError(f"key {key} is already in the index")
        row = len(self._rows)
        if row == self._matrix.shape[0]:
            self._grow(2 * row)
        self._matrix[row] = self._unit(vector)
        self._keys[row] = key
        self._kinds[row] = kind
        self._times[row] = time_s
        self._importance[row] = importance
        self._rows[key] = row

    def update(
        self,
        key: int,
        *,
        vector: FloatArray | None = None,
        kind: int | None = None,
        time_s: float | None = None,
        importance: float | None = None,
    ) -> None:
        row = self._rows[key]
        if vector is not None:
            self._matrix[row] = self._unit(vector)
        if kind is not None:
            self._kinds[row] = kind
        if time_s is not None:
            self._times[row] = time_s
        if importance is not None:
            self._importance[row] = importance

    def remove(self, key: int) -> None:
        row = self._rows.pop(key)
        last = len(self._rows)
        if row != last:
            moved = int(self._keys[last])
            self._matrix[row] = self._matrix[last]
            self._keys[row] = moved
            self._kinds[row] = self._kinds[last]
            self._times[row] = self._times[last]
            self._importance[row] = self._importance[last]
            self._rows[moved] = row

    def meta(self, key: int) -> tuple[float, float]:
        """(event time in Unix seconds, importance) of one memory."""
        row = self._rows[key]
        return float(self._times[row]), float(self._importance[row])

    def cosine(self, key: int, query: FloatArray) -> float:
        return float(self._matrix[self._rows[key]] @ query)

    def nearest(
        self, query: FloatArray, k: int, time_range: tuple[float, float] | None = None
    ) -> tuple[KeyArray, FloatArray]:
        """Keys and cosines of the `k` most similar embeddings, best first.

        With `time_range` (Unix seconds, start inclusive, end exclusive) only
        memories whose event time lies in it are considered.
        """
        count = len(self._rows)
        if count == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores = self._matrix[:count] @ query
        if time_range is not None:
            times = self._times[:count]
            inside = (times >= time_range[0]) & (times < time_range[1])
            rows = np.flatnonzero(inside)
            if rows.size == 0:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            chosen = scores[rows]
            order = rows[np.argsort(-chosen, kind="stable")[:k]]
            return self._keys[order].copy(), scores[order].astype(np.float32, copy=False)
        if k < count:
            top = np.argpartition(-scores, k - 1)[:k]
            order = top[np.argsort(-scores[top], kind="stable")]
        else:
            order = np.argsort(-scores, kind="stable")
        return self._keys[order].copy(), scores[order].astype(np.float32, copy=False)

    def similar(self, query: FloatArray, kind: int, threshold: float) -> list[tuple[int, float]]:
        """(key, cosine) of every embedding of `kind` above `threshold`, most similar first."""
        count = len(self._rows)
        if count == 0:
            return []
        scores = self._matrix[:count] @ query
        hits = np.flatnonzero((scores > threshold) & (self._kinds[:count] == kind))
        hits = hits[np.argsort(-scores[hits], kind="stable")]
        return [(int(self._keys[row]), float(scores[row])) for row in hits]

    def _unit(self, vector: FloatArray) -> FloatArray:
        if vector.shape != (self.dimension,):
            raise ValueError(f"expected a {self.dimension}-d vector, got shape {vector.shape}")
        return normalised(vector)

    def _grow(self, capacity: int) -> None:
        size = len(self._rows)
        self._matrix = _grown(self._matrix, size, capacity)
        self._keys = _grown(self._keys, size, capacity)
        self._kinds = _grown(self._kinds, size, capacity)
        self._times = _grown(self._times, size, capacity)
        self._importance = _grown(self._importance, size, capacity)


_Scalar = TypeVar("_Scalar", bound=np.generic)


def _grown(array: npt.NDArray[_Scalar], size: int, capacity: int) -> npt.NDArray[_Scalar]:
    bigger = np.zeros((capacity, *array.shape[1:]), dtype=array.dtype)
    bigger[:size] = array[:size]
    return bigger


# How far a memory's vector leans towards its context's (see embed_with_context); 0.3-0.8
# all beat no context on simulators/data/memory_conversations.json, 0.5 had the best MRR.
CONTEXT_WEIGHT = 0.5


def embed_texts(embedder: Embedder, texts: list[str]) -> FloatArray:
    """Unit vectors for `texts`; an embedder that answers in the wrong shape is refused
    before anything is stored with its vectors."""
    vectors = np.asarray(embedder.embed(texts), dtype=np.float32)
    if vectors.shape != (len(texts), embedder.dimension):
        raise MemoryStoreError(
            f"embedder {embedder.name} returned shape {vectors.shape} for "
            f"{len(texts)} texts; expected ({len(texts)}, {embedder.dimension})"
        )
    return normalised(vectors)


def embed_with_context(embedder: Embedder, items: Sequence[tuple[str, str | None]]) -> FloatArray:
    """A memory's vector: its text's, nudged towards its context's where it has one.

    The context (the turns around a conversation turn, the session's date)
    carries meaning the turn alone lacks ("Yes, on Saturday."), but given
    equal weight it makes neighbouring turns look alike; CONTEXT_WEIGHT
    keeps the turn's own words first. Every store embeds with this one function.
    """
    vectors = embed_texts(embedder, [text for text, _ in items])
    with_context = [row for row, (_, context) in enumerate(items) if context]
    if with_context:
        contexts = embed_texts(embedder, [items[row][1] or "" for row in with_context])
        vectors[with_context] += np.float32(CONTEXT_WEIGHT) * contexts
        vectors = normalised(vectors)
    return vectors
