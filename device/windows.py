"""Cutting log-band frames into the fixed-length windows the encoder embeds.

Songs are indexed as many overlapping windows and a query is cut the same way; every window is
standardised on its own (zero mean, unit variance over time and bands), which removes the
recording level and microphone gain, and keeps windows independent of each other so a streaming
device can embed a window as soon as its last frame arrives.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class WindowConfig:
    """How frames become encoder inputs.

    Attributes:
        length: frames per window (125 frames = 5 s at 25 frames/s).
        song_hop: frames between consecutive song windows when indexing.
        query_hop: frames between consecutive query windows.
        min_query_frames: shorter queries are refused as too short to recognise.

    The hops, measured (session 22, ``benchmarks.accuracy --seed 0 --no-baselines`` with
    ``--song-hop`` / ``--query-hop``: 2,000 songs, 200 careful hums; whole system / embedding alone,
    top-1 / top-10 / MRR): song hop 12 frames (0.5 s) 0.905 / 0.955 / 0.926, embedding 0.485 /
    0.750 / 0.575, at twice the vectors; 25 (1 s, shipped) 0.910 / 0.965 / 0.932, embedding 0.465
    / 0.760 / 0.552; 50 (2 s) 0.890 / 0.965 / 0.919, embedding 0.355 / 0.670 / 0.460. Query hop 6
    (0.24 s) 0.910 / 0.960 / 0.930, embedding 0.450 / 0.760 / 0.545, at twice the query windows; 13
    (shipped) as above; 25 0.905 / 0.960 / 0.927, embedding 0.455 / 0.735 / 0.546. A query window
    within half a second of a song window is enough (training crops teach +-1 s of misalignment):
    a finer song hop lifts the embedding alone a little and the fused answer not at all, a coarser
    one costs the embedding 6-11 points. README "Session 22" has the mixed-skill runs.
    """

    length: int = 125
    song_hop: int = 25
    query_hop: int = 13
    min_query_frames: int = 50

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> WindowConfig:
        return cls(**data)


def standardise(window: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance over the whole window; a constant window maps to zeros."""
    centred = window - window.mean(axis=(-2, -1), keepdims=True)
    scale = centred.std(axis=(-2, -1), keepdims=True)
    return (centred / np.maximum(scale, 1e-3)).astype(np.float32)


def window_starts(n_frames: int, length: int, hop: int) -> list[int]:
    """Start frames of the windows covering ``n_frames``; the last window is aligned to the end.

    A signal shorter than one window gets a single window starting at 0 (padded by ``cut_windows``).
    """
    if n_frames <= length:
        return [0]
    starts = list(range(0, n_frames - length + 1, hop))
    if starts[-1] != n_frames - length:
        starts.append(n_frames - length)
    return starts


def cut_windows(frames: np.ndarray, length: int, hop: int) -> np.ndarray:
    """Frames (T, bands) -> standardised windows (N, length, bands).

    Short inputs are padded by repeating the quietest frame, which is what silence looks like
    after the log floor, rather than by zeros that would look like a loud flat spectrum.
    """
    if len(frames) == 0:
        raise ValueError("no frames to window")
    if len(frames) < length:
        quietest = frames[np.argmin(frames.sum(axis=1))]
        pad = np.repeat(quietest[None, :], length - len(frames), axis=0)
        frames = np.concatenate([frames, pad])
    starts = window_starts(len(frames), length, hop)
    windows = np.stack([frames[s : s + length] for s in starts])
    return standardise(windows)


def stretch_positions(start: int, stop: int, factor: float) -> np.ndarray:
    """Input-frame positions of stretched frames ``start..stop-1``: frame ``j`` reads position ``j / factor``.

    The ratio is fixed (not fitted to the signal's length), so a stretched window depends only on
    the frames it covers: a streaming device can build it as soon as those frames have arrived.
    """
    return np.arange(start, stop) / factor


def interpolate_frames(frames: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Frames (T, bands) read at fractional ``positions`` by linear interpolation (clamped to the end)."""
    last = len(frames) - 1
    low = np.minimum(np.floor(positions).astype(int), last)
    high = np.minimum(low + 1, last)
    weight = (positions - low)[:, None].astype(np.float32)
    return (frames[low] * (1 - weight) + frames[high] * weight).astype(np.float32)


def stretched_length(n_frames: int, factor: float) -> int:
    return max(int(round(n_frames * factor)), 1)


def stretch_frames(frames: np.ndarray, factor: float) -> np.ndarray:
    """Frames (T, bands) resampled in time to round(T * factor) frames by linear interpolation.

    A person who hums 25 % faster than the recording is matched better after stretching the query
    by 1.25; the recognizer can try a few such factors and keep each song's best score.
    """
    if factor == 1.0:
        return frames
    return interpolate_frames(frames, stretch_positions(0, stretched_length(len(frames), factor), factor))
