"""Audio that libsndfile cannot read, decoded by FFmpeg through PyAV (the optional ``ffmpeg`` extra).

People keep songs and voice memos in AAC (an iTunes library's .m4a, an iPhone's Voice Memos, most
Android recorders), AMR (older phones' .amr / .3gp), WMA and Monkey's Audio; libsndfile decodes
none of them. PyAV's wheels carry FFmpeg's own libraries (x86-64 and arm64), so no system FFmpeg is
needed. It stays optional (~35 MB): without it those files are named with a way out (convert them).

Only decoding happens here: the decoded blocks go through :mod:`device.audio_io` like
libsndfile's (mixed to mono and resampled there, once).
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Iterator
from pathlib import Path

import numpy as np

# What FFmpeg decodes that libsndfile does not, by file suffix, with the codec's name for messages.
FFMPEG_SUFFIXES = {
    ".m4a": "AAC",
    ".aac": "AAC",
    ".mp4": "AAC",
    ".wma": "WMA",
    ".amr": "AMR",
    ".3gp": "AMR/AAC",
    ".ape": "Monkey's Audio",
    ".webm": "WebM (Opus/Vorbis)",
    ".caf": "Core Audio",
}
INSTALL_HINT = 'pip install "hum-recognizer[ffmpeg]"'


class FFmpegDecodeError(ValueError):
    """FFmpeg could not open or decode a file (corrupt, truncated, or no audio stream)."""


@functools.cache
def ffmpeg_installed() -> bool:
    """Whether PyAV (FFmpeg) is installed here, without importing it (~0.1 s, not paid at start-up)."""
    return importlib.util.find_spec("av") is not None


def _import_av():
    """PyAV, or :class:`FFmpegDecodeError` where it is installed but does not load (a broken install)."""
    try:
        import av
    except ImportError as exc:
        raise FFmpegDecodeError(f"PyAV is installed but does not load ({exc}); reinstall it: {INSTALL_HINT}") from exc
    return av


def ffmpeg_blocks(path: Path, block_frames: int) -> tuple[int, Iterator[np.ndarray]]:
    """(sample rate, blocks of about ``block_frames`` frames as float32 (frames, channels)) of the
    first audio stream of ``path``; the file is closed when the blocks run out.

    Raises:
        FFmpegDecodeError: the file cannot be opened, has no audio stream, or fails mid-stream.
    """
    av = _import_av()

    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise FFmpegDecodeError(_short(exc)) from exc
    if not container.streams.audio:
        container.close()
        raise FFmpegDecodeError("no audio stream in the file")
    stream = container.streams.audio[0]
    rate = int(stream.codec_context.sample_rate or 0)
    return rate, _decoded_blocks(container, stream, block_frames)


def ffmpeg_tags(path: Path) -> tuple[str, str]:
    """(title, artist) from the file's own tags as FFmpeg reads them (an .m4a's iTunes atoms, a
    WMA's ASF tags); empty where it has none, PyAV is missing or the file does not open."""
    if not ffmpeg_installed():
        return "", ""
    try:
        av = _import_av()
    except FFmpegDecodeError:
        return "", ""
    try:
        with av.open(str(path)) as container:
            tags = {key.lower(): value for key, value in container.metadata.items()}
    except (av.FFmpegError, OSError, ValueError):
        return "", ""
    return str(tags.get("title", "")).strip(), str(tags.get("artist", "")).strip()


def _decoded_blocks(container, stream, block_frames: int) -> Iterator[np.ndarray]:
    """Decoded frames as planar float with the first frame's channel layout, gathered into blocks."""
    import av

    pending: list[np.ndarray] = []
    count = 0
    resampler = None  # sample format only: the rate is converted once, by soxr, in audio_io
    try:
        with container:
            for frame in container.decode(stream):
                if resampler is None:
                    resampler = av.AudioResampler(format="fltp", layout=frame.layout.name, rate=frame.sample_rate)
                for planar in resampler.resample(frame):
                    samples = planar.to_ndarray().T  # (channels, frames) -> (frames, channels)
                    pending.append(samples)
                    count += len(samples)
                    if count >= block_frames:
                        yield np.concatenate(pending).astype(np.float32, copy=False)
                        pending, count = [], 0
            for planar in resampler.resample(None) if resampler is not None else []:
                pending.append(planar.to_ndarray().T)
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise FFmpegDecodeError(_short(exc)) from exc
    if pending:
        yield np.concatenate(pending).astype(np.float32, copy=False)


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__
