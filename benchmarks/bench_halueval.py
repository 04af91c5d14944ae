"""HaluEval (general): how assay's reference-free scorers agree with human hallucination labels.

Usage::

    python benchmarks/bench_halueval.py [--data ../shared/data/halueval/general_data.json]
                                        [--limit N] [--seed 0] [--out benchmarks/out]

Data: 4,507 ChatGPT answers to Alpaca queries, each labelled by humans as containing a
hallucination (``yes``, 815) or not (``no``, 3,692) (Li et al., EMNLP 2023; SOURCE.md there).
Two records carry the literal id "ID"; records are keyed by their line number instead, so
all 4,507 are used.

**These are weak baselines, by construction.** HaluEval has no retrieved context and no
reference answer, so ``grounding`` and every reference-based scorer (exact match, BLEU,
ROUGE, semantic similarity to a reference) do not apply. The human label concerns factual
errors inside the answer, which a scorer that sees only the query and the answer cannot
check. The scorers compared are the ones that can run on a query and an answer alone:

* ``refusal`` (``expect: comply``): value 1 when the answer refuses or disclaims ("As an AI
  language model, I cannot ..."); passed = did not refuse;
* ``length`` in words (pass rule ``max: 100``, a "concise answer" rule);
* ``semantic_similarity`` with ``against: input``: cosine between the embeddings of the query
  and the answer (all-MiniLM-L6-v2), a weak topical-relevance signal (pass rule ``min: 0.5``).

Pass rules were fixed before looking at the labels; the AUC does not depend on them. Not
compared: an invented "hedging" detector (no such scorer exists in assay, and building one
for this table would be fitting the benchmark), LLM judges (need a model and budget), and
format/JSON/choice/citation scorers (the answers have no required format).

For each scorer it prints and writes ``OUT/halueval_agreement.csv``: the ROC AUC of the
scorer's value for predicting ``yes`` (hallucinated), with a DeLong interval on the logit
scale (assay's binary ``roc_auc``; exact, since each distinct value gets its own score bin);
AUC < 0.5 means higher values go with *fewer* hallucinations. And the pass rate among ``yes``
and among ``no`` answers with Wilson intervals. Undetermined scores are counted, not used.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import assay
from assay._errors import InputError
from assay.llm import CaseView, scorer_from_config
from assay.stats import wilson_interval

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "halueval" / "general_data.json"
#: the figures of ../shared/data/halueval/SOURCE.md
PUBLISHED = {"records": 4507, "yes": 815, "no": 3692, "with_spans": 802,
             "sha256": "73302cd97666b808fb94b5d8a4a2c924049c9484e609017a2f808c4a6d539219"}
SCORERS: dict[str, dict[str, Any]] = {
    "refusal": {"kind": "refusal", "expect": "comply"},
    "length_words": {"kind": "length", "unit": "words", "max": 100},
    "query_similarity": {"kind": "semantic_similarity", "against": "input", "min": 0.5},
}
WEAK = ("weak baselines: HaluEval has no context or reference answer, and its label concerns factual "
        "errors that a scorer seeing only the query and the answer cannot check")
COLUMNS = ["scorer", "n", "n_undetermined", "n_error", "auc", "auc_low", "auc_high", "auc_method",
           "pass_yes", "pass_yes_low", "pass_yes_high", "n_yes", "pass_no", "pass_no_low", "pass_no_high",
           "n_no", "seconds"]
FIELDS = ("ID", "user_query", "chatgpt_response", "hallucination", "hallucination_spans")


def load_halueval(path: Path = DEFAULT) -> pd.DataFrame:
    """One row per record (JSON Lines): row (line number, from 1), id, query, response, label
    (1 = hallucinated) and n_spans. A malformed line is an error naming it."""
    if not path.is_file():
        raise InputError(f"HaluEval file not found: {path}; see ../shared/data/halueval/SOURCE.md")
    rows = []
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{line_no}: not a JSON object ({exc})") from None
            missing = [f for f in FIELDS if f not in rec]
            if missing:
                raise InputError(f"{path}:{line_no}: missing field(s) {', '.join(missing)}")
            if rec["hallucination"] not in ("yes", "no"):
                raise InputError(f"{path}:{line_no}: 'hallucination' must be 'yes' or 'no', got "
                                 f"{rec['hallucination']!r}")
            rows.append({"row": line_no, "id": str(rec["ID"]), "query": str(rec["user_query"]),
                         "response": str(rec["chatgpt_response"]),
                         "label": int(rec["hallucination"] == "yes"),
                         "n_spans": len(rec["hallucination_spans"] or [])})
    return pd.DataFrame(rows)


def subsample(df: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """A seeded simple random sample of ``n`` records, in file order."""
    if n >= len(df):
        return df
    keep = np.sort(np.random.default_rng(seed).choice(len(df), size=n, replace=False))
    return df.iloc[keep].reset_index(drop=True)


def score_records(df: pd.DataFrame, configs: dict[str, dict[str, Any]] = SCORERS,
                  log: Callable[[str], None] | None = None) -> tuple[pd.DataFrame, dict[str, float]]:
    """Score every record with every scorer (``score_many`` where a scorer has it): a long
    table (row, scorer, value, passed, status) and the seconds each scorer took."""
    views = [CaseView(str(r), resp, input=q) for r, q, resp in zip(df["row"], df["query"], df["response"],
                                                                   strict=True)]
    parts, seconds = [], {}
    for name, raw in configs.items():
        scorer = scorer_from_config({**raw, "name": name})
        if log:
            log(f"scoring {len(views)} answers with {name} ...")
        t0 = time.perf_counter()
        many = getattr(scorer, "score_many", None)
        scores = many(views) if many is not None else [scorer.score(v) for v in views]
        seconds[name] = time.perf_counter() - t0
        parts.append(pd.DataFrame({"row": df["row"].to_numpy(), "scorer": name,
                                   "value": [s.value for s in scores], "passed": [s.passed for s in scores],
                                   "status": [s.status for s in scores]}))
    table = pd.concat(parts, ignore_index=True)
    table["value"] = pd.to_numeric(table["value"], errors="coerce").astype(float)
    return table, seconds


def auc_interval(y: np.ndarray, score: np.ndarray, confidence: float = 0.95) -> dict[str, Any]:
    """ROC AUC of ``score`` for ``y`` = 1 with its interval, from assay's binary ``roc_auc``
    (DeLong, logit scale). Scores are mapped to (0, 1) by their rank among the distinct values,
    one value per score bin, so the AUC is exact; it depends only on the order of the scores."""
    y = np.asarray(y, dtype=np.int64)
    s = np.asarray(score, dtype=np.float64)
    distinct, inverse = np.unique(s, return_inverse=True)
    if distinct.size > 65536:
        raise ValueError("more than 65,536 distinct scores: the rank mapping would share score bins")
    mapped = (inverse + 0.5) / distinct.size
    res = assay.evaluate(data=pd.DataFrame({"y": y}), task="binary", label="y", predictions={"s": mapped},
                         metrics=["roc_auc"], confidence=confidence)
    row = res.row("roc_auc", "s")
    return {"auc": row["value"], "auc_low": row["ci_low"], "auc_high": row["ci_high"], "n": int(row["n"]),
            "auc_method": row["method"], "note": row["note"]}


def _rate(passed: pd.Series, confidence: float) -> tuple[float, float, float, int]:
    n = int(passed.size)
    if n == 0:
        return float("nan"), float("nan"), float("nan"), 0
    p = float(passed.astype(bool).mean())
    ci = wilson_interval(p, n, confidence)
    return p, ci.low, ci.high, n


def agreement_table(scores: pd.DataFrame, labels: pd.DataFrame, seconds: dict[str, float] | None = None,
                    confidence: float = 0.95) -> pd.DataFrame:
    """Per scorer: AUC (with interval) of its value for the human label, and its pass rate among
    hallucinated and among clean answers (Wilson). Undetermined and error scores are counted and
    left out. ``labels`` has columns row and label (1 = hallucinated)."""
    merged = scores.merge(labels[["row", "label"]], on="row", how="left", validate="many_to_one")
    if merged["label"].isna().any():
        raise InputError(f"{int(merged['label'].isna().sum())} scores have no label row")
    out = []
    for name, g in merged.groupby("scorer", sort=False):
        ok = g[g["status"] == "ok"]
        row: dict[str, Any] = {"scorer": name, "n_undetermined": int((g["status"] == "undetermined").sum()),
                               "n_error": int((g["status"] == "error").sum())}
        y = ok["label"].to_numpy(dtype=np.int64)
        if ok.empty or y.min() == y.max():
            row.update({"n": len(ok), "auc": np.nan, "auc_low": np.nan, "auc_high": np.nan,
                        "auc_method": "undefined: one label class"})
        else:
            auc = auc_interval(y, ok["value"].to_numpy(), confidence)
            row.update({k: auc[k] for k in ("auc", "auc_low", "auc_high", "n", "auc_method")})
        ruled = ok[ok["passed"].notna()]
        for tag, lab in (("yes", 1), ("no", 0)):
            p, lo, hi, n = _rate(ruled.loc[ruled["label"] == lab, "passed"], confidence)
            row.update({f"pass_{tag}": p, f"pass_{tag}_low": lo, f"pass_{tag}_high": hi, f"n_{tag}": n})
        row["seconds"] = (seconds or {}).get(name, np.nan)
        out.append(row)
    return pd.DataFrame(out, columns=COLUMNS)


def format_table(table: pd.DataFrame) -> str:
    """The table as printed: scorer, AUC (CI), pass rate yes / no (CI), n, seconds."""
    def ci(v: float, lo: float, hi: float) -> str:
        return "n/a" if v != v else f"{v:.3f} ({lo:.3f}-{hi:.3f})"

    lines = [f"{'scorer':<18} {'AUC for yes (95% CI)':<24} {'pass rate | yes (CI)':<24} "
             f"{'pass rate | no (CI)':<24} {'n':>5} {'undet.':>6} {'seconds':>8}"]
    for r in table.itertuples(index=False):
        lines.append(f"{r.scorer:<18} {ci(r.auc, r.auc_low, r.auc_high):<24} "
                     f"{ci(r.pass_yes, r.pass_yes_low, r.pass_yes_high):<24} "
                     f"{ci(r.pass_no, r.pass_no_low, r.pass_no_high):<24} {r.n:>5} {r.n_undetermined:>6} "
                     f"{r.seconds:>8.1f}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT)
    ap.add_argument("--limit", type=int, default=None, help="score a seeded sample of this many records")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    args = ap.parse_args()
    t0 = time.perf_counter()
    df = load_halueval(args.data)
    counts = {"records": len(df), "yes": int(df["label"].sum()), "no": int((1 - df["label"]).sum()),
              "with_spans": int((df["n_spans"] > 0).sum())}
    print(f"{args.data}: {counts} (published: records 4507, yes 815, no 3692, with spans 802)")
    if args.limit:
        df = subsample(df, args.limit, args.seed)
        print(f"seeded sample: {len(df)} records (seed {args.seed})")
    scores, seconds = score_records(df, SCORERS, log=print)
    table = agreement_table(scores, df, seconds)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "halueval_agreement.csv", index=False)
    print()
    print(format_table(table))
    print(f"\nNOTE: {WEAK}. AUC < 0.5: higher values go with fewer hallucinations.")
    print(f"total {time.perf_counter() - t0:.1f} s; wrote {args.out / 'halueval_agreement.csv'}")


if __name__ == "__main__":
    main()
