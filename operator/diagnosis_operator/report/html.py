"""The report as one self-contained HTML page (inline CSS and SVG, no script).

The template (``resources/report.html.j2``) autoescapes everything that comes
from the data.  Pure: values in, text out.
"""

from __future__ import annotations

import functools
import re

import jinja2
import markupsafe

from diagnosis_operator.models.findings import DiagnosisResult
from diagnosis_operator.report._chain import build_chain
from diagnosis_operator.report._format import params_text, percent, short
from diagnosis_operator.report.svg import chain_graph, component_colors, signal_plot
from diagnosis_operator.report.view import URGENCY_TITLES, build_view


def _html_with_code(text: str) -> markupsafe.Markup:
    """Free text whose backticked parts (names we put there) become ``<code>``; all escaped."""
    parts = re.split(r"`([^`]*)`", text)
    return markupsafe.Markup("").join(
        markupsafe.Markup("<code>{}</code>").format(part) if index % 2 else markupsafe.escape(part)
        for index, part in enumerate(parts)
    )


@functools.cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("diagnosis_operator", "resources"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["short"] = short
    environment.filters["percent"] = percent
    environment.filters["params"] = params_text
    environment.filters["ticks"] = _html_with_code
    return environment


def render_html(result: DiagnosisResult) -> str:
    """Pure: the report as one self-contained HTML page (inline CSS and SVG, no script)."""
    view = build_view(result)
    chain = build_chain(result)
    colors = component_colors(chain, result)
    plot = signal_plot(result, chain, colors) if result.key_signals else None
    graph = None if view.quiet else chain_graph(result, chain, colors)
    template = _environment().get_template("report.html.j2")
    return template.render(view=view, plot=plot, graph=graph, urgency_titles=URGENCY_TITLES)
