"""Installing a new bundle on a speaker so that no crash or power cut can leave it without a working one.

``hum-device install NEW`` copies NEW next to the served bundle (a staging file in the same
folder, fsynced), verifies the staged copy completely (checksums, signature when a key is
configured, index, encoder), keeps the bundle being replaced as ``<name>.previous`` (a hard link,
so no second copy is written), and only then renames the staged file over the served one. A
rename within one folder is atomic: at every instant the served path holds either the old bundle
or the new one, whole. A staging file left by a killed install is removed by the next one.

At start-up the speaker loads the served bundle and, if that fails, the previous one
(:func:`load_serving_bundle`), saying why.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

from device.bundle import Bundle, BundleError, load_bundle

logger = logging.getLogger(__name__)

STAGING_MARK = ".staging-"


def previous_path(target: Path) -> Path:
    return target.with_name(target.name + ".previous")


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_stale_staging(target: Path) -> list[Path]:
    """Deletes staging files of installs that died before their switch; returns what it removed."""
    stale = sorted(target.parent.glob(f".{target.name}{STAGING_MARK}*"))
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def stage_copy(source: Path, target: Path) -> Path:
    """Copies ``source`` into a staging file beside ``target``, fsynced; returns the staging path.

    The copy is verified afterwards by loading it (every member's checksum), not here.
    """
    staging = target.with_name(f".{target.name}{STAGING_MARK}{os.getpid()}")
    try:
        with open(source, "rb", buffering=0) as src, open(staging, "wb") as dst:  # unbuffered: copies what has arrived
            while block := src.read(1 << 20):
                dst.write(block)
            dst.flush()
            os.fsync(dst.fileno())
    except OSError as exc:
        staging.unlink(missing_ok=True)
        raise BundleError(f"cannot copy {source} to {staging.parent}: {exc.strerror or exc}") from exc
    return staging


def install_bundle(source: Path, target: Path, public_key=None, backend: str = "onnx") -> Bundle:
    """Verifies ``source`` and makes it the bundle served at ``target``; the old one becomes ``.previous``.

    Raises :class:`BundleError` (and leaves ``target`` untouched) if the new bundle is refused.
    """
    from device.recognizer import Recognizer

    source, target = Path(source), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    for path in remove_stale_staging(target):
        logger.info("removed %s, left by an install that did not finish", path)
    staging = stage_copy(source, target)
    try:
        bundle = load_bundle(staging, public_key=public_key)
        Recognizer(bundle, backend=backend)  # the encoder this speaker runs loads and fits the manifest
    except BundleError as exc:
        staging.unlink(missing_ok=True)
        raise BundleError(str(exc).replace(str(staging), str(source))) from None
    except Exception:
        staging.unlink(missing_ok=True)
        raise
    if target.exists():
        keep = previous_path(target)
        keep_tmp = keep.with_name(keep.name + ".tmp")
        keep_tmp.unlink(missing_ok=True)
        try:
            os.link(target, keep_tmp)
        except OSError:  # a file system without hard links: copy instead
            shutil.copy2(target, keep_tmp)
        os.replace(keep_tmp, keep)
    os.replace(staging, target)
    _fsync_dir(target.parent)
    bundle.path = target
    return bundle


def load_serving_bundle(target: Path, public_key=None) -> Bundle:
    """The bundle at ``target``, or — if it is refused — the ``.previous`` one, with a warning saying why."""
    target = Path(target)
    try:
        return load_bundle(target, public_key=public_key)
    except BundleError as exc:
        keep = previous_path(target)
        if not keep.exists():
            raise
        logger.error("cannot use %s (%s); serving the previous bundle %s", target, exc, keep)
        try:
            return load_bundle(keep, public_key=public_key)
        except BundleError as previous_exc:
            raise BundleError(f"{exc}; and the previous bundle: {previous_exc}") from None


class BundleWatcher:
    """Notices a bundle newly installed at ``target`` (by ``hum-device install``) and loads it.

    ``check()`` is cheap (one ``stat`` at most once a second); when the file changed it loads and
    verifies the new bundle through ``load_recognizer(path)`` and returns the result. A new bundle that
    fails is logged once and the speaker keeps serving the one it has.
    """

    def __init__(self, target: Path, load_recognizer, interval_s: float = 1.0) -> None:
        self.target = Path(target)
        self.load_recognizer = load_recognizer
        self.interval_s = interval_s
        self._seen = self._signature()
        self._checked_at = 0.0

    def _signature(self) -> tuple[int, int, int] | None:
        try:
            stat = self.target.stat()
        except OSError:
            return None
        return stat.st_ino, stat.st_mtime_ns, stat.st_size

    def check(self):
        now = time.monotonic()
        if now - self._checked_at < self.interval_s:
            return None
        self._checked_at = now
        signature = self._signature()
        if signature is None or signature == self._seen:
            return None
        self._seen = signature
        try:
            recognizer = self.load_recognizer(self.target)
        except (BundleError, ValueError) as exc:
            logger.error("new bundle at %s refused, still serving the previous one: %s", self.target, exc)
            return None
        logger.warning("now serving the newly installed %s (%d songs)", self.target, len(recognizer.bundle.songs))
        return recognizer
