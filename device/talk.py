"""Leaving out a few words said before or after the hum ("it goes like this", "that's it").

People at a speaker talk: they press the button and say what they are about to do, or add a word
before they let go. Speech has a pitch, so the hum tracker follows it, the melody matcher has to
fit it as if it were part of the tune, and the encoder embeds windows of it. Session 31 measured
the cost on the 2,000-song benchmark's seed-0 careful hums with a phrase spoken by Festival's
voice (one of six, -6 to 0 dB against the hum, 0.3-0.8 s of pause) put before or after each hum,
through the same room, microphone and noise (offline, the shipped Recognizer; top-1 / top-10 /
MRR): without the words 0.915 / 0.960 / 0.933; words before 0.795 / 0.925 / 0.845; words after
0.820 / 0.920 / 0.855.

What tells the two apart is how the pitch moves, not the timbre (a person singing the words of
the song must not be cut): a hum, a "la" or a whistle holds notes, so nearly all its voiced
frames lie in stretches of ``NOTE_FRAMES`` frames (0.2 s) whose pitch stays within
``NOTE_RANGE_SEMITONES``; speech glides from syllable to syllable and far fewer of its frames do.
The test is relative: a leading (trailing) stretch is left out only when a pause of at least
``PAUSE_FRAMES`` unvoiced frames separates it from the rest, it holds notes on less than
``TALK_NOTE_SHARE`` of its voiced frames, the rest holds them on at least ``NOTE_SHARE_LEAD``
more, it is at most ``MAX_TALK_VOICED_FRAMES`` voiced frames (4 s) and at least
``MIN_TALK_VOICED_FRAMES``, and at least ``MIN_HUM_VOICED_FRAMES`` voiced frames (2.4 s) remain.
A wobbly singer is compared with their own hum, not with a fixed bar; words that run into the
hum without a pause, or a TV that fills the pause, leave the query as it is.

Session 31, the same sets with the stretch left out (offline, top-1 / top-10 / MRR): words
before 0.795 / 0.925 / 0.845 -> 0.840 / 0.920 / 0.872, words after 0.820 / 0.920 / 0.855 -> 0.865 /
0.940 / 0.894; seed 1 before 0.785 / 0.885 / 0.820 -> 0.795 / 0.885 / 0.825, after 0.785 / 0.890 /
0.823 -> 0.805 / 0.895 / 0.838. The benchmark command (``benchmarks.accuracy --talk before``, seed
0, its row "ours, words kept" beside): 0.790 / 0.920 / 0.844 -> 0.830 / 0.915 / 0.868. The words
are found (the cut within a second of their end) for about half the hums (87 and 77 of seed 0's
200, 97 of seed 1's words-before hums); Festival's speech through a room is flat (held notes on
~0.5 of its voiced frames at the median, a hum's ~0.75), so a person's words, which glide more,
should be found more often. Hums without words: 3-5 of each 200 lost a stretch (a noisy tail, a
TV snatch), and 2 answers of 1,000 moved (seed 0 careful, mixed skills and mixed voices
unchanged; seed 1 careful 0.865 -> 0.860 top-1, mixed skills 0.675 -> 0.670). Also tried: a bar
of 0.65 and a lead of 0.2 (the words found more often, twice the cuts of hums without words).
"""

from __future__ import annotations

import numpy as np

NOTE_FRAMES = 5  # a held note: this many consecutive voiced frames (0.2 s at 25 frames/s) ...
NOTE_RANGE_SEMITONES = 0.6  # ... whose pitch stays within this range
PAUSE_FRAMES = 5  # unvoiced frames (0.2 s) that separate words from the hum
TALK_NOTE_SHARE = 0.55  # words: fewer of their voiced frames than this in held notes ...
NOTE_SHARE_LEAD = 0.3  # ... and the rest of the query this much more
MAX_TALK_VOICED_FRAMES = 100  # 4 s of voiced frames: longer is not a few words
MIN_TALK_VOICED_FRAMES = 8  # shorter is a click or a breath, harmless and not worth a cut
MIN_HUM_VOICED_FRAMES = 60  # what must remain (2.4 s voiced)


def in_held_notes(pitches: np.ndarray) -> np.ndarray:
    """Per frame: whether it lies in a stretch of ``NOTE_FRAMES`` voiced frames whose pitch stays
    within ``NOTE_RANGE_SEMITONES`` (``pitches``: MIDI per frame, NaN where unvoiced)."""
    pitches = np.asarray(pitches, np.float64)
    held = np.zeros(len(pitches), bool)
    if len(pitches) < NOTE_FRAMES:
        return held
    stretches = np.lib.stride_tricks.sliding_window_view(pitches, NOTE_FRAMES)
    voiced = ~np.isnan(stretches).any(axis=1)
    spread = np.where(voiced, np.ptp(np.nan_to_num(stretches), axis=1), np.inf)
    steady = voiced & (spread <= NOTE_RANGE_SEMITONES)
    for offset in range(NOTE_FRAMES):
        held[offset : offset + len(steady)] |= steady
    return held


def pause_middles(voiced: np.ndarray) -> list[int]:
    """Frames in the middle of each pause of at least ``PAUSE_FRAMES`` unvoiced frames between voiced ones."""
    edges = np.diff(np.concatenate([[1], voiced.astype(np.int8), [1]]))
    starts, ends = np.flatnonzero(edges == -1), np.flatnonzero(edges == 1)
    return [int((a + b) // 2) for a, b in zip(starts, ends) if b - a >= PAUSE_FRAMES and a > 0 and b < len(voiced)]


def hum_span(pitches: np.ndarray) -> tuple[int, int]:
    """(first, end) frames of the query without words said before or after the hum (the whole
    query, ``(0, len(pitches))``, when there are none); see the module docstring."""
    pitches = np.asarray(pitches, np.float64)
    n = len(pitches)
    voiced = ~np.isnan(pitches)
    voiced_before = np.concatenate([[0], np.cumsum(voiced)])
    held_before = np.concatenate([[0], np.cumsum(in_held_notes(pitches))])

    def voiced_in(a: int, b: int) -> int:
        return int(voiced_before[b] - voiced_before[a])

    def note_share(a: int, b: int) -> float:
        return float(held_before[b] - held_before[a]) / max(voiced_in(a, b), 1)

    def talk_then_hum(talk: tuple[int, int], hum: tuple[int, int]) -> bool:
        words = voiced_in(*talk)
        return (
            MIN_TALK_VOICED_FRAMES <= words <= MAX_TALK_VOICED_FRAMES
            and voiced_in(*hum) >= MIN_HUM_VOICED_FRAMES
            and note_share(*talk) < TALK_NOTE_SHARE
            and note_share(*hum) - note_share(*talk) > NOTE_SHARE_LEAD
        )

    pauses = pause_middles(voiced)
    first, end = 0, n
    for cut in pauses:  # the latest pause that ends words said before the hum
        if voiced_in(0, cut) > MAX_TALK_VOICED_FRAMES:
            break
        if talk_then_hum((0, cut), (cut, n)):
            first = cut
    for cut in reversed(pauses):  # the earliest pause that starts words said after it
        if cut <= first or voiced_in(cut, n) > MAX_TALK_VOICED_FRAMES:
            break
        if talk_then_hum((cut, n), (first, cut)):
            end = cut
    return first, end
