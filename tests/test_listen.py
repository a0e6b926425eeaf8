"""The push-button loop through the real PortAudio path (ALSA file-backed microphones) and gpiozero's MockFactory."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from gpiozero import Button, Device
from gpiozero.pins.mock import MockFactory

from device.bundle import load_bundle
from device.capture import CaptureConfig, MicrophoneCapture
from device.listen import ListenLoop, SilenceTracker, StopRules
from device.recognizer import Recognizer
from tests.conftest import SR, make_hum

BUTTON_PIN = 17


@pytest.fixture(scope="module")
def recognizer(bundle_path) -> Recognizer:
    return Recognizer(load_bundle(bundle_path))


@pytest.fixture
def mock_button():
    """A gpiozero Button on a MockFactory pin, and the pin to drive (low = pressed, as wired to ground)."""
    previous = Device.pin_factory
    Device.pin_factory = MockFactory()
    button = Button(BUTTON_PIN, pull_up=True)
    yield button, Device.pin_factory.pin(BUTTON_PIN)
    button.close()
    Device.pin_factory.close()
    Device.pin_factory = previous


def serve_presses(loop: ListenLoop, pin, presses: int, between=None) -> list[dict]:
    """Presses the mock button ``presses`` times; each press is held until the loop has answered it."""
    records: list[dict] = []
    loop.emit = records.append
    server = threading.Thread(target=loop.serve, kwargs={"max_presses": presses}, daemon=True)
    server.start()
    for i in range(presses):
        if between is not None:
            between(i)
        pin.drive_low()
        deadline = time.monotonic() + 60
        while len(records) <= i and time.monotonic() < deadline:
            time.sleep(0.005)
        pin.drive_high()
    server.join(timeout=60)
    assert not server.is_alive(), [(r["event"], r.get("error", ""), r.get("stop", "")) for r in records]
    return records


def hum_then_silence(melody, seed: int, seconds_of_silence: float = 3.0, **kwargs) -> np.ndarray:
    return np.concatenate([make_hum(melody, seed=seed, **kwargs), np.zeros(int(seconds_of_silence * SR), np.float32)])


def make_loop(recognizer, button, device: str, ring_seconds: float = 30.0, max_seconds: float = 20.0, capture_options=None, **rules):
    config = CaptureConfig(device=device, ring_seconds=ring_seconds, max_seconds=max_seconds, **(capture_options or {}))
    capture = MicrophoneCapture(config, SR)
    return ListenLoop(recognizer, capture, button, rules=StopRules(**rules))


def test_hum_through_the_microphone_is_recognised(recognizer, mock_button, microphones, tunes):
    button, pin = mock_button
    microphones["hum_mic"].load(hum_then_silence(tunes[0], seed=21, transpose=-5.0), SR)
    loop = make_loop(recognizer, button, "hum_mic")
    (record,) = serve_presses(loop, pin, 1)
    assert record["event"] == "answer", record
    assert record["matches"][0]["song_id"] == recognizer.bundle.songs[0].song_id
    assert record["native_rate"] == 44100 and record["microphone"] == "hum_mic"
    assert record["stop"] == "silence" and 9.0 < record["seconds"] < 13.0
    assert record["dropped_samples"] == 0
    assert record["timings_ms"]["release_to_answer"] > 0
    assert "said" in record


def test_stereo_48k_microphone_is_downmixed_and_resampled(recognizer, mock_button, microphones, tunes):
    """A stereo-only 48 kHz device (as many USB microphones are), opened at the rate the profile names."""
    button, pin = mock_button
    microphones["hum_mic_usb48"].load(hum_then_silence(tunes[2], seed=22, transpose=3.0, tempo_factor=0.9), SR)
    loop = make_loop(recognizer, button, "usb48", capture_options={"channels": 2, "sample_rate": 48000})
    (record,) = serve_presses(loop, pin, 1)
    assert record["native_rate"] == 48000
    assert record["matches"][0]["song_id"] == recognizer.bundle.songs[2].song_id


def test_live_capture_answers_like_the_same_audio_read_from_a_file(recognizer, mock_button, microphones, tunes):
    """What the microphone delivered (44.1 kHz int16), read as a file instead, gets the same answer."""
    import soxr

    button, pin = mock_button
    microphones["hum_mic"].load(make_hum(tunes[4], seed=23, length_s=8.0), SR)
    loop = make_loop(recognizer, button, "hum_mic", max_seconds=8.0, silence_stop_seconds=100.0)
    (record,) = serve_presses(loop, pin, 1)
    delivered = np.fromfile(microphones["hum_mic"].raw_path, "<i2").astype(np.float32) / 32768
    from_file = recognizer.recognize_audio(soxr.resample(delivered, 44100, SR), top=3)
    assert record["stop"] == "max_length" and record["seconds"] == pytest.approx(8.0)
    assert record["matches"][0]["song_id"] == from_file.matches[0].song_id == recognizer.bundle.songs[4].song_id
    assert record["matches"][0]["score"] == pytest.approx(from_file.matches[0].score, abs=0.01)


def test_short_press_silence_and_missing_microphone_are_reported_and_the_loop_keeps_serving(recognizer, mock_button, microphones, tunes):
    button, pin = mock_button
    loop = make_loop(recognizer, button, "hum_mic", silence_stop_seconds=1.0)
    short = np.concatenate([make_hum(tunes[0], seed=24, length_s=1.2), np.zeros(2 * SR, np.float32)])
    sources = [short, np.zeros(5 * SR, np.float32), None, hum_then_silence(tunes[1], seed=25)]

    def before_press(i: int) -> None:
        device = "no-such-microphone" if sources[i] is None else "hum_mic"
        loop.capture.config = CaptureConfig(device=device, ring_seconds=30, max_seconds=20)
        if sources[i] is not None:
            microphones["hum_mic"].load(sources[i], SR)

    records = serve_presses(loop, pin, 4, between=before_press)
    assert [r["event"] for r in records] == ["error", "error", "error", "answer"]
    assert "press too short" in records[0]["error"]
    assert "heard nothing" in records[1]["error"] and records[1]["stop"] == "silence"
    assert "no microphone matches 'no-such-microphone'" in records[2]["error"] and "hum_mic" in records[2]["error"]
    assert records[3]["matches"][0]["song_id"] == recognizer.bundle.songs[1].song_id


def test_ring_buffer_overflow_is_counted_and_memory_stays_fixed(recognizer, mock_button, microphones, tunes):
    """The file microphone delivers far faster than real time: a 1 s ring must drop, count, and still answer."""
    button, pin = mock_button
    microphones["hum_mic"].load(make_hum(tunes[3], seed=26, length_s=12.0), SR)
    loop = make_loop(recognizer, button, "hum_mic", ring_seconds=1.0, max_seconds=12.0, silence_stop_seconds=100.0)
    (record,) = serve_presses(loop, pin, 1)
    assert record["dropped_samples"] > 0
    assert loop.capture.ring.capacity == SR
    assert record["event"] in ("answer", "error")


def test_microphone_that_stops_mid_capture_is_reported(recognizer, mock_button, microphones, tunes):
    """The stream is aborted under the loop's feet, as PortAudio does when a USB microphone is pulled."""
    button, pin = mock_button
    microphones["hum_mic"].load(make_hum(tunes[0], seed=27, length_s=12.0), SR)
    loop = make_loop(recognizer, button, "hum_mic", ring_seconds=2.0, max_seconds=3600.0, silence_stop_seconds=1000.0)

    class PullThePlug:
        def listening(self) -> None:
            threading.Timer(0.2, lambda: loop.capture._stream.abort()).start()

        def thinking(self) -> None: ...

        def answered(self, text, confident) -> None: ...

        def failed(self, text) -> None: ...

    loop.feedback = PullThePlug()
    records = serve_presses(loop, pin, 1)
    assert records[0]["event"] == "error"
    assert "stopped delivering audio" in records[0]["error"] or "no audio from the microphone" in records[0]["error"]


def test_silence_tracker_measures_the_trailing_quiet_part():
    tracker = SilenceTracker(SR, -50.0)
    loud = 0.1 * np.ones(SR // 2, np.float32)
    tracker.feed(np.zeros(SR, np.float32))
    assert not tracker.heard_sound and tracker.quiet_seconds == pytest.approx(1.0)
    tracker.feed(loud)
    assert tracker.heard_sound and tracker.quiet_seconds == 0.0
    tracker.feed(np.zeros(3 * SR // 2 + 17, np.float32))
    assert tracker.quiet_seconds == pytest.approx(1.5)


def test_led_follows_listening_thinking_and_the_answer():
    """The status LED on a MockFactory pin: on while listening, blinking while thinking, off after a non-match."""
    from device.controls import LedFeedback

    previous = Device.pin_factory
    Device.pin_factory = MockFactory()
    try:
        feedback = LedFeedback(27)
        pin = Device.pin_factory.pin(27)
        feedback.listening()
        assert pin.state
        feedback.thinking()
        deadline = time.monotonic() + 5
        seen = set()
        while len(seen) < 2 and time.monotonic() < deadline:
            seen.add(bool(pin.state))
            time.sleep(0.01)
        assert seen == {True, False}
        feedback.answered("no match", confident=False)
        deadline, low_since = time.monotonic() + 5, None
        while time.monotonic() < deadline:  # three short blinks, then dark: low for longer than one off-phase
            low_since = (low_since or time.monotonic()) if not pin.state else None
            if low_since is not None and time.monotonic() - low_since > 0.5:
                break
            time.sleep(0.01)
        assert low_since is not None and not pin.state
        feedback.led.close()
    finally:
        Device.pin_factory.close()
        Device.pin_factory = previous


def test_terminal_button_presses_and_releases_on_enter():
    import os

    from device.controls import TerminalButton

    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "r") as reader, os.fdopen(write_end, "w") as writer:
        button = TerminalButton(reader, prompt=False)
        assert not button.is_pressed
        writer.write("\n")
        writer.flush()
        assert button.wait_for_press(timeout=5) and button.is_pressed
        writer.write("\n")
        writer.flush()
        assert button.wait_for_release(timeout=5) and not button.is_pressed
        writer.close()
        deadline = time.monotonic() + 5
        while not button.closed and time.monotonic() < deadline:
            time.sleep(0.01)
        assert button.closed
