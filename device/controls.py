"""The speaker's physical interface: the push button, the status LED and the spoken answer.

The button is a gpiozero ``Button`` (any pin factory: the Pi's own, or gpiozero's MockFactory in
tests). Where no GPIO exists, :class:`TerminalButton` turns Enter on the terminal into press and
release, with the same three calls the listen loop uses.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import threading
import warnings
from typing import Protocol, TextIO

logger = logging.getLogger(__name__)


class PushButton(Protocol):
    """What the listen loop needs of a button (gpiozero's Button has exactly these)."""

    @property
    def is_pressed(self) -> bool: ...

    def wait_for_press(self, timeout: float | None = None) -> bool: ...

    def wait_for_release(self, timeout: float | None = None) -> bool: ...


class TerminalButton:
    """Enter starts a capture, Enter again ends it (a terminal cannot tell a held key)."""

    def __init__(self, stream: TextIO | None = None, prompt: bool = True) -> None:
        self._stream = stream or sys.stdin
        self._prompt = prompt
        self._pressed = threading.Event()
        self._released = threading.Event()
        self._released.set()
        self.closed = False
        threading.Thread(target=self._read_lines, daemon=True, name="terminal-button").start()

    def _read_lines(self) -> None:
        for _ in self._stream:
            if self._pressed.is_set():
                self._pressed.clear()
                self._released.set()
            else:
                self._released.clear()
                self._pressed.set()
        self.closed = True  # end of input: no more presses will come
        self._pressed.clear()
        self._released.set()

    @property
    def is_pressed(self) -> bool:
        return self._pressed.is_set()

    def wait_for_press(self, timeout: float | None = None) -> bool:
        if self._prompt and not self._pressed.is_set():
            print("press Enter, hum, then press Enter again", file=sys.stderr, flush=True)
        return self._pressed.wait(timeout)

    def wait_for_release(self, timeout: float | None = None) -> bool:
        return self._released.wait(timeout)


def make_button(pin: int, bounce_ms: int = 20) -> PushButton:
    """A gpiozero Button on ``pin`` (BCM), or the terminal when ``pin`` < 0 or no GPIO is available."""
    if pin < 0:
        return TerminalButton()
    try:
        from gpiozero import Button
        from gpiozero.exc import GPIOZeroError
    except ImportError:
        logger.warning("gpiozero is not installed; using Enter on the terminal as the button")
        return TerminalButton()
    try:
        with warnings.catch_warnings():  # gpiozero warns once per pin library it tries; the outcome is logged below
            warnings.simplefilter("ignore")
            return Button(pin, pull_up=True, bounce_time=bounce_ms / 1000 if bounce_ms > 0 else None)
    except (GPIOZeroError, OSError) as exc:
        logger.warning("no GPIO for the button on pin %d (%s); using Enter on the terminal instead", pin, exc)
        return TerminalButton()


class Feedback:
    """Hooks the listen loop calls; this base does nothing (a speaker without LED or voice)."""

    def listening(self) -> None:
        """Capture started."""

    def thinking(self) -> None:
        """Capture ended; the answer is being computed."""

    def answered(self, text: str, confident: bool) -> None:
        """The answer (or "no match") is ready; ``text`` is what to tell the person."""

    def failed(self, text: str) -> None:
        """The press could not be answered; ``text`` says why."""


class LedFeedback(Feedback):
    """A gpiozero LED: on while listening, blinking while thinking, one long blink for a match."""

    def __init__(self, pin: int) -> None:
        from gpiozero import LED

        self.led = LED(pin)

    def listening(self) -> None:
        self.led.on()

    def thinking(self) -> None:
        self.led.blink(on_time=0.1, off_time=0.1)

    def answered(self, text: str, confident: bool) -> None:
        if confident:
            self.led.blink(on_time=1.0, off_time=0.0, n=1)
        else:
            self.led.blink(on_time=0.1, off_time=0.2, n=3)

    def failed(self, text: str) -> None:
        self.led.blink(on_time=0.1, off_time=0.2, n=3)


class SpokenFeedback(Feedback):
    """Says the answer with espeak-ng, without waiting for it to finish speaking."""

    def __init__(self, program: str | None = None) -> None:
        self.program = program or shutil.which("espeak-ng")
        if self.program is None:
            logger.warning("answer.speak is on but espeak-ng is not installed (sudo apt install espeak-ng); answers are not spoken")

    def _say(self, text: str) -> None:
        if self.program is None:
            return
        try:
            subprocess.Popen([self.program, text], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError as exc:
            logger.warning("espeak-ng failed: %s", exc)

    def answered(self, text: str, confident: bool) -> None:
        self._say(text)

    def failed(self, text: str) -> None:
        self._say(text)


class FeedbackGroup(Feedback):
    """Several feedbacks at once; one that raises is logged and does not stop the others."""

    def __init__(self, members: list[Feedback]) -> None:
        self.members = members

    def _each(self, method: str, *args) -> None:
        for member in self.members:
            try:
                getattr(member, method)(*args)
            except Exception as exc:  # an LED or speech failure must not stop the answer
                logger.warning("%s.%s failed: %s", type(member).__name__, method, exc)

    def listening(self) -> None:
        self._each("listening")

    def thinking(self) -> None:
        self._each("thinking")

    def answered(self, text: str, confident: bool) -> None:
        self._each("answered", text, confident)

    def failed(self, text: str) -> None:
        self._each("failed", text)
