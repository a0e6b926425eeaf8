"""Compares encoder weights on held-out pair sets before any is exported.

The end-to-end benchmark (``benchmarks/accuracy.py``) takes ~15 minutes per catalog on 2 cores;
this takes seconds, so a candidate encoder is first checked here on every kind of held-out hum we
generate (our careful voice, other voices, less skilled singers), and only a candidate that is not
worse on any of them goes on to the benchmark. The number is the training's own validation metric
(:func:`models.train.retrieval_top1`: one centre window per hum, 500-way), plus its MRR.

    python -m models.validate --val .cache/val_pairs .cache/val_voices .cache/val_skills \\
        --weights models/weights/encoder.npz .cache/train7/encoder.npz
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from models.dataset import load_shards
from models.encoder import HumEncoder, load_weights
from models.train import centre_window_embeddings

VALIDATION_PAIRS = 500  # the training logs' val_top1 uses the first 500 pairs of a set


@torch.no_grad()
def retrieval_ranks(model: HumEncoder, hums: np.ndarray, recordings: np.ndarray) -> np.ndarray:
    """Rank (1 = first) of each hum's own recording among all recordings of the set."""
    length = model.config.n_frames
    h, r = centre_window_embeddings(model, hums, length), centre_window_embeddings(model, recordings, length)
    similarity = (h @ r.T).numpy()
    own = np.diag(similarity)
    return 1 + (similarity > own[:, None]).sum(axis=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--val", type=Path, nargs="+", required=True, help="folders of shard_*.npz pairs (models.gen_data --held-out)")
    parser.add_argument("--weights", type=Path, nargs="+", required=True, help="encoder .npz files to compare")
    args = parser.parse_args(argv)
    sets = {}
    for folder in args.val:
        shards = sorted(folder.glob("shard_*.npz"))
        if not shards:
            parser.error(f"{folder}: no shard_*.npz files (make them with python -m models.gen_data --held-out)")
        hums, recordings, _ = load_shards(shards)
        sets[folder.name] = (hums[:VALIDATION_PAIRS], recordings[:VALIDATION_PAIRS])
    for weights in args.weights:
        if not weights.is_file():
            parser.error(f"{weights}: no such weights file")
    header = f"{'weights':40s}" + "".join(f" | {name + ' top-1 / MRR':>26s}" for name in sets)
    print(header)
    print("-" * len(header))
    for weights in args.weights:
        model = load_weights(str(weights))  # once per file, in eval mode
        cells = []
        for hums, recordings in sets.values():
            ranks = retrieval_ranks(model, hums, recordings)
            cells.append(f"{np.mean(ranks == 1):.3f} / {np.mean(1.0 / ranks):.3f} (n={len(ranks)})")
        print(f"{str(weights)[-40:]:40s}" + "".join(f" | {c:>26s}" for c in cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
