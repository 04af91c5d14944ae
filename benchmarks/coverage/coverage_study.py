"""Coverage study of assay's confidence intervals (accuracy, F1, ROC AUC, MAE).

Run::

    python benchmarks/coverage/coverage_study.py [--sims 2000] [--workers 2] \
        [--out benchmarks/coverage/results.json]

Design (see docs/coverage.md for the discussion of the results):

* Binary grid: n in {50, 500, 5000} x prevalence in {0.05, 0.5} x population AUC in
  {0.7, 0.95}; every cell runs ``--sims`` seeded simulations.
* Binormal data model: y ~ Bernoulli(prevalence), latent x | y ~ N(mu * y, 1) with
  mu = sqrt(2) * Phi^{-1}(AUC), so the population ROC AUC P(x_pos > x_neg) = Phi(mu / sqrt 2)
  is exactly the target. The probability score is the fixed monotone map
  s = logistic(mu * x - mu^2 / 2), which is the exact posterior P(y = 1 | x) at prevalence
  0.5 (calibrated there, over-predicting by the prior odds at prevalence 0.05). The same
  map is used at both prevalences, so the 0.5 threshold is always the point x >= mu / 2
  where sensitivity equals specificity and F1 is non-degenerate in every cell.
* Population values are analytic (normal CDFs), never simulated: with c = mu / 2,
  TP = pi * Phi(mu - c), FN = pi * Phi(c - mu), FP = (1 - pi) * (1 - Phi(c)),
  TN = (1 - pi) * Phi(c); accuracy = TP + TN; F1 = 2 TP / (2 TP + FP + FN) (the limit of
  assay's plug-in estimator); AUC = target (also checked by numerical integration).
* Regression (MAE), on the n axis only: y ~ N(0, 1), prediction = y + e with
  (a) e ~ N(0, 1): MAE = E|e| = sqrt(2 / pi), and
  (b) e ~ 0.9 N(0, 1) + 0.1 N(0, 5^2): MAE = sqrt(2 / pi) * (0.9 * 1 + 0.1 * 5).
* Calls: ``assay._estimate.estimate(task, y, s, metrics=[...], confidence=0.95,
  seed=..., replicates=1000)``; one call per simulation computes accuracy, f1 and roc_auc.
* Seeds: data for simulation i of a cell come from
  ``np.random.default_rng([BASE_SEED, cell_key, i])`` and assay's bootstrap gets
  ``seed = cell_key * 1_000_000 + i``, where cell_key is a CRC32 of the cell's parameters;
  results do not depend on the number of workers or the chunking. The data are the same
  samples as in the study of the previous methods (results_previous_methods.json).
* For each (cell, metric): coverage over simulations whose value and interval are both
  defined (+- binomial SE), coverage counting undefined intervals as misses, mean/median
  width, undefined counts (value undefined vs. value defined but no interval), zero-width
  intervals, misses by side, pass = coverage (defined) in [0.925, 0.970], and what assay's
  notes said: how many results carry a caution note (small class: "approximate";
  "perfect separation"; skewed |error| for MAE; "degenerate bootstrap") and the coverage
  with and without one. Binary rows also give coverage by the size of the smaller class.
* Comparators that are NOT assay's current methods, scored on the same samples:
  - "roc_auc_wald_delong": assay's previous AUC interval, reconstructed exactly
    (estimate +- z * DeLong SE, clipped to [0, 1]; DeLong SE = 0 at AUC-hat 0 or 1, which
    gives a zero-width interval). It reproduces the previous study's numbers, which shows
    that old and new results are paired on identical samples.
  - "roc_auc_score_hm": a score-type interval, {A : (AUC-hat - A)^2 <= z^2 V(A)}, with the
    Hanley-McNeil variance in which both class sizes are replaced by their mean
    (Newcombe 2006): V(A) = A (1 - A) / (P N) * [1 + (N* - 1) ((1 - A) / (2 - A)
    + A / (1 + A))], N* = (P + N) / 2. It needs only AUC-hat, P and N and is defined at
    AUC-hat 0 or 1; scored as a candidate for the cells the current method still fails.
  - "f1_jaccard_wilson" (a check, not tabulated): an independent implementation of the
    Wilson-on-Jaccard F1 interval that assay now uses; the largest difference from assay's
    bounds is recorded in the metadata.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
import zlib
from multiprocessing import Pool

import numpy as np
from scipy import integrate, optimize
from scipy import stats as st
from scipy.special import expit

from assay._estimate import estimate
from assay.stats import wilson_interval

BASE_SEED = 20_240_611
CONFIDENCE = 0.95
REPLICATES = 1000
THRESHOLD = 0.5
GRID_N = (50, 500, 5000)
GRID_PREV = (0.05, 0.5)
GRID_AUC = (0.7, 0.95)
BINARY_METRICS = ("accuracy", "f1", "roc_auc")
#: comparators scored on the same samples; not assay's current methods
PROPOSED = ("roc_auc_wald_delong", "roc_auc_score_hm")
CHECKS = ("f1_jaccard_wilson",)  # independent re-implementation of assay's F1 interval
#: per-simulation columns: value, low, high, ok (status), flags (bits below), smaller class
NCOL = 6
#: caution notes that assay attaches to a result, as bits of the "flags" column
FLAGS = {
    "approximate": (1, "interval is approximate"),   # AUC: smaller class < 25 rows
    "perfect_separation": (2, "perfect separation"),  # AUC-hat 0 or 1: Wilson stands in
    "skewed": (4, "may undercover below about"),      # MAE: n <= 25 g^2
    "degenerate": (8, "degenerate bootstrap"),        # every bootstrap replicate equal
    "no_interval": (16, "no interval"),
}
CAUTION = 1 | 2 | 4 | 8
#: bands of the smaller class's size, for coverage by class count
CLASS_BANDS = ((0, 2), (2, 5), (5, 10), (10, 25), (25, 50), (50, 10**9))
PASS_LOW, PASS_HIGH = 0.925, 0.970
#: regression error models: name -> list of (mixture weight, sd)
ERROR_MODELS = {
    "normal": [(1.0, 1.0)],
    "mixture": [(0.9, 1.0), (0.1, 5.0)],
}
CHUNK = 100  # simulations per worker task


# ---- data model and population values -----------------------------------------------------


def binormal(auc: float) -> tuple[float, float, float]:
    """(mu, a, b): latent shift and the score map s = logistic(a + b x)."""
    mu = math.sqrt(2.0) * float(st.norm.ppf(auc))
    return mu, -mu * mu / 2.0, mu


def population_binary(prevalence: float, auc: float, threshold: float = THRESHOLD) -> dict:
    """Analytic population confusion rates and metric values for the binormal model."""
    mu, a, b = binormal(auc)
    c = (math.log(threshold / (1.0 - threshold)) - a) / b  # s >= t  <=>  x >= c
    tpr = float(st.norm.sf(c - mu))
    fpr = float(st.norm.sf(c))
    tp, fn = prevalence * tpr, prevalence * (1.0 - tpr)
    fp, tn = (1.0 - prevalence) * fpr, (1.0 - prevalence) * (1.0 - fpr)
    jac = tp / (tp + fp + fn)
    return {
        "mu": mu, "a": a, "b": b, "cut_x": c,
        "tp": tp, "fp": fp, "fn": fn, "tn": tn,
        "accuracy": tp + tn,
        "f1": 2.0 * tp / (2.0 * tp + fp + fn),
        "roc_auc": float(st.norm.cdf(mu / math.sqrt(2.0))),
        "f1_jaccard_wilson": 2.0 * jac / (1.0 + jac),
        "roc_auc_wald_delong": float(st.norm.cdf(mu / math.sqrt(2.0))),
        "roc_auc_score_hm": float(st.norm.cdf(mu / math.sqrt(2.0))),
    }


def auc_by_integration(auc: float) -> float:
    """P(x_pos > x_neg) = int Phi(x) phi(x - mu) dx, by quadrature (a check on the formula)."""
    mu = binormal(auc)[0]
    val, _ = integrate.quad(lambda x: st.norm.cdf(x) * st.norm.pdf(x - mu), -np.inf, np.inf,
                            epsabs=1e-13, epsrel=1e-12)
    return float(val)


def population_mae(model: str) -> float:
    return math.sqrt(2.0 / math.pi) * sum(w * sd for w, sd in ERROR_MODELS[model])


def simulate_binary(n: int, prevalence: float, auc: float, rng: np.random.Generator):
    mu, a, b = binormal(auc)
    y = (rng.random(n) < prevalence).astype(np.int64)
    x = rng.normal(mu * y, 1.0)
    return y, expit(a + b * x)


def simulate_regression(n: int, model: str, rng: np.random.Generator):
    y = rng.normal(0.0, 1.0, n)
    comps = ERROR_MODELS[model]
    k = rng.choice(len(comps), size=n, p=[w for w, _ in comps])
    sd = np.array([s for _, s in comps])[k]
    return y, y + rng.normal(0.0, 1.0, n) * sd


def cell_key(*parts: object) -> int:
    return zlib.crc32("|".join(map(str, parts)).encode())


# ---- one chunk of simulations (runs in a worker) -----------------------------------------


def _jaccard_wilson(y: np.ndarray, s: np.ndarray) -> tuple[float, float, float]:
    pred = s >= THRESHOLD
    tp = float(np.sum(pred & (y == 1)))
    fp = float(np.sum(pred & (y == 0)))
    fn = float(np.sum(~pred & (y == 1)))
    m = tp + fp + fn
    if m <= 0:
        return math.nan, math.nan, math.nan
    ci = wilson_interval(tp / m, m, CONFIDENCE)
    f = lambda j: 2.0 * j / (1.0 + j)  # noqa: E731
    return f(tp / m), f(ci.low), f(ci.high)


def note_flags(note: str) -> int:
    """The caution notes of one result, as bits (see FLAGS)."""
    return sum(bit for bit, text in FLAGS.values() if text in note)


def _wald_delong(e) -> tuple[float, float, float]:
    """assay's previous AUC interval: estimate +- z * DeLong SE, clipped to [0, 1].

    The current code reports DeLong's SE in ``e.se`` except at AUC-hat 0 or 1, where DeLong's
    SE is 0 (the previous method's zero-width interval) and a Wilson SE stands in."""
    a = e.value
    if e.status != "ok" or not math.isfinite(a) or not math.isfinite(e.se):
        return a, math.nan, math.nan
    se = 0.0 if "perfect separation" in e.note else e.se
    h = float(st.norm.ppf(0.5 + CONFIDENCE / 2)) * se
    return a, max(a - h, 0.0), min(a + h, 1.0)


def hm_score_interval(a: float, p: float, n: float,
                      confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Score-type interval for the AUC with the Hanley-McNeil variance at the candidate value,
    both class sizes replaced by their mean N* = (P + N) / 2 (Newcombe 2006): the set of A
    with (a - A)^2 <= z^2 V(A). Not an assay method; a comparator."""
    if not (p >= 1 and n >= 1 and 0.0 <= a <= 1.0):
        return math.nan, math.nan
    z2 = float(st.norm.ppf(0.5 + confidence / 2)) ** 2
    ns = (p + n) / 2.0

    def f(t: float) -> float:
        v = t * (1 - t) / (p * n) * (1 + (ns - 1) * ((1 - t) / (2 - t) + t / (1 + t)))
        return (a - t) ** 2 - z2 * v

    eps = 1e-12
    low = 0.0 if a <= eps else optimize.brentq(f, 0.0, min(a, 1 - eps), xtol=1e-12)
    high = 1.0 if a >= 1 - eps else optimize.brentq(f, max(a, eps), 1.0, xtol=1e-12)
    return float(low), float(high)


def run_chunk(task: tuple) -> tuple:
    """Simulations [start, stop) of one cell: per metric an array with the NCOL columns
    value, low, high, ok (status "ok"), flags (caution notes, see FLAGS), smaller class size."""
    family, params, start, stop = task
    t0 = time.process_time()
    if family == "binary":
        n, prev, auc = params
        key = cell_key("binary", n, prev, auc)
        names = BINARY_METRICS + PROPOSED + CHECKS
    else:
        n, model = params
        key = cell_key("regression", n, model)
        names = ("mae",)
    out = {m: np.full((stop - start, NCOL), np.nan) for m in names}
    for row, i in enumerate(range(start, stop)):
        rng = np.random.default_rng([BASE_SEED, key, i])
        seed = key * 1_000_000 + i
        smaller = math.nan
        if family == "binary":
            y, s = simulate_binary(n, prev, auc, rng)
            res = estimate("binary", y, s, metrics=list(BINARY_METRICS), confidence=CONFIDENCE,
                           seed=seed, replicates=REPLICATES)
            npos = int(y.sum())
            smaller = float(min(npos, n - npos))
            e = res["roc_auc"]
            ok = 1.0 if e.status == "ok" else 0.0
            out["f1_jaccard_wilson"][row] = (*_jaccard_wilson(y, s), 1.0, 0.0, smaller)
            out["roc_auc_wald_delong"][row] = (*_wald_delong(e), ok, 0.0, smaller)
            out["roc_auc_score_hm"][row] = (e.value, *hm_score_interval(e.value, npos, n - npos),
                                            ok, 0.0, smaller)
        else:
            y, p = simulate_regression(n, model, rng)
            res = estimate("regression", y, p, metrics=["mae"], confidence=CONFIDENCE, seed=seed)
        for m, e in res.items():
            out[m][row] = (e.value, e.low, e.high, 1.0 if e.status == "ok" else 0.0,
                           float(note_flags(e.note)), smaller)
    return family, params, start, out, time.process_time() - t0


# ---- summaries ----------------------------------------------------------------------------


def _cov(covered: np.ndarray) -> tuple[int, float]:
    m = int(covered.size)
    return m, (float(covered.mean()) if m else math.nan)


def summarise(arr: np.ndarray, truth: float) -> dict:
    """Coverage and diagnostics of one (cell, metric) from the per-simulation array (the
    first 4 columns are required; flags and class size are used when present)."""
    value, low, high, ok = arr[:, :4].T
    sims = arr.shape[0]
    flags = (arr[:, 4] if arr.shape[1] > 4 else np.zeros(sims)).astype(np.int64)
    smaller = arr[:, 5] if arr.shape[1] > 5 else np.full(sims, np.nan)
    value_ok = (ok == 1.0) & np.isfinite(value)
    interval_ok = value_ok & np.isfinite(low) & np.isfinite(high)
    lo, hi = low[interval_ok], high[interval_ok]
    covered_all = np.zeros(sims, dtype=bool)
    covered_all[interval_ok] = (lo <= truth) & (truth <= hi)
    covered = covered_all[interval_ok]
    m, cov = _cov(covered)
    width = hi - lo
    caution = interval_ok & ((flags & CAUTION) != 0)
    m_flag, cov_flag = _cov(covered_all[caution])
    m_clean, cov_clean = _cov(covered_all[interval_ok & ~caution])
    out = {
        "true_value": truth,
        "sims": sims,
        "defined": m,
        "value_undefined": int(sims - value_ok.sum()),
        "interval_undefined": int(value_ok.sum() - m),
        "coverage": cov,
        "coverage_se": math.sqrt(cov * (1 - cov) / m) if m else math.nan,
        "coverage_all": float(covered.sum() / sims),  # undefined counted as a miss
        "mean_width": float(width.mean()) if m else math.nan,
        "median_width": float(np.median(width)) if m else math.nan,
        "zero_width": int(np.sum(width <= 0)),
        "miss_truth_above": int(np.sum(truth > hi)),   # interval entirely below the truth
        "miss_truth_below": int(np.sum(truth < lo)),   # interval entirely above the truth
        "mean_estimate": float(np.nanmean(value[value_ok])) if value_ok.any() else math.nan,
        "pass": bool(m and PASS_LOW <= cov <= PASS_HIGH),
        # what assay's notes said, among simulations with an interval
        "flagged": m_flag,
        "coverage_flagged": cov_flag,
        "unflagged": m_clean,
        "coverage_unflagged": cov_clean,
        "notes": {name: int(np.sum(value_ok & ((flags & bit) != 0)))
                  for name, (bit, _) in FLAGS.items()},
    }
    sep = interval_ok & ((flags & FLAGS["perfect_separation"][0]) != 0)
    out["coverage_perfect_separation"] = _cov(covered_all[sep])[1]
    if np.isfinite(smaller).any():
        bands = {}
        for a, b in CLASS_BANDS:
            inb = (smaller >= a) & (smaller < b)
            if inb.any():
                k, c = _cov(covered_all[interval_ok & inb])
                bands[f"{a}-{b - 1}" if b < 10**9 else f">={a}"] = {
                    "sims": int(inb.sum()), "with_interval": k, "coverage": c}
        out["by_smaller_class"] = bands
    return out


LABELS = {
    "accuracy": "Accuracy (assay: Wilson)",
    "f1": "F1 (assay: Wilson on the Jaccard index, mapped by F1 = 2J / (1 + J))",
    "roc_auc": "ROC AUC (assay: DeLong on the logit scale; Wilson on the smaller class at "
               "AUC-hat 0 or 1)",
    "roc_auc_wald_delong": "Comparator, assay's previous method (reconstructed): DeLong, Wald, "
                           "clipped to [0, 1]",
    "roc_auc_score_hm": "Comparator, not in assay: score interval with the Hanley-McNeil "
                        "variance, N* = (P + N) / 2 (Newcombe 2006)",
    "mae (normal errors)": "MAE (assay: Student t), errors N(0, 1)",
    "mae (mixture errors)": "MAE (assay: Student t), errors 0.9 N(0, 1) + 0.1 N(0, 25)",
}


def fmt_table(rows: list[dict]) -> str:
    """Markdown: one table per metric."""
    out = []
    for metric in dict.fromkeys(r["metric"] for r in rows):
        sub = [r for r in rows if r["metric"] == metric]
        out.append(f"#### {LABELS.get(metric, metric)}\n")
        out.append("| n | prevalence | AUC | true value | coverage ± SE (defined) "
                   "| coverage, undefined = miss | mean width | value undefined "
                   "| interval undefined | zero-width | misses: interval below / above truth "
                   "| caution note: count (coverage) | no note: count (coverage) | pass |")
        out.append("|" + "---|" * 14)
        for r in sub:
            prev = "—" if r["prevalence"] is None else f"{r['prevalence']:g}"
            auc = "—" if r["auc"] is None else f"{r['auc']:g}"
            cov = ("n/a" if not math.isfinite(r["coverage"]) else
                   f"{r['coverage']:.3f} ± {r['coverage_se']:.3f}")
            out.append(
                f"| {r['n']} | {prev} | {auc} | {r['true_value']:.4f} | "
                f"{cov} (of {r['defined']}) | "
                f"{r['coverage_all']:.3f} | {r['mean_width']:.4f} | {r['value_undefined']} | "
                f"{r['interval_undefined']} | {r['zero_width']} | "
                f"{r['miss_truth_above']} / {r['miss_truth_below']} | "
                f"{_count_cov(r['flagged'], r['coverage_flagged'])} | "
                f"{_count_cov(r['unflagged'], r['coverage_unflagged'])} | "
                f"{'pass' if r['pass'] else '**FAIL**'} |")
        out.append("")
    return "\n".join(out)


def _count_cov(k: int, c: float) -> str:
    return f"{k} ({c:.3f})" if k else "0"


def fmt_class_table(rows: list[dict], metrics=("roc_auc", "roc_auc_score_hm")) -> str:
    """Markdown: AUC coverage by the size of the smaller class (cells where it varies)."""
    bands = [f"{a}-{b - 1}" if b < 10**9 else f">={a}" for a, b in CLASS_BANDS]
    out = ["| method | n | prevalence | AUC | " + " | ".join(f"smaller class {b}" for b in bands)
           + " |", "|" + "---|" * (4 + len(bands))]
    for r in rows:
        if r["metric"] not in metrics or r["family"] != "binary" or r["n"] > 500:
            continue
        if r["prevalence"] == 0.5 and r["n"] > 50:
            continue
        cells = []
        for b in bands:
            d = r["by_smaller_class"].get(b)
            if d is None:
                cells.append("—")
            elif not d["with_interval"]:
                cells.append(f"{d['sims']} sims, no interval")
            else:
                cells.append(f"{d['coverage']:.3f} ({d['with_interval']} of {d['sims']})")
        out.append(f"| {r['metric']} | {r['n']} | {r['prevalence']:g} | {r['auc']:g} | "
                   + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def tasks_for(sims: int, binary_cells, regression_cells, chunk: int = CHUNK) -> list[tuple]:
    tasks = []
    for fam, cells in (("binary", binary_cells), ("regression", regression_cells)):
        for params in cells:
            for start in range(0, sims, chunk):
                tasks.append((fam, params, start, min(start + chunk, sims)))
    # the largest cells first, for load balance
    tasks.sort(key=lambda t: -(t[1][0] * (10 if t[0] == "binary" else 1)))
    return tasks


def run_study(sims: int, workers: int = 2, binary_cells=None, regression_cells=None,
              chunk: int = CHUNK, progress: bool = False) -> dict:
    if binary_cells is None:
        binary_cells = [(n, p, a) for n in GRID_N for p in GRID_PREV for a in GRID_AUC]
    if regression_cells is None:
        regression_cells = [(n, m) for n in GRID_N for m in ERROR_MODELS]
    tasks = tasks_for(sims, binary_cells, regression_cells, chunk)
    collected: dict[tuple, dict[str, list]] = {}
    cpu: dict[tuple, float] = {}
    t0 = time.perf_counter()

    def take(res):
        fam, params, start, out, secs = res
        key = (fam, *params)
        slot = collected.setdefault(key, {})
        for m, a in out.items():
            slot.setdefault(m, []).append((start, a))
        cpu[key] = cpu.get(key, 0.0) + secs

    if workers > 1:
        with Pool(workers) as pool:
            for k, res in enumerate(pool.imap_unordered(run_chunk, tasks), 1):
                take(res)
                if progress and k % 20 == 0:
                    print(f"  {k}/{len(tasks)} chunks, {time.perf_counter() - t0:.0f} s",
                          file=sys.stderr, flush=True)
    else:
        for res in map(run_chunk, tasks):
            take(res)
    wall = time.perf_counter() - t0

    # assay's F1 interval against the independent Wilson-on-Jaccard implementation
    f1_diff = 0.0
    for n, prev, auc in binary_cells:
        key = ("binary", n, prev, auc)
        a = np.concatenate([x for _, x in sorted(collected[key]["f1"], key=lambda t: t[0])])
        b = np.concatenate([x for _, x in sorted(collected[key]["f1_jaccard_wilson"],
                                                 key=lambda t: t[0])])
        f1_diff = max(f1_diff, float(np.nanmax(np.abs(a[:, :3] - b[:, :3]))))

    rows = []
    for n, prev, auc in binary_cells:
        truth = population_binary(prev, auc)
        key = ("binary", n, prev, auc)
        for m in BINARY_METRICS + PROPOSED:
            arr = np.concatenate([a for _, a in sorted(collected[key][m], key=lambda t: t[0])])
            rows.append({"family": "binary", "metric": m, "in_assay": m not in PROPOSED,
                         "n": n, "prevalence": prev, "auc": auc,
                         "cpu_seconds_cell": cpu[key]} | summarise(arr, truth[m]))
    for n, model in regression_cells:
        key = ("regression", n, model)
        arr = np.concatenate([a for _, a in sorted(collected[key]["mae"], key=lambda t: t[0])])
        rows.append({"family": "regression", "metric": f"mae ({model} errors)", "in_assay": True,
                     "n": n, "prevalence": None, "auc": None, "error_model": model,
                     "cpu_seconds_cell": cpu[key]} | summarise(arr, population_mae(model)))
    return {"rows": rows, "wall_seconds": wall, "cpu_seconds": sum(cpu.values()),
            "f1_check_max_abs_diff": f1_diff}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sims", type=int, default=2000)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results.json"))
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)

    # the analytic AUC agrees with quadrature
    for auc in GRID_AUC:
        assert abs(auc_by_integration(auc) - auc) < 1e-9, auc
    print(f"coverage study: {args.sims} sims per cell, {args.workers} workers", file=sys.stderr)
    res = run_study(args.sims, args.workers, progress=True)
    truths = {f"prev={p},auc={a}": population_binary(p, a) for p in GRID_PREV for a in GRID_AUC}
    doc = {
        "meta": {
            "sims_per_cell": args.sims, "workers": args.workers, "confidence": CONFIDENCE,
            "replicates": REPLICATES, "threshold": THRESHOLD, "base_seed": BASE_SEED,
            "pass_band": [PASS_LOW, PASS_HIGH], "wall_seconds": res["wall_seconds"],
            "cpu_seconds": res["cpu_seconds"], "python": platform.python_version(),
            "numpy": np.__version__, "cpu_count": os.cpu_count(),
            "seed_scheme": "data: default_rng([base_seed, crc32(cell), i]); "
                           "assay seed: crc32(cell) * 1_000_000 + i",
            "score_map": "s = logistic(mu * x - mu^2 / 2), mu = sqrt(2) * Phi^-1(AUC)",
            "population_binary": truths,
            "population_mae": {m: population_mae(m) for m in ERROR_MODELS},
            "f1_check_max_abs_diff": res["f1_check_max_abs_diff"],
            "flags": {k: v[1] for k, v in FLAGS.items()},
        },
        "rows": res["rows"],
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)
    table = fmt_table(res["rows"])
    classes = fmt_class_table(res["rows"])
    with open(os.path.splitext(args.out)[0] + ".md", "w") as f:
        f.write(f"Coverage study, {args.sims} simulations per cell, nominal 0.95, pass band "
                f"[{PASS_LOW}, {PASS_HIGH}]; wall {res['wall_seconds']:.0f} s on "
                f"{args.workers} workers. \"Caution note\": the result's note says the interval "
                "is approximate (smaller class < 25 rows), stands in for perfect separation, "
                "may undercover (skewed |error|), or comes from a degenerate bootstrap; "
                "coverage in parentheses is among results with an interval. Largest "
                "|assay F1 bound - independent Wilson-on-Jaccard bound|: "
                f"{res['f1_check_max_abs_diff']:.1e}.\n\n" + table
                + "\n#### ROC AUC coverage by the size of the smaller class "
                  "(coverage among results with an interval; sims in the band)\n\n" + classes)
    print(table)
    print(classes)
    print(f"\nwall {res['wall_seconds']:.1f} s, worker CPU {res['cpu_seconds']:.1f} s; "
          f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
