"""Photo chunks become whole JPEGs, or are dropped with a reason; the next photo always decodes."""

from __future__ import annotations

import random

import cv2
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.framing import frame_photo, photo_chunk_bytes
from firmware_bridge.omi_protocol import MAX_MTU, MIN_MTU
from firmware_bridge.photo_reassembly import Photo, PhotoDropped, PhotoEvent, PhotoReassembler


def fake_jpeg(size: int, seed: int) -> bytes:
    """SOI, a body unique to `seed`, EOI: enough for reassembly, which never parses the body."""
    body = seed.to_bytes(4, "little") + random.Random(seed).randbytes(max(0, size - 8))
    return b"\xff\xd8" + body + b"\xff\xd9"


def real_jpeg(seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    image = cv2.GaussianBlur(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8), (9, 9), 0)
    ok, encoded = cv2.imencode(".jpg", image)
    assert ok
    return bytes(encoded.tobytes())


def feed(
    reassembler: PhotoReassembler, notifications: list[bytes], t: float = 0.0
) -> list[PhotoEvent]:
    """Notifications 1 ms apart from `t`, as the firmware streams a photo."""
    events: list[PhotoEvent] = []
    for i, value in enumerate(notifications):
        events += reassembler.push(value, t + i * 0.001)
    return events


def feed_photos(reassembler: PhotoReassembler, per_photo: list[list[bytes]]) -> list[PhotoEvent]:
    """Each photo's notifications 10 s after the previous photo's (photos are seconds apart)."""
    events: list[PhotoEvent] = []
    for number, notifications in enumerate(per_photo):
        events += feed(reassembler, notifications, t=10.0 * number)
    return events + reassembler.flush()


def photos(events: list[PhotoEvent]) -> list[bytes]:
    return [e.jpeg for e in events if isinstance(e, Photo)]


def shuffled_within(notifications: list[bytes], block: int, rng: random.Random) -> list[bytes]:
    out: list[bytes] = []
    for i in range(0, len(notifications), block):
        part = notifications[i : i + block]
        rng.shuffle(part)
        out += part
    return out


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(8, 3000), min_size=1, max_size=4),
    mtu=st.integers(MIN_MTU, MAX_MTU),
    duplicates=st.sampled_from([0.0, 0.1, 0.3]),
    block=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_every_photo_arrives_intact_and_in_order_despite_duplicates_and_reordering(
    sizes: list[int], mtu: int, duplicates: float, block: int, seed: int
) -> None:
    rng = random.Random(seed)
    sent = [fake_jpeg(size, seed + i) for i, size in enumerate(sizes)]
    per_photo = []
    for jpeg in sent:
        frames = []
        for value in frame_photo(jpeg, chunk_bytes=photo_chunk_bytes(mtu)):
            frames += [value, value] if rng.random() < duplicates else [value]
        per_photo.append(shuffled_within(frames, block, rng))
    reassembler = PhotoReassembler()
    assert photos(feed_photos(reassembler, per_photo)) == sent
    assert reassembler.stats.dropped_total == 0


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(8, 3000), min_size=1, max_size=4),
    mtu=st.integers(MIN_MTU, MAX_MTU),
    loss=st.sampled_from([0.05, 0.2, 0.5]),
    seed=st.integers(0, 2**16),
)
def test_a_photo_whose_chunks_all_arrived_decodes_whatever_happened_to_its_neighbours(
    sizes: list[int], mtu: int, loss: float, seed: int
) -> None:
    rng = random.Random(seed)
    sent = [fake_jpeg(size, seed + i) for i, size in enumerate(sizes)]
    per_photo = []
    intact = []
    for jpeg in sent:
        frames = frame_photo(jpeg, chunk_bytes=photo_chunk_bytes(mtu))
        kept = [v for v in frames if rng.random() >= loss]
        if kept[: len(frames) - 1] == frames[:-1]:  # every chunk; the end marker may be lost
            intact.append(jpeg)
        per_photo.append(kept)
    reassembler = PhotoReassembler()
    delivered = photos(feed_photos(reassembler, per_photo))
    assert all(jpeg in delivered for jpeg in intact)
    assert set(delivered) <= set(sent)
    assert reassembler.stats.notifications == sum(len(p) for p in per_photo)


def test_a_photo_cut_off_mid_transfer_is_dropped_and_counted_and_the_next_one_decodes() -> None:
    first, second = real_jpeg(1), real_jpeg(2)
    cut = frame_photo(first)[:3]  # the camera re-triggered after three chunks
    reassembler = PhotoReassembler()
    events = feed_photos(reassembler, [cut, frame_photo(second)])
    assert photos(events) == [second]
    assert [e.reason for e in events if isinstance(e, PhotoDropped)] == ["cut_off"]
    assert reassembler.stats.dropped == {"cut_off": 1}
    decoded = cv2.imdecode(np.frombuffer(photos(events)[0], np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None and decoded.shape == (120, 160, 3)


def test_a_truncated_jpeg_is_dropped_and_counted_not_delivered() -> None:
    frames = frame_photo(real_jpeg(3))
    del frames[-2]  # the last chunk, with the JPEG end-of-image, never arrives
    reassembler = PhotoReassembler()
    events = feed_photos(reassembler, [frames])
    assert photos(events) == []
    assert reassembler.stats.dropped == {"truncated": 1}


def test_a_photo_with_a_hole_is_dropped_as_missing_chunks_after_the_straggler_wait() -> None:
    frames = frame_photo(real_jpeg(4))
    del frames[1]
    reassembler = PhotoReassembler(straggler_s=0.5)
    events: list[PhotoEvent] = []
    for value in frames:
        events += reassembler.push(value, 10.0)
    assert events == []  # still hoping for chunk 1
    dropped = reassembler.expire(10.6)
    assert [e.reason for e in dropped if isinstance(e, PhotoDropped)] == ["missing_chunks"]


def test_a_late_chunk_after_the_end_marker_still_completes_the_photo() -> None:
    jpeg = real_jpeg(5)
    frames = frame_photo(jpeg)
    late = frames.pop(2)
    reassembler = PhotoReassembler()
    events = feed_photos(reassembler, [[*frames, late]])
    assert photos(events) == [jpeg]


def test_a_lost_end_marker_does_not_lose_a_whole_photo() -> None:
    first, second = real_jpeg(6), real_jpeg(7)
    reassembler = PhotoReassembler()
    events = feed_photos(reassembler, [frame_photo(first)[:-1], frame_photo(second)])
    assert photos(events) == [first, second]


def test_the_same_photo_sent_twice_is_two_photos_but_a_stray_copy_is_a_duplicate() -> None:
    jpeg = real_jpeg(8)
    frames = frame_photo(jpeg)
    reassembler = PhotoReassembler()
    events = feed_photos(reassembler, [[*frames, frames[4]], frames])
    assert photos(events) == [jpeg, jpeg]
    assert reassembler.stats.dropped_total == 0
    assert reassembler.stats.duplicates == 1


def test_something_that_is_not_a_jpeg_is_dropped_as_not_jpeg() -> None:
    reassembler = PhotoReassembler()
    events = feed_photos(reassembler, [frame_photo(b"GIF89a" + bytes(500))])
    assert [e.reason for e in events if isinstance(e, PhotoDropped)] == ["not_jpeg"]


def test_an_oversized_photo_is_dropped_and_the_next_one_decodes() -> None:
    big, small = fake_jpeg(5000, 1), fake_jpeg(300, 2)
    reassembler = PhotoReassembler(max_photo_bytes=2000)
    events = feed_photos(reassembler, [frame_photo(big), frame_photo(small)])
    assert photos(events) == [small]
    assert reassembler.stats.dropped == {"too_large": 1}


@settings(max_examples=100, deadline=None)
@given(garbage=st.lists(st.binary(max_size=30), max_size=80))
def test_garbage_photo_notifications_never_raise(garbage: list[bytes]) -> None:
    reassembler = PhotoReassembler()
    stream = garbage + frame_photo(fake_jpeg(900, 0))
    events = feed_photos(reassembler, [stream])
    reassembler.expire(1e6)
    assert reassembler.stats.notifications == len(stream)
    assert all(isinstance(e, Photo | PhotoDropped) for e in events)
