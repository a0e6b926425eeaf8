"""The training batch helpers: crops cut the frames they say, masks zero only their stripes."""

from __future__ import annotations

import numpy as np
import torch

from models.train import random_crops, spec_augment, standardise_batch


def test_random_crops_cut_the_drawn_windows() -> None:
    clips = torch.from_numpy(np.random.default_rng(0).normal(size=(6, 40, 12)).astype(np.float16))
    crops = random_crops(clips, 25, np.random.default_rng(1))
    starts = np.random.default_rng(1).integers(0, 40 - 25 + 1, 6)  # the same draw
    expected = standardise_batch(torch.stack([clips[i, s : s + 25].float() for i, s in enumerate(starts)]))
    assert crops.shape == (6, 25, 12)
    assert torch.allclose(crops, expected)


def test_spec_augment_zeroes_one_time_and_one_band_stripe() -> None:
    x = torch.ones(50, 30, 20)
    masked = spec_augment(x, np.random.default_rng(2))
    rng = np.random.default_rng(2)
    for window in masked:
        t0, t_len, f0, f_len = rng.integers(0, 30), rng.integers(0, 12), rng.integers(0, 20), rng.integers(0, 10)
        expected = torch.ones(30, 20)
        expected[t0 : t0 + t_len] = 0
        expected[:, f0 : f0 + f_len] = 0
        assert torch.equal(window, expected)
    assert (masked == 0).any() and (masked == 1).any()
