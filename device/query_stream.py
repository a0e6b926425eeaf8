"""A query embedded while it is being hummed.

Audio goes through the streaming front end as it arrives; every query window (at every tempo
scale) is embedded as soon as its last frame exists. When the person stops, only the window aligned
to the end of the query (and, for a short query, the padded single window) is left to embed, so
release-to-answer is one encoder batch plus the search.

A recorded file goes through exactly the same object in one push: a file and a live capture of the
same samples give the same windows and the same embeddings.
"""

from __future__ import annotations

import math
import time

import numpy as np

from device.audio_io import SILENCE_RMS, AudioError
from device.encoder_runtime import Encoder
from device.frontend import FrontEndConfig, StreamingFrontEnd
from device.pitch import voice_pitches
from device.talk import hum_span
from device.windows import WindowConfig, cut_windows, interpolate_frames, standardise, stretch_positions, stretched_length, window_starts

QUERY_BLOCK_SAMPLES = 1 << 16  # samples of a pushed file taken at a time (4 s at 16 kHz; see QueryEmbedder.push)


class QueryTooShortError(ValueError):
    """Fewer frames than the bundle's minimum query length."""


class QueryEmbedder:
    """Front end + encoder for one query; ``push`` as audio arrives, ``finish`` once at the end.

    Attributes:
        n_samples: samples pushed so far.
        frontend_ms: front-end time spent inside ``push`` calls.
        encode_ms: encoder time spent inside ``push`` calls (hidden behind the capture when live).
        final_encode_ms: encoder time spent in ``finish`` (what is left after the last sample).
        talk_ms: time ``finish`` spent looking for words around the hum (:mod:`device.talk`).
    """

    def __init__(
        self, encoder: Encoder, frontend: FrontEndConfig, windows: WindowConfig, tempo_scales: tuple[float, ...], trim_talk: bool = True
    ) -> None:
        self.encoder = encoder
        self.frontend_config = frontend
        self.windows = windows
        self.tempo_scales = tuple(tempo_scales)
        self._frontend = StreamingFrontEnd(frontend)
        self._frames = np.zeros((4 * windows.length, frontend.n_bands), dtype=np.float32)
        self._n_frames = 0
        self._next_start = [0] * len(self.tempo_scales)
        self._embedded: list[dict[int, np.ndarray]] = [{} for _ in self.tempo_scales]
        self._sum_squares = 0.0
        self.used_frames = np.zeros((0, frontend.n_bands), np.float32)  # the frames ``finish`` used
        self.hum_frames = (0, 0)  # (first, end) frame of the query ``finish`` used (words left out)
        # voice_pitches of used_frames where ``finish`` tracked them already (none left out), else None:
        # the melody stage then does not track the same frames twice.
        self.used_pitches: np.ndarray | None = None
        self.trim_talk = trim_talk
        self.n_samples = 0
        self.frontend_ms = 0.0
        self.encode_ms = 0.0
        self.final_encode_ms = 0.0
        self.talk_ms = 0.0  # finding words said before or after the hum (``trim_talk``)

    @property
    def seconds(self) -> float:
        return self.n_samples / self.frontend_config.sample_rate

    @property
    def rms(self) -> float:
        return math.sqrt(self._sum_squares / self.n_samples) if self.n_samples else 0.0

    def push(self, samples: np.ndarray) -> int:
        """Consumes mono float32 samples at the front end's rate; returns how many windows it embedded.

        A whole file pushed at once goes through as a capture would, ``QUERY_BLOCK_SAMPLES`` at a
        time, so the windows are embedded as they complete and a long file's windows never wait
        all together (a 3-minute file: 400 MB resident at once, 140 MB in blocks)."""
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        if len(samples) > QUERY_BLOCK_SAMPLES:
            return sum(self.push(samples[start : start + QUERY_BLOCK_SAMPLES]) for start in range(0, len(samples), QUERY_BLOCK_SAMPLES))
        started = time.perf_counter()
        self.n_samples += len(samples)
        self._sum_squares += float(np.dot(samples.astype(np.float64), samples))
        self._append(self._frontend.push(samples))
        self.frontend_ms += (time.perf_counter() - started) * 1000
        return self._embed_ready()

    def finish(self, drop_last_seconds: float = 0.0) -> list[np.ndarray]:
        """Embeddings of the complete query, one (windows, dim) array per tempo scale.

        ``drop_last_seconds`` leaves out the end of the query (the silence that stopped a capture);
        windows embedded during the capture that reach into it are not used. With ``trim_talk``,
        words said before or after the hum (:mod:`device.talk`) are left out the same way: only
        windows that lie wholly in the hum are used (those embedded during the capture that do
        are kept, so a leading cut costs no new encoder work but the window at the hum's end),
        and ``used_frames`` (what the melody stage reads) is the hum alone.

        Raises:
            AudioError: the query is silent.
            QueryTooShortError: fewer frames than ``windows.min_query_frames``.
        """
        if self.rms < SILENCE_RMS:
            level = 20 * math.log10(max(self.rms, 1e-12))
            raise AudioError(f"the recording is silent (RMS {level:.0f} dBFS); hum louder or closer to the microphone")
        n_frames = max(self._n_frames - int(round(drop_last_seconds * self.frontend_config.frame_rate)), 0)
        if n_frames < self.windows.min_query_frames:
            needed = self.windows.min_query_frames / self.frontend_config.frame_rate
            heard = n_frames / self.frontend_config.frame_rate
            raise QueryTooShortError(f"the recording is too short ({heard:.1f} s); hum for at least {needed:.0f} s")
        first, self.used_pitches = 0, None
        if self.trim_talk:
            started = time.perf_counter()
            pitches = voice_pitches(self._frames[:n_frames], self.frontend_config)
            first, end = hum_span(pitches)
            if (first, end) == (0, n_frames):  # nothing left out: the melody stage reads these pitches
                self.used_pitches = pitches
            n_frames = end
            self.talk_ms = (time.perf_counter() - started) * 1000
        self.hum_frames = (first, n_frames)
        frames = self._frames[first:n_frames]
        self.used_frames = frames
        length, hop = self.windows.length, self.windows.query_hop
        missing: list[tuple[int, int, np.ndarray]] = []
        starts_per_scale = []
        for scale_index, factor in enumerate(self.tempo_scales):
            n_out = stretched_length(n_frames, factor)
            lowest = math.ceil(first * factor)  # the first stretched frame that reads no frame before ``first``
            done = {s: v for s, v in self._embedded[scale_index].items() if s >= lowest and self._complete(factor, s, n_frames)}
            self._embedded[scale_index] = done
            if n_out - lowest < length:  # one window, padded the way cut_windows pads
                n_hum = stretched_length(len(frames), factor)
                stretched = interpolate_frames(frames, stretch_positions(0, n_hum, factor)) if factor != 1.0 else frames
                missing.append((scale_index, -1, cut_windows(stretched, length, hop)[0]))
                starts_per_scale.append([-1])
                continue
            starts = [s for s in window_starts(n_out, length, hop) if s >= lowest]
            if not starts or starts[-1] != n_out - length:
                starts.append(n_out - length)
            starts_per_scale.append(starts)
            missing += [(scale_index, s, self._window(factor, s, n_frames)) for s in starts if s not in done]
        if missing:
            started = time.perf_counter()
            vectors = self.encoder.embed(np.stack([window for _, _, window in missing]))
            self.final_encode_ms = (time.perf_counter() - started) * 1000
            for (scale_index, start, _), vector in zip(missing, vectors):
                self._embedded[scale_index][start] = vector
        return [np.stack([self._embedded[i][s] for s in starts]) for i, starts in enumerate(starts_per_scale)]

    def _append(self, new_frames: np.ndarray) -> None:
        needed = self._n_frames + len(new_frames)
        if needed > len(self._frames):
            grown = np.zeros((max(needed, 2 * len(self._frames)), self._frames.shape[1]), dtype=np.float32)
            grown[: self._n_frames] = self._frames[: self._n_frames]
            self._frames = grown
        self._frames[self._n_frames : needed] = new_frames
        self._n_frames = needed

    def _complete(self, factor: float, start: int, n_frames: int) -> bool:
        """Whether every frame the window at ``start`` reads (interpolation neighbours too) is among the first ``n_frames``."""
        return math.floor((start + self.windows.length - 1) / factor) + 1 <= n_frames - 1

    def _window(self, factor: float, start: int, n_frames: int) -> np.ndarray:
        """The standardised window at ``start`` of the first ``n_frames`` frames stretched by ``factor``."""
        frames = self._frames[:n_frames]
        length = self.windows.length
        if factor == 1.0:
            return standardise(frames[start : start + length])
        return standardise(interpolate_frames(frames, stretch_positions(start, start + length, factor)))

    def _embed_ready(self) -> int:
        """Embeds every window whose frames have all arrived (the interpolation's upper neighbours too)."""
        hop = self.windows.query_hop
        batch: list[tuple[int, int, np.ndarray]] = []
        for scale_index, factor in enumerate(self.tempo_scales):
            while self._complete(factor, self._next_start[scale_index], self._n_frames):
                start = self._next_start[scale_index]
                batch.append((scale_index, start, self._window(factor, start, self._n_frames)))
                self._next_start[scale_index] = start + hop
        if not batch:
            return 0
        started = time.perf_counter()
        vectors = self.encoder.embed(np.stack([window for _, _, window in batch]))
        self.encode_ms += (time.perf_counter() - started) * 1000
        for (scale_index, start, _), vector in zip(batch, vectors):
            self._embedded[scale_index][start] = vector
        return len(batch)
