"""Installing bundles on the speaker: verified, atomic, the previous one kept and used when the new one breaks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from device.bundle import BundleError, load_bundle, sha256_bytes
from device.cli import main as device_main
from device.install import install_bundle, load_serving_bundle, previous_path
from device.recognizer import Recognizer
from index_builder.cli import main as index_main
from tests.conftest import REPO_ROOT, make_hum


@pytest.fixture()
def served(tmp_path, bundle_path):
    """A speaker folder already serving the test bundle."""
    target = tmp_path / "speaker" / "current.humbundle"
    install_bundle(bundle_path, target)
    return target


@pytest.fixture(scope="module")
def second_bundle(tmp_path_factory, catalog_dir):
    """Another good bundle (the catalog without its WAV songs), to install over the first."""
    folder = tmp_path_factory.mktemp("second")
    for path in catalog_dir.glob("*.mid"):
        (folder / path.name).write_bytes(path.read_bytes())
    out = tmp_path_factory.mktemp("second_bundle") / "second.humbundle"
    assert index_main(["build", str(folder), "-o", str(out), "--no-cache", "--workers", "1"]) == 0
    return out


def test_install_switches_and_keeps_the_previous(served, bundle_path, second_bundle):
    install_bundle(second_bundle, served)
    assert sha256_bytes(served.read_bytes()) == sha256_bytes(second_bundle.read_bytes())
    assert sha256_bytes(previous_path(served).read_bytes()) == sha256_bytes(bundle_path.read_bytes())
    assert [p.name for p in served.parent.iterdir() if "staging" in p.name or p.suffix == ".tmp"] == []


def test_a_refused_bundle_leaves_the_speaker_as_it_was(served, bundle_path, tmp_path, capsys):
    broken = tmp_path / "broken.humbundle"
    broken.write_bytes(bundle_path.read_bytes()[:-5000])
    before = served.read_bytes()
    assert device_main(["install", str(broken), "--target", str(served)]) == 2
    err = capsys.readouterr().err
    assert "not installed" in err and "unchanged" in err and "Traceback" not in err
    assert served.read_bytes() == before
    assert [p.name for p in served.parent.iterdir()] == [served.name]


def test_killed_mid_copy_the_old_bundle_still_serves(served, bundle_path, second_bundle, tunes, tmp_path):
    """The new bundle arrives through a pipe; the installer is killed with half of it staged."""
    before = served.read_bytes()
    pipe = tmp_path / "incoming.humbundle"
    os.mkfifo(pipe)
    process = subprocess.Popen(
        [sys.executable, "-m", "device.cli", "install", str(pipe), "--target", str(served)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    data = second_bundle.read_bytes()
    with open(pipe, "wb") as writer:
        writer.write(data[: len(data) // 2])
        writer.flush()
        deadline = time.monotonic() + 60
        staged = []
        while time.monotonic() < deadline:
            staged = [p for p in served.parent.iterdir() if ".staging-" in p.name]
            if staged and staged[0].stat().st_size >= len(data) // 2:
                break
            time.sleep(0.01)
        assert staged and staged[0].stat().st_size >= len(data) // 2, "the installer never staged half the bundle"
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert served.read_bytes() == before
    recognizer = Recognizer(load_serving_bundle(served))
    assert recognizer.recognize_audio(make_hum(tunes[0], seed=11, transpose=-5.0, tempo_factor=1.25)).matches[0].song_id == "song0.mid"
    # The next install clears the torn staging file and succeeds.
    assert device_main(["install", str(second_bundle), "--target", str(served)]) == 0
    assert served.read_bytes() == second_bundle.read_bytes()
    assert not [p for p in served.parent.iterdir() if ".staging-" in p.name]


def test_a_bundle_broken_after_install_falls_back_to_the_previous(served, bundle_path, second_bundle, caplog):
    install_bundle(second_bundle, served)
    data = bytearray(served.read_bytes())
    data[len(data) // 2] ^= 0xFF  # e.g. a bad SD-card sector
    served.write_bytes(bytes(data))
    with pytest.raises(BundleError):
        load_bundle(served)
    bundle = load_serving_bundle(served)
    assert bundle.path == previous_path(served)
    assert "serving the previous bundle" in caplog.text


def test_a_serving_speaker_switches_to_a_newly_installed_bundle(served, second_bundle, bundle_path, tmp_path):
    from device.install import BundleWatcher

    watcher = BundleWatcher(served, lambda path: Recognizer(load_bundle(path)), interval_s=0.0)
    assert watcher.check() is None  # nothing new yet
    install_bundle(second_bundle, served)
    fresh = watcher.check()
    assert fresh is not None and len(fresh.bundle.songs) == 4
    served.write_bytes(served.read_bytes()[:-3000])  # a broken file appears: refused, keep serving
    assert watcher.check() is None
