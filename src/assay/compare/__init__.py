"""Paired candidate-vs-baseline comparison: one row per slice and metric.

``compare_pair`` runs the comparison on rows in memory; ``PAIRED`` declares the paired
method of every registered metric and ``register_paired`` adds one for a new metric.
"""

from assay.compare._compare import CHURN, COMPARE_COLUMNS, compare_pair
from assay.compare._methods import PairArrays, PairContext, PairedEstimate
from assay.compare._tasks import PAIRED, SKIP, UNPAIRED, register_paired

__all__ = [
    "CHURN",
    "COMPARE_COLUMNS",
    "PAIRED",
    "SKIP",
    "UNPAIRED",
    "PairArrays",
    "PairContext",
    "PairedEstimate",
    "compare_pair",
    "register_paired",
]
