"""Command: generate training shards.

python -m models.gen_data --out .cache/pairs --shards 48 --pairs-per-shard 500 --seed 1
python -m models.gen_data --out .cache/val_pairs --shards 1 --seed 7 --held-out
python -m models.gen_data --out .cache/pairs5 --shards 32 --pairs-per-shard 250 --seed 5 --singers festival,soundfont --workers 1
python -m models.gen_data --out .cache/pairs8 --shards 32 --pairs-per-shard 250 --seed 81 --leads instrument,sung
python -m models.gen_data --out .cache/pairs9 --shards 32 --seed 91 --registers wide --mains-hum 0.15   # a bass's hums, high whistles, buzz
python -m models.gen_data --out .cache/pairs10 --shards 32 --seed 101 --without-held-out-twins   # no twin of a held-out tune trained on
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Collection
from pathlib import Path

from models import other_voices
from models.dataset import LEADS, generate_shards
from models.hum import REGISTERS, SKILLS
from models.melody import DEFAULT_TUNE_CACHE, load_tune_cache, tune_split, tune_twins, without_twins_of


def comma_list(text: str) -> tuple[str, ...]:
    """The non-empty items of a comma-separated option, stripped."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


def checked_choices(parser: argparse.ArgumentParser, option: str, text: str, allowed: Collection[str]) -> tuple[str, ...]:
    """``comma_list(text)``, or a usage error when it is empty or names anything not in ``allowed``."""
    chosen = comma_list(text)
    if not chosen or any(item not in allowed for item in chosen):
        parser.error(f"{option} {text}: choose from {', '.join(allowed)}")
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path(".cache/pairs"))
    parser.add_argument("--shards", type=int, default=40)
    parser.add_argument("--pairs-per-shard", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--held-out", action="store_true", help="draw from held-out tunes (validation)")
    parser.add_argument("--tunes", type=Path, default=DEFAULT_TUNE_CACHE, help="the tune cache (../shared/data by default)")
    parser.add_argument(
        "--singers",
        default="synth",
        help="comma-separated voices that hum, each pair drawn uniformly: synth, festival, soundfont (models.other_voices)",
    )
    parser.add_argument(
        "--skills",
        default="careful",
        help=f"comma-separated singing skills, each pair drawn uniformly: {', '.join(SKILLS)} (models.hum.SKILLS)",
    )
    parser.add_argument(
        "--leads",
        default="instrument",
        help=f"comma-separated leads of the recordings, each pair drawn uniformly: {', '.join(LEADS)} (sung: Festival or soundfont)",
    )
    parser.add_argument(
        "--registers",
        choices=list(REGISTERS),
        default="benchmark",
        help="where hums sit: the benchmark's registers, or wide ones (a bass down to ~70 Hz, high voices, whistles to ~2.3 kHz)",
    )
    parser.add_argument("--mains-hum", type=float, default=0.0, metavar="SHARE", help="share of hums with mains buzz 15-35 dB below them")
    parser.add_argument(
        "--without-held-out-twins",
        action="store_true",
        help="leave out training tunes that are a transposed or varied twin of a held-out tune (models.melody.tune_twins; "
        "444 of 11,654): off by default, so that earlier runs' commands draw the same tunes",
    )
    args = parser.parse_args()
    if not 0.0 <= args.mains_hum <= 1.0:
        parser.error("--mains-hum: a share between 0 and 1")
    skills = checked_choices(parser, "--skills", args.skills, SKILLS)
    leads = checked_choices(parser, "--leads", args.leads, LEADS)
    singers = comma_list(args.singers)  # checked with the tools they need
    try:
        lacking = other_voices.missing_tools((*singers, *(other_voices.SINGERS if "sung" in leads else ())))
    except ValueError as error:
        parser.error(str(error))
    if lacking:
        parser.error(f"--singers {args.singers} --leads {args.leads} need {', '.join(lacking)}: {other_voices.INSTALL_HINT}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    tunes = load_tune_cache(args.tunes)
    train_keys, held_out_keys = tune_split(tunes)
    if args.without_held_out_twins:
        kept = without_twins_of(train_keys, held_out_keys, tune_twins(tunes))
        logging.info("left out %d training tunes that twin a held-out tune", len(train_keys) - len(kept))
        train_keys = kept
    keys = held_out_keys if args.held_out else train_keys
    generate_shards(
        args.out,
        keys,
        args.shards,
        args.pairs_per_shard,
        args.seed,
        args.workers,
        args.tunes,
        singers,
        skills,
        leads,
        args.registers,
        args.mains_hum,
    )


if __name__ == "__main__":
    main()
