"""The float16 copy of the index's vectors: read from hnswlib's own file, placed by label, checked at load."""

from __future__ import annotations

import logging

import hnswlib
import numpy as np

import device.index_vectors as index_vectors
from device.bundle import HNSW_HEADER, check_index_header, load_bundle
from device.recognizer import Recognizer
from tests.conftest import make_hum


def test_vectors_are_read_by_label_whatever_order_they_were_added_in(tmp_path):
    rng = np.random.default_rng(3)
    count, dim = 500, 24
    vectors = rng.standard_normal((count, dim)).astype(np.float32)
    labels = rng.permutation(count)  # added out of label order: the file's element order is not the labels'
    index = hnswlib.Index(space="ip", dim=dim)
    index.init_index(max_elements=count, M=8, ef_construction=40)
    index.add_items(vectors, labels)
    path = tmp_path / "index.hnsw"
    index.save_index(str(path))
    layout = check_index_header(path.read_bytes()[: HNSW_HEADER.size], path.stat().st_size, count, dim, path)
    read = index_vectors.read_index_vectors(path, HNSW_HEADER.size, count, dim, *layout)
    by_label = np.empty_like(vectors)
    by_label[labels] = vectors
    assert read.dtype == np.float16 and read.shape == (count, dim)
    np.testing.assert_allclose(read.astype(np.float32), by_label, rtol=1e-3, atol=1e-3)
    assert index_vectors.agrees_with_index(read, index)
    assert not index_vectors.agrees_with_index(np.roll(read, 1, axis=0), index)


def test_a_loaded_bundle_carries_its_index_vectors(bundle_path):
    bundle = load_bundle(bundle_path)
    count = bundle.index.get_current_count()
    stored = np.asarray(bundle.index.get_items(np.arange(count), return_type="numpy"))
    assert bundle.vectors is not None and bundle.vectors.shape == stored.shape
    np.testing.assert_allclose(bundle.vectors.astype(np.float32), stored, atol=1e-3)


def test_the_copy_ranks_as_hnswlib_s_own_vectors_do(bundle_path, tunes):
    bundle = load_bundle(bundle_path)
    recognizer = Recognizer(bundle)
    for seed, tune in enumerate(tunes[:3]):
        hum = make_hum(tune, seed=seed)
        from_copy = recognizer.recognize_audio(hum, top=len(bundle.songs))
        bundle.vectors, kept = None, bundle.vectors
        through_hnswlib = recognizer.recognize_audio(hum, top=len(bundle.songs))
        bundle.vectors = kept
        assert [m.song_id for m in from_copy.matches][:3] == [m.song_id for m in through_hnswlib.matches][:3]
        np.testing.assert_allclose([m.score for m in from_copy.matches], [m.score for m in through_hnswlib.matches], atol=2e-3)


def test_a_copy_is_made_where_it_pays():
    assert index_vectors.worth_a_copy(65_000, 64, 2_000)  # 8 MB: always
    assert not index_vectors.worth_a_copy(408_000, 64, 100_000)  # 52 MB at 4 windows a song: ~6 ms a query to save
    assert index_vectors.worth_a_copy(400_000, 64, 2_000)  # 51 MB at 200 windows a song: ~0.3 s a query to save
    assert not index_vectors.worth_a_copy(index_vectors.COPY_MAX_BYTES_MANY_WINDOWS // 128 + 1, 64, 10)
    assert index_vectors.worth_a_copy(index_vectors.COPY_MAX_BYTES // 128, 64, 10**6)
    assert not index_vectors.worth_a_copy(0, 64, 0)


def test_over_the_cap_the_search_reads_through_hnswlib(bundle_path, tunes, monkeypatch):
    monkeypatch.setattr(index_vectors, "COPY_MAX_BYTES", 1024)
    monkeypatch.setattr(index_vectors, "COPY_MAX_BYTES_MANY_WINDOWS", 1024)
    bundle = load_bundle(bundle_path)
    assert bundle.vectors is None
    answer = Recognizer(bundle).recognize_audio(make_hum(tunes[0], seed=0))
    assert answer.matches and answer.matches[0].title == tunes[0].title


def test_a_misread_file_layout_costs_speed_not_answers(bundle_path, monkeypatch, caplog):
    real = index_vectors.read_index_vectors

    def misread(*args):
        vectors = real(*args)
        return np.roll(vectors, 1, axis=0)  # as if a future hnswlib moved the labels within an element

    monkeypatch.setattr("device.bundle.read_index_vectors", misread)
    with caplog.at_level(logging.WARNING):
        bundle = load_bundle(bundle_path)
    assert bundle.vectors is None
    assert "searching through hnswlib" in caplog.text
