"""Reference-based text metrics, sentence level: ``bleu`` and ``chrf`` (sacrebleu; Post,
2018) and ``rouge`` (Google's rouge-score package, the reimplementation of Lin, 2004).

Values are on a 0..1 scale: sacrebleu's 0..100 scores divided by 100 (``details`` keeps the
raw sacrebleu score). ``bleu`` is ``sacrebleu.sentence_bleu`` with its defaults (13a
tokenizer, exp smoothing, effective order); ``chrf`` is ``sacrebleu.sentence_chrf`` (chrF:
character 6-grams, beta 2; ``word_order: 2`` gives chrF++). Several references (``expected``
a list) are used together as BLEU/chrF multi-references, and ROUGE takes the reference with the highest F1
(``RougeScorer.score_multi``, also when ``measure`` is precision or recall). Corpus-level
BLEU is not the mean of sentence BLEU; it is the suite's aggregation, not a scorer.

rouge-score's default tokenizer lower-cases and keeps only ASCII letters and digits, so text
without them (Chinese, Greek, Cyrillic) has no tokens: a reference without tokens is
undetermined, an output without tokens scores 0. Use chrF for such languages.

Pass rule: ``min`` / ``max`` on the 0..1 value.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from assay.llm._score import BoundScorer, CaseView, Score, describe_expected, register_scorer, text_references


def _sacrebleu() -> Any:
    try:
        import sacrebleu
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("the bleu and chrf scorers need sacrebleu: pip install sacrebleu") from None
    return sacrebleu


@register_scorer
class Bleu(BoundScorer):
    """Sentence BLEU of the output against the reference(s), 0..1."""

    kind: Literal["bleu"] = "bleu"
    tokenize: Literal["13a", "intl", "char", "zh", "ja-mecab", "ko-mecab", "flores101", "flores200",
                      "none"] = "13a"
    smooth_method: Literal["exp", "floor", "add-k", "none"] = "exp"
    lowercase: bool = False

    def _score(self, case: CaseView, output: str) -> Score:
        refs = text_references(case)
        if refs is None:
            return self._undetermined(f"{describe_expected(case)}; bleu needs the reference text")
        res = _sacrebleu().sentence_bleu(output, refs, smooth_method=self.smooth_method,
                                         lowercase=self.lowercase, tokenize=self.tokenize)
        value = res.score / 100.0
        return self._ok(value, self._passed(value), f"BLEU {value:.3f}{self._rule_text()}",
                        sacrebleu_score=res.score, precisions=list(res.precisions), bp=res.bp,
                        n_refs=len(refs))


@register_scorer
class Chrf(BoundScorer):
    """Sentence chrF (chrF++ with ``word_order: 2``) against the reference(s), 0..1."""

    kind: Literal["chrf"] = "chrf"
    char_order: int = Field(default=6, ge=1)
    word_order: int = Field(default=0, ge=0)
    beta: int = Field(default=2, ge=1)

    def _score(self, case: CaseView, output: str) -> Score:
        refs = text_references(case)
        if refs is None:
            return self._undetermined(f"{describe_expected(case)}; chrf needs the reference text")
        res = _sacrebleu().sentence_chrf(output, refs, char_order=self.char_order,
                                         word_order=self.word_order, beta=self.beta)
        value = res.score / 100.0
        name = "chrF++" if self.word_order else "chrF"
        return self._ok(value, self._passed(value), f"{name} {value:.3f}{self._rule_text()}",
                        sacrebleu_score=res.score, n_refs=len(refs))


@register_scorer
class Rouge(BoundScorer):
    """ROUGE-1/2/L/Lsum (F1 by default) against the best reference, 0..1."""

    kind: Literal["rouge"] = "rouge"
    variant: Literal["rouge1", "rouge2", "rougeL", "rougeLsum"] = "rougeL"
    measure: Literal["fmeasure", "precision", "recall"] = "fmeasure"
    use_stemmer: bool = False

    def _score(self, case: CaseView, output: str) -> Score:
        refs = text_references(case)
        if refs is None:
            return self._undetermined(f"{describe_expected(case)}; rouge needs the reference text")
        try:
            from rouge_score import rouge_scorer
        except ImportError:  # pragma: no cover - depends on the environment
            raise ImportError("the rouge scorer needs rouge-score: pip install rouge-score") from None
        scorer = rouge_scorer.RougeScorer([self.variant], use_stemmer=self.use_stemmer)
        tokenize = scorer._tokenizer.tokenize
        usable = [r for r in refs if tokenize(r)]
        if not usable:
            return self._undetermined(f"case {case.id!r}: the reference has no tokens under rouge-score's "
                                      "tokenizer (it keeps ASCII letters and digits only); use chrf")
        res = (scorer.score(usable[0], output) if len(usable) == 1
               else scorer.score_multi(usable, output))[self.variant]
        value = float(getattr(res, self.measure))
        return self._ok(value, self._passed(value),
                        f"{self.variant} {self.measure} {value:.3f}{self._rule_text()}",
                        precision=res.precision, recall=res.recall, fmeasure=res.fmeasure,
                        n_refs=len(usable), refs_without_tokens=len(refs) - len(usable))
