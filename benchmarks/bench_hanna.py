"""HANNA: human inter-rater agreement and how automatic scores agree with the human mean.

Usage::

    python benchmarks/bench_hanna.py [--data ../shared/data/hanna/hanna_metric_scores_llm.csv]
                                     [--replicates 1000] [--seed 0] [--out benchmarks/out]

Per criterion (RE, CH, EM, SU, EG, CX) it prints and writes ``OUT/hanna_agreement.csv``:

* Krippendorff's alpha (ordinal) of the three human rating slots over all 1,056 stories,
  with a bootstrap interval over stories; ICC(1) and ICC(1,k) with F intervals. The slots
  are not the same three people, hence alpha and the one-way ICC, not Cohen's kappa.
* Story-level (within-prompt) Kendall tau between each automatic score and the human mean
  of that criterion over the 960 generated stories (the human-written story is left out:
  it is the reference of BLEU/ROUGE/BERTScore), averaged over the 96 prompts, with an
  interval from resampling prompts (Chhun et al. 2022). Scores: BLEU, ROUGE-1 F, BERTScore
  F1 and the ChatGPT judge's rating of the same criterion (prompt variant 1).
* System-level Kendall tau of the 10 systems' mean scores, interval from resampling prompts.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from assay.stats import icc1, krippendorff_alpha, system_correlation, within_group_correlation

CRITERIA = {"RE": "Relevance", "CH": "Coherence", "EM": "Empathy", "SU": "Surprise", "EG": "Engagement",
            "CX": "Complexity"}
METRICS = {"BLEU": "BLEU Ξ§", "ROUGE-1 F": "ROUGE-1 F-Score Ξ§", "BERTScore F1": "BERTScore F1 Ξε"}
DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "hanna" / "hanna_metric_scores_llm.csv"


def load(path: Path) -> pd.DataFrame:
    """One row per story: system, prompt and every column of the per-system JSON lists."""
    raw = pd.read_csv(path)
    cols = {c: np.array([json.loads(v) for v in raw[c]], dtype=float).ravel() for c in raw.columns
            if c != "Model"}
    out = pd.DataFrame(cols)
    out.insert(0, "prompt", np.tile(np.arange(96), len(raw)))
    out.insert(0, "system", np.repeat(raw["Model"].to_numpy(), 96))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT)
    ap.add_argument("--replicates", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    args = ap.parse_args()
    t0 = time.perf_counter()
    df = load(args.data)
    gen = df[df["system"] != "Human"]
    rows = []
    for code, name in CRITERIA.items():
        vals = df[[f"Human {i} {code}" for i in (1, 2, 3)]].to_numpy().T
        alpha = krippendorff_alpha(vals, level="ordinal", replicates=args.replicates, seed=args.seed)
        icc = icc1(vals)
        for est in (alpha, icc.single, icc.average):
            rows.append({"criterion": code, "score": "humans", **est.row()})
        scores = {**METRICS, f"ChatGPT {code} 1": f"ChatGPT {code} 1"}
        for label, col in scores.items():
            for est in (within_group_correlation(gen[col], gen[name], gen["prompt"],
                                                 replicates=args.replicates, seed=args.seed),
                        system_correlation(gen[col], gen[name], gen["system"], gen["prompt"],
                                           replicates=args.replicates, seed=args.seed)):
                rows.append({"criterion": code, "score": label, **est.row()})
    table = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "hanna_agreement.csv", index=False)
    show = table[["criterion", "score", "statistic", "value", "ci_low", "ci_high", "n"]]
    fmt = "{:.3f}".format
    with pd.option_context("display.width", 160, "display.max_rows", 200, "display.float_format", fmt):
        print(show.to_string(index=False))
    print(f"\n{len(table)} rows in {time.perf_counter() - t0:.1f} s -> {args.out / 'hanna_agreement.csv'}")


if __name__ == "__main__":
    main()
