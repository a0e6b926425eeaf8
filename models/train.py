"""Command: train the encoder on (hum, recording) pairs with a symmetric NT-Xent loss.

    python -m models.train --pairs .cache/pairs --out .cache/train --steps 1200 --seed 0
    python -m models.train --pairs .cache/pairs .cache/pairs2 --init W.npz --out .cache/train2 ...

Each batch holds B pairs; every hum must pick out its own recording among the B recordings of the
batch and vice versa (in-batch softmax, as in contrastive music models). Pairs of the same tune in
one batch are masked out of the negatives. Windows are cropped at random from the stored 6 s clips,
independently for hum and recording, so the model learns to tolerate the ~1 s misalignment between
a query window and the nearest song window. A checkpoint is written every ``--save-every`` steps and
the run resumes from it; the final weights go to ``OUT/encoder.npz``.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from models.dataset import load_shards
from models.encoder import EncoderConfig, HumEncoder, load_weights, save_weights

logger = logging.getLogger(__name__)


def standardise_batch(x: torch.Tensor) -> torch.Tensor:
    """Same per-window standardisation as :func:`device.windows.standardise`, in torch."""
    x = x - x.mean(dim=(1, 2), keepdim=True)
    return x / x.std(dim=(1, 2), keepdim=True, unbiased=False).clamp_min(1e-3)


def random_crops(clips: np.ndarray, length: int, rng: np.random.Generator) -> torch.Tensor:
    starts = rng.integers(0, clips.shape[1] - length + 1, len(clips))
    crops = np.stack([clip[s : s + length] for clip, s in zip(clips, starts)]).astype(np.float32)
    return standardise_batch(torch.from_numpy(crops))


def spec_augment(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """One random time mask and one band mask per window (values set to the window mean, 0)."""
    x = x.clone()
    for i in range(len(x)):
        t0, t_len = rng.integers(0, x.shape[1]), rng.integers(0, 12)
        f0, f_len = rng.integers(0, x.shape[2]), rng.integers(0, 10)
        x[i, t0 : t0 + t_len] = 0
        x[i, :, f0 : f0 + f_len] = 0
    return x


def nt_xent(hum: torch.Tensor, rec: torch.Tensor, tunes: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric in-batch softmax over cosine similarities; same-tune negatives are masked."""
    hum, rec = F.normalize(hum, dim=1), F.normalize(rec, dim=1)
    logits = hum @ rec.T / temperature
    same_tune = tunes[:, None] == tunes[None, :]
    eye = torch.eye(len(tunes), dtype=torch.bool)
    logits = logits.masked_fill(same_tune & ~eye, -1e4)
    target = torch.arange(len(tunes))
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


@torch.no_grad()
def retrieval_top1(model: HumEncoder, hums: np.ndarray, recs: np.ndarray, length: int) -> float:
    """Share of validation hums whose nearest recording (centre crops) is their own."""
    model.eval()
    start = (hums.shape[1] - length) // 2
    h = F.normalize(model(standardise_batch(torch.from_numpy(hums[:, start : start + length].astype(np.float32)))), dim=1)
    r = F.normalize(model(standardise_batch(torch.from_numpy(recs[:, start : start + length].astype(np.float32)))), dim=1)
    model.train()
    return float(((h @ r.T).argmax(dim=1) == torch.arange(len(h))).float().mean())


def train(args: argparse.Namespace) -> Path:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    model = load_weights(str(args.init)).train() if args.init else HumEncoder(EncoderConfig())
    config = model.config
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=args.steps, pct_start=0.05)
    checkpoint = args.out / "checkpoint.pt"
    step = 0
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        step = int(state["step"])
        rng = np.random.default_rng([args.seed, step])
        logger.info("resumed at step %d", step)
    val_hum, val_rec, _ = load_shards(sorted(args.val.glob("shard_*.npz"))) if args.val else (None, None, None)
    history = []
    loaded: list[Path] = []
    hums = recs = tunes = None
    started = time.time()
    while step < args.steps:
        shards = sorted(p for folder in args.pairs for p in folder.glob("shard_*.npz") if ".tmp" not in p.name)
        if shards != loaded:  # generation may still be adding shards: pick them up as they land
            hums, recs, tunes = load_shards(shards)
            loaded = shards
            logger.info("training on %d pairs from %d shards", len(hums), len(shards))
        batch = rng.choice(len(hums), args.batch, replace=False)
        h = spec_augment(random_crops(hums[batch], config.n_frames, rng), rng)
        r = spec_augment(random_crops(recs[batch], config.n_frames, rng), rng)
        embeddings = model(torch.cat([h, r]))
        loss = nt_xent(embeddings[: args.batch], embeddings[args.batch :], torch.from_numpy(tunes[batch]), args.temperature)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        step += 1
        if step % args.log_every == 0 or step == args.steps:
            entry = {"step": step, "loss": round(float(loss), 4), "elapsed_s": round(time.time() - started, 1)}
            if val_hum is not None:
                entry["val_top1"] = round(retrieval_top1(model, val_hum[:500], val_rec[:500], config.n_frames), 4)
            history.append(entry)
            logger.info(json.dumps(entry))
        if step % args.save_every == 0 or step == args.steps:
            torch.save(
                {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(), "step": step},
                checkpoint,
            )
            save_weights(model.eval(), str(args.out / "encoder.npz"))
            model.train()
    with open(args.out / "history.jsonl", "a") as handle:
        for entry in history:
            handle.write(json.dumps(entry) + "\n")
    return args.out / "encoder.npz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=Path, nargs="+", default=[Path(".cache/pairs")], help="shard folders (models.gen_data)")
    parser.add_argument("--init", type=Path, help="start from these weights (.npz) instead of random ones")
    parser.add_argument("--val", type=Path, default=Path(".cache/val_pairs"), help="held-out-tune shards")
    parser.add_argument("--out", type=Path, default=Path(".cache/train"))
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--temperature", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--save-every", type=int, default=100)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    train(args)


if __name__ == "__main__":
    main()
