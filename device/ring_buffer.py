"""A fixed-capacity sample buffer between the audio callback and the recognizer thread.

The callback must never block or allocate without bound, so writes that do not fit are dropped
and counted (the reader learns how much audio it lost) instead of growing the buffer or waiting.
"""

from __future__ import annotations

import threading

import numpy as np


class RingBuffer:
    """Single-producer, single-consumer float32 ring of ``capacity`` samples.

    Attributes:
        capacity: samples it can hold.
        dropped: samples refused because the buffer was full (cumulative since the last ``clear``).
        written: samples accepted (cumulative since the last ``clear``).
    """

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError(f"ring buffer capacity must be positive, got {capacity}")
        self.capacity = int(capacity)
        self._data = np.zeros(self.capacity, dtype=np.float32)
        self._lock = threading.Lock()
        self._readable = threading.Condition(self._lock)
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._read_at = 0
            self._size = 0
            self.dropped = 0
            self.written = 0
            self.closed = False

    def __len__(self) -> int:
        with self._lock:
            return self._size

    def write(self, samples: np.ndarray) -> int:
        """Copies as many of ``samples`` as fit; returns how many were stored (the rest are counted as dropped)."""
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        with self._lock:
            n = min(len(samples), self.capacity - self._size)
            if n:
                write_at = (self._read_at + self._size) % self.capacity
                first = min(n, self.capacity - write_at)
                self._data[write_at : write_at + first] = samples[:first]
                self._data[: n - first] = samples[first:n]
                self._size += n
                self.written += n
                self._readable.notify()
            self.dropped += len(samples) - n
            return n

    def close(self) -> None:
        """No more writes will come (the stream ended); wakes a waiting reader."""
        with self._lock:
            self.closed = True
            self._readable.notify()

    def read(self, max_samples: int | None = None, timeout: float | None = None) -> np.ndarray:
        """Removes and returns up to ``max_samples`` samples, waiting up to ``timeout`` seconds for some.

        Returns an empty array when the wait timed out or the buffer is closed and empty.
        """
        with self._lock:
            if self._size == 0 and not self.closed and timeout != 0:
                self._readable.wait(timeout)
            n = self._size if max_samples is None else min(self._size, max_samples)
            first = min(n, self.capacity - self._read_at)
            out = np.concatenate([self._data[self._read_at : self._read_at + first], self._data[: n - first]])
            self._read_at = (self._read_at + n) % self.capacity
            self._size -= n
            return out
