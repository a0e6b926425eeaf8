"""Matching a hummed contour against song contours: subsequence DTW, in any key, at any tempo.

This is the classic query-by-humming matcher (pitch tracking + dynamic time warping, as in the
MIREX QBSH systems), used twice: alone, as a baseline the benchmark reports, and as the second
stage of the recognizer, re-ranking the embedding shortlist.

- Any key: the query is compared at the few transpositions where its pitch-class histogram best
  matches the song's, and semitone differences are folded into one octave (so the octave a
  person sings in, and octave slips of the pitch tracker, cost nothing).
- Any tempo, anywhere in the song: subsequence DTW (free start and end in the song) with local
  slopes 1/2, 1 and 2, so the hum may be half or twice as fast as the song in any stretch.
- Cost: folded semitone distance, capped (a wrong note costs the same whether it is 3 or 6
  semitones off), averaged over the query frames. Lower is better.
"""

from __future__ import annotations

import numpy as np

COST_CAP = 2.5
# Transpositions tried per song. Dev hums: 1 and 3 gave the same top-1 (0.56), but on the 2,000-song
# benchmark 1 lost 5 points against 2 (top-1 0.470 vs 0.520, re-rank 100) for half the time.
SHIFTS_TRIED = 2
HIST_BINS = 24  # half-semitone pitch-class histogram


def pitch_class_histogram(contour: np.ndarray) -> np.ndarray:
    bins = np.floor(np.mod(contour * (HIST_BINS / 12), HIST_BINS)).astype(int)
    hist = np.bincount(bins, minlength=HIST_BINS).astype(np.float32)
    hist = np.convolve(np.concatenate([hist[-1:], hist, hist[:1]]), [0.25, 0.5, 0.25], mode="valid")
    return hist / max(float(np.linalg.norm(hist)), 1e-9)


def candidate_shifts(query: np.ndarray, song_histograms: np.ndarray, n: int | None = None) -> np.ndarray:
    """(songs, n) transpositions in semitones (added to the query) whose pitch classes fit each song best.

    ``n`` defaults to ``SHIFTS_TRIED``, read at call time so a benchmark can vary it.
    """
    n = SHIFTS_TRIED if n is None else n
    q = pitch_class_histogram(query)
    rolled = np.stack([np.roll(q, s) for s in range(HIST_BINS)])  # rolled[s] = query moved up s half-semitones
    fit = song_histograms @ rolled.T  # (songs, HIST_BINS)
    best = np.argsort(-fit, axis=1)[:, :n]
    return best.astype(np.float32) * (12 / HIST_BINS)


def dtw_costs(query: np.ndarray, songs: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Best mean cost per song: ``query`` (N,) against ``songs`` (C, M) padded with NaN, at ``shifts`` (C, K).

    Returns (C,) costs in [0, COST_CAP]; a song shorter than half the query gets COST_CAP.
    """
    n = len(query)
    n_songs, m = songs.shape
    if n == 0 or m == 0:
        return np.full(n_songs, COST_CAP, np.float32)
    # Query-independent part of the cost, once: 6 + shift - song; NaN where a song is padded, and
    # np.fmin turns NaN into the cap, so padding needs no mask.
    base = (6.0 + shifts[:, :, None] - songs[:, None, :]).astype(np.float32)  # (C, K, M)
    inf = np.float32(np.inf)

    def row_cost(i: int) -> np.ndarray:
        cost = base + np.float32(query[i])
        np.mod(cost, 12.0, out=cost)
        cost -= 6.0
        np.abs(cost, out=cost)
        return np.fmin(cost, np.float32(COST_CAP), out=cost)

    cost_prev = row_cost(0)
    d_prev = cost_prev.copy()  # free start anywhere in the song
    d_prev2 = np.full_like(d_prev, inf)
    best = np.empty_like(d_prev)  # buffers reused across rows: no allocation in the loop
    half = np.empty_like(d_prev[..., 1:])
    for i in range(1, n):
        cost = row_cost(i)
        best[..., 0] = inf
        best[..., 1:] = d_prev[..., :-1]  # (i-1, j-1): same tempo
        np.minimum(best[..., 2:], d_prev[..., :-2], out=best[..., 2:])  # (i-1, j-2): hum twice as fast here
        np.add(d_prev2[..., :-1], cost_prev[..., 1:], out=half)  # (i-2, j-1): hum half as fast here
        np.minimum(best[..., 1:], half, out=best[..., 1:])
        np.add(cost, best, out=d_prev2)  # the oldest row's buffer becomes the new row
        d_prev2, d_prev, cost_prev = d_prev, d_prev2, cost
    finish = d_prev.min(axis=2).min(axis=1) / n
    return np.minimum(finish, COST_CAP).astype(np.float32)


def pad_contours(contours: list[np.ndarray]) -> np.ndarray:
    width = max((len(c) for c in contours), default=0)
    out = np.full((len(contours), max(width, 1)), np.nan, np.float32)
    for row, contour in enumerate(contours):
        out[row, : len(contour)] = contour
    return out


def match_contours(query: np.ndarray, contours: list[np.ndarray], batch: int = 64) -> np.ndarray:
    """Mean DTW cost of ``query`` against each contour (lower = more alike); COST_CAP for empty ones."""
    costs = np.full(len(contours), COST_CAP, np.float32)
    if len(query) == 0:
        return costs
    order = np.argsort([len(c) for c in contours])  # similar lengths together: less padding
    for start in range(0, len(order), batch):
        rows = [r for r in order[start : start + batch] if len(contours[r]) > 0]
        if not rows:
            continue
        chunk = [contours[r] for r in rows]
        histograms = np.stack([pitch_class_histogram(c) for c in chunk])
        costs[rows] = dtw_costs(query, pad_contours(chunk), candidate_shifts(query, histograms))
    return costs
