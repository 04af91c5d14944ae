"""LLM safety: PII and secret detectors, prompt-injection and canary suites, toxicity,
refusal correctness, and the clustered statistics and gates that judge them."""
