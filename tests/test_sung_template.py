"""A melody file's song carries its tune sung as well as played (index_builder.embed.with_sung_template)."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from device.encoder_runtime import OnnxEncoder
from device.frontend import FrontEndConfig, compute_features
from device.pitch import hum_contour
from device.windows import WindowConfig, cut_windows
from index_builder.cli import DEFAULT_MODEL
from index_builder.embed import TEMPLATE_MEDIAN_MIDI, embed_song, sung_template
from models.melody import read_midi, write_midi
from models.render import render_notes
from tests.conftest import SR, render_recording


def test_the_template_sings_the_tune_part_in_a_voice_register(tmp_path, tunes):
    melody = tunes[2]
    notes = read_midi(write_midi(melody, tmp_path / "t.mid", quarters_per_minute=100))
    audio = sung_template(notes, SR)
    assert abs(len(audio) / SR - (notes.end_s + 0.5)) < 0.01
    contour = hum_contour(compute_features(audio, FrontEndConfig()), FrontEndConfig())
    assert abs(float(np.median(contour)) - TEMPLATE_MEDIAN_MIDI) < 3  # moved whole semitones to the voice's register
    shift = float(np.round(TEMPLATE_MEDIAN_MIDI - np.median(melody.pitch)))
    sung_notes = np.unique(np.round(contour - shift).astype(int))
    assert set(sung_notes) <= set(melody.pitch.tolist()) | {p + d for p in melody.pitch.tolist() for d in (-1, 1)}
    assert len(set(sung_notes) & set(melody.pitch.tolist())) >= 0.7 * len(set(melody.pitch.tolist()))


def test_melody_files_get_template_windows_and_recordings_do_not(tmp_path, tunes):
    encoder = OnnxEncoder(DEFAULT_MODEL.read_bytes())
    frontend, windows = FrontEndConfig(), WindowConfig()
    midi = write_midi(tunes[1], tmp_path / "tune.mid", quarters_per_minute=110)
    song = embed_song(midi, encoder, frontend, windows)
    notes = read_midi(midi)
    played = cut_windows(compute_features(render_notes(notes), frontend), windows.length, windows.song_hop)
    sung = cut_windows(compute_features(sung_template(notes, SR), frontend), windows.length, windows.song_hop)
    assert len(song.vectors) == len(played) + len(sung)
    np.testing.assert_allclose(song.vectors[len(played) :], encoder.embed(sung), atol=1e-6)
    wav = tmp_path / "tune.wav"
    sf.write(wav, render_recording(tunes[1], seed=3), SR)
    recording = embed_song(wav, encoder, frontend, windows)
    assert len(recording.vectors) == len(
        cut_windows(compute_features(render_recording(tunes[1], seed=3), frontend), windows.length, windows.song_hop)
    )


def test_a_catalog_can_be_built_without_templates_and_add_keeps_it_so(tmp_path, tunes, caplog):
    from device.bundle import load_bundle
    from index_builder.cli import main as index_main
    from index_builder.embed import NO_TEMPLATES, TEMPLATE_VERSION

    catalog, new = tmp_path / "catalog", tmp_path / "new"
    catalog.mkdir()
    new.mkdir()
    for k in (1, 2):
        write_midi(tunes[k], catalog / f"t{k}.mid", quarters_per_minute=110)
    write_midi(tunes[3], new / "t3.mid", quarters_per_minute=110)
    common = ["--no-cache", "--workers", "1", "--no-tflite"]
    assert index_main(["build", str(catalog), "-o", str(tmp_path / "sung.humbundle"), *common]) == 0
    assert index_main(["build", str(catalog), "-o", str(tmp_path / "plain.humbundle"), "--no-sung-templates", *common]) == 0
    sung, plain = load_bundle(tmp_path / "sung.humbundle"), load_bundle(tmp_path / "plain.humbundle")
    assert sung.manifest["template_versions"] == [TEMPLATE_VERSION] and plain.manifest["template_versions"] == [NO_TEMPLATES]
    assert all(p.n_vectors < s.n_vectors for p, s in zip(plain.songs, sung.songs))
    assert (
        index_main(
            ["add", str(tmp_path / "plain.humbundle"), str(new), "-o", str(tmp_path / "more.humbundle"), "--no-cache", "--workers", "1"]
        )
        == 0
    )
    more = load_bundle(tmp_path / "more.humbundle")
    assert more.manifest["template_versions"] == [NO_TEMPLATES] and "sung templates" not in caplog.text
    played = cut_windows(compute_features(render_notes(read_midi(new / "t3.mid"))), WindowConfig().length, WindowConfig().song_hop)
    assert more.songs[2].n_vectors == len(played)  # the new song as the bundle's others: played only
