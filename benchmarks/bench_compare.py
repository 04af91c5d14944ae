"""Paired comparison benchmark: assay's candidate-vs-baseline comparison vs the glue code
a user would otherwise write with statsmodels, SciPy, NumPy and scikit-learn.

Usage::

    python benchmarks/bench_compare.py [--rows 1e5 1e6] [--repeat 3] [--bootstrap 1000]
                                       [--sklearn-reps 20] [--data-dir DIR] [--out benchmarks/out]

One run does, for every size n in ``--rows``:

1. builds (seeded) binary data with n rows and writes it to Parquet in a temporary folder
   (or ``--data-dir``): ``label`` (int8, prevalence ~0.26), two correlated model scores
   ``score_base`` and ``score_cand`` (logistic of a shared latent plus independent noise; the
   candidate is less noisy, except in region ``r09`` where it is noisier) and two string slice
   columns ``region`` (10 levels) and ``channel`` (5 levels) -> 15 slices plus overall;
2. reads it once into an Arrow table (timed, shared by both sides, excluded from both);
3. times ``assay.evaluate(spec, data=table)`` with the two models, metrics [accuracy, recall,
   precision, f1, roc_auc, log_loss, brier_score] and the two slice columns (median of
   ``--repeat`` runs), reporting the total and ``result.timings["compare"]`` (the paired
   comparison alone: every slice, intervals and p-values, BH adjustment and churn); then the
   same with ``metrics: all``;
4. times the peer loop ("the glue code"), for overall and every slice level: statsmodels
   ``mcnemar(exact=True)`` for accuracy and recall, a paired row bootstrap of the precision
   and F1 differences (``--bootstrap`` replicates; row indices drawn with replacement, counts
   in vectorised NumPy per replicate), a paired DeLong test for ROC AUC (the O(n log n)
   midrank algorithm of Sun & Xu 2014, written here: no standard library has one),
   ``scipy.stats.ttest_rel`` on per-row log-loss and Brier differences, and finally
   ``statsmodels.stats.multitest.multipletests(method="fdr_bh")`` over every p-value;
5. times the same bootstrap written with scikit-learn per replicate
   (``precision_recall_fscore_support`` once per model per replicate): ``--sklearn-reps``
   replicates on every slice, EXTRAPOLATED to ``--bootstrap`` (said so in the output);
6. checks agreement: assay's overall accuracy McNemar p-value against statsmodels', and its
   ROC AUC delta against the DeLong above (plus the same over every slice, and the loss
   p-values against ``ttest_rel``).

Everything runs in this one process, one size after the other. A discarded assay run on
the first size comes first (it imports assay's lazily loaded modules). Peak memory is the
rise of VmHWM over VmRSS during each timed block (Linux: reads /proc/self/status and writes
/proc/self/clear_refs; printed as "-" elsewhere). Results go to ``OUT/bench_compare.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_core import _reset_peak, _status, assay_source_digest  # shared with the core benchmark

HERE = Path(__file__).resolve().parent
SEED = 20240917
THRESHOLD = 0.5
PREVALENCE_LOGIT = -1.6  # intercept of the label model: prevalence about 0.26
SLICES = {"region": 10, "channel": 5}
METRICS = ["accuracy", "recall", "precision", "f1", "roc_auc", "log_loss", "brier_score"]
EPS = float(np.finfo(np.float64).eps)  # log-loss clipping, as scikit-learn and assay


# ==== data ===============================================================================


def make_data(path: Path, n: int) -> None:
    """Seeded data: z ~ N(0, 1) is the shared latent; y ~ Bernoulli(expit(-1.6 + 1.6 z + slice
    effects)); each model scores expit(-1.6 + 1.4 (z + e)) with its own noise e (baseline sd
    0.8, candidate sd 0.6, or 1.0 in region r09). Level shares are unequal."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from scipy.special import expit

    rng = np.random.default_rng([SEED, n])
    codes = {}
    z = rng.standard_normal(n)
    lin = PREVALENCE_LOGIT + 1.6 * z
    for j, (name, k) in enumerate(SLICES.items()):
        share = np.linspace(1.0, 2.5, k)
        share /= share.sum()
        c = rng.choice(k, size=n, p=share).astype(np.int32)
        lin += (np.linspace(-0.3, 0.3, k) / (j + 1))[c]
        codes[name] = c
    y = (rng.random(n) < expit(lin)).astype(np.int8)
    sd_cand = np.where(codes["region"] == SLICES["region"] - 1, 1.0, 0.6)
    base = expit(PREVALENCE_LOGIT + 1.4 * (z + 0.8 * rng.standard_normal(n)))
    cand = expit(PREVALENCE_LOGIT + 1.4 * (z + sd_cand * rng.standard_normal(n)))
    cols = {"label": pa.array(y), "score_base": pa.array(base), "score_cand": pa.array(cand)}
    for name, k in SLICES.items():
        levels = pa.array([f"{name[0]}{i:02d}" for i in range(k)], pa.string())
        cols[name] = pa.DictionaryArray.from_arrays(pa.array(codes[name], pa.int32()), levels)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(cols), path, use_dictionary=list(SLICES), compression="snappy")


# ==== measurement helpers ================================================================


class Measure:
    """Wall time (perf_counter) and peak memory rise (VmHWM - VmRSS at entry) of a block."""

    def __enter__(self) -> Measure:
        self.reset = _reset_peak()
        self.rss0 = _status("VmRSS")
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.t0
        hwm = _status("VmHWM")
        self.peak_bytes = (hwm - self.rss0) if (self.reset and hwm and self.rss0) else None


def _fmt_rows(n: int) -> str:
    e = len(str(n)) - 1
    return f"1e{e}" if n == 10**e else f"{n:,}"


# ==== assay ==============================================================================


def assay_spec(metrics, bootstrap: int) -> dict:
    return {
        "task": "binary", "label": "label", "threshold": THRESHOLD,
        "models": [{"name": "baseline", "score": "score_base"},
                   {"name": "candidate", "score": "score_cand"}],
        "metrics": metrics, "slices": [{"column": c} for c in SLICES],
        "confidence": 0.95, "bootstrap": bootstrap, "min_slice_size": 1,
    }


def run_assay(table, metrics, bootstrap: int, repeat: int) -> dict:
    import assay

    runs = []
    result = None
    for _ in range(repeat):
        with Measure() as m:
            result = assay.evaluate(assay_spec(metrics, bootstrap), data=table)
        runs.append({"total_s": m.seconds, "compare_s": result.timings["compare"],
                     "peak_bytes": m.peak_bytes, "timings": dict(result.timings)})
    assert result is not None
    comp = result.comparisons
    return {
        "total_s": statistics.median(r["total_s"] for r in runs),
        "compare_s": statistics.median(r["compare_s"] for r in runs),
        "peak_bytes": max((r["peak_bytes"] for r in runs if r["peak_bytes"] is not None),
                          default=None),
        "runs": runs, "comparison_rows": int(len(comp)),
        "metrics_compared": sorted(set(comp.metric)), "slices": int(comp.slice.nunique()),
        "comparisons": comp,
    }


# ==== the peer loop ("glue code") ========================================================


def fast_delong(y: np.ndarray, sa: np.ndarray, sb: np.ndarray) -> tuple[float, float, float, float]:
    """Paired DeLong test of AUC(sb) - AUC(sa), O(n log n) with midranks (Sun & Xu 2014).
    Returns (auc_a, auc_b, delta, p_value)."""
    from scipy.stats import norm, rankdata

    pos = y == 1
    m, k = int(pos.sum()), int((~pos).sum())
    aucs, v10, v01 = [], [], []
    for s in (sa, sb):
        sp, sn = s[pos], s[~pos]
        tx, ty, tz = rankdata(sp), rankdata(sn), rankdata(np.concatenate([sp, sn]))
        aucs.append((tz[:m].sum() / m - (m + 1) / 2) / k)
        v10.append((tz[:m] - tx) / k)  # per positive: share of negatives below it
        v01.append(1.0 - (tz[m:] - ty) / m)  # per negative: share of positives above it
    s = np.cov(np.array(v10)) / m + np.cov(np.array(v01)) / k
    delta = aucs[1] - aucs[0]
    var = s[0, 0] + s[1, 1] - 2 * s[0, 1]
    p = float(2 * norm.sf(abs(delta) / math.sqrt(var))) if var > 0 else float(delta == 0)
    return float(aucs[0]), float(aucs[1]), float(delta), p


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float]:
    prec = tp / (tp + fp) if tp + fp else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return prec, f1


def _boot_p(d: np.ndarray) -> float:
    """Two-sided percentile-bootstrap p-value for H0: difference = 0."""
    return float(min(1.0, 2 * min((d <= 0).mean(), (d >= 0).mean())))


def peer_slices(table) -> tuple[object, list[tuple[str, np.ndarray | None]]]:
    df = table.to_pandas()
    slices: list[tuple[str, np.ndarray | None]] = [("overall", None)]
    for col in SLICES:
        values = df[col].astype(str).to_numpy()
        for level in sorted(set(values)):
            slices.append((f"{col}={level}", values == level))
    return df, slices


def peer_loop(table, reps: int, seed: int) -> dict:
    """What a user writes: a loop over slices calling statsmodels / SciPy, a NumPy paired
    bootstrap and a DeLong implementation, then multipletests. Times each part."""
    from scipy.stats import ttest_rel
    from statsmodels.stats.contingency_tables import mcnemar
    from statsmodels.stats.multitest import multipletests

    parts = dict.fromkeys(("slicing", "mcnemar", "bootstrap", "delong", "ttest_rel",
                           "multipletests"), 0.0)
    rng = np.random.default_rng(seed)
    rows = []
    with Measure() as total:
        t = time.perf_counter()
        df, slices = peer_slices(table)
        y_all = df["label"].to_numpy()
        sa_all, sb_all = df["score_base"].to_numpy(), df["score_cand"].to_numpy()
        parts["slicing"] += time.perf_counter() - t
        for name, mask in slices:
            t = time.perf_counter()
            if mask is None:
                y, sa, sb = y_all, sa_all, sb_all
            else:
                y, sa, sb = y_all[mask], sa_all[mask], sb_all[mask]
            pa_, pb_ = sa >= THRESHOLD, sb >= THRESHOLD
            t2 = time.perf_counter()
            parts["slicing"] += t2 - t
            r = {"slice": name, "n": int(y.size)}
            # accuracy and recall: exact McNemar on the paired 2x2 table of correct decisions
            ok_a, ok_b = pa_ == (y == 1), pb_ == (y == 1)
            for metric, dom in (("accuracy", slice(None)), ("recall", y == 1)):
                a, b = ok_a[dom], ok_b[dom]
                tab = [[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]]
                r[metric] = {"delta": float(b.mean() - a.mean()),
                             "p": float(mcnemar(tab, exact=True).pvalue)}
            r["churn"] = float((pa_ != pb_).mean())
            t3 = time.perf_counter()
            parts["mcnemar"] += t3 - t2
            # precision and F1: paired row bootstrap (same rows for both models)
            pos = y == 1
            point = [_prf(int(np.count_nonzero(p & pos)), int(np.count_nonzero(p & ~pos)),
                          int(np.count_nonzero(~p & pos))) for p in (pa_, pb_)]
            d = np.empty((reps, 2))
            m = y.size
            for i in range(reps):
                idx = rng.integers(0, m, m)
                yy = pos[idx]
                ra, rb = (_prf(int(np.count_nonzero(p & yy)), int(np.count_nonzero(p & ~yy)),
                               int(np.count_nonzero(~p & yy))) for p in (pa_[idx], pb_[idx]))
                d[i] = (rb[0] - ra[0], rb[1] - ra[1])
            for j, metric in enumerate(("precision", "f1")):
                lo, hi = np.percentile(d[:, j], [2.5, 97.5])
                r[metric] = {"delta": point[1][j] - point[0][j], "ci": (float(lo), float(hi)),
                             "p": _boot_p(d[:, j])}
            t4 = time.perf_counter()
            parts["bootstrap"] += t4 - t3
            # ROC AUC: paired DeLong
            auc_a, auc_b, delta, p = fast_delong(y, sa, sb)
            r["roc_auc"] = {"delta": delta, "p": p}
            t5 = time.perf_counter()
            parts["delong"] += t5 - t4
            # log loss and Brier score: paired t-test on per-row differences
            ca, cb = np.clip(sa, EPS, 1 - EPS), np.clip(sb, EPS, 1 - EPS)
            losses = {"log_loss": (-np.where(pos, np.log(ca), np.log1p(-ca)),
                                   -np.where(pos, np.log(cb), np.log1p(-cb))),
                      "brier_score": ((sa - y) ** 2, (sb - y) ** 2)}
            for metric, (la, lb) in losses.items():
                res = ttest_rel(lb, la)
                ci = res.confidence_interval(0.95)
                r[metric] = {"delta": float(lb.mean() - la.mean()), "p": float(res.pvalue),
                             "ci": (float(ci.low), float(ci.high))}
            parts["ttest_rel"] += time.perf_counter() - t5
            rows.append(r)
        t = time.perf_counter()
        pvals = [r[m]["p"] for r in rows for m in METRICS]
        reject, p_adj, _, _ = multipletests(pvals, alpha=0.05, method="fdr_bh")
        parts["multipletests"] += time.perf_counter() - t
    return {"total_s": total.seconds, "peak_bytes": total.peak_bytes, "parts_s": parts,
            "rows": rows, "n_pvalues": len(pvals), "n_rejected": int(reject.sum())}


def sklearn_bootstrap(table, reps_timed: int, reps_target: int, seed: int) -> dict:
    """The same paired bootstrap with scikit-learn per replicate, timed for ``reps_timed``
    replicates on every slice and extrapolated to ``reps_target`` per slice."""
    from sklearn.metrics import precision_recall_fscore_support

    df, slices = peer_slices(table)
    y_all = df["label"].to_numpy()
    pa_all = df["score_base"].to_numpy() >= THRESHOLD
    pb_all = df["score_cand"].to_numpy() >= THRESHOLD
    rng = np.random.default_rng(seed)
    timed = 0.0
    for _, mask in slices:
        y = y_all if mask is None else y_all[mask]
        pa_ = pa_all if mask is None else pa_all[mask]
        pb_ = pb_all if mask is None else pb_all[mask]
        m = y.size
        t = time.perf_counter()
        for _ in range(reps_timed):
            idx = rng.integers(0, m, m)
            yy = y[idx]
            precision_recall_fscore_support(yy, pa_[idx], average="binary", zero_division=0)
            precision_recall_fscore_support(yy, pb_[idx], average="binary", zero_division=0)
        timed += time.perf_counter() - t
    return {"reps_timed": reps_timed, "reps_target": reps_target, "timed_s": timed,
            "per_rep_all_slices_s": timed / reps_timed,
            "extrapolated_s": timed / reps_timed * reps_target, "extrapolated": True}


# ==== agreement ==========================================================================


def agreement(comp, peers: dict) -> list[dict]:
    """assay's comparison table vs the peer loop's numbers."""
    got = {(r.slice, r.metric): r for r in comp.itertuples()}
    rows = peers["rows"]

    def diffs(metric: str, field: str, rel: bool, slices: str) -> dict:
        worst_abs, worst_rel = 0.0, 0.0
        for r in rows:
            if slices == "overall" and r["slice"] != "overall":
                continue
            a = float(getattr(got[(r["slice"], metric)], "p_value" if field == "p" else "delta"))
            b = float(r[metric][field])
            worst_abs = max(worst_abs, abs(a - b))
            if rel:
                worst_rel = max(worst_rel, abs(a - b) / max(abs(a), abs(b), 1e-300))
        return {"max_abs": worst_abs, "max_rel": worst_rel if rel else None}

    checks = []
    for label, metric, field, slices, peer, tol_rel, tol_abs in (
            ("overall accuracy McNemar p", "accuracy", "p", "overall",
             "statsmodels mcnemar(exact=True)", 1e-9, 1e-12),
            ("overall roc_auc delta", "roc_auc", "delta", "overall", "fast DeLong (this script)",
             None, 1e-12),
            ("accuracy + recall McNemar p, all slices", None, "p", "all",
             "statsmodels mcnemar(exact=True)", 1e-9, 1e-12),
            ("roc_auc delta, all slices", "roc_auc", "delta", "all", "fast DeLong", None, 1e-12),
            ("roc_auc DeLong p, all slices", "roc_auc", "p", "all", "fast DeLong", 1e-6, 1e-12),
            ("log_loss + brier_score t-test p, all slices", None, "p_loss", "all",
             "scipy ttest_rel", 1e-6, 1e-12)):
        if field == "p_loss":
            parts = [diffs(m, "p", True, slices) for m in ("log_loss", "brier_score")]
        elif metric is None:
            parts = [diffs(m, field, True, slices) for m in ("accuracy", "recall")]
        else:
            parts = [diffs(metric, field, tol_rel is not None, slices)]
        mabs = max(p["max_abs"] for p in parts)
        mrel = max(p["max_rel"] for p in parts) if tol_rel is not None else None
        ok = mabs <= tol_abs or (mrel is not None and mrel <= tol_rel)
        checks.append({"check": label, "against": peer, "max_abs_diff": mabs,
                       "max_rel_diff": mrel, "agree": bool(ok)})
    return checks


# ==== driver =============================================================================


def bench_size(n: int, data_dir: Path, args, log) -> dict:
    import pyarrow.parquet as pq

    path = data_dir / f"compare_{n}_seed{SEED}.parquet"
    if not path.is_file():
        make_data(path, n)
    with Measure() as rd:
        table = pq.read_table(path)
    tag = _fmt_rows(n)
    log(f"[{tag}] data {path} ({path.stat().st_size / 1e6:.1f} MB), read {rd.seconds:.3f} s; "
        f"prevalence {np.mean(table.column('label').to_numpy()):.3f}")
    entry: dict = {"rows": n, "read_s": rd.seconds, "file_bytes": path.stat().st_size}
    for key, metrics in (("assay", METRICS), ("assay_all", "all")):
        res = run_assay(table, metrics, args.bootstrap, args.repeat)
        runs = ", ".join(f"{r['total_s']:.2f}/{r['compare_s']:.2f}" for r in res["runs"])
        log(f"[{tag}] assay metrics={'all' if metrics == 'all' else len(metrics)}: total "
            f"{res['total_s']:.3f} s, compare {res['compare_s']:.3f} s (median of {args.repeat}; "
            f"total/compare per run {runs}); {res['comparison_rows']} comparison rows")
        entry[key] = res
    peers = peer_loop(table, args.bootstrap, SEED)
    log(f"[{tag}] peer loop: {peers['total_s']:.2f} s ("
        + ", ".join(f"{k} {v:.2f}" for k, v in peers["parts_s"].items()) + ")")
    entry["peers"] = peers
    sk = sklearn_bootstrap(table, args.sklearn_reps, args.bootstrap, SEED + 1)
    log(f"[{tag}] sklearn bootstrap: {sk['reps_timed']} reps on every slice in {sk['timed_s']:.2f} s "
        f"-> {sk['reps_target']} reps EXTRAPOLATED {sk['extrapolated_s']:.1f} s")
    entry["sklearn_bootstrap"] = sk
    entry["agreement"] = agreement(entry["assay"]["comparisons"], peers)
    return entry


def table_rows(e: dict, reps: int) -> list[dict]:
    a, aa, p, sk = e["assay"], e["assay_all"], e["peers"], e["sklearn_bootstrap"]
    base = a["compare_s"]
    n_sl = a["slices"]
    parts = p["parts_s"]
    peer_sk = p["total_s"] - parts["bootstrap"] + sk["extrapolated_s"]

    def mb(b):
        return None if b is None else b / 1e6

    rows = [
        {"tool": "read Parquet -> Arrow", "what": "input of both sides (excluded from both)",
         "s": e["read_s"], "mb": None},
        {"tool": "assay.evaluate, 7 metrics: total",
         "what": f"2 models x 7 metrics x {n_sl} slices, CIs + gaps, then the comparison",
         "s": a["total_s"], "mb": mb(a["peak_bytes"])},
        {"tool": "  assay timings['compare']",
         "what": (f"{len(a['metrics_compared']) - 1} deltas + churn x {n_sl} slices: paired CIs, "
                  "p, BH, MDD"), "s": a["compare_s"], "mb": None},
        {"tool": "assay.evaluate, metrics all: total",
         "what": f"2 models x 14 metrics x {n_sl} slices + the comparison", "s": aa["total_s"],
         "mb": mb(aa["peak_bytes"])},
        {"tool": "  assay timings['compare']",
         "what": f"{len(aa['metrics_compared']) - 1} deltas + churn x {n_sl} slices",
         "s": aa["compare_s"], "mb": None},
        {"tool": "peer loop (NumPy bootstrap): total",
         "what": f"7 deltas + churn x {n_sl} slices, p-values, BH (measured)",
         "s": p["total_s"], "mb": mb(p["peak_bytes"])},
        {"tool": "  pandas masks per slice", "what": "to_pandas + boolean mask per slice",
         "s": parts["slicing"], "mb": None},
        {"tool": "  statsmodels mcnemar(exact)", "what": "accuracy, recall: p only (no CI)",
         "s": parts["mcnemar"], "mb": None},
        {"tool": f"  NumPy paired row bootstrap x{reps}", "what": "precision, F1: CI + p",
         "s": parts["bootstrap"], "mb": None},
        {"tool": "  paired DeLong (Sun-Xu, in script)", "what": "ROC AUC: p (+ se)",
         "s": parts["delong"], "mb": None},
        {"tool": "  scipy ttest_rel", "what": "log_loss, brier_score: CI + p",
         "s": parts["ttest_rel"], "mb": None},
        {"tool": "  statsmodels multipletests", "what": f"BH over {p['n_pvalues']} p-values",
         "s": parts["multipletests"], "mb": None},
        {"tool": "peer loop (sklearn bootstrap): total",
         "what": "as above, bootstrap by sklearn per replicate", "s": peer_sk, "mb": None,
         "note": "EXTRAPOLATED"},
        {"tool": f"  sklearn prfs bootstrap x{reps}",
         "what": f"EXTRAPOLATED from {sk['reps_timed']} reps on every slice",
         "s": sk["extrapolated_s"], "mb": None},
    ]
    for r in rows:
        r["x_compare"] = r["s"] / base if base > 0 and not r["tool"].startswith("read") else None
    return rows


def render(results: list[dict], reps: int) -> str:
    hdr = (f"{'rows':>5s}  {'tool':38s} {'what it computes':64s} {'seconds':>9s} "
           f"{'x compare':>9s} {'peak MB':>8s}")
    lines = ["", hdr, "-" * len(hdr)]
    for e in results:
        for r in table_rows(e, reps):
            x = "" if r["x_compare"] is None else f"{r['x_compare']:.1f}x"
            mb = "" if r["mb"] is None else f"{r['mb']:.0f}"
            lines.append(f"{_fmt_rows(e['rows']):>5s}  {r['tool']:38s} {r['what']:64s} "
                         f"{r['s']:9.3f} {x:>9s} {mb:>8s}")
        lines.append("")
    lines.append("x compare = seconds / assay timings['compare'] (7 metrics) at the same size.")
    lines.append("The sklearn bootstrap rows are EXTRAPOLATED (time of the timed replicates x "
                 f"{reps} / timed replicates).")
    lines.append("")
    lines.append("== agreement (assay 7-metric comparison vs the peer loop) ==")
    for e in results:
        for c in e["agreement"]:
            rel = "" if c["max_rel_diff"] is None else f", max rel diff {c['max_rel_diff']:.2e}"
            lines.append(f"  {_fmt_rows(e['rows']):>5s} {c['check']:45s} vs {c['against']:32s} "
                         f"{'agree' if c['agree'] else 'DIFFER'}: max abs diff "
                         f"{c['max_abs_diff']:.2e}{rel}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", nargs="+", type=float, default=[1e5, 1e6],
                    help="dataset sizes (e.g. 1e5 1e6)")
    ap.add_argument("--repeat", type=int, default=3, help="assay runs per configuration (median)")
    ap.add_argument("--bootstrap", type=int, default=1000,
                    help="bootstrap replicates (assay's and the peers')")
    ap.add_argument("--sklearn-reps", type=int, default=20,
                    help="scikit-learn bootstrap replicates timed per slice (then extrapolated)")
    ap.add_argument("--data-dir", type=Path, default=None,
                    help="keep the Parquet files here (default: a temporary folder, removed)")
    ap.add_argument("--out", type=Path, default=HERE / "out", help="folder for bench_compare.json")
    args = ap.parse_args(argv)

    def log(msg: str) -> None:
        print(msg, flush=True)

    import assay  # noqa: F401  (imported before timing)

    started = time.time()
    digest = assay_source_digest()
    log(f"assay sources {digest['root']}: {digest['files']} files, sha256 {digest['sha256']}; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    sizes = [int(r) for r in args.rows]
    with tempfile.TemporaryDirectory(prefix="bench_compare_") as tmp:
        data_dir = args.data_dir or Path(tmp)
        # warm-up (discarded): imports assay's lazily loaded modules
        import pyarrow.parquet as pq

        first = data_dir / f"compare_{sizes[0]}_seed{SEED}.parquet"
        if not first.is_file():
            make_data(first, sizes[0])
        run_assay(pq.read_table(first), METRICS, args.bootstrap, 1)
        results = [bench_size(n, data_dir, args, log) for n in sizes]
    print(render(results, args.bootstrap))
    digest_end = assay_source_digest()
    if digest_end["sha256"] != digest["sha256"]:
        print(f"\nnote: the assay sources changed during the run ({digest['sha256']} -> "
              f"{digest_end['sha256']}); the modules were imported at the start.")
    print(f"assay sources measured: sha256 {digest['sha256']}; load average at end "
          f"{os.getloadavg()[0]:.2f}; elapsed {time.time() - started:.0f} s")

    import importlib.metadata as md

    versions = {}
    for pkg in ("assay", "numpy", "pandas", "pyarrow", "scipy", "statsmodels", "scikit-learn"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    for e in results:
        for key in ("assay", "assay_all"):
            e[key].pop("comparisons")
    doc = {"command": " ".join([Path(sys.executable).name, *sys.argv]),
           "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                       "python": platform.python_version()},
           "versions": versions, "seed": SEED, "assay_sources": digest,
           "sizes": [{**{k: v for k, v in e.items() if k != "peers"},
                      "peers": {k: v for k, v in e["peers"].items() if k != "rows"},
                      "table": table_rows(e, args.bootstrap)} for e in results],
           "elapsed_s": time.time() - started, "loadavg_end": os.getloadavg()}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_compare.json").write_text(json.dumps(doc, indent=1, default=str) + "\n",
                                                 encoding="utf-8")
    print(f"wrote {args.out / 'bench_compare.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
