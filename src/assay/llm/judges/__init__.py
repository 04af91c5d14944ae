"""LLM-as-judge scorers: a rubric judge (pass/fail or ordinal), a pairwise judge, and bias probes.

    JudgeConfig, OrdinalScale     a pointwise judge: rubric, scale, model, sampling, templates
    PairwiseJudgeConfig           which of two outputs (A/B, optionally tie) better meets a rubric
    judge_from_config             rebuild a judge from its config mapping (suite YAML, run record)
    judge_cases                   score cases with a judge: one cached batch per round, bounded re-ask
    pairwise_judge                the same for pairs (PairView -> PairVerdict)
    judge_fingerprint             hash of what makes judge scores comparable across runs
    position_swap_probe           consistency and position-A preference under swapped order
    verbosity_probe               how often padding an output with filler improves its verdict

Agreement with human labels (accuracy, Cohen's kappa, Krippendorff's alpha) is in
``assay.stats.judge_agreement``.
"""

from assay.llm.judges._judge import (
    PairVerdict,
    PairView,
    judge_cases,
    judge_messages,
    pairwise_judge,
    pairwise_messages,
)
from assay.llm.judges._probes import FILLER, PROBE_COLUMNS, pad, position_swap_probe, verbosity_probe
from assay.llm.judges._rubric import (
    DEFAULT_PAIRWISE_TEMPLATE,
    DEFAULT_SYSTEM,
    DEFAULT_TEMPLATE,
    PARSER_VERSION,
    JudgeConfig,
    JudgeOutputError,
    OrdinalScale,
    PairwiseJudgeConfig,
    judge_fingerprint,
    judge_from_config,
)

__all__ = ["DEFAULT_PAIRWISE_TEMPLATE", "DEFAULT_SYSTEM", "DEFAULT_TEMPLATE", "FILLER", "PARSER_VERSION",
           "PROBE_COLUMNS", "JudgeConfig", "JudgeOutputError", "OrdinalScale", "PairVerdict", "PairView",
           "PairwiseJudgeConfig", "judge_cases", "judge_fingerprint", "judge_from_config", "judge_messages",
           "pad", "pairwise_judge", "pairwise_messages", "position_swap_probe", "verbosity_probe"]
