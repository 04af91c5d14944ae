"""The weak-segment search: sums per conjunction cell with ``np.bincount``, one-sided tests
of a segment against the rest, and the bounded choice of candidates to test.

A conjunction of conditions on columns (i, j, k) is one cell of the combined code
``(c_i * L_j + c_j) * L_k + c_k``, so one pass of ``np.bincount`` per column combination gives
every segment of that combination at once: count, sum of weights, sum of squared weights and
the (weighted) sums of the centred error and its square. A segment's rest is the total minus
the segment. Errors are centred on the half's mean before summing, so the variances below do
not lose digits to cancellation.

Tests (one-sided, H1: the segment's error is higher than the rest's):

* error rates: the pooled two-proportion z test, z = (p_s - p_r) / sqrt(p (1 - p) (1/n_s + 1/n_r))
  with p the pooled rate (as statsmodels' ``proportions_ztest``);
* absolute errors: Welch's t test with Welch-Satterthwaite degrees of freedom (Welch 1947);
* with weights, rates and means are weighted and n is Kish's effective size (sum w)^2 / sum w^2
  (Kish 1965); the weighted variance is sum w (x - m)^2 / sum w * n_eff / (n_eff - 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
from scipy import stats as st

#: cells per combination above which codes are compacted with np.unique instead of
#: np.bincount over every possible cell
_DENSE_LIMIT = 1 << 21
#: one-sided discovery p-value a cell needs to be considered for testing
DISCOVERY_SCREEN = 0.05


@dataclass
class Sums:
    """Per-cell sufficient statistics of the error (arrays of equal length)."""

    n: np.ndarray  # rows
    w: np.ndarray  # sum of weights (= n unweighted)
    w2: np.ndarray  # sum of squared weights (= n unweighted)
    s1: np.ndarray  # sum of w * (e - centre)
    s2: np.ndarray  # sum of w * (e - centre)^2

    def total(self) -> Sums:
        return Sums(*(np.array([a.sum()]) for a in (self.n, self.w, self.w2, self.s1, self.s2)))

    def rest_of(self, total: Sums) -> Sums:
        """The rest of the half: ``total`` minus these cells."""
        return Sums(total.n - self.n, total.w - self.w, total.w2 - self.w2,
                    total.s1 - self.s1, total.s2 - self.s2)

    def take(self, idx: np.ndarray) -> Sums:
        return Sums(self.n[idx], self.w[idx], self.w2[idx], self.s1[idx], self.s2[idx])


@dataclass
class Half:
    """One half's rows: codes per column, centred error, weights."""

    codes: list[np.ndarray]  # int32 per column
    err: np.ndarray  # error per row (0/1 or absolute error)
    w: np.ndarray | None
    w2: np.ndarray | None  # w * w
    centre: float  # (weighted) mean error of the half
    wdev: np.ndarray  # w * (err - centre) (err - centre when unweighted)
    wdev2: np.ndarray | None  # w * (err - centre)^2 (None: not needed, error rates)

    @classmethod
    def build(cls, codes: list[np.ndarray], err: np.ndarray, w: np.ndarray | None,
              second_moment: bool) -> Half:
        """A half's arrays; ``second_moment`` for absolute errors (Welch needs variances)."""
        centre = 0.0
        if err.size and (w is None or w.sum() > 0):
            centre = float(np.average(err, weights=w))
        dev = err - centre
        wdev = dev if w is None else w * dev
        return cls(codes, err, w, None if w is None else w * w, centre, wdev,
                   wdev * dev if second_moment else None)

    @property
    def size(self) -> int:
        return int(self.err.size)

    def combined(self, combo: tuple[int, ...], sizes: list[int]) -> np.ndarray:
        """The combined cell code of each row for a column combination."""
        wide = np.int64 if _cells(combo, sizes) >= 1 << 31 else np.int32
        code = self.codes[combo[0]].astype(wide, copy=len(combo) > 1)
        for c in combo[1:]:
            code *= wide(sizes[c])
            code += self.codes[c]
        return code

    def sums(self, code: np.ndarray, length: int) -> Sums:
        n = np.bincount(code, minlength=length).astype(np.float64)
        s1 = np.bincount(code, self.wdev, length)
        s2 = np.zeros(length) if self.wdev2 is None else np.bincount(code, self.wdev2, length)
        if self.w is None or self.w2 is None:
            return Sums(n, n, n, s1, s2)
        return Sums(n, np.bincount(code, self.w, length), np.bincount(code, self.w2, length), s1, s2)

    def all_sums(self) -> Sums:
        return self.sums(np.zeros(self.size, dtype=np.int32), 1)


def _cells(combo: tuple[int, ...], sizes: list[int]) -> int:
    out = 1
    for c in combo:
        out *= sizes[c]
    return out


def cell_sums(half: Half, combo: tuple[int, ...], sizes: list[int]) -> tuple[np.ndarray, Sums]:
    """(cell codes, sums) of every non-empty cell of a combination on one half."""
    code = half.combined(combo, sizes)
    cells = _cells(combo, sizes)
    if cells <= _DENSE_LIMIT:
        sums = half.sums(code, cells)
        present = np.flatnonzero(sums.n)
        return present, sums.take(present)
    uniq, inverse = np.unique(code, return_inverse=True)
    return uniq, half.sums(inverse.ravel(), uniq.size)


def decode(cell: int, combo: tuple[int, ...], sizes: list[int]) -> tuple[tuple[int, int], ...]:
    """(column, code) conditions of a combined cell."""
    out = []
    for c in reversed(combo):
        cell, v = divmod(int(cell), sizes[c])
        out.append((c, v))
    return tuple(reversed(out))


@dataclass
class TestResult:
    """Segment-vs-rest statistics for a set of cells (arrays)."""

    n: np.ndarray
    error: np.ndarray
    error_rest: np.ndarray
    gap: np.ndarray
    n_eff: np.ndarray
    n_eff_rest: np.ndarray
    se: np.ndarray  # standard error of the gap under the test's variance
    df: np.ndarray  # Welch degrees of freedom (inf for the z test)
    stat: np.ndarray
    p: np.ndarray  # one-sided p-value (NaN: not testable)


def compare(seg: Sums, total: Sums, centre: float, metric: str) -> TestResult:
    """One-sided tests of each segment against the rest of its half (see the module doc)."""
    rest = seg.rest_of(total)
    with np.errstate(divide="ignore", invalid="ignore"):
        m_s = seg.s1 / seg.w
        m_r = rest.s1 / rest.w
        ne_s = seg.w * seg.w / seg.w2
        ne_r = rest.w * rest.w / rest.w2
        gap = m_s - m_r
        if metric == "error_rate":
            p_s, p_r = m_s + centre, m_r + centre
            pooled = (seg.s1 + rest.s1) / (seg.w + rest.w) + centre
            var = pooled * (1.0 - pooled)
            se = np.sqrt(np.maximum(var, 0.0) * (1.0 / ne_s + 1.0 / ne_r))
            df = np.full(gap.shape, np.inf)
        else:
            p_s, p_r = m_s + centre, m_r + centre
            v_s = _variance(seg, m_s, ne_s)
            v_r = _variance(rest, m_r, ne_r)
            a, b = v_s / ne_s, v_r / ne_r
            se = np.sqrt(a + b)
            df = (a + b) ** 2 / (a * a / (ne_s - 1.0) + b * b / (ne_r - 1.0))
        stat = gap / se
        p = st.norm.sf(stat) if metric == "error_rate" else st.t.sf(stat, df)
    # no variance at all: a difference is certain, none is no evidence
    flat = se == 0
    p = np.where(flat, np.where(gap > 0, 0.0, 1.0), p)
    untestable = (seg.n < 1) | (rest.n < 1) | ~np.isfinite(gap)
    if metric != "error_rate":
        untestable |= (ne_s <= 1.0) | (ne_r <= 1.0)
    p = np.where(untestable, np.nan, p)
    return TestResult(seg.n, p_s, p_r, gap, ne_s, ne_r, se, df, stat, p)


def _variance(s: Sums, mean: np.ndarray, n_eff: np.ndarray) -> np.ndarray:
    """Unbiased (weighted: Kish-corrected) variance from centred sums."""
    with np.errstate(divide="ignore", invalid="ignore"):
        pop = np.maximum(s.s2 / s.w - mean * mean, 0.0)
        return pop * n_eff / (n_eff - 1.0)


@dataclass
class Candidate:
    """A segment chosen on the discovery half: its conditions and discovery statistics."""

    conditions: tuple[tuple[int, int], ...]  # (column index, code), column order
    n_discovery: int
    gap_discovery: float
    stat_discovery: float
    impact_discovery: float

    @property
    def combo(self) -> tuple[int, ...]:
        return tuple(c for c, _ in self.conditions)


@dataclass
class Discovery:
    """What the search over the discovery half found."""

    candidates: list[Candidate]
    searched: int  # segments with at least min_size discovery rows (scored)
    combinations: int  # column combinations aggregated
    screened: int  # segments worse than the rest at the discovery screen
    refinements_skipped: int  # minor refinements of chosen segments (see choose)

    @property
    def over_limit(self) -> int:
        """Screened segments left untested because the limit was reached."""
        return self.screened - len(self.candidates) - self.refinements_skipped


def discover(half: Half, sizes: list[int], max_conditions: int, min_size: int, metric: str,
             limit: int, overlap: float) -> Discovery:
    """Score every conjunction of 1..max_conditions columns on the discovery half and choose
    at most ``limit`` candidates to test (see :func:`choose`)."""
    total = half.all_sums()
    overall = half.centre
    found: list[tuple] = []
    searched = n_combos = 0
    for r in range(1, max_conditions + 1):
        for combo in combinations(range(len(sizes)), r):
            n_combos += 1
            cells, sums = cell_sums(half, combo, sizes)
            ok = (sums.n >= min_size) & (sums.n < half.size)
            searched += int(ok.sum())
            if not ok.any():
                continue
            cells, sums = cells[ok], sums.take(np.flatnonzero(ok))
            res = compare(sums, total, half.centre, metric)
            good = (res.gap > 0) & (res.p < DISCOVERY_SCREEN)
            if good.any():
                impact = res.n * (res.error - overall)
                for j in np.flatnonzero(good):
                    found.append((combo, int(cells[j]), int(res.n[j]), float(res.gap[j]),
                                  float(res.stat[j]), float(impact[j])))
    cands = [Candidate(decode(cell, combo, sizes), n, g, z, imp)
             for combo, cell, n, g, z, imp in found]
    chosen, skipped = choose(cands, limit, overlap)
    return Discovery(chosen, searched, n_combos, len(cands), skipped)


def choose(cands: list[Candidate], limit: int,
           overlap: float) -> tuple[list[Candidate], int]:
    """At most ``limit`` candidates, taken alternately from the ranking by discovery impact
    and by discovery statistic (ties by conditions, so the choice is deterministic).

    A refinement of a chosen segment (its conditions contain the chosen one's, so its rows lie
    inside) is skipped unless it carries more than ``overlap`` of the chosen one's excess
    errors: otherwise the pruning on the test half would drop it anyway, and the refinements
    of one strong segment would crowd out other segments. (Excess errors add over disjoint
    rows, so the chosen segment's rows outside the refinement carry the difference.) Returns
    the chosen candidates and the number of refinements skipped."""
    by_impact = sorted(cands, key=lambda c: (-c.impact_discovery, c.conditions))
    by_stat = sorted(cands, key=lambda c: (-c.stat_discovery, c.conditions))
    chosen: dict[tuple, Candidate] = {}
    skipped: set[tuple] = set()
    for pair in zip(by_impact, by_stat, strict=True):
        for c in pair:
            if len(chosen) >= limit:
                return list(chosen.values()), len(skipped)
            if c.conditions in chosen or c.conditions in skipped:
                continue
            if _minor_refinement(c, chosen, overlap):
                skipped.add(c.conditions)
            else:
                chosen[c.conditions] = c
    return list(chosen.values()), len(skipped)


def _minor_refinement(c: Candidate, chosen: dict[tuple, Candidate], overlap: float) -> bool:
    conds = c.conditions
    for r in range(1, len(conds)):
        for sub in combinations(conds, r):
            parent = chosen.get(sub)
            if parent is not None and c.impact_discovery <= overlap * parent.impact_discovery:
                return True
    return False
