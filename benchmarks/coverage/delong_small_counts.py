"""Supplement to coverage_study.py: DeLong coverage with a FIXED number of positives.

The main grid mixes class counts (at n = 50, prevalence 0.05 the number of positives is
Binomial(50, 0.05)). Here the class counts are fixed, P positives and N negatives from the
same binormal model, so coverage can be read as a function of P; this is what a minimum
class count for flagging an AUC interval should be based on.

Run::

    python benchmarks/coverage/delong_small_counts.py [--sims 1000] \
        [--out benchmarks/coverage/delong_small_counts.json]

Columns: coverage of assay's DeLong interval (over simulations with an interval), share of
zero-width intervals (AUC estimate 1 -> DeLong SE 0), SD of the AUC estimate across
simulations vs the root-mean-square DeLong SE, and the logit-DeLong comparator (not in
assay; undefined when the estimate is 1).
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

from assay._estimate import estimate

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
    vals, ses, cov, cov_logit, defined, defined_logit, zero = [], [], 0, 0, 0, 0, 0
    for i in range(sims):
        rng = np.random.default_rng([BASE_SEED, key, i])
        x = np.concatenate([rng.normal(mu, 1.0, p), rng.normal(0.0, 1.0, n_neg)])
        y = np.concatenate([np.ones(p, dtype=np.int64), np.zeros(n_neg, dtype=np.int64)])
        e = estimate("binary", y, expit(mu * x - mu * mu / 2), metrics=["roc_auc"],
                     seed=key * 1_000_000 + i)["roc_auc"]
        vals.append(e.value)
        ses.append(e.se)
        if math.isfinite(e.low):
            defined += 1
            cov += e.low <= auc <= e.high
            zero += e.high - e.low <= 0
        a = e.value
        if 0 < a < 1 and e.se > 0:
            h = z * e.se / (a * (1 - a))
            lo, hi = expit(math.log(a / (1 - a)) - h), expit(math.log(a / (1 - a)) + h)
            defined_logit += 1
            cov_logit += lo <= auc <= hi
    vals, ses = np.array(vals), np.array(ses)
    return {
        "positives": p, "negatives": n_neg, "auc": auc, "sims": sims,
        "delong_defined": defined, "delong_coverage": cov / defined if defined else math.nan,
        "delong_zero_width": zero,
        "share_auc_hat_1": float(np.mean(vals >= 1.0)),
        "sd_auc_hat": float(np.std(vals, ddof=1)),
        "rms_delong_se": float(np.sqrt(np.nanmean(ses ** 2))),
        "mean_auc_hat": float(np.mean(vals)),
        "logit_defined": defined_logit,
        "logit_coverage": cov_logit / defined_logit if defined_logit else math.nan,
        "logit_coverage_all": cov_logit / sims,
    }


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
    print("| AUC | P | N | DeLong coverage (SE) | zero-width | AUC-hat = 1 | SD(AUC-hat) "
          "| RMS DeLong SE | logit-DeLong coverage (defined) | logit, undefined = miss |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        c, m = r["delong_coverage"], r["delong_defined"]
        print(f"| {r['auc']} | {r['positives']} | {r['negatives']} | "
              f"{c:.3f} ({math.sqrt(c * (1 - c) / m):.3f}) | {r['delong_zero_width']} | "
              f"{r['share_auc_hat_1']:.3f} | {r['sd_auc_hat']:.4f} | {r['rms_delong_se']:.4f} | "
              f"{r['logit_coverage']:.3f} | {r['logit_coverage_all']:.3f} |")
    print(f"\nwall {wall:.1f} s; wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
