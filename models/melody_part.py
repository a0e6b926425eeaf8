"""Which part of a multi-part MIDI file carries the tune.

A catalog operator's MIDI files are rarely bare melodies: a song's file holds the tune on one
channel beside chords, a bass line, pads and drums. The index builder renders every part (that is
the "original recording" the encoder sees), but the melody contour that the screen and the DTW
match a hum against must be the tune alone. Taking the highest note at each moment over all parts
(the "skyline") fails whenever a chord or a pad sits above the tune, which in pop arrangements is
often; taking the first channel fails whenever the file starts with the piano.

The choice follows the features that melody-track studies found decisive (a tune is one note at
a time, sounds most of the song, sits above the bass, and is often named so), each a few lines:

- a track name saying melody / vocal / lead / voice / tune / solo (or bass / drum / chord / pad /
  accompaniment / rhythm / harmony against it);
- polyphony: the share of its notes that start while another of its notes sounds (chords);
- coverage: the share of the song's span it sounds;
- rhythm: a tune mixes long and short notes; a held line, a strum or an arpeggio repeats one
  note length (spread of the log time between onsets);
- density: a tune moves (a held line or a pad changes note once a bar);
- register: median pitch (a part in the bass register is no tune), and higher beats lower (a
  second voice usually runs under the tune);
- the General MIDI program family (basses and pads against; leads, reeds, pipes, voices for).

``benchmarks/midi_melody.py`` measures the choice on generated arrangements.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

MELODY_NAMES = re.compile(r"melod|vocal|voice|voz|lead|sing|tune|solo|theme|canto|chant|stimme|melodie", re.IGNORECASE)
ACCOMPANIMENT_NAMES = re.compile(r"bass|drum|perc|chord|pad|accomp|rhythm|harmon|backing|comp\b|arp", re.IGNORECASE)
BASS_PROGRAMS = range(32, 40)
PAD_AND_EFFECT_PROGRAMS = range(88, 104)
LEAD_PROGRAMS = (*range(52, 55), *range(56, 88))  # voices, brass, reeds, pipes, synth leads
MIN_NOTES = 8  # fewer notes than this is an ornament or a count-in, not a tune
BASS_REGISTER = 48.0  # a part whose median pitch is below C3 is a bass line

NAME_WEIGHT = 4.0
POLYPHONY_WEIGHT = 3.0
COVERAGE_WEIGHT = 1.5
BASS_REGISTER_PENALTY = 3.0
REGISTER_WEIGHT = 0.1  # per semitone above middle C, from an octave below to two above
DENSITY_WEIGHT = 1.0  # for 2 or more notes a second
PROGRAM_WEIGHT = 0.5
RHYTHM_WEIGHT = 2.0


@dataclass(frozen=True)
class Part:
    """The notes one track plays on one MIDI channel, with what the file says about them."""

    number: int
    name: str  # its track's name
    program: int  # its first program change (0, piano, when none)
    onset: np.ndarray  # seconds
    dur: np.ndarray
    pitch: np.ndarray


def polyphony(part: Part) -> float:
    """Share of the part's notes that start while another of its notes is still sounding."""
    order = np.argsort(part.onset, kind="stable")
    onset, end = part.onset[order], (part.onset + part.dur)[order]
    latest_end = np.maximum.accumulate(end)
    overlapping = np.zeros(len(onset), bool)
    overlapping[1:] = onset[1:] < latest_end[:-1] - 0.03  # 30 ms of legato overlap is still one voice
    starts_together = np.zeros(len(onset), bool)
    starts_together[1:] = np.diff(onset) < 0.03
    return float(np.mean(overlapping | starts_together))


def coverage(part: Part, span_s: float) -> float:
    """Share of ``span_s`` during which the part sounds (union of its notes)."""
    if span_s <= 0:
        return 0.0
    order = np.argsort(part.onset, kind="stable")
    covered, reach = 0.0, -np.inf
    for start, end in zip(part.onset[order], (part.onset + part.dur)[order]):
        if end <= reach:
            continue
        covered += end - max(start, reach)
        reach = end
    return min(covered / span_s, 1.0)


def rhythm_variety(part: Part) -> float:
    """Spread (standard deviation, in octaves of time, at most 1) of the times between the part's onsets."""
    starts = np.unique(np.round(part.onset, 2))
    gaps = np.diff(starts)
    gaps = gaps[gaps > 0.03]
    return min(float(np.std(np.log2(gaps))), 1.0) if len(gaps) > 1 else 0.0


def melody_score(part: Part, span_s: float) -> float:
    """How much ``part`` looks like the tune (higher: more); see the module docstring."""
    score = 0.0
    if MELODY_NAMES.search(part.name):
        score += NAME_WEIGHT
    elif ACCOMPANIMENT_NAMES.search(part.name):
        score -= NAME_WEIGHT
    score -= POLYPHONY_WEIGHT * polyphony(part)
    score += COVERAGE_WEIGHT * coverage(part, span_s)
    score += RHYTHM_WEIGHT * rhythm_variety(part)
    score += DENSITY_WEIGHT * min(len(part.onset) / max(span_s, 1e-3), 2.0) / 2.0
    register = float(np.median(part.pitch))
    if register < BASS_REGISTER:
        score -= BASS_REGISTER_PENALTY
    score += REGISTER_WEIGHT * float(np.clip(register - 60.0, -12.0, 24.0))
    if part.program in BASS_PROGRAMS or part.program in PAD_AND_EFFECT_PROGRAMS:
        score -= PROGRAM_WEIGHT
    elif part.program in LEAD_PROGRAMS:
        score += PROGRAM_WEIGHT / 2
    return score


def tune_part(parts: list[Part]) -> int:
    """The number of the part that carries the tune (the only part, when there is one)."""
    if len(parts) == 1:
        return parts[0].number
    span = max(float(np.max(p.onset + p.dur)) for p in parts) - min(float(np.min(p.onset)) for p in parts)
    candidates = [p for p in parts if len(p.onset) >= MIN_NOTES] or parts
    return max(candidates, key=lambda p: melody_score(p, span)).number
