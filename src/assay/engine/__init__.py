"""One pass over the rows into small additive states per slice.

A *state* is a named set of sums over a fixed number of cells (a confusion matrix, a score
histogram, loss moments). States of disjoint rows add, so a slice's complement is the
overall state minus the slice's, and the same states come out of the NumPy and DuckDB
engines.
"""

from assay.engine._partition import Dimension, Partition, SliceKey
from assay.engine._states import StateRequest, States

__all__ = ["Dimension", "Partition", "SliceKey", "StateRequest", "States"]
