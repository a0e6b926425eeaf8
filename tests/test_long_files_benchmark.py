"""benchmarks/long_files.py: the tools it measures really run, each in its own process, on real files."""

from __future__ import annotations

import soundfile as sf

from benchmarks.long_files import DEMO_BUNDLE, gliding_tone, run_tool


def test_each_tool_runs_in_its_own_process_and_reports_its_own_peak(tmp_path):
    query = tmp_path / "wide.wav"
    sf.write(query, gliding_tone(20, 96000, 6, 1), 96000, subtype="PCM_24")
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    sf.write(catalog / "song.flac", gliding_tone(30, 48000, 2, 2), 48000, subtype="PCM_16")
    answered = run_tool("query", ["query", "--bundle", str(DEMO_BUNDLE), str(query)])
    built = run_tool("index", ["build", str(catalog), "-o", str(tmp_path / "out.humbundle"), "--workers", "1", "--no-cache"])
    assert answered["code"] == 0 and built["code"] == 0
    assert (tmp_path / "out.humbundle").stat().st_size > 0
    # Each peak is the child's own: a fresh interpreter with numpy and onnxruntime holds tens of MB.
    assert 30 < answered["peak_mb"] < 2000 and 30 < built["peak_mb"] < 4000
    assert answered["seconds"] > 0 and built["seconds"] > 0
