"""Giving freed heap back to the OS, so a long-running speaker stays at its steady-state footprint.

glibc keeps memory freed by Python, numpy and onnxruntime in its heap; after loading a big bundle
or answering a query that is tens of MB a Pi could use for something else. ``malloc_trim(0)``
returns it. A no-op where the C library is not glibc.

Called once, after a bundle is loaded (nothing else runs then). Not called between presses: with
PortAudio's capture threads around it was seen to stall the ALSA capture of the next press.

Between presses, :func:`keep_large_blocks_out_of_the_heap` does the job instead: glibc serves a
block of at least ``MMAP_THRESHOLD_BYTES`` from its own mapping and unmaps it when freed. By
default that threshold climbs (up to 32 MB) each time such a block is freed, so after one answer
the encoder's and the search's big temporaries stay in the heap. Session 26, a 100k-song bundle
(``benchmarks.scale``'s), resident after loading and answering one hum: 325 MB by default, 296 MB
with 4 MB (1 MB: 291 MB, but the melody stage ~13 % slower, its DTW rows mapped afresh; 4 MB:
melody stage p50 151.0 -> 153.5 and 149.6 -> 151.5 ms on one pinned x86 core, within noise).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number (malloc.h)
MMAP_THRESHOLD_BYTES = 4 << 20


@functools.lru_cache(maxsize=1)
def _libc():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def _malloc_trim():
    return getattr(_libc(), "malloc_trim", None)


@functools.lru_cache(maxsize=1)
def keep_large_blocks_out_of_the_heap() -> bool:
    """Fixes glibc's mmap threshold at ``MMAP_THRESHOLD_BYTES`` for this process (once); True where
    that took (glibc), False elsewhere (another C library: nothing to do)."""
    mallopt = getattr(_libc(), "mallopt", None)
    return bool(mallopt is not None and mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1)


def release_free_memory() -> None:
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
