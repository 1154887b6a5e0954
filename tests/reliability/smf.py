"""Raw Standard MIDI File bytes for hostile-input tests: valid seeds and the ways to break them.

mido writes the seeds (so they are valid to a real writer); the mutations then work on bytes,
because the interesting files are the ones no writer would produce: chunk lengths that lie,
delta times of 2**28 ticks, data bytes without a status, sysex of absurd length.
"""

from __future__ import annotations

import io
import random
import struct
from collections.abc import Callable, Sequence

import mido

DRUM_PITCHES = (36, 38, 42, 46, 45, 48, 50, 49, 51, 37, 39, 44)


def vlq(value: int) -> bytes:
    """A MIDI variable-length quantity (0 .. 0x0FFFFFFF)."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def chunk(tag: bytes, body: bytes, length: int | None = None) -> bytes:
    """A chunk; ``length`` overrides (lies about) the real body length."""
    return tag + struct.pack(">I", len(body) if length is None else length) + body


def header(fmt: int = 1, ntracks: int = 1, division: int = 96) -> bytes:
    """The MThd chunk (``division`` as a raw 16-bit value: 0x8000 and up is SMPTE)."""
    return chunk(b"MThd", struct.pack(">HHH", fmt, ntracks, division & 0xFFFF))


def smf(tracks: Sequence[bytes], *, fmt: int = 1, division: int = 96) -> bytes:
    """A file of raw track bodies (each gets its MTrk chunk)."""
    return header(fmt, len(tracks), division) + b"".join(chunk(b"MTrk", t) for t in tracks)


END = b"\x00\xff\x2f\x00"


def drum_body(bars: int = 4, division: int = 96, seed: int = 0, status: bool = True) -> bytes:
    """A channel-10 track body with a hit on most 16ths (running status when ``status``)."""
    rng = random.Random(seed)
    step = max(1, division // 4)
    body = bytearray()
    first = True
    for _ in range(bars * 16):
        pitch = rng.choice(DRUM_PITCHES)
        body += vlq(0) + (b"\x99" if first or not status else b"") + bytes([pitch, 100])
        body += vlq(step) + (b"\x99" if not status else b"") + bytes([pitch, 0])
        first = False
    return bytes(body) + END


def mido_seed(kind: int) -> bytes:
    """Valid mido-written files: 0 type-1 groove, 1 type-0 with tempo/sysex, 2 3/4 then 4/4."""
    rng = random.Random(kind)
    if kind == 0:
        tpb = 480
        conductor = mido.MidiTrack(
            [
                mido.MetaMessage("track_name", name="seed", time=0),
                mido.MetaMessage("set_tempo", tempo=500000, time=0),
                mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0),
            ]
        )
        drums = mido.MidiTrack()
        for _ in range(64):
            pitch = rng.choice(DRUM_PITCHES)
            drums.append(mido.Message("note_on", channel=9, note=pitch, velocity=90, time=0))
            drums.append(mido.Message("note_off", channel=9, note=pitch, velocity=0, time=120))
        midi = mido.MidiFile(type=1, ticks_per_beat=tpb, tracks=[conductor, drums])
    elif kind == 1:
        track = mido.MidiTrack(
            [
                mido.MetaMessage("set_tempo", tempo=400000, time=0),
                mido.Message("sysex", data=[0x7E, 0x7F, 0x09, 0x01], time=0),
                mido.Message("program_change", channel=0, program=5, time=0),
                mido.Message("control_change", channel=9, control=7, value=100, time=0),
                mido.Message("pitchwheel", channel=0, pitch=1000, time=0),
            ]
        )
        for i in range(48):
            track.append(mido.Message("note_on", channel=9, note=36 + i % 12, velocity=70, time=0))
            track.append(mido.Message("note_on", channel=9, note=36 + i % 12, velocity=0, time=24))
        midi = mido.MidiFile(type=0, ticks_per_beat=96, tracks=[track])
    else:
        track = mido.MidiTrack(
            [mido.MetaMessage("time_signature", numerator=3, denominator=4, time=0)]
        )
        for i in range(40):
            if i == 24:
                track.append(mido.MetaMessage("time_signature", numerator=4, denominator=4))
            track.append(mido.Message("note_on", channel=9, note=42, velocity=60 + i, time=0))
            track.append(mido.Message("note_off", channel=9, note=42, velocity=0, time=60))
        midi = mido.MidiFile(type=1, ticks_per_beat=240, tracks=[track])
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def seeds() -> list[bytes]:
    """Every valid starting file (mido-written, plus raw running-status bodies)."""
    return [
        mido_seed(0),
        mido_seed(1),
        mido_seed(2),
        smf([drum_body(4, 96, seed=1)], fmt=0),
        smf([drum_body(2, 480, seed=2, status=False), drum_body(2, 480, seed=3)]),
    ]


def chunk_offsets(data: bytes) -> list[int]:
    """Offsets of the 4-byte length fields of the chunks that can be walked in ``data``."""
    offsets = []
    position = 0
    while position + 8 <= len(data):
        offsets.append(position + 4)
        (length,) = struct.unpack(">I", data[position + 4 : position + 8])
        position += 8 + length
    return offsets


# Mutations: each takes (data, rng) and returns new bytes.
Mutation = Callable[[bytes, random.Random], bytes]


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def lie_length(data: bytes, rng: random.Random) -> bytes:
    offsets = chunk_offsets(data)
    if not offsets:
        return data
    at = rng.choice(offsets)
    (real,) = struct.unpack(">I", data[at : at + 4])
    value = rng.choice([0, 1, 5, real - 1, real + 1, real * 2, 2**31 - 1, 0xFFFFFFFF])
    return data[:at] + struct.pack(">I", max(0, min(value, 0xFFFFFFFF))) + data[at + 4 :]


def bit_flips(data: bytes, rng: random.Random) -> bytes:
    blob = bytearray(data)
    for _ in range(rng.randint(1, 12)):
        blob[rng.randrange(len(blob))] ^= 1 << rng.randrange(8)
    return bytes(blob)


def overwrite(data: bytes, rng: random.Random) -> bytes:
    blob = bytearray(data)
    start = rng.randrange(len(blob))
    for i in range(start, min(len(blob), start + rng.randint(1, 16))):
        blob[i] = rng.randrange(256)
    return bytes(blob)


def _insert_in_track(data: bytes, rng: random.Random, event: bytes) -> bytes:
    """Insert raw ``event`` bytes at the start of the last track and fix its length."""
    offsets = chunk_offsets(data)
    if len(offsets) < 2:
        return data + chunk(b"MTrk", event + END)
    at = offsets[-1]
    (length,) = struct.unpack(">I", data[at : at + 4])
    body = data[at + 4 : at + 4 + length]
    return (
        data[:at]
        + struct.pack(">I", len(event) + len(body))
        + event
        + body
        + data[at + 4 + length :]
    )


def huge_delta(data: bytes, rng: random.Random) -> bytes:
    delta = rng.choice([0x0FFFFFFF, 0x0FFFFF00, 2**21, 10**6])
    repeats = rng.randint(1, 40)
    event = (vlq(delta) + b"\x99\x24\x64") * repeats
    if rng.random() < 0.3:
        event = b"\xff\xff\xff\xff\xff\x99\x24\x64"  # a VLQ that never ends
    return _insert_in_track(data, rng, event)


def absurd_tempo(data: bytes, rng: random.Random) -> bytes:
    tempo = rng.choice([b"\x00\x00\x00", b"\xff\xff\xff", b"\x00\x00\x01"])
    length = rng.choice([b"\x03", b"\x00", b"\x7f", b"\x83\xff\xff\x7f"])
    return _insert_in_track(data, rng, b"\x00\xff\x51" + length + tempo)


def odd_signature(data: bytes, rng: random.Random) -> bytes:
    num, den = rng.choice([(0, 0), (255, 255), (4, 31), (4, 0), (1, 7)])
    return _insert_in_track(data, rng, b"\x00\xff\x58\x04" + bytes([num, den, 24, 8]))


def running_status_abuse(data: bytes, rng: random.Random) -> bytes:
    choice = rng.randrange(4)
    if choice == 0:  # data bytes before any status byte
        event = b"\x00\x24\x64\x00\x26\x64"
    elif choice == 1:  # a meta between running-status events
        event = b"\x00\x99\x24\x64\x00\xff\x01\x01x\x00\x26\x64"
    elif choice == 2:  # sysex then running status (sysex cancels it)
        event = b"\x00\x99\x24\x64\x00\xf0\x01\xf7\x00\x26\x64"
    else:  # realtime/system common bytes in the stream
        event = b"\x00\xf8\x00\xf1\x10\x00\xf2\x01\x02\x00\x24\x64"
    return _insert_in_track(data, rng, event)


def sysex_garbage(data: bytes, rng: random.Random) -> bytes:
    payload = bytes(rng.randrange(256) for _ in range(rng.randint(0, 64)))
    length = rng.choice([len(payload), len(payload) + 1000, 0x0FFFFFFF])
    kind = rng.choice([b"\xf0", b"\xf7"])
    return _insert_in_track(data, rng, b"\x00" + kind + vlq(length) + payload)


def many_tracks(data: bytes, rng: random.Random) -> bytes:
    count = rng.choice([1000, 3000, 0xFFFF])
    real = rng.choice([0, 10, 2000])
    head = header(1, count, 96)
    return head + chunk(b"MTrk", END) * real + data[14:]


def odd_division(data: bytes, rng: random.Random) -> bytes:
    division = rng.choice([0, 1, 0x7FFF, 0xE728, 0x8000, 3])
    return data[:12] + struct.pack(">H", division) + data[14:]


def odd_format(data: bytes, rng: random.Random) -> bytes:
    fmt = rng.choice([2, 3, 0xFFFF])
    return data[:8] + struct.pack(">H", fmt) + data[10:]


def junk_chunks(data: bytes, rng: random.Random) -> bytes:
    junk = chunk(b"XFIH", bytes(rng.randrange(256) for _ in range(rng.randint(0, 32))))
    return data[:14] + junk + data[14:] + junk


MUTATIONS: dict[str, Mutation] = {
    "truncate": truncate,
    "lie_length": lie_length,
    "bit_flips": bit_flips,
    "overwrite": overwrite,
    "huge_delta": huge_delta,
    "absurd_tempo": absurd_tempo,
    "odd_signature": odd_signature,
    "running_status": running_status_abuse,
    "sysex_garbage": sysex_garbage,
    "many_tracks": many_tracks,
    "odd_division": odd_division,
    "odd_format": odd_format,
    "junk_chunks": junk_chunks,
}


def mutate(data: bytes, names: Sequence[str], seed: int) -> bytes:
    """Apply the named mutations in order with one seeded RNG."""
    rng = random.Random(seed)
    for name in names:
        if data:
            data = MUTATIONS[name](data, rng)
    return data
