"""Interval estimators and resampling used by the metrics.

Every function here works on small sufficient statistics (counts, sums, histograms),
never on rows, so uncertainty costs about as much as one metric evaluation.
"""

from assay.stats._agreement import (
    JUDGE_COLUMNS,
    Agreement,
    agreement_rate,
    cohen_kappa,
    judge_agreement,
)
from assay.stats._agreement_corr import system_correlation, within_group_correlation
from assay.stats._agreement_ratings import ICC1, icc1, krippendorff_alpha
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
    "Agreement",
    "DeLongPair",
    "ICC1",
    "Interval",
    "JUDGE_COLUMNS",
    "agreement_rate",
    "benjamini_hochberg",
    "bonferroni_level",
    "bootstrap_p_value",
    "churn",
    "cohen_kappa",
    "delong_pair",
    "holm",
    "icc1",
    "judge_agreement",
    "kish_effective_size",
    "krippendorff_alpha",
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
    "system_correlation",
    "t_interval",
    "tango_interval",
    "wilson_interval",
    "within_group_correlation",
    "z_value",
]
