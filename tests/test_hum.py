"""The synthetic singers' errors: what the benchmark's "untrained" hums do that careful ones do not."""

from __future__ import annotations

import numpy as np
import pytest

from models.hum import SKILLS, add_mains_hum, humanize, render_hum
from models.melody import Melody


def leaping_tune() -> Melody:
    """Alternating octave leaps and steps, long enough for drift to show."""
    pitch = np.array([60, 72, 71, 60, 62, 74, 72, 62] * 6, np.int64)
    onset = np.arange(len(pitch), dtype=np.float64)
    return Melody(key="leaps", title="leaps", pitch=pitch, onset=onset, dur=np.ones(len(pitch)))


def sung_octave_leaps(skill: str, seed: int) -> np.ndarray:
    """How large one hum of the tune sings its upward octave leaps (semitones)."""
    events, _ = humanize(leaping_tune(), 0.4, 0.0, np.random.default_rng(seed), skill)
    steps = np.diff(events.pitch[events.dur > 0.2])  # grace notes are short
    return steps[steps > 6]


def test_untrained_singers_shrink_large_leaps_and_careful_ones_do_not():
    careful = np.concatenate([sung_octave_leaps("careful", s) for s in range(20)])
    untrained = np.concatenate([sung_octave_leaps("untrained", s) for s in range(20)])
    assert abs(np.median(careful) - 12.0) < 0.5
    assert np.median(untrained) < 11.5


def test_untrained_hums_carry_the_skill_in_their_conditions():
    audio, conditions = render_hum(leaping_tune(), 0.4, 0.0, 4.0, np.random.default_rng(1), skill="untrained")
    assert conditions.skill == "untrained"
    assert np.isfinite(audio).all() and np.abs(audio).max() > 0


def test_unknown_skill_is_refused():
    with pytest.raises(KeyError):
        humanize(leaping_tune(), 0.4, 0.0, np.random.default_rng(0), "professional")


def test_every_profile_keeps_errors_within_its_own_bounds():
    for name, errors in SKILLS.items():
        assert 0 <= errors.interval_scale[0] <= errors.interval_scale[1] <= 1.0, name
        assert errors.intonation_sd[0] <= errors.intonation_sd[1], name


def test_mains_hum_sits_at_its_snr_on_the_mains_frequency():
    """The benchmark's --mains-hum: buzz at exactly the asked level below the hum, strongest at 50
    or 60 Hz (within the 0.5 % drift)."""
    audio, _ = render_hum(leaping_tune(), 0.4, 0.0, 4.0, np.random.default_rng(2))
    buzzed = add_mains_hum(audio, 20.0, np.random.default_rng(3))
    buzz = buzzed - audio
    assert abs(20 * np.log10(np.sqrt(np.mean(audio**2)) / np.sqrt(np.mean(buzz**2))) - 20.0) < 0.01
    spectrum = np.abs(np.fft.rfft(buzz))
    peak_hz = np.fft.rfftfreq(len(buzz), 1 / 16000)[np.argmax(spectrum)]
    assert any(abs(peak_hz - mains) < 0.006 * mains for mains in (50.0, 60.0))
