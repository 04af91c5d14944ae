"""The default offline detector: logistic regression over hashed n-grams, NumPy only at run time.

``p(toxic) = 1 / (1 + exp(-(w . x + b)))`` with ``x`` from :func:`featurize` and ``w``, ``b``
read from ``default_model.npz`` (float32 weights, float64 intercept, the feature spec as JSON).
Its provenance (data, split, hyperparameters, held-out metrics) is ``default_model.json``; both
are written by ``scripts/train_toxicity.py``. A text with no n-grams (empty or whitespace only)
scores 0.0 by convention: it contains nothing toxic, and the intercept alone would otherwise
decide it. The model files are written byte-stably (fixed zip timestamps and order), and loading
checks the weights against the sha256 recorded in the provenance.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from assay._errors import InputError
from assay.safety.toxicity._detector import check_texts
from assay.safety.toxicity._features import FEATURE_VERSION, FeatureSpec, featurize

DEFAULT_MODEL = "default_model.npz"
DEFAULT_PROVENANCE = "default_model.json"
CHUNK = 8192  # texts featurised at a time


@dataclass
class LinearToxicityDetector:
    """A linear model over hashed n-grams (see the module doc)."""

    weights: np.ndarray
    intercept: float
    spec: FeatureSpec
    name: str = "assay-linear-hashed-ngrams"
    provenance: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.weights.shape != (self.spec.n_features,):
            raise InputError(f"toxicity model {self.name!r}: {self.weights.shape[0]} weights for "
                             f"{self.spec.n_features} hashed features; retrain it")
        if self.provenance is None:
            self.provenance = {}
        self._w = self.weights.astype(np.float64)

    def decision_function(self, texts: list[str]) -> np.ndarray:
        """The linear score ``w . x + b`` of each text (the log-odds of toxic)."""
        return self._scores(check_texts(texts))[0]

    def score(self, texts: list[str]) -> np.ndarray:
        """Probability that each text is toxic; 0.0 for a text without n-grams."""
        z, featureless = self._scores(check_texts(texts))
        p = 1.0 / (1.0 + np.exp(-z))
        p[featureless] = 0.0
        return p

    def _scores(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(log-odds, featureless) per text, featurised in chunks of ``CHUNK`` texts so that memory
        stays bounded on long lists."""
        z = np.empty(len(texts))
        empty = np.zeros(len(texts), dtype=bool)
        for start in range(0, len(texts), CHUNK):
            feats = featurize(texts[start:start + CHUNK], self.spec)
            part = np.bincount(feats.rows, weights=self._w[feats.cols] * feats.values, minlength=feats.n_rows)
            z[start:start + feats.n_rows] = part + self.intercept
            empty[start:start + feats.n_rows] = feats.featureless
        return z, empty


def write_model(path: str | Path, weights: np.ndarray, intercept: float, spec: FeatureSpec) -> str:
    """Write the weights as an ``.npz`` whose bytes depend only on the values (fixed member order
    and timestamps); returns its sha256."""
    arrays = {"weights": np.asarray(weights, dtype=np.float32),
              "intercept": np.asarray([intercept], dtype=np.float64),
              "spec": np.frombuffer(json.dumps(spec.to_dict(), sort_keys=True).encode("utf-8"),
                                    dtype=np.uint8)}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, arrays[key], allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue(), compresslevel=9)
    data = buf.getvalue()
    Path(path).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def read_model(path: str | Path, provenance: dict[str, Any] | None = None) -> LinearToxicityDetector:
    """Load weights written by :func:`write_model`; with ``provenance``, its ``weights_sha256``
    must match the file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"toxicity model {path} does not exist; run scripts/train_toxicity.py")
    data = path.read_bytes()
    if provenance is not None and provenance.get("weights_sha256") != hashlib.sha256(data).hexdigest():
        raise InputError(f"toxicity model {path}: its sha256 does not match 'weights_sha256' in its "
                         "provenance; the two files were not written together (rerun "
                         "scripts/train_toxicity.py)")
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        spec = FeatureSpec.from_dict(json.loads(z["spec"].tobytes().decode("utf-8")))
        weights = z["weights"]
        intercept = float(z["intercept"][0])
    if spec.version != FEATURE_VERSION:
        raise InputError(f"toxicity model {path} was trained with feature version {spec.version}; this "
                         f"assay featurises with version {FEATURE_VERSION}; retrain it")
    name = (provenance or {}).get("model", "assay-linear-hashed-ngrams")
    return LinearToxicityDetector(weights, intercept, spec, name=name, provenance=provenance or {})


def default_provenance() -> dict[str, Any]:
    """The packaged default model's provenance record (``default_model.json``)."""
    text = resources.files("assay.safety.toxicity").joinpath(DEFAULT_PROVENANCE).read_text("utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def default_detector() -> LinearToxicityDetector:
    """The packaged default detector, loaded once per process."""
    ref = resources.files("assay.safety.toxicity").joinpath(DEFAULT_MODEL)
    with resources.as_file(ref) as path:
        return read_model(path, default_provenance())
