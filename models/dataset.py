"""Training pairs: (hum, original recording) of the same passage of a tune, as front-end features.

Each pair is rendered fresh from a real tune: the recording as an arrangement in a random key and
tempo, the hum with its own key, tempo, voice, errors and room (see :mod:`models.hum`). Features come
from the device's own front end, so training sees exactly what the speaker computes. Pairs are
written in shards (``.npz``, float16, no pickle) so generation can be cached, resumed and shared by
several training runs.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from device.frontend import FrontEndConfig, compute_features
from models import other_voices
from models.hum import REGISTERS, add_mains_hum, choose_seconds_per_beat, random_conditions, render_hum
from models.melody import Melody, load_tune_cache
from models.render import render_arrangement

logger = logging.getLogger(__name__)

CLIP_FRAMES = 150  # stored per clip; training crops encoder windows out of it
CLIP_SECONDS = 6.2
# Who carries the tune in a pair's "recording": an instrument (models.render.MELODY_INSTRUMENTS), or
# a voice singing it (Festival or a soundfont voice, models.other_voices.sung_lead) as in most
# songs people hum. Until session 20 every pair's lead was an instrument, and on a catalog of sung
# recordings the encoder alone named the right song for 0.255 of hums against 0.465 (session 19).
LEADS = ("instrument", "sung")


def make_pair(
    melody: Melody,
    distractor: Melody,
    rng: np.random.Generator,
    config: FrontEndConfig,
    singer: str = "synth",
    skill: str = "careful",
    lead: str = "instrument",
    registers: str = "benchmark",
    mains_share: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """One (hum features, recording features, hum conditions) triple of ``CLIP_FRAMES`` frames each.

    ``singer``: who hums, ``skill``: how well (see :func:`models.hum.render_hum`); ``lead``: who
    carries the tune in the recording, one of :data:`LEADS`; ``registers``: where hums sit, one of
    :data:`models.hum.REGISTERS`; ``mains_share``: the share of hums with mains buzz 15-35 dB below
    them (:func:`models.hum.add_mains_hum`; the shipped encoder never heard a steady tone, and
    buzz costs the embedding alone 3 points, README "Not done yet"). The defaults draw exactly
    what pairs drew before these options, so earlier shards reproduce.
    """
    seconds_per_beat = choose_seconds_per_beat(melody, rng)
    last_start = max(len(melody.onset) - 6, 1)
    start_beat = float(melody.onset[rng.integers(0, last_start)])
    key_shift = rng.integers(-5, 6)
    events = melody.to_events(seconds_per_beat, transpose=key_shift)
    offset = rng.uniform(0.0, 0.6)
    passage = events.window(max(start_beat * seconds_per_beat - offset, 0.0), CLIP_SECONDS)
    sung = other_voices.sung_lead(passage, CLIP_SECONDS, rng) if lead == "sung" else None
    recording = render_arrangement(passage, seconds_per_beat, rng, CLIP_SECONDS, lead=sung)
    drawn = random_conditions(rng, melody, REGISTERS[registers])  # what render_hum would draw first
    hum, conditions = render_hum(melody, seconds_per_beat, start_beat, CLIP_SECONDS, rng, drawn, distractor, singer, skill)
    if mains_share > 0 and rng.uniform() < mains_share:
        hum = add_mains_hum(hum, float(rng.uniform(15.0, 35.0)), rng)
    hum_features = compute_features(hum, config)[:CLIP_FRAMES]
    recording_features = compute_features(recording, config)[:CLIP_FRAMES]
    return hum_features, recording_features, conditions.to_dict()


def one_of(options: tuple[str, ...], rng: np.random.Generator) -> str:
    """One of ``options``, drawn uniformly; a single option draws nothing, so shards made before an
    option had alternatives are reproduced exactly."""
    return options[0] if len(options) == 1 else options[rng.integers(len(options))]


def generate_shard(
    path: Path,
    tune_keys: list[str],
    n_pairs: int,
    seed: int,
    cache: Path | None = None,
    singers: tuple[str, ...] = ("synth",),
    skills: tuple[str, ...] = ("careful",),
    leads: tuple[str, ...] = ("instrument",),
    registers: str = "benchmark",
    mains_share: float = 0.0,
) -> Path:
    """Writes ``n_pairs`` pairs drawn from ``tune_keys`` to ``path`` (skipped when it exists).

    ``singers``: each hum is sung by one of them, drawn uniformly. The encoder must not learn one
    synthesizer's timbre: with our voice alone it found the right song for 0.52 of our hums but
    0.29 of Festival's and soundfont's (session 9). A single singer draws nothing, so shards made
    before singers existed are reproduced exactly. ``skills``: the same for the singers' errors
    (:data:`models.hum.SKILLS`): the encoder trained on careful hums alone found the right song for
    0.13 of untrained singers' hums against 0.45 of careful ones (session 11). ``leads``: the
    same for who carries the tune in the recording (:data:`LEADS`). ``registers``, ``mains_share``:
    see :func:`make_pair`.
    """
    if path.exists():
        return path
    tunes = load_tune_cache(cache) if cache else load_tune_cache()
    config = FrontEndConfig()
    rng = np.random.default_rng(seed)
    hums = np.zeros((n_pairs, CLIP_FRAMES, config.n_bands), np.float16)
    recordings = np.zeros_like(hums)
    tune_ids = np.zeros(n_pairs, np.int32)
    key_index = {key: i for i, key in enumerate(tune_keys)}
    for i in range(n_pairs):
        key = tune_keys[rng.integers(len(tune_keys))]
        distractor = tunes[tune_keys[rng.integers(len(tune_keys))]]
        singer, skill, lead = (one_of(options, rng) for options in (singers, skills, leads))
        hums[i], recordings[i], _ = make_pair(tunes[key], distractor, rng, config, singer, skill, lead, registers, mains_share)
        tune_ids[i] = key_index[key]
    tmp = path.with_name(f"partial-{path.name}")  # not matched by the shard_*.npz glob
    np.savez(tmp, hum=hums, recording=recordings, tune=tune_ids)
    os.replace(tmp, path)
    return path


def generate_shards(
    out_dir: Path,
    tune_keys: list[str],
    n_shards: int,
    pairs_per_shard: int,
    seed: int,
    workers: int,
    cache: Path | None = None,
    singers: tuple[str, ...] = ("synth",),
    skills: tuple[str, ...] = ("careful",),
    leads: tuple[str, ...] = ("instrument",),
    registers: str = "benchmark",
    mains_share: float = 0.0,
) -> list[Path]:
    """Generates shards ``shard_{i}.npz`` in parallel; existing shards are reused (resumable)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"shard_{i:04d}.npz" for i in range(n_shards)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(
                generate_shard, p, tune_keys, pairs_per_shard, seed * 100003 + i, cache, singers, skills, leads, registers, mains_share
            )
            for i, p in enumerate(paths)
        ]
        for future in futures:
            logger.info("shard ready: %s", future.result())
    return paths


def load_shards(paths: list[Path]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenates shards into (hums, recordings, tune ids); arrays stay float16."""
    parts = [np.load(p, allow_pickle=False) for p in paths]
    return (
        np.concatenate([p["hum"] for p in parts]),
        np.concatenate([p["recording"] for p in parts]),
        np.concatenate([p["tune"] for p in parts]),
    )
