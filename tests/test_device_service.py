"""The speaker as a service: profiles, the CLI listen loop, doctor, streaming queries, and the offline guarantee."""

from __future__ import annotations

import configparser
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from device.bundle import load_bundle
from device.profile import Profile, ProfileError, load_profile
from device.recognizer import Recognizer
from device.ring_buffer import RingBuffer
from tests.conftest import SR, make_hum

REPO = Path(__file__).resolve().parents[1]
PROFILES = sorted((REPO / "firmware_config").glob("*.toml"))


def test_shipped_profiles_load_and_name_their_board():
    assert {p.stem for p in PROFILES} >= {"pi4", "pi5", "pi-zero-2w"}
    for path in PROFILES:
        profile = load_profile(path)
        assert profile.device.name != Profile().device.name
        assert profile.capture.max_seconds > profile.capture.min_seconds > 0
        assert profile.capture_config().ring_seconds == profile.audio.ring_seconds
    slow = {path.stem: load_profile(path).search_config().screen for path in PROFILES}
    assert slow["pi4"] == slow["pi-zero-2w"] == 60 < slow["pi5"] < Profile().search_config().screen  # DTW time after release


def test_a_profile_sets_the_recognizers_melody_screen(tmp_path, bundle_path):
    """A speaker's profile says how many songs its melody screen adds; the rest of the search stays."""
    path = tmp_path / "speaker.toml"
    path.write_text("[search]\nscreen = 25\n")
    profile = load_profile(path)
    recognizer = Recognizer(load_bundle(bundle_path), search=profile.search_config())
    assert recognizer.search.screen == 25 and recognizer.search.rerank == Profile().search_config().rerank
    assert recognizer.start_query().trim_talk, "words around the hum are left out unless the profile says not to"


def test_a_profile_can_keep_the_words_around_a_hum(tmp_path, bundle_path):
    """``[search] trim_talk = false`` reaches the queries the speaker starts (device.talk stays off)."""
    path = tmp_path / "speaker.toml"
    path.write_text("[search]\ntrim_talk = false\n")
    recognizer = Recognizer(load_bundle(bundle_path), search=load_profile(path).search_config())
    assert not recognizer.search.trim_talk and not recognizer.start_query().trim_talk
    assert recognizer.search.screen == Profile().search_config().screen


@pytest.mark.parametrize(
    "text, complaint",
    [
        ("[capture]\nmax_secs = 3\n", "unknown key capture.max_secs"),
        ("[button]\npin = 'seventeen'\n", "button.pin must be int"),
        ("[speaker]\nx = 1\n", "unknown section"),
        ("[device\n", "not valid TOML"),
        ("[device]\nbackend = 'tensorrt'\n", "device.backend must be one of onnx, litert, tflite-runtime"),
        ("[search]\nscreen = -5\n", "search.screen must be 0"),
        ("[search]\nscreen = 'many'\n", "search.screen must be int"),
        ("[search]\ntrim_talk = 'no'\n", "search.trim_talk must be bool"),
    ],
)
def test_bad_profiles_are_refused_with_the_key_named(tmp_path, text, complaint):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ProfileError, match=complaint):
        load_profile(path)


def test_systemd_unit_runs_listen_without_network():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(REPO / "firmware_config" / "hum-device.service")
    service = unit["Service"]
    assert "hum-device listen --profile" in service["ExecStart"]
    assert service["PrivateNetwork"] == "yes" and service["IPAddressDeny"] == "any"


def test_ring_buffer_keeps_order_across_the_wrap_and_counts_what_it_drops():
    ring = RingBuffer(10)
    assert ring.write(np.arange(7)) == 7
    assert ring.read(5).tolist() == [0, 1, 2, 3, 4]
    assert ring.write(np.arange(7, 20)) == 8  # 2 held + 8 = full; 5 dropped
    assert ring.dropped == 5 and len(ring) == 10
    assert ring.read().tolist() == [5, 6, *range(7, 15)]
    assert ring.read(timeout=0.01).size == 0


def test_query_pushed_in_chunks_equals_the_query_pushed_at_once(bundle_path, tunes):
    recognizer = Recognizer(load_bundle(bundle_path))
    hum = make_hum(tunes[3], seed=41, length_s=9.0)
    whole = recognizer.start_query()
    whole.push(hum)
    chunked = recognizer.start_query()
    sizes = np.random.default_rng(0).integers(1, 4000, size=len(hum) // 100)
    bounds = np.cumsum(sizes)
    for piece in np.split(hum, bounds[bounds < len(hum)]):
        chunked.push(piece)
    assert chunked.encode_ms > 0  # windows were embedded while audio was still arriving
    for a, b in zip(whole.finish(), chunked.finish()):
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_a_long_file_query_is_embedded_as_it_streams(bundle_path):
    """A minute pushed at once goes through in capture-sized blocks: the windows are embedded as
    they complete instead of all waiting together (numpy's allocations: ~90 MB at once, ~22 MB in
    blocks), and the encoder's batches of them give what one window at a time gives."""
    import tracemalloc

    recognizer = Recognizer(load_bundle(bundle_path))
    minute = (0.1 * np.random.default_rng(5).standard_normal(60 * SR)).astype(np.float32)
    query = recognizer.start_query()
    tracemalloc.start()
    try:
        embedded = query.push(minute)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert embedded > 64  # more windows than one encoder batch
    assert peak < 50e6, f"{peak / 1e6:.0f} MB"
    encoder = recognizer.encoder
    windows = np.random.default_rng(6).standard_normal((100, encoder.input_frames, encoder.input_bands)).astype(np.float32)
    one_by_one = np.concatenate([encoder.embed(w[None]) for w in windows])
    np.testing.assert_array_equal(encoder.embed(windows), one_by_one)


def test_query_stream_trailing_silence_is_left_out(bundle_path, tunes):
    recognizer = Recognizer(load_bundle(bundle_path))
    hum = make_hum(tunes[5], seed=42, length_s=8.0)
    padded = recognizer.start_query()
    padded.push(np.concatenate([hum, np.zeros(2 * SR, np.float32)]))
    plain = recognizer.start_query()
    plain.push(hum)
    for a, b in zip(padded.finish(drop_last_seconds=2.0), plain.finish()):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, atol=1e-4)


def run_cli(args: list[str], stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "device.cli", *args], input=stdin, capture_output=True, text=True, timeout=timeout, cwd=REPO, env=os.environ
    )


def test_cli_listen_with_the_terminal_as_button(bundle_path, microphones, tunes, tmp_path):
    """The shipped command end to end: Enter, the hum arrives through ALSA, one JSON line, Enter, exit."""
    microphones["hum_mic"].load(np.concatenate([make_hum(tunes[6], seed=43), np.zeros(3 * SR, np.float32)]), SR)
    profile = tmp_path / "test.toml"
    log = tmp_path / "log" / "answers.jsonl"
    # The file microphone has no clock: past the file's end ALSA goes on delivering silence as fast
    # as it is read, up to max_seconds. A press capped below the ring's size fits in it whole
    # however slowly a loaded machine reads it (with the 25 s default, the silence overflowed).
    profile.write_text(
        f'[device]\nname = "test"\nbundle = "{bundle_path}"\n[audio]\ninput = "hum_mic"\nring_seconds = 20.0\n'
        f'[capture]\nmax_seconds = 18.0\n[button]\npin = -1\n[answer]\nlog = "{log}"\n'
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "device.cli", "listen", "--profile", str(profile), "--presses", "1"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    process.stdin.write("\n")
    process.stdin.flush()
    line = process.stdout.readline()
    process.stdin.write("\n")
    process.stdin.close()
    assert process.wait(timeout=60) == 0, process.stderr.read()
    record = json.loads(line)
    assert "dropped_samples" in record, record
    assert record["dropped_samples"] == 0  # the file microphone has no clock: the ring must hold the whole press
    assert record["event"] == "answer" and record["matches"][0]["song_id"] == load_bundle(bundle_path).songs[6].song_id
    assert json.loads(log.read_text().splitlines()[0]) == record


def test_doctor_reports_what_works_and_what_to_fix(bundle_path, microphones, tmp_path):
    good = tmp_path / "good.toml"
    good.write_text(f'[device]\nname = "test rig"\nbundle = "{bundle_path}"\n[audio]\ninput = "hum_mic"\n[button]\npin = -1\n')
    result = run_cli(["doctor", "--profile", str(good)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[ok  ] microphone: hum_mic" in result.stdout and "[ok  ] encoder" in result.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(f'[device]\nbundle = "{tmp_path / "missing.humbundle"}"\n[audio]\ninput = "no-such-mic"\n[button]\npin = -1\n')
    result = run_cli(["doctor", "--profile", str(bad)])
    assert result.returncode == 1
    assert "[FAIL] bundle" in result.stdout and "[FAIL] microphone" in result.stdout and "fix:" in result.stdout


class NoSockets:
    """An audit hook that makes any socket creation or name lookup raise while it is armed."""

    EVENTS = ("socket.__new__", "socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.bind")

    def __init__(self) -> None:
        self.armed = False
        self.attempts: list[str] = []
        sys.addaudithook(self._hook)

    def _hook(self, event: str, args) -> None:
        if self.armed and event in self.EVENTS:
            self.attempts.append(event)
            raise PermissionError(f"network use during an offline test: {event}")


NO_SOCKETS = NoSockets()


def test_device_path_opens_no_socket(bundle_path, microphones, tunes, tmp_path):
    """A file query and a push-button session run with socket creation forbidden (the hook is proven live first)."""
    from gpiozero import Button, Device
    from gpiozero.pins.mock import MockFactory

    from device.capture import CaptureConfig, MicrophoneCapture
    from device.cli import main as device_main
    from device.listen import ListenLoop

    NO_SOCKETS.armed = True
    try:
        with pytest.raises(PermissionError):
            socket.socket()
        NO_SOCKETS.attempts.clear()
        hum = make_hum(tunes[1], seed=44)
        import soundfile as sf

        sf.write(tmp_path / "hum.wav", hum, SR)
        assert device_main(["query", "--bundle", str(bundle_path), "--json", str(tmp_path / "hum.wav")]) == 0
        recognizer = Recognizer(load_bundle(bundle_path))
        microphones["hum_mic"].load(np.concatenate([hum, np.zeros(3 * SR, np.float32)]), SR)
        previous, Device.pin_factory = Device.pin_factory, MockFactory()
        try:
            button = Button(17)
            records: list[dict] = []
            capture = MicrophoneCapture(CaptureConfig(device="hum_mic", ring_seconds=30, max_seconds=20), SR)
            loop = ListenLoop(recognizer, capture, button, emit=records.append)
            server = threading.Thread(target=loop.serve, kwargs={"max_presses": 1})
            server.start()
            pin = Device.pin_factory.pin(17)
            pin.drive_low()
            deadline = time.monotonic() + 60
            while not records and time.monotonic() < deadline:
                time.sleep(0.01)
            pin.drive_high()
            server.join(timeout=60)
            button.close()
        finally:
            Device.pin_factory.close()
            Device.pin_factory = previous
    finally:
        NO_SOCKETS.armed = False
    assert NO_SOCKETS.attempts == []
    assert records and records[0]["event"] == "answer"


SPY_ON_NUMPY = """
import builtins, os
real_import = builtins.__import__
seen = []
def spy(name, *args, **kwargs):
    if name == "numpy" and not seen:
        seen.append(os.environ.get("OPENBLAS_NUM_THREADS"))
    return real_import(name, *args, **kwargs)
builtins.__import__ = spy
import device.cli
print(seen[0])
"""


@pytest.mark.parametrize("preset, expected", [(None, "1"), ("3", "3")])
def test_cli_sets_one_blas_thread_before_numpy_loads_unless_told_otherwise(preset, expected):
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    if preset is not None:
        env["OPENBLAS_NUM_THREADS"] = preset
    out = subprocess.run([sys.executable, "-c", SPY_ON_NUMPY], env=env, cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected
