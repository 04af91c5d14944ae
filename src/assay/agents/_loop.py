"""The agent loop: send the conversation with the tool definitions, execute the tool calls the
model asks for in order, send their results back, and repeat until the model answers in text
or runs out of steps.

One *step* is one model call. A multi-turn case runs each user turn to its final reply, then
appends the next user turn; ``max_steps`` bounds the model calls of each turn, and a turn that
exhausts it ends the case (stop reason ``max_steps``: the tool calls of the last step are
executed, but the model is not asked again). A provider error ends the case with stop reason
``error``. Tool errors (unknown tool, arguments that are not JSON or break the schema, a
failing tool) are answered to the model, which may correct itself.

Many cases run together: each round sends the next request of every unfinished case in one
batch through :func:`assay.llm.providers.complete_cached`, so the provider's concurrency is
used, answers are cached by request content (a re-run replays the same conversation from the
cache and costs nothing), and an interrupted run resumes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay.agents._cases import AgentCase, parse_agent_case
from assay.agents._match import state_diff
from assay.agents._tools import Toolbox, ToolCallRecord, ToolEnv, ToolSpec
from assay.llm.providers import ChatRequest, ChatResult, ResponseCache, complete_cached
from assay.llm.providers._types import OK

FINAL, MAX_STEPS, ERROR = "final", "max_steps", "error"
STOP_REASONS = (FINAL, MAX_STEPS, ERROR)
DEFAULT_MAX_STEPS = 8


@dataclass
class StepRecord:
    """One model call of a trace."""

    turn: int
    step: int
    status: str
    error: str
    prompt_tokens: int | None
    completion_tokens: int | None
    cost: float | None
    latency_s: float
    cached: bool
    attempts: int
    finish_reason: str | None
    n_tool_calls: int
    request_sha256: str


@dataclass
class Trace:
    """Everything one case's run did: the conversation, the tool calls, the final reply of each
    turn (None for a turn that did not finish), the state before and after, the steps, tokens
    and cost, and why it stopped (``final``, ``max_steps`` or ``error``)."""

    case_id: str
    turns: list[str]
    messages: list[dict[str, Any]] = field(default_factory=list)
    calls: list[ToolCallRecord] = field(default_factory=list)
    finals: list[str | None] = field(default_factory=list)
    initial_state: dict[str, Any] = field(default_factory=dict)
    final_state: dict[str, Any] = field(default_factory=dict)
    steps: list[StepRecord] = field(default_factory=list)
    stop_reason: str = FINAL
    error: str = ""

    @property
    def n_steps(self) -> int:
        return len(self.steps)

    @property
    def final_text(self) -> str | None:
        """The final reply of the last turn (None when it did not finish)."""
        return self.finals[-1] if len(self.finals) == len(self.turns) else None

    def calls_in(self, turn: int | None) -> list[ToolCallRecord]:
        """The tool calls of one turn, or of the whole conversation (``None``)."""
        return [c for c in self.calls if turn is None or c.turn == turn]

    def steps_in(self, turn: int) -> int:
        return sum(s.turn == turn for s in self.steps)

    def _total(self, name: str) -> Any:
        got = [getattr(s, name) for s in self.steps if getattr(s, name) is not None]
        return sum(got) if got else None

    @property
    def prompt_tokens(self) -> int | None:
        return self._total("prompt_tokens")  # type: ignore[no-any-return]

    @property
    def completion_tokens(self) -> int | None:
        return self._total("completion_tokens")  # type: ignore[no-any-return]

    @property
    def tokens(self) -> int | None:
        """Prompt plus completion tokens over every step; None when the provider reported none."""
        p, c = self.prompt_tokens, self.completion_tokens
        return None if p is None and c is None else (p or 0) + (c or 0)

    @property
    def cost(self) -> float | None:
        return self._total("cost")  # type: ignore[no-any-return]

    @property
    def latency_s(self) -> float:
        return float(sum(s.latency_s for s in self.steps) + sum(c.latency_s for c in self.calls))

    @property
    def cached(self) -> bool:
        """Every model call came from the cache."""
        return bool(self.steps) and all(s.cached for s in self.steps)

    def state_diff(self) -> list[dict[str, Any]]:
        return state_diff(self.initial_state, self.final_state)


def assistant_message(result: ChatResult) -> dict[str, Any]:
    """The model's reply as the next request's assistant message (tool calls in OpenAI's shape,
    with the arguments as the model wrote them)."""
    msg: dict[str, Any] = {"role": "assistant", "content": result.text}
    if result.tool_calls:
        msg["tool_calls"] = [{"id": c["id"], "type": "function",
                              "function": {"name": c["name"], "arguments": c["raw_arguments"] or "{}"}}
                             for c in result.tool_calls]
    return msg


class _Run:
    """One case in progress: its environment, its messages and where the loop stands."""

    def __init__(self, case: AgentCase, toolbox: Toolbox, state: dict[str, Any], *, model: str,
                 params: dict[str, Any], system: str | None, max_steps: int) -> None:
        self.case, self.model, self.params = case, model, params
        self.max_steps = case.max_steps or max_steps
        self.env = ToolEnv(toolbox, state)
        turns = case.user_turns
        self.trace = Trace(case.id, turns, initial_state=copy.deepcopy(self.env.state))
        if system:
            self.trace.messages.append({"role": "system", "content": system})
        self.trace.messages.append({"role": "user", "content": turns[0]})
        self.turn, self.turn_steps, self.done = 0, 0, False

    def request(self) -> ChatRequest:
        return ChatRequest(self.model, tuple(self.trace.messages), self.params)

    def advance(self, request: ChatRequest, result: ChatResult) -> None:
        t = self.trace
        calls = result.tool_calls or []
        self.turn_steps += 1
        t.steps.append(StepRecord(self.turn, len(t.steps), result.status, result.error, result.prompt_tokens,
                                  result.completion_tokens, result.cost, result.latency_s, result.cached,
                                  result.attempts, result.finish_reason, len(calls), request.key))
        if result.status != OK:
            self._finish(ERROR, result.error or "the provider gave no answer")
            return
        t.messages.append(assistant_message(result))
        if calls:
            for c in calls:
                record = self.env.call(c["name"], c["arguments"], turn=self.turn, step=len(t.steps) - 1,
                                       call_id=c["id"], raw_arguments=c["raw_arguments"],
                                       parse_error=c["error"] if c["arguments"] is None else None)
                t.messages.append({"role": "tool", "tool_call_id": c["id"], "content": record.content()})
            if self.turn_steps >= self.max_steps:
                self._finish(MAX_STEPS, f"turn {self.turn + 1} used all {self.max_steps} steps without a "
                                        "final reply")
            return
        t.finals.append(result.text or "")
        self.turn += 1
        if self.turn >= len(t.turns):
            self._finish(FINAL, "")
            return
        self.turn_steps = 0
        t.messages.append({"role": "user", "content": t.turns[self.turn]})

    def _finish(self, reason: str, error: str) -> None:
        self.trace.stop_reason, self.trace.error, self.done = reason, error, True
        self.trace.calls = list(self.env.calls)
        self.trace.final_state = copy.deepcopy(self.env.state)


def run_agents(client: Any, cases: Sequence[AgentCase | dict[str, Any]],
               tools: Toolbox | Sequence[ToolSpec | dict[str, Any]], *, model: str,
               max_steps: int = DEFAULT_MAX_STEPS, params: dict[str, Any] | None = None,
               system: str | None = None, initial_state: dict[str, Any] | None = None,
               cache: ResponseCache | None = None, base_dir: str | Path = ".",
               progress: Callable[[int, int], None] | None = None) -> list[Trace]:
    """Run every case with the agent behind ``client`` (any provider: OpenAI-compatible HTTP,
    a Python function, ...) and return one trace per case, in order.

    ``params`` are sent with every request (temperature, seed, tool_choice, ...) beside the
    tool definitions; ``system`` opens every conversation; ``initial_state`` is the suite's
    state, under each case's own (top-level keys of the case's replace it); ``progress(done,
    total)`` after each round, counting finished cases."""
    if max_steps < 1:
        raise ValueError(f"max_steps must be at least 1, got {max_steps}")
    toolbox = tools if isinstance(tools, Toolbox) else Toolbox(tools, base_dir)
    sent = dict(params or {})
    sent["tools"] = toolbox.definitions()
    runs = []
    for i, raw in enumerate(cases):
        case = parse_agent_case(raw, f"cases[{i}]")
        state = copy.deepcopy(initial_state or {}) | copy.deepcopy(case.initial_state)
        runs.append(_Run(case, toolbox, state, model=model, params=sent, system=system, max_steps=max_steps))
    while True:
        active = [r for r in runs if not r.done]
        if progress is not None:
            progress(len(runs) - len(active), len(runs))
        if not active:
            break
        requests = [r.request() for r in active]
        answers = complete_cached(client, requests, cache)
        for run, request, answer in zip(active, requests, answers, strict=True):
            run.advance(request, answer)
    return [r.trace for r in runs]


def run_agent(client: Any, case: AgentCase | dict[str, Any],
              tools: Toolbox | Sequence[ToolSpec | dict[str, Any]], *, model: str,
              max_steps: int = DEFAULT_MAX_STEPS, params: dict[str, Any] | None = None,
              system: str | None = None, initial_state: dict[str, Any] | None = None,
              cache: ResponseCache | None = None, base_dir: str | Path = ".") -> Trace:
    """Run one case (see :func:`run_agents`) and return its trace."""
    return run_agents(client, [case], tools, model=model, max_steps=max_steps, params=params, system=system,
                      initial_state=initial_state, cache=cache, base_dir=base_dir)[0]
