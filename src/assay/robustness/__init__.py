"""Robustness: perturbations of the evaluation rows and behavioural tests of a model.

Perturbations (``apply_perturbation``) are seeded, vectorised transformations of a
DataFrame: numeric noise, missing values, categorical swaps and unseen values,
out-of-range and boundary values, unit errors, shuffled values, reordered columns, a
cohort shift (weights or a resample), and text typos, case, whitespace and character
noise. Behavioural tests (``check_behaviour``) compare predictions before and after an
edit row by row: invariance within a tolerance, or a change in an expected direction.
The stress run (``run_stress``, the spec's ``stress:`` and ``latency:`` sections) puts an
adapter model (``assay.models``) through them and compares every run with the clean one.
"""

from assay.robustness._behaviour import (
    BehaviourResult,
    BehaviourTest,
    DirectionalChange,
    DirectionalTest,
    InvarianceTest,
    behaviour_frame,
    check_behaviour,
)
from assay.robustness._columns import column_kinds
from assay.robustness._perturb import Perturbed, apply_perturbation
from assay.robustness._run import (
    BEHAVIOUR_COLUMNS,
    LATENCY_COLUMNS,
    ROBUSTNESS_COLUMNS,
    StressOutput,
    run_stress,
    stream_seed,
)
from assay.robustness._shift import shift_deltas
from assay.robustness._spec import DEFAULT_METRICS, LatencySpec, StressSpec
from assay.robustness._specs import (
    PERTURBATIONS,
    Boundary,
    Bounds,
    CaseChange,
    CharNoise,
    Missing,
    Noise,
    OutOfRange,
    Perturbation,
    Reorder,
    Scale,
    Shift,
    Shuffle,
    Swap,
    Typos,
    Unseen,
    Whitespace,
    perturbation_label,
)

__all__ = [
    "BEHAVIOUR_COLUMNS",
    "DEFAULT_METRICS",
    "LATENCY_COLUMNS",
    "LatencySpec",
    "ROBUSTNESS_COLUMNS",
    "StressOutput",
    "StressSpec",
    "run_stress",
    "shift_deltas",
    "stream_seed",
    "PERTURBATIONS",
    "BehaviourResult",
    "BehaviourTest",
    "Boundary",
    "Bounds",
    "CaseChange",
    "CharNoise",
    "DirectionalChange",
    "DirectionalTest",
    "InvarianceTest",
    "Missing",
    "Noise",
    "OutOfRange",
    "Perturbation",
    "Perturbed",
    "Reorder",
    "Scale",
    "Shift",
    "Shuffle",
    "Swap",
    "Typos",
    "Unseen",
    "Whitespace",
    "apply_perturbation",
    "behaviour_frame",
    "check_behaviour",
    "column_kinds",
    "perturbation_label",
]
