"""A folder of songs (MIDI and WAV) becomes a bundle, and hummed recordings name their song."""

from __future__ import annotations

import json

import numpy as np
import soundfile as sf

from device.bundle import load_bundle
from device.cli import main as device_main
from device.recognizer import Recognizer
from tests.conftest import SR, make_hum


def test_bundle_holds_every_song_with_titles(bundle_path, tunes):
    bundle = load_bundle(bundle_path)
    assert [s.song_id for s in bundle.songs] == [f"song{i}.{'mid' if i % 2 == 0 else 'wav'}" for i in range(8)]
    assert [s.title for s in bundle.songs[:7]] == [t.title for t in tunes[:7]]
    assert bundle.songs[7].title == "song7"  # not in catalog.csv: titled by its file stem
    assert bundle.songs[0].artist == "Trad."
    assert all(s.n_vectors >= 1 for s in bundle.songs)
    assert bundle.manifest["counts"]["vectors"] == sum(s.n_vectors for s in bundle.songs)


def test_hum_of_midi_song_in_other_key_and_tempo_ranks_first(bundle_path, tunes):
    recognizer = Recognizer(load_bundle(bundle_path))
    answer = recognizer.recognize_audio(make_hum(tunes[0], seed=11, transpose=-5.0, tempo_factor=1.25))
    assert answer.matches[0].song_id == "song0.mid"


def test_hum_of_wav_song_in_other_key_and_tempo_ranks_first(bundle_path, tunes):
    recognizer = Recognizer(load_bundle(bundle_path))
    answer = recognizer.recognize_audio(make_hum(tunes[1], seed=12, transpose=4.0, tempo_factor=0.8))
    assert answer.matches[0].song_id == "song1.wav"


def test_most_catalog_songs_are_found_from_hums(bundle_path, tunes):
    recognizer = Recognizer(load_bundle(bundle_path))
    ids = [s.song_id for s in recognizer.bundle.songs]
    hits = sum(
        recognizer.recognize_audio(make_hum(t, seed=100 + i, transpose=-3.0 + i)).matches[0].song_id == ids[i]
        for i, t in enumerate(tunes[:8])
    )
    assert hits >= 6


def test_cli_json_contract(bundle_path, tunes, tmp_path, capsys):
    hum = tmp_path / "hum.wav"
    sf.write(hum, make_hum(tunes[2], seed=5), SR)
    assert device_main(["query", "--bundle", str(bundle_path), "--json", "--top", "3", str(hum)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["file"] == str(hum)
    assert len(result["matches"]) == 3
    assert set(result["matches"][0]) == {"title", "artist", "song_id", "score"}
    assert isinstance(result["confident"], bool)
    assert {"decode", "frontend", "encode", "search", "total"} <= set(result["timings_ms"])
    assert result["matches"][0]["song_id"] == "song2.mid"


def test_cli_bad_files_give_error_lines_and_the_rest_still_run(bundle_path, tunes, tmp_path, capsys):
    good = tmp_path / "good.flac"
    sf.write(good, make_hum(tunes[3], seed=6), SR, format="FLAC")
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00garbage" * 10)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(SR * 5, np.float32), SR)
    short = tmp_path / "short.wav"
    sf.write(short, make_hum(tunes[3], seed=6)[: SR // 2], SR)
    files = [corrupt, tmp_path / "missing.wav", silent, short, good]
    assert device_main(["query", "--bundle", str(bundle_path), "--json", *map(str, files)]) == 0
    results = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [r["file"] for r in results] == list(map(str, files))
    for result, word in zip(results[:4], ["decode", "no such file", "silent", "too short"]):
        assert word in result["error"] and "matches" not in result
    assert results[4]["matches"][0]["song_id"] == "song3.wav"


def test_cli_text_output(bundle_path, tunes, tmp_path, capsys):
    hum = tmp_path / "hum.ogg"
    sf.write(hum, make_hum(tunes[4], seed=7), SR, format="OGG")
    assert device_main(["query", "--bundle", str(bundle_path), str(hum)]) == 0
    out = capsys.readouterr().out
    assert tunes[4].title in out


def test_cli_queries_every_audio_file_in_a_folder(bundle_path, tunes, tmp_path, capsys):
    """A folder of recordings (one session's hums) is queried file by file in name order, nested
    folders too; other files in it are left out, hidden ones (a Mac's "._" twins, a synced folder's
    trash) too, and an empty folder gets an error line."""
    session = tmp_path / "session"
    (session / "later").mkdir(parents=True)
    (session / ".Trash").mkdir()
    sf.write(session / "b.wav", make_hum(tunes[2], seed=5), SR)
    sf.write(session / "later" / "a.flac", make_hum(tunes[3], seed=6), SR, format="FLAC")
    (session / "notes.txt").write_text("hummed in the kitchen")
    (session / "._b.wav").write_bytes(b"\x00\x05\x16\x07 Mac OS X resource fork")
    sf.write(session / ".Trash" / "deleted.wav", make_hum(tunes[1], seed=7), SR)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert device_main(["query", "--bundle", str(bundle_path), "--json", str(session), str(empty)]) == 0
    results = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [r["file"] for r in results] == [str(session / "b.wav"), str(session / "later" / "a.flac"), str(empty)]
    assert [r["matches"][0]["song_id"] for r in results[:2]] == ["song2.mid", "song3.wav"]
    assert "a folder without audio files" in results[2]["error"]
