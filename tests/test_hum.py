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


def test_wide_registers_draw_the_same_hum_from_wider_pitch_ranges():
    """models.gen_data --registers wide: basses, high voices and high whistles for the next training
    run; style, tempo and noise are the same draws, only the median pitch moves."""
    from models.hum import REGISTERS, VOICE_CENTRES, random_conditions

    tune = leaping_tune()
    tune_median = float(np.median(tune.pitch))
    medians = {"benchmark": [], "wide": []}
    for seed in range(400):
        drawn = {name: random_conditions(np.random.default_rng(seed), tune, REGISTERS[name]) for name in medians}
        assert drawn["benchmark"].style == drawn["wide"].style and drawn["benchmark"].snr_db == drawn["wide"].snr_db
        assert drawn["benchmark"] == random_conditions(np.random.default_rng(seed), tune)  # the default is the benchmark's
        for name, conditions in drawn.items():
            medians[name].append((conditions.style, tune_median + conditions.transpose))
    for name, ranges in (("benchmark", VOICE_CENTRES), ("wide", REGISTERS["wide"])):
        sung = np.array([m for style, m in medians[name] if style != "whistle"])
        whistled = np.array([m for style, m in medians[name] if style == "whistle"])
        assert ranges["low"][0] <= sung.min() and sung.max() <= ranges["high"][1]
        assert ranges["whistle"][0] <= whistled.min() and whistled.max() <= ranges["whistle"][1]
    wide_sung = np.array([m for style, m in medians["wide"] if style != "whistle"])
    wide_whistled = np.array([m for style, m in medians["wide"] if style == "whistle"])
    assert (wide_sung < 45).mean() > 0.15 and (wide_sung > 67).mean() > 0.05 and (wide_whistled > 91).mean() > 0.2


def test_training_hums_can_carry_mains_buzz_and_the_recording_stays_as_it_was():
    from device.frontend import FrontEndConfig
    from models.dataset import make_pair

    tune, other = leaping_tune(), Melody(key="o", title="o", pitch=np.arange(60, 76), onset=np.arange(16.0), dur=np.ones(16))
    plain = make_pair(tune, other, np.random.default_rng(8), FrontEndConfig())
    buzzing = make_pair(tune, other, np.random.default_rng(8), FrontEndConfig(), mains_share=1.0)
    np.testing.assert_array_equal(plain[1], buzzing[1])  # the recording is drawn before the hum
    difference = buzzing[0] - plain[0]  # log-band frames: the buzz raises the bands of its harmonics in every frame
    assert np.abs(difference).mean() > 0.05
    assert np.array_equal(plain[0], make_pair(tune, other, np.random.default_rng(8), FrontEndConfig(), mains_share=0.0)[0])
