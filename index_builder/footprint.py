"""How much of a speaker's memory a bundle's index will take, and what to do when it is too much.

A catalog of full-length recordings gets a window per second of every song (the song hop): 10,000
songs of 3.5 minutes are ~2 million windows, which hnswlib holds at ~520 bytes each (64 float32
dimensions and the graph's links, measured with M=16): ~1 GB, more than a Pi Zero 2 W has and
most of a Pi 4's. The operator sees that at build time, with the one knob that trades it away
(``--song-hop``), instead of on the speaker.
"""

from __future__ import annotations

# Resident bytes per indexed window: hnswlib, 64 dims, M=16 (session 30, 200,000 unit vectors:
# 52 MB per 100k). The device's float16 copy of candidate windows adds 128 where it is made.
INDEX_BYTES_PER_WINDOW = 520
# An index larger than this leaves a 512 MB speaker (Pi Zero 2 W) without room for the rest of the
# process (Python, numpy, onnxruntime, the melody contours: ~100 MB; README "Catalog scale": 295 MB
# resident at 400,000 windows).
SMALL_SPEAKER_INDEX_MB = 200.0
# Song hop (frames) the advice offers: one window every 2 s. Session 22 (docs/MEASUREMENTS.md):
# top-1 0.910 -> 0.890 on the benchmark's careful hums, the embedding alone 0.465 -> 0.355.
THINNER_SONG_HOP = 50


def index_megabytes(n_windows: int) -> float:
    """Resident size of an index of ``n_windows`` windows on a speaker, in MB."""
    return n_windows * INDEX_BYTES_PER_WINDOW / 1e6


def memory_advice(n_windows: int, song_hop: int, frame_rate: float) -> str | None:
    """A warning for an index too large for a 512 MB speaker, with what ``--song-hop`` (frames, at
    ``frame_rate`` frames a second) would make of it; None when it fits."""
    size = index_megabytes(n_windows)
    if size <= SMALL_SPEAKER_INDEX_MB:
        return None
    advice = (
        f"the index's {n_windows:,} windows take ~{size:,.0f} MB of a speaker's memory: "
        f"more than a Pi Zero 2 W (512 MB) can hold with the rest of the service (an index up to ~{SMALL_SPEAKER_INDEX_MB:.0f} MB fits)"
    )
    if song_hop < THINNER_SONG_HOP:
        thinner = size * song_hop / THINNER_SONG_HOP
        advice += (
            f"; --song-hop {THINNER_SONG_HOP} (a window every {THINNER_SONG_HOP / frame_rate:g} s instead of {song_hop / frame_rate:g} s) "
            f"makes it ~{thinner:,.0f} MB, for ~2 points of top-1 on the benchmark"
        )
    return advice
