"""Matching a hummed contour against song contours: subsequence DTW, in any key, at any tempo.

This is the classic query-by-humming matcher (pitch tracking + dynamic time warping, as in the
MIREX QBSH systems), used twice: alone, as a baseline the benchmark reports, and as the second
stage of the recognizer, re-ranking the embedding shortlist.

- Any key: for each song, the query's pitch-class histogram is compared with the histogram of
  every stretch of the song as long as the query; the ``SHIFTS_TRIED`` transpositions that fit
  some stretch best are tried, each in the octave that puts the query's median nearest the
  song's. Whole-song histograms (the first version) picked the wrong key for short hums: on the
  2,000-song benchmark, windowed histograms with 4 shifts lifted DTW top-1 in a 100-song pool
  from 0.57 to 0.65 (all 24 half-semitone shifts: 0.67 at 8x the cost).
- Octaves are not folded: a leap of a fifth up and a fourth down are different tunes. (Folding
  forgave pitch-tracker octave slips, which are rare, <1 % of frames, and cost 2.5 points.)
- Any tempo, anywhere in the song: the query is resampled to ``TEMPO_SCALES`` (x0.5 to x2; per
  song the ``TEMPO_SCALES_TRIED`` nearest its note-rate tempo estimate) and each version goes
  through subsequence DTW (free start and end in the song) with local slopes 1/2, 1 and 2;
  together they follow a hum 4x slower or faster than the song's notes, which is what a symbolic
  catalog (MIDI/ABC at an arbitrary tempo) needs. Without the scales, DTW top-1 in the pool was
  0.65; with them 0.82.
- Off-diagonal steps cost ``OFF_DIAGONAL_PENALTY`` each: the tempo scales already follow the hum's
  overall tempo, so the local slopes only have to absorb rubato. Free slopes let a hum skip a
  song's short notes and hold others, and a long wrong song then fits as well as the right one:
  with the exact notes a person sang, 14 % of hums lost to another song in a 100-song pool.
  Penalties 0 / 0.25 / 0.5 / 0.75 / 1.0 / 1.5 gave pool top-1 0.80 / 0.81 / 0.82 / 0.84 / 0.82 /
  0.79 on the 200 benchmark hums (session 5).
- Cost: semitone distance, capped (a wrong note costs the same whether it is 3 or 6 semitones
  off), averaged over the query frames. Lower is better.
- Octave-folded mode (``fold``): for song contours tracked from audio (see
  :func:`device.search.rerank_by_melody`).

The numbers above come from offline runs over the 2,000-song benchmark's dumped
queries (session 4); the benchmark itself (README "Measured") confirms the end result.

Session 10 re-tried the knobs with the shipped search around them (offline, the DTW re-run on
the dumped hum contours of both distinct-tune benchmark seeds, embedding and screen parts as
shipped; fused top-1 seed 0 / seed 1, shipped 0.820 / 0.795): ``COST_CAP`` 1.5 / 2 / 3.5 gave
0.830 / 0.770, 0.830 / 0.785 and 0.815 / 0.785; ``SHIFTS_TRIED`` 8 0.830 / 0.795 (the DTW
alone ranks the right song first 2 points more often on both seeds, but the fusion barely
gains, at twice the DTW time); all five tempo scales 0.820 / 0.780; nine finer scales (five
tried) 0.830 / 0.790; ``OFF_DIAGONAL_PENALTY`` 0.5 / 1.0 0.810 / 0.785 and 0.820 / 0.795; a
dead zone of 0.15-0.25 semitone in the cost (absorbing the half-semitone shift grid) 0.820 /
0.795 (with 8 shifts 0.825 / 0.790); snapping the hum to its own tuning (circular mean of the fractional pitch) 0.805 / 0.775;
keeping only contour values within a note (dropping glides) 0.780 / 0.770. None is worth its
cost: the matcher's knobs are exhausted on these hums.

Session 12 gave the hums singers of lesser skill (``models.hum.SKILLS``): untrained singers
compress leaps, which no key shift undoes, and the system found the right song first for 0.390
of their hums (careful singers 0.845). Trying the hum also with its intervals 15 % wider
(``INTERVAL_SCALES``; each song keeps its best cost) lifted that to 0.445 / 0.590 / 0.493 (top-1 /
top-10 / MRR, from 0.390 / 0.570 / 0.447) and left careful hums at 0.845 top-1 (0.930 -> 0.935
top-10); 30 % wider 0.440, both 0.455 (careful 0.845 for all) at more DTW. Seed-0 catalog and
hums of the accuracy benchmark, run-6 encoder (offline script over the benchmark's functions).
Tried at every tempo version, the stretch more than doubled the DTW time (demo bundle, one core,
`benchmarks.device --hums 30`: melody 172 -> 379 ms); tried only at the tempo version each song
fits best as sung, it costs a third more (229 ms) for the same accuracy (untrained 0.445 / 0.590 /
0.494, careful 0.845 / 0.930 / 0.880), which is what ships.

Session 13 looked at the seed-0 misses (careful singers) with the DTW run on the notes the hum
actually sang instead of the tracked contour: against every song it ranks the right song first
for 0.845 of hums (tracked contour 0.795), no more than the whole system (0.855), so better pitch
tracking alone would not close the gap to 0.90. Three misses had the right notes and the wrong
octave: the key shift was placed by the whole song's median, and a passage far from it was tried
an octave off (now the median of the best-fitting stretch: DTW against every song 0.795 -> 0.805,
system 0.855 -> 0.865 on seed 0, 0.825 -> 0.820 on seed 1). Forgiving a frame an octave off for 1
semitone (the synthesizer's low voices sing below 75 Hz, where the tracker finds the octave above)
added one hum on seed 0 and none on seed 1 or on untrained singers, for 10-17 % more DTW time: not
shipped. Nor was a hum also tried with a linear pitch drift of -1 and +1 semitone across it, at
its best tempo version (untrained singers drift): untrained seed-0 top-1 0.505 -> 0.480, top-10
0.615 -> 0.625, for ~2/3 more DTW time; session 12's drift is a random walk per note, which one
straight line does not follow.

Session 17 made the matcher two-pass (:func:`match_contours`). A song used to be matched in
full at every reading of the hum (3 tempo versions x 4 keys, plus the wider intervals at the best
tempo: 16 DTWs), which was most of the query's time (~300 ms of melody stage per query on the
2,000-song benchmark, one x86 core). Now every reading is first matched on contours decimated by
``COARSE_STEP`` (2: a quarter of the cells), and only each song's best reading is matched in
full; both passes abandon a song at its limit (the full one exactly, as before; the first on its
approximate cost, ``COARSE_SLACK``). Over the offline sets of the accuracy benchmark
(seed 0 / seed 1, careful / mixed skills, 200 hums each, through the shipped Recognizer; old ->
new, top-1): 0.895 -> 0.900, 0.850 -> 0.845, 0.695 -> 0.700, 0.650 -> 0.655, melody stage 2.4x
faster (p50 309 -> 128 ms). Refining each song's best two readings gave 0.890 / 0.845 (careful),
~15 % slower; means of value pairs instead of every other value lost 4 of 100 long-song hums
from the top 10; all five tempo versions 0.885 / 0.840. The first pass being cheap, it now tries
``SHIFTS_TRIED`` = 6 keys instead of 4: 0.905 / 0.860 / 0.695 / 0.655 top-1 (MRR +0.005 / +0.010 /
-0.003 / +0.007 over four keys), mixed voices 0.810 -> 0.815, a catalog of recordings 0.620 ->
0.640, ~35 % more time than four keys (8 keys: the same accuracy, more time). Refining one
reading also takes a wrong song's best-of-16 luck away: its full cost is that of the one reading
the coarse pass liked, not the best of all.

Session 18: against songs of minutes (``benchmarks.long_songs``' 286 joined songs, 200 hums) the
first pass was ~93 % of the melody stage (cProfile). Songs of at least ``LONG_SONG_VALUES``
contour values now take ``LONG_SONG_STEP`` = 3 there: long songs 0.840 / 0.910 / 0.866 -> 0.840 /
0.910 / 0.868 (top-1 / top-10 / MRR), melody stage p50 669 -> 426 ms (interleaved hum by hum, one
pinned core); on the 2,000-tune catalogs the few tunes that long (17 and 21) take it too: the same
top-1 / top-10 / MRR on both careful seeds (4 hums moved, all below 60th place), mixed skills
0.695 / 0.820 / 0.734 -> 0.695 / 0.820 / 0.733 (seed 0) and 0.655 / 0.740 / 0.685 -> 0.660 / 0.735
/ 0.687 (seed 1), melody p50 295 -> 243 ms. Step 3 for every song loses on short tunes
(careful seeds 0.905 / 0.860 -> 0.885 / 0.850 top-1; mixed skills 0.695 / 0.655 -> 0.670 /
0.630). Also tried: a cascade (every reading at step 4, each song's best three again at step 2,
the best in full): long songs 0.815 / 0.925 / 0.852 at step 4 and 0.830 / 0.925 / 0.864 at step
3 first, careful seeds 0.880 / 0.865 top-1 (step 4); the
other octave of each song's best key as a seventh key (a hum spanning more than an octave was
placed by a stretch of the song in the other register: one seed-0 hum 137th -> 1st): +1 top-1 on
seed-0 careful and mixed skills, the same on seed 1 and on long songs, ~10 % more melody time;
an exact first pass for hums under 40 contour values (5 s; the decimation mis-picked short hums'
readings): -1 / +2 / -1 / +1 top-1 on the four sets; the full pass also trying the picked key
+-0.5 semitone: +1 top-1 on seed 0, -1 top-10, the same on seed 1; 100 or 150 screened songs
instead of 60 (one seed-1 hum more in the top 10). None shipped.

Session 23: people hum 4-30 s (DESIGN), and a hum of 15-28 s is named far more often than its
first 12 s (``benchmarks.accuracy --hum-seconds 15 28``, with and without ``--max-seconds 12``;
README "Session 23"), but the first pass grew with the hum: a 21 s hum's melody stage took ~1.5x
a 12 s hum's. A hum of more than 2 x ``COARSE_QUERY_VALUES`` contour values (~16 s) now takes a
first-pass step of ceil(values / ``COARSE_QUERY_VALUES``), 3 or 4, so its coarse hum stays ~60
values long; each song's best reading is still matched in full, and hums of up to 120 values
are read as before. On 150 hums of 15-28 s (seed 0 careful and mixed skills, seed 1 mixed
skills; offline through the shipped Recognizer; top-1 / top-10 / MRR, old -> new): 0.973 / 0.980
/ 0.974 both ways, 0.927 / 0.947 / 0.932 -> 0.933 / 0.947 / 0.938, 0.853 / 0.893 / 0.866 ->
0.847 / 0.907 / 0.863; the four 200-hum sets of 4-15 s unchanged. Melody stage on one pinned
core (30 of the seed-0 mixed hums, 21 s on average): p50 255 -> 176 ms, p95 376 -> 237 ms, as
long as the same hums' first 12 s (175 ms). 40 values instead of 60 (a larger step from ~11 s
on): 129 ms, but -1 / +1 / -2 / +1 hums of top-1 on the four short sets and -1 on the long
mixed set.

Session 24: people repeat a hook ("da da da daa" twice over), and the path had to be one
contiguous stretch of the song, so a second take lay where the song goes on to other notes: the
benchmark's hums sung twice over (``benchmarks.accuracy --takes 2``: a second take of the same
passage, same voice, key and room, fresh errors) were named first for 0.685 (careful) and 0.515
(mixed skills) against 0.910 and 0.700 sung once. The path may now leave any song position for
any other (back to a repeat, ahead past a verse) for ``JUMP_PENALTY`` on the accumulated cost,
a step-th of it in the decimated first pass (the same share of the mean cost); the melody screen
got the same (:data:`device.melody_screen.JUMP_PENALTY`). Offline through the shipped Recognizer,
seed 0, top-1 / top-10 / MRR without jumps, then with penalties 30 and 12 (shipped), then 20 and
8, jumps landing on every row (the shipped landing: end of this paragraph): sung twice, careful
0.685 / 0.835 / 0.743, 0.765 / 0.895 / 0.811, 0.795 / 0.910 / 0.840; mixed
skills 0.515 / 0.715 / 0.585, 0.620 / 0.795 / 0.674, 0.640 / 0.820 / 0.696. Sung once, 30 and 12
left the six 200-hum sets of seeds 0-2 (careful and mixed skills) and two sets of 150 hums of
15-28 s as they were (two MRRs +0.001); 20 and 8 moved them by a hum each way (seed-2 careful +1
top-1; top-10 -1 on seed-1 careful and seed-0 mixed skills, +1 on seed-1 mixed skills), but
they lift wrong songs' fits too: a runner-up closes in, and the demo's whistle (hum3), named
first either way, fell from confidence 0.71 to 0.60, under the threshold (30 and 12 keep every
demo confidence). Tried first with the full penalty in both passes, on the
seed-0 careful hums repeated sample for sample: penalties 10 and 4 gave 0.820 top-1 (20 and 8:
0.775, none: 0.590) but sung once 0.910 -> 0.900; 15 and 6: 0.905. A jump costs 30 / the hum's
contour values per value: a 5 s hum can hardly afford one (a wrong song would gain most by
fitting a short hum's pieces in different places), a 20 s hum can. A jump lands only every
``JUMP_EVERY`` = 4 contour values (half a second), on the rows that many values apart in the
first pass: landing on every row cost the melody stage ~19 % more time (one pinned x86 core, 60
seed-0 careful hums, p50 140 -> 167 ms), every 4 values ~8 % (151 ms), for the same top-1 /
top-10 / MRR on the careful sets sung once and twice, and 0.620 / 0.795 / 0.674 -> 0.610 /
0.805 / 0.670 on mixed skills sung twice (seeds 0 and 1 careful sung once as without jumps).
The screen's jumps cost it ~12 % (24.5 -> 27.4 ms).

Session 25: a jump to anywhere lets a wrong song fit each piece of a hum where it fits best, so
it had to cost 30, and a hook sung twice still lost 14.5 points of top-1 against sung once
(seed 0 careful 0.765 against 0.910). Given only the first take to the melody stage (an oracle
split, offline), the same hums were named first for 0.890 (mixed skills 0.705 against 0.610):
the second take is worth little, the freedom it needs costs. The full pass now lets its path go
back only to where it started, within ``RETAKE_WINDOW`` values, for ``RETAKE_PENALTY`` = 10 (a
retake of the passage, which is what people do); the first pass keeps its anywhere-jumps at 30
(cheap; it only picks readings and drops songs). Offline through the shipped Recognizer (top-1 /
top-10 / MRR, session 24 -> now): sung twice, seed 0 careful 0.765 / 0.895 / 0.811 -> 0.820 /
0.910 / 0.853, seed 0 mixed skills 0.610 / 0.805 / 0.670 -> 0.655 / 0.800 / 0.710, seed 1
careful 0.735 / 0.860 / 0.779 -> 0.795 / 0.870 / 0.823; sung once, seeds 0 and 2 careful and
seed 0 mixed skills unchanged, seed 1 careful 0.860 / 0.905 / 0.875 -> 0.855 / 0.900 / 0.873,
seed 1 mixed skills 0.675 / 0.735 / 0.696 -> 0.670 / 0.735 / 0.692, seed 2 mixed skills 0.710 /
0.825 / 0.749 -> 0.710 / 0.820 / 0.748 (a hum each). Penalties tried on seed 0 (sung twice
careful / sung once careful, top-1): 15: 0.795 / 0.910; 6: 0.835 / 0.905; 2: 0.840 / 0.900;
the first pass's jumps at 10 as well: 0.830 / 0.910 but sung once mixed skills 0.690 (6: 0.685).
The demo's answers and confidences are unchanged (hum3 0.71, hum7 0.76). Each path's starting
column rides in its cost: the full pass's costs lie on a 2^-12 semitone grid, summed in float64
with the column below them (``RETAKE_START_UNIT``); carrying it in an array beside the costs made the full
pass ~3x slower. On one pinned x86 core (60 seed-0 careful hums, both versions at once on two
cores, two runs) the melody stage's p50 went 153 -> 165 and 152 -> 169 ms; for 25 s hums
(``benchmarks.device --hum-seconds 25``, demo bundle) 136 -> 151 ms. Paths may no longer run on
into a song's padding (before, a song near the cap could cost ~0.035 less beside longer songs
than alone): a song's cost no longer depends on which songs share its batch.

Session 26: session 25's full pass could only go back, so a hum that goes on to another part of
its song (a line, then the chorus; ``benchmarks.accuracy --takes 2 --elsewhere``: a second passage
of the tune, as long as the first, after it where the tune has one) lost what session 24 had won
for it: offline, seed 0, top-1 / top-10 / MRR, session 24 / 25: careful 0.840 / 0.915 / 0.869,
0.775 / 0.900 / 0.827; mixed skills 0.675 / 0.770 / 0.707, 0.600 / 0.730 / 0.641. The full pass
now may jump anywhere for ``JUMP_PENALTY`` (30, as the first pass) as well as retake its passage
for ``RETAKE_PENALTY`` (10); a jump keeps the path's start, so after a skip a retake still goes
back to the first passage. Skips: careful 0.845 / 0.920 / 0.876, mixed skills 0.665 / 0.770 /
0.699. Every other set within a hum of session 25 (sung twice: seed 0 careful and mixed skills
unchanged but an MRR unit, seed 1 careful +1 top-1; sung once, seeds 0-2 careful and mixed
skills: seed 0 mixed skills -1 top-10, the rest unchanged; 150 hums of 15-28 s, seeds 0 and 1
mixed skills: -1 top-10 on seed 0). The anywhere-jump reuses the row minimum the retake already
takes: melody stage p50 on one pinned x86 core, 60 seed-0 careful hums, both versions at once,
two runs: 147.5 -> 148.2 and 148.6 -> 147.6 ms.
"""

from __future__ import annotations

import numpy as np

COST_CAP = 2.5
SHIFTS_TRIED = 6  # transpositions per song, tried in the coarse pass (read at call time, so a benchmark can vary it)
TEMPO_SCALES = (0.5, 0.71, 1.0, 1.41, 2.0)  # query lengths tried, relative to the hum as sung
TEMPO_SCALES_TRIED = 3  # per song: the scales nearest its note-rate tempo estimate (see tempo_choices)
NOTE_CHANGE_SEMITONES = 0.5  # consecutive contour values further apart than this start a new note
HIST_BINS = 24  # half-semitone pitch-class histogram
ABANDON_EVERY = 8  # rows between checks for songs that can no longer matter (see dtw_costs)
HISTOGRAM_HOP = 4  # song stretches whose key is compared with the query's start every 4 values
OFF_DIAGONAL_PENALTY = 0.75  # semitones of cost per DTW step that is not 1:1 (see the module docstring)
COARSE_STEP = 2  # match_contours' first pass compares contours decimated by this (a quarter of the cells)
LONG_SONG_VALUES = 1000  # songs with contours this long (2 minutes at 8.3 values/s) take LONG_SONG_STEP
LONG_SONG_STEP = 3  # in the first pass instead of COARSE_STEP (see the module docstring, session 18)
COARSE_QUERY_VALUES = 60  # a longer hum's first pass takes a larger step, so its coarse hum stays ~this long (see match_contours)
COARSE_SLACK = 1.0  # the first pass drops a song once its coarse cost passes this x the caller's limit (see match_contours)
READINGS_REFINED = 1  # per song, the best (stretch, tempo, key) readings of the first pass matched in full
# A hum may go back to a passage it already sang (people repeat a hook: "da da da daa" twice over).
# In the first pass the DTW path may leave one song position for any other, in the same key, for
# JUMP_PENALTY semitones on the accumulated cost (its step-th share; see the module docstring,
# session 24): 30 / the hum's length per contour value, dear for a short hum, where a wrong song
# would gain most from fitting its pieces in different places. The full pass (match_in_full) may
# also go back to where its path started, a retake of the passage, for RETAKE_PENALTY (session
# 25): a wrong song cannot place each piece where it fits best, so a retake may cost far less.
# Session 26 gave the full pass back its anywhere-jumps at JUMP_PENALTY beside the retakes: a hum
# that skips to another part of its song (a line, then the chorus) needs them.
JUMP_PENALTY = 30.0
JUMP_EVERY = 4  # contour values between the rows where a jump may land (each such row costs ~1/4 more)
RETAKE_PENALTY = 10.0
RETAKE_WINDOW = 2  # contour values either side of the path's start where a retake may land
INTERVAL_SCALES = (1.0, 1.15)  # the hum's intervals as sung and 15 % wider (see stretch_intervals and the docstring)


def stretch_histograms(contour: np.ndarray, length: int) -> np.ndarray:
    """Unit-norm, lightly smoothed half-semitone pitch-class histograms of the contour's stretches of
    ``length`` values (one every ``HISTOGRAM_HOP``; the whole contour when ``length`` covers it)."""
    return joined_stretch_histograms([contour], length)[0]


def joined_stretch_histograms(contours: list[np.ndarray], length: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`stretch_histograms` of every contour at once: (stretches of all contours, bins) and
    (contours + 1,) the row where each contour's stretches start.

    One running count over the contours joined end to end (integer counts: an int32 cumulative
    sum is ~5x as fast as a float one); a loop over the songs cost ~50 ms per query on one x86
    core (session 17), once the DTW had become cheap."""
    lengths = np.array([len(contour) for contour in contours])
    offsets = np.concatenate([[0], np.cumsum(lengths)])  # where each contour starts in the joined one
    joined = np.concatenate(contours)
    counts = np.zeros((len(joined) + 1, HIST_BINS), np.int32)
    counts[np.arange(1, len(joined) + 1), np.floor(np.mod(joined * (HIST_BINS / 12), HIST_BINS)).astype(int)] = 1
    np.cumsum(counts, axis=0, out=counts)
    spans = np.minimum(length, lengths)  # a contour shorter than ``length`` is one stretch
    n_stretches = (lengths - spans) // HISTOGRAM_HOP + 1
    first = np.concatenate([[0], np.cumsum(n_stretches)])
    owner = np.repeat(np.arange(len(contours)), n_stretches)
    starts = offsets[owner] + (np.arange(first[-1]) - first[owner]) * HISTOGRAM_HOP
    hist = (counts[starts + spans[owner]] - counts[starts]).astype(np.float32)
    hist = hist + 0.5 * (np.roll(hist, 1, axis=1) + np.roll(hist, -1, axis=1))
    return hist / np.maximum(np.linalg.norm(hist, axis=1, keepdims=True), 1e-9), first


def candidate_shifts(
    query: np.ndarray,
    songs: list[np.ndarray],
    n: int | None = None,
    song_stretches: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """(songs, n) transpositions in semitones (added to the query) that fit some stretch of each song best.

    Each pitch-class shift is placed in the octave that brings the query's median nearest the
    median of the song stretch it fits best. (Before session 13, nearest the whole song's median:
    a hum of a passage over half an octave from the song's middle was then tried an octave off,
    every frame at the cap; 3 of the 29 top-1 misses of the seed-0 benchmark hums.)
    Every song's stretches are histogrammed at once (:func:`joined_stretch_histograms`), or
    ``song_stretches`` gives them, as that function returns them for ``songs`` and the query's
    length (readings of one hum that differ only in interval width share them). Songs must not
    be empty.
    """
    n = SHIFTS_TRIED if n is None else n
    q = stretch_histograms(query, len(query))[0]
    rolled = np.stack([np.roll(q, s) for s in range(HIST_BINS)])  # rolled[s] = query moved up s half-semitones
    query_median = float(np.median(query))
    width = len(query)
    lengths = np.array([len(song) for song in songs])
    if len(songs) == 0 or lengths.min() == 0:
        raise ValueError("candidate_shifts needs at least one song, none of them empty")
    hist, first = joined_stretch_histograms(songs, width) if song_stretches is None else song_stretches  # first: each song's first row
    song_of = np.repeat(np.arange(len(songs)), np.diff(first))
    fits = hist @ rolled.T  # (every song's stretches, pitch-class shifts)
    best = np.maximum.reduceat(fits, first[:-1], axis=0)  # (songs, shifts)
    chosen = np.argsort(-best, axis=1, kind="stable")[:, :n]
    pitch_class_shift = chosen * (12 / HIST_BINS)
    # The stretch each chosen shift fits best: the song's first row that reaches its best fit.
    at_best = np.take_along_axis(fits, chosen[song_of], axis=1) == np.take_along_axis(best, chosen, axis=1)[song_of]
    row = np.where(at_best, np.arange(len(fits))[:, None], len(fits))
    where = (np.minimum.reduceat(row, first[:-1], axis=0) - first[:-1, None]) * HISTOGRAM_HOP  # (songs, n)
    centres = np.empty(chosen.shape)
    whole = np.flatnonzero(lengths >= width)  # songs at least as long as the query: one median call
    if len(whole):
        padded = pad_contours([songs[k] for k in whole])
        centres[whole] = np.median(np.take_along_axis(padded[:, None, :], where[whole][:, :, None] + np.arange(width), axis=2), axis=2)
    for song in np.flatnonzero(lengths < width):
        centres[song] = np.median(songs[song])  # the whole song is its one stretch
    octave = np.round((centres - query_median - pitch_class_shift) / 12.0)
    return (pitch_class_shift + 12.0 * octave).astype(np.float32)


def dtw_costs(
    query: np.ndarray,
    songs: np.ndarray,
    shifts: np.ndarray,
    limits: np.ndarray | None = None,
    fold: bool = False,
    per_key: bool = False,
    jump_penalty: float | None = None,
    jump_every: int | None = None,
    retake_penalty: float | None = None,
) -> np.ndarray:
    """Best mean cost per song: ``query`` (N,) against ``songs`` (C, M) padded with NaN, at ``shifts`` (C, K).

    ``limits`` (C,): costs above which a song's exact cost does not matter. Every
    ``ABANDON_EVERY`` rows, songs whose cost so far already exceeds their limit are dropped
    (accumulated costs never decrease from row to row) and get that lower bound instead.
    ``fold``: compare pitch classes (octave differences cost nothing), for song contours
    estimated from audio, where the tracker can follow the bass or a chord an octave off.
    Returns (C,) costs in [0, COST_CAP]; with ``per_key``, (C, K): each shift's own (a song
    abandoned at its limit gets its bound for every shift). ``jump_penalty``: what leaving one song
    position for any other costs (default ``JUMP_PENALTY``; a decimated pass gives its share), on
    every ``jump_every``-th row only (default ``JUMP_EVERY``; both read at call time, as the
    first pass reads them): a repeat lands a few values late, for a fraction of the time.
    ``retake_penalty``: on the same rows, the path may also go back to within ``RETAKE_WINDOW``
    values of where the best path so far started (the hum sings its passage again) for this,
    which may be far less than an anywhere-jump: a wrong song cannot fit each piece of a hum in
    its own best place by retakes. A path that jumps keeps its start, so after a skip a retake
    still goes back to the first passage. Each cell then carries its path's starting column
    packed below its cost (see ``RETAKE_START_UNIT``; ~1.6x the time per row). Batches of songs
    over ``RETAKE_MAX_COLUMNS`` values only jump anywhere.
    """
    n = len(query)
    n_songs, m = songs.shape
    if n == 0 or m == 0:
        return np.full((n_songs, shifts.shape[1]) if per_key else n_songs, COST_CAP, np.float32)
    out = np.full((n_songs, shifts.shape[1]) if per_key else n_songs, COST_CAP, np.float32)
    alive = np.arange(n_songs)
    limit = None if limits is None else np.minimum(np.asarray(limits, np.float64), COST_CAP) * n
    # Query-independent part of the cost, once: shift - song; NaN where a song is padded (np.fmin
    # against ``ceiling`` turns NaN into inf there, the cap elsewhere).
    base = (shifts[:, :, None] - songs[:, None, :]).astype(np.float32)  # (C, K, M)
    if fold:
        # Pitch-class distance without a per-row np.mod (4x the cost of the rest of a row): with
        # b = (shift - song) mod 12 - 12 and q = query mod 12, d = |b + q| lies in [0, 12] and the
        # distance to the nearest octave is min(d, 12 - d).
        base = np.mod(base, np.float32(12.0)) - np.float32(12.0)
        query = np.mod(query, 12.0)
        spare = np.empty_like(base)
    inf = np.float32(np.inf)
    cap = np.float32(COST_CAP)
    # The per-cell cap: COST_CAP in a song, inf in its padding, so no path runs through padding.
    # Before session 25 a path could run on past a song's end at the cap per value, so a song near
    # the cap could cost ~0.035 less beside longer songs than alone, and the re-rank's exact places
    # could differ from matching every song in one batch.
    ceiling = np.where(np.isnan(base), inf, cap)
    retakes = retake_penalty is not None and m < RETAKE_MAX_COLUMNS
    if retakes:  # costs on a grid, accumulated in float64 with each path's starting column packed below (see retake_start)
        base = on_cost_grid(base)  # exact in float32 too: every |base + query| stays on the grid
        query = on_cost_grid(np.asarray(query, np.float32))

    def row_cost(i: int) -> np.ndarray:
        cost = base + np.float32(query[i])
        np.abs(cost, out=cost)
        if fold:
            np.subtract(np.float32(12.0), cost, out=spare)
            np.minimum(cost, spare, out=cost)  # NaN padding stays NaN
        return np.fmin(cost, ceiling, out=cost)  # NaN padding -> inf

    cost_prev = row_cost(0)
    d_prev = cost_prev.copy()  # free start anywhere in the song
    if retakes:
        d_prev = d_prev + np.arange(m) * RETAKE_START_UNIT  # float64: each path carries its starting column
    d_prev2 = np.full_like(d_prev, inf)
    best = np.empty_like(d_prev)  # buffers reused across rows: no allocation in the loop
    half = np.empty_like(d_prev[..., 1:])
    double = np.empty_like(d_prev[..., 2:])
    penalty = np.float32(OFF_DIAGONAL_PENALTY)
    jump = np.float32(JUMP_PENALTY if jump_penalty is None else jump_penalty)
    jump_every = JUMP_EVERY if jump_every is None else jump_every
    if retakes:
        penalty, jump = on_cost_grid(np.float64(penalty)), on_cost_grid(np.float64(jump))
        retake = on_cost_grid(np.float64(retake_penalty))
        window = np.arange(-RETAKE_WINDOW, RETAKE_WINDOW + 1)
    for i in range(1, n):
        if limit is not None and i % ABANDON_EVERY == 0 and np.isfinite(limit).any():
            so_far = np.minimum(d_prev.min(axis=(1, 2)), d_prev2.min(axis=(1, 2)))
            over = so_far > limit
            if over.any():
                bound = np.minimum(so_far[over] / n, COST_CAP)
                out[alive[over]] = bound[:, None] if per_key else bound
                keep = ~over
                alive, limit = alive[keep], limit[keep]
                if len(alive) == 0:
                    return out
                base, d_prev, d_prev2, cost_prev = base[keep], d_prev[keep], d_prev2[keep], cost_prev[keep]
                ceiling = ceiling[keep]
                best, half, double = np.empty_like(d_prev), np.empty_like(d_prev[..., 1:]), np.empty_like(d_prev[..., 2:])
                if fold:
                    spare = np.empty_like(base)
        cost = row_cost(i)
        best[..., 0] = inf
        best[..., 1:] = d_prev[..., :-1]  # (i-1, j-1): same tempo
        np.add(d_prev[..., :-2], penalty, out=double)  # (i-1, j-2): hum twice as fast here
        np.minimum(best[..., 2:], double, out=best[..., 2:])
        np.add(d_prev2[..., :-1], cost_prev[..., 1:], out=half)  # (i-2, j-1): hum half as fast here
        half += penalty
        np.minimum(best[..., 1:], half, out=best[..., 1:])
        if i % jump_every == 0:
            if retakes:
                land_jumps(d_prev, best, jump, retake, window)  # (i-1, anywhere or its path's start)
            else:
                np.minimum(best, d_prev.min(axis=2, keepdims=True) + jump, out=best)  # (i-1, anywhere): a repeat or a skip
        np.add(cost, best, out=d_prev2)  # the oldest row's buffer becomes the new row
        d_prev2, d_prev, cost_prev = d_prev, d_prev2, cost
    by_key = d_prev.min(axis=2) / n
    out[alive] = np.minimum(by_key if per_key else by_key.min(axis=1), COST_CAP)
    return out


# Retakes (dtw_costs with ``retake_penalty``) need each path's starting column. Carrying it in an array
# beside the costs cost ~3x the DTW's time (a masked copy per move and row); instead, costs are
# rounded to multiples of 2^-12 semitone (float64, so sums stay exact) and the column rides below
# them, in units of 2^-28: a path's accumulated cost is exact, its start column is its last 16
# bits, and comparing two paths compares their costs first (a tie goes to the earlier start).
RETAKE_COST_GRID = 2.0**12
RETAKE_START_UNIT = 2.0**-28  # 2^16 columns (2 hours of song at 8.3 values/s) fit under the cost grid
RETAKE_MAX_COLUMNS = 2**16  # a batch of longer songs jumps anywhere instead (their columns would not fit)


def on_cost_grid(costs):
    """``costs`` (an array or a scalar, of its own float type) rounded to the retake cost grid
    (exact in float32 below 2^11)."""
    return np.rint(costs * RETAKE_COST_GRID) / RETAKE_COST_GRID


def retake_start(packed: np.ndarray) -> np.ndarray:
    """The starting columns packed below accumulated retake costs (see ``RETAKE_START_UNIT``);
    0 where no path reaches (inf)."""
    scaled = np.where(np.isfinite(packed), packed, 0.0) * RETAKE_COST_GRID
    return np.rint((scaled - np.floor(scaled)) / (RETAKE_COST_GRID * RETAKE_START_UNIT)).astype(np.int64)


def land_jumps(d_prev: np.ndarray, best: np.ndarray, jump: np.float64, retake: np.float64, window: np.ndarray) -> None:
    """Jumps with retakes (:func:`dtw_costs` with ``retake_penalty``): per song and key, the best
    path so far may go on anywhere for ``jump``, or start again within ``window`` columns of where
    it started for ``retake`` (its packed start rides along either way, so the new take keeps
    it); updates ``best`` (the new row's predecessors) in place. Both arrays are contiguous
    (songs, keys, columns), read as (songs x keys, columns)."""
    m = d_prev.shape[-1]
    costs = d_prev.reshape(-1, m)
    rows = np.arange(len(costs))
    through = costs[rows, costs.argmin(axis=1)]  # each song and key's best path so far
    flat = best.reshape(-1, m)
    np.minimum(flat, (through + jump)[:, None], out=flat)
    cells = (rows[:, None], np.clip(retake_start(through)[:, None] + window, 0, m - 1))
    flat[cells] = np.minimum(flat[cells], (through + retake)[:, None])


def note_rate(contour: np.ndarray) -> float:
    """Notes per contour value (pitch changes over half a semitone), floored: a tempo cue free of the key."""
    if len(contour) < 2:
        return 0.1
    return max(float(np.mean(np.abs(np.diff(contour)) > NOTE_CHANGE_SEMITONES)), 0.02)


def tempo_choices(query: np.ndarray, contours: list[np.ndarray], scales: tuple[float, ...], n: int) -> np.ndarray:
    """(songs, scales) bool: the ``n`` scales nearest each song's tempo estimate.

    A hum at 1.5x the song's tempo changes note 1.5x as often per contour value, so stretching it
    by (its note rate / the song's) roughly matches the song. The estimate is rough (rhythm varies
    within a tune, a hum drops and adds notes), so the nearest three of the five scales are tried:
    on the benchmark, the same top-1/top-10/MRR as all five (0.690 / 0.785 / 0.734 with cached
    embeddings) for 60 % of the DTW, where the nearest two lost 2 points.
    """
    wanted = np.log(note_rate(query) / np.array([note_rate(c) for c in contours]))
    distance = np.abs(wanted[:, None] - np.log(np.asarray(scales))[None, :])
    chosen = np.zeros(distance.shape, bool)
    np.put_along_axis(chosen, np.argsort(distance, axis=1)[:, : min(n, len(scales))], True, axis=1)
    return chosen


def resample(contour: np.ndarray, scale: float) -> np.ndarray:
    """``contour`` made ``scale`` times as long by repeating or skipping values (no new pitches invented)."""
    n = max(int(round(len(contour) * scale)), 2)
    index = np.round((np.arange(n) + 0.5) / scale - 0.5).astype(int)
    return contour[np.clip(index, 0, len(contour) - 1)]


def stretch_intervals(contour: np.ndarray, scale: float) -> np.ndarray:
    """``contour`` with every interval ``scale`` times as wide (around its median).

    Untrained singers compress leaps (Pfordresher & Brown 2007): an octave sung as a sixth. A key
    shift cannot undo that; stretching the hum back by 1/compression can.
    """
    if scale == 1.0:
        return contour
    centre = np.float32(np.median(contour))
    return (centre + np.float32(scale) * (contour - centre)).astype(contour.dtype)


def pad_contours(contours: list[np.ndarray]) -> np.ndarray:
    width = max((len(c) for c in contours), default=0)
    out = np.full((len(contours), max(width, 1)), np.nan, np.float32)
    for row, contour in enumerate(contours):
        out[row, : len(contour)] = contour
    return out


def match_contours(
    query: np.ndarray,
    contours: list[np.ndarray],
    batch: int = 64,
    scales: tuple[float, ...] | None = None,
    limits: np.ndarray | None = None,
    fold: bool = False,
) -> np.ndarray:
    """Mean DTW cost of ``query`` against each contour (lower = more alike); COST_CAP for empty ones.

    Two passes (session 17). First, every way of reading the hum against a song (the
    ``TEMPO_SCALES_TRIED`` tempo versions of ``scales`` nearest the song's tempo estimate, times
    ``SHIFTS_TRIED`` keys, plus the hum with wider intervals at its best tempo) is matched on both
    contours decimated by ``COARSE_STEP``, a quarter of the DTW cells; then only each song's best
    ``READINGS_REFINED`` readings are matched in full, and the song's cost is the best of those.
    ``scales`` defaults to ``TEMPO_SCALES``. ``limits``: per contour, a cost above which only
    "above the limit" matters (see :func:`dtw_costs`); such songs get a cost that is at least
    their limit but not exact. Both passes abandon at the limits: the full match exactly, the
    first pass at ``COARSE_SLACK`` x the limit on the coarse cost, which only approximates the
    full one (a song whose every reading is dropped there is not matched in full). Measured
    (session 17, offline, seeds 0 and 1, careful and mixed skills, 800 hums): the same top-1 and
    top-10 as without, one MRR unit lower on one set, the melody stage ~15 % faster; slack 1.5
    saved nothing. ``fold``: see :func:`dtw_costs`.

    Songs whose contours reach ``LONG_SONG_VALUES`` (2 minutes) are batched apart and read at
    ``LONG_SONG_STEP`` (a ninth of the cells) in the first pass: on long songs that pass is ~93 %
    of the melody stage (session 18), and where a passage could sit anywhere in minutes of song
    the first pass mostly rules songs out. Hums longer than 2 x ``COARSE_QUERY_VALUES`` take a
    larger first-pass step too, so that pass costs a long hum about what a 16 s one costs
    (session 23). See the module docstring.
    """
    scales = TEMPO_SCALES if scales is None else scales
    costs = np.full(len(contours), COST_CAP, np.float32)
    if len(query) == 0:
        return costs
    by_likelihood = tuple(sorted(scales, key=lambda s: abs(np.log(s))))  # 1.0 first
    chosen = tempo_choices(query, contours, by_likelihood, TEMPO_SCALES_TRIED)
    lengths = np.array([len(c) for c in contours])
    order = [r for r in np.argsort(lengths, kind="stable") if lengths[r] > 0]  # similar lengths together
    n_short = int(np.sum(lengths[order] < LONG_SONG_VALUES))  # long songs are a suffix of ``order``
    hum_step = max(COARSE_STEP, int(np.ceil(len(query) / COARSE_QUERY_VALUES)))
    batches = [(order[i : min(i + batch, n_short)], hum_step) for i in range(0, n_short, batch)]
    batches += [(order[i : i + batch], max(LONG_SONG_STEP, hum_step)) for i in range(n_short, len(order), batch)]
    stretched = [stretch_intervals(query, s) for s in INTERVAL_SCALES]
    for rows, step in batches:
        rows = np.asarray(rows)
        chunk = [contours[r] for r in rows]
        bound = np.full(len(rows), np.inf) if limits is None else np.asarray(limits, np.float64)[rows]
        coarse_bound = bound * COARSE_SLACK
        readings, coarse = coarse_readings(stretched, chunk, by_likelihood, chosen[rows], fold, coarse_bound, step)
        lowest = coarse.min(axis=0)
        found = np.full(len(rows), COST_CAP, np.float32)
        out_of_reach = lowest > coarse_bound  # every reading abandoned in the first pass
        found[out_of_reach] = np.minimum(lowest[out_of_reach], COST_CAP)
        ranked = np.argsort(coarse, axis=0, kind="stable")[:READINGS_REFINED]  # (refined, songs): reading numbers
        for picks in ranked:
            usable = np.isfinite(coarse[picks, np.arange(len(rows))]) & ~out_of_reach  # a song may have fewer readings
            tried = match_in_full(readings, picks, usable, stretched, by_likelihood, chunk, np.minimum(bound, found), fold)
            found = np.minimum(found, tried)
        costs[rows] = found
    return costs


def coarsen(contour: np.ndarray, step: int) -> np.ndarray:
    """Every ``step``-th value of a contour: a first pass's resolution (means of pairs
    instead lost 4 of 100 long-song hums from the top 10, session 17)."""
    return resample(contour, 1.0 / step)


def match_in_full(
    readings: list[tuple[int, int, np.ndarray]],
    picks: np.ndarray,
    usable: np.ndarray,
    stretched: list[np.ndarray],
    scales: tuple[float, ...],
    chunk: list[np.ndarray],
    limits: np.ndarray,
    fold: bool,
) -> np.ndarray:
    """(songs,) each song's reading ``picks[song]`` (a number into ``readings``, see
    :func:`coarse_readings`) matched on the whole contours; inf where not ``usable``."""
    out = np.full(len(chunk), np.inf, np.float32)
    for stretch, version in sorted({readings[r][:2] for r in picks[usable]}):
        take = np.flatnonzero(usable & np.array([readings[r][:2] == (stretch, version) for r in picks]))
        shifts = np.array([[readings[picks[k]][2][k]] for k in take], np.float32)
        query_version = resample(stretched[stretch], scales[version])
        padded = pad_contours([chunk[k] for k in take])
        out[take] = dtw_costs(query_version, padded, shifts, np.asarray(limits, np.float64)[take], fold, retake_penalty=RETAKE_PENALTY)
    return out


def coarse_readings(
    stretched: list[np.ndarray],
    chunk: list[np.ndarray],
    scales: tuple[float, ...],
    chosen: np.ndarray,
    fold: bool,
    limits: np.ndarray,
    step: int,
) -> tuple[list[tuple[int, int, np.ndarray]], np.ndarray]:
    """The first pass of :func:`match_contours` over one batch of (non-empty) song contours.

    Returns the readings tried, each (interval stretch, tempo version, (songs,) key shifts), and
    (readings, songs) coarse costs, inf where a song was not read that way; a song is abandoned
    at its ``limits`` (coarse costs; inf: never), and its readings then cost a bound above it. ``chosen`` (songs,
    scales): the tempo versions tried per song; the hum with wider intervals is tried only at the
    tempo version each song's coarse match liked best (the tempo does not depend on the
    intervals' width), which keeps its cost to ~1/3. ``step``: the decimation (``COARSE_STEP``, or
    ``LONG_SONG_STEP`` for a batch of long songs), chosen by :func:`match_contours` at call time.
    """
    coarse_songs = pad_contours([coarsen(c, step) for c in chunk])
    readings: list[tuple[int, int, np.ndarray]] = []
    costs: list[np.ndarray] = []
    best_tempo = np.argmax(chosen, axis=1)
    best_so_far = np.full(len(chunk), np.inf)
    jump = JUMP_PENALTY / step  # the same share of the mean cost as in full (a step-th of the values)
    every = max(JUMP_EVERY // step, 1)  # rows ``step`` values apart: a landing every ~JUMP_EVERY values
    song_stretches = joined_stretch_histograms(chunk, len(stretched[0]))  # every stretch of the hum is as long (stretch_intervals)
    for stretch, hum in enumerate(stretched):
        shifts = candidate_shifts(hum, chunk, song_stretches=song_stretches)
        if fold:
            shifts = np.mod(shifts, 12.0)
        for version, scale in enumerate(scales):
            take = np.flatnonzero(chosen[:, version] if stretch == 0 else best_tempo == version)
            if len(take) == 0:
                continue
            coarse_hum = resample(hum, scale / step)
            by_key = dtw_costs(
                coarse_hum, coarse_songs[take], shifts[take], limits[take], fold=fold, per_key=True, jump_penalty=jump, jump_every=every
            )
            for key in range(by_key.shape[1]):
                row = np.full(len(chunk), np.inf)
                row[take] = by_key[:, key]
                readings.append((stretch, version, shifts[:, key]))
                costs.append(row)
            if stretch == 0:
                lowest = by_key.min(axis=1)
                best_tempo[take[lowest < best_so_far[take]]] = version
                best_so_far[take] = np.minimum(best_so_far[take], lowest)
    return readings, np.array(costs)
