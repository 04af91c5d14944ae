"""Measuring a toxicity detector against human labels, and the overlap check that must pass first.

Methods. At a threshold t a text is flagged when ``score >= t``. From the confusion counts:
precision ``tp / (tp + fp)``, recall ``tp / (tp + fn)`` and accuracy ``(tp + tn) / n``, each
with a Wilson score interval on its own denominator; F1 ``2 tp / (2 tp + fp + fn)`` with a
seeded percentile bootstrap that resamples the four confusion cells (multinomial, which equals
resampling the rows). A metric whose denominator is 0 is NaN with n = 0, never 0. Texts the
detector could not score (NaN) are left out of every count and reported as ``excluded``.

:func:`check_overlap` finds evaluation texts that also occur in the training texts: exactly,
after normalisation (case, URLs, @mentions, ``RT``, entities, punctuation, whitespace), or as
near duplicates (a shared 8-word prefix or a quoted segment; see
:mod:`assay.safety.toxicity._text`). Any overlap makes in-distribution figures meaningless, so
:meth:`OverlapReport.raise_if_overlap` stops before a figure is reported.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from assay._errors import InputError
from assay.safety.toxicity._detector import ToxicityDetector, check_texts, checked_scores, load_detector
from assay.safety.toxicity._text import matching_keys, normalize_for_matching
from assay.stats import percentile_interval, wilson_interval

METRIC_COLUMNS = ["metric", "value", "ci_low", "ci_high", "n", "method"]
BOOTSTRAP_REPLICATES = 2000


@dataclass(frozen=True)
class MetricValue:
    """One measured figure with its interval, its denominator and how the interval was made."""

    value: float
    ci_low: float
    ci_high: float
    n: int
    method: str


@dataclass(frozen=True)
class DetectorMeasurement:
    """Precision, recall, F1 and accuracy of one detector at one threshold, with the counts."""

    detector: str
    threshold: float
    confidence: float
    tp: int
    fp: int
    fn: int
    tn: int
    excluded: int
    metrics: dict[str, MetricValue] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """The number of texts counted (scored ones)."""
        return self.tp + self.fp + self.fn + self.tn

    def to_frame(self) -> pd.DataFrame:
        """One row per metric: metric, value, ci_low, ci_high, n, method."""
        return pd.DataFrame([{"metric": k, **asdict(v)} for k, v in self.metrics.items()],
                            columns=METRIC_COLUMNS)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the counts, the settings and every metric (NaN as None)."""
        def clean(x: float) -> float | None:
            return None if isinstance(x, float) and math.isnan(x) else x

        return {"detector": self.detector, "threshold": self.threshold, "confidence": self.confidence,
                "tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn, "n": self.n,
                "excluded": self.excluded,
                "metrics": {k: {kk: clean(vv) for kk, vv in asdict(v).items()}
                            for k, v in self.metrics.items()}}


def check_labels(labels: Any, n: int, what: str = "labels") -> np.ndarray:
    """``labels`` as a bool array (1/True = toxic); a missing or non-binary label is an InputError
    naming its row."""
    raw = np.asarray(labels).reshape(-1)
    if raw.shape[0] != n:
        raise InputError(f"{what}: {raw.shape[0]} labels for {n} texts; give one label per text")
    if raw.dtype == bool:
        return raw.astype(bool)
    if raw.dtype.kind in "iuf":
        bad = np.flatnonzero(~np.isin(raw, (0, 1)))
        if bad.size == 0:
            return raw == 1
    arr = raw.astype(object)
    out = np.zeros(n, dtype=bool)
    for i, v in enumerate(arr):
        number = isinstance(v, int | np.integer | float | np.floating)
        if isinstance(v, bool | np.bool_) or (number and v in (0, 1)):
            out[i] = bool(v)
        else:
            raise InputError(f"{what}: row {i} is {v!r}; labels must be 0/1 or False/True (1 = toxic); "
                             "drop or fill missing labels first")
    return out


def _wilson(k: int, n: int, confidence: float) -> MetricValue:
    if n == 0:
        return MetricValue(math.nan, math.nan, math.nan, 0, "wilson")
    p = k / n
    ci = wilson_interval(p, n, confidence)
    return MetricValue(p, ci.low, ci.high, n, "wilson")


def _f1(tp: int, fp: int, fn: int, tn: int, confidence: float, seed: int) -> MetricValue:
    denom = 2 * tp + fp + fn
    if denom == 0:
        return MetricValue(math.nan, math.nan, math.nan, 0, "bootstrap")
    n = tp + fp + fn + tn
    rng = np.random.default_rng(seed)
    cells = rng.multinomial(n, np.array([tp, fp, fn, tn], dtype=np.float64) / n, size=BOOTSTRAP_REPLICATES)
    d = 2 * cells[:, 0] + cells[:, 1] + cells[:, 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = np.where(d > 0, 2 * cells[:, 0] / np.maximum(d, 1), np.nan)
    ci = percentile_interval(reps, confidence, 0.0, 1.0)
    return MetricValue(2 * tp / denom, ci.low, ci.high, n,
                       f"bootstrap (multinomial over confusion cells, {BOOTSTRAP_REPLICATES} reps, "
                       f"seed {seed})")


def measure_scores(scores: Any, labels: Any, *, detector: str = "scores", threshold: float = 0.5,
                   confidence: float = 0.95, seed: int = 0) -> DetectorMeasurement:
    """Precision, recall, F1 and accuracy of ready-made scores (flag: ``score >= threshold``);
    NaN scores are excluded and counted (see the module doc)."""
    if not 0.0 < confidence < 1.0:
        raise InputError(f"confidence must be between 0 and 1, got {confidence}")
    if not 0.0 <= threshold <= 1.0 or math.isnan(threshold):
        raise InputError(f"threshold must be in [0, 1], got {threshold}")
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    y = check_labels(labels, s.shape[0])
    s = checked_scores(s, s.shape[0], detector)
    scored = ~np.isnan(s)
    flag = s[scored] >= threshold
    yy = y[scored]
    tp = int(np.sum(flag & yy))
    fp = int(np.sum(flag & ~yy))
    fn = int(np.sum(~flag & yy))
    tn = int(np.sum(~flag & ~yy))
    metrics = {"precision": _wilson(tp, tp + fp, confidence), "recall": _wilson(tp, tp + fn, confidence),
               "f1": _f1(tp, fp, fn, tn, confidence, seed),
               "accuracy": _wilson(tp + tn, tp + fp + fn + tn, confidence)}
    return DetectorMeasurement(detector, float(threshold), float(confidence), tp, fp, fn, tn,
                               int((~scored).sum()), metrics)


def measure_detector(detector: ToxicityDetector | str, texts: Sequence[str], labels: Any,
                     confidence: float = 0.95, *, threshold: float = 0.5,
                     seed: int = 0) -> DetectorMeasurement:
    """Score ``texts`` with ``detector`` and measure it against ``labels`` (1 = toxic). Run
    :func:`check_overlap` against the detector's training texts first."""
    det = load_detector(detector)
    texts = check_texts(texts)
    check_labels(labels, len(texts))
    scores = checked_scores(det.score(texts), len(texts), det.name)
    return measure_scores(scores, labels, detector=det.name, threshold=threshold, confidence=confidence,
                          seed=seed)


@dataclass(frozen=True)
class OverlapReport:
    """How many evaluation texts also occur in the training texts, and a few examples of each."""

    n_train: int
    n_eval: int
    exact: int
    normalized: int
    near: int
    examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        """True when no evaluation text matches a training text in any way."""
        return self.exact == 0 and self.normalized == 0 and self.near == 0

    def summary(self) -> str:
        """One line: the counts."""
        return (f"{self.exact} exact, {self.normalized} normalised and {self.near} near-duplicate match(es) "
                f"of {self.n_eval} evaluation texts in {self.n_train} training texts")

    def raise_if_overlap(self) -> None:
        """Stop (InputError) when any evaluation text occurs in the training texts."""
        if not self.clean:
            shown = "; ".join(f"{k}: {v[0]!r}" for k, v in self.examples.items() if v)
            raise InputError(f"the evaluation texts overlap the training texts ({self.summary()}), e.g. "
                             f"{shown}; figures on them would overstate the detector. Evaluate on texts "
                             "it was not trained on (a grouped split: heldout_mask)")


def check_overlap(train_texts: Sequence[str], eval_texts: Sequence[str],
                  max_examples: int = 5) -> OverlapReport:
    """Count evaluation texts found in the training texts: exactly, after normalisation, or as
    near duplicates (each text counted once, in the strictest class it falls in)."""
    train = check_texts(train_texts, "train_texts")
    evals = check_texts(eval_texts, "eval_texts")
    exact_set = set(train)
    norm_set = {normalize_for_matching(t) for t in train} - {""}
    key_set: set[str] = set()
    for t in train:
        key_set |= matching_keys(t)
    counts = {"exact": 0, "normalized": 0, "near": 0}
    examples: dict[str, list[str]] = {"exact": [], "normalized": [], "near": []}
    for t in evals:
        if t in exact_set:
            kind = "exact"
        elif normalize_for_matching(t) in norm_set:
            kind = "normalized"
        elif matching_keys(t) & key_set:
            kind = "near"
        else:
            continue
        counts[kind] += 1
        if len(examples[kind]) < max_examples:
            examples[kind].append(t)
    return OverlapReport(len(train), len(evals), counts["exact"], counts["normalized"], counts["near"],
                         examples)
