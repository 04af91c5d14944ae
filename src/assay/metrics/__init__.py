"""Metric and task registry.

Every task registers its metrics with declared properties (direction, range, interval
method, count-based, ranking); the common test suite runs every registered metric.
"""

from __future__ import annotations

from assay.metrics._base import Context, Estimate, MetricDef, SliceStats
from assay.metrics._task import RowArrays, Task

_TASKS: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    """Add a task type; its name becomes valid for ``task:`` in specs."""
    _TASKS[task.name] = task
    return task


def _load_builtin() -> None:
    from assay.metrics import binary, multiclass, regression

    for mod in (binary, multiclass, regression):
        register_task(mod.TASK)


def task_names() -> list[str]:
    if not _TASKS:
        _load_builtin()
    return sorted(_TASKS)


def get_task(name: str) -> Task:
    if not _TASKS:
        _load_builtin()
    return _TASKS[name]


def all_metrics() -> list[MetricDef]:
    """Every registered metric of every task."""
    return [m for t in task_names() for m in get_task(t).metrics.values()]


__all__ = ["Context", "Estimate", "MetricDef", "RowArrays", "SliceStats", "Task", "all_metrics",
           "get_task", "register_task", "task_names"]
