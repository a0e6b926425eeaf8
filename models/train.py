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


def random_crops(clips: torch.Tensor, length: int, rng: np.random.Generator) -> torch.Tensor:
    """A ``length``-frame window cut at random from each clip, standardised, as float32.

    ``clips`` may live on the GPU: the cut is one gather there, so the host only draws the starts.
    """
    starts = torch.from_numpy(rng.integers(0, clips.shape[1] - length + 1, len(clips))).to(clips.device)
    frames = starts[:, None] + torch.arange(length, device=clips.device)[None, :]
    crops = clips[torch.arange(len(clips), device=clips.device)[:, None], frames].float()
    return standardise_batch(crops)


def spec_augment(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """One random time mask and one band mask per window (values set to the window mean, 0).

    The mask bounds are drawn on the host window by window (the same random stream as a plain loop,
    so CPU and GPU runs of one seed see the same masks) and applied as one masked fill.
    """
    bounds = np.zeros((len(x), 4), np.int64)
    for i in range(len(x)):
        bounds[i] = rng.integers(0, x.shape[1]), rng.integers(0, 12), rng.integers(0, x.shape[2]), rng.integers(0, 10)
    b = torch.from_numpy(bounds).to(x.device)
    t = torch.arange(x.shape[1], device=x.device)[None, :]
    f = torch.arange(x.shape[2], device=x.device)[None, :]
    time_mask = (t >= b[:, :1]) & (t < b[:, :1] + b[:, 1:2])
    band_mask = (f >= b[:, 2:3]) & (f < b[:, 2:3] + b[:, 3:4])
    return x.masked_fill(time_mask[:, :, None] | band_mask[:, None, :], 0.0)


def nt_xent(hum: torch.Tensor, rec: torch.Tensor, tunes: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric in-batch softmax over cosine similarities; same-tune negatives are masked."""
    hum, rec = F.normalize(hum, dim=1), F.normalize(rec, dim=1)
    logits = hum @ rec.T / temperature
    same_tune = tunes[:, None] == tunes[None, :]
    eye = torch.eye(len(tunes), dtype=torch.bool, device=logits.device)
    logits = logits.masked_fill(same_tune & ~eye, -1e4)
    target = torch.arange(len(tunes), device=logits.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


@torch.no_grad()
def centre_window_embeddings(model: HumEncoder, clips: np.ndarray, length: int) -> torch.Tensor:
    """Unit embeddings of each clip's centre ``length`` frames: validation's one window per clip."""
    device = next(model.parameters()).device
    start = (clips.shape[1] - length) // 2
    window = torch.from_numpy(clips[:, start : start + length].astype(np.float32)).to(device)
    return F.normalize(model(standardise_batch(window)), dim=1)


@torch.no_grad()
def retrieval_top1(model: HumEncoder, hums: np.ndarray, recs: np.ndarray, length: int) -> float:
    """Share of validation hums whose nearest recording (centre crops) is their own."""
    model.eval()
    h, r = centre_window_embeddings(model, hums, length), centre_window_embeddings(model, recs, length)
    model.train()
    return float(((h @ r.T).argmax(dim=1) == torch.arange(len(h), device=h.device)).float().mean())


def out_of_pairs(args: argparse.Namespace) -> bool:
    """True once the generation feeding this run has finished (``--gen-done`` exists) or none is named."""
    return args.gen_done is None or args.gen_done.exists()


def train(args: argparse.Namespace) -> Path:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    device = torch.device(args.device)
    if args.init:
        model = load_weights(str(args.init)).train()
    else:
        model = HumEncoder(EncoderConfig(widths=tuple(args.widths), embedding_dim=args.embedding_dim))
    model = model.to(device)
    config = model.config
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=args.steps, pct_start=0.05)
    checkpoint = args.out / "checkpoint.pt"
    step = 0
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=True, map_location=device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        step = int(state["step"])
        rng = np.random.default_rng([args.seed, step])
        logger.info("resumed at step %d", step)
    first_step = step
    val_hum, val_rec, _ = load_shards(sorted(args.val.glob("shard_*.npz"))) if args.val else (None, None, None)
    history = []
    loaded: list[Path] = []
    hums = recs = tunes = None
    started = time.time()

    def time_is_up() -> bool:
        return bool(args.max_minutes) and time.time() - started > 60 * args.max_minutes

    while step < args.steps:
        shards = sorted(p for folder in args.pairs for p in folder.glob("shard_*.npz") if ".tmp" not in p.name)
        fresh = [p for p in shards if p not in loaded]
        if fresh:  # generation may still be adding shards: pick them up as they land
            parts = [torch.from_numpy(a).to(device) for a in load_shards(fresh)]
            if hums is None:
                hums, recs, tunes = parts
            else:
                hums, recs, tunes = (torch.cat([old, new]) for old, new in zip((hums, recs, tunes), parts))
            loaded += fresh
            logger.info("training on %d pairs from %d shards", len(hums), len(loaded))
        if hums is None or (step == first_step and len(hums) < max(args.min_pairs, args.batch)):
            time.sleep(5)  # generation beside us has not written enough pairs yet
            continue
        paced = args.max_passes and (step - first_step + 1) * args.batch > args.max_passes * len(hums) and not out_of_pairs(args)
        if paced and not time_is_up():
            time.sleep(2)  # wait for generation rather than wear the pairs we have thin
            continue
        batch = torch.from_numpy(rng.choice(len(hums), args.batch, replace=False)).to(device)
        h = spec_augment(random_crops(hums[batch], config.n_frames, rng), rng)
        r = spec_augment(random_crops(recs[batch], config.n_frames, rng), rng)
        embeddings = model(torch.cat([h, r]))
        loss = nt_xent(embeddings[: args.batch], embeddings[args.batch :], tunes[batch], args.temperature)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        step += 1
        if step % args.log_every == 0 or step == args.steps:
            entry = {"step": step, "loss": round(loss.item(), 4), "elapsed_s": round(time.time() - started, 1)}
            if val_hum is not None:
                entry["val_top1"] = round(retrieval_top1(model, val_hum[:500], val_rec[:500], config.n_frames), 4)
            history.append(entry)
            logger.info(json.dumps(entry))
        out_of_time = time_is_up()
        if step % args.save_every == 0 or step == args.steps or out_of_time:
            torch.save(
                {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(), "step": step},
                checkpoint,
            )
            save_weights(model.eval(), str(args.out / "encoder.npz"))
            model.train()
        if out_of_time:
            logger.warning("stopping at step %d of %d: --max-minutes %.1f reached", step, args.steps, args.max_minutes)
            break
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
    parser.add_argument("--device", default="cpu", help="torch device: cpu, or cuda where a GPU is lent")
    parser.add_argument("--widths", type=int, nargs="+", default=list(EncoderConfig.widths), help="channels (no --init)")
    parser.add_argument("--embedding-dim", type=int, default=EncoderConfig.embedding_dim, help="(no --init)")
    parser.add_argument("--min-pairs", type=int, default=0, help="wait until the shards hold this many pairs")
    parser.add_argument("--max-passes", type=float, default=0.0, help="pace to generation: at most this many passes over the pairs so far")
    parser.add_argument("--gen-done", type=Path, help="file whose existence says generation has finished (ends --max-passes pacing)")
    parser.add_argument("--max-minutes", type=float, default=0.0, help="save and stop after this long (0 = no limit)")
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--save-every", type=int, default=100)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    train(args)


if __name__ == "__main__":
    main()
