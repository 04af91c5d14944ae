"""Registers the safety scorer kinds (imported on first use by ``scorer_from_config``):
``injection``, ``canary``, ``refusal_correct`` (attack and refusal suites), ``pii_leak`` and
``pii`` (personal data and secrets), ``toxicity``."""

import importlib

for _name in ("assay.safety.attacks._scorers", "assay.safety.pii._scorers", "assay.safety.toxicity._scorer"):
    try:  # TEMPORARY while the parts land
        importlib.import_module(_name)
    except ModuleNotFoundError:
        pass
