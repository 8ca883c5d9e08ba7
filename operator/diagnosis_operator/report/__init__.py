"""Markdown and HTML reports of a diagnosis, and reading a saved diagnosis back.

Public API (all pure: values in, text or values out):

- ``render_markdown(result)``: the report as Markdown (CommonMark with GitHub tables)
- ``render_html(result)``: the report as one self-contained HTML page
- ``render_guards_markdown(previews, policy=...)``: what a policy's guards would decide
- ``result_from_json(data)``: a ``DiagnosisResult`` from its saved JSON, or
  ``ResultFormatError`` naming the first wrong field

Modules: ``view`` (the view model), ``markdown``, ``svg`` (figure layout),
``html``, ``codec`` (the JSON reader); ``_chain``, ``_narrative`` and
``_format`` are their private helpers.
"""

from diagnosis_operator.report.codec import ResultFormatError, result_from_json
from diagnosis_operator.report.guards import render_guards_markdown
from diagnosis_operator.report.html import render_html
from diagnosis_operator.report.markdown import render_markdown

__all__ = [
    "ResultFormatError",
    "render_guards_markdown",
    "render_html",
    "render_markdown",
    "result_from_json",
]
