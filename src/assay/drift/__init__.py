"""Drift statistics: how far a current sample of a column has moved from its reference.

For numeric and categorical columns (features, predictions, labels) assay computes, against a
reference, PSI, the two-sample Kolmogorov-Smirnov test, the chi-square test of homogeneity,
the Jensen-Shannon distance and the Wasserstein-1 distance, and decides per column with one of
them (by default a test for references of at most 1000 values, a distance above; see
``DriftConfig`` and ``DEFAULT_THRESHOLDS``). Each statistic is checked in the tests against
SciPy (PSI against a hand computation).

The work is split so that monitoring can reuse it per time window:

1. ``learn_bins``: the reference teaches a column's bins (numeric: fine asinh-spaced bins and
   reference-quantile bins; categorical: the reference levels).
2. ``sketch`` / ``sketch_windows``: one pass over the rows counts each window into those bins
   (sufficient statistics: counts, per-bin minima and maxima, moments, and the sorted values
   when a window is small); ``merge_sketches`` combines windows.
3. ``drift_rows``: the statistics from two sketches. KS and Wasserstein are exact when both
   samples have at most ``exact_max`` values and otherwise come from the fine bins with an
   ``error_bound`` that brackets the exact value (see ``assay.drift._stats``).

``drift_table`` does all three for every column of two DataFrames or Arrow tables.

References: Kolmogorov-Smirnov and Smirnov's asymptotic distribution as in
``scipy.stats.ks_2samp``; Lin (1991), *Divergence measures based on the Shannon entropy*;
Siddiqi (2006), *Credit Risk Scorecards* (PSI); Evidently's data-drift defaults.
"""

from assay.drift._bins import ColumnBins, learn_bins
from assay.drift._config import DEFAULT_THRESHOLDS, STATISTICS, DriftConfig, Statistic
from assay.drift._sketch import Sketch, merge_sketches, sketch, sketch_windows
from assay.drift._stats import drift_rows
from assay.drift._table import DRIFT_COLUMNS, drift_table

__all__ = [
    "DEFAULT_THRESHOLDS",
    "DRIFT_COLUMNS",
    "STATISTICS",
    "ColumnBins",
    "DriftConfig",
    "Sketch",
    "Statistic",
    "drift_rows",
    "drift_table",
    "learn_bins",
    "merge_sketches",
    "sketch",
    "sketch_windows",
]
