"""Train assay's default toxicity detector and write its weights and provenance.

Usage::

    python scripts/train_toxicity.py [--data ../shared/data/offensive_language/labeled_data.csv]
                                     [--out src/assay/safety/toxicity] [--date YYYY-MM-DD] [--C C]

Data: Davidson, Warmsley, Macy and Weber (2017), "Automated Hate Speech Detection and the
Problem of Offensive Language" (ICWSM), ``data/labeled_data.csv`` of
github.com/t-davidson/hate-speech-and-offensive-language at commit ``cb50f7e9``, MIT licence.
24,783 English tweets, each labelled by at least three crowd workers. Positive (toxic) =
class 0 (hate speech) or 1 (offensive language); negative = class 2 (neither). The file's
sha256 is checked against the snapshot's.

Split: :func:`assay.safety.toxicity.heldout_mask` (20% held out): near duplicates (retweets,
quotes, truncations; case, URL, @mention, entity, punctuation and whitespace differences) are
grouped, and a whole group is held out when the sha256 of its representative text falls in the
lowest 20% of the hash range. Nothing about the labels or the model enters the rule.

Model: :func:`assay.safety.toxicity.featurize` (hashed word 1-2-grams and byte 3-5-grams,
2^18 columns, sublinear counts, L2 rows), then scikit-learn's ``LogisticRegression`` (L2,
lbfgs, ``class_weight="balanced"`` so that the probabilities do not carry the data's 83%
prevalence of toxic text). ``C`` is chosen on the training split only: the smallest mean
log loss (classes weighted as in training) over 3 grouped folds (a group's fold: the sha256 of
its representative, digits 9-16, mod 3) from the grid ``C_GRID``. The held-out split is used
once, after training, to measure the written model with the package's own scorer.

Output (``--out``): ``default_model.npz`` (float32 weights, intercept, feature spec; written
byte-stably) and ``default_model.json`` (data source, commit, sha256, split rule and sizes,
digests of the training and held-out texts, hyperparameters and the selection table, library
versions, the date, held-out metrics). Re-running with the same data, library versions and
``--date`` (default: today, UTC, or SOURCE_DATE_EPOCH) gives the same bytes (the fit runs on
one BLAS thread so the result does not depend on the number of cores).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy
import scipy.sparse as sp
import sklearn
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from assay.safety.toxicity import (
    FeatureSpec,
    check_overlap,
    featurize,
    heldout_mask,
    measure_detector,
    near_duplicate_groups,
    read_model,
    texts_digest,
    write_model,
)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "offensive_language" / "labeled_data.csv"
DEFAULT_OUT = REPO / "src" / "assay" / "safety" / "toxicity"
SOURCE = {
    "name": "Davidson et al. (2017) hate speech and offensive language tweets",
    "citation": ("Davidson, Warmsley, Macy, Weber (2017). Automated Hate Speech Detection and the Problem "
                 "of Offensive Language. ICWSM."),
    "repository": "https://github.com/t-davidson/hate-speech-and-offensive-language",
    "path": "data/labeled_data.csv",
    "commit": "cb50f7e9eb855a99abc51423bf40df0e26d6fe30",
    "sha256": "fcb8bc7c68120ae4af04a5b9acd58585513ede11e1548ebf36a5c2040b6f6281",
    "license": "MIT",
    "positive": "class 0 (hate speech) or 1 (offensive language); negative: class 2 (neither)",
}
TEST_PERCENT = 20
C_GRID = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
FOLDS = 3
MAX_ITER = 2000
TOL = 1e-6
SPEC = FeatureSpec(bits=18, word_ngrams=(1, 2), char_ngrams=(3, 5))
MODEL_NAME = "assay-toxicity-linear-v1"


def load_data(path: Path) -> tuple[list[str], np.ndarray, str]:
    """(texts, labels with 1 = toxic, file sha256); stops on a changed file or a bad row."""
    if not path.is_file():
        sys.exit(f"{path} not found; pass --data with the path of labeled_data.csv")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SOURCE["sha256"]:
        sys.exit(f"{path}: sha256 {digest} is not the snapshot's {SOURCE['sha256']}; the provenance would "
                 "be wrong (use the snapshot, or update SOURCE with the new commit and hash)")
    df = pd.read_csv(path, keep_default_na=False)
    for col in ("class", "tweet"):
        if col not in df.columns:
            sys.exit(f"{path}: no column {col!r} (columns: {', '.join(map(str, df.columns))})")
    bad = ~df["class"].isin([0, 1, 2])
    if bad.any():
        sys.exit(f"{path}: {int(bad.sum())} row(s) with a class outside 0/1/2, first at row "
                 f"{int(bad.idxmax())}")
    return df["tweet"].astype(str).tolist(), df["class"].isin([0, 1]).to_numpy(), digest


def matrix(texts: list[str]) -> sp.csr_matrix:
    """The package's features as a SciPy CSR matrix (the same cells the detector sums)."""
    f = featurize(texts, SPEC)
    return sp.csr_matrix((f.values, (f.rows, f.cols)), shape=(f.n_rows, f.n_features))


def _weights(y: np.ndarray) -> np.ndarray:
    """Per-row weights of ``class_weight="balanced"``: n / (2 n_class)."""
    n, pos = len(y), int(y.sum())
    return np.where(y, n / (2.0 * pos), n / (2.0 * (n - pos)))


def fit(x: sp.csr_matrix, y: np.ndarray, c: float) -> LogisticRegression:
    """The logistic regression of the module doc, on one BLAS thread (the sums of several
    threads are added in a machine-dependent order, which changes the last bits)."""
    with threadpool_limits(1):
        return LogisticRegression(C=c, class_weight="balanced", solver="lbfgs", max_iter=MAX_ITER,
                                  tol=TOL).fit(x, y)


def select_c(x: sp.csr_matrix, y: np.ndarray, texts: list[str]) -> tuple[float, list[dict[str, Any]]]:
    """The C with the smallest mean balanced log loss over grouped folds of the training split."""
    reps = near_duplicate_groups(texts)
    fold = np.array([int(hashlib.sha256(r.encode("utf-8")).hexdigest()[8:16], 16) % FOLDS for r in reps])
    table = []
    for c in C_GRID:
        losses = []
        for k in range(FOLDS):
            tr, va = fold != k, fold == k
            p = np.clip(fit(x[tr], y[tr], c).predict_proba(x[va])[:, 1], 1e-15, 1 - 1e-15)
            w = _weights(y[va])
            ll = -(w * np.where(y[va], np.log(p), np.log1p(-p))).sum() / w.sum()
            losses.append(float(ll))
        table.append({"C": c, "fold_log_loss": [round(v, 6) for v in losses],
                      "mean_log_loss": round(float(np.mean(losses)), 6)})
    best = min(table, key=lambda r: (r["mean_log_loss"], r["C"]))
    return float(best["C"]), table


def the_date(given: str | None) -> str:
    """``--date``, else SOURCE_DATE_EPOCH, else today (UTC), as YYYY-MM-DD."""
    if given:
        return dt.date.fromisoformat(given).isoformat()
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return dt.datetime.fromtimestamp(int(epoch), dt.UTC).date().isoformat()
    return dt.datetime.now(dt.UTC).date().isoformat()


def train(data: Path, out: Path, date: str, c: float | None = None) -> dict[str, Any]:
    """Train, write ``default_model.npz`` and ``default_model.json`` under ``out``; return the
    provenance. ``c`` skips the selection (its table is then empty)."""
    texts, y, digest = load_data(data)
    test = heldout_mask(texts, TEST_PERCENT)
    train_texts = [t for t, k in zip(texts, test, strict=True) if not k]
    test_texts = [t for t, k in zip(texts, test, strict=True) if k]
    overlap = check_overlap(train_texts, test_texts)
    overlap.raise_if_overlap()
    x = matrix(train_texts)
    y_train, y_test = y[~test], y[test]
    if c is None:
        c, table = select_c(x, y_train, train_texts)
        selection = {"rule": f"smallest mean balanced log loss over {FOLDS} grouped folds of the training "
                             "split (fold = int(sha256(group representative)[8:16], 16) mod 3)",
                     "grid": list(C_GRID), "table": table}
    else:
        selection = {"rule": "C given on the command line", "grid": [c], "table": []}
    model = fit(x, y_train, c)
    out.mkdir(parents=True, exist_ok=True)
    weights_path = out / "default_model.npz"
    sha = write_model(weights_path, model.coef_[0], float(model.intercept_[0]), SPEC)
    provenance: dict[str, Any] = {
        "model": MODEL_NAME,
        "kind": "logistic regression on hashed word and character n-grams",
        "weights_file": weights_path.name, "weights_sha256": sha,
        "data": {**SOURCE, "file_sha256": digest, "rows": len(texts), "positives": int(y.sum())},
        "split": {"rule": ("near-duplicate groups (assay.safety.toxicity.near_duplicate_groups); a group is "
                           f"held out when int(sha256(representative)[:8], 16) < {TEST_PERCENT}% of 16^8"),
                  "function": "assay.safety.toxicity.heldout_mask", "test_percent": TEST_PERCENT,
                  "train_size": len(train_texts), "test_size": len(test_texts),
                  "train_positives": int(y_train.sum()), "test_positives": int(y_test.sum()),
                  "train_texts_sha256": texts_digest(train_texts),
                  "test_texts_sha256": texts_digest(test_texts),
                  "overlap": {"exact": overlap.exact, "normalized": overlap.normalized,
                              "near": overlap.near}},
        "features": SPEC.to_dict(),
        "hyperparameters": {"C": c, "penalty": "l2", "class_weight": "balanced", "solver": "lbfgs",
                            "max_iter": MAX_ITER, "tol": TOL, "n_iter": int(model.n_iter_[0]),
                            "selection": selection},
        "libraries": {"python": platform.python_version(), "numpy": np.__version__,
                      "scipy": scipy.__version__, "scikit-learn": sklearn.__version__,
                      "pandas": pd.__version__},
        "date": date,
    }
    detector = read_model(weights_path, provenance)
    measured = measure_detector(detector, test_texts, y_test, 0.95, threshold=0.5, seed=0)
    provenance["heldout_metrics"] = measured.to_dict()
    (out / "default_model.json").write_text(json.dumps(provenance, indent=2, sort_keys=True) + "\n",
                                            encoding="utf-8")
    return provenance


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--date", default=None, help="the date recorded (YYYY-MM-DD); default today (UTC)")
    parser.add_argument("--C", dest="c", type=float, default=None, help="skip the selection and use this C")
    args = parser.parse_args(argv)
    prov = train(args.data, args.out, the_date(args.date), args.c)
    m = prov["heldout_metrics"]["metrics"]
    print(f"C={prov['hyperparameters']['C']:g}; held out {prov['split']['test_size']} texts: "
          + ", ".join(f"{k} {v['value']:.4f} [{v['ci_low']:.4f}, {v['ci_high']:.4f}]" for k, v in m.items()))
    print(f"wrote {args.out / 'default_model.npz'} and {args.out / 'default_model.json'}")


if __name__ == "__main__":
    main()
