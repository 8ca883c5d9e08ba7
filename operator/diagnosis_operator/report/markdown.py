"""The report as Markdown (CommonMark with GitHub tables).

Everything that comes from the data (log lines above all) is untrusted: it is
escaped or fenced as code.  Pure: values in, text out.
"""

from __future__ import annotations

import re

from diagnosis_operator.models.findings import AffectedInstance, DiagnosisResult
from diagnosis_operator.report._format import params_text
from diagnosis_operator.report.view import EvidenceView, LayerView, ReportView, build_view

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#!~])")


def _md(text: str, *, strip: bool = True) -> str:
    """Free text for Markdown: one line, markup characters escaped."""
    flat = re.sub(r"\s+", " ", text)
    return _MD_SPECIAL.sub(r"\\\1", flat.strip() if strip else flat)


def _md_code(text: str, *, in_table: bool = False) -> str:
    """An inline code span that the text cannot close."""
    flat = " ".join(text.split())
    if in_table:
        flat = flat.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") or not flat else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def _md_block(text: str, *, language: str = "text") -> list[str]:
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{language}", *text.splitlines(), fence]


def _md_cell(text: str) -> str:
    return _md(text) if text else "—"


md_cell = _md_cell
md_code = _md_code


def _md_with_code(text: str) -> str:
    """Free text whose backticked parts (names we put there) become code spans."""
    parts = re.split(r"`([^`]*)`", text)
    return "".join(
        _md_code(part) if index % 2 else _md(part, strip=False) for index, part in enumerate(parts)
    ).strip()


def render_markdown(result: DiagnosisResult) -> str:
    """Pure: the report as Markdown (CommonMark with GitHub tables)."""
    view = build_view(result)
    out: list[str] = [f"# {_md(view.title)}", ""]
    if view.quiet:
        out += _md_quiet(view, result)
    else:
        out += _md_summary(view)
        out += _md_evidence_chain(view)
        out += _md_root_cause(view)
        out += _md_recommendations(view)
        out += _md_remediations(view)
        out += _md_notes(view)
    return "\n".join(out).rstrip() + "\n"


def _md_summary(view: ReportView) -> list[str]:
    out = [
        "## 1. Summary",
        "",
        f"- **Symptom**: {_md(view.symptom)}",
        f"- **Window**: {view.window}",
        f"- **Incident span**: {view.time_span}",
        f"- **Impact scope**: {_md(view.impact)}",
    ]
    if view.affected:
        out.append("- **Affected instances**:")
        out += [f"  - {_md_affected(a)}" for a in view.affected]
    else:
        out.append("- **Affected instances**: none singled out")
    out.append(f"- **Root cause**: {_md(view.root_cause_line)}")
    if view.clients:
        out.append(f"- **Abusive clients**: {', '.join(_md_code(c.ip) for c in view.clients)}")
    return [*out, "", _md(view.root_summary) or "_No summary given._", ""]


def _md_evidence_chain(view: ReportView) -> list[str]:
    out = [
        "## 2. Evidence chain",
        "",
        "Evidence is told layer by layer, from the root cause up to where the symptom is seen; "
        "aggravating factors and abusive clients follow.",
        "",
    ]
    section = 0
    for section, layer in enumerate(view.layers, start=1):
        out += _md_layer(layer, section=section)
    if view.clients or view.client_evidence:
        section += 1
        out += [f"### 2.{section} Abusive clients", ""]
        out += _md_clients(view)
        for item in view.client_evidence:
            out += _md_evidence(item)
    out += [f"### 2.{section + 1} Timeline and causal chain", ""]
    return out + _md_timeline(view)


def _md_layer(layer: LayerView, *, section: int) -> list[str]:
    out = [f"### 2.{section} {_md(layer.heading)}", ""]
    if layer.standing:
        out += [f"_{_md(layer.standing)}_", ""]
    if not layer.evidence:
        out += ["No evidence item was recorded for this layer.", ""]
    for item in layer.evidence:
        out += _md_evidence(item)
    return [*out, f"**Layer summary**: {_md(layer.wrap_up)}", ""]


def _md_timeline(view: ReportView) -> list[str]:
    out = _md_block(view.chain_text)
    out += ["", f"**Causal chain**: {_md(view.chain_sentence) or 'not established'}"]
    out += [f"- {_md(line)}" for line in view.feeding]
    out.append("")
    if view.timeline:
        out += ["| Time | Component | Event |", "|---|---|---|"]
        out += [
            f"| {ts} | {_md_code(component, in_table=True)} | {_md_cell(event)} |"
            for ts, component, event in view.timeline
        ]
        out.append("")
    return out


def _md_root_cause(view: ReportView) -> list[str]:
    out = ["## 3. Root cause and contributing factors", ""]
    out += [f"**Root cause**: {_md(view.root_cause_line)}", "", _md(view.root_summary), ""]
    out += _md_candidates(view)
    out += ["**Contributing factors**:", ""]
    out += [f"- {_md(text)}" for text in view.contributing] or ["- none found"]
    return [*out, ""]


def _md_recommendations(view: ReportView) -> list[str]:
    out = ["## 4. Recommendations", ""]
    for index, group in enumerate(view.recommendation_groups, start=1):
        out += [f"### 4.{index} {group.title}", ""]
        if not group.items:
            out += ["None.", ""]
            continue
        for number, rec in enumerate(group.items, start=1):
            out.append(f"{number}. **{_md_code(rec.component)}**: {_md(rec.text)}")
            if rec.because:
                out.append(f"   _Because_: {_md(rec.because)}")
        out.append("")
    return [*out, f"### 4.{len(view.recommendation_groups) + 1} Remediation plan", ""]


def _md_quiet(view: ReportView, result: DiagnosisResult) -> list[str]:
    out = [
        "## 1. Summary",
        "",
        "**No incident found.**",
        "",
        f"- **Window**: {view.window}",
        f"- **Symptom reported**: {_md(view.symptom)}",
        "",
    ]
    if view.root_summary:
        out += [_md(view.root_summary), ""]
    if view.candidates:
        out += ["Signals that moved, but not enough to call an incident:", ""]
        out += [f"- {_md_code(c.component)} (score {c.score:.2f})" for c in view.candidates]
        out.append("")
    if result.remediations:
        out += ["## Remediation plan", ""]
        out += _md_remediations(view)
    out += _md_notes(view)
    return out


def _md_notes(view: ReportView) -> list[str]:
    if not view.warnings:
        return []
    return ["## Notes", "", *(f"- {_md(w)}" for w in view.warnings), ""]


def _md_affected(affected: AffectedInstance) -> str:
    where = f"{_md_code(affected.component)} {_md_code(affected.instance)}"
    if affected.pod:
        pod = f"{affected.namespace}/{affected.pod}" if affected.namespace else affected.pod
        where += f" (pod {_md_code(pod)})"
    return f"{where}: {_md(affected.reason)}"


def _md_evidence(item: EvidenceView) -> list[str]:
    out = [f"- **Evidence {item.number}: {_md(item.title)}**"]
    if item.time:
        out.append(f"  - **Time**: {item.time}")
    if item.instance:
        out.append(f"  - **Instance**: {_md_code(item.instance)}")
    content = _md(item.title) + (f"; {_md(item.content)}" if item.content else "")
    out.append(f"  - **Content**: {content}")
    # The inference text quotes names in backticks on purpose; escape everything else.
    out.append(f"  - **Inference**: {_md_with_code(item.inference)}")
    out.append(f"  - **Query** ({_md(item.source)}): {_md_code(item.query)}")
    if item.line is not None:
        out.append("  - **Log line**:")
        out += ["", *(f"    {row}" for row in _md_block(item.line))]
    out.append("")
    return out


def _md_clients(view: ReportView) -> list[str]:
    if not view.clients:
        return []
    out = [
        "| Client IP | Pattern | Requests | First seen | Last seen | Why |",
        "|---|---|---|---|---|---|",
    ]
    out += [
        f"| {_md_code(c.ip, in_table=True)} | {c.pattern} | {c.requests} | {c.first_seen} | "
        f"{c.last_seen} | {_md_cell(c.reason)} |"
        for c in view.clients
    ]
    return [*out, ""]


def _md_candidates(view: ReportView) -> list[str]:
    if not view.candidates:
        return []
    out = ["| Rank | Component | Role | Score | Reasons |", "|---|---|---|---|---|"]
    out += [
        f"| {rank} | {_md_code(c.component, in_table=True)} | {_md(c.role)} | {c.score:.2f} | "
        f"{_md_cell('; '.join(c.reasons))} |"
        for rank, c in enumerate(view.candidates, start=1)
    ]
    return [*out, ""]


def _md_remediations(view: ReportView) -> list[str]:
    if not view.remediations:
        return ["No remediation is proposed.", ""]
    out = ["| Action | Target | State | Reason | Parameters |", "|---|---|---|---|---|"]
    out += [
        f"| {_md_code(r.action.value, in_table=True)} | {_md_code(r.target, in_table=True)} | "
        f"**{_md(r.state)}** | {_md_cell(r.reason)} | {_md_cell(params_text(r.params))} |"
        for r in view.remediations
    ]
    return [*out, ""]
