"""The stress run end to end, through ``evaluate_spec``, against independent computations.

Two real scikit-learn pipelines are saved with skops and run by assay itself on a small
credit-like evaluation set (3,000 rows; 20 of them lack ``income``): ``tree`` (median
imputation, gradient boosting) and ``lr`` (a logistic regression that raises on NaN). Every
number of the stress tables is recomputed here from the models' own ``predict_proba`` on
frames rebuilt with the public perturbation functions: scikit-learn for AUC, log loss and
weighted metrics, a DeLong implementation (Sun & Xu's structural components) for the paired
AUC interval, SciPy's paired t for log loss, statsmodels for Wilson intervals and McNemar's
exact test, and hand counts for flips, errors and behavioural failures.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from _scripts import pick
from scipy import stats
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

from assay._errors import SpecError
from assay._evaluate import evaluate_spec
from assay.models._local import FINGERPRINT_VERSION
from assay.results import EvaluationResult
from assay.robustness import apply_perturbation, behaviour_frame, stream_seed
from assay.spec import parse_spec

FEATURES = ["region", "channel", "income", "loan_amount", "age"]
CATEGORICAL = ["region", "channel"]
NUMERIC = ["income", "loan_amount", "age"]
N_ROWS = 3000
NAN_INCOME = 20
SEED = 3  # stress.seed
THRESHOLD = 0.5
Z = stats.norm.ppf(0.975)
NAN_MESSAGE = "ValueError: Input X contains NaN."
#: what skops asks a loader of the boosted trees to trust (reviewed: numpy dtypes, fitted trees)
TREE_TRUSTED = ["numpy.dtype", "sklearn.tree._tree.Tree"]


# ---- data, models and the evaluation -----------------------------------------------------------


def make_frame(n: int, seed: int) -> pd.DataFrame:
    """Loan applications: two string columns, two money columns, an integer age, and a
    default label drawn from a logistic model of them."""
    rng = np.random.default_rng(seed)
    region = rng.choice(["north", "south", "east", "west"], n, p=[0.4, 0.3, 0.2, 0.1])
    channel = rng.choice(["web", "branch", "broker"], n, p=[0.5, 0.3, 0.2])
    income = np.round(rng.lognormal(10.5, 0.5, n), 2)
    loan = np.round(rng.lognormal(9.5, 0.6, n), 2)
    age = rng.integers(18, 80, n)
    z = (-1.0 + 0.8 * (region == "south") + 0.6 * (channel == "broker") - 1.2 * (np.log(income) - 10.5)
         + 1.0 * (np.log(loan) - 9.5) - 0.02 * (age - 45))
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-z))).astype(np.int64)
    amount = 0.3 * loan + 0.01 * income + 20.0 * (region == "south") + rng.normal(0, 300, n)
    return pd.DataFrame({"id": np.arange(10_000, 10_000 + n), "region": region, "channel": channel,
                         "income": income, "loan_amount": loan, "age": age, "y": y,
                         "amount": np.round(amount, 2)})


def _encoder(numbers: Any) -> ColumnTransformer:
    return ColumnTransformer([
        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), CATEGORICAL),
        ("num", numbers, NUMERIC)])


def fit_models(train: pd.DataFrame) -> dict[str, Pipeline]:
    x = train[FEATURES]
    return {
        "tree": Pipeline([("prep", _encoder(SimpleImputer(strategy="median"))),
                          ("model", GradientBoostingClassifier(n_estimators=40, max_depth=3,
                                                               random_state=0))]).fit(x, train.y),
        # StandardScaler passes NaN through and LogisticRegression raises on it
        "lr": Pipeline([("prep", _encoder(StandardScaler())),
                        ("model", LogisticRegression(max_iter=1000))]).fit(x, train.y),
        "lin": Pipeline([("prep", _encoder("passthrough")), ("model", LinearRegression())])
        .fit(x, train.amount),
    }


STRESS: dict[str, Any] = {
    "seed": SEED,
    "bootstrap": 50,
    "save": True,
    "examples": 3,
    "perturbations": [
        {"name": "noisy", "kind": "noise", "columns": ["income", "loan_amount"], "scale": 0.5},
        {"name": "holes", "kind": "missing", "columns": ["loan_amount"], "fraction": 0.05},
        {"name": "broker surge", "kind": "shift", "where": "channel = 'broker'", "factor": 3},
        {"name": "broker resample", "kind": "shift", "where": "channel = 'broker'", "factor": 3,
         "mode": "resample"},
    ],
    "tests": [
        {"name": "richer", "kind": "directional", "column": "income", "change": {"multiply": 1.5},
         "expect": "not_increase", "max_failure_rate": 0.05},
        {"name": "region swap", "kind": "invariance", "tolerance": 0.05, "max_failure_rate": 0.5,
         "perturbation": {"kind": "swap", "columns": ["region"], "fraction": 1.0}},
    ],
}


def spec_dict(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "name": "stress-e2e", "task": "binary", "data": {"path": "eval.parquet"}, "id": "id",
        "label": "y", "positive": 1,
        "models": [{"name": "tree", "adapter": {"path": "tree.skops", "features": FEATURES,
                                                "trusted_types": TREE_TRUSTED}},
                   {"name": "lr", "adapter": {"path": "lr.skops", "features": FEATURES,
                                              "error_budget": 100_000}}],
        "metrics": ["roc_auc", "log_loss", "accuracy"], "threshold": THRESHOLD,
        "slices": [{"column": "region"}], "bootstrap": 200, "cache": "cache",
        "stress": STRESS, "latency": {"requests": 20, "warmup": 2},
    }
    raw.update(changes)
    return {k: v for k, v in raw.items() if v is not None}


class World:
    """Files in a temporary folder, the fitted models and the main evaluation."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.models = fit_models(make_frame(2000, seed=11))
        frame = make_frame(N_ROWS, seed=5)
        rng = np.random.default_rng(1)
        self.nan_rows = np.sort(rng.choice(N_ROWS, NAN_INCOME, replace=False))
        frame.loc[self.nan_rows, "income"] = np.nan
        frame.to_parquet(root / "eval.parquet", index=False)
        self.frame = pd.read_parquet(root / "eval.parquet")
        for name, model in self.models.items():
            sio.dump(model, root / f"{name}.skops")
        assert sorted(sio.get_untrusted_types(file=root / "tree.skops")) == TREE_TRUSTED
        self.spec = parse_spec(spec_dict())
        self.result = evaluate_spec(self.spec, root)
        self.y = self.frame.y.to_numpy()
        self.ok_lr = self.frame.income.notna().to_numpy()

    def rows(self, model: str) -> tuple[pd.DataFrame, np.ndarray]:
        """The evaluation rows a model is stressed on (those it scored cleanly), as the run
        takes them: its feature columns, renumbered from 0, and their labels."""
        keep = self.ok_lr if model == "lr" else np.ones(N_ROWS, dtype=bool)
        return self.frame.loc[keep, FEATURES].reset_index(drop=True), self.y[keep]

    def proba(self, model: str, frame: pd.DataFrame) -> np.ndarray:
        return self.models[model].predict_proba(frame)[:, 1]

    def perturbed(self, model: str, index: int) -> Any:
        p = self.spec.stress.perturbations[index]
        return apply_perturbation(p, self.rows(model)[0], stream_seed(SEED, p.label))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return World(tmp_path_factory.mktemp("stress"))




def delong(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float, float, float, float]:
    """(auc_a, auc_b, var_a, var_b, cov) by DeLong's structural components (Sun & Xu 2014)."""
    pos, neg = y == 1, y == 0
    m, n = int(pos.sum()), int(neg.sum())
    v01, v10, aucs = [], [], []
    for s in (a, b):
        x, z = s[pos], s[neg]
        tx, tz, txz = stats.rankdata(x), stats.rankdata(z), stats.rankdata(np.r_[x, z])
        aucs.append((txz[:m].sum() - m * (m + 1) / 2) / (m * n))
        v01.append((txz[:m] - tx) / n)
        v10.append(1.0 - (txz[m:] - tz) / m)
    s = np.cov(np.array(v01)) / m + np.cov(np.array(v10)) / n
    return aucs[0], aucs[1], s[0, 0], s[1, 1], s[0, 1]


def wilson(count: int, n: int) -> tuple[float, float]:
    return proportion_confint(count, n, alpha=0.05, method="wilson")


# ---- 1. adapter models in the evaluation ---------------------------------------------------------


def test_adapter_metrics_equal_sklearn_on_the_models_own_predictions(world: World) -> None:
    t = world.result.table
    for name in ("tree", "lr"):
        keep = world.ok_lr if name == "lr" else np.ones(N_ROWS, dtype=bool)
        p = world.proba(name, world.frame.loc[keep, FEATURES])
        y = world.y[keep]
        auc = pick(t, model=name, slice="overall", metric="roc_auc")
        assert auc.n == keep.sum()
        assert auc.value == pytest.approx(roc_auc_score(y, p), abs=1e-4)  # binned scores
        assert pick(t, model=name, slice="overall", metric="log_loss").value == pytest.approx(
            log_loss(y, p), abs=1e-9)
        assert pick(t, model=name, slice="overall", metric="accuracy").value == pytest.approx(
            accuracy_score(y, p >= THRESHOLD), abs=1e-12)
        south = world.frame.region.to_numpy()[keep] == "south"
        assert pick(t, model=name, slice="region=south", metric="roc_auc").value == pytest.approx(
            roc_auc_score(y[south], p[south]), abs=1e-4)


def test_manifest_records_the_model_files_and_adapter_lineage(world: World) -> None:
    manifest = world.result.manifest()
    for name in ("tree", "lr"):
        digest = hashlib.sha256((world.root / f"{name}.skops").read_bytes()).hexdigest()
        assert manifest["inputs"][f"model:{name}"]["sha256"] == digest
        lineage = manifest["adapters"][name]
        # the adapter's fingerprint: SHA-256 over its kind and the file's digest (and artifacts)
        fingerprint = hashlib.sha256(f"{FINGERPRINT_VERSION}\0skops\0file\0{digest}\n".encode())
        assert lineage["kind"] == "skops" and lineage["sha256"] == fingerprint.hexdigest()
        assert lineage["features"] == FEATURES and lineage["rows"] == N_ROWS
        assert lineage["errored"] == (NAN_INCOME if name == "lr" else 0)
    assert manifest["excluded"]["lr"]["model error"] == NAN_INCOME
    assert manifest["excluded"]["tree"]["model error"] == 0


def test_model_errors_are_counted_and_listed(world: World) -> None:
    res = world.result
    assert res.excluded["lr"]["model error"] == NAN_INCOME
    assert "missing score" not in res.excluded["lr"]
    errors = res.analyses["prediction_errors"]
    clean = pick(errors, model="lr", input="clean")
    assert clean.message == NAN_MESSAGE and clean.rows == NAN_INCOME
    assert clean.example_rows == ", ".join(str(r + 1) for r in world.nan_rows[:5])
    assert set(errors.model) == {"lr"}  # the imputing model fails on nothing


# ---- 2. the prediction cache -------------------------------------------------------------------


def test_rerun_predicts_nothing_and_gives_identical_tables(world: World) -> None:
    first = world.result
    again = evaluate_spec(world.spec, world.root)
    for name in ("tree", "lr"):
        lineage = again.extra["adapters"][name]
        assert lineage["predicted"] == 0 and lineage["cached"] == N_ROWS, lineage
        assert lineage["errored"] == first.extra["adapters"][name]["errored"]  # errors cached too
    pd.testing.assert_frame_equal(again.table, first.table)
    for key in ("robustness", "behaviour", "prediction_errors"):
        pd.testing.assert_frame_equal(again.analyses[key], first.analyses[key])
    assert again.analysis_charts["robustness"] == first.analysis_charts["robustness"]


def test_cache_off_predicts_again_and_one_changed_row_is_predicted_alone(world: World) -> None:
    plain = parse_spec(spec_dict(stress=None, latency=None))
    fresh = evaluate_spec(plain, world.root, use_cache=False)
    for name in ("tree", "lr"):
        lineage = fresh.extra["adapters"][name]
        assert lineage["predicted"] == N_ROWS and lineage["cached"] == 0
    pd.testing.assert_frame_equal(fresh.table, world.result.table)
    changed = world.frame.copy()
    row = int(np.flatnonzero(world.ok_lr)[7])
    changed.loc[row, "loan_amount"] += 1.0
    changed.to_parquet(world.root / "eval_changed.parquet", index=False)
    other = evaluate_spec(parse_spec(spec_dict(stress=None, latency=None,
                                               data={"path": "eval_changed.parquet"})), world.root)
    for name in ("tree", "lr"):
        lineage = other.extra["adapters"][name]
        assert lineage["predicted"] == 1 and lineage["cached"] == N_ROWS - 1, lineage
    p = world.proba("tree", changed[FEATURES])
    assert pick(other.table, model="tree", slice="overall", metric="log_loss").value == pytest.approx(
        log_loss(world.y, p), abs=1e-9)


# ---- 3. a perturbation, row for row ------------------------------------------------------------


def test_saved_perturbed_input_is_the_reproduced_frame(world: World, tmp_path: Path) -> None:
    pert = world.perturbed("tree", 0)
    saved = world.result.extra["stress_inputs"]
    labels = [p["name"] for p in STRESS["perturbations"]]
    assert set(saved) == {f"{m}__{p}" for m in ("tree", "lr") for p in labels}
    pd.testing.assert_frame_equal(saved["tree__noisy"], pert.frame)
    pd.testing.assert_frame_equal(saved["lr__holes"], world.perturbed("lr", 1).frame)
    world.result.write(tmp_path / "run")
    on_disk = pd.read_parquet(tmp_path / "run" / "stress" / "tree__noisy.parquet")
    pd.testing.assert_frame_equal(on_disk, pert.frame, check_dtype=False)
    assert (tmp_path / "run" / "stress" / "lr__broker_resample.parquet").is_file()


def test_noise_deltas_equal_sklearn_on_the_perturbed_frame(world: World) -> None:
    frame, y = world.rows("tree")
    pert = world.perturbed("tree", 0)
    assert pert.changed.all()
    clean, after = world.proba("tree", frame), world.proba("tree", pert.frame)
    rob = world.result.analyses["robustness"]
    mine = rob[(rob.model == "tree") & (rob.perturbation == "noisy") & (rob.slice == "overall")]
    auc = pick(mine, metric="roc_auc")
    assert auc.method == "paired delong" and auc.n == N_ROWS and auc.kind == "noise"
    a0, a1, va, vb, cov = delong(y, clean, after)
    assert auc.clean_value == pytest.approx(roc_auc_score(y, clean), abs=1e-12) == pytest.approx(a0)
    assert auc.perturbed_value == pytest.approx(roc_auc_score(y, after), abs=1e-12)
    assert auc.delta == pytest.approx(a1 - a0, abs=1e-12)
    se = math.sqrt(va + vb - 2 * cov)
    assert (auc.ci_low, auc.ci_high) == pytest.approx((auc.delta - Z * se, auc.delta + Z * se), abs=1e-9)
    assert auc.p_value == pytest.approx(2 * stats.norm.sf(abs(auc.delta) / se), rel=1e-6)
    # pairing pays: the unpaired (MOVER) interval from the two single DeLong intervals is wider
    mover = math.hypot(Z * math.sqrt(va), Z * math.sqrt(vb))
    assert auc.ci_low <= auc.delta <= auc.ci_high
    assert (auc.ci_high - auc.ci_low) / 2 < mover
    ll = pick(mine, metric="log_loss")
    assert ll.delta == pytest.approx(log_loss(y, after) - log_loss(y, clean), abs=1e-12)
    loss = lambda p: -(y * np.log(p) + (1 - y) * np.log1p(-p))  # noqa: E731
    ci = stats.ttest_rel(loss(after), loss(clean)).confidence_interval(0.95)
    assert (ll.ci_low, ll.ci_high) == pytest.approx((ci.low, ci.high), abs=1e-9)
    acc = pick(mine, metric="accuracy")
    right0, right1 = (clean >= THRESHOLD) == y, (after >= THRESHOLD) == y
    assert acc.delta == pytest.approx(right1.mean() - right0.mean(), abs=1e-15)
    table = [[int((right0 & right1).sum()), int((right0 & ~right1).sum())],
             [int((~right0 & right1).sum()), int((~right0 & ~right1).sum())]]
    assert acc.p_value == pytest.approx(mcnemar(table, exact=True).pvalue, rel=1e-9)
    flips = (after >= THRESHOLD) != (clean >= THRESHOLD)
    flip = pick(mine, metric="flip_rate")
    assert flip.delta == flips.sum() / N_ROWS and flip.n == N_ROWS and flip.method == "wilson"
    assert (flip.ci_low, flip.ci_high) == pytest.approx(wilson(int(flips.sum()), N_ROWS), abs=1e-12)
    err = pick(mine, metric="error_rate")
    assert err.delta == 0 and err.errored_rows == 0 and err.changed_rows == N_ROWS
    assert flips.sum() > 30  # the check is not vacuous


def test_noise_deltas_per_slice(world: World) -> None:
    frame, y = world.rows("tree")
    pert = world.perturbed("tree", 0)
    clean, after = world.proba("tree", frame), world.proba("tree", pert.frame)
    rob = world.result.analyses["robustness"]
    for level in ("south", "west"):
        sel = frame.region.to_numpy() == level
        mine = rob[(rob.model == "tree") & (rob.perturbation == "noisy") & (rob.slice == f"region={level}")]
        auc = pick(mine, metric="roc_auc")
        assert auc.n == sel.sum() and auc.dimension == "region" and auc.level == level
        a0, a1, va, vb, cov = delong(y[sel], clean[sel], after[sel])
        assert auc.delta == pytest.approx(a1 - a0, abs=1e-12)
        se = math.sqrt(va + vb - 2 * cov)
        assert auc.ci_high == pytest.approx(auc.delta + Z * se, abs=1e-9)
        assert pick(mine, metric="log_loss").delta == pytest.approx(
            log_loss(y[sel], after[sel]) - log_loss(y[sel], clean[sel]), abs=1e-12)
        flips = ((after >= THRESHOLD) != (clean >= THRESHOLD))[sel]
        flip = pick(mine, metric="flip_rate")
        assert flip.delta == pytest.approx(flips.mean(), abs=1e-15)
        assert (flip.ci_low, flip.ci_high) == pytest.approx(wilson(int(flips.sum()), int(sel.sum())),
                                                            abs=1e-12)
        assert pick(mine, metric="error_rate").changed_rows == sel.sum()


def test_worst_examples_are_the_rows_that_moved_most(world: World) -> None:
    frame, _ = world.rows("tree")
    pert = world.perturbed("tree", 0)
    move = np.abs(world.proba("tree", pert.frame) - world.proba("tree", frame))
    charts = world.result.analysis_charts["robustness"]["perturbations"]
    ex = next(c for c in charts if c["model"] == "tree" and c["perturbation"] == "noisy")
    top = np.lexsort((np.arange(move.size), -move))[:3]
    assert [r["change"] for r in ex["rows"]] == pytest.approx(move[top].tolist(), abs=1e-12)
    assert ex["columns"] == ["income", "loan_amount"]
    assert not any(r["error"] for r in ex["rows"])


# ---- 4. model errors under stress --------------------------------------------------------------


def test_missing_values_on_a_model_that_raises(world: World) -> None:
    frame, y = world.rows("lr")
    n = len(frame)
    pert = world.perturbed("lr", 1)
    injected = pert.frame.loan_amount.isna().to_numpy()
    k = int(injected.sum())
    assert k == round(0.05 * n) and k == pert.changed.sum()
    rob = world.result.analyses["robustness"]
    mine = rob[(rob.model == "lr") & (rob.perturbation == "holes") & (rob.slice == "overall")]
    err = pick(mine, metric="error_rate")
    assert err.delta == k / n and err.n == n and err.errored_rows == k
    assert (err.ci_low, err.ci_high) == pytest.approx(wilson(k, n), abs=1e-12)
    # the metrics compare the rows the model still answered: unchanged, so no change at all
    keep = ~injected
    auc = pick(mine, metric="roc_auc")
    assert auc.n == n - k
    assert auc.clean_value == pytest.approx(roc_auc_score(y[keep], world.proba("lr", frame[keep])),
                                            abs=1e-12)
    assert auc.delta == 0 and pick(mine, metric="flip_rate").delta == 0
    assert pick(mine, metric="log_loss").n == n - k
    south = (frame.region == "south").to_numpy()
    err_s = pick(rob[(rob.model == "lr") & (rob.perturbation == "holes")], slice="region=south",
                 metric="error_rate")
    assert err_s.errored_rows == (injected & south).sum() and err_s.n == south.sum()
    # the imputing model takes the same holes
    tree = rob[(rob.model == "tree") & (rob.perturbation == "holes") & (rob.slice == "overall")]
    assert pick(tree, metric="error_rate").delta == 0 and pick(tree, metric="roc_auc").n == N_ROWS
    charts = world.result.analysis_charts["robustness"]["perturbations"]
    ex = next(c for c in charts if c["model"] == "lr" and c["perturbation"] == "holes")
    assert [r["error"] for r in ex["rows"]] == [True] * 3  # nothing moved; the failures shown


def test_stress_errors_are_listed_beside_the_clean_errors(world: World) -> None:
    pert = world.perturbed("lr", 1)
    injected = pert.frame.loan_amount.isna().to_numpy()
    errors = world.result.analyses["prediction_errors"]
    assert pick(errors, model="lr", input="clean").rows == NAN_INCOME
    row = pick(errors, model="lr", input="holes")
    assert row.message == NAN_MESSAGE and row.rows == injected.sum()
    dataset_rows = np.flatnonzero(world.ok_lr)[injected][:5] + 1
    assert row.example_rows == ", ".join(map(str, dataset_rows))


# ---- 5. distribution shift ---------------------------------------------------------------------


def test_reweighted_cohort_equals_sklearn_weighted_metrics(world: World) -> None:
    frame, y = world.rows("tree")
    p = world.proba("tree", frame)
    w = np.where(frame.channel.to_numpy() == "broker", 3.0, 1.0)
    rob = world.result.analyses["robustness"]
    mine = rob[(rob.model == "tree") & (rob.perturbation == "broker surge")]
    assert list(mine.slice) == ["overall"] * 3 and set(mine.kind) == {"shift"}
    auc = pick(mine, metric="roc_auc")
    want = roc_auc_score(y, p, sample_weight=w) - roc_auc_score(y, p)
    assert auc.delta == pytest.approx(want, abs=1e-4)
    assert auc.clean_value == pytest.approx(roc_auc_score(y, p), abs=1e-4)
    assert auc.ci_low <= auc.delta <= auc.ci_high and auc.ci_low < auc.ci_high
    assert "50 replicates" in auc.method and auc.n == N_ROWS
    ll = pick(mine, metric="log_loss")
    assert ll.delta == pytest.approx(log_loss(y, p, sample_weight=w) - log_loss(y, p), abs=1e-9)
    acc = pick(mine, metric="accuracy")
    right = (p >= THRESHOLD) == y
    assert acc.delta == pytest.approx(np.average(right, weights=w) - right.mean(), abs=1e-12)
    assert abs(ll.delta) > 1e-3  # the broker cohort differs, so the shift matters


def test_resampled_cohort(world: World) -> None:
    frame, y = world.rows("lr")
    p = world.proba("lr", frame)
    pert = world.perturbed("lr", 3)
    rows = pert.rows
    assert rows is not None and rows.size == len(frame)
    rob = world.result.analyses["robustness"]
    auc = pick(rob, model="lr", perturbation="broker resample", metric="roc_auc")
    assert auc.clean_value == pytest.approx(roc_auc_score(y, p), abs=1e-4)
    assert auc.perturbed_value == pytest.approx(roc_auc_score(y[rows], p[rows]), abs=1e-4)
    assert auc.ci_low <= auc.delta <= auc.ci_high
    assert auc.note.startswith("rows resampled")


def test_weighted_rows(world: World) -> None:
    """With a weight column: weighted paired deltas, a Kish-size flip rate, and a shift that
    multiplies the row weights."""
    frame, y = world.rows("tree")
    w = np.round(np.random.default_rng(2).uniform(0.5, 2.0, N_ROWS), 3)
    world.frame.assign(w=w).to_parquet(world.root / "eval_w.parquet", index=False)
    stress = {"seed": SEED, "bootstrap": 50, "models": ["tree"],
              "perturbations": [STRESS["perturbations"][0], STRESS["perturbations"][2]]}
    res = evaluate_spec(parse_spec(spec_dict(data={"path": "eval_w.parquet"}, weight="w", stress=stress,
                                             latency=None)), world.root)
    assert res.extra["adapters"]["tree"]["predicted"] == 0  # the weight column is no feature
    clean, after = world.proba("tree", frame), world.proba("tree", world.perturbed("tree", 0).frame)
    rob = res.analyses["robustness"]
    mine = rob[(rob.perturbation == "noisy") & (rob.slice == "overall")]
    auc = pick(mine, metric="roc_auc")
    assert auc.method == "paired delong (weighted)"
    assert auc.delta == pytest.approx(roc_auc_score(y, after, sample_weight=w)
                                      - roc_auc_score(y, clean, sample_weight=w), abs=1e-12)
    assert pick(mine, metric="log_loss").delta == pytest.approx(
        log_loss(y, after, sample_weight=w) - log_loss(y, clean, sample_weight=w), abs=1e-12)
    flips = (after >= THRESHOLD) != (clean >= THRESHOLD)
    share = w[flips].sum() / w.sum()
    n_eff = w.sum() ** 2 / (w**2).sum()
    flip = pick(mine, metric="flip_rate")
    assert flip.delta == pytest.approx(share, abs=1e-12)
    want = proportion_confint(share * n_eff, n_eff, method="wilson")  # Kish's effective size
    assert (flip.ci_low, flip.ci_high) == pytest.approx(want, abs=1e-9)
    surge = rob[rob.perturbation == "broker surge"]
    f = np.where(frame.channel.to_numpy() == "broker", 3.0, 1.0)
    assert pick(surge, metric="roc_auc").delta == pytest.approx(
        roc_auc_score(y, clean, sample_weight=w * f) - roc_auc_score(y, clean, sample_weight=w), abs=1e-4)
    assert pick(surge, metric="log_loss").delta == pytest.approx(
        log_loss(y, clean, sample_weight=w * f) - log_loss(y, clean, sample_weight=w), abs=1e-9)


def test_each_perturbation_has_its_own_stream_and_rows_can_be_sampled(world: World) -> None:
    """A perturbation's rows do not depend on the others in the suite; ``stress.rows`` stresses
    a seeded sample of that many rows."""
    alone = {"seed": SEED, "models": ["tree"], "save": True, "perturbations": [STRESS["perturbations"][1]]}
    res = evaluate_spec(parse_spec(spec_dict(stress=alone, latency=None)), world.root)
    rob = res.analyses["robustness"]
    assert set(rob.model) == {"tree"} and set(rob.perturbation) == {"holes"}
    pd.testing.assert_frame_equal(res.extra["stress_inputs"]["tree__holes"],
                                  world.result.extra["stress_inputs"]["tree__holes"])
    main = world.result.analyses["robustness"]
    main = main[(main.model == "tree") & (main.perturbation == "holes")].reset_index(drop=True)
    cols = ["slice", "metric", "clean_value", "perturbed_value", "delta", "n", "changed_rows"]
    pd.testing.assert_frame_equal(rob[cols].reset_index(drop=True), main[cols])
    sample = alone | {"rows": 500, "models": ["lr"], "save": False}
    spec = parse_spec(spec_dict(stress=sample, latency=None))
    first = evaluate_spec(spec, world.root)
    rob = first.analyses["robustness"]
    err = pick(rob, slice="overall", metric="error_rate")
    assert (err.n, err.errored_rows, err.delta) == (500, 25, 0.05)
    assert pick(rob, slice="overall", metric="roc_auc").n == 475
    assert rob[rob.metric == "error_rate"].n.iloc[1:].sum() == 500  # the region slices split them
    pd.testing.assert_frame_equal(evaluate_spec(spec, world.root).analyses["robustness"], rob)


# ---- 6. behavioural tests ----------------------------------------------------------------------


def test_directional_and_invariance_failures_equal_hand_counts(world: World) -> None:
    beh = world.result.analyses["behaviour"]
    failures = {}
    for name in ("tree", "lr"):
        frame, _ = world.rows(name)
        clean = world.proba(name, frame)
        tests = world.spec.stress.tests
        edited = behaviour_frame(tests[0], frame, stream_seed(SEED, "richer"))
        richer = frame.assign(income=frame.income * 1.5)
        pd.testing.assert_frame_equal(edited.frame, richer)
        changed = frame.income.notna().to_numpy()
        d = world.proba(name, richer) - clean
        fails = int((d[changed] > 0).sum())
        n = int(changed.sum())
        row = pick(beh, model=name, test="richer")
        assert (row.n, row.failures, row.kind) == (n, fails, "directional")
        assert row.failure_rate == fails / n and bool(row.passed) == (fails / n <= 0.05)
        assert (row.ci_low, row.ci_high) == pytest.approx(wilson(fails, n), abs=1e-12)
        assert row.skipped_rows == len(frame) - n and row.errored_rows == 0
        failures[name] = fails
        swapped = apply_perturbation(tests[1].perturbation, frame, stream_seed(SEED, "region swap"))
        moved = np.abs(world.proba(name, swapped.frame) - clean)
        ch = swapped.changed
        fails = int((moved[ch] > 0.05).sum())
        row = pick(beh, model=name, test="region swap")
        assert (row.n, row.failures) == (int(ch.sum()), fails)
        assert bool(row.passed) == (fails / ch.sum() <= 0.5)
        assert (row.ci_low, row.ci_high) == pytest.approx(wilson(fails, int(ch.sum())), abs=1e-12)
    # the logistic model is monotone in income (a negative coefficient): it never fails
    assert world.models["lr"][-1].coef_[0][-3] < 0 and failures["lr"] == 0
    assert failures["tree"] > 0
    charts = world.result.analysis_charts["robustness"]["tests"]
    ex = next(c for c in charts if c["model"] == "tree" and c["test"] == "richer")
    assert len(ex["rows"]) == min(3, failures["tree"]) and ex["columns"] == ["income"]


# ---- 7. gates ----------------------------------------------------------------------------------


def _status(result: EvaluationResult, rule: dict[str, Any]) -> str:
    return result.gate([rule]).rules[0].status


def test_robustness_rules_decide_on_the_pessimistic_bound(world: World) -> None:
    res = world.result
    rob = res.analyses["robustness"]
    auc = pick(rob, model="tree", perturbation="noisy", slice="overall", metric="roc_auc")
    worst_drop = -auc.ci_low  # the drop's upper bound
    assert worst_drop > -auc.delta > 0
    rule = {"rule": "robustness", "model": "tree", "metric": "roc_auc", "perturbations": ["noisy"]}
    assert _status(res, rule | {"max": worst_drop + 1e-6}) == "pass"
    assert _status(res, rule | {"max": worst_drop - 1e-6}) == "fail"
    assert _status(res, rule | {"max": -auc.delta + 1e-6, "judge": "value"}) == "pass"
    flip = pick(rob, model="tree", perturbation="noisy", slice="overall", metric="flip_rate")
    rule = {"rule": "robustness", "model": "tree", "metric": "flip_rate", "perturbations": ["noisy"]}
    assert _status(res, rule | {"max": flip.ci_high + 1e-9}) == "pass"
    assert _status(res, rule | {"max": flip.ci_high - 1e-9}) == "fail"
    err = pick(rob, model="lr", perturbation="holes", slice="overall", metric="error_rate")
    rule = {"rule": "robustness", "model": "lr", "metric": "error_rate", "judge": "value",
            "perturbations": ["holes"]}
    assert _status(res, rule | {"max": err.delta}) == "pass"
    assert _status(res, rule | {"max": err.delta - 1e-9}) == "fail"
    assert _status(res, rule | {"model": "tree", "max": 0}) == "pass"
    verdict = res.gate([rule | {"max": 0.0}])
    assert verdict.decision == "hold" and verdict.rules[0].failing[0].model == "lr under holes"


def test_behaviour_and_latency_rules(world: World) -> None:
    res = world.result
    beh = res.analyses["behaviour"]
    for name in ("tree", "lr"):
        rule = {"rule": "behaviour", "model": name, "tests": ["richer"]}
        want = "pass" if bool(pick(beh, model=name, test="richer").passed) else "fail"
        assert _status(res, rule) == want
    assert _status(res, {"rule": "behaviour", "model": "lr", "tests": ["richer"]}) == "pass"
    latency = {"rule": "latency", "model": "tree"}
    assert _status(res, latency | {"metric": "latency_p95_ms", "max": 1e7}) == "pass"
    assert _status(res, latency | {"metric": "latency_p50_ms", "max": 1e-6}) == "fail"
    assert _status(res, {"rule": "latency", "metric": "throughput_rows_per_s", "min": 1e-3}) == "pass"


def test_rule_errors_and_missing_stress(world: World) -> None:
    res = world.result
    listed = "Perturbations: noisy, holes, broker surge, broker resample"
    with pytest.raises(SpecError, match=rf"'nope'.*{listed}"):
        res.gate([{"rule": "robustness", "metric": "roc_auc", "max": 0.1, "perturbations": ["nope"]}])
    with pytest.raises(SpecError, match=r"'pr_auc'.*Stress metrics: roc_auc, log_loss, accuracy"):
        res.gate([{"rule": "robustness", "metric": "pr_auc", "max": 0.1}])
    with pytest.raises(SpecError, match="behavioural test"):
        res.gate([{"rule": "behaviour", "tests": ["missing test"]}])
    with pytest.raises(SpecError, match=r"'nobody', which was not stressed. Stressed models: tree, lr"):
        res.gate([{"rule": "robustness", "model": "nobody", "metric": "roc_auc", "max": 0.1}])
    with pytest.raises(SpecError, match="caps a drop or a rate"):
        res.gate([{"rule": "robustness", "metric": "roc_auc", "min": 0.1}])
    plain = evaluate_spec(parse_spec(spec_dict(stress=None, latency=None)), world.root)
    assert "robustness" not in plain.analyses and "latency" not in plain.analyses
    for rule in ({"rule": "robustness", "metric": "roc_auc", "max": 0.02},
                 {"rule": "behaviour"}, {"rule": "latency", "metric": "latency_p95_ms", "max": 50}):
        outcome = plain.gate([rule]).rules[0]
        assert outcome.status == "undecided" and "section to the spec" in outcome.reason


# ---- 8. spec validation ------------------------------------------------------------------------


def test_spec_errors() -> None:
    no_adapter = spec_dict(models=[{"name": "m", "score": "p"}])
    with pytest.raises(SpecError, match="stress needs a model with an 'adapter'"):
        parse_spec(no_adapter)
    with pytest.raises(SpecError, match="latency needs a model with an 'adapter'"):
        parse_spec(no_adapter | {"stress": None})
    with pytest.raises(SpecError, match=r"'prevalence' has no paired method"):
        parse_spec(spec_dict(stress=STRESS | {"metrics": ["roc_auc", "prevalence"]}))
    multi = spec_dict(task="multiclass", positive=None, stress=STRESS | {"metrics": ["roc_auc_ovr"]})
    with pytest.raises(SpecError, match=r"'roc_auc_ovr' has no paired method"):
        parse_spec(multi)
    with pytest.raises(SpecError, match=r"unknown metric 'rmse'"):
        parse_spec(spec_dict(stress=STRESS | {"metrics": ["rmse"]}))
    scored = spec_dict(models=[{"name": "tree", "score": "p", "adapter": {"path": "tree.skops"}}])
    with pytest.raises(SpecError, match="predicts itself; remove score"):
        parse_spec(scored)
    with pytest.raises(SpecError, match=r"stress.models: 'nobody'"):
        parse_spec(spec_dict(stress=STRESS | {"models": ["nobody"]}))


def test_unknown_perturbation_column_is_named(world: World) -> None:
    stress = STRESS | {"perturbations": [{"kind": "noise", "columns": ["incom"]}], "tests": []}
    spec = parse_spec(spec_dict(stress=stress, latency=None))
    with pytest.raises(SpecError, match=r"stress.perturbations\[0\].*column 'incom' is not in the data"):
        evaluate_spec(spec, world.root)


# ---- 9. latency --------------------------------------------------------------------------------


def test_latency_table(world: World) -> None:
    lat = world.result.analyses["latency"]
    assert set(lat.model) == {"tree", "lr"}
    for name in ("tree", "lr"):
        mine = lat[lat.model == name].set_index("metric")
        assert set(mine.n) == {20}
        assert 0 < mine.value["latency_p50_ms"] <= mine.value["latency_p95_ms"]
        assert mine.value["throughput_rows_per_s"] > 0
        assert mine.ci_low["latency_p50_ms"] <= mine.value["latency_p50_ms"] <= mine.ci_high["latency_p50_ms"]


# ---- 10. regression and multiclass -------------------------------------------------------------


def test_regression_adapter_under_noise(world: World) -> None:
    perturbation = {"name": "noisy", "kind": "noise", "columns": ["income", "loan_amount"], "scale": 0.5}
    raw = spec_dict(task="regression", label="amount", positive=None, metrics=["rmse", "mae"],
                    models=[{"name": "lin", "adapter": {"path": "lin.skops", "features": FEATURES}}],
                    stress={"seed": SEED, "perturbations": [perturbation]}, latency=None)
    data = world.frame.dropna(subset=["income"]).reset_index(drop=True)  # LinearRegression takes no NaN
    data.to_parquet(world.root / "eval_reg.parquet", index=False)
    raw["data"] = {"path": "eval_reg.parquet"}
    spec = parse_spec(raw)
    res = evaluate_spec(spec, world.root)
    frame, y = data[FEATURES], data.amount.to_numpy()
    model = world.models["lin"]
    clean = model.predict(frame)
    pert = apply_perturbation(spec.stress.perturbations[0], frame, stream_seed(SEED, "noisy"))
    after = model.predict(pert.frame)
    rmse = lambda p: float(np.sqrt(np.mean((p - y) ** 2)))  # noqa: E731
    assert res.value("rmse", "lin") == pytest.approx(rmse(clean), rel=1e-9)
    rob = res.analyses["robustness"]
    mine = rob[rob.slice == "overall"]
    r = pick(mine, metric="rmse")
    assert r.clean_value == pytest.approx(rmse(clean), rel=1e-9)
    assert r.delta == pytest.approx(rmse(after) - rmse(clean), rel=1e-9, abs=1e-9)
    assert r.ci_low <= r.delta <= r.ci_high and r.delta > 0
    m = pick(mine, metric="mae")
    assert m.delta == pytest.approx(np.mean(np.abs(after - y)) - np.mean(np.abs(clean - y)), rel=1e-9)
    tol = 0.1 * np.std(clean)
    moved = np.abs(after - clean) > tol
    flip = pick(mine, metric="flip_rate")
    assert flip.delta == pytest.approx(moved.mean(), abs=1e-15) and flip.n == len(data)
    assert (flip.ci_low, flip.ci_high) == pytest.approx(wilson(int(moved.sum()), len(data)), abs=1e-12)
    assert f"a change over {tol:.4g} counts as a flip" in flip.note
    assert 0 < moved.sum() < len(data)
    south = (data.region == "south").to_numpy()
    fs = pick(rob, slice="region=south", metric="flip_rate")
    assert fs.delta == pytest.approx(moved[south].mean(), abs=1e-15)


def test_multiclass_adapter_under_noise(world: World) -> None:
    data = world.frame.dropna(subset=["income"]).reset_index(drop=True)
    data["tier"] = np.where(data.amount < 2500, "low", np.where(data.amount < 4500, "mid", "high"))
    train = make_frame(1500, seed=11)
    train["tier"] = np.where(train.amount < 2500, "low", np.where(train.amount < 4500, "mid", "high"))
    model = Pipeline([("prep", _encoder(StandardScaler())), ("model", LogisticRegression(max_iter=1000))])
    model.fit(train[FEATURES], train.tier)
    sio.dump(model, world.root / "tiers.skops")
    data.to_parquet(world.root / "eval_tiers.parquet", index=False)
    perturbation = {"name": "noisy", "kind": "noise", "columns": ["income", "loan_amount"], "scale": 0.5}
    spec = parse_spec(spec_dict(
        task="multiclass", label="tier", positive=None, data={"path": "eval_tiers.parquet"},
        metrics=["accuracy", "log_loss", "f1_macro"], latency=None,
        models=[{"name": "tiers", "adapter": {"path": "tiers.skops", "features": FEATURES}}],
        stress={"seed": SEED, "perturbations": [perturbation]}))
    res = evaluate_spec(spec, world.root)
    assert list(res.classes) == ["high", "low", "mid"] == list(model.classes_)
    frame, y = data[FEATURES], data.tier.to_numpy()
    pert = apply_perturbation(spec.stress.perturbations[0], frame, stream_seed(SEED, "noisy"))
    before, after = model.predict(frame), model.predict(pert.frame)
    rob = res.analyses["robustness"]
    mine = rob[rob.slice == "overall"]
    assert pick(mine, metric="accuracy").delta == pytest.approx(
        accuracy_score(y, after) - accuracy_score(y, before), abs=1e-15)
    assert pick(mine, metric="log_loss").delta == pytest.approx(
        log_loss(y, model.predict_proba(pert.frame)) - log_loss(y, model.predict_proba(frame)), abs=1e-12)
    assert pick(mine, metric="f1_macro").delta == pytest.approx(
        f1_score(y, after, average="macro") - f1_score(y, before, average="macro"), abs=1e-12)
    flips = after != before
    flip = pick(mine, metric="flip_rate")
    assert flip.delta == pytest.approx(flips.mean(), abs=1e-15) and flips.sum() > 0
    assert (flip.ci_low, flip.ci_high) == pytest.approx(wilson(int(flips.sum()), len(y)), abs=1e-12)
