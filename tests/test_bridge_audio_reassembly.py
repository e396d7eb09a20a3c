"""Audio notifications survive a real radio: loss, duplicates, reordering, any MTU, counter wrap."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_bridge.audio_decoding import AudioStreamDecoder
from firmware_bridge.audio_reassembly import AudioReassembler, CodecPacket, LostPackets, Resync
from firmware_bridge.codecs import CODECS
from firmware_bridge.framing import AudioFramer
from firmware_bridge.omi_protocol import MAX_MTU, MIN_MTU, CodecId, CounterMode

PCM = CODECS[CodecId.PCM16_16K]
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass
class Radio:
    """What went on air, and what the receiver got after the radio had its way."""

    packets: list[bytes]
    sent: list[tuple[int, bytes]]  # (packet number, notification)
    received: list[tuple[int, bytes]]

    def heard(self) -> set[int]:
        return {p for p, _ in self.received}

    def whole(self) -> set[int]:
        got = Counter(p for p, _ in set(self.received))
        needed = Counter(p for p, _ in self.sent)
        return {p for p in got if got[p] == needed[p]}


def on_air(
    packets: list[bytes],
    *,
    mtu: int,
    mode: CounterMode,
    start_counter: int,
    loss: float = 0.0,
    duplicates: float = 0.0,
    reorder_block: int = 1,
    seed: int = 0,
) -> Radio:
    """Frame packets like the firmware, then lose, duplicate and shuffle within small blocks."""
    framer = AudioFramer(mtu=mtu, counter_mode=mode, start_counter=start_counter)
    sent = [(p, n) for p, packet in enumerate(packets) for n in framer.frame(packet)]
    rng = random.Random(seed)
    kept = []
    for item in sent:
        if rng.random() < loss:
            continue
        kept.append(item)
        if rng.random() < duplicates:
            kept.append(item)
    received: list[tuple[int, bytes]] = []
    for i in range(0, len(kept), reorder_block):
        block = kept[i : i + reorder_block]
        rng.shuffle(block)
        received += block
    return Radio(packets, sent, received)


def pcm_packet(number: int) -> bytes:
    """A PCM16 packet whose every sample says which packet it is."""
    return np.full(160, number + 1, dtype="<i2").tobytes()


def decode(radio: Radio, decoder: AudioStreamDecoder) -> np.ndarray:
    pieces = []
    for i, (_, value) in enumerate(radio.received):
        pieces += decoder.push(value, i * 0.001)
    pieces += decoder.flush()
    return np.concatenate([p.samples for p in pieces]) if pieces else np.zeros(0, np.int16)


damage = st.fixed_dictionaries(
    {
        "mtu": st.integers(MIN_MTU, MAX_MTU),
        "mode": st.sampled_from(["per_notification", "per_packet"]),
        "start_counter": st.integers(0, 65535),
        "loss": st.sampled_from([0.0, 0.02, 0.1, 0.3]),
        "duplicates": st.sampled_from([0.0, 0.05, 0.2]),
        "reorder_block": st.integers(1, 3),
        "seed": st.integers(0, 2**16),
    }
)


@FAST
@given(count=st.integers(1, 40), radio_damage=damage, tell_mode=st.booleans())
def test_surviving_pcm_packets_land_at_their_own_offsets_with_silence_in_the_gaps(
    count: int, radio_damage: dict, tell_mode: bool
) -> None:
    radio = on_air([pcm_packet(p) for p in range(count)], **radio_damage)
    mode = radio_damage["mode"] if tell_mode else None
    samples = decode(radio, AudioStreamDecoder(PCM, counter_mode=mode))
    heard = radio.heard()
    if not heard:
        assert samples.size == 0
        return
    detecting = not tell_mode and radio_damage["mode"] == "per_packet"
    if detecting and (radio_damage["loss"] > 0.02 or count < 5):
        return  # telling the counter modes apart takes a few packets; see the test below
    first, last = min(heard), max(heard)
    assert samples.size == (last - first + 1) * 160
    whole = radio.whole()
    for p in range(first, last + 1):
        slot = samples[(p - first) * 160 : (p - first + 1) * 160]
        assert np.all(slot == (p + 1 if p in whole else 0)), f"packet {p}"


@FAST
@given(count=st.integers(1, 40), radio_damage=damage, packet_bytes=st.sampled_from([160, 320]))
def test_fixed_size_packets_come_out_byte_exact_in_their_slots(
    count: int, radio_damage: dict, packet_bytes: int
) -> None:
    rng = random.Random(count)
    packets = [rng.randbytes(packet_bytes) for _ in range(count)]
    radio = on_air(packets, **radio_damage)
    reassembler = AudioReassembler(packet_bytes=packet_bytes, counter_mode=radio_damage["mode"])
    events = []
    for i, (_, value) in enumerate(radio.received):
        events += reassembler.push(value, i * 0.001)
    events += reassembler.flush()
    if not radio.heard():
        assert events == []
        return
    first, last = min(radio.heard()), max(radio.heard())
    delivered = {e.seq: e.payload for e in events if isinstance(e, CodecPacket)}
    silent = sum(e.count for e in events if isinstance(e, LostPackets))
    assert len(delivered) + silent == last - first + 1
    assert delivered == {p - first: packets[p] for p in radio.whole()}
    assert not any(isinstance(e, Resync) for e in events)


@FAST
@given(
    count=st.integers(1, 40),
    radio_damage=damage.filter(lambda d: d["mtu"] >= 6 + 90),
)
def test_opus_sized_packets_keep_their_slots_when_each_fits_one_notification(
    count: int, radio_damage: dict
) -> None:
    rng = random.Random(count)
    packets = [rng.randbytes(rng.randint(20, 90)) for _ in range(count)]
    radio = on_air(packets, **radio_damage)
    reassembler = AudioReassembler(packet_bytes=None)
    events = []
    for i, (_, value) in enumerate(radio.received):
        events += reassembler.push(value, i * 0.001)
    events += reassembler.flush()
    if not radio.heard():
        return
    first = min(radio.heard())
    delivered = {e.seq: e.payload for e in events if isinstance(e, CodecPacket)}
    assert delivered == {p - first: packets[p] for p in radio.whole()}


@pytest.mark.parametrize("mode", ["per_notification", "per_packet"])
def test_opus_packets_split_across_notifications_keep_their_slots_with_the_per_packet_counter_or_no_loss(
    mode: CounterMode,
) -> None:
    rng = random.Random(7)
    packets = [rng.randbytes(rng.randint(30, 80)) for _ in range(300)]
    loss = 0.05 if mode == "per_packet" else 0.0
    radio = on_air(
        packets,
        mtu=23,
        mode=mode,
        start_counter=65000,
        loss=loss,
        duplicates=0.05,
        reorder_block=3,
        seed=3,
    )
    reassembler = AudioReassembler(packet_bytes=None, counter_mode=mode)
    events = []
    for i, (_, value) in enumerate(radio.received):
        events += reassembler.push(value, i * 0.001)
    events += reassembler.flush()
    first = min(radio.heard())
    delivered = {e.seq: e.payload for e in events if isinstance(e, CodecPacket)}
    for p in radio.whole():
        assert delivered[p - first] == packets[p]


def test_opus_gaps_are_estimated_closely_when_the_firmware_counter_splits_packets() -> None:
    """At MTU 23 a lost run of notifications may hold 1 or 2 Opus packets: close, not exact."""
    rng = random.Random(11)
    packets = [rng.randbytes(rng.randint(30, 80)) for _ in range(1000)]
    radio = on_air(packets, mtu=23, mode="per_notification", start_counter=0, loss=0.05, seed=5)
    reassembler = AudioReassembler(packet_bytes=None)
    events = []
    for i, (_, value) in enumerate(radio.received):
        events += reassembler.push(value, i * 0.001)
    events += reassembler.flush()
    slots = sum(1 if isinstance(e, CodecPacket) else getattr(e, "count", 0) for e in events)
    truth = max(radio.heard()) - min(radio.heard()) + 1
    assert abs(slots - truth) <= truth * 0.02


@pytest.mark.parametrize("mode", ["per_notification", "per_packet"])
def test_the_counter_wraps_from_65535_to_0_without_a_gap(mode: CounterMode) -> None:
    radio = on_air([pcm_packet(p) for p in range(30)], mtu=23, mode=mode, start_counter=65530)
    counters = [int.from_bytes(v[:2], "little") for _, v in radio.sent]
    assert 65535 in counters and 0 in counters
    decoder = AudioStreamDecoder(PCM, counter_mode=mode)
    samples = decode(radio, decoder)
    assert samples.size == 30 * 160
    assert np.array_equal(samples.reshape(30, 160)[:, 0], np.arange(1, 31))
    assert decoder.stats.lost_packets == 0


def test_a_counter_wrap_inside_a_gap_still_counts_the_lost_packets() -> None:
    radio = on_air(
        [pcm_packet(p) for p in range(20)], mtu=100, mode="per_notification", start_counter=65520
    )
    radio.received = [item for item in radio.received if not 4 <= item[0] <= 12]
    decoder = AudioStreamDecoder(PCM)
    samples = decode(radio, decoder)
    assert samples.size == 20 * 160
    assert decoder.stats.lost_packets == 9
    assert np.all(samples[4 * 160 : 13 * 160] == 0)


def test_the_per_packet_counter_of_the_protocol_doc_is_detected_on_a_clean_stream() -> None:
    radio = on_air([pcm_packet(p) for p in range(20)], mtu=100, mode="per_packet", start_counter=0)
    decoder = AudioStreamDecoder(PCM)
    samples = decode(radio, decoder)
    assert decoder.reassembler.counter_mode == "per_packet"
    assert np.array_equal(samples.reshape(20, 160)[:, 0], np.arange(1, 21))


def test_a_lost_fragment_silences_exactly_its_own_packet() -> None:
    radio = on_air(
        [pcm_packet(p) for p in range(10)], mtu=100, mode="per_notification", start_counter=0
    )
    del radio.received[10]  # packet 2's fragment 1 of 4 (94-byte fragments)
    decoder = AudioStreamDecoder(PCM)
    samples = decode(radio, decoder)
    assert samples.size == 10 * 160
    assert np.all(samples[320:480] == 0) and np.all(samples[480:640] == 4)
    assert decoder.stats.incomplete_packets == 1


def test_a_restarted_counter_resyncs_instead_of_inventing_minutes_of_silence() -> None:
    before = on_air(
        [pcm_packet(p) for p in range(20)], mtu=247, mode="per_notification", start_counter=30000
    )
    after = on_air(
        [pcm_packet(p) for p in range(20, 40)], mtu=247, mode="per_notification", start_counter=0
    )
    radio = Radio(before.packets + after.packets, [], before.received + after.received)
    decoder = AudioStreamDecoder(PCM)
    pieces = []
    for i, (_, value) in enumerate(radio.received):
        pieces += decoder.push(value, i * 0.01)
    pieces += decoder.flush()
    samples = np.concatenate([p.samples for p in pieces])
    assert decoder.stats.resyncs == 1
    assert samples.size == 40 * 160
    assert np.array_equal(samples.reshape(40, 160)[:, 0], np.arange(1, 41))
    assert sum(p.resync for p in pieces) == 1


@settings(max_examples=80, deadline=None)
@given(
    garbage=st.lists(st.binary(max_size=40), max_size=60),
    positions=st.lists(st.integers(0, 400), max_size=60),
    packet_bytes=st.sampled_from([None, 160, 320]),
)
def test_garbage_notifications_never_raise_and_are_all_accounted_for(
    garbage: list[bytes], positions: list[int], packet_bytes: int | None
) -> None:
    size = packet_bytes or 50
    radio = on_air(
        [bytes([p % 256]) * size for p in range(100)],
        mtu=60,
        mode="per_notification",
        start_counter=100,
    )
    stream = [v for _, v in radio.received]
    for value, where in zip(garbage, positions, strict=False):
        stream.insert(min(where, len(stream)), value)
    reassembler = AudioReassembler(packet_bytes=packet_bytes)
    for i, value in enumerate(stream):
        reassembler.push(value, i * 0.001)
    reassembler.expire(10.0)
    reassembler.flush()
    assert reassembler.stats.notifications == len(stream)


def test_held_packets_are_released_after_max_hold_when_the_stream_pauses() -> None:
    radio = on_air(
        [pcm_packet(p) for p in range(5)], mtu=247, mode="per_notification", start_counter=0
    )
    reassembler = AudioReassembler(packet_bytes=320, max_hold_s=0.2)
    events = []
    for _, value in radio.received:
        events += reassembler.push(value, 1.0)
    assert events == []  # fewer packets than the window: all held
    assert reassembler.expire(1.1) == []
    released = reassembler.expire(1.25)
    assert [e.seq for e in released if isinstance(e, CodecPacket)] == [0, 1, 2, 3, 4]
