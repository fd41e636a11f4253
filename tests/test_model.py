"""segkit.model: prediction checks, the skops model file and its sidecar, refusal of bad files."""

from __future__ import annotations

import hashlib
import json
import os
import zipfile

import numpy as np
import pandas as pd
import pytest
from test_clustering import synthetic_customer_file

from segkit import clustering
from segkit.model import TRUSTED_TYPES, SegmentationModel, load_model
from segkit.schema import DataError, ModelError, SchemaError


@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    return synthetic_customer_file(400, seed=5)[0]


@pytest.fixture(scope="module")
def model(customers) -> SegmentationModel:
    return clustering.fit_segmentation(customers, "kmeans", 4, seed=0)


@pytest.fixture
def saved(model, tmp_path):
    return model.save(tmp_path / "model.skops")


# --------------------------------------------------------------------------- round trip
@pytest.mark.parametrize("algorithm", ["kmeans", "agglomerative", "gmm"])
def test_round_trip_gives_identical_predictions(customers, algorithm, tmp_path):
    model = clustering.fit_segmentation(customers, algorithm, 3, seed=1)
    loaded = load_model(model.save(tmp_path / "m.skops"))
    pd.testing.assert_series_equal(loaded.predict(customers), model.predict(customers))
    assert loaded.segment_names == model.segment_names and loaded.actions == model.actions
    assert loaded.features == model.features and loaded.algorithm == algorithm
    np.testing.assert_array_equal(loaded.centroid_matrix, model.centroid_matrix)
    pd.testing.assert_frame_equal(loaded.profile, model.profile, check_dtype=False)


def test_same_model_gives_identical_file_bytes(customers, tmp_path):
    first = clustering.fit_segmentation(customers, "kmeans", 4, seed=2).save(tmp_path / "a" / "model.skops")
    second = clustering.fit_segmentation(customers, "kmeans", 4, seed=2).save(tmp_path / "b" / "model.skops")
    assert first.read_bytes() == second.read_bytes()
    assert first.with_suffix(".json").read_text() == second.with_suffix(".json").read_text()
    other = clustering.fit_segmentation(customers, "kmeans", 4, seed=3).save(tmp_path / "c" / "model.skops")
    assert other.read_bytes() != first.read_bytes()


def test_sidecar_json_holds_the_metadata(model, saved):
    sidecar = json.loads(saved.with_suffix(".json").read_text())
    assert sidecar["model_file_sha256"] == hashlib.sha256(saved.read_bytes()).hexdigest()
    assert sidecar["features"] == model.features
    assert sidecar["feature_dtypes"] == {name: "float64" for name in model.features}
    assert sidecar["segment_names"] == {str(k): v for k, v in model.segment_names.items()}
    for key in (
        "segkit_version",
        "input_tables",
        "snapshot_date",
        "training_period",
        "rfm_bin_edges",
        "reference_quantiles",
        "metrics",
        "seed",
        "n_customers",
        "actions",
    ):
        assert key in sidecar
    assert sorted(os.listdir(saved.parent)) == ["model.json", "model.skops"]  # no temporary file left


def test_centroids_are_indexed_by_segment(model, customers):
    centroids = model.centroids
    assert list(centroids.index) == [0, 1, 2, 3] and centroids.index.name == "segment_id"
    assert list(centroids.columns) == model.feature_names_out
    X = model.transform(customers)
    segments = model.predict(customers).to_numpy()
    np.testing.assert_allclose(centroids.loc[2].to_numpy(), X[segments == 2].mean(axis=0))


def test_segment_frame_for_crm(model, customers):
    frame = model.segment_frame(customers)
    assert list(frame.columns) == ["customer_id", "segment_id", "segment_name", "rfm_segment"]
    assert (
        frame["segment_name"]
        .map({v: k for k, v in model.segment_names.items()})
        .eq(frame["segment_id"])
        .all()
    )


def test_predict_accepts_customer_id_as_a_column(model, customers):
    expected = model.predict(customers)
    pd.testing.assert_series_equal(model.predict(customers.reset_index()), expected)


# --------------------------------------------------------------------------- bad customer files
def test_predict_names_a_missing_feature(model, customers):
    with pytest.raises(SchemaError) as info:
        model.predict(customers.drop(columns="frequency"))
    assert info.value.column == "frequency" and "customer file" in str(info.value)


def test_predict_names_a_feature_of_the_wrong_dtype(model, customers):
    bad = customers.assign(monetary=customers["monetary"].astype("str"))
    bad.loc[bad.index[:3], "monetary"] = "n/a"
    with pytest.raises(SchemaError) as info:
        model.predict(bad)
    assert info.value.column == "monetary" and info.value.n_bad == 3 and info.value.examples[0] == "n/a"


def test_predict_rejects_infinite_values(model, customers):
    bad = customers.assign(recency_days=customers["recency_days"].where(customers.index != "C00007", np.inf))
    with pytest.raises(DataError) as info:
        model.predict(bad)
    assert info.value.column == "recency_days" and info.value.n_bad == 1


def test_predict_rejects_a_non_frame(model):
    with pytest.raises(SchemaError):
        model.predict(np.zeros((3, 3)))


# --------------------------------------------------------------------------- bad model files
def test_truncated_file_raises_model_error(saved):
    data = saved.read_bytes()
    saved.with_suffix(".json").unlink()
    saved.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="corrupt or truncated"):
        load_model(saved)


def test_truncated_file_is_caught_by_the_sidecar_checksum(saved):
    saved.write_bytes(saved.read_bytes()[:-10])
    with pytest.raises(ModelError, match="SHA-256"):
        load_model(saved)


def test_garbage_and_missing_files_raise_model_error(tmp_path):
    garbage = tmp_path / "garbage.skops"
    garbage.write_bytes(os.urandom(256))
    with pytest.raises(ModelError):
        load_model(garbage)
    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "absent.skops")


def _rewrite_archive(path, edit) -> None:
    """Rewrite the skops archive with ``edit(schema_dict)`` applied to its schema.json."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    schema = json.loads(members["schema.json"])
    edit(schema)
    members["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)


def test_tampered_archive_with_an_untrusted_type_is_refused(saved):
    saved.with_suffix(".json").unlink()  # no checksum: the type check alone must refuse it

    def inject(schema):
        schema["content"]["model_format"] = {
            "__class__": "system",
            "__module__": "os",
            "__loader__": "TypeNode",
            "__id__": 999_999,
            "content": "os.system",
        }

    _rewrite_archive(saved, inject)
    with pytest.raises(ModelError, match="does not trust"):
        load_model(saved)


def test_file_with_an_untrusted_estimator_is_refused(customers, tmp_path):
    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    path = tmp_path / "evil.skops"
    path.write_bytes(sio.dumps({"model_format": 1, "preprocessor": FunctionTransformer(os.getcwd)}))
    with pytest.raises(ModelError) as info:
        load_model(path)
    assert any("getcwd" in str(example) for example in info.value.examples)


def test_incompatible_major_version_is_refused(model, tmp_path):
    old = SegmentationModel(**{**model.__dict__, "metadata": {**model.metadata, "segkit_version": "99.1.0"}})
    path = old.save(tmp_path / "old.skops")
    with pytest.raises(ModelError, match="99.1.0") as info:
        load_model(path)
    assert info.value.column == "segkit_version"


def test_not_a_segkit_archive(tmp_path):
    import skops.io as sio

    path = tmp_path / "other.skops"
    path.write_bytes(sio.dumps({"something": np.arange(3)}))
    with pytest.raises(ModelError, match="not a segkit model"):
        load_model(path)


def test_trusted_types_are_few_and_named():
    assert set(TRUSTED_TYPES) <= {"numpy.dtype", "numpy.log1p", "numpy.expm1"}
