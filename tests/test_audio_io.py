"""Audio input: every format, depth, rate and channel count users bring; clear errors for bad files."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from device.audio_io import AudioError, check_not_silent, convert, read_audio
from device.frontend import band_centres_hz, compute_features


def tone(rate: int, seconds: float = 1.5, hz: float = 440.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    mono = 0.5 * np.sin(2 * np.pi * hz * t)
    return np.stack([mono] * channels, axis=1) if channels > 1 else mono


def assert_is_440hz_tone(audio: np.ndarray, seconds: float = 1.5) -> None:
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) / 16000 - seconds) < 0.01
    frames = compute_features(audio)
    peak = band_centres_hz_of(int(np.argmax(frames[5:-5].mean(axis=0))))
    assert abs(peak / 440.0 - 1) < 0.03


def band_centres_hz_of(band: int) -> float:
    from device.frontend import FrontEndConfig

    return float(band_centres_hz(FrontEndConfig())[band])


@pytest.mark.parametrize(
    ("fmt", "subtype", "suffix"),
    [
        ("WAV", "PCM_U8", ".wav"),
        ("WAV", "PCM_16", ".wav"),
        ("WAV", "PCM_24", ".wav"),
        ("WAV", "PCM_32", ".wav"),
        ("WAV", "FLOAT", ".wav"),
        ("WAV", "DOUBLE", ".wav"),
        ("FLAC", "PCM_16", ".flac"),
        ("FLAC", "PCM_24", ".flac"),
        ("OGG", "VORBIS", ".ogg"),
        ("MP3", "MPEG_LAYER_III", ".mp3"),
    ],
)
def test_formats_and_depths(tmp_path, fmt, subtype, suffix):
    path = tmp_path / f"tone{suffix}"
    sf.write(path, tone(44100), 44100, format=fmt, subtype=subtype)
    assert_is_440hz_tone(read_audio(path))


@pytest.mark.parametrize("rate", [8000, 11025, 16000, 22050, 32000, 44100, 48000])
@pytest.mark.parametrize("channels", [1, 2])
def test_rates_and_channels(tmp_path, rate, channels):
    path = tmp_path / "tone.wav"
    sf.write(path, tone(rate, channels=channels), rate, subtype="PCM_16")
    assert_is_440hz_tone(read_audio(path))


def test_integer_buffers_are_scaled():
    pcm16 = (tone(16000) * 32767).astype(np.int16)
    pcm_u8 = (tone(16000) * 127 + 128).astype(np.uint8)
    for samples in (pcm16, pcm_u8):
        audio = convert(samples, 16000, 16000)
        assert 0.45 < np.abs(audio).max() < 0.55


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        read_audio(tmp_path / "nope.wav")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        read_audio(path)


def test_corrupt_file(tmp_path):
    path = tmp_path / "corrupt.wav"
    path.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(AudioError, match="cannot decode"):
        read_audio(path)


def test_text_file_named_mp3(tmp_path):
    path = tmp_path / "notes.mp3"
    path.write_text("this is not audio\n" * 50)
    with pytest.raises(AudioError, match="cannot decode"):
        read_audio(path)


def test_truncated_to_header(tmp_path):
    path = tmp_path / "cut.wav"
    sf.write(path, tone(16000), 16000, subtype="PCM_16")
    path.write_bytes(path.read_bytes()[:44])
    with pytest.raises(AudioError):
        read_audio(path)


def test_truncated_midway_keeps_what_is_there(tmp_path, caplog):
    path = tmp_path / "half.wav"
    sf.write(path, tone(16000, seconds=2.0), 16000, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: 44 + (len(data) - 44) // 2])
    audio = read_audio(path)
    assert 0.9 < len(audio) / 16000 < 1.1


def test_truncated_flac(tmp_path):
    path = tmp_path / "cut.flac"
    sf.write(path, tone(16000), 16000, format="FLAC")
    path.write_bytes(path.read_bytes()[:30])
    with pytest.raises(AudioError):
        read_audio(path)


def test_silence_is_reported():
    with pytest.raises(AudioError, match="silent"):
        check_not_silent(np.zeros(16000, np.float32))
    check_not_silent(tone(16000).astype(np.float32))


def test_nan_samples(tmp_path):
    path = tmp_path / "nan.wav"
    data = tone(16000)
    data[100] = np.nan
    sf.write(path, data, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        read_audio(path)


def test_clipped_audio_is_accepted(tmp_path):
    path = tmp_path / "clipped.wav"
    sf.write(path, np.clip(tone(16000) * 8, -1, 1), 16000, subtype="PCM_16")
    assert np.abs(read_audio(path)).max() <= 1.01


def test_voice_memo_and_library_formats_libsndfile_reads(tmp_path, monkeypatch):
    """Opus (a phone's voice message) and AIFF (a Mac music library) decode like the others; AAC
    (.m4a: voice memos, iTunes), which libsndfile cannot read, is refused with the way out where
    FFmpeg's decoders (PyAV) are not installed (tests/test_ffmpeg_audio.py: where they are)."""
    monkeypatch.setattr("device.audio_io.ffmpeg_installed", lambda: False)
    sine = (0.3 * np.sin(2 * np.pi * 220 * np.arange(48000) / 48000)).astype(np.float32)
    sf.write(tmp_path / "memo.opus", sine, 48000, format="OGG", subtype="OPUS")
    sf.write(tmp_path / "song.aiff", sine, 48000)
    for name in ("memo.opus", "song.aiff"):
        audio = read_audio(tmp_path / name)
        assert abs(len(audio) - 16000) < 400 and np.abs(audio).max() > 0.2
    (tmp_path / "memo.m4a").write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(64))
    with pytest.raises(AudioError, match=r"memo.m4a: AAC audio needs FFmpeg \(pip install .*\[ffmpeg\].*ffmpeg -i 'memo.m4a' 'memo.flac'"):
        read_audio(tmp_path / "memo.m4a")


def test_a_long_many_channel_file_decodes_block_by_block_as_one_read_would(tmp_path):
    """The decoder mixes down and resamples a block at a time (memory): the result must be what
    decoding the whole file, mixing it down and resampling it in one go gives."""
    rng = np.random.default_rng(3)
    samples = (0.2 * rng.standard_normal((300_001, 6))).astype(np.float32)  # > 4 decode blocks of 6 channels
    path = tmp_path / "six-channels-96k.wav"
    sf.write(path, samples, 96000, subtype="FLOAT")
    audio = read_audio(path)
    whole = convert(sf.read(path, dtype="float32", always_2d=True)[0], 96000, 16000)
    assert len(audio) == len(whole)
    np.testing.assert_allclose(audio, whole, atol=1e-6)


def test_nan_samples_after_the_first_block_are_refused(tmp_path):
    samples = np.zeros(200_000, np.float32)
    samples[150_000] = np.nan
    path = tmp_path / "late-nan.wav"
    sf.write(path, samples, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="late-nan.wav: audio contains NaN"):
        read_audio(path)


def test_a_channel_with_inverted_polarity_does_not_cancel_the_hum(tmp_path):
    """A miswired microphone records the right channel upside down: averaging would leave silence."""
    left = tone(44100, seconds=3.0)
    path = tmp_path / "inverted.wav"
    sf.write(path, np.stack([left, -0.9 * left], axis=1), 44100, subtype="PCM_16")
    assert_is_440hz_tone(read_audio(path), seconds=3.0)
    independent = np.random.default_rng(0).standard_normal((48000, 6)).astype(np.float32) * 0.1  # six unrelated channels
    np.testing.assert_allclose(convert(independent, 16000, 16000), independent.mean(axis=1))  # still their average
