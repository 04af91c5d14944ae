"""Interval estimators and resampling used by the metrics.

Every function here works on small sufficient statistics (counts, sums, histograms),
never on rows, so uncertainty costs about as much as one metric evaluation.
"""

from assay.stats._bootstrap import percentile_interval
from assay.stats._intervals import (
    Interval,
    kish_effective_size,
    newcombe_difference,
    normal_interval,
    order_statistic_interval,
    t_interval,
    wilson_interval,
    z_value,
)

__all__ = [
    "Interval",
    "kish_effective_size",
    "newcombe_difference",
    "normal_interval",
    "order_statistic_interval",
    "percentile_interval",
    "t_interval",
    "wilson_interval",
    "z_value",
]
