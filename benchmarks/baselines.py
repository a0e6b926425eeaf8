"""The two systems a user could pick instead of ours, run on the benchmark's own catalog and hums.

- Pitch tracking + DTW against the melodies (the classic MIREX query-by-humming approach): the
  hum's pitch contour against every catalog song's notes, whole catalog, no embedding. It uses
  the same pitch tracker and DTW as our re-ranking stage (:mod:`device.pitch`,
  :mod:`device.melody_match`), so the comparison isolates what the embedding adds.
- MFCC statistics + cosine: 20 MFCCs of a standard 40-band mel spectrogram (0-8 kHz, 25 ms / 10 ms),
  mean and standard deviation over the clip, cosine similarity with each song's.
"""

from __future__ import annotations

import numpy as np

from device.melody_match import match_contours

SR = 16000
N_FFT = 400
HOP = 160
N_MELS = 40
N_MFCC = 20


def _mel_bank() -> np.ndarray:
    def hz_to_mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    edges = 700.0 * (10 ** (np.linspace(hz_to_mel(0.0), hz_to_mel(SR / 2), N_MELS + 2) / 2595.0) - 1.0)
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / SR)
    bank = np.zeros((len(freqs), N_MELS), np.float32)
    for m in range(N_MELS):
        low, centre, high = edges[m : m + 3]
        rising = (freqs - low) / max(centre - low, 1e-9)
        falling = (high - freqs) / max(high - centre, 1e-9)
        bank[:, m] = np.clip(np.minimum(rising, falling), 0.0, None)
    return bank


_BANK = _mel_bank()
_DCT = np.cos(np.pi / N_MELS * (np.arange(N_MELS)[None, :] + 0.5) * np.arange(N_MFCC)[:, None]).astype(np.float32)


def mfcc_statistics(audio: np.ndarray) -> np.ndarray:
    """Mean and standard deviation of 20 MFCCs over the clip (16 kHz mono), as one unit vector."""
    audio = np.asarray(audio, np.float32)
    if len(audio) < N_FFT:
        audio = np.pad(audio, (0, N_FFT - len(audio)))
    frames = np.lib.stride_tricks.sliding_window_view(audio, N_FFT)[::HOP] * np.hanning(N_FFT).astype(np.float32)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    mfcc = np.log(power @ _BANK + 1e-8) @ _DCT.T
    stats = np.concatenate([mfcc.mean(axis=0), mfcc.std(axis=0)])
    return (stats / max(float(np.linalg.norm(stats)), 1e-9)).astype(np.float32)


def mfcc_ranking(query_audio: np.ndarray, song_statistics: np.ndarray) -> np.ndarray:
    """Song numbers, best first, by cosine of MFCC statistics."""
    return np.argsort(-(song_statistics @ mfcc_statistics(query_audio)), kind="stable")


def dtw_ranking(query_contour: np.ndarray, song_contours: list[np.ndarray]) -> np.ndarray:
    """Song numbers, best first, by the DTW cost of the hum's contour against every song's melody."""
    return np.argsort(match_contours(query_contour, song_contours), kind="stable")
