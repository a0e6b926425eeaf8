"""Weight averaging (model soup) of encoders: exact means, refusal of mismatched architectures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.average_weights import average_weights, main
from models.encoder import EncoderConfig, HumEncoder, load_weights, save_weights


def saved(tmp_path, name: str, seed: int, widths=(8, 16, 32, 64, 128)):
    torch.manual_seed(seed)
    path = tmp_path / f"{name}.npz"
    save_weights(HumEncoder(EncoderConfig(widths=widths)), str(path))
    return path


def test_mean_of_two_encoders_loads_and_lies_between_them(tmp_path):
    a, b = saved(tmp_path, "a", 0), saved(tmp_path, "b", 1)
    out = tmp_path / "soup.npz"
    assert main([str(a), str(b), "-o", str(out), "--shares", "3", "1"]) == 0
    soup, first, second = np.load(out), np.load(a), np.load(b)
    key = "stem.0.weight"
    assert np.allclose(soup[key], 0.75 * first[key] + 0.25 * second[key], atol=1e-6)
    assert not np.allclose(soup[key], first[key])
    model = load_weights(str(out))  # a usable encoder: same config, every tensor present
    assert model(torch.zeros(1, model.config.n_frames, model.config.n_bands)).shape == (1, model.config.embedding_dim)


def test_encoders_of_other_widths_are_refused(tmp_path):
    a, wide = saved(tmp_path, "a", 0), saved(tmp_path, "wide", 1, widths=(16, 32, 64, 128, 256))
    with pytest.raises(ValueError, match="architecture|config"):
        average_weights([a, wide], [1.0, 1.0])
    with pytest.raises(SystemExit):
        main([str(a), str(tmp_path / "missing.npz"), "-o", str(tmp_path / "x.npz")])
