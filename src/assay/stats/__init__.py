"""Interval estimators and resampling used by the metrics.

Every function here works on small sufficient statistics (counts, sums, histograms),
never on rows, so uncertainty costs about as much as one metric evaluation.
"""

from assay.stats._bootstrap import percentile_interval
from assay.stats._intervals import (
    Interval,
    kish_effective_size,
    mover_difference,
    newcombe_difference,
    normal_interval,
    order_statistic_interval,
    t_interval,
    wilson_interval,
    z_value,
)
from assay.stats._paired import (
    benjamini_hochberg,
    bonferroni_level,
    bootstrap_p_value,
    churn,
    holm,
    mcnemar_exact,
    paired_bootstrap_cells,
    paired_delong,
    paired_proportion_difference,
    paired_t,
    paired_t_from_sums,
    tango_interval,
)

__all__ = [
    "Interval",
    "benjamini_hochberg",
    "bonferroni_level",
    "bootstrap_p_value",
    "churn",
    "holm",
    "kish_effective_size",
    "mover_difference",
    "mcnemar_exact",
    "newcombe_difference",
    "normal_interval",
    "order_statistic_interval",
    "paired_bootstrap_cells",
    "paired_delong",
    "paired_proportion_difference",
    "paired_t",
    "paired_t_from_sums",
    "percentile_interval",
    "t_interval",
    "tango_interval",
    "wilson_interval",
    "z_value",
]
