"""Attack and refusal suites as LLM cases, and the scorers that judge them.

* direct prompt injection and jailbreaks: Giskard's CSV suite (:func:`load_injection_csv`), our
  JSONL form (:func:`load_injection_jsonl`) and the 44 seeds shipped with assay;
* canary tokens planted in a system prompt or a retrieved document (:func:`canary_cases`);
* indirect injection through retrieved context (:func:`indirect_cases`);
* seeded variants: encodings, role-play frames, language switches (:func:`variants`);
* refusal correctness on paired should-answer / should-refuse prompts (:func:`refusal_cases`)
  and the refusal detector measured on labelled responses (:func:`refusal_detection_report`);
* the suite's ``safety:`` section (:class:`SafetySpec`, :func:`build_safety`).

Every case carries ``tags = ("safety", <kind>)``, ``cluster`` = its seed prompt, and ``vars``
with ``family``, ``variant``, ``seed_id`` and ``source``. Importing this package registers the
scorer kinds ``injection``, ``canary`` and ``refusal_correct``.
"""

from assay.safety.attacks._canary import CanaryAttack, canary_cases, load_canary_attacks
from assay.safety.attacks._indirect import STYLES, IndirectTemplate, indirect_cases, load_indirect_templates
from assay.safety.attacks._injection import (
    attack_case,
    builtin_injection_cases,
    load_injection_csv,
    load_injection_jsonl,
)
from assay.safety.attacks._io import builtin_path
from assay.safety.attacks._match import Detect, parse_detect
from assay.safety.attacks._refusal import (
    PROPOSED_REFUSAL_PATTERNS,
    RefusalPair,
    load_refusal_pairs,
    refusal_cases,
    refusal_detection_report,
    refusal_predictions,
)
from assay.safety.attacks._scorers import CanaryScorer, InjectionScorer, RefusalCorrect
from assay.safety.attacks._spec import SafetySpec, build_safety
from assay.safety.attacks._tokens import find_canary, make_token, seeded_rng
from assay.safety.attacks._variants import KINDS, LANGUAGES, ROLEPLAY, leetspeak, variants

__all__ = ["KINDS", "LANGUAGES", "PROPOSED_REFUSAL_PATTERNS", "ROLEPLAY", "STYLES", "CanaryAttack",
           "CanaryScorer", "Detect", "IndirectTemplate", "InjectionScorer", "RefusalCorrect",
           "RefusalPair", "SafetySpec", "attack_case", "build_safety", "builtin_injection_cases",
           "builtin_path", "canary_cases", "find_canary", "indirect_cases", "leetspeak",
           "load_canary_attacks", "load_indirect_templates", "load_injection_csv", "load_injection_jsonl",
           "load_refusal_pairs", "make_token", "parse_detect", "refusal_cases", "refusal_detection_report",
           "refusal_predictions", "seeded_rng", "variants"]
