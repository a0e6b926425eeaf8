"""Songs and hums in formats only FFmpeg decodes (AAC .m4a: iPhone voice memos, iTunes libraries),
read through PyAV, the optional ``ffmpeg`` extra (in the dev extra, so CI runs these)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from device.audio_io import AudioError, read_audio
from device.cli import main as device_main
from index_builder.cli import main as index_main
from tests.conftest import SR, make_hum

av = pytest.importorskip("av", reason="PyAV (the ffmpeg extra) is not installed")


def write_aac(path, samples: np.ndarray, rate: int, channels: int = 1, tags: dict | None = None) -> None:
    """Encodes ``samples`` (mono float) with FFmpeg's AAC encoder, as a phone or iTunes would."""
    layout = "mono" if channels == 1 else "stereo"
    with av.open(str(path), "w") as out:
        out.metadata.update(tags or {})
        stream = out.add_stream("aac", rate=rate, layout=layout)
        planar = np.tile(np.asarray(samples, np.float32)[None, :], (channels, 1))
        for start in range(0, planar.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(planar[:, start : start + 1024]), format="fltp", layout=layout)
            frame.sample_rate = rate
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def test_an_iphone_voice_memo_decodes_to_16k_mono(tmp_path):
    """A 48 kHz stereo AAC memo becomes 16 kHz mono of the same length (AAC's encoder delay aside)
    and the same tone."""
    t = np.arange(3 * 48000) / 48000
    write_aac(tmp_path / "memo.m4a", 0.4 * np.sin(2 * np.pi * 440 * t), 48000, channels=2)
    audio = read_audio(tmp_path / "memo.m4a")
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) / 16000 - 3.0) < 0.1
    spectrum = np.abs(np.fft.rfft(audio[4000:36000]))
    assert abs(np.argmax(spectrum) * 16000 / 32000 - 440) < 2
    assert 0.3 < np.abs(audio[4000:36000]).max() < 0.5


def test_broken_aac_files_are_clear_errors(tmp_path):
    write_aac(tmp_path / "whole.m4a", 0.3 * np.sin(np.arange(32000) / 5), 16000)
    data = (tmp_path / "whole.m4a").read_bytes()
    (tmp_path / "cut.m4a").write_bytes(data[: len(data) // 3])  # the index (moov) of an .m4a is at its end
    (tmp_path / "text.m4a").write_text("not audio\n" * 40)
    for name in ("cut.m4a", "text.m4a"):
        with pytest.raises(AudioError, match=rf"{name}: cannot decode audio .*corrupt or not audio"):
            read_audio(tmp_path / name)


def test_a_hum_recorded_as_m4a_is_answered(bundle_path, tunes, tmp_path, capsys):
    write_aac(tmp_path / "hum.m4a", make_hum(tunes[4], seed=11), SR, channels=2)
    assert device_main(["query", "--bundle", str(bundle_path), "--json", str(tmp_path)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["file"].endswith("hum.m4a") and result["matches"][0]["song_id"] == "song4.mid"


def test_an_itunes_folder_of_m4a_songs_builds_with_their_tags(catalog_dir, tmp_path):
    """A catalog of .m4a recordings is indexed like .flac ones, titled by their iTunes tags."""
    from device.bundle import load_bundle

    catalog = tmp_path / "itunes"
    catalog.mkdir()
    for i in (1, 3):
        tags = {"title": f"Tune {i}", "artist": "Band"}
        write_aac(catalog / f"{i:02d} Track.m4a", read_audio(catalog_dir / f"song{i}.wav"), SR, tags=tags)
    shutil.copy(catalog_dir / "song0.mid", catalog / "song0.mid")
    out = tmp_path / "itunes.humbundle"
    assert index_main(["build", str(catalog), "-o", str(out), "--no-cache", "--workers", "1"]) == 0
    songs = {song.song_id: (song.title, song.artist) for song in load_bundle(out).songs}
    assert songs["01 Track.m4a"] == ("Tune 1", "Band") and songs["03 Track.m4a"] == ("Tune 3", "Band")
    assert "song0.mid" in songs
