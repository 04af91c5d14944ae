"""Bias probes for LLM judges: position swap and verbosity.

Position swap (Zheng et al., 2023, "Judging LLM-as-a-Judge with MT-Bench and Chatbot Arena",
section 3.3): every pair is judged as (a, b) and as (b, a). ``consistency`` is the share of
pairs with the same winning output in both orders (a tie in both orders is consistent);
``position_a_preference`` is the share of decisive verdicts (A or B) that name the first
position; ``tie_rate`` (judges with ``allow_tie``) the share of verdicts that are ties.

Verbosity (ibid., "verbosity bias"): an output is padded with irrelevant but harmless filler
and judged again. Pointwise: ``improved`` / ``worsened`` are the shares of cases whose padded
score is higher / lower, ``mean_change`` the mean score change. Pairwise: output a is padded in
(a, b), and a verdict improves when it moves towards a (B < tie < A).

Intervals: Wilson (``assay.stats.wilson_interval``) for shares, Student t for the mean change.
The two verdicts of one pair are correlated, so shares over verdicts use half their number as
the effective size (the design effect of clusters of two is at most 2): conservative, never
too narrow. Pairs or cases with an undetermined or error verdict in either run are left out
of the statistics and counted in ``n_excluded``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from assay._errors import InputError
from assay.llm._score import OK, CaseView
from assay.llm.judges._judge import PairView, judge_cases, pairwise_judge
from assay.llm.judges._rubric import JudgeConfig, PairwiseJudgeConfig
from assay.llm.providers._cache import ResponseCache
from assay.llm.providers._run import Provider
from assay.stats import t_interval, wilson_interval

PROBE_COLUMNS = ("probe", "statistic", "value", "ci_low", "ci_high", "n", "n_excluded", "method", "note")

#: harmless, off-topic filler that adds length and no information
FILLER = ("In addition, it is worth keeping in mind that clear communication matters, that careful "
          "reading helps, and that taking a moment to reflect is generally a good habit in many situations.")


def _row(probe: str, statistic: str, value: float, low: float, high: float, n: int, n_excluded: int,
         method: str, note: str) -> dict[str, object]:
    return {"probe": probe, "statistic": statistic, "value": value, "ci_low": low, "ci_high": high, "n": n,
            "n_excluded": n_excluded, "method": method, "note": note}


def _share(probe: str, statistic: str, k: int, n: int, n_eff: float, excluded: int, confidence: float,
           note: str) -> dict[str, object]:
    p = k / n if n else math.nan
    ci = wilson_interval(p, n_eff, confidence)
    method = "wilson" if n_eff == n else "wilson (effective n = verdicts / 2)"
    return _row(probe, statistic, p, ci.low, ci.high, n, excluded, method, note)


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise InputError(f"confidence must be between 0 and 1 (e.g. 0.95); got {confidence!r}")


def _swapped(pair: PairView) -> PairView:
    return replace(pair, a=pair.b, b=pair.a)


def position_swap_probe(judge: PairwiseJudgeConfig, pairs: Sequence[PairView], provider: Provider,
                        cache: ResponseCache | None = None, *, confidence: float = 0.95) -> pd.DataFrame:
    """Judge every pair in both orders (one batch) and report consistency, position-A preference
    and, for judges with ties, the tie rate; columns :data:`PROBE_COLUMNS`."""
    _check_confidence(confidence)
    pairs = list(pairs)
    verdicts = pairwise_judge(judge, pairs + [_swapped(p) for p in pairs], provider, cache)
    first, second = verdicts[: len(pairs)], verdicts[len(pairs):]
    # the winning output in original labels: swapped "A" is the original b
    back = {"A": "b", "B": "a", "tie": "tie"}
    forward = {"A": "a", "B": "b", "tie": "tie"}
    kept = [(f.winner, s.winner) for f, s in zip(first, second, strict=True)
            if f.status == OK and s.status == OK]
    excluded = len(pairs) - len(kept)
    why = f"; {excluded} pair(s) left out: undetermined or error verdict in an order" if excluded else ""
    consistent = sum(forward[w1] == back[w2] for w1, w2 in kept)  # type: ignore[index]
    labels = [w for pair in kept for w in pair]
    decisive = [w for w in labels if w != "tie"]
    rows = [
        _share("position_swap", "consistency", consistent, len(kept), len(kept), excluded, confidence,
               "share of pairs with the same winner in both orders" + why),
        _share("position_swap", "position_a_preference", sum(w == "A" for w in decisive), len(decisive),
               len(decisive) / 2, excluded, confidence,
               f"share of {len(decisive)} decisive verdicts naming position A (0.5: no position bias)"
               + why),
    ]
    if judge.allow_tie:
        rows.append(_share("position_swap", "tie_rate", sum(w == "tie" for w in labels), len(labels),
                           len(labels) / 2, excluded, confidence, "share of verdicts that are ties" + why))
    return pd.DataFrame(rows, columns=list(PROBE_COLUMNS))


def pad(text: str, filler: str = FILLER, repeats: int = 1) -> str:
    """``text`` followed by a blank line and ``repeats`` copies of ``filler``."""
    return text + "\n\n" + " ".join([filler] * repeats)


def _change_rows(deltas: list[float], excluded: int, confidence: float, what: str,
                 mean_row: bool) -> list[dict[str, object]]:
    n = len(deltas)
    why = f"; {excluded} left out: undetermined or error verdict" if excluded else ""
    up, down = sum(d > 0 for d in deltas), sum(d < 0 for d in deltas)
    rows = [_share("verbosity", "improved", up, n, n, excluded, confidence,
                   f"share of {what} whose verdict improves when padded" + why),
            _share("verbosity", "worsened", down, n, n, excluded, confidence,
                   f"share of {what} whose verdict worsens when padded" + why)]
    if mean_row:
        arr = np.asarray(deltas, dtype=float)
        mean = float(arr.mean()) if n else math.nan
        sd = float(arr.std(ddof=1)) if n >= 2 else math.nan
        ci = t_interval(mean, sd, n, confidence)
        rows.append(_row("verbosity", "mean_change", mean, ci.low, ci.high, n, excluded, "t",
                         "mean score change, padded minus original" + why))
    return rows


def verbosity_probe(judge: JudgeConfig | PairwiseJudgeConfig, items: Sequence[CaseView] | Sequence[PairView],
                    provider: Provider, cache: ResponseCache | None = None, *, filler: str = FILLER,
                    repeats: int = 1, confidence: float = 0.95) -> pd.DataFrame:
    """Judge each output as it is and padded with filler (one batch) and report how often the
    verdict improves or worsens; pointwise judges also get the mean score change. ``items`` are
    CaseViews for a pointwise judge, PairViews (output a is padded) for a pairwise one."""
    _check_confidence(confidence)
    if repeats < 1 or not filler.strip():
        raise InputError(f"verbosity_probe needs a non-blank filler and repeats >= 1; got repeats={repeats}")
    items = list(items)
    if isinstance(judge, JudgeConfig):
        if not all(isinstance(c, CaseView) for c in items):
            raise InputError("a pointwise judge's verbosity probe takes CaseViews (one output each)")
        padded = [replace(c, output=None if c.output is None else pad(c.output, filler, repeats))
                  for c in items]  # type: ignore[type-var]
        scores = judge_cases(judge, items + padded, provider, cache)  # type: ignore[operator]
        first, second = scores[: len(items)], scores[len(items):]
        both = [(f.value, s.value) for f, s in zip(first, second, strict=True)
                if f.status == OK and s.status == OK]
        deltas = [float(s) - float(f) for f, s in both]  # type: ignore[arg-type]
        rows = _change_rows(deltas, len(items) - len(both), confidence, "cases", True)
    elif isinstance(judge, PairwiseJudgeConfig):
        if not all(isinstance(p, PairView) for p in items):
            raise InputError("a pairwise judge's verbosity probe takes PairViews (output a is padded)")
        padded_pairs = [replace(p, a=None if p.a is None else pad(p.a, filler, repeats))
                        for p in items]  # type: ignore[type-var]
        verdicts = pairwise_judge(judge, items + padded_pairs, provider, cache)  # type: ignore[operator]
        rank = {"B": 0.0, "tie": 0.5, "A": 1.0}
        first_v, second_v = verdicts[: len(items)], verdicts[len(items):]
        both_v = [(f.winner, s.winner) for f, s in zip(first_v, second_v, strict=True)
                  if f.status == OK and s.status == OK]
        deltas = [rank[s] - rank[f] for f, s in both_v]  # type: ignore[index]
        rows = _change_rows(deltas, len(items) - len(both_v), confidence, "pairs", False)
    else:
        raise TypeError("verbosity_probe needs a JudgeConfig or PairwiseJudgeConfig, "
                        f"got {type(judge).__name__}")
    return pd.DataFrame(rows, columns=list(PROBE_COLUMNS))
