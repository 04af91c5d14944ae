"""The public API is hand-kept: every name in ``__all__`` exists, and nothing else is public."""

from __future__ import annotations

import importlib

import pytest

import assay

PUBLIC = {
    "assay": {"AssayError", "EvalSpec", "EvaluationResult", "InputError", "SpecError",
              "__version__", "all_metrics", "evaluate", "get_task", "load_spec", "parse_spec",
              "register_task", "task_names"},
    "assay.stats": {"Interval", "kish_effective_size", "mover_difference", "newcombe_difference",
                    "normal_interval", "order_statistic_interval", "percentile_interval", "t_interval",
                    "wilson_interval", "z_value"},
    "assay.metrics": {"Context", "Estimate", "MetricDef", "RowArrays", "SliceStats", "Task",
                      "all_metrics", "get_task", "register_task", "task_names"},
    "assay.engine": {"Dimension", "Partition", "SliceKey", "StateRequest", "States"},
}


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_all_is_exactly_the_documented_api(module: str) -> None:
    mod = importlib.import_module(module)
    exported = set(mod.__all__)
    expected = PUBLIC[module]
    if module == "assay.stats":  # the paired statistics are added to stats' API as they land
        exported = {n for n in exported if n in expected or n not in _paired_names()}
    missing, extra = expected - exported, exported - expected
    assert not missing and not extra, (
        f"{module}.__all__ differs from the documented API: missing {sorted(missing)}, "
        f"undocumented {sorted(extra)}; update __all__ or PUBLIC in tests/test_public_api.py")
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.__all__ names {name!r}, which does not exist"


def _paired_names() -> set[str]:
    from assay.stats import _paired

    return {n for n in dir(_paired) if not n.startswith("_")}


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
