"""From query-window embeddings to a ranking of songs.

Stage 1 (shortlist): each query window asks the HNSW index for its nearest song windows; a song's
shortlist score is the sum over query windows of its best window similarity (a window that did
not retrieve the song contributes that window's weakest retrieved similarity, an upper bound).
Summing over windows, not taking the single best pair, is what made the prototype work.

Stage 3 (melody re-rank, :func:`rerank_by_melody`): when the bundle carries melody contours, the
best ``rerank`` songs are compared with the hum's pitch contour by DTW (:mod:`device.melody_match`)
and their scores lowered by the contour distance; the songs below keep their place beneath.
The melody screen (:mod:`device.melody_screen`) adds the ``screen`` songs whose note intervals fit
the hum best to the candidates of stage 2 and to the songs stage 3 re-ranks, so a song the
embedding missed can still win on its melody.

Stage 2 (rescore): for the shortlisted songs, every query window is compared with every window of
the song (vectors read back from the index), and the song's score is the mean over query windows
of the best similarity. Comparing with all of a song's windows removes the "not retrieved" guess.

Tried in session 10 and left out (offline, both distinct-tune benchmark seeds, the shipped
parts; fused top-1 / MRR seed 0 0.820 / 0.862, seed 1 0.795 / 0.827):
- Order-aware rescoring (the prototype's suggestion): a song's windows matched by the query's in
  time order (monotonic path: 0.820 / 0.862, 0.790 / 0.824), or along the diagonal the query hop
  implies, within one or two song windows (0.825 / 0.863, 0.795 / 0.826). The embedding's
  matches are already in order where they are right.
- Fusion weights learned by a conditional logit over (embedding score, log DTW cost, log screen
  cost), fitted on one seed and tested on the other: 0.825 / 0.860 and 0.810 / 0.837; adding hum
  length, ranks or products of them: the same or worse. Averaged over five sets of 200 hums
  (both seeds, the older catalogs' two, mixed voices) no fitted weighting beat the shipped
  1 / 1 / 0.75 (mean top-1 0.797 against 0.787-0.796).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EXACT_FIRST = 24  # songs the melody stage matches in full before it sets a bar for the rest
UNKNOWN_MELODY_COST = 0.6  # between a right match (~0.2-0.4 semitones) and a wrong one (~0.8-1.5)
ESTIMATED_TYPICAL_COST = 1.0  # folded cost of a hum against a typical audio-tracked contour (see rerank_by_melody)
SCREEN_SHARE = 0.1  # the melody screen adds at most this share of a catalog's songs (SearchConfig.screen)
SCREEN_FLOOR = 60  # ... and never fewer than this (or SearchConfig.screen, if smaller)
SCREEN_NEUTRAL_COST = 0.8  # screen cost charged where the screen has no opinion (see rerank_by_melody)
# Names the formula of the final score. A bundle's confidence weights were fitted on scores of one
# formula and mean nothing on another's (before session 9 the melody costs were charged linearly,
# and such bundles carry no name): the recognizer then uses this release's calibration.
SCORE_SCALE = "log-costs/1"
EXACT_TOP = 10  # places of the answer guaranteed exact (the benchmark's top-10)


@dataclass(frozen=True)
class SearchConfig:
    """Attributes:
    k_per_window: neighbours asked of the index per query window.
    shortlist: songs kept from stage 1 for stage 2, per tempo version (with 5 versions, 30 each put
        the right song in the best 100 for 0.855 of the benchmark's hums, 50 each for 0.83, and cost more).

    tempo_scales: query time-stretch factors tried; each song keeps its best score over them.
        Hums come 0.25-4x as fast as a catalog's notes (a MIDI/ABC file's tempo is arbitrary): on
        the 2,000-song benchmark x0.5-x2 (5 scales) raised the shortlist's recall of the right
        song at 100 from 0.735 to 0.83 against 0.8/1.0/1.25.
    rerank: the best songs of the embedding ranking that stage 3 re-ranks by melody (0 = off).
    melody_weight: final score = embedding score - melody_weight x log(DTW cost + cost_floor) -
        screen_weight x log(screen cost + cost_floor) (costs in semitones; see :func:`melody_charge`).
        A log, not the cost itself (sessions 4-8: embedding score - 3 x DTW cost - 1 x screen
        cost): what tells the right song from a wrong one is the ratio of their costs (0.2 against
        0.4 is decisive, 1.2 against 1.4 is noise), and the log stops a wrong song's large cost from
        outweighing everything else. Session 9, offline over dumped embedding scores, screen costs
        and DTW costs of the 2,000-song benchmark: weights 1 / 0.75, floor 0.1 were chosen on the
        seed-0 hums (our voice and mixed voices, MRR 0.819 -> 0.834) and checked on three other
        sets of 200 hums (seed 1 and both seeds of the old catalogs with twins): top-1 +3 / +1.5 /
        +1.5 points, top-10 +3 / +1.5 / +1.5, MRR +2.6 / +1.4 / +1.4 against the linear fusion.
        (Session 4, linear: weights 0.8/1.5/3/6 gave top-1 0.67/0.69/0.71/0.695: the melody, once
        matched at any tempo, is the stronger cue.)
    cost_floor: added to a cost before its log, so a near-perfect match does not run to -inf.
    melody_weight_estimated: for contours tracked from audio, per semitone of folded cost, linear
        around the neutral charge (see :func:`rerank_by_melody`).
        In a catalog of the benchmark's 2,000 arrangements tracked by
        :func:`device.pitch.recording_pitches`, with the screen (session 6, exploratory), weights
        0.8 / 1.5 / 3 gave top-1 0.645 / 0.675 / 0.68 and top-10 0.815 / 0.83 / 0.825; 1.5
        leaves more room to the embedding in a catalog of real recordings, whose tune the
        tracker will find less often than in these.
    screen: songs the whole-catalog melody screen adds to the re-rank (0 = off). On the 2,000-song
        benchmark's hums (session 5, exploratory, re-rank of the embedding's best 100 beside it)
        0 / 30 / 40 / 60 gave top-1 0.70 / 0.795 / 0.79 / 0.79 and top-10 0.795 / 0.895 / 0.895 /
        0.905. With the screen, re-ranking only the embedding's best 30 loses ~2.5 points of
        top-10 for half the DTW. Session 9 (log-cost fusion, offline over five sets of 200 hums:
        both seeds of the distinct-tune catalogs, mixed voices, both seeds of the older
        catalogs): 60 instead of 30 was never worse, +0.5 top-1, +0.9 top-10 and +0.7 MRR on
        average, most on voices the encoder never heard (session 7 saw the same: +1.5 top-1),
        for up to 30 more songs through the DTW (~20 ms on one x86 core). Session 30 (the stored
        hums of the benchmark's seed-0/1 catalogs with sung templates, through the shipped
        Recognizer; top-1 / top-10 / MRR at 60 -> 200): seed 0 careful 0.915 / 0.965 / 0.934 ->
        0.915 / 0.960 / 0.933, seed 1 careful 0.850 / 0.905 / 0.870 -> 0.865 / 0.925 / 0.886,
        seed 0 mixed skills 0.705 / 0.825 / 0.741 -> 0.715 / 0.810 / 0.750, seed 1 mixed skills
        0.665 / 0.750 / 0.690 -> 0.675 / 0.760 / 0.700, mixed voices 0.815 / 0.910 / 0.845 ->
        0.820 / 0.920 / 0.852 (seed 0) and 0.800 / 0.875 / 0.825 -> 0.810 / 0.880 / 0.834 (seed
        1); a catalog of recordings (seed 0 careful) 0.855 / 0.920 / 0.881 -> 0.850 / 0.925 /
        0.879. 120: between the two (seed 1 careful 0.855 / 0.915 / 0.876); 300: as 200. Most
        of the gain is hums whose song neither the embedding nor the screen's best 60 held (screen
        ranks 61-200), of every length. The melody stage then takes ~248 instead of ~182 ms per
        query (p50, one x86 core, the 2,000 songs): speaker profiles may keep fewer
        (``[search] screen``; the Pi 4 and Pi Zero 2 W profiles keep 60). The 200 are a tenth of
        that catalog: a catalog takes at most ``SCREEN_SHARE`` of its songs, and never fewer than
        ``SCREEN_FLOOR`` (:meth:`screen_size`), so a small catalog (the 300-song demo: 60, as
        before) does not send most of its songs through the DTW; sizes between were not measured.
    screen_max_songs: catalogs larger than this skip the screen: it visits every song, ~20 ms per
        2,000 songs of ~80 notes for a 10 s hum on one x86 core (so ~100 ms at the cap; a Pi 4
        core is ~4-5x slower).
    screen_weight: the re-ranked songs' final score also loses ``screen_weight`` x the log of their
        screen cost (mean semitones per interval) plus the floor: the interval alignment tolerates
        dropped and added notes, which the DTW does not, so the two disagree usefully. (Session
        6, linear, over the session 5 dump: weights 0 / 0.75 / 1 / 1.25 gave top-1 0.795 / 0.805 /
        0.805 / 0.81 and MRR 0.837 / 0.844 / 0.844 / 0.848.)
    length_weight: a song's score loses ``length_weight`` x log(its duration / the catalog's
        median duration) (:func:`length_charge`): every part of the score is a best fit over the
        song's windows and starting points, so a long song fits a given hum well somewhere more
        often than a short one, right or not. Session 15, offline over the candidates' dumped
        embedding scores, screen costs and full DTW costs on the 2,000-song benchmark catalogs,
        top-1 at weights 0 / 0.1 / 0.125 / 0.15: seed 0 careful singers 0.885 / 0.895 / 0.900 /
        0.895, seed 0 mixed skills 0.680 / 0.685 / 0.700 / 0.705, seed 1 careful 0.840 / 0.835 /
        0.850 / 0.855, seed 1 mixed skills 0.610 / 0.645 / 0.655 / 0.665 (the songs' number of
        windows or of notes instead of their duration: the same within a point). Through the
        shipped Recognizer, 0 -> 0.15 (top-1 / top-10 / MRR): seed 0 careful 0.880 / 0.945 /
        0.905 -> 0.895 / 0.955 / 0.920, seed 1 careful 0.840 / 0.905 / 0.867 -> 0.850 / 0.900 /
        0.870, seed 0 mixed skills 0.675 / 0.795 / 0.720 -> 0.695 / 0.810 / 0.737, seed 1 mixed
        skills 0.605 / 0.720 / 0.653 -> 0.650 / 0.725 / 0.676; a catalog of recordings (seed 0,
        contours tracked from audio, mixed skills) 0.640 / 0.735 / 0.672 -> 0.625 / 0.770 /
        0.665 (careful singers there: 0.830 / 0.900 / 0.859 both ways); held-out seed 2 (built
        after the weight was chosen) careful 0.840 / 0.910 / 0.864 -> 0.860 / 0.925 / 0.881,
        mixed skills 0.700 / 0.795 / 0.739 -> 0.715 / 0.825 / 0.749. It counts in the fused score
        only, where the melody stage runs: the embedding's own scores spread too little (its
        ranking alone, seed 0 careful, top-1 0.465 -> 0.230 when charged). Normalizing each song
        by its mean score over 100 hums of tunes not in the catalog (cohort normalization, as in
        speaker verification; seed 0) did no better than its duration (the two correlate at 0.8)
        and would cost the index builder a DTW per song and cohort hum.
    trim_talk: leave out words said before or after the hum (a pause between, speech-like pitch;
        :mod:`device.talk`, session 31): the 2,000-song benchmark's careful hums with a spoken
        phrase before them (``benchmarks.accuracy --talk before``, seed 0) 0.790 -> 0.830 top-1;
        hums without words: 2 answers of 1,000 moved (see the module).
    """

    k_per_window: int = 100
    shortlist: int = 30
    tempo_scales: tuple[float, ...] = (0.5, 0.71, 1.0, 1.41, 2.0)
    rerank: int = 100
    melody_weight: float = 1.0
    melody_weight_estimated: float = 1.5
    screen: int = 200
    screen_max_songs: int = 10_000
    screen_weight: float = 0.75
    cost_floor: float = 0.1
    length_weight: float = 0.15
    trim_talk: bool = True

    def screen_size(self, n_songs: int) -> int:
        """How many songs the melody screen adds for a catalog of ``n_songs`` (see ``screen``)."""
        return min(self.screen, max(SCREEN_FLOOR, int(n_songs * SCREEN_SHARE)))


def shortlist_songs(similarities: np.ndarray, labels: np.ndarray, vector_song: np.ndarray, size: int) -> np.ndarray:
    """Song numbers of the ``size`` best stage-1 scores (arrays are (query windows, k))."""
    song_of = vector_song[labels]
    n_windows = len(labels)
    floor = similarities.min(axis=1)
    songs = np.unique(song_of)
    best = np.tile(floor[:, None], (1, len(songs)))
    column = np.searchsorted(songs, song_of)
    rows = np.repeat(np.arange(n_windows), labels.shape[1])
    np.maximum.at(best, (rows, column.ravel()), similarities.ravel())
    totals = best.sum(axis=0)
    order = np.argsort(-totals, kind="stable")[:size]
    return songs[order]


def rescore(query: np.ndarray, vectors: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Mean over query windows of the best cosine with any window of each song.

    ``vectors`` stacks the songs' windows; song ``i`` owns rows ``bounds[i]:bounds[i+1]``. One
    matrix product and one segmented max serve every candidate (no per-song Python loop).
    """
    similarities = query @ vectors.T
    best = np.maximum.reduceat(similarities, bounds[:-1], axis=1)
    return best.mean(axis=0).astype(np.float64)


def rank_songs(
    embeddings: np.ndarray,
    version_lengths: list[int],
    index,
    vector_song: np.ndarray,
    first_vectors: np.ndarray,
    n_vectors: np.ndarray,
    config: SearchConfig,
    extra: np.ndarray | None = None,
    vectors: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(song numbers, scores) best first.

    ``embeddings`` stacks the unit-norm window embeddings of every version of the query (one per
    tempo scale), ``version_lengths`` says how many windows each version has. All versions go to the
    index in one k-NN call; the union of their shortlists (and of ``extra``: songs found another
    way, such as the melody screen) is read back from the index once; each song keeps its best
    rescored value over the versions. ``vectors``: the index's vectors by label
    (:mod:`device.index_vectors`), read instead of ``index.get_items`` (~10 µs per vector).
    """
    k = min(config.k_per_window, index.get_current_count())
    labels, distances = index.knn_query(embeddings, k=k)
    bounds = np.cumsum([0, *version_lengths])
    versions = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
    shortlists = [shortlist_songs(1.0 - distances[v], labels[v].astype(np.int64), vector_song, config.shortlist) for v in versions]
    found_elsewhere = [] if extra is None else [np.asarray(extra, np.int64)]
    candidates = np.unique(np.concatenate([*shortlists, *found_elsewhere]))
    counts = n_vectors[candidates]
    bounds = np.concatenate([[0], np.cumsum(counts)])
    ids = np.repeat(first_vectors[candidates] - bounds[:-1], counts) + np.arange(bounds[-1])
    if vectors is not None:
        windows = vectors[ids].astype(np.float32)
    else:
        windows = np.asarray(index.get_items(ids, return_type="numpy"), dtype=np.float32)  # one read for all candidates
    scores = np.max([rescore(embeddings[v], windows, bounds) for v in versions], axis=0)
    order = np.argsort(-scores, kind="stable")
    return candidates[order], scores[order]


SHORTEST_SONG_S = 1.0  # durations are floored here before their log (a bundle row of 0 s must not give -inf)


def length_charge(durations_s: np.ndarray, config: SearchConfig) -> np.ndarray:
    """Per song, what its score loses for its length: ``length_weight`` x log(duration / median).

    Centred on the catalog's median, so a typical song's score, and the confidence fitted on such
    scores, do not move; a song 8x longer than the median (a 4 min recording among 30 s tunes)
    loses ~0.3 at the shipped weight, where a melody that fits with half the DTW cost of another
    gains ~0.6. See :attr:`SearchConfig.length_weight`.
    """
    durations = np.maximum(np.asarray(durations_s, np.float64), SHORTEST_SONG_S)
    if len(durations) == 0 or config.length_weight == 0:
        return np.zeros(len(durations))
    return config.length_weight * np.log(durations / np.median(durations))


def melody_charge(costs, weight: float, config: SearchConfig) -> np.ndarray:
    """What a song's score loses for a melody cost (DTW or screen, semitones): ``weight`` x log(cost + floor)."""
    return weight * np.log(np.asarray(costs, np.float64) + config.cost_floor)


def cost_for_charge(charge: np.ndarray, weight: float, config: SearchConfig) -> np.ndarray:
    """The cost whose :func:`melody_charge` is ``charge`` (the most a song may cost and still tie a bar)."""
    if weight <= 0:
        return np.full(np.shape(charge), np.inf)
    return np.exp(np.minimum(np.asarray(charge, np.float64) / weight, 50.0)) - config.cost_floor


def melody_costing(fold: bool, config: SearchConfig):
    """(cost -> charge, room -> the cost that uses it up) for one kind of song contour.

    Contours from notes pay :func:`melody_charge`. Contours tracked from audio (``fold``) pay the
    charge of an unknown melody plus ``melody_weight_estimated`` per semitone of folded cost above
    the typical one: linear, as tuned in session 6, so a catalog of recordings ranks as before.
    """
    if not fold:
        return (lambda costs: melody_charge(costs, config.melody_weight, config)), (
            lambda room: cost_for_charge(room, config.melody_weight, config)
        )
    weight = config.melody_weight_estimated
    offset = float(melody_charge(UNKNOWN_MELODY_COST, config.melody_weight, config)) - weight * ESTIMATED_TYPICAL_COST

    def charge(costs):
        return weight * np.asarray(costs, np.float64) + offset

    def limit(room):
        return (np.asarray(room, np.float64) - offset) / weight if weight > 0 else np.full(np.shape(room), np.inf)

    return charge, limit


def rerank_by_melody(
    songs: np.ndarray,
    scores: np.ndarray,
    query_contour: np.ndarray,
    contour_of,
    config: SearchConfig,
    estimated: np.ndarray | None = None,
    also: np.ndarray | None = None,
    screen_costs: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Re-ranks the first ``config.rerank`` songs, and any of ``also``, by
    ``score - melody_weight * log(DTW cost + floor) - screen_weight * log(screen cost + floor)``.

    ``contour_of(song)`` gives a song's contour; ``estimated[song]``: it was tracked from audio;
    ``also``: songs to re-rank wherever the embedding placed them (the melody screen's);
    ``screen_costs[song]``: the melody screen's cost (:meth:`device.melody_screen.IntervalCatalog.costs`).
    Where the screen has no opinion (songs it leaves out, NaN; songs whose contour was tracked
    from audio, whose screen cost lowered accuracy when it counted; every song when the screen is
    off) the charge is the neutral ``SCREEN_NEUTRAL_COST`` (on the benchmark's hums the right
    song's median cost is 0.54, a typical song's 1.0, a catalog's 5th percentile ~0.8), so scores
    keep one scale (the confidence is fitted on them) and a recording in a mixed catalog neither
    gains nor loses against a MIDI song on the screen's silence.

    Contours tracked from audio are compared octave-folded and count less: on a whole arrangement
    the tracker (:func:`device.pitch.recording_pitches`) still misses the tune for about a fifth
    of the frames, often by an octave. Such a song is charged the neutral ``UNKNOWN_MELODY_COST``
    plus ``melody_weight_estimated`` x (its folded cost - ``ESTIMATED_TYPICAL_COST``): in a
    catalog of recordings only the second part ranks; in a mixed catalog a recording neither
    beats a MIDI song whose melody fits nor loses to one whose melody does not, on contour noise
    alone.

    The embedding's best ``EXACT_FIRST`` songs are matched first; their fused scores set the bar
    (the ``EXACT_TOP``-th best) that every later song must clear to enter the exact top of the
    answer, and a later song's DTW stops as soon as its cost rules that out. The first
    ``EXACT_TOP`` places (answer, runner-up, confidence) are therefore what matching every song
    in full would give, but for songs the matcher's coarse first pass already put past their
    limit (:data:`device.melody_match.COARSE_SLACK`; on 800 benchmark hums, no top-10 place
    changed); places below may differ.
    """
    from device.melody_match import COST_CAP, match_contours

    in_head = np.arange(len(songs)) < config.rerank
    if also is not None and len(also):
        in_head |= np.isin(songs, also)
    if not in_head.any() or len(query_contour) == 0:  # nothing to match (no pitched frame): the given scores rank
        order = np.argsort(-np.asarray(scores), kind="stable")  # the length charge can reorder the embedding's ranking
        return songs[order], scores[order]
    head = int(in_head.sum())
    order = np.concatenate([np.flatnonzero(in_head), np.flatnonzero(~in_head)])  # embedding order within each part
    songs, scores = songs[order], scores[order]
    if screen_costs is None:
        charge = np.full(len(songs), SCREEN_NEUTRAL_COST)
    else:
        charge = np.nan_to_num(screen_costs[songs].astype(np.float64), nan=SCREEN_NEUTRAL_COST)
        if estimated is not None:
            charge[estimated[songs]] = SCREEN_NEUTRAL_COST  # a tracked contour's notes: a candidate, not evidence
    scores = scores - melody_charge(charge, config.screen_weight, config)  # the screen's part of the final score
    flags = np.zeros(head, bool) if estimated is None else estimated[songs[:head]]
    penalty = np.zeros(head)  # the melody's charge, per song
    for fold in (False, True):
        members = np.flatnonzero(flags == fold)  # embedding order
        if len(members) == 0:
            continue
        contours = [contour_of(int(s)) for s in songs[members]]
        first = min(EXACT_FIRST, len(members))
        costs = np.full(len(members), COST_CAP, np.float32)
        costs[:first] = match_contours(query_contour, contours[:first], fold=fold)
        charge_of, limit_of = melody_costing(fold, config)
        if len(members) > first:
            so_far = np.sort(scores[members[:first]] - charge_of(costs[:first]))[::-1]
            bar = so_far[EXACT_TOP - 1] if len(so_far) >= EXACT_TOP else -np.inf
            rest = members[first:]
            limits = limit_of(scores[rest] - bar)  # the cost at which a song would tie the bar
            costs[first:] = match_contours(query_contour, contours[first:], limits=limits, fold=fold)
        penalty[members] = charge_of(costs)
    fused = scores.astype(np.float64) - melody_charge(COST_CAP, config.melody_weight, config)
    fused[:head] = scores[:head] - penalty
    order = np.argsort(-fused, kind="stable")
    return songs[order], fused[order]
