"""assay: evaluate ML models with confidence intervals, slices and release gates."""

from assay._errors import AssayError, InputError, SpecError
from assay.api import evaluate
from assay.compare import register_paired
from assay.drift import DriftConfig, drift_table
from assay.gates import Verdict, register_rule
from assay.metrics import all_metrics, get_task, register_task, task_names
from assay.monitor import MonitorResult, MonitorSpec, load_monitor_spec, run_monitor
from assay.results import EvaluationResult
from assay.spec import EvalSpec, load_spec, parse_spec
from assay.store import open_store

__version__ = "0.1.0"

__all__ = [
    "AssayError",
    "DriftConfig",
    "EvalSpec",
    "EvaluationResult",
    "InputError",
    "MonitorResult",
    "MonitorSpec",
    "SpecError",
    "Verdict",
    "__version__",
    "all_metrics",
    "drift_table",
    "evaluate",
    "get_task",
    "load_monitor_spec",
    "load_spec",
    "open_store",
    "parse_spec",
    "register_paired",
    "register_rule",
    "register_task",
    "run_monitor",
    "task_names",
]
