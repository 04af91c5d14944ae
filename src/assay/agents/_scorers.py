"""Scorers over an agent trace, each giving an :class:`assay.llm.Score` (value, pass/fail,
status, reason) so the LLM suite's statistics, gates and reports apply unchanged.

Expected calls are compared per turn when the case gives one list per turn, else over the
whole conversation (a *group*); counts are summed over the groups.

    tool_selection  the multiset of called tool names against the expected one: tp =
                    sum over names of min(expected count, actual count); precision = tp /
                    calls made (1 when none was made), recall = tp / calls expected (1 when
                    none was expected); value = F1 (0 when precision + recall = 0); passed
                    when precision and recall are both 1. Every attempted call counts, also
                    one to an unknown tool or with unreadable arguments.
    tool_args       each expected call is matched to a distinct actual call of the same name
                    (maximum bipartite matching) whose arguments are schema-valid and satisfy
                    the expected ones (subset, with the case's matchers); value = matched /
                    expected; passed when all are matched
    tool_order      strict: value = LCS(expected names, actual names) / expected length (the
                    longest common subsequence), passed when it is 1 (the expected calls occur
                    in order; extra calls between them are tool_selection's concern); pairs:
                    value = share of ``[a, b]`` pairs where both were called and the first
                    ``a`` precedes the first ``b``, passed when all hold; ``order: any`` is
                    undetermined (nothing to check)
    task_success    1 when the final state contains ``expected_state`` (subset, with
                    ``state_match`` matchers) and the final reply satisfies ``expected_answer``
                    (when given and ``check_answer``); else 0; passed = value
    steps           value = model calls; passed when no turn ran out of steps and, with
                    ``max``, steps <= max
    cost            value = tokens (prompt + completion) or cost (``measure``); passed when
                    <= ``max`` (no pass rule without it); undetermined when not reported

A trace that ended on a provider error gives error scores (the run is incomplete); a case
that declares nothing a scorer needs gives an undetermined score, counted apart.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assay._errors import SpecError
from assay.agents._cases import AgentCase, ExpectedCall
from assay.agents._loop import ERROR as STOP_ERROR
from assay.agents._loop import MAX_STEPS, Trace
from assay.agents._match import match_subset
from assay.agents._tools import ToolCallRecord
from assay.llm._score import ERROR, OK, UNDETERMINED, Score, kind_class, register_kind


class AgentScorer(BaseModel):
    """Base of the agent scorer configs: ``kind`` (the registry key), an optional ``name`` and
    ``only_tags`` (score only the cases with one of these tags). Subclasses implement
    ``_score(case, trace)``; :meth:`score` turns a trace that ended on a provider error into an
    error score."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    name: str | None = None
    only_tags: list[str] | None = None

    @property
    def label(self) -> str:
        return self.name or self.kind

    def applies(self, tags: tuple[str, ...] | list[str]) -> bool:
        return self.only_tags is None or any(t in self.only_tags for t in tags)

    def config_hash(self) -> str:
        """sha256 of the canonical JSON of the full config, for the run record."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def score(self, case: AgentCase, trace: Trace) -> Score:
        if trace.stop_reason == STOP_ERROR:
            return Score(self.label, None, None, ERROR, f"the run stopped on a provider error: {trace.error}")
        return self._score(case, trace)

    def _score(self, case: AgentCase, trace: Trace) -> Score:
        raise NotImplementedError(f"{type(self).__name__} must implement _score(case, trace)")

    def _ok(self, value: float, passed: bool | None, reason: str, **details: Any) -> Score:
        return Score(self.label, float(value), passed, OK, reason, details)

    def _undetermined(self, reason: str) -> Score:
        return Score(self.label, None, None, UNDETERMINED, reason)


AGENT_SCORERS: dict[str, type[AgentScorer]] = {}
A = TypeVar("A", bound=type[AgentScorer])


def register_agent_scorer(cls: A) -> A:
    """Class decorator: register an agent scorer under its ``kind`` default."""
    return register_kind(AGENT_SCORERS, cls, "agent scorer")  # type: ignore[no-any-return]


def agent_scorer_kinds() -> list[str]:
    return sorted(AGENT_SCORERS)


def agent_scorer_from_config(raw: dict[str, Any] | AgentScorer) -> AgentScorer:
    """An agent scorer from its mapping (``{kind: tool_args, name: ...}``); errors name the
    kind or key and list what is allowed."""
    if isinstance(raw, AgentScorer):
        return raw
    cls = kind_class(AGENT_SCORERS, raw, "agent scorer")
    kind = raw["kind"]
    try:
        return cls.model_validate(raw)
    except ValidationError as exc:
        parts = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise SpecError(f"agent scorer {raw.get('name') or kind}: {'; '.join(parts)}; options of {kind}: "
                        f"{', '.join(k for k in cls.model_fields if k != 'kind')}") from None


def _groups(case: AgentCase, trace: Trace) -> list[tuple[list[ExpectedCall], list[ToolCallRecord]]]:
    return [(expected, trace.calls_in(turn)) for turn, expected in case.call_groups()]


def _where(turn: int | None) -> str:
    return "" if turn is None else f"turn {turn + 1}: "


# ---------------------------------------------------------------------------- selection


def selection_counts(expected: list[str], actual: list[str]) -> tuple[int, int, int]:
    """(tp, fp, fn) of two multisets of tool names."""
    e, a = Counter(expected), Counter(actual)
    tp = sum(min(n, a[k]) for k, n in e.items())
    return tp, len(actual) - tp, len(expected) - tp


def precision_recall_f1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision (1 with no call made), recall (1 with none expected) and F1 (0 when both are 0)."""
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f1


@register_agent_scorer
class ToolSelection(AgentScorer):
    """The right tools called, and no others (see the module docstring)."""

    kind: Literal["tool_selection"] = "tool_selection"

    def _score(self, case: AgentCase, trace: Trace) -> Score:
        groups = case.call_groups()
        if not groups:
            return self._undetermined(f"case {case.id!r} declares no expected_calls")
        tp = fp = fn = 0
        notes = []
        for turn, expected in groups:
            names = [c.name for c in expected]
            actual = [c.name for c in trace.calls_in(turn)]
            g_tp, g_fp, g_fn = selection_counts(names, actual)
            tp, fp, fn = tp + g_tp, fp + g_fp, fn + g_fn
            extra = Counter(actual) - Counter(names)
            missing = Counter(names) - Counter(actual)
            if missing:
                notes.append(f"{_where(turn)}missing {', '.join(_times(missing))}")
            if extra:
                notes.append(f"{_where(turn)}unexpected {', '.join(_times(extra))}")
        p, r, f1 = precision_recall_f1(tp, fp, fn)
        reason = f"precision {p:.3g}, recall {r:.3g}" + (f"; {'; '.join(notes)}" if notes else "")
        return self._ok(f1, p == 1.0 and r == 1.0, reason, precision=p, recall=r, tp=tp, fp=fp, fn=fn)


def _times(counts: Counter[str]) -> list[str]:
    return [f"{k}" + (f" ×{n}" if n > 1 else "") for k, n in sorted(counts.items())]


# ---------------------------------------------------------------------------- arguments


def _max_matching(edges: list[list[int]], n_right: int) -> list[int | None]:
    """Maximum bipartite matching (augmenting paths): for each left node its right node or None."""
    owner: list[int | None] = [None] * n_right

    def augment(u: int, seen: set[int]) -> bool:
        for v in edges[u]:
            if v in seen:
                continue
            seen.add(v)
            if owner[v] is None or augment(owner[v], seen):  # type: ignore[arg-type]
                owner[v] = u
                return True
        return False

    for u in range(len(edges)):
        augment(u, set())
    out: list[int | None] = [None] * len(edges)
    for v, u in enumerate(owner):
        if u is not None:
            out[u] = v
    return out


def call_matches(expected: ExpectedCall, actual: ToolCallRecord) -> list[str]:
    """Why ``actual`` does not satisfy ``expected`` (empty: it does)."""
    if actual.name != expected.name:
        return [f"called {actual.name!r}"]
    if not actual.schema_valid:
        return [f"invalid arguments ({actual.error})"]
    return [str(m) for m in match_subset(expected.args, actual.arguments, expected.matchers())]


@register_agent_scorer
class ToolArgs(AgentScorer):
    """Each expected call made with schema-valid, matching arguments (see the module docstring)."""

    kind: Literal["tool_args"] = "tool_args"

    def _score(self, case: AgentCase, trace: Trace) -> Score:
        groups = case.call_groups()
        total = sum(len(e) for _, e in groups)
        if total == 0:
            return self._undetermined(_nothing_expected(case, groups, "arguments"))
        matched, notes = 0, []
        for turn, expected in groups:
            actual = trace.calls_in(turn)
            edges = [[j for j, a in enumerate(actual) if not call_matches(e, a)] for e in expected]
            pairs = _max_matching(edges, len(actual))
            for e, j in zip(expected, pairs, strict=True):
                if j is not None:
                    matched += 1
                    continue
                same = [a for a in actual if a.name == e.name]
                if not same:
                    notes.append(f"{_where(turn)}{e.name}: not called")
                else:
                    why = min((call_matches(e, a) for a in same), key=len)
                    notes.append(f"{_where(turn)}{e.name}: {'; '.join(why)}")
        reason = f"{matched} of {total} expected call(s) matched" + (f"; {'; '.join(notes)}" if notes else "")
        return self._ok(matched / total, matched == total, reason, matched=matched, expected=total)


# ---------------------------------------------------------------------------- order


def _nothing_expected(case: AgentCase, groups: list[Any], what: str) -> str:
    """Why a case with no expected call has no arguments or order to check."""
    return (f"case {case.id!r} expects no tool call: no {what} to check" if groups
            else f"case {case.id!r} declares no expected_calls")


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence of two sequences (dynamic programming)."""
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


@register_agent_scorer
class ToolOrder(AgentScorer):
    """The expected calls in the expected order (see the module docstring)."""

    kind: Literal["tool_order"] = "tool_order"

    def _score(self, case: AgentCase, trace: Trace) -> Score:
        if case.order == "any":
            return self._undetermined(f"case {case.id!r} declares order: any (the order is not checked)")
        if isinstance(case.order, list):
            names = [c.name for c in trace.calls]
            held, notes = 0, []
            for a, b in case.order:
                if a not in names or b not in names:
                    absent = [n for n in (a, b) if n not in names]
                    notes.append(f"{a} before {b}: {', '.join(absent)} not called")
                elif names.index(a) < names.index(b):
                    held += 1
                else:
                    notes.append(f"{a} before {b}: {b} came first")
            n = len(case.order)
            if n == 0:
                return self._undetermined(f"case {case.id!r} gives an empty list of order pairs")
            reason = f"{held} of {n} order pair(s) hold" + (f"; {'; '.join(notes)}" if notes else "")
            return self._ok(held / n, held == n, reason, held=held, pairs=n)
        groups = case.call_groups()
        total = sum(len(e) for _, e in groups)
        if total == 0:
            return self._undetermined(_nothing_expected(case, groups, "order"))
        common, notes = 0, []
        for turn, expected in groups:
            want = [c.name for c in expected]
            got = [c.name for c in trace.calls_in(turn)]
            k = lcs_length(want, got)
            common += k
            if k < len(want):
                called = " → ".join(got) or "nothing"
                notes.append(f"{_where(turn)}expected {' → '.join(want)}, called {called}")
        reason = f"{common} of {total} expected call(s) in order" + (f"; {'; '.join(notes)}" if notes else "")
        return self._ok(common / total, common == total, reason, lcs=common, expected=total)


# ---------------------------------------------------------------------------- task success


def answer_problems(case: AgentCase, text: str | None) -> list[str]:
    """Why the final reply does not satisfy the case's ``expected_answer`` (empty: it does)."""
    if case.expected_answer is None:
        return []
    if text is None:
        return ["no final reply"]
    wanted = [case.expected_answer] if isinstance(case.expected_answer, str) else list(case.expected_answer)
    if case.answer_match == "exact":
        return [] if text.strip() in [w.strip() for w in wanted] else \
            [f"the reply is not {' or '.join(map(repr, wanted))}"]
    if case.answer_match == "regex":
        return [f"the reply does not match /{w}/" for w in wanted if not re.search(w, text)]
    return [f"the reply does not mention {w!r}" for w in wanted if w.casefold() not in text.casefold()]


@register_agent_scorer
class TaskSuccess(AgentScorer):
    """The final state (and, with ``check_answer``, the final reply) as expected."""

    kind: Literal["task_success"] = "task_success"
    check_answer: bool = True

    def _score(self, case: AgentCase, trace: Trace) -> Score:
        use_answer = self.check_answer and case.expected_answer is not None
        if case.expected_state is None and not use_answer:
            return self._undetermined(f"case {case.id!r} declares no expected_state"
                                      + ("" if self.check_answer else " (answers not checked)")
                                      + (" and no expected_answer" if self.check_answer else ""))
        problems = []
        if case.expected_state is not None:
            problems += [f"state {m}" for m in match_subset(case.expected_state, trace.final_state,
                                                            case.state_matchers())]
        if use_answer:
            problems += answer_problems(case, trace.final_text)
        what = " and ".join(w for w, on in (("final state", case.expected_state is not None),
                                             ("final reply", use_answer)) if on)
        reason = f"{what} as expected" if not problems else "; ".join(problems)
        return self._ok(0.0 if problems else 1.0, not problems, reason, problems=len(problems))


# ---------------------------------------------------------------------------- steps and cost


@register_agent_scorer
class Steps(AgentScorer):
    """The number of model calls; passes when no turn ran out of steps and, with ``max``,
    steps <= max."""

    kind: Literal["steps"] = "steps"
    max: int | None = Field(default=None, ge=1)

    def _score(self, case: AgentCase, trace: Trace) -> Score:
        n = trace.n_steps
        exhausted = trace.stop_reason == MAX_STEPS
        over = self.max is not None and n > self.max
        parts = [f"{n} model call(s)"]
        if exhausted:
            parts.append(trace.error)
        if over:
            parts.append(f"more than max {self.max}")
        return self._ok(n, not exhausted and not over, "; ".join(parts), calls=len(trace.calls))


@register_agent_scorer
class Cost(AgentScorer):
    """Tokens (prompt + completion) or cost of the whole run; passes when <= ``max``."""

    kind: Literal["cost"] = "cost"
    measure: Literal["tokens", "cost"] = "tokens"
    max: float | None = Field(default=None, ge=0)

    def _score(self, case: AgentCase, trace: Trace) -> Score:
        value = trace.tokens if self.measure == "tokens" else trace.cost
        if value is None:
            what = "token counts" if self.measure == "tokens" else "cost"
            return self._undetermined(f"the provider reported no {what} for case {case.id!r}")
        passed = None if self.max is None else value <= self.max
        unit = "tokens" if self.measure == "tokens" else "cost"
        reason = f"{value:g} {unit}" + ("" if self.max is None else f" (max {self.max:g})")
        return self._ok(value, passed, reason, tokens=trace.tokens, cost=trace.cost)


#: the scorers a suite runs when it names none
DEFAULT_SCORERS = [{"kind": k} for k in ("tool_selection", "tool_args", "tool_order", "task_success", "steps",
                                          "cost")]
