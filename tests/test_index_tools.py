"""The catalog operator's tools: signed bundles, incremental adds, the resumable cache, info and verify."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from device.bundle import BundleError, load_bundle
from device.cli import main as device_main
from device.recognizer import Recognizer
from device.signing import load_public_key
from index_builder.cli import main as index_main
from index_builder.embed import CONTOUR_VERSION
from models.melody import write_midi
from tests.conftest import REPO_ROOT, make_hum, seconds_per_beat
from tests.test_bundle import edit_manifest


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    assert index_main(["keygen", "-o", str(folder / "operator")]) == 0
    assert index_main(["keygen", "-o", str(folder / "stranger")]) == 0
    return folder


@pytest.fixture(scope="module")
def signed_bundle(tmp_path_factory, catalog_dir, keys):
    out = tmp_path_factory.mktemp("signed") / "signed.humbundle"
    assert index_main(["build", str(catalog_dir), "-o", str(out), "--key", str(keys / "operator.key"), "--no-cache"]) == 0
    return out


def test_keygen_never_overwrites_a_key_and_keeps_it_private(keys, capsys):
    assert (keys / "operator.key").stat().st_mode & 0o077 == 0
    before = (keys / "operator.key").read_bytes()
    assert index_main(["keygen", "-o", str(keys / "operator")]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert (keys / "operator.key").read_bytes() == before


def test_signed_bundle_verifies_with_its_key_only(signed_bundle, bundle_path, keys):
    assert load_bundle(signed_bundle, public_key=load_public_key(keys / "operator.pub")).signed
    with pytest.raises(BundleError, match="signature does not verify"):
        load_bundle(signed_bundle, public_key=load_public_key(keys / "stranger.pub"))
    with pytest.raises(BundleError, match="not signed"):
        load_bundle(bundle_path, public_key=load_public_key(keys / "operator.pub"))


def test_resigned_manifest_edit_is_refused(signed_bundle, keys, tmp_path):
    """Changing the manifest (e.g. to match a swapped index) breaks the signature."""
    forged = tmp_path / "forged.humbundle"
    with zipfile.ZipFile(signed_bundle) as zin, zipfile.ZipFile(forged, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "manifest.json":
                manifest = json.loads(data)
                manifest["decision"]["min_margin"] = 0.0
                data = json.dumps(manifest, indent=2).encode()
            zout.writestr(info.filename, data)
    load_bundle(forged)  # still self-consistent without a key...
    with pytest.raises(BundleError, match="signature does not verify"):
        load_bundle(forged, public_key=load_public_key(keys / "operator.pub"))  # ...but not the operator's


def test_device_query_and_verify_enforce_the_key(signed_bundle, bundle_path, keys, tunes, tmp_path, capsys):
    import soundfile as sf

    hum = tmp_path / "hum.wav"
    sf.write(hum, make_hum(tunes[0], seed=3), 16000)
    good = ["query", "--bundle", str(signed_bundle), "--public-key", str(keys / "operator.pub"), "--json", str(hum)]
    assert device_main(good) == 0
    assert json.loads(capsys.readouterr().out)["matches"][0]["song_id"] == "song0.mid"
    assert device_main(["query", "--bundle", str(bundle_path), "--public-key", str(keys / "operator.pub"), str(hum)]) == 2
    assert "not signed" in capsys.readouterr().err
    assert index_main(["verify", str(signed_bundle), "--public-key", str(keys / "operator.pub")]) == 0
    assert "signature good" in capsys.readouterr().out
    assert index_main(["verify", str(signed_bundle), "--public-key", str(keys / "stranger.pub")]) == 2
    assert "does not verify" in capsys.readouterr().err


def test_info_reads_the_manifest(signed_bundle, capsys):
    assert index_main(["info", str(signed_bundle)]) == 0
    out = capsys.readouterr().out
    assert "songs / windows: 8 /" in out and "Ed25519, key" in out
    assert index_main(["info", "--json", str(signed_bundle)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["signed"] and info["counts"]["songs"] == 8


def test_add_appends_new_songs_without_touching_old_ones(bundle_path, catalog_dir, tunes, tmp_path, keys, capsys):
    new = tmp_path / "new"
    new.mkdir()
    for i in (8, 9):
        write_midi(tunes[i], new / f"new{i}.mid", quarters_per_minute=60.0 / seconds_per_beat(tunes[i]))
    shutil.copy(catalog_dir / "song0.mid", new / "song0.mid")  # already in the bundle: skipped
    shutil.copy(catalog_dir / "song2.mid", new / "song1.wav.mid")  # same content as song2: skipped
    out = tmp_path / "grown.humbundle"
    args = ["add", str(bundle_path), str(new), "-o", str(out), "--key", str(keys / "operator.key"), "--no-cache", "--workers", "1"]
    assert index_main(args) == 0
    assert "+2 songs" in capsys.readouterr().out
    old, grown = load_bundle(bundle_path), load_bundle(out, public_key=load_public_key(keys / "operator.pub"))
    assert [s.song_id for s in grown.songs] == [s.song_id for s in old.songs] + ["new8.mid", "new9.mid"]
    n_old = len(old.vector_song)
    old_vectors = np.asarray(old.index.get_items(np.arange(n_old), return_type="numpy"))
    assert np.array_equal(np.asarray(grown.index.get_items(np.arange(n_old), return_type="numpy")), old_vectors)
    answer = Recognizer(grown).recognize_audio(make_hum(tunes[9], seed=21, transpose=3.0, tempo_factor=0.9))
    assert answer.matches[0].song_id == "new9.mid"
    # Adding the same folder again changes nothing and says so.
    assert index_main(["add", str(out), str(new), "--no-cache", "--workers", "1"]) == 0
    assert "no new songs" in capsys.readouterr().err
    assert load_bundle(out).manifest["counts"]["songs"] == 10


def test_add_reports_a_different_file_under_an_existing_id(bundle_path, catalog_dir, tunes, tmp_path, capsys):
    new = tmp_path / "clash"
    new.mkdir()
    write_midi(tunes[9], new / "song0.mid")  # not the bundle's song0.mid
    out = tmp_path / "clash.humbundle"
    assert index_main(["add", str(bundle_path), str(new), "-o", str(out), "--no-cache"]) == 1
    assert "already has a different song with id 'song0.mid'" in capsys.readouterr().err
    assert not out.exists()


def new_melody_folder(tmp_path, tunes) -> Path:
    """A folder holding one MIDI song the test bundle does not have."""
    new = tmp_path / "new"
    new.mkdir()
    write_midi(tunes[8], new / "new8.mid", quarters_per_minute=60.0 / seconds_per_beat(tunes[8]))
    return new


def add_songs(bundle, new, out) -> None:
    assert index_main(["add", str(bundle), str(new), "-o", str(out), "--no-cache", "--workers", "1"]) == 0


@pytest.mark.parametrize("recorded", [[CONTOUR_VERSION - 1], None])
def test_add_says_when_it_would_mix_contour_versions(bundle_path, tunes, tmp_path, recorded, caplog, capsys):
    """A bundle whose contours an older (or unrecorded) tracker made: add warns before embedding and
    the manifest lists both versions; adding to a current bundle says nothing and stays one version."""
    new = new_melody_folder(tmp_path, tunes)
    assert load_bundle(bundle_path).manifest["contour_versions"] == [CONTOUR_VERSION]
    current = tmp_path / "current.humbundle"
    add_songs(bundle_path, new, current)
    assert "contour" not in caplog.text
    assert load_bundle(current).manifest["contour_versions"] == [CONTOUR_VERSION]

    def set_recorded(manifest):
        if recorded is None:
            del manifest["contour_versions"]
        else:
            manifest["contour_versions"] = recorded

    old = edit_manifest(bundle_path, tmp_path / "old.humbundle", set_recorded)
    mixed = tmp_path / "mixed.humbundle"
    add_songs(old, new, mixed)
    named = "an unrecorded version" if recorded is None else f"version {CONTOUR_VERSION - 1}"
    assert f"made by contour {named}; this hum-index makes version {CONTOUR_VERSION}" in caplog.text
    assert load_bundle(mixed).manifest["contour_versions"] == [None if recorded is None else CONTOUR_VERSION - 1, CONTOUR_VERSION]
    capsys.readouterr()
    assert index_main(["info", str(mixed)]) == 0
    shown = "unrecorded" if recorded is None else str(CONTOUR_VERSION - 1)
    assert f"contour versions: {shown}, {CONTOUR_VERSION}" in capsys.readouterr().out


def test_add_says_when_old_melody_songs_have_no_sung_templates(bundle_path, tunes, tmp_path, caplog):
    """A bundle made before sung templates: adding melody files warns and the manifest lists both."""
    from index_builder.embed import TEMPLATE_VERSION

    new = new_melody_folder(tmp_path, tunes)
    assert load_bundle(bundle_path).manifest["template_versions"] == [TEMPLATE_VERSION]
    add_songs(bundle_path, new, tmp_path / "current.humbundle")
    assert "sung templates" not in caplog.text
    old = edit_manifest(bundle_path, tmp_path / "old.humbundle", lambda manifest: manifest.pop("template_versions"))
    mixed = tmp_path / "mixed.humbundle"
    add_songs(old, new, mixed)
    assert "embedded without this hum-index's sung templates" in caplog.text
    assert load_bundle(mixed).manifest["template_versions"] == [None, TEMPLATE_VERSION]


def test_interrupted_build_resumes_from_the_cache(catalog_dir, tmp_path):
    """Kill a build part-way; the rerun embeds only what the first run had not finished."""
    cache, out = tmp_path / "cache", tmp_path / "resumed.humbundle"
    command = [
        sys.executable,
        "-m",
        "index_builder.cli",
        "build",
        str(catalog_dir),
        "-o",
        str(out),
        "--cache",
        str(cache),
        "--workers",
        "1",
    ]
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while len(list(cache.rglob("*.npz"))) < 3 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = len(list(cache.rglob("*.npz")))
    assert 3 <= finished < 8 and not out.exists()
    result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"{finished} from the cache, {8 - finished} to embed" in result.stderr
    fresh = tmp_path / "fresh.humbundle"
    assert index_main(["build", str(catalog_dir), "-o", str(fresh), "--no-cache", "--workers", "1"]) == 0
    a, b = load_bundle(out), load_bundle(fresh)
    n = len(a.vector_song)
    assert n == len(b.vector_song)
    assert np.allclose(
        a.index.get_items(np.arange(n), return_type="numpy"), b.index.get_items(np.arange(n), return_type="numpy"), atol=1e-6
    )


def test_an_unwritable_cache_does_not_stop_the_build(catalog_dir, tmp_path, capsys):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    out = tmp_path / "built.humbundle"
    assert index_main(["build", str(catalog_dir), "-o", str(out), "--cache", str(blocker / "cache"), "--workers", "1"]) == 0
    assert load_bundle(out).manifest["counts"]["songs"] == 8


def test_the_confidence_calibration_follows_the_catalog_kind(catalog_dir, tunes, tmp_path):
    """A catalog of recordings (contours tracked from audio) gets its own fitted confidence; adding
    MIDI files until they are the majority switches the bundle to the MIDI calibration."""
    from device.recognizer import RECORDINGS_DECISION, Decision

    recordings = tmp_path / "recordings"
    recordings.mkdir()
    for name in ("song1.wav", "song3.wav", "song5.wav", "song7.wav"):
        shutil.copy(catalog_dir / name, recordings / name)
    bundle = tmp_path / "recordings.humbundle"
    assert index_main(["build", str(recordings), "-o", str(bundle), "--no-cache", "--workers", "1"]) == 0
    assert Decision.from_dict(load_bundle(bundle).manifest["decision"]) == RECORDINGS_DECISION
    assert RECORDINGS_DECISION != Decision()

    midi = tmp_path / "midi"
    midi.mkdir()
    for name in ("song0.mid", "song2.mid", "song4.mid", "song6.mid"):
        shutil.copy(catalog_dir / name, midi / name)
    write_midi(tunes[8], midi / "new8.mid", quarters_per_minute=60.0 / seconds_per_beat(tunes[8]))
    grown = tmp_path / "grown.humbundle"
    assert index_main(["add", str(bundle), str(midi), "-o", str(grown), "--no-cache", "--workers", "1"]) == 0
    assert Decision.from_dict(load_bundle(grown).manifest["decision"]) == Decision()


@pytest.mark.parametrize(
    ("encoding", "warns"),
    [("utf-8", False), ("utf-8-sig", False), ("utf-16", False), ("cp1252", True)],
)
def test_catalog_csv_titles_survive_the_encoding_a_spreadsheet_saved(tmp_path, caplog, encoding, warns):
    """An operator's catalog.csv comes from whatever tool they keep titles in: UTF-8 with or without
    a byte-order mark, UTF-16 (a spreadsheet's "Unicode text"), or Windows-1252 (a spreadsheet's
    "CSV" on Windows), which must not stop the build on its first "é"; only the guess is logged."""
    from index_builder.catalog import scan_catalog

    (tmp_path / "cafe.mid").write_bytes(b"")  # scanning reads names, not songs
    (tmp_path / "strasse.mid").write_bytes(b"")
    text = "file,title,artist\r\ncafe.mid,Café Noir,Thé Dansant\r\nstrasse.mid,Straße “Süd”,Œuvre\r\n"
    (tmp_path / "catalog.csv").write_bytes(text.encode(encoding))
    with caplog.at_level("WARNING"):
        entries = scan_catalog(tmp_path)
    assert [(e.relative, e.title, e.artist) for e in entries] == [
        ("cafe.mid", "Café Noir", "Thé Dansant"),
        ("strasse.mid", "Straße “Süd”", "Œuvre"),
    ]
    assert ("not UTF-8" in caplog.text) == warns


def test_a_catalog_csv_that_is_not_text_is_a_clear_error(tmp_path, capsys):
    """A catalog.csv that claims UTF-16 but is cut mid-character, or has no 'file' column, stops the
    build with a line naming the file, not a traceback."""
    (tmp_path / "song.mid").write_bytes(b"")
    (tmp_path / "catalog.csv").write_bytes("file,title\n".encode("utf-16") + b"\x00")
    assert index_main(["build", str(tmp_path), "-o", str(tmp_path / "out.humbundle")]) != 0
    assert "catalog.csv: starts as UTF-16 but is not" in capsys.readouterr().err
    (tmp_path / "catalog.csv").write_bytes(b"name,title\nsong.mid,x\n")
    assert index_main(["build", str(tmp_path), "-o", str(tmp_path / "out.humbundle")]) != 0
    assert "needs a header row with at least a 'file' column" in capsys.readouterr().err


def test_a_silent_catalog_song_is_skipped_with_advice_for_the_operator(tmp_path):
    """A catalog song of digital silence (a failed export) is refused in words for the operator
    building the catalog, not the hummer's "hum louder"."""
    import soundfile as sf

    from device.audio_io import AudioError
    from device.encoder_runtime import OnnxEncoder
    from device.frontend import FrontEndConfig
    from device.windows import WindowConfig
    from index_builder.cli import DEFAULT_MODEL
    from index_builder.embed import embed_song

    sf.write(tmp_path / "export.wav", np.zeros(16000 * 5, np.float32), 16000)
    with pytest.raises(AudioError, match=r"export.wav is silent .*failed to export") as caught:
        embed_song(tmp_path / "export.wav", OnnxEncoder(DEFAULT_MODEL.read_bytes()), FrontEndConfig(), WindowConfig())
    assert "hum louder" not in str(caught.value)


def test_audio_songs_are_titled_by_their_own_tags_unless_catalog_csv_names_them(tmp_path):
    """A music folder's files carry their titles in tags (ID3, Vorbis comments, RIFF INFO):
    catalog.csv wins field by field, then the tags, then the file stem; a file that cannot be
    opened is titled by its stem here and reported by the build when it is read."""
    import soundfile as sf

    from index_builder.catalog import scan_catalog

    def tagged(name: str, fmt: str, title: str, artist: str) -> None:
        with sf.SoundFile(tmp_path / name, "w", 16000, 1, format=fmt) as handle:
            if title:
                handle.title = title
            if artist:
                handle.artist = artist
            handle.write(np.zeros(1600, np.float32))

    tagged("03 - Track 03.flac", "FLAC", "Gute Nacht, Freunde", "Reinhard Mey")
    tagged("named.ogg", "OGG", "Tag Title", "Tag Artist")
    tagged("bare.wav", "WAV", "", "")
    (tmp_path / "broken.mp3").write_bytes(b"ID3 not really")
    (tmp_path / "catalog.csv").write_text("file,title,artist\nnamed.ogg,Sheet Title,\n", encoding="utf-8")
    names = {e.relative: (e.title, e.artist) for e in scan_catalog(tmp_path)}
    assert names == {
        "03 - Track 03.flac": ("Gute Nacht, Freunde", "Reinhard Mey"),
        "named.ogg": ("Sheet Title", "Tag Artist"),
        "bare.wav": ("bare", ""),
        "broken.mp3": ("broken", ""),
    }


def test_a_catalog_names_the_files_it_cannot_decode(tmp_path, caplog, monkeypatch):
    """Without FFmpeg's decoders (PyAV), an iTunes folder's .m4a songs are left out with a warning
    that says how to read or convert them; .opus and .aiff songs are catalog songs like .flac ones."""
    import soundfile as sf

    from index_builder.catalog import scan_catalog

    tone = np.zeros(16000, np.float32)
    sf.write(tmp_path / "a.aiff", tone, 16000)
    sf.write(tmp_path / "b.opus", tone, 48000, format="OGG", subtype="OPUS")
    (tmp_path / "album").mkdir()
    for name in ("c.m4a", "d.m4a"):
        (tmp_path / "album" / name).write_bytes(b"not decodable here")
    monkeypatch.setattr("device.audio_io.ffmpeg_installed", lambda: False)
    with caplog.at_level("WARNING"):
        entries = scan_catalog(tmp_path)
    assert [e.relative for e in entries] == ["a.aiff", "b.opus"]
    assert "2 .m4a file(s) left out (e.g. album/c.m4a): install FFmpeg's decoders" in caplog.text


def test_a_catalog_copied_from_a_mac_builds_without_its_hidden_files(catalog_dir, tmp_path, capsys, caplog):
    """A Mac leaves a "._" resource-fork twin of every file and a .DS_Store; a synced or versioned
    folder has .git / .Trash folders. They are not songs: left out, not reported as broken files."""
    catalog = tmp_path / "from a mac"
    shutil.copytree(catalog_dir, catalog)
    for song in ("song0.mid", "song1.wav"):
        (catalog / f"._{song}").write_bytes(b"\x00\x05\x16\x07 Mac OS X resource fork")
    (catalog / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (catalog / ".git").mkdir()
    shutil.copy(catalog_dir / "song2.mid", catalog / ".git" / "old-song2.mid")
    out = tmp_path / "mac.humbundle"
    with caplog.at_level("INFO"):
        assert index_main(["build", str(catalog), "-o", str(out), "--no-cache", "--workers", "1"]) == 0
    printed = capsys.readouterr()
    assert "skipped" not in printed.out + printed.err + caplog.text
    assert "4 hidden file(s) left out" in caplog.text
    assert sorted(song.song_id for song in load_bundle(out).songs) == [f"song{i}.{'mid' if i % 2 == 0 else 'wav'}" for i in range(8)]


def test_identical_files_are_embedded_once_and_named(catalog_dir, tmp_path, caplog):
    """A library holds the same song twice (a compilation, a copy): its bytes are embedded once, both
    names stay in the bundle with the same windows, and the operator is told."""
    catalog = tmp_path / "with copies"
    shutil.copytree(catalog_dir, catalog)
    shutil.copy(catalog / "song1.wav", catalog / "song1 (copy).wav")
    (catalog / "broken.wav").write_bytes(b"RIFF not really")
    shutil.copy(catalog / "broken.wav", catalog / "broken again.wav")
    out = tmp_path / "copies.humbundle"
    with caplog.at_level("INFO"):
        assert index_main(["build", str(catalog), "-o", str(out), "--no-cache", "--workers", "2"]) == 0
    assert "11 songs: 0 from the cache, 9 to embed" in caplog.text
    assert "song1.wav has the same bytes as song1 (copy).wav: embedded once" in caplog.text
    assert "broken.wav: the same bytes as broken again.wav, which could not be used" in caplog.text
    bundle = load_bundle(out)
    rows = {song.song_id: song for song in bundle.songs}
    copy, original = rows["song1 (copy).wav"], rows["song1.wav"]
    assert copy.n_vectors == original.n_vectors > 0
    vectors = bundle.index.get_items(np.arange(len(bundle.vector_song)), return_type="numpy")
    first_copy, first_original = copy.first_vector, original.first_vector
    np.testing.assert_array_equal(
        vectors[first_copy : first_copy + copy.n_vectors], vectors[first_original : first_original + original.n_vectors]
    )


def test_an_index_too_big_for_a_small_speaker_is_flagged_with_the_song_hop_that_shrinks_it(catalog_dir, tmp_path, caplog, monkeypatch):
    """A catalog of full-length recordings gets a window a second: the operator learns at build time
    what the index takes in a speaker's memory, and which --song-hop brings it down."""
    from index_builder import footprint

    assert footprint.memory_advice(300_000, 25, 25.0) is None  # ~156 MB: a Pi Zero 2 W holds it
    advice = footprint.memory_advice(2_000_000, 25, 25.0)  # 10,000 songs of 3.5 minutes
    assert "~1,040 MB" in advice and "--song-hop 50 (a window every 2 s instead of 1 s) makes it ~520 MB" in advice
    assert "--song-hop" not in footprint.memory_advice(2_000_000, 50, 25.0)  # already thinned: only the size

    monkeypatch.setattr(footprint, "SMALL_SPEAKER_INDEX_MB", 0.001)  # the test catalog's few windows are "too many"
    out = tmp_path / "big.humbundle"
    with caplog.at_level("WARNING"):
        assert index_main(["build", str(catalog_dir), "-o", str(out), "--no-cache", "--workers", "1"]) == 0
    assert "of a speaker's memory: more than a Pi Zero 2 W" in caplog.text and "--song-hop 50" in caplog.text
