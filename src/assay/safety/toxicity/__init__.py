"""Toxicity: a pluggable detector interface, an offline default, measurement and an LLM judge.

    ToxicityDetector, load_detector     the interface; "default", "module:function" or an object
    LinearToxicityDetector              the default: logistic regression on hashed n-grams (NumPy)
    default_detector, default_provenance  the packaged model and its training record
    measure_detector, measure_scores    precision / recall / F1 / accuracy with intervals
    check_overlap, OverlapReport        evaluation texts found in the training texts (must be 0)
    heldout_mask, near_duplicate_groups the grouped, deterministic train/test split
    dialect_marker_proxy, group_error_rates  FPR / FNR gaps on a documented proxy grouping
    JudgeToxicityDetector, toxicity_judge_config  the LLM-judge alternative
    Toxicity                            the ``toxicity`` suite scorer

The default's provenance and limits are in docs/toxicity.md.
"""

from assay.safety.toxicity._detector import (
    CallableDetector,
    ToxicityDetector,
    checked_scores,
    load_detector,
)
from assay.safety.toxicity._features import FEATURE_VERSION, FeatureSpec, featurize, prepare
from assay.safety.toxicity._groups import (
    DIALECT_MARKERS,
    GROUP_COLUMNS,
    PROXY_NAME,
    dialect_marker_proxy,
    dialect_markers_in,
    group_error_rates,
)
from assay.safety.toxicity._judge import TOXICITY_RUBRIC, JudgeToxicityDetector, toxicity_judge_config
from assay.safety.toxicity._linear import (
    LinearToxicityDetector,
    default_detector,
    default_provenance,
    read_model,
    write_model,
)
from assay.safety.toxicity._measure import (
    METRIC_COLUMNS,
    DetectorMeasurement,
    MetricValue,
    OverlapReport,
    check_labels,
    check_overlap,
    measure_detector,
    measure_scores,
)
from assay.safety.toxicity._scorer import Toxicity
from assay.safety.toxicity._text import (
    heldout_mask,
    matching_keys,
    near_duplicate_groups,
    normalize_for_matching,
    texts_digest,
)

__all__ = ["DIALECT_MARKERS", "FEATURE_VERSION", "GROUP_COLUMNS", "METRIC_COLUMNS", "PROXY_NAME",
           "TOXICITY_RUBRIC", "CallableDetector", "DetectorMeasurement", "FeatureSpec",
           "JudgeToxicityDetector", "LinearToxicityDetector", "MetricValue", "OverlapReport", "Toxicity",
           "ToxicityDetector", "check_labels", "check_overlap", "checked_scores", "default_detector",
           "default_provenance", "dialect_marker_proxy", "dialect_markers_in", "featurize",
           "group_error_rates", "heldout_mask", "load_detector", "matching_keys", "measure_detector",
           "measure_scores", "near_duplicate_groups", "normalize_for_matching", "prepare", "read_model",
           "texts_digest", "toxicity_judge_config", "write_model"]
