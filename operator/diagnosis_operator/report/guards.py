"""What a policy's guards would decide about the proposed actions, as Markdown.  Pure."""

from __future__ import annotations

from collections.abc import Sequence

from diagnosis_operator.models.preview import ActionPreview, Decision
from diagnosis_operator.report.markdown import md_cell, md_code

_WORDS = {
    Decision.RUN: "would run",
    Decision.DRY_RUN: "dry run only",
    Decision.APPROVAL: "waits for approval",
    Decision.REFUSED: "refused",
}


def render_guards_markdown(previews: Sequence[ActionPreview], *, policy: str) -> str:
    """A section: each proposed action, the guards' decision, its code and reason."""
    out = [
        "",
        f"## Guards of policy {md_code(policy)} (offline preview)",
        "",
    ]
    if not previews:
        return "\n".join([*out, "No action is proposed, so no guard is asked.", ""])
    out += [
        "| action | target | decision | code | reason |",
        "|---|---|---|---|---|",
    ]
    out += [
        f"| {md_code(p.action.value, in_table=True)} | {md_code(p.target, in_table=True)} "
        f"| {_WORDS[p.decision]} | {md_code(p.code, in_table=True)} | {md_cell(p.reason)} |"
        for p in previews
    ]
    live = sorted({check for p in previews for check in p.live_checks})
    out += [
        "",
        "As a Diagnosis in mode `remediate` would see them, with no earlier action, no "
        "approval and remediation not paused. Judged live only: " + "; ".join(live) + ".",
        "",
    ]
    return "\n".join(out)
