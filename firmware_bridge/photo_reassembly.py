"""Putting photo notifications back into JPEGs, and dropping the ones that did not make it.

Sans-I/O like the audio side: `push()` takes one notification and its arrival
time and returns finished or dropped photos. Each notification is
`frame index (u16 LE) | JPEG bytes`, indices start at 0 for every photo and
`FF FF` ends it (OpenGlass firmware, `firmware.ino`; Omi's omiGlass keeps the
layout).

The index restarting at 0 is the only sign of a new photo, so a photo cut off
by a new one (the camera re-triggered, the link hiccupped) is recognised when
chunk 0 (or any chunk index it already holds) arrives again with different
bytes, or when a chunk follows one shorter than the firmware's chunk size
(only a photo's last chunk is short). A photo whose end marker was lost is
kept if its chunks form a whole JPEG (SOI … EOI); everything else is dropped
with a reason and counted, and the next photo decodes normally. Chunks
identical to the photo just finished, arriving within `straggler_s` of it,
are late copies (a camera never sends the same bytes twice: sensor noise).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from firmware_bridge.omi_protocol import PHOTO_END_MARKER, PHOTO_HEADER_BYTES
from protocol.limits import MAX_JPEG_BYTES

DropReason = Literal["cut_off", "missing_chunks", "truncated", "not_jpeg", "too_large"]
"""cut_off: a new photo began before this one ended; missing_chunks: a hole remained;
truncated: no JPEG end-of-image; not_jpeg: no start-of-image; too_large: over the limit."""

DEFAULT_MAX_PHOTO_BYTES = 4 * MAX_JPEG_BYTES
"""Generous: the edge re-encodes photos to MAX_JPEG_BYTES before anything leaves."""

_JPEG_SOI = b"\xff\xd8"
_JPEG_EOI = b"\xff\xd9"


@dataclass(frozen=True, slots=True)
class Photo:
    """One whole JPEG as the glasses sent it."""

    jpeg: bytes
    t_first: float
    """Arrival of its first chunk: the closest we get to when it was taken."""
    t_done: float
    chunks: int


@dataclass(frozen=True, slots=True)
class PhotoDropped:
    reason: DropReason
    t: float
    chunks: int


PhotoEvent = Photo | PhotoDropped


@dataclass(slots=True)
class PhotoReassemblyStats:
    notifications: int = 0
    photos: int = 0
    duplicates: int = 0
    garbled: int = 0
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())


@dataclass(slots=True)
class _Assembly:
    t_first: float
    t_last: float
    chunks: dict[int, bytes] = field(default_factory=dict)
    size: int = 0
    ended_at: float | None = None
    last_index: int | None = None  # of a short chunk: the photo's last

    def is_contiguous(self) -> bool:
        return bool(self.chunks) and max(self.chunks) == len(self.chunks) - 1

    def joined(self) -> bytes:
        return b"".join(self.chunks[i] for i in range(len(self.chunks)))


def looks_like_whole_jpeg(data: bytes) -> bool:
    """Starts with SOI and ends with EOI (ESP32 camera JPEGs may carry a little zero padding)."""
    return data.startswith(_JPEG_SOI) and data.rstrip(b"\x00").endswith(_JPEG_EOI)


class PhotoReassembler:
    """JPEGs from photo notifications; drops incomplete ones with a reason.

    `straggler_s`: after the end marker, how long a missing chunk may still
    arrive (reordering). `idle_s`: the firmware sends a photo's chunks back to
    back, so one that receives nothing for this long without an end marker
    is over; the next chunk starts a new photo, and `expire()` gives it up.
    """

    def __init__(
        self,
        *,
        max_photo_bytes: int = DEFAULT_MAX_PHOTO_BYTES,
        straggler_s: float = 0.5,
        idle_s: float = 2.0,
    ) -> None:
        self.max_photo_bytes = max_photo_bytes
        self.straggler_s = straggler_s
        self.idle_s = idle_s
        self.stats = PhotoReassemblyStats()
        self._current: _Assembly | None = None
        self._finished: dict[int, bytes] = {}  # the last photo's chunks, to spot late copies
        self._skipping = False  # dropped as too large: ignore its remaining chunks
        self._chunk_bytes = 0  # the largest chunk seen: the firmware's chunk size
        self._orphan_end: float | None = None  # an end marker that came with no photo open
        self._finished_at = -math.inf

    def push(self, value: bytes, t: float) -> list[PhotoEvent]:
        """Take one photo notification that arrived at `t`."""
        self.stats.notifications += 1
        events = self._finish_if_stale(t)
        if len(value) < PHOTO_HEADER_BYTES:
            self.stats.garbled += 1
            return events
        index = int.from_bytes(value[:PHOTO_HEADER_BYTES], "little")
        chunk = value[PHOTO_HEADER_BYTES:]
        if index == PHOTO_END_MARKER:
            return events + self._end(t)
        if not chunk:
            self.stats.garbled += 1
            return events
        return events + self._add(index, chunk, t)

    def expire(self, now: float) -> list[PhotoEvent]:
        """Give up on a photo whose stragglers or next chunks are overdue."""
        return self._finish_if_stale(now)

    def flush(self) -> list[PhotoEvent]:
        """End of stream: whatever is in progress is finished or dropped now."""
        if self._orphan_end is not None:
            self.stats.duplicates += 1
            self._orphan_end = None
        current = self._current
        if current is None:
            return []
        return self._finish(current, current.t_last, cut_off=current.ended_at is None)

    def _add(self, index: int, chunk: bytes, t: float) -> list[PhotoEvent]:
        events: list[PhotoEvent] = []
        current = self._current
        if current is None:
            if self._skipping and index != 0:
                return events
            recent = t - self._finished_at <= self.straggler_s
            if self._finished.get(index) == chunk and (index != 0 or recent):
                # A late copy from the photo just finished; the same photo sent again
                # (a static scene) starts over at chunk 0, seconds later.
                self.stats.duplicates += 1
                return events
            current = self._start(t)
        elif index in current.chunks and current.chunks[index] == chunk:
            self.stats.duplicates += 1
            return events
        elif index in current.chunks or self._starts_another_photo(current, index, chunk):
            events += self._finish(current, t, cut_off=current.ended_at is None)
            current = self._start(t)
        self._chunk_bytes = max(self._chunk_bytes, len(chunk))
        if len(chunk) < self._chunk_bytes:
            last = current.last_index
            current.last_index = index if last is None else min(index, last)
        current.chunks[index] = chunk
        current.size += len(chunk)
        current.t_last = t
        if current.size > self.max_photo_bytes:
            self._skipping = True
            return events + self._drop(current, "too_large", t)
        if current.ended_at is not None and self._is_whole(current):
            events += self._finish(current, t, cut_off=False)
        return events

    def _starts_another_photo(self, current: _Assembly, index: int, chunk: bytes) -> bool:
        """The firmware fills every chunk but the last, so a short chunk ends a photo."""
        if current.last_index is not None and index > current.last_index:
            return True
        return len(chunk) < self._chunk_bytes and index < max(current.chunks)

    def _start(self, t: float) -> _Assembly:
        self._skipping = False
        self._current = _Assembly(t_first=t, t_last=t)
        orphan, self._orphan_end = self._orphan_end, None
        if orphan is not None and t - orphan <= self.straggler_s:
            self._current.ended_at = t  # its end marker overtook its chunks
        elif orphan is not None:
            self.stats.duplicates += 1
        return self._current

    def _end(self, t: float) -> list[PhotoEvent]:
        current = self._current
        if current is None:
            if not self._skipping:
                # A repeated end marker, or one that overtook its photo's chunks.
                self.stats.duplicates += int(self._orphan_end is not None)
                self._orphan_end = t
            return []
        current.ended_at = t
        if self._is_whole(current):
            return self._finish(current, t, cut_off=False)
        return []

    def _is_whole(self, current: _Assembly) -> bool:
        return current.is_contiguous() and looks_like_whole_jpeg(current.joined())

    def _finish_if_stale(self, now: float) -> list[PhotoEvent]:
        current = self._current
        if current is None:
            return []
        if current.ended_at is not None and now - current.ended_at > self.straggler_s:
            return self._finish(current, now, cut_off=False)
        if current.ended_at is None and now - current.t_last > self.idle_s:
            return self._finish(current, now, cut_off=True)
        return []

    def _finish(self, current: _Assembly, t: float, *, cut_off: bool) -> list[PhotoEvent]:
        """Deliver the photo if it is a whole JPEG, whatever happened to its end marker."""
        if current.ended_at is None and self._only_late_copies(current):
            return []
        if not current.is_contiguous():
            return self._drop(current, "cut_off" if cut_off else "missing_chunks", t)
        jpeg = current.joined()
        if not jpeg.startswith(_JPEG_SOI):
            return self._drop(current, "not_jpeg", t)
        if not looks_like_whole_jpeg(jpeg):
            return self._drop(current, "cut_off" if cut_off else "truncated", t)
        self._close(current)
        self.stats.photos += 1
        return [Photo(jpeg, current.t_first, t, len(current.chunks))]

    def _only_late_copies(self, current: _Assembly) -> bool:
        """Nothing but copies of the previous photo's chunks: count them as duplicates."""
        if any(self._finished.get(index) != chunk for index, chunk in current.chunks.items()):
            return False
        self.stats.duplicates += len(current.chunks)
        self._current = None
        return True

    def _drop(self, current: _Assembly, reason: DropReason, t: float) -> list[PhotoEvent]:
        if reason != "too_large" and self._only_late_copies(current):
            return []
        self._close(current)
        self.stats.dropped[reason] = self.stats.dropped.get(reason, 0) + 1
        return [PhotoDropped(reason, t, len(current.chunks))]

    def _close(self, current: _Assembly) -> None:
        self._finished = current.chunks
        self._finished_at = current.t_last
        self._current = None
