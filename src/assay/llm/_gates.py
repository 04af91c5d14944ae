"""The classical gate rules on a suite: the summary and the paired comparisons are laid out as
the engine's result and comparison tables, so ``threshold``, ``non_inferiority``,
``superiority`` and ``min_rows`` rules decide LLM scores exactly as they decide metrics.

A rule's ``metric`` is ``<scorer>.<pass_rate|mean>`` (e.g. ``safety.pass_rate``), its ``model``
or ``candidate`` a variant name, and its ``slices`` ``overall``, ``all``, ``tag`` (every tag)
or ``tag=<name>``. Scores are taken as higher-is-better (a pass rate always is); a lower-is-
better score is gated with ``max`` on a threshold rule. The rows of a slice are the ok scores
(``n``): undetermined and error scores are not rows, so a rule cannot pass on them.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from assay.gates import GateTables, Verdict, gate, parse_rules


def _split(label: str) -> tuple[str, str]:
    if label == "overall":
        return "overall", "all"
    dim, _, level = label.partition("=")
    return dim, level


def results_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The suite summary as the engine's result table (model = variant)."""
    rows = []
    for r in summary.itertuples(index=False):
        dim, level = _split(r.slice)
        rows.append({"model": r.variant, "slice": r.slice, "dimension": dim, "level": level,
                     "metric": f"{r.scorer}.{r.metric}", "value": r.value, "ci_low": r.ci_low,
                     "ci_high": r.ci_high, "n": int(r.n), "method": r.method, "status": r.status,
                     "note": r.note, "gap": math.nan, "gap_low": math.nan, "gap_high": math.nan})
    return pd.DataFrame(rows)


def comparisons_table(comparisons: pd.DataFrame | None) -> pd.DataFrame:
    """The paired comparisons as the engine's comparison table."""
    from assay.compare import COMPARE_COLUMNS

    if comparisons is None or comparisons.empty:
        return pd.DataFrame(columns=COMPARE_COLUMNS)
    rows = []
    for r in comparisons.itertuples(index=False):
        dim, level = _split(r.slice)
        rows.append({"baseline": r.baseline, "candidate": r.candidate, "slice": r.slice, "dimension": dim,
                     "level": level, "metric": f"{r.scorer}.{r.metric}", "baseline_value": r.baseline_value,
                     "candidate_value": r.candidate_value, "delta": r.delta, "ci_low": r.ci_low,
                     "ci_high": r.ci_high, "p_value": r.p_value, "p_adjusted": r.p_adjusted, "n": int(r.n),
                     "method": r.method, "status": r.status, "note": r.note, "higher_is_better": True,
                     "se": math.nan, "discordance": math.nan, "mdd": math.nan})
    return pd.DataFrame(rows, columns=COMPARE_COLUMNS)


def gate_suite(rules: list[Any], summary: pd.DataFrame, comparisons: pd.DataFrame | None,
               variants: list[str], baseline: str | None, candidates: list[str], confidence: float,
               min_cases: int = 1, analyses: dict[str, pd.DataFrame] | None = None) -> Verdict:
    """Decide the rules (mappings or Rule objects) on a suite's tables; ``analyses`` holds the
    tables of other rule kinds (``safety``: see assay.gates._safety_rules)."""
    tables = GateTables(results=results_table(summary), comparisons=comparisons_table(comparisons),
                        confidence=confidence, baseline=baseline or variants[0],
                        candidates=candidates or [v for v in variants if v != (baseline or variants[0])]
                        or variants, models=variants, min_slice_size=min_cases, analyses=dict(analyses or {}))
    return gate(parse_rules(list(rules)), tables)
