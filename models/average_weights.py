"""Averages encoder weights of one architecture (a "model soup"), e.g. a model and its fine-tune.

Fine-tuning run 6 on hums of less skilled singers and other voices (run 7b) gained on those and
lost on careful hums in our voice; the mean of the two weights kept both (model card "Run 7").
Averaging works only between weights that share an ancestor (one trained from the other), where
the loss surface between them stays low; batch-norm running statistics are averaged as well.

    python -m models.average_weights models/weights/encoder.npz .cache/train7b/encoder.npz -o soup.npz
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def average_weights(paths: list[Path], shares: list[float]) -> dict[str, np.ndarray]:
    """Share-weighted mean of every float array; other arrays (config, counters) from the first file."""
    if len(paths) != len(shares) or not paths:
        raise ValueError("one share per weights file")
    total = float(sum(shares))
    loaded = [dict(np.load(p, allow_pickle=False)) for p in paths]
    first = loaded[0]
    for path, arrays in zip(paths[1:], loaded[1:]):
        if arrays.keys() != first.keys() or any(arrays[k].shape != first[k].shape for k in first):
            raise ValueError(f"{path}: not the same architecture as {paths[0]}")
        if bytes(arrays["__config__"]) != bytes(first["__config__"]):
            raise ValueError(f"{path}: another encoder config than {paths[0]}")
    out = {}
    for key, value in first.items():
        if value.dtype.kind == "f":
            mean = sum(share * arrays[key].astype(np.float64) for share, arrays in zip(shares, loaded)) / total
            out[key] = mean.astype(value.dtype)
        else:
            out[key] = value
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights", type=Path, nargs="+", help="encoder .npz files (models.encoder.save_weights)")
    parser.add_argument("-o", "--out", type=Path, required=True)
    parser.add_argument("--shares", type=float, nargs="+", help="relative weight of each file (default: equal)")
    args = parser.parse_args(argv)
    shares = args.shares or [1.0] * len(args.weights)
    for path in args.weights:
        if not path.is_file():
            parser.error(f"{path}: no such weights file")
    try:
        arrays = average_weights(args.weights, shares)
    except ValueError as exc:
        parser.error(str(exc))
    np.savez(args.out, **arrays)
    print(f"wrote {args.out}: mean of {len(args.weights)} weights (shares {', '.join(f'{s:g}' for s in shares)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
