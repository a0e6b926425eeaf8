"""The one front end: streaming equals whole-file, and the bands resolve semitones."""

from __future__ import annotations

import numpy as np
import pytest

from device.frontend import FrontEndConfig, StreamingFrontEnd, band_centres_hz, compute_features, filter_bank


@pytest.fixture(scope="module")
def signal() -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(3 * 16000 + 777) / 16000
    return (0.3 * np.sin(2 * np.pi * 220 * t * (1 + 0.1 * t)) + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.mark.parametrize("chunk", [1, 37, 160, 1024, 1280, 4097])
def test_streaming_matches_whole_signal(signal, chunk):
    whole = compute_features(signal)
    stream = StreamingFrontEnd()
    parts = [stream.push(signal[i : i + chunk]) for i in range(0, len(signal), chunk)]
    streamed = np.concatenate(parts)
    assert streamed.shape == whole.shape
    np.testing.assert_allclose(streamed, whole, rtol=1e-5, atol=1e-5)


def test_random_chunk_sizes_and_reset(signal):
    rng = np.random.default_rng(1)
    stream = StreamingFrontEnd()
    stream.push(rng.standard_normal(5000).astype(np.float32))  # a previous press
    stream.reset()
    parts, i = [], 0
    while i < len(signal):
        n = int(rng.integers(1, 3000))
        parts.append(stream.push(signal[i : i + n]))
        i += n
    np.testing.assert_allclose(np.concatenate(parts), compute_features(signal), rtol=1e-5, atol=1e-5)


def test_frame_rate_and_count():
    config = FrontEndConfig()
    assert config.frame_rate == 25.0
    frames = compute_features(np.zeros(16000 * 4, np.float32))
    assert abs(len(frames) - 4 * 25) <= 3


@pytest.mark.parametrize("hz", [110.0, 196.0, 440.0, 880.0, 1760.0])
def test_a_semitone_is_two_bands(hz):
    t = np.arange(16000) / 16000
    peaks = []
    for f in (hz, hz * 2 ** (1 / 12)):
        frames = compute_features((0.5 * np.sin(2 * np.pi * f * t)).astype(np.float32))
        peaks.append(int(np.argmax(frames[5:-5].mean(axis=0))))
    centres = band_centres_hz(FrontEndConfig())
    assert abs(centres[peaks[0]] / hz - 1) < 0.03
    assert peaks[1] - peaks[0] == 2


def test_every_band_has_weight_and_unit_area():
    bank = filter_bank(FrontEndConfig())
    np.testing.assert_allclose(bank.sum(axis=0), 1.0, rtol=1e-5)
    assert (bank.max(axis=0) > 0).all()


def test_silence_is_finite_and_flat():
    frames = compute_features(np.zeros(16000, np.float32))
    assert np.isfinite(frames).all()
    assert np.ptp(frames) == 0.0


def test_config_round_trip_and_unknown_key():
    config = FrontEndConfig()
    assert FrontEndConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown front-end"):
        FrontEndConfig.from_dict({**config.to_dict(), "n_mels": 64})


def test_a_long_file_is_analysed_in_bounded_memory():
    """A minute pushed whole (a file query, a catalog song) gives the frames of a capture's small
    pushes, and numpy's allocations stay bounded (whole at once they reached ~300 MB)."""
    import tracemalloc

    rng = np.random.default_rng(2)
    minute = (0.1 * rng.standard_normal(60 * 16000)).astype(np.float32)
    tracemalloc.start()
    try:
        whole = compute_features(minute)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    stream = StreamingFrontEnd()
    streamed = np.concatenate([stream.push(minute[i : i + 4000]) for i in range(0, len(minute), 4000)])
    np.testing.assert_array_equal(whole, streamed)
    assert peak < 60e6, f"{peak / 1e6:.0f} MB"
