"""Error analysis: weak segments, conjunctions of conditions where the model errs more.

Method.

1. Error per row: binary, misclassification at ``rows.threshold`` (positive iff
   score >= threshold); multiclass, argmax != label; regression, |label - prediction|. With
   weights, error rates and mean errors are weighted.
2. The rows are split in two halves by a seeded hash of ``rows.key`` (order independent).
   Conditions are learnt on the discovery half only (top values of text columns, quantile bin
   edges of numeric ones; see ``_segments_encode``).
3. Discovery: every conjunction of 1..``max_conditions`` distinct columns is aggregated with
   one ``np.bincount`` pass per column combination; segments with at least ``min_size`` rows
   that are worse than the rest (one-sided p < 0.05) are ranked by their excess errors and by
   their test statistic, and a bounded number (``max(200, 5 * top)``) is chosen to test,
   skipping refinements of a chosen segment that carry at most ``overlap`` of its excess
   errors (step 6 would as a rule drop them). Searching and testing on different halves keeps
   the search from inflating its own significance (cf. the holdout approach to
   subgroup discovery, Webb 2007, Machine Learning 68:1-33, and data splitting, Cox 1975,
   Biometrika 62:441-444).
4. Test half: each candidate's error and the rest's are recomputed on the test half; the
   one-sided test is the pooled two-proportion z test for error rates and Welch's t test for
   absolute errors (weighted: Kish effective sizes); Benjamini-Hochberg (1995) across the
   tested candidates at ``fdr``; a segment needs ``min_size`` test rows to be tested.
5. Ranking by impact = n x (error - overall error) on the test half = the segment's excess
   errors over the overall rate (n x (1 - n/N) x gap; N x the weighted relative accuracy of
   subgroup discovery, Lavrac et al. 2004, JMLR 5:153-188). Unlike n x gap it does not tie a
   segment with a wider one that adds rows of ordinary error ("region = north" around
   "region = north & age >= 52"), so the precise segment tends to rank first.
6. Pruning, greedily in rank order. A segment with more than ``overlap`` of its test rows in
   one better-ranked kept segment is dropped ("mostly inside"), unless it replaces that
   segment: when it has fewer conditions and nearly the same rows (fewer than ``min_size``
   differ), or when it is narrower and the wider segment's other rows are, even at the upper
   one-sided (1 - fdr) bound of their error, less than half as much worse than the overall
   error as the wider segment (its excess errors are concentrated in the narrower one). A
   segment that overlaps the kept ones less is dropped when its rows outside all of them are
   fewer than ``min_size``, carry at most (1 - overlap) of its excess errors, or are not worse
   than the other rows outside them (one-sided p > ``fdr``). Every pruned segment is listed
   with its reason in the summary chart. The false-discovery rate holds over the tested
   segments; pruning only removes, so it cannot add a false discovery, but the share of
   false ones among the few reported can exceed ``fdr`` when true overlapping variants fill
   BH's list.

Numbers and intervals: n, error, error_rest, gap, p_value, p_adjusted and impact come from
the test half. The gap's interval (at ``rows.confidence``) is Newcombe's hybrid score
interval (MOVER on Wilson intervals, Newcombe 1998) for error rates and the Welch t interval
for mean absolute errors; with weights both use Kish effective sizes. With
``rows.replicates == 0`` (``intervals: false``) the bounds are NaN.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as st

from assay._errors import InputError
from assay.analysis._rows import AnalysisOutput, AnalysisRows
from assay.analysis._segments_encode import EncodedColumn, encode_column
from assay.analysis._segments_search import (
    Candidate,
    Discovery,
    Half,
    Sums,
    TestResult,
    cell_sums,
    compare,
    discover,
)
from assay.engine._replicates import mix64
from assay.metrics._base import NO_INTERVALS
from assay.spec import ErrorAnalysisSpec
from assay.stats import benjamini_hochberg, newcombe_difference

COLUMNS = ["model", "rank", "segment", "conditions", "n", "n_discovery", "error", "error_rest",
           "gap", "gap_low", "gap_high", "p_value", "p_adjusted", "impact", "metric", "method",
           "note"]
_SALT = 0x5E6_3E47  # this module's fixed salt for the seeded split
_TOP_CONFUSIONS = 10


def analyse_segments(rows: AnalysisRows, spec: ErrorAnalysisSpec) -> AnalysisOutput:
    """Weak segments of one model: conjunctions of up to ``spec.max_conditions`` conditions
    whose error is significantly worse than the rest's, found on one seeded half of the rows
    and tested on the other, ranked by impact and pruned of overlaps (see the module doc).

    Returns the table ``segments`` (columns :data:`COLUMNS`) and the charts ``summary``,
    ``examples`` and, for multiclass, ``confusion`` and ``confusions``, keyed by model."""
    err, pred, conf = row_errors(rows)
    metric = "abs_error" if rows.task == "regression" else "error_rate"
    disc = discovery_mask(rows.key, rows.seed)
    out = AnalysisOutput(tables={"segments": _empty()},
                         charts={"summary": {}, "examples": {rows.model: {}}})
    if rows.task == "multiclass":
        _overall_confusion(rows, pred, out)
    columns, left_out = _encode_all(rows, disc, spec)
    summary = {"searched": 0, "tested": 0, "significant": 0, "reported": 0,
               "discovery_rows": int(disc.sum()), "test_rows": int((~disc).sum()),
               "columns": [c.name for c in columns], "left_out": left_out,
               "method": _method(rows, spec, metric)}
    out.charts["summary"][rows.model] = summary
    if not columns:
        summary["note"] = ("no candidate columns" if not rows.columns else
                           "no candidate column has two or more values") + \
            ": list columns with several values in error_analysis.columns"
        return out
    search = _Search(rows, spec, metric, columns, disc, err)
    found = search.run()
    summary.update(found.counts)
    summary["pruned_segments"] = _pruned_list(search, found)
    summary["note"] = found.note
    if found.kept:
        frame = _table(rows, spec, metric, search, found)
        out.tables["segments"] = frame
        _examples(rows, search, found, err, pred, conf, out)
        if rows.task == "multiclass":
            _segment_confusions(rows, search, found, pred, out)
    return out


# ---- errors and the split ----------------------------------------------------------------


def row_errors(rows: AnalysisRows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(error, prediction, confidence in the prediction) per row.

    Binary: prediction 1 iff score >= threshold, error 0/1, confidence = score for a positive
    prediction, 1 - score for a negative one. Multiclass: argmax, confidence = its probability.
    Regression: error |y - prediction|, confidence NaN."""
    y, s = np.asarray(rows.y), np.asarray(rows.scores, dtype=np.float64)
    n = y.shape[0]
    if rows.w is not None and np.asarray(rows.w).shape != (n,):
        raise InputError(f"error_analysis: weights have shape {np.shape(rows.w)}, expected ({n},)")
    if rows.task == "binary":
        _check_shape(s, (n,), "scores")
        pred = (s >= rows.threshold).astype(np.int64)
        err = (pred != y).astype(np.float64)
        return err, pred, np.where(pred == 1, s, 1.0 - s)
    if rows.task == "multiclass":
        _check_shape(s, (n, len(rows.classes)), "scores")
        pred = s.argmax(axis=1) if n else np.zeros(0, dtype=np.int64)
        err = (pred != y).astype(np.float64)
        return err, pred, s[np.arange(n), pred] if n else np.zeros(0)
    if rows.task == "regression":
        _check_shape(s, (n,), "predictions")
        err = np.abs(y.astype(np.float64) - s)
        return err, s, np.full(n, np.nan)
    raise InputError(f"error_analysis: task {rows.task!r} is not supported; use binary, "
                     "multiclass or regression")


def _check_shape(a: np.ndarray, shape: tuple[int, ...], what: str) -> None:
    if a.shape != shape:
        raise InputError(f"error_analysis: {what} have shape {a.shape}, expected {shape}")


def discovery_mask(key: np.ndarray, seed: tuple[int, ...]) -> np.ndarray:
    """True for the discovery half: the top bit of a seeded hash of each row's key, so the
    split depends on the rows' keys and the seed, not on their order."""
    salt = np.random.default_rng([*seed, _SALT]).integers(0, 1 << 63, dtype=np.uint64)
    h = mix64(np.asarray(key, dtype=np.uint64) ^ salt)
    return h < np.uint64(1 << 63)


def _encode_all(rows: AnalysisRows, disc: np.ndarray,
                spec: ErrorAnalysisSpec) -> tuple[list[EncodedColumn], dict[str, str]]:
    columns, left_out = [], {}
    for name in rows.columns:
        col = encode_column(name, rows.columns[name], disc, spec.max_levels, spec.quantiles)
        if rows.n and col.codes.min() == col.codes.max():
            left_out[name] = f"one value only ({col.texts[int(col.codes[0])]}): no segment differs"
            continue
        columns.append(col)
    return columns, left_out


# ---- search, test, rank, prune ------------------------------------------------------------


@dataclass
class Found:
    """The tested candidates and what survived."""

    candidates: list[Candidate]
    result: TestResult | None  # test-half statistics of the candidates
    p_adjusted: np.ndarray
    impact: np.ndarray
    kept: list[int]  # indices into candidates, in rank order
    masks: dict[int, np.ndarray]  # test-half row masks of the kept ones
    pruned: dict[int, str]  # index -> why it was pruned
    counts: dict[str, int]
    note: str


class _Search:
    """Runs the search for one model and holds what the report parts need."""

    def __init__(self, rows: AnalysisRows, spec: ErrorAnalysisSpec, metric: str,
                 columns: list[EncodedColumn], disc: np.ndarray, err: np.ndarray) -> None:
        self.rows, self.spec, self.metric, self.columns = rows, spec, metric, columns
        self.sizes = [c.levels for c in columns]
        self.test_rows = np.flatnonzero(~disc)
        w = None if rows.w is None else np.asarray(rows.w, dtype=np.float64)
        moment = metric == "abs_error"
        self.disc = Half.build([c.codes[disc] for c in columns], err[disc],
                               None if w is None else w[disc], moment)
        self.test = Half.build([c.codes[~disc] for c in columns], err[~disc],
                               None if w is None else w[~disc], moment)

    def run(self) -> Found:
        spec = self.spec
        d = discover(self.disc, self.sizes, spec.max_conditions, spec.min_size, self.metric,
                     max(200, 5 * spec.top), spec.overlap)
        cands = d.candidates
        counts = {"combinations": d.combinations, "searched": d.searched, "screened": d.screened,
                  "refinements_skipped": d.refinements_skipped, "over_limit": d.over_limit,
                  "tested": 0, "too_small_in_test": 0, "significant": 0, "pruned": 0,
                  "below_top": 0, "reported": 0}
        if not cands:
            return Found([], None, np.zeros(0), np.zeros(0), [], {}, {}, counts, _none_note(d))
        res = self._test(cands)
        small = res.n < spec.min_size
        res.p = np.where(small, np.nan, res.p)  # too few test rows: not tested, not in BH's m
        p_adj = benjamini_hochberg(res.p)
        impact = res.n * (res.error - self.test.centre)
        sig = np.flatnonzero((p_adj <= spec.fdr) & (res.gap > 0))
        order = sorted(sig, key=lambda i: (-impact[i], self.text(cands[i])))
        kept, masks, pruned = self._prune(cands, order, impact)
        counts.update(tested=int(np.isfinite(res.p).sum()), too_small_in_test=int(small.sum()),
                      significant=len(sig), pruned=len(pruned),
                      below_top=len(sig) - len(pruned) - len(kept), reported=len(kept))
        note = "" if kept else (
            f"no segment is significantly worse than the rest at fdr={spec.fdr:g} "
            f"({counts['tested']} tested on the test half)")
        return Found(cands, res, p_adj, impact, kept, masks, pruned, counts, note)

    def _test(self, cands: list[Candidate]) -> TestResult:
        """Test-half statistics of each candidate (one bincount pass per column combination)."""
        total = self.test.all_sums()
        seg = Sums(*(np.zeros(len(cands)) for _ in range(5)))
        by_combo: dict[tuple[int, ...], list[int]] = {}
        for i, c in enumerate(cands):
            by_combo.setdefault(c.combo, []).append(i)
        for combo, idx in by_combo.items():
            cells, sums = cell_sums(self.test, combo, self.sizes)
            if cells.size == 0:
                continue
            want = np.array([self._cell(cands[i]) for i in idx], dtype=np.int64)
            pos = np.minimum(np.searchsorted(cells, want), cells.size - 1)
            hit = cells[pos] == want
            rows_at = np.asarray(idx)[hit]
            for name in ("n", "w", "w2", "s1", "s2"):
                getattr(seg, name)[rows_at] = getattr(sums, name)[pos[hit]]
        return compare(seg, total, self.test.centre, self.metric)

    def _cell(self, c: Candidate) -> int:
        code = 0
        for col, v in c.conditions:
            code = code * self.sizes[col] + v
        return code

    def mask(self, c: Candidate) -> np.ndarray:
        """Test-half rows in the segment."""
        m = np.ones(self.test.size, dtype=bool)
        for col, v in c.conditions:
            m &= self.test.codes[col] == v
        return m

    def text(self, c: Candidate) -> str:
        return " & ".join(self.columns[col].texts[v] for col, v in c.conditions)

    def conditions(self, c: Candidate) -> list[dict]:
        return [self.columns[col].conditions[v] for col, v in c.conditions]

    def _prune(self, cands: list[Candidate], order: list[int], impact: np.ndarray
               ) -> tuple[list[int], dict[int, np.ndarray], dict[int, str]]:
        """Greedy pruning in rank order (module doc, step 6): the kept candidates in rank
        order (at most ``top``), their test-half masks, and why each other one was pruned."""
        kept: list[int] = []
        masks: dict[int, np.ndarray] = {}
        pruned: dict[int, str] = {}
        for i in order:
            m = self.mask(cands[i])
            union = np.logical_or.reduce([masks[k] for k in kept]) if kept else None
            holders = [k for k in kept if (m & masks[k]).sum() > self.spec.overlap * m.sum()]
            if holders:
                why = {k: self._replaces(cands[i], m, cands[k], masks[k]) for k in holders}
                if not all(why.values()):
                    names = ", ".join(repr(self.text(cands[k])) for k in holders)
                    pruned[i] = f"mostly inside {names}"
                    continue
                for k in holders:
                    pruned[k] = f"replaced by {self.text(cands[i])!r}, {why[k]}"
                kept = [k for k in kept if k not in holders]
            elif union is not None and not self._adds(m, impact[i], union):
                pruned[i] = "explained by better-ranked segments (its rows outside them add little)"
                continue
            kept.append(i)
            masks[i] = m
        kept.sort(key=lambda i: (-impact[i], self.text(cands[i])))
        kept = kept[: self.spec.top]
        return kept, {i: masks[i] for i in kept}, pruned

    def _replaces(self, c: Candidate, m: np.ndarray, holder: Candidate, hm: np.ndarray) -> str:
        """Why a lower-ranked segment ``c`` (mostly inside ``holder``) should replace it, or
        "" when it should not. With nearly the same rows (fewer than min_size differ) the one
        with fewer conditions stays. Otherwise ``c`` replaces a wider holder whose rows outside
        ``c`` are, even at the upper one-sided (1 - fdr) bound of their mean error, less than
        half as much worse than the overall error as the holder: the holder's excess errors
        are concentrated in ``c``. (An effect-size rule with its uncertainty; a test of "not
        worse" would call any small difference real when rows are many.)"""
        if (m ^ hm).sum() < self.spec.min_size:
            if len(c.conditions) < len(holder.conditions):
                return "which is simpler and has nearly the same rows"
            return ""
        if m.sum() < hm.sum() and self._excess_upper(hm & ~m) < 0.5 * self._excess_rate(hm):
            return "which lies inside it and holds most of its excess errors"
        return ""

    def _adds(self, m: np.ndarray, impact: float, union: np.ndarray) -> bool:
        """Whether a segment's rows outside the kept segments are at least min_size, carry
        more than (1 - overlap) of its excess errors and are worse than the other rows outside
        them (one-sided p <= fdr)."""
        residual = m & ~union
        if residual.sum() < self.spec.min_size:
            return False
        if self._excess(residual) <= (1.0 - self.spec.overlap) * impact:
            return False
        return self._worse(residual, ~union & ~m)

    def _worse(self, a: np.ndarray, b: np.ndarray) -> bool:
        """One-sided test (the table's) that test-half rows ``a`` err more than rows ``b``."""
        res = compare(self._sums(a), self._sums(a | b), self.test.centre, self.metric)
        return bool(res.p[0] <= self.spec.fdr and res.gap[0] > 0)

    def _excess_rate(self, m: np.ndarray) -> float:
        """(Weighted) mean error of the test-half rows in ``m`` minus the overall error."""
        s = self._sums(m)
        return float(s.s1[0] / s.w[0]) if s.w[0] > 0 else 0.0

    def _excess_upper(self, m: np.ndarray) -> float:
        """Upper one-sided (1 - fdr) normal bound of :meth:`_excess_rate` (Kish sizes)."""
        s = self._sums(m)
        if s.w[0] <= 0 or s.n[0] < 2:
            return math.inf
        mean = float(s.s1[0] / s.w[0])
        n_eff = float(s.w[0] ** 2 / s.w2[0])
        if self.metric == "error_rate":
            p = min(max(mean + self.test.centre, 0.0), 1.0)
            var = p * (1.0 - p)
        else:
            var = max(float(s.s2[0] / s.w[0]) - mean * mean, 0.0) * n_eff / max(n_eff - 1.0, 1.0)
        return mean + float(st.norm.isf(self.spec.fdr)) * math.sqrt(var / n_eff)

    def _excess(self, m: np.ndarray) -> float:
        """Excess errors n x (error - overall error) of the test-half rows in ``m``."""
        return float(m.sum()) * self._excess_rate(m)

    def _sums(self, m: np.ndarray) -> Sums:
        h = self.test
        n = np.array([float(m.sum())])
        s1 = np.array([h.wdev[m].sum()])
        s2 = np.array([0.0 if h.wdev2 is None else h.wdev2[m].sum()])
        if h.w is None or h.w2 is None:
            return Sums(n, n, n, s1, s2)
        return Sums(n, np.array([h.w[m].sum()]), np.array([h.w2[m].sum()]), s1, s2)


def _none_note(d: Discovery) -> str:
    if d.searched == 0:
        return "no segment has min_size rows in the discovery half: lower min_size or add rows"
    return (f"no segment is worse than the rest in the discovery half ({d.searched} searched "
            "with at least min_size rows)")


# ---- output --------------------------------------------------------------------------------


def _method(rows: AnalysisRows, spec: ErrorAnalysisSpec, metric: str) -> str:
    test = "pooled two-proportion z test" if metric == "error_rate" else "Welch t test"
    ci = "Newcombe hybrid score" if metric == "error_rate" else "Welch t"
    if rows.replicates == 0:
        ci = NO_INTERVALS
    weighted = "; weighted, Kish effective sizes" if rows.weighted else ""
    return (f"seeded half split; search on the discovery half (<= {spec.max_conditions} "
            f"conditions); one-sided {test} on the test half; Benjamini-Hochberg at "
            f"fdr={spec.fdr:g}; gap interval: {ci}{weighted}")


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=_DTYPES.get(c, object)) for c in COLUMNS})


_DTYPES = {"rank": "int64", "n": "int64", "n_discovery": "int64", "error": "float64",
           "error_rest": "float64", "gap": "float64", "gap_low": "float64", "gap_high": "float64",
           "p_value": "float64", "p_adjusted": "float64", "impact": "float64"}


def _pruned_list(search: _Search, found: Found) -> list[dict]:
    """The significant segments that pruning removed, best first, with the reason."""
    r = found.result
    if r is None:
        return []
    return [{"segment": search.text(found.candidates[i]), "n": int(r.n[i]), "gap": float(r.gap[i]),
             "impact": float(found.impact[i]), "reason": found.pruned[i]}
            for i in sorted(found.pruned, key=lambda i: -found.impact[i])]


def _gap_interval(rows: AnalysisRows, metric: str, r: TestResult, i: int) -> tuple[float, float]:
    if rows.replicates == 0:
        return math.nan, math.nan
    if metric == "error_rate":
        ci = newcombe_difference(float(r.error[i]), float(r.n_eff[i]), float(r.error_rest[i]),
                                 float(r.n_eff_rest[i]), rows.confidence)
        return ci.low, ci.high
    q = float(st.t.ppf(0.5 + rows.confidence / 2.0, r.df[i]))
    return float(r.gap[i] - q * r.se[i]), float(r.gap[i] + q * r.se[i])


def _table(rows: AnalysisRows, spec: ErrorAnalysisSpec, metric: str, search: _Search,
           found: Found) -> pd.DataFrame:
    r = found.result
    assert r is not None
    method = _method(rows, spec, metric)
    records = []
    for rank, i in enumerate(found.kept, start=1):
        c = found.candidates[i]
        low, high = _gap_interval(rows, metric, r, i)
        note = ""
        if rows.weighted:
            note = (f"weighted; Kish effective n {r.n_eff[i]:.1f} in the segment, "
                    f"{r.n_eff_rest[i]:.1f} in the rest")
        records.append({
            "model": rows.model, "rank": rank, "segment": search.text(c),
            "conditions": json.dumps(search.conditions(c)), "n": int(r.n[i]),
            "n_discovery": c.n_discovery, "error": float(r.error[i]),
            "error_rest": float(r.error_rest[i]), "gap": float(r.gap[i]), "gap_low": low,
            "gap_high": high, "p_value": float(r.p[i]), "p_adjusted": float(found.p_adjusted[i]),
            "impact": float(found.impact[i]), "metric": metric, "method": method, "note": note})
    return pd.DataFrame.from_records(records, columns=COLUMNS).astype(_DTYPES)


def _py(v: object) -> object:
    """A JSON-ready scalar (NaN and None -> None)."""
    if isinstance(v, np.generic):
        v = v.item()
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return v


def _label(rows: AnalysisRows, code: object) -> object:
    if rows.task == "regression":
        return _py(code)
    k = int(code)  # type: ignore[call-overload]
    return rows.classes[k] if 0 <= k < len(rows.classes) else k


def _examples(rows: AnalysisRows, search: _Search, found: Found, err: np.ndarray,
              pred: np.ndarray, conf: np.ndarray, out: AnalysisOutput) -> None:
    """Up to ``spec.examples`` test-half rows per segment with the largest error (classifiers:
    misclassified first, most confident wrong first); only the segment's condition columns."""
    per_model = out.charts["examples"][rows.model]
    for rank, i in enumerate(found.kept, start=1):
        c = found.candidates[i]
        idx = search.test_rows[found.masks[i]]
        tie = np.nan_to_num(conf[idx], nan=0.0)
        order = np.lexsort((rows.row_number[idx], -tie, -err[idx]))[: search.spec.examples]
        names = [search.columns[col].name for col, _ in c.conditions]
        items = []
        for j in idx[order]:
            item = {"row": int(rows.row_number[j]), "label": _label(rows, rows.y[j]),
                    "prediction": _label(rows, pred[j]), "score": _score(rows, j, conf),
                    "error": float(err[j])}
            for name in names:
                item[name] = _py(rows.columns[name][j])
            items.append(item)
        per_model[str(rank)] = items


def _score(rows: AnalysisRows, j: int, conf: np.ndarray) -> object:
    if rows.task == "binary":
        return float(rows.scores[j])
    if rows.task == "multiclass":
        return float(conf[j])
    return None


def _matrix(rows: AnalysisRows, y: np.ndarray, pred: np.ndarray,
            w: np.ndarray | None) -> list[list]:
    k = len(rows.classes)
    cells = np.bincount(y.astype(np.int64) * k + pred, weights=w, minlength=k * k)[: k * k]
    m = cells.reshape(k, k)
    return m.astype(np.int64).tolist() if w is None else m.tolist()


def _overall_confusion(rows: AnalysisRows, pred: np.ndarray, out: AnalysisOutput) -> None:
    """The confusion matrix over all rows and its largest off-diagonal cells."""
    k = len(rows.classes)
    w = None if rows.w is None else np.asarray(rows.w, dtype=np.float64)
    m = np.array(_matrix(rows, rows.y, pred, w), dtype=np.float64)
    out.charts["confusion"] = {rows.model: {"overall": {"labels": list(rows.classes),
                                                        "matrix": _matrix(rows, rows.y, pred, w)}}}
    off = m.copy()
    np.fill_diagonal(off, 0.0)
    wrong = off.sum()
    per_true = m.sum(axis=1)
    pairs = [(off[a, b], a, b) for a in range(k) for b in range(k) if a != b and off[a, b] > 0]
    pairs.sort(key=lambda t: (-t[0], t[1], t[2]))
    out.charts["confusions"] = {rows.model: [
        {"true": rows.classes[a], "predicted": rows.classes[b],
         "count": int(v) if w is None else float(v), "share": float(v / wrong),
         "rate": float(v / per_true[a])} for v, a, b in pairs[:_TOP_CONFUSIONS]]}


def _segment_confusions(rows: AnalysisRows, search: _Search, found: Found, pred: np.ndarray,
                        out: AnalysisOutput) -> None:
    per_model = out.charts["confusion"][rows.model]
    w = None if rows.w is None else np.asarray(rows.w, dtype=np.float64)
    for rank, i in enumerate(found.kept, start=1):
        idx = search.test_rows[found.masks[i]]
        per_model[str(rank)] = {"labels": list(rows.classes),
                                "matrix": _matrix(rows, rows.y[idx], pred[idx],
                                                  None if w is None else w[idx])}
