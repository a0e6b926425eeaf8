"""Device profiles: one TOML file says how a particular speaker is wired and tuned.

``firmware_config/*.toml`` ship profiles for Raspberry Pi 4, Pi 5 and Pi Zero 2 W. Every key is
optional; unknown keys and wrong types are refused with the file and key named, because a typo in a
profile on a headless speaker is otherwise found only when it misbehaves.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from device.capture import CaptureConfig
from device.encoder_runtime import BACKENDS
from device.search import SearchConfig


class ProfileError(ValueError):
    """A profile that cannot be read or holds a wrong key or value."""


@dataclass(frozen=True)
class DeviceSection:
    """Attributes:
    name: what this profile is for (shown by ``doctor``).
    bundle: the catalog bundle to serve; empty = the demo bundle shipped with the package.
    backend: encoder runtime: ``onnx``, ``litert`` or ``tflite-runtime`` (the last two run the bundle's TFLite model).
    threads: encoder threads.
    public_key: Ed25519 public key (PEM, from ``hum-index keygen``); when set, only bundles signed
        by it are served or installed. Empty = signatures are not checked.
    """

    name: str = "generic"
    bundle: str = ""
    backend: str = "onnx"
    threads: int = 1
    public_key: str = ""


@dataclass(frozen=True)
class AudioSection:
    """Attributes:
    input: input device, by index or a part of its name; empty = the system default input.
    sample_rate: 0 = open the microphone at its native rate (recommended).
    channels: channels to open: 1, or 2 for a microphone that only records stereo (down-mixed in software).
    block_ms: audio per PortAudio callback.
    ring_seconds: ring buffer between the callback and the recognizer.
    """

    input: str = ""
    sample_rate: int = 0
    channels: int = 1
    block_ms: float = 20.0
    ring_seconds: float = 4.0


@dataclass(frozen=True)
class CaptureSection:
    """Attributes:
    max_seconds: a press longer than this stops capturing by itself. People hum 4-30 s (DESIGN), and
        a long hum is named far more often than its start: 150 hums of 15-28 s by singers of mixed
        skill, top-1 / top-10 / MRR 0.933 / 0.953 / 0.940 whole, 0.793 / 0.880 / 0.828 cut to their
        first 12 s (session 23, ``benchmarks.accuracy --hum-seconds 15 28 [--max-seconds 12]``; README
        "Session 23"). A long hum costs a little more after the release (the screen and the search
        grow with it; the melody matcher's first pass does not, ``device.melody_match.COARSE_QUERY_VALUES``),
        so 25 s by default (12 before session 23).
    min_seconds: a shorter capture is answered with "hold the button longer".
    silence_stop_seconds: stop early after this much continuous silence.
    silence_dbfs: a 20 ms block quieter than this counts as silence.
    stall_seconds: no audio for this long from an open stream = the microphone is gone.
    """

    max_seconds: float = 25.0
    min_seconds: float = 2.0
    silence_stop_seconds: float = 2.5
    silence_dbfs: float = -50.0
    stall_seconds: float = 1.0


@dataclass(frozen=True)
class ButtonSection:
    """Attributes:
    pin: BCM pin of the push button (wired to ground, internal pull-up); -1 = use Enter on the terminal.
    led_pin: BCM pin of a status LED; -1 = none.
    bounce_ms: switch debounce time.
    """

    pin: int = 17
    led_pin: int = -1
    bounce_ms: int = 20


@dataclass(frozen=True)
class AnswerSection:
    """Attributes:
    top: songs listed per answer.
    speak: say the answer with espeak-ng when it is installed.
    log: JSON-lines file for answers (rotated at 1 MB, 3 kept); empty = standard output only.
    """

    top: int = 3
    speak: bool = False
    log: str = ""


@dataclass(frozen=True)
class SearchSection:
    """Attributes:
    screen: songs the melody screen adds to the DTW re-rank at most
        (``device.search.SearchConfig.screen``: 200 by default since session 30, and never more
        than a tenth of the catalog). Each costs DTW time after the release: on the 2,000-song
        benchmark 60 -> 200 took the melody stage from ~182 to ~248 ms per query on one x86 core
        (a Pi 4 core is ~4-5x slower) for +0.8 points of top-1 on average over six sets of hums
        (seed 1's careful singers +1.5, top-10 +2); a slower speaker trades some of it back here.
    trim_talk: leave out words said before or after the hum (``device.search.SearchConfig.trim_talk``,
        :mod:`device.talk`; on by default): a first or last stretch after a pause is left out when
        its pitch glides like speech against the rest. ``false`` keeps every query whole, for a
        speaker where that misfires.
    """

    screen: int = SearchConfig.screen
    trim_talk: bool = SearchConfig.trim_talk


@dataclass(frozen=True)
class Profile:
    device: DeviceSection = field(default_factory=DeviceSection)
    audio: AudioSection = field(default_factory=AudioSection)
    capture: CaptureSection = field(default_factory=CaptureSection)
    button: ButtonSection = field(default_factory=ButtonSection)
    answer: AnswerSection = field(default_factory=AnswerSection)
    search: SearchSection = field(default_factory=SearchSection)
    source: str = "built-in defaults"

    def search_config(self) -> SearchConfig:
        """The recognizer's search settings with this speaker's melody screen and words rule."""
        return replace(SearchConfig(), screen=self.search.screen, trim_talk=self.search.trim_talk)

    def load_public_key(self):
        """The configured signing key, or None; :class:`ProfileError` naming the file if it is unusable."""
        if not self.device.public_key:
            return None
        from device.signing import SignatureError, load_public_key

        try:
            return load_public_key(self.device.public_key)
        except SignatureError as exc:
            raise ProfileError(f"{self.source}: device.public_key: {exc}") from exc

    def capture_config(self) -> CaptureConfig:
        device: str | int | None = self.audio.input or None
        return CaptureConfig(
            device=device,
            sample_rate=self.audio.sample_rate or None,
            channels=self.audio.channels,
            block_ms=self.audio.block_ms,
            ring_seconds=self.audio.ring_seconds,
            max_seconds=self.capture.max_seconds,
        )


SECTIONS = {
    "device": DeviceSection,
    "audio": AudioSection,
    "capture": CaptureSection,
    "button": ButtonSection,
    "answer": AnswerSection,
    "search": SearchSection,
}


def _section(path: Path, name: str, values: object) -> object:
    cls = SECTIONS[name]
    if not isinstance(values, dict):
        raise ProfileError(f"{path}: [{name}] must be a table")
    known = {f.name: f for f in fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in known:
            raise ProfileError(f"{path}: unknown key {name}.{key} (known: {', '.join(known)})")
        expected = type(getattr(cls(), key))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if type(value) is not expected:
            raise ProfileError(f"{path}: {name}.{key} must be {expected.__name__}, got {value!r}")
        kwargs[key] = value
    return cls(**kwargs)


def load_profile(path: str | Path | None) -> Profile:
    """The profile at ``path``; None gives the built-in defaults."""
    if path is None:
        return Profile()
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(f"cannot read profile {path}: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path} is not valid TOML: {exc}") from exc
    unknown = set(data) - set(SECTIONS)
    if unknown:
        raise ProfileError(f"{path}: unknown section(s) {', '.join(sorted(unknown))} (known: {', '.join(SECTIONS)})")
    sections = {name: _section(path, name, values) for name, values in data.items()}
    profile = Profile(**sections, source=str(path))
    if profile.search.screen < 0:
        raise ProfileError(f"{path}: search.screen must be 0 (no screen) or more, got {profile.search.screen}")
    if profile.device.backend not in BACKENDS:
        raise ProfileError(f"{path}: device.backend must be one of {', '.join(BACKENDS)}, got {profile.device.backend!r}")
    return profile
