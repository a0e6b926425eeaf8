"""The arm64 proof (issue 7): firmware_config/arm64/check.sh under qemu, compared with x86-64.

Skipped unless HUM_ARM64=1: it needs root (debootstrap, chroot, binfmt_misc) and about ten
minutes the first time (the arm64 root is cached in .cache/arm64 for the next runs).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.arm64
@pytest.mark.skipif(os.environ.get("HUM_ARM64") != "1", reason="set HUM_ARM64=1 (as root) to run the arm64 emulation check")
def test_device_answers_on_arm64_exactly_as_on_x86():
    result = subprocess.run(["bash", str(REPO / "firmware_config" / "arm64" / "check.sh")], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    summary = json.loads((REPO / ".cache" / "arm64" / "out" / "summary.json").read_text())
    assert summary["problems"] == []
    assert {row["backend"] for row in summary["rows"]} >= {"onnx", "litert"}
    for row in summary["rows"]:
        assert row["agree"] == row["hums"] == len(list((REPO / "demo" / "hums").iterdir()))
        assert row["imported"] == []
