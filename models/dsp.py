"""Small DSP building blocks shared by the recording and hum synthesizers (numpy + scipy).

Everything is band-limited wavetable synthesis and IIR/FFT filtering so that rendering a few
seconds of audio costs milliseconds: training needs tens of thousands of fresh clips.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import signal

SR = 16000
TABLE_SIZE = 4096


def midi_to_hz(pitch: np.ndarray | float) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(pitch, dtype=np.float64) - 69.0) / 12.0)


@lru_cache(maxsize=512)
def wavetable(profile: tuple[float, ...]) -> np.ndarray:
    """One period of sum_k profile[k] * sin(2 pi (k+1) x), peak-normalised."""
    x = np.arange(TABLE_SIZE) / TABLE_SIZE
    table = np.zeros(TABLE_SIZE)
    for k, amp in enumerate(profile):
        if amp:
            table += amp * np.sin(2 * np.pi * (k + 1) * x)
    return (table / max(np.abs(table).max(), 1e-9)).astype(np.float32)


def band_limited(profile: tuple[float, ...], max_hz: float, sr: int = SR) -> tuple[float, ...]:
    """Drops harmonics that would alias above ~0.45 sr for a tone whose f0 reaches ``max_hz``."""
    n = max(1, int(0.45 * sr / max(max_hz, 1.0)))
    return profile[:n]


def oscillator(freq_hz: np.ndarray, profile: tuple[float, ...], sr: int = SR, phase0: float = 0.0) -> np.ndarray:
    """Wavetable oscillator following a per-sample frequency track."""
    table = wavetable(band_limited(profile, float(np.max(freq_hz)), sr))
    phase = (phase0 + np.cumsum(freq_hz) / sr) % 1.0
    return table[(phase * TABLE_SIZE).astype(np.int64) % TABLE_SIZE]


def adsr(n: int, sr: int, attack: float, decay: float, sustain: float, release: float, held: int) -> np.ndarray:
    """Envelope of ``n`` samples: attack/decay/sustain while held, then an exponential release."""
    t = np.arange(n) / sr
    env = np.where(t < attack, t / max(attack, 1e-4), sustain + (1 - sustain) * np.exp(-(t - attack) / max(decay, 1e-4)))
    held_s = held / sr
    after = t > held_s
    if np.any(after):
        level = env[min(held, n - 1)]
        env[after] = level * np.exp(-(t[after] - held_s) / max(release, 1e-4))
    return env.astype(np.float32)


def pink_noise(n: int, rng: np.random.Generator, slope: float = 1.0) -> np.ndarray:
    """Noise with power falling as 1/f**slope (0 white, 1 pink, 2 brown), unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.maximum(np.fft.rfftfreq(n), 1.0 / n)
    noise = np.fft.irfft(spectrum / freqs ** (slope / 2), n)
    return (noise / max(np.std(noise), 1e-12)).astype(np.float32)


def mains_buzz(n: int, rng: np.random.Generator, mains_hz: float = 50.0, harmonics: int = 20, sr: int = SR) -> np.ndarray:
    """The buzz a ground loop or a cheap power supply puts on a microphone line: ``mains_hz`` (50 or
    60) and its harmonics, each 0.7 of the one below, random phases, the frequency off by up to
    0.5 % (a grid's drift and a sound card's clock); unit RMS. A steady tone in the same bands in
    every frame, unlike the broadband noises above."""
    t = np.arange(n) / sr
    f0 = mains_hz * (1.0 + rng.uniform(-0.005, 0.005))
    buzz = np.zeros(n)
    for k in range(1, harmonics + 1):
        if k * f0 < sr / 2:
            buzz += 0.7 ** (k - 1) * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi))
    return (buzz / max(float(np.std(buzz)), 1e-12)).astype(np.float32)


def butter(audio: np.ndarray, kind: str, cutoff_hz: float | tuple[float, float], order: int = 2, sr: int = SR) -> np.ndarray:
    sos = signal.butter(order, cutoff_hz, btype=kind, fs=sr, output="sos")
    return signal.sosfilt(sos, audio).astype(np.float32)


def resonator(audio: np.ndarray, centre_hz: float, bandwidth_hz: float, sr: int = SR) -> np.ndarray:
    """Two-pole formant resonator (unit gain at the centre)."""
    r = np.exp(-np.pi * bandwidth_hz / sr)
    theta = 2 * np.pi * centre_hz / sr
    a = [1.0, -2 * r * np.cos(theta), r * r]
    b = [(1 - r) * np.sqrt(1 - 2 * r * np.cos(2 * theta) + r * r)]
    return signal.lfilter(b, a, audio).astype(np.float32)


def room_impulse(rng: np.random.Generator, rt60_s: float, sr: int = SR, direct: float = 1.0) -> np.ndarray:
    """Synthetic room: a direct path, a few early reflections and an exponentially decaying tail."""
    n = max(int(rt60_s * sr), 16)
    t = np.arange(n) / sr
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60_s)
    tail = butter(tail.astype(np.float32), "lowpass", rng.uniform(2500, 7000))
    ir = 0.3 * tail / max(np.sqrt(np.sum(tail**2)), 1e-9)
    ir[0] += direct
    for _ in range(rng.integers(2, 6)):
        ir[rng.integers(int(0.002 * sr), int(0.03 * sr))] += rng.uniform(0.1, 0.5) * rng.choice([-1, 1])
    return ir.astype(np.float32)


def reverberate(audio: np.ndarray, ir: np.ndarray) -> np.ndarray:
    return signal.fftconvolve(audio, ir)[: len(audio)].astype(np.float32)


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)) + 1e-20))


def mix_at_snr(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """clean + noise scaled so that rms(clean)/rms(noise) is ``snr_db``."""
    noise = noise[: len(clean)]
    if len(noise) < len(clean):
        noise = np.resize(noise, len(clean))
    scale = rms(clean) / (rms(noise) * 10 ** (snr_db / 20))
    return (clean + scale * noise).astype(np.float32)


def normalise_peak(audio: np.ndarray, peak: float = 0.9) -> np.ndarray:
    return (audio * (peak / max(float(np.max(np.abs(audio))), 1e-9))).astype(np.float32)
