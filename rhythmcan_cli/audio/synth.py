"""A small built-in drum synthesizer (numpy): the fallback when FluidSynth/a SoundFont is missing.

Each of the 9 drum classes gets one synthesised one-shot (kick: a falling sine; snare: a
tone plus noise; hats and cymbals: high-passed noise with short or long decays; toms:
falling sines at three pitches). Hits are mixed in at their times, scaled by velocity, and
the mix is soft-limited. The noise comes from a fixed seed, so the same notes always render
the same samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Final

import numpy as np
import numpy.typing as npt

from rhythmcan_cli.grid import N_CLASSES, PITCH_TO_CLASS

SAMPLE_RATE: Final = 44100
FloatArray = npt.NDArray[np.float32]

# class -> pan (-1 left .. 1 right): a drummer's-eye stereo picture.
_PAN: Final[tuple[float, ...]] = (0.0, 0.05, -0.3, -0.3, 0.35, 0.15, -0.1, -0.4, 0.4)


def _env(n: int, decay_s: float, samplerate: int) -> npt.NDArray[np.float64]:
    t = np.arange(n) / samplerate
    attack = np.minimum(1.0, t / 0.001)
    result: npt.NDArray[np.float64] = attack * np.exp(-t / decay_s)
    return result


def _sweep(n: int, f0: float, f1: float, tau: float, samplerate: int) -> npt.NDArray[np.float64]:
    """A sine whose frequency falls from f0 towards f1 with time constant tau."""
    t = np.arange(n) / samplerate
    freq = f1 + (f0 - f1) * np.exp(-t / tau)
    phase = 2 * np.pi * np.cumsum(freq) / samplerate
    result: npt.NDArray[np.float64] = np.sin(phase)
    return result


def _highpass(x: npt.NDArray[np.float64], amount: int = 1) -> npt.NDArray[np.float64]:
    for _ in range(amount):
        x = np.diff(x, prepend=0.0)
    peak = float(np.max(np.abs(x))) or 1.0
    result: npt.NDArray[np.float64] = x / peak
    return result


@lru_cache(maxsize=4)
def one_shots(samplerate: int = SAMPLE_RATE) -> tuple[FloatArray, ...]:
    """The 9 mono one-shots (float32, peak about 1), in vocabulary order."""
    rng = np.random.default_rng(20201126)
    sr = samplerate

    def n_of(seconds: float) -> int:
        return max(1, int(seconds * sr))

    def noise(seconds: float) -> npt.NDArray[np.float64]:
        return rng.standard_normal(n_of(seconds))

    kick_n = n_of(0.45)
    kick = _sweep(kick_n, 160.0, 48.0, 0.035, sr) * _env(kick_n, 0.16, sr)
    kick += 0.3 * _highpass(noise(0.45)) * _env(kick_n, 0.004, sr)

    snare_n = n_of(0.3)
    snare = 0.55 * _sweep(snare_n, 240.0, 180.0, 0.02, sr) * _env(snare_n, 0.06, sr)
    snare += 0.75 * _highpass(noise(0.3)) * _env(snare_n, 0.09, sr)

    ch_n = n_of(0.12)
    closed = _highpass(noise(0.12), 3) * _env(ch_n, 0.025, sr)
    oh_n = n_of(0.6)
    opened = _highpass(noise(0.6), 3) * _env(oh_n, 0.2, sr)

    def tom(f0: float, f1: float) -> npt.NDArray[np.float64]:
        m = n_of(0.5)
        body = _sweep(m, f0, f1, 0.08, sr) * _env(m, 0.2, sr)
        return body + 0.15 * _highpass(noise(0.5)) * _env(m, 0.01, sr)

    crash_n = n_of(1.6)
    crash = _highpass(noise(1.6), 2) * _env(crash_n, 0.55, sr)
    ride_n = n_of(1.0)
    t = np.arange(ride_n) / sr
    bell = sum(np.sin(2 * np.pi * f * t) for f in (2950.0, 4120.0, 5270.0)) / 3.0
    ride = (0.6 * _highpass(noise(1.0), 3) + 0.4 * bell) * _env(ride_n, 0.35, sr)

    shots = (
        kick,
        snare,
        0.6 * closed,
        0.6 * opened,
        tom(110.0, 80.0),
        tom(160.0, 120.0),
        tom(220.0, 170.0),
        0.55 * crash,
        0.45 * ride,
    )
    out = []
    for shot in shots:
        peak = float(np.max(np.abs(shot))) or 1.0
        scale = 1.0 if peak <= 1.0 else 1.0 / peak
        array = (np.asarray(shot) * scale).astype(np.float32)
        array.setflags(write=False)
        out.append(array)
    return tuple(out)


BLOCK_S: Final = 10.0
"""Seconds mixed at a time by :func:`render_int16`."""


def render_int16(
    times_s: Sequence[float] | npt.ArrayLike,
    pitches: Sequence[int] | npt.ArrayLike,
    velocities: Sequence[int] | npt.ArrayLike,
    duration_s: float,
    *,
    samplerate: int = SAMPLE_RATE,
) -> npt.NDArray[np.int16]:
    """Mix drum hits into 16-bit stereo of ``duration_s`` seconds, shape (n, 2), block by block.

    Pitches outside the drum vocabulary are skipped; hits past the end are cut; each block is
    soft-limited (tanh: linear for quiet mixes, never beyond +-1). Memory is the int16 output
    plus one ``BLOCK_S`` float block, not a float32 mix of the whole length.
    """
    shots = one_shots(samplerate)
    length = max(1, round(duration_s * samplerate))
    out = np.empty((length, 2), dtype=np.int16)
    gains = np.empty((N_CLASSES, 2), dtype=np.float32)
    for c, pan in enumerate(_PAN):
        gains[c] = (np.sqrt((1 - pan) / 2), np.sqrt((1 + pan) / 2))
    t_arr = np.asarray(times_s, dtype=np.float64).reshape(-1)
    p_arr = np.asarray(pitches, dtype=np.int64).reshape(-1)
    v_arr = np.asarray(velocities, dtype=np.float64).reshape(-1)
    if not t_arr.size == p_arr.size == v_arr.size:
        raise ValueError("times, pitches and velocities differ in length")
    classes = np.array([PITCH_TO_CLASS.get(int(p), -1) for p in p_arr.tolist()], dtype=np.int64)
    starts = np.rint(t_arr * samplerate).astype(np.int64) if t_arr.size else np.zeros(0, np.int64)
    keep = (classes >= 0) & (v_arr > 0) & (starts >= 0) & (starts < length)
    sizes = np.array([shot.shape[0] for shot in shots], dtype=np.int64)
    ends = starts + np.where(classes >= 0, sizes[np.maximum(classes, 0)], 0)
    block = max(1, round(BLOCK_S * samplerate))
    for a in range(0, length, block):
        b = min(length, a + block)
        mix = np.zeros((b - a, 2), dtype=np.float32)
        for i in np.flatnonzero(keep & (starts < b) & (ends > a)).tolist():
            cls, start = int(classes[i]), int(starts[i])
            shot = shots[cls]
            lo, hi = max(a, start), min(b, start + shot.shape[0])
            gain = gains[cls] * ((float(v_arr[i]) / 127.0) ** 1.5 * 0.5)
            mix[lo - a : hi - a] += shot[lo - start : hi - start, None] * gain[None, :]
        np.tanh(mix, out=mix)
        np.clip(mix, -1.0, 1.0, out=mix)
        mix *= 32767.0
        out[a:b] = np.round(mix)
    return out


__all__ = ["SAMPLE_RATE", "one_shots", "render_int16"]
