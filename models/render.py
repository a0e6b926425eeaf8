"""Rendering notes to audio: instruments, and melodies inside arrangements ("original recordings").

:func:`render_notes` turns any :class:`NoteEvents` (a user's MIDI or ABC file, or a melody) into
audio with one instrument; the index builder uses it with a fixed seed so a catalog renders the
same way every time. :func:`render_arrangement` puts a melody inside chords, bass and drums with a
random mix and room: the training set's stand-in for the original recording of a song.
"""

from __future__ import annotations

import numpy as np

from models import dsp
from models.melody import NoteEvents

# Harmonic amplitude profiles and envelopes (attack, decay, sustain, release) of the instruments.
INSTRUMENTS: dict[str, tuple[tuple[float, ...], tuple[float, float, float, float]]] = {
    "flute": ((1.0, 0.25, 0.08, 0.03), (0.05, 0.2, 0.85, 0.08)),
    "clarinet": (tuple(1.0 / k if k % 2 else 0.05 / k for k in range(1, 16)), (0.03, 0.2, 0.9, 0.06)),
    "saw_lead": (tuple(1.0 / k for k in range(1, 24)), (0.01, 0.15, 0.8, 0.05)),
    "brass": (tuple(1.0 / k**0.7 for k in range(1, 16)), (0.04, 0.15, 0.8, 0.08)),
    "piano": (tuple(1.0 / k**1.5 for k in range(1, 16)), (0.005, 0.5, 0.15, 0.2)),
    "guitar": (tuple(1.0 / k**1.2 for k in range(1, 16)), (0.003, 0.3, 0.05, 0.15)),
    "organ": ((1.0, 0.6, 0.4, 0.3, 0.0, 0.2, 0.0, 0.15), (0.01, 0.1, 1.0, 0.03)),
    "strings": (tuple(1.0 / k for k in range(1, 16)), (0.12, 0.3, 0.9, 0.2)),
    "square": (tuple(1.0 / k if k % 2 else 0.0 for k in range(1, 20)), (0.01, 0.1, 0.85, 0.04)),
    "sine": ((1.0,), (0.02, 0.1, 0.9, 0.05)),
}
MELODY_INSTRUMENTS = ("flute", "clarinet", "saw_lead", "brass", "piano", "guitar", "organ", "strings", "square", "sine")
CHORD_INSTRUMENTS = ("piano", "guitar", "organ", "strings")
CATALOG_INSTRUMENT = "piano"


def render_notes(
    events: NoteEvents,
    instrument: str = CATALOG_INSTRUMENT,
    sr: int = dsp.SR,
    vibrato_cents: float = 0.0,
    rng: np.random.Generator | None = None,
    length_s: float | None = None,
) -> np.ndarray:
    """Audio of ``events`` played by ``instrument``; polyphony allowed; peak 0.9 (or silence)."""
    rng = rng or np.random.default_rng(0)
    profile, (attack, decay, sustain, release) = INSTRUMENTS[instrument]
    total_s = length_s if length_s is not None else events.end_s + release * 5
    out = np.zeros(max(int(total_s * sr), 1), dtype=np.float32)
    for onset, dur, pitch, vel in zip(events.onset, events.dur, events.pitch, events.velocity):
        start = int(onset * sr)
        if start >= len(out):
            continue
        held = max(int(dur * sr), 1)
        n = min(held + int(release * 5 * sr), len(out) - start)
        freq = np.full(n, dsp.midi_to_hz(pitch), dtype=np.float64)
        if vibrato_cents:
            t = np.arange(n) / sr
            freq *= 2 ** (vibrato_cents / 1200 * np.sin(2 * np.pi * rng.uniform(4.5, 6.5) * t))
        tone = dsp.oscillator(freq, profile, sr, phase0=rng.uniform())
        out[start : start + n] += vel * tone * dsp.adsr(n, sr, attack, decay, sustain, release, held)
    peak = float(np.max(np.abs(out)))
    return out * (0.9 / peak) if peak > 0 else out


def chord_track(melody: NoteEvents, bar_s: float, rng: np.random.Generator) -> tuple[NoteEvents, NoteEvents]:
    """A plausible harmonisation: per bar, a triad on the melody's most weighted pitch class, plus bass.

    Not good harmony, but realistic interference: accompaniment that shares the melody's notes
    and key sits in the same frequency bands, which is what makes real recordings hard.
    """
    pitch_classes = np.round(melody.pitch).astype(int) % 12
    histogram = np.bincount(pitch_classes, weights=melody.dur, minlength=12)
    chords_on, chords_dur, chords_pitch, bass_on, bass_pitch = [], [], [], [], []
    n_bars = int(np.ceil(melody.end_s / bar_s)) if bar_s > 0 else 0
    for bar in range(n_bars):
        start = bar * bar_s
        inside = (melody.onset >= start) & (melody.onset < start + bar_s)
        if not np.any(inside):
            continue
        weights = np.bincount(pitch_classes[inside], weights=melody.dur[inside], minlength=12)
        root = int(np.argmax(weights + 0.1 * histogram))
        third = 4 if histogram[(root + 4) % 12] >= histogram[(root + 3) % 12] else 3
        base = 48 + root if rng.uniform() < 0.5 else 52 + (root - 4) % 12
        for interval in (0, third, 7):
            chords_on.append(start)
            chords_dur.append(bar_s * 0.95)
            chords_pitch.append(base + interval)
        for beat in range(2):
            bass_on.append(start + beat * bar_s / 2)
            bass_pitch.append(36 + root)
    chords = NoteEvents(np.array(chords_on), np.array(chords_dur), np.array(chords_pitch, float), np.full(len(chords_on), 0.6))
    bass = NoteEvents(np.array(bass_on), np.full(len(bass_on), bar_s / 2 * 0.9), np.array(bass_pitch, float), np.ones(len(bass_on)))
    return chords, bass


def drum_track(n: int, beat_s: float, rng: np.random.Generator, sr: int = dsp.SR) -> np.ndarray:
    """Kick on 1 and 3, snare on 2 and 4, hi-hat on eighths."""
    t = np.arange(int(0.25 * sr)) / sr
    kick = np.sin(2 * np.pi * np.cumsum(50 + 90 * np.exp(-t / 0.03)) / sr) * np.exp(-t / 0.12)
    snare = (rng.standard_normal(len(t)) * 0.6 + np.sin(2 * np.pi * 190 * t)) * np.exp(-t / 0.07)
    hat = dsp.butter(rng.standard_normal(len(t)).astype(np.float32), "highpass", 6000) * np.exp(-t / 0.02)
    out = np.zeros(n, dtype=np.float32)
    for step in range(int(n / sr / (beat_s / 2)) + 1):
        pos = int(step * beat_s / 2 * sr)
        if pos >= n:
            break
        hits = [(hat, 0.3)]
        if step % 4 == 0:
            hits.append((kick, 1.0))
        if step % 4 == 2:
            hits.append((snare, 0.7))
        for sample, gain in hits:
            m = min(len(sample), n - pos)
            out[pos : pos + m] += gain * sample[:m]
    return out


def render_arrangement(
    melody: NoteEvents, beat_s: float, rng: np.random.Generator, length_s: float, lead: np.ndarray | None = None
) -> np.ndarray:
    """The melody inside a random arrangement, mixed and put in a room: an "original recording".

    ``lead``: the melody already rendered (16 kHz, e.g. sung by :func:`models.other_voices.sing`,
    as the lead of a pop song is) instead of played by one of ``MELODY_INSTRUMENTS``; the
    accompaniment, mix and room are drawn as for an instrumental lead."""
    n = int(length_s * dsp.SR)
    if lead is None:
        lead = render_notes(
            melody, str(rng.choice(MELODY_INSTRUMENTS)), vibrato_cents=rng.choice([0.0, 15.0, 30.0]), rng=rng, length_s=length_s
        )
    else:
        lead = dsp.normalise_peak(np.pad(np.asarray(lead, np.float32), (0, max(n - len(lead), 0)))[:n], 0.9)
    mix = lead.copy()
    if rng.uniform() < 0.85:  # 15 % of "recordings" are the bare melody
        chords, bass = chord_track(melody, beat_s * rng.choice([2, 4]), rng)
        accompaniment = 10 ** (-rng.uniform(3, 14) / 20)  # melody 3-14 dB above the backing
        if len(chords.onset):
            mix += accompaniment * render_notes(chords, str(rng.choice(CHORD_INSTRUMENTS)), rng=rng, length_s=length_s)
            mix += accompaniment * render_notes(bass, "sine" if rng.uniform() < 0.5 else "guitar", rng=rng, length_s=length_s)
        if rng.uniform() < 0.6:
            mix += accompaniment * rng.uniform(0.3, 1.0) * drum_track(n, beat_s, rng)
    if rng.uniform() < 0.7:
        mix = dsp.reverberate(mix, dsp.room_impulse(rng, rng.uniform(0.2, 1.5), direct=rng.uniform(0.5, 1.0)))
    if rng.uniform() < 0.3:
        mix = dsp.butter(mix, "lowpass", rng.uniform(3000, 7500))
    return dsp.normalise_peak(mix, rng.uniform(0.3, 0.95))
