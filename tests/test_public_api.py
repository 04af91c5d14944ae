"""The public API is hand-kept: every name in ``__all__`` exists, and nothing else is public."""

from __future__ import annotations

import importlib

import pytest

import assay

PUBLIC = {
    "assay": {"AssayError", "DriftConfig", "EvalSpec", "EvaluationResult", "InputError",
              "MonitorResult", "MonitorSpec", "SpecError", "Verdict",
              "__version__", "all_metrics", "drift_table", "evaluate", "get_task",
              "load_monitor_spec", "load_spec", "open_store", "parse_spec",
              "register_paired", "register_rule", "register_task", "run_monitor", "task_names"},
    "assay.stats": {"Agreement", "ICC1", "JUDGE_COLUMNS", "agreement_rate", "cohen_kappa", "icc1",
                    "judge_agreement", "krippendorff_alpha", "system_correlation",
                    "within_group_correlation",
                    "DeLongPair", "Interval", "benjamini_hochberg", "bonferroni_level",
                    "bootstrap_p_value", "churn", "delong_pair", "holm", "kish_effective_size",
                    "mcnemar_exact", "mover_difference", "newcombe_difference", "normal_interval",
                    "normal_mdd", "normal_n", "normal_power", "order_statistic_interval",
                    "paired_bootstrap_cells", "paired_delong", "paired_proportion_difference",
                    "paired_proportion_mdd", "paired_proportion_n", "paired_proportion_power",
                    "paired_t", "paired_t_from_sums", "percentile_interval", "rows_needed",
                    "t_interval", "tango_interval", "wilson_interval", "z_value"},
    "assay.metrics": {"Context", "Estimate", "MetricDef", "RowArrays", "SliceStats", "Task",
                      "all_metrics", "get_task", "register_task", "task_names"},
    "assay.engine": {"Dimension", "Partition", "SliceKey", "StateRequest", "States"},
    "assay.compare": {"CHURN", "COMPARE_COLUMNS", "PAIRED", "SKIP", "UNPAIRED", "PairArrays",
                      "PairContext", "PairedEstimate", "compare_pair", "register_paired"},
    "assay.models": {"AdapterSpec", "LatencyProfile", "ModelAdapter", "OutputShape", "PredictionCache",
                     "Predictions", "Predictor", "bulk_throughput", "default_cache_dir", "load_adapter",
                     "measure_latency", "model_key", "row_hashes"},
    "assay.robustness": {"PERTURBATIONS", "BehaviourResult", "BehaviourTest", "Boundary", "Bounds",
                         "CaseChange", "CharNoise", "DirectionalChange", "DirectionalTest",
                         "InvarianceTest", "Missing", "Noise", "OutOfRange", "Perturbation", "Perturbed",
                         "Reorder", "Scale", "Shift", "Shuffle", "Swap", "Typos", "Unseen", "Whitespace",
                         "apply_perturbation", "behaviour_frame", "check_behaviour", "column_kinds",
                         "perturbation_label", "BEHAVIOUR_COLUMNS", "DEFAULT_METRICS", "LATENCY_COLUMNS",
                         "LatencySpec", "ROBUSTNESS_COLUMNS", "StressOutput", "StressSpec", "run_stress",
                         "shift_deltas", "stream_seed"},
    "assay.gates": {"BehaviourRule", "LatencyRule", "RobustnessRule", "SafetyRule",
                    "CalibrationRule", "EXIT_CODES", "FAIL", "FairnessRule", "GUARDRAILS", "HOLD",
                    "PASS", "RULES", "SHIP", "SKIPPED",
                    "UNDECIDED", "GateTables", "MinRowsRule", "NonInferiorityRule", "Rule",
                    "RuleError", "RuleOutcome", "SuperiorityRule", "TargetOutcome", "ThresholdRule",
                    "Verdict", "gate", "parse_rules", "power_warnings", "register_rule"},
    "assay.report": {"render_data_card", "render_html", "render_model_card", "render_monitor_html",
                     "render_monitor_summary", "render_suite_html", "render_suite_summary", "render_summary"},
    "assay.quality": {"CHECKS", "EXIT_CODES", "FAIL", "FAMILIES", "PASS", "QUALITY_COLUMNS",
                      "QUALITY_KEYS", "SKIPPED", "WARN", "CategorySpec", "DuplicateSpec",
                      "FreshnessSpec", "LabelSpec", "LeakageSpec", "NullSpec", "NullThresholds",
                      "QualityReport", "QualitySpec", "RangeSpec", "check_dataset",
                      "data_fingerprint", "expand_checks", "run_checks"},
    "assay.llm": {"CALIBRATION_COLUMNS", "Calibration", "CalibrationSpec", "Grounding", "SemanticSimilarity",
                  "SuiteResult", "SuiteSpec", "TRADEOFF_COLUMNS", "calibrate", "load_labels", "load_suite",
                  "record_suite", "run_suite", "tradeoffs",
                  "ERROR", "OK", "REFUSAL_PATTERNS", "UNDETERMINED", "Bleu", "Case", "CaseView",
                  "ChoiceMatch", "Chrf", "Citations", "Contains", "ExactMatch", "FormatCheck",
                  "JsonSchema", "JsonValid", "LengthCheck", "NumericMatch", "PromptSpec", "RegexMatch",
                  "Refusal", "Rouge", "Score", "ScorerConfig", "SpanF1", "cases_sha256", "load_cases",
                  "normalize_answer", "register_scorer", "render_messages", "scorer_from_config",
                  "scorer_kinds", "squad_f1"},
    "assay.agents": {"AGENT_SCORERS", "AgentCase", "AgentScorer", "AgentSuiteResult", "AgentSuiteSpec",
                     "Cost", "DEFAULT_SCORERS", "Effects", "ExpectedCall", "MATCHER_KINDS", "Matcher",
                     "ResponseRule", "STOP_REASONS", "StepRecord", "Steps", "TaskSuccess", "ToolArgs",
                     "ToolCallRecord", "ToolEnv", "ToolOrder", "ToolSelection", "ToolSpec", "Toolbox",
                     "Trace", "agent_scorer_from_config", "agent_scorer_kinds", "assistant_message",
                     "cases_sha256", "check_tool_names", "lcs_length", "load_agent_cases",
                     "load_agent_suite", "match_subset", "parse_matcher", "register_agent_scorer",
                     "run_agent", "run_agent_suite", "run_agents", "state_diff"},
    "assay.safety": {"ClusteredRate", "SAFETY_COLUMNS", "SAFETY_KINDS", "SafetySpec", "build_safety",
                     "check_overlap", "clustered_rate", "evaluate_detector", "find_leaks", "find_pii",
                     "load_detector", "load_injection_csv", "mask_text", "mask_value", "measure_detector",
                     "min_independent_cases", "refusal_detection_report", "safety_failures",
                     "safety_table", "toxicity_judge_config"},
    "assay.llm.providers": {"ERROR", "OK", "CallableChat", "ChatRequest", "ChatResult", "LocalChat",
                            "OpenAIChat", "Prices", "Provider", "ResponseCache", "RetryPolicy",
                            "canonical_json", "complete_cached", "gguf_path", "retry_after_seconds"},
    "assay.llm.judges": {"DEFAULT_PAIRWISE_TEMPLATE", "DEFAULT_SYSTEM", "DEFAULT_TEMPLATE", "FILLER",
                         "PARSER_VERSION", "PROBE_COLUMNS", "JudgeConfig", "JudgeOutputError",
                         "OrdinalScale", "PairVerdict", "PairView", "PairwiseJudgeConfig", "judge_cases",
                         "judge_fingerprint", "judge_from_config", "judge_messages", "pad",
                         "pairwise_judge", "pairwise_messages", "position_swap_probe", "verbosity_probe"},
    "assay.monitor": {"ALERT_COLUMNS", "WINDOW_COLUMNS", "WINDOW_DRIFT_COLUMNS",
                      "WINDOW_PERFORMANCE_COLUMNS", "MonitorResult", "MonitorSpec",
                      "load_monitor_spec", "parse_monitor_spec", "run_monitor"},
    "assay.drift": {"DEFAULT_THRESHOLDS", "DRIFT_COLUMNS", "STATISTICS", "ColumnBins", "DriftConfig",
                    "Sketch", "Statistic", "drift_rows", "drift_table", "learn_bins",
                    "merge_sketches", "sketch", "sketch_windows"},
    "assay.store": {"COMPLETE", "DEFAULT_LOCATION", "FAILED", "INTERRUPTED", "RUNNING", "STATUSES",
                    "STORE_ENV", "RerunReport", "RunStore", "StoredRun", "TableDiff",
                    "analysis_tables", "dataset_name",
                    "mapping_changes", "open_store", "record_evaluation", "rerun", "store_url",
                    "table_diff"},
    "assay.data": {"EvalRows", "Redactor", "example_rows", "file_sha256", "input_fingerprints",
                   "load_rows", "path_sha256", "profile"},
    "assay.integrations.mlflow": {"log_run"},
    "assay.analysis": {"TABLE_KEYS", "AnalysisOutput", "AnalysisRows", "analyse_calibration",
                       "analyse_fairness", "analyse_segments", "analyse_thresholds", "requested",
                       "run_analyses"},
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_all_is_exactly_the_documented_api(module: str) -> None:
    mod = importlib.import_module(module)
    exported = set(mod.__all__)
    expected = PUBLIC[module]
    missing, extra = expected - exported, exported - expected
    assert not missing and not extra, (
        f"{module}.__all__ differs from the documented API: missing {sorted(missing)}, "
        f"undocumented {sorted(extra)}; update __all__ or PUBLIC in tests/test_public_api.py")
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.__all__ names {name!r}, which does not exist"


def test_version_matches_package_metadata() -> None:
    from importlib.metadata import version

    assert assay.__version__ == version("assay")


def test_task_registry_admits_a_new_task() -> None:
    """A new task type is one registered object; the spec then accepts its name."""
    from dataclasses import replace

    base = assay.get_task("binary")
    assay.register_task(replace(base, name="binary_copy"))
    try:
        assert "binary_copy" in assay.task_names()
        spec = assay.parse_spec({"task": "binary_copy", "label": "y",
                                 "models": [{"name": "m", "score": "s"}]})
        assert spec.task == "binary_copy"
    finally:
        from assay.metrics import _TASKS

        _TASKS.pop("binary_copy", None)
