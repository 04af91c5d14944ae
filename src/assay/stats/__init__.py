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
    DeLongPair,
    benjamini_hochberg,
    bonferroni_level,
    bootstrap_p_value,
    churn,
    delong_pair,
    holm,
    mcnemar_exact,
    paired_bootstrap_cells,
    paired_delong,
    paired_proportion_difference,
    paired_t,
    paired_t_from_sums,
    tango_interval,
)
from assay.stats._power import (
    normal_mdd,
    normal_n,
    normal_power,
    paired_proportion_mdd,
    paired_proportion_n,
    paired_proportion_power,
    rows_needed,
)

__all__ = [
    "DeLongPair",
    "Interval",
    "benjamini_hochberg",
    "bonferroni_level",
    "bootstrap_p_value",
    "churn",
    "delong_pair",
    "holm",
    "kish_effective_size",
    "mcnemar_exact",
    "mover_difference",
    "newcombe_difference",
    "normal_interval",
    "normal_mdd",
    "normal_n",
    "normal_power",
    "order_statistic_interval",
    "paired_bootstrap_cells",
    "paired_delong",
    "paired_proportion_difference",
    "paired_proportion_mdd",
    "paired_proportion_n",
    "paired_proportion_power",
    "paired_t",
    "paired_t_from_sums",
    "percentile_interval",
    "rows_needed",
    "t_interval",
    "tango_interval",
    "wilson_interval",
    "z_value",
]
