"""Microphone capture: a PortAudio input stream (via sounddevice) feeding a ring buffer.

The stream is opened at the microphone's native rate (USB microphones often refuse 16 kHz),
down-mixed and resampled once, in the audio callback, to the front end's rate, and written into a
fixed-size :class:`RingBuffer`. The callback never blocks and never allocates without bound: what
does not fit is dropped and counted. The stream stops by itself at the maximum capture length.

A stream is opened per button press and closed after it, so a microphone plugged in again between
presses simply works at the next press.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import numpy as np

from device.ring_buffer import RingBuffer

logger = logging.getLogger(__name__)

FALLBACK_RATES = (48000, 44100, 32000, 22050, 16000)


class MicrophoneError(RuntimeError):
    """No usable microphone, or it stopped delivering audio; the message says what to do."""


@dataclass(frozen=True)
class CaptureConfig:
    """Attributes:
    device: input device: an index, or a case-insensitive part of its name; None = the system default.
    sample_rate: rate to open the microphone at; None = its native (default) rate.
    channels: channels to open (1 = let ALSA down-mix; 2 for a stereo-only microphone, down-mixed here).
    block_ms: audio per callback.
    ring_seconds: ring buffer capacity (at the front end's rate).
    max_seconds: the capture stops by itself after this much audio (see
        :attr:`device.profile.CaptureSection.max_seconds`).
    """

    device: str | int | None = None
    sample_rate: int | None = None
    channels: int = 1
    block_ms: float = 20.0
    ring_seconds: float = 4.0
    max_seconds: float = 25.0


def _sounddevice():
    try:
        import sounddevice
    except OSError as exc:  # the PortAudio shared library is missing
        raise MicrophoneError(f"PortAudio is not installed ({exc}); on Debian / Raspberry Pi OS: sudo apt install libportaudio2") from exc
    return sounddevice


def input_devices() -> list[dict]:
    """PortAudio's input devices: index, name, channels and native rate."""
    sd = _sounddevice()
    return [
        {"index": d["index"], "name": d["name"], "channels": d["max_input_channels"], "native_rate": int(d["default_samplerate"])}
        for d in sd.query_devices()
        if d["max_input_channels"] > 0
    ]


def find_input_device(device: str | int | None) -> dict:
    """The device ``device`` names (see :class:`CaptureConfig`), or a MicrophoneError listing what exists."""
    sd = _sounddevice()
    inputs = input_devices()
    if not inputs:
        raise MicrophoneError("no microphone found: plug one in (USB microphones work) and check `arecord -l`")
    names = ", ".join(f"{d['index']}: {d['name']}" for d in inputs)
    if device is None or device == "":
        default_index = sd.default.device[0]
        if default_index is None or default_index < 0:
            default_index = inputs[0]["index"]
        found = [d for d in inputs if d["index"] == default_index]
        return found[0] if found else inputs[0]
    if isinstance(device, int) or (isinstance(device, str) and device.isdigit()):
        found = [d for d in inputs if d["index"] == int(device)]
    else:
        found = [d for d in inputs if device.lower() in d["name"].lower()]
        exact = [d for d in found if d["name"].lower() == device.lower()]
        found = exact or found
    if not found:
        raise MicrophoneError(f"no microphone matches {device!r}; inputs present: {names}")
    return found[0]


class MicrophoneCapture:
    """One press's worth of audio from the microphone into ``ring`` (mono float32 at ``target_rate``).

    Attributes:
        ring: where the samples go.
        native_rate: the rate the stream was opened at (after ``start``).
        device_name: the device it was opened on.
        input_overflows: callbacks that PortAudio flagged as having lost input (the callback ran late).
        reached_max: the capture hit ``max_seconds`` and the stream stopped itself.
    """

    def __init__(self, config: CaptureConfig, target_rate: int) -> None:
        self.config = config
        self.target_rate = target_rate
        self.ring = RingBuffer(int(config.ring_seconds * target_rate))
        self._max_samples = int(config.max_seconds * target_rate)
        self._stream = None
        self._resampler = None
        self._lock = threading.Lock()
        self.native_rate = 0
        self.device_name = ""
        self._reset_counters()

    def _reset_counters(self) -> None:
        self.ring.clear()
        self.input_overflows = 0
        self.produced = 0
        self.reached_max = False
        self.accepting = True
        self._stopping = False
        self.finished = False
        self.error: str | None = None
        self.callbacks = 0
        self.last_callback = time.monotonic()

    def start(self) -> None:
        """Opens and starts the stream; raises MicrophoneError when there is no usable microphone."""
        sd = _sounddevice()
        info = find_input_device(self.config.device)
        self._reset_counters()
        rates = [self.config.sample_rate] if self.config.sample_rate else [info["native_rate"], *FALLBACK_RATES]
        problems = []
        for rate in dict.fromkeys(rates):
            try:
                stream = sd.InputStream(
                    device=info["index"],
                    samplerate=rate,
                    channels=self.config.channels,
                    dtype="int16",  # what every capture device delivers natively: no conversion plugin in between
                    blocksize=max(int(rate * self.config.block_ms / 1000), 1),
                    latency="high",
                    callback=self._callback,
                    finished_callback=self._finished,
                )
            except (sd.PortAudioError, ValueError) as exc:
                problems.append(f"{rate} Hz: {exc}")
                continue
            break
        else:
            raise MicrophoneError(f"cannot open microphone {info['name']!r}: " + "; ".join(problems))
        import soxr

        self.native_rate = int(rate)
        self.device_name = info["name"]
        self._resampler = None if rate == self.target_rate else soxr.ResampleStream(rate, self.target_rate, 1, dtype="float32")
        self._stream = stream
        try:
            stream.start()
        except sd.PortAudioError as exc:
            self.close()
            raise MicrophoneError(f"cannot start microphone {info['name']!r}: {exc}") from exc
        logger.debug("capturing from %s at %d Hz", self.device_name, self.native_rate)

    def _callback(self, indata: np.ndarray, frames: int, time_info, status) -> None:
        """PortAudio's thread: down-mix, resample, store. Never blocks on the reader."""
        self.callbacks += 1
        self.last_callback = time.monotonic()
        if status.input_overflow:
            self.input_overflows += 1
        if not self.accepting:
            return
        mono = (indata[:, 0] if indata.shape[1] == 1 else indata.mean(axis=1)).astype(np.float32) * (1 / 32768)
        samples = mono if self._resampler is None else self._resampler.resample_chunk(mono)
        room = self._max_samples - self.produced
        if len(samples) >= room:
            samples = samples[:room]
            self.reached_max = True
        self.produced += len(samples)
        self.ring.write(samples)
        if self.reached_max:
            self.accepting = False
            import sounddevice

            raise sounddevice.CallbackStop

    def _finished(self) -> None:
        self.finished = True
        if not self._stopping and not self.reached_max:
            self.error = "the microphone stopped delivering audio (unplugged?)"
        self.ring.close()

    @property
    def lost(self) -> bool:
        """The stream ended without being asked to (device unplugged, driver error)."""
        return self.error is not None

    def seconds_since_audio(self) -> float:
        return time.monotonic() - self.last_callback

    def stop_accepting(self) -> None:
        """Stops storing audio at once (release); the stream itself is closed later by ``close``."""
        self.accepting = False

    def close(self) -> None:
        """Stops and closes the stream; safe to call twice or after the device vanished."""
        self.accepting = False
        self._stopping = True
        stream, self._stream = self._stream, None
        self._resampler = None
        if stream is None:
            return
        try:
            stream.abort()
            stream.close()
        except Exception as exc:  # a vanished device may fail to close; nothing left to do with it
            logger.debug("closing the stream failed: %s", exc)
