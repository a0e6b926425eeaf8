"""Synthetic hums: a voice that follows a melody with human errors, in a room, through a cheap mic.

The errors follow what singers do (and what the query-by-humming literature measures): a key of
their own and an octave that suits their voice, a tempo of their own with rubato, ~20-40 cents of
intonation error per note plus slow drift, vibrato on long notes, glides between notes, dropped and
added notes, breaths. Then a room, a microphone's band limits, background noise down to 5 dB SNR,
level changes and clipping. Styles: closed-mouth hum, "la", "da", "doo" and whistle.

Singers' skills (:data:`SKILLS`): "careful", the errors above (what the benchmark's default
hums use); "casual", the occasional singer of the singing-proficiency studies (Dalla Bella et al.
2007: ~0.5 semitone per interval at a normal tempo; Mauch et al. 2014): 0.25-0.5 semitone per
note, leaps up to 15 % smaller, drift up to a semitone; and "untrained", the poor-pitch singer
(Pfordresher & Brown 2007, 10-15 % of people): leaps 5-30 % smaller, 0.3-0.7 semitone per note,
drift up to 1.5 semitones, more wrong, dropped and rushed notes. People at a smart speaker are
all three.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import numpy as np

from models import dsp, other_voices
from models.melody import Melody, NoteEvents
from models.render import render_arrangement

STYLES = ("hum", "la", "da", "doo", "whistle")


@dataclass(frozen=True)
class SingingErrors:
    """How far a singer strays from the notes (ranges are drawn per hum, steps per note).

    Attributes:
        max_dropped: the hum's rate of dropped notes is drawn from [0, max_dropped).
        rubato_step, rubato_limit: per-note log-tempo random walk and its bound.
        intonation_sd: range of the per-note pitch error's standard deviation (semitones).
        drift_step, drift_limit: per-note pitch random walk (semitones) and its bound.
        max_wrong: the rate of notes sung 1-2 semitones off is drawn from [0, max_wrong).
        interval_scale: range of the factor applied to every interval (1 = none; below 1 the
            untrained singer's compressed leaps, which also wander off the key as they accumulate).
    """

    max_dropped: float
    rubato_step: float
    rubato_limit: float
    intonation_sd: tuple[float, float]
    drift_step: float
    drift_limit: float
    max_wrong: float
    interval_scale: tuple[float, float] = (1.0, 1.0)


SKILLS = {
    "careful": SingingErrors(0.08, 0.04, 0.25, (0.15, 0.4), 0.06, 0.5, 0.05),
    "casual": SingingErrors(0.1, 0.06, 0.3, (0.25, 0.5), 0.1, 1.0, 0.08, (0.85, 1.0)),
    "untrained": SingingErrors(0.12, 0.08, 0.4, (0.3, 0.7), 0.15, 1.5, 0.1, (0.7, 0.95)),
}
VOWEL_FORMANTS = {  # (F1, F2, F3) Hz
    "a": (730, 1090, 2440),
    "o": (570, 840, 2410),
    "u": (300, 870, 2240),
    "e": (530, 1840, 2480),
}
STYLE_VOWELS = {"la": "a", "da": "a", "doo": "u"}
VOICE_CENTRES = {"low": (45, 55), "high": (55, 67), "whistle": (79, 91)}  # median MIDI pitch
# Registers a training run may draw instead (``models.gen_data --registers wide``). The shipped
# encoder heard only VOICE_CENTRES, and alone it names a bass's hums (median MIDI 38-46) and high
# whistles (88-98) less often than the benchmark's (README "Session 27": top-1 0.375 and 0.405
# against 0.465): people hum down to ~70 Hz, children and sopranos sing around MIDI 60-72, and
# whistlers reach ~3 kHz (MIDI ~102). Same draws as the default, from wider ranges.
REGISTERS = {
    "benchmark": VOICE_CENTRES,
    "wide": {"low": (38, 55), "high": (55, 72), "whistle": (79, 98)},
}


@dataclass
class HumConditions:
    """What a hum's synthesizer chose: the benchmark breaks accuracy down by these."""

    style: str
    transpose: float
    tempo_factor: float
    snr_db: float
    noise_kind: str
    singer: str = "synth"
    skill: str = "careful"

    def to_dict(self) -> dict:
        return asdict(self)


def choose_seconds_per_beat(melody: Melody, rng: np.random.Generator) -> float:
    """A tempo at which the tune's median note lasts 0.25-0.6 s, as people sing folk tunes."""
    median_beats = float(np.median(melody.dur)) or 1.0
    return rng.uniform(0.25, 0.6) / median_beats


def humanize(
    melody: Melody, seconds_per_beat: float, transpose: float, rng: np.random.Generator, skill: str = "careful"
) -> tuple[NoteEvents, np.ndarray]:
    """The melody as a person would sing it: timing, pitch and note-level errors, in seconds.

    Returns the events and, for each note of ``melody``, the time (s) at which the singer reaches
    it, so a passage can be cut at the same note however many notes were dropped or added.
    ``skill`` names the :data:`SKILLS` profile; "careful" draws exactly what it drew before the
    profiles existed, so training shards reproduce.
    """
    errors = SKILLS[skill]
    n = len(melody.pitch)
    onset = melody.onset.astype(np.float64)
    ends = onset + melody.dur
    dropped = rng.uniform(size=n) < rng.uniform(0.0, errors.max_dropped)
    dropped[0] = False
    kept_before = np.maximum.accumulate(np.where(~dropped, np.arange(n), 0))
    for i in np.flatnonzero(dropped):  # the previous sung note is held through a dropped one
        ends[kept_before[i]] = max(ends[kept_before[i]], ends[i])
    # Time: beats -> seconds through a tempo that wanders (rubato) around the chosen tempo.
    grid = np.concatenate([onset, [ends.max()]])
    local = np.exp(np.cumsum(rng.normal(0, errors.rubato_step, len(grid))).clip(-errors.rubato_limit, errors.rubato_limit))
    seconds_at = np.concatenate([[0.0], np.cumsum(np.diff(grid) * seconds_per_beat * local[:-1])])

    def warp(beats: np.ndarray) -> np.ndarray:
        return np.interp(beats, grid, seconds_at)

    keep = ~dropped
    onset_s = warp(onset[keep])
    dur_s = (warp(ends[keep]) - onset_s) * rng.uniform(0.75, 1.0, keep.sum())  # articulation gaps
    breaths = rng.uniform(size=len(dur_s)) < 0.06
    dur_s[breaths] = np.maximum(dur_s[breaths] - rng.uniform(0.1, 0.3), dur_s[breaths] * 0.4)
    # Pitch: per-note error, slow drift, occasional wrong note.
    pitch = melody.pitch[keep].astype(np.float64)
    if errors.interval_scale != (1.0, 1.0):  # intervals scaled around the first note, errors accumulating
        pitch = pitch[0] + rng.uniform(*errors.interval_scale) * (pitch - pitch[0])
    pitch = pitch + transpose
    pitch = pitch + rng.normal(0, rng.uniform(*errors.intonation_sd), len(pitch))
    pitch = pitch + np.cumsum(rng.normal(0, errors.drift_step, len(pitch))).clip(-errors.drift_limit, errors.drift_limit)
    wrong = rng.uniform(size=len(pitch)) < rng.uniform(0.0, errors.max_wrong)
    pitch[wrong] += rng.choice([-2, -1, 1, 2], wrong.sum())
    events = NoteEvents(onset_s, dur_s, pitch, rng.uniform(0.7, 1.0, len(pitch)))
    return _add_ornaments(events, rng), warp(onset)


def _add_ornaments(events: NoteEvents, rng: np.random.Generator) -> NoteEvents:
    """Splits a few long notes into a grace note and the note: the added notes of real singers."""
    long_notes = np.flatnonzero((events.dur > 0.35) & (rng.uniform(size=len(events.dur)) < 0.04))
    if len(long_notes) == 0:
        return events
    onset, dur, pitch, vel = (list(a) for a in (events.onset, events.dur, events.pitch, events.velocity))
    for i in sorted(long_notes, reverse=True):
        grace = rng.uniform(0.06, 0.12)
        onset.insert(i, onset[i])
        dur.insert(i, grace)
        pitch.insert(i, pitch[i] + rng.choice([-2, -1, 1, 2]))
        vel.insert(i, vel[i])
        onset[i + 1] += grace
        dur[i + 1] -= grace
    return NoteEvents(*(np.asarray(a) for a in (onset, dur, pitch, vel)))


def pitch_track(events: NoteEvents, n: int, rng: np.random.Generator, sr: int = dsp.SR) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample f0 (Hz) with glides, vibrato and jitter, and a 0..1 voicing gate."""
    semitones = np.full(n, np.nan)
    gate = np.zeros(n, dtype=np.float32)
    vib_rate, vib_depth = rng.uniform(4.5, 6.5), rng.uniform(0.05, 0.5)
    glide_s = rng.uniform(0.02, 0.09)
    t = np.arange(n) / sr
    for i, (onset, dur, pitch, vel) in enumerate(zip(events.onset, events.dur, events.pitch, events.velocity)):
        a, b = int(onset * sr), min(int((onset + dur) * sr), n)
        if b <= a:
            continue
        seg = np.full(b - a, pitch)
        if i > 0 and onset - (events.onset[i - 1] + events.dur[i - 1]) < 0.15:
            m = min(int(glide_s * sr), b - a)
            seg[:m] = events.pitch[i - 1] + (pitch - events.pitch[i - 1]) * (1 - np.exp(-5 * np.arange(m) / max(m, 1)))
        if dur > 0.4:
            ramp = np.clip((t[a:b] - onset - 0.2) / 0.3, 0, 1)
            seg += ramp * vib_depth * np.sin(2 * np.pi * vib_rate * t[a:b])
        semitones[a:b] = seg
        gate[a:b] = vel
    filled = np.isnan(semitones)
    if np.all(filled):
        semitones[:] = 60.0
    else:  # hold the last pitch through gaps so the phase stays continuous
        idx = np.where(~filled, np.arange(n), 0)
        np.maximum.accumulate(idx, out=idx)
        first = np.argmax(~filled)
        idx[:first] = first
        semitones = semitones[idx]
    jitter = np.repeat(rng.normal(0, 0.03, n // 160 + 1), 160)[:n]
    return dsp.midi_to_hz(semitones + jitter), gate


def voice(events: NoteEvents, style: str, length_s: float, rng: np.random.Generator, sr: int = dsp.SR) -> np.ndarray:
    """A dry voice (or whistle) singing ``events`` in ``style``."""
    n = int(length_s * sr)
    freq, gate = pitch_track(events, n, rng, sr)
    onsets = (events.onset * sr).astype(int)
    attack = np.ones(n, dtype=np.float32)
    dip = {"hum": 0.6, "la": 0.15, "da": 0.0, "doo": 0.05, "whistle": 0.4}[style]
    for start in onsets[(onsets >= 0) & (onsets < n)]:
        m = min(int(rng.uniform(0.03, 0.06) * sr), n - start)
        attack[start : start + m] = np.minimum(attack[start : start + m], dip + (1 - dip) * np.linspace(0, 1, m))
    smooth = np.convolve(gate * attack, np.hanning(161) / np.hanning(161).sum(), mode="same").astype(np.float32)
    breath = dsp.butter(rng.standard_normal(n).astype(np.float32), "bandpass", (800, 6000)) * rng.uniform(0.01, 0.05)
    if style == "whistle":
        tone = dsp.oscillator(freq, (1.0, 0.03), sr)
        hiss = dsp.butter(rng.standard_normal(n).astype(np.float32), "highpass", 1500) * 0.03
        return (tone * smooth + hiss * smooth + 0.3 * breath).astype(np.float32)
    slope = rng.uniform(2.0, 2.8) if style == "hum" else rng.uniform(1.0, 1.6)
    source = dsp.oscillator(freq, tuple(1.0 / k**slope for k in range(1, 40)), sr)
    if style == "hum":
        out = dsp.resonator(source, rng.uniform(200, 320), 80) + 0.3 * source
        out = dsp.butter(out, "lowpass", rng.uniform(700, 1400))
    else:
        vowel = STYLE_VOWELS[style] if rng.uniform() < 0.7 else str(rng.choice(list(VOWEL_FORMANTS)))
        f1, f2, f3 = (f * rng.uniform(0.9, 1.15) for f in VOWEL_FORMANTS[vowel])
        out = dsp.resonator(source, f1, 90) + 0.6 * dsp.resonator(source, f2, 110) + 0.25 * dsp.resonator(source, f3, 160)
    out = dsp.normalise_peak(out) * smooth
    if style == "da":
        for start in onsets[(onsets >= 0) & (onsets < n)]:
            m = min(int(0.012 * sr), n - start)
            out[start : start + m] += rng.standard_normal(m).astype(np.float32) * 0.2
    return (out + breath * (1 - smooth)).astype(np.float32)


def degrade(
    audio: np.ndarray,
    rng: np.random.Generator,
    snr_db: float,
    noise_kind: str,
    distractor: Melody | None = None,
) -> np.ndarray:
    """Room, microphone, background noise, level changes and clipping."""
    n = len(audio)
    if rng.uniform() < 0.8:
        audio = dsp.reverberate(audio, dsp.room_impulse(rng, rng.uniform(0.1, 0.8), direct=rng.uniform(0.6, 1.0)))
    audio = dsp.butter(audio, "highpass", rng.uniform(60, 250))
    audio = dsp.butter(audio, "lowpass", rng.uniform(3000, 7500))
    if noise_kind == "tv" and distractor is not None:
        noise = render_arrangement(distractor.to_events(choose_seconds_per_beat(distractor, rng)), 0.5, rng, n / dsp.SR)
    elif noise_kind == "babble":
        noise = sum(
            dsp.butter(dsp.pink_noise(n, rng, 1.0), "bandpass", (300, 3000))
            * (1 + np.sin(2 * np.pi * rng.uniform(2, 6) * np.arange(n) / dsp.SR + rng.uniform(0, 6)))
            for _ in range(3)
        )
    else:
        noise = dsp.pink_noise(n, rng, {"white": 0.0, "pink": 1.0, "brown": 2.0}.get(noise_kind, 1.0))
    audio = dsp.mix_at_snr(audio, noise, snr_db)
    envelope = np.exp(np.interp(np.arange(n), np.linspace(0, n, 5), rng.normal(0, 0.3, 5))).astype(np.float32)
    audio = dsp.normalise_peak(audio * envelope, rng.uniform(0.05, 0.9))
    if rng.uniform() < 0.1:
        audio = np.clip(audio * rng.uniform(2, 6), -1, 1)
    if rng.uniform() < 0.3:
        audio = np.tanh(audio * rng.uniform(1, 3)) / np.tanh(rng.uniform(1, 3))
    return audio.astype(np.float32)


def add_mains_hum(audio: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """``audio`` (a hum as :func:`render_hum` gives it) with mains buzz (50 or 60 Hz and harmonics,
    :func:`models.dsp.mains_buzz`) ``snr_db`` below it: what a USB microphone on a ground loop adds.
    Kept apart from :func:`degrade` so that hums drawn without it stay as they were."""
    buzz = dsp.mains_buzz(len(audio), rng, float(rng.choice([50.0, 60.0])))
    return dsp.mix_at_snr(audio, buzz, snr_db)


def random_conditions(rng: np.random.Generator, melody: Melody, centres: dict[str, tuple[float, float]] = VOICE_CENTRES) -> HumConditions:
    """A hum's style, key, tempo and noise; its median pitch drawn from ``centres`` (MIDI ranges per
    register: :data:`VOICE_CENTRES`, or one of :data:`REGISTERS`; the same draws either way)."""
    style = str(rng.choice(STYLES, p=[0.3, 0.25, 0.2, 0.1, 0.15]))
    register = "whistle" if style == "whistle" else str(rng.choice(["low", "high"]))
    centre = rng.uniform(*centres[register])
    return HumConditions(
        style=style,
        transpose=float(centre - np.median(melody.pitch)),
        tempo_factor=float(np.exp(rng.uniform(np.log(0.6), np.log(1.5)))),
        snr_db=float(rng.uniform(5, 35)),
        noise_kind=str(rng.choice(["pink", "white", "brown", "babble", "tv"])),
    )


def render_hum(
    melody: Melody,
    recording_seconds_per_beat: float,
    start_beat: float,
    length_s: float,
    rng: np.random.Generator,
    conditions: HumConditions | None = None,
    distractor: Melody | None = None,
    singer: str = "synth",
    skill: str = "careful",
    words: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, HumConditions]:
    """A hum of ``length_s`` seconds starting at ``start_beat`` of ``melody``.

    ``words``: given the dry hum, the dry recording around it (words said before or after it,
    ``benchmarks.accuracy --talk``), which then goes through the same room, microphone and noise.

    ``tempo_factor`` > 1 means the person hums faster than the recording. ``singer``: "synth"
    (our voice, :func:`voice`) or one of :data:`models.other_voices.SINGERS`, which sing the same
    humanized notes with someone else's voice. ``skill``: a :data:`SKILLS` profile.
    """
    conditions = replace(conditions or random_conditions(rng, melody), singer=singer, skill=skill)
    seconds_per_beat = recording_seconds_per_beat / conditions.tempo_factor
    events, note_times = humanize(melody, seconds_per_beat, conditions.transpose, rng, skill)
    start_s = float(note_times[min(int(np.searchsorted(melody.onset, start_beat)), len(note_times) - 1)])
    lead_in = rng.uniform(0.0, 0.6)
    passage = events.window(max(start_s - lead_in, 0.0), length_s)
    if singer == "synth":
        dry = voice(passage, conditions.style, length_s, rng)
    else:
        dry = other_voices.sing(passage, conditions.style, length_s, singer, rng)
    if words is not None:
        dry = words(dry)
    return degrade(dry, rng, conditions.snr_db, conditions.noise_kind, distractor), conditions
