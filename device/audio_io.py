"""The one place where audio enters: any file or buffer becomes 16 kHz mono float32.

Users bring what they have: wav/flac/ogg/mp3, 8/16/24/32-bit integer or float, mono or stereo,
8 kHz to 48 kHz (USB microphones often refuse 16 kHz). Everything is decoded by libsndfile
(through ``soundfile``), mixed to mono and resampled with soxr here, once; nothing else in the
project resamples. Problems become :class:`AudioError` with a message a person can act on.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".aiff", ".aif")  # what libsndfile decodes, by name
# Formats people keep songs and voice memos in that libsndfile cannot decode: named in the error, with the way out.
UNDECODABLE_SUFFIXES = {
    ".m4a": "AAC",
    ".aac": "AAC",
    ".mp4": "AAC",
    ".wma": "WMA",
    ".amr": "AMR",
    ".3gp": "AMR/AAC",
    ".ape": "Monkey's Audio",
}
MIN_RATE_HZ = 4000
MAX_RATE_HZ = 384000
SILENCE_RMS = 10 ** (-65 / 20)  # below -65 dBFS RMS there is nothing to recognise


class AudioError(ValueError):
    """A file or buffer that cannot be turned into usable audio; the message says why."""


# A mix that keeps less than this share of what independent channels would keep (their mean
# energy / the number of channels) cancels itself: one channel's polarity is inverted (a miswired
# balanced cable, some USB and phone microphones), and the average is near silence ("the recording
# is silent") or only the room's difference. Copies of one signal keep all of it, independent
# channels 1/n, opposite ones none. Decided per decoded block (a polarity fault lasts the file).
CANCELLING_MIX_SHARE = 0.5


def to_mono(samples: np.ndarray) -> np.ndarray:
    """(n,) or (n, channels) -> (n,) float32 by averaging channels; where the average cancels
    (:data:`CANCELLING_MIX_SHARE`), the loudest channel alone."""
    samples = np.asarray(samples)
    if samples.ndim == 2:
        mixed = samples.mean(axis=1)
        if samples.shape[1] > 1 and len(samples):
            energy = np.mean(np.square(samples, dtype=np.float64), axis=0)
            if np.mean(np.square(mixed, dtype=np.float64)) < CANCELLING_MIX_SHARE * energy.mean() / samples.shape[1]:
                mixed = samples[:, int(np.argmax(energy))]
        samples = mixed
    elif samples.ndim != 1:
        raise AudioError(f"expected 1-D or 2-D audio, got shape {samples.shape}")
    return samples.astype(np.float32, copy=False)


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """High-quality resampling of mono float32 audio (soxr)."""
    if rate_in == rate_out:
        return samples.astype(np.float32, copy=False)
    import soxr

    return soxr.resample(samples, rate_in, rate_out, quality="HQ").astype(np.float32)


def convert(samples: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    """Any in-memory audio (int or float, any channel count) -> mono float32 at ``target_rate``.

    Integer input is scaled to [-1, 1) by its type's range; float input must be finite.
    """
    samples = np.asarray(samples)
    check_rate(rate)
    if np.issubdtype(samples.dtype, np.integer):
        info = np.iinfo(samples.dtype)
        offset = (info.max + 1 + info.min) / 2  # unsigned 8-bit audio is centred on 128
        samples = (samples.astype(np.float32) - offset) / ((info.max - info.min + 1) / 2)
    return resample(finite_mono(samples), rate, target_rate)


def check_rate(rate: int) -> None:
    """Raises AudioError for a sample rate outside what the resampler is asked to handle."""
    if not MIN_RATE_HZ <= rate <= MAX_RATE_HZ:
        raise AudioError(f"unsupported sample rate {rate} Hz (expected {MIN_RATE_HZ}-{MAX_RATE_HZ})")


def finite_mono(samples: np.ndarray) -> np.ndarray:
    """:func:`to_mono` of float samples, refusing NaN and infinities (a broken file or buffer)."""
    mono = to_mono(samples)
    if not np.all(np.isfinite(mono)):
        raise AudioError("audio contains NaN or infinite samples")
    return mono


def read_audio(path: str | Path, target_rate: int = 16000) -> np.ndarray:
    """Decodes an audio file to mono float32 at ``target_rate``.

    Raises:
        AudioError: missing, empty, corrupt or truncated-to-nothing files, unsupported formats.
    """
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: file is empty (0 bytes)")
    try:
        with sf.SoundFile(str(path)) as handle:
            rate = handle.samplerate
            declared = handle.frames
            try:
                check_rate(rate)
                decoded, audio = _decode_mono(handle, rate, target_rate)
            except AudioError as exc:
                raise AudioError(f"{path}: {exc}") from exc
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        kind = UNDECODABLE_SUFFIXES.get(path.suffix.lower())
        if kind is not None:
            raise AudioError(
                f"{path}: {kind} audio cannot be decoded here (only {' '.join(AUDIO_SUFFIXES)}); "
                f"convert it first, e.g. ffmpeg -i '{path.name}' '{path.stem}.flac'"
            ) from exc
        raise AudioError(f"{path}: cannot decode audio ({_short(exc)}); is it corrupt or not audio?") from exc
    if decoded == 0:
        raise AudioError(f"{path}: contains no audio samples (truncated or empty stream)")
    if 0 < declared < 2**62 and decoded < declared:
        logger.warning("%s: truncated: header declares %d frames, %d decoded", path, declared, decoded)
    return audio


DECODE_BLOCK_FRAMES = 1 << 16  # frames decoded, mixed down and resampled at a time (~1.4 s at 48 kHz)


def _decode_mono(handle, rate: int, target_rate: int) -> tuple[int, np.ndarray]:
    """(frames decoded, mono float32 at ``target_rate``) of an open ``soundfile.SoundFile``, a block at a time.

    Why blocks: decoding a whole file first holds every channel at the source rate, so a 3-minute
    6-channel 96 kHz query peaked at 1.2 GB resident (a Pi Zero 2 W has 512 MB), and an index
    build's workers each hold a whole song that way. Each block is mixed to mono and fed to one
    streaming soxr resampler (the same HQ filter as :func:`resample`), so only the mono result at
    the target rate accumulates."""
    resampler = None
    if rate != target_rate:
        import soxr

        resampler = soxr.ResampleStream(rate, target_rate, 1, dtype="float32", quality="HQ")
    pieces, decoded = [], 0
    while True:
        block = handle.read(DECODE_BLOCK_FRAMES, dtype="float32", always_2d=True)
        last = len(block) < DECODE_BLOCK_FRAMES
        mono = finite_mono(block)
        decoded += len(block)
        pieces.append(mono if resampler is None else resampler.resample_chunk(mono, last=last))
        if last:
            return decoded, np.concatenate(pieces).astype(np.float32, copy=False)


def check_not_silent(samples: np.ndarray, what: str = "audio", advice: str = "hum louder or closer to the microphone") -> None:
    """Raises AudioError when there is nothing but (near-)silence to recognise; ``advice`` ends the
    message (a hum's default; a catalog song needs other words)."""
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if len(samples) else 0.0
    if rms < SILENCE_RMS:
        level = 20 * np.log10(max(rms, 1e-12))
        raise AudioError(f"{what} is silent (RMS {level:.0f} dBFS); {advice}")


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__
