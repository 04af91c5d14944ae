"""Artifacts a person reads: the Markdown summary for pull requests, the HTML report, and
model and data cards."""

from assay.report._card import render_data_card, render_model_card
from assay.report._html import render_html
from assay.report._llm import render_suite_html, render_suite_summary
from assay.report._monitor import render_monitor_html, render_monitor_summary
from assay.report._summary import render_summary

__all__ = ["render_data_card", "render_html", "render_model_card", "render_monitor_html",
           "render_monitor_summary", "render_suite_html", "render_suite_summary", "render_summary"]
