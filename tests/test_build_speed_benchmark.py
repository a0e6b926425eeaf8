"""benchmarks/build_speed.py: its recordings are real audio files and its builds real bundles."""

from __future__ import annotations

import soundfile as sf

from benchmarks.build_speed import DEMO_CATALOG, recordings, timed_build


def test_the_build_speed_benchmark_times_real_builds_of_both_catalog_kinds(tmp_path):
    midi_files = sorted(DEMO_CATALOG.glob("*.mid"))[:2]
    audio = tmp_path / "recordings"
    audio.mkdir()
    recordings(midi_files, audio, "ogg")
    written = sorted(audio.iterdir())
    assert [p.suffix for p in written] == [".ogg", ".ogg"]
    info = sf.info(written[0])
    assert info.samplerate == 44100 and info.channels == 2 and info.duration > 5
    wall, audio_s, songs = timed_build(audio, tmp_path / "r.humbundle")
    assert songs == 2 and wall > 0 and abs(audio_s - sum(sf.info(p).duration for p in written)) < 1.0
