"""Grounding: the share of the answer's sentences that the case's context documents support.

Kind ``grounding``. The answer is split into sentences (:func:`split_sentences`); fragments
of fewer than ``min_words`` words ("Sure!", "Hope this helps.") are not judged, and are listed
in ``details``. Each judged sentence gets its best similarity to any context chunk (each
sentence of each context document with ``chunk: sentence``, each whole document with
``chunk: document``; by default sentences for embeddings, whose vectors of long documents are
diluted and truncated at 256 word pieces, and documents for the lexical method, since a claim
often takes its words from neighbouring sentences):

* ``method: embedding`` (default): the cosine of sentence embeddings (``assay.llm._embed``,
  all-MiniLM-L6-v2 offline; Reimers & Gurevych 2019) between the answer sentence and the chunk;
* ``method: lexical``: token recall, the share of the sentence's distinct content words
  (lower-cased ``\\w+`` tokens after NFKC, minus the function words in ``STOPWORDS``) that
  occur in the chunk; no torch needed. Sentences without content words are not judged.

A sentence is supported when its best similarity is >= ``threshold`` (default 0.6 for both
methods), unsupported otherwise. With ``undetermined_band: [low, high]`` (low < threshold <=
high), a sentence whose best similarity lies strictly inside the band is undecided: neither
supported nor unsupported, and counted in ``details``.

Value = supported / decided sentences (0..1). **Undetermined**, never 0 or NaN, when the case
has no context (or only empty documents), when the answer has no sentence to judge, or when
every judged sentence is undecided. The reason names the unsupported sentences (truncated).

Sentence splitter (deterministic, English-oriented): each line is a block (list markers
``-``, ``*``, ``+``, ``•``, ``1.``, ``1)`` are removed); inside a block a sentence ends at ``.``,
``!`` or ``?`` (a run of them, then closing quotes or brackets) followed by white space and a
character that is not a lower-case letter, unless the word before a single ``.`` is a known
abbreviation (``ABBREVIATIONS``) or a single letter (an initial, "J. K. Rowling"). Decimal points and
dotted names ("3.5", "assay.llm") never split (no white space follows). Limits: other
abbreviations before a capitalised word split wrongly; sentences without end punctuation
across lines are taken line by line.

Similarity is not entailment: a sentence that reuses the context's words (or, with
embeddings, its topic) but changes a number or negates it can still count as supported.
Treat the value as a screening signal and calibrate ``threshold`` on labelled cases.

``score_many`` encodes the distinct texts of all cases at once; its scores equal those of
``score`` case by case (see ``_embed``). Pass rule: ``min`` / ``max`` on the share.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from assay.llm._embed import cosine, load_embedder
from assay.llm._score import ERROR, NO_OUTPUT, BoundScorer, CaseView, Score, register_scorer

ABBREVIATIONS = frozenset({
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "etc", "e.g", "i.e", "cf", "al",
    "inc", "ltd", "co", "corp", "no", "nos", "fig", "figs", "eq", "approx", "dept", "est", "vol",
    "u.s", "u.k", "a.m", "p.m", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct",
    "nov", "dec",
})

#: English function words left out of lexical matching (after NLTK's English stop-word list)
STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had
has have having he her here hers herself him himself his how i if in into is it its itself just
me more most my myself no nor not now of off on once only or other our ours ourselves out over
own same she should so some such than that the their theirs them themselves then there these
they this those through to too under until up very was we were what when where which while who
whom why will with would you your yours yourself yourselves s t d ll m re ve
""".split())

_LIST_MARK = re.compile(r"^\s*(?:[-*+\u2022]|\d{1,3}[.)])\s+")
_END = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s)")
_WORD = re.compile(r"\w+")
_TEXT_CUT = 200
_REASON_CUT = 80


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences with the documented rules (module docstring)."""
    out: list[str] = []
    for line in text.splitlines():
        block = _LIST_MARK.sub("", line).strip()
        if not block:
            continue
        start = 0
        for m in _END.finditer(block):
            rest = block[m.end():].lstrip()
            if not rest or rest[0].islower():
                continue
            punct = block[m.start():m.end()].rstrip("\"'\u201d\u2019)]")
            if punct == ".":
                before = block[start:m.start()].split()
                word = before[-1].lower().lstrip("(\"'\u201c\u2018") if before else ""
                if word in ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
                    continue
            piece = block[start:m.end()].strip()
            if piece:
                out.append(piece)
            start = m.end()
        tail = block[start:].strip()
        if tail:
            out.append(tail)
    return out


def content_words(text: str) -> set[str]:
    """Distinct lower-cased word tokens of ``text`` that are not function words (lexical method)."""
    return {w for w in _WORD.findall(unicodedata.normalize("NFKC", text).casefold()) if w not in STOPWORDS}


def _words(text: str) -> set[str]:
    return set(_WORD.findall(unicodedata.normalize("NFKC", text).casefold()))


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1].rstrip() + "\u2026"


@dataclass
class _Plan:
    """What one case needs: its judged sentences, its context chunks, or why it stops early."""

    case: CaseView
    early: Score | None = None
    sentences: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    no_content: tuple[str, ...] = ()
    chunks: tuple[str, ...] = ()
    chunk_docs: tuple[str, ...] = ()
    empty_docs: int = 0


@register_scorer
class Grounding(BoundScorer):
    """Share of answer sentences supported by the context (embedding cosine or token recall)."""

    kind: Literal["grounding"] = "grounding"
    method: Literal["embedding", "lexical"] = "embedding"
    threshold: float = 0.6
    undetermined_band: tuple[float, float] | None = None
    #: compare with each sentence of a context document or the whole document; None: sentence for
    #: method embedding, document for method lexical
    chunk: Literal["sentence", "document"] | None = None
    min_words: int = Field(default=3, ge=1)
    #: a local sentence-transformers folder for method embedding; None: bundled all-MiniLM-L6-v2
    model: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Grounding:
        lo_ok = -1.0 if self.method == "embedding" else 0.0
        if not lo_ok <= self.threshold <= 1.0:
            raise ValueError(f"threshold must lie in [{lo_ok:g}, 1] for method {self.method}; "
                             f"got {self.threshold:g}")
        if self.undetermined_band is not None:
            low, high = self.undetermined_band
            if not low < self.threshold <= high:
                raise ValueError(f"undetermined_band [{low:g}, {high:g}] must satisfy low < threshold <= "
                                 f"high (threshold {self.threshold:g}), e.g. [{self.threshold - 0.1:g}, "
                                 f"{self.threshold + 0.1:g}]")
        if self.model is not None and self.method == "lexical":
            raise ValueError("'model' applies to method embedding only; remove it or set method: embedding")
        return self

    @property
    def chunk_unit(self) -> str:
        """The context unit in use: ``chunk``, or the method's default."""
        if self.chunk is not None:
            return self.chunk
        return "sentence" if self.method == "embedding" else "document"

    # ---------------------------------------------------------------- planning

    def _plan(self, case: CaseView) -> _Plan:
        if case.output is None:
            return _Plan(case, Score(self.label, None, None, ERROR, NO_OUTPUT))
        if not case.context:
            return _Plan(case, self._undetermined(f"case {case.id!r} has no context documents; grounding "
                                                  "needs the retrieved context", n_context=0))
        chunks: list[str] = []
        docs: list[str] = []
        empty = 0
        for j, d in enumerate(case.context):
            text = d.get("text") if isinstance(d, dict) else None
            doc_id = str(d.get("id", j + 1)) if isinstance(d, dict) else str(j + 1)
            if not isinstance(text, str) or not text.strip():
                empty += 1
                continue
            pieces = split_sentences(text) if self.chunk_unit == "sentence" else [text.strip()]
            chunks.extend(pieces)
            docs.extend([doc_id] * len(pieces))
        if not chunks:
            return _Plan(case, self._undetermined(
                f"case {case.id!r}: its {len(case.context)} context document(s) hold no text",
                n_context=len(case.context), empty_context_docs=empty))
        judged, skipped, no_content = [], [], []
        for s in split_sentences(case.output):
            if len(_WORD.findall(s)) < self.min_words:
                skipped.append(s)
            elif self.method == "lexical" and not content_words(s):
                no_content.append(s)
            else:
                judged.append(s)
        plan = _Plan(case, None, tuple(judged), tuple(skipped), tuple(no_content), tuple(chunks), tuple(docs),
                     empty)
        if not judged:
            parts = [f"{len(skipped)} fragment(s) under {self.min_words} words"] if skipped else []
            if no_content:
                parts.append(f"{len(no_content)} sentence(s) without content words")
            why = f" ({'; '.join(parts)})" if parts else " (empty answer)"
            plan.early = self._undetermined(f"the answer has no sentence to judge{why}",
                                            **self._skip_details(plan))
        return plan

    def _skip_details(self, plan: _Plan) -> dict[str, Any]:
        return {"n_skipped": len(plan.skipped), "skipped": [_cut(s, _REASON_CUT) for s in plan.skipped[:10]],
                "n_no_content_words": len(plan.no_content), "n_context_chunks": len(plan.chunks),
                "empty_context_docs": plan.empty_docs}

    # ---------------------------------------------------------------- scoring

    def _score(self, case: CaseView, output: str) -> Score:
        return self.score_many([case])[0]

    def score_many(self, views: list[CaseView]) -> list[Score]:
        """Score many cases with one encoding pass; equal to :meth:`score` on each case."""
        plans = [self._plan(v) for v in views]
        todo = [p for p in plans if p.early is None]
        vectors: dict[str, np.ndarray] = {}
        truncated: dict[str, bool] = {}
        if todo and self.method == "embedding":
            texts = list(dict.fromkeys(t for p in todo for t in (*p.sentences, *p.chunks)))
            got = load_embedder(self.model).encode(texts)
            vectors = dict(zip(texts, got.vectors, strict=True))
            truncated = dict(zip(texts, got.truncated.tolist(), strict=True))
        return [p.early if p.early is not None else self._judge(p, vectors, truncated) for p in plans]

    def _similarities(self, plan: _Plan, vectors: dict[str, np.ndarray]) -> np.ndarray:
        """(sentences, chunks) similarity matrix."""
        if self.method == "embedding":
            return cosine(np.stack([vectors[s] for s in plan.sentences]),
                          np.stack([vectors[c] for c in plan.chunks]))
        chunk_words = [_words(c) for c in plan.chunks]
        sims = np.empty((len(plan.sentences), len(plan.chunks)))
        for i, s in enumerate(plan.sentences):
            cw = content_words(s)
            for j, words in enumerate(chunk_words):
                sims[i, j] = len(cw & words) / len(cw)
        return sims

    def _judge(self, plan: _Plan, vectors: dict[str, np.ndarray], truncated: dict[str, bool]) -> Score:
        sims = self._similarities(plan, vectors)
        best_j = sims.argmax(axis=1)
        best = sims[np.arange(len(plan.sentences)), best_j]
        low, high = self.undetermined_band if self.undetermined_band is not None else (None, None)
        rows, unsupported = [], []
        n_sup = n_uns = n_und = 0
        for s, sim, j in zip(plan.sentences, best.tolist(), best_j.tolist(), strict=True):
            if low is not None and low < sim < high:  # type: ignore[operator]
                verdict = "undecided"
                n_und += 1
            elif sim >= self.threshold:
                verdict = "supported"
                n_sup += 1
            else:
                verdict = "unsupported"
                n_uns += 1
                unsupported.append(s)
            rows.append({"sentence": _cut(s, _TEXT_CUT), "similarity": round(float(sim), 6),
                         "doc": plan.chunk_docs[j], "verdict": verdict})
        details: dict[str, Any] = {
            "method": self.method, "chunk": self.chunk_unit, "threshold": self.threshold,
            "band": list(self.undetermined_band) if self.undetermined_band is not None else None,
            "n_judged": len(plan.sentences), "n_supported": n_sup, "n_unsupported": n_uns,
            "n_undecided": n_und, "sentences": rows, **self._skip_details(plan),
            "truncated_texts": sum(bool(truncated.get(t)) for t in (*plan.sentences, *plan.chunks)),
        }
        extra = []
        if n_und:
            extra.append(f"{n_und} undecided (in the band)")
        if plan.skipped:
            extra.append(f"{len(plan.skipped)} short fragment(s) not judged")
        if plan.no_content:
            extra.append(f"{len(plan.no_content)} sentence(s) without content words not judged")
        tail = f"; {'; '.join(extra)}" if extra else ""
        decided = n_sup + n_uns
        if decided == 0:
            return self._undetermined(f"all {n_und} judged sentence(s) fall in the undetermined band "
                                      f"({low:g}, {high:g}){tail}", **details)
        value = n_sup / decided
        named = ""
        if unsupported:
            shown = "; ".join(repr(_cut(s, _REASON_CUT)) for s in unsupported[:3])
            more = f" (+{len(unsupported) - 3} more)" if len(unsupported) > 3 else ""
            named = f"; unsupported: {shown}{more}"
        reason = f"{n_sup} of {decided} sentences supported: {value:.3f}{self._rule_text()}{named}{tail}"
        return self._ok(value, self._passed(value), reason.replace("\n", " "), **details)
