"""The one place where audio enters: any file or buffer becomes 16 kHz mono float32.

Users bring what they have: wav/flac/ogg/mp3, 8/16/24/32-bit integer or float, mono or stereo,
8 kHz to 48 kHz (USB microphones often refuse 16 kHz). Everything is decoded by libsndfile
(through ``soundfile``), or by FFmpeg where PyAV is installed (AAC .m4a, AMR, WMA...:
:mod:`device.ffmpeg_audio`), mixed to mono and resampled with soxr here, once; nothing else in
the project resamples. Problems become :class:`AudioError` with a message a person can act on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from device.ffmpeg_audio import FFMPEG_SUFFIXES, INSTALL_HINT, FFmpegDecodeError, ffmpeg_blocks, ffmpeg_installed

logger = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".aiff", ".aif")  # what libsndfile decodes, by name


def audio_suffixes() -> tuple[str, ...]:
    """Every audio suffix this installation reads: libsndfile's, and FFmpeg's where PyAV is installed."""
    return AUDIO_SUFFIXES + (tuple(FFMPEG_SUFFIXES) if ffmpeg_installed() else ())


def undecodable_suffixes() -> dict[str, str]:
    """Suffixes of formats people keep songs and voice memos in that this installation cannot decode
    (FFmpeg's, without PyAV), with their codec's name: named in errors, with the way out."""
    return {} if ffmpeg_installed() else dict(FFMPEG_SUFFIXES)


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
    kind = FFMPEG_SUFFIXES.get(path.suffix.lower())
    if kind is not None:
        if not ffmpeg_installed():
            raise AudioError(
                f"{path}: {kind} audio needs FFmpeg ({INSTALL_HINT}), or convert it first, "
                f"e.g. ffmpeg -i '{path.name}' '{path.stem}.flac' (read here: {' '.join(AUDIO_SUFFIXES)})"
            )
        return _read_with_ffmpeg(path, target_rate)
    try:
        with sf.SoundFile(str(path)) as handle:
            rate = handle.samplerate
            declared = handle.frames
            try:
                check_rate(rate)
                decoded, audio = _mono_at_rate(_soundfile_blocks(handle), rate, target_rate)
            except AudioError as exc:
                raise AudioError(f"{path}: {exc}") from exc
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        if ffmpeg_installed():  # a file libsndfile trips on (odd headers, a misnamed .m4a) may still be FFmpeg's
            try:
                return _read_with_ffmpeg(path, target_rate)
            except AudioError:
                pass
        raise AudioError(f"{path}: cannot decode audio ({_short(exc)}); is it corrupt or not audio?") from exc
    if decoded == 0:
        raise AudioError(f"{path}: contains no audio samples (truncated or empty stream)")
    if 0 < declared < 2**62 and decoded < declared:
        logger.warning("%s: truncated: header declares %d frames, %d decoded", path, declared, decoded)
    return audio


DECODE_BLOCK_FRAMES = 1 << 16  # frames decoded, mixed down and resampled at a time (~1.4 s at 48 kHz)


def _soundfile_blocks(handle) -> Iterator[np.ndarray]:
    """Blocks of ``DECODE_BLOCK_FRAMES`` float32 (frames, channels) from an open ``soundfile.SoundFile``."""
    while True:
        block = handle.read(DECODE_BLOCK_FRAMES, dtype="float32", always_2d=True)
        if len(block):
            yield block
        if len(block) < DECODE_BLOCK_FRAMES:
            return


def _mono_at_rate(blocks: Iterable[np.ndarray], rate: int, target_rate: int) -> tuple[int, np.ndarray]:
    """(frames decoded, mono float32 at ``target_rate``) of decoded (frames, channels) blocks.

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
    for block in blocks:
        mono = finite_mono(block)
        decoded += len(block)
        pieces.append(mono if resampler is None else resampler.resample_chunk(mono))
    if resampler is not None:
        pieces.append(resampler.resample_chunk(np.zeros(0, np.float32), last=True))
    return decoded, (np.concatenate(pieces) if pieces else np.zeros(0, np.float32)).astype(np.float32, copy=False)


def _read_with_ffmpeg(path: Path, target_rate: int) -> np.ndarray:
    """:func:`read_audio` of a file FFmpeg decodes (:mod:`device.ffmpeg_audio`). A stream that breaks
    part-way keeps what was decoded before the break, with a warning (as a truncated WAV does)."""
    try:
        rate, blocks = ffmpeg_blocks(path, DECODE_BLOCK_FRAMES)
        check_rate(rate)
    except (FFmpegDecodeError, AudioError) as exc:
        raise AudioError(f"{path}: cannot decode audio ({exc}); is it corrupt or not audio?") from exc
    broken: list[str] = []

    def until_broken() -> Iterator[np.ndarray]:
        try:
            yield from blocks
        except FFmpegDecodeError as exc:
            broken.append(str(exc))

    try:
        decoded, audio = _mono_at_rate(until_broken(), rate, target_rate)
    except AudioError as exc:
        raise AudioError(f"{path}: {exc}") from exc
    if decoded == 0:
        detail = f" ({broken[0]})" if broken else ""
        raise AudioError(f"{path}: contains no audio samples{detail} (truncated, corrupt or empty stream)")
    if broken:
        logger.warning("%s: decoding stopped after %.1f s (%s); using the audio before it", path, decoded / rate, broken[0])
    return audio


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
