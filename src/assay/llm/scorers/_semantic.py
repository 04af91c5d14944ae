"""Semantic similarity: the cosine between sentence embeddings of the output and a text.

Kind ``semantic_similarity``. The embeddings come from a local sentence-transformers model
(``assay.llm._embed``: all-MiniLM-L6-v2 by default, offline; Reimers & Gurevych 2019). The
value is the cosine in [-1, 1] between the output and the reference, the largest over several
references (``expected`` a list: the answer is as good as its closest reference). With
``against: input`` the output is compared with the case's input instead: a reference-free,
weak signal of topical relevance (it says nothing about whether the answer is correct).

Outcomes: undetermined when there is nothing to compare with (no ``expected`` or no text in
it; no ``input`` with ``against: input``; every reference empty). An empty (whitespace-only)
output scores 0.0 by convention, without a model call: the embedding of an empty string is an
artefact of the model, not a meaning. Texts beyond the model's 256 word pieces are truncated;
``details`` says so. For all-MiniLM-L6-v2, paraphrases usually score above 0.7, texts on one
topic 0.4-0.7 and unrelated texts below 0.2; calibrate ``min`` on a labelled sample.

``score_many`` scores a list of cases with one encoding pass over all their distinct texts;
its scores equal those of ``score`` case by case, bit for bit (see ``_embed``).

Pass rule: ``min`` / ``max`` on the cosine.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from assay.llm._embed import cosine, load_embedder
from assay.llm._score import (
    ERROR,
    NO_OUTPUT,
    BoundScorer,
    CaseView,
    Score,
    describe_expected,
    register_scorer,
    text_references,
)


@register_scorer
class SemanticSimilarity(BoundScorer):
    """Cosine similarity of sentence embeddings: output vs the closest reference (or the input)."""

    kind: Literal["semantic_similarity"] = "semantic_similarity"
    #: what the output is compared with: the expected reference(s) or the case's input
    against: Literal["expected", "input"] = "expected"
    #: a local sentence-transformers folder; None: the bundled all-MiniLM-L6-v2
    model: str | None = None

    def _targets(self, case: CaseView) -> tuple[list[str] | None, str]:
        """The texts to compare with, or None and the reason why there are none."""
        if self.against == "input":
            if case.input is None or not case.input.strip():
                return None, f"case {case.id!r} has no 'input' text (semantic_similarity against: input)"
            return [case.input], ""
        refs = text_references(case)
        if refs is None:
            return None, f"{describe_expected(case)}; semantic_similarity needs a reference text"
        usable = [r for r in refs if r.strip()]
        if not usable:
            return None, f"case {case.id!r}: every reference text is empty"
        return refs, ""

    def _score(self, case: CaseView, output: str) -> Score:
        return self.score_many([case])[0]

    def score_many(self, views: list[CaseView]) -> list[Score]:
        """Score many cases with one encoding pass; equal to :meth:`score` on each case."""
        plans: list[tuple[CaseView, list[str] | None, str]] = []
        texts: list[str] = []
        for v in views:
            if v.output is None:
                plans.append((v, None, ""))
                continue
            targets, why = self._targets(v)
            plans.append((v, targets, why))
            if targets is not None and v.output.strip():
                texts.append(v.output)
                texts.extend(t for t in targets if t.strip())
        vectors: dict[str, np.ndarray] = {}
        truncated: dict[str, bool] = {}
        embedder = None
        if texts:
            embedder = load_embedder(self.model)
            unique = list(dict.fromkeys(texts))
            got = embedder.encode(unique)
            vectors = dict(zip(unique, got.vectors, strict=True))
            truncated = dict(zip(unique, got.truncated.tolist(), strict=True))
        model_name = embedder.name if embedder is not None else (self.model or "all-MiniLM-L6-v2")
        return [self._one(v, targets, why, vectors, truncated, model_name) for v, targets, why in plans]

    def _one(self, case: CaseView, targets: list[str] | None, why: str, vectors: dict[str, np.ndarray],
             truncated: dict[str, bool], model_name: str) -> Score:
        if case.output is None:
            return Score(self.label, None, None, ERROR, NO_OUTPUT)
        if targets is None:
            return self._undetermined(why)
        what = "input" if self.against == "input" else "reference"
        if not case.output.strip():
            return self._ok(0.0, self._passed(0.0), f"empty output: similarity 0 by convention"
                            f"{self._rule_text()}", similarities=[], best=None, model=model_name,
                            empty_output=True)
        out = vectors[case.output]
        sims: list[float | None] = [float(cosine(out, vectors[t])[0, 0]) if t.strip() else None
                                    for t in targets]
        scored = [s for s in sims if s is not None]
        value = max(scored)
        best = sims.index(value)
        where = (f" to {what} {best + 1} of {len(targets)}" if len(targets) > 1 else f" to the {what}")
        cut = [t for t in [case.output, *targets] if truncated.get(t)]
        note = f"; {len(cut)} text(s) truncated to the model's limit" if cut else ""
        return self._ok(value, self._passed(value), f"cosine {value:.3f}{where}{self._rule_text()}{note}",
                        similarities=sims, best=best, model=model_name,
                        empty_references=sum(s is None for s in sims),
                        output_truncated=bool(truncated.get(case.output, False)),
                        references_truncated=sum(bool(truncated.get(t)) for t in targets))
