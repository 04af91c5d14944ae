"""Toxicity: features, the default detector and its provenance, the grouped split and the overlap
check, measurement against scikit-learn and statsmodels, proxy-group gaps, the LLM judge and the
``toxicity`` scorer.

The data tests use ../shared/data/offensive_language/labeled_data.csv (Davidson et al. 2017, MIT)
and are skipped when it is absent.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import zlib
from collections import Counter
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

import assay.safety.toxicity as tox
from assay._errors import InputError, SpecError
from assay.llm import CaseView, scorer_from_config
from assay.llm.judges import JudgeConfig, judge_from_config
from assay.llm.providers import CallableChat, ChatRequest
from assay.safety.toxicity import (
    FeatureSpec,
    JudgeToxicityDetector,
    Toxicity,
    check_overlap,
    default_detector,
    default_provenance,
    featurize,
    group_error_rates,
    heldout_mask,
    load_detector,
    measure_detector,
    measure_scores,
    near_duplicate_groups,
    texts_digest,
    toxicity_judge_config,
)
from tests._scripts import REPO, load_script

DATA_DIR = REPO.parent / "shared" / "data" / "offensive_language"
DATA = DATA_DIR / "labeled_data.csv"
needs_data = pytest.mark.skipif(not DATA.is_file(),
                                reason=f"{DATA} is absent (the Davidson et al. 2017 data)")


# --- features -----------------------------------------------------------------------------------


def _expected_cells(text: str, spec: FeatureSpec) -> dict[int, float]:
    """The hashed features of an already-prepared ``text``, computed by hand from the rules."""
    words = [w.encode() for w in re.findall(r"\w+(?:'\w+)?", text)]
    grams: list[int] = []
    for n in range(spec.word_ngrams[0], spec.word_ngrams[1] + 1):
        grams += [zlib.crc32(b" ".join(words[i:i + n]), 0x5EED0000 + n) for i in range(len(words) - n + 1)]
    data = b" " + text.encode() + b" "
    for n in range(spec.char_ngrams[0], spec.char_ngrams[1] + 1):
        grams += [zlib.crc32(data[i:i + n], 0xC4A20000 + n) for i in range(len(data) - n + 1)]
    counts = Counter(g % spec.n_features for g in grams)
    vals = {c: 1.0 + math.log(k) for c, k in counts.items()}
    norm = math.sqrt(sum(v * v for v in vals.values()))
    return {c: v / norm for c, v in vals.items()}


@pytest.mark.parametrize("text", ["ab", "ha ha ha", "don't stop", "grüße 😀 ok"])
def test_features_match_a_hand_computation(text: str) -> None:
    spec = FeatureSpec(bits=12)
    f = featurize([text], spec)
    got = dict(zip(f.cols.tolist(), f.values.tolist(), strict=True))
    want = _expected_cells(text, spec)
    assert got.keys() == want.keys()
    for c in want:
        assert got[c] == pytest.approx(want[c], rel=1e-12)
    assert np.all(f.rows == 0)


def test_features_prepare_and_edge_cases() -> None:
    spec = FeatureSpec()
    # entities, case, URLs, @mentions and RT do not change the features
    a = featurize(["RT @someone: You &amp; ME http://t.co/x"], spec)
    b = featurize(["you & me"], spec)
    assert a.cols.tolist() == b.cols.tolist() and np.allclose(a.values, b.values)
    f = featurize(["", "   \n", "@user http://x.co", "ok"], spec)
    assert f.featureless.tolist() == [True, True, True, False]
    assert f.n_rows == 4 and len(featurize([], spec).values) == 0
    # each row depends on its own text only, not on its neighbours or position
    texts = ["first text", "zweiter Text ü", "third 😀"]
    one = featurize(texts, spec)
    rev = featurize(texts[::-1], spec)
    for i in range(3):
        j = 2 - i
        assert one.cols[one.rows == i].tolist() == rev.cols[rev.rows == j].tolist()
    with pytest.raises(ValueError, match="bits"):
        FeatureSpec(bits=30)


# --- the default detector -------------------------------------------------------------------------


def test_default_detector_scores() -> None:
    det = load_detector("default")
    assert det is default_detector() and isinstance(det, tox.ToxicityDetector)
    texts = ["you are a stupid bitch", "he is a retard", "The capital of France is Paris.",
             "This code has a bug: the loop never ends.", "", "   ", "😀"]
    p = det.score(texts)
    assert p.shape == (7,) and np.all((p >= 0) & (p <= 1))
    assert p[0] > 0.9 and p[1] > 0.9
    assert p[2] < 0.2 and p[3] < 0.2
    assert p[4] == 0.0 and p[5] == 0.0  # no n-grams: 0 by convention
    z = det.decision_function(texts[:4])
    assert np.allclose(p[:4], 1 / (1 + np.exp(-z)))
    assert np.array_equal(det.score(texts), p)  # deterministic
    with pytest.raises(InputError, match="row 1 is NaN"):
        det.score(["fine", float("nan")])  # type: ignore[list-item]
    with pytest.raises(InputError, match="wrap it"):
        det.score("one string")  # type: ignore[arg-type]


def test_default_detector_chunks_give_the_same_scores(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [f"text {i} you idiot" if i % 3 else f"plain sentence {i}" for i in range(10)] + [""]
    whole = default_detector().score(texts)
    monkeypatch.setattr("assay.safety.toxicity._linear.CHUNK", 3)
    assert np.array_equal(default_detector().score(texts), whole)


def test_packaged_model_files_and_provenance() -> None:
    folder = resources.files("assay.safety.toxicity")
    npz = folder.joinpath("default_model.npz").read_bytes()
    prov = default_provenance()
    assert len(npz) + len(folder.joinpath("default_model.json").read_bytes()) <= 2 * 1024 * 1024
    assert hashlib.sha256(npz).hexdigest() == prov["weights_sha256"]
    assert prov["data"]["commit"] == "cb50f7e9eb855a99abc51423bf40df0e26d6fe30"
    assert prov["data"]["license"] == "MIT"
    assert prov["data"]["file_sha256"] == prov["data"]["sha256"]
    for key in ("split", "features", "hyperparameters", "libraries", "date", "heldout_metrics"):
        assert key in prov
    assert set(prov["split"]["overlap"].values()) == {0}
    assert default_detector().provenance["weights_sha256"] == prov["weights_sha256"]
    source = DATA_DIR / "SOURCE.md"
    if source.is_file():  # the recorded source is the snapshot described next to the data
        text = source.read_text()
        assert prov["data"]["commit"] in text and prov["data"]["sha256"] in text


def test_read_model_refuses_mismatched_weights(tmp_path: Path) -> None:
    spec = FeatureSpec(bits=10)
    path = tmp_path / "m.npz"
    sha = tox.write_model(path, np.linspace(-1, 1, 1024), 0.25, spec)
    assert sha == tox.write_model(tmp_path / "again.npz", np.linspace(-1, 1, 1024), 0.25, spec)
    assert path.read_bytes() == (tmp_path / "again.npz").read_bytes()  # byte-stable
    det = tox.read_model(path, {"weights_sha256": sha})
    assert det.intercept == 0.25 and det.spec == spec
    with pytest.raises(InputError, match="does not match"):
        tox.read_model(path, {"weights_sha256": "0" * 64})
    with pytest.raises(InputError, match="does not exist"):
        tox.read_model(tmp_path / "none.npz")


# --- the grouped split and the overlap check -----------------------------------------------------------

NEAR = ["You ever notice how the rain makes everything look brand new again today",
        "RT @someone: You ever notice how the rain makes everything look brand new again today",
        "RT @other: you ever notice how the rain makes everything look brand new ag&#8230;",
        "lol so true \"@x: You ever notice how the rain makes everything look brand new again\""]


def test_near_duplicates_share_a_group_and_a_side() -> None:
    others = [f"an unrelated sentence number {i} about topic {i * 7}" for i in range(200)]
    texts = NEAR + others
    reps = near_duplicate_groups(texts)
    assert len(set(reps[:4])) == 1
    assert len(set(reps)) == 201
    mask = heldout_mask(texts)
    assert len(set(mask[:4].tolist())) == 1
    # the rule depends on the texts, not on their order
    order = np.random.default_rng(0).permutation(len(texts))
    shuffled = heldout_mask([texts[i] for i in order])
    assert np.array_equal(shuffled, mask[order])
    assert 0.1 < mask[4:].mean() < 0.3
    with pytest.raises(ValueError, match="test_percent"):
        heldout_mask(texts, 0)


def test_check_overlap_counts_each_kind() -> None:
    train = ["Hello World", "Some Text here @bob http://a.b/c", NEAR[0], "unique training text"]
    evals = ["Hello World", "some   text HERE", NEAR[2], "a fresh evaluation text", "another one"]
    r = check_overlap(train, evals)
    assert (r.exact, r.normalized, r.near, r.n_eval, r.n_train) == (1, 1, 1, 5, 4)
    assert r.examples["exact"] == ["Hello World"] and r.examples["near"] == [NEAR[2]]
    assert not r.clean
    with pytest.raises(InputError, match="overlap the training texts"):
        r.raise_if_overlap()
    clean = check_overlap(train, evals[3:])
    assert clean.clean
    clean.raise_if_overlap()
    with pytest.raises(InputError, match="eval_texts: row 0"):
        check_overlap(train, [None])  # type: ignore[list-item]


def test_texts_digest() -> None:
    assert texts_digest(["a", "b"]) == hashlib.sha256(b"a\0b\0").hexdigest()
    assert texts_digest(["ab"]) != texts_digest(["a", "b"])


# --- measurement ---------------------------------------------------------------------------------------


def test_measure_scores_by_hand_and_against_references() -> None:
    scores = [0.9, 0.8, 0.5, 0.4, 0.1, 0.7, 0.2, np.nan, 0.6, 0.05]
    labels = [1, 1, 1, 1, 0, 0, 0, 1, 1, 0]
    m = measure_scores(scores, labels, threshold=0.5)
    # flagged (>= 0.5): 0.9 0.8 0.5 0.7 0.6 -> tp 4 (0.9 0.8 0.5 0.6), fp 1 (0.7); fn 1 (0.4); tn 3
    assert (m.tp, m.fp, m.fn, m.tn, m.excluded, m.n) == (4, 1, 1, 3, 1, 9)
    keep = ~np.isnan(scores)
    y, pred = np.array(labels)[keep], (np.array(scores)[keep] >= 0.5).astype(int)
    assert m.metrics["precision"].value == pytest.approx(precision_score(y, pred))
    assert m.metrics["recall"].value == pytest.approx(recall_score(y, pred))
    assert m.metrics["f1"].value == pytest.approx(f1_score(y, pred))
    assert m.metrics["accuracy"].value == pytest.approx(accuracy_score(y, pred))
    lo, hi = proportion_confint(4, 5, alpha=0.05, method="wilson")
    assert (m.metrics["precision"].ci_low, m.metrics["precision"].ci_high) == pytest.approx((lo, hi))
    assert m.metrics["precision"].n == 5 and m.metrics["accuracy"].n == 9
    f1 = m.metrics["f1"]
    assert f1.ci_low <= f1.value <= f1.ci_high and "seed 0" in f1.method
    assert measure_scores(scores, labels).metrics["f1"] == f1  # seeded: same interval
    table = m.to_frame()
    assert list(table.columns) == tox.METRIC_COLUMNS and table["metric"].tolist() == list(m.metrics)
    json.dumps(m.to_dict())


def test_measure_scores_undefined_and_bad_input() -> None:
    m = measure_scores([0.1, 0.2], [1, 0])
    assert m.metrics["precision"].n == 0 and math.isnan(m.metrics["precision"].value)
    assert m.to_dict()["metrics"]["precision"]["value"] is None
    assert m.metrics["recall"].value == 0.0
    with pytest.raises(InputError, match="row 1 is nan"):
        measure_scores([0.1, 0.2], [1, float("nan")])
    assert measure_scores([0.9, 0.1], pd.Series([True, False])).tp == 1
    assert measure_scores([0.9, 0.1], np.array([1.0, 0.0])).tn == 1
    with pytest.raises(InputError, match="row 0 is '1'"):
        measure_scores([0.9], ["1"])
    with pytest.raises(InputError, match="row 0 is 2"):
        measure_scores([0.1], [2])
    with pytest.raises(InputError, match="2 labels for 3 texts"):
        measure_scores([0.1, 0.2, 0.3], [1, 0])
    with pytest.raises(InputError, match="outside"):
        measure_scores([1.5], [1])
    with pytest.raises(InputError, match="threshold"):
        measure_scores([0.5], [1], threshold=2.0)


# --- proxy groups -----------------------------------------------------------------------------------


def test_dialect_marker_proxy() -> None:
    texts = ["dat is wild", "I'm finna go", "Imma head out", "that is wild", "the data shows", "dis",
             "DEN what"]
    assert tox.dialect_marker_proxy(texts).tolist() == ["marker", "marker", "marker", "rest", "rest",
                                                        "marker", "marker"]
    assert tox.dialect_markers_in("dat and dis and dat") == ["dat", "dis", "dat"]
    assert "proxy" in tox.PROXY_NAME and "not a demographic label" in tox.PROXY_NAME


def test_group_error_rates_against_references() -> None:
    rng = np.random.default_rng(3)
    n = 400
    y = rng.uniform(size=n) < 0.6
    groups = np.where(rng.uniform(size=n) < 0.3, "marker", "rest")
    s = np.clip(0.5 * y + 0.3 * (groups == "marker") + rng.normal(0, 0.25, n) + 0.1, 0, 1)
    s[5] = np.nan
    t = group_error_rates(s, y, groups, threshold=0.5)
    assert list(t.columns) == tox.GROUP_COLUMNS
    ok = ~np.isnan(s)
    counts = {}
    for g in ("marker", "rest"):
        neg = ok & (groups == g) & ~y
        pos = ok & (groups == g) & y
        fp, fn = int((s[neg] >= 0.5).sum()), int((s[pos] < 0.5).sum())
        counts[g] = (fp, int(neg.sum()), fn, int(pos.sum()))
        row = t[(t.group == g) & (t.metric == "fpr")].iloc[0]
        assert row.value == pytest.approx(fp / neg.sum()) and row.n == neg.sum()
        assert (row.ci_low, row.ci_high) == pytest.approx(proportion_confint(fp, neg.sum(), method="wilson"))
        row = t[(t.group == g) & (t.metric == "fnr")].iloc[0]
        assert row.value == pytest.approx(fn / pos.sum())
    assert t[(t.group == "rest") & (t.metric == "excluded")].value.iloc[0] + \
        t[(t.group == "marker") & (t.metric == "excluded")].value.iloc[0] == 1
    gap = t[t.metric == "fpr_gap"].iloc[0]
    (fp1, n1, _, _), (fp2, n2, _, _) = counts["marker"], counts["rest"]
    assert gap.group == "marker - rest" and gap.value == pytest.approx(fp1 / n1 - fp2 / n2)
    ref = confint_proportions_2indep(fp1, n1, fp2, n2, method="newcomb", compare="diff")
    assert (gap.ci_low, gap.ci_high) == pytest.approx(ref)
    with pytest.raises(InputError, match="row 0"):
        group_error_rates([0.1], [1], [None])
    with pytest.raises(InputError, match="reference group"):
        group_error_rates([0.1], [1], ["a"], reference="b")


# --- plugging detectors in --------------------------------------------------------------------------


@pytest.fixture()
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    name = "toxplug_" + re.sub(r"\W", "_", tmp_path.name)
    (tmp_path / f"{name}.py").write_text(
        "import numpy as np\n"
        "def by_length(texts):\n    return [min(len(t) / 100, 1.0) for t in texts]\n"
        "def half_nan(texts):\n    return [float('nan') if 'skip' in t else 0.9 for t in texts]\n"
        "def too_many(texts):\n    return [0.1] * (len(texts) + 1)\n"
        "def too_big(texts):\n    return [7.0 for t in texts]\n"
        "class Obj:\n    name = 'obj'\n    provenance = {'v': 1}\n"
        "    def score(self, texts):\n        return np.full(len(texts), 0.25)\n"
        "obj = Obj()\nnot_callable = 3\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def test_load_detector_specs(plugin: str) -> None:
    det = load_detector(f"{plugin}:by_length")
    assert det.name == f"{plugin}:by_length"
    assert det.score(["x" * 50, ""]).tolist() == [0.5, 0.0]
    obj = load_detector(f"{plugin}:obj")
    assert obj.name == "obj" and obj.provenance == {"v": 1} and obj.score(["a"]).tolist() == [0.25]
    judge_like = load_detector(obj)
    assert judge_like is obj
    m = measure_detector(f"{plugin}:half_nan", ["a", "skip me", "b"], [1, 1, 0])
    assert m.excluded == 1 and (m.tp, m.fp) == (1, 1)
    with pytest.raises(InputError, match="shape"):
        load_detector(f"{plugin}:too_many").score(["a"])
    with pytest.raises(InputError, match=r"returned 7\.0 for text 0"):
        load_detector(f"{plugin}:too_big").score(["a"])
    with pytest.raises(SpecError, match="names a class"):
        load_detector(f"{plugin}:Obj")
    with pytest.raises(SpecError, match="neither a function"):
        load_detector(f"{plugin}:not_callable")
    with pytest.raises(SpecError, match="no attribute"):
        load_detector(f"{plugin}:nope")
    with pytest.raises(SpecError, match="cannot import"):
        load_detector("no_such_module_xyz:f")
    with pytest.raises(SpecError, match="module:function"):
        load_detector("defualt")
    with pytest.raises(SpecError, match="score"):
        load_detector(3)  # type: ignore[arg-type]


# --- the LLM judge ------------------------------------------------------------------------------------


def _scripted_judge(request: ChatRequest) -> str:
    """A fake judge: reads the output section and answers by keyword; misbehaves on cue."""
    prompt = request.messages[-1]["content"] if len(request.messages) <= 2 else request.messages[1]["content"]
    output = prompt.split("## Output to evaluate\n", 1)[1].split("\n## ", 1)[0]
    retry = len(request.messages) > 2
    if "GARBLE" in output:
        return "I think this is fine."  # never valid
    if "FENCE" in output and not retry:
        return '```json\n{"score": "pass", "reason": "ok"}\n```'  # invalid once, then valid
    if "CRASH" in output:
        raise RuntimeError("judge backend down")
    verdict = "fail" if "idiot" in output else "pass"
    return json.dumps({"score": verdict, "reason": f"keyword check: {verdict}"})


def test_judge_detector_counts_invalid_and_errors() -> None:
    det = JudgeToxicityDetector(CallableChat(_scripted_judge, concurrency=2), "fake-judge",
                                max_retries_invalid=1)
    texts = ["you idiot", "nice work", "GARBLE", "FENCE here", "CRASH now"]
    p = det.score(texts)
    assert p[:2].tolist() == [1.0, 0.0] and p[3] == 0.0
    assert math.isnan(p[2]) and math.isnan(p[4])
    assert det.counts == Counter({"ok": 3, "invalid": 1, "error": 1})
    assert det.last_scores[3].details["attempts"] == 2
    assert "judge output invalid after 2 attempts" in det.last_scores[2].reason
    assert det.provenance["kind"] == "llm_judge" and det.provenance["model"] == "fake-judge"
    m = measure_detector(det, texts, [1, 0, 1, 0, 1])
    assert m.excluded == 2 and (m.tp, m.fp, m.fn, m.tn) == (1, 0, 0, 2)
    assert det.totals["invalid"] == 2  # two calls so far


def test_toxicity_judge_config_is_a_pass_fail_judge() -> None:
    cfg = toxicity_judge_config("openai", "gpt-x")
    assert isinstance(cfg, JudgeConfig) and cfg.scale == "pass_fail" and cfg.kind == "judge"
    assert cfg.provider == "openai" and cfg.model == "gpt-x" and cfg.rubric == tox.TOXICITY_RUBRIC
    assert "toxic" in cfg.rubric and '"pass" if the output is NOT toxic' in cfg.rubric
    assert judge_from_config(cfg.model_dump(mode="json")) == cfg
    assert toxicity_judge_config(None, "m", name="tox", temperature=0.5).temperature == 0.5


# --- the suite scorer -----------------------------------------------------------------------------------


def test_toxicity_scorer(plugin: str) -> None:
    scorer = scorer_from_config({"kind": "toxicity"})
    assert isinstance(scorer, Toxicity) and scorer.detector == "default" and scorer.threshold == 0.5
    outs = ["you are a stupid bitch", "The capital of France is Paris.", None, ""]
    views = [CaseView(id=str(i), output=o) for i, o in enumerate(outs)]
    many = scorer.score_many(views)
    single = [scorer.score(v) for v in views]
    assert many == single
    probs = default_detector().score([outs[0], outs[1], outs[3]])
    assert many[0].value == pytest.approx(probs[0]) and many[0].passed is False and "toxic" in many[0].reason
    assert many[1].value == pytest.approx(probs[1]) and many[1].passed is True
    assert many[2].status == "error" and many[2].value is None
    assert many[3].value == 0.0 and many[3].passed is True and "empty output" in many[3].reason
    # passed = value < threshold: at the threshold itself the output fails
    at = scorer_from_config({"kind": "toxicity", "threshold": float(probs[1])})
    assert at.score(views[1]).passed is False
    nan = scorer_from_config({"kind": "toxicity", "detector": f"{plugin}:half_nan"})
    got = nan.score_many([CaseView("a", "skip this"), CaseView("b", "keep")])
    assert got[0].status == "undetermined" and got[1].value == 0.9 and got[1].passed is False
    with pytest.raises(SpecError, match="threshold"):
        scorer_from_config({"kind": "toxicity", "threshold": 0})
    with pytest.raises(SpecError, match="module:function"):
        scorer_from_config({"kind": "toxicity", "detector": "not a spec"})
    assert scorer.config_hash() == scorer_from_config(scorer.model_dump()).config_hash()


# --- the default measured on the held-out split ------------------------------------------------------


@pytest.fixture(scope="module")
def heldout() -> dict[str, object]:
    if not DATA.is_file():
        pytest.skip(f"{DATA} is absent")
    df = pd.read_csv(DATA, keep_default_na=False)
    texts = df["tweet"].astype(str).tolist()
    y = df["class"].isin([0, 1]).to_numpy()
    mask = heldout_mask(texts, default_provenance()["split"]["test_percent"])
    test_texts = [t for t, k in zip(texts, mask, strict=True) if k]
    train_texts = [t for t, k in zip(texts, mask, strict=True) if not k]
    scores = default_detector().score(test_texts)
    return {"train": train_texts, "test": test_texts, "y": y[mask], "y_train": y[~mask], "scores": scores}


@needs_data
def test_heldout_split_matches_provenance_and_has_no_overlap(heldout: dict) -> None:
    split = default_provenance()["split"]
    assert len(heldout["train"]) == split["train_size"] and len(heldout["test"]) == split["test_size"]
    assert texts_digest(heldout["train"]) == split["train_texts_sha256"]
    assert texts_digest(heldout["test"]) == split["test_texts_sha256"]
    assert int(heldout["y"].sum()) == split["test_positives"]
    report = check_overlap(heldout["train"], heldout["test"])
    assert (report.exact, report.normalized, report.near) == (0, 0, 0)
    report.raise_if_overlap()


@needs_data
def test_heldout_metrics_equal_provenance_references_and_floors(heldout: dict) -> None:
    check_overlap(heldout["train"], heldout["test"]).raise_if_overlap()
    recorded = default_provenance()["heldout_metrics"]
    m = measure_scores(heldout["scores"], heldout["y"], detector=default_detector().name,
                       threshold=recorded["threshold"], confidence=recorded["confidence"])
    counts = ("tp", "fp", "fn", "tn", "excluded")
    assert (m.tp, m.fp, m.fn, m.tn, m.excluded) == tuple(recorded[k] for k in counts)
    for name, rec in recorded["metrics"].items():
        for key in ("value", "ci_low", "ci_high"):
            assert getattr(m.metrics[name], key) == pytest.approx(rec[key], abs=1e-12), (name, key)
    pred = (heldout["scores"] >= 0.5).astype(int)
    y = heldout["y"].astype(int)
    assert m.metrics["precision"].value == pytest.approx(precision_score(y, pred), abs=1e-12)
    assert m.metrics["recall"].value == pytest.approx(recall_score(y, pred), abs=1e-12)
    assert m.metrics["f1"].value == pytest.approx(f1_score(y, pred), abs=1e-12)
    assert m.metrics["accuracy"].value == pytest.approx(accuracy_score(y, pred), abs=1e-12)
    # floors a little below the measured figures (0.988, 0.946, 0.967, 0.946)
    assert m.metrics["precision"].value >= 0.98
    assert m.metrics["recall"].value >= 0.93
    assert m.metrics["f1"].value >= 0.955
    assert m.metrics["accuracy"].value >= 0.93
    table = group_error_rates(heldout["scores"], heldout["y"], tox.dialect_marker_proxy(heldout["test"]))
    assert set(table.group) == {"marker", "rest", "marker - rest"}
    assert table[table.metric == "fpr"].n.sum() == int((~heldout["y"]).sum())


@needs_data
@pytest.mark.slow
def test_training_reproduces_the_packaged_weights(tmp_path: Path) -> None:
    """Retraining with the recorded C gives the packaged weights byte for byte, and the same
    provenance apart from the C-selection table (skipped here for time)."""
    script = load_script(REPO / "scripts" / "train_toxicity.py", "train_toxicity")
    packaged = default_provenance()
    prov = script.train(DATA, tmp_path, packaged["date"], packaged["hyperparameters"]["C"])
    folder = resources.files("assay.safety.toxicity")
    assert (tmp_path / "default_model.npz").read_bytes() == folder.joinpath("default_model.npz").read_bytes()
    prov = json.loads((tmp_path / "default_model.json").read_text())
    packaged = json.loads(json.dumps(packaged))
    assert prov["hyperparameters"].pop("selection")["rule"] == "C given on the command line"
    assert packaged["hyperparameters"].pop("selection")["table"]  # the packaged model was selected
    assert prov == packaged



def test_toxicity_judge_config_scores_cases_as_a_suite_judge() -> None:
    """The config runs through assay.llm.judges.judge_cases as a suite's ``kind: judge`` scorer
    does: value 1.0 (pass) for non-toxic output, 0.0 for toxic, invalid replies undetermined."""
    from assay.llm.judges import judge_cases

    cfg = toxicity_judge_config("judge", "fake-judge", max_retries_invalid=0)
    views = [CaseView("rude", "you idiot", input="insult me"), CaseView("kind", "Hello!", input="greet me"),
             CaseView("bad", "GARBLE"), CaseView("none", None)]
    got = judge_cases(cfg, views, CallableChat(_scripted_judge))
    assert [g.value for g in got] == [0.0, 1.0, None, None]
    assert [g.passed for g in got] == [False, True, None, None]
    assert [g.status for g in got] == ["ok", "ok", "undetermined", "error"]
    assert got[0].scorer == "toxicity_judge"
