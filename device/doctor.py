"""``hum-device doctor``: checks what a speaker needs, one line each, with the fix for what fails.

Checks run in order of dependency (packages, profile, bundle and model, microphone, button, voice)
and never raise: a broken part is reported and the remaining checks still run.
"""

from __future__ import annotations

import importlib
import math
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from device.profile import Profile, ProfileError, load_profile


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True

    def line(self) -> str:
        mark = "ok  " if self.ok else ("FAIL" if self.required else "warn")
        text = f"[{mark}] {self.name}: {self.detail}"
        return text + (f"\n       fix: {self.fix}" if self.fix and not self.ok else "")


def check_packages() -> list[Check]:
    checks = []
    for module, package, required in [
        ("numpy", "numpy", True),
        ("onnxruntime", "onnxruntime", True),
        ("hnswlib", "hnswlib", True),
        ("soundfile", "soundfile", True),
        ("soxr", "soxr", True),
        ("gpiozero", "gpiozero", False),
    ]:
        try:
            loaded = importlib.import_module(module)
            checks.append(Check(f"package {package}", True, getattr(loaded, "__version__", "installed"), required=required))
        except Exception as exc:  # an import can fail with OSError (missing shared library) as well
            checks.append(Check(f"package {package}", False, str(exc), 'pip install "hum-recognizer[device]"', required=required))
    try:
        import sounddevice

        checks.append(Check("PortAudio", True, sounddevice.get_portaudio_version()[1]))
    except OSError as exc:
        checks.append(Check("PortAudio", False, str(exc), "sudo apt install libportaudio2"))
    except ImportError as exc:
        checks.append(Check("PortAudio", False, str(exc), 'pip install "hum-recognizer[device]"'))
    return checks


def check_bundle(profile: Profile, default_bundle: Path) -> list[Check]:
    from device.bundle import BundleError
    from device.encoder_runtime import ModelError
    from device.install import load_serving_bundle
    from device.profile import ProfileError
    from device.recognizer import Recognizer

    path = Path(profile.device.bundle) if profile.device.bundle else default_bundle
    try:
        bundle = load_serving_bundle(path, public_key=profile.load_public_key())
    except ProfileError as exc:
        return [Check("bundle", False, str(exc), "point device.public_key at the .pub file from `hum-index keygen`")]
    except (BundleError, OSError) as exc:
        return [Check("bundle", False, str(exc), "build one with `hum-index build SONGS_DIR -o FILE` and `hum-device install FILE`")]
    signed = ", signature good" if profile.device.public_key else ""
    if bundle.path != path:
        checks = [Check("bundle", False, f"{path} is refused; serving the previous one", "install a good bundle with `hum-device install`")]
    else:
        checks = [Check("bundle", True, f"{path} ({len(bundle.songs)} songs{signed})")]
    try:
        recognizer = Recognizer(bundle, backend=profile.device.backend, threads=profile.device.threads, search=profile.search_config())
        rate = recognizer.frontend_config.sample_rate
        t = np.arange(rate * 4) / rate
        tone = (0.1 * np.sin(2 * np.pi * 220 * t * (1 + 0.1 * np.sin(t)))).astype(np.float32)
        started = time.perf_counter()
        recognizer.recognize_audio(tone, top=1)
        elapsed = (time.perf_counter() - started) * 1000
        checks.append(
            Check("encoder", True, f"{profile.device.backend}, {profile.device.threads} thread(s); a 4 s test query took {elapsed:.0f} ms")
        )
    except (BundleError, ModelError, ValueError) as exc:
        checks.append(Check("encoder", False, str(exc), "rebuild the bundle with this release's `hum-index`"))
    return checks


def check_microphone(profile: Profile, listen_seconds: float = 0.5) -> list[Check]:
    from device.capture import MicrophoneCapture, MicrophoneError, input_devices

    try:
        inputs = input_devices()
    except MicrophoneError as exc:
        return [Check("microphone", False, str(exc), "sudo apt install libportaudio2")]
    listing = "; ".join(f"{d['index']}: {d['name']} ({d['native_rate']} Hz)" for d in inputs) or "none"
    checks = [Check("audio inputs", bool(inputs), listing, "plug in a USB microphone; `arecord -l` should list it")]
    if not inputs:
        return checks
    capture = MicrophoneCapture(profile.capture_config(), 16000)
    try:
        capture.start()
        deadline = time.monotonic() + listen_seconds
        samples = []
        while time.monotonic() < deadline:
            samples.append(capture.ring.read(timeout=0.05))
        audio = np.concatenate(samples)
    except MicrophoneError as exc:
        checks.append(Check("microphone", False, str(exc), "set audio.input in the profile to one of the inputs listed above"))
        return checks
    finally:
        capture.close()
    if len(audio) == 0:
        checks.append(
            Check("microphone", False, f"{capture.device_name} opened but gave no audio", "check `arecord -D <device> -d 2 test.wav`")
        )
        return checks
    level = 20 * math.log10(max(float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))), 1e-12))
    quiet = level < -80
    detail = f"{capture.device_name} at {capture.native_rate} Hz, {len(audio) / 16000:.2f} s read, level {level:.0f} dBFS"
    checks.append(Check("microphone", True, detail))
    if quiet:
        checks.append(
            Check("microphone level", False, "digital silence", "unmute and raise capture gain: `alsamixer` (F4)", required=False)
        )
    return checks


def check_button(profile: Profile) -> list[Check]:
    if profile.button.pin < 0:
        return [Check("button", True, "Enter on the terminal (button.pin = -1)")]
    try:
        from gpiozero import Button
        from gpiozero.exc import GPIOZeroError
    except ImportError as exc:
        return [Check("button", False, str(exc), "pip install gpiozero lgpio", required=False)]
    try:
        with warnings.catch_warnings():  # one warning per pin library gpiozero tries; the result is what matters
            warnings.simplefilter("ignore")
            button = Button(profile.button.pin, pull_up=True)
        state = "pressed" if button.is_pressed else "released"
        button.close()
        return [Check("button", True, f"GPIO{profile.button.pin} ({state})")]
    except (GPIOZeroError, OSError) as exc:
        return [
            Check(
                "button",
                False,
                f"GPIO{profile.button.pin}: {exc}",
                "on a Pi: sudo apt install python3-lgpio; elsewhere set button.pin = -1",
                required=False,
            )
        ]


def check_voice(profile: Profile) -> list[Check]:
    if not profile.answer.speak:
        return []
    found = shutil.which("espeak-ng")
    return [Check("voice", bool(found), found or "espeak-ng not found", "sudo apt install espeak-ng", required=False)]


def run_doctor(profile_path: str | Path | None, default_bundle: Path, print_line=print) -> int:
    """Prints every check; returns 0 when all required checks pass, else 1."""
    try:
        profile = load_profile(profile_path)
        checks = [Check("profile", True, f"{profile.device.name} ({profile.source})")]
    except ProfileError as exc:
        checks = [Check("profile", False, str(exc), "fix the file, or start from firmware_config/*.toml")]
        profile = Profile()
    checks += check_packages()
    for group in (check_bundle, check_microphone, check_button, check_voice):
        try:
            checks += group(profile, default_bundle) if group is check_bundle else group(profile)
        except Exception as exc:  # a doctor must finish its report whatever one check does
            checks.append(Check(group.__name__.removeprefix("check_"), False, f"check crashed: {exc!r}"))
    for check in checks:
        print_line(check.line())
    failed = [c for c in checks if not c.ok and c.required]
    print_line("all required checks passed" if not failed else f"{len(failed)} required check(s) failed")
    return 0 if not failed else 1
