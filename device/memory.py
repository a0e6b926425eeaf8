"""Giving freed heap back to the OS, so a long-running speaker stays at its steady-state footprint.

glibc keeps memory freed by Python, numpy and onnxruntime in its heap; after loading a big bundle
or answering a query that is tens of MB a Pi could use for something else. ``malloc_trim(0)``
returns it. A no-op where the C library is not glibc.

Called once, after a bundle is loaded (nothing else runs then). Not called between presses: with
PortAudio's capture threads around it was seen to stall the ALSA capture of the next press.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def release_free_memory() -> None:
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
