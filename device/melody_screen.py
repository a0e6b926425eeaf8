"""A melody screen over the whole catalog: the hum's note intervals aligned with every song's.

The embedding shortlist misses the right song for about one hum in eight (slow hummers and short
hums most of all), and the DTW re-rank can only promote songs it is given. This screen looks at
every song with a contour from notes and hands the few whose melody fits best to the re-rank as
well, whatever the embedding thought of them.

It is cheap because it works on notes, not frames, and on intervals, not pitches:

- The hum's contour is cut into notes wherever the pitch leaves the current note's median by
  more than ``NOTE_SPLIT_SEMITONES``; a song's contour (exact MIDI pitches) changes note wherever
  its pitch changes. Repeated notes merge on both sides alike (the contour has no rests).
- Intervals between consecutive notes need no key; ignoring durations needs no tempo. A 10 s
  hum is ~20 intervals against a song's ~60, so one alignment is a few thousand cells.
- Alignment (free start and end in the song): an interval matches an interval at the capped
  semitone difference; a note the hummer dropped (their interval = the sum of two of the song's)
  or added (the sum of two of theirs = one of the song's) costs ``EDIT_PENALTY`` on top (an added
  note's merged interval counts twice, for the two it replaces, so that merging never makes a
  wrong song cheaper than the cap), and, since session 24, a jump from any place in the song to
  any other costs ``JUMP_PENALTY``: a hum that repeats its hook goes back to it (see
  :mod:`device.melody_match`, session 24, for what the jumps of both matchers measured).

On the 2,000-song benchmark (session 5, its 200 hums, exploratory runs over a dump of them) the
screen alone ranks the right song first for 0.60 of hums, its best 30 hold the right song for
0.795, and together with the embedding's best 100 the re-rank sees the right song for 0.95 of hums
instead of 0.83. ``EDIT_PENALTY`` 0.15 / 0.3 / 0.5 / 0.75 / 1.0 / 1.5 gave a best-30 recall of
0.695 / 0.73 / 0.775 / 0.78 / 0.795 / 0.785; split thresholds of 0.3 / 0.4 / 0.5 / 0.7 / 0.9
semitones (tried on an earlier version of the alignment, penalty 0.3) gave a union recall of 0.925 / 0.925 / 0.93 /
0.895 / 0.875. Note durations (log ratios of consecutive notes) as a second cost did not help:
a hum's note lengths are too noisy once rests and articulation are gone.

Contours tracked from audio (``estimated``) are cut into notes the way a hum's are (they are as
noisy): in a catalog of recordings the screen's best 30 joining the re-rank raised top-1 from
0.625 to 0.645 and top-10 from 0.79 to 0.815 at the old weight of 0.8 (session 6, exploratory, the benchmark's hums
against its 2,000 rendered arrangements tracked by :func:`device.pitch.recording_pitches`); their
screen cost does not count in the final score (:func:`device.search.rerank_by_melody`).

Session 13 (the seed-0 and seed-1 catalogs and hums of the accuracy benchmark, offline through
the shipped Recognizer, with session 13's octave placement in the DTW): dividing a miss by
1 + ``INTERVAL_TOLERANCE`` x the song's interval, 0 / 0.15 / 0.3, gave untrained singers' hums
0.485 / 0.505 / 0.495 top-1 and 0.590 / 0.615 / 0.620 top-10; careful singers at 0.15 lost one hum
of top-1 on each seed (0.865 -> 0.860, 0.820 -> 0.815) and gained a point of top-10 on each (0.930
-> 0.940, 0.890 -> 0.900). Tried and left out the same day: dropping one-value notes from the
hum's intervals (glides, scoops), careful seed 0 top-1 0.870 -> 0.840: short notes are real.
A hum of repeated notes (the contour has no rests, so they merge into one) can leave one interval,
which ties with most of the catalog: the screen cannot help such hums; the embedding must.

Time grows with the catalog (~20 ms per 2,000 songs on one x86 core), so
:class:`device.search.SearchConfig` turns the screen off above ``screen_max_songs``.

Time also grows with the hum, and since session 23 the speaker listens up to 25 s: at 10,000
songs a 25 s hum's screen took 225 / 343 ms (p50 / p95, one x86 core, ``benchmarks.device --songs
10000 --hum-seconds 25``), ~1.7 s on a Pi 4. Session 24 screens with a hum's last
``SCREEN_MAX_INTERVALS`` intervals only (a 4-15 s hum has at most ~40, a 15-28 s hum a median of
30 and up to ~100): the screen hands candidates to the DTW, which still reads the whole hum, and
30 intervals are 31 notes, plenty to find a passage. Offline through the shipped Recognizer
(top-1 / top-10 / MRR, all -> last 30): 150 hums of 15-28 s, seed 0 mixed skills 0.933 / 0.947 /
0.938 -> 0.933 / 0.947 / 0.940, seed 1 mixed skills 0.847 / 0.907 / 0.863 -> 0.847 / 0.913 /
0.864, seed 0 careful 0.973 / 0.980 / 0.974 both ways; the four 200-hum sets of 4-15 s identical.
"""

from __future__ import annotations

import numpy as np

NOTE_SPLIT_SEMITONES = 0.5  # a hum's pitch this far from the current note's median starts a new note
SONG_NOTE_CHANGE = 0.3  # exact contours: any change of pitch (steps are 1/3 semitone) is a new note
INTERVAL_CAP = 2.0  # a wrong interval costs the same whether it is 2 or 7 semitones off
EDIT_PENALTY = 1.0  # extra cost of a dropped or added note
# A hummed interval's miss is divided by 1 + INTERVAL_TOLERANCE x the song's interval (semitones):
# untrained singers compress leaps (an octave sung as a sixth) and miss wide intervals by more, so
# 3 semitones off an octave is a smaller slip than 3 off a tone. See the module docstring (session 13).
INTERVAL_TOLERANCE = 0.15
BATCH_SONGS = 256  # songs aligned together (sorted by length, so padding stays small)
JUMP_PENALTY = 12.0  # the alignment may go back or ahead in the song for this (a hum that repeats a hook; see align_costs)
SCREEN_MAX_INTERVALS = 30  # a longer hum is screened with its last this many intervals (see the module docstring)


def hum_intervals(contour: np.ndarray) -> np.ndarray:
    """Semitone steps between the notes of a tracked (noisy) contour."""
    notes: list[float] = []
    current: list[float] = []
    for value in np.asarray(contour, np.float64):
        if current and abs(value - float(np.median(current))) > NOTE_SPLIT_SEMITONES:
            notes.append(float(np.median(current)))
            current = []
        current.append(float(value))
    if current:
        notes.append(float(np.median(current)))
    return np.diff(np.asarray(notes, np.float32))


def song_intervals(contour: np.ndarray) -> np.ndarray:
    """Semitone steps between the notes of an exact contour (from MIDI/ABC notes)."""
    steps = np.diff(np.asarray(contour, np.float32))
    return steps[np.abs(steps) > SONG_NOTE_CHANGE]


def align_costs(query: np.ndarray, songs: np.ndarray) -> np.ndarray:
    """Mean cost per query interval of the best alignment of ``query`` (n,) inside each row of
    ``songs`` (C, m), NaN-padded; INTERVAL_CAP for songs too short to hold any of it."""
    n = len(query)
    n_songs, m = songs.shape
    if n == 0 or m == 0:
        return np.full(n_songs, INTERVAL_CAP, np.float32)
    cap = np.float32(INTERVAL_CAP)
    penalty = np.float32(EDIT_PENALTY)
    pairs = np.full_like(songs, np.nan)  # pairs[:, j] = songs[:, j-1] + songs[:, j]: the hummer dropped a note
    pairs[:, 1:] = songs[:, 1:] + songs[:, :-1]

    # A miss counts less on a wide interval than on a narrow one (see INTERVAL_TOLERANCE).
    song_scale = 1.0 / (1.0 + np.float32(INTERVAL_TOLERANCE) * np.abs(songs))
    pair_scale = 1.0 / (1.0 + np.float32(INTERVAL_TOLERANCE) * np.abs(pairs))

    def cost(step: float, against: np.ndarray, scale: np.ndarray) -> np.ndarray:
        return np.fmin(np.abs(against - np.float32(step)) * scale, cap)  # NaN padding -> the cap

    inf = np.float32(np.inf)
    jump = np.float32(JUMP_PENALTY)
    row = np.minimum(cost(query[0], songs, song_scale), cost(query[0], pairs, pair_scale) + penalty)  # free start anywhere
    before = np.full_like(row, inf)
    for i in range(1, n):
        new = np.full_like(row, inf)
        here = cost(query[i], songs, song_scale)
        new[:, 1:] = row[:, :-1] + here[:, 1:]
        np.minimum(new[:, 2:], row[:, :-2] + cost(query[i], pairs[:, 2:], pair_scale[:, 2:]) + penalty, out=new[:, 2:])
        added = 2 * cost(query[i] + query[i - 1], songs, song_scale) + penalty  # the hummer added a note (stands for 2 intervals)
        if i == 1:
            np.minimum(new, added, out=new)
        else:
            np.minimum(new[:, 1:], before[:, :-1] + added[:, 1:], out=new[:, 1:])
        np.minimum(new, here + (row.min(axis=1, keepdims=True) + jump), out=new)  # from anywhere: a repeat or a skip
        before, row = row, new
    best = row.min(axis=1) / n
    return np.where(np.isfinite(best), np.minimum(best, cap), cap).astype(np.float32)


class IntervalCatalog:
    """Every screened song's intervals, padded in batches of similar length, ready to align."""

    def __init__(self, intervals: list[np.ndarray | None]) -> None:
        """``intervals[song]``: that song's :func:`song_intervals`, or None to leave it out."""
        self.n_songs = len(intervals)
        members = [s for s, steps in enumerate(intervals) if steps is not None and len(steps) > 0]
        members.sort(key=lambda s: len(intervals[s]))
        self.batches: list[tuple[np.ndarray, np.ndarray]] = []
        for start in range(0, len(members), BATCH_SONGS):
            rows = np.asarray(members[start : start + BATCH_SONGS])
            padded = np.full((len(rows), len(intervals[rows[-1]])), np.nan, np.float32)
            for k, s in enumerate(rows):
                padded[k, : len(intervals[s])] = intervals[s]
            self.batches.append((rows, padded))

    @classmethod
    def from_contours(cls, contour_of, n_songs: int, estimated: np.ndarray | None = None) -> IntervalCatalog:
        """From ``contour_of(song)`` for every song; contours flagged ``estimated`` (tracked from
        audio) are cut into notes as a hum's are."""
        tracked = np.zeros(n_songs, bool) if estimated is None else np.asarray(estimated, bool)
        return cls([hum_intervals(contour_of(s)) if tracked[s] else song_intervals(contour_of(s)) for s in range(n_songs)])

    def costs(self, query_contour: np.ndarray) -> np.ndarray:
        """(songs,) alignment cost of the hum's intervals; NaN (no opinion) for songs left out.

        A hum with no interval at all (one held note) costs INTERVAL_CAP against every screened song.
        A hum of more than ``SCREEN_MAX_INTERVALS`` intervals is screened with its last ones, so
        the screen's time stops growing with the hum's length.
        """
        out = np.full(self.n_songs, np.nan, np.float32)
        query = hum_intervals(query_contour)[-SCREEN_MAX_INTERVALS:]
        for rows, padded in self.batches:
            out[rows] = align_costs(query, padded) if len(query) else INTERVAL_CAP
        return out

    def best(self, query_contour: np.ndarray, count: int) -> np.ndarray:
        """The ``count`` songs whose intervals fit the hum best (fewer when few fit at all)."""
        return best_fitting(self.costs(query_contour), count)


def best_fitting(costs: np.ndarray, count: int) -> np.ndarray:
    """The ``count`` songs of lowest screen cost, leaving out songs at the cap or left out (NaN)."""
    order = np.argsort(costs, kind="stable")[:count]  # NaN sorts last
    return order[costs[order] < INTERVAL_CAP]
