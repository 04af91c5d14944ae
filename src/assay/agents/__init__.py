"""Agent and tool-use evaluation: cases that declare the expected tool calls, a mock tool
environment that records every call, an agent loop over any provider (an OpenAI-compatible
server with tool calling, or a Python agent), scorers over the traces, and suites with the
LLM layer's statistics, gates and report.

    AgentSuiteSpec, load_agent_suite   an agent suite file, validated
    run_agent_suite, AgentSuiteResult  run, score, summarise, gate; ``result.write(folder)``
    AgentCase, ExpectedCall, load_agent_cases  cases (inline, JSONL, YAML), validated
    ToolSpec, Toolbox, ToolEnv, ToolCallRecord the mock tools, their state and call record
    run_agent, run_agents, Trace       the agent loop and what it records
    AgentScorer, register_agent_scorer, agent_scorer_from_config  the scorer registry;
        kinds tool_selection, tool_args, tool_order, task_success, steps, cost
    Matcher, parse_matcher, match_subset, state_diff  value matchers and state comparison
"""

from assay.agents._cases import AgentCase, ExpectedCall, cases_sha256, check_tool_names, load_agent_cases
from assay.agents._loop import STOP_REASONS, StepRecord, Trace, assistant_message, run_agent, run_agents
from assay.agents._match import MATCHER_KINDS, Matcher, match_subset, parse_matcher, state_diff
from assay.agents._runner import AgentSuiteResult, run_agent_suite
from assay.agents._scorers import (
    AGENT_SCORERS,
    DEFAULT_SCORERS,
    AgentScorer,
    Cost,
    Steps,
    TaskSuccess,
    ToolArgs,
    ToolOrder,
    ToolSelection,
    agent_scorer_from_config,
    agent_scorer_kinds,
    lcs_length,
    register_agent_scorer,
)
from assay.agents._suite import AgentSuiteSpec, load_agent_suite
from assay.agents._tools import Effects, ResponseRule, Toolbox, ToolCallRecord, ToolEnv, ToolSpec

__all__ = ["AGENT_SCORERS", "DEFAULT_SCORERS", "MATCHER_KINDS", "STOP_REASONS", "AgentCase", "AgentScorer",
           "AgentSuiteResult", "AgentSuiteSpec", "Cost", "Effects", "ExpectedCall", "Matcher", "ResponseRule",
           "StepRecord", "Steps", "TaskSuccess", "ToolArgs", "ToolCallRecord", "ToolEnv", "ToolOrder",
           "ToolSelection", "ToolSpec", "Toolbox", "Trace", "agent_scorer_from_config", "agent_scorer_kinds",
           "assistant_message", "cases_sha256", "check_tool_names", "lcs_length", "load_agent_cases",
           "load_agent_suite", "match_subset", "parse_matcher", "register_agent_scorer", "run_agent",
           "run_agent_suite", "run_agents", "state_diff"]
