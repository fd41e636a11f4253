"""The fitted segmentation model: pipeline, feature list, segment names and training metadata.

A :class:`SegmentationModel` is built by :func:`segkit.clustering.fit_segmentation`; this module
holds what production needs from it: ``predict`` on a new customer file with schema checks, and a
safe model file.

Model file
----------
``model.save("model.skops")`` writes two files atomically (temporary file, then ``os.replace``):

``model.skops``
    A `skops <https://skops.readthedocs.io>`_ archive (never pickle) of a plain dict holding the
    fitted preprocessing pipeline, the fitted assigner (``KMeans``/``MiniBatchKMeans``,
    ``GaussianMixture`` or ``NearestCentroid``), the label map, the centroids and the metadata as a
    JSON string.
``model.json``
    The same metadata, human-readable (see :data:`METADATA_KEYS`), plus the SHA-256 of
    ``model.skops``.

:func:`load_model` refuses (``ModelError``) a missing, corrupt or truncated archive, any type outside
:data:`TRUSTED_TYPES` (skops' own list of scikit-learn/numpy types plus the few named here), a
``model.skops`` whose SHA-256 differs from the one its ``model.json`` records (tampering), an archive
of an unknown format and a model written by another major segkit version.

Prediction
----------
``predict`` transforms the customer file with the fitted pipeline and assigns each customer with the
assigner's ``predict``: nearest centroid for k-means and for agglomerative (Ward) models (the mean of
each fitted cluster, in the preprocessed space), the most probable component for Gaussian mixtures.
Raw cluster labels are mapped to segment ids ``0..k-1`` ordered by descending revenue share of the
training customers, so id 0 is the most valuable segment.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from segkit.schema import (
    CUSTOMER_ID,
    DataError,
    ModelError,
    SchemaError,
    bad_rows_error,
    missing_column_error,
)

try:
    from segkit import __version__
except ImportError:  # segkit imported as a namespace package (a stale editable install)
    from importlib.metadata import version as _distribution_version

    __version__ = _distribution_version("segkit")

#: Version of the layout of the dict stored in ``model.skops``.
MODEL_FORMAT = 1

#: Types that skops does not trust by default and that a segkit model file may hold. Anything else
#: in a file (for instance ``builtins.eval`` or a pickled object) is refused by :func:`load_model`.
TRUSTED_TYPES: tuple[str, ...] = (
    "numpy.dtype",
    "numpy.log1p",
    "numpy.expm1",
)

#: Estimator classes allowed as the assigner of a model file.
ASSIGNER_TYPES: tuple[str, ...] = ("KMeans", "MiniBatchKMeans", "GaussianMixture", "NearestCentroid")

#: Keys of the metadata (``model.metadata`` and ``model.json``).
METADATA_KEYS: tuple[str, ...] = (
    "segkit_version",
    "model_format",
    "algorithm",
    "k",
    "seed",
    "features",
    "feature_dtypes",
    "input_tables",
    "snapshot_convention",
    "snapshot_date",
    "training_period",
    "n_customers",
    "rfm_bin_edges",
    "reference_quantiles",
    "metrics",
    "segment_names",
    "actions",
    "prediction",
)

#: Quantile levels stored per numeric feature for drift monitoring (0, 0.1, ..., 1).
REFERENCE_QUANTILES: tuple[float, ...] = tuple(np.round(np.linspace(0.0, 1.0, 11), 2).tolist())

NUMERIC_DTYPE = "float64"
CATEGORICAL_DTYPE = "str"


@dataclass
class SegmentationModel:
    """A fitted customer segmentation.

    Build it with :func:`segkit.fit_segmentation`; load one with :func:`load_model`.

    Attributes
    ----------
    preprocessor
        Fitted scikit-learn pipeline (a ``ColumnTransformer``, optionally followed by ``PCA``) mapping
        the customer file's ``features`` to the clustering space.
    assigner
        Fitted estimator whose ``predict`` gives raw cluster labels in the clustering space.
    label_map
        ``label_map[raw_label]`` is the segment id (0 = largest revenue share).
    features
        Customer-file columns the model reads, in order.
    feature_dtypes
        ``"float64"`` for numeric features, ``"str"`` for categorical ones.
    segment_names, actions
        Segment id -> readable name, and -> one recommended marketing action.
    profile
        One row per segment id: ``segment_name``, ``size``, ``customer_share``, ``revenue_share``,
        then ``mean_<f>``, ``median_<f>`` and ``z_<f>`` (standardised difference of the segment mean
        from the overall mean, in overall standard deviations) for every numeric customer-file
        column, and ``rank_<f>`` (mean percentile rank, 0-1) for the RFM columns used in naming.
    centroid_matrix
        Segment centroids in the clustering space, row i = segment i.
    metadata
        Training metadata (see :data:`METADATA_KEYS`).
    """

    preprocessor: Any
    assigner: Any
    label_map: np.ndarray
    features: list[str]
    feature_dtypes: dict[str, str]
    segment_names: dict[int, str]
    actions: dict[int, str]
    profile: pd.DataFrame
    centroid_matrix: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ properties
    @property
    def k(self) -> int:
        """Number of segments."""
        return int(len(self.segment_names))

    @property
    def algorithm(self) -> str:
        """Clustering algorithm the model was fitted with."""
        return str(self.metadata.get("algorithm", ""))

    @property
    def feature_names_out(self) -> list[str]:
        """Names of the clustering-space dimensions."""
        try:
            return [str(name) for name in self.preprocessor.get_feature_names_out()]
        except (AttributeError, ValueError):  # pragma: no cover - estimators without names
            return [f"x{i}" for i in range(self.centroid_matrix.shape[1])]

    @property
    def centroids(self) -> pd.DataFrame:
        """Segment centroids in the preprocessed (clustering) space, indexed by segment id."""
        frame = pd.DataFrame(self.centroid_matrix, columns=self.feature_names_out)
        frame.index = pd.RangeIndex(len(frame), name="segment_id")
        return frame

    # ------------------------------------------------------------------ prediction
    def check_customer_file(self, customer_file: pd.DataFrame) -> pd.DataFrame:
        """Return the model's feature columns of ``customer_file``, validated.

        Raises
        ------
        SchemaError
            A feature column is missing, or has the wrong dtype (a numeric feature that is not
            numeric, naming the column, the count of non-numeric values and examples).
        DataError
            A numeric feature holds infinite values.
        """
        frame = _as_customer_frame(customer_file)
        for name in self.features:
            if name not in frame.columns:
                raise missing_column_error(name, frame.columns, table="customer file")
        selected = frame[self.features]
        for name in self.features:
            _check_dtype(selected[name], name, self.feature_dtypes.get(name, NUMERIC_DTYPE))
        return selected

    def transform(self, customer_file: pd.DataFrame) -> np.ndarray:
        """Map customers to the clustering space (rows in the order of ``customer_file``)."""
        selected = self.check_customer_file(customer_file)
        return np.asarray(self.preprocessor.transform(selected), dtype=np.float64)

    def predict(self, customer_file: pd.DataFrame) -> pd.Series:
        """Assign each customer of ``customer_file`` to a segment.

        Parameters
        ----------
        customer_file
            One row per customer, indexed by ``customer_id`` (or with a ``customer_id`` column),
            holding at least :attr:`features` with the training dtypes.

        Returns
        -------
        pd.Series
            Segment id (``int64``, 0..k-1) per customer, indexed by ``customer_id``, named
            ``segment_id``.
        """
        frame = _as_customer_frame(customer_file)
        raw = self.assigner.predict(self.transform(frame))
        segments = self.label_map[np.asarray(raw, dtype=np.int64)]
        return pd.Series(segments.astype(np.int64), index=frame.index.copy(), name="segment_id")

    def segment_frame(self, customer_file: pd.DataFrame) -> pd.DataFrame:
        """``customer_id, segment_id, segment_name`` (+ ``rfm_segment`` when the file has it)."""
        frame = _as_customer_frame(customer_file)
        segments = self.predict(frame)
        out = pd.DataFrame(
            {
                CUSTOMER_ID: segments.index.astype("str"),
                "segment_id": segments.to_numpy(),
                "segment_name": pd.array(segments.map(self.segment_names).to_numpy(), dtype="str"),
            }
        )
        if "rfm_segment" in frame.columns:
            out["rfm_segment"] = pd.array(frame["rfm_segment"].to_numpy(), dtype="str")
        return out

    # ------------------------------------------------------------------ persistence
    def to_metadata(self) -> dict[str, Any]:
        """The metadata written to ``model.json`` (plain JSON types)."""
        meta = dict(self.metadata)
        meta.update(
            segkit_version=meta.get("segkit_version", __version__),
            model_format=MODEL_FORMAT,
            features=list(self.features),
            feature_dtypes=dict(self.feature_dtypes),
            segment_names={str(k): v for k, v in self.segment_names.items()},
            actions={str(k): v for k, v in self.actions.items()},
        )
        return _jsonable(meta)

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``path`` (skops archive) and ``path.with_suffix(".json")`` atomically.

        Returns the path of the archive.
        """
        import skops.io as sio

        path = Path(path)
        metadata = self.to_metadata()
        payload = {
            "model_format": MODEL_FORMAT,
            "preprocessor": self.preprocessor,
            "assigner": self.assigner,
            "label_map": np.asarray(self.label_map, dtype=np.int64),
            "centroids": np.asarray(self.centroid_matrix, dtype=np.float64),
            "metadata_json": json.dumps(metadata, sort_keys=True),
            "profile_json": self.profile.to_json(orient="split", double_precision=15),
        }
        data = _reproducible_zip(sio.dumps(payload))
        sidecar = dict(metadata, model_file=path.name, model_file_sha256=hashlib.sha256(data).hexdigest())
        text = json.dumps(sidecar, indent=2, sort_keys=True, allow_nan=False) + "\n"
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_bytes_atomic(data, path)
        _write_bytes_atomic(text.encode("utf-8"), path.with_suffix(".json"))
        return path


# ---------------------------------------------------------------------- loading
def load_model(path: str | os.PathLike) -> SegmentationModel:
    """Load a model written by :meth:`SegmentationModel.save`.

    Parameters
    ----------
    path
        The ``.skops`` archive. When ``path.with_suffix(".json")`` exists, the archive's SHA-256 must
        match the one it records.

    Raises
    ------
    ModelError
        The file is missing, corrupt, truncated or tampered with, holds a type outside
        :data:`TRUSTED_TYPES`, or was written by an incompatible segkit version.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file {str(path)!r} does not exist", column=str(path))
    data = path.read_bytes()
    _check_sidecar(path, data)
    payload = _load_payload(data, path)
    metadata = _parse_metadata(payload, path)
    return _model_from_payload(payload, metadata, path)


def _check_sidecar(path: Path, data: bytes) -> None:
    sidecar = path.with_suffix(".json")
    if not sidecar.is_file():
        return
    try:
        recorded = json.loads(sidecar.read_text(encoding="utf-8")).get("model_file_sha256")
    except (ValueError, UnicodeDecodeError, AttributeError) as exc:
        raise ModelError(f"model metadata {str(sidecar)!r} is not valid JSON: {exc}") from None
    if recorded is not None and recorded != hashlib.sha256(data).hexdigest():
        raise ModelError(
            f"model file {str(path)!r} does not match the SHA-256 recorded in {sidecar.name}: "
            "it was modified or truncated after it was saved",
            column=str(path),
        )


def _load_payload(data: bytes, path: Path) -> dict[str, Any]:
    import skops.io as sio

    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ModelError(f"model file {str(path)!r} is not a skops archive (corrupt or truncated)")
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:  # noqa: BLE001 - any parse failure means a corrupt file
        raise ModelError(f"model file {str(path)!r} is corrupt or truncated: {exc}") from None
    refused = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if refused:
        raise ModelError(
            f"model file {str(path)!r} holds types segkit does not trust",
            column=str(path),
            n_bad=len(refused),
            examples=refused,
        )
    try:
        payload = sio.loads(data, trusted=list(untrusted))
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"model file {str(path)!r} cannot be loaded: {exc}") from None
    if not isinstance(payload, dict) or payload.get("model_format") != MODEL_FORMAT:
        raise ModelError(f"model file {str(path)!r} is not a segkit model (format {MODEL_FORMAT})")
    return payload


def _parse_metadata(payload: Mapping[str, Any], path: Path) -> dict[str, Any]:
    try:
        metadata = json.loads(payload["metadata_json"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"model file {str(path)!r} has unreadable metadata: {exc}") from None
    saved = str(metadata.get("segkit_version", ""))
    if _major(saved) != _major(__version__):
        raise ModelError(
            f"model file {str(path)!r} was written by segkit {saved or 'unknown'}, "
            f"incompatible with segkit {__version__} (major versions differ); refit the model",
            column="segkit_version",
        )
    return metadata


def _model_from_payload(
    payload: Mapping[str, Any], metadata: dict[str, Any], path: Path
) -> SegmentationModel:
    assigner = payload.get("assigner")
    if type(assigner).__name__ not in ASSIGNER_TYPES or not hasattr(assigner, "predict"):
        raise ModelError(f"model file {str(path)!r} holds an unexpected assigner {type(assigner).__name__}")
    try:
        profile = pd.read_json(io.StringIO(payload["profile_json"]), orient="split")
        profile.index = pd.RangeIndex(len(profile), name="segment_id")
        names = {int(k): str(v) for k, v in metadata["segment_names"].items()}
        actions = {int(k): str(v) for k, v in metadata.get("actions", {}).items()}
        label_map = np.asarray(payload["label_map"], dtype=np.int64)
        centroids = np.asarray(payload["centroids"], dtype=np.float64)
        features = [str(f) for f in metadata["features"]]
        dtypes = {str(k): str(v) for k, v in metadata["feature_dtypes"].items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"model file {str(path)!r} is incomplete: {exc}") from None
    if sorted(set(label_map.tolist())) != list(range(len(names))) or len(centroids) != len(names):
        raise ModelError(f"model file {str(path)!r} is inconsistent: labels, centroids and names disagree")
    return SegmentationModel(
        preprocessor=payload["preprocessor"],
        assigner=assigner,
        label_map=label_map,
        features=features,
        feature_dtypes=dtypes,
        segment_names=names,
        actions=actions,
        profile=profile,
        centroid_matrix=centroids,
        metadata=metadata,
    )


# ---------------------------------------------------------------------- helpers
def _major(version: str) -> str:
    return version.split(".", 1)[0] if version else ""


def _as_customer_frame(customer_file: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(customer_file, pd.DataFrame):
        raise SchemaError(f"customer file must be a pandas DataFrame, got {type(customer_file).__name__}")
    if customer_file.index.name != CUSTOMER_ID and CUSTOMER_ID in customer_file.columns:
        return customer_file.set_index(CUSTOMER_ID)
    return customer_file


def _check_dtype(values: pd.Series, name: str, expected: str) -> None:
    if expected == NUMERIC_DTYPE:
        if pd.api.types.is_bool_dtype(values.dtype) or not pd.api.types.is_numeric_dtype(values.dtype):
            coerced = pd.to_numeric(values, errors="coerce")
            bad = values[coerced.isna() & values.notna()]
            raise bad_rows_error(
                SchemaError,
                f"customer file: feature {name!r} must be numeric (dtype {values.dtype} given)",
                name,
                bad if len(bad) else values.head(5),
            )
        infinite = values[np.isinf(values.to_numpy(dtype=np.float64, na_value=np.nan))]
        if len(infinite):
            raise bad_rows_error(
                DataError, f"customer file: feature {name!r} holds infinite values", name, infinite
            )
    elif pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        raise bad_rows_error(
            SchemaError,
            f"customer file: feature {name!r} must be categorical text (dtype {values.dtype} given)",
            name,
            values.head(5),
        )


def _reproducible_zip(data: bytes) -> bytes:
    """Rewrite a skops archive so that the same model always gives the same bytes.

    skops names array entries and memo ids after ``id()`` of the object (a memory address) and
    stamps every entry with the current time. This renumbers entries (``0.npy, 1.npy, ...``) and
    ``__id__`` values in order of first appearance in ``schema.json``, consistently, and fixes the
    timestamps; what loads is unchanged (the round-trip tests load these files).
    """
    source = zipfile.ZipFile(io.BytesIO(data))
    schema = source.read("schema.json").decode("utf-8")
    entries = [info for info in source.infolist() if info.filename != "schema.json"]
    known = {info.filename for info in entries}
    reference = re.compile("|".join(re.escape(f'"{name}"') for name in sorted(known, key=len, reverse=True)))
    renamed: dict[str, str] = {}
    for match in reference.finditer(schema):
        name = match.group(0)[1:-1]
        renamed.setdefault(name, f"{len(renamed)}{Path(name).suffix}")
    schema = reference.sub(lambda m: f'"{renamed[m.group(0)[1:-1]]}"', schema) if known else schema
    object_ids: dict[str, int] = {}  # memo ids (memory addresses) -> 1, 2, ... in order of appearance
    schema = re.sub(
        r'"__id__": (\d+)',
        lambda m: f'"__id__": {object_ids.setdefault(m.group(1), len(object_ids) + 1)}',
        schema,
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        target.writestr(zipfile.ZipInfo("schema.json", date_time=(1980, 1, 1, 0, 0, 0)), schema)
        for info in sorted(entries, key=lambda i: renamed.get(i.filename, i.filename)):
            fixed = zipfile.ZipInfo(
                renamed.get(info.filename, info.filename), date_time=(1980, 1, 1, 0, 0, 0)
            )
            fixed.compress_type = info.compress_type
            target.writestr(fixed, source.read(info.filename))
    return out.getvalue()


def _write_bytes_atomic(data: bytes, path: Path) -> None:
    """Write ``data`` to a temporary file in ``path``'s folder, then rename it into place."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)  # the usual permissions, not mkstemp's 0600
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays, tuples and Timestamps to plain JSON types; NaN -> None."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray | pd.Index):
        return [_jsonable(v) for v in list(value)]
    if isinstance(value, np.integer | bool | np.bool_):
        return value.item() if isinstance(value, np.generic) else value
    if isinstance(value, float | np.floating):
        number = float(value)
        return None if not np.isfinite(number) else number
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value
