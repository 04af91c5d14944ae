"""Supplement to coverage_study.py: AUC interval coverage with a FIXED number of positives.

The main grid mixes class counts (at n = 50, prevalence 0.05 the number of positives is
Binomial(50, 0.05)). Here the class counts are fixed, P positives and N negatives from the
same binormal model, so coverage can be read as a function of P; this is what a minimum
class count for flagging an AUC interval should be based on.

Run::

    python benchmarks/coverage/delong_small_counts.py [--sims 1000] \
        [--out benchmarks/coverage/delong_small_counts.json]

Columns:

* assay's current interval ("delong (logit)": DeLong's SE on the logit scale; at AUC-hat 0
  or 1 a Wilson interval on min(P, N) stands in, with the note "perfect separation"): its
  coverage, mean width, how many results were perfect separations and their coverage, and
  whether the note calls the interval approximate (min(P, N) < 25);
* the previous method, reconstructed exactly: estimate +- z * DeLong SE clipped to [0, 1]
  (zero-width at AUC-hat 1, where the DeLong SE is 0); it reproduces the numbers of the
  study of the previous methods;
* SD of the AUC estimate across simulations vs the root-mean-square DeLong SE, and the
  correlation between the estimate and its DeLong SE (the reason the Wald step fails);
* a comparator that is not in assay: the score interval with the Hanley-McNeil variance,
  class sizes replaced by their mean (coverage_study.hm_score_interval).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import zlib
from multiprocessing import Pool

import numpy as np
from scipy import stats as st
from scipy.special import expit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from coverage_study import hm_score_interval  # noqa: E402

from assay._estimate import estimate  # noqa: E402

BASE_SEED = 20_240_612
POSITIVES = (2, 3, 5, 10, 25, 50, 100)
RATIOS = (1, 19)  # N = ratio * P: balanced, and prevalence 0.05
AUCS = (0.7, 0.95)


def run_config(cfg: tuple) -> dict:
    p, ratio, auc, sims = cfg
    n_neg = ratio * p
    mu = math.sqrt(2.0) * float(st.norm.ppf(auc))
    key = zlib.crc32(f"{p}|{ratio}|{auc}".encode())
    z = float(st.norm.ppf(0.975))
    vals, ses, widths = [], [], []
    cov = defined = sep = sep_cov = approx = 0
    wald_cov = wald_defined = wald_zero = 0
    hm_cov = 0
    for i in range(sims):
        rng = np.random.default_rng([BASE_SEED, key, i])
        x = np.concatenate([rng.normal(mu, 1.0, p), rng.normal(0.0, 1.0, n_neg)])
        y = np.concatenate([np.ones(p, dtype=np.int64), np.zeros(n_neg, dtype=np.int64)])
        e = estimate("binary", y, expit(mu * x - mu * mu / 2), metrics=["roc_auc"],
                     seed=key * 1_000_000 + i)["roc_auc"]
        a = e.value
        is_sep = "perfect separation" in e.note
        approx += "interval is approximate" in e.note
        vals.append(a)
        # DeLong's SE (0 at a perfect separation, where e.se is the stand-in's)
        se_delong = 0.0 if is_sep else e.se
        ses.append(se_delong)
        if math.isfinite(e.low):
            defined += 1
            hit = e.low <= auc <= e.high
            cov += hit
            widths.append(e.high - e.low)
            if is_sep:
                sep += 1
                sep_cov += hit
        if math.isfinite(se_delong):
            lo, hi = max(a - z * se_delong, 0.0), min(a + z * se_delong, 1.0)
            wald_defined += 1
            wald_cov += lo <= auc <= hi
            wald_zero += hi - lo <= 0
        lo, hi = hm_score_interval(a, p, n_neg)
        hm_cov += lo <= auc <= hi
    vals, ses = np.array(vals), np.array(ses)
    fin = np.isfinite(ses)
    inside = fin & (vals < 1) & (vals > 0)
    corr = (float(np.corrcoef(vals[inside], ses[inside])[0, 1])
            if inside.sum() > 2 and np.std(ses[inside]) > 0 else math.nan)
    return {
        "positives": p, "negatives": n_neg, "auc": auc, "sims": sims,
        "defined": defined, "coverage": cov / defined if defined else math.nan,
        "mean_width": float(np.mean(widths)) if widths else math.nan,
        "perfect_separation": sep,
        "coverage_perfect_separation": sep_cov / sep if sep else math.nan,
        "coverage_not_separated": (cov - sep_cov) / (defined - sep) if defined > sep else math.nan,
        "flagged_approximate": int(approx),
        "wald_defined": wald_defined,
        "wald_coverage": wald_cov / wald_defined if wald_defined else math.nan,
        "wald_zero_width": wald_zero,
        "share_auc_hat_1": float(np.mean(vals >= 1.0)),
        "sd_auc_hat": float(np.std(vals, ddof=1)),
        "rms_delong_se": float(np.sqrt(np.nanmean(ses ** 2))),
        "corr_auc_hat_se": corr,
        "mean_auc_hat": float(np.mean(vals)),
        "hm_score_coverage": hm_cov / sims,
    }


def fmt(rows: list[dict]) -> str:
    out = ["| AUC | P | N | assay coverage (SE) | mean width | perfect separations "
           "(their coverage) | coverage without them | note says approximate "
           "| previous Wald DeLong coverage | Wald zero-width | SD(AUC-hat) | RMS DeLong SE "
           "| corr(AUC-hat, SE) | HM score coverage (not in assay) |",
           "|" + "---|" * 14]
    for r in rows:
        c, m = r["coverage"], r["defined"]
        ps = (f"{r['perfect_separation']} ({r['coverage_perfect_separation']:.3f})"
              if r["perfect_separation"] else "0")
        out.append(
            f"| {r['auc']} | {r['positives']} | {r['negatives']} | "
            f"{c:.3f} ({math.sqrt(c * (1 - c) / m):.3f}) | {r['mean_width']:.3f} | {ps} | "
            f"{r['coverage_not_separated']:.3f} | "
            f"{'yes' if r['flagged_approximate'] == r['sims'] else r['flagged_approximate'] or 'no'} | "
            f"{r['wald_coverage']:.3f} | {r['wald_zero_width']} | {r['sd_auc_hat']:.4f} | "
            f"{r['rms_delong_se']:.4f} | {r['corr_auc_hat_se']:.2f} | "
            f"{r['hm_score_coverage']:.3f} |")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sims", type=int, default=1000)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__),
                                                  "delong_small_counts.json"))
    args = ap.parse_args(argv)
    cfgs = [(p, r, a, args.sims) for a in AUCS for r in RATIOS for p in POSITIVES]
    t0 = time.perf_counter()
    with Pool(2) as pool:
        rows = pool.map(run_config, cfgs, chunksize=1)
    wall = time.perf_counter() - t0
    with open(args.out, "w") as f:
        json.dump({"sims": args.sims, "wall_seconds": wall, "rows": rows}, f, indent=1)
    table = fmt(rows)
    with open(os.path.splitext(args.out)[0] + ".md", "w") as f:
        f.write(f"AUC intervals with fixed class counts, {args.sims} simulations per row, "
                f"nominal 0.95; wall {wall:.0f} s on 2 workers. Output of "
                "`delong_small_counts.py`.\n\n" + table)
    print(table)
    print(f"\nwall {wall:.1f} s; wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
