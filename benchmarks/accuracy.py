"""Accuracy on held-out tunes: top-1, top-10 and MRR of synthetic hums, ours against two baselines.

    python -m benchmarks.accuracy --songs 2000 --queries 300 --negatives 150 --seed 0 [--catalog-melody notes|audio]
        [--render arrangement|sung|melody] [--singing careful|casual|untrained|mixed] [--mains-hum SNR_DB] [--fit-decision]
        [--hum-seconds MIN MAX] [--max-seconds S] [--takes N [--elsewhere]] [--talk before|after|both]
        [--stored-as wav-8k-u8|wav-8k-ulaw]

Catalog: distinct tunes (no two are twins: :func:`choose_catalog`): every held-out tune (never
trained on, nor a twin of one) but the 50 kept back as "not in the catalog", topped up with
training tunes as distractors when ``--songs`` asks for more (the split holds 1,294 held-out
tunes; 900 are usable targets once twins are left out). Each song is rendered as an "original recording" (an arrangement in a
random key and tempo; ``--render sung``: the same with the tune sung by Festival or a soundfont
voice, as in a pop recording; ``--render melody``: a bare piano melody). Its melody contour comes from its
notes (``--catalog-melody notes``: a MIDI/ABC catalog) or from the rendered audio by the pitch
tracker (``audio``: a catalog of recordings). Queries hum held-out catalog tunes only, 4-15 s
starting anywhere, with random style, key, tempo, errors, room and noise; so targets are neither
longer nor shorter than the distractors. ``--hum-seconds 15 28`` hums longer passages (people at
a speaker hum 4-30 s, DESIGN), and ``--max-seconds 12`` cuts every hum to what a capture that
stops itself after 12 s (``capture.max_seconds``) would hear; ``--takes 2`` hums every passage twice
over (a second take with fresh errors), as people repeat a hook, and ``--takes 2 --elsewhere`` hums
a passage, then another part of the tune (a line, then the chorus); ``--stored-as wav-8k-u8`` hands
every hum to the recognizer through an 8 kHz 8-bit WAV file, as real hums are often stored (the
MIR-QBSH corpus). The catalog goes through the real code path: device
front end, shipped int8 encoder, bundle writer, bundle loader, :class:`device.recognizer.Recognizer`.

Systems on the same queries:
- ours: embedding shortlist + melody re-ranking (what ships);
- embedding only (re-ranking off);
- baseline "pitch + DTW": the hum's contour against every song's melody notes, whole catalog;
- baseline "MFCC + cosine": MFCC statistics of hum and recording.

The decision table fits the calibrated confidence (:class:`device.recognizer.Decision`) on half of
the queries and reports it on the other half, both ways (2-fold), with ``--negatives`` hums of
tunes NOT in the catalog; ``--fit-decision`` prints the weights fitted on all of them.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf

from benchmarks.baselines import dtw_ranking, mfcc_ranking, mfcc_statistics
from device import melody_match
from device.audio_io import read_audio, resample
from device.bundle import Song, load_bundle
from device.encoder_runtime import OnnxEncoder
from device.frontend import FrontEndConfig, compute_features
from device.pitch import hum_contour, matching_contour, notes_contour
from device.recognizer import Decision, Recognizer
from device.search import SearchConfig
from device.windows import WindowConfig
from index_builder.bundle_writer import write_bundle
from index_builder.cli import DEFAULT_MODEL
from index_builder.embed import SongEmbedding, embed_audio, with_sung_template
from models import dsp
from models.hum import SKILLS, add_mains_hum, choose_seconds_per_beat, random_conditions, render_hum
from models.melody import Melody, NoteEvents, load_tune_cache, tune_split, tune_twins
from models.other_voices import INSTALL_HINT, SINGERS, SPOKEN_PHRASES, missing_tools, speak, sung_lead
from models.render import render_arrangement, render_notes

OUTSIDERS_KEPT = 50


def render_song(melody: Melody, how: str, rng: np.random.Generator) -> tuple[np.ndarray, NoteEvents]:
    """(audio, the notes it plays) of one catalog song in a random key and tempo.

    ``how``: "melody" (the bare tune on the catalog instrument), "arrangement" (the tune on a
    random instrument inside chords, bass and drums) or "sung" (the same arrangement with the tune
    sung by Festival or a soundfont voice, as a pop recording's lead is a singer; Festival sings a
    high tune an octave lower, as a man would). The notes returned are the tune as written."""
    spb = choose_seconds_per_beat(melody, rng)
    events = melody.to_events(spb, transpose=int(rng.integers(-4, 5)))
    if how == "melody":
        return render_notes(events, rng=rng), events
    length_s = events.end_s + 1.0
    lead = sung_lead(events, length_s, rng) if how == "sung" else None
    return render_arrangement(events, spb, rng, length_s, lead=lead), events


_catalog_encoder: OnnxEncoder | None = None  # one per worker process (see _catalog_song)


def _init_catalog_worker(model: bytes, threads: int) -> None:
    global _catalog_encoder
    _catalog_encoder = OnnxEncoder(model, threads=threads)


def _catalog_song(
    job: tuple[Melody, str, int, int, str, bool, WindowConfig],
) -> tuple[SongEmbedding, np.ndarray | None, np.ndarray | None]:
    """Renders and embeds catalog song ``i`` (its own random stream, so any worker gives the same result)."""
    melody, how, seed, i, melody_from, with_extras, windows = job
    frontend = FrontEndConfig()
    audio, events = render_song(melody, how, np.random.default_rng([seed, i]))
    song = embed_audio(audio, _catalog_encoder, frontend, windows, melody.key, events if melody_from == "notes" else None)
    if melody_from == "notes":  # a catalog of melody files: the index builder adds their tune sung
        song = with_sung_template(song, events, _catalog_encoder, frontend, windows)
    if not with_extras:
        return song, None, None
    notes = matching_contour(notes_contour(events.onset, events.dur, events.pitch, frontend.frame_rate))
    return song, notes, mfcc_statistics(audio)


def build_catalog(
    tunes: list[Melody],
    how: str,
    model: bytes,
    out: Path,
    seed: int,
    tflite_model: bytes | None = None,
    melody_from: str = "notes",
    extras: dict | None = None,
    workers: int = 1,
    windows: WindowConfig = WindowConfig(),
) -> Path:
    """Renders every tune, embeds it as the index builder does, and writes their bundle.

    ``melody_from``: song contours from the notes ("notes") or from the rendered audio ("audio").
    ``extras``: when given, filled with what the baselines need ("notes_contours", "mfcc").
    ``workers``: processes rendering and embedding songs (each song draws from its own stream, so
    the catalog is the same for any number). ``windows``: the song and query hops the bundle carries
    (the window hop choices are measured by varying them; see ``--song-hop`` / ``--query-hop``).
    """
    jobs = [(melody, how, seed, i, melody_from, extras is not None, windows) for i, melody in enumerate(tunes)]
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers, initializer=_init_catalog_worker, initargs=(model, 1)) as pool:
            results = list(pool.map(_catalog_song, jobs, chunksize=4))
    else:
        _init_catalog_worker(model, 2)
        results = [_catalog_song(job) for job in jobs]
    songs, first = [], 0
    for melody, (song, _, _) in zip(tunes, results):
        songs.append(Song(melody.key, melody.title, "", "", round(song.duration_s, 2), first, len(song.vectors)))
        first += len(song.vectors)
    if extras is not None:
        extras["notes_contours"] = [notes for _, notes, _ in results]
        extras["mfcc"] = np.stack([mfcc for _, _, mfcc in results])
    write_bundle(
        out,
        model,
        songs,
        np.concatenate([song.vectors for song, _, _ in results]),
        FrontEndConfig(),
        windows,
        tflite_model=tflite_model,
        contours=[song.contour for song, _, _ in results],
        contour_estimated=[song.contour_estimated for song, _, _ in results],
    )
    return out


DEFAULT_HUM_SECONDS = (4.0, 15.0)


def random_hum(
    target: Melody,
    catalog: list[Melody],
    rng: np.random.Generator,
    singer: str = "synth",
    skill: str = "careful",
    seconds: tuple[float, float] = DEFAULT_HUM_SECONDS,
    takes: int = 1,
    elsewhere: bool = False,
    whistle_midi: float | None = None,
    voice_midi: float | None = None,
    words=None,
) -> tuple[np.ndarray, object, float]:
    """A hum of ``target`` lasting ``seconds`` (a range; default 4-15 s), random conditions; TV noise
    from another tune.

    Default-length hums start anywhere (at any note but the last eight). Hums of any other range
    start where the rest of the tune, at the recording's tempo, lasts the hum if it can (else at the
    first note): someone humming 25 s of a tune hums 25 s of it, not past its end into silence.
    The default keeps the start rule, and so the random draws, of every earlier table.

    ``takes`` > 1: the singer hums the same passage again, in the same voice, key, tempo and room,
    with fresh errors, after their own short lead-in (people at a speaker repeat a hook). The
    first take is the one-take hum, draw for draw; the length returned is all takes'. With
    ``elsewhere`` each later take hums another passage of the tune as long: one that starts after
    the first ends where the tune has one, else one that ends before it starts (people skip from a
    line to the chorus, or back).

    ``whistle_midi``: the hum is whistled around this median pitch (MIDI) instead; ``voice_midi``: a
    hum that is not whistled is sung around this median pitch. Every other draw as without them.
    ``words``: see :func:`models.hum.render_hum` and :func:`spoken_words` (the first take only).
    """
    length = float(rng.uniform(*seconds))
    if seconds == DEFAULT_HUM_SECONDS:
        start_beat = float(target.onset[rng.integers(0, max(len(target.onset) - 8, 1))])
        distractor = catalog[int(rng.integers(len(catalog)))]
        seconds_per_beat = choose_seconds_per_beat(target, rng)
    else:
        seconds_per_beat = choose_seconds_per_beat(target, rng)
        last_start = float(target.onset[-1] + target.dur[-1]) - length / seconds_per_beat
        fits = np.flatnonzero(target.onset <= last_start)
        start_beat = float(target.onset[rng.integers(0, len(fits))]) if len(fits) else float(target.onset[0])
        distractor = catalog[int(rng.integers(len(catalog)))]
    conditions = None
    if whistle_midi is not None or voice_midi is not None:  # the draws render_hum would make, then the register asked for
        conditions = random_conditions(rng, target)
        if whistle_midi is not None:
            conditions = replace(conditions, style="whistle", transpose=float(whistle_midi - np.median(target.pitch)))
        elif conditions.style != "whistle":
            conditions = replace(conditions, transpose=float(voice_midi - np.median(target.pitch)))
    audio, cond = render_hum(target, seconds_per_beat, start_beat, length, rng, conditions, distractor, singer, skill, words)
    if takes == 1:
        return audio, cond, length  # no further draw: a caller's stream goes on as before
    again = np.random.default_rng(rng.integers(2**63))  # drawn after the first take: it stays as it was
    repeats = []
    for _ in range(takes - 1):
        start = other_passage(target, start_beat, length / seconds_per_beat, again) if elsewhere else start_beat
        repeats.append(render_hum(target, seconds_per_beat, start, length, again, cond, distractor, singer, skill)[0])
    return np.concatenate([audio, *repeats]), cond, length * takes


def other_passage(target: Melody, start_beat: float, span_beats: float, rng: np.random.Generator) -> float:
    """Where a hum that skips from the passage at ``start_beat`` (``span_beats`` long) goes on: a
    note onset after the passage where the tune has one (not among its last eight notes), else one
    a passage's length before it, else any."""
    usable = target.onset[: max(len(target.onset) - 8, 1)]
    later = usable[usable >= start_beat + span_beats]
    earlier = usable[usable + span_beats <= start_beat]
    pool = later if len(later) else earlier if len(earlier) else usable
    return float(pool[rng.integers(len(pool))])


def benchmark_hum(
    catalog: list[Melody],
    n_targets: int,
    seed: int,
    query: int,
    singer: str = "synth",
    skill: str = "careful",
    seconds: tuple[float, float] = DEFAULT_HUM_SECONDS,
    takes: int = 1,
    elsewhere: bool = False,
    whistles: tuple[float, float] | None = None,
    voices: tuple[float, float] | None = None,
    talk: str | None = None,
) -> tuple[int, np.ndarray, object, float]:
    """Hum number ``query`` of ``seed``: (its target, an index below ``n_targets``; audio; conditions; length s).
    ``takes``, ``elsewhere``: see :func:`random_hum`. ``whistles`` (MIDI LO, HI): the hum is
    whistled, its median pitch drawn from that range (its own stream; every other draw as without);
    ``voices`` (MIDI LO, HI): the same for a hum that is not whistled. ``talk``: words said
    "before", "after" or "both" (:func:`spoken_words`, its own stream).

    Every benchmark draws its hums here, from one random stream per (seed, query), so their
    tables hum the same passages of the same tunes as this benchmark's."""
    rng = np.random.default_rng([seed, 10**6 + query])
    target = int(rng.integers(n_targets))
    whistle_midi, voice_midi = median_pitch(whistles, seed, 7 * 10**6 + query), median_pitch(voices, seed, 9 * 10**6 + query)
    words = spoken_words(talk, np.random.default_rng([seed, 555, query])) if talk else None
    return (target, *random_hum(catalog[target], catalog, rng, singer, skill, seconds, takes, elsewhere, whistle_midi, voice_midi, words))


TALK_PLACES = ("before", "after", "both")


def spoken_words(where: str, rng: np.random.Generator):
    """What a person says around their hum: a function from the dry hum to the dry recording with
    one of :data:`models.other_voices.SPOKEN_PHRASES` (Festival's voice) said ``where`` ("before",
    "after" or "both") it, -6 to 0 dB against the hum's sounding part, 0.3-0.8 s of pause between.
    The room, microphone and noise are then the hum's own (:func:`models.hum.render_hum`)."""
    if where not in TALK_PLACES:
        raise ValueError(f"talk must be one of {TALK_PLACES}, not {where!r}")

    def sounding_level(audio: np.ndarray) -> float:
        """RMS of the samples louder than 5 % of the peak (the voice, not its pauses)."""
        sounding = audio[np.abs(audio) > 0.05 * np.abs(audio).max()] if np.any(audio) else audio
        return float(np.sqrt(np.mean(sounding**2))) if len(sounding) else 0.1

    def around(dry: np.ndarray) -> np.ndarray:
        dry = np.asarray(dry, np.float32)
        level = sounding_level(dry)

        def phrase() -> tuple[np.ndarray, np.ndarray]:
            said = speak(SPOKEN_PHRASES[int(rng.integers(len(SPOKEN_PHRASES)))])
            said = said * (10 ** (rng.uniform(-6, 0) / 20) * level / (sounding_level(said) + 1e-9))
            return said.astype(np.float32), np.zeros(int(rng.uniform(0.3, 0.8) * dsp.SR), np.float32)

        before = np.concatenate(phrase()) if where in ("before", "both") else np.zeros(0, np.float32)
        after = np.concatenate(phrase()[::-1]) if where in ("after", "both") else np.zeros(0, np.float32)
        return np.concatenate([before, dry, after])

    return around


def median_pitch(span: tuple[float, float] | None, seed: int, stream: int) -> float | None:
    """A hum's median pitch (MIDI) drawn from ``span`` on its own random stream ``[seed, stream]``,
    so the hum's other draws stay as without it; None without a span."""
    return None if span is None else float(np.random.default_rng([seed, stream]).uniform(*span))


# How recordings of real hums are often stored: the MIR-QBSH corpus (Jang's query-by-singing/humming
# set, the MIREX QBSH task's) keeps its hums as 8 kHz, 8-bit WAV files; a telephone line carries
# 8 kHz mu-law. (sample rate, soundfile subtype) per ``--stored-as`` choice.
STORED_FORMATS = {"wav-8k-u8": (8000, "PCM_U8"), "wav-8k-ulaw": (8000, "ULAW")}


def as_stored(audio: np.ndarray, how: str) -> np.ndarray:
    """``audio`` (16 kHz mono float) written to a WAV file the way ``how`` (:data:`STORED_FORMATS`)
    stores hums, then read back as every query is (:func:`device.audio_io.read_audio`: decoded and
    resampled to the front end's rate): the band limit and quantization noise of that format, and
    its decoding path."""
    if how not in STORED_FORMATS:
        raise ValueError(f"stored-as must be one of {', '.join(STORED_FORMATS)}, not {how!r}")
    rate, subtype = STORED_FORMATS[how]
    sample_rate = FrontEndConfig().sample_rate
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hum.wav"
        sf.write(path, np.clip(resample(audio, sample_rate, rate), -1.0, 1.0), rate, subtype=subtype)
        return read_audio(path, sample_rate)


def choose_singer(voice: str, seed: int, query: int) -> str:
    """The voice that sings query ``query``: ``voice`` itself, or for "mixed" one of the three at random
    (drawn from its own stream, so the hums' other draws do not depend on it)."""
    if voice != "mixed":
        return voice
    return str(np.random.default_rng([seed, 3 * 10**6 + query]).choice(["synth", *SINGERS]))


def choose_skill(singing: str, seed: int, query: int) -> str:
    """The singing skill of query ``query``: ``singing`` itself, or for "mixed" one of :data:`SKILLS` at
    random (its own stream, as :func:`choose_singer`)."""
    if singing != "mixed":
        return singing
    return str(np.random.default_rng([seed, 4 * 10**6 + query]).choice(list(SKILLS)))


def bucket(name: str, value: float) -> str:
    edges = {"snr_db": (10, 20), "tempo_factor": (0.8, 1.25), "length_s": (7, 11)}[name]
    low, high = edges
    return f"{name}<{low}" if value < low else (f"{name}>={high}" if value >= high else f"{low}<={name}<{high}")


def choose_catalog(n_songs: int, seed: int) -> tuple[list[Melody], int, list[Melody]]:
    """(catalog, how many of its first songs are held-out targets, outsiders not in the catalog).

    No two songs of the catalog are twins (:func:`models.melody.tune_twins`: the same tune printed
    twice, transposed or varied), and no outsider is a twin of one: otherwise a hum of a tune is
    "wrong" when it names the tune's other printing, and an outsider's hum is "in" the catalog.
    Targets and outsiders have no twin among the training tunes either, so the encoder has never
    seen them under another name. (Before session 9 twins were not left out: 7 of the 42 top-1
    misses of the seed-0 hums named the target's twin.)
    """
    tunes = load_tune_cache()
    train, held_out = tune_split(tunes)
    twins = tune_twins(tunes)
    seen = set(train)
    unseen = [key for key in held_out if not twins[key] & seen]
    blocked: set[str] = set()

    def distinct(keys, limit: int) -> list[str]:
        """The first ``limit`` of ``keys`` that are not twins of a tune picked before (here or earlier)."""
        picked = []
        for key in keys:
            if len(picked) == limit:
                break
            if key not in blocked:
                picked.append(key)
                blocked.update(twins[key], [key])
        return picked

    held = distinct(np.random.default_rng(seed).permutation(unseen), len(unseen))
    n_targets = min(n_songs, len(held) - OUTSIDERS_KEPT)
    distractors = distinct(np.random.default_rng(seed + 1).permutation(train), max(n_songs - n_targets, 0))
    return [tunes[k] for k in held[:n_targets] + distractors], n_targets, [tunes[k] for k in held[n_targets:]]


def rank_of(order: np.ndarray, target: int, n_songs: int) -> int:
    """1-based rank of ``target`` in ``order``; a song the system did not rank at all counts as last."""
    found = np.flatnonzero(order == target)
    return int(found[0]) + 1 if len(found) else n_songs


def fit_logistic(features: np.ndarray, labels: np.ndarray, steps: int = 3000, rate: float = 0.5) -> np.ndarray:
    """(w_score, w_lead, bias) maximising the likelihood of ``labels`` (1 = right answer) by gradient descent."""
    x = np.column_stack([features, np.ones(len(features))])
    w = np.zeros(3)
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        w -= rate * (x.T @ (p - labels) / len(x) + 1e-4 * np.r_[w[:2], 0.0])
    return w


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--songs", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument(
        "--render",
        choices=["arrangement", "sung", "melody"],
        default="arrangement",
        help="catalog songs: the tune played inside an arrangement, the same sung by Festival or a soundfont voice, or the bare tune",
    )
    parser.add_argument("--catalog-melody", choices=["notes", "audio"], default="notes", help="song contours from notes or from audio")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--negatives", type=int, default=150, help="hums of held-out tunes NOT in the catalog")
    parser.add_argument("--no-baselines", action="store_true", help="skip the DTW and MFCC baselines")
    parser.add_argument("--fit-decision", action="store_true", help="print the confidence weights fitted on all queries")
    parser.add_argument("--rerank", type=int, default=SearchConfig().rerank, help="songs the melody stage re-ranks (ours)")
    parser.add_argument("--shifts", type=int, default=None, help="transpositions the melody DTW tries (default: the shipped one)")
    parser.add_argument(
        "--interval-scales",
        type=float,
        nargs="+",
        default=None,
        help="widths of the hum's intervals the melody DTW tries (default: the shipped melody_match.INTERVAL_SCALES)",
    )
    parser.add_argument(
        "--voice",
        choices=["synth", *SINGERS, "mixed"],
        default="synth",
        help="who sings the hums: our synthesizer, Festival, a GM soundfont (FluidSynth), or a random one of the three per hum",
    )
    parser.add_argument(
        "--singing",
        choices=[*SKILLS, "mixed"],
        default="careful",
        help="the singers' errors (models.hum.SKILLS): careful, casual, untrained (compressed leaps, drift, wrong notes), or any per hum",
    )
    parser.add_argument(
        "--talk",
        choices=TALK_PLACES,
        default=None,
        help="a few words (Festival's voice: 'it goes like this', 'okay'...) said before, after or both sides of every hum, "
        "through the same room and noise, as people at a speaker do (needs Festival)",
    )
    parser.add_argument(
        "--mains-hum",
        type=float,
        default=None,
        metavar="SNR_DB",
        help="add mains buzz (50 or 60 Hz and harmonics) this many dB below every hum, as a USB microphone on a ground loop does",
    )
    parser.add_argument(
        "--hum-seconds",
        type=float,
        nargs=2,
        default=DEFAULT_HUM_SECONDS,
        metavar=("MIN", "MAX"),
        help="how long the hums are (default 4 15); other lengths start where the rest of the tune lasts them",
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        metavar="S",
        help="cut every hum to its first S seconds, as a capture that stops itself after S seconds does (capture.max_seconds)",
    )
    parser.add_argument(
        "--takes",
        type=int,
        default=1,
        metavar="N",
        help="every hum sung N times over, one take after another (people repeat a hook); default 1",
    )
    parser.add_argument(
        "--elsewhere",
        action="store_true",
        help="with --takes: every take after the first hums another passage of the tune (a line, then the chorus)",
    )
    parser.add_argument(
        "--stored-as",
        choices=sorted(STORED_FORMATS),
        default=None,
        help="every hum written to a WAV file of this format and read back by the device's decoder "
        "(wav-8k-u8: 8 kHz 8-bit, as the MIR-QBSH corpus of real hums stores them; wav-8k-ulaw: a telephone's 8 kHz mu-law)",
    )
    registers = {  # MIDI ranges of the hums' median pitch, beyond the default hums' (see benchmark_hum)
        "--whistles": "every hum whistled, its median pitch drawn from MIDI LO-HI (default 79-91; whistles reach MIDI ~102, 3 kHz)",
        "--voices": "every hum not whistled sung around a median pitch drawn from MIDI LO-HI (default 45-67; a man's low hum ~40-50)",
    }
    for option, meaning in registers.items():
        parser.add_argument(option, type=float, nargs=2, default=None, metavar=("LO", "HI"), help=meaning)
    shipped = WindowConfig()
    parser.add_argument(
        "--song-hop", type=int, default=shipped.song_hop, metavar="FRAMES", help="frames between catalog windows (25 frames = 1 s)"
    )
    parser.add_argument(
        "--query-hop", type=int, default=shipped.query_hop, metavar="FRAMES", help="frames between a hum's windows (25 frames = 1 s)"
    )
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="processes building the catalog (the same catalog for any number)"
    )
    args = parser.parse_args()
    if args.song_hop < 1 or args.query_hop < 1:
        parser.error("--song-hop and --query-hop are whole frames, at least 1")
    args.hum_seconds = tuple(args.hum_seconds)
    if not 0 < args.hum_seconds[0] <= args.hum_seconds[1]:
        parser.error("--hum-seconds MIN MAX: 0 < MIN <= MAX")
    if args.takes < 1:
        parser.error("--takes: at least 1")
    if args.elsewhere and args.takes < 2:
        parser.error("--elsewhere: with --takes 2 or more (the passages after the first)")
    if args.max_seconds is not None and args.max_seconds < 2:
        parser.error("--max-seconds: at least 2 (the recognizer answers no shorter query)")
    lacking = missing_tools(SINGERS if args.voice != "synth" or args.render == "sung" else ())  # any other voice asks for both tools
    if lacking:
        parser.error(f"--voice {args.voice} / --render {args.render} needs {', '.join(lacking)}: {INSTALL_HINT}")
    if args.talk and missing_tools(["festival"]):
        parser.error(f"--talk needs Festival's voice: {INSTALL_HINT}")

    if args.shifts is not None:
        melody_match.SHIFTS_TRIED = args.shifts
    if args.interval_scales is not None:
        melody_match.INTERVAL_SCALES = tuple(args.interval_scales)
    catalog, n_targets, outsiders = choose_catalog(args.songs, args.seed)
    started = time.time()
    extras: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.humbundle"
        model = args.model.read_bytes()
        windows = replace(shipped, song_hop=args.song_hop, query_hop=args.query_hop)
        build_catalog(
            catalog,
            args.render,
            model,
            path,
            args.seed,
            melody_from=args.catalog_melody,
            extras=extras,
            workers=args.workers,
            windows=windows,
        )
        bundle = load_bundle(path)
    build_s = time.time() - started
    queries = [
        benchmark_hum(
            catalog,
            n_targets,
            args.seed,
            q,
            choose_singer(args.voice, args.seed, q),
            choose_skill(args.singing, args.seed, q),
            args.hum_seconds,
            args.takes,
            args.elsewhere,
            args.whistles,
            args.voices,
            args.talk,
        )
        for q in range(args.queries)
    ]
    outsider_hums = [
        random_hum(
            outsiders[q % len(outsiders)],
            catalog,
            np.random.default_rng([args.seed, 2 * 10**6 + q]),
            choose_singer(args.voice, args.seed, 10**5 + q),
            choose_skill(args.singing, args.seed, 10**5 + q),
            args.hum_seconds,
            args.takes,
            args.elsewhere,
            median_pitch(args.whistles, args.seed, 8 * 10**6 + q),
            median_pitch(args.voices, args.seed, 10 * 10**6 + q),
            spoken_words(args.talk, np.random.default_rng([args.seed, 556, q])) if args.talk else None,
        )[0]
        for q in range(args.negatives)
    ]
    if args.mains_hum is not None:  # own streams: the hums' other draws stay as without it
        queries = [
            (target, add_mains_hum(audio, args.mains_hum, np.random.default_rng([args.seed, 5 * 10**6 + q])), cond, length)
            for q, (target, audio, cond, length) in enumerate(queries)
        ]
        outsider_hums = [
            add_mains_hum(audio, args.mains_hum, np.random.default_rng([args.seed, 6 * 10**6 + q])) for q, audio in enumerate(outsider_hums)
        ]
    if args.max_seconds is not None:  # what a capture that stops itself after max_seconds hears
        keep = int(args.max_seconds * FrontEndConfig().sample_rate)
        queries = [(target, audio[:keep], cond, min(length, args.max_seconds)) for target, audio, cond, length in queries]
        outsider_hums = [audio[:keep] for audio in outsider_hums]
    if args.stored_as is not None:  # each hum through a file of that format and the device's decoder
        queries = [(target, as_stored(audio, args.stored_as), cond, length) for target, audio, cond, length in queries]
        outsider_hums = [as_stored(audio, args.stored_as) for audio in outsider_hums]
    buzz = "" if args.mains_hum is None else f", mains buzz {args.mains_hum:g} dB below every hum"
    lengths = (
        f"hums of {args.hum_seconds[0]:g}-{args.hum_seconds[1]:g} s"
        + ("" if args.takes == 1 else f" sung {args.takes} times over" if not args.elsewhere else f", {args.takes} passages each")
        + ("" if args.max_seconds is None else f" cut to their first {args.max_seconds:g} s")
        + ("" if args.whistles is None else f", whistled around MIDI {args.whistles[0]:g}-{args.whistles[1]:g}")
        + ("" if args.voices is None else f", sung around MIDI {args.voices[0]:g}-{args.voices[1]:g}")
        + ("" if args.talk is None else f", words said {args.talk} {'them' if args.talk != 'both' else 'sides'}")
        + ("" if args.stored_as is None else f", stored as {args.stored_as}")
    )
    print(
        f"\ncatalog: {len(catalog)} distinct tunes ({n_targets} held-out targets + {len(catalog) - n_targets} training-tune distractors), "
        f"rendered as {args.render}, melody contours from {args.catalog_melody}; {args.queries} hums; "
        f"{args.negatives} hums of tunes not in the catalog; {lengths}; "
        f"sung by {args.voice} ({args.singing} singers){buzz}; model {args.model.name}; "
        f"melody stage re-ranks {args.rerank}, hum intervals x{'/'.join(map(str, melody_match.INTERVAL_SCALES))}; "
        f"song / query window hops {args.song_hop} / {args.query_hop} frames; "
        f"catalog built in {build_s:.0f} s\n"
    )
    ours = Recognizer(bundle, threads=1, search=replace(SearchConfig(), rerank=args.rerank))
    embedding_only = Recognizer(bundle, threads=1, search=replace(SearchConfig(), rerank=0))
    recognizers = [("ours", ours), ("embedding only", embedding_only)]
    if args.talk:  # what the words cost when they are kept (device.talk leaves them out)
        recognizers.append(("ours, words kept", Recognizer(bundle, threads=1, search=replace(ours.search, trim_talk=False))))
    systems = {name: [] for name, _ in recognizers}
    if not args.no_baselines:
        systems.update({"pitch + DTW (baseline)": [], "MFCC + cosine (baseline)": []})
    seconds = defaultdict(float)
    answers = []
    ids = {s.song_id: i for i, s in enumerate(bundle.songs)}
    frontend = bundle.frontend
    for target, audio, cond, length in queries:
        for name, recognizer in recognizers:
            t = time.perf_counter()
            answer = recognizer.recognize_audio(audio, top=len(catalog))
            seconds[name] += time.perf_counter() - t
            order = np.array([ids[m.song_id] for m in answer.matches])
            systems[name].append((rank_of(order, target, len(catalog)), cond, length))
            if name == "ours":
                answers.append(answer)
        if not args.no_baselines:
            t = time.perf_counter()
            contour = hum_contour(compute_features(audio, frontend), frontend)
            dtw_order = dtw_ranking(contour, extras["notes_contours"])
            systems["pitch + DTW (baseline)"].append((rank_of(dtw_order, target, len(catalog)), cond, length))
            seconds["pitch + DTW (baseline)"] += time.perf_counter() - t
            t = time.perf_counter()
            mfcc_order = mfcc_ranking(audio, extras["mfcc"])
            systems["MFCC + cosine (baseline)"].append((rank_of(mfcc_order, target, len(catalog)), cond, length))
            seconds["MFCC + cosine (baseline)"] += time.perf_counter() - t
    print_systems(systems, seconds, len(queries))
    print_conditions(systems)
    outsider_answers = [ours.recognize_audio(audio, top=2) for audio in outsider_hums]
    print_decision(ours.decision, [r for r, _, _ in systems["ours"]], answers, outsider_answers, args.fit_decision)


def metric_cells(ranks) -> str:
    """'top-1 | top-10 | MRR' of 1-based ranks, for a markdown table row."""
    r = np.asarray(ranks)
    return f"{np.mean(r == 1):.3f} | {np.mean(r <= 10):.3f} | {np.mean(1 / r):.3f}"


def print_systems(systems: dict, seconds: dict, n: int) -> None:
    print("| system | top-1 | top-10 | MRR | ms per query (one core) |")
    print("|---|---|---|---|---|")
    for name, rows in systems.items():
        print(f"| {name} | {metric_cells([rank for rank, _, _ in rows])} | {1000 * seconds[name] / n:.0f} |")


def print_conditions(systems: dict) -> None:
    groups: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for name, rows in systems.items():
        for rank, cond, length in rows:
            for key in (
                "all",
                f"style={cond.style}",
                f"singer={cond.singer}",
                f"skill={cond.skill}",
                f"noise={cond.noise_kind}",
                bucket("snr_db", cond.snr_db),
                bucket("tempo_factor", cond.tempo_factor),
                bucket("length_s", length),
            ):
                groups[key][name].append(rank)
    names = list(systems)
    print("\ntop-1 by condition (ours: top-1 / top-10 / MRR)\n")
    print("| condition | n | ours | " + " | ".join(names[1:]) + " |")
    print("|---|---|---|" + "---|" * (len(names) - 1))
    for key in ["all", *sorted(k for k in groups if k != "all")]:
        ours = np.asarray(groups[key]["ours"])
        others = " | ".join(f"{np.mean(np.asarray(groups[key][n]) == 1):.3f}" for n in names[1:])
        print(f"| {key} | {len(ours)} | {np.mean(ours == 1):.3f} / {np.mean(ours <= 10):.3f} / {np.mean(1 / ours):.3f} | {others} |")


def score_and_lead(answer) -> tuple[float, float]:
    scores = [m.score for m in answer.matches]
    return scores[0], scores[0] - (scores[1] if len(scores) > 1 else -1.0)


def print_decision(decision: Decision, ranks: list[int], answers: list, outsider_answers: list, fit_all: bool) -> None:
    """Calibrated confidence, cross-fitted (2-fold) on in-catalog and not-in-catalog hums."""
    inside = np.array([score_and_lead(a) for a in answers])
    outside = np.array([score_and_lead(a) for a in outsider_answers]).reshape(-1, 2)
    features = np.vstack([inside, outside])
    labels = np.concatenate([np.asarray(ranks) == 1, np.zeros(len(outside), bool)]).astype(float)
    is_inside = np.arange(len(features)) < len(inside)
    fold = np.arange(len(features)) % 2
    probability = np.zeros(len(features))
    for k in (0, 1):
        w = fit_logistic(features[fold != k], labels[fold != k])
        probability[fold == k] = 1.0 / (1.0 + np.exp(-(np.column_stack([features[fold == k], np.ones((fold == k).sum())]) @ w)))
    right = labels.astype(bool)
    print(f"\ncalibrated confidence, 2-fold cross-fitted ({is_inside.sum()} hums in the catalog, {(~is_inside).sum()} not)")
    print("| min confidence | confident & right (of in-catalog) | confident & wrong (of in-catalog) | false accepts (of not-in-catalog) |")
    print("|---|---|---|---|")
    for threshold in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
        yes = probability >= threshold
        mark = " (shipped)" if threshold == decision.min_confidence and decision.weights is not None else ""
        accepted = f"{np.mean(yes[~is_inside]):.3f}" if (~is_inside).any() else "n/a (--negatives 0)"
        print(
            f"| {threshold}{mark} | {np.mean(yes[is_inside] & right[is_inside]):.3f} | {np.mean(yes[is_inside] & ~right[is_inside]):.3f} | "
            f"{accepted} |"
        )
    if decision.weights is not None:  # the bundle's own weights, not refitted: a held-out check of what ships
        shipped = np.array([decision.is_confident(best, lead) for best, lead in features])
        outsiders = f"{np.mean(shipped[~is_inside]):.3f}" if (~is_inside).any() else "n/a"
        hits, misses = np.mean(shipped[is_inside] & right[is_inside]), np.mean(shipped[is_inside] & ~right[is_inside])
        print(
            f"\nthe bundle's own weights {decision.weights} at {decision.min_confidence}: "
            f"confident & right {hits:.3f}, confident & wrong {misses:.3f}, false accepts {outsiders}"
        )
    bins = np.clip((probability * 5).astype(int), 0, 4)
    print("\ncalibration: | predicted | n | observed right |")
    for b in range(5):
        m = bins == b
        if m.any():
            print(f"| {b / 5:.1f}-{(b + 1) / 5:.1f} | {m.sum()} | {labels[m].mean():.3f} |")
    if fit_all:
        w = fit_logistic(features, labels)
        print(f"\nweights fitted on all: ({w[0]:.4f}, {w[1]:.4f}, {w[2]:.4f})")


if __name__ == "__main__":
    main()
