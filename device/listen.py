"""The push-button loop: press, hum, release, answer; forever, whatever goes wrong in one press.

One press: open the microphone, feed the ring buffer's audio to the query as it arrives (front end
and encoder run DURING the capture), stop at release, at the maximum length or after a long
silence, embed the last window, search, answer. Every press ends in one JSON log line, answered or
not, with the stop reason, the microphone's state and per-stage timings.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from device.audio_io import AudioError
from device.capture import MicrophoneCapture, MicrophoneError
from device.controls import Feedback, PushButton
from device.encoder_runtime import ModelError
from device.recognizer import Answer, QueryError, Recognizer

logger = logging.getLogger(__name__)

READ_TIMEOUT_S = 0.02
READ_SECONDS = 0.1  # audio taken from the ring per step: bounds the work between two button checks
LEVEL_BLOCK_SECONDS = 0.02  # silence is judged per block of this length


@dataclass(frozen=True)
class StopRules:
    """When a capture ends by itself, and when it is too short (see ``CaptureSection``)."""

    min_seconds: float = 2.0
    silence_stop_seconds: float = 2.5
    silence_dbfs: float = -50.0
    stall_seconds: float = 1.0


def answer_text(answer: Answer) -> str:
    """What the speaker says."""
    if not answer.matches or not answer.confident:
        return "Sorry, I don't recognise that tune."
    best = answer.matches[0]
    return f"That is {best.title}" + (f" by {best.artist}" if best.artist else "") + "."


class SilenceTracker:
    """Length of the silence at the end of what was fed, judged per short block against a level in dBFS."""

    def __init__(self, rate: int, silence_dbfs: float) -> None:
        self.block = max(int(rate * LEVEL_BLOCK_SECONDS), 1)
        self.threshold = 10 ** (silence_dbfs / 20)
        self.rate = rate
        self.quiet_samples = 0
        self.heard_sound = False
        self._partial = np.zeros(0, dtype=np.float32)

    def feed(self, samples: np.ndarray) -> None:
        samples = np.concatenate([self._partial, samples])
        n_blocks = len(samples) // self.block
        self._partial = samples[n_blocks * self.block :]
        if n_blocks == 0:
            return
        blocks = samples[: n_blocks * self.block].reshape(n_blocks, self.block).astype(np.float64)
        loud = np.sqrt(np.mean(blocks**2, axis=1)) >= self.threshold
        if loud.any():
            self.heard_sound = True
            last_loud = int(np.flatnonzero(loud)[-1])
            self.quiet_samples = (n_blocks - 1 - last_loud) * self.block
        else:
            self.quiet_samples += n_blocks * self.block

    @property
    def quiet_seconds(self) -> float:
        return self.quiet_samples / self.rate


class ListenLoop:
    """Serves button presses with one recognizer and one microphone.

    ``emit`` receives one dict per press (the JSON log record); by default it is printed as a line.
    """

    def __init__(
        self,
        recognizer: Recognizer,
        capture: MicrophoneCapture,
        button: PushButton,
        rules: StopRules | None = None,
        feedback: Feedback | None = None,
        top: int = 3,
        emit: Callable[[dict], None] | None = None,
        refresh: Callable[[], Recognizer | None] | None = None,
    ) -> None:
        """``refresh``: called between presses; a recognizer it returns (a newly installed bundle) replaces the current one."""
        self.recognizer = recognizer
        self.refresh = refresh
        self.capture = capture
        self.button = button
        self.rules = rules or StopRules()
        self.feedback = feedback or Feedback()
        self.top = top
        self.emit = emit or (lambda record: print(json.dumps(record), flush=True))
        self.stop_event = threading.Event()
        self.presses = 0

    def serve(self, max_presses: int | None = None) -> None:
        """Answers presses until ``stop_event`` is set, the button closes, or ``max_presses`` were served."""
        while not self.stop_event.is_set() and (max_presses is None or self.presses < max_presses):
            if self.refresh is not None and (fresh := self.refresh()) is not None:
                self.recognizer = fresh
            if not self.button.wait_for_press(timeout=0.2):
                if getattr(self.button, "closed", False):
                    return
                continue
            record = self.handle_press()
            self.presses += 1
            self.emit(record)
            while not self.button.wait_for_release(timeout=0.2):
                if self.stop_event.is_set():
                    return

    def handle_press(self) -> dict:
        """One press, from opening the microphone to the answer; never raises for a bad press."""
        record: dict = {"time": datetime.now(UTC).isoformat(timespec="milliseconds")}
        self.feedback.listening()
        try:
            answer, details = self._capture_and_answer()
        except (MicrophoneError, AudioError, QueryError, ModelError) as exc:
            message = str(exc)
            record.update(event="error", error=message, **getattr(exc, "details", {}))
            logger.warning("%s", message)
            self.feedback.failed(message)
            return record
        text = answer_text(answer)
        record.update(event="answer", said=text, **answer.to_dict(), **details)
        self.feedback.answered(text, answer.confident)
        return record

    def _capture_and_answer(self) -> tuple[Answer, dict]:
        capture, rules = self.capture, self.rules
        query = self.recognizer.start_query()
        rate = self.recognizer.frontend_config.sample_rate
        silence = SilenceTracker(rate, rules.silence_dbfs)
        pressed_at = time.perf_counter()
        capture.start()
        details: dict = {"microphone": capture.device_name, "native_rate": capture.native_rate}
        try:
            reason = ""
            while not reason:
                chunk = capture.ring.read(int(READ_SECONDS * rate), timeout=READ_TIMEOUT_S)
                if len(chunk):
                    query.push(chunk)
                    silence.feed(chunk)
                if not self.button.is_pressed:
                    reason = "released"
                elif capture.reached_max and len(capture.ring) == 0:
                    reason = "max_length"
                elif silence.quiet_seconds >= rules.silence_stop_seconds:
                    reason = "silence"
                elif capture.lost or (len(chunk) == 0 and capture.seconds_since_audio() > rules.stall_seconds):
                    raise MicrophoneError(capture.error or f"no audio from the microphone for {rules.stall_seconds:g} s (unplugged?)")
            released_at = time.perf_counter()
            capture.stop_accepting()
            self.feedback.thinking()
            rest = capture.ring.read(timeout=0) if reason != "silence" else np.zeros(0, np.float32)
            if len(rest):  # what arrived before the release
                query.push(rest)
                silence.feed(rest)
            trailing_silence = silence.quiet_seconds if silence.heard_sound else 0.0
            details.update(
                stop=reason,
                seconds=round(query.seconds, 2),
                heard_sound=silence.heard_sound,
                input_overflows=capture.input_overflows,
                dropped_samples=capture.ring.dropped,
            )
            if capture.ring.dropped or capture.input_overflows:
                logger.warning(
                    "input overflow: %d samples dropped by a full ring buffer, %d late callbacks",
                    capture.ring.dropped,
                    capture.input_overflows,
                )
            if not silence.heard_sound:
                raise _with_details(AudioError("heard nothing: hum louder or closer to the microphone"), details)
            hummed = query.seconds - trailing_silence
            if hummed < rules.min_seconds:
                message = f"press too short ({hummed:.1f} s of humming): hold the button while you hum, at least {rules.min_seconds:g} s"
                raise _with_details(QueryError(message), details)
            try:
                answer = self.recognizer.answer(query, self.top, drop_last_seconds=trailing_silence)
            except (AudioError, QueryError) as exc:
                raise _with_details(exc, details) from None
            answered_at = time.perf_counter()
        finally:
            closing = time.perf_counter()
            capture.close()
            details["close_ms"] = round((time.perf_counter() - closing) * 1000, 2)
        answer.timings_ms = {
            "capture": (released_at - pressed_at) * 1000,
            **answer.timings_ms,
            "release_to_answer": (answered_at - released_at) * 1000,
        }
        return answer, details


def _with_details(exc: Exception, details: dict) -> Exception:
    exc.details = dict(details)  # type: ignore[attr-defined]
    return exc
