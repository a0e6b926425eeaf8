"""The recognizer as a library: audio in, a ranked answer with a confidence (or "no match") out.

The CLI, the push-button loop and any future Wyoming service are thin shells around
:class:`Recognizer`; it holds the loaded bundle and encoder and does no I/O of its own beyond what
it is asked to read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from device.audio_io import read_audio
from device.bundle import Bundle, BundleError
from device.encoder_runtime import MODEL_FORMAT, ModelError, load_encoder
from device.melody_screen import IntervalCatalog, best_fitting
from device.pitch import hum_contour, hum_contour_of
from device.query_stream import QueryEmbedder, QueryTooShortError
from device.search import SCORE_SCALE, SearchConfig, length_charge, rank_songs, rerank_by_melody

logger = logging.getLogger(__name__)


class QueryError(ValueError):
    """A query that cannot be answered (too short, silent...); the message says why."""


@dataclass
class Match:
    title: str
    artist: str
    song_id: str
    score: float

    def to_dict(self) -> dict:
        return {"title": self.title, "artist": self.artist, "song_id": self.song_id, "score": round(self.score, 4)}


@dataclass
class Answer:
    """Ranked matches; ``confident``: whether to name the first; ``confidence``: calibrated probability it is right."""

    matches: list[Match]
    confident: bool
    timings_ms: dict[str, float] = field(default_factory=dict)
    confidence: float | None = None

    def to_dict(self) -> dict:
        out = {"matches": [m.to_dict() for m in self.matches], "confident": self.confident}
        if self.confidence is not None:
            out["confidence"] = round(self.confidence, 4)
        out["timings_ms"] = {k: round(v, 2) for k, v in self.timings_ms.items()}
        return out


@dataclass(frozen=True)
class Decision:
    """When an answer is confident.

    With ``weights`` (what ``benchmarks/accuracy.py --fit-decision`` fits), the answer carries a
    calibrated ``confidence`` = logistic(w_score * best + w_lead * (best - runner-up) + bias): the
    probability, measured on held-out hums with tunes both in and NOT in the catalog, that the
    first song is right. The answer is confident when it reaches ``min_confidence``. Without
    weights (bundles made before calibration), the two bars ``min_score`` and ``min_margin`` decide.
    Bundles carry their own values in the manifest.

    Attributes:
        min_score: minimum score of the best song (uncalibrated rule).
        min_margin: minimum lead of the best song over the runner-up (uncalibrated rule).
        weights: (w_score, w_lead, bias) of the calibrated confidence, or None.
        min_confidence: calibrated confidence needed to name a song.
        score_scale: the score formula the weights were fitted on (:data:`device.search.SCORE_SCALE`);
            empty in bundles made before session 9.
    """

    min_score: float = 0.5
    min_margin: float = 0.06
    # Fitted by `python -m benchmarks.accuracy --songs 2000 --queries 200 --negatives 150 --seed 0
    # --singing mixed --no-baselines --fit-decision` (session 13: run-7 encoder, session 13's
    # matcher; 200 hums in the catalog and 150 not, each sung by a careful, casual or untrained
    # singer at random: people at a speaker are all three). Cross-fitted, at 0.6: 51 % of hums
    # answered and right, 0 % answered wrong, 4.7 % of hums of tunes not in the catalog accepted
    # (at 0.5: 53 % / 0 % / 5.3 %; at 0.7: 47 % / 0 % / 3.3 %). The lead over the runner-up is what
    # tells; the score itself weighs slightly negative once skills mix. Against session 12's fit
    # (careful hums only), on the same in-catalog hums at 0.6 (offline over the benchmark's hums):
    # careful seed 0 71.5 % right / 0 % wrong (69.5 / 0.5), seed 1 67.5 / 0.5 (66 / 0.5), untrained
    # 24 / 0 (19 / 0).
    weights: tuple[float, float, float] | None = (-0.4453, 12.6167, -2.5745)
    min_confidence: float = 0.6
    score_scale: str = SCORE_SCALE

    @classmethod
    def for_catalog(cls, contour_estimated: Sequence[bool] | np.ndarray | None) -> Decision:
        """The calibration for a catalog whose songs' contours are mostly from notes (MIDI/ABC) or
        mostly tracked from audio (``contour_estimated``): scores of the two kinds are not on one
        scale, so each has its own fitted weights (see ``RECORDINGS_DECISION``)."""
        flags = np.asarray([] if contour_estimated is None else contour_estimated, bool)
        return RECORDINGS_DECISION if len(flags) and flags.mean() > 0.5 else cls()

    @classmethod
    def from_dict(cls, data: dict) -> Decision:
        data = {"score_scale": "", **data}  # a manifest without it predates session 9's scores
        if data.get("weights") is not None:
            data["weights"] = tuple(float(w) for w in data["weights"])
        return cls(**data)

    def confidence(self, best: float, lead: float) -> float | None:
        if self.weights is None:
            return None
        w_score, w_lead, bias = self.weights
        return float(1.0 / (1.0 + np.exp(-(w_score * best + w_lead * lead + bias))))

    def is_confident(self, best: float, lead: float) -> bool:
        probability = self.confidence(best, lead)
        if probability is not None:
            return probability >= self.min_confidence
        return best >= self.min_score and lead >= self.min_margin


# For a catalog of recordings (contours tracked from audio). Fitted by
# `python -m benchmarks.accuracy --songs 2000 --queries 200 --negatives 150 --seed 0 --voice mixed
# --singing mixed --catalog-melody audio --no-baselines --fit-decision` (session 13, run-7 encoder,
# session 13's matcher; hums sung by our synthesizer, Festival and a soundfont, by careful, casual
# and untrained singers). Cross-fitted, at 0.6: 37 % of hums answered and right, 1 % wrong, 3.3 %
# of outsiders accepted (session 10's fit, careful singers only: 52 / 1 / 2.7 on its own hums).
# Tracked contours are charged differently from notes (linearly, octave-folded), so the MIDI
# weights above would misread such a catalog's scores.
RECORDINGS_DECISION = Decision(weights=(0.5140, 14.5802, -3.9038))


class Recognizer:
    """Loaded bundle + encoder; answers queries."""

    def __init__(self, bundle: Bundle, backend: str = "onnx", threads: int = 1, search: SearchConfig | None = None) -> None:
        self.bundle = bundle
        if backend not in MODEL_FORMAT:
            raise ModelError(f"unknown encoder backend {backend!r}; known: {', '.join(MODEL_FORMAT)}")
        self.encoder = load_encoder(bundle.model_for(MODEL_FORMAT[backend]), backend, threads)
        self.frontend_config = bundle.frontend
        self.window_config = bundle.windows
        self.search = search or SearchConfig()
        self.decision = Decision.from_dict(bundle.manifest.get("decision", {}))
        if self.decision.score_scale != SCORE_SCALE:
            logger.warning(
                "%s: its confidence was fitted on an older search's scores (%r); using this release's calibration. "
                "Rebuild the bundle (or add songs to it with `hum-index add`) to store the current one.",
                bundle.path,
                self.decision.score_scale or "before session 9",
            )
            self.decision = Decision.for_catalog(bundle.contour_estimated)  # None with the contours (parse_contours)
        expected = (self.window_config.length, self.frontend_config.n_bands, int(bundle.manifest["embedding_dim"]))
        actual = (self.encoder.input_frames, self.encoder.input_bands, self.encoder.embedding_dim)
        if expected != actual:
            raise BundleError(
                f"{bundle.path}: encoder takes (frames, bands) = {actual[:2]} and gives {actual[2]} values; "
                f"the manifest says {expected[:2]} and {expected[2]}"
            )
        self._first = bundle.songs.first_vector
        self._count = bundle.songs.n_vectors
        self._screen = self._interval_catalog()
        self._length_charge = length_charge(bundle.songs.duration_s, self.search)

    def _interval_catalog(self) -> IntervalCatalog | None:
        """The melody screen's song intervals, when this bundle and search use the screen."""
        bundle, search = self.bundle, self.search
        if bundle.contour_values is None or search.rerank <= 0 or search.screen <= 0:
            return None
        if len(bundle.songs) > search.screen_max_songs:
            logger.info("%d songs: over screen_max_songs (%d), the melody screen is off", len(bundle.songs), search.screen_max_songs)
            return None
        return IntervalCatalog.from_contours(bundle.contour, len(bundle.songs), bundle.contour_estimated)

    def recognize_file(self, path: str | Path, top: int = 5) -> Answer:
        started = time.perf_counter()
        audio = read_audio(path, self.frontend_config.sample_rate)
        decode_ms = (time.perf_counter() - started) * 1000
        answer = self.recognize_audio(audio, top)
        answer.timings_ms = {"decode": decode_ms, **answer.timings_ms}
        answer.timings_ms["total"] += decode_ms
        return answer

    def start_query(self) -> QueryEmbedder:
        """A query to push audio into as it arrives (the push-button loop) or all at once (a file)."""
        return QueryEmbedder(self.encoder, self.frontend_config, self.window_config, self.search.tempo_scales, self.search.trim_talk)

    def recognize_audio(self, audio: np.ndarray, top: int = 5) -> Answer:
        """``audio``: mono float32 at the bundle's sample rate."""
        query = self.start_query()
        query.push(audio)
        return self.answer(query, top)

    def answer(self, query: QueryEmbedder, top: int = 5, drop_last_seconds: float = 0.0) -> Answer:
        """Finishes ``query`` (embeds its last windows) and ranks the catalog.

        ``drop_last_seconds``: trailing audio to leave out (the silence that ended a capture).

        ``timings_ms`` holds the front end and encoder time spent while audio was pushed
        (``frontend``, ``encode_streaming``) and what was left after the last sample
        (``talk``: looking for words said around the hum, :mod:`device.talk`; ``encode``,
        ``search``); ``total`` is their sum.
        """
        try:
            per_scale = query.finish(drop_last_seconds)
        except QueryTooShortError as exc:
            raise QueryError(str(exc)) from exc
        timings = {
            "frontend": query.frontend_ms,
            "encode_streaming": query.encode_ms,
            "talk": query.talk_ms,
            "encode": query.final_encode_ms,
        }
        return self._rank(per_scale, query.used_frames, top, timings, query.used_pitches)

    def _rank(
        self, per_scale: list[np.ndarray], frames: np.ndarray, top: int, timings: dict[str, float], pitches: np.ndarray | None = None
    ) -> Answer:
        """Ranks songs for query embeddings at one or more tempo scales, then re-ranks the head by melody.
        ``pitches``: the hum's :func:`device.pitch.voice_pitches` of ``frames`` where already tracked."""
        bundle = self.bundle
        t1 = time.perf_counter()
        melody_on = bundle.contour_values is not None and self.search.rerank > 0
        contour = None
        if melody_on:
            contour = hum_contour_of(pitches) if pitches is not None else hum_contour(frames, self.frontend_config)
        screen_costs = self._screen.costs(contour) if self._screen is not None else None
        screened = best_fitting(screen_costs, self.search.screen_size(len(self.bundle.songs))) if screen_costs is not None else None
        t2 = time.perf_counter()
        if screened is not None:
            timings = {**timings, "screen": (t2 - t1) * 1000}
        embeddings = np.concatenate(per_scale)
        lengths = [len(e) for e in per_scale]
        songs, scores = rank_songs(
            embeddings, lengths, bundle.index, bundle.vector_song, self._first, self._count, self.search, screened, bundle.vectors
        )
        t3 = time.perf_counter()
        timings = {**timings, "search": (t3 - t2) * 1000}
        if melody_on:
            # The re-rank takes its head in the embedding's order; the length charge (long songs fit
            # any melody somewhere more often) counts in the fused score only: the embedding's
            # own scores spread too little for it (embedding-only top-1 0.465 -> 0.230 with it).
            charged = scores - self._length_charge[songs]
            songs, scores = rerank_by_melody(
                songs, charged, contour, bundle.contour, self.search, bundle.contour_estimated, screened, screen_costs
            )
            timings["melody"] = (time.perf_counter() - t3) * 1000
        rows = [bundle.songs[int(s)] for s in songs[:top]]
        matches = [Match(row.title, row.artist, row.song_id, float(score)) for row, score in zip(rows, scores[:top])]
        timings["total"] = sum(timings.values())
        if not len(scores):
            return Answer(matches, False, timings)
        best = float(scores[0])
        lead = best - (float(scores[1]) if len(scores) > 1 else -1.0)
        return Answer(matches, self.decision.is_confident(best, lead), timings, self.decision.confidence(best, lead))
