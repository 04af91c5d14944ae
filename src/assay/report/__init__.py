"""Artifacts a person reads: the Markdown summary for pull requests (more to come)."""

from assay.report._summary import render_summary

__all__ = ["render_summary"]
