"""Putting audio notifications back into codec packets, whatever the radio did to them.

Sans-I/O: `push()` takes one notification's bytes and its arrival time and
returns events; there is no clock, socket or event loop in here. The events
place every packet on a timeline of packet slots (`seq`), so a lost packet
becomes silence of exactly one packet and everything after it stays where it
belongs: the stream is never shifted.

Each notification is `counter (u16 LE) | index (u8) | codec bytes` (Omi
firmware `transport.c`, `push_to_gatt`). A packet's *key* is the counter of
its first notification: with the firmware's per-notification counter that is
`counter - index`, with the per-packet counter of the Protocol.mdx example it
is `counter` itself. Shipping firmware is assumed until the stream proves
otherwise (notifications sharing a counter with different indices, twice, so
one garbled header cannot flip it); the packets held in the reorder window
are re-keyed when that happens.

What it survives:

- any MTU: fragment sizes are learnt from the data, not configured;
- loss: packets with no fragment become `LostPackets(heard=False)`, packets
  with a missing fragment `LostPackets(heard=True)`; with the per-notification
  counter a gap is measured in notifications and converted to packets (exact
  for fixed-size codecs, and for Opus whenever packets fit one notification,
  which they do at any MTU above ~90 bytes);
- duplicates and reordering within a window of `window_packets` packets:
  a packet is released at once when it is the next one and complete, or when
  the window is full, or after `max_hold_s` (see `expire()`);
- counter wrap at 65535 (counters are unwrapped against the last packet);
- garbage: short notifications are counted as garbled; a counter far from
  the stream is a stray, and only a consistent run of strays (the firmware
  restarted its counter) moves the stream there, marked by `Resync`.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field

from firmware_bridge.omi_protocol import AUDIO_COUNTER_MODULO, AUDIO_HEADER_BYTES, CounterMode

_HALF_COUNTER = AUDIO_COUNTER_MODULO // 2
_RECENT_NOTIFICATIONS = 4096
_RECENT_COUNTERS = 256
_MODE_EVIDENCE_NEEDED = 2
_RESYNC_AFTER_STRAYS = 8


@dataclass(frozen=True, slots=True)
class CodecPacket:
    """One whole codec packet for slot `seq` (0 = the first packet heard)."""

    seq: int
    payload: bytes
    t: float
    """Arrival time of its first notification to arrive."""


@dataclass(frozen=True, slots=True)
class LostPackets:
    """`count` slots from `seq` on must be played as silence."""

    seq: int
    count: int
    heard: bool
    """True when part of the packet arrived but not all of it."""


@dataclass(frozen=True, slots=True)
class Resync:
    """The stream jumped: slot `seq` does not follow the previous one in time."""

    seq: int
    t: float


AudioEvent = CodecPacket | LostPackets | Resync


@dataclass(slots=True)
class AudioReassemblyStats:
    """What happened to the notifications; every one is counted exactly once."""

    notifications: int = 0
    packets: int = 0
    lost_packets: int = 0
    incomplete_packets: int = 0
    duplicates: int = 0
    late: int = 0
    garbled: int = 0
    resyncs: int = 0


@dataclass(slots=True)
class _Fragment:
    counter: int  # unwrapped
    data: bytes


@dataclass(slots=True)
class _Pending:
    t_first: float
    fragments: dict[int, _Fragment] = field(default_factory=dict)

    def is_contiguous(self) -> bool:
        return max(self.fragments) == len(self.fragments) - 1

    def payload(self) -> bytes:
        return b"".join(self.fragments[i].data for i in range(len(self.fragments)))


class AudioReassembler:
    """Codec packets from audio notifications, on a gap-preserving timeline.

    `packet_bytes` is the codec's fixed packet size (PCM16 320, µ-law 160) or
    None for variable-size Opus packets. `counter_mode` None detects it.
    """

    def __init__(
        self,
        *,
        packet_bytes: int | None,
        counter_mode: CounterMode | None = None,
        window_packets: int = 8,
        max_hold_s: float = 0.2,
        max_gap_packets: int = 500,
    ) -> None:
        if window_packets < 1:
            raise ValueError("the reorder window must hold at least one packet")
        self.packet_bytes = packet_bytes
        self.window_packets = window_packets
        self.max_hold_s = max_hold_s
        self.max_gap_packets = max_gap_packets
        self.stats = AudioReassemblyStats()
        self._mode: CounterMode = counter_mode or "per_notification"
        self._mode_is_known = counter_mode is not None
        self._mode_evidence = 0
        self._pending: dict[int, _Pending] = {}
        self._seq = 0
        self._last_key: int | None = None
        self._last_fragments: int | None = None  # of the last packet, when known
        self._ref: int | None = None
        self._recent: OrderedDict[tuple[int, int], None] = OrderedDict()
        self._recent_index: OrderedDict[int, int] = OrderedDict()
        self._strays: list[tuple[bytes, float]] = []
        # What the stream has taught us about fragmenting.
        self._max_fragment = 0
        self._fragments_per_packet: int | None = None  # fixed-size codecs, from a whole packet
        self._max_index_seen = 0
        self._mean_fragments = 1.0  # variable-size codecs
        self._counted_packets = 0
        self._emitted_keys: list[int] = []  # since the last resync, for the fragment-count gcd

    @property
    def counter_mode(self) -> CounterMode:
        return self._mode

    # --- input ------------------------------------------------------------------------------

    def push(self, value: bytes, t: float) -> list[AudioEvent]:
        """Take one audio notification that arrived at `t`; return what it completes."""
        self.stats.notifications += 1
        return self._accept(value, t)

    def expire(self, now: float) -> list[AudioEvent]:
        """Release packets held longer than `max_hold_s`: the stream may have paused."""
        events: list[AudioEvent] = []
        while self._pending:
            key = min(self._pending)
            if now - self._pending[key].t_first < self.max_hold_s:
                break
            events += self._emit(key)
        return events + self._drain()

    def flush(self) -> list[AudioEvent]:
        """Release everything held (end of stream); the reassembler can go on afterwards."""
        events: list[AudioEvent] = []
        while self._pending:
            events += self._emit(min(self._pending))
        return events

    def _accept(self, value: bytes, t: float) -> list[AudioEvent]:
        if len(value) <= AUDIO_HEADER_BYTES:
            self.stats.garbled += 1
            return []
        raw = int.from_bytes(value[:2], "little")
        index = value[2]
        data = value[AUDIO_HEADER_BYTES:]
        if self.packet_bytes is not None and (
            len(data) > self.packet_bytes or index >= self.packet_bytes
        ):
            self.stats.garbled += 1
            return []
        counter = self._unwrap(raw)
        if (counter, index) in self._recent:
            self.stats.duplicates += 1
            return []
        self._note_counter_mode_evidence(counter, index)
        key = self._key(counter, index)
        if self._last_key is not None:
            distance = key - self._last_key
            limit = self.max_gap_packets * self._fragments_estimate()
            if distance > limit or distance < -limit:
                return self._stray(value, t)
            if distance <= 0:
                self._remember(counter, index)
                self.stats.late += 1
                return []
        self._strays.clear()
        self._remember(counter, index)
        pending = self._pending.setdefault(key, _Pending(t))
        pending.fragments[index] = _Fragment(counter, data)
        self._max_fragment = max(self._max_fragment, len(data))
        self._max_index_seen = max(self._max_index_seen, index)
        return self._drain()

    def _unwrap(self, raw: int) -> int:
        if self._ref is None:
            self._ref = raw
            return raw
        delta = (raw - self._ref) % AUDIO_COUNTER_MODULO
        if delta >= _HALF_COUNTER:
            delta -= AUDIO_COUNTER_MODULO
        return self._ref + delta

    def _remember(self, counter: int, index: int) -> None:
        self._recent[(counter, index)] = None
        if len(self._recent) > _RECENT_NOTIFICATIONS:
            self._recent.popitem(last=False)

    def _key(self, counter: int, index: int) -> int:
        return counter - index if self._mode == "per_notification" else counter

    # --- counter mode -----------------------------------------------------------------------

    def _note_counter_mode_evidence(self, counter: int, index: int) -> None:
        """Two notifications with one counter and different indices: the per-packet reading."""
        if self._mode_is_known:
            return
        seen = self._recent_index.get(counter)
        if seen is None:
            self._recent_index[counter] = index
            if len(self._recent_index) > _RECENT_COUNTERS:
                self._recent_index.popitem(last=False)
            return
        if seen == index:
            return
        self._mode_evidence += 1
        if self._mode_evidence >= _MODE_EVIDENCE_NEEDED:
            self._mode = "per_packet"
            self._mode_is_known = True
            self._rekey()

    def _rekey(self) -> None:
        held = self._pending
        self._pending = {}
        for pending in held.values():
            for index, fragment in pending.fragments.items():
                key = self._key(fragment.counter, index)
                target = self._pending.setdefault(key, _Pending(pending.t_first))
                target.t_first = min(target.t_first, pending.t_first)
                target.fragments[index] = fragment

    # --- strays and resync ------------------------------------------------------------------

    def _stray(self, value: bytes, t: float) -> list[AudioEvent]:
        """A counter far from the stream: garbage, unless a consistent run of them follows."""
        self.stats.garbled += 1
        self._strays.append((value, t))
        del self._strays[:-_RESYNC_AFTER_STRAYS]
        if len(self._strays) < _RESYNC_AFTER_STRAYS or not self._strays_agree():
            return []
        strays, self._strays = self._strays, []
        events = self.flush()
        events.append(Resync(self._seq, strays[0][1]))
        self.stats.resyncs += 1
        self.stats.garbled -= len(strays)
        self._last_key = None
        self._last_fragments = None
        self._ref = None
        self._emitted_keys = []
        for stray, arrived in strays:
            events += self._accept(stray, arrived)
        return events

    def _strays_agree(self) -> bool:
        first = int.from_bytes(self._strays[0][0][:2], "little")
        offsets = [
            (int.from_bytes(v[:2], "little") - first + _HALF_COUNTER) % AUDIO_COUNTER_MODULO
            - _HALF_COUNTER
            for v, _ in self._strays
        ]
        return max(offsets) - min(offsets) <= 4 * _RESYNC_AFTER_STRAYS * self._fragments_estimate()

    # --- output -----------------------------------------------------------------------------

    def _drain(self) -> list[AudioEvent]:
        events: list[AudioEvent] = []
        while self._pending:
            key = min(self._pending)
            next_in_line = key == self._expected_key() and self._is_whole(key, final=False)
            if self.packet_bytes is None and self._max_index_seen == 0:
                next_in_line = next_in_line and key + 1 in self._pending
            if not next_in_line and len(self._pending) <= self.window_packets:
                break
            events += self._emit(key)
        return events

    def _expected_key(self) -> int | None:
        """Key of the packet after the last one, where the fragment count makes it certain."""
        if self._last_key is None:
            return None
        if self._mode == "per_packet":
            return self._last_key + 1
        if self._last_fragments is not None:
            return self._last_key + self._last_fragments
        return None

    def _is_whole(self, key: int, *, final: bool) -> bool:
        """All fragments are here: by size for fixed-size codecs, by fragment sizes for Opus.

        When the window forces a decision (`final`), Opus fragments contiguous
        from 0 are taken as the packet: a lost tail then costs one garbled
        packet, never a shifted stream.
        """
        pending = self._pending[key]
        if not pending.is_contiguous():
            return False
        if self.packet_bytes is not None:
            return sum(len(f.data) for f in pending.fragments.values()) == self.packet_bytes
        return final or self._ends_here(key, pending)

    def _ends_here(self, key: int, pending: _Pending) -> bool:
        """The packet's highest fragment so far is known to be its last."""
        return self._fragment_count(key, pending) == max(pending.fragments) + 1

    def _fragment_count(self, key: int, pending: _Pending) -> int | None:
        """How many notifications this Opus packet took, when the fragments tell.

        The firmware fills every fragment but a packet's last, so once the
        stream has shown multi-fragment packets a short fragment is the last
        one, whatever happened to the others; with the per-notification
        counter the next packet's key settles it too.
        """
        if self._max_index_seen == 0:
            return 1  # every packet so far fitted one notification
        for index, fragment in pending.fragments.items():
            if len(fragment.data) < self._max_fragment:
                return index + 1
        count = max(pending.fragments) + 1
        if self._mode == "per_notification" and key + count in self._pending:
            return count
        return None

    def _emit(self, key: int) -> list[AudioEvent]:
        whole = self._is_whole(key, final=True)
        count = self._fragment_count(key, self._pending[key])
        pending = self._pending.pop(key)
        events: list[AudioEvent] = []
        gap = self._packets_lost_before(key)
        if gap > self.max_gap_packets:
            events.append(Resync(self._seq, pending.t_first))
            self.stats.resyncs += 1
            self._emitted_keys = []
        elif gap > 0:
            events.append(LostPackets(self._seq, gap, heard=False))
            self._seq += gap
            self.stats.lost_packets += gap
        if whole:
            events.append(CodecPacket(self._seq, pending.payload(), pending.t_first))
            self.stats.packets += 1
        else:
            events.append(LostPackets(self._seq, 1, heard=True))
            self.stats.incomplete_packets += 1
        self._seq += 1
        self._last_key = key
        self._ref = key
        if self.packet_bytes is None:
            self._last_fragments = count
            if count is not None:
                self._learn_fragment_count(count)
        elif self._mode == "per_notification":
            if whole:
                self._fragments_per_packet = len(pending.fragments)
            self._last_fragments = self._fragments_estimate()
        self._emitted_keys.append(key)
        del self._emitted_keys[:-64]
        return events

    def _packets_lost_before(self, key: int) -> int:
        if self._last_key is None:
            return 0
        distance = key - self._last_key
        if self._mode == "per_packet":
            return max(0, distance - 1)
        if self.packet_bytes is not None:
            return max(0, round(distance / self._fragments_estimate()) - 1)
        if self._last_fragments is not None:
            missing = distance - self._last_fragments
            return 0 if missing <= 0 else max(1, round(missing / self._mean_fragments))
        return max(0, round(distance / self._mean_fragments) - 1)

    def _learn_fragment_count(self, count: int) -> None:
        self._counted_packets += 1
        weight = 1.0 / min(self._counted_packets, 50)
        self._mean_fragments += (count - self._mean_fragments) * weight

    def _fragments_estimate(self) -> int:
        """Notifications per packet, for turning a counter distance into packets."""
        if self._mode == "per_packet":
            return 1
        if self.packet_bytes is None:
            return max(1, round(self._mean_fragments))
        if self._fragments_per_packet is not None:
            return self._fragments_per_packet
        # No whole packet yet: at most ceil(size / largest fragment seen), and it divides
        # the distance between any two packets' keys.
        upper = math.ceil(self.packet_bytes / self._max_fragment) if self._max_fragment else 1
        keys = self._emitted_keys + list(self._pending)
        spacing = 0
        for k in keys[1:]:
            spacing = math.gcd(spacing, k - keys[0])
        if spacing == 0:
            return upper
        return max(d for d in range(1, upper + 1) if spacing % d == 0)
