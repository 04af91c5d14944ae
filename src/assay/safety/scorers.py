"""Registers the safety scorer kinds (imported on first use by ``scorer_from_config``):
``injection``, ``canary``, ``refusal_correct`` (attack and refusal suites), ``pii_leak`` and
``pii`` (personal data and secrets), ``toxicity``."""

from assay.safety.attacks import _scorers as _attack_scorers  # noqa: F401
from assay.safety.pii import _scorers as _pii_scorers  # noqa: F401
from assay.safety.toxicity import _scorer as _toxicity_scorer  # noqa: F401
