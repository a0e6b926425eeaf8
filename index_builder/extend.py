"""``hum-index add``: new songs into an existing bundle, without re-embedding old ones or retraining.

The bundle's own encoder embeds the new songs (so old and new vectors come from the same model),
the loaded HNSW index grows in place (``resize_index`` + ``add_items``; existing labels keep their
numbers), the song table is extended, and the whole is written as a new bundle by the same writer
as ``build``. A file whose content is already in the bundle is skipped (pointing ``add`` at the
whole catalog folder every week is fine); a different file under an id the bundle already uses is
reported and skipped, never silently replacing a song.

The old songs' melody contours are kept as they are. When the bundle was built by a hum-index
whose contours were computed differently (another :data:`~index_builder.embed.CONTOUR_VERSION`),
the new songs' contours come from this one's tracker: ``add`` says so before embedding, and the
manifest lists every version the bundle's contours now come from (a rebuild makes them one).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from device.bundle import INDEX_MEMBER, MELODY_MEMBER, MODEL_MEMBERS, SONGS_MEMBER, Bundle
from device.recognizer import Decision
from index_builder.bundle_writer import contours_npz, serialise_index, songs_json, write_archive
from index_builder.catalog import CatalogEntry
from index_builder.embed import CONTOUR_VERSION, NO_TEMPLATES, TEMPLATE_VERSION
from index_builder.embed_catalog import CatalogEmbedding

logger = logging.getLogger(__name__)


@dataclass
class AddPlan:
    """Which new-folder entries to embed, and why the others are left out."""

    to_embed: list[CatalogEntry] = field(default_factory=list)
    already_present: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


def plan_additions(bundle: Bundle, entries: list[CatalogEntry], file_hashes: dict[str, str]) -> AddPlan:
    """Sorts ``entries`` by what the bundle already holds (``file_hashes``: relative path -> sha256)."""
    by_id = {song.song_id: song for song in bundle.songs}
    known_hashes = {song.source_sha256: song.song_id for song in bundle.songs if song.source_sha256}
    plan = AddPlan()
    for entry in entries:
        digest = file_hashes.get(entry.relative)
        existing = by_id.get(entry.song_id)
        if digest is not None and digest in known_hashes:
            plan.already_present.append(f"{entry.relative} (same file as {known_hashes[digest]!r})")
        elif existing is not None:
            plan.conflicts.append(
                f"{entry.path}: the bundle already has a different song with id {entry.song_id!r}; "
                "rename the file, or rebuild the bundle to replace it"
            )
        else:
            plan.to_embed.append(entry)
    return plan


def bundle_contour_versions(bundle: Bundle) -> list[int | None]:
    """The contour versions the bundle's songs were made with; ``None`` stands for a bundle that did not record it."""
    return list(bundle.manifest.get("contour_versions", [None]))


def mixed_contours_warning(bundle: Bundle) -> str | None:
    """Why adding to ``bundle`` now would mix contours of two trackers, or None when it would not.

    Only songs tracked from audio depend on the tracker's version in practice, but a bundle that
    predates the record may also hold multi-part MIDI contours of the old skyline rule (version 3),
    so any bundle with contours made elsewhere is named.
    """
    if bundle.contour_values is None:
        return None
    versions = bundle_contour_versions(bundle)
    if versions == [CONTOUR_VERSION]:
        return None
    made = ", ".join("an unrecorded version" if v is None else f"version {v}" for v in versions)
    return (
        f"the bundle's melody contours were made by contour {made}; this hum-index makes version {CONTOUR_VERSION}. "
        "The old songs keep theirs and the new ones get this version's, so songs tracked from audio are "
        "matched by two different trackers; rebuild the bundle (hum-index build) to make them all the same"
    )


def bundle_template_versions(bundle: Bundle) -> list[int | None]:
    """How the bundle's melody-file songs were sung (:data:`~index_builder.embed.TEMPLATE_VERSION`);
    ``None`` stands for a bundle made before session 29, whose melody files have no sung windows."""
    return list(bundle.manifest.get("template_versions", [None]))


def mixed_templates_warning(bundle: Bundle, entries: list[CatalogEntry]) -> str | None:
    """Why adding the melody files among ``entries`` to ``bundle`` would give its songs two kinds of
    windows, or None when it would not (no melody file, or the bundle's templates are this version's)."""
    from models.melody import MELODY_SUFFIXES

    if not any(entry.path.suffix.lower() in MELODY_SUFFIXES for entry in entries):
        return None
    versions = bundle_template_versions(bundle)
    if versions in ([TEMPLATE_VERSION], [NO_TEMPLATES]):  # a bundle built without them gets new songs without them
        return None
    return (
        "the bundle's melody files were embedded without this hum-index's sung templates (a voice singing each tune, "
        "since session 29); the new ones get them, so old and new melody songs are found differently by the embedding; "
        "rebuild the bundle (hum-index build) to make them alike"
    )


def extend_bundle(bundle: Bundle, added: CatalogEmbedding, out_path: Path, signing_key=None) -> Path:
    """Writes ``bundle`` plus the songs of ``added`` (whose vector ranges start after the bundle's) to ``out_path``."""
    # The encoders are already in memory; index, songs and melodies are rewritten below: nothing is re-read.
    members = {MODEL_MEMBERS[fmt]: data for fmt, data in bundle.models.items()}
    manifest = dict(bundle.manifest)
    old_count = len(bundle.vector_song)
    vectors = np.ascontiguousarray(added.stacked(), dtype=np.float32)
    index = bundle.index
    index.resize_index(old_count + len(vectors))
    index.add_items(vectors, np.arange(old_count, old_count + len(vectors)), num_threads=1)
    songs = [*bundle.songs, *added.songs]
    members[INDEX_MEMBER] = serialise_index(index)
    members[SONGS_MEMBER] = songs_json(songs)
    if bundle.contour_values is not None:  # a bundle made before contours existed stays without them
        old_contours = [bundle.contour(i) for i in range(len(bundle.songs))]
        estimated = [*bundle.contour_estimated.tolist(), *added.contour_estimated]
        members[MELODY_MEMBER] = contours_npz(old_contours + added.contours, estimated)
        manifest["decision"] = asdict(Decision.for_catalog(estimated))  # the kind may have changed with the new songs
        old_versions = bundle_contour_versions(bundle)
        manifest["contour_versions"] = old_versions + ([CONTOUR_VERSION] if CONTOUR_VERSION not in old_versions else [])
    old_templates = bundle_template_versions(bundle)
    if old_templates != [NO_TEMPLATES]:  # hum-index add sings the new melody songs unless the bundle was built without
        manifest["template_versions"] = old_templates + ([TEMPLATE_VERSION] if TEMPLATE_VERSION not in old_templates else [])
    return write_archive(out_path, manifest, members, songs, old_count + len(vectors), signing_key)
