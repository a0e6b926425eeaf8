"""Hums sung by voices that are not our own synthesizer: Festival's singing mode and a GM soundfont.

Our hum synthesizer (:mod:`models.hum`) and our pitch tracker were written side by side, so a
benchmark whose hums all come from that synthesizer can flatter the tracker. These two voices
were made by other people for other purposes:

- Festival (Debian ``festival`` + ``festvox-kallpc16k``) sings a score at exact frequencies with
  a diphone voice (``text2wave -mode singing``): real consonants, formants and glottal pulses of
  a recorded man's voice, resynthesized at each note's pitch.
- FluidSynth (Debian ``fluidsynth`` + ``fluid-soundfont-gm``) plays the notes with sampled GM
  instruments: choir "aahs", voice "oohs", a synth voice and a whistle, with the soundfont's own
  vibrato, chorus and reverb; fractional pitches through pitch bend.

Both follow the notes a person would sing (:func:`models.hum.humanize`: key, tempo, rubato,
intonation, dropped and added notes); the room, microphone and noise are added afterwards by
:func:`models.hum.degrade`, as for our own voice. They also sing the tune inside a "recording"
(:func:`sung_lead`), as a pop song's singer does. Neither tool is needed by the product: only the
benchmark's ``--voice`` / ``--render sung`` and the training data's ``--singers`` / ``--leads``
use them, and :func:`available` tells whether they are installed.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from device.audio_io import read_audio
from models import dsp
from models.melody import NoteEvents

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
SINGERS = ("festival", "soundfont")
FESTIVAL_SYLLABLES = {"hum": "mum", "la": "la", "da": "da", "doo": "doo"}
# GM programs (0-based) per hum style: 52 choir aahs, 53 voice oohs, 54 synth voice, 78 whistle.
SOUNDFONT_PROGRAMS = {"hum": (53, 54), "la": (52, 54), "da": (52,), "doo": (53,), "whistle": (78,)}
PITCH_BEND_RANGE = 2.0  # semitones: the GM default a soundfont player assumes
SHORTEST_NOTE_S = 0.05
FESTIVAL_HIGHEST = 70.0  # MIDI (466 Hz): its man's voice crashes (SIGSEGV) on some scores near 580 Hz


SUNG_STYLES = ("la", "da", "doo")  # syllables a song's singer sings its tune on (a "recording" with a sung lead)


INSTALL_HINT = "apt install festival festvox-kallpc16k fluidsynth fluid-soundfont-gm"


class VoiceUnavailable(RuntimeError):
    """The external singer is not installed on this machine."""


def available(singer: str) -> bool:
    """Whether ``singer`` ("festival" or "soundfont") can run here."""
    if singer == "festival":
        return shutil.which("text2wave") is not None
    if singer == "soundfont":
        return shutil.which("fluidsynth") is not None and SOUNDFONT.exists()
    raise ValueError(f"unknown singer {singer!r}; choose from {SINGERS}")


def tools_for(singer: str) -> tuple[str, ...]:
    """The tools some hum by ``singer`` may need: Festival cannot whistle, so its whistles take the
    soundfont too (see :func:`sing`); our synthesizer ("synth") needs none."""
    if singer == "synth":
        return ()
    if singer not in SINGERS:
        raise ValueError(f"unknown singer {singer!r}; choose from synth, {', '.join(SINGERS)}")
    return ("festival", "soundfont") if singer == "festival" else ("soundfont",)


def missing_tools(singers) -> list[str]:
    """The tools that hums by ``singers`` would need and this machine lacks: asked up front, so a
    long run does not stop at its first Festival whistle."""
    return sorted({tool for singer in singers for tool in tools_for(singer) if not available(tool)})


def sing(events: NoteEvents, style: str, length_s: float, singer: str, rng: np.random.Generator) -> np.ndarray:
    """``events`` (seconds, fractional MIDI pitches) sung by ``singer``: dry, 16 kHz, ``length_s`` long.

    Festival cannot whistle, so a whistle always goes to the soundfont's whistle.
    """
    renderer = "festival" if singer == "festival" and style != "whistle" else "soundfont"
    if not available(singer) or not available(renderer):
        raise VoiceUnavailable(f"{renderer} is not installed (Debian: festival festvox-kallpc16k / fluidsynth fluid-soundfont-gm)")
    events = _playable(events)
    n = int(length_s * dsp.SR)
    if len(events.onset) == 0:
        return np.zeros(n, np.float32)
    if renderer == "festival":
        audio = _festival(events, FESTIVAL_SYLLABLES[style])
    else:
        programs = SOUNDFONT_PROGRAMS[style]
        audio = _soundfont(events, int(programs[rng.integers(len(programs))]))
    out = np.zeros(n, np.float32)
    out[: min(n, len(audio))] = audio[:n]
    return dsp.normalise_peak(out) if np.any(out) else out


def sung_lead(events: NoteEvents, length_s: float, rng: np.random.Generator) -> np.ndarray:
    """The tune of a song sung by Festival or a soundfont voice on one of :data:`SUNG_STYLES`: the
    lead of a "recording" whose tune is sung, as a pop song's is (dry; the arrangement, mix and room
    are :func:`models.render.render_arrangement`'s). The notes are sung as written, as a
    professional singer would; Festival sings a high tune an octave lower, as a man would."""
    singer, style = str(rng.choice(SINGERS)), str(rng.choice(SUNG_STYLES))
    return sing(events, style, length_s, singer, rng)


# What people say at a speaker before or after they hum (the benchmark's ``--talk``).
SPOKEN_PHRASES = (
    "It goes like this.",
    "Um, what is this song?",
    "Okay.",
    "I think it goes something like",
    "Hey, what song is this?",
    "So, uh, it's like",
)


@functools.lru_cache(maxsize=16)
def speak(text: str) -> np.ndarray:
    """``text`` spoken by Festival's voice (its text-to-speech mode, not singing): dry, 16 kHz."""
    if not available("festival"):
        raise VoiceUnavailable(f"festival is not installed ({INSTALL_HINT})")
    with tempfile.TemporaryDirectory() as tmp:
        script, wav = Path(tmp) / "say.txt", Path(tmp) / "said.wav"
        script.write_text(text, encoding="utf-8")
        _run(["text2wave", str(script), "-o", str(wav), "-F", str(dsp.SR)])
        audio = read_audio(wav, dsp.SR)
    audio.setflags(write=False)  # shared by every caller through the cache
    return audio


def _playable(events: NoteEvents) -> NoteEvents:
    """Notes in time order that do not overlap, none shorter than ``SHORTEST_NOTE_S``."""
    order = np.argsort(events.onset, kind="stable")
    onset, dur, pitch = events.onset[order], events.dur[order], events.pitch[order]
    next_onset = np.append(onset[1:], np.inf)
    dur = np.minimum(dur, next_onset - onset)
    keep = dur >= SHORTEST_NOTE_S
    return NoteEvents(onset[keep], dur[keep], pitch[keep], events.velocity[order][keep])


def _festival(events: NoteEvents, syllable: str) -> np.ndarray:
    """Festival's singing mode: one syllable per note at its exact frequency, rests for the gaps.

    Its voice is a man's: a tune pitched above ``FESTIVAL_HIGHEST`` is sung in a lower octave, as
    a man would (matching is key-free, so the octave changes nothing else).
    """
    pitches = events.pitch - 12.0 * max(np.ceil((float(np.max(events.pitch, initial=0.0)) - FESTIVAL_HIGHEST) / 12.0), 0.0)
    parts, cursor = [], 0.0
    for onset, dur, pitch in zip(events.onset, events.dur, pitches):
        if onset - cursor > 0.01:
            parts.append(f'<REST SECONDS="{onset - cursor:.3f}"></REST>')
        parts.append(f'<PITCH FREQ="{float(dsp.midi_to_hz(pitch)):.2f}"><DURATION SECONDS="{dur:.3f}">{syllable}</DURATION></PITCH>')
        cursor = onset + dur
    score = (
        '<?xml version="1.0"?>\n'
        '<!DOCTYPE SINGING PUBLIC "-//SINGING//DTD SINGING mark up//EN" "Singing.v0_1.dtd" []>\n'
        f'<SINGING BPM="60">\n{chr(10).join(parts)}\n</SINGING>\n'
    )
    with tempfile.TemporaryDirectory() as tmp:
        xml, wav = Path(tmp) / "score.xml", Path(tmp) / "sung.wav"
        xml.write_text(score, encoding="utf-8")
        _run(["text2wave", "-mode", "singing", str(xml), "-o", str(wav)])
        return read_audio(wav, dsp.SR)


def _soundfont(events: NoteEvents, program: int) -> np.ndarray:
    """FluidSynth playing the notes with GM ``program``; each note's fraction of a semitone as pitch bend."""
    import mido  # here, not at the top: training-data generation never needs it

    ticks_per_second = 960  # at the default 120 bpm and 480 ticks per beat
    track = mido.MidiTrack([mido.Message("program_change", program=program, channel=0, time=0)])
    messages = []  # (tick, order, message): note-offs before note-ons at the same tick
    for onset, dur, pitch, velocity in zip(events.onset, events.dur, events.pitch, events.velocity):
        note = int(np.clip(round(float(pitch)), 0, 127))
        bend = int(np.clip((float(pitch) - note) / PITCH_BEND_RANGE * 8192, -8192, 8191))
        start, end = int(onset * ticks_per_second), int((onset + dur) * ticks_per_second)
        messages.append((start, 1, mido.Message("pitchwheel", pitch=bend, channel=0)))
        messages.append((start, 2, mido.Message("note_on", note=note, velocity=int(np.clip(velocity * 110, 1, 127)), channel=0)))
        messages.append((max(end, start + 1), 0, mido.Message("note_off", note=note, velocity=0, channel=0)))
    tick = 0
    for at, _, message in sorted(messages, key=lambda item: (item[0], item[1])):
        track.append(message.copy(time=at - tick))
        tick = at
    song = mido.MidiFile(ticks_per_beat=480)
    song.tracks.append(track)
    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = Path(tmp) / "notes.mid", Path(tmp) / "played.wav"
        song.save(mid)
        _run(["fluidsynth", "-ni", "-q", "-F", str(wav), "-r", str(dsp.SR), "-g", "0.8", str(SOUNDFONT), str(mid)])
        return read_audio(wav, dsp.SR)


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({done.returncode}): {done.stderr.strip()[-300:]}")
