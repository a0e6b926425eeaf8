"""A microphone without hardware: ALSA ``type file`` PCMs whose capture samples come from raw files.

PortAudio (through sounddevice) sees them as ordinary ALSA input devices, so the whole capture
path runs: device lookup, stream open at the device's native rate, the audio callback, resampling,
the ring buffer. ``type plug`` wrappers present them in other rates, sample formats and channel
counts. The capture side of ALSA's ``null`` slave has no clock, so these devices deliver audio far
faster than real time: a press's capture completes in milliseconds.

ALSA reads ``ALSA_CONFIG_PATH`` when PortAudio initialises (on ``import sounddevice``), so
:func:`install` must run before that, which is why ``conftest`` calls it at import.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SYSTEM_ALSA_CONF = Path("/usr/share/alsa/alsa.conf")


@dataclass(frozen=True)
class FileMicrophone:
    """An ALSA input device ``name`` that plays ``raw_path`` (``rate`` Hz, ``channels``, ``sample_format``)."""

    name: str
    raw_path: Path
    rate: int
    channels: int
    sample_format: str  # ALSA name: S16_LE, S32_LE, FLOAT_LE

    def load(self, audio: np.ndarray, source_rate: int) -> None:
        """Writes mono float ``audio`` (at ``source_rate``) as this device's raw samples."""
        import soxr

        samples = soxr.resample(audio.astype(np.float32), source_rate, self.rate) if source_rate != self.rate else audio
        samples = np.clip(samples, -1.0, 1.0)
        frames = np.repeat(samples[:, None], self.channels, axis=1)
        if self.sample_format == "S16_LE":
            data = (frames * 32767).astype("<i2")
        elif self.sample_format == "S32_LE":
            data = (frames * 2147483392).astype("<i4")
        else:
            data = frames.astype("<f4")
        data.tofile(self.raw_path)


MICROPHONES = (
    ("hum_mic", 44100, 1, "S16_LE"),
    ("hum_mic_usb48", 48000, 2, "S16_LE"),
)


def _pcm_text(mic: FileMicrophone) -> str:
    return f"""
pcm.{mic.name}_file {{
    type file
    slave.pcm {{ type null }}
    file "/dev/null"
    infile "{mic.raw_path}"
    format "raw"
}}
pcm.{mic.name} {{
    type plug
    slave {{
        pcm "{mic.name}_file"
        format {mic.sample_format}
        rate {mic.rate}
        channels {mic.channels}
    }}
}}
"""


_installed: dict[str, FileMicrophone] = {}


def install(folder: Path | None = None) -> dict[str, FileMicrophone]:
    """Writes the ALSA configuration and points ``ALSA_CONFIG_PATH`` at it; returns the microphones by name.

    Once per process: conftest may be imported twice (as ``conftest`` and ``tests.conftest``).
    """
    if _installed:
        return _installed
    folder = Path(folder or tempfile.mkdtemp(prefix="alsa-mic-"))
    mics = {name: FileMicrophone(name, folder / f"{name}.raw", rate, ch, fmt) for name, rate, ch, fmt in MICROPHONES}
    text = f"<{SYSTEM_ALSA_CONF}>\n" if SYSTEM_ALSA_CONF.exists() else ""
    for mic in mics.values():
        mic.load(np.zeros(mic.rate // 10, dtype=np.float32), mic.rate)  # the file must exist when PortAudio probes devices
        text += _pcm_text(mic)
    config = folder / "asound.conf"
    config.write_text(text)
    os.environ["ALSA_CONFIG_PATH"] = str(config)
    _installed.update(mics)
    return _installed
