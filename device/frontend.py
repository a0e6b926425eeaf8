"""The one log-mel front end: training, index building and the device all call this module.

Melody lives in fundamentals of roughly 80-1000 Hz (whistles up to ~3 kHz), so the filter bank is
not a speech mel bank: it has two triangular bands per semitone on a log-frequency axis from
``fmin_hz`` upward. A key change is then a shift along the band axis, which the encoder can learn to
ignore.

The same :class:`StreamingFrontEnd` object serves both modes. The whole-file form
(:func:`compute_features`) is one ``push`` of the whole signal, so there is no second implementation
that could drift away from the streaming one; ``tests/test_frontend.py`` pins that chunked pushes give
the same frames.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class FrontEndConfig:
    """Front-end parameters. They travel in every bundle manifest and must match at load time.

    Attributes:
        sample_rate: Hz of the audio the front end expects (audio is converted once, on input).
        n_fft: FFT length and analysis window length in samples (2048 = 128 ms: resolves low notes).
        hop: analysis hop in samples (160 = 10 ms).
        pool: number of analysis frames averaged (in power) into one output frame (4 -> 25 frames/s).
        fmin_hz: centre of the lowest band in Hz.
        bands_per_semitone: band density on the log-frequency axis.
        n_bands: number of bands (144 at 2/semitone = 6 octaves, 55 Hz to ~3.4 kHz).
        log_floor: power floor added before the log, so silence maps to a finite constant.
    """

    sample_rate: int = 16000
    n_fft: int = 2048
    hop: int = 160
    pool: int = 4
    fmin_hz: float = 55.0
    bands_per_semitone: int = 2
    n_bands: int = 144
    log_floor: float = 1e-6

    @property
    def frame_rate(self) -> float:
        """Output frames per second after pooling."""
        return self.sample_rate / (self.hop * self.pool)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> FrontEndConfig:
        """Builds a config from a manifest dict; unknown keys are an error, not silently dropped."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown front-end parameters: {sorted(unknown)}")
        return cls(**data)


def band_centres_hz(config: FrontEndConfig) -> np.ndarray:
    """Centre frequency of each band, Hz, log-spaced at ``bands_per_semitone`` per semitone."""
    steps = np.arange(config.n_bands) / (12.0 * config.bands_per_semitone)
    return config.fmin_hz * 2.0**steps


def filter_bank(config: FrontEndConfig) -> np.ndarray:
    """Triangular log-frequency filter bank, shape (n_fft // 2 + 1, n_bands), float32.

    Each band's triangle reaches its neighbours' centres, but is never narrower than one FFT bin:
    at 55 Hz half a semitone is ~1.6 Hz while a bin is ~7.8 Hz, and a triangle falling between
    bins would be identically zero. Each band is normalised to unit area so narrow low bands and
    wide high bands are on one scale.
    """
    n_bins = config.n_fft // 2 + 1
    bin_hz = config.sample_rate / config.n_fft
    freqs = np.arange(n_bins) * bin_hz
    centres = band_centres_hz(config)
    ratio = 2.0 ** (1.0 / (12.0 * config.bands_per_semitone))
    bank = np.zeros((n_bins, config.n_bands), dtype=np.float64)
    for b, centre in enumerate(centres):
        lower_width = max(centre - centre / ratio, bin_hz)
        upper_width = max(centre * ratio - centre, bin_hz)
        rising = (freqs - (centre - lower_width)) / lower_width
        falling = ((centre + upper_width) - freqs) / upper_width
        tri = np.clip(np.minimum(rising, falling), 0.0, None)
        bank[:, b] = tri / tri.sum()
    return bank.astype(np.float32)


@lru_cache(maxsize=4)
def _analysis_tables(config: FrontEndConfig) -> tuple[np.ndarray, slice, np.ndarray]:
    """(window, FFT bins used, filter bank over those bins), built once per config (~2.5 ms).

    The arrays are shared by every front end of that config, so they are made read-only.
    """
    window = np.hanning(config.n_fft + 1)[:-1].astype(np.float32)
    bank = filter_bank(config)
    used = np.flatnonzero(bank.any(axis=1))  # FFT bins that feed some band (~450 of 1025)
    bins = slice(int(used[0]), int(used[-1]) + 1)
    bank = np.ascontiguousarray(bank[bins])
    window.flags.writeable = False
    bank.flags.writeable = False
    return window, bins, bank


# Samples a push analyses at once. Every frame's FFT is its own and pooling carries over between
# pushes, so the frames are the same in any block size; what the block bounds is memory: the
# windowed frames and their complex spectra take ~300 bytes per input sample, so a 3-minute file
# pushed whole peaked at 1.2 GB resident (an index build's worker per song likewise; numpy's own
# allocations for 60 s of audio: 300 MB whole, 22 MB in blocks of 2^16 samples, 4 s).
PUSH_BLOCK_SAMPLES = 1 << 16


class StreamingFrontEnd:
    """Log-band frames from audio pushed in chunks of any size; memory is bounded.

    Frame ``i`` is centred on sample ``i * hop`` (the stream starts with ``n_fft // 2`` zeros), and
    every ``pool`` consecutive frames are averaged in the power domain, then logged. The object keeps
    at most ``n_fft - hop`` leftover samples and ``pool - 1`` un-pooled frames between calls.
    """

    def __init__(self, config: FrontEndConfig | None = None) -> None:
        self.config = config or FrontEndConfig()
        self._window, self._bins, self._bank = _analysis_tables(self.config)
        self.reset()

    def reset(self) -> None:
        """Starts a new stream (a new button press)."""
        self._pending = np.zeros(self.config.n_fft // 2, dtype=np.float32)
        self._unpooled = np.zeros((0, self.config.n_bands), dtype=np.float32)

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Consumes mono float samples at ``config.sample_rate``; returns new frames (n, n_bands).

        Called every 20 ms on the speaker, so the fixed cost per call matters as much as the FFTs:
        frames are strided views (no copies) and pooling is a plain reshaped sum.
        """
        cfg = self.config
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        if len(samples) > PUSH_BLOCK_SAMPLES:  # a whole file at once: in blocks, so memory stays bounded
            blocks = [self.push(samples[start : start + PUSH_BLOCK_SAMPLES]) for start in range(0, len(samples), PUSH_BLOCK_SAMPLES)]
            return np.concatenate(blocks)
        buffer = np.concatenate((self._pending, samples))
        n_frames = 0 if len(buffer) < cfg.n_fft else 1 + (len(buffer) - cfg.n_fft) // cfg.hop
        if n_frames == 0:
            self._pending = buffer
            return np.zeros((0, cfg.n_bands), dtype=np.float32)
        step = buffer.strides[0]
        frames = np.lib.stride_tricks.as_strided(buffer, (n_frames, cfg.n_fft), (cfg.hop * step, step), writeable=False)
        spectrum = np.fft.rfft(frames * self._window, axis=1)[:, self._bins]
        power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32) @ self._bank
        self._pending = buffer[n_frames * cfg.hop :]
        if len(self._unpooled):
            power = np.concatenate((self._unpooled, power))
        n_out = len(power) // cfg.pool
        self._unpooled = power[n_out * cfg.pool :]
        if n_out == 0:
            return np.zeros((0, cfg.n_bands), dtype=np.float32)
        pooled = power[: n_out * cfg.pool].reshape(n_out, cfg.pool, cfg.n_bands).sum(axis=1) * np.float32(1 / cfg.pool)
        return np.log(pooled + np.float32(cfg.log_floor))


def compute_features(audio: np.ndarray, config: FrontEndConfig | None = None) -> np.ndarray:
    """Whole-signal features: exactly one push through the streaming front end."""
    return StreamingFrontEnd(config).push(audio)
