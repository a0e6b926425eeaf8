"""The encoder: a standardised log-band window (T frames x bands) -> an embedding vector.

Plain 3x3 convolutions (they train ~2.5x faster per window on a CPU than depthwise-separable ones
of fewer multiply-adds) keep a 5 s window at ~20 M multiply-adds and the int8 model well under
1 MB. The band axis is pooled by a max at the end, so a melody moved up or down by a few semitones
(a shift along the band axis) lands on the same features: key invariance is built in,
and the data teaches the rest. L2 normalisation is NOT part of the network: it runs in numpy on the
device (TFLite runtimes reject int8 Sqrt), see :func:`device.encoder_runtime.l2_normalise`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class EncoderConfig:
    """Architecture hyper-parameters; saved beside the weights."""

    n_bands: int = 144
    n_frames: int = 125
    widths: tuple[int, ...] = (8, 16, 32, 64, 128)
    embedding_dim: int = 64

    def to_dict(self) -> dict:
        data = asdict(self)
        data["widths"] = list(self.widths)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> EncoderConfig:
        return cls(**{**data, "widths": tuple(data["widths"])})


class ConvBlock(nn.Module):
    """3x3 convolution, batch norm, ReLU."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(x)))


class HumEncoder(nn.Module):
    """(batch, frames, bands) float -> (batch, embedding_dim), not normalised."""

    def __init__(self, config: EncoderConfig | None = None) -> None:
        super().__init__()
        self.config = config or EncoderConfig()
        w = self.config.widths
        self.stem = nn.Sequential(nn.Conv2d(1, w[0], 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(w[0]), nn.ReLU())
        blocks = []
        for i in range(1, len(w)):
            blocks.append(ConvBlock(w[i - 1], w[i]))
            if i < len(w) - 1:
                blocks.append(nn.MaxPool2d(2))
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(2 * w[-1], self.config.embedding_dim)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(windows.unsqueeze(1)))  # (B, C, T', F')
        x = x.amax(dim=3)  # max over bands: key invariance
        pooled = torch.cat([x.mean(dim=2), x.amax(dim=2)], dim=1)
        return self.head(pooled)


def save_weights(model: HumEncoder, path: str) -> None:
    """Weights as a plain ``.npz`` (no pickle), config as JSON inside it."""
    import json

    arrays = {name: tensor.detach().cpu().numpy() for name, tensor in model.state_dict().items()}
    arrays["__config__"] = np.frombuffer(json.dumps(model.config.to_dict()).encode(), dtype=np.uint8)
    np.savez(path, **arrays)


def load_weights(path: str) -> HumEncoder:
    import json

    with np.load(path, allow_pickle=False) as data:
        config = EncoderConfig.from_dict(json.loads(bytes(data["__config__"]).decode()))
        model = HumEncoder(config)
        state = {k: torch.from_numpy(data[k].copy()) for k in data.files if k != "__config__"}
    model.load_state_dict(state)
    return model.eval()


def count_macs(config: EncoderConfig) -> int:
    """Multiply-adds of one window through the network (convolutions and the head)."""
    model = HumEncoder(config).eval()
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
            total += output.numel() * k
        elif isinstance(module, nn.Linear):
            total += module.in_features * module.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model(torch.zeros(1, config.n_frames, config.n_bands))
    for h in handles:
        h.remove()
    return total
